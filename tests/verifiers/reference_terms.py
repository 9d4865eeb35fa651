"""Per-answer reference implementations of the built-in reward terms (a test oracle).

The library implements each term once, on a batch (:mod:`stvg.verifiers.rewards`); these
are the same formulas written answer by answer on a
:class:`~stvg.verifiers.rewards.RewardInput` with plain Python and NumPy, so that the tests
compare two independent implementations.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from stvg.config import InvalidField
from stvg.data.timing import frame_of_time
from stvg.data.types import Tube
from stvg.verifiers.formats import FrameContext
from stvg.verifiers.iou import generalized_box_iou
from stvg.verifiers.rewards import RewardInput, TermScore


def _failure(inp: RewardInput) -> TermScore | None:
    if inp.parse.answer is None:
        return TermScore(0.0, f"parse failed: {inp.parse.error}")
    return None


# ----------------------------------------------------------------- pure maths helpers


def consistency_fraction(
    shown_frames: np.ndarray, box_frames: np.ndarray, span_frames: tuple[int, int]
) -> float:
    """Share of shown frames that carry a box exactly when they lie inside the span.

    Args:
        shown_frames: int ``[T]`` native frames shown to the policy.
        box_frames: int ``[K]`` native frames the answer gave a box for.
        span_frames: inclusive ``(first, last)`` native frames of the answer's span.

    Returns:
        ``#{f in shown : (f in span) == (f has a box)} / T``; 0 when ``T == 0``.

    >>> consistency_fraction(np.array([0, 30, 60, 90]), np.array([30]), (30, 60))
    0.75
    """
    shown = np.asarray(shown_frames, dtype=np.int64)
    if shown.size == 0:
        return 0.0
    inside = (shown >= span_frames[0]) & (shown <= span_frames[1])
    has_box = np.isin(shown, np.asarray(box_frames, dtype=np.int64))
    return float(np.mean(inside == has_box))


def mean_giou(pred_xyxy: np.ndarray, gt_xyxy: np.ndarray, *, mapped: bool = True) -> float:
    """Mean generalized IoU of aligned boxes, optionally mapped from ``[-1, 1]`` to ``[0, 1]``.

    >>> round(mean_giou(np.array([[0, 0, 1, 1.0]]), np.array([[2, 0, 3, 1.0]])), 6)
    0.333333
    >>> mean_giou(np.array([[0, 0, 1, 1.0]]), np.array([[2, 0, 3, 1.0]]), mapped=False)
    -0.3333333333333333
    """
    value = float(np.mean(generalized_box_iou(pred_xyxy, gt_xyxy)))
    return (value + 1.0) / 2.0 if mapped else value


def l1_similarity(pred_xyxy: np.ndarray, gt_xyxy: np.ndarray, width: float, height: float) -> float:
    """``1 - mean |pred - gt|`` of box corners, x over ``width`` and y over ``height``.

    Each of the 4 coordinates of each box pair contributes ``|p - g| / size``; the mean is
    over all of them, and the result is clipped to ``[0, 1]``.

    >>> l1_similarity(np.array([[0, 0, 10, 10.0]]), np.array([[10, 0, 20, 10.0]]), 100, 50)
    0.95
    """
    scale = np.array([width, height, width, height], dtype=np.float64)
    diff = np.abs(np.asarray(pred_xyxy, np.float64) - np.asarray(gt_xyxy, np.float64)) / scale
    return float(np.clip(1.0 - diff.mean(), 0.0, 1.0))


def length_ratio(pred_len: float, ref_len: float) -> float:
    """``min(a, b) / max(a, b)`` of two positive lengths: 1 when equal, towards 0 apart.

    >>> length_ratio(30, 60), length_ratio(120, 60)
    (0.5, 0.5)
    """
    if pred_len <= 0 or ref_len <= 0:
        raise ValueError(f"lengths must be positive, got pred_len={pred_len}, ref_len={ref_len}")
    return float(min(pred_len, ref_len) / max(pred_len, ref_len))


def spatial_pairs(inp: RewardInput, tube: Tube | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Aligned predicted and GT boxes ``[M, 4]`` on frames that have both, inside both spans.

    The frames are those of the densified tube (inside ``pred_span``; ``inp.pred_tube``
    unless ``tube`` is given) that lie inside ``gt_span`` and carry a GT box: the temporal
    intersection used by vIoU.
    """
    tube = inp.pred_tube if tube is None else tube
    empty = np.zeros((0, 4)), np.zeros((0, 4))
    if tube is None or len(tube) == 0 or inp.pred_span is None or not inp.sample.gt_boxes:
        return empty
    first = max(inp.pred_span[0], inp.sample.gt_span[0])
    last = min(inp.pred_span[1], inp.sample.gt_span[1])
    frames = tube.frame_idx
    gt_frames = np.fromiter(
        inp.sample.gt_boxes.keys(), dtype=np.int64, count=len(inp.sample.gt_boxes)
    )
    keep = (frames >= first) & (frames <= last) & np.isin(frames, gt_frames)
    if not keep.any():
        return empty
    gt = np.array([inp.sample.gt_boxes[f] for f in frames[keep].tolist()], dtype=np.float64)
    return tube.boxes_xyxy[keep], gt.reshape(-1, 4)


