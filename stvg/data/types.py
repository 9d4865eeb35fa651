"""Core value types shared by every subpackage.

Conventions (see ``docs/design.md``):

* frame indices are **0-based native frame indices** of the original video, spans are
  **inclusive** ``(first, last)``;
* boxes are ``[x1, y1, x2, y2]`` floats in **original-video pixels**;
* times are **seconds** from the start of the video.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from stvg.limits import short_repr, video_problem


@dataclass(frozen=True)
class Tube:
    """A spatio-temporal tube: one box for each of a sorted set of native frames.

    Attributes:
        frame_idx: int64 array ``[N]``, strictly increasing 0-based native frame indices.
        boxes_xyxy: float64 array ``[N, 4]``, ``[x1, y1, x2, y2]`` in original-video pixels.
    """

    frame_idx: np.ndarray
    boxes_xyxy: np.ndarray

    def __post_init__(self) -> None:
        frame_idx = np.asarray(self.frame_idx, dtype=np.int64).reshape(-1)
        boxes = np.asarray(self.boxes_xyxy, dtype=np.float64).reshape(-1, 4)
        if frame_idx.shape[0] != boxes.shape[0]:
            raise ValueError(
                f"Tube needs one box per frame, got frame_idx.shape={frame_idx.shape} "
                f"and boxes_xyxy.shape={boxes.shape}"
            )
        if frame_idx.size > 1 and np.any(np.diff(frame_idx) <= 0):
            raise ValueError("Tube.frame_idx must be strictly increasing (sorted, no duplicates)")
        object.__setattr__(self, "frame_idx", frame_idx)
        object.__setattr__(self, "boxes_xyxy", boxes)

    def __len__(self) -> int:
        return int(self.frame_idx.shape[0])

    @property
    def span(self) -> tuple[int, int] | None:
        """Inclusive ``(first, last)`` frame of the tube, or ``None`` when it is empty."""
        if len(self) == 0:
            return None
        return int(self.frame_idx[0]), int(self.frame_idx[-1])

    @classmethod
    def empty(cls) -> Tube:
        """A tube with no frames."""
        return cls(np.zeros(0, dtype=np.int64), np.zeros((0, 4), dtype=np.float64))

    @classmethod
    def from_dict(cls, boxes_by_frame: Mapping[int, Any]) -> Tube:
        """Build a tube from ``{frame_idx: [x1, y1, x2, y2]}`` (keys may be str or int)."""
        if not boxes_by_frame:
            return cls.empty()
        items = sorted((int(k), v) for k, v in boxes_by_frame.items())
        frames = np.array([k for k, _ in items], dtype=np.int64)
        boxes = np.array([np.asarray(v, dtype=np.float64).reshape(4) for _, v in items])
        return cls(frames, boxes)

    def to_dict(self) -> dict[int, list[float]]:
        """``{frame_idx: [x1, y1, x2, y2]}`` with plain Python numbers (JSON friendly)."""
        return {
            int(f): [float(c) for c in b]
            for f, b in zip(self.frame_idx, self.boxes_xyxy, strict=True)
        }


@dataclass(frozen=True)
class Sample:
    """One grounding example: a video, a query, and the ground-truth tube.

    Attributes:
        sample_id: unique id within its dataset (HC-STVG: the video file name key;
            VidSTG: ``<vid>/<n>/d<i>`` or ``<vid>/<n>/q<i>``; synthetic: annotation key).
        video_path: path of the video file (it need not exist for annotation-only work).
        query: the natural-language description of the target and event.
        native_fps: frames per second of the original video, in
            ``[MIN_NATIVE_FPS, MAX_NATIVE_FPS]`` (:mod:`stvg.limits`).
        num_frames: number of native frames in the video, in ``[1, MAX_VIDEO_FRAMES]``.
        width, height: original-video size in pixels, each in ``[1, MAX_VIDEO_SIDE]``.

    Raises:
        ValueError: a frame rate, frame count or size outside those bounds.
        gt_span: inclusive ``(first, last)`` 0-based native frame indices of the event.
        gt_boxes: ``{frame_idx: [x1, y1, x2, y2]}`` ground-truth boxes in original-video
            pixels (frames of ``gt_span`` without a box are allowed: they score 0 IoU).
        meta: dataset-specific extras (``dataset``, ``split``, ``sentence_type``,
            ``target_id``, ``repairs`` applied while loading, ...).
    """

    sample_id: str
    video_path: str
    query: str
    native_fps: float
    num_frames: int
    width: int
    height: int
    gt_span: tuple[int, int]
    gt_boxes: dict[int, list[float]]
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        problem = video_problem(self.native_fps, self.num_frames, self.width, self.height)
        if problem is not None:  # the loaders name the file and field before this
            raise ValueError(f"sample {short_repr(self.sample_id)}: {problem}")

    @property
    def duration_s(self) -> float:
        """Length of the video in seconds (``num_frames / native_fps``)."""
        return self.num_frames / self.native_fps

    def gt_tube(self) -> Tube:
        """The ground-truth boxes as a :class:`Tube` (sorted by frame)."""
        return Tube.from_dict(self.gt_boxes)

    def gt_boxes_at(self, frame_idx: np.ndarray) -> np.ndarray:
        """Ground-truth boxes (float64 ``[K, 4]``, original pixels) at native frames
        ``frame_idx``: each frame's own box, or the box of the nearest annotated frame
        (ties go to the later one).

        Raises:
            ValueError: the sample has no ground-truth box.
        """
        tube = self.gt_tube()
        if len(tube) == 0:
            raise ValueError(f"sample {self.sample_id!r} has no ground-truth box")
        frames = np.asarray(frame_idx, dtype=np.int64).reshape(-1)
        pos = np.searchsorted(tube.frame_idx, frames)
        lower = np.clip(pos - 1, 0, len(tube) - 1)
        upper = np.clip(pos, 0, len(tube) - 1)
        nearer_upper = np.abs(tube.frame_idx[upper] - frames) <= np.abs(
            tube.frame_idx[lower] - frames
        )
        return tube.boxes_xyxy[np.where(nearer_upper, upper, lower)].astype(np.float64)


@dataclass(frozen=True)
class SecondLevelAnswer:
    """A parsed second-level answer: a span in seconds and boxes at sampled times.

    This is what an answer format's parser produces and what ``stvg.tubes.densify`` turns
    into a frame-level :class:`Tube`.

    Attributes:
        span_s: ``(start, end)`` in seconds, ``start <= end``.
        times_s: float64 ``[K]`` strictly increasing times (seconds) that carry a box.
        boxes_xyxy: float64 ``[K, 4]`` boxes in **original-video pixels**.
    """

    span_s: tuple[float, float]
    times_s: np.ndarray
    boxes_xyxy: np.ndarray

    def __post_init__(self) -> None:
        times = np.asarray(self.times_s, dtype=np.float64).reshape(-1)
        boxes = np.asarray(self.boxes_xyxy, dtype=np.float64).reshape(-1, 4)
        if times.shape[0] != boxes.shape[0]:
            raise ValueError(
                f"SecondLevelAnswer needs one box per time, got times_s.shape={times.shape} "
                f"and boxes_xyxy.shape={boxes.shape}"
            )
        start, end = float(self.span_s[0]), float(self.span_s[1])
        if not (np.isfinite(start) and np.isfinite(end)) or start > end:
            raise ValueError(
                f"SecondLevelAnswer.span_s must be finite with start <= end, got {self.span_s}"
            )
        if times.size > 1 and np.any(np.diff(times) <= 0):
            raise ValueError("SecondLevelAnswer.times_s must be strictly increasing")
        object.__setattr__(self, "span_s", (start, end))
        object.__setattr__(self, "times_s", times)
        object.__setattr__(self, "boxes_xyxy", boxes)
