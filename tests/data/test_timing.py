"""The seconds <-> native frames rule (stvg.data.timing), checked with hand-computed frames."""

from __future__ import annotations

import numpy as np
import pytest

from stvg.data.timing import (
    frame_of_time,
    round_half_up,
    sample_frame_indices,
    span_seconds_to_frames,
    time_of_frame,
)

NTSC = 30000 / 1001  # 29.97002997... fps


@pytest.mark.parametrize(
    ("native_fps", "num_frames", "fps", "expected"),
    [
        # 24 fps, 5 s: 1 fps -> every 24th frame; 2 fps -> every 12th; 0.5 fps -> every 48th.
        (24.0, 120, 1.0, [0, 24, 48, 72, 96]),
        (24.0, 120, 2.0, [0, 12, 24, 36, 48, 60, 72, 84, 96, 108]),
        (24.0, 120, 0.5, [0, 48, 96]),
        # 25 fps, 2 fps: k * 12.5 rounds halves up -> 13, 38, 63, 88, 113.
        (25.0, 125, 2.0, [0, 13, 25, 38, 50, 63, 75, 88, 100, 113]),
        (25.0, 125, 1.0, [0, 25, 50, 75, 100]),
        (25.0, 125, 0.5, [0, 50, 100]),
        # 29.97 fps: 29.97 -> 30, 59.94 -> 60, 14.985 -> 15, 44.955 -> 45, ...
        (29.97, 150, 1.0, [0, 30, 60, 90, 120]),
        (29.97, 150, 2.0, [0, 15, 30, 45, 60, 75, 90, 105, 120, 135]),
        (29.97, 150, 0.5, [0, 60, 120]),
        # 30 fps.
        (30.0, 150, 1.0, [0, 30, 60, 90, 120]),
        (30.0, 150, 2.0, [0, 15, 30, 45, 60, 75, 90, 105, 120, 135]),
        (30.0, 150, 0.5, [0, 60, 120]),
    ],
)
def test_sampled_frames_at_half_one_and_two_fps(native_fps, num_frames, fps, expected):
    frames = sample_frame_indices(native_fps, num_frames, fps)
    assert frames.dtype == np.int64
    assert frames.tolist() == expected


def test_ntsc_rate_drifts_one_frame_behind_thirty_after_17_seconds():
    # k * 29.97003: 449.55 -> 450, 479.52 -> 480, 509.49 -> 509, 539.46 -> 539,
    # 569.43 -> 569, 599.40 -> 599 (the last frame of a 600-frame video).
    expected = [0, 30, 60, 90, 120, 150, 180, 210, 240, 270, 300, 330, 360, 390, 420, 450, 480]
    expected += [509, 539, 569, 599]
    assert sample_frame_indices(NTSC, 600, 1.0).tolist() == expected


@pytest.mark.parametrize(
    ("native_fps", "num_frames", "expected"),
    [
        (30.0, 90, [0, 30, 60]),  # 90 would be past the last frame (89)
        (30.0, 91, [0, 30, 60, 90]),
        (29.97, 90, [0, 30, 60]),  # 89.91 rounds to 90, past frame 89
    ],
)
def test_last_sample_must_fall_inside_the_video(native_fps, num_frames, expected):
    assert sample_frame_indices(native_fps, num_frames, 1.0).tolist() == expected


def test_fps_none_is_every_native_frame():
    assert sample_frame_indices(25.0, 7, None).tolist() == [0, 1, 2, 3, 4, 5, 6]


def test_fps_above_native_rate_drops_duplicates():
    # 60 fps of a 30 fps, 5-frame video: k / 2 -> 0, 0.5->1, 1, 1.5->2, 2, ... 4.
    assert sample_frame_indices(30.0, 5, 60.0).tolist() == [0, 1, 2, 3, 4]


