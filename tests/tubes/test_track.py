"""The ``track`` densify method on hand-made videos whose true boxes are known.

Every video is numpy: a dark, blurred-noise background and a 24-pixel square with a smooth
bright texture (a sine pattern, so that the tracker finds corners inside it) moving on a
known path, 160x120 pixels, 10 native frames per second; the answer gives the true box on
the shown seconds only (frames 0, 10, 20: 1 fps).
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from stvg.data.types import Sample, SecondLevelAnswer
from stvg.tubes import ArrayFrames, DensifyConfig, densify, linear_boxes, resolve_params
from stvg.tubes.densify import densify_batch
from stvg.tubes.frames import FrameBlock
from stvg.tubes.track import blend_tracks, track_boxes

WIDTH, HEIGHT, SIDE, FPS = 160, 120, 24, 10.0
TRACK_BOUND_PX = 0.5  # largest coordinate error of a tracked box, original pixels


def _background() -> np.ndarray:
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 80, (HEIGHT, WIDTH)).astype(np.uint8)
    return cv2.GaussianBlur(noise, (5, 5), 0)


def _texture() -> np.ndarray:
    yy, xx = np.mgrid[0:SIDE, 0:SIDE]
    return (170 + 60 * np.sin(xx / 2.5) * np.cos(yy / 3.0)).astype(np.uint8)


def square_box(cx: float, cy: float) -> list[float]:
    """The square's box with its centre rounded onto the pixel grid."""
    x0, y0 = round(cx - SIDE / 2), round(cy - SIDE / 2)
    return [float(x0), float(y0), float(x0 + SIDE), float(y0 + SIDE)]


def render(boxes: np.ndarray, hidden: range = range(0)) -> np.ndarray:
    """uint8 ``[N, H, W]`` frames with the square at ``boxes`` (cut at the frame's edge),
    left out on the frames ``hidden``."""
    background, texture = _background(), _texture()
    frames = np.repeat(background[None], len(boxes), axis=0)
    for t, (x0, y0, x1, y1) in enumerate(boxes.astype(int)):
        lo_x, lo_y, hi_x, hi_y = max(x0, 0), max(y0, 0), min(x1, WIDTH), min(y1, HEIGHT)
        if t not in hidden and hi_x > lo_x and hi_y > lo_y:
            frames[t, lo_y:hi_y, lo_x:hi_x] = texture[lo_y - y0 : hi_y - y0, lo_x - x0 : hi_x - x0]
    return frames


def curve_boxes(n: int = 21) -> np.ndarray:
    """A half circle per second: the centre goes round ``(80, 60)`` with radii 40 (x) and
    35 (y), from ``(40, 60)`` at 0 s over ``(80, 25)`` at 0.5 s to ``(120, 60)`` at 1 s and
    back below: ``cx = 80 - 40 cos(pi t / 10)``, ``cy = 60 - 35 sin(pi t / 10)``."""
    angle = np.pi * np.arange(n) / 10.0
    return np.array([square_box(80 - 40 * np.cos(a), 60 - 35 * np.sin(a)) for a in angle])


SAMPLE = Sample("curve", "curve.mp4", "the square", FPS, 21, WIDTH, HEIGHT, (0, 20), {})
SHOWN = np.array([0, 10, 20])  # the shown seconds' native frames


def answer_of(boxes: np.ndarray) -> SecondLevelAnswer:
    """The answer ``span [0, 2] s`` with the true boxes at 0, 1 and 2 s."""
    return SecondLevelAnswer((0.0, 2.0), SHOWN / FPS, boxes[SHOWN])


