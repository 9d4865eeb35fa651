"""Batched reward terms: every built-in term of :mod:`stvg.verifiers.rewards`, for a batch.

Each function here takes a :class:`~stvg.verifiers.batch_input.BatchInput` of ``A``
answers (and the term's parameters) and returns a :class:`BatchTermScores`: the value of
the term for every answer and, where it is 0 for a known cause, the reason. Values and
reasons equal those of the per-answer term of the same name (the same formulas and failure
rules, see :mod:`stvg.verifiers.rewards`); sums over frames may round differently in the
last bits (``np.bincount`` instead of ``np.mean``), well below ``1e-12``.

:data:`BATCH_TERMS` lists the terms with a batched form: ``t_iou``, ``v_iou``, ``format``,
``consistency``, ``giou``, ``l1``, ``span_length`` (all the built-in ones). A term
registered with :func:`stvg.verifiers.rewards.register_term` and without an entry here is
scored answer by answer with its own function by the verifier.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from stvg.tubes.densify import frames_of_times
from stvg.verifiers.batch_input import BatchInput
from stvg.verifiers.iou import generalized_box_iou

_NO_SHARED = "no frame has both a predicted and a ground-truth box"


class BatchTermScores(NamedTuple):
    """One term's values for a batch of answers.

    Attributes:
        values: float64 ``[A]`` unweighted term values.
        reasons: per answer, why the term is 0 for a known cause, else ``None``.
    """

    values: np.ndarray
    reasons: list[str | None]


def _with_failures(
    inp: BatchInput, values: np.ndarray, reasons: list[str | None] | None = None
) -> BatchTermScores:
    """Unusable answers score 0 with the parse error as the reason (the shared rule)."""
    values = np.where(inp.ok, values, 0.0)
    failures = inp.failure_reasons
    if reasons is None:
        return BatchTermScores(values, list(failures))
    return BatchTermScores(
        values, [f if f is not None else r for f, r in zip(failures, reasons, strict=True)]
    )


def _reason_where(mask: np.ndarray, reason: str) -> list[str | None]:
    return [reason if m else None for m in mask.tolist()]


def t_iou(inp: BatchInput) -> BatchTermScores:
    """Official temporal IoU (:func:`stvg.verifiers.rewards.t_iou`)."""
    return _with_failures(inp, inp.official[0])


def v_iou(inp: BatchInput) -> BatchTermScores:
    """Official video IoU; 0 "answer has no boxes" (:func:`stvg.verifiers.rewards.v_iou`)."""
    empty = inp.box_counts == 0
    values = np.where(empty, 0.0, inp.official[1])
    return _with_failures(inp, values, _reason_where(empty, "answer has no boxes"))


def format_term(inp: BatchInput, repaired: float = 0.5) -> BatchTermScores:
    """1 for well-formed text, ``repaired`` after repairs (:func:`stvg.verifiers.rewards.format_term`)."""
    return _with_failures(inp, np.where(inp.columns.format_ok, 1.0, float(repaired)))


def consistency(inp: BatchInput) -> BatchTermScores:
    """Share of shown frames classified right (:func:`stvg.verifiers.rewards.consistency`).

    All answers' shown frames are concatenated; a shown frame has a box when the key
    ``answer * stride + frame`` is among the answers' box frames (one ``searchsorted``).
    """
    n = len(inp)
    shown_counts = inp.shown_counts
    use = inp.ok & (shown_counts > 0)
    values = np.zeros(n, dtype=np.float64)
    idx = np.flatnonzero(use)
    if idx.size:
        c = inp.columns
        fps, frames = inp.native_fps, inp.num_frames
        span_first = frames_of_times(c.span_s[idx, 0], fps[idx], frames[idx])
        span_last = frames_of_times(c.span_s[idx, 1], fps[idx], frames[idx])
        counts = shown_counts[idx]
        owner = np.repeat(np.arange(idx.size), counts)
        shown = np.concatenate([inp.contexts[i].frame_idx for i in idx.tolist()])
        box_answer = np.repeat(np.arange(n), inp.box_counts)
        box_rows = np.flatnonzero(use[box_answer])
        position = np.cumsum(use) - 1  # answer -> its position in idx
        box_owner = position[box_answer[box_rows]]
        a = box_answer[box_rows]
        box_frames = frames_of_times(c.times_s[box_rows], fps[a], frames[a])
        stride = int(frames.max()) + 1
        box_keys = box_owner * stride + box_frames  # sorted: frames increase within an answer
        shown_keys = owner * stride + shown
        pos = np.searchsorted(box_keys, shown_keys)
        has_box = np.zeros(shown.shape[0], dtype=bool)
        found = pos < box_keys.shape[0]
        has_box[found] = box_keys[pos[found]] == shown_keys[found]
        inside = (shown >= span_first[owner]) & (shown <= span_last[owner])
        right = np.bincount(owner, weights=inside == has_box, minlength=idx.size)
        values[idx] = right / counts
    none_shown = inp.ok & (shown_counts == 0)
    return _with_failures(inp, values, _reason_where(none_shown, "no frames were shown"))


def _pair_means(
    inp: BatchInput, per_pair: np.ndarray, per_count: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per answer mean of ``per_pair`` over its pairs (``per_count`` values per pair)."""
    answer, _, _, count = inp.pairs
    sums = np.bincount(answer, weights=per_pair, minlength=len(inp))
    none = count == 0
    return np.where(none, 0.0, sums / np.maximum(count * per_count, 1)), none


