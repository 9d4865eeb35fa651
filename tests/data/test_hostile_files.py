"""Annotation, predictions and ground-truth JSON built to break the readers: nesting far
past what a parser follows, and keys given twice. Each is a DataError (or the adapters'
ValueError) naming the file, never a RecursionError or an entry silently dropped."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stvg.cli import main
from stvg.data import load_dataset
from stvg.data.errors import DataError
from stvg.verifiers.predictions import load_predictions

DEPTH = 100_000
ENTRY = {
    "English": "the man walks",
    "bbox": [[0, 0, 10, 10]] * 10,
    "st_frame": 31,
    "img_num": 600,
    "img_size": [64, 64],
}


def deep(n: int = DEPTH) -> str:
    return "[" * n + "]" * n


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_deep_predictions_file_is_a_data_error(tmp_path: Path) -> None:
    # before: RecursionError from msgspec, then from json (a traceback in stvg evaluate)
    for text in (
        '{"a": ' + deep() + "}",
        '{"a": {"st_frame": 0, "ed_frame": 1, "bbox": {}, "x": ' + deep() + "}}",
    ):
        path = write(tmp_path / "p.json", text)
        with pytest.raises(DataError, match="nested too deeply") as info:
            load_predictions(path)
        assert str(path) in str(info.value)


def test_deep_annotation_file_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    annotations = write(tmp_path / "valv2.json", '{"a.mp4": {"x": ' + deep() + "}}")
    with pytest.raises(DataError, match="annotation file is nested too deeply"):
        load_dataset("hcstvg2", annotations=annotations)
    pred = write(tmp_path / "p.json", "{}")
    argv = ["evaluate", "--annotations", str(annotations), "--format", "hcstvg2"]
    assert main([*argv, "--predictions", str(pred)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "nested too deeply" in err


def test_deep_ground_truth_record_is_a_value_error() -> None:
    from stvg.verifiers.adapters import compute_score

    with pytest.raises(ValueError, match="ground_truth is nested too deeply"):
        compute_score("src", "<answer>{}</answer>", '{"gt_span": ' + deep() + "}")


def test_duplicate_sample_id_in_hcstvg_annotations(tmp_path: Path) -> None:
    # before: json.load kept the second entry and the first sample silently disappeared
    entry = json.dumps(ENTRY)
    path = write(
        tmp_path / "valv2.json", f'{{"a.mp4": {entry}, "b.mp4": {entry}, "a.mp4": {entry}}}'
    )
    with pytest.raises(DataError, match="sample id 'a.mp4' is given twice") as info:
        load_dataset("hcstvg2", annotations=path)
    assert info.value.sample_id == "a.mp4" and str(path) in str(info.value)


def test_duplicate_field_in_an_annotation_entry(tmp_path: Path) -> None:
    text = json.dumps({"a.mp4": ENTRY})[:-2] + ', "st_frame": 1}}'
    path = write(tmp_path / "valv2.json", text)
    with pytest.raises(DataError, match="key 'st_frame' is given twice") as info:
        load_dataset("hcstvg2", annotations=path)
    assert info.value.sample_id == "a.mp4" and info.value.field == "st_frame"


def test_duplicate_id_in_the_synthetic_scene_file(tmp_path: Path) -> None:
    entry = json.dumps({**ENTRY, "fps": 30.0})
    write(tmp_path / "test.json", f'{{"a.mp4": {entry}}}')
    write(tmp_path / "test_scenes.json", '{"a.mp4": {"n": 1}, "a.mp4": {"n": 2}}')
    with pytest.raises(DataError, match="sample id 'a.mp4' is given twice") as info:
        load_dataset("synthetic", root=tmp_path, split="test")
    assert "test_scenes.json" in str(info.value)


def test_a_huge_sample_id_is_cut_in_the_message(tmp_path: Path) -> None:
    long_id = "v" * 100_000
    path = write(tmp_path / "p.json", json.dumps({long_id: {"st_frame": 2, "ed_frame": 1}}))
    with pytest.raises(DataError) as info:
        load_predictions(path)
    assert len(str(info.value)) < 1000 and "vvvv..." in str(info.value)


@pytest.mark.parametrize(
    ("change", "message", "field"),
    [
        ({"img_num": 10**15}, "expected at most 10,000,000", "img_num"),  # before: 7 PiB array
        ({"img_num": 1e15}, "expected at most 10,000,000", "img_num"),
        ({"fps": 1e-300}, "expected at least 0.01", "fps"),  # before: infinite durations
        ({"fps": 5000.0}, "expected at most 1,000", "fps"),
        ({"img_size": [64, 10**6]}, "expected at most 16,384 pixels", "img_size[1]"),
        ({"st_frame": 10**400}, "too large", "st_frame"),  # before: OverflowError
    ],
)
def test_annotated_video_sizes_are_bounded(tmp_path: Path, change, message, field) -> None:
    path = write(tmp_path / "valv2.json", json.dumps({"a.mp4": {**ENTRY, **change}}))
    with pytest.raises(DataError, match=message) as info:
        load_dataset("hcstvg2", annotations=path)
    assert info.value.field == field and info.value.sample_id == "a.mp4"


def test_vidstg_used_segment_is_bounded(tmp_path: Path) -> None:
    entry = {
        "vid": "v1",
        "fps": 30.0,
        "frame_count": 300,
        "width": 640,
        "height": 480,
        "temporal_gt": {"begin_fid": 30, "end_fid": 90},
        "used_segment": {"begin_fid": 0, "end_fid": 10**15},  # before: a 10**15-frame grid
        "captions": [{"description": "a man", "type": "person", "target_id": 0}],
        "questions": [],
    }
    path = write(tmp_path / "test.json", json.dumps([entry]))
    with pytest.raises(DataError, match="expected at most 10,000,000") as info:
        load_dataset("vidstg", annotations=path)
    assert info.value.field == "used_segment.end_fid"


def test_a_sample_out_of_bounds_cannot_be_built() -> None:
    from stvg.data.types import Sample
    from stvg.verifiers.adapters import compute_score, ground_truth_to_dict
    from stvg.verifiers.formats import FrameContext

    with pytest.raises(ValueError, match="native_fps 1e-300 is outside"):
        Sample("s", "s.mp4", "q", 1e-300, 10, 64, 64, (0, 1), {})
    good = Sample("s", "s.mp4", "q", 10.0, 10, 64, 64, (0, 1), {0: [0.0, 0.0, 8.0, 8.0]})
    record = ground_truth_to_dict(good, FrameContext.from_sample(good, fps=1.0))
    with pytest.raises(ValueError, match="num_frames 1000000000000000 is outside"):
        compute_score("src", "<answer>{}</answer>", {**record, "num_frames": 10**15})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"gt_boxes": {str(2**70): [0, 0, 8, 8]}}, "frame key '1180591620717411303424' is not"),
        ({"gt_boxes": {-3: [0, 0, 8, 8]}}, "frame key -3 is not a frame index"),
        ({"frame_indices": [0, 2**70]}, "expected integers from 0 to 9,999,999"),
    ],
)
def test_ground_truth_record_frames_are_bounded(change, message) -> None:
    # before: OverflowError from numpy's int64 (a crash of the trainer's reward call), and a
    # negative frame key accepted
    from stvg.data.types import Sample
    from stvg.verifiers.adapters import compute_score, ground_truth_to_dict
    from stvg.verifiers.formats import FrameContext

    good = Sample("s", "s.mp4", "q", 10.0, 10, 64, 64, (0, 1), {0: [0.0, 0.0, 8.0, 8.0]})
    record = {**ground_truth_to_dict(good, FrameContext.from_sample(good, fps=1.0)), **change}
    if "frame_indices" in change:
        record["timestamps"] = [0.0, 1.0]
    with pytest.raises(ValueError, match=message):
        compute_score("src", "<answer>{}</answer>", record)
