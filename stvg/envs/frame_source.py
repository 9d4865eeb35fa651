"""Sampled frames of a sample's video, decoded through the LRU frame cache, and padding.

Which frames are shown follows :func:`stvg.data.timing.sample_frame_indices` applied to the
*sample's* ``native_fps`` and ``num_frames`` (the numbers the verifier scores with); frames
that the file turns out not to have (a container that over-states its length) are left out.
"""

from __future__ import annotations

import numpy as np

from stvg.data.types import Sample
from stvg.data.video import SampledFrames, decode_sample_frames
from stvg.envs.frame_cache import CacheStats, FrameCache, frame_key


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


__all__ = ["FrameSource", "pad_frames"]
