"""Reading videos with PyAV and sampling their frames at any rate.

:class:`VideoReader` opens one video file with PyAV (FFmpeg) and returns
:class:`SampledFrames`: RGB uint8 frames, their 0-based native frame indices and their
timestamps in seconds. Which frames a rate selects is decided by
:func:`stvg.data.timing.sample_frame_indices` (the one place of that rule); this module only
decodes them.

**Decoding only what is needed.** The reader drives the demuxer and the decoder packet by
packet (FFmpeg frame + slice threads, ``thread_type="AUTO"``):

* *Keyframe-aware seeking.* Where the keyframes are comes from the container's index
  (:mod:`stvg.data.keyframes`; no decoding). For each wanted frame the reader seeks to the
  last keyframe at or before it when that keyframe lies past the packets already fed (more
  than :data:`SEEK_MIN_SKIPPED` frames ahead), and decodes forward otherwise. Before a seek
  the decoder is drained right after the wanted frame's packet, so no packet past it is
  decoded for nothing. Short GOPs (keyint 30, OpenCV's mp4v with a keyframe every 12
  frames) thus decode a few frames per sample at 1 fps; long GOPs decode forward.
* *Non-reference frames are skipped.* A packet whose frame is not wanted and that lies
  before the last wanted frame is not decoded if no other frame refers to it (half the
  frames of x264's default B-pyramid): H.264 packets of disposable pictures are not even
  sent to the decoder (:mod:`stvg.data.nal`), other codecs' are sent with
  ``skip_frame="NONREF"`` (FFmpeg drops them, and decodes those that are references). The
  frames returned are exactly those of a full decode.
* *Colour conversion only for returned frames* (to ``rgb24``, by one
  ``VideoReformatter`` per reader, which keeps its swscale context from frame to frame),
  with the resize to ``max_side`` done by the same swscale call
  (:data:`RESIZE_INTERPOLATION`); each frame is copied once, into the output array.

``seek_policy="grab"`` never seeks forward (decodes through every gap); ``"seek"`` seeks
whenever the wanted frame is not the next one. Every policy returns identical frames.

**Frame numbers.** Frame ``i`` is the ``i``-th frame in display order: its index is
``round((pts - pts_0) * time_base * native_fps)``, with ``pts_0`` the timestamp of the first
frame, which equals counting frames from the stream start for constant-rate streams, B-frame
reordering included. Each frame's timestamp is checked: one that is missing, off the frame
grid by more than a quarter frame, or not increasing (variable frame rate, broken muxing)
switches the reader, with a warning, to counting decoded frames from the start of the
stream without seeking (exact, slower). After a seek the first packet's timestamp is checked
too: a keyframe that turns out to be displayed after the wanted frame (an open-GOP I-frame)
is corrected in the index and an earlier keyframe is used.

**Frame count.** As OpenCV reports it (so annotations that index frames by OpenCV's count
keep their meaning): the stream's ``nb_frames`` when the container stores it, otherwise
``round(duration_s * native_fps)``, otherwise the packets are counted once by demuxing. When
the count is too large (a truncated download, a duration-based estimate), a frame that
cannot be decoded within the last :data:`END_TOLERANCE_S` seconds (or 2 % of the frames) of
the declared length shortens the video: :attr:`VideoReader.num_frames` becomes the index of
the first frame that could not be decoded, the frames requested beyond it are left out of
the result, and a warning names the file, the declared and the decodable counts. A frame
that fails earlier than that is a :class:`~stvg.data.errors.VideoError` (corrupt or
truncated file).

Pixels differ slightly from those of the OpenCV reader this module replaced (another YUV to
RGB conversion); :data:`READER_VERSION` names the decoder so that caches of decoded frames
can key on it.
"""

from __future__ import annotations

import collections
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Literal

import av
import av.error
import numpy as np
from av.video.reformatter import VideoReformatter

from stvg.data.errors import VideoError
from stvg.data.keyframes import KeyframeIndex, keyframe_index
from stvg.data.nal import h264_length_size, is_disposable
from stvg.data.timing import round_half_up, sample_frame_indices, time_of_frame
from stvg.data.types import Sample
from stvg.limits import short_repr

logger = logging.getLogger(__name__)

