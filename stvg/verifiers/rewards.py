"""Reward terms: each one function of a batch of answers, registered by name.

A term maps what the policy answered (parsed, densified) and the ground truth to a number
per answer. It is written once, on a batch: ``fn(batch: RewardBatch, **params) ->
TermScores``, where :class:`RewardBatch` holds ``A`` answers with their samples and frame
contexts and computes, with array code and only when asked, the predicted spans, the
densified tubes, the span-formula tIoU/vIoU and the aligned predicted/GT box pairs. The
composite :class:`~stvg.verifiers.verifier.Verifier` weights and sums the terms named in
its config (``verifier.terms``); every term is also logged on its own. Scoring one answer
(:func:`score_term` on a :class:`RewardInput`) is a batch of one.

Terms (:data:`REWARD_TERMS`; parameters with their defaults in brackets):

========================  ========================================================  ========
name                      value                                                     range
========================  ========================================================  ========
``t_iou``                 temporal IoU, the span formula (:func:`stvg.verifiers.     [0, 1]
                          metrics.score_sample`, protocol ``span``: GT
                          boxes as annotated, never clipped)
``v_iou``                 video IoU of the densified tube, the span formula         [0, 1]
``format``                1 for strictly well-formed text; ``repaired`` [0.5] when  [0, 1]
                          the answer was usable only after repairs; 0 when unusable
``consistency``           share of shown frames classified correctly: a box inside  [0, 1]
                          the answer's span, none outside it
``giou``                  mean GIoU over frames with a predicted and a GT box,      [0, 1]
                          mapped to ``(GIoU + 1) / 2`` [``mapped: true``] or raw    ([-1, 1])
``l1``                    ``1 - mean |pred - gt| / frame size`` over box corners of  [0, 1]
                          those frames
``span_length``           ``min(Lp, Lr) / max(Lp, Lr)``: predicted span length       (0, 1]
                          against the GT length [``reference: gt``] or a prior
                          share of the video [``reference: prior``,
                          ``prior_fraction: 0.25``]
``spatial``               STVG-o1: mean of ``GIoU - L1`` (normalised corner          [-2, 1]
                          distance) over frames with both boxes [``giou: true``,
                          ``l1: true``: either may be left out]
``t_iou_boundary``        Time-R1: ``tIoU * (1 - |ps - gs| / N) * (1 - |pe - ge| /   [0, 1]
                          N)``, N the video's frames
``gate``                  ``term`` paid only where ``when`` reaches ``threshold``,     term's
                          else 0 [``term: v_iou``, ``when: t_iou``,                     and 0
                          ``threshold: 0.5``; ``threshold_start: 0.0``,
                          ``schedule_iterations: 0``: with N > 0 iterations the
                          threshold moves linearly from ``threshold_start`` at
                          training iteration 1 to ``threshold`` at N + 1]
``think_gain``            STVG-o1: ``max(spatial(final) - spatial(draft), 0)`` of   [0, 3]
                          the ``draft-final`` format's two box lists [``giou``,
                          ``l1`` as ``spatial``]; 0 for formats without a draft
``box_consistency``       STVG-o1: 1 when the box list (and the draft list, if      [0, 1]
                          any) has a box at exactly the shown frames of the
                          answer's span, else 0
========================  ========================================================  ========

Adding a term is one function and one YAML line::

    @register_term("short_span", defaults={"max_s": 5.0}, value_range=(0.0, 1.0))
    def short_span(batch: RewardBatch, max_s: float = 5.0) -> TermScores:
        \"\"\"1 when the predicted span lasts at most ``max_s`` seconds, else 0.\"\"\"
        seconds = (batch.pred_last - batch.pred_first + 1) / batch.native_fps
        return with_failures(batch, (seconds <= max_s).astype(float))

    # verifier: {terms: [..., {name: short_span, weight: 0.1, module: my_terms}]}

(``module`` names the module to import so that the term is registered in every process
that builds the verifier, the rollout workers included.)

Failure rules ("a bad rollout is data, not a crash"):

* an answer that could not be parsed scores **0 on every term**, with the parse error as
  the term's reason (:func:`with_failures` applies it);
* a usable answer that cannot score a term (no boxes, no frame shared with the ground
  truth, no frame shown) scores 0 on that term with the reason recorded;
* a programming error (wrong types, an inconsistent input) raises: a crash never looks like
  a real zero.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from stvg.config import InvalidField
from stvg.data.types import Sample, Tube
from stvg.tubes.densify import frames_of_times
from stvg.verifiers.batch_input import BatchInput
from stvg.verifiers.batch_parse import NO_DRAFT
from stvg.verifiers.formats.assemble import EXACT_TIME_TOL_S
from stvg.verifiers.formats.context import FrameContext, ParseResult
from stvg.verifiers.iou import generalized_box_iou
from stvg.verifiers.metrics import SampleScore, score_sample
from stvg.verifiers.spans import check_span

RewardBatch = BatchInput
"""What a term looks at: ``A`` answers, their samples and contexts (see
:class:`~stvg.verifiers.batch_input.BatchInput` for every array it offers: ``ok``,
``pred_first``/``pred_last``, ``tubes``, ``official``, ``pairs``, ``columns``,
``native_fps``, ``num_frames``, ``width``, ``height``, ``gt_first``/``gt_last``, ...)."""


class TermScores(NamedTuple):
    """One term's values for a batch of answers.

    Attributes:
        values: float64 ``[A]`` unweighted term values.
        reasons: per answer, why the term is 0 for a known cause, else ``None``.
    """

    values: np.ndarray
    reasons: list[str | None]


class TermScore(NamedTuple):
    """The value of one reward term for one answer and, when it is 0 for a known cause, why.

    Attributes:
        value: the unweighted term value (see the module table for each term's range).
        reason: why the term could not be scored (parse error, no boxes, ...), else ``None``.
    """

    value: float
    reason: str | None = None


def with_failures(
    batch: RewardBatch, values: np.ndarray, reasons: list[str | None] | None = None
) -> TermScores:
    """``values`` with the shared failure rule applied: unusable answers score 0 with the
    parse error as the reason (their own ``reasons`` otherwise)."""
    values = np.where(batch.ok, np.asarray(values, dtype=np.float64), 0.0)
    failures = batch.failure_reasons
    if reasons is None:
        return TermScores(values, list(failures))
    return TermScores(
        values, [f if f is not None else r for f, r in zip(failures, reasons, strict=True)]
    )


def _reason_where(mask: np.ndarray, reason: str) -> list[str | None]:
    return [reason if m else None for m in mask.tolist()]


# ---------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class RewardTerm:
    """One registered reward term.

    Attributes:
        name: the name used in configs (``{name: t_iou, weight: 0.5}``).
        function: ``(batch: RewardBatch, **params) -> TermScores``.
        defaults: every accepted parameter with its default value.
        choices: for string parameters, the accepted values.
        summary: one line for docs and ``--help`` listings.
        check: ``(resolved_params) -> None``, raising :class:`stvg.config.InvalidField`
            for a value out of range; ``None`` = no range checks.
        value_range: the ``(lowest, highest)`` value the term can take, or a function of
            the resolved parameters giving it; ``None`` = not declared (the reward's
            maximum is then unknown).
    """

    name: str
    function: Callable[..., TermScores]
    defaults: Mapping[str, Any]
    choices: Mapping[str, tuple[str, ...]]
    summary: str
    check: Callable[[Mapping[str, Any]], None] | None = None
    value_range: tuple[float, float] | Callable[[Mapping[str, Any]], tuple[float, float]] | None = (
        None
    )

    def range_of(self, params: Mapping[str, Any]) -> tuple[float, float] | None:
        """The term's ``(lowest, highest)`` value with the resolved ``params``."""
        if callable(self.value_range):
            return self.value_range(params)
        return self.value_range


REWARD_TERMS: dict[str, RewardTerm] = {}


def register_term(
    name: str,
    *,
    defaults: Mapping[str, Any] | None = None,
    choices: Mapping[str, tuple[str, ...]] | None = None,
    check: Callable[[Mapping[str, Any]], None] | None = None,
    value_range: (
        tuple[float, float] | Callable[[Mapping[str, Any]], tuple[float, float]] | None
    ) = None,
) -> Callable[[Callable[..., TermScores]], Callable[..., TermScores]]:
    """Decorator registering ``fn(batch: RewardBatch, **params) -> TermScores`` as reward
    term ``name`` (the signature of every built-in term).

    Args:
        name: the config name; registering a name twice is an error.
        defaults: the accepted parameters and their defaults (numbers, bools or strings).
        choices: accepted values of string parameters.
        check: range check of the resolved parameters (see :class:`RewardTerm`).
        value_range: the values the term can take (see :class:`RewardTerm`); reports
            show the reward's maximum from it.
    """

    def decorator(fn: Callable[..., TermScores]) -> Callable[..., TermScores]:
        if name in REWARD_TERMS:
            raise ValueError(f"reward term {name!r} is already registered")
        summary = (fn.__doc__ or "").strip().splitlines()[0] if fn.__doc__ else name
        REWARD_TERMS[name] = RewardTerm(
            name, fn, dict(defaults or {}), dict(choices or {}), summary, check, value_range
        )
        return fn

    return decorator


def get_term(name: str) -> RewardTerm:
    """The registered term ``name``; a ``ValueError`` listing the known names otherwise."""
    if name not in REWARD_TERMS:
        raise ValueError(f"unknown reward term {name!r}; registered terms: {sorted(REWARD_TERMS)}")
    return REWARD_TERMS[name]


def resolve_term_params(name: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """Validate ``params`` of term ``name`` and fill in its defaults.

    Raises:
        ValueError: unknown term. :class:`stvg.config.InvalidField` (a ``ValueError``)
            at ``params.<key>``: an unknown parameter, or a value whose type differs from
            the default's (numbers are interchangeable), or a string not in its choices.
    """
    term = get_term(name)
    resolved = dict(term.defaults)
    for key, value in params.items():
        if key not in term.defaults:
            raise InvalidField(
                f"params.{key}",
                f"unknown parameter {key!r} for reward term {name!r}; "
                f"valid parameters: {sorted(term.defaults) or 'none'}",
            )
        default = term.defaults[key]
        if isinstance(default, bool):
            ok = isinstance(value, bool)
        elif isinstance(default, (int, float)):
            ok = (
                isinstance(value, (int, float))
                and not isinstance(value, bool)
                and math.isfinite(value)
            )
        else:
            ok = isinstance(value, type(default))
        if not ok:
            raise InvalidField(
                f"params.{key}",
                f"reward term {name!r} parameter {key!r} must be a {type(default).__name__} "
                f"like its default {default!r}, got {value!r}",
            )
        if key in term.choices and value not in term.choices[key]:
            raise InvalidField(
                f"params.{key}",
                f"reward term {name!r} parameter {key!r} must be one of {list(term.choices[key])}, got {value!r}",
            )
        resolved[key] = float(value) if isinstance(default, float) else value
    if term.check is not None:
        term.check(resolved)
    return resolved


_NO_SHARED = "no frame has both a predicted and a ground-truth box"


# ---------------------------------------------------------------------------- terms


@register_term("t_iou", value_range=(0.0, 1.0))
def t_iou(batch: RewardBatch) -> TermScores:
    """Temporal IoU ``|I| / U`` of the predicted and GT native-frame spans (span formula)."""
    return with_failures(batch, batch.official[0])


@register_term("v_iou", value_range=(0.0, 1.0))
def v_iou(batch: RewardBatch) -> TermScores:
    """Video IoU (span formula): ``(1/U) * sum of IoU`` over shared frames with a GT box.

    0 with the reason "answer has no boxes" for a usable answer whose tube is empty.
    """
    empty = batch.tubes.lengths == 0
    values = np.where(empty, 0.0, batch.official[1])
    return with_failures(batch, values, _reason_where(empty, "answer has no boxes"))


def _check_format(params: Mapping[str, Any]) -> None:
    if not 0.0 <= params["repaired"] <= 1.0:
        raise InvalidField(
            "params.repaired",
            f"reward term 'format' parameter 'repaired' must lie in [0, 1], got {params['repaired']}",
        )


@register_term("format", defaults={"repaired": 0.5}, check=_check_format, value_range=(0.0, 1.0))
def format_term(batch: RewardBatch, repaired: float = 0.5) -> TermScores:
    """1 for strictly well-formed text, ``repaired`` for a repaired answer, 0 if unusable.

    ``ParseResult.format_ok`` is true only for text that needed no repair; a usable answer
    that needed any documented repair (a snapped time, a clipped box, trailing text, ...)
    scores ``repaired`` (default 0.5, must lie in ``[0, 1]``).
    """
    _check_format({"repaired": repaired})
    return with_failures(batch, np.where(batch.columns.format_ok, 1.0, float(repaired)))


@register_term("consistency", value_range=(0.0, 1.0))
def consistency(batch: RewardBatch) -> TermScores:
    """Share of shown frames with a box inside the answer's span and none outside it.

    The span is the answer's own span in native frames, ``frame_of_time(start)`` to
    ``frame_of_time(end)`` (no end extension); a shown frame has a box when an answer time
    falls on it: ``#{f in shown : (f in span) == (f has a box)} / #shown``, 0 with a reason
    when no frame was shown.

    All answers' shown frames are concatenated; a shown frame has a box when the key
    ``answer * stride + frame`` is among the answers' box frames (one ``searchsorted``).
    """
    n = len(batch)
    shown_counts = batch.shown_counts
    use = batch.ok & (shown_counts > 0)
    values = np.zeros(n, dtype=np.float64)
    idx = np.flatnonzero(use)
    if idx.size:
        c = batch.columns
        fps, frames = batch.native_fps, batch.num_frames
        span_first = frames_of_times(c.span_s[idx, 0], fps[idx], frames[idx])
        span_last = frames_of_times(c.span_s[idx, 1], fps[idx], frames[idx])
        counts = shown_counts[idx]
        owner = np.repeat(np.arange(idx.size), counts)
        shown = np.concatenate([batch.contexts[i].frame_idx for i in idx.tolist()])
        box_answer = np.repeat(np.arange(n), batch.box_counts)
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
    none_shown = batch.ok & (shown_counts == 0)
    return with_failures(batch, values, _reason_where(none_shown, "no frames were shown"))


def _pair_means(
    batch: RewardBatch, per_pair: np.ndarray, per_count: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per answer mean of ``per_pair`` over its pairs (``per_count`` values per pair)."""
    answer, _, _, count = batch.pairs
    sums = np.bincount(answer, weights=per_pair, minlength=len(batch))
    none = count == 0
    return np.where(none, 0.0, sums / np.maximum(count * per_count, 1)), none


@register_term(
    "giou",
    defaults={"mapped": True},
    value_range=lambda params: (0.0, 1.0) if params["mapped"] else (-1.0, 1.0),
)
def giou(batch: RewardBatch, mapped: bool = True) -> TermScores:
    """Mean GIoU over frames with a predicted and a GT box (``(GIoU+1)/2`` when mapped).

    STVG-o1 style spatial shaping: unlike IoU it still ranks disjoint boxes by distance.
    0 with a reason when no frame has both boxes.
    """
    _, pred, gt, _ = batch.pairs
    mean, none = _pair_means(batch, generalized_box_iou(pred, gt), 1)
    if mapped:
        mean = np.where(none, 0.0, (mean + 1.0) / 2.0)
    return with_failures(batch, mean, _reason_where(batch.ok & none, _NO_SHARED))


@register_term("l1", value_range=(0.0, 1.0))
def l1(batch: RewardBatch) -> TermScores:
    """``1 - mean normalised L1`` of box corners over frames with a predicted and a GT box.

    x distances are divided by the video width, y distances by its height (original
    pixels); the mean is over the 4 coordinates of every pair, clipped to ``[0, 1]``.
    0 with a reason when no frame has both boxes.
    """
    answer, pred, gt, _ = batch.pairs
    scale = np.stack([batch.width, batch.height, batch.width, batch.height], axis=1)[answer]
    diff = (np.abs(pred - gt) / scale).sum(axis=1)
    mean, none = _pair_means(batch, diff, 4)
    values = np.where(none, 0.0, np.clip(1.0 - mean, 0.0, 1.0))
    return with_failures(batch, values, _reason_where(batch.ok & none, _NO_SHARED))


def _check_spatial(params: Mapping[str, Any]) -> None:
    if not (params["giou"] or params["l1"]):
        raise InvalidField(
            "params.giou",
            "reward term 'spatial' needs giou: true, l1: true or both (it is GIoU - L1)",
        )


@register_term(
    "spatial",
    defaults={"giou": True, "l1": True},
    check=_check_spatial,
    value_range=lambda params: _spatial_range(params),
)
def spatial(batch: RewardBatch, giou: bool = True, l1: bool = True) -> TermScores:
    """STVG-o1's spatial reward: the mean over frames with a predicted and a GT box (the
    span overlap) of ``GIoU - L1``, with ``L1`` the mean normalised distance of the box
    corners (x over the video width, y over its height; 0 for equal boxes). ``giou: false``
    or ``l1: false`` leaves that part out (their ablation). Range ``[-2, 1]`` with both;
    0 with a reason when no frame has both boxes.
    """
    _check_spatial({"giou": giou, "l1": l1})
    mean, none = _spatial_means(batch, giou, l1)
    return with_failures(batch, mean, _reason_where(batch.ok & none, _NO_SHARED))


def _spatial_means(batch: RewardBatch, giou: bool, l1: bool) -> tuple[np.ndarray, np.ndarray]:
    """Per answer the mean of ``GIoU - L1`` over its pairs, and whether it has none."""
    answer, pred, gt, _ = batch.pairs
    per_pair = np.zeros(pred.shape[0], dtype=np.float64)
    if giou:
        per_pair += generalized_box_iou(pred, gt)
    if l1:
        scale = np.stack([batch.width, batch.height, batch.width, batch.height], axis=1)[answer]
        per_pair -= (np.abs(pred - gt) / scale).mean(axis=1)
    return _pair_means(batch, per_pair, 1)


def _spatial_range(params: Mapping[str, Any]) -> tuple[float, float]:
    """``spatial``'s range: ``[-2, 1]`` with GIoU and L1, ``[-1, 1]``, ``[-1, 0]`` alone."""
    return -float(params["giou"]) - float(params["l1"]), 1.0 if params["giou"] else 0.0


def _check_think_gain(params: Mapping[str, Any]) -> None:
    if not (params["giou"] or params["l1"]):
        raise InvalidField(
            "params.giou",
            "reward term 'think_gain' needs giou: true, l1: true or both (it compares "
            "GIoU - L1 of the two box lists)",
        )


@register_term(
    "think_gain",
    defaults={"giou": True, "l1": True},
    check=_check_think_gain,
    value_range=lambda params: (0.0, _spatial_range(params)[1] - _spatial_range(params)[0]),
)
def think_gain(batch: RewardBatch, giou: bool = True, l1: bool = True) -> TermScores:
    """STVG-o1's think reward: ``max(spatial(final) - spatial(draft), 0)``, how much the
    final box list (the answer) improves on the draft list (``draft-final``'s ``<think
    bbox>``), each scored by :func:`spatial` with the same ``giou`` / ``l1`` on the frames
    of the answer's span with a GT box (the draft densified like the answer).

    0 with a reason for an answer without a draft list (another format), and when either
    list has no frame shared with the ground truth (no gain can be measured). Range
    ``[0, 3]`` with both parts (spatial's ``1 - (-2)``).
    """
    _check_think_gain({"giou": giou, "l1": l1})
    n = len(batch)
    drafts = batch.draft
    if drafts is None:
        return with_failures(batch, np.zeros(n), [NO_DRAFT] * n)
    final, final_none = _spatial_means(batch, giou, l1)
    draft, draft_none = _spatial_means(drafts, giou, l1)
    values = np.where(drafts.ok, np.maximum(final - draft, 0.0), 0.0)
    reasons: list[str | None] = []
    for has_draft, no_final, no_draft in zip(
        drafts.ok.tolist(), final_none.tolist(), draft_none.tolist(), strict=True
    ):
        if not has_draft:
            reasons.append(NO_DRAFT)
        elif no_final:
            reasons.append(f"final list: {_NO_SHARED}")
        elif no_draft:
            reasons.append(f"draft list: {_NO_SHARED}")
        else:
            reasons.append(None)
    values = np.where(final_none | draft_none, 0.0, values)
    return with_failures(batch, values, reasons)


def _covers_span(
    batch: RewardBatch, columns: Any, use: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Whether the box list ``columns`` of each answer has a box at exactly the shown
    frames inside its span (the parser's rule: a shown timestamp within
    ``min(0.05 s, interval / 4)`` of ``[start, end]``), for the answers ``use``.

    Returns:
        ``(covers [A], boxes [A], expected [A])``: the verdict, the list's boxes and the
        shown frames inside the span (0 where not ``use``).
    """
    n = len(batch)
    idx = np.flatnonzero(use)
    covers = np.zeros(n, dtype=bool)
    boxes = np.diff(columns.box_offsets)
    expected = np.zeros(n, dtype=np.int64)
    if idx.size == 0:
        return covers, np.where(use, boxes, 0), expected
    counts = batch.shown_counts[idx]
    owner = np.repeat(idx, counts)
    stamps = np.concatenate([batch.contexts[i].timestamps_s for i in idx.tolist()])
    tol_of: dict[int, float] = {}  # by context identity: a group's answers share one
    for i in idx.tolist():
        ctx = batch.contexts[i]
        if id(ctx) not in tol_of:
            tol_of[id(ctx)] = min(EXACT_TIME_TOL_S, ctx.interval_s / 4.0) + 1e-9
    tol = np.zeros(n)
    tol[idx] = [tol_of[id(batch.contexts[i])] for i in idx.tolist()]
    span = batch.columns.span_s
    inside = (stamps >= span[owner, 0] - tol[owner]) & (stamps <= span[owner, 1] + tol[owner])
    expected[idx] = np.bincount(owner, weights=inside, minlength=n)[idx].astype(np.int64)
    same_count = use & (boxes == expected)
    # sorted times against sorted expected stamps, element by element, where counts agree
    box_answer = np.repeat(np.arange(n), boxes)
    rows = same_count[box_answer]
    listed = columns.times_s[rows]
    wanted = stamps[inside & same_count[owner]]
    off = np.abs(listed - wanted) > tol[box_answer[rows]]
    misses = np.bincount(box_answer[rows], weights=off, minlength=n)
    covers = same_count & (misses == 0)
    return covers, np.where(use, boxes, 0), expected


@register_term("box_consistency", value_range=(0.0, 1.0))
def box_consistency(batch: RewardBatch) -> TermScores:
    """STVG-o1's consistency reward: 1 when the answer's box list has a box at exactly the
    shown frames inside its span, from start to end, and so has its draft list when the
    format writes one (``draft-final``: both lists must); else 0, with the reason.

    A shown frame is inside the span ``[start, end]`` (seconds) by the parser's rule
    (its timestamp within ``min(0.05 s, interval / 4)`` of it); the parser keeps a box only
    at such a frame, one per frame, so a list covers the span exactly when it has as many
    boxes as there are shown frames inside (boxes the parser dropped, e.g. outside the
    span, are the ``format`` term's business). 0 with a reason when no frame was shown.
    """
    n = len(batch)
    shown = batch.shown_counts > 0
    use = batch.ok & shown
    covers, boxes, expected = _covers_span(batch, batch.columns, use)
    lists = [("the answer", covers, boxes)]
    drafts = batch.draft
    if drafts is not None:
        has_draft = use & drafts.ok
        draft_covers, draft_boxes, _ = _covers_span(drafts, drafts.columns, has_draft)
        covers = covers & np.where(has_draft, draft_covers, True)
        lists.append(("the draft list", np.where(has_draft, draft_covers, True), draft_boxes))
    reasons: list[str | None] = [None] * n
    for i in np.flatnonzero(batch.ok & ~covers).tolist():
        if not shown[i]:
            reasons[i] = "no frames were shown"
            continue
        start, end = batch.columns.span_s[i]
        frames = f"the {expected[i]} shown frames in the span [{start:g}, {end:g}] s"
        reasons[i] = "; ".join(
            f"{name} has {count[i]} box{'' if count[i] == 1 else 'es'} "
            + (f"not at {frames}" if count[i] == expected[i] else f"for {frames}")
            for name, ok, count in lists
            if not ok[i]
        )
    return with_failures(batch, covers.astype(np.float64), reasons)


@register_term("t_iou_boundary", value_range=(0.0, 1.0))
def t_iou_boundary(batch: RewardBatch) -> TermScores:
    """Time-R1's boundary-penalised tIoU: ``tIoU * (1 - |ps - gs| / N) * (1 - |pe - ge| / N)``
    with ``ps, pe`` and ``gs, ge`` the predicted and GT first and last native frames and
    ``N`` the video's frame count (the distances as shares of the video's duration)."""
    n = batch.num_frames.astype(np.float64)
    start = 1.0 - np.abs(batch.pred_first - batch.gt_first) / n
    end = 1.0 - np.abs(batch.pred_last - batch.gt_last) / n
    values = batch.official[0] * np.clip(start, 0.0, 1.0) * np.clip(end, 0.0, 1.0)
    return with_failures(batch, values)


#: Terms the ``gate`` term may not wrap (itself).
_UNGATEABLE = ("gate",)


def _check_gate(params: Mapping[str, Any]) -> None:
    for key in ("term", "when"):
        name = params[key]
        if name in _UNGATEABLE or name not in REWARD_TERMS:
            known = sorted(n for n in REWARD_TERMS if n not in _UNGATEABLE)
            raise InvalidField(
                f"params.{key}",
                f"reward term 'gate' parameter {key!r} must name a registered term other "
                f"than gate, one of {known}; got {name!r}",
            )
    for key in ("threshold", "threshold_start"):
        if not math.isfinite(params[key]):
            raise InvalidField(
                f"params.{key}",
                f"reward term 'gate' parameter {key!r} must be finite, got {params[key]}",
            )
    steps = params["schedule_iterations"]
    if isinstance(steps, bool) or int(steps) != steps or steps < 0:
        raise InvalidField(
            "params.schedule_iterations",
            "reward term 'gate' parameter 'schedule_iterations' must be a whole number of "
            f"iterations >= 0 (0: no schedule), got {steps!r}",
        )


def gate_threshold(
    iteration: int | None, threshold: float, threshold_start: float, schedule_iterations: int
) -> float:
    """The ``gate`` term's threshold at training iteration ``iteration`` (1-based).

    With ``schedule_iterations = N > 0`` it moves linearly from ``threshold_start`` at
    iteration 1 to ``threshold`` at iteration ``N + 1`` and stays there:
    ``threshold_start + (threshold - threshold_start) * min((iteration - 1) / N, 1)``.
    Without a schedule (``N = 0``), or outside training (``iteration`` ``None``:
    evaluation, exports), it is ``threshold``.

    >>> gate_threshold(1, 0.5, 0.1, 10), round(gate_threshold(6, 0.5, 0.1, 10), 9)
    (0.1, 0.3)
    >>> gate_threshold(11, 0.5, 0.1, 10), gate_threshold(50, 0.5, 0.1, 10)
    (0.5, 0.5)
    >>> gate_threshold(None, 0.5, 0.1, 10), gate_threshold(3, 0.5, 0.1, 0)
    (0.5, 0.5)
    """
    if not schedule_iterations or iteration is None:
        return float(threshold)
    progress = min(max(int(iteration) - 1, 0) / int(schedule_iterations), 1.0)
    return float(threshold_start) + (float(threshold) - float(threshold_start)) * progress


def _gate_range(params: Mapping[str, Any]) -> tuple[float, float] | None:
    inner = REWARD_TERMS.get(params["term"])
    bounds = None if inner is None else inner.range_of(inner.defaults)
    if bounds is None:
        return None
    return min(0.0, bounds[0]), max(0.0, bounds[1])


@register_term(
    "gate",
    defaults={
        "term": "v_iou",
        "when": "t_iou",
        "threshold": 0.5,
        "threshold_start": 0.0,
        "schedule_iterations": 0,
    },
    check=_check_gate,
    value_range=_gate_range,
)
def gate(
    batch: RewardBatch,
    term: str = "v_iou",
    when: str = "t_iou",
    threshold: float = 0.5,
    threshold_start: float = 0.0,
    schedule_iterations: int = 0,
) -> TermScores:
    """The value of ``term`` paid only where ``when`` reaches the threshold, else 0 (Open-o3
    Video's gated spatial reward against "spatial collapse": no box reward before the span
    is good enough). Both terms run with their default parameters; a gated answer's reason
    says which value fell short.

    The threshold is ``threshold``, or with ``schedule_iterations: N > 0`` relaxed early in
    training: linear from ``threshold_start`` at iteration 1 to ``threshold`` from
    iteration ``N + 1`` on (:func:`gate_threshold` of the batch's ``iteration``, which the
    RL trainers set through :meth:`~stvg.verifiers.verifier.Verifier.set_iteration`;
    outside training: ``threshold``).
    """
    params = {
        "term": term,
        "when": when,
        "threshold": threshold,
        "threshold_start": threshold_start,
        "schedule_iterations": schedule_iterations,
    }
    _check_gate(params)
    bar = gate_threshold(batch.iteration, threshold, threshold_start, int(schedule_iterations))
    inner = REWARD_TERMS[term]
    condition = REWARD_TERMS[when]
    paid = inner.function(batch, **dict(inner.defaults))
    test = condition.function(batch, **dict(condition.defaults))
    open_ = test.values >= bar
    values = np.where(open_, paid.values, 0.0)
    reasons = [
        reason if is_open else f"gated: {when} {value:.3f} < {bar:g}"
        for reason, is_open, value in zip(
            paid.reasons, open_.tolist(), test.values.tolist(), strict=True
        )
    ]
    return with_failures(batch, values, reasons)


def _check_span_length(params: Mapping[str, Any]) -> None:
    if not 0.0 < params["prior_fraction"] <= 1.0:
        raise InvalidField(
            "params.prior_fraction",
            "reward term 'span_length' parameter 'prior_fraction' must lie in (0, 1] "
            f"(a share of the video), got {params['prior_fraction']}",
        )


@register_term(
    "span_length",
    defaults={"reference": "gt", "prior_fraction": 0.25},
    choices={"reference": ("gt", "prior")},
    check=_check_span_length,
    value_range=(0.0, 1.0),
)
def span_length(
    batch: RewardBatch, reference: str = "gt", prior_fraction: float = 0.25
) -> TermScores:
    """``min(Lp, Lr) / max(Lp, Lr)``: predicted span length against a reference length.

    ``Lp = pe - ps + 1`` native frames of the predicted span. ``Lr`` is the GT span length
    (``reference: gt``) or ``max(1, round(prior_fraction * num_frames))`` (``reference:
    prior``, a length prior that needs no ground truth span). 1 when the lengths agree,
    ``1/2`` when one is twice the other.
    """
    _check_span_length({"prior_fraction": prior_fraction})
    pred_len = batch.pred_last - batch.pred_first + 1
    if reference == "gt":
        ref_len = batch.gt_last - batch.gt_first + 1
    else:
        ref_len = np.maximum(1, np.round(prior_fraction * batch.num_frames)).astype(np.int64)
    pred_len = np.where(batch.ok, pred_len, 1)
    values = np.minimum(pred_len, ref_len) / np.maximum(pred_len, ref_len)
    return with_failures(batch, values)


# ------------------------------------------------------------------- one answer


@dataclass(frozen=True, eq=False)
class RewardInput:
    """One answer, for scoring a term on it alone (:func:`score_term`, a batch of one).

    Attributes:
        sample: the ground truth (``gt_span``, ``gt_boxes`` in original-video pixels).
        parse: the parse result of the answer (``parse.answer`` is ``None`` on failure).
        ctx: what the policy was shown (frames, timestamps in seconds, sizes).
        pred_span: predicted inclusive ``(first, last)`` native frames (the answer's span
            through :func:`stvg.data.timing.span_seconds_to_frames` with the densify
            end extension); ``None`` when there is no answer.
        pred_tube: the densified tube (one box per native frame of ``pred_span``), empty
            or ``None`` when the answer has no boxes.
        draft_tube: the draft box list (``parse.draft``, the ``draft-final`` format's)
            densified over ``pred_span`` like ``pred_tube``; empty or ``None`` when there
            is no draft list or it has no boxes.

    Raises:
        TypeError: a field of the wrong type (a caller bug).
        ValueError: a ``pred_span`` that is not a pair of integer frames with
            ``0 <= first <= last`` (:func:`stvg.verifiers.spans.check_span`), or a span
            without an answer.
    """

    sample: Sample
    parse: ParseResult
    ctx: FrameContext
    pred_span: tuple[int, int] | None
    pred_tube: Tube | None
    draft_tube: Tube | None = None

    def __post_init__(self) -> None:
        for name, tp in (("sample", Sample), ("parse", ParseResult), ("ctx", FrameContext)):
            if not isinstance(getattr(self, name), tp):
                raise TypeError(
                    f"RewardInput.{name} must be a {tp.__name__}, got {type(getattr(self, name)).__name__}"
                )
        for name in ("pred_tube", "draft_tube"):
            tube = getattr(self, name)
            if tube is not None and not isinstance(tube, Tube):
                raise TypeError(
                    f"RewardInput.{name} must be a Tube or None, got {type(tube).__name__}"
                )
        if self.pred_span is not None:
            span = check_span(self.pred_span, "RewardInput.pred_span")
            object.__setattr__(self, "pred_span", span)
        if self.parse.answer is None and self.pred_span is not None:
            raise ValueError(
                f"sample {self.sample.sample_id!r}: RewardInput has pred_span={self.pred_span} "
                "but the parse failed (no answer); a failed parse has no prediction"
            )

    @functools.cached_property
    def official(self) -> SampleScore:
        """The tIoU / vIoU of ``pred_span`` and ``pred_tube`` by the span formula (protocol
        ``span``, equal to ``official`` on a densified tube; computed once)."""
        return score_sample(self.sample, self.pred_span, self.pred_tube, protocol="span")

    @functools.cached_property
    def batch(self) -> RewardBatch:
        """This answer as a :class:`RewardBatch` of one, with its own span and tubes."""
        return BatchInput.of_predictions(
            [self.parse],
            [self.sample],
            [self.ctx],
            [self.pred_span],
            [self.pred_tube],
            [self.draft_tube],
        )


def score_term(name: str, inp: RewardInput, **params: Any) -> TermScore:
    """Term ``name`` (with ``params``, validated and completed by
    :func:`resolve_term_params`) of one answer: its batch function on a batch of one.

    >>> from stvg.data.types import SecondLevelAnswer
    >>> s = Sample("s", "", "q", 10.0, 100, 100, 100, (10, 29), {f: [0, 0, 50, 50] for f in range(10, 30)})
    >>> answer = SecondLevelAnswer((1.0, 3.0), np.array([1.0, 3.0]), np.array([[0, 0, 50, 50]] * 2))
    >>> box = {f: [0.0, 0.0, 50.0, 50.0] for f in range(10, 31)}
    >>> inp = RewardInput(s, ParseResult(answer, None, (), True), FrameContext.from_sample(s, fps=1.0),
    ...                   (10, 30), Tube.from_dict(box))
    >>> score_term("t_iou", inp).value, score_term("v_iou", inp).value  # 20 of 21 frames
    (0.9523809523809523, 0.9523809523809523)
    >>> score_term("span_length", inp)
    TermScore(value=0.9523809523809523, reason=None)
    >>> score_term("giou", inp, mapped=False).value
    1.0
    """
    scores = get_term(name).function(inp.batch, **resolve_term_params(name, params))
    return TermScore(float(scores.values[0]), scores.reasons[0])


__all__ = [
    "REWARD_TERMS",
    "RewardBatch",
    "RewardInput",
    "RewardTerm",
    "TermScore",
    "TermScores",
    "consistency",
    "box_consistency",
    "format_term",
    "gate",
    "gate_threshold",
    "get_term",
    "giou",
    "l1",
    "register_term",
    "resolve_term_params",
    "score_term",
    "span_length",
    "spatial",
    "t_iou",
    "t_iou_boundary",
    "think_gain",
    "v_iou",
    "with_failures",
]