_NO_SHARED = "no frame has both a predicted and a ground-truth box"


# ---------------------------------------------------------------------------- terms


def t_iou(inp: RewardInput) -> TermScore:
    """Temporal IoU ``|I| / U`` of the predicted and GT native-frame spans (span formula)."""
    if _failure(inp):
        return _failure(inp)
    return TermScore(inp.official.t_iou)


def v_iou(inp: RewardInput) -> TermScore:
    """Video IoU (span formula): ``(1/U) * sum of IoU`` over shared frames with a GT box."""
    if _failure(inp):
        return _failure(inp)
    if inp.pred_tube is None or len(inp.pred_tube) == 0:
        return TermScore(0.0, "answer has no boxes")
    return TermScore(inp.official.v_iou)


def _check_format(params: Mapping[str, Any]) -> None:
    if not 0.0 <= params["repaired"] <= 1.0:
        raise InvalidField(
            "params.repaired",
            f"reward term 'format' parameter 'repaired' must lie in [0, 1], got {params['repaired']}",
        )


def format_term(inp: RewardInput, repaired: float = 0.5) -> TermScore:
    """1 for strictly well-formed text, ``repaired`` for a repaired answer, 0 if unusable.

    ``ParseResult.format_ok`` is true only for text that needed no repair; a usable answer
    that needed any documented repair (a snapped time, a clipped box, trailing text, ...)
    scores ``repaired`` (default 0.5, must lie in ``[0, 1]``).
    """
    _check_format({"repaired": repaired})
    if _failure(inp):
        return _failure(inp)
    return TermScore(1.0 if inp.parse.format_ok else float(repaired))


def consistency(inp: RewardInput) -> TermScore:
    """Share of shown frames with a box inside the answer's span and none outside it.

    The span is the answer's own span in native frames, ``frame_of_time(start)`` to
    ``frame_of_time(end)`` (no end extension); a shown frame has a box when an answer time
    falls on it. See :func:`consistency_fraction`.
    """
    if _failure(inp):
        return _failure(inp)
    if inp.ctx.frame_idx.size == 0:
        return TermScore(0.0, "no frames were shown")
    answer = inp.parse.answer
    fps, n = inp.sample.native_fps, inp.sample.num_frames
    span = (frame_of_time(answer.span_s[0], fps, n), frame_of_time(answer.span_s[1], fps, n))
    box_frames = np.array(
        [frame_of_time(t, fps, n) for t in answer.times_s.tolist()], dtype=np.int64
    )
    return TermScore(consistency_fraction(inp.ctx.frame_idx, box_frames, span))


