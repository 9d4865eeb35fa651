"""Shared parsing rules: a raw extraction becomes a validated answer, a repair, or an error.

Every answer format extracts a :class:`~stvg.verifiers.formats.context.RawAnswer` (a span
and ``(time key, box)`` pairs) and hands it to :func:`assemble`, so all formats repair and
reject the same inputs. A repaired answer is usable (``ok``) but not ``format_ok``. The
envs' numeric actions (``struct`` answers, tracking episodes) are read into a
:class:`RawAnswer` in ``norm1`` coordinates and assembled here too
(:mod:`stvg.envs.answers`), so an answer scores the same as text or as numbers.

Errors (no answer; the affected reward terms score 0):

* no usable block, an unterminated block, invalid JSON, missing ``span``/``boxes``, or text
  too long (format specific, see each format's module);
* a span that is not two finite numbers (``NaN``/``inf`` included);
* a **reversed span** (``end < start``): "span end 3.0 < start 7.0" — the model contradicted
  itself, and guessing which end it meant would reward an incoherent answer;
* a span entirely outside the video (ends before 0 s or starts after the video's end).

Repairs (the answer is kept; each repair is recorded once per kind, with where it applied):

* span partly outside ``[0, duration]`` -> clipped to the video;
* a time key that is not a plain decimal number (``"abc"``, ``"1_0"``, ``"nan"``) -> box dropped;
* a box that is not 4 finite numbers (NaN, inf, strings, wrong length) -> box dropped;
* a box time within ``min(0.05 s, interval / 4)`` of a shown timestamp is that timestamp (no
  repair: display rounding); within half a sampling interval (``ctx.interval_s / 2``,
  inclusive; ties go to the earlier frame) -> **snapped** to the nearest shown timestamp;
  farther from every shown timestamp -> box dropped. Answer times are therefore always
  shown timestamps, which map back to the very frames the model saw;
* a box time outside the span (by more than the no-repair tolerance above) -> box dropped;
* ``x2 < x1`` or ``y2 < y1`` -> the two coordinates are swapped (the same box, corners
  listed in the other order);
* a box reaching outside the frame -> clipped to the frame (a box wholly outside becomes a
  zero-area box on the edge: it scores 0 IoU rather than being interpolated over);
* two boxes for the same shown timestamp (duplicate or snapped-together keys) -> the last
  one in the text wins.

A span with no boxes left is a valid answer (``ok``) with zero boxes: it can still score
temporal IoU. Answer times are sorted; boxes are converted to original-video pixels by
:func:`stvg.verifiers.formats.coords.to_original`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from stvg.data.types import SecondLevelAnswer
from stvg.verifiers.formats.context import FrameContext, ParseResult, RawAnswer
from stvg.verifiers.formats.coords import extent, to_original

# A plain decimal number (ASCII digits only, optional sign and exponent), bounded length.
NUMBER_PATTERN = r"[+-]?(?:[0-9]{1,20}(?:\.[0-9]{0,20})?|\.[0-9]{1,20})(?:[eE][+-]?[0-9]{1,4})?"
_NUMBER = re.compile(NUMBER_PATTERN)
# Keys within this many seconds of a shown timestamp match it without a repair (cap).
EXACT_TIME_TOL_S = 0.05
# Places listed per repair kind in a repair message before "...".
_MAX_LISTED = 5


def parse_number(text: str) -> float | None:
    """A finite float from a plain decimal ``text`` (surrounding spaces allowed), or None."""
    text = text.strip()
    if len(text) > 48 or _NUMBER.fullmatch(text) is None:
        return None
    value = float(text)
    return value if math.isfinite(value) else None


def as_finite(value: Any) -> float | None:
    """A finite float from a JSON-like number (not a bool, not a string), or None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


class RepairLog:
    """Collects repairs by kind, each with the places (e.g. times) where it applied."""

    def __init__(self) -> None:
        self._places: dict[str, list[str]] = {}

    def add(self, kind: str, place: str = "") -> None:
        """Record one repair of ``kind`` at ``place`` (e.g. ``"3.0 s"``)."""
        places = self._places.setdefault(kind, [])
        if place:
            places.append(place)

    def messages(self) -> list[str]:
        """One message per kind, in first-seen order: ``"kind at 3 s, 4 s"``."""
        out = []
        for kind, places in self._places.items():
            if not places:
                out.append(kind)
                continue
            listed = ", ".join(places[:_MAX_LISTED])
            more = f", ... ({len(places)} in all)" if len(places) > _MAX_LISTED else ""
            out.append(f"{kind} at {listed}{more}")
        return out


