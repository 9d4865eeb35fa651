"""Frame access for densify methods that look at the video (``track``).

The interpolation methods need nothing but the boxes; ``track`` reads the native frames
between them. Those frames come from whoever holds the video, injected as a
:class:`FrameProvider` (this layer never opens an env or its cache):

* an env passes its own provider (:meth:`stvg.envs.frame_source.FrameSource.native`):
  frames decoded once per sample and kept in the env's frame cache;
* :class:`VideoFileFrames` decodes a sample's video file itself (``stvg evaluate
  --predictions ... --fill track``, or any code holding a :class:`~stvg.data.types.Sample`
  whose video is on disk);
* :class:`ArrayFrames` serves frames already in memory (tests, user code).

A provider answers ``provider(first, last, max_side)`` with a :class:`GrayFrames`: the
native frames ``first..last`` in grey, shrunk so that the longer side is at most
``max_side`` pixels, and the scale from original-video pixels to theirs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from stvg.data.types import Sample
from stvg.data.video import decode_gray_frames, shown_size_for


@dataclass(frozen=True, eq=False)
class GrayFrames:
    """Consecutive native frames of one video, grey, at a tracker's size.

    Attributes:
        first: the native frame index (0-based) of ``gray[0]``.
        gray: uint8 ``[T, H, W]``: native frames ``first .. first + T - 1``.
        scale: ``(sx, sy)``: pixels of ``gray`` per original-video pixel along x and y.
    """

    first: int
    gray: np.ndarray
    scale: tuple[float, float]

    def __post_init__(self) -> None:
        if self.gray.ndim != 3 or self.gray.dtype != np.uint8:
            raise ValueError(
                f"GrayFrames.gray must be uint8 [T, H, W], got {self.gray.dtype} {self.gray.shape}"
            )
        if not all(s > 0 for s in self.scale):
            raise ValueError(f"GrayFrames.scale must be positive (sx, sy), got {self.scale}")

    @property
    def last(self) -> int:
        """The native index of the last frame held (``first - 1`` when none is)."""
        return self.first + int(self.gray.shape[0]) - 1

    def window(self, first: int, last: int) -> GrayFrames:
        """The frames ``first..last`` of those held (a view; fewer at the ends when this
        block does not reach them)."""
        lo = max(int(first), self.first)
        hi = min(int(last), self.last)
        if hi < lo:
            return GrayFrames(lo, self.gray[:0], self.scale)
        return GrayFrames(lo, self.gray[lo - self.first : hi - self.first + 1], self.scale)


@runtime_checkable
class FrameProvider(Protocol):
    """The native frames of one video, for densify methods that read pixels.

    ``provider(first, last, max_side)`` returns :class:`GrayFrames` starting at native
    frame ``first`` (0-based) and holding ``last - first + 1`` frames, fewer only when the
    video ends before ``last``; the longer side of the frames is at most ``max_side``
    pixels (never enlarged). Equal calls return equal pixels (tracking is deterministic).
    """

    def __call__(self, first: int, last: int, max_side: int) -> GrayFrames:
        """Native frames ``first..last`` (inclusive), grey, longer side <= ``max_side``."""
        ...


class ArrayFrames:
    """A :class:`FrameProvider` over frames already in memory.

    Args:
        frames: uint8 ``[N, H, W]`` (grey) or ``[N, H, W, 3]`` (RGB): native frames
            ``0 .. N - 1`` of the video, at its original size.

    Frames asked at a ``max_side`` below their size are shrunk with OpenCV's area
    interpolation (as the video reader does).
    """

    def __init__(self, frames: np.ndarray) -> None:
        frames = np.asarray(frames)
        if frames.dtype != np.uint8 or frames.ndim not in (3, 4):
            raise ValueError(
                f"ArrayFrames needs uint8 [N, H, W] or [N, H, W, 3] frames, got {frames.dtype} "
                f"{frames.shape}"
            )
        if frames.ndim == 4:
            import cv2

            frames = np.stack([cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames])
        self._gray = frames
        self._sized: dict[tuple[int, int], np.ndarray] = {}

    def __call__(self, first: int, last: int, max_side: int) -> GrayFrames:
        """Frames ``first..last`` (see :class:`FrameProvider`)."""
        height, width = self._gray.shape[1:3]
        size = shown_size_for(width, height, max_side)
        gray = self._sized.get(size)
        if gray is None:
            if size == (width, height):
                gray = self._gray
            else:
                import cv2

                gray = np.stack(
                    [cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in self._gray]
                )
            self._sized[size] = gray
        block = GrayFrames(0, gray, (size[0] / width, size[1] / height))
        return block.window(first, last)


class VideoFileFrames:
    """A :class:`FrameProvider` that decodes ``sample``'s video file (PyAV).

    The first call decodes every native frame of the video at the asked ``max_side``
    (:func:`stvg.data.video.decode_gray_frames`) and keeps them while this object lives,
    so the answers of one sample decode it once.

    Args:
        sample: a sample whose ``video_path`` exists and matches its annotation.

    Raises (on the first call):
        VideoError: the video cannot be read or does not match the annotation.
    """

    def __init__(self, sample: Sample) -> None:
        self.sample = sample
        self._blocks: dict[int, GrayFrames] = {}

    def __call__(self, first: int, last: int, max_side: int) -> GrayFrames:
        """Frames ``first..last`` (see :class:`FrameProvider`)."""
        block = self._blocks.get(int(max_side))
        if block is None:
            block = decode_video_gray(self.sample, int(max_side))
            self._blocks[int(max_side)] = block
        return block.window(first, last)


def decode_video_gray(sample: Sample, max_side: int) -> GrayFrames:
    """Every native frame of ``sample``'s video, grey, longer side <= ``max_side``.

    Raises:
        VideoError: the video cannot be read or does not match the annotation.
    """
    gray, (width, height) = decode_gray_frames(sample, 0, sample.num_frames - 1, max_side)
    return GrayFrames(0, gray, (width / sample.width, height / sample.height))


__all__ = [
    "ArrayFrames",
    "FrameProvider",
    "GrayFrames",
    "VideoFileFrames",
    "decode_video_gray",
]