SeekPolicy = Literal["auto", "grab", "seek"]
SEEK_POLICIES: tuple[str, ...] = ("auto", "grab", "seek")

#: Names the decoder and its colour conversion; caches of decoded frames key on it.
READER_VERSION = "pyav-1"
#: Seek only when it skips more than this many frames (a seek drains the thread pipeline).
SEEK_MIN_SKIPPED = 2  # frames
END_TOLERANCE_S = 1.0  # seconds; a failed read this close to the declared end shortens
#: A video may differ from its annotation by this share of the frame count, fps and size
#: (:func:`annotation_mismatch`), or by END_TOLERANCE_S of frames / this many pixels.
ANNOTATION_TOLERANCE = 0.02
ANNOTATION_TOLERANCE_PX = 2
#: swscale algorithm of the resize to ``max_side`` (``None`` at native size: FFmpeg's default).
RESIZE_INTERPOLATION = "AREA"
_GRID_TOLERANCE = 0.25  # frames; a timestamp farther than this from the frame grid is VFR


@dataclass
class DecodeStats:
    """Work done by one :class:`VideoReader` since it was opened (counts).

    Attributes:
        seeks: container seeks (rewinds to the start included).
        packets_fed: packets sent to the decoder.
        packets_nonref: of those, packets sent with ``skip_frame="NONREF"`` (decoded only
            when another frame refers to them).
        packets_dropped: unwanted H.264 packets of disposable pictures, never sent.
        frames_decoded: frames that came out of the decoder.
        frames_returned: frames converted to RGB and returned.
    """

    seeks: int = 0
    packets_fed: int = 0
    packets_nonref: int = 0
    packets_dropped: int = 0
    frames_decoded: int = 0
    frames_returned: int = 0


class _Renumber(Exception):
    """Timestamps cannot number the frames: restart the read counting frames instead."""


@dataclass(frozen=True)
class SampledFrames:
    """Frames decoded from one video.

    Attributes:
        frames: uint8 array ``[T, H, W, 3]``, RGB, ``H x W`` = ``shown_size`` reversed.
        frame_idx: int64 array ``[T]``, strictly increasing 0-based native frame indices.
        timestamps_s: float64 array ``[T]``, seconds: ``frame_idx / native_fps``
            (:func:`stvg.data.timing.time_of_frame`).
        shown_size: ``(width, height)`` in pixels of the returned frames (after ``max_side``).
        original_size: ``(width, height)`` in pixels of the video.
        native_fps: frames per second of the video.
    """

    frames: np.ndarray
    frame_idx: np.ndarray
    timestamps_s: np.ndarray
    shown_size: tuple[int, int]
    original_size: tuple[int, int]
    native_fps: float

    def __len__(self) -> int:
        return int(self.frame_idx.shape[0])

    @property
    def scale(self) -> tuple[float, float]:
        """``(sx, sy)``: shown pixels per original pixel along x and y."""
        return (
            self.shown_size[0] / self.original_size[0],
            self.shown_size[1] / self.original_size[1],
        )


def shown_size_for(width: int, height: int, max_side: int | None) -> tuple[int, int]:
    """``(width, height)`` after shrinking so the longer side is ``<= max_side``.

    The aspect ratio is kept and sizes are rounded to the nearest integer (at least 1).
    ``max_side=None``, or a video already small enough, keeps the original size; frames are
    never enlarged.

    >>> shown_size_for(640, 360, 320)
    (320, 180)
    >>> shown_size_for(64, 48, 40)
    (40, 30)
    """
    if max_side is None or max(width, height) <= max_side:
        return int(width), int(height)
    if max_side <= 0:
        raise ValueError(f"max_side must be a positive number of pixels or None, got {max_side}")
    scale = max_side / max(width, height)
    return max(1, int(round(width * scale))), max(1, int(round(height * scale)))


