"""evaluate(), format_table() and the `stvg evaluate` command on hand-written annotations."""

from __future__ import annotations

import json

import numpy as np
import pytest

from stvg.cli import main
from stvg.data.types import Sample, Tube
from stvg.verifiers.evaluation import evaluate, format_table
from stvg.verifiers.predictions import Prediction, write_predictions

BOX = [0.0, 0.0, 10.0, 10.0]
THIRD = [5.0, 0.0, 15.0, 10.0]  # IoU with BOX = 50 / 150 = 1/3


def hcstvg2_entry(st_frame_1based: int, n_boxes: int) -> dict:
    """An HC-STVG v2 entry: 600 frames -> 30 fps; boxes [x, y, w, h] = [0, 0, 10, 10]."""
    return {
        "English": "the man in the hat points to the front",
        "bbox": [[0, 0, 10, 10]] * n_boxes,
        "st_frame": st_frame_1based,
        "st_time": (st_frame_1based - 1) / 30.0,
        "ed_time": (st_frame_1based - 2 + n_boxes) / 30.0,
        "img_num": 600,
        "img_size": [64, 64],
    }


def pred(first, last, box=BOX):
    frames = np.arange(first, last + 1)
    return Prediction((first, last), Tube(frames, np.tile(box, (frames.size, 1))))


@pytest.fixture
def hcstvg_files(tmp_path):
    # GT (0-based inclusive): a 30..39, b 0..9, c 100..119, d 200..209
    annotations = {
        "a.mp4": hcstvg2_entry(31, 10),
        "b.mp4": hcstvg2_entry(1, 10),
        "c.mp4": hcstvg2_entry(101, 20),
        "d.mp4": hcstvg2_entry(201, 10),
    }
    ann_path = tmp_path / "valv2.json"
    ann_path.write_text(json.dumps(annotations), encoding="utf-8")
    predictions = {
        "a.mp4": pred(30, 39),  # perfect: 1, 1
        "b.mp4": pred(0, 9, THIRD),  # tIoU 1, vIoU 10 * (1/3) / 10 = 1/3
        "c.mp4": pred(110, 129),  # I = 110..119 (10), U = 100..129 (30): 1/3, 1/3
        "zzz.mp4": pred(0, 5),  # unknown sample id; d.mp4 is missing
    }
    pred_path = tmp_path / "preds.json"
    write_predictions(pred_path, predictions)
    return ann_path, pred_path


# native: t = (1, 1, 1/3, 0), v = (1, 1/3, 1/3, 0)
NATIVE = {"m_tIoU": 7 / 12, "m_vIoU": 5 / 12, "vIoU@0.3": 3 / 4, "vIoU@0.5": 1 / 4, "n": 4}
# tubedetr (grid 0, 6, 12, ...): a 30, 36 in I and U -> 1; b 0, 6 -> 1/3;
# c: U 100..129 holds 102, 108, 114, 120, 126, I 110..119 holds 114 -> 1/5
TUBEDETR = {"m_tIoU": 7 / 12, "m_vIoU": 23 / 60, "vIoU@0.3": 2 / 4, "vIoU@0.5": 1 / 4, "n": 4}


@pytest.mark.parametrize(
    ("protocol", "expected", "canonical"),
    [
        ("official", NATIVE, "official"),
        ("native", NATIVE, "official"),  # the old name stays an alias
        ("tubedetr-grid", TUBEDETR, "tubedetr-grid"),
    ],
)
def test_cli_scores_predictions_file(hcstvg_files, tmp_path, capsys, protocol, expected, canonical):
    ann_path, pred_path = hcstvg_files
    out = tmp_path / "metrics" / "m.json"
    argv = ["evaluate", "--annotations", str(ann_path), "--format", "hcstvg2"]
    argv += ["--predictions", str(pred_path), "--protocol", protocol, "--out", str(out)]
    assert main(argv) == 0
    result = json.loads(out.read_text())
    for key, value in expected.items():
        assert result[key] == pytest.approx(value), key
    assert result["missing"] == ["d.mp4"] and result["unknown"] == ["zzz.mp4"]
    assert result["protocol"] == canonical
    per_sample = {s["sample_id"]: s for s in result["per_sample"]}
    assert per_sample["c.mp4"]["gt_span"] == [100, 119]
    assert per_sample["d.mp4"]["pred_span"] is None
    captured = capsys.readouterr()
    assert "m_vIoU" in captured.out and f"protocol={canonical}" in captured.out
    assert "zzz.mp4" in captured.err


