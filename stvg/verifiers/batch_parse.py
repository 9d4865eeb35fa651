"""Parse a batch of answers into flat arrays: the first step of batched scoring.

:func:`parse_batch` turns a batch of model texts (and already parsed answers) into one
:class:`AnswerColumns`: each answer's outcome (error, repairs, ``format_ok``), its span in
seconds and all answers' boxes laid end to end. The result is exactly what
:meth:`~stvg.verifiers.formats.AnswerFormat.parse` gives answer by answer; only the work is
organised differently:

1. each text goes through its format's extractor (``_extract_numbers``: finding the
   blocks, the JSON or tagged decoding), a Python loop because decoding is per text; a
   well-formed ``json-v1`` answer comes back already in numbers
   (:class:`~stvg.verifiers.formats.context.NumericAnswer`, msgspec's typed decoder);
2. the shared rules (:mod:`stvg.verifiers.formats.assemble`) are then applied with array
   code over all answers' boxes at once: time keys matched to the shown timestamps with
   one ``searchsorted``, the drop / snap / swap / clip / one-box-per-frame rules as masks,
   the conversion to original-video pixels. Only an answer that needed a repair gets a
   short Python pass over its boxes, to write the repair messages in the parser's words
   and order (:class:`~stvg.verifiers.formats.assemble.RepairLog`);
3. what the arrays do not cover is assembled by
   :func:`stvg.verifiers.formats.assemble.assemble` itself: a span that is an error (it
   returns at once) or not a pair, frames never shown, an integer beyond float range. A
   format that overrides ``parse`` is parsed by its own ``parse`` (``draft-final``, whose
   draft box lists go into :attr:`AnswerColumns.draft`).
"""

from __future__ import annotations

import functools
import itertools
import math
import operator
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from stvg.data.types import SecondLevelAnswer
from stvg.verifiers.formats.assemble import (
    EXACT_TIME_TOL_S,
    RepairLog,
    _short,
    as_finite,
    assemble,
    parse_number,
)
from stvg.verifiers.formats.base import MAX_TEXT_CHARS, AnswerFormat
from stvg.verifiers.formats.context import FrameContext, NumericAnswer, ParseResult, RawAnswer
from stvg.verifiers.formats.coords import extent

_NUMBER_TYPES = frozenset((int, float))


@functools.lru_cache(maxsize=8192)
def _key_time(key: str) -> float | None:
    """:func:`parse_number` of a time key, cached (keys repeat across answers)."""
    return parse_number(key)


@dataclass(frozen=True, eq=False)
class AnswerColumns:
    """Parse outcomes of ``A`` answers, their boxes laid end to end.

    Attributes:
        ok: bool ``[A]``, whether the answer was usable (possibly after repairs).
        errors: per answer, why it was unusable (``None`` when usable).
        repairs: per answer, the repairs applied, in order.
        format_ok: bool ``[A]``, strictly well formed (no repair).
        span_s: float64 ``[A, 2]`` the span in seconds (0 for unusable answers).
        box_offsets: int64 ``[A + 1]``: answer ``i``'s boxes are rows
            ``box_offsets[i]:box_offsets[i + 1]``.
        times_s: float64 ``[B]`` box times, seconds, increasing within an answer.
        boxes_xyxy: float64 ``[B, 4]`` boxes, original-video pixels.
        draft: the draft box lists (:attr:`ParseResult.draft`, the ``draft-final``
            format's) as columns of their own: ``draft.ok[i]`` when answer ``i`` has one
            (same span), else :data:`NO_DRAFT` as its error; ``None`` when no answer of
            the batch has a draft list.
    """

    ok: np.ndarray
    errors: list[str | None]
    repairs: list[tuple[str, ...]]
    format_ok: np.ndarray
    span_s: np.ndarray
    box_offsets: np.ndarray
    times_s: np.ndarray
    boxes_xyxy: np.ndarray
    draft: AnswerColumns | None = None

    def __len__(self) -> int:
        return int(self.ok.shape[0])

    def _answer(self, i: int) -> SecondLevelAnswer:
        lo, hi = int(self.box_offsets[i]), int(self.box_offsets[i + 1])
        span = (float(self.span_s[i, 0]), float(self.span_s[i, 1]))
        return SecondLevelAnswer(span, self.times_s[lo:hi], self.boxes_xyxy[lo:hi])

    def parse_result(self, i: int) -> ParseResult:
        """Answer ``i`` as the :class:`ParseResult` the format's parser gives."""
        if not self.ok[i]:
            return ParseResult(None, self.errors[i], self.repairs[i], False)
        draft = None
        if self.draft is not None and self.draft.ok[i]:
            draft = self.draft._answer(i)
        return ParseResult(
            self._answer(i), None, self.repairs[i], bool(self.format_ok[i]), draft=draft
        )


