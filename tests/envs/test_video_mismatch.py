"""A video that disagrees with its annotation (frame count, fps, size) is a bad video: the
env skips or stops on it by ``on_bad_video`` with the numbers in the reason, instead of
showing 3 of 10 frames and scoring against a ground truth past the video's end."""

from __future__ import annotations

import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest

from stvg.data.errors import VideoError
from stvg.data.types import Sample
from stvg.data.video import decode_sample_frames
from stvg.envs.grounding import GroundingEnv


def write_video(path: Path, frames: int, fps: float, width: int, height: int) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    for i in range(frames):
        writer.write(np.full((height, width, 3), (i * 7) % 250, dtype=np.uint8))
    writer.release()
    return path


def sample(path: Path, frames: int, fps: float, width: int, height: int, sid: str = "s") -> Sample:
    gt = {f: [0.0, 0.0, 8.0, 8.0] for f in range(0, 5)}
    return Sample(sid, str(path), "the target", fps, frames, width, height, (0, 4), gt)


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("mismatch")
    return {
        "30f": write_video(root / "30f.mp4", 30, 10.0, 64, 48),
        "25fps": write_video(root / "25fps.mp4", 50, 25.0, 112, 112),
    }


def test_frame_count_mismatch_names_the_numbers(videos) -> None:
    # 30 frames at 10 fps annotated as 100: before, 3 of the 10 frames at 1 fps were shown
    with pytest.raises(VideoError) as info:
        decode_sample_frames(sample(videos["30f"], 100, 10.0, 64, 48), 1.0, None, 64)
    message = str(info.value)
    assert "does not match its annotation: 30 frames in the file, 100 annotated" in message
    assert "sample 's'" in message and "30f.mp4" in message


def test_fps_and_size_mismatch_names_every_number(videos) -> None:
    # 25 fps 112x112 annotated as 10 fps 224x224 (and 20 frames: 2 s at 10 fps)
    with pytest.raises(VideoError) as info:
        decode_sample_frames(sample(videos["25fps"], 50, 10.0, 224, 224), 1.0, None, 64)
    message = str(info.value)
    assert "25 fps in the file, 10 annotated" in message
    assert "width 112 px in the file, 224 annotated" in message
    assert "height 112 px in the file, 224 annotated" in message
    assert "frames in the file" not in message  # 50 frames match


@pytest.mark.parametrize(
    ("frames", "fps", "width", "height"),
    [
        (30, 10.0, 64, 48),  # exact
        (40, 10.0, 64, 48),  # 10 frames = 1 s at 10 fps: the count tolerance
        (30, 10.15, 65, 47),  # 1.5 % of the fps, 1 px
    ],
)
def test_within_the_tolerance_plays(videos, frames, fps, width, height) -> None:
    sampled = decode_sample_frames(sample(videos["30f"], frames, fps, width, height), 1.0, None, 64)
    assert len(sampled) >= 3


def test_env_skips_or_stops_on_a_mismatched_video(videos) -> None:
    bad = sample(videos["30f"], 100, 10.0, 64, 48, sid="bad")
    good = sample(videos["30f"], 30, 10.0, 64, 48, sid="good")
    env = GroundingEnv(samples=[bad, good], on_bad_video="error", max_side=64, max_frames=10)
    with pytest.raises(VideoError, match="30 frames in the file, 100 annotated"):
        env.reset(seed=0)
    env = GroundingEnv(samples=[bad, good], on_bad_video="skip", max_side=64, max_frames=10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, info = env.reset(seed=0)
    assert info["sample_id"] == "good"
    (skipped,) = info["bad_videos"]
    assert skipped["sample_id"] == "bad"
    assert "30 frames in the file, 100 annotated" in skipped["reason"]