def giou(inp: RewardInput, mapped: bool = True) -> TermScore:
    """Mean GIoU over frames with a predicted and a GT box (``(GIoU+1)/2`` when mapped).

    STVG-o1 style spatial shaping: unlike IoU it still ranks disjoint boxes by distance.
    0 with a reason when no frame has both boxes.
    """
    if _failure(inp):
        return _failure(inp)
    pred, gt = spatial_pairs(inp)
    if pred.shape[0] == 0:
        return TermScore(0.0, _NO_SHARED)
    return TermScore(mean_giou(pred, gt, mapped=mapped))


def l1(inp: RewardInput) -> TermScore:
    """``1 - mean normalised L1`` of box corners over frames with a predicted and a GT box.

    x distances are divided by the video width, y distances by its height (original
    pixels), see :func:`l1_similarity`. 0 with a reason when no frame has both boxes.
    """
    if _failure(inp):
        return _failure(inp)
    pred, gt = spatial_pairs(inp)
    if pred.shape[0] == 0:
        return TermScore(0.0, _NO_SHARED)
    return TermScore(l1_similarity(pred, gt, inp.sample.width, inp.sample.height))


def _check_span_length(params: Mapping[str, Any]) -> None:
    if not 0.0 < params["prior_fraction"] <= 1.0:
        raise InvalidField(
            "params.prior_fraction",
            "reward term 'span_length' parameter 'prior_fraction' must lie in (0, 1] "
            f"(a share of the video), got {params['prior_fraction']}",
        )


def span_length(inp: RewardInput, reference: str = "gt", prior_fraction: float = 0.25) -> TermScore:
    """``min(Lp, Lr) / max(Lp, Lr)``: predicted span length against a reference length.

    ``Lp = pe - ps + 1`` native frames of ``pred_span``. ``Lr`` is the GT span length
    (``reference: gt``) or ``max(1, round(prior_fraction * num_frames))`` (``reference:
    prior``, a length prior that needs no ground truth span). 1 when the lengths agree,
    ``1/2`` when one is twice the other. See :func:`length_ratio`.
    """
    _check_span_length({"prior_fraction": prior_fraction})
    if _failure(inp):
        return _failure(inp)
    if inp.pred_span is None:
        return TermScore(0.0, "no predicted span")
    pred_len = inp.pred_span[1] - inp.pred_span[0] + 1
    if reference == "gt":
        ref_len = inp.sample.gt_span[1] - inp.sample.gt_span[0] + 1
    else:
        ref_len = max(1, round(prior_fraction * inp.sample.num_frames))
    return TermScore(length_ratio(pred_len, ref_len))


def spatial(inp: RewardInput, giou: bool = True, l1: bool = True) -> TermScore:
    """STVG-o1: mean of ``GIoU - L1`` over frames with both boxes, ``L1`` the mean
    normalised corner distance (``1 -`` :func:`l1_similarity` before its clip)."""
    if _failure(inp):
        return _failure(inp)
    pred, gt = spatial_pairs(inp)
    if pred.shape[0] == 0:
        return TermScore(0.0, _NO_SHARED)
    return TermScore(spatial_value(pred, gt, inp.sample.width, inp.sample.height, giou, l1))


def spatial_value(
    pred: np.ndarray, gt: np.ndarray, width: float, height: float, giou: bool, l1: bool
) -> float:
    """Mean over aligned box pairs of ``GIoU - L1`` (either part may be left out), pair by
    pair with plain Python."""
    total = 0.0
    for p, g in zip(pred, gt, strict=True):
        if giou:
            total += float(generalized_box_iou(p[None], g[None])[0])
        if l1:
            w, h = width, height
            total -= (
                abs(p[0] - g[0]) / w
                + abs(p[1] - g[1]) / h
                + abs(p[2] - g[2]) / w
                + abs(p[3] - g[3]) / h
            ) / 4
    return total / pred.shape[0]


_NO_DRAFT = "the answer has no draft box list"


