"""Sampled frames of a sample's video, decoded through the LRU frame cache, and padding.

Which frames are shown follows :func:`stvg.data.timing.sample_frame_indices` applied to the
*sample's* ``native_fps`` and ``num_frames`` (the numbers the verifier scores with); frames
that the file turns out not to have (a container that over-states its length) are left out.

The densify method ``track`` reads every native frame between the shown ones:
:meth:`FrameSource.native` hands the verifier a
:class:`~stvg.tubes.frames.FrameProvider` for a sample, which decodes every native frame
of the video at the size the tracker asks for on its first call, once per sample, and
keeps them in the same LRU cache as the shown frames, under the same rule (key:
:func:`~stvg.envs.frame_cache.frame_key` with ``fps`` and ``max_frames`` ``None`` and the
tracker's ``max_side``: a frame-level env of that ``max_side`` shares the entry).
"""

from __future__ import annotations

import numpy as np

from stvg.data.types import Sample
from stvg.data.video import SampledFrames, decode_sample_frames
from stvg.envs.frame_cache import CacheStats, FrameCache, frame_key
from stvg.tubes.frames import FrameBlock, block_of


class FrameSource:
    """Decodes the frames an env shows for a sample, at most once while they stay cached.

    Args:
        fps: frames sampled per second of video (``None`` = every native frame).
        max_frames: most frames per video (``None`` = no limit).
        max_side: longer side of the shown frames in pixels.
        cache_mb: memory bound of the frame cache in MB (0 = no cache).
    """

    def __init__(
        self, fps: float | None, max_frames: int | None, max_side: int, cache_mb: float
    ) -> None:
        self.fps = fps
        self.max_frames = max_frames
        self.max_side = max_side
        self.cache: FrameCache[SampledFrames] = FrameCache(cache_mb)

    @property
    def stats(self) -> CacheStats:
        """Hit/miss/eviction counters of the frame cache."""
        return self.cache.stats

    def frames(self, sample: Sample) -> SampledFrames:
        """The shown frames of ``sample``'s video (uint8 RGB, longer side <= ``max_side``).

        Raises:
            VideoError: the video cannot be read or yields no frame.
        """
        key = frame_key(sample, self.fps, self.max_frames, self.max_side)
        return self.cache.get_or_load(key, lambda: self._decode(sample))

    def _decode(self, sample: Sample) -> SampledFrames:
        return decode_sample_frames(sample, self.fps, self.max_frames, self.max_side)

    def native(self, sample: Sample) -> NativeFrames:
        """A :class:`~stvg.tubes.frames.FrameProvider` of every native frame of
        ``sample``'s video (nothing is decoded until a densify method asks)."""
        return NativeFrames(self.cache, sample)


class NativeFrames:
    """Every native frame of one sample's video, through a frame cache: the
    :class:`~stvg.tubes.frames.FrameProvider` an env gives its verifier (see the module
    docstring).

    Args:
        cache: the env's frame cache (the video is kept there while it fits).
        sample: the sample whose video is read.

    The frames of each ``max_side`` are also held by this object, so the answers of one
    episode decode the video once even with the cache off (``frame_cache_mb: 0``).
    """

    def __init__(self, cache: FrameCache[SampledFrames], sample: Sample) -> None:
        self.cache = cache
        self.sample = sample
        self._blocks: dict[int, FrameBlock] = {}

    def __call__(self, first: int, last: int, max_side: int) -> FrameBlock:
        """Native frames ``first..last`` (RGB), longer side <= ``max_side`` pixels.

        Raises:
            VideoError: the video cannot be read or does not match the annotation.
        """
        side = int(max_side)
        block = self._blocks.get(side)
        if block is None:
            key = frame_key(self.sample, None, None, side)
            sampled = self.cache.get_or_load(
                key, lambda: decode_sample_frames(self.sample, None, None, side)
            )
            block = block_of(self.sample, sampled.frames, sampled.shown_size)
            self._blocks[side] = block
        return block.window(first, last)


def pad_frames(frames: np.ndarray, max_frames: int, max_side: int) -> tuple[np.ndarray, np.ndarray]:
    """Place ``frames`` top-left in a zero canvas ``[max_frames, max_side, max_side, 3]``.

    Args:
        frames: uint8 ``[T, H, W, 3]`` with ``T <= max_frames`` and ``H, W <= max_side``.
        max_frames: number of frame slots.
        max_side: side of the square canvas in pixels.

    Returns:
        ``(canvas, mask)``: the uint8 canvas and an int8 ``[max_frames]`` mask (1 = real).
    """
    count, height, width = frames.shape[:3]
    if count > max_frames or height > max_side or width > max_side:
        raise ValueError(
            f"pad_frames: frames of shape {frames.shape} do not fit "
            f"[{max_frames}, {max_side}, {max_side}, 3]"
        )
    canvas = np.zeros((max_frames, max_side, max_side, 3), dtype=np.uint8)
    canvas[:count, :height, :width] = frames
    mask = np.zeros(max_frames, dtype=np.int8)
    mask[:count] = 1
    return canvas, mask


__all__ = ["FrameSource", "NativeFrames", "pad_frames"]
