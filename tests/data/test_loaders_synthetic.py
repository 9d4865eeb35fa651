"""Synthetic loader: HC-STVG v2 entries with fps, scenes attached from <split>_scenes.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stvg.data import DataError, load_dataset

ANNOTATIONS = {
    "val_0000.mp4": {
        "English": "The red circle moves right.",
        "bbox": [[10.5, 20.25, 8.0, 8.0], [11.5, 20.25, 8.0, 8.0]],
        "st_frame": 31,
        "st_time": 3.0,
        "ed_time": 3.1,
        "img_num": 100,
        "img_size": [224, 224],
        "fps": 10.0,
    },
}
SCENES = {"val_0000.mp4": {"scene_id": "val_0000.mp4", "objects": [{"shape": "circle"}]}}


def write(path: Path, data) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_synthetic_split_with_scenes(tmp_path):
    write(tmp_path / "val.json", ANNOTATIONS)
    write(tmp_path / "val_scenes.json", SCENES)
    dataset = load_dataset("synthetic", root=tmp_path, split="val")
    sample = dataset.get("val_0000.mp4")
    assert sample.native_fps == 10.0  # the explicit fps, not img_num / 20 = 5
    assert sample.duration_s == 10.0
    assert sample.gt_span == (30, 31)
    assert sample.gt_boxes == {30: [10.5, 20.25, 18.5, 28.25], 31: [11.5, 20.25, 19.5, 28.25]}
    assert sample.video_path == str(tmp_path / "videos" / "val_0000.mp4")
    assert sample.meta["dataset"] == "synthetic"
    assert sample.meta["split"] == "val"
    assert sample.meta["scene"] == SCENES["val_0000.mp4"]
    assert (sample.meta["st_time"], sample.meta["ed_time"]) == (3.0, 3.1)


def test_scenes_file_is_optional(tmp_path):
    write(tmp_path / "test.json", ANNOTATIONS)
    dataset = load_dataset("synthetic", root=tmp_path)  # default split test
    assert dataset.split == "test"
    assert "scene" not in dataset[0].meta


def test_scene_missing_for_a_sample(tmp_path):
    write(tmp_path / "val.json", ANNOTATIONS)
    write(tmp_path / "val_scenes.json", {"other.mp4": {}})
    with pytest.raises(DataError, match=r"val_scenes\.json.*sample 'val_0000\.mp4'"):
        load_dataset("synthetic", annotations=tmp_path / "val.json")


def test_generated_split_loads(tmp_path):
    synthetic = pytest.importorskip("stvg.data.synthetic")
    summary = synthetic.generate_split(tmp_path, "val", 2, 7, "easy")
    dataset = load_dataset("synthetic", root=tmp_path, split="val")
    assert len(dataset) == summary["n"] == 2
    for sample in dataset:
        assert Path(sample.video_path).is_file()
        assert sample.native_fps == summary["fps"]
        assert sample.num_frames == summary["num_frames"]
        assert sample.meta["scene"]["scene_id"] == sample.sample_id
        first, last = sample.gt_span
        assert sorted(sample.gt_boxes) == list(range(first, last + 1))
    spans = [s.gt_span[1] - s.gt_span[0] + 1 for s in dataset]
    assert sum(spans) / 2 == summary["mean_span_frames"]
