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
        model_size: ``(width, height)`` of the frames as the MODEL sees them after its
            processor's resize (Qwen2.5-VL: multiples of 28), pixels; ``None`` = the model
            sees them at ``shown_size``. ``pixels`` coordinates refer to :attr:`coord_size`.
    """

    frame_idx: np.ndarray
    timestamps_s: np.ndarray
    shown_size: tuple[int, int]
    original_size: tuple[int, int]
    native_fps: float
    num_frames: int
    fps: float | None = None
    model_size: tuple[int, int] | None = None

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
        _check_size(self, "shown_size", "original_size", "model_size")
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
        model_size: tuple[int, int] | None = None,
    ) -> FrameContext:
        """The context of ``sample`` shown at ``frame_idx`` (default: sampled at ``fps``).

        Args:
            sample: the video.
            frame_idx: native frames shown; ``None`` samples the video at ``fps`` with
                :func:`stvg.data.timing.sample_frame_indices`.
            shown_size: ``(width, height)`` of the shown frames; ``None`` = original size.
            fps: the sampling rate (``None`` = every native frame).
            model_size: ``(width, height)`` the model's processor resizes the frames to.
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
            model_size=model_size,
        )

    @property
    def coord_size(self) -> tuple[int, int]:
        """``(width, height)`` that ``pixels`` coordinates refer to: the model's view."""
        return self.model_size or self.shown_size

    @property
    def shown(self) -> ShownFrames:
        """The prompt-side view of this context (timestamps and sizes only)."""
        return ShownFrames(self.timestamps_s, self.shown_size, self.model_size, self.fps)

    @property
    def duration_s(self) -> float:
        """Length of the video, seconds (``num_frames / native_fps``)."""
        return self.num_frames / self.native_fps

    @property
    def interval_s(self) -> float:
        """Sampling interval, seconds: the median spacing of the shown timestamps.

        With fewer than two shown frames: ``1 / fps``, or ``1 / native_fps`` at frame level.
        """
        return _interval(self.timestamps_s, self.fps or self.native_fps)


@dataclass(frozen=True, eq=False)
class ShownFrames:
    """What a prompt may say about the frames: their timestamps and sizes.

    A policy builds this from the observation alone, so the prompt of an observation is the
    same wherever it is built (rollouts, evaluation, SFT); :attr:`FrameContext.shown` gives
    the same view of an env's context.

    Attributes:
        timestamps_s: float64 ``[T]`` time of each shown frame, seconds.
        shown_size: ``(width, height)`` of the frames in the observation, pixels.
        model_size: ``(width, height)`` after the model's processor resize, or ``None``.
        fps: the sampling rate (``None`` = every native frame).
    """

    timestamps_s: np.ndarray
    shown_size: tuple[int, int]
    model_size: tuple[int, int] | None = None
    fps: float | None = None

    def __post_init__(self) -> None:
        times = np.asarray(self.timestamps_s, dtype=np.float64).reshape(-1)
        if times.size > 1 and np.any(np.diff(times) <= 0):
            raise ValueError("ShownFrames.timestamps_s must be strictly increasing")
        object.__setattr__(self, "timestamps_s", times)
        _check_size(self, "shown_size", "model_size")

    @property
    def coord_size(self) -> tuple[int, int]:
        """``(width, height)`` that ``pixels`` coordinates refer to: the model's view."""
        return self.model_size or self.shown_size

    @property
    def interval_s(self) -> float:
        """Median spacing of the timestamps, seconds (``1 / fps`` below two frames)."""
        return _interval(self.timestamps_s, self.fps or 1.0)


def _interval(times: np.ndarray, rate: float) -> float:
    if times.size >= 2:
        return float(np.median(np.diff(times)))
    return 1.0 / rate


def _check_size(obj: Any, *names: str) -> None:
    """Validate ``(width, height)`` attributes (``None`` allowed for ``model_size``)."""
    for name in names:
        value = getattr(obj, name)
        if value is None and name == "model_size":
            continue
        size = tuple(value)
        if len(size) != 2 or any(not isinstance(v, (int, np.integer)) or v <= 0 for v in size):
            raise ValueError(
                f"{type(obj).__name__}.{name} must be (width, height) positive integers, got {size}"
            )
        object.__setattr__(obj, name, (int(size[0]), int(size[1])))


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
        draft: the draft box list of a format that writes one before its final list
            (``draft-final``: the ``<think bbox>`` list), as an answer with the same span
            (boxes in original-video pixels); ``None`` for the other formats and without
            an answer. The final list is :attr:`answer`, what every metric scores; only
            the terms that compare the two lists read the draft.
    """

    answer: SecondLevelAnswer | None
    error: str | None = None
    repairs: tuple[str, ...] = field(default_factory=tuple)
    format_ok: bool = False
    draft: SecondLevelAnswer | None = None

    @property
    def ok(self) -> bool:
        """Whether an answer was recovered (possibly after repairs)."""
        return self.answer is not None

    @classmethod
    def failure(cls, error: str, repairs: tuple[str, ...] | list[str] = ()) -> ParseResult:
        """A result without an answer, for ``error``."""
        return cls(answer=None, error=error, repairs=tuple(repairs), format_ok=False)

    @classmethod
    def structured(
        cls, answer: SecondLevelAnswer | None, repairs: tuple[str, ...] | list[str] = ()
    ) -> ParseResult:
        """The result of a structured answer, which needs no parsing: well formed unless
        ``repairs`` were applied to it; ``None`` (no answer) fails with "no answer (None)".

        Raises:
            TypeError: ``answer`` is neither a ``SecondLevelAnswer`` nor ``None``.
        """
        if answer is None:
            return cls.failure("no answer (None)", repairs)
        if not isinstance(answer, SecondLevelAnswer):
            raise TypeError(
                f"a structured answer is a SecondLevelAnswer or None, got {type(answer).__name__}"
            )
        return cls(answer=answer, error=None, repairs=tuple(repairs), format_ok=not repairs)


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


@dataclass(frozen=True, slots=True)
class NumericAnswer:
    """A well-formed extraction already in numbers: the fast path of batched parsing.

    A format may return this instead of a :class:`RawAnswer` when the text has exactly
    the expected structure (every value a number where a number belongs, no key given
    twice, no unknown key): then the :class:`RawAnswer` it stands for would hold exactly
    these numbers, and the shared rules give the same result from either.

    Attributes:
        start, end: the span in seconds (finite floats, as given; not yet checked).
        keys: the boxes' time key texts, in text order.
        values: the boxes' coordinates, 4 finite floats per box, in text order.
    """

    start: float
    end: float
    keys: list[str]
    values: list[float]


__all__ = ["FrameContext", "NumericAnswer", "ParseResult", "RawAnswer", "ShownFrames"]
