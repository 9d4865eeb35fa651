"""Frame access for densify methods that look at the video (``track``).

The interpolation methods need nothing but the boxes; ``track`` reads the native frames
between them. Those frames come from whoever holds the video, injected as a
:class:`FrameProvider` (this layer never opens an env or its cache):

* an env passes its own provider (:meth:`stvg.envs.frame_source.FrameSource.native`):
  every native frame decoded once per sample and kept in the env's frame cache;
* :class:`VideoFileFrames` decodes a sample's video file itself (``stvg evaluate
  --predictions ... --fill track``, or any code holding a :class:`~stvg.data.types.Sample`
  whose video is on disk);
* :class:`ArrayFrames` serves frames already in memory (tests, user code).

A provider answers ``provider(first, last, max_side)`` with a :class:`FrameBlock`: the
native frames ``first..last`` (RGB, or grey), shrunk so that the longer side is at most
``max_side`` pixels, and the scale from original-video pixels to theirs. Colour matters:
the tracker finds its points on the colour contrast of the box, so a blue shape on a grey
background of the same brightness is still tracked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from stvg.data.types import Sample
from stvg.data.video import decode_sample_frames, shown_size_for


@dataclass(frozen=True, eq=False)
class FrameBlock:
    """Consecutive native frames of one video, at a tracker's size.

    Attributes:
        first: the native frame index (0-based) of ``frames[0]``.
        frames: uint8 ``[T, H, W, 3]`` (RGB) or ``[T, H, W]`` (grey): native frames
            ``first .. first + T - 1``.
        scale: ``(sx, sy)``: pixels of ``frames`` per original-video pixel along x and y.
    """

    first: int
    frames: np.ndarray
    scale: tuple[float, float]

    def __post_init__(self) -> None:
        shape, dtype = self.frames.shape, self.frames.dtype
        if dtype != np.uint8 or not (len(shape) == 3 or (len(shape) == 4 and shape[3] == 3)):
            raise ValueError(
                f"FrameBlock.frames must be uint8 [T, H, W, 3] or [T, H, W], got {dtype} {shape}"
            )
        if not all(s > 0 for s in self.scale):
            raise ValueError(f"FrameBlock.scale must be positive (sx, sy), got {self.scale}")

    @property
    def last(self) -> int:
        """The native index of the last frame held (``first - 1`` when none is)."""
        return self.first + int(self.frames.shape[0]) - 1

    def window(self, first: int, last: int) -> FrameBlock:
        """The frames ``first..last`` of those held (a view; fewer at the ends when this
        block does not reach them)."""
        lo = max(int(first), self.first)
        hi = min(int(last), self.last)
        if hi < lo:
            return FrameBlock(lo, self.frames[:0], self.scale)
        return FrameBlock(lo, self.frames[lo - self.first : hi - self.first + 1], self.scale)


@runtime_checkable
class FrameProvider(Protocol):
    """The native frames of one video, for densify methods that read pixels.

    ``provider(first, last, max_side)`` returns a :class:`FrameBlock` starting at native
    frame ``first`` (0-based) and holding ``last - first + 1`` frames, fewer only when the
    video ends before ``last``; the longer side of the frames is at most ``max_side``
    pixels (never enlarged). Equal calls return equal pixels (tracking is deterministic).
    """

    def __call__(self, first: int, last: int, max_side: int) -> FrameBlock:
        """Native frames ``first..last`` (inclusive), longer side <= ``max_side``."""
        ...


class ArrayFrames:
    """A :class:`FrameProvider` over frames already in memory.

    Args:
        frames: uint8 ``[N, H, W, 3]`` (RGB) or ``[N, H, W]`` (grey): native frames
            ``0 .. N - 1`` of the video, at its original size.

    Frames asked at a ``max_side`` below their size are shrunk with OpenCV's area
    interpolation (as the video reader does); each size is made once.
    """

    def __init__(self, frames: np.ndarray) -> None:
        frames = np.asarray(frames)
        FrameBlock(0, frames, (1.0, 1.0))  # checks dtype and shape
        self._frames = frames
        self._sized: dict[tuple[int, int], np.ndarray] = {}

    def __call__(self, first: int, last: int, max_side: int) -> FrameBlock:
        """Frames ``first..last`` (see :class:`FrameProvider`)."""
        height, width = self._frames.shape[1:3]
        size = shown_size_for(width, height, max_side)
        sized = self._sized.get(size)
        if sized is None:
            if size == (width, height):
                sized = self._frames
            else:
                import cv2

                sized = np.stack(
                    [cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in self._frames]
                )
            self._sized[size] = sized
        return FrameBlock(0, sized, (size[0] / width, size[1] / height)).window(first, last)


def decode_video_block(sample: Sample, max_side: int) -> FrameBlock:
    """Every native frame of ``sample``'s video (RGB), longer side <= ``max_side``:
    :func:`stvg.data.video.decode_sample_frames` at every frame, ``max_frames`` ``None``.

    Raises:
        VideoError: the video cannot be read or does not match the annotation.
    """
    sampled = decode_sample_frames(sample, None, None, max_side)
    return block_of(sample, sampled.frames, sampled.shown_size)


def block_of(sample: Sample, frames: np.ndarray, shown_size: tuple[int, int]) -> FrameBlock:
    """The :class:`FrameBlock` of ``frames``, every native frame of ``sample``'s video
    from frame 0 on, shown at ``shown_size = (width, height)`` (scaled from the sample's
    annotated size, the pixels its boxes are in)."""
    width, height = shown_size
    return FrameBlock(0, frames, (width / sample.width, height / sample.height))


class VideoFileFrames:
    """A :class:`FrameProvider` that decodes ``sample``'s video file (PyAV).

    The first call decodes every native frame of the video at the asked ``max_side``
    (:func:`decode_video_block`) and keeps them while this object lives, so the answers
    of one sample decode it once.

    The first call raises :class:`~stvg.data.errors.VideoError` when the video cannot be
    read or does not match the annotation.

    Args:
        sample: a sample whose ``video_path`` exists and matches its annotation.
    """

    def __init__(self, sample: Sample) -> None:
        self.sample = sample
        self._blocks: dict[int, FrameBlock] = {}

    def __call__(self, first: int, last: int, max_side: int) -> FrameBlock:
        """Frames ``first..last`` (see :class:`FrameProvider`)."""
        block = self._blocks.get(int(max_side))
        if block is None:
            block = decode_video_block(self.sample, int(max_side))
            self._blocks[int(max_side)] = block
        return block.window(first, last)


__all__ = [
    "ArrayFrames",
    "FrameBlock",
    "FrameProvider",
    "VideoFileFrames",
    "block_of",
    "decode_video_block",
]
