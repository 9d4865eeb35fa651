"""VideoReader on every codec layout: frame indices, pixels equal to a full decode, work done.

Each layout is a small video made here (64x48, 30 fps) whose frame ``i`` spells ``i`` in 8
binary stripes (so an off-by-one shows in the pixels) above a band of per-frame noise (so
P- and B-frames carry real residuals): H.264 with B-frames (``bf=2``) and a keyframe every
30 frames, the same with one every 250 (x264's default), an open-GOP H.264 (I-frames whose
leading B-frames are shown before them) and OpenCV's mp4v (what the synthetic benchmark
writes). The reference is a full sequential PyAV decode of the same file.
"""

from __future__ import annotations

import logging
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from stvg.data import VideoReader, sample_frame_indices
from stvg.data.video import RESIZE_INTERPOLATION, shown_size_for

WIDTH, HEIGHT, FPS = 64, 48, 30  # pixels, pixels, frames per second
LAYOUTS = {
    # name: (codec, frames, x264 options)
    "h264-bf2-keyint30": ("libx264", 150, {"bf": "2", "g": "30", "keyint_min": "30"}),
    "h264-bf2-keyint250": ("libx264", 300, {"bf": "2", "g": "250", "keyint_min": "250"}),
    "h264-open-gop": (
        "libx264",
        150,
        {"x264-params": "keyint=40:min-keyint=40:bframes=3:open-gop=1"},
    ),
    "mp4v": ("mp4v", 150, {}),
}


def index_image(i: int, rng: np.random.Generator) -> np.ndarray:
    """RGB frame: rows 0-31 spell ``i % 256`` in 8 stripes of 8 px (white = 1), rows 32-47
    noise."""
    image = np.zeros((HEIGHT, WIDTH, 3), dtype=np.uint8)
    for bit in range(8):
        if (i >> (7 - bit)) & 1:
            image[:32, bit * 8 : (bit + 1) * 8] = 255
    image[32:] = rng.integers(0, 256, (HEIGHT - 32, WIDTH, 3), dtype=np.uint8)
    return image


