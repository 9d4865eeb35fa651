"""Predictions that try to break the evaluation: frame indices past any video or int64,
an output that would overwrite an input, hostile nesting, swapped box corners.

Every case is either a named error (exit status 2, one line) or counted and scored by the
documented rule, with the numbers computed by hand."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_evaluate_cli import hcstvg2_entry

from stvg.cli import main
from stvg.data.errors import DataError
from stvg.data.types import Sample, Tube
from stvg.limits import MAX_FRAME_INDEX
from stvg.verifiers.metrics import score_samples
from stvg.verifiers.predictions import Prediction, load_predictions

BOX = [0.0, 0.0, 10.0, 10.0]
INT64_MAX = 2**63 - 1


@pytest.fixture
def annotations(tmp_path):
    """One HC-STVG v2 sample, a.mp4: 600 frames at 30 fps, GT 30..39 with box BOX."""
    path = tmp_path / "valv2.json"
    path.write_text(json.dumps({"a.mp4": hcstvg2_entry(31, 10)}), encoding="utf-8")
    return path


def evaluate(annotations, predictions, tmp_path, *extra):
    pred_path = tmp_path / "p.json"
    text = predictions if isinstance(predictions, str) else json.dumps(predictions)
    pred_path.write_text(text, encoding="utf-8")
    out = tmp_path / "m.json"
    argv = ["evaluate", "--annotations", str(annotations), "--format", "hcstvg2"]
    rc = main([*argv, "--predictions", str(pred_path), "--out", str(out), *extra])
    return rc, (json.loads(out.read_text()) if rc == 0 else None)


@pytest.mark.parametrize("first", [0, 30])
def test_ed_frame_past_int64_range_is_a_named_error(annotations, tmp_path, capsys, first):
    # before: rc 0 and, from frame 0, U = 2**63 wrapped to -2**63: tIoU 10.0 (1000 %)
    preds = {"a.mp4": {"st_frame": first, "ed_frame": INT64_MAX, "bbox": {"30": BOX}}}
    rc, _ = evaluate(annotations, preds, tmp_path)
    assert rc == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert f"ed_frame {INT64_MAX} is past the largest frame index accepted" in err
    assert "sample 'a.mp4'" in err


def test_ed_frame_past_the_bound_is_scored_zero_with_on_invalid_zero(annotations, tmp_path):
    preds = {"a.mp4": {"st_frame": 0, "ed_frame": MAX_FRAME_INDEX + 1, "bbox": {}}}
    rc, result = evaluate(annotations, preds, tmp_path, "--on-invalid", "zero")
    assert rc == 0 and result["m_tIoU"] == 0.0
    assert list(result["prediction_checks"]["invalid"]) == ["a.mp4"]


@pytest.mark.parametrize("key", [str(2**63), str(2**64 + 30), "9" * 40])
def test_frame_key_past_the_bound_is_a_named_error(annotations, tmp_path, capsys, key):
    # before: OverflowError traceback. Boxes outside the span are kept (the official
    # protocol scores them on GT frames), so a key past the largest frame index is refused
    # like a span past it, never wrapped
    preds = {"a.mp4": {"st_frame": 30, "ed_frame": 39, "bbox": {key: BOX, "30": BOX}}}
    rc, _ = evaluate(annotations, preds, tmp_path)
    assert rc == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert "is past the largest frame index accepted" in err and "sample 'a.mp4'" in err


def test_span_at_the_bound_scores_exactly(annotations, tmp_path):
    # span 30..9,999,999 on the 600-frame video: U = 9,999,970 frames; the official
    # protocol counts the GT frames with a box (frame 30 only), the span formula the 10
    # frames both spans share
    preds = {"a.mp4": {"st_frame": 30, "ed_frame": MAX_FRAME_INDEX, "bbox": {"30": BOX}}}
    rc, result = evaluate(annotations, preds, tmp_path)
    assert rc == 0
    (row,) = result["per_sample"]
    assert row["t_iou"] == 1 / 9_999_970 and row["n_frames_scored"] == 9_999_970
    assert row["v_iou"] == 1 / 9_999_970
    rc, result = evaluate(annotations, preds, tmp_path, "--protocol", "span")
    (row,) = result["per_sample"]
    assert row["t_iou"] == 10 / 9_999_970 and row["v_iou"] == 1 / 9_999_970
    checks = result["prediction_checks"]
    assert checks["span_past_end"] == {"a.mp4": MAX_FRAME_INDEX - 599}
    # frames 31..599 of the video have no box; the 9,999,400 past its end are not "gaps"
    assert checks["frames_without_box"] == {"a.mp4": 569}


def test_fill_stops_at_the_video_end(annotations, tmp_path):
    # before: --fill linear densified all 9,999,970 frames of the span (GBs of memory)
    preds = {"a.mp4": {"st_frame": 30, "ed_frame": MAX_FRAME_INDEX, "bbox": {"30": BOX, "35": BOX}}}
    rc, result = evaluate(annotations, preds, tmp_path, "--fill", "linear")
    assert rc == 0
    checks = result["prediction_checks"]
    assert checks["frames_filled"] == {"a.mp4": 568}  # 30..599 minus the 2 given frames
    assert checks["n_frames_without_box"] == 0
    (row,) = result["per_sample"]
    assert row["v_iou"] == pytest.approx(10 / 9_999_970)  # all 10 GT frames covered


def test_spans_past_the_bound_are_refused_in_code():
    sample = Sample("a", "a.mp4", "q", 30.0, 600, 64, 64, (30, 39), {30: BOX})
    with pytest.raises(ValueError, match="past the largest frame index accepted"):
        Prediction((0, INT64_MAX), Tube.empty())
    with pytest.raises(ValueError, match="past the largest frame index accepted"):
        score_samples([sample], [(0, INT64_MAX)], [None])
    with pytest.raises(ValueError, match="past the largest frame index accepted"):
        score_samples([sample], [np.array([0, MAX_FRAME_INDEX + 1])], [None])
    (score,) = score_samples([sample], [(0, MAX_FRAME_INDEX)], [None], protocol="span")
    assert score.t_iou == 10 / (MAX_FRAME_INDEX + 1)


def test_fast_and_strict_readers_agree_on_huge_numbers(tmp_path):
    path = tmp_path / "p.json"
    path.write_text(
        json.dumps({"a": {"st_frame": 0, "ed_frame": 2, "bbox": {str(2**70): BOX, "1": BOX}}})
    )
    with pytest.raises(DataError, match=f"frame key '{2**70}' is past"):
        load_predictions(path)  # the fast reader hands it to the strict one, which refuses
    path.write_text(json.dumps({"a": {"st_frame": 0, "ed_frame": 2**70, "bbox": {}}}))
    with pytest.raises(DataError, match=f"ed_frame {2**70} is past"):
        load_predictions(path)


@pytest.mark.parametrize("spelling", ["same", "relative", "symlink", "hardlink"])
def test_evaluate_refuses_out_that_is_the_predictions_file(
    annotations, tmp_path, capsys, monkeypatch, spelling
):
    # before: rc 0 and the predictions were replaced by the metrics
    pred = tmp_path / "p.json"
    pred.write_text(json.dumps({"a.mp4": {"st_frame": 30, "ed_frame": 39, "bbox": {}}}))
    before = pred.read_bytes()
    monkeypatch.chdir(tmp_path)
    out = {
        "same": str(pred),
        "relative": "../" + tmp_path.name + "/p.json",
        "symlink": str(tmp_path / "link.json"),
        "hardlink": str(tmp_path / "hard.json"),
    }[spelling]
    if spelling == "symlink":
        (tmp_path / "link.json").symlink_to(pred)
    if spelling == "hardlink":
        (tmp_path / "hard.json").hardlink_to(pred)
    argv = ["evaluate", "--annotations", str(annotations), "--format", "hcstvg2"]
    assert main([*argv, "--predictions", str(pred), "--out", out]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert f"--out {out} is the same file as --predictions" in err
    assert pred.read_bytes() == before


def test_evaluate_refuses_out_that_is_the_annotation_file(annotations, tmp_path, capsys):
    pred = tmp_path / "p.json"
    pred.write_text(json.dumps({"a.mp4": {"st_frame": 30, "ed_frame": 39, "bbox": {}}}))
    before = annotations.read_bytes()
    argv = ["evaluate", "--annotations", str(annotations), "--format", "hcstvg2"]
    assert main([*argv, "--predictions", str(pred), "--out", str(annotations)]) == 2
    assert "is the same file as --annotations" in capsys.readouterr().err
    assert annotations.read_bytes() == before


@pytest.mark.parametrize(
    "text",
    [
        '{"a": {"st_frame": 1, "st_frame": 2, "ed_frame": 3, "bbox": {}}}',
        '{"a": {"st_frame": 1, "ed_frame": 3, "bbox": {}, "score": 1, "score": 2}}',
        '{"a": {"st_frame": 1, "ed_frame": 3, "bbox": {}, "st\\u005fframe": 2}}',  # escaped
    ],
)
def test_a_field_given_twice_is_refused_by_both_readers(tmp_path, text):
    # before: the fast reader kept the last st_frame, the strict one refused the entry
    from stvg.verifiers.predictions import _read_strict

    path = tmp_path / "p.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match="is given twice in the entry") as fast:
        load_predictions(path)
    with pytest.raises(DataError, match="is given twice in the entry") as strict:
        _read_strict(str(path), text.encode(), "error")
    assert str(fast.value) == str(strict.value)
    assert fast.value.sample_id == "a"


def test_a_repeated_key_nested_in_an_ignored_field_is_ignored_by_both_readers(tmp_path):
    from stvg.verifiers.predictions import _read_strict

    text = (
        '{"a": {"st_frame": 1, "ed_frame": 3, "bbox": {"2": [0, 0, 1, 1]}, "m": {"x": 1, "x": 2}}}'
    )
    path = tmp_path / "p.json"
    path.write_text(text, encoding="utf-8")
    fast = load_predictions(path).predictions["a"]
    strict = _read_strict(str(path), text.encode(), "error").predictions["a"]
    assert fast.span == strict.span == (1, 3)
    assert fast.tube.frame_idx.tolist() == strict.tube.frame_idx.tolist() == [2]


def test_swapped_corners_are_counted(annotations, tmp_path, capsys):
    # before: scored 0 IoU with no count. Frames 30..39: 7 boxes as [x1, y1, x2, y2], 2 with
    # x2 < x1 ([10, 0, 0, 10]), 1 with y2 < y1; vIoU = 7/10, tIoU = 1
    bbox = {str(f): BOX for f in range(30, 37)}
    bbox.update({"37": [10, 0, 0, 10], "38": [10, 0, 0, 10], "39": [0, 10, 10, 0]})
    bbox["45"] = [10, 0, 0, 10]  # outside the span: dropped, not counted as swapped
    preds = {"a.mp4": {"st_frame": 30, "ed_frame": 39, "bbox": bbox}}
    rc, result = evaluate(annotations, preds, tmp_path)
    assert rc == 0
    assert result["m_vIoU"] == pytest.approx(0.7) and result["m_tIoU"] == 1.0
    checks = result["prediction_checks"]
    assert checks["boxes_swapped_corners"] == {"a.mp4": 3}
    assert checks["n_boxes_swapped_corners"] == 3 and checks["n_boxes_outside_span"] == 1
    captured = capsys.readouterr()
    assert "swapped_corners=3" in captured.out
    assert "3 predicted boxes have x2 < x1 or y2 < y1" in captured.err
