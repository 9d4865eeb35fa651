"""Writing RGB frames to an mp4 file.

The encoder is OpenCV's ``cv2.VideoWriter`` with the ``mp4v`` codec (MPEG-4 Part 2 in an
MP4 container), the one that works with the ``opencv-python-headless`` wheel the project
depends on: its H.264 encoders are not usable there, and PyAV is not a dependency. Every
player and ``cv2.VideoCapture`` read it. Frames of odd width or height are padded with a
black row or column to even sizes, which MPEG-4's 4:2:0 colour sampling needs.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

import cv2
import numpy as np

from stvg.data.errors import VideoError

FOURCC = "mp4v"


def even_size(width: int, height: int) -> tuple[int, int]:
    """``(width, height)`` rounded up to even numbers of pixels.

    >>> even_size(63, 48)
    (64, 48)
    """
    return width + width % 2, height + height % 2


class Mp4Writer:
    """An mp4 file being written, one RGB frame at a time.

    Args:
        path: the ``.mp4`` file (its folder is created).
        fps: frames per second of the video.
        size: ``(width, height)`` in pixels of the frames that will be written; the file's
            size is :func:`even_size` of it.

    Raises:
        VideoError: the encoder cannot open ``path``.

    Use as a context manager::

        with Mp4Writer("out.mp4", 25.0, (640, 360)) as writer:
            writer.write(frame_rgb)
    """

    def __init__(self, path: str | Path, fps: float, size: tuple[int, int]) -> None:
        if not (fps > 0 and np.isfinite(fps)):
            raise ValueError(f"Mp4Writer fps must be a positive number, got {fps}")
        self.path = Path(path)
        self.size = (int(size[0]), int(size[1]))
        if self.size[0] < 1 or self.size[1] < 1:
            raise ValueError(f"Mp4Writer size must be positive (width, height), got {size}")
        self.encoded_size = even_size(*self.size)
        self.frames_written = 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer: cv2.VideoWriter | None = cv2.VideoWriter(
            str(self.path), cv2.VideoWriter_fourcc(*FOURCC), float(fps), self.encoded_size
        )
        if not self._writer.isOpened():
            self._writer.release()
            self._writer = None
            raise VideoError(
                f"OpenCV cannot open an {FOURCC} mp4 writer",
                path=str(self.path),
                hint="check that the folder is writable and the name ends in .mp4",
            )

    def write(self, frame_rgb: np.ndarray) -> None:
        """Append one uint8 ``[H, W, 3]`` RGB frame of the writer's ``size``."""
        if self._writer is None:
            raise ValueError(f"Mp4Writer for {self.path} is closed")
        frame = np.asarray(frame_rgb)
        width, height = self.size
        if frame.dtype != np.uint8 or frame.shape != (height, width, 3):
            raise ValueError(
                f"Mp4Writer for {self.path} takes uint8 frames of shape {(height, width, 3)}, "
                f"got {frame.dtype} {frame.shape}"
            )
        enc_w, enc_h = self.encoded_size
        if (enc_w, enc_h) != (width, height):
            frame = cv2.copyMakeBorder(
                frame, 0, enc_h - height, 0, enc_w - width, cv2.BORDER_CONSTANT, value=(0, 0, 0)
            )
        self._writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        self.frames_written += 1

    def close(self) -> None:
        """Finish the file; the writer cannot be used afterwards."""
        if self._writer is not None:
            self._writer.release()
            self._writer = None

    def __enter__(self) -> Mp4Writer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


__all__ = ["FOURCC", "Mp4Writer", "even_size"]