def test_track_recovers_a_curved_path_that_linear_interpolation_cuts() -> None:
    truth = curve_boxes()
    tube = densify(answer_of(truth), SAMPLE, "track", frames=ArrayFrames(render(truth)))
    assert tube.frame_idx.tolist() == list(range(21))
    track_error = np.abs(tube.boxes_xyxy - truth).max()
    assert track_error < TRACK_BOUND_PX
    # Linear interpolation runs along the chord: at 0.5 s (frame 5) it stays at y0 = 48
    # (the boxes at 0 s and 1 s both have y0 = 60 - 12) where the square is 35 px higher.
    linear = densify(answer_of(truth), SAMPLE, "linear")
    errors = np.abs(linear.boxes_xyxy - truth).max(axis=1)
    assert linear.boxes_xyxy[5, 1] == 48.0 and truth[5, 1] == 13.0
    assert errors.max() == 35.0 and errors[5] == errors[15] == 35.0


def test_track_at_a_smaller_tracking_size_maps_boxes_back_to_original_pixels() -> None:
    # max_side 80: the tracker reads 80x60 frames (scale 0.5) and its boxes are scaled back.
    truth = curve_boxes()
    tube = densify(
        answer_of(truth), SAMPLE, "track", frames=ArrayFrames(render(truth)), max_side=80
    )
    assert np.abs(tube.boxes_xyxy - truth).max() < 2.0  # one pixel of the 80x60 frames


def test_a_lost_target_falls_back_to_linear_and_is_counted() -> None:
    # The square is not drawn on frames 3..7: both directions lose it there.
    truth = curve_boxes()
    frames = ArrayFrames(render(truth, hidden=range(3, 8)))
    queries = np.arange(21, dtype=np.float64)
    params = resolve_params("track", {})
    result = track_boxes(SHOWN.astype(float), truth[SHOWN], queries, frames, **params)
    linear = linear_boxes(SHOWN.astype(float), truth[SHOWN], queries)
    np.testing.assert_array_equal(result.boxes[3:8], linear[3:8])
    seen = [1, 2, 8, 9, *range(11, 20)]
    assert np.abs(result.boxes[seen] - truth[seen]).max() < TRACK_BOUND_PX
    assert (result.tracked_frames, result.fallback_frames) == (13, 5)
    assert (result.segments, result.fallback_segments) == (2, 1)
    assert result.seconds > 0


def test_a_target_leaving_the_frame_falls_back_to_linear() -> None:
    # 2 s between the shown boxes; the centre runs cx = 120 + 70 (1 - ((t - 10) / 10)^2):
    # less than half the square is inside the frame on frames 4..16 (cx - 12 >= 148).
    cx = 120 + 70 * (1 - ((np.arange(21) - 10) / 10) ** 2)
    truth = np.array([square_box(x, 60) for x in cx])
    inside = (np.minimum(truth[:, 2], WIDTH) - truth[:, 0]) / SIDE
    assert np.flatnonzero(inside < 0.5).tolist() == list(range(4, 17))
    ends = np.array([0.0, 20.0])
    queries = np.arange(21, dtype=np.float64)
    result = track_boxes(
        ends, truth[[0, 20]], queries, ArrayFrames(render(truth)), **resolve_params("track", {})
    )
    linear = linear_boxes(ends, truth[[0, 20]], queries)
    np.testing.assert_array_equal(result.boxes[4:17], linear[4:17])
    assert result.fallback_frames == 13 and result.tracked_frames == 6
    tracked = [1, 2, 3, 17, 18, 19]
    assert np.abs(result.boxes[tracked] - truth[tracked]).max() < TRACK_BOUND_PX


def test_the_same_inputs_give_the_same_tube() -> None:
    truth = curve_boxes()
    video = render(truth, hidden=range(14, 16))
    first = densify(answer_of(truth), SAMPLE, "track", frames=ArrayFrames(video))
    again = densify(answer_of(truth), SAMPLE, "track", frames=ArrayFrames(video.copy()))
    assert np.array_equal(first.frame_idx, again.frame_idx)
    assert np.array_equal(first.boxes_xyxy, again.boxes_xyxy)


