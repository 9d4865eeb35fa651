"""Actions and env arguments built to break the envs, through their Gymnasium ids
(``gym.make("stvg/Grounding-v0" | "stvg/Tracking-v0", dataset="synthetic", ...)``) on the
tiny synthetic split.

* ``GroundingEnv`` text actions (random text, very long and odd strings, json-v1 and
  tagged answers holding hostile numbers) and struct actions (wrong types, shapes,
  non-finite and huge numbers, missing keys, not a mapping): the reward is finite and in
  ``[0, sum of the weights]``, every term and tIoU/vIoU in ``[0, 1]``; an unusable answer
  scores 0 with its ``parse_error`` (and a struct action's ``invalid_action``); nothing
  raises (a text action that is not a ``str`` is a caller bug: ``TypeError``, as
  documented).
* ``TrackingEnv`` actions at every step, sparse and dense: rewards in their range, an
  invalid action scores 0 with ``invalid_action``; the episode always ends.
* env keyword arguments with hostile values: a ConfigError (one line) or an env that
  resets and steps, in bounded memory."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from hostile_kit import (
    Raw,
    bounded_memory,
    bounded_time,
    check_reward,
    check_unit_metrics,
    dump,
    hostile_numbers,
    hostile_settings,
    hostile_strings,
    hostile_values,
    plain,
)
from hypothesis import event, example, given
from hypothesis import strategies as st

import stvg  # noqa: F401  (registers the env ids)
from stvg.config import ConfigError
from stvg.data.errors import DataError

SETTINGS = hostile_settings(60)
#: Every term at weight 1: the reward lies in [0, 7].
ALL_TERMS = {
    "terms": [
        {"name": name, "weight": 1.0}
        for name in ("t_iou", "v_iou", "format", "consistency", "giou", "l1", "span_length")
    ]
}
MAX_REWARD = float(len(ALL_TERMS["terms"]))


def _make(env_id: str, root: Path, **kwargs: Any) -> gym.Env:
    return gym.make(
        env_id, **{"dataset": "synthetic", "root": str(root), "split": "test", **kwargs}
    )


@pytest.fixture(scope="module")
def grounding_envs(synth_root: Path) -> dict[str, gym.Env]:
    """A text env (json-v1 or tagged per call) and a struct env, 2 fps, 64 px frames."""
    common = {"fps": 2.0, "max_side": 64, "verifier": ALL_TERMS}
    return {
        "json-v1": _make("stvg/Grounding-v0", synth_root, **common),
        "tagged": _make("stvg/Grounding-v0", synth_root, answer_format="tagged", **common),
        "json-v1/norm1000": _make("stvg/Grounding-v0", synth_root, coords="norm1000", **common),
        "struct": _make("stvg/Grounding-v0", synth_root, action_format="struct", **common),
    }


def check_step_info(reward: float, info: dict[str, Any], invalid_key: str | None = None) -> None:
    check_reward(reward, 0.0, MAX_REWARD, "reward")
    assert check_unit_metrics(info) >= 2, info
    if info.get("parse_error") is not None or (invalid_key and info.get(invalid_key)):
        event("unusable answer")
        assert isinstance(info["parse_error"], str) and info["parse_error"], info
        assert "\n" not in info["parse_error"], info["parse_error"][:300]
        assert info["t_iou"] == 0.0 and info["v_iou"] == 0.0, info
        assert reward == 0.0 or info.get("reward/format", 0.0) == 0.0, info
    else:
        event("usable answer")


def step_once(env: gym.Env, action: Any, seed: int) -> tuple[float, dict[str, Any]]:
    env.reset(seed=seed)
    with bounded_memory(what=repr(action)[:300]), bounded_time(20, repr(action)[:300]):
        _, reward, terminated, truncated, info = env.step(action)
    assert terminated and not truncated
    return reward, info


# ------------------------------------------------------------------ text actions
json_number = st.one_of(hostile_numbers, st.floats(-2, 10), st.just(Raw("1e999")), hostile_strings)


@st.composite
def json_answers(draw: st.DrawFn) -> str:
    span = draw(st.lists(json_number, max_size=3) | hostile_values)
    boxes = draw(
        st.dictionaries(
            st.one_of(
                st.sampled_from(["0.0", "0.5", "1.0", "-1", "1e308", "nan"]), st.text(max_size=4)
            ),
            st.lists(json_number, min_size=0, max_size=5) | hostile_values,
            max_size=4,
        )
        | hostile_values
    )
    body = dump({"span": span, "boxes": boxes})
    wrapper = draw(
        st.sampled_from(
            ["<answer>{}</answer>", "<think>x</think><answer>{}</answer>", "{}", "<answer>{}"]
        )
    )
    return wrapper.format(body)


@st.composite
def tagged_answers(draw: st.DrawFn) -> str:
    nums = [
        draw(st.sampled_from(["1", "-1", "1e308", "nan", "inf", "9" * 5000, "0.5", "", "x"]))
        for _ in range(6)
    ]
    return f"<time>{nums[0]} - {nums[1]}</time><boxes>{nums[2]}: [{', '.join(nums[2:6])}]</boxes>"


near_number = st.one_of(
    st.floats(-10, 80, allow_nan=False),
    st.integers(-5, 70),
    st.sampled_from([0.0, 1e-300, 1e6, -1e6, 1e300]),
)


@st.composite
def near_answers(draw: st.DrawFn) -> str:
    """json-v1 answers of the right shape with numbers near the valid ones (spans past the
    video, reversed, boxes swapped or past the frame, times off the shown grid): usable or
    repaired answers, whose scores must stay in range."""
    span = [draw(near_number), draw(near_number)]
    times = draw(st.lists(st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.5, 4.0, 7.0, -1.0]), max_size=5))
    boxes = {repr(t): [draw(near_number) for _ in range(4)] for t in times}
    return "<answer>" + dump({"span": span, "boxes": boxes}) + "</answer>"


text_actions = st.one_of(
    hostile_strings, json_answers(), tagged_answers(), near_answers(), st.text(max_size=200)
)


@SETTINGS
@given(
    action=text_actions,
    which=st.sampled_from(["json-v1", "tagged", "json-v1/norm1000"]),
    seed=st.integers(0, 2),
)
@example(
    action='<answer>{"span": [0, 1e308], "boxes": {"0.5": [0, 0, 1e308, 1e308]}}</answer>',
    which="json-v1",
    seed=0,
)
@example(
    action='<answer>{"span": [0, 3], "boxes": {"' + "1" * 5000 + '": [0, 0, 9, 9]}}</answer>',
    which="json-v1",
    seed=0,
)
@example(action='<answer>{"span": [0, ' + "9" * 5000 + "]}</answer>", which="json-v1", seed=0)
@example(action="<answer>" + "[" * 100_000 + "</answer>", which="json-v1", seed=0)
@example(action="<time>0 - " + "9" * 5000 + "</time>", which="tagged", seed=0)
def test_text_actions(action: str, which: str, seed: int, grounding_envs: dict) -> None:
    reward, info = step_once(grounding_envs[which], action, seed)
    check_step_info(reward, info)


def test_a_text_action_that_is_not_a_str_is_a_type_error(grounding_envs: dict) -> None:
    env = grounding_envs["json-v1"]
    for action in (None, 3, b"<answer>{}</answer>", {"span": [0, 1]}):
        env.reset(seed=0)
        with pytest.raises(TypeError, match="takes a str action"):
            env.step(action)


# ------------------------------------------------------------------ struct actions
array_like = st.one_of(
    hostile_values.map(plain),
    st.builds(
        lambda shape, fill: np.full(shape, fill),
        st.sampled_from([(2,), (0,), (3,), (8, 4), (9, 4), (8, 3), (8,), (2, 2), (1, 8, 4)]),
        st.sampled_from([math.nan, math.inf, -1e308, 1e308, 0.5, -0.5, 2.0, 0.0, 1.0]),
    ),
)


@st.composite
def struct_actions(draw: st.DrawFn) -> Any:
    slots = 9  # 2 fps of a 4 s video
    valid = {
        "span": np.array([0.5, 2.5], dtype=np.float32),
        "boxes": np.tile(np.array([0.1, 0.1, 0.5, 0.5], dtype=np.float32), (slots, 1)),
        "box_mask": np.ones(slots, dtype=np.int8),
    }
    kind = draw(st.sampled_from(["mutate", "mutate", "mutate", "whole"]))
    if kind == "whole":
        return draw(array_like | st.just(valid.copy()) | st.lists(array_like, max_size=3))
    action: dict[Any, Any] = dict(valid)
    for _ in range(draw(st.integers(1, 3))):
        key = draw(st.sampled_from(["span", "boxes", "box_mask", "extra"]))
        change = draw(st.sampled_from(["replace", "drop", "poke"]))
        if change == "drop":
            action.pop(key, None)
        elif change == "replace" or key not in action:
            action[key] = draw(array_like)
        else:
            try:
                value = np.array(action[key], dtype=np.float64, copy=True)
            except (TypeError, ValueError, OverflowError):
                continue
            if value.size == 0:
                continue
            index = tuple(draw(st.integers(0, n - 1)) for n in value.shape)
            value[index] = draw(
                st.sampled_from([math.nan, math.inf, -math.inf, 1e308, -1e308, 2.0, -3.0, 0.7])
            )
            action[key] = value
    return action


@SETTINGS
@given(action=struct_actions(), seed=st.integers(0, 2))
@example(
    action={"span": [0.0, 1e308], "boxes": np.full((9, 4), 1e308), "box_mask": np.ones(9)}, seed=0
)
@example(
    action={"span": [-1e308, 1e308], "boxes": np.full((9, 4), -1e308), "box_mask": np.ones(9)},
    seed=1,
)
@example(action={"span": "0 1", "boxes": "x", "box_mask": "y"}, seed=0)
@example(action={"span": [0, 10**400], "boxes": np.zeros((9, 4)), "box_mask": np.ones(9)}, seed=0)
@example(action={"span": ["0.5", "2.5"], "boxes": np.zeros((9, 4)), "box_mask": np.ones(9)}, seed=0)
def test_struct_actions(action: Any, seed: int, grounding_envs: dict) -> None:
    reward, info = step_once(grounding_envs["struct"], action, seed)
    check_step_info(reward, info, "invalid_action")
    if info.get("invalid_action"):
        assert reward == 0.0 and isinstance(info["invalid_action"], str)
        assert "\n" not in info["invalid_action"] and len(info["invalid_action"]) < 2000


@hostile_settings(20)
@given(actions=st.lists(struct_actions(), min_size=1, max_size=4))
def test_struct_score_group(actions: list, grounding_envs: dict) -> None:
    env = grounding_envs["struct"]
    env.reset(seed=0)
    with bounded_memory(what="score_group"):
        scored = env.unwrapped.score_group(actions)
    assert len(scored) == len(actions)
    for reward, info in scored:
        check_step_info(reward, info, "invalid_action")


# ------------------------------------------------------------------ tracking
tracking_action = st.one_of(
    st.fixed_dictionaries(
        {
            "present": st.one_of(
                st.sampled_from([0, 1, True, False, np.int64(1), np.array([1]), 0.0, 1.0]),
                hostile_values.map(plain),
            ),
            "box": st.one_of(
                st.just([0.1, 0.2, 0.6, 0.7]),
                st.lists(
                    st.floats(allow_nan=True, allow_infinity=True) | hostile_numbers, max_size=5
                ),
                hostile_values.map(plain),
                array_like,
            ),
        }
    ),
    hostile_values.map(plain),
)


@pytest.fixture(scope="module")
def tracking_envs(synth_root: Path) -> dict[str, gym.Env]:
    common = {"fps": 2.0, "max_side": 64, "verifier": ALL_TERMS}
    return {
        mode: _make("stvg/Tracking-v0", synth_root, reward_mode=mode, **common)
        for mode in ("sparse", "dense")
    }


@hostile_settings(30)
@given(
    mode=st.sampled_from(["sparse", "dense"]),
    actions=st.lists(tracking_action, min_size=12, max_size=12),
    seed=st.integers(0, 2),
)
@example(
    mode="sparse",
    actions=[{"present": 1, "box": [10**400, 0, 1, 1]}] + [{"present": 0, "box": None}] * 11,
    seed=0,
)  # was an OverflowError out of env.step
@example(mode="dense", actions=[{"present": 1, "box": ["0", "0", "1", "1"]}] * 12, seed=0)
def test_tracking_actions(mode: str, actions: list, seed: int, tracking_envs: dict) -> None:
    env = tracking_envs[mode]
    env.reset(seed=seed)
    penalty = env.unwrapped.config.false_presence_penalty
    low, high = (0.0, MAX_REWARD) if mode == "sparse" else (-penalty, 1.0)
    with bounded_memory(what=mode), bounded_time(30, mode):
        for step, action in enumerate(actions):
            _, reward, terminated, truncated, info = env.step(action)
            check_reward(reward, low, high, f"{mode} step {step}")
            assert not truncated
            reason = info.get("invalid_action")
            if reason is not None:
                assert isinstance(reason, str) and "\n" not in reason and len(reason) < 2000
            if reason is not None and f"at step {step}:" in reason:  # this step's own action
                event("invalid tracking action")
                assert reward == 0.0, (reward, reason)
            if terminated:
                assert check_unit_metrics(info) >= 2
                break
        else:
            raise AssertionError("the episode did not end within its frames")


# ------------------------------------------------------------------ env arguments
ENV_KEYS = [
    "fps",
    "max_frames",
    "max_side",
    "frame_cache_mb",
    "max_query_length",
    "max_text_length",
    "densify",
    "verifier",
    "answer_format",
    "coords",
    "sample_order",
    "model_geometry",
    "on_bad_video",
    "action_format",
    "split",
    "annotations",
    "video_dir",
]


def _argument_value(key: str) -> st.SearchStrategy[Any]:
    values = hostile_values.map(plain)
    if key in ("max_side", "max_frames"):  # valid big sizes are legitimate big buffers
        return values.filter(lambda v: not (isinstance(v, (int, float)) and 256 < v <= 10**9))
    return values


@hostile_settings(40)
@given(
    env_id=st.sampled_from(["stvg/Grounding-v0", "stvg/Tracking-v0"]),
    kwargs=st.sampled_from(ENV_KEYS).flatmap(
        lambda key: st.tuples(st.just(key), _argument_value(key))
    ),
)
@example(env_id="stvg/Grounding-v0", kwargs=("max_frames", 10**8))
@example(env_id="stvg/Grounding-v0", kwargs=("fps", 1e-300))
@example(
    env_id="stvg/Grounding-v0",
    kwargs=("verifier", {"terms": [{"name": "t_iou", "weight": math.inf}]}),
)
@example(env_id="stvg/Tracking-v0", kwargs=("max_frames", 10**8))
@example(env_id="stvg/Grounding-v0", kwargs=("verifier", "x" * 5000))  # was OSError
@example(env_id="stvg/Grounding-v0", kwargs=("video_dir", "a\x00b"))  # was ValueError
@example(env_id="stvg/Grounding-v0", kwargs=("video_dir", "x" * 5000))  # was OSError
@example(env_id="stvg/Grounding-v0", kwargs=("annotations", ""))  # was ValueError
def test_env_arguments(env_id: str, kwargs: tuple[str, Any], synth_root: Path) -> None:
    key, value = kwargs
    try:
        with bounded_memory(what=f"{key}={value!r}"[:300]), bounded_time(30, key):
            env = _make(env_id, synth_root, **{"max_side": 64, key: value})
            env.reset(seed=0)
    except (ConfigError, DataError) as exc:
        event("refused")
        assert "\n" not in str(exc) and len(str(exc)) < 4000, str(exc)[:500]
        return
    event("made")
    env.close()


@pytest.mark.parametrize("env_id", ["stvg/Grounding-v0", "stvg/Tracking-v0"])
@pytest.mark.parametrize("where", ["densify", "verifier"])
def test_every_frame_with_an_end_extension_is_refused_when_made(
    env_id: str, where: str, synth_root: Path
) -> None:
    # before: the env was made, and its first scored step raised "end_extension needs the
    # sampling rate fps" (a ValueError out of env.step, the end of a training run)
    densify = {"method": "linear", "end_extension": 0.5}
    kwargs = {"densify": densify} if where == "densify" else {"verifier": {"densify": densify}}
    with pytest.raises(ConfigError, match=rf"env.{where}.*end_extension: 0.5 .*env.fps is null"):
        _make(env_id, synth_root, fps=None, max_side=64, **kwargs)
    env = _make(env_id, synth_root, fps=2.0, max_side=64, **kwargs)  # with a sampling rate
    env.reset(seed=0)
    env.close()
