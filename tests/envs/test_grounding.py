"""GroundingEnv rewards computed by hand on the toy sample, bad actions, observations.

The toy sample (``conftest.toy_sample``): 30 frames at 10 fps, 64x48 pixels, ground truth
frames 10..19 with the box [8, 8, 40, 32]. The default verifier is ``tIoU + vIoU``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from stvg.config import ConfigError
from stvg.data.errors import DataError
from stvg.data.types import Sample
from stvg.envs.grounding import GroundingEnv

GT_NORM = [8 / 64, 8 / 48, 40 / 64, 32 / 48]  # the GT box normalised to the frame


def struct_action(
    slots: int, span: tuple[float, float], boxes: dict[int, list[float]]
) -> dict[str, Any]:
    """A struct action with ``boxes`` (slot -> normalised box) and everything else masked."""
    action = {
        "span": np.asarray(span, dtype=np.float32),
        "boxes": np.zeros((slots, 4), dtype=np.float32),
        "box_mask": np.zeros(slots, dtype=np.int8),
    }
    for slot, box in boxes.items():
        action["boxes"][slot] = box
        action["box_mask"][slot] = 1
    return action


@pytest.fixture
def frame_level(toy_sample: Sample) -> GroundingEnv:
    """Every native frame shown (fps=None, slots for the whole video), struct actions."""
    return GroundingEnv(
        samples=[toy_sample], fps=None, max_frames=None, max_side=64, action_format="struct"
    )


def test_frame_level_observation(frame_level: GroundingEnv) -> None:
    obs, info = frame_level.reset(seed=0)
    assert frame_level.max_frames == 30
    assert obs["frames"].shape == (30, 64, 64, 3)
    assert obs["frame_mask"].tolist() == [1] * 30
    np.testing.assert_allclose(obs["timestamps"], np.arange(30) / 10.0, rtol=1e-6)
    assert obs["shown_size"].tolist() == [64, 48]
    assert not obs["frames"][:, 48:].any()  # below the 64x48 frame: padding
    assert info["frame_idx"].tolist() == list(range(30))
    assert info["original_size"] == (64, 48) and info["native_fps"] == 10.0
    assert obs["query"] == "the red box"


def test_struct_answer_equal_to_gt_scores_one(frame_level: GroundingEnv) -> None:
    frame_level.reset(seed=0)
    action = struct_action(30, (1.0, 1.9), {f: GT_NORM for f in range(10, 20)})
    _, reward, terminated, truncated, info = frame_level.step(action)
    assert terminated and not truncated
    assert info["t_iou"] == 1.0
    assert info["v_iou"] == pytest.approx(1.0, abs=1e-6)
    assert reward == pytest.approx(2.0, abs=1e-6)
    assert info["pred_span"] == (10, 19)
    assert info["cost/frames_shown"] == 30


def test_half_overlapping_span(frame_level: GroundingEnv) -> None:
    # Predicted frames 15..24 against GT 10..19: I = 15..19 (5), U = 10..24 (15).
    frame_level.reset(seed=0)
    action = struct_action(30, (1.5, 2.4), {f: GT_NORM for f in range(15, 25)})
    _, reward, _, _, info = frame_level.step(action)
    assert info["t_iou"] == pytest.approx(5 / 15)
    assert info["v_iou"] == pytest.approx(5 / 15, abs=1e-6)
    assert reward == pytest.approx(10 / 15, abs=1e-6)


def test_one_fps_span_and_boxes(toy_sample: Sample) -> None:
    # 1 fps of 30 frames at 10 fps shows frames 0, 10, 20 at 0, 1, 2 s. Span [1, 2] s covers
    # frames 10..20: I = 10..19 (10), U = 10..20 (11); the boxes at 1 s and 2 s are the GT
    # box, so the densified tube matches the GT on all 10 shared frames.
    env = GroundingEnv(
        samples=[toy_sample], fps=1.0, max_frames=16, max_side=64, action_format="struct"
    )
    obs, info = env.reset(seed=0)
    assert info["frame_idx"].tolist() == [0, 10, 20]
    assert obs["frame_mask"].tolist() == [1, 1, 1] + [0] * 13
    assert obs["timestamps"][:3].tolist() == [0.0, 1.0, 2.0]
    _, reward, _, _, info = env.step(struct_action(16, (1.0, 2.0), {1: GT_NORM, 2: GT_NORM}))
    assert info["t_iou"] == pytest.approx(10 / 11)
    assert info["v_iou"] == pytest.approx(10 / 11, abs=1e-6)
    assert reward == pytest.approx(20 / 11, abs=1e-6)
    assert info["cost/frames_shown"] == 3
    assert set(info) >= {"cost/visual_tokens/qwen2.5-vl", "cost/visual_tokens/qwen3-vl"}


def test_text_answer_in_shown_pixels(toy_sample: Sample) -> None:
    # max_side=32 shows 32x24 frames: the GT box is [4, 4, 20, 16] in shown pixels.
    env = GroundingEnv(samples=[toy_sample], fps=1.0, max_side=32)
    obs, _ = env.reset(seed=0)
    assert obs["shown_size"].tolist() == [32, 24]
    text = (
        "<think>the red box is there from 1 s</think>"
        '<answer>{"span": [1.0, 2.0], "boxes": {"1.0": [4, 4, 20, 16], "2.0": [4, 4, 20, 16]}}'
        "</answer>"
    )
    assert env.action_space.contains(text)
    _, reward, _, _, info = env.step(text)
    assert info["parse_error"] is None
    assert info["t_iou"] == pytest.approx(10 / 11)
    assert info["v_iou"] == pytest.approx(10 / 11, abs=1e-6)
    assert reward == pytest.approx(20 / 11, abs=1e-6)


@pytest.mark.parametrize(
    ("span", "boxes", "reason"),
    [
        ((2.0, 1.0), {1: GT_NORM}, "span end 1 < start 2"),
        ((float("nan"), 1.0), {1: GT_NORM}, "span must be two finite numbers of seconds"),
        ((1.0, float("inf")), {1: GT_NORM}, "span must be two finite numbers of seconds"),
        ((-60.0, -50.0), {1: GT_NORM}, "span [-60, -50] s ends before the video starts (0 s)"),
        ((50.0, 60.0), {1: GT_NORM}, "span [50, 60] s starts after the video ends (3 s)"),
    ],
)
def test_bad_struct_actions_score_zero_with_reason(
    toy_sample: Sample, span: tuple[float, float], boxes: dict[int, list[float]], reason: str
) -> None:
    env = GroundingEnv(samples=[toy_sample], fps=1.0, max_side=64, action_format="struct")
    env.reset(seed=0)
    _, reward, terminated, _, info = env.step(struct_action(16, span, boxes))
    assert terminated and reward == 0.0
    assert info["t_iou"] == 0.0 and info["v_iou"] == 0.0
    assert reason in info["invalid_action"] and info["parse_error"] == info["invalid_action"]


def test_a_non_finite_struct_box_is_dropped_as_a_text_box_is(toy_sample: Sample) -> None:
    """One rule for both action formats (the text parsers' rule): a box with a NaN
    coordinate is dropped and recorded as a repair; the span keeps its tIoU."""
    env = GroundingEnv(samples=[toy_sample], fps=1.0, max_side=64, action_format="struct")
    env.reset(seed=0)
    _, _, _, _, clean = env.step(struct_action(16, (1.0, 2.0), {1: GT_NORM}))
    env.reset(seed=0)
    nan_box = struct_action(16, (1.0, 2.0), {1: GT_NORM, 2: [np.nan, 0.1, 0.5, 0.5]})
    _, reward, _, _, info = env.step(nan_box)
    assert info.get("invalid_action") is None
    assert info["t_iou"] == clean["t_iou"] > 0 and info["v_iou"] == clean["v_iou"]
    assert info["repairs"] == ("box is not 4 finite numbers, dropped at 2 s",)
    assert info["format_ok"] is False and clean["format_ok"] is True


@pytest.mark.parametrize("mask_value", [2, float("nan"), -1])
def test_a_box_mask_other_than_0_or_1_is_refused(toy_sample: Sample, mask_value: float) -> None:
    env = GroundingEnv(samples=[toy_sample], fps=1.0, max_side=64, action_format="struct")
    env.reset(seed=0)
    action = struct_action(16, (1.0, 2.0), {1: GT_NORM})
    action["box_mask"] = action["box_mask"].astype(np.float64)
    action["box_mask"][1] = mask_value
    _, reward, _, _, info = env.step(action)
    assert reward == 0.0 and "invalid box_mask at slot 1" in info["invalid_action"]


def test_nan_in_an_unmasked_slot_is_ignored(toy_sample: Sample) -> None:
    env = GroundingEnv(samples=[toy_sample], fps=1.0, max_side=64, action_format="struct")
    env.reset(seed=0)
    action = struct_action(16, (1.0, 2.0), {1: GT_NORM, 2: GT_NORM})
    action["boxes"][5] = np.nan  # slot 5 is padding and unmasked
    _, reward, _, _, info = env.step(action)
    assert "invalid_action" not in info
    assert reward == pytest.approx(20 / 11, abs=1e-6)


@pytest.mark.parametrize(
    "text", ["", "garbage", '<answer>{"span": [1, "x"]}</answer>', "\x00" * 10]
)
def test_garbage_text_scores_zero_with_parse_error(toy_sample: Sample, text: str) -> None:
    env = GroundingEnv(samples=[toy_sample], fps=1.0, max_side=64)
    env.reset(seed=0)
    _, reward, terminated, _, info = env.step(text)
    assert terminated and reward == 0.0
    assert isinstance(info["parse_error"], str) and info["parse_error"]


def test_step_contract_errors(toy_sample: Sample) -> None:
    env = GroundingEnv(samples=[toy_sample], fps=1.0, max_side=64)
    with pytest.raises(RuntimeError, match="before reset"):
        env.step("x")
    env.reset(seed=0)
    with pytest.raises(TypeError, match="takes a str action"):
        env.step(3)
    env.step("x")
    with pytest.raises(RuntimeError, match="after the episode ended"):
        env.step("x")


def test_frame_cache_hits_and_misses(toy_sample: Sample) -> None:
    env = GroundingEnv(samples=[toy_sample], fps=1.0, max_side=64)
    _, first = env.reset(seed=0)
    _, second = env.reset()
    assert (first["cache_hits"], first["cache_misses"]) == (0, 1)
    assert (second["cache_hits"], second["cache_misses"]) == (1, 1)
    uncached = GroundingEnv(samples=[toy_sample], fps=1.0, max_side=64, frame_cache_mb=0)
    uncached.reset(seed=0)
    _, info = uncached.reset()
    assert (info["cache_hits"], info["cache_misses"]) == (0, 2)


def test_sample_order_and_options(small_split_kwargs: dict[str, str]) -> None:
    env = GroundingEnv(**small_split_kwargs, max_side=32)
    ids = [s.sample_id for s in env.samples]
    seen = [env.reset(seed=0)[1]["sample_id"]] + [env.reset()[1]["sample_id"] for _ in range(4)]
    assert seen == ids + ids[:1]
    assert env.reset(options={"index": 2})[1]["sample_id"] == ids[2]
    assert env.reset(options={"sample_id": ids[3]})[1]["sample_id"] == ids[3]
    shuffled = GroundingEnv(**small_split_kwargs, max_side=32, sample_order="shuffle")
    order = np.random.default_rng(5).permutation(len(ids))  # what reset(seed=5) draws
    seen = [shuffled.reset(seed=5)[1]["sample_id"]] + [
        shuffled.reset()[1]["sample_id"] for _ in range(3)
    ]
    assert seen == [ids[i] for i in order]


def test_config_errors_name_the_key(toy_sample: Sample) -> None:
    with pytest.raises(ConfigError, match="env.fpss"):
        GroundingEnv(samples=[toy_sample], fpss=1.0)
    with pytest.raises(ConfigError, match="env.fps"):
        GroundingEnv(samples=[toy_sample], fps=-1.0)
    with pytest.raises(ConfigError, match="env.action_format"):
        GroundingEnv(samples=[toy_sample], action_format="xml")
    with pytest.raises(ConfigError, match=r"terms\[0\].name"):
        GroundingEnv(samples=[toy_sample], verifier={"terms": [{"name": "nope"}]})
    with pytest.raises(DataError, match="max_query_length"):
        GroundingEnv(samples=[toy_sample], max_query_length=5)
    with pytest.raises(ConfigError, match="env.root"):
        GroundingEnv(dataset="synthetic")


def test_verifier_and_densify_overrides(toy_sample: Sample) -> None:
    env = GroundingEnv(
        samples=[toy_sample],
        verifier={"terms": [{"name": "t_iou", "weight": 0.5}]},
        densify={"method": "hold"},
        coords="norm1000",
    )
    assert env.verifier.term_names == ["t_iou"]
    assert env.verifier.config.densify.method == "hold"
    assert env.verifier.config.coords == "norm1000"
    env.reset(seed=0)
    text = '<answer>{"span": [1.0, 2.0], "boxes": {"1.0": [125, 167, 625, 667]}}</answer>'
    _, reward, _, _, info = env.step(text)
    assert reward == pytest.approx(0.5 * 10 / 11)