#: The error of an answer in :attr:`AnswerColumns.draft` that has no draft list.
NO_DRAFT = "the answer has no draft box list"


class _Builder:
    """Collects per-answer outcomes and box segments, then packs them into columns."""

    def __init__(self, n: int) -> None:
        self.ok = np.zeros(n, dtype=bool)
        self.format_ok = np.zeros(n, dtype=bool)
        self.span_s = np.zeros((n, 2), dtype=np.float64)
        self.errors: list[str | None] = [None] * n
        self.repairs: list[tuple[str, ...]] = [()] * n
        self.counts = np.zeros(n, dtype=np.int64)
        self.segments: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # answer, t, box
        self.draft: _Builder | None = None  # made for the first answer with a draft list

    def add(self, i: int, parse: ParseResult) -> None:
        self.repairs[i] = tuple(parse.repairs)
        answer = parse.answer
        if answer is None:
            self.errors[i] = parse.error
            return
        if parse.draft is not None:
            if self.draft is None:
                self.draft = _Builder(self.ok.shape[0])
            self.draft.add(i, ParseResult(parse.draft, None, (), True))
        self.ok[i] = True
        self.format_ok[i] = bool(parse.format_ok)
        self.span_s[i] = answer.span_s
        k = answer.times_s.shape[0]
        if k:
            self.counts[i] = k
            owner = np.full(k, i, dtype=np.int64)
            self.segments.append((owner, answer.times_s, answer.boxes_xyxy))

    def columns(self) -> AnswerColumns:
        offsets = np.zeros(self.ok.shape[0] + 1, dtype=np.int64)
        np.cumsum(self.counts, out=offsets[1:])
        if self.segments:
            owner = np.concatenate([s[0] for s in self.segments])
            times = np.concatenate([s[1] for s in self.segments])
            boxes = np.concatenate([s[2] for s in self.segments]).reshape(-1, 4)
            if owner.size > 1 and np.any(owner[1:] < owner[:-1]):
                order = np.argsort(owner, kind="stable")
                times, boxes = times[order], boxes[order]
        else:
            times, boxes = np.zeros(0), np.zeros((0, 4))
        draft = None
        if self.draft is not None:
            self.draft.errors = [None if ok else NO_DRAFT for ok in self.draft.ok.tolist()]
            draft = self.draft.columns()
        return AnswerColumns(
            self.ok, self.errors, self.repairs, self.format_ok, self.span_s, offsets, times,
            boxes, draft,
        )  # fmt: skip


@dataclass(slots=True)
class _Candidate:
    """An answer whose span is usable, waiting for the array pass over its boxes.

    ``times`` holds NaN for a non-numeric key (``bad_keys`` its position and key) and
    ``values`` four NaNs for a box that is not 4 numbers: both are dropped by the rules.
    """

    index: int
    raw: RawAnswer | None  # None: a NumericAnswer of ``text`` (see raw_answer)
    text: str | None
    ctx: FrameContext
    repairs: list[str]
    start: float
    end: float
    span_clipped: bool
    times: list[float]
    values: list[float]  # the boxes' coordinates, 4 per box
    bad_keys: dict[int, object]

    def raw_answer(self, fmt: AnswerFormat) -> RawAnswer:
        """The :class:`RawAnswer` (re-extracted from the text for a numeric answer)."""
        if self.raw is None:
            self.raw = _raw_of_numeric(fmt, self.text or "")
        return self.raw


def _raw_of_numeric(fmt: AnswerFormat, text: str) -> RawAnswer:
    """The :class:`RawAnswer` of a text whose extraction gave a :class:`NumericAnswer`
    (its repairs were recorded then: this extraction's are dropped)."""
    raw = fmt._extract(text, [])
    assert isinstance(raw, RawAnswer), "a NumericAnswer's text must extract"
    return raw


_NAN4 = [math.nan] * 4