def _short(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _span(raw: Any, ctx: FrameContext, log: RepairLog) -> tuple[float, float] | str:
    if not isinstance(raw, Sequence) or isinstance(raw, str) or len(raw) != 2:
        return f"span must be [start, end] in seconds, got {_short(raw)}"
    start, end = as_finite(raw[0]), as_finite(raw[1])
    if start is None or end is None:
        return f"span must be two finite numbers of seconds, got {_short(raw)}"
    if end < start:
        return f"span end {end:g} < start {start:g}"
    duration = ctx.duration_s
    if end < 0:
        return f"span [{start:g}, {end:g}] s ends before the video starts (0 s)"
    if start > duration:
        return f"span [{start:g}, {end:g}] s starts after the video ends ({duration:g} s)"
    if start < 0 or end > duration:
        log.add(f"span clipped to the video [0, {duration:g}] s")
        start, end = max(start, 0.0), min(end, duration)
    return start, end


def _box(raw: Any) -> np.ndarray | None:
    if not isinstance(raw, Sequence) or isinstance(raw, str) or len(raw) != 4:
        return None
    values = [as_finite(v) for v in raw]
    if any(v is None for v in values):
        return None
    return np.array(values, dtype=np.float64)


def repair_box(box: np.ndarray, upper: np.ndarray) -> tuple[np.ndarray, bool, bool]:
    """The box rules on one box of 4 finite numbers: corners put in order, then clipped.

    Args:
        box: float ``(4,)`` xyxy in some coordinate system.
        upper: ``(4,)`` the frame's extent in that system (``[max_x, max_y, max_x, max_y]``).

    Returns:
        ``(fixed, swapped, clipped)``: the box with ``x1 <= x2`` and ``y1 <= y2`` (each
        swapped pair exchanged) inside ``[0, upper]``, and whether each repair applied.
    """
    box = np.asarray(box, dtype=np.float64)
    swapped = bool(box[2] < box[0] or box[3] < box[1])
    if swapped:
        box = np.concatenate([np.minimum(box[:2], box[2:]), np.maximum(box[:2], box[2:])])
    fixed = np.clip(box, 0.0, upper)
    return fixed, swapped, bool(np.any(fixed != box))


def assemble(
    raw: RawAnswer, ctx: FrameContext, coords: str, format_repairs: list[str]
) -> ParseResult:
    """Apply the module rules to ``raw``: a :class:`ParseResult`, never an exception.

    Args:
        raw: the span and ``(time key, box)`` pairs a format extracted.
        ctx: what the model was shown (timestamps, sizes).
        coords: the coordinate system of the raw boxes.
        format_repairs: repairs the format already applied (several blocks, ...).

    Returns:
        A result with an answer in original-video pixels and seconds, or an error.
    """
    log = RepairLog()
    span = _span(raw.span, ctx, log)
    if isinstance(span, str):
        return ParseResult.failure(span, format_repairs)
    start, end = span
    stamps = ctx.timestamps_s
    interval = ctx.interval_s
    exact_tol = min(EXACT_TIME_TOL_S, interval / 4.0) + 1e-9
    snap_tol = interval / 2.0 + 1e-9
    max_x, max_y = extent(coords, ctx)
    upper = np.array([max_x, max_y, max_x, max_y])
    chosen: dict[int, np.ndarray] = {}
    for key, value in raw.boxes:
        time_s = parse_number(key) if isinstance(key, str) else None
        if time_s is None:
            log.add("non-numeric time key, box dropped", _short(key, 24))
            continue
        place = f"{time_s:g} s"
        box = _box(value)
        if box is None:
            log.add("box is not 4 finite numbers, dropped", place)
            continue
        if stamps.size == 0:
            log.add("no frames were shown, box dropped", place)
            continue
        right = int(np.searchsorted(stamps, time_s))
        candidates = [i for i in (right - 1, right) if 0 <= i < stamps.size]
        nearest = min(candidates, key=lambda i: (abs(stamps[i] - time_s), i))
        distance = abs(stamps[nearest] - time_s)
        if distance > snap_tol:
            log.add("box time matches no shown frame, dropped", place)
            continue
        snapped = float(stamps[nearest])
        if snapped < start - exact_tol or snapped > end + exact_tol:
            log.add(f"box outside the span [{start:g}, {end:g}] s, dropped", place)
            continue
        if distance > exact_tol:
            log.add("box time snapped to the nearest shown frame", f"{place} -> {snapped:g} s")
        fixed, swapped, clipped = repair_box(box, upper)
        if swapped:
            log.add("box corners swapped (x2 < x1 or y2 < y1)", place)
        if clipped:
            log.add("box clipped to the frame", place)
        if nearest in chosen:
            log.add("several boxes for one shown frame, the last was kept", f"{snapped:g} s")
        chosen[nearest] = fixed
    order = sorted(chosen)
    times = stamps[order] if order else np.zeros(0)
    boxes = np.array([chosen[i] for i in order]).reshape(-1, 4)
    width, height = ctx.original_size
    boxes = np.clip(to_original(boxes, coords, ctx), 0.0, [width, height, width, height])
    repairs = tuple(format_repairs) + tuple(log.messages())
    answer = SecondLevelAnswer(span_s=(start, end), times_s=times, boxes_xyxy=boxes)
    return ParseResult(answer=answer, error=None, repairs=repairs, format_ok=not repairs)


__all__ = [
    "EXACT_TIME_TOL_S",
    "NUMBER_PATTERN",
    "RepairLog",
    "as_finite",
    "assemble",
    "parse_number",
    "repair_box",
]
