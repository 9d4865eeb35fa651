"""The glance-and-zoom env: the frames a zoom adds, limits, truncation, rewards and cost,
with hand-computed cases on a 12 s toy video.

The toy video: 120 frames at 10 fps (12 s, 64x48); the target is the box [8, 8, 40, 32]
on frames 40..79 (4.0 s .. 7.9 s). On the 1 fps grid the frames a zoom may show are
0, 10, ..., 110 (grid position p = second p); the 0.25 fps glance shows seconds 0, 4, 8.
"""

from __future__ import annotations

from typing import Any

import cv2
import gymnasium as gym
import numpy as np
import pytest

from stvg.config import ConfigError
from stvg.data.types import Sample
from stvg.envs.config import EnvConfig
from stvg.envs.cost import cost_figures
from stvg.envs.zoom import ZoomGroundingEnv, thin_evenly
from stvg.verifiers.formats.zoom_calls import ZoomCall, parse_zoom_text, render_zoom_call

BOX = [8.0, 8.0, 40.0, 32.0]
ANSWER_4_TO_7 = (
    '<answer>{"span": [4, 7], "boxes": {"4.0": [8, 8, 40, 32], "5.0": [8, 8, 40, 32], '
    '"6.0": [8, 8, 40, 32], "7.0": [8, 8, 40, 32]}}</answer>'
)


@pytest.fixture(scope="module")
def long_toy(tmp_path_factory: pytest.TempPathFactory) -> Sample:
    path = tmp_path_factory.mktemp("zoom") / "long_toy.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (64, 48))
    for i in range(120):
        frame = np.full((48, 64, 3), 40 + i, dtype=np.uint8)
        if 40 <= i <= 79:
            frame[8:32, 8:40] = 255
        writer.write(frame)
    writer.release()
    boxes = {f: list(BOX) for f in range(40, 80)}
    return Sample("long_toy", str(path), "the white box", 10.0, 120, 64, 48, (40, 79), boxes)


def make(sample: Sample, **kwargs: Any) -> ZoomGroundingEnv:
    return ZoomGroundingEnv(samples=[sample], **kwargs)


def times(obs: dict[str, Any]) -> list[float]:
    return obs["timestamps"][obs["frame_mask"] == 1].tolist()


def test_glance_then_zoom_adds_the_window_at_its_rate_without_repeats(long_toy: Sample) -> None:
    env = make(long_toy)
    obs, info = env.reset(seed=0)
    assert times(obs) == [0.0, 4.0, 8.0] and info["glance_frames"] == 3
    assert env.frame_budget == 12  # min(3 + 2 * 16, the 12-frame grid)
    assert obs["turn"].tolist() == [0] and obs["zooms_left"].tolist() == [2]
    obs, reward, terminated, truncated, info = env.step(render_zoom_call(ZoomCall(2, 6, 1)))
    assert (reward, terminated, truncated) == (0.0, False, False)
    assert times(obs) == [0, 2, 3, 4, 5, 6, 8]  # 4 was in the glance: not shown twice
    assert obs["frame_turn"][:7].tolist() == [0, 1, 1, 0, 1, 1, 0]
    assert info["zoom_frames"] == 4 and info["zoom_window"] == (2.0, 6.0, 1.0)
    assert obs["frames_left"].tolist() == [12 - 7] and obs["zooms_left"].tolist() == [1]
    assert env.frame_context is not None
    assert env.frame_context.frame_idx.tolist() == [0, 20, 30, 40, 50, 60, 80]


@pytest.mark.parametrize(
    ("window", "fps", "added"),
    [
        ((1, 7), 0.5, [2, 6]),  # every 2nd grid point: 2, 4, 6; 4 already shown
        ((0, 11), 0.3, []),  # ceil(1 / 0.3) = 4: 0, 4, 8 = the glance itself
        ((-5, 3), None, [1, 2, 3]),  # clipped to [0, 3]; the grid rate
        ((4.3, 4.6), 1, []),  # no grid frame inside: the nearest to 4.45 (4, already shown)
        ((9.5, 9.7), 1, [10]),  # the nearest to 9.6 is second 10
    ],
)
def test_zoom_rate_clipping_and_empty_windows(
    long_toy: Sample, window: tuple[float, float], fps: float | None, added: list[int]
) -> None:
    env = make(long_toy)
    env.reset(seed=0)
    obs, _, _, _, info = env.step(render_zoom_call(ZoomCall(*window, fps)))
    assert "invalid_action" not in info
    assert times(obs) == sorted({0.0, 4.0, 8.0} | {float(t) for t in added})
    assert info["zoom_frames"] == len(added)