def spelt(frame: np.ndarray) -> int:
    """The index (mod 256) spelt by :func:`index_image` (read a third of the way down)."""
    height, width = frame.shape[:2]
    row = frame[height // 3]
    return int(
        "".join("1" if row[int((b + 0.5) * width / 8)].mean() > 127 else "0" for b in range(8)), 2
    )


def write_layout(path: Path, layout: str) -> Path:
    codec, num_frames, options = LAYOUTS[layout]
    rng = np.random.default_rng(0)
    if codec == "mp4v":
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (WIDTH, HEIGHT))
        for i in range(num_frames):
            writer.write(cv2.cvtColor(index_image(i, rng), cv2.COLOR_RGB2BGR))
        writer.release()
        return path
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=FPS)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.options = {"preset": "veryfast", "crf": "18", "sc_threshold": "0", **options}
        for i in range(num_frames):
            frame = av.VideoFrame.from_ndarray(index_image(i, rng), format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def full_decode(path: Path, size: tuple[int, int] | None = None) -> np.ndarray:
    """Every frame of a plain sequential PyAV decode, RGB; at ``size`` (w, h) resized by the
    same swscale call as the reader's."""
    frames = []
    with av.open(str(path)) as container:
        for frame in container.decode(container.streams.video[0]):
            if size is None:
                frames.append(frame.to_ndarray(format="rgb24"))
            else:
                resized = frame.reformat(
                    width=size[0],
                    height=size[1],
                    format="rgb24",
                    interpolation=RESIZE_INTERPOLATION,
                )
                frames.append(resized.to_ndarray())
    return np.stack(frames)


@pytest.fixture(scope="module", params=list(LAYOUTS))
def layout(request, tmp_path_factory) -> tuple[str, Path, np.ndarray]:
    """(name, path, full decode) of each layout, written once per module."""
    path = write_layout(tmp_path_factory.mktemp(request.param) / "clip.mp4", request.param)
    return request.param, path, full_decode(path)


def test_full_decode_spells_every_index(layout):
    name, _, reference = layout
    assert len(reference) == LAYOUTS[name][1]
    assert [spelt(frame) for frame in reference] == [i % 256 for i in range(len(reference))]


def test_count_rate_and_size_agree_with_opencv(layout):
    _, path, reference = layout
    capture = cv2.VideoCapture(str(path))
    with VideoReader(path) as video:
        assert video.num_frames == int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == len(reference)
        assert video.native_fps == capture.get(cv2.CAP_PROP_FPS) == 30.0
        assert (video.width, video.height) == (WIDTH, HEIGHT)
    capture.release()


@pytest.mark.parametrize("rate", [1.0, 2.0, 7.0, None])
@pytest.mark.parametrize("policy", ["auto", "grab", "seek"])
def test_sampled_frames_equal_the_full_decode(layout, rate, policy):
    _, path, reference = layout
    with VideoReader(path, seek_policy=policy) as video:
        sampled = video.sample(rate)
    expected = sample_frame_indices(30.0, len(reference), rate)
    assert sampled.frame_idx.tolist() == expected.tolist()
    assert [spelt(frame) for frame in sampled.frames] == [i % 256 for i in expected.tolist()]
    np.testing.assert_array_equal(sampled.frames, reference[expected])


def test_resized_frames_equal_the_same_reformat_of_the_full_decode(layout):
    _, path, _ = layout
    size = shown_size_for(WIDTH, HEIGHT, 40)
    assert size == (40, 30)
    reference = full_decode(path, size)
    with VideoReader(path) as video:
        sampled = video.sample(2.0, max_side=40)
    assert sampled.shown_size == size and sampled.frames.shape[1:] == (30, 40, 3)
    np.testing.assert_array_equal(sampled.frames, reference[sampled.frame_idx])


def test_scattered_backward_and_chunked_reads(layout):
    _, path, reference = layout
    n = len(reference)
    rng = np.random.default_rng(1)
    with VideoReader(path) as video:
        for _ in range(4):  # random sets, each read jumping back to the start
            wanted = np.sort(rng.choice(n, size=12, replace=False))
            np.testing.assert_array_equal(video.read_frames(wanted).frames, reference[wanted])
        chunks = [
            video.read_frames(np.arange(lo, min(lo + 64, n))).frames for lo in range(0, n, 64)
        ]
        np.testing.assert_array_equal(np.concatenate(chunks), reference)
        last = video.read_frames(np.array([n - 1]))  # already passed: a seek back
    assert [spelt(frame) for frame in last.frames] == [(n - 1) % 256]


def test_keyframes_come_from_the_container_index(tmp_path):
    path = write_layout(tmp_path / "k30.mp4", "h264-bf2-keyint30")
    with VideoReader(path) as video:
        assert video.keyframes.tolist() == [0, 30, 60, 90, 120]
        assert video._keyframes().source == "container"


def test_short_gop_seeks_to_each_keyframe_and_decodes_little(tmp_path):
    """1 fps of a keyint-30 video: frames 0, 30, ..., 120 are the keyframes; the reader seeks
    to each (4 seeks) and drains right after its packet, so it decodes about one frame per
    sample plus the frames in flight at the start, far from the 150 of a full decode."""
    path = write_layout(tmp_path / "k30.mp4", "h264-bf2-keyint30")
    with VideoReader(path) as video:
        sampled = video.sample(1.0)
        stats = video.stats
    assert sampled.frame_idx.tolist() == [0, 30, 60, 90, 120]
    assert stats.seeks == 4
    assert stats.frames_returned == 5
    assert stats.frames_decoded <= 5 + 8
    assert stats.packets_fed <= 5 + 8


def test_long_gop_decodes_forward_and_skips_non_reference_frames(tmp_path):
    """1 fps of a single-GOP H.264 (bf=2): no keyframe to seek to, so every packet up to the
    last sample is fed, but unwanted non-reference B-frames are not decoded."""
    path = write_layout(tmp_path / "k250.mp4", "h264-bf2-keyint250")
    with VideoReader(path) as video:
        sampled = video.sample(1.0)
        stats = video.stats
        assert video.keyframes.tolist() == [0, 250]
    assert sampled.frame_idx.tolist() == [0, 30, 60, 90, 120, 150, 180, 210, 240, 270]
    assert stats.seeks == 1  # to frame 250, past which frame 270 lies
    # about a third of x264's bf=2 frames are disposable: dropped before the decoder
    assert stats.packets_dropped > 60
    assert stats.frames_decoded <= stats.packets_fed
    assert stats.frames_decoded < 300 - 60


def test_disposable_h264_packets_are_found_from_their_nal_header():
    from stvg.data.nal import h264_length_size, is_disposable

    avcc = bytes([1, 0x64, 0, 0x0A, 0xFF, 0xE1])  # avcC v1, High, lengthSizeMinusOne = 3
    assert h264_length_size("h264", avcc + b"\0") == 4
    assert h264_length_size("h264", b"\0\0\0\1gd") is None  # Annex B start code
    assert h264_length_size("hevc", avcc + b"\0") is None
    sei = bytes([0, 0, 0, 2, 0x06, 0x05])  # SEI (type 6, ref_idc 0): not a slice
    assert is_disposable(sei + bytes([0, 0, 0, 2, 0x01, 0x9E]), 4)  # slice, ref_idc 0
    assert not is_disposable(sei + bytes([0, 0, 0, 2, 0x41, 0x9A]), 4)  # slice, ref_idc 2
    assert not is_disposable(bytes([0, 0, 0, 2, 0x65, 0x88]), 4)  # IDR slice, ref_idc 3
    assert not is_disposable(sei, 4)  # no slice at all
    assert not is_disposable(bytes([0, 0, 0, 0, 0x06]), 4)  # zero-length NAL: malformed


def test_mp4v_of_the_synthetic_benchmark_keeps_its_frame_count(tmp_path):
    """Annotations index frames by the count the OpenCV reader reported: the synthetic
    generator's videos must give the same count (and every frame must decode)."""
    from stvg.data import load_dataset
    from stvg.data.synthetic import generate_split

    generate_split(tmp_path, "val", 2, 3, "easy", duration_s=4.0, fps=10.0, size=64)
    dataset = load_dataset("synthetic", root=tmp_path, split="val")
    for sample in dataset:
        capture = cv2.VideoCapture(str(sample.video_path))
        opencv_count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        capture.release()
        with VideoReader(sample.video_path) as video:
            assert video.num_frames == opencv_count == sample.num_frames == 40
            assert video.native_fps == sample.native_fps == 10.0
            assert len(video.sample(None)) == 40


def test_variable_frame_rate_falls_back_to_counting_frames(tmp_path, caplog):
    """Timestamps off the frame grid (a variable-rate file) cannot number frames: the reader
    warns and counts decoded frames from the start instead, so frame i is the i-th shown."""
    path = tmp_path / "vfr.mp4"
    rng = np.random.default_rng(0)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.time_base = stream.codec_context.time_base = Fraction(1, 1000)  # ms
        for i in range(60):
            frame = av.VideoFrame.from_ndarray(index_image(i, rng), format="rgb24")
            frame.pts = 33 * i + (12 if i % 2 else 0)  # ms: alternately 33 and 45 ms apart
            frame.time_base = stream.time_base
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    reference = full_decode(path)
    with VideoReader(path) as video:
        assert video.num_frames == 60
        with caplog.at_level(logging.WARNING, logger="stvg.data.video"):
            wanted = np.array([0, 7, 8, 31, 59])
            sampled = video.read_frames(wanted)
            again = video.read_frames(np.array([3, 4]))
    assert "numbering frames by counting them" in caplog.text
    assert [spelt(frame) for frame in sampled.frames] == wanted.tolist()
    np.testing.assert_array_equal(sampled.frames, reference[wanted])
    np.testing.assert_array_equal(again.frames, reference[[3, 4]])


def test_matroska_keyframes_come_from_one_demux_pass(tmp_path):
    """A Matroska file indexes only some keyframes (cues): the reader demuxes once instead."""
    source = write_layout(tmp_path / "k30.mp4", "h264-bf2-keyint30")
    path = tmp_path / "k30.mkv"
    with av.open(str(source)) as src, av.open(str(path), "w") as out:
        stream = out.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(src.streams.video[0]):
            if packet.size:
                packet.stream = stream
                out.mux(packet)
    reference = full_decode(path)
    with VideoReader(path) as video:
        sampled = video.sample(1.0)
        assert video.keyframes.tolist() == [0, 30, 60, 90, 120]
        assert video._keyframes().source == "demux"
        assert video.num_frames == 150
    np.testing.assert_array_equal(sampled.frames, reference[[0, 30, 60, 90, 120]])
