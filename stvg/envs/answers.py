"""Numeric env actions -> :class:`~stvg.data.types.SecondLevelAnswer`, never raising on bad values.

Both converters return ``(answer, reason)``: an answer and ``None``, or ``None`` and a reason
that says what was wrong with the action (a bad action is data, scored 0, not a crash).
Normalised boxes are xyxy in ``[0, 1]`` of the frame; they are clipped to ``[0, 1]`` and
scaled to original-video pixels (``x * width``, ``y * height``). A malformed ``struct``
action (not a mapping, a missing key, a value that is not numbers, a wrong shape) is an
invalid action with a reason too, like a bad value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from stvg.data.types import SecondLevelAnswer

#: The keys of a ``struct`` action.
STRUCT_KEYS = ("span", "boxes", "box_mask")


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _to_pixels(boxes_norm: np.ndarray, original_size: tuple[int, int]) -> np.ndarray:
    width, height = original_size
    scale = np.array([width, height, width, height], dtype=np.float64)
    return np.clip(boxes_norm, 0.0, 1.0) * scale


def struct_to_answer(
    action: Mapping[str, Any],
    times_s: np.ndarray,
    original_size: tuple[int, int],
    repairs: list[str] | None = None,
) -> tuple[SecondLevelAnswer | None, str | None]:
    """The answer of a ``struct`` action of :class:`~stvg.envs.grounding.GroundingEnv`.

    Args:
        action: ``span`` (``(start, end)`` seconds), ``boxes`` (``[max_frames, 4]``
            normalised xyxy), ``box_mask`` (``[max_frames]``, non-zero = a box is given).
        times_s: float ``[T]`` timestamps (seconds) of the frames shown, ``T <= max_frames``;
            slot ``i`` of ``boxes``/``box_mask`` belongs to ``times_s[i]`` and masked slots
            beyond ``T`` (padding) are ignored.
        original_size: ``(width, height)`` of the video in pixels.
        repairs: receives one line per repair applied (the same rule as the text parsers: a
            given box with a non-finite coordinate is dropped, the rest of the answer kept).

    Returns:
        ``(answer, None)``, or ``(None, reason)`` when the action is malformed (not a
        mapping, a missing key, a value that is not numbers, ``span`` not 2 numbers,
        ``boxes`` not ``[len(box_mask), 4]``), the span is not finite or reversed, or
        ``box_mask`` holds anything but 0 and 1.
    """
    if not isinstance(action, Mapping):
        return None, (
            f"invalid struct action: expected a mapping with keys {list(STRUCT_KEYS)}, got "
            f"{type(action).__name__}"
        )
    missing = [key for key in STRUCT_KEYS if key not in action]
    if missing:
        return None, (
            f"invalid struct action: missing key(s) {missing}; it needs {list(STRUCT_KEYS)}"
        )
    arrays = {}
    for key in STRUCT_KEYS:
        try:
            arrays[key] = np.asarray(action[key], dtype=np.float64)
        except (TypeError, ValueError):
            return None, (
                f"invalid struct action: {key!r} must be numbers, got "
                f"{type(action[key]).__name__} {_short(action[key])}"
            )
    span = arrays["span"].reshape(-1)
    boxes = arrays["boxes"]
    raw_mask = arrays["box_mask"].reshape(-1)
    mask = raw_mask == 1
    if span.shape != (2,):
        return None, f"invalid struct action: 'span' must hold 2 numbers, got shape {span.shape}"
    if boxes.ndim != 2 or boxes.shape[1] != 4 or boxes.shape[0] != mask.shape[0]:
        return None, (
            f"invalid struct action: 'boxes' must have shape [N, 4] with N = len(box_mask) = "
            f"{mask.shape[0]}, got {boxes.shape}"
        )
    odd = np.flatnonzero((raw_mask != 0) & (raw_mask != 1))
    if odd.size:
        return None, (
            f"invalid box_mask at slot {int(odd[0])}: {raw_mask[odd[0]]!r}; a mask holds 0 (no "
            "box) or 1 (a box)"
        )
    if not np.all(np.isfinite(span)):
        return None, f"invalid span {span.tolist()}: start and end must be finite seconds"
    if span[0] > span[1]:
        return None, f"invalid span {span.tolist()}: start > end (reversed span)"
    times = np.asarray(times_s, dtype=np.float64).reshape(-1)
    shown = min(times.shape[0], mask.shape[0])
    keep = np.flatnonzero(mask[:shown])
    finite = np.all(np.isfinite(boxes[keep]), axis=1)
    for slot in keep[~finite]:
        if repairs is not None:
            repairs.append(
                f"box at slot {int(slot)} ({boxes[slot].tolist()}) has a non-finite "
                "coordinate: dropped"
            )
    keep = keep[finite]
    chosen = boxes[keep]
    answer = SecondLevelAnswer(
        span_s=(float(span[0]), float(span[1])),
        times_s=times[keep],
        boxes_xyxy=_to_pixels(chosen, original_size),
    )
    return answer, None


def track_to_answer(
    present: Sequence[bool],
    boxes_norm: np.ndarray,
    times_s: np.ndarray,
    original_size: tuple[int, int],
) -> tuple[SecondLevelAnswer | None, str | None]:
    """Assemble per-step tracking decisions into one answer.

    The span runs from the first to the last step whose presence was claimed; the boxes
    are those of the steps claiming presence.

    Args:
        present: ``[T]`` presence claims, one per step.
        boxes_norm: float ``[T, 4]`` normalised xyxy boxes (read only where present).
        times_s: float ``[T]`` timestamps (seconds) of the steps.
        original_size: ``(width, height)`` of the video in pixels.

    Returns:
        ``(answer, None)``, or ``(None, reason)`` when presence was never claimed or a box
        of a present step has a non-finite coordinate.
    """
    claims = np.asarray(present, dtype=bool).reshape(-1)
    boxes = np.asarray(boxes_norm, dtype=np.float64).reshape(-1, 4)
    times = np.asarray(times_s, dtype=np.float64).reshape(-1)
    if not claims.shape[0] == boxes.shape[0] == times.shape[0]:
        raise ValueError(
            f"track_to_answer needs one claim, box and time per step, got {claims.shape[0]}, "
            f"{boxes.shape[0]} and {times.shape[0]}"
        )
    steps = np.flatnonzero(claims)
    if steps.size == 0:
        return None, "the target was never claimed present, so there is no span"
    bad = steps[~np.all(np.isfinite(boxes[steps]), axis=1)]
    if bad.size:
        return (
            None,
            f"invalid box at step {int(bad[0])}: {boxes[bad[0]].tolist()} has a non-finite "
            "coordinate",
        )
    answer = SecondLevelAnswer(
        span_s=(float(times[steps[0]]), float(times[steps[-1]])),
        times_s=times[steps],
        boxes_xyxy=_to_pixels(boxes[steps], original_size),
    )
    return answer, None


__all__ = ["STRUCT_KEYS", "struct_to_answer", "track_to_answer"]