def test_caps_thin_evenly_and_the_budget_runs_out(long_toy: Sample) -> None:
    assert thin_evenly([1, 2, 3, 5, 6, 7, 9, 10, 11], 3) == [1, 6, 11]
    env = make(long_toy, max_frames_per_zoom=3)
    env.reset(seed=0)
    obs, _, _, _, _ = env.step(render_zoom_call(ZoomCall(0, 11)))
    assert times(obs) == [0, 1, 4, 6, 8, 11]
    env = make(long_toy, frame_budget=5)
    env.reset(seed=0)
    obs, _, _, _, info = env.step(render_zoom_call(ZoomCall(0, 11)))
    assert times(obs) == [0, 1, 4, 8, 11] and obs["frames_left"].tolist() == [0]
    obs, reward, terminated, truncated, info = env.step(render_zoom_call(ZoomCall(2, 3)))
    assert info["invalid_action"] == "invalid zoom: the frame budget is spent (frame_budget=5)"
    assert (reward, terminated, truncated) == (0.0, False, False)  # turn 2 of 3


def test_invalid_zooms_continue_or_end(long_toy: Sample) -> None:
    env = make(long_toy, max_turns=5)
    env.reset(seed=0)
    for text, reason in [
        ('<zoom>{"span": [6, 2]}</zoom>', "invalid zoom: the window [6, 2] is reversed"),
        (
            '<zoom>{"span": [20, 30]}</zoom>',
            "invalid zoom: the window [20, 30] lies outside the video [0, 11] s",
        ),
        ('<zoom>{"span": [1, 2], "fps": -1}</zoom>', 'invalid zoom call: "fps" must be a '),
        ("<zoom>[1, 2]", "invalid zoom call: <zoom> is not closed by </zoom>"),
    ]:
        obs, reward, terminated, truncated, info = env.step(text)
        assert info["invalid_action"].startswith(reason), info["invalid_action"]
        assert (reward, terminated) == (0.0, False)
    assert times(obs) == [0, 4, 8] and obs["zooms_left"].tolist() == [2]  # none counted
    env = make(long_toy, max_zooms=1, on_invalid_zoom="end")
    env.reset(seed=0)
    env.step(render_zoom_call(ZoomCall(4, 7)))
    _, reward, terminated, truncated, info = env.step(render_zoom_call(ZoomCall(1, 2)))
    assert (reward, terminated, truncated) == (0.0, True, False)
    assert info["invalid_action"] == "invalid zoom: no zoom left (max_zooms=1)"
    assert info["parse_error"] == info["invalid_action"] and info["v_iou"] == 0.0
    with pytest.raises(RuntimeError, match="after the episode ended"):
        env.step(ANSWER_4_TO_7)


def test_turn_limit_truncates_with_zero_reward_and_a_reason(long_toy: Sample) -> None:
    env = make(long_toy)  # max_zooms 2: 3 turns
    env.reset(seed=0)
    env.step(render_zoom_call(ZoomCall(4, 5)))
    _, _, terminated, truncated, _ = env.step(render_zoom_call(ZoomCall(6, 7)))
    assert not (terminated or truncated)
    _, reward, terminated, truncated, info = env.step(render_zoom_call(ZoomCall(1, 2)))
    assert (reward, terminated, truncated) == (0.0, False, True)
    assert info["truncated_reason"].startswith("turn limit reached without an answer")
    assert info["invalid_action"] == "invalid zoom: no zoom left (max_zooms=2)"
    assert info["t_iou"] == 0.0 and info["cost/turns"] == 3 and info["cost/zooms"] == 2


