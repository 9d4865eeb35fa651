"""An LRU cache of decoded, sampled video frames with a memory bound and hit/miss counters.

An env decodes a video's sampled frames once and keeps them while they fit: with a bound
large enough for the dataset, each video is decoded at most once per epoch. Entries are
keyed by what decides which frames are decoded and at which size (:func:`frame_key`): the
video file and a fingerprint of its content (so a video rewritten in place, even with
the same size and modification time, is decoded again), the annotated frame rate, frame
count and size the frames are sampled and checked by, and ``fps``, ``max_frames``,
``max_side``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import numpy as np

from stvg.data.fingerprint import file_fingerprint
from stvg.data.types import Sample

V = TypeVar("V")

FrameKey = tuple[Any, ...]


def frame_key(
    sample: Sample, fps: float | None, max_frames: int | None, max_side: int | None
) -> FrameKey:
    """The cache key of ``sample``'s video sampled at ``fps`` (``None`` = every frame), at
    most ``max_frames`` frames, longer side ``max_side`` pixels.

    The key holds the video path, :func:`~stvg.data.fingerprint.file_fingerprint` of the
    file (``None`` when it cannot be read: the decode then raises the error), and the
    sample's annotated ``native_fps``, ``num_frames``, ``width`` and ``height``.
    """
    try:
        fingerprint: str | None = file_fingerprint(sample.video_path)
    except OSError:
        fingerprint = None
    annotated = (float(sample.native_fps), sample.num_frames, sample.width, sample.height)
    sampling = (None if fps is None else float(fps), max_frames, max_side)
    return (str(sample.video_path), fingerprint, *annotated, *sampling)


def nbytes_of(value: Any) -> int:
    """Bytes held by ``value``: the sum of ``nbytes`` of its numpy array attributes (or of
    the value itself when it is an array)."""
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    fields = getattr(value, "__dict__", None)
    if fields is None and hasattr(value, "__dataclass_fields__"):
        fields = {name: getattr(value, name) for name in value.__dataclass_fields__}
    if fields is None:
        return 0
    return int(sum(v.nbytes for v in fields.values() if isinstance(v, np.ndarray)))


@dataclass
class CacheStats:
    """Counters of a :class:`FrameCache`.

    Attributes:
        hits: lookups served from memory.
        misses: lookups that decoded the video.
        evictions: entries dropped to respect the memory bound.
        bytes: bytes held now.
        entries: entries held now.
    """

    hits: int = 0
    misses: int = 0
    evictions: int = 0
    bytes: int = 0
    entries: int = 0

    def as_dict(self) -> dict[str, int]:
        """The counters as a plain dict (for ``info`` and logs)."""
        return {
            "hits": self.hits,
            "misses": self.misses,
            "evictions": self.evictions,
            "bytes": self.bytes,
            "entries": self.entries,
        }


class FrameCache(Generic[V]):
    """Least-recently-used cache bounded by memory (megabytes, 1 MB = 2**20 bytes).

    A value larger than the whole bound is returned but not kept. ``max_mb=0`` disables
    caching (every lookup is a miss).

    Args:
        max_mb: memory bound in megabytes (>= 0).
        size_of: bytes of a value (default :func:`nbytes_of`).
    """

    def __init__(self, max_mb: float, *, size_of: Callable[[Any], int] = nbytes_of) -> None:
        if not max_mb >= 0:
            raise ValueError(f"FrameCache max_mb must be a number >= 0, got {max_mb!r}")
        self.max_bytes = int(max_mb * 2**20)
        self._size_of = size_of
        self._items: OrderedDict[Hashable, tuple[V, int]] = OrderedDict()
        self.stats = CacheStats()

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._items

    def get_or_load(self, key: Hashable, load: Callable[[], V]) -> V:
        """The cached value of ``key``, or ``load()`` (stored when it fits).

        Args:
            key: a hashable key, e.g. :func:`frame_key`.
            load: called on a miss; its result is returned and cached.
        """
        entry = self._items.get(key)
        if entry is not None:
            self._items.move_to_end(key)
            self.stats.hits += 1
            return entry[0]
        self.stats.misses += 1
        value = load()
        size = int(self._size_of(value))
        if size <= self.max_bytes:
            self._items[key] = (value, size)
            self.stats.bytes += size
            while self.stats.bytes > self.max_bytes:
                _, (_, old_size) = self._items.popitem(last=False)
                self.stats.bytes -= old_size
                self.stats.evictions += 1
        self.stats.entries = len(self._items)
        return value

    def clear(self) -> None:
        """Drop every entry (the hit/miss counters are kept)."""
        self._items.clear()
        self.stats.bytes = 0
        self.stats.entries = 0


__all__ = ["CacheStats", "FrameCache", "FrameKey", "frame_key", "nbytes_of"]
