"""Bad input: every problem is a DataError/VideoError naming the file, sample and field,
or a documented repair that is counted."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest

from stvg.data import DataError, GroundingDataset, Sample, VideoError, VideoReader, load_dataset

V1_ENTRY = {
    "bbox": [[10, 20, 30, 40], [12, 22, 30, 40]],
    "st_frame": 5,
    "st_time": 0.4,
    "ed_time": 0.5,
    "img_num": 200,
    "caption": "a man walks",
    "width": 640,
    "height": 360,
}
VIDSTG_ENTRY = {
    "vid": "1234",
    "fps": 30,
    "frame_count": 300,
    "width": 640,
    "height": 360,
    "temporal_gt": {"begin_fid": 10, "end_fid": 40},
    "used_segment": {"begin_fid": 0, "end_fid": 299},
    "captions": [{"description": "a dog runs.", "type": "object", "target_id": 0}],
    "questions": [{"description": "what runs?", "type": "object", "target_id": 0}],
}


def write_json(path: Path, data) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def load_v1(tmp_path: Path, **changes):
    entry = copy.deepcopy(V1_ENTRY)
    for key, value in changes.items():
        if value is None:
            del entry[key]
        else:
            entry[key] = value
    path = write_json(tmp_path / "test.json", {"clip.mp4": entry})
    return path, load_dataset("hcstvg", annotations=path)


def load_vidstg_entry(tmp_path: Path, entry: dict):
    path = write_json(tmp_path / "test_annotations.json", [entry])
    return path, load_dataset("vidstg", annotations=path)


# ---------------------------------------------------------------- videos
def test_missing_video_names_the_file(tmp_path):
    path = tmp_path / "absent.mp4"
    with pytest.raises(VideoError, match="video file not found") as info:
        VideoReader(path)
    assert str(path) in str(info.value)
    assert info.value.path == str(path)


@pytest.mark.parametrize("content", [b"", np.random.default_rng(0).bytes(4096)])
def test_corrupt_video_is_unreadable(tmp_path, content):
    path = tmp_path / "x.mp4"
    path.write_bytes(content)
    with pytest.raises(VideoError, match="video file is unreadable") as info:
        VideoReader(path)
    assert str(path) in str(info.value)


# ---------------------------------------------------------------- annotation files
def test_malformed_json_names_the_file(tmp_path):
    path = tmp_path / "test.json"
    path.write_text('{"clip.mp4": {"bbox": [[1, 2, 3, 4]', encoding="utf-8")
    with pytest.raises(DataError, match="not valid JSON.*at line 1") as info:
        load_dataset("hcstvg", annotations=path)
    assert str(path) in str(info.value)


def test_missing_annotation_file(tmp_path):
    with pytest.raises(DataError, match="annotation file not found"):
        load_dataset("hcstvg", annotations=tmp_path / "nope.json")
    with pytest.raises(DataError, match=r"no annotation file for 'hcstvg2' split 'val'; tried"):
        load_dataset("hcstvg2", root=tmp_path)


def test_wrong_top_level_type(tmp_path):
    path = write_json(tmp_path / "test.json", [V1_ENTRY])
    with pytest.raises(DataError, match="expected a JSON object keyed by video file name"):
        load_dataset("hcstvg", annotations=path)
    with pytest.raises(DataError, match="expected a JSON list of VidSTG entries"):
        load_dataset("vidstg", annotations=write_json(tmp_path / "v.json", {"a": 1}))


# ---------------------------------------------------------------- missing or wrong keys
@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"caption": None}, "caption", "missing annotation key"),
        ({"img_num": None}, "img_num", "missing annotation key"),
        ({"bbox": []}, "bbox", "no boxes"),
        ({"bbox": [[1, 2, 3]]}, "bbox[0]", r"expected a box \[x, y, w, h\]"),
        ({"width": "640"}, "width", "expected a number"),
        ({"st_frame": 2.5}, "st_frame", "expected an integer"),
        ({"fps": 0}, "fps", "expected a positive number"),
        ({"caption": "   "}, "caption", "expected a non-empty string"),
    ],
)
def test_bad_hcstvg_entry_names_file_sample_and_field(tmp_path, changes, field, message):
    with pytest.raises(DataError, match=message) as info:
        load_v1(tmp_path, **changes)
    error = info.value
    assert (error.path, error.sample_id, error.field) == (
        str(tmp_path / "test.json"),
        "clip.mp4",
        field,
    )
    text = str(error)
    assert str(tmp_path / "test.json") in text and "'clip.mp4'" in text and repr(field) in text


def test_missing_vidstg_keys_name_the_key_path(tmp_path):
    entry = copy.deepcopy(VIDSTG_ENTRY)
    del entry["temporal_gt"]["end_fid"]
    with pytest.raises(DataError) as info:
        load_vidstg_entry(tmp_path, entry)
    assert (info.value.sample_id, info.value.field) == ("1234/0", "temporal_gt.end_fid")

    entry = copy.deepcopy(VIDSTG_ENTRY)
    del entry["questions"][0]["target_id"]
    with pytest.raises(DataError, match="missing annotation key") as info:
        load_vidstg_entry(tmp_path, entry)
    assert (info.value.sample_id, info.value.field) == ("1234/0/q0", "questions[0].target_id")


# ---------------------------------------------------------------- impossible boxes: errors
def test_negative_box_width_is_an_error(tmp_path):
    # xywh [50, 20, -10, 40] would give x2 = 40 < x1 = 50: rejected, not silently flipped.
    with pytest.raises(DataError, match="negative width or height") as info:
        load_v1(tmp_path, bbox=[[10, 20, 30, 40], [50, 20, -10, 40]])
    assert (info.value.sample_id, info.value.field) == ("clip.mp4", "bbox[1]")


def test_reversed_vidor_box_is_an_error(tmp_path):
    annotations = write_json(tmp_path / "test.json", [VIDSTG_ENTRY])
    vidor_file = tmp_path / "vidor" / "0000" / "1234.json"
    vidor_file.parent.mkdir(parents=True)
    good = {"tid": 0, "bbox": {"xmin": 1, "ymin": 2, "xmax": 3, "ymax": 4}}
    bad = {"tid": 0, "bbox": {"xmin": 9, "ymin": 2, "xmax": 3, "ymax": 4}}
    trajectories = [[good] for _ in range(300)]
    trajectories[25] = [{"tid": 1, "bbox": good["bbox"]}, bad]
    write_json(vidor_file, {"trajectories": trajectories})
    with pytest.raises(DataError, match="xmax < xmin") as info:
        load_dataset("vidstg", annotations=annotations, vidor_root=tmp_path / "vidor")
    assert info.value.path == str(vidor_file)
    assert info.value.sample_id == "1234/0/d0"
    assert info.value.field == "trajectories[25][1].bbox"


# ---------------------------------------------------------------- repairs and findings, counted
def test_boxes_outside_the_frame_are_kept_as_annotated_and_counted(tmp_path):
    # 640x360 frame: [630, 350, 20, 20] -> [630, 350, 650, 370]; [-5, -5, 10, 10] ->
    # [-5, -5, 5, 5]; [700, 400, 10, 10] lies entirely outside -> [700, 400, 710, 410]; all
    # three are kept (the official evaluator scores GT as annotated) and counted.
    _, dataset = load_v1(
        tmp_path, bbox=[[630, 350, 20, 20], [-5, -5, 10, 10], [700, 400, 10, 10], [1, 1, 2, 2]]
    )
    sample = dataset[0]
    assert sample.gt_boxes == {
        4: [630.0, 350.0, 650.0, 370.0],
        5: [-5.0, -5.0, 5.0, 5.0],
        6: [700.0, 400.0, 710.0, 410.0],
        7: [1.0, 1.0, 3.0, 3.0],
    }
    assert sample.meta["repairs"] == {"box_outside_frame": 3}
    assert dataset.repairs == {"box_outside_frame": 3}


def test_span_partly_outside_is_clipped_and_counted(tmp_path):
    # st_frame 0 means first = -1: the box of frame -1 is dropped.
    _, dataset = load_v1(tmp_path, st_frame=0, bbox=[[1, 1, 2, 2], [3, 3, 2, 2], [5, 5, 2, 2]])
    assert dataset[0].gt_span == (0, 1)
    assert dataset[0].gt_boxes == {0: [3.0, 3.0, 5.0, 5.0], 1: [5.0, 5.0, 7.0, 7.0]}
    assert dataset.repairs == {"span_clipped_to_video": 1}


def test_span_entirely_outside_is_an_error(tmp_path):
    with pytest.raises(DataError, match=r"span \[200, 201\].*entirely outside.*200 frames") as info:
        load_v1(tmp_path, st_frame=201)
    assert (info.value.sample_id, info.value.field) == ("clip.mp4", "st_frame")


def test_vidstg_span_past_the_video_is_clipped_per_sample(tmp_path):
    entry = copy.deepcopy(VIDSTG_ENTRY)
    entry["temporal_gt"] = {"begin_fid": 250, "end_fid": 320}  # exclusive end past 300 frames
    _, dataset = load_vidstg_entry(tmp_path, entry)
    assert [s.gt_span for s in dataset] == [(250, 299), (250, 299)]
    assert dataset.repairs == {"span_clipped_to_video": 2}  # one caption + one question


@pytest.mark.parametrize(
    ("temporal_gt", "message"),
    [
        ({"begin_fid": 300, "end_fid": 310}, "entirely outside"),
        ({"begin_fid": 40, "end_fid": 40}, "empty ground-truth span"),
    ],
)
def test_vidstg_impossible_spans(tmp_path, temporal_gt, message):
    entry = copy.deepcopy(VIDSTG_ENTRY)
    entry["temporal_gt"] = temporal_gt
    with pytest.raises(DataError, match=message) as info:
        load_vidstg_entry(tmp_path, entry)
    assert info.value.sample_id == "1234/0"


def test_duplicate_sample_ids(tmp_path):
    sample = Sample("a", "a.mp4", "q", 30.0, 10, 64, 48, (0, 1), {})
    with pytest.raises(DataError, match="duplicate sample id"):
        GroundingDataset("x", "test", tmp_path / "x.json", [sample, sample])