def test_answer_reward_frame_cost_and_zoom_bonus_by_hand(long_toy: Sample) -> None:
    """Zoom on [4, 7] (adds 5, 6, 7), answer [4, 7] with the GT box at 4..7 s: the span
    covers frames 40..70 of the GT's 40..79, so tIoU = vIoU = 31/40 = 0.775 and the
    verifier's tIoU + vIoU = 1.55; 6 of 12 frames shown: frame cost -0.5."""
    env = make(long_toy, frame_cost=0.5, zoom_bonus=0.2, zoom_bonus_min_v_iou=0.7)
    env.reset(seed=0)
    env.step(render_zoom_call(ZoomCall(4, 7)))
    _, reward, terminated, truncated, info = env.step(ANSWER_4_TO_7)
    assert (terminated, truncated) == (True, False)
    assert info["t_iou"] == pytest.approx(0.775) and info["v_iou"] == pytest.approx(0.775)
    assert info["reward/frame_cost"] == pytest.approx(-0.5)
    assert info["reward/zoom_bonus"] == 1.0
    assert reward == pytest.approx(1.55 - 0.5 * 0.5 + 0.2)
    assert info["reward"] == reward
    # no zoom: no bonus, whatever the vIoU; an answer at glance times only
    env.reset(seed=0)
    _, reward, _, _, info = env.step(
        '<answer>{"span": [4, 7], "boxes": {"4.0": [8, 8, 40, 32]}}</answer>'
    )
    assert info["reward/zoom_bonus"] == 0.0 and info["reward/frame_cost"] == pytest.approx(-0.25)
    assert reward == pytest.approx(info["t_iou"] + info["v_iou"] - 0.5 * 0.25)


def test_cost_is_summed_over_turns(long_toy: Sample) -> None:
    """3 glance frames then 3 zoomed frames: each turn's frames are encoded on their own
    (Qwen3-VL pairs frames: 2 + 2 temporal groups, not the 3 of six frames at once)."""
    env = make(long_toy)
    env.reset(seed=0)
    env.step(render_zoom_call(ZoomCall(5, 7)))
    _, _, _, _, info = env.step(ANSWER_4_TO_7)
    three = cost_figures(3, 48, 64)["visual_tokens"]
    six = cost_figures(6, 48, 64)["visual_tokens"]
    for family in ("qwen2.5-vl", "qwen3-vl"):
        assert info[f"cost/visual_tokens/{family}"] == 2 * three[family]
    assert info["cost/visual_tokens/qwen3-vl"] != six["qwen3-vl"]
    assert info["cost/frames_shown"] == 6 and info["cost/turns"] == 2


def test_struct_and_text_actions_score_the_same(long_toy: Sample) -> None:
    text_env = make(long_toy)
    text_env.reset(seed=0)
    text_env.step(render_zoom_call(ZoomCall(4, 7, 1)))
    _, text_reward, _, _, text_info = text_env.step(ANSWER_4_TO_7)
    env = make(long_toy, action_format="struct")
    obs, _ = env.reset(seed=0)
    obs, *_ = env.step({"kind": 0, "window": [4.0, 7.0], "zoom_fps": [1.0]})
    shown = times(obs)
    assert shown == [0, 4, 5, 6, 7, 8]
    boxes = np.zeros((env.frame_budget, 4), dtype=np.float32)
    mask = np.zeros(env.frame_budget, dtype=np.int8)
    for slot, t in enumerate(shown):
        if 4 <= t <= 7:
            boxes[slot] = [8 / 64, 8 / 48, 40 / 64, 32 / 48]
            mask[slot] = 1
    _, reward, terminated, _, info = env.step(
        {"kind": 1, "span": [4.0, 7.0], "boxes": boxes, "box_mask": mask}
    )
    assert terminated and reward == pytest.approx(text_reward)
    assert info["v_iou"] == pytest.approx(text_info["v_iou"])
    env.reset(seed=0)
    _, _, _, _, info = env.step({"kind": 0, "window": [4.0, 7.0]})
    assert info["invalid_action"] == "invalid zoom action: missing key(s) ['zoom_fps']"
    _, _, _, _, info = env.step({"kind": 3})
    assert info["invalid_action"].startswith("invalid zoom-env action: 'kind' must be 0")


