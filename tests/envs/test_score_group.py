"""``GroundingEnv.score_group``: a group's answers scored at once, each exactly as
``reset`` on the same sample and then ``step`` score it (text and struct actions, good,
repaired and malformed answers)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from stvg.data.types import Sample, SecondLevelAnswer
from stvg.envs.grounding import GroundingEnv
from stvg.verifiers.formats import FrameContext


def _stepped(env: GroundingEnv, sample_id: str, actions: list[Any]) -> list[tuple[float, dict]]:
    out = []
    for action in actions:
        env.reset(options={"sample_id": sample_id})
        _, reward, terminated, truncated, info = env.step(action)
        assert terminated and not truncated
        out.append((reward, info))
    return out


def _oracle_text(env: GroundingEnv, sample: Sample, ctx: FrameContext, shift_s: float) -> str:
    """The GT answer at the shown timestamps inside the GT span, moved by ``shift_s``."""
    gs, ge = sample.gt_span
    times = ctx.timestamps_s[
        (ctx.frame_idx >= gs) & (ctx.frame_idx <= ge)
    ]  # shown frames inside the span
    boxes = sample.gt_boxes_at(np.round(times * sample.native_fps).astype(np.int64))
    answer = SecondLevelAnswer((times[0] + shift_s, times[-1] + shift_s), times, boxes)
    return env.verifier.answer_format.render(answer, ctx, "reasoning")


def test_text_group_equals_stepping_each_answer(small_split_kwargs: dict[str, str]) -> None:
    env = GroundingEnv(small_split_kwargs, fps=2.0)
    _, info = env.reset(options={"index": 1})
    sample_id = info["sample_id"]
    sample, ctx = env._sample, env.frame_context
    assert sample is not None and ctx is not None
    perfect = _oracle_text(env, sample, env.contract.frame, 0.0)
    texts = [
        perfect,
        _oracle_text(env, sample, env.contract.frame, 0.5),  # a shifted span
        perfect.replace("</answer>", "</answer> trailing words"),  # a repair
        "<answer>{not json</answer>",
        "no answer at all",
        perfect,
    ]
    group = env.score_group(texts)
    with pytest.raises(RuntimeError, match="before reset"):
        env.step(perfect)  # the episode ended with the group
    assert group == _stepped(env, sample_id, texts)
    rewards = [r for r, _ in group]
    assert rewards[0] == rewards[5] > rewards[1] > 0.0
    assert rewards[3] == rewards[4] == 0.0
    assert group[3][1]["parse_error"].startswith("invalid JSON")
    assert group[2][1]["num_repairs"] == 1 and group[2][1]["format_ok"] is False
    assert all(info["sample_id"] == sample_id for _, info in group)


def test_struct_group_equals_stepping_each_answer(small_split_kwargs: dict[str, str]) -> None:
    env = GroundingEnv(small_split_kwargs, fps=2.0, action_format="struct", max_frames=8)
    _, info = env.reset(options={"index": 2})
    sample_id = info["sample_id"]
    slots = env.max_frames
    boxes = np.tile([0.2, 0.2, 0.6, 0.7], (slots, 1))
    mask = np.ones(slots, dtype=np.int64)
    nan_boxes = boxes.copy()
    nan_boxes[0, 0] = np.nan  # a repair: that box is dropped
    actions: list[Any] = [
        {"span": [0.5, 2.0], "boxes": boxes, "box_mask": mask},
        {"span": [1.0, 3.0], "boxes": nan_boxes, "box_mask": mask},
        {"span": [1.0], "boxes": boxes, "box_mask": mask},  # malformed: an invalid action
        {"span": [0.0, 1.0], "boxes": boxes, "box_mask": np.zeros(slots, dtype=np.int64)},
    ]
    group = env.score_group(actions)
    assert group == _stepped(env, sample_id, actions)
    assert "invalid_action" in group[2][1] and group[2][0] == 0.0
    # the text rules: a NaN box is dropped, boxes at shown frames outside the span too
    assert group[1][1]["repairs"] == (
        "box is not 4 finite numbers, dropped at 0 s",
        "box outside the span [1, 3] s, dropped at 0.6 s, 3.6 s",
    )
    assert group[3][1]["reward/v_iou"] == 0.0  # no boxes given


def test_score_group_needs_a_running_episode(small_split_kwargs: dict[str, str]) -> None:
    env = GroundingEnv(small_split_kwargs)
    with pytest.raises(RuntimeError, match="before reset"):
        env.score_group(["x"])
    env.reset(seed=0)
    with pytest.raises(TypeError, match="takes a str action"):
        env.score_group([{"span": [0, 1]}])