def test_frames_outside_the_answered_seconds_hold_the_end_boxes() -> None:
    # Span 0..2.5 s: frames 21..25 lie after the last box (2 s) and hold it, as linear does.
    truth = curve_boxes(26)
    sample = Sample("curve", "curve.mp4", "the square", FPS, 26, WIDTH, HEIGHT, (0, 25), {})
    answer = SecondLevelAnswer((0.0, 2.5), SHOWN / FPS, truth[SHOWN])
    tube = densify(answer, sample, "track", frames=ArrayFrames(render(truth)))
    np.testing.assert_array_equal(tube.boxes_xyxy[20:], np.tile(truth[20], (6, 1)))


class _Recording:
    """A frame provider that records its calls."""

    def __init__(self, video: np.ndarray) -> None:
        self.inner, self.calls = ArrayFrames(video), []

    def __call__(self, first: int, last: int, max_side: int) -> FrameBlock:
        self.calls.append((first, last, max_side))
        return self.inner(first, last, max_side)


def test_frames_are_read_once_per_answer_and_only_between_its_boxes() -> None:
    truth = curve_boxes(26)
    sample = Sample("curve", "curve.mp4", "the square", FPS, 26, WIDTH, HEIGHT, (0, 25), {})
    provider = _Recording(render(truth))
    # span 0.4..1.5 s: frames 4..15 lie in the segments 0..10 and 10..20
    densify(
        SecondLevelAnswer((0.4, 1.5), SHOWN / FPS, truth[SHOWN]), sample, "track", frames=provider
    )
    assert provider.calls == [(0, 20, 320)]
    one_box = SecondLevelAnswer((1.0, 1.5), np.array([1.0]), truth[[10]])
    tube = densify(one_box, sample, "track", frames=provider)
    assert provider.calls == [(0, 20, 320)]  # one box: nothing to track between
    np.testing.assert_array_equal(tube.boxes_xyxy, np.tile(truth[10], (6, 1)))


def test_blend_weighs_by_time_and_confidence() -> None:
    forward = np.array([[0.0, 0, 10, 10]] * 4)
    backward = np.array([[4.0, 0, 14, 10]] * 4)
    tau = np.array([0.25, 0.25, 0.5, 0.5])
    f_conf = np.array([1.0, 0.0, 0.5, 0.0])
    b_conf = np.array([1.0, 0.8, 1.0, 0.0])
    boxes, ok = blend_tracks(forward, f_conf, backward, b_conf, tau)
    assert ok.tolist() == [True, True, True, False]
    # 0.75 * 0 + 0.25 * 4 = 1; forward lost -> backward; (0.5 * 0.5 * 0 + 0.5 * 4) / 0.75
    assert boxes[:3, 0].tolist() == [1.0, 4.0, pytest.approx(8 / 3)]
    assert np.isnan(boxes[3]).all()
    # the two boxes overlap by 6 of 14 px: IoU 6 / 14 = 0.43 < 0.5, a disagreement
    _, ok = blend_tracks(forward, f_conf, backward, b_conf, tau, min_agreement=0.5)
    assert ok.tolist() == [False, True, False, False]  # only where one track holds a box
    _, ok = blend_tracks(forward, f_conf, backward, b_conf, tau, min_agreement=0.4)
    assert ok.tolist() == [True, True, True, False]


