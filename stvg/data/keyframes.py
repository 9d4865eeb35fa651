"""Where a video stream's keyframes are, in native frame indices, without decoding.

:func:`keyframe_index` reads the container's own index when it has one entry per frame
(MP4/MOV ``stss``/``stts`` tables, AVI ``idx1``): nothing is decoded or even demuxed, it
costs well under a millisecond for an hour of video. Entries are in decode order, so a
keyframe's position among them is its display index for closed GOPs (x264's default, every
MPEG-4 part 2 stream without B-frames); an open-GOP I-frame is displayed a few frames after
its position. :class:`~stvg.data.video.VideoReader` therefore checks the index where it
uses it: after each seek the first packet's timestamp says which frame the keyframe
really is, and a wrong entry is corrected (see :meth:`KeyframeIndex.correct`).

Containers whose index lists only keyframes or nothing (Matroska cues, MPEG-TS, raw
streams) are demuxed once instead: every packet's timestamp and keyframe flag, no decoding
(about 60 us a packet).
"""

from __future__ import annotations

from dataclasses import dataclass

import av
import numpy as np

from stvg.data.timing import round_half_up


@dataclass
class KeyframeIndex:
    """Display indices of the keyframes of one video stream.

    Attributes:
        key_idx: int64 array, sorted, 0-based native frame index of each keyframe (the first
            is 0 for any stream that starts with a keyframe).
        source: ``"container"`` (the container's per-frame index) or ``"demux"`` (one pass
            over the packets).
    """

    key_idx: np.ndarray
    source: str

    def at_or_before(self, frame_idx: int) -> int:
        """The last keyframe whose index is ``<= frame_idx`` (``0`` when none is)."""
        pos = int(np.searchsorted(self.key_idx, frame_idx, side="right")) - 1
        return int(self.key_idx[pos]) if pos >= 0 else 0

    def before(self, frame_idx: int) -> int | None:
        """The last keyframe strictly before ``frame_idx`` (``None`` when there is none)."""
        pos = int(np.searchsorted(self.key_idx, frame_idx, side="left")) - 1
        return int(self.key_idx[pos]) if pos >= 0 else None

    def correct(self, listed: int, actual: int) -> None:
        """A seek to the keyframe listed at ``listed`` found it displayed as frame ``actual``
        (an open-GOP I-frame): remember the true index."""
        pos = int(np.searchsorted(self.key_idx, listed))
        if pos < self.key_idx.size and self.key_idx[pos] == listed:
            self.key_idx[pos] = actual
            self.key_idx.sort()


def keyframe_index(
    path: str,
    stream: av.video.stream.VideoStream,
    *,
    num_frames: int,
    native_fps: float,
    start_pts: int | None,
) -> KeyframeIndex:
    """The keyframes of ``stream`` (opened from ``path``), see the module docstring.

    Args:
        path: the video file (opened a second time only for the demux pass).
        stream: the video stream of an open container (left where it is).
        num_frames: the frame count the container declares.
        native_fps: frames per second, to turn timestamps into frame indices.
        start_pts: timestamp of frame 0 in ``stream.time_base`` units (``None``: unknown,
            then only the container index can be used).
    """
    entries = getattr(stream, "index_entries", None) or ()  # older PyAV: no index access
    if len(entries) and abs(len(entries) - num_frames) <= 1:
        keys: list[int] = []
        position = 0
        for entry in entries:
            if entry.is_discard:
                continue
            if entry.is_keyframe:
                keys.append(position)
            position += 1
        if keys:
            return KeyframeIndex(np.asarray(keys, dtype=np.int64), "container")
    if start_pts is None:
        return KeyframeIndex(np.zeros(1, dtype=np.int64), "container")
    return _demuxed_index(path, stream.index, native_fps, start_pts)


def _demuxed_index(
    path: str, stream_index: int, native_fps: float, start_pts: int
) -> KeyframeIndex:
    """Keyframes from one demux pass: each keyframe packet's timestamp -> frame index."""
    keys: list[int] = []
    with av.open(path) as container:
        stream = container.streams[stream_index]
        frames_per_tick = float(stream.time_base) * native_fps
        for packet in container.demux(stream):
            if packet.is_keyframe and packet.pts is not None:
                keys.append(int(round_half_up((packet.pts - start_pts) * frames_per_tick)))
    key_idx = np.unique(np.asarray([k for k in keys if k >= 0] or [0], dtype=np.int64))
    return KeyframeIndex(key_idx, "demux")