def test_cli_reports_bad_predictions_and_missing_options(hcstvg_files, tmp_path, capsys):
    ann_path, _ = hcstvg_files
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"a.mp4": {"st_frame": 5, "ed_frame": 2, "bbox": {}}}))
    argv = ["evaluate", "--annotations", str(ann_path), "--format", "hcstvg2"]
    assert main([*argv, "--predictions", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "st_frame (5) is after ed_frame (2)" in err and "sample 'a.mp4'" in err
    with pytest.raises(SystemExit):
        main(["evaluate", "--predictions", str(bad)])
    assert "--predictions needs --annotations and --format" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["evaluate"])
    assert "nothing to evaluate" in capsys.readouterr().err


def test_cli_vidstg_fixture_sentence_type_breakdown(shared_fixtures, tmp_path):
    ann_path = shared_fixtures / "vidstg" / "test_annotations.json"
    entries = json.loads(ann_path.read_text())
    n_decl = sum(len(e["captions"]) for e in entries)
    n_inter = sum(len(e["questions"]) for e in entries)
    first = entries[0]  # id <vid>/0/d0; temporal_gt.end_fid is exclusive
    span = (first["temporal_gt"]["begin_fid"], first["temporal_gt"]["end_fid"] - 1)
    pred_path = tmp_path / "p.json"
    write_predictions(pred_path, {f"{first['vid']}/0/d0": Prediction(span, Tube.empty())})
    out = tmp_path / "m.json"
    argv = ["evaluate", "--annotations", str(ann_path), "--format", "vidstg"]
    argv += ["--predictions", str(pred_path), "--out", str(out)]
    # official (eval_hcvg.py) counts GT frames with a predicted box: without VidOR boxes
    # there are none, so every tIoU is 0
    assert main(argv) == 0
    assert json.loads(out.read_text())["m_tIoU"] == 0.0
    assert main([*argv, "--protocol", "span"]) == 0
    result = json.loads(out.read_text())
    # span formula: one sample with tIoU 1, every other sample missing; no boxes without
    # VidOR -> vIoU 0
    assert result["n"] == n_decl + n_inter
    assert result["m_tIoU"] == pytest.approx(1 / (n_decl + n_inter))
    assert result["m_vIoU"] == 0.0
    by = result["by_sentence_type"]
    assert by["declarative"]["n"] == n_decl and by["interrogative"]["n"] == n_inter
    assert by["declarative"]["m_tIoU"] == pytest.approx(1 / n_decl)
    assert by["interrogative"]["m_tIoU"] == 0.0
    assert result["n_missing"] == n_decl + n_inter - 1


def make_sample(sample_id, gt_span, sentence_type=None):
    meta = {} if sentence_type is None else {"sentence_type": sentence_type}
    boxes = {f: list(BOX) for f in range(gt_span[0], gt_span[1] + 1)}
    return Sample(sample_id, f"{sample_id}.mp4", "q", 30.0, 100, 64, 64, gt_span, boxes, meta)


def test_evaluate_report_and_table():
    samples = [
        make_sample("x", (0, 9), "declarative"),
        make_sample("y", (0, 9), "interrogative"),
    ]
    predictions = {
        "x": pred(0, 4),  # I = 0..4 of U = 0..9: 0.5, 0.5
        "ghost": pred(0, 1),
    }
    report = evaluate(samples, predictions)
    assert report.missing == ["y"] and report.unknown == ["ghost"]
    assert report.metrics["m_tIoU"] == pytest.approx(0.25)  # (0.5 + 0) / 2
    assert report.metrics["vIoU@0.3"] == pytest.approx(0.5)
    assert report.metrics["vIoU@0.5"] == 0.0  # 0.5 is not > 0.5
    assert report.metrics["by_sentence_type"]["declarative"]["m_vIoU"] == pytest.approx(0.5)
    d = report.to_dict(per_sample=False)
    assert {"m_tIoU", "m_vIoU", "vIoU@0.3", "vIoU@0.5", "n", "missing", "unknown"} <= set(d)
    assert "per_sample" not in d
    table = format_table(report).splitlines()
    header = ["subset", "n", "m_tIoU", "m_vIoU", "vIoU@0.3", "vIoU@0.5", "m_gt_vIoU"]
    assert table[0].split() == header
    # gt_v_iou of x: 5 perfect boxes over the 10 GT frames
    assert table[2].split() == ["all", "2", "25.00", "25.00", "50.00", "0.00", "25.00"]
    assert table[3].split() == ["declarative", "1", "50.00", "50.00", "100.00", "0.00", "50.00"]
    assert table[4].split() == ["interrogative", "1", "0.00", "0.00", "0.00", "0.00", "0.00"]
    assert "missing=1" in table[-1] and "unknown=1" in table[-1]
    with pytest.raises(ValueError, match="unique"):
        evaluate([samples[0], samples[0]], predictions)
    with pytest.raises(ValueError, match="empty dataset"):
        evaluate([], predictions)