def test_track_without_frames_is_an_error_naming_the_key() -> None:
    truth = curve_boxes()
    with pytest.raises(ValueError, match=r"verifier\.densify\.method.*--fill"):
        densify(answer_of(truth), SAMPLE, "track")
    batch = {
        "first": np.array([0]), "last": np.array([20]), "box_offsets": np.array([0, 3]),
        "times_s": SHOWN / FPS, "boxes_xyxy": truth[SHOWN], "native_fps": np.array([FPS]),
        "num_frames": np.array([21]), "width": np.array([160.0]), "height": np.array([120.0]),
    }  # fmt: skip
    with pytest.raises(ValueError, match="answer 0 of the batch has none"):
        densify_batch("track", resolve_params("track", {}), frames=[None], **batch)
    # the interpolation methods never ask for frames
    plain = densify_batch("linear", {}, **batch)
    assert plain.stats is None and plain.lengths.tolist() == [21]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"min_confidence": 1.5}, r"min_confidence is a share of points \(0\.\.1\)"),
        ({"min_agreement": 2}, r"min_agreement is an IoU \(0\.\.1\)"),
        ({"ends": 2}, r"track\.ends is 0 \(hold the end boxes\) or 1 \(track beyond them\)"),
        ({"max_side": 0}, r"track\.max_side must be > 0"),
        ({"window": 7.5}, r"track\.window must be a whole number"),
        ({"min_points": 60}, r"min_points \(60\) must not exceed track\.max_points \(50\)"),
        ({"tracker": 1}, r"unknown parameter\(s\) \['tracker'\] for densify method 'track'"),
    ],
)
def test_track_parameters_are_validated(params: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        resolve_params("track", params)
    with pytest.raises(ValueError, match=message):
        DensifyConfig(method="track", params=params)


def test_track_defaults() -> None:
    assert resolve_params("track", {}) == {
        "max_side": 320,
        "max_points": 50,
        "min_points": 5,
        "max_fb_error": 1.0,
        "min_confidence": 0.3,
        "window": 15,
        "levels": 3,
        "min_agreement": 0.5,
        "ends": 0,
    }


def test_ends_track_beyond_the_end_boxes_where_the_end_rule_holds() -> None:
    # Boxes at 1 s and 2 s only (frames 10, 20) and the span 0..2.5 s: frames 0..9 and
    # 21..25 lie beyond the end boxes. The end rule holds the 1 s box on frame 0, 80 px
    # from the truth (centre x 120 there, 40 on frame 0); ends: 1 tracks them.
    truth = curve_boxes(26)
    sample = Sample("curve", "curve.mp4", "the square", FPS, 26, WIDTH, HEIGHT, (0, 25), {})
    answer = SecondLevelAnswer((0.0, 2.5), np.array([1.0, 2.0]), truth[[10, 20]])
    video = ArrayFrames(render(truth))
    held = densify(answer, sample, "track", frames=video)
    assert np.abs(held.boxes_xyxy[0] - truth[0]).max() == 80.0
    tracked = densify(answer, sample, "track", frames=video, ends=1)
    assert np.abs(tracked.boxes_xyxy - truth).max() < 1.0  # one direction: no drift fix
    np.testing.assert_array_equal(tracked.boxes_xyxy[10:21], held.boxes_xyxy[10:21])
    # one box: tracked both ways from it
    one = SecondLevelAnswer((0.0, 2.0), np.array([1.0]), truth[[10]])
    tube = densify(one, sample, "track", frames=video, ends=1)
    assert tube.frame_idx.tolist() == list(range(21))
    assert np.abs(tube.boxes_xyxy - truth[:21]).max() < 1.0


def test_ends_hold_the_end_box_where_the_track_is_lost_and_count_it() -> None:
    # The square is hidden on frames 0..4: the backward track from frame 10 loses it there.
    truth = curve_boxes(21)
    video = ArrayFrames(render(truth, hidden=range(0, 5)))
    queries = np.arange(21, dtype=np.float64)
    params = resolve_params("track", {"ends": 1})
    result = track_boxes(np.array([10.0, 20.0]), truth[[10, 20]], queries, video, **params)
    np.testing.assert_array_equal(result.boxes[:5], np.tile(truth[10], (5, 1)))
    assert np.abs(result.boxes[5:] - truth[5:]).max() < 1.0
    assert (result.tracked_frames, result.fallback_frames) == (14, 5)  # 5..9 and 11..19
    assert (result.segments, result.fallback_segments) == (2, 1)
