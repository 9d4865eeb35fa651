"""Fixtures for the data-layer tests: small real videos whose frames encode their index."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

BITS = 8  # frame index encoded in 8 vertical stripes, most significant bit on the left


def index_frame(index: int, width: int = 64, height: int = 48) -> np.ndarray:
    """A BGR frame whose 8 vertical stripes spell ``index`` in binary (white = 1)."""
    frame = np.zeros((height, width, 3), dtype=np.uint8)
    stripe = width // BITS
    for bit in range(BITS):
        if (index >> (BITS - 1 - bit)) & 1:
            frame[:, bit * stripe : (bit + 1) * stripe] = 255
    return frame


def decode_index(frame: np.ndarray) -> int:
    """The index spelt by :func:`index_frame`, read from the centre of each stripe."""
    height, width = frame.shape[:2]
    stripe = width / BITS
    row = frame[height // 2]
    value = 0
    for bit in range(BITS):
        column = int(stripe * bit + stripe / 2)
        value = (value << 1) | int(row[column].mean() > 127)
    return value


def write_index_video(
    path: Path, num_frames: int = 90, fps: float = 30.0, width: int = 64, height: int = 48
) -> Path:
    """Write an mp4v video whose frame ``i`` shows :func:`index_frame` ``(i)``."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    if not writer.isOpened():
        raise RuntimeError(f"cv2.VideoWriter cannot write mp4v to {path}")
    for i in range(num_frames):
        writer.write(index_frame(i, width, height))
    writer.release()
    return path


@pytest.fixture(scope="session")
def index_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 64x48, 30 fps, 90-frame mp4v video; frame ``i`` spells ``i`` in binary stripes."""
    return write_index_video(tmp_path_factory.mktemp("video") / "index.mp4")


@pytest.fixture
def decode() -> object:
    """:func:`decode_index`, as a fixture so test modules need not import conftest."""
    return decode_index
