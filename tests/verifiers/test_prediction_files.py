"""Issue 12, predictions half: duplicate ids, gaps and --fill, spans past the end,
--on-invalid, other codebases' dumps, unwritable --out; the fast reader equals the strict one."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_evaluate_cli import hcstvg2_entry

from stvg.cli import main
from stvg.data.errors import DataError
from stvg.data.types import Sample, Tube
from stvg.verifiers.prediction_checks import check_predictions
from stvg.verifiers.predictions import (
    Prediction,
    _read_strict,
    load_predictions,
    read_predictions,
)

BOX = [0.0, 0.0, 10.0, 10.0]


def entry(first, last, step=1, box=BOX):
    return {
        "st_frame": first,
        "ed_frame": last,
        "bbox": {str(f): box for f in range(first, last + 1, step)},
    }


def write(tmp_path, text, name="p.json"):
    path = tmp_path / name
    path.write_text(text if isinstance(text, str) else json.dumps(text), encoding="utf-8")
    return path


def sample(sample_id, gt_span=(0, 9), num_frames=100):
    gt = {f: BOX for f in range(gt_span[0], gt_span[1] + 1)}
    return Sample(sample_id, sample_id, "q", 30.0, num_frames, 64, 64, gt_span, gt)


@pytest.mark.parametrize(
    "text",
    [
        '{"a": E, "b": E, "a": E2}',  # later duplicate
        '{"a": E2, "a": E, "b": E}',  # the first two
        '{\n  "b" : E,\n  "a" :\n E2 ,\n  "a": E\n}\n',  # pretty-printed
        '{"b": E, "a": E, "a": {"st_frame": 0, "ed_frame": 1, "bbox": {"0": [0, 0, 1, NaN]}}}',
    ],
)
def test_duplicate_sample_id_is_an_error_naming_it(tmp_path, text):
    e, e2 = json.dumps(entry(0, 3)), json.dumps(entry(0, 1))
    path = write(tmp_path, text.replace("E2", e2).replace("E", e))
    with pytest.raises(DataError, match="sample id given twice") as info:
        read_predictions(path)
    assert info.value.sample_id == "a" and "sample 'a'" in str(info.value)


def test_duplicate_frame_key_is_an_error(tmp_path):
    path = write(
        tmp_path, '{"v": {"st_frame": 0, "ed_frame": 2, "bbox": {"1": [0,0,1,1], "1": [0,0,2,2]}}}'
    )
    with pytest.raises(DataError, match="frame 1 is given twice") as info:
        read_predictions(path)
    assert info.value.field == "bbox['1']"


def test_fast_reader_equals_strict_reader(tmp_path):
    rng = np.random.default_rng(3)
    data = {}
    for i in range(40):
        first = int(rng.integers(0, 50))
        last = first + int(rng.integers(10, 30))
        frames = rng.choice(
            np.arange(max(0, first - 5), last + 6), size=int(rng.integers(0, 20)), replace=False
        )
        bbox = {str(int(f)): rng.normal(50, 20, 4).round(3).tolist() for f in frames}
        bbox.update({"1": [1, 2, 3, 4]} if i % 7 == 0 else {})  # JSON integers as coordinates
        data[f"s{i}"] = {"st_frame": first, "ed_frame": last, "bbox": bbox, "score": [0.5]}
    path = write(tmp_path, json.dumps(data, indent=1))
    fast = load_predictions(path).predictions
    strict = _read_strict(str(path), path.read_bytes(), "error").predictions
    assert list(fast) == list(strict)
    for sid in fast:
        assert fast[sid].span == strict[sid].span
        assert fast[sid].n_boxes_outside_span == strict[sid].n_boxes_outside_span
        np.testing.assert_array_equal(fast[sid].tube.frame_idx, strict[sid].tube.frame_idx)
        np.testing.assert_array_equal(fast[sid].tube.boxes_xyxy, strict[sid].tube.boxes_xyxy)


def test_on_invalid_zero_lists_the_entry_and_keeps_the_others(tmp_path):
    bad = {"st_frame": 5, "ed_frame": 2, "bbox": {}}
    path = write(tmp_path, {"a": entry(0, 9), "b": bad, "c": [1, 2]})
    with pytest.raises(DataError, match="sample 'b'"):
        load_predictions(path)
    loaded = load_predictions(path, on_invalid="zero")
    assert list(loaded.predictions) == ["a"]
    assert list(loaded.invalid) == ["b", "c"]
    assert "st_frame (5) is after ed_frame (2)" in loaded.invalid["b"]


def test_gaps_counted_and_filled():
    # boxes on frames 0, 10, 20 of the span 0..20: 18 frames without a box
    tube = Tube([0, 10, 20], [[0, 0, 10, 10], [10, 0, 20, 10], [10, 0, 20, 10]])
    preds = {
        "a": Prediction((0, 20), tube),
        "b": Prediction((0, 9), Tube.from_dict({f: BOX for f in range(10)})),
    }
    samples = [sample("a", (0, 20)), sample("b")]
    _, checks = check_predictions(samples, preds)
    assert checks.frames_without_box == {"a": 18} and checks.n_frames_without_box == 18
    filled, checks = check_predictions(samples, preds, fill="linear")
    assert checks.frames_filled == {"a": 18} and checks.n_frames_without_box == 0
    np.testing.assert_allclose(filled["a"].tube.boxes_xyxy[5], [5, 0, 15, 10])  # half way 0 -> 10
    np.testing.assert_array_equal(filled["a"].tube.boxes_xyxy[15], [10, 0, 20, 10])
    held, _ = check_predictions(samples, preds, fill="hold")
    np.testing.assert_array_equal(held["a"].tube.boxes_xyxy[4], [0, 0, 10, 10])  # nearest: 0
    np.testing.assert_array_equal(held["a"].tube.boxes_xyxy[6], [10, 0, 20, 10])  # nearest: 10
    assert held["b"] is preds["b"]  # nothing to fill


def test_span_past_video_end_is_counted():
    preds = {"a": Prediction((90, 104), Tube.empty()), "b": Prediction((0, 99), Tube.empty())}
    _, checks = check_predictions([sample("a"), sample("b")], preds)
    assert checks.span_past_end == {"a": 5}  # frames 100..104 of a 100-frame video
    assert any("end after the last frame" in w for w in checks.warnings())


@pytest.fixture
def annotations(tmp_path):
    # GT (0-based inclusive): a.mp4 30..39, b.mp4 0..9
    path = tmp_path / "valv2.json"
    path.write_text(json.dumps({"a.mp4": hcstvg2_entry(31, 10), "b.mp4": hcstvg2_entry(1, 10)}))
    return path


def run_cli(annotations, pred_path, tmp_path, *extra):
    out = tmp_path / "m.json"
    argv = ["evaluate", "--annotations", str(annotations), "--format", "hcstvg2"]
    rc = main([*argv, "--predictions", str(pred_path), "--out", str(out), *extra])
    return rc, (json.loads(out.read_text()) if rc == 0 else None)


def test_cli_sparse_boxes_counted_then_filled(annotations, tmp_path, capsys):
    pred = write(tmp_path, {"a.mp4": entry(30, 39, step=3), "b.mp4": entry(0, 9)})  # a: 30,33,36,39
    rc, result = run_cli(annotations, pred, tmp_path)
    assert rc == 0
    checks = result["prediction_checks"]
    assert checks["frames_without_box"] == {"a.mp4": 6} and checks["n_frames_without_box"] == 6
    assert result["m_vIoU"] == pytest.approx((0.4 + 1.0) / 2)  # a: 4 of 10 frames
    assert "--fill" in capsys.readouterr().err
    rc, result = run_cli(annotations, pred, tmp_path, "--fill", "linear")
    assert result["m_vIoU"] == pytest.approx(1.0)
    assert result["prediction_checks"]["n_frames_filled"] == 6


def test_cli_on_invalid_zero(annotations, tmp_path, capsys):
    pred = write(
        tmp_path, {"a.mp4": entry(30, 39), "b.mp4": {"st_frame": 3, "ed_frame": 1, "bbox": {}}}
    )
    assert run_cli(annotations, pred, tmp_path)[0] == 2
    assert "sample 'b.mp4'" in capsys.readouterr().err
    rc, result = run_cli(annotations, pred, tmp_path, "--on-invalid", "zero")
    assert rc == 0 and result["m_tIoU"] == pytest.approx(0.5)
    assert list(result["prediction_checks"]["invalid"]) == ["b.mp4"]


def test_cli_duplicate_id_one_line_error(annotations, tmp_path, capsys):
    e = json.dumps(entry(30, 39))
    pred = write(tmp_path, '{"a.mp4": ' + e + ', "a.mp4": ' + e + "}")
    assert run_cli(annotations, pred, tmp_path)[0] == 2
    err = capsys.readouterr().err.strip()
    assert "sample id given twice" in err and "'a.mp4'" in err and "Traceback" not in err


@pytest.mark.parametrize("where", ["under_a_file", "a_folder"])
def test_cli_unwritable_out_one_line_error(annotations, tmp_path, capsys, where):
    pred = write(tmp_path, {"a.mp4": entry(30, 39)})
    (tmp_path / "plain.txt").write_text("x")
    out = tmp_path / "plain.txt" / "m.json" if where == "under_a_file" else tmp_path
    argv = ["evaluate", "--annotations", str(annotations), "--format", "hcstvg2"]
    assert main([*argv, "--predictions", str(pred), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("stvg evaluate: error: --out") and len(err.splitlines()) == 1


def test_tubedetr_dump(annotations, tmp_path):
    # video 0 = a.mp4 (annotation order); sted end is exclusive; one box per image id
    boxes = {f"0_{f}": {"boxes": [BOX]} for f in range(30, 40, 5)}
    boxes["1_3"] = {"boxes": [BOX]}
    dump = {
        "test_hcstvg_hcstvg": {
            "tiou": 0.5,
            "predictions": boxes,
            "video_predictions": {"0": {"sted": [30.0, 40.0]}, "1": {"sted": [0.0, 10.0]}},
        },
        "n_parameters": 1,
    }
    path = write(tmp_path, dump)
    preds = load_predictions(
        path, pred_format="tubedetr", sample_ids=["a.mp4", "b.mp4"]
    ).predictions
    assert preds["a.mp4"].span == (30, 39) and preds["b.mp4"].span == (0, 9)
    np.testing.assert_array_equal(preds["a.mp4"].tube.frame_idx, [30, 35])
    np.testing.assert_array_equal(preds["b.mp4"].tube.frame_idx, [3])


def test_cgstvg_dump_and_cli(annotations, tmp_path):
    dump = {
        "tiou": 0.5,
        "predictions": {
            "0": {str(f): [BOX] for f in range(28, 42)},  # 30..39 kept, 4 outside the span
            "1": {str(f): [BOX] for f in range(0, 10)},
        },
        "video_predictions": {"0": {"sted": [30, 40]}, "1": {"sted": [0, 10]}},
        "vid2names": {"0": "a.mp4", "1": "b.mp4"},
    }
    path = write(tmp_path, dump)
    loaded = load_predictions(path, pred_format="cgstvg")  # ids from vid2names
    assert loaded.predictions["a.mp4"].span == (30, 39)
    assert loaded.n_boxes_outside_span == 4
    rc, result = run_cli(annotations, path, tmp_path, "--pred-format", "cgstvg")
    assert (
        rc == 0
        and result["m_tIoU"] == pytest.approx(1.0)
        and result["m_vIoU"] == pytest.approx(1.0)
    )
    dump["vid2names"] = {"0": "b.mp4", "1": "a.mp4"}  # disagrees with the annotation order
    with pytest.raises(DataError, match="annotation file"):
        load_predictions(write(tmp_path, dump), pred_format="cgstvg", sample_ids=["a.mp4", "b.mp4"])