def _candidate(i: int, raw: RawAnswer, ctx: FrameContext, repairs: list[str]) -> _Candidate | None:
    """The answer with its span checked (and clipped), or ``None`` for the shared rules."""
    span = raw.span
    if type(span) not in (list, tuple) or len(span) != 2:
        return None
    start, end = span
    if type(start) is float and type(end) is float and start - start == 0 == end - end:
        pass  # finite floats (the common case), as as_finite gives them
    else:
        start, end = as_finite(start), as_finite(end)
    duration = ctx.num_frames / ctx.native_fps  # ctx.duration_s
    if start is None or end is None or end < start or end < 0 or start > duration:
        return None  # an error: the shared rules say which, at once
    clipped = start < 0 or end > duration
    if clipped:
        start, end = max(start, 0.0), min(end, duration)
    bad_keys: dict[int, object] = {}
    if not raw.boxes:
        return _Candidate(i, raw, None, ctx, repairs, start, end, clipped, [], [], bad_keys)
    keys, boxes = zip(*raw.boxes, strict=True)
    # the common case with C-level checks only: str keys, lists of 4 int/float
    if set(map(type, keys)) == {str} and set(map(type, boxes)) == {list}:
        times = list(map(_key_time, keys))
        values = list(itertools.chain.from_iterable(boxes))
        if (
            None not in times
            and set(map(len, boxes)) == {4}
            and set(map(type, values)) <= _NUMBER_TYPES
        ):
            return _Candidate(
                i, raw, None, ctx, repairs, start, end, clipped, times, values, bad_keys
            )
    times, values = [], []
    for key, value in raw.boxes:
        time_s = _key_time(key) if type(key) is str else None
        if time_s is None:
            bad_keys[len(times)] = key
            time_s = math.nan
        times.append(time_s)
        good = type(value) is list and len(value) == 4
        values.extend(value if good and set(map(type, value)) <= _NUMBER_TYPES else _NAN4)
    return _Candidate(i, raw, None, ctx, repairs, start, end, clipped, times, values, bad_keys)


def _numeric_candidate(
    i: int, answer: NumericAnswer, text: str, ctx: FrameContext, repairs: list[str]
) -> _Candidate | None:
    """:func:`_candidate` of a :class:`NumericAnswer` (``None``: take the general path)."""
    start, end = answer.start, answer.end
    duration = ctx.num_frames / ctx.native_fps  # ctx.duration_s
    if end < start or end < 0 or start > duration:
        return None  # an error: the shared rules say which
    times = list(map(_key_time, answer.keys))
    if None in times:
        return None  # a non-numeric key: dropped with its message by the general path
    clipped = start < 0 or end > duration
    if clipped:
        start, end = max(start, 0.0), min(end, duration)
    return _Candidate(i, None, text, ctx, repairs, start, end, clipped, times, answer.values, {})


def columns_of(parses: Sequence[ParseResult]) -> AnswerColumns:
    """The :class:`AnswerColumns` of answers already parsed (a structured answer's
    :meth:`ParseResult.structured`, a :class:`~stvg.verifiers.rewards.RewardInput`'s)."""
    builder = _Builder(len(parses))
    for i, parse in enumerate(parses):
        builder.add(i, parse)
    return builder.columns()


def parse_batch(
    fmt: AnswerFormat,
    items: Sequence[str | ParseResult],
    contexts: Sequence[FrameContext],
) -> AnswerColumns:
    """Parse ``items`` (texts, or already parsed answers) shown ``contexts``.

    Args:
        fmt: the answer format of the texts.
        items: per answer a ``str`` (parsed with ``fmt``) or a :class:`ParseResult`
            (taken as is, e.g. a structured answer).
        contexts: per answer, what the model was shown.

    Returns:
        The :class:`AnswerColumns`, equal to parsing answer by answer (see the module
        docstring). Never raises for a ``str``.
    """
    builder = _Builder(len(items))
    own_parse = type(fmt).parse is not AnswerFormat.parse
    candidates: list[_Candidate] = []
    for i, (item, ctx) in enumerate(zip(items, contexts, strict=True)):
        if isinstance(item, ParseResult):
            builder.add(i, item)
            continue
        if own_parse or not isinstance(item, str) or len(item) > MAX_TEXT_CHARS:
            builder.add(i, fmt.parse(item, ctx))
            continue
        repairs: list[str] = []
        raw = fmt._extract_numbers(item, repairs)
        if isinstance(raw, str):
            builder.add(i, ParseResult.failure(raw, repairs))
            continue
        if isinstance(raw, NumericAnswer):
            candidate = _numeric_candidate(i, raw, item, ctx, repairs)
            if candidate is not None:
                candidates.append(candidate)
                continue
            raw = _raw_of_numeric(fmt, item)
        candidate = _candidate(i, raw, ctx, repairs)
        if candidate is None:
            builder.add(i, assemble(raw, ctx, fmt.coords, repairs))
        else:
            candidates.append(candidate)
    if candidates:
        _assemble_clean(fmt, candidates, builder)
    return builder.columns()


