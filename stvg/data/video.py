"""Reading videos with OpenCV and sampling their frames at any rate.

:class:`VideoReader` opens one video file with ``cv2.VideoCapture`` (FFmpeg backend) and
returns :class:`SampledFrames`: RGB uint8 frames, their 0-based native frame indices and
their timestamps in seconds. Which frames a rate selects is decided by
:func:`stvg.data.timing.sample_frame_indices` (the one place of that rule); this module only
decodes them.

**Skipping frames cheaply.** Sparse indices (1 fps of a 30 fps video) never decode the whole
video into RGB arrays. Between two wanted frames the reader either calls ``grab()`` on every
frame in the gap (demux and decode, but no colour conversion or copy) or seeks with
``CAP_PROP_POS_FRAMES`` (OpenCV seeks to the key frame before ``target - 16`` and decodes
forward, so one seek costs about ``16 + distance to the previous key frame`` decodes plus a
fixed overhead). Measured on a 60 s 640x360 30 fps mp4v video (key frame every 12 frames,
``benchmarks/bench_sampling.py``): one seek costs about as much as 25 grabs, so grabbing
wins for gaps below ~25 frames and seeking wins above; with long-GOP H.264 (a key frame
every 250 frames) a seek costs far more and grabbing wins up to much larger gaps. The
default policy ``"auto"`` therefore measures both on the video at hand: gaps of at most
:data:`MIN_SEEK_GAP` frames are always grabbed (a seek decodes at least that many frames);
for larger gaps it times its first seek and its grabs and then seeks only when the measured
seek time is below ``gap x`` the measured time per grab. ``"grab"`` and ``"seek"`` force one
strategy. A backward jump always seeks. Every strategy returns identical frames: after each
seek the reader checks the position that FFmpeg reports and, if a seek ever lands on the
wrong frame, falls back to grabbing for the rest of the reader's life (with a warning).

**Frame count.** ``CAP_PROP_FRAME_COUNT`` comes from the container and is trusted. When it is
0 or negative (some streams do not store it) the frames are counted once by grabbing through
the video. When it is too large (a container whose count is estimated from its duration), a
read that fails within the last :data:`END_TOLERANCE_S` seconds (or 2 % of the frames) of the
declared length shortens the video: :attr:`VideoReader.num_frames` becomes the index of the
first frame that could not be decoded, the frames requested beyond it are left out of the
result, and a warning names the file, the declared and the decodable counts. A read that
fails earlier than that is a :class:`~stvg.data.errors.VideoError` (corrupt or truncated
file).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Literal

import cv2
import numpy as np

from stvg.data.errors import VideoError
from stvg.data.timing import sample_frame_indices, time_of_frame
from stvg.data.types import Sample

logger = logging.getLogger(__name__)

SeekPolicy = Literal["auto", "grab", "seek"]
SEEK_POLICIES: tuple[str, ...] = ("auto", "grab", "seek")

MIN_SEEK_GAP = 16  # frames; OpenCV's seek decodes from >= 16 frames before its target
END_TOLERANCE_S = 1.0  # seconds; a failed read this close to the declared end shortens
_EMA = 0.3  # weight of the newest timing in the running cost estimates


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
    """One video file opened for frame sampling (OpenCV, FFmpeg backend).

    Args:
        path: the video file.
        seek_policy: how to skip frames between wanted ones: ``"auto"`` (measure and pick,
            see the module docstring), ``"grab"`` (always ``grab()`` through the gap) or
            ``"seek"`` (seek with ``CAP_PROP_POS_FRAMES`` whenever the gap is not empty).

    Raises:
        VideoError: the file does not exist, OpenCV cannot open it, or it has no decodable
            frame, no size or no frame rate.

    Use as a context manager (or call :meth:`close`)::

        with VideoReader("clip.mp4") as video:
            sampled = video.sample(1.0, max_side=448)
    """

    def __init__(self, path: str | Path, *, seek_policy: SeekPolicy = "auto") -> None:
        self._cap: cv2.VideoCapture | None = None
        if seek_policy not in SEEK_POLICIES:
            raise ValueError(f"seek_policy must be one of {SEEK_POLICIES}, got {seek_policy!r}")
        self._path = Path(path)
        self._seek_policy: SeekPolicy = seek_policy
        if not self._path.is_file():
            raise VideoError(
                "video file not found",
                path=str(self._path),
                hint="check the dataset's video_dir, or load annotations only",
            )
        self._cap = self._open()
        self._native_fps = float(self._cap.get(cv2.CAP_PROP_FPS))
        self._width = int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        self._height = int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        declared = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT))
        if not math.isfinite(self._native_fps) or self._native_fps <= 0:
            raise self._unreadable(f"no frame rate (CAP_PROP_FPS={self._native_fps})")
        if self._width <= 0 or self._height <= 0:
            raise self._unreadable(f"no frame size ({self._width}x{self._height})")
        ok = self._cap.grab()
        if not ok:
            raise self._unreadable("not even its first frame can be decoded")
        self._pos = 1  # index of the frame the next grab()/read() decodes
        self._declared_frames = declared if declared > 0 else self._count_frames()
        self._num_frames = self._declared_frames
        self._seek_cost_s: float | None = None
        self._grab_cost_s: float | None = None
        self._seek_verified_ok = True

    # ------------------------------------------------------------------ properties
    @property
    def path(self) -> Path:
        """The video file."""
        return self._path

    @property
    def native_fps(self) -> float:
        """Frames per second stored in the container."""
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

    # ------------------------------------------------------------------ lifecycle
    def close(self) -> None:
        """Release the decoder; the reader cannot be used afterwards."""
        if self._cap is not None:
            self._cap.release()
            self._cap = None

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
        if getattr(self, "_cap", None) is not None:
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
        (``cv2.INTER_AREA``, aspect kept).
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
        frames: list[np.ndarray] = []
        kept: list[int] = []
        for target in wanted.tolist():
            if target >= self._num_frames:  # the video was shortened by an earlier failure
                break
            image = self._decode(target)
            if image is None:
                break
            if image.shape[1] != shown_w or image.shape[0] != shown_h:
                image = cv2.resize(image, (shown_w, shown_h), interpolation=cv2.INTER_AREA)
            frames.append(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
            kept.append(target)
        kept_idx = np.asarray(kept, dtype=np.int64)
        stacked = np.stack(frames) if frames else np.zeros((0, shown_h, shown_w, 3), dtype=np.uint8)
        return SampledFrames(
            frames=stacked,
            frame_idx=kept_idx,
            timestamps_s=np.asarray(time_of_frame(kept_idx, self._native_fps), dtype=np.float64),
            shown_size=(shown_w, shown_h),
            original_size=(self._width, self._height),
            native_fps=self._native_fps,
        )

    # ------------------------------------------------------------------ internals
    def _open(self) -> cv2.VideoCapture:
        cap = cv2.VideoCapture(str(self._path), cv2.CAP_FFMPEG)
        if not cap.isOpened():
            cap.release()
            raise self._unreadable("OpenCV/FFmpeg cannot open it")
        return cap

    def _unreadable(self, reason: str) -> VideoError:
        return VideoError(
            f"video file is unreadable: {reason}",
            path=str(self._path),
            hint="the file may be corrupt, truncated or in an unsupported format; "
            "re-download or re-encode it (e.g. ffmpeg -i in.mp4 -c:v libx264 out.mp4)",
        )

    def _require_open(self) -> cv2.VideoCapture:
        if self._cap is None:
            raise ValueError(f"VideoReader for {self._path} is closed")
        return self._cap

    def _count_frames(self) -> int:
        """Count frames by grabbing through the video, then rewind (reopen)."""
        cap = self._require_open()
        count = self._pos
        while cap.grab():
            count += 1
        cap.release()
        self._cap = self._open()
        self._pos = 0
        logger.info("%s stores no frame count; counted %d frames by decoding", self._path, count)
        return count

    def _decode(self, target: int) -> np.ndarray | None:
        """Move to ``target`` and read it (BGR), or shorten the video and return ``None``."""
        gap = target - self._pos
        if gap < 0 or (gap > 0 and self._should_seek(gap)):
            if not self._seek(target) and not self._grab_from_start(target):
                return None
        elif gap > 0:
            cap = self._require_open()
            start = time.perf_counter()
            for _ in range(gap):
                if not cap.grab():
                    self._shorten(self._pos)
                    return None
                self._pos += 1
            self._update_grab_cost((time.perf_counter() - start) / gap)
        ok, image = self._require_open().read()
        if not ok or image is None:
            self._shorten(target)
            return None
        self._pos = target + 1
        return image

    def _should_seek(self, gap: int) -> bool:
        if self._seek_policy == "grab" or not self._seek_verified_ok:
            return False
        if self._seek_policy == "seek":
            return True
        if gap <= MIN_SEEK_GAP:
            return False
        if self._seek_cost_s is None:
            return True  # probe: time one seek
        if self._grab_cost_s is None:
            return False  # probe: time grabbing
        return self._seek_cost_s < gap * self._grab_cost_s

    def _seek(self, target: int) -> bool:
        """Seek so that the next read returns ``target``; ``False`` if the seek was inexact."""
        cap = self._require_open()
        start = time.perf_counter()
        cap.set(cv2.CAP_PROP_POS_FRAMES, float(target))
        cost = time.perf_counter() - start
        self._seek_cost_s = (
            cost if self._seek_cost_s is None else (_EMA * cost + (1 - _EMA) * self._seek_cost_s)
        )
        landed = int(round(cap.get(cv2.CAP_PROP_POS_FRAMES)))
        if landed == target:
            self._pos = target
            return True
        logger.warning(
            "%s: seeking to frame %d landed on frame %d; reading this video by grabbing "
            "frames from now on (slower, exact)",
            self._path,
            target,
            landed,
        )
        self._seek_verified_ok = False
        return False

    def _grab_from_start(self, target: int) -> bool:
        """Reopen and grab up to ``target`` (after an inexact seek); ``False`` if it ended."""
        self._require_open().release()
        self._cap = cap = self._open()
        self._pos = 0
        while self._pos < target:
            if not cap.grab():
                self._shorten(self._pos)
                return False
            self._pos += 1
        return True

    def _update_grab_cost(self, per_grab_s: float) -> None:
        self._grab_cost_s = (
            per_grab_s
            if self._grab_cost_s is None
            else (_EMA * per_grab_s + (1 - _EMA) * self._grab_cost_s)
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


def decode_sample_frames(
    sample: Sample, fps: float | None, max_frames: int | None, max_side: int | None
) -> SampledFrames:
    """Decode the frames of ``sample``'s video at ``fps`` (``None`` = every native frame),
    at most ``max_frames`` evenly spread, longer side at most ``max_side`` pixels (``None``
    = as stored). Which frames follows :func:`~stvg.data.timing.sample_frame_indices` on the
    *sample's* ``native_fps`` and ``num_frames``; frames the file turns out not to have (a
    container that over-states its length) are left out.

    Raises:
        VideoError: the video cannot be read or yields no frame (naming the sample).
    """
    frame_idx = sample_frame_indices(sample.native_fps, sample.num_frames, fps, max_frames)
    with VideoReader(sample.video_path) as reader:
        frame_idx = frame_idx[frame_idx < reader.num_frames]
        sampled = reader.read_frames(frame_idx, max_side=max_side)
    if len(sampled) == 0:
        raise VideoError(
            "no frame could be decoded",
            path=str(sample.video_path),
            sample_id=sample.sample_id,
            hint="check that the file is a readable video",
        )
    return sampled