class VideoReader:
    """One video file opened for frame sampling (PyAV / FFmpeg).

    Args:
        path: the video file.
        seek_policy: how to skip frames between wanted ones: ``"auto"`` (seek when the
            wanted frame lies past the next keyframe, see the module docstring), ``"grab"``
            (decode through every gap) or ``"seek"`` (seek whenever the wanted frame is not
            the next one).

    Raises:
        VideoError: the file does not exist, FFmpeg cannot open it, or it has no video
            stream, no decodable frame, no size or no frame rate.

    Use as a context manager (or call :meth:`close`)::

        with VideoReader("clip.mp4") as video:
            sampled = video.sample(1.0, max_side=448)
    """

    def __init__(self, path: str | Path, *, seek_policy: SeekPolicy = "auto") -> None:
        self._container: av.container.InputContainer | None = None
        if seek_policy not in SEEK_POLICIES:
            raise ValueError(f"seek_policy must be one of {SEEK_POLICIES}, got {seek_policy!r}")
        self._path = Path(path)
        self._seek_policy: SeekPolicy = seek_policy
        try:
            found = self._path.is_file()
        except OSError as exc:  # a name too long for the file system, ...
            raise VideoError(
                f"video file cannot be looked up ({exc.strerror or exc})",
                path=short_repr(str(self._path)),
                hint="check the dataset's video_dir and the sample ids",
            ) from None
        if not found:
            raise VideoError(
                "video file not found",
                path=str(self._path),
                hint="check the dataset's video_dir, or load annotations only",
            )
        self._count_mode = False  # number frames by counting them (timestamps unusable)
        self.stats = DecodeStats()
        self._open()
        stream = self._stream
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        self._native_fps = float(rate) if rate else 0.0
        self._width = int(stream.codec_context.width)
        self._height = int(stream.codec_context.height)
        if not math.isfinite(self._native_fps) or self._native_fps <= 0:
            raise self._unreadable(f"no frame rate (average_rate={stream.average_rate})")
        self._frames_per_tick = float(stream.time_base or 0) * self._native_fps
        self._start_pts: int | None = None
        frames, fed_pts = self._first_frames()
        if not frames:
            raise self._unreadable("not even its first frame can be decoded")
        self._start_pts = frames[0].pts
        if self._width <= 0 or self._height <= 0:  # a raw stream: the size of its frames
            self._width, self._height = int(frames[0].width), int(frames[0].height)
        if self._width <= 0 or self._height <= 0:
            raise self._unreadable(f"no frame size ({self._width}x{self._height})")
        if self._start_pts is None or self._frames_per_tick <= 0:
            self._count_mode = True
        self._pending.append((0, frames[0]))
        self._count, self._last_pushed = 1, 0
        self.stats.frames_decoded += 1
        for pts in fed_pts:
            idx = self._packet_idx_of_pts(pts)
            if idx is not None:
                self._fed.add(idx)
                self._fed_max = max(self._fed_max, idx)
        try:
            self._push(frames[1:])
        except _Renumber as reason:
            self._switch_to_counting(str(reason))
        declared = self._declared_count()
        self._declared_frames = declared if declared > 0 else self._count_packets()
        self._num_frames = self._declared_frames
        self._index: KeyframeIndex | None = None

    # ------------------------------------------------------------------ properties
    @property
    def path(self) -> Path:
        """The video file."""
        return self._path

    @property
    def native_fps(self) -> float:
        """Frames per second stored in the container (its average frame rate)."""
        return self._native_fps

    @property
    def num_frames(self) -> int:
        """Number of frames (may shrink after a failed read near the end, see module doc)."""
        return self._num_frames

    @property
    def width(self) -> int:
        """Frame width in pixels."""
        return self._width

    @property
    def height(self) -> int:
        """Frame height in pixels."""
        return self._height

    @property
    def duration_s(self) -> float:
        """Length in seconds: ``num_frames / native_fps``."""
        return self._num_frames / self._native_fps

    @property
    def keyframes(self) -> np.ndarray:
        """int64 array of the keyframes' native frame indices (from the container index)."""
        return self._keyframes().key_idx.copy()

    # ------------------------------------------------------------------ lifecycle
    def close(self) -> None:
        """Release the decoder; the reader cannot be used afterwards."""
        if self._container is not None:
            self._pending.clear()
            self._container.close()
            self._container = None

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_container", None) is not None:
            self.close()

    def __repr__(self) -> str:
        return (
            f"VideoReader({str(self._path)!r}, {self._width}x{self._height}, "
            f"{self._native_fps:g} fps, {self._num_frames} frames)"
        )

    # ------------------------------------------------------------------ sampling
    def sample(
        self,
        fps: float | None,
        *,
        max_frames: int | None = None,
        max_side: int | None = None,
    ) -> SampledFrames:
        """Frames sampled at ``fps`` frames per second (``None``: every native frame).

        Which frames are taken follows :func:`stvg.data.timing.sample_frame_indices`
        (``max_frames`` keeps that many, evenly spread, first and last included).
        ``max_side`` shrinks frames so the longer side is ``<= max_side`` pixels
        (:func:`shown_size_for`; swscale :data:`RESIZE_INTERPOLATION`, aspect kept).
        """
        frame_idx = sample_frame_indices(self._native_fps, self._num_frames, fps, max_frames)
        return self.read_frames(frame_idx, max_side=max_side)

    def read_frames(self, frame_idx: np.ndarray, *, max_side: int | None = None) -> SampledFrames:
        """Decode the given native frames (strictly increasing, 0-based, inside the video).

        Args:
            frame_idx: int array ``[T]`` of native frame indices.
            max_side: shrink frames so the longer side is ``<= max_side`` pixels.

        Returns:
            :class:`SampledFrames` with those frames (fewer only when the video turns out to
            be shorter than its container says, see the module docstring).
        """
        self._require_open()
        wanted = np.asarray(frame_idx).reshape(-1)
        if wanted.size and not np.issubdtype(wanted.dtype, np.integer):
            raise TypeError(f"frame_idx must be integers, got dtype {wanted.dtype}")
        wanted = wanted.astype(np.int64)
        if wanted.size > 1 and np.any(np.diff(wanted) <= 0):
            raise ValueError("frame_idx must be strictly increasing (sorted, no duplicates)")
        if wanted.size and (wanted[0] < 0 or wanted[-1] >= self._num_frames):
            raise ValueError(
                f"frame_idx must lie in [0, {self._num_frames - 1}] for {self._path} "
                f"({self._num_frames} frames), got [{wanted[0]}, {wanted[-1]}]"
            )
        shown_w, shown_h = shown_size_for(self._width, self._height, max_side)
        out = np.empty((wanted.size, shown_h, shown_w, 3), dtype=np.uint8)
        try:
            kept = self._decode_into(wanted.tolist(), out)
        except _Renumber as reason:
            self._switch_to_counting(str(reason))
            kept = self._decode_into(wanted.tolist(), out)
        # Frames fed as skippable may never come out: a later read of one must seek.
        self._next_idx = max(self._next_idx, self._nonref_max + 1)
        kept_idx = wanted[:kept].copy()
        return SampledFrames(
            frames=out[:kept] if kept < wanted.size else out,
            frame_idx=kept_idx,
            timestamps_s=np.asarray(time_of_frame(kept_idx, self._native_fps), dtype=np.float64),
            shown_size=(shown_w, shown_h),
            original_size=(self._width, self._height),
            native_fps=self._native_fps,
        )

    # ------------------------------------------------------------------ decoding plan
    def _decode_into(self, wanted: list[int], out: np.ndarray) -> int:
        """Decode ``wanted`` into ``out``; returns how many were decoded (a prefix)."""
        wanted_set = set(wanted)
        last = wanted[-1] if wanted else -1
        shown_h, shown_w = out.shape[1:3]
        native = (shown_w, shown_h) == (self._width, self._height)
        for i, target in enumerate(wanted):
            if target >= self._num_frames:  # the video was shortened by an earlier failure
                return i
            following = wanted[i + 1] if i + 1 < len(wanted) else None
            frame = self._get(target, following, last, wanted_set)
            if frame is None:
                return i
            if native:
                rgb = self._reformatter.reformat(frame, format="rgb24")
            else:
                rgb = self._reformatter.reformat(
                    frame,
                    width=shown_w,
                    height=shown_h,
                    format="rgb24",
                    interpolation=RESIZE_INTERPOLATION,
                )
            out[i] = rgb.to_ndarray()
            self.stats.frames_returned += 1
        return len(wanted)

    def _get(
        self, target: int, following: int | None, last: int, wanted: set[int]
    ) -> av.VideoFrame | None:
        """The decoded frame ``target`` (or ``None`` after shortening the video).

        ``following`` is the next wanted frame (``None``: none in this call), ``last`` the
        last one and ``wanted`` all of them: they decide seeks, drains and skipped frames.
        """
        frame = self._from_pending(target)
        if frame is not None:
            return frame
        if target < self._next_idx or self._should_seek(target):
            self._seek(target)
            frame = self._from_pending(target)
            if frame is not None:
                return frame
        while True:
            if self._pending:  # frames before the target were dropped: the head is past it
                return self._missing(target)
            if self._exhausted or self._drained:
                return self._at_end(target)
            packet_idx = self._feed(last, wanted)
            if packet_idx == target:
                if (
                    following is not None
                    and not self._count_mode
                    and self._should_seek(following, after_drain=False)
                ):
                    self._drain()  # the next wanted frame needs a seek: decode nothing more
            frame = self._from_pending(target)
            if frame is not None:
                return frame

    def _should_seek(self, target: int, *, after_drain: bool = True) -> bool:
        """Whether to seek for ``target`` (not yet decoded, not behind the decoder)."""
        if self._drained and after_drain:
            return True  # a drained decoder takes packets again only after a seek
        if self._count_mode or self._seek_policy == "grab":
            return False
        key = self._keyframes().at_or_before(target)
        if self._seek_policy == "seek":
            return target > self._fed_max + 1 or (key > self._gop_key)
        return key > self._gop_key and key - self._fed_max > SEEK_MIN_SKIPPED

    # ------------------------------------------------------------------ decoder state
    def _open(self) -> None:
        """Open the container and reset the decoding state (frame 0 comes next)."""
        try:
            container = av.open(str(self._path))
        except (av.error.FFmpegError, OSError, ValueError) as exc:
            raise self._unreadable(f"FFmpeg cannot open it ({exc})") from None
        if not container.streams.video:
            container.close()
            raise self._unreadable("it has no video stream")
        self._container = container
        self._stream = container.streams.video[0]
        self._stream.thread_type = "AUTO"
        self._codec = self._stream.codec_context
        self._codec.skip_frame = self._skip = "DEFAULT"
        # One reformatter per reader: it keeps its swscale context from frame to frame
        # (VideoFrame.to_ndarray(format=...) builds a new one per frame, which took about
        # half of reading every frame of a 360p video)
        self._reformatter = VideoReformatter()
        self._length_size = h264_length_size(self._codec.name, self._codec.extradata)
        self._reset_state(next_idx=0)

    def _reset_state(self, *, next_idx: int) -> None:
        self._demux = self._require_open().demux(self._stream)
        self._lookahead: av.Packet | None = None
        self._pending: collections.deque[tuple[int, av.VideoFrame]] = collections.deque()
        self._next_idx = next_idx  # frames before it were passed (or cannot come any more)
        self._last_pushed = next_idx - 1  # index of the last frame out of the decoder
        self._fed_max = next_idx - 1  # highest frame index among the packets fed
        self._gop_key = next_idx  # the keyframe the decoder started from (or passed last)
        self._drained = False  # the decoder was sent end-of-stream
        self._exhausted = False  # the demuxer has no packet left and the decoder is drained
        self._count = next_idx  # frames counted so far (count mode)
        self._fed: set[int] = set()  # frame indices of the packets fed since the last seek
        self._nonref_max = -1  # highest frame index fed as skippable (it may never come out)

    def _require_open(self) -> av.container.InputContainer:
        if self._container is None:
            raise ValueError(f"VideoReader for {self._path} is closed")
        return self._container

    def _first_frames(self) -> tuple[list[av.VideoFrame], list[int | None]]:
        """Feed packets until frames come out; returns them (``[]``: the stream has none)
        and the timestamps of the packets fed."""
        fed_pts: list[int | None] = []
        while True:
            packet = self._next_packet()
            if packet is None:
                self._drained = self._exhausted = True
                return self._decode(None), fed_pts
            fed_pts.append(packet.pts)
            self.stats.packets_fed += 1
            frames = self._decode(packet)
            if frames:
                return frames, fed_pts

    def _next_packet(self) -> av.Packet | None:
        """The next non-empty packet of the stream (``None`` at the end of the data)."""
        if self._lookahead is not None:
            packet, self._lookahead = self._lookahead, None
            return packet
        while True:
            try:
                packet = next(self._demux)
            except StopIteration:
                return None
            except av.error.FFmpegError as exc:  # a truncated or corrupt file: data ends
                logger.debug("%s: demuxing stopped (%s)", self._path, exc)
                return None
            if packet.size:
                return packet

    def _packet_idx(self, packet: av.Packet) -> int | None:
        return self._packet_idx_of_pts(packet.pts)

    def _packet_idx_of_pts(self, pts: int | None) -> int | None:
        if self._count_mode or pts is None or self._start_pts is None:
            return None
        return int(round_half_up((pts - self._start_pts) * self._frames_per_tick))

    def _feed(self, last: int, wanted: set[int]) -> int | None:
        """Decode the next packet (or drain at the end); returns its frame index if known."""
        packet = self._next_packet()
        if packet is None:
            self._drain()
            self._exhausted = True
            return None
        idx = self._packet_idx(packet)
        skip = "DEFAULT"
        if idx is not None:
            if packet.is_keyframe and idx > self._gop_key:
                self._gop_key = idx
            self._fed_max = max(self._fed_max, idx)
            self._fed.add(idx)
            if idx < last and idx not in wanted and not packet.is_keyframe:
                self._nonref_max = max(self._nonref_max, idx)
                if self._length_size and is_disposable(memoryview(packet), self._length_size):
                    self.stats.packets_dropped += 1
                    return idx  # a disposable picture nobody wants: not even sent
                skip = "NONREF"
        if skip != self._skip:
            self._codec.skip_frame = self._skip = skip
        self.stats.packets_fed += 1
        self.stats.packets_nonref += skip == "NONREF"
        self._push(self._decode(packet))
        return idx

    def _decode(self, packet: av.Packet | None) -> list[av.VideoFrame]:
        try:
            return self._codec.decode(packet)
        except av.error.EOFError:
            return []
        except av.error.FFmpegError as exc:  # a corrupt packet: its frame will be missing
            logger.debug("%s: a packet could not be decoded (%s)", self._path, exc)
            return []

    def _drain(self) -> None:
        if not self._drained:
            self._drained = True
            self._push(self._decode(None))

    def _push(self, frames: list[av.VideoFrame]) -> None:
        """Number the decoded ``frames`` and queue those not yet passed."""
        self.stats.frames_decoded += len(frames)
        for frame in frames:
            if self._count_mode:
                idx = self._count
                self._count += 1
            else:
                idx = self._frame_idx(frame)
                if idx <= self._last_pushed:
                    raise _Renumber(
                        f"frame timestamps are not increasing (frame {idx} after "
                        f"{self._last_pushed})"
                    )
            self._last_pushed = idx
            if idx >= self._next_idx:
                self._pending.append((idx, frame))

    def _frame_idx(self, frame: av.VideoFrame) -> int:
        if frame.pts is None:
            raise _Renumber("a decoded frame has no timestamp")
        position = (frame.pts - self._start_pts) * self._frames_per_tick
        idx = int(round_half_up(position))
        if abs(position - idx) > _GRID_TOLERANCE:
            raise _Renumber(
                f"frame timestamps are off the {self._native_fps:g} fps grid (a frame at "
                f"{position:.2f} frames; variable frame rate?)"
            )
        return idx

    def _from_pending(self, target: int) -> av.VideoFrame | None:
        """Pop ``target`` from the decoded frames (dropping those before it)."""
        pending = self._pending
        while pending and pending[0][0] < target:
            pending.popleft()
        if pending and pending[0][0] == target:
            self._next_idx = target + 1
            return pending.popleft()[1]
        return None

    # ------------------------------------------------------------------ seeking
    def _keyframes(self) -> KeyframeIndex:
        if self._index is None:
            self._index = keyframe_index(
                str(self._path),
                self._stream,
                num_frames=self._declared_frames,
                native_fps=self._native_fps,
                start_pts=self._start_pts,
            )
        return self._index

    def _seek(self, target: int) -> None:
        """Position the decoder at the last keyframe at or before ``target``."""
        if self._count_mode:
            self._rewind()
            return
        index = self._keyframes()
        key = index.at_or_before(target)
        while True:
            if key == 0:
                self._rewind()
                return
            ticks = (key + _GRID_TOLERANCE) / self._frames_per_tick
            container = self._require_open()
            self.stats.seeks += 1
            try:
                container.seek(self._start_pts + int(ticks), stream=self._stream)
            except av.error.FFmpegError as exc:
                logger.debug("%s: seek to frame %d failed (%s)", self._path, key, exc)
                key = index.before(key) or 0
                continue
            self._codec.flush_buffers()
            self._reset_state(next_idx=0)
            first = self._next_packet()
            landed = None if first is None else self._packet_idx(first)
            if first is None or landed is None:  # no data there (a truncated file)
                key = index.before(key) or 0
                continue
            self._lookahead = first
            if landed > target:  # the keyframe is displayed after the target (open GOP)
                if first.is_keyframe:
                    index.correct(key, landed)
                key = index.before(min(key, landed)) or 0
                continue
            self._reset_position(landed)
            return

    def _reset_position(self, landed: int) -> None:
        lookahead = self._lookahead
        self._reset_state(next_idx=landed)
        self._lookahead = lookahead
        self._last_pushed = -1  # open-GOP leading frames may come out before the keyframe
        self._fed_max = landed - 1

    def _rewind(self) -> None:
        """Back to frame 0: seek to the stream start (in count mode, or when seeking fails:
        reopen the file)."""
        container = self._require_open()
        self.stats.seeks += 1
        if not self._count_mode:
            try:
                container.seek(self._start_pts or 0, stream=self._stream)
                self._codec.flush_buffers()
                self._reset_state(next_idx=0)
                self._last_pushed = -1
                return
            except av.error.FFmpegError as exc:
                logger.debug("%s: seek to the start failed (%s); reopening", self._path, exc)
        container.close()
        self._open()

    def _switch_to_counting(self, reason: str) -> None:
        logger.warning(
            "%s: %s; numbering frames by counting them from the start of the stream from now "
            "on (slower, exact)",
            self._path,
            reason,
        )
        self._require_open().close()
        self._count_mode = True
        self._open()

    # ------------------------------------------------------------------ failures
    def _missing(self, target: int) -> av.VideoFrame | None:
        """Frames after ``target`` came out but not ``target`` itself."""
        if not self._count_mode and target not in self._fed:
            raise _Renumber(f"no packet has the timestamp of frame {target}")
        self._shorten(target)  # its packet was fed but could not be decoded
        return None

    def _at_end(self, target: int) -> av.VideoFrame | None:
        """The data ended before ``target``: the first frame without a decodable packet
        cannot be decoded."""
        failed = self._last_pushed + 1
        if not self._count_mode:
            fed_ok = target if target in self._fed else self._fed_max + 1
            failed = max(failed, min(fed_ok, target))
        self._shorten(failed)
        return None

    def _declared_count(self) -> int:
        """The frame count as OpenCV reports it: ``nb_frames``, else duration x fps."""
        stream = self._stream
        if stream.frames and stream.frames > 0:
            return int(stream.frames)
        container = self._require_open()
        duration_s = 0.0
        if container.duration:
            duration_s = container.duration / av.time_base
        elif stream.duration and stream.time_base:
            duration_s = float(stream.duration * stream.time_base)
        return int(math.floor(duration_s * self._native_fps + 0.5))

    def _count_packets(self) -> int:
        """Count the stream's packets in one demux pass (no decoding) on a second handle."""
        count = 0
        with av.open(str(self._path)) as container:
            for packet in container.demux(container.streams.video[0]):
                count += 1 if packet.size else 0
        logger.info("%s stores no frame count; counted %d frames by demuxing", self._path, count)
        return count

    def _unreadable(self, reason: str) -> VideoError:
        return VideoError(
            f"video file is unreadable: {reason}",
            path=str(self._path),
            hint="the file may be corrupt, truncated or in an unsupported format; "
            "re-download or re-encode it (e.g. ffmpeg -i in.mp4 -c:v libx264 out.mp4)",
        )

    def _shorten(self, failed_idx: int) -> None:
        """Frame ``failed_idx`` cannot be decoded: shorten the video or raise."""
        tolerance = max(
            int(math.ceil(END_TOLERANCE_S * self._native_fps)),
            int(math.ceil(0.02 * self._declared_frames)),
        )
        if failed_idx < self._declared_frames - tolerance or failed_idx <= 0:
            raise VideoError(
                f"video file is unreadable: frame {failed_idx} of {self._declared_frames} "
                "cannot be decoded",
                path=str(self._path),
                hint="the file is corrupt or truncated; re-download or re-encode it",
            )
        if failed_idx < self._num_frames:
            logger.warning(
                "%s: the container declares %d frames but frame %d cannot be decoded; "
                "treating the video as %d frames long",
                self._path,
                self._declared_frames,
                failed_idx,
                failed_idx,
            )
            self._num_frames = failed_idx


