"""The frame caches follow the videos' content: a video rewritten in place with the same
size and modification time (``cp -p``, ``rsync -t``, two writes in one clock tick) is decoded
again, in the env's LRU cache and in the SFT cache on disk."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import av
import numpy as np
import pytest

from stvg.data.fingerprint import FINGERPRINT_BYTES, file_fingerprint
from stvg.data.types import Sample
from stvg.envs.frame_source import FrameSource
from stvg.training.sft.native_data import load_cached_frames

WIDTH, HEIGHT, FRAMES, FPS = 64, 48, 10, 10.0


def write_video(path: Path, value: int) -> Path:
    """An uncompressed video whose every pixel is ``value``: the size does not depend on
    the content, so two of them differ only in their bytes."""
    container = av.open(str(path), "w")
    stream = container.add_stream("rawvideo", rate=int(FPS))
    stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "bgr24"
    for _ in range(FRAMES):
        frame = np.full((HEIGHT, WIDTH, 3), value, dtype=np.uint8)
        for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="bgr24")):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()
    return path


def rewrite_keeping_size_and_mtime(path: Path, source: Path) -> None:
    stat = path.stat()
    assert source.stat().st_size == stat.st_size
    shutil.copyfile(source, path)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (stat.st_size, stat.st_mtime_ns)


@pytest.fixture
def videos(tmp_path: Path) -> tuple[Path, Path]:
    return write_video(tmp_path / "v.avi", 10), write_video(tmp_path / "other.avi", 200)


def sample(path: Path) -> Sample:
    return Sample("v", str(path), "q", FPS, FRAMES, WIDTH, HEIGHT, (0, 9), {0: [0, 0, 8, 8]})


def test_env_frame_cache_decodes_a_rewritten_video_again(videos: tuple[Path, Path]) -> None:
    video, other = videos
    source = FrameSource(fps=None, max_frames=None, max_side=64, cache_mb=64)
    assert source.frames(sample(video)).frames.mean() == 10.0
    assert source.frames(sample(video)).frames.mean() == 10.0
    assert (source.stats.hits, source.stats.misses) == (1, 1)
    rewrite_keeping_size_and_mtime(video, other)
    assert source.frames(sample(video)).frames.mean() == 200.0  # before: 10.0 from the cache
    assert source.stats.misses == 2


def test_sft_cache_decodes_a_rewritten_video_again(
    videos: tuple[Path, Path], tmp_path: Path
) -> None:
    video, other = videos
    settings = dict(fps=None, max_frames=10, max_side=64, frame_size=16, name="train")
    first = load_cached_frames([sample(video)], cache_dir=tmp_path / "cache", **settings)
    rewrite_keeping_size_and_mtime(video, other)
    with pytest.warns(UserWarning, match="no longer matches"):
        again = load_cached_frames([sample(video)], cache_dir=tmp_path / "cache", **settings)
    assert first.frames.mean() < 20 and again.frames.mean() > 190  # before: the old frames


def test_fingerprint_reads_both_ends_only(tmp_path: Path) -> None:
    path = tmp_path / "big.bin"
    data = bytearray(5 * FINGERPRINT_BYTES)
    path.write_bytes(bytes(data))
    stat = path.stat()
    base = file_fingerprint(path)

    def changed_at(offset: int) -> str:
        edited = bytearray(data)
        edited[offset] = 1
        path.write_bytes(bytes(edited))
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        return file_fingerprint(path)

    assert changed_at(10) != base  # head
    assert changed_at(len(data) - 10) != base  # tail
    assert changed_at(2 * FINGERPRINT_BYTES) == base  # the middle is not read (cheap)
