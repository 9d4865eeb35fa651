"""The ``track`` densify method: look at the frames between the per-second boxes.

Between two consecutive answered frames ``a < b`` (boxes ``A`` and ``B``, original-video
pixels), the native frames ``a..b`` are read (:class:`~stvg.tubes.frames.FrameProvider`,
longer side at most ``max_side`` pixels) and :mod:`stvg.tubes.lk_tracker` tracks

* **forward** from ``A`` on frame ``a`` towards ``b``, and
* **backward** from ``B`` on frame ``b`` towards ``a``.

Let ``tau = (t - a) / (b - a)`` on frame ``t``. A track that reached the other end misses
the box answered there by its drift; that miss is spread linearly over the segment (the
forward box ``F_t`` moves by ``tau * (B - F_b)``, the backward box ``B_t`` by
``(1 - tau) * (A - B_a)``), so that both tracks agree with both answered boxes and keep
the shape of the motion in between. On a frame in between, the box is the blend

    ``box_t = (w_f * F_t + w_b * B_t) / (w_f + w_b)``,  ``w_f = (1 - tau) * c_f(t)``,
    ``w_b = tau * c_b(t)``

of the two tracks, weighted by closeness in time to their start box and by the tracker's
confidence on that frame (``c``: the share of points that passed the forward-backward
check; 0 once that direction lost the target).

**Fallback.** Where both directions lost the target (fewer than ``min_points`` points kept,
confidence below ``min_confidence``, the box left the frame, or the video has no frame
there), or where both hold a box but the two disagree (IoU below ``min_agreement``: one of
them followed something else, a distractor crossing the target), the frame takes the
linear interpolation of ``A`` and ``B``, and it is counted
(:class:`TrackResult` ``fallback_frames``; its segment in ``fallback_segments``).

**Ends.** Frames before the first and after the last answered frame hold the end box, as
every densify method does (an answer with one box is that box everywhere: nothing is
read). With ``ends: 1`` they are tracked instead, outward from the end box in one
direction (backward from the first, forward from the last: no second box corrects the
drift there); where that track loses the target, the end box is held and counted as a
fallback. An answer with one box is then tracked both ways from it.

Deterministic: the same boxes and frames give the same tube.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from stvg.tubes.frames import FrameBlock, FrameProvider
from stvg.tubes.lk_tracker import LKParams, lk_track
from stvg.tubes.smoothing import linear_boxes

#: The parameters of ``track`` and their defaults (see :class:`~stvg.tubes.lk_tracker.LKParams`).
TRACK_DEFAULTS: dict[str, float] = {
    "max_side": 320,  # pixels: longer side of the frames the tracker reads
    "max_points": 50,
    "min_points": 5,
    "max_fb_error": 1.0,  # pixels of the tracker's frames
    "min_confidence": 0.3,  # share of points kept, 0..1
    "window": 15,  # pixels
    "levels": 3,
    "min_agreement": 0.5,  # IoU of the forward and backward boxes, 0..1
    "ends": 0,  # 1: track beyond the first and last box too (0: hold them)
}
TRACK_INTEGER_PARAMS = frozenset(
    {"max_side", "max_points", "min_points", "window", "levels", "ends"}
)
TRACK_POSITIVE_PARAMS = frozenset({"max_side", "max_points", "min_points", "window"})


@dataclass(frozen=True, eq=False)
class TrackResult:
    """The boxes of one answer's query frames and what tracking did.

    Attributes:
        boxes: float64 ``[N, 4]`` xyxy boxes of the query frames, original-video pixels.
        tracked_frames: query frames whose box came from the tracker.
        fallback_frames: query frames the tracker was asked for that fell back: to linear
            interpolation between two answered frames (both directions lost the target,
            they disagreed, or the video has no frames there), to the end box beyond them
            (``ends: 1``, the track lost).
        segments: the stretches tracked: pairs of consecutive answered frames with query
            frames between them, and (``ends: 1``) the query frames before the first and
            after the last answered frame.
        fallback_segments: of those, the stretches with at least one fallback frame.
        seconds: wall time of reading the frames and tracking, seconds.
    """

    boxes: np.ndarray
    tracked_frames: int = 0
    fallback_frames: int = 0
    segments: int = 0
    fallback_segments: int = 0
    seconds: float = 0.0


def _lk_params(params: dict[str, float | int]) -> LKParams:
    return LKParams(
        max_points=int(params["max_points"]),
        min_points=int(params["min_points"]),
        max_fb_error=float(params["max_fb_error"]),
        min_confidence=float(params["min_confidence"]),
        window=int(params["window"]),
        levels=int(params["levels"]),
    )


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of aligned xyxy boxes ``a`` and ``b`` (float64 ``[M, 4]``): ``[M]``, 0 where
    the union is empty."""
    w = np.clip(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0.0, None)
    h = np.clip(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0.0, None)
    inter = w * h
    union = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]) + (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = union - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def blend_tracks(
    forward: np.ndarray,
    forward_conf: np.ndarray,
    backward: np.ndarray,
    backward_conf: np.ndarray,
    tau: np.ndarray,
    min_agreement: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """The blend of the module docstring on ``M`` frames.

    Args:
        forward, backward: float64 ``[M, 4]`` boxes of the two tracks (NaN where lost).
        forward_conf, backward_conf: float64 ``[M]`` confidences (0 where lost).
        tau: float64 ``[M]`` position of each frame between the start boxes, in ``(0, 1)``.
        min_agreement: the lowest IoU of the two boxes where both tracks hold one.

    Returns:
        ``(boxes [M, 4], ok [M])``: the blended boxes (NaN where ``ok`` is False: both
        tracks lost, or they disagree).
    """
    w_f = (1.0 - tau) * forward_conf
    w_b = tau * backward_conf
    ok = (w_f + w_b) > 0
    both = (forward_conf > 0) & (backward_conf > 0)
    ok[both] &= box_iou(forward[both], backward[both]) >= min_agreement
    total = w_f + w_b
    boxes = np.full(forward.shape, np.nan)
    f = np.where(np.isfinite(forward), forward, 0.0)
    b = np.where(np.isfinite(backward), backward, 0.0)
    boxes[ok] = (w_f[ok, None] * f[ok] + w_b[ok, None] * b[ok]) / total[ok, None]
    return boxes, ok


def _segment(
    block: FrameBlock,
    a: int,
    b: int,
    start: np.ndarray,
    end: np.ndarray,
    targets: np.ndarray,
    lk: LKParams,
    min_agreement: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Boxes (original pixels) and tracked flags of the frames ``targets`` (``a < t < b``)
    between answered frames ``a`` and ``b`` with boxes ``start`` and ``end``."""
    if block.first > a or block.last < b:  # the video has no frames there
        return np.full((targets.size, 4), np.nan), np.zeros(targets.size, dtype=bool)
    sx, sy = block.scale
    to_px = np.array([sx, sy, sx, sy])
    frames = block.frames[a - block.first : b - block.first + 1]
    n = b - a
    fwd, fwd_conf = lk_track(frames, start * to_px, n, lk)  # frames a+1 .. b
    bwd, bwd_conf = lk_track(frames[::-1], end * to_px, n, lk)  # frames b-1 .. a
    ramp = (np.arange(1, n + 1) / n)[:, None]  # share of the segment each step has run
    if fwd_conf[-1] > 0:  # the forward track reached b: spread its miss of B over it
        fwd = fwd + ramp * (end * to_px - fwd[-1])
    if bwd_conf[-1] > 0:
        bwd = bwd + ramp * (start * to_px - bwd[-1])
    rows_f = targets - a - 1
    rows_b = b - targets - 1
    tau = (targets - a) / float(b - a)
    boxes, ok = blend_tracks(
        fwd[rows_f], fwd_conf[rows_f], bwd[rows_b], bwd_conf[rows_b], tau, min_agreement
    )
    return boxes / to_px, ok


def _end(
    block: FrameBlock, anchor: int, box: np.ndarray, targets: np.ndarray, lk: LKParams
) -> tuple[np.ndarray, np.ndarray]:
    """Boxes (original pixels) and tracked flags of the frames ``targets``, all before or
    all after the answered frame ``anchor`` (box ``box``), tracked outward from it in one
    direction (``ends: 1``; no box at the far end to correct the drift)."""
    far = int(targets[0]) if targets[0] < anchor else int(targets[-1])
    lo, hi = min(anchor, far), max(anchor, far)
    if block.first > lo or block.last < hi:  # the video has no frames there
        return np.full((targets.size, 4), np.nan), np.zeros(targets.size, dtype=bool)
    sx, sy = block.scale
    to_px = np.array([sx, sy, sx, sy])
    frames = block.frames[lo - block.first : hi - block.first + 1]
    if far < anchor:
        frames = frames[::-1]
    track, conf = lk_track(frames, box * to_px, hi - lo, lk)
    rows = np.abs(targets - anchor) - 1
    return track[rows] / to_px, conf[rows] > 0


def track_boxes(
    sample_frames: np.ndarray,
    sample_boxes: np.ndarray,
    query_frames: np.ndarray,
    frames: FrameProvider,
    **params: float | int,
) -> TrackResult:
    """Densify one answer by tracking between its boxes (see the module docstring).

    Args:
        sample_frames: float64 ``[K]`` strictly increasing native frames (whole numbers)
            that carry a box.
        sample_boxes: float64 ``[K, 4]`` xyxy boxes, original-video pixels.
        query_frames: float64 ``[N]`` increasing native frames (whole numbers) to fill.
        frames: the video's native frames.
        **params: the resolved ``track`` parameters (:data:`TRACK_DEFAULTS`).

    Returns:
        A :class:`TrackResult` (boxes not yet clipped to the frame).
    """
    started = time.perf_counter()
    boxes = linear_boxes(sample_frames, sample_boxes, query_frames)  # ends and fallback
    if sample_frames.size == 0 or query_frames.size == 0:
        return TrackResult(boxes, seconds=time.perf_counter() - started)
    answered = sample_frames.astype(np.int64)
    queries = query_frames.astype(np.int64)
    # segments with query frames strictly between their ends
    left = np.searchsorted(queries, answered[:-1], side="right")
    right = np.searchsorted(queries, answered[1:], side="left")
    segments = np.flatnonzero(right > left)
    ends = []  # (rows, answered frame and box to track from) beyond the end boxes
    if params["ends"]:
        before = np.flatnonzero(queries < answered[0])
        after = np.flatnonzero(queries > answered[-1])
        ends = [(r, k) for r, k in ((before, 0), (after, answered.size - 1)) if r.size]
    if segments.size == 0 and not ends:
        return TrackResult(boxes, seconds=time.perf_counter() - started)
    lk = _lk_params(params)
    lo = [int(answered[segments[0]])] if segments.size else []
    hi = [int(answered[segments[-1] + 1])] if segments.size else []
    lo += [int(queries[rows[0]]) for rows, _ in ends] + [int(answered[k]) for _, k in ends]
    hi += [int(queries[rows[-1]]) for rows, _ in ends] + [int(answered[k]) for _, k in ends]
    block = frames(min(lo), max(hi), int(params["max_side"]))
    tracked = fallback = fallback_segments = 0
    for rows, k in ends:
        end_boxes, ok = _end(block, int(answered[k]), sample_boxes[k], queries[rows], lk)
        boxes[rows[ok]] = end_boxes[ok]
        n_ok = int(np.count_nonzero(ok))
        tracked += n_ok
        fallback += rows.size - n_ok
        fallback_segments += int(n_ok < rows.size)
    for k in segments.tolist():
        rows = np.arange(left[k], right[k])
        seg_boxes, ok = _segment(
            block,
            int(answered[k]),
            int(answered[k + 1]),
            sample_boxes[k],
            sample_boxes[k + 1],
            queries[rows],
            lk,
            float(params["min_agreement"]),
        )
        boxes[rows[ok]] = seg_boxes[ok]
        n_ok = int(np.count_nonzero(ok))
        tracked += n_ok
        fallback += rows.size - n_ok
        fallback_segments += int(n_ok < rows.size)
    return TrackResult(
        boxes,
        tracked_frames=tracked,
        fallback_frames=fallback,
        segments=int(segments.size) + len(ends),
        fallback_segments=fallback_segments,
        seconds=time.perf_counter() - started,
    )


__all__ = [
    "TRACK_DEFAULTS",
    "TRACK_INTEGER_PARAMS",
    "TRACK_POSITIVE_PARAMS",
    "TrackResult",
    "blend_tracks",
    "box_iou",
    "track_boxes",
]