def test_zoom_call_text_round_trip_and_errors() -> None:
    call = ZoomCall(1.5, 4.25, 2.0)
    assert parse_zoom_text("Look closer. " + render_zoom_call(call)) == (call, None)
    assert parse_zoom_text('<zoom>{"span": [1, 2], "rate": 1}</zoom>')[1] == (
        "invalid zoom call: unknown key(s) ['rate']; it takes ['span', 'fps']"
    )
    assert parse_zoom_text("<zoom>{span}</zoom>")[1].startswith("invalid zoom call: not JSON")
    assert parse_zoom_text('<zoom>{"span": [1, NaN]}</zoom>')[1].startswith(
        'invalid zoom call: "span" must be [start, end]'
    )


def test_config_keys_are_checked_with_their_path(long_toy: Sample) -> None:
    with pytest.raises(ConfigError, match=r"env\.glance_fps.*fps / n"):
        make(long_toy, glance_fps=0.3)
    with pytest.raises(ConfigError, match=r"env\.max_frames.*frame_budget"):
        make(long_toy, max_frames=4)
    with pytest.raises(ConfigError, match=r"env\.frame_budget: 2 frames cannot hold the glance"):
        make(long_toy, frame_budget=2)
    with pytest.raises(ConfigError, match=r"max_zooms.*key of the zoom envs"):
        from stvg.config import from_dict

        from_dict(EnvConfig, {"id": "stvg/Synthetic-v0", "max_zooms": 3}, path="env")
    config = from_dict(EnvConfig, {"id": "stvg/ZoomGrounding-v0", "max_zooms": 3}, path="env")
    assert config.kind == "zoom" and config.env_kwargs() == {"fps": 1.0, "max_zooms": 3}


@pytest.mark.filterwarnings("ignore:.*symmetric and normalized space")
def test_registered_ids_pass_the_env_checker(small_split_kwargs: dict[str, str]) -> None:
    from gymnasium.utils.env_checker import check_env

    for action_format in ("text", "struct"):
        env = gym.make("stvg/ZoomGrounding-v0", action_format=action_format, **small_split_kwargs)
        check_env(env.unwrapped, skip_render_check=True)
        env.close()


def test_render_shows_the_shown_frames_with_both_tubes(long_toy: Sample) -> None:
    env = make(long_toy, render_mode="rgb_array")
    env.reset(seed=0)
    before = env.render()
    env.step(render_zoom_call(ZoomCall(4, 7)))
    env.step(ANSWER_4_TO_7)
    after = env.render()
    assert before is not None and after is not None and before.shape == after.shape
    assert not np.array_equal(before, after)
    assert env.looks() == "glance 0.25 fps (3); zoom [4, 7] s at 1 fps (+3)"


def test_an_unusable_answer_scores_zero_with_its_reason(long_toy: Sample) -> None:
    env = make(long_toy, frame_cost=0.5)
    env.reset(seed=0)
    _, reward, terminated, _, info = env.step("the box is somewhere")
    assert terminated and info["parse_error"] and info["t_iou"] == 0.0
    assert reward == pytest.approx(-0.5 * 3 / 12)  # the frame cost still applies


# ------------------------------------------------------------------ scripted zoom policies
def evaluate_rule(sample: Sample, rule: str, answerer: dict[str, Any], **env: Any) -> Any:
    from stvg.config import from_dict
    from stvg.evaluation.config import PolicyEvalConfig
    from stvg.evaluation.evaluate import evaluate_policy

    config = from_dict(
        PolicyEvalConfig,
        {
            "policy": {"name": "zoom", "config": {"rule": rule, "answerer": answerer}},
            "env": {"id": "stvg/ZoomGrounding-v0", **env},
            "progress": False,
        },
    )
    return evaluate_policy(config, samples=[sample])


