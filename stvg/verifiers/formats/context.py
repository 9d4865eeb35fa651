"""Value types of answer parsing: what the model was shown, raw extractions, results."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from stvg.data.timing import sample_frame_indices, time_of_frame
from stvg.data.types import Sample, SecondLevelAnswer


@dataclass(frozen=True, eq=False)
class FrameContext:
    """What the model was shown: which frames, when, and at what size.

    Attributes:
        frame_idx: int64 ``[T]`` strictly increasing 0-based native frames shown.
        timestamps_s: float64 ``[T]`` time of each shown frame, seconds (the times the
            model is told and must use as box keys).
        shown_size: ``(width, height)`` of the frames as shown, pixels.
        original_size: ``(width, height)`` of the original video, pixels.
        native_fps: frames per second of the original video.
        num_frames: native frames in the video.
        fps: sampling rate the frames were taken at (``None`` = every native frame).
    """

    frame_idx: np.ndarray
    timestamps_s: np.ndarray
    shown_size: tuple[int, int]
    original_size: tuple[int, int]
    native_fps: float
    num_frames: int
    fps: float | None = None

    def __post_init__(self) -> None:
        frame_idx = np.asarray(self.frame_idx, dtype=np.int64).reshape(-1)
        times = np.asarray(self.timestamps_s, dtype=np.float64).reshape(-1)
        if frame_idx.shape != times.shape:
            raise ValueError(
                f"FrameContext needs one timestamp per frame, got frame_idx.shape="
                f"{frame_idx.shape} and timestamps_s.shape={times.shape}"
            )
        if times.size > 1 and np.any(np.diff(times) <= 0):
            raise ValueError("FrameContext.timestamps_s must be strictly increasing")
        if not np.all(np.isfinite(times)):
            raise ValueError("FrameContext.timestamps_s must be finite")
        for name in ("shown_size", "original_size"):
            size = tuple(getattr(self, name))
            if len(size) != 2 or any(not isinstance(v, (int, np.integer)) or v <= 0 for v in size):
                raise ValueError(
                    f"FrameContext.{name} must be (width, height) positive integers, got {size}"
                )
            object.__setattr__(self, name, (int(size[0]), int(size[1])))
        if not (math.isfinite(self.native_fps) and self.native_fps > 0):
            raise ValueError(f"FrameContext.native_fps must be positive, got {self.native_fps}")
        if int(self.num_frames) <= 0:
            raise ValueError(f"FrameContext.num_frames must be positive, got {self.num_frames}")
        if self.fps is not None and not (math.isfinite(self.fps) and self.fps > 0):
            raise ValueError(f"FrameContext.fps must be positive or None, got {self.fps}")
        object.__setattr__(self, "frame_idx", frame_idx)
        object.__setattr__(self, "timestamps_s", times)
        object.__setattr__(self, "native_fps", float(self.native_fps))
        object.__setattr__(self, "num_frames", int(self.num_frames))

    @classmethod
    def from_sample(
        cls,
        sample: Sample,
        frame_idx: np.ndarray | None = None,
        shown_size: tuple[int, int] | None = None,
        fps: float | None = None,
    ) -> FrameContext:
        """The context of ``sample`` shown at ``frame_idx`` (default: sampled at ``fps``).

        Args:
            sample: the video.
            frame_idx: native frames shown; ``None`` samples the video at ``fps`` with
                :func:`stvg.data.timing.sample_frame_indices`.
            shown_size: ``(width, height)`` of the shown frames; ``None`` = original size.
            fps: the sampling rate (``None`` = every native frame).
        """
        if frame_idx is None:
            frame_idx = sample_frame_indices(sample.native_fps, sample.num_frames, fps)
        frame_idx = np.asarray(frame_idx, dtype=np.int64)
        return cls(
            frame_idx=frame_idx,
            timestamps_s=time_of_frame(frame_idx, sample.native_fps),
            shown_size=shown_size or (sample.width, sample.height),
            original_size=(sample.width, sample.height),
            native_fps=sample.native_fps,
            num_frames=sample.num_frames,
            fps=fps,
        )

    @property
    def duration_s(self) -> float:
        """Length of the video, seconds (``num_frames / native_fps``)."""
        return self.num_frames / self.native_fps

    @property
    def interval_s(self) -> float:
        """Sampling interval, seconds: the median spacing of the shown timestamps.

        With fewer than two shown frames: ``1 / fps``, or ``1 / native_fps`` at frame level.
        """
        if self.timestamps_s.size >= 2:
            return float(np.median(np.diff(self.timestamps_s)))
        return 1.0 / (self.fps if self.fps else self.native_fps)


@dataclass(frozen=True, eq=False)
class ParseResult:
    """The outcome of parsing one model answer.

    Attributes:
        answer: the answer (boxes in original-video pixels, times in seconds), or ``None``
            when the text could not be used.
        error: why there is no answer (``None`` when there is one).
        repairs: documented repairs applied to get ``answer`` (see
            :mod:`stvg.verifiers.formats.assemble`), in the order they were applied.
        format_ok: ``True`` only for strictly well-formed text that needed no repair.
    """

    answer: SecondLevelAnswer | None
    error: str | None = None
    repairs: tuple[str, ...] = field(default_factory=tuple)
    format_ok: bool = False

    @property
    def ok(self) -> bool:
        """Whether an answer was recovered (possibly after repairs)."""
        return self.answer is not None

    @classmethod
    def failure(cls, error: str, repairs: tuple[str, ...] | list[str] = ()) -> ParseResult:
        """A result without an answer, for ``error``."""
        return cls(answer=None, error=error, repairs=tuple(repairs), format_ok=False)


@dataclass
class RawAnswer:
    """What a format's extractor found, before the shared validation rules.

    Attributes:
        span: the raw span value (a format passes two numbers, or whatever it found).
        boxes: ``(time key text, raw box value)`` pairs in text order; a raw box value is
            a sequence of numbers or anything else found (then it is malformed).
    """

    span: Any
    boxes: list[tuple[str, Any]]


__all__ = ["FrameContext", "ParseResult", "RawAnswer"]