def annotation_mismatch(sample: Sample, reader: VideoReader) -> str | None:
    """How the opened video disagrees with ``sample``'s annotation, or ``None``.

    Tolerance (the same for every dataset): the frame count may differ by
    :data:`END_TOLERANCE_S` seconds of frames or :data:`ANNOTATION_TOLERANCE` (2 %) of the
    annotated count, whichever is more (the slack the reader allows a container that
    over-states its length); the frame rate by 2 %; the width and the height by 2 % or
    :data:`ANNOTATION_TOLERANCE_PX` pixels, whichever is more. Past that, frames would be
    shown at the wrong times or missing and the ground truth would lie past the video.

    Returns:
        ``"30 frames in the file, 100 annotated; ..."`` naming every number that disagrees.
    """
    problems = []
    frames_tolerance = max(
        math.ceil(END_TOLERANCE_S * sample.native_fps),
        math.ceil(ANNOTATION_TOLERANCE * sample.num_frames),
    )
    if abs(reader.num_frames - sample.num_frames) > frames_tolerance:
        problems.append(f"{reader.num_frames} frames in the file, {sample.num_frames} annotated")
    if abs(reader.native_fps - sample.native_fps) > ANNOTATION_TOLERANCE * sample.native_fps:
        problems.append(f"{reader.native_fps:g} fps in the file, {sample.native_fps:g} annotated")
    for name, actual, annotated in (
        ("width", reader.width, sample.width),
        ("height", reader.height, sample.height),
    ):
        if abs(actual - annotated) > max(ANNOTATION_TOLERANCE_PX, ANNOTATION_TOLERANCE * annotated):
            problems.append(f"{name} {actual} px in the file, {annotated} annotated")
    return "; ".join(problems) if problems else None