def _context_table(contexts: list[FrameContext], coords: str) -> tuple[np.ndarray, ...]:
    """Per context: stamps offsets ``[C + 1]``, stamps ``[S]``, the no-repair and the snap
    tolerances ``[C]``, the format's extent ``[C, 4]`` and the original size ``[C, 4]``."""
    counts = np.fromiter((c.timestamps_s.shape[0] for c in contexts), np.int64, len(contexts))
    offsets = np.zeros(len(contexts) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    stamps = np.concatenate([c.timestamps_s for c in contexts])
    interval = np.array([1.0 / (c.fps or c.native_fps) for c in contexts])
    for length in np.unique(counts[counts >= 2]).tolist():  # ctx.interval_s, by length
        which = np.flatnonzero(counts == length)
        rows = stamps[offsets[which][:, None] + np.arange(length)]
        interval[which] = np.median(np.diff(rows, axis=1), axis=1)
    exact_tol = np.minimum(EXACT_TIME_TOL_S, interval / 4.0) + 1e-9
    snap_tol = interval / 2.0 + 1e-9
    ext = np.array([extent(coords, c) for c in contexts], dtype=np.float64)[:, [0, 1, 0, 1]]
    orig = np.array([c.original_size for c in contexts], dtype=np.float64)[:, [0, 1, 0, 1]]
    return offsets, stamps, exact_tol, snap_tol, ext, orig


def _assemble_clean(fmt: AnswerFormat, candidates: list[_Candidate], builder: _Builder) -> None:
    """Apply the shared box rules to all ``candidates``' boxes with array code.

    Per box, in the rules' order: not 4 finite numbers (or a non-numeric key) -> dropped;
    farther than half an interval from every shown timestamp -> dropped; its nearest
    timestamp (ties to the earlier) outside the span -> dropped; beyond the no-repair
    tolerance -> snapped; corners swapped; clipped to the frame; a later box for the same
    timestamp replaces an earlier one. Answers that needed any repair get their messages
    from :func:`_messages`.
    """
    ctx_ids: dict[int, int] = {}
    contexts: list[FrameContext] = []
    for c in candidates:
        if id(c.ctx) not in ctx_ids:
            ctx_ids[id(c.ctx)] = len(contexts)
            contexts.append(c.ctx)
    stamp_offsets, stamps, exact_tol, snap_tol, ext, orig = _context_table(contexts, fmt.coords)
    n = len(candidates)
    group = np.fromiter((ctx_ids[id(c.ctx)] for c in candidates), np.int64, n)
    counts = np.fromiter((len(c.times) for c in candidates), np.int64, n)
    no_frames = (np.diff(stamp_offsets)[group] == 0) & (counts > 0)
    try:
        values = np.fromiter(
            itertools.chain.from_iterable(c.values for c in candidates), np.float64
        ).reshape(-1, 4)
    except OverflowError:  # an integer beyond float range
        no_frames[:] = True
        values = np.zeros((int(counts.sum()), 4))
    for k in np.flatnonzero(no_frames).tolist():  # the shared rules, answer by answer
        c = candidates[k]
        builder.add(c.index, assemble(c.raw_answer(fmt), c.ctx, fmt.coords, c.repairs))
    if no_frames.all():
        return
    owner = np.repeat(np.arange(n), counts)
    times = np.fromiter(itertools.chain.from_iterable(c.times for c in candidates), np.float64)
    box_group = group[owner]
    dropped = ~(np.isfinite(values).all(axis=1) & np.isfinite(times)) | no_frames[owner]
    # the nearest shown timestamp: (context, time) keys searched in one sorted array
    lo, hi = stamp_offsets[box_group], stamp_offsets[box_group + 1] - 1
    top = np.clip(hi, 0, None)
    stamp_keys = np.repeat(np.arange(len(contexts)), np.diff(stamp_offsets)) + 1j * stamps
    right = np.searchsorted(stamp_keys, box_group + 1j * np.nan_to_num(times), side="left")
    if stamps.size == 0:  # every box belongs to an answer of `no_frames`
        stamps = np.zeros(1)
    np.clip(right, np.minimum(lo, top), top, out=right)
    left = np.clip(right - 1, np.minimum(lo, top), top)
    d_left, d_right = np.abs(stamps[left] - times), np.abs(stamps[right] - times)
    nearest = np.where(d_left <= d_right, left, right)
    distance = np.minimum(d_left, d_right)
    snapped = stamps[nearest]
    span_start = np.fromiter((c.start for c in candidates), np.float64, n)
    span_end = np.fromiter((c.end for c in candidates), np.float64, n)
    start, end = span_start[owner], span_end[owner]
    tol = exact_tol[box_group]
    no_match = ~dropped & (distance > snap_tol[box_group])
    dropped |= no_match
    outside = ~dropped & ((snapped < start - tol) | (snapped > end + tol))
    dropped |= outside
    kept = ~dropped
    snap = kept & (distance > tol)
    swapped = kept & ((values[:, 2] < values[:, 0]) | (values[:, 3] < values[:, 1]))
    ordered = np.concatenate(
        [np.minimum(values[:, :2], values[:, 2:]), np.maximum(values[:, :2], values[:, 2:])],
        axis=1,
    )
    ordered = np.where(swapped[:, None], ordered, values)
    fixed = np.clip(ordered, 0.0, ext[box_group])
    clipped = kept & (fixed != ordered).any(axis=1)
    # one box per shown timestamp: the last in text order wins, later ones are repairs
    keep = np.flatnonzero(kept)
    order = keep[np.lexsort((keep, nearest[keep], owner[keep]))]
    same = (owner[order][1:] == owner[order][:-1]) & (nearest[order][1:] == nearest[order][:-1])
    duplicate = np.zeros(owner.shape[0], dtype=bool)
    duplicate[order[1:][same]] = True
    winner = order[np.append(~same, True)] if order.size else order
    flags = dropped | snap | swapped | clipped | duplicate
    repaired = np.zeros(n, dtype=bool)
    repaired[owner[flags]] = True
    repaired |= np.fromiter((c.span_clipped for c in candidates), bool, n)
    box_offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=box_offsets[1:])
    box_flags = (no_match, outside, snap, swapped, clipped, duplicate)
    for k in np.flatnonzero(repaired & ~no_frames).tolist():
        c = candidates[k]
        lo_k, hi_k = box_offsets[k], box_offsets[k + 1]
        c.repairs.extend(
            _messages(
                c,
                [f[lo_k:hi_k].tolist() for f in box_flags],
                dropped[lo_k:hi_k].tolist(),
                snapped[lo_k:hi_k].tolist(),
            )
        )
    winner = winner[~no_frames[owner[winner]]]
    index = np.fromiter((c.index for c in candidates), np.int64, n)
    if winner.size:
        g = box_group[winner]
        boxes = np.clip(fixed[winner] / ext[g] * orig[g], 0.0, orig[g])
        builder.segments.append((index[owner[winner]], snapped[winner], boxes))
    done = np.flatnonzero(~no_frames)
    rows = index[done]
    repairs = [tuple(candidates[k].repairs) for k in done.tolist()]
    for i, r in zip(rows.tolist(), repairs, strict=True):
        builder.repairs[i] = r
    builder.ok[rows] = True
    builder.format_ok[rows] = np.fromiter(map(operator.not_, repairs), bool, len(repairs))
    builder.span_s[rows, 0] = span_start[done]
    builder.span_s[rows, 1] = span_end[done]
    builder.counts[rows] = np.bincount(owner[winner], minlength=n)[done]


