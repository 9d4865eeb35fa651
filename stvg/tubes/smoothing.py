"""Interpolation and smoothing of sparse boxes onto native frames.

Every function here has the same shape: it takes ``sample_frames`` (float64 ``[K]``,
strictly increasing native frame positions that carry a box), ``sample_boxes`` (float64
``[K, 4]``, ``[x1, y1, x2, y2]`` pixels) and ``query_frames`` (float64 ``[N]``) and returns
float64 ``[N, 4]`` boxes. Beyond the first and the last sample every method **holds the
nearest end box constant** (no extrapolation), so a tube never drifts out of the sampled
range. ``K >= 1`` is required; with ``K == 1`` every method returns that box everywhere.

Methods:

* :func:`hold_boxes` — the box of the nearest sample; a query exactly half way between two
  samples takes the **earlier** one.
* :func:`linear_boxes` — ``numpy.interp`` per coordinate.
* :func:`pchip_boxes` — ``scipy.interpolate.PchipInterpolator`` per coordinate (shape
  preserving cubic: no overshoot between samples).
* :func:`savgol_boxes` — ``scipy.signal.savgol_filter`` over the samples resampled on a
  uniform grid (the median sample spacing), then linear interpolation to the queries.

The Kalman smoother lives in :mod:`stvg.tubes.kalman`.
"""

from __future__ import annotations

import numpy as np
from scipy.interpolate import PchipInterpolator
from scipy.signal import savgol_filter


def hold_boxes(
    sample_frames: np.ndarray, sample_boxes: np.ndarray, query_frames: np.ndarray
) -> np.ndarray:
    """Zero-order hold: each query takes the box of the nearest sample (ties: earlier).

    Args:
        sample_frames: float64 ``[K]`` strictly increasing frame positions of the samples.
        sample_boxes: float64 ``[K, 4]`` xyxy pixel boxes.
        query_frames: float64 ``[N]`` frame positions to fill.

    Returns:
        float64 ``[N, 4]`` boxes.
    """
    right = np.searchsorted(sample_frames, query_frames, side="left")
    right = np.clip(right, 0, sample_frames.size - 1)
    left = np.clip(right - 1, 0, sample_frames.size - 1)
    dist_left = np.abs(query_frames - sample_frames[left])
    dist_right = np.abs(sample_frames[right] - query_frames)
    nearest = np.where(dist_left <= dist_right, left, right)
    return sample_boxes[nearest].copy()


def linear_boxes(
    sample_frames: np.ndarray, sample_boxes: np.ndarray, query_frames: np.ndarray
) -> np.ndarray:
    """Piecewise-linear interpolation per coordinate, constant beyond the end samples.

    Args and returns as :func:`hold_boxes`.
    """
    return np.stack(
        [np.interp(query_frames, sample_frames, sample_boxes[:, c]) for c in range(4)], axis=1
    )


def pchip_boxes(
    sample_frames: np.ndarray, sample_boxes: np.ndarray, query_frames: np.ndarray
) -> np.ndarray:
    """Shape-preserving cubic (PCHIP) interpolation, constant beyond the end samples.

    Args and returns as :func:`hold_boxes`.
    """
    if sample_frames.size < 2:
        return np.repeat(sample_boxes[:1], query_frames.size, axis=0)
    clipped = np.clip(query_frames, sample_frames[0], sample_frames[-1])
    return PchipInterpolator(sample_frames, sample_boxes, axis=0)(clipped)


def savgol_boxes(
    sample_frames: np.ndarray,
    sample_boxes: np.ndarray,
    query_frames: np.ndarray,
    *,
    window: int = 5,
    polyorder: int = 2,
) -> np.ndarray:
    """Savitzky-Golay smoothing of the samples, then linear interpolation to the queries.

    The samples are first resampled (linearly) on a uniform grid whose step is the median
    sample spacing, so that seconds missing inside the span do not distort the polynomial
    fits; the smoothed grid is then interpolated to ``query_frames``.

    Short sequences adapt the filter: the window shrinks to the largest odd length that
    fits the grid and ``polyorder`` to at most ``window - 1``; a grid shorter than 3 points
    is not smoothed (plain linear interpolation).

    Args:
        sample_frames: as :func:`hold_boxes`.
        sample_boxes: as :func:`hold_boxes`.
        query_frames: as :func:`hold_boxes`.
        window: odd window length in samples (>= 1); an even value is rounded up.
        polyorder: polynomial order (>= 0, < ``window``).

    Returns:
        float64 ``[N, 4]`` boxes.
    """
    if sample_frames.size < 3:
        return linear_boxes(sample_frames, sample_boxes, query_frames)
    step = float(np.median(np.diff(sample_frames)))
    count = int(round((sample_frames[-1] - sample_frames[0]) / step)) + 1
    grid = np.linspace(sample_frames[0], sample_frames[-1], max(count, sample_frames.size))
    grid_boxes = linear_boxes(sample_frames, sample_boxes, grid)
    win = window if window % 2 == 1 else window + 1
    if win > grid.size:
        win = grid.size if grid.size % 2 == 1 else grid.size - 1
    order = min(polyorder, win - 1)
    if win >= 3:
        grid_boxes = savgol_filter(grid_boxes, win, order, axis=0, mode="interp")
    return linear_boxes(grid, grid_boxes, query_frames)


__all__ = ["hold_boxes", "linear_boxes", "pchip_boxes", "savgol_boxes"]
