"""Numeric env actions -> parsed answers, by the rules of a text answer, never raising.

A ``struct`` action of :class:`~stvg.envs.grounding.GroundingEnv` and a tracking episode
of :class:`~stvg.envs.tracking.TrackingEnv` are read into the
:class:`~stvg.verifiers.formats.RawAnswer` that a text format extracts from the same
answer written as text (the span, and one ``(time key, box)`` pair per box, keyed by the
exact timestamp of its shown frame), then assembled by
:func:`stvg.verifiers.formats.assemble.assemble` in ``norm1`` coordinates. So every value
a text answer can also hold gets the text answer's treatment, from the one place that
owns it: a span that is not finite, reversed or wholly outside the video is an error; a
span partly outside is clipped; a box with a non-finite coordinate is dropped; swapped
corners are swapped back; a box reaching outside the frame is clipped; a box at a shown
frame outside the span is dropped; each repair is recorded as for text.

What only the numeric encoding can get wrong (not a mapping, a missing key, values that
are not numbers, wrong shapes, a mask or presence value other than 0 and 1) is an invalid
action with a reason; it never raises either.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from stvg.limits import short_repr
from stvg.verifiers.formats import FrameContext, ParseResult, RawAnswer
from stvg.verifiers.formats.assemble import assemble
from stvg.verifiers.formats.numbers import float_array
from stvg.verifiers.formats.track_id import track_parse

#: The keys of a ``struct`` action.
STRUCT_KEYS = ("span", "boxes", "box_mask")
#: The keys of a struct ``track-id`` action.
TRACK_STRUCT_KEYS = ("track", "span")
#: The keys of a tracking action.
TRACK_KEYS = ("present", "box")
#: The coordinate system of numeric actions' boxes: ``[0, 1]`` of the frame.
ACTION_COORDS = "norm1"


def _short(value: Any, limit: int = 60) -> str:
    return short_repr(value, limit)  # bounded: a 5,000-digit int has no repr


def time_key(time_s: float) -> str:
    """The text key of a box at ``time_s`` seconds, read back as exactly ``time_s``.

    ``repr`` of a finite float is the shortest decimal that round-trips, and it is a plain
    decimal number (:data:`~stvg.verifiers.formats.assemble.NUMBER_PATTERN`), so the text
    rules match the key to the very shown frame, with no snapping.
    """
    return repr(float(time_s))


def invalid(reason: str) -> tuple[ParseResult, str]:
    """An unusable action: the failed parse and its reason (``info["invalid_action"]``)."""
    return ParseResult.failure(reason), reason


def assemble_action(
    span: Sequence[float], times_s: np.ndarray, boxes_norm: np.ndarray, ctx: FrameContext
) -> tuple[ParseResult, str | None]:
    """A numeric answer assembled by the text answers' rules.

    Args:
        span: ``(start, end)`` seconds, as given (any float: the rules judge it).
        times_s: float ``[K]`` shown timestamps that carry a box, increasing.
        boxes_norm: float ``[K, 4]`` xyxy boxes normalised to ``[0, 1]`` of the frame, as
            given (NaN, swapped or out-of-frame values are the rules' to repair).
        ctx: what the episode showed.

    Returns:
        ``(parse, None)`` with the answer in original-video pixels and its repairs, or
        ``(parse, reason)`` when the rules reject the answer (``parse.error == reason``).
    """
    raw = RawAnswer(
        span=[float(v) for v in span],
        boxes=[
            (time_key(t), [float(v) for v in box])
            for t, box in zip(
                np.asarray(times_s).tolist(), np.asarray(boxes_norm).tolist(), strict=True
            )
        ],
    )
    parse = assemble(raw, ctx, ACTION_COORDS, [])
    return parse, parse.error


def _missing_keys(action: Any, keys: tuple[str, ...]) -> str | None:
    """Why ``action`` is not a mapping holding every one of ``keys``, or ``None``."""
    if not isinstance(action, Mapping):
        return (
            f"invalid struct action: expected a mapping with keys {list(keys)}, got "
            f"{type(action).__name__}"
        )
    missing = [key for key in keys if key not in action]
    if missing:
        return f"invalid struct action: missing key(s) {missing}; it needs {list(keys)}"
    return None


def struct_to_parse(action: Any, ctx: FrameContext) -> tuple[ParseResult, str | None]:
    """The parsed answer of a ``struct`` action of :class:`~stvg.envs.grounding.GroundingEnv`.

    The action is the answer ``{"span": span, "boxes": {t_i: boxes[i] for each slot i with
    box_mask[i] = 1}}`` with ``t_i`` the ``i``-th shown timestamp, in ``norm1``
    coordinates: it is scored exactly as that text answer is (see the module docstring).

    Args:
        action: ``span`` (``(start, end)`` seconds), ``boxes`` (``[max_frames, 4]``
            normalised xyxy), ``box_mask`` (``[max_frames]``, 1 = a box is given, 0 = none).
        ctx: what the episode showed; slot ``i`` of ``boxes``/``box_mask`` belongs to
            ``ctx.timestamps_s[i]``, and slots beyond the shown frames (padding) are
            ignored whatever their mask.

    Returns:
        ``(parse, None)``, or ``(parse, reason)`` with ``parse.error == reason`` when the
        action is unusable: malformed (not a mapping, a missing key, a value that is not
        numbers, ``span`` not 2 numbers, ``boxes`` not ``[len(box_mask), 4]``, ``box_mask``
        holding anything but 0 and 1), or a span the text rules reject (not finite,
        reversed, wholly outside the video).
    """
    if (reason := _missing_keys(action, STRUCT_KEYS)) is not None:
        return invalid(reason)
    arrays = {}
    for key in STRUCT_KEYS:
        values = float_array(action[key])
        if values is None:
            return invalid(
                f"invalid struct action: {key!r} must be numbers, got "
                f"{type(action[key]).__name__} {_short(action[key])}"
            )
        arrays[key] = values
    span = arrays["span"].reshape(-1)
    boxes = arrays["boxes"]
    raw_mask = arrays["box_mask"].reshape(-1)
    if span.shape != (2,):
        return invalid(f"invalid struct action: 'span' must hold 2 numbers, got shape {span.shape}")
    if boxes.ndim != 2 or boxes.shape[1] != 4 or boxes.shape[0] != raw_mask.shape[0]:
        return invalid(
            f"invalid struct action: 'boxes' must have shape [N, 4] with N = len(box_mask) = "
            f"{raw_mask.shape[0]}, got {boxes.shape}"
        )
    odd = np.flatnonzero((raw_mask != 0) & (raw_mask != 1))
    if odd.size:
        return invalid(
            f"invalid box_mask at slot {int(odd[0])}: {raw_mask[odd[0]]!r}; a mask holds 0 "
            "(no box) or 1 (a box)"
        )
    times = ctx.timestamps_s
    keep = np.flatnonzero(raw_mask[: times.shape[0]] == 1)
    return assemble_action(span, times[keep], boxes[keep], ctx)


def track_struct_to_parse(
    action: Any, ctx: FrameContext, track_ids: np.ndarray
) -> tuple[ParseResult, str | None]:
    """The parsed answer of a struct ``track-id`` action: ``{"track": k, "span": (s, e)}``.

    It is the text answer ``Target ID: track_ids[k], Time range: s to e`` and is scored
    by the very same function (:func:`stvg.verifiers.formats.track_id.track_parse`), so
    both forms of one answer get identical scores.

    Args:
        action: ``track`` (an integer index into the observation's candidates) and
            ``span`` (``(start, end)`` seconds).
        ctx: what the episode showed (its tracks).
        track_ids: int ``[max_candidates]`` the observation's ``track_ids`` (-1 = unused).

    Returns:
        ``(parse, None)``, or ``(parse, reason)`` when the action is malformed (not a
        mapping, a missing key, ``span`` not 2 numbers, ``track`` not an integer index of a
        real candidate) or the span rules reject the span.
    """
    if (reason := _missing_keys(action, TRACK_STRUCT_KEYS)) is not None:
        return invalid(reason)
    span = float_array(action["span"])
    if span is None or span.reshape(-1).shape != (2,):
        return invalid(
            f"invalid struct action: 'span' must hold 2 numbers, got {_short(action['span'])}"
        )
    index = float_array(action["track"])
    count = int((np.asarray(track_ids) >= 0).sum())
    if index is None or index.size != 1 or not float(index.reshape(())).is_integer():
        return invalid(
            f"invalid struct action: 'track' must be one integer index of a candidate, got "
            f"{_short(action['track'])}"
        )
    k = int(index.reshape(()))
    if not 0 <= k < count:
        return invalid(
            f"invalid struct action: 'track' {k} is not a candidate: the observation shows "
            f"{count} tracks (indices 0..{count - 1} of track_ids)"
        )
    start, end = (float(v) for v in span.reshape(-1))
    parse = track_parse(int(track_ids[k]), start, end, ctx)
    return parse, parse.error


@dataclass(frozen=True)
class TrackAction:
    """A struct track-id action with its observation's ``track_ids``, for answers scored
    outside an env (:func:`stvg.evaluation.episodes.predict_answers`).

    Attributes:
        action: ``{"track": k, "span": (start, end)}``.
        track_ids: int ``[K]`` the candidates' track IDs (-1 = unused slot).
    """

    action: Any
    track_ids: np.ndarray

    def parse(self, ctx: FrameContext) -> tuple[ParseResult, str | None]:
        """:func:`track_struct_to_parse` of the action."""
        return track_struct_to_parse(self.action, ctx, self.track_ids)


def _presence(value: Any) -> bool | str:
    """``present`` as a bool, or why it is not a decision: a bool, or an integer or float
    equal to 0 or 1 (a NumPy scalar or one-element array of one included)."""
    wrong = f"'present' must be 0 or 1 (or a bool), got {type(value).__name__} {_short(value)}"
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (str, bytes)):
        return wrong
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError):  # e.g. a ragged list
        return wrong
    real = np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)
    if arr.size != 1 or not (real or arr.dtype == np.bool_):
        return wrong
    number = arr.reshape(()).item()
    if number == 0 or number == 1:
        return number == 1
    hint = "; a probability is not a decision: threshold it first" if 0 < number < 1 else ""
    return f"'present' must be 0 or 1 (or a bool), got {number!r}{hint}"


def read_track_action(action: Any, step: int) -> tuple[bool, np.ndarray | None, str | None]:
    """One :class:`~stvg.envs.tracking.TrackingEnv` decision, checked.

    Args:
        action: ``{"present": 0/1 or a bool, "box": 4 numbers}``. ``present`` may be a
            Python or NumPy bool, integer or float equal to 0 or 1 (or a one-element array
            of one); any other value, ``0.7`` included, is invalid. ``box`` (normalised
            xyxy) is read only when ``present`` is 1, and must then be 4 finite numbers
            (any shape of 4 elements).
        step: the 0-based step, for the reason.

    Returns:
        ``(present, box, None)`` with ``box`` float64 ``(4,)`` (``None`` when absent), or
        ``(False, None, reason)`` for an invalid action.
    """
    where = f"invalid tracking action at step {step}"
    if not isinstance(action, Mapping):
        return (
            False,
            None,
            (
                f"{where}: expected a mapping with keys {list(TRACK_KEYS)}, got "
                f"{type(action).__name__}"
            ),
        )
    missing = [key for key in TRACK_KEYS if key not in action]
    if missing:
        return False, None, f"{where}: missing key(s) {missing}; it needs {list(TRACK_KEYS)}"
    present = _presence(action["present"])
    if isinstance(present, str):
        return False, None, f"{where}: {present}"
    if not present:
        return False, None, None
    raw = action["box"]
    box = float_array(raw)
    if box is None:
        return (
            False,
            None,
            (
                f"{where}: 'box' must be 4 numbers [x1, y1, x2, y2], got "
                f"{type(raw).__name__} {_short(raw)}"
            ),
        )
    box = box.reshape(-1)
    if box.shape != (4,):
        return (
            False,
            None,
            (
                f"{where}: 'box' must be 4 numbers [x1, y1, x2, y2], got {box.size} "
                f"({_short(box.tolist())})"
            ),
        )
    if not np.all(np.isfinite(box)):
        return False, None, f"{where}: box {box.tolist()} has a non-finite coordinate"
    return True, box, None


def track_to_parse(
    present: Sequence[bool], boxes_norm: np.ndarray, ctx: FrameContext
) -> tuple[ParseResult, str | None]:
    """A tracking episode's decisions as one answer, by the text answers' rules.

    The span runs from the first to the last step whose presence was claimed; the boxes
    are those of the steps claiming presence, at their steps' timestamps (swapped corners
    and boxes reaching outside the frame are repaired as in a text answer).

    Args:
        present: ``[T]`` valid presence claims, one per step (see :func:`read_track_action`).
        boxes_norm: float ``[T, 4]`` finite normalised xyxy boxes (read only where present).
        ctx: what the episode showed (``T`` timestamps).

    Returns:
        ``(parse, None)``, or ``(parse, reason)`` when presence was never claimed.

    Raises:
        ValueError: ``present``, ``boxes_norm`` and the timestamps differ in length.
    """
    claims = np.asarray(present, dtype=bool).reshape(-1)
    boxes = np.asarray(boxes_norm, dtype=np.float64).reshape(-1, 4)
    times = ctx.timestamps_s
    if not claims.shape[0] == boxes.shape[0] == times.shape[0]:
        raise ValueError(
            f"track_to_parse needs one claim, box and time per step, got {claims.shape[0]}, "
            f"{boxes.shape[0]} and {times.shape[0]}"
        )
    steps = np.flatnonzero(claims)
    if steps.size == 0:
        return invalid("the target was never claimed present, so there is no span")
    span = (times[steps[0]], times[steps[-1]])
    return assemble_action(span, times[steps], boxes[steps], ctx)


__all__ = [
    "ACTION_COORDS",
    "STRUCT_KEYS",
    "TRACK_KEYS",
    "TRACK_STRUCT_KEYS",
    "TrackAction",
    "assemble_action",
    "read_track_action",
    "struct_to_parse",
    "time_key",
    "track_struct_to_parse",
    "track_to_parse",
]