def test_oracle_zoom_with_the_ground_truth_answerer_by_hand(long_toy: Sample) -> None:
    """The oracle zoom shows [3, 8.9] s (GT 4.0..7.9 s, margin 1 s) on the 1 fps grid:
    seconds 3, 5, 6, 7 are new (4 and 8 were in the glance). The ground-truth answerer then
    gives the GT box at 4..7 s and the span [4.0, 7.9]: every GT frame 40..79 is covered
    (boxes held between the shown seconds), so tIoU = vIoU = 1. On the glance alone its
    boxes sit at 4 s only (8 s is outside the span): the linear densify holds it, vIoU 1
    too; so the cost columns are what differ: 7 frames over 2 turns against 3 over 1."""
    oracle = {"name": "oracle"}
    zoomed = evaluate_rule(long_toy, "oracle", oracle)
    row = zoomed.per_sample[0]
    assert row["v_iou"] == pytest.approx(1.0) and row["t_iou"] == pytest.approx(1.0)
    assert row["cost/frames_shown"] == 7 and row["cost/turns"] == 2 and row["cost/zooms"] == 1
    glance = evaluate_rule(long_toy, "none", oracle)
    assert glance.per_sample[0]["cost/frames_shown"] == 3
    assert glance.per_sample[0]["v_iou"] == pytest.approx(1.0)
    assert glance.per_sample[0]["cost/turns"] == 1 and glance.per_sample[0]["cost/zooms"] == 0
    assert zoomed.cost["frames_shown"] == 7


def test_zoom_rules_windows(long_toy: Sample) -> None:
    from stvg.policies.registry import make

    env = make_env_for(long_toy)
    obs, info = env.reset(seed=0)
    windows = {}
    for rule in ("oracle", "center", "random"):
        policy = make("zoom", rule=rule, answerer={"name": "oracle"}, zoom_fps=0.5)
        policy.bind_samples([long_toy])
        action = policy.act(obs, info)
        assert action["kind"] == 0 and action["zoom_fps"].tolist() == [0.5]
        windows[rule] = action["window"].tolist()
    assert windows["oracle"] == pytest.approx([3.0, 8.9])
    # width 5.9 centred in the 11.9 s video: (11.9 - 5.9) / 2 = 3.0 (the toy's GT is central)
    assert windows["center"] == pytest.approx([3.0, 8.9])
    start, end = windows["random"]
    assert end - start == pytest.approx(5.9, abs=1e-5) and 0.0 <= start <= 6.0
    again = make("zoom", rule="random", answerer={"name": "oracle"}, zoom_fps=0.5)
    again.bind_samples([long_toy])
    assert again.act(obs, info)["window"].tolist() == [start, end]  # seeded per sample
    text = make(
        "zoom", rule="oracle", answerer={"name": "oracle", "config": {"action_format": "text"}}
    )
    text.bind_samples([long_toy])
    assert text.act(obs, info) == '<zoom>{"span": [3.0, 8.9]}</zoom>'


def make_env_for(sample: Sample) -> ZoomGroundingEnv:
    return ZoomGroundingEnv(samples=[sample], action_format="struct")


def test_text_policies_read_later_turns_from_the_step_info(long_toy: Sample) -> None:
    """A text answerer renders its answer at the zoomed frames' times: the step info
    carries the frames shown so far."""
    answerer = {"name": "oracle", "config": {"action_format": "text"}}
    result = evaluate_rule(long_toy, "oracle", answerer)
    row = result.per_sample[0]
    assert row["parse_error"] is None and row["v_iou"] == pytest.approx(1.0)
    assert '"5.0"' in row["answer_text"] and "<zoom>" in row["answer_text"]


def test_reset_info_names_the_glance_frames(long_toy: Sample) -> None:
    env = make(long_toy)
    _, info = env.reset(seed=0)
    assert info["frame_idx"] == (0, 40, 80)  # not the 12-frame grid
    _, _, _, _, info = env.step(render_zoom_call(ZoomCall(5, 6)))
    assert info["frame_idx"] == (0, 40, 50, 60, 80)


def test_hostile_zoom_calls_are_cheap_and_never_raise(long_toy: Sample) -> None:
    import time

    text = "<zoom>" * 20_000  # no closing tag: one linear scan, not one per opening
    started = time.perf_counter()
    assert parse_zoom_text(text)[1] == "invalid zoom call: <zoom> is not closed by </zoom>"
    assert time.perf_counter() - started < 0.5
    env = make(long_toy)
    env.reset(seed=0)
    obs, _, _, _, info = env.step('<zoom>{"span": [0, 11], "fps": 1e-300}</zoom>')
    assert "invalid_action" not in info and info["zoom_frames"] == 0  # position 0: the glance
    _, _, _, _, info = env.step('<zoom>{"span": [0, 1e308], "fps": 1e308}</zoom>')
    assert info["zoom_window"] == (0.0, 11.0, 1.0)
