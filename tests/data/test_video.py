"""VideoReader on a small real mp4v video whose frame i spells i in binary stripes."""

from __future__ import annotations

import logging

import av
import cv2
import numpy as np
import pytest

from stvg.data import SampledFrames, VideoReader
from stvg.data.video import shown_size_for


def write_index_video(path, num_frames):
    """An mp4v video (64x48, 30 fps) whose frame i spells i in 8 binary stripes, as the
    ``index_video`` fixture's (see conftest.py), with ``num_frames`` frames."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (64, 48))
    for i in range(num_frames):
        bits = [(i >> (7 - b)) & 1 for b in range(8)]
        writer.write(
            np.repeat(np.repeat(np.array(bits, np.uint8) * 255, 8), 3)
            .reshape(1, 64, 3)
            .repeat(48, axis=0)
        )
    writer.release()
    return path


def spelt(frames: np.ndarray, decode) -> list[int]:
    return [decode(frame) for frame in frames]


def test_properties(index_video):
    with VideoReader(index_video) as video:
        assert video.path == index_video
        assert video.native_fps == 30.0
        assert video.num_frames == 90
        assert (video.width, video.height) == (64, 48)
        assert video.duration_s == 3.0


def test_one_fps_returns_frames_0_30_60(index_video, decode):
    with VideoReader(index_video) as video:
        sampled = video.sample(1.0)
    assert isinstance(sampled, SampledFrames)
    assert sampled.frame_idx.dtype == np.int64
    assert sampled.frame_idx.tolist() == [0, 30, 60]
    assert sampled.timestamps_s.dtype == np.float64
    assert sampled.timestamps_s.tolist() == [0.0, 1.0, 2.0]
    assert sampled.frames.dtype == np.uint8
    assert sampled.frames.shape == (3, 48, 64, 3)
    assert spelt(sampled.frames, decode) == [0, 30, 60]
    assert sampled.shown_size == (64, 48)
    assert sampled.original_size == (64, 48)
    assert sampled.native_fps == 30.0
    assert len(sampled) == 3


def test_two_fps_and_max_frames(index_video, decode):
    with VideoReader(index_video) as video:
        two = video.sample(2.0)
        capped = video.sample(2.0, max_frames=3)  # 6 samples; linspace(0, 5, 3) -> 0, 2.5->3, 5
    assert spelt(two.frames, decode) == two.frame_idx.tolist() == [0, 15, 30, 45, 60, 75]
    assert capped.frame_idx.tolist() == [0, 45, 75]
    assert spelt(capped.frames, decode) == [0, 45, 75]
    assert capped.timestamps_s.tolist() == [0.0, 1.5, 2.5]


def test_fps_none_returns_every_frame(index_video, decode):
    with VideoReader(index_video) as video:
        sampled = video.sample(None)
    assert sampled.frames.shape == (90, 48, 64, 3)
    assert sampled.frame_idx.tolist() == list(range(90))
    assert spelt(sampled.frames, decode) == list(range(90))
    assert sampled.timestamps_s[45] == 1.5


def test_max_side_resizes_keeping_aspect(index_video, decode):
    with VideoReader(index_video) as video:
        small = video.sample(1.0, max_side=32)
        forty = video.sample(1.0, max_side=40)
        large = video.sample(1.0, max_side=100)  # never enlarged
    assert small.frames.shape == (3, 24, 32, 3)
    assert small.shown_size == (32, 24)
    assert small.original_size == (64, 48)
    assert small.scale == (0.5, 0.5)
    assert spelt(small.frames, decode) == [0, 30, 60]
    assert forty.shown_size == (40, 30)
    assert forty.frames.shape == (3, 30, 40, 3)
    assert large.shown_size == (64, 48)


def test_shown_size_rounds_to_nearest_pixel():
    assert shown_size_for(640, 360, 100) == (100, 56)  # 360 * 100 / 640 = 56.25
    assert shown_size_for(360, 640, 100) == (56, 100)
    assert shown_size_for(1280, 720, 448) == (448, 252)
    assert shown_size_for(64, 48, None) == (64, 48)
    with pytest.raises(ValueError, match="max_side"):
        shown_size_for(64, 48, 0)


@pytest.mark.parametrize("policy", ["auto", "grab", "seek"])
def test_every_seek_policy_returns_the_same_frames(index_video, decode, policy):
    wanted = np.array([0, 3, 40, 41, 89])
    with VideoReader(index_video, seek_policy=policy) as video:
        first = video.read_frames(wanted)
        backwards = video.read_frames(np.array([10, 70]))  # jumps back from 89 to 10
        half = video.sample(0.5)
    assert spelt(first.frames, decode) == [0, 3, 40, 41, 89]
    assert first.frame_idx.tolist() == [0, 3, 40, 41, 89]
    assert spelt(backwards.frames, decode) == [10, 70]
    assert spelt(half.frames, decode) == [0, 60]


def test_frames_are_rgb(tmp_path):
    path = tmp_path / "red.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (32, 32))
    for _ in range(5):
        writer.write(np.full((32, 32, 3), (0, 0, 255), dtype=np.uint8))  # BGR red
    writer.release()
    with VideoReader(path) as video:
        frame = video.sample(None).frames[2]
    red, green, blue = (float(frame[..., c].mean()) for c in range(3))
    assert red > 200 and green < 60 and blue < 60


def test_read_frames_rejects_bad_indices(index_video):
    with VideoReader(index_video) as video:
        with pytest.raises(ValueError, match="strictly increasing"):
            video.read_frames(np.array([5, 5]))
        with pytest.raises(ValueError, match=r"must lie in \[0, 89\]"):
            video.read_frames(np.array([10, 90]))
        with pytest.raises(TypeError, match="integers"):
            video.read_frames(np.array([1.5]))
        assert video.read_frames(np.array([], dtype=np.int64)).frames.shape == (0, 48, 64, 3)


def test_closed_reader_refuses_to_read(index_video):
    video = VideoReader(index_video)
    video.close()
    video.close()  # closing twice is harmless
    with pytest.raises(ValueError, match="closed"):
        video.sample(1.0)


def test_unknown_seek_policy(index_video):
    with pytest.raises(ValueError, match="seek_policy"):
        VideoReader(index_video, seek_policy="fast")


def truncated_copy(src, dst, num_frames, keep_frames):
    """A faststart copy of ``src`` (index first, then the frames) with the data of every frame
    from ``keep_frames`` on cut off: the container still declares ``num_frames`` frames, as
    a partial download does. (Real files: these tests replaced ones that faked OpenCV's
    reported frame count.)"""
    with (
        av.open(str(src)) as source,
        av.open(str(dst), "w", options={"movflags": "faststart"}) as out,
    ):
        stream = out.add_stream_from_template(source.streams.video[0])
        for packet in source.demux(source.streams.video[0]):
            if packet.size:
                packet.stream = stream
                out.mux(packet)
    with av.open(str(dst)) as container:
        entries = container.streams.video[0].index_entries
        assert len(entries) == num_frames
        cut = entries[keep_frames].pos
    with open(dst, "r+b") as handle:
        handle.truncate(cut)
    return dst


def test_overstated_frame_count_near_the_end_shortens_with_a_warning(tmp_path, decode, caplog):
    source = write_index_video(tmp_path / "full.mp4", num_frames=92)
    path = truncated_copy(source, tmp_path / "cut.mp4", 92, 90)  # declares 92, 90 decodable
    with VideoReader(path) as video:
        assert video.num_frames == 92
        with caplog.at_level(logging.WARNING, logger="stvg.data.video"):
            sampled = video.sample(None)
        assert video.num_frames == 90
        assert video.duration_s == 3.0
    assert sampled.frame_idx.tolist() == list(range(90))
    assert spelt(sampled.frames[-2:], decode) == [88, 89]
    assert "declares 92 frames but frame 90 cannot be decoded" in caplog.text
    assert str(path) in caplog.text


@pytest.mark.parametrize("policy", ["auto", "grab", "seek"])
def test_failure_far_from_the_declared_end_is_an_error(tmp_path, policy):
    from stvg.data import VideoError

    source = write_index_video(tmp_path / "full.mp4", num_frames=200)
    path = truncated_copy(source, tmp_path / "cut.mp4", 200, 90)  # tolerance: 30 frames
    with VideoReader(path, seek_policy=policy) as video:
        with pytest.raises(VideoError, match="frame 90 of 200 cannot be decoded") as info:
            video.read_frames(np.array([100]))
    assert str(path) in str(info.value)


def test_missing_frame_count_is_counted_by_demuxing(decode, tmp_path):
    raw = tmp_path / "index.m4v"  # a raw MPEG-4 stream: no frame count, no duration, no rate
    with av.open(str(raw), "w", format="m4v") as out:
        stream = out.add_stream("mpeg4", rate=30)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(90):
            bits = np.repeat(np.array([(i >> (7 - b)) & 1 for b in range(8)], np.uint8), 8)
            image = np.repeat((bits * 255)[None, :, None], 3, axis=2).repeat(48, axis=0)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    with VideoReader(raw) as video:
        assert video.num_frames == 90
        assert video.native_fps == 25.0  # FFmpeg's guess for a stream that stores no rate
        assert spelt(video.sample(1.0).frames, decode) == [0, 25, 50, 75]