def _messages(
    c: _Candidate, flags: list[list[bool]], dropped: list[bool], snapped: list[float]
) -> list[str]:
    """The repair messages of one answer, as :func:`assemble` writes them (same order)."""
    no_match, outside, snap, swapped, clipped, duplicate = flags
    log = RepairLog()
    if c.span_clipped:
        log.add(f"span clipped to the video [0, {c.ctx.duration_s:g}] s")
    for b, time_s in enumerate(c.times):
        if b in c.bad_keys:
            log.add("non-numeric time key, box dropped", _short(c.bad_keys[b], 24))
            continue
        place = f"{time_s:g} s"
        if no_match[b]:
            log.add("box time matches no shown frame, dropped", place)
        elif outside[b]:
            log.add(f"box outside the span [{c.start:g}, {c.end:g}] s, dropped", place)
        elif dropped[b]:
            log.add("box is not 4 finite numbers, dropped", place)
        if dropped[b]:
            continue
        if snap[b]:
            log.add("box time snapped to the nearest shown frame", f"{place} -> {snapped[b]:g} s")
        if swapped[b]:
            log.add("box corners swapped (x2 < x1 or y2 < y1)", place)
        if clipped[b]:
            log.add("box clipped to the frame", place)
        if duplicate[b]:
            log.add("several boxes for one shown frame, the last was kept", f"{snapped[b]:g} s")
    return log.messages()


__all__ = ["NO_DRAFT", "AnswerColumns", "parse_batch"]
