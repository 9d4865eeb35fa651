"""The one place that maps between seconds and native frame indices.

Rules (documented in the README and tested for 24, 25, 29.97 and 30 fps videos):

* **Frame of a time.** Time ``t`` seconds falls on native frame ``round_half_up(t * native_fps)``,
  clipped to ``[0, num_frames - 1]``. (Half-up, not Python's banker's rounding, so the rule
  does not depend on whether the integer part is even.)
* **Sampling at ``fps``.** The nominal sampling grid is ``t_k = k / fps`` for
  ``k = 0, 1, ...`` while ``round_half_up(t_k * native_fps) <= num_frames - 1``. Sample ``k``
  takes native frame ``round_half_up(t_k * native_fps)``; duplicates (``fps`` above the
  native rate) are dropped. 1 fps of a 30 fps video takes frames 0, 30, 60, ...; of a
  29.97 fps video 0, 30, 60, 90, ... (29.97 -> 30, 59.94 -> 60, 89.91 -> 90); 0.5 fps of
  25 fps takes 0, 50, 100, ...
* **Timestamp of a frame.** Frame ``i`` is shown at ``i / native_fps`` seconds, so the time a
  policy is told maps back to the very frame it saw.
* **``max_frames``.** When the grid has more than ``max_frames`` samples, ``max_frames`` of them
  are kept, evenly spread (``numpy.linspace`` over the sample positions, rounded), always
  keeping the first and the last.
* **Span in seconds.** ``[s, e]`` covers native frames ``frame_of(s) ... frame_of(e)``; with
  ``end_extension = x`` (a fraction of the sampling interval ``1 / fps``) the end becomes
  ``frame_of(e + x / fps)``, for answers whose last box stands for the whole last interval.
"""

from __future__ import annotations

import math

import numpy as np


def round_half_up(value: float | np.ndarray) -> int | np.ndarray:
    """Round to the nearest integer, halves upwards (``2.5 -> 3``, ``-0.5 -> 0``)."""
    if isinstance(value, np.ndarray):
        return np.floor(value + 0.5).astype(np.int64)
    return int(math.floor(value + 0.5))


def frame_of_time(time_s: float, native_fps: float, num_frames: int) -> int:
    """Native frame index shown at ``time_s`` seconds, clipped to the video."""
    frame = round_half_up(float(time_s) * float(native_fps))
    return int(min(max(frame, 0), int(num_frames) - 1))


def time_of_frame(frame_idx: int | np.ndarray, native_fps: float) -> float | np.ndarray:
    """Time in seconds at which native frame ``frame_idx`` is shown."""
    if isinstance(frame_idx, np.ndarray):
        return frame_idx.astype(np.float64) / float(native_fps)
    return int(frame_idx) / float(native_fps)


def sample_frame_indices(
    native_fps: float,
    num_frames: int,
    fps: float | None,
    max_frames: int | None = None,
) -> np.ndarray:
    """Native frame indices sampled at ``fps`` (``None`` = every native frame).

    Returns an int64 array, strictly increasing, at most ``max_frames`` long.
    """
    if native_fps <= 0 or not math.isfinite(native_fps):
        raise ValueError(f"native_fps must be a positive number, got {native_fps}")
    if num_frames <= 0:
        raise ValueError(f"num_frames must be positive, got {num_frames}")
    if fps is not None and (fps <= 0 or not math.isfinite(fps)):
        raise ValueError(f"fps must be a positive number or None (every frame), got {fps}")
    if fps is None or fps >= native_fps:
        # A grid at least as dense as the frames hits every frame (consecutive grid points
        # are at most one frame apart), so it is not built: 1e9 fps would be 1e9 points.
        indices = np.arange(num_frames, dtype=np.int64)
    else:
        # Number of grid points whose frame exists: k / fps * native_fps <= num_frames - 1 + 0.5
        # (a small epsilon guards against float error on exact multiples).
        k_max = int(math.floor(((num_frames - 0.5) * fps / native_fps) - 1e-9))
        k = np.arange(max(k_max, 0) + 1, dtype=np.float64)
        indices = round_half_up(k / fps * native_fps)
        indices = np.unique(np.clip(indices, 0, num_frames - 1))
    if max_frames is not None:
        if max_frames <= 0:
            raise ValueError(f"max_frames must be positive or None, got {max_frames}")
        if indices.size > max_frames:
            keep = round_half_up(np.linspace(0, indices.size - 1, max_frames))
            indices = indices[np.unique(keep)]
    return indices.astype(np.int64)


def span_seconds_to_frames(
    span_s: tuple[float, float],
    native_fps: float,
    num_frames: int,
    *,
    fps: float | None = None,
    end_extension: float = 0.0,
) -> tuple[int, int]:
    """Inclusive native frame span covered by ``span_s`` (see the module rules).

    ``end_extension`` is a fraction of the sampling interval ``1 / fps`` added to the end;
    it needs ``fps`` when non-zero.
    """
    start_s, end_s = float(span_s[0]), float(span_s[1])
    if end_extension:
        if not fps:
            raise ValueError("end_extension needs the sampling rate fps")
        end_s += float(end_extension) / float(fps)
    first = frame_of_time(start_s, native_fps, num_frames)
    last = frame_of_time(end_s, native_fps, num_frames)
    return first, max(first, last)