def think_gain(inp: RewardInput, giou: bool = True, l1: bool = True) -> TermScore:
    """STVG-o1: ``max(spatial(final) - spatial(draft), 0)``, each list's densified tube
    against the GT on the frames both have; 0 with a reason without a draft list or when
    either list shares no frame with the GT."""
    if _failure(inp):
        return _failure(inp)
    if inp.parse.draft is None:
        return TermScore(0.0, _NO_DRAFT)
    final = spatial_pairs(inp)
    if final[0].shape[0] == 0:
        return TermScore(0.0, f"final list: {_NO_SHARED}")
    if inp.draft_tube is None:
        return TermScore(0.0, f"draft list: {_NO_SHARED}")
    draft = spatial_pairs(inp, inp.draft_tube)
    if draft[0].shape[0] == 0:
        return TermScore(0.0, f"draft list: {_NO_SHARED}")
    w, h = inp.sample.width, inp.sample.height
    gain = spatial_value(*final, w, h, giou, l1) - spatial_value(*draft, w, h, giou, l1)
    return TermScore(max(gain, 0.0))


def sampled_seconds(ctx: FrameContext, span_s: tuple[float, float]) -> list[float]:
    """The shown timestamps inside ``span_s``, by the parser's tolerance
    ``min(0.05 s, interval / 4)``."""
    tol = min(0.05, ctx.interval_s / 4) + 1e-9
    return [t for t in ctx.timestamps_s.tolist() if span_s[0] - tol <= t <= span_s[1] + tol]


def box_consistency(inp: RewardInput) -> TermScore:
    """STVG-o1: 1 when the answer's box list (and its draft list, if any) has a box at
    exactly the shown frames of its span, else 0 with the reason."""
    if _failure(inp):
        return _failure(inp)
    if inp.ctx.frame_idx.size == 0:
        return TermScore(0.0, "no frames were shown")
    answer = inp.parse.answer
    expected = sampled_seconds(inp.ctx, answer.span_s)
    tol = min(0.05, inp.ctx.interval_s / 4) + 1e-9
    lists = [("the answer", answer)]
    if inp.parse.draft is not None:
        lists.append(("the draft list", inp.parse.draft))
    frames = (
        f"the {len(expected)} shown frames in the span "
        f"[{answer.span_s[0]:g}, {answer.span_s[1]:g}] s"
    )
    problems = []
    for name, listed in lists:
        times = listed.times_s.tolist()
        k = len(times)
        box = "box" if k == 1 else "boxes"
        if k != len(expected):
            problems.append(f"{name} has {k} {box} for {frames}")
        elif any(abs(t - e) > tol for t, e in zip(times, expected, strict=True)):
            problems.append(f"{name} has {k} {box} not at {frames}")
    if problems:
        return TermScore(0.0, "; ".join(problems))
    return TermScore(1.0)


def t_iou_boundary(inp: RewardInput) -> TermScore:
    """Time-R1: tIoU times one minus each boundary's distance as a share of the frames."""
    if _failure(inp):
        return _failure(inp)
    if inp.pred_span is None:
        return TermScore(0.0)
    n = inp.sample.num_frames
    (ps, pe), (gs, ge) = inp.pred_span, inp.sample.gt_span
    return TermScore(inp.official.t_iou * (1 - abs(ps - gs) / n) * (1 - abs(pe - ge) / n))


def gate(
    inp: RewardInput,
    term: str = "v_iou",
    when: str = "t_iou",
    threshold: float = 0.5,
    threshold_start: float = 0.0,
    schedule_iterations: int = 0,
) -> TermScore:
    """``term`` where ``when`` reaches ``threshold``, else 0 with the reason (a
    :class:`RewardInput` is scored outside training: the schedule's final threshold)."""
    del threshold_start, schedule_iterations
    if _failure(inp):
        return _failure(inp)
    paid, test = REFERENCE_TERMS[term](inp), REFERENCE_TERMS[when](inp)
    if test.value >= threshold:
        return paid
    return TermScore(0.0, f"gated: {when} {test.value:.3f} < {threshold:g}")


REFERENCE_TERMS = {
    "t_iou": t_iou,
    "v_iou": v_iou,
    "format": format_term,
    "consistency": consistency,
    "giou": giou,
    "l1": l1,
    "span_length": span_length,
    "spatial": spatial,
    "t_iou_boundary": t_iou_boundary,
    "gate": gate,
    "think_gain": think_gain,
    "box_consistency": box_consistency,
}
