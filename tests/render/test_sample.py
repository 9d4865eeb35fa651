"""Rendering one sample from its video: frames read, mp4 frame counts and colours, errors."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from render_fixtures import GREY, GREY_BOX, GREY_FRAMES, GREY_SPAN, SPLIT

from stvg.config import ConfigError
from stvg.data import load_dataset
from stvg.data.errors import VideoError
from stvg.data.types import Sample, Tube
from stvg.data.video import VideoReader
from stvg.render.mp4 import Mp4Writer
from stvg.render.sample import read_sample_frames, render_sample, write_sample_video
from stvg.render.sheet import SheetLayout, sheet_geometry
from stvg.verifiers.predictions import Prediction


def count_frames(path: Path) -> int:
    capture = cv2.VideoCapture(str(path))
    count = 0
    while capture.grab():
        count += 1
    capture.release()
    return count


def test_read_sample_frames_one_per_second(synthetic_root: Path) -> None:
    sample = load_dataset("synthetic", root=synthetic_root, split=SPLIT)[0]
    sampled = read_sample_frames(sample, 1.0)  # 4 s at 5 fps: frames 0, 5, 10, 15
    assert sampled.frame_idx.tolist() == [0, 5, 10, 15]
    assert sampled.timestamps_s.tolist() == [0.0, 1.0, 2.0, 3.0]
    assert sampled.frames.shape == (4, 64, 64, 3)


def test_video_has_every_frame_and_green_boxes_in_the_span(
    grey_sample: Sample, tmp_path: Path
) -> None:
    out = tmp_path / "grey.mp4"
    assert write_sample_video(grey_sample, None, out, captions=False) == GREY_FRAMES
    assert count_frames(out) == GREY_FRAMES
    with VideoReader(out) as reader:
        assert (reader.width, reader.height, reader.native_fps) == (128, 96, 10.0)
        decoded = reader.read_frames(np.arange(GREY_FRAMES)).frames
    x1, y1 = int(GREY_BOX[0]), int(GREY_BOX[1])
    for frame in range(GREY_FRAMES):
        left_edge = decoded[frame, 40, x1].astype(int)  # row 40, column 16: the GT left edge
        if GREY_SPAN[0] <= frame <= GREY_SPAN[1]:
            assert left_edge[1] > 200 and left_edge[0] < 60 and left_edge[2] < 60, frame
        else:
            assert np.abs(left_edge - GREY).max() < 15, frame
        assert np.abs(decoded[frame, 40, 48].astype(int) - GREY).max() < 15  # box inside
    assert np.abs(decoded[3, y1 - 8, 48].astype(int) - GREY).max() < 15  # above the box


def test_video_draws_the_prediction_in_magenta(grey_sample: Sample, tmp_path: Path) -> None:
    # prediction on frames 6..9 only, box [64, 32, 112, 80]: its left edge at column 64
    pred = Prediction((6, 9), Tube.from_dict({f: [64, 32, 112, 80] for f in range(6, 10)}))
    out = tmp_path / "pred.mp4"
    assert write_sample_video(grey_sample, pred, out) == GREY_FRAMES
    with VideoReader(out) as reader:
        decoded = reader.read_frames(np.arange(GREY_FRAMES)).frames
    edge = decoded[:, 56, 64].astype(int)  # [frame, rgb]
    magenta = (edge[:, 0] > 200) & (edge[:, 2] > 200) & (edge[:, 1] < 60)
    assert magenta.tolist() == [False] * 6 + [True] * 4


def test_odd_sizes_are_padded_to_even(tmp_path: Path) -> None:
    out = tmp_path / "odd.mp4"
    with Mp4Writer(out, 5.0, (63, 47)) as writer:
        for _ in range(3):
            writer.write(np.zeros((47, 63, 3), dtype=np.uint8))
        with pytest.raises(ValueError, match="shape"):
            writer.write(np.zeros((48, 64, 3), dtype=np.uint8))
    with VideoReader(out) as reader:
        assert (reader.width, reader.height, reader.num_frames) == (64, 48, 3)


def test_png_sheet_of_a_synthetic_sample(synthetic_root: Path, tmp_path: Path) -> None:
    sample = load_dataset("synthetic", root=synthetic_root, split=SPLIT)[1]
    prediction = Prediction(sample.gt_span, sample.gt_tube())
    layout = SheetLayout(tile_width=128)
    out = render_sample(sample, prediction, tmp_path / "sheet.png", layout=layout)
    image = cv2.imread(str(out))
    width, height = sheet_geometry(4, (64, 64), (64, 64), layout).size
    assert image.shape == (height, width, 3)


def test_errors_name_the_sample_and_the_fix(grey_sample: Sample, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"'\.gif'.*\.png.*\.mp4"):
        render_sample(grey_sample, None, tmp_path / "x.gif")
    lost = Sample(**{**grey_sample.__dict__, "video_path": str(tmp_path / "nowhere.mp4")})
    with pytest.raises(VideoError, match=r"video file not found.*sample 'grey'.*--video-dir"):
        render_sample(lost, None, tmp_path / "x.png")
