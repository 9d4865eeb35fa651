"""A box tracker on pyramidal Lucas-Kanade optical flow (Median Flow).

One step moves a box from one frame to the next, as the Median Flow tracker does (Kalal,
Mikolajczyk and Matas, "Forward-Backward Error: Automatic Detection of Tracking Failures",
ICPR 2010):

1. **Points.** Up to ``max_points`` Shi-Tomasi corners (``cv2.goodFeaturesToTrack``)
   inside the box, found on the box's strongest colour contrast (:func:`contrast_image`:
   the box's pixels projected on their first principal colour component, so that a shape
   whose brightness equals the background's but whose colour differs has corners); when
   fewer than ``min_points`` are found, a regular grid of ``max_points`` points inside the
   box is used instead.
2. **Flow both ways.** ``cv2.calcOpticalFlowPyrLK`` tracks the points to the next frame
   and back again, on all colour channels; a point is kept when both passes found it and
   it lands within ``max_fb_error`` pixels of where it started (the forward-backward
   error).
3. **Robust update.** The box moves by the median displacement of the kept points and
   scales by the median ratio of their pairwise distances (clamped to
   ``[1 / MAX_SCALE_STEP, MAX_SCALE_STEP]`` per frame).
4. **Confidence and loss.** The step's confidence is the share of points kept. The target
   is *lost* (this and every later frame of the track have no box) when fewer than
   ``min_points`` points are kept, the confidence is below ``min_confidence``, the box is
   smaller than :data:`MIN_BOX_PX` on a side, or less than :data:`MIN_INSIDE` of the box
   lies inside the frame (it left the frame).

Frames are uint8 RGB ``[H, W, 3]`` or grey ``[H, W]``; everything is in their pixels (a
tracker's size); the work is deterministic (the same frames and box give the same track).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

MAX_SCALE_STEP = 1.25  # largest box scale change from one frame to the next (factor)
MIN_BOX_PX = 2.0  # pixels; a box narrower or lower than this cannot be tracked
MIN_INSIDE = 0.5  # share of the box's area that must lie inside the frame
CORNER_QUALITY = 0.01  # Shi-Tomasi quality level, relative to the box's best corner
LK_CRITERIA = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 30, 0.01)


@dataclass(frozen=True)
class LKParams:
    """Settings of the tracker (the ``track`` densify method's parameters).

    Attributes:
        max_points: points tracked per step.
        min_points: fewer points kept than this = the target is lost.
        max_fb_error: largest forward-backward error of a kept point, pixels.
        min_confidence: smallest share of points kept (0..1) before the target is lost.
        window: side of the Lucas-Kanade search window, pixels (per pyramid level).
        levels: pyramid levels above the full-size frame (0 = no pyramid).
    """

    max_points: int = 50
    min_points: int = 5
    max_fb_error: float = 1.0
    min_confidence: float = 0.3
    window: int = 15
    levels: int = 3


def _grid_points(box: np.ndarray, count: int) -> np.ndarray:
    """A ``ceil(sqrt(count))``-square grid of points inside ``box``: float32 ``[M, 1, 2]``."""
    side = max(2, int(np.ceil(np.sqrt(count))))
    xs = np.linspace(box[0], box[2], side + 2, dtype=np.float32)[1:-1]
    ys = np.linspace(box[1], box[3], side + 2, dtype=np.float32)[1:-1]
    grid = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 1, 2)
    return np.ascontiguousarray(grid[:count], dtype=np.float32)


def contrast_image(roi: np.ndarray) -> np.ndarray:
    """One channel of ``roi`` (uint8 ``[h, w, 3]`` or ``[h, w]``) with its strongest
    contrast: float32 ``[h, w]``, the pixels projected on the first principal component of
    their colours (the grey image itself for a grey ``roi``)."""
    if roi.ndim == 2:
        return roi.astype(np.float32)
    pixels = roi.reshape(-1, 3).astype(np.float64)
    centred = pixels - pixels.mean(axis=0)
    _, vectors = np.linalg.eigh(centred.T @ centred)
    axis = vectors[:, -1] * (1.0 if vectors[:, -1].sum() >= 0 else -1.0)
    return (centred @ axis).reshape(roi.shape[:2]).astype(np.float32)


def box_points(frame: np.ndarray, box: np.ndarray, params: LKParams) -> np.ndarray | None:
    """Points to track inside ``box`` (xyxy pixels of ``frame``): float32 ``[M, 1, 2]``, or
    ``None`` when the box is too small or outside the frame."""
    height, width = frame.shape[:2]
    x0, y0 = max(0, int(np.floor(box[0]))), max(0, int(np.floor(box[1])))
    x1, y1 = min(width, int(np.ceil(box[2]))), min(height, int(np.ceil(box[3])))
    if x1 - x0 < MIN_BOX_PX or y1 - y0 < MIN_BOX_PX:
        return None
    roi = contrast_image(frame[y0:y1, x0:x1])
    min_distance = max(1.0, min(x1 - x0, y1 - y0) / 10.0)
    corners = cv2.goodFeaturesToTrack(
        roi, params.max_points, CORNER_QUALITY, min_distance, blockSize=3
    )
    if corners is not None and corners.shape[0] >= params.min_points:
        corners = corners.astype(np.float32)
        corners[:, 0, 0] += x0
        corners[:, 0, 1] += y0
        return corners
    inner = np.array([x0, y0, x1 - 1, y1 - 1], dtype=np.float64)
    return _grid_points(inner, params.max_points)


def _inside_share(box: np.ndarray, width: int, height: int) -> float:
    """Share of ``box``'s area inside the frame ``[0, width] x [0, height]``."""
    area = (box[2] - box[0]) * (box[3] - box[1])
    if not area > 0:
        return 0.0
    iw = min(box[2], width) - max(box[0], 0.0)
    ih = min(box[3], height) - max(box[1], 0.0)
    return float(max(iw, 0.0) * max(ih, 0.0) / area)


def lk_step(
    prev: np.ndarray, nxt: np.ndarray, box: np.ndarray, params: LKParams
) -> tuple[np.ndarray | None, float]:
    """Move ``box`` from frame ``prev`` to frame ``nxt`` (see the module docstring).

    Args:
        prev, nxt: uint8 ``[H, W, 3]`` (RGB) or ``[H, W]`` (grey) frames.
        box: float64 ``[4]`` xyxy box on ``prev``, pixels of the frames.
        params: the tracker's settings.

    Returns:
        ``(box on nxt, confidence)``; the box is ``None`` when the target is lost.
    """
    if not (np.all(np.isfinite(box)) and box[2] - box[0] >= MIN_BOX_PX):
        return None, 0.0
    if box[3] - box[1] < MIN_BOX_PX:
        return None, 0.0
    points = box_points(prev, box, params)
    if points is None:
        return None, 0.0
    lk = {
        "winSize": (params.window, params.window),
        "maxLevel": params.levels,
        "criteria": LK_CRITERIA,
    }
    moved, status, _ = cv2.calcOpticalFlowPyrLK(prev, nxt, points, None, **lk)
    back, status_back, _ = cv2.calcOpticalFlowPyrLK(nxt, prev, moved, None, **lk)
    start, end = points.reshape(-1, 2).astype(np.float64), moved.reshape(-1, 2).astype(np.float64)
    fb_error = np.linalg.norm(start - back.reshape(-1, 2), axis=1)
    kept = (status.ravel() == 1) & (status_back.ravel() == 1) & (fb_error <= params.max_fb_error)
    kept &= np.all(np.isfinite(end), axis=1)
    n_kept = int(np.count_nonzero(kept))
    confidence = n_kept / start.shape[0]
    if n_kept < params.min_points or confidence < params.min_confidence:
        return None, confidence
    start, end = start[kept], end[kept]
    shift = np.median(end - start, axis=0)
    upper = np.triu_indices(n_kept, k=1)
    before = np.linalg.norm(start[:, None] - start[None], axis=2)[upper]
    after = np.linalg.norm(end[:, None] - end[None], axis=2)[upper]
    usable = before > 1e-6
    scale = float(np.median(after[usable] / before[usable])) if usable.any() else 1.0
    scale = min(max(scale, 1.0 / MAX_SCALE_STEP), MAX_SCALE_STEP)
    centre = 0.5 * (box[:2] + box[2:]) + shift
    half = 0.5 * (box[2:] - box[:2]) * scale
    new = np.concatenate([centre - half, centre + half])
    height, width = nxt.shape[:2]
    if _inside_share(new, width, height) < MIN_INSIDE:
        return None, confidence
    return new, confidence


def lk_track(
    frames: np.ndarray, box: np.ndarray, steps: int, params: LKParams
) -> tuple[np.ndarray, np.ndarray]:
    """Track ``box`` from ``frames[0]`` through ``frames[1..steps]``.

    Args:
        frames: uint8 ``[T, H, W, 3]`` (RGB) or ``[T, H, W]`` (grey) frames in the order
            to track them (reversed for a backward track), ``T > steps``.
        box: float64 ``[4]`` xyxy box on ``frames[0]``, pixels of the frames.
        steps: frames to track after the first.
        params: the tracker's settings.

    Returns:
        ``(boxes [steps, 4], confidence [steps])`` on ``frames[1..steps]``: NaN boxes and
        confidence 0 from the frame where the target was lost on.
    """
    boxes = np.full((steps, 4), np.nan)
    confidence = np.zeros(steps)
    current = np.asarray(box, dtype=np.float64)
    for k in range(steps):
        moved, conf = lk_step(frames[k], frames[k + 1], current, params)
        if moved is None:
            break
        boxes[k], confidence[k] = moved, conf
        current = moved
    return boxes, confidence


__all__ = ["LKParams", "box_points", "contrast_image", "lk_step", "lk_track"]
