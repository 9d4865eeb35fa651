"""The SFT frame cache follows the videos' content: a split regenerated in place decodes
again (with a warning) instead of training on the old frames; a deleted video is an error
naming the sample."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from stvg.data import load_dataset
from stvg.data.errors import VideoError
from stvg.data.synthetic import generate_split
from stvg.training.sft.native_data import load_cached_frames

SETTINGS = dict(fps=1.0, max_frames=10, max_side=64, frame_size=16, name="train")


def _load(root: Path):
    samples = list(load_dataset("synthetic", split="train", root=root))
    return samples, load_cached_frames(samples, cache_dir=root / "native_cache", **SETTINGS)


def test_split_regenerated_in_place_is_decoded_again(tmp_path: Path) -> None:
    generate_split(tmp_path, "train", 3, 0, "easy")
    _, first = _load(tmp_path)
    _, again = _load(tmp_path)  # unchanged videos: read back, no warning
    assert np.array_equal(first.frames, again.frames)
    generate_split(tmp_path, "train", 3, 7, "easy")  # same ids and paths, other scenes
    for video in (tmp_path / "videos").glob("train_*"):  # same-second writes: bump mtime
        os.utime(video, ns=(video.stat().st_atime_ns, video.stat().st_mtime_ns + 10**9))
    with pytest.warns(UserWarning, match="no longer matches the train videos"):
        samples, fresh = _load(tmp_path)
    assert not np.array_equal(fresh.frames, first.frames)
    reference = load_cached_frames(samples, cache_dir=tmp_path / "other_cache", **SETTINGS)
    assert np.array_equal(fresh.frames, reference.frames)  # what the new videos hold
    assert len(list((tmp_path / "native_cache").glob("train-*.npz"))) == 1  # stale one removed


def test_deleted_video_is_an_error_naming_the_sample(tmp_path: Path) -> None:
    generate_split(tmp_path, "train", 2, 0, "easy")
    samples, _ = _load(tmp_path)
    Path(samples[1].video_path).unlink()
    with pytest.raises(VideoError, match=samples[1].sample_id):
        _load(tmp_path)
