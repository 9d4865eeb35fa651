"""One rule for both action formats: an answer scores the same as a struct action and as
text (issue 25, case 5).

``GroundingEnv`` reads a struct action into the raw answer a text format extracts and
assembles it with the text answers' rules (:mod:`stvg.envs.answers`). Before, a struct
action's span outside the video scored as if clamped onto the first or last frame (a
policy could farm reward from it), swapped corners scored 0 where text swapped them back,
and boxes at shown frames outside the span were kept.

The property test renders each generated answer both ways and asserts the same reward,
terms, tIoU, vIoU, validity, error and repairs, through ``step`` and ``score_group``.
The comparison is exact, because both paths see the very same numbers:

* the text is ``json-v1`` written by Python's ``json.dumps``, which writes a float as its
  round-tripping ``repr`` (``NaN``/``Infinity`` included, which the format's reader
  accepts), and keys each box by ``str`` of its shown timestamp (the exact float again);
* in ``norm1`` coordinates the struct box and the text box are the same floats;
* in ``pixels`` coordinates the boxes are whole pixels ``p`` of the 64x48 frame (shown at
  its original size) and the struct box is ``p / W``: the text's conversion is
  ``p / W * W_orig`` and the struct's ``(p / W) / 1 * W_orig``, the same float; clipping
  and swapping compare the same values (division by ``W > 0`` keeps the order of distinct
  whole numbers), so they decide the same.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from stvg.data.types import Sample
from stvg.envs.grounding import GroundingEnv

W, H = 64, 48  # the toy frame (shown at its original size with max_side=64)
SLOTS = 8  # frame slots: 6 shown frames (2 fps of a 3 s video) and 2 padding slots
VERIFIER = {"terms": [{"name": "t_iou"}, {"name": "v_iou"}, {"name": "format", "weight": 0.5}]}
COMPARED = ("t_iou", "v_iou", "parse_ok", "parse_error", "format_ok", "repairs", "pred_span")

SPECIAL_SECONDS = [math.nan, math.inf, -math.inf, -60.0, -50.0, -0.5, 0.0, 0.5, 1.25, 2.5]
SPECIAL_SECONDS += [3.0, 3.5, 50.0, 60.0]
seconds = st.sampled_from(SPECIAL_SECONDS) | st.floats(-4.0, 7.0)
NON_FINITE = [math.nan, math.inf, -math.inf]


def _coordinate(extent: int, whole: bool) -> st.SearchStrategy[float]:
    """A coordinate in units of the text (``whole``: pixels of an axis of ``extent``)."""
    if whole:
        inside = st.integers(-extent, 2 * extent)
    else:
        inside = st.floats(-0.5, 1.5) | st.sampled_from([0.0, 1.0])
    return st.one_of(inside, inside, inside, inside, st.sampled_from(NON_FINITE))


def _answers(whole: bool) -> st.SearchStrategy[dict[str, Any]]:
    """A span and, per slot, a box in text units or ``None`` (slots 6 and 7 are padding)."""
    box = st.tuples(
        _coordinate(W, whole), _coordinate(H, whole), _coordinate(W, whole), _coordinate(H, whole)
    )
    return st.fixed_dictionaries(
        {
            "span": st.tuples(seconds, seconds).map(sorted) | st.tuples(seconds, seconds),
            "boxes": st.lists(st.none() | box, min_size=SLOTS, max_size=SLOTS),
        }
    )


def as_text(answer: dict[str, Any], times: np.ndarray) -> str:
    """The ``json-v1`` text of ``answer``: a box per shown slot that has one."""
    boxes = {
        str(float(t)): list(box)
        for t, box in zip(times.tolist(), answer["boxes"], strict=False)
        if box is not None
    }
    payload = {"span": list(answer["span"]), "boxes": boxes}
    return f"<answer>{json.dumps(payload)}</answer>"


def as_struct(answer: dict[str, Any], coords: str) -> dict[str, np.ndarray]:
    """The struct action of ``answer``: boxes normalised to the frame (``p / W``)."""
    scale = np.array([W, H, W, H], dtype=np.float64) if coords == "pixels" else np.ones(4)
    boxes = np.zeros((SLOTS, 4))
    mask = np.zeros(SLOTS, dtype=np.int8)
    for slot, box in enumerate(answer["boxes"]):
        if box is not None:
            boxes[slot] = np.asarray(box, dtype=np.float64) / scale
            mask[slot] = 1
    return {"span": np.asarray(answer["span"], dtype=np.float64), "boxes": boxes, "box_mask": mask}


@pytest.fixture(scope="module", params=["norm1", "pixels"])
def env_pair(
    request: pytest.FixtureRequest, toy_sample: Sample
) -> tuple[str, GroundingEnv, GroundingEnv]:
    """``(coords, text env, struct env)`` on the toy sample at 2 fps, GT over the whole
    video (so that an out-of-video span clamped onto an end frame would score)."""
    sample = dataclasses.replace(
        toy_sample, gt_span=(0, 29), gt_boxes={f: [8.0, 8.0, 40.0, 32.0] for f in range(30)}
    )
    kwargs = dict(samples=[sample], fps=2.0, max_frames=SLOTS, max_side=64, verifier=VERIFIER)
    text = GroundingEnv(coords=request.param, **kwargs)
    struct = GroundingEnv(coords=request.param, action_format="struct", **kwargs)
    return request.param, text, struct


def assert_same(text: tuple[float, dict], struct: tuple[float, dict]) -> None:
    (text_reward, text_info), (struct_reward, struct_info) = text, struct
    assert struct_reward == text_reward
    for key in COMPARED + tuple(k for k in text_info if k.startswith("reward/")):
        assert struct_info[key] == text_info[key], key
    assert "invalid_action" not in text_info
    if struct_info["parse_ok"]:
        assert "invalid_action" not in struct_info
    else:
        assert struct_info["invalid_action"] == struct_info["parse_error"]
        assert struct_reward == 0.0


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_an_answer_scores_the_same_as_struct_and_as_text(
    env_pair: tuple[str, GroundingEnv, GroundingEnv], data: st.DataObject
) -> None:
    coords, text_env, struct_env = env_pair
    answers = data.draw(st.lists(_answers(coords == "pixels"), min_size=1, max_size=3))
    text_env.reset(seed=0)
    times = text_env.frame_context.timestamps_s
    assert times.tolist() == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5]
    texts = [as_text(a, times) for a in answers]
    structs = [as_struct(a, coords) for a in answers]
    for text, struct in zip(texts, structs, strict=True):
        text_env.reset(seed=0)
        struct_env.reset(seed=0)
        _, text_reward, _, _, text_info = text_env.step(text)
        _, struct_reward, _, _, struct_info = struct_env.step(struct)
        assert_same((text_reward, text_info), (struct_reward, struct_info))
        event("usable" if text_info["parse_ok"] else "an error")
        event("scores > 0" if text_reward > 0 else "scores 0")
        for repair in text_info["repairs"]:
            event(repair.split(" at ")[0].split(" [")[0])
    text_env.reset(seed=0)
    struct_env.reset(seed=0)
    for pair in zip(text_env.score_group(texts), struct_env.score_group(structs), strict=True):
        assert_same(*pair)


# The cases by hand: the toy video (3 s; shown at 1 fps: 0, 1, 2 s) with the GT box
# [8, 8, 40, 32] on every frame, so a span clamped onto frame 0 or 29 would score.
GT_NORM = [8 / 64, 8 / 48, 40 / 64, 32 / 48]
SWAPPED = [40 / 64, 32 / 48, 8 / 64, 8 / 48]


@pytest.fixture
def whole_video_gt(toy_sample: Sample) -> Sample:
    return dataclasses.replace(
        toy_sample, gt_span=(0, 29), gt_boxes={f: [8.0, 8.0, 40.0, 32.0] for f in range(30)}
    )


def _step(sample: Sample, action: Any, action_format: str) -> tuple[float, dict[str, Any]]:
    env = GroundingEnv(
        samples=[sample], fps=1.0, max_frames=3, max_side=64, coords="norm1",
        action_format=action_format,
    )  # fmt: skip
    env.reset(seed=0)
    _, reward, _, _, info = env.step(action)
    return reward, info


@pytest.mark.parametrize(
    ("span", "error"),
    [
        ((-60.0, -50.0), "span [-60, -50] s ends before the video starts (0 s)"),
        ((50.0, 60.0), "span [50, 60] s starts after the video ends (3 s)"),
    ],
)
def test_a_span_outside_the_video_is_an_error_in_both_formats(
    whole_video_gt: Sample, span: tuple[float, float], error: str
) -> None:
    # Before: the struct span scored as the one frame 0 (or 29): tIoU = vIoU = 1/30.
    boxes = np.array([GT_NORM] * 3)
    struct = {"span": np.array(span), "boxes": boxes, "box_mask": np.ones(3)}
    reward, info = _step(whole_video_gt, struct, "struct")
    assert reward == 0.0 and info["t_iou"] == 0.0 and info["v_iou"] == 0.0
    assert info["parse_error"] == info["invalid_action"] == error
    text = f"<answer>{json.dumps({'span': list(span), 'boxes': {}})}</answer>"
    reward, info = _step(whole_video_gt, text, "text")
    assert reward == 0.0 and info["parse_error"] == error


def test_swapped_corners_are_swapped_back_in_both_formats(whole_video_gt: Sample) -> None:
    # Span [0, 2] s covers frames 0..20 (21) of the GT's 0..29 (30): tIoU = 21/30; the
    # boxes at 0, 1, 2 s, swapped back, are the GT box on all 21 frames: vIoU = 21/30.
    # Before: the struct boxes stayed inverted (zero area): vIoU 0.
    struct = {"span": np.array([0.0, 2.0]), "boxes": np.array([SWAPPED] * 3), "box_mask": [1] * 3}
    reward, info = _step(whole_video_gt, struct, "struct")
    assert info["t_iou"] == pytest.approx(21 / 30)
    assert info["v_iou"] == pytest.approx(21 / 30, abs=1e-9)
    assert reward == pytest.approx(42 / 30, abs=1e-9)
    assert info["repairs"] == ("box corners swapped (x2 < x1 or y2 < y1) at 0 s, 1 s, 2 s",)
    boxes = ", ".join(f'"{t}": {json.dumps(SWAPPED)}' for t in ("0.0", "1.0", "2.0"))
    text = f'<answer>{{"span": [0.0, 2.0], "boxes": {{{boxes}}}}}</answer>'
    text_reward, text_info = _step(whole_video_gt, text, "text")
    assert text_reward == reward and text_info["repairs"] == info["repairs"]
