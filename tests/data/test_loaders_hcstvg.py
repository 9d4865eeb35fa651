"""HC-STVG v1/v2 loaders on hand-written annotation files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stvg.config import from_dict
from stvg.data import DatasetConfig, GroundingDataset, dataset_names, load_dataset

V1 = {
    "clip_a.mp4": {
        "bbox": [[10, 20, 30, 40], [12, 22, 30, 40], [14, 24, 30, 40]],
        "st_frame": 5,
        "st_time": 0.4,
        "ed_time": 0.6,
        "img_num": 200,
        "caption": "  A man in red walks to the door. ",
        "width": 640,
        "height": 360,
    },
    "clip_b.mp4": {
        "bbox": [[0, 0, 64, 36]],
        "st_frame": 1,
        "st_time": 0.0,
        "ed_time": 0.0,
        "img_num": 400,
        "caption": "The woman sits down.",
        "width": 64,
        "height": 36,
    },
}

V2 = {
    # Boxes partly outside the 640x360 frame: the first is kept as annotated (and counted).
    "12/x_y.mp4": {
        "bbox": [[600, 300, 100, 100], [0.5, 1.5, 10.25, 20.0]],
        "st_frame": 199,
        "st_time": 19.8,
        "ed_time": 19.9,
        "img_num": 200,
        "English": "the man in the hat points to the front",
        "img_size": [360, 640],
    },
    # Span past the video: first = 199, last = 201 -> clipped to (199, 199).
    "13/late.mp4": {
        "bbox": [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12]],
        "st_frame": 200,
        "st_time": 19.9,
        "ed_time": 20.1,
        "img_num": 200,
        "English": "the dog runs",
        "img_size": [360, 640],
    },
    # Explicit fps (the synthetic benchmark's extension) overrides img_num / 20.
    "14/fps.mp4": {
        "bbox": [[2, 2, 4, 4]],
        "st_frame": 3,
        "img_num": 100,
        "fps": 25,
        "English": "the ball",
        "img_size": [48, 64],
    },
}


def write(path: Path, data) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_v1_entry_conversion(tmp_path):
    write(tmp_path / "test.json", V1)
    dataset = load_dataset("hcstvg", root=tmp_path, split="test")
    assert isinstance(dataset, GroundingDataset)
    assert (dataset.name, dataset.split, dataset.source) == (
        "hcstvg",
        "test",
        str(tmp_path / "test.json"),
    )
    assert dataset.ids == ["clip_a.mp4", "clip_b.mp4"]
    sample = dataset.get("clip_a.mp4")
    assert sample.query == "A man in red walks to the door."
    assert sample.native_fps == 10.0  # img_num / 20
    assert sample.num_frames == 200
    assert sample.duration_s == 20.0
    assert (sample.width, sample.height) == (640, 360)
    assert sample.gt_span == (4, 6)  # st_frame 5 is 1-based; 3 boxes
    assert sample.gt_boxes == {
        4: [10.0, 20.0, 40.0, 60.0],
        5: [12.0, 22.0, 42.0, 62.0],
        6: [14.0, 24.0, 44.0, 64.0],
    }
    assert sample.video_path == str(tmp_path / "videos" / "clip_a.mp4")
    assert sample.meta == {
        "dataset": "hcstvg",
        "split": "test",
        "st_time": 0.4,
        "ed_time": 0.6,
        "repairs": {},
    }
    other = dataset[1]
    assert other.gt_span == (0, 0)
    assert other.gt_boxes == {0: [0.0, 0.0, 64.0, 36.0]}  # exactly the frame: not clipped
    assert other.native_fps == 20.0
    assert dataset.repairs == {}


def test_v1_default_split_is_test(tmp_path):
    write(tmp_path / "test.json", V1)
    assert load_dataset("hcstvg", root=tmp_path).split == "test"


def test_v2_conversion_and_repairs(tmp_path):
    write(tmp_path / "valv2.json", V2)
    dataset = load_dataset("hcstvg2", root=tmp_path)  # default split val -> valv2.json
    assert dataset.split == "val"
    assert len(dataset) == 3
    clipped = dataset.get("12/x_y.mp4")
    assert (clipped.width, clipped.height) == (640, 360)  # img_size is [height, width]
    assert clipped.gt_span == (198, 199)
    assert clipped.gt_boxes == {
        198: [600.0, 300.0, 700.0, 400.0],
        199: [0.5, 1.5, 10.75, 21.5],
    }
    assert clipped.meta["repairs"] == {"box_outside_frame": 1}
    assert clipped.video_path == str(tmp_path / "videos" / "12" / "x_y.mp4")

    late = dataset.get("13/late.mp4")
    assert late.gt_span == (199, 199)
    assert late.gt_boxes == {199: [1.0, 2.0, 4.0, 6.0]}
    assert late.meta["repairs"] == {"span_clipped_to_video": 1}

    fps = dataset.get("14/fps.mp4")
    assert fps.native_fps == 25.0
    assert fps.duration_s == 4.0
    assert fps.gt_span == (2, 2)
    assert "st_time" not in fps.meta  # optional keys are kept only when present

    assert dataset.repairs == {"box_outside_frame": 1, "span_clipped_to_video": 1}
    assert dataset.summary() == {
        "name": "hcstvg2",
        "split": "val",
        "source": str(tmp_path / "valv2.json"),
        "num_samples": 3,
        "num_videos": 3,
        "repairs": {"box_outside_frame": 1, "span_clipped_to_video": 1},
    }


def test_explicit_annotation_file_names_the_split_and_video_dir(tmp_path):
    annotations = write(tmp_path / "ann" / "trainv2.json", V2)
    dataset = load_dataset("hcstvg2", annotations=annotations)
    assert dataset.split == "train"
    assert dataset[0].video_path == str(tmp_path / "ann" / "videos" / "12" / "x_y.mp4")
    moved = load_dataset("hcstvg2", annotations=annotations, video_dir=tmp_path / "mp4")
    assert moved[0].video_path == str(tmp_path / "mp4" / "12" / "x_y.mp4")
    named = load_dataset("hcstvg2", annotations=annotations, split="mine")
    assert named.split == "mine"
    assert named[0].meta["split"] == "mine"


def test_sequence_protocol_and_lookup(tmp_path):
    write(tmp_path / "test.json", V1)
    dataset = load_dataset("hcstvg", root=tmp_path)
    assert [s.sample_id for s in dataset] == ["clip_a.mp4", "clip_b.mp4"]
    assert [s.sample_id for s in dataset[::-1]] == ["clip_b.mp4", "clip_a.mp4"]
    assert dataset[-1].sample_id == "clip_b.mp4"
    with pytest.raises(KeyError, match=r"'nope\.mp4' is not in dataset 'hcstvg' split 'test'"):
        dataset.get("nope.mp4")


def test_unknown_dataset_lists_known_names():
    assert {"hcstvg", "hcstvg2", "vidstg", "synthetic"} <= set(dataset_names())
    with pytest.raises(
        ValueError, match="unknown dataset 'hcstvg3'; known datasets: hcstvg, hcstvg2"
    ):
        load_dataset("hcstvg3", root=".")


def test_needs_root_or_annotations_and_rejects_vidor_root(tmp_path):
    with pytest.raises(ValueError, match="needs root=<dataset folder> or annotations=<file>"):
        load_dataset("hcstvg")
    write(tmp_path / "test.json", V1)
    with pytest.raises(ValueError, match="vidor_root applies to the vidstg dataset only"):
        load_dataset("hcstvg", root=tmp_path, vidor_root=tmp_path)


def test_dataset_config_from_dict(tmp_path):
    write(tmp_path / "valv2.json", V2)
    config = from_dict(DatasetConfig, {"name": "hcstvg2", "root": str(tmp_path), "split": "val"})
    dataset = config.load()
    assert (dataset.name, dataset.split, len(dataset)) == ("hcstvg2", "val", 3)