def _check_annotation(sample: Sample, reader: VideoReader) -> None:
    mismatch = annotation_mismatch(sample, reader)
    if mismatch is not None:
        raise VideoError(
            f"the video does not match its annotation: {mismatch} (tolerance: "
            f"{END_TOLERANCE_S:g} s of frames or {ANNOTATION_TOLERANCE:.0%} of the count, "
            f"{ANNOTATION_TOLERANCE:.0%} of the fps and of the size)",
            path=str(sample.video_path),
            sample_id=sample.sample_id,
            hint="fix the annotation (frame count, fps, size) or replace the video with the "
            "one it describes",
        )


def decode_sample_frames(
    sample: Sample, fps: float | None, max_frames: int | None, max_side: int | None
) -> SampledFrames:
    """Decode the frames of ``sample``'s video at ``fps`` (``None`` = every native frame),
    at most ``max_frames`` evenly spread, longer side at most ``max_side`` pixels (``None``
    = as stored). Which frames follows :func:`~stvg.data.timing.sample_frame_indices` on the
    *sample's* ``native_fps`` and ``num_frames``; frames the file turns out not to have (a
    container that over-states its length, within the tolerance of
    :func:`annotation_mismatch`) are left out.

    Raises:
        VideoError: the video cannot be read, yields no frame, or does not match the
            sample's annotated frame count, fps or size (:func:`annotation_mismatch`; the
            numbers are in the message), naming the sample.
    """
    frame_idx = sample_frame_indices(sample.native_fps, sample.num_frames, fps, max_frames)
    with VideoReader(sample.video_path) as reader:
        _check_annotation(sample, reader)
        frame_idx = frame_idx[frame_idx < reader.num_frames]
        sampled = reader.read_frames(frame_idx, max_side=max_side)
        _check_annotation(sample, reader)  # the decode may have found fewer frames
    if len(sampled) == 0:
        raise VideoError(
            "no frame could be decoded",
            path=str(sample.video_path),
            sample_id=sample.sample_id,
            hint="check that the file is a readable video",
        )
    return sampled