def giou(inp: BatchInput, mapped: bool = True) -> BatchTermScores:
    """Mean GIoU over frames with both boxes (:func:`stvg.verifiers.rewards.giou`)."""
    _, pred, gt, _ = inp.pairs
    mean, none = _pair_means(inp, generalized_box_iou(pred, gt), 1)
    if mapped:
        mean = np.where(none, 0.0, (mean + 1.0) / 2.0)
    return _with_failures(inp, mean, _reason_where(inp.ok & none, _NO_SHARED))


def l1(inp: BatchInput) -> BatchTermScores:
    """``1 - mean normalised L1`` of corners (:func:`stvg.verifiers.rewards.l1`)."""
    answer, pred, gt, _ = inp.pairs
    scale = np.stack([inp.width, inp.height, inp.width, inp.height], axis=1)[answer]
    diff = (np.abs(pred - gt) / scale).sum(axis=1)
    mean, none = _pair_means(inp, diff, 4)
    values = np.where(none, 0.0, np.clip(1.0 - mean, 0.0, 1.0))
    return _with_failures(inp, values, _reason_where(inp.ok & none, _NO_SHARED))


def span_length(
    inp: BatchInput, reference: str = "gt", prior_fraction: float = 0.25
) -> BatchTermScores:
    """``min(Lp, Lr) / max(Lp, Lr)`` (:func:`stvg.verifiers.rewards.span_length`)."""
    pred_len = inp.pred_last - inp.pred_first + 1
    if reference == "gt":
        ref_len = inp.gt_last - inp.gt_first + 1
    else:
        ref_len = np.maximum(1, np.round(prior_fraction * inp.num_frames)).astype(np.int64)
    pred_len = np.where(inp.ok, pred_len, 1)
    values = np.minimum(pred_len, ref_len) / np.maximum(pred_len, ref_len)
    return _with_failures(inp, values)


BATCH_TERMS: dict[str, Callable[..., BatchTermScores]] = {
    "t_iou": t_iou,
    "v_iou": v_iou,
    "format": format_term,
    "consistency": consistency,
    "giou": giou,
    "l1": l1,
    "span_length": span_length,
}
"""Terms with a batched form, by config name (same parameters as the per-answer term)."""

__all__ = ["BATCH_TERMS", "BatchTermScores"]