@pytest.mark.parametrize(
    ("fps", "max_frames", "expected"),
    [
        # 10 samples 0, 30, ..., 270; linspace(0, 9, 4) = 0, 3, 6, 9.
        (1.0, 4, [0, 90, 180, 270]),
        # linspace(0, 9, 3) = 0, 4.5 -> 5, 9.
        (1.0, 3, [0, 150, 270]),
        (1.0, 10, [0, 30, 60, 90, 120, 150, 180, 210, 240, 270]),
        (1.0, 50, [0, 30, 60, 90, 120, 150, 180, 210, 240, 270]),
        (1.0, 1, [0]),
    ],
)
def test_max_frames_keeps_evenly_spread_samples(fps, max_frames, expected):
    assert sample_frame_indices(30.0, 300, fps, max_frames).tolist() == expected


def test_max_frames_with_every_frame():
    assert sample_frame_indices(30.0, 10, None, 4).tolist() == [0, 3, 6, 9]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"native_fps": 0.0, "num_frames": 10, "fps": 1.0}, "native_fps"),
        ({"native_fps": 30.0, "num_frames": 0, "fps": 1.0}, "num_frames"),
        ({"native_fps": 30.0, "num_frames": 10, "fps": -1.0}, "fps"),
        ({"native_fps": 30.0, "num_frames": 10, "fps": 1.0, "max_frames": 0}, "max_frames"),
    ],
)
def test_sampling_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        sample_frame_indices(**kwargs)


def test_round_half_up_and_frame_of_time():
    assert [round_half_up(v) for v in (2.5, 3.5, -0.5, -1.5, 0.49)] == [3, 4, 0, -1, 0]
    assert round_half_up(np.array([0.5, 1.5, 2.4])).tolist() == [1, 2, 2]
    assert frame_of_time(0.5 / 30.0, 30.0, 100) == 1  # exactly half a frame rounds up
    assert frame_of_time(2.0, 29.97, 100) == 60  # 59.94
    assert frame_of_time(-3.0, 30.0, 100) == 0  # clipped to the first frame
    assert frame_of_time(10.0, 30.0, 100) == 99  # clipped to the last frame


def test_time_of_frame_inverts_frame_of_time():
    assert time_of_frame(45, 30.0) == 1.5
    times = time_of_frame(np.array([0, 30, 60]), 29.97)
    assert times.tolist() == pytest.approx([0.0, 30 / 29.97, 60 / 29.97])
    for frame in (0, 1, 299, 509):
        assert frame_of_time(time_of_frame(frame, NTSC), NTSC, 600) == frame


@pytest.mark.parametrize(
    ("span_s", "native_fps", "kwargs", "expected"),
    [
        ((1.0, 2.0), 30.0, {}, (30, 60)),
        ((1.0, 2.0), 29.97, {}, (30, 60)),  # 29.97 -> 30, 59.94 -> 60
        ((0.5, 1.5), 25.0, {}, (13, 38)),  # 12.5 -> 13, 37.5 -> 38
        # end extended by half a 1 fps interval: 2.5 s -> frame 75.
        ((1.0, 2.0), 30.0, {"fps": 1.0, "end_extension": 0.5}, (30, 75)),
        # a whole 2 fps interval: 2.0 + 0.5 s -> 75.
        ((1.0, 2.0), 30.0, {"fps": 2.0, "end_extension": 1.0}, (30, 75)),
        ((8.0, 20.0), 30.0, {}, (240, 299)),  # end clipped to the last frame
        ((-1.0, 0.5), 30.0, {}, (0, 15)),  # start clipped to frame 0
        ((2.0, 1.0), 30.0, {}, (60, 60)),  # reversed span collapses onto its start
    ],
)
def test_span_seconds_to_frames(span_s, native_fps, kwargs, expected):
    assert span_seconds_to_frames(span_s, native_fps, 300, **kwargs) == expected


def test_end_extension_needs_fps():
    with pytest.raises(ValueError, match="end_extension needs the sampling rate fps"):
        span_seconds_to_frames((1.0, 2.0), 30.0, 300, end_extension=0.5)
