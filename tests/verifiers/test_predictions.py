"""Predictions files: round trip, dropped boxes, and one DataError per malformed field."""

from __future__ import annotations

import json

import numpy as np
import pytest

from stvg.data.errors import DataError
from stvg.data.types import Tube
from stvg.verifiers.predictions import Prediction, read_predictions, write_predictions


def write_json(tmp_path, data, name="preds.json"):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def test_round_trip(tmp_path):
    preds = {
        "v1.mp4": Prediction((3, 5), Tube.from_dict({3: [1, 2, 3, 4], 5: [0.5, 0.5, 9.5, 9.5]})),
        "v2.mp4": Prediction((0, 0), Tube.empty()),
    }
    path = tmp_path / "out" / "preds.json"
    write_predictions(path, preds)
    raw = json.loads(path.read_text())
    assert raw["v1.mp4"] == {
        "st_frame": 3,
        "ed_frame": 5,
        "bbox": {"3": [1.0, 2.0, 3.0, 4.0], "5": [0.5, 0.5, 9.5, 9.5]},
    }
    back = read_predictions(path)
    assert list(back) == ["v1.mp4", "v2.mp4"]
    assert back["v1.mp4"].span == (3, 5)
    np.testing.assert_array_equal(back["v1.mp4"].tube.frame_idx, [3, 5])
    np.testing.assert_array_equal(
        back["v1.mp4"].tube.boxes_xyxy, [[1, 2, 3, 4], [0.5, 0.5, 9.5, 9.5]]
    )
    assert len(back["v2.mp4"].tube) == 0


def test_boxes_outside_span_are_kept_and_counted(tmp_path):
    path = write_json(
        tmp_path,
        {
            "a": {
                "st_frame": 10,
                "ed_frame": 12,
                "bbox": {
                    "12": [0, 0, 1, 1],
                    "9": [0, 0, 1, 1],
                    "10": [0, 0, 2, 2],
                    "40": [0, 0, 1, 1],
                },
                "score": 0.9,  # extra keys are ignored
            }
        },
    )
    pred = read_predictions(path)["a"]
    # kept (the official protocol scores a box on a GT frame wherever it lies), counted
    assert pred.n_boxes_outside_span == 2  # frames 9 and 40
    np.testing.assert_array_equal(pred.tube.frame_idx, [9, 10, 12, 40])  # sorted
    np.testing.assert_array_equal(pred.tube.boxes_xyxy[1], [0, 0, 2, 2])
    assert pred.n_frames_without_box == 1  # frame 11 of the span


GOOD = {"st_frame": 1, "ed_frame": 3, "bbox": {"1": [0, 0, 1, 1]}}


@pytest.mark.parametrize(
    ("entry", "field", "message"),
    [
        ({**GOOD, "st_frame": 1.5}, "st_frame", "non-negative integer"),
        ({**GOOD, "st_frame": "1"}, "st_frame", "non-negative integer"),
        ({**GOOD, "ed_frame": True}, "ed_frame", "non-negative integer"),
        ({**GOOD, "st_frame": -1}, "st_frame", "non-negative integer"),
        ({**GOOD, "st_frame": 4}, "st_frame", r"st_frame \(4\) is after ed_frame \(3\)"),
        ({"st_frame": 1, "ed_frame": 3}, "bbox", "missing key 'bbox'"),
        ({**GOOD, "bbox": [[0, 0, 1, 1]]}, "bbox", "bbox must be an object"),
        ({**GOOD, "bbox": {"x": [0, 0, 1, 1]}}, "bbox['x']", "not a non-negative integer"),
        ({**GOOD, "bbox": {"-1": [0, 0, 1, 1]}}, "bbox['-1']", "not a non-negative integer"),
        ({**GOOD, "bbox": {"2": [0, 0, 1]}}, "bbox['2']", "list of 4 numbers"),
        ({**GOOD, "bbox": {"2": [0, 0, 1, "1"]}}, "bbox['2']", "list of 4 numbers"),
        ({**GOOD, "bbox": {"2": [0, 0, 1, None]}}, "bbox['2']", "list of 4 numbers"),
        ({**GOOD, "bbox": {"2": "0 0 1 1"}}, "bbox['2']", "list of 4 numbers"),
        ({**GOOD, "bbox": {"2": [0, 0, 1, 1], "02": [0, 0, 1, 1]}}, "bbox['02']", "given twice"),
        ([1, 3], "<entry>", "must be an object"),
    ],
)
def test_malformed_entry_names_file_sample_and_field(tmp_path, entry, field, message):
    path = write_json(tmp_path, {"ok": GOOD, "vid42.mp4": entry})
    with pytest.raises(DataError, match=message) as info:
        read_predictions(path)
    text = str(info.value)
    assert str(path) in text
    assert "sample 'vid42.mp4'" in text
    assert f"field {field!r}" in text
    assert "Fix:" in text
    assert info.value.sample_id == "vid42.mp4" and info.value.field == field


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_coordinates(tmp_path, literal):
    # Python's json accepts these non-standard literals; the reader must refuse them
    path = write_json(
        tmp_path, '{"v": {"st_frame": 0, "ed_frame": 1, "bbox": {"0": [0, 0, 1, ' + literal + "]}}}"
    )
    with pytest.raises(DataError, match="non-finite") as info:
        read_predictions(path)
    assert info.value.field == "bbox['0']"


def test_file_level_errors(tmp_path):
    with pytest.raises(DataError, match="not found"):
        read_predictions(tmp_path / "absent.json")
    with pytest.raises(DataError, match="not valid JSON.*line 1"):
        read_predictions(write_json(tmp_path, '{"a": ', name="bad.json"))
    with pytest.raises(DataError, match="keyed by sample id"):
        read_predictions(write_json(tmp_path, [GOOD], name="list.json"))


def test_prediction_validates_span():
    with pytest.raises(ValueError, match="first <= last"):
        Prediction((5, 4), Tube.empty())
    with pytest.raises(ValueError, match="integer"):
        Prediction((0.5, 4), Tube.empty())
    with pytest.raises(TypeError, match="Tube"):
        Prediction((0, 4), {0: [0, 0, 1, 1]})
    assert Prediction((np.int64(2), 4), Tube.empty()).span == (2, 4)
