"""Reward terms: small documented functions of one :class:`RewardInput`, and their registry.

A term maps what the policy answered (parsed, densified) and the ground truth to a number.
The composite :class:`~stvg.verifiers.verifier.Verifier` weights and sums the terms named in
its config (``verifier.terms``); every term is also logged on its own.

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
========================  ========================================================  ========

Failure rules ("a bad rollout is data, not a crash"):

* an answer that could not be parsed scores **0 on every term**, with the parse error as
  the term's reason;
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
from stvg.data.timing import frame_of_time
from stvg.data.types import Sample, Tube
from stvg.verifiers.formats.context import FrameContext, ParseResult
from stvg.verifiers.iou import generalized_box_iou
from stvg.verifiers.metrics import SampleScore, score_sample
from stvg.verifiers.spans import check_span


class TermScore(NamedTuple):
    """The value of one reward term and, when it is 0 for a known cause, why.

    Attributes:
        value: the unweighted term value (see the module table for each term's range).
        reason: why the term could not be scored (parse error, no boxes, ...), else ``None``.
    """

    value: float
    reason: str | None = None


@dataclass(frozen=True, eq=False)
class RewardInput:
    """Everything a reward term may look at for one answer.

    Attributes:
        sample: the ground truth (``gt_span``, ``gt_boxes`` in original-video pixels).
        parse: the parse result of the answer (``parse.answer`` is ``None`` on failure).
        ctx: what the policy was shown (frames, timestamps in seconds, sizes).
        pred_span: predicted inclusive ``(first, last)`` native frames (the answer's span
            through :func:`stvg.data.timing.span_seconds_to_frames` with the densify
            end extension); ``None`` when there is no answer.
        pred_tube: the densified tube (one box per native frame of ``pred_span``), empty
            or ``None`` when the answer has no boxes.

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

    def __post_init__(self) -> None:
        for name, tp in (("sample", Sample), ("parse", ParseResult), ("ctx", FrameContext)):
            if not isinstance(getattr(self, name), tp):
                raise TypeError(
                    f"RewardInput.{name} must be a {tp.__name__}, got {type(getattr(self, name)).__name__}"
                )
        if self.pred_tube is not None and not isinstance(self.pred_tube, Tube):
            raise TypeError(
                f"RewardInput.pred_tube must be a Tube or None, got {type(self.pred_tube).__name__}"
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

    @property
    def failure(self) -> TermScore | None:
        """``TermScore(0, "parse failed: ...")`` when the answer was unusable, else ``None``."""
        if self.parse.answer is None:
            return TermScore(0.0, f"parse failed: {self.parse.error}")
        return None


# ---------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class RewardTerm:
    """One registered reward term.

    Attributes:
        name: the name used in configs (``{name: t_iou, weight: 0.5}``).
        function: ``(inp: RewardInput, **params) -> TermScore``.
        defaults: every accepted parameter with its default value.
        choices: for string parameters, the accepted values.
        summary: one line for docs and ``--help`` listings.
        check: ``(resolved_params) -> None``, raising :class:`stvg.config.InvalidField`
            for a value out of range; ``None`` = no range checks.
    """

    name: str
    function: Callable[..., TermScore]
    defaults: Mapping[str, Any]
    choices: Mapping[str, tuple[str, ...]]
    summary: str
    check: Callable[[Mapping[str, Any]], None] | None = None


REWARD_TERMS: dict[str, RewardTerm] = {}


def register_term(
    name: str,
    *,
    defaults: Mapping[str, Any] | None = None,
    choices: Mapping[str, tuple[str, ...]] | None = None,
    check: Callable[[Mapping[str, Any]], None] | None = None,
) -> Callable[[Callable[..., TermScore]], Callable[..., TermScore]]:
    """Decorator registering ``fn(inp, **params) -> TermScore`` as reward term ``name``.

    Args:
        name: the config name; registering a name twice is an error.
        defaults: the accepted parameters and their defaults (numbers, bools or strings).
        choices: accepted values of string parameters.
        check: range check of the resolved parameters (see :class:`RewardTerm`).
    """

    def decorator(fn: Callable[..., TermScore]) -> Callable[..., TermScore]:
        if name in REWARD_TERMS:
            raise ValueError(f"reward term {name!r} is already registered")
        summary = (fn.__doc__ or "").strip().splitlines()[0] if fn.__doc__ else name
        REWARD_TERMS[name] = RewardTerm(
            name, fn, dict(defaults or {}), dict(choices or {}), summary, check
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


def spatial_pairs(inp: RewardInput) -> tuple[np.ndarray, np.ndarray]:
    """Aligned predicted and GT boxes ``[M, 4]`` on frames that have both, inside both spans.

    The frames are those of the densified tube (inside ``pred_span``) that lie inside
    ``gt_span`` and carry a GT box: the temporal intersection used by vIoU.
    """
    tube = inp.pred_tube
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


@register_term("t_iou")
def t_iou(inp: RewardInput) -> TermScore:
    """Temporal IoU ``|I| / U`` of the predicted and GT native-frame spans (span formula)."""
    if inp.failure:
        return inp.failure
    return TermScore(inp.official.t_iou)


@register_term("v_iou")
def v_iou(inp: RewardInput) -> TermScore:
    """Video IoU (span formula): ``(1/U) * sum of IoU`` over shared frames with a GT box."""
    if inp.failure:
        return inp.failure
    if inp.pred_tube is None or len(inp.pred_tube) == 0:
        return TermScore(0.0, "answer has no boxes")
    return TermScore(inp.official.v_iou)


def _check_format(params: Mapping[str, Any]) -> None:
    if not 0.0 <= params["repaired"] <= 1.0:
        raise InvalidField(
            "params.repaired",
            f"reward term 'format' parameter 'repaired' must lie in [0, 1], got {params['repaired']}",
        )


@register_term("format", defaults={"repaired": 0.5}, check=_check_format)
def format_term(inp: RewardInput, repaired: float = 0.5) -> TermScore:
    """1 for strictly well-formed text, ``repaired`` for a repaired answer, 0 if unusable.

    ``ParseResult.format_ok`` is true only for text that needed no repair; a usable answer
    that needed any documented repair (a snapped time, a clipped box, trailing text, ...)
    scores ``repaired`` (default 0.5, must lie in ``[0, 1]``).
    """
    _check_format({"repaired": repaired})
    if inp.failure:
        return inp.failure
    return TermScore(1.0 if inp.parse.format_ok else float(repaired))


@register_term("consistency")
def consistency(inp: RewardInput) -> TermScore:
    """Share of shown frames with a box inside the answer's span and none outside it.

    The span is the answer's own span in native frames, ``frame_of_time(start)`` to
    ``frame_of_time(end)`` (no end extension); a shown frame has a box when an answer time
    falls on it. See :func:`consistency_fraction`.
    """
    if inp.failure:
        return inp.failure
    if inp.ctx.frame_idx.size == 0:
        return TermScore(0.0, "no frames were shown")
    answer = inp.parse.answer
    fps, n = inp.sample.native_fps, inp.sample.num_frames
    span = (frame_of_time(answer.span_s[0], fps, n), frame_of_time(answer.span_s[1], fps, n))
    box_frames = np.array(
        [frame_of_time(t, fps, n) for t in answer.times_s.tolist()], dtype=np.int64
    )
    return TermScore(consistency_fraction(inp.ctx.frame_idx, box_frames, span))


@register_term("giou", defaults={"mapped": True})
def giou(inp: RewardInput, mapped: bool = True) -> TermScore:
    """Mean GIoU over frames with a predicted and a GT box (``(GIoU+1)/2`` when mapped).

    STVG-o1 style spatial shaping: unlike IoU it still ranks disjoint boxes by distance.
    0 with a reason when no frame has both boxes.
    """
    if inp.failure:
        return inp.failure
    pred, gt = spatial_pairs(inp)
    if pred.shape[0] == 0:
        return TermScore(0.0, _NO_SHARED)
    return TermScore(mean_giou(pred, gt, mapped=mapped))


@register_term("l1")
def l1(inp: RewardInput) -> TermScore:
    """``1 - mean normalised L1`` of box corners over frames with a predicted and a GT box.

    x distances are divided by the video width, y distances by its height (original
    pixels), see :func:`l1_similarity`. 0 with a reason when no frame has both boxes.
    """
    if inp.failure:
        return inp.failure
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


@register_term(
    "span_length",
    defaults={"reference": "gt", "prior_fraction": 0.25},
    choices={"reference": ("gt", "prior")},
    check=_check_span_length,
)
def span_length(inp: RewardInput, reference: str = "gt", prior_fraction: float = 0.25) -> TermScore:
    """``min(Lp, Lr) / max(Lp, Lr)``: predicted span length against a reference length.

    ``Lp = pe - ps + 1`` native frames of ``pred_span``. ``Lr`` is the GT span length
    (``reference: gt``) or ``max(1, round(prior_fraction * num_frames))`` (``reference:
    prior``, a length prior that needs no ground truth span). 1 when the lengths agree,
    ``1/2`` when one is twice the other. See :func:`length_ratio`.
    """
    _check_span_length({"prior_fraction": prior_fraction})
    if inp.failure:
        return inp.failure
    if inp.pred_span is None:
        return TermScore(0.0, "no predicted span")
    pred_len = inp.pred_span[1] - inp.pred_span[0] + 1
    if reference == "gt":
        ref_len = inp.sample.gt_span[1] - inp.sample.gt_span[0] + 1
    else:
        ref_len = max(1, round(prior_fraction * inp.sample.num_frames))
    return TermScore(length_ratio(pred_len, ref_len))


__all__ = [
    "REWARD_TERMS",
    "RewardInput",
    "RewardTerm",
    "TermScore",
    "consistency",
    "consistency_fraction",
    "format_term",
    "get_term",
    "giou",
    "l1",
    "l1_similarity",
    "length_ratio",
    "mean_giou",
    "register_term",
    "resolve_term_params",
    "spatial_pairs",
    "span_length",
    "t_iou",
    "v_iou",
]
