"""Issue 26: each protocol equals its peer's code on the cases where stvg used to differ.

Every expected number is worked out by hand from the peer's arithmetic (module docstrings
of :mod:`stvg.verifiers.metrics` and :mod:`stvg.verifiers.prediction_dumps`):

* ``official`` = ``eval_hcvg.py`` (HC-STVG, ``080b193``): GT frames with a predicted box,
  wherever the box lies, over ``max(ed) - min(st) + 1``;
* TubeDETR's VidSTG dumps number each entry's questions before its captions
  (``preproc/preproc_vidstg.py``);
* ``cgstvg`` on VidSTG = CG-STVG's ``datasets/vidstg.py`` and ``vidstg_eval.py``
  (``90bed96``): ``end_fid`` read as inclusive and capped at ``used_segment.end_fid``, then
  read as exclusive by the evaluator; spoiled sentences left out; ``gt_viou`` over frames
  ``b .. t`` with the target's box on frame ``end_fid``.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from stvg.cli import main
from stvg.data import load_dataset
from stvg.data.errors import DataError
from stvg.verifiers.evaluation import evaluate, evaluate_protocols
from stvg.verifiers.metrics import PROTOCOLS
from stvg.verifiers.prediction_checks import check_predictions
from stvg.verifiers.predictions import load_predictions

BOX = [0.0, 0.0, 10.0, 10.0]


def _hcstvg2(tmp_path, length: int, img_num: int = 20):
    """One HC-STVG v2 video, GT on 0-based frames 0 .. length - 1, BOX on each."""
    ann = {
        "v.mp4": {
            "English": "the man waves",
            "st_frame": 1,
            "img_num": img_num,
            "img_size": [100, 100],
            "bbox": [[0, 0, 10, 10]] * length,
        }
    }
    path = tmp_path / "valv2.json"
    path.write_text(json.dumps(ann))
    return list(load_dataset("hcstvg2", annotations=path))


def _scores(tmp_path, samples, entry):
    path = tmp_path / "preds.json"
    path.write_text(json.dumps({"v.mp4": entry}))
    predictions = load_predictions(path).predictions
    report = evaluate_protocols(samples, predictions, protocols=["official", "span"])
    return {
        name: (r.scores[0].t_iou, r.scores[0].v_iou) for name, r in report.reports.items()
    }, predictions


# ------------------------------------------------------------------ official = eval_hcvg.py


def test_official_span_without_boxes_scores_zero(tmp_path):
    # GT frame 0; prediction {"st_frame": 0, "ed_frame": 0, "bbox": {}}: eval_hcvg.py finds
    # no GT key among the predicted keys -> ious = [], all_frame = 1 -> (0, 0). The span
    # formula counts frame 0 in both spans -> tIoU 1, no box -> vIoU 0.
    samples = _hcstvg2(tmp_path, 1)
    got, _ = _scores(tmp_path, samples, {"st_frame": 0, "ed_frame": 0, "bbox": {}})
    assert got == {"official": (0.0, 0.0), "span": (1.0, 0.0)}


def test_official_counts_a_box_outside_the_predicted_span(tmp_path):
    # GT frames 0, 1; span [0, 0] with exact boxes on frames 0 and 1: eval_hcvg.py matches
    # both GT keys -> ious = [1, 1], all_frame = max(1, 0) - 0 + 1 = 2 -> (1, 1). The span
    # formula ignores the box of frame 1: I = {0}, U = 2 -> (0.5, 0.5).
    samples = _hcstvg2(tmp_path, 2)
    entry = {"st_frame": 0, "ed_frame": 0, "bbox": {"0": BOX, "1": BOX}}
    got, predictions = _scores(tmp_path, samples, entry)
    assert got == {"official": (1.0, 1.0), "span": (0.5, 0.5)}
    assert predictions["v.mp4"].n_boxes_outside_span == 1


def test_official_reads_keys_with_leading_zeros_as_frame_numbers(tmp_path):
    # The one input official does not mirror: eval_hcvg.py compares keys as strings, so
    # "00001" would not match the GT's "1" there; stvg reads it as frame 1 (documented).
    # GT frames 0, 1; span [0, 1], exact boxes keyed "00000", "00001" -> (1, 1) here.
    samples = _hcstvg2(tmp_path, 2)
    entry = {"st_frame": 0, "ed_frame": 1, "bbox": {"00000": BOX, "00001": BOX}}
    got, _ = _scores(tmp_path, samples, entry)
    assert got["official"] == (1.0, 1.0)


def test_fill_keeps_boxes_outside_the_span(tmp_path):
    # GT frames 0..9; span [2, 5] with boxes on 2 and 5 and one on GT frame 8, outside the
    # span. --fill linear fills 3, 4 from 2 and 5 only and keeps 8: official counts GT
    # frames 2, 3, 4, 5, 8 of U = 0..9 -> tIoU 5/10; span formula I = 2..5 -> 4/10.
    samples = _hcstvg2(tmp_path, 10)
    path = tmp_path / "preds.json"
    entry = {"st_frame": 2, "ed_frame": 5, "bbox": {"2": BOX, "5": BOX, "8": BOX}}
    path.write_text(json.dumps({"v.mp4": entry}))
    filled, checks = check_predictions(samples, load_predictions(path).predictions, fill="linear")
    assert filled["v.mp4"].tube.frame_idx.tolist() == [2, 3, 4, 5, 8]
    assert checks.frames_filled == {"v.mp4": 2} and checks.n_boxes_outside_span == 1
    assert evaluate(samples, filled).scores[0].t_iou == pytest.approx(0.5)
    assert evaluate(samples, filled, protocol="span").scores[0].t_iou == pytest.approx(0.4)


# ------------------------------------------------------------------ VidSTG files


def _vidstg(tmp_path, entries, trajectories):
    """Write a VidSTG annotation file and one VidOR file per video; load with boxes."""
    vidor = tmp_path / "vidor" / "0000"
    vidor.mkdir(parents=True, exist_ok=True)
    for vid, traj in trajectories.items():
        (vidor / f"{vid}.json").write_text(json.dumps({"trajectories": traj}))
    path = tmp_path / "test.json"
    path.write_text(json.dumps(entries))
    return path, list(load_dataset("vidstg", annotations=path, vidor_root=tmp_path / "vidor"))


def _obj(tid, box):
    x1, y1, x2, y2 = box
    return {"tid": tid, "bbox": {"xmin": x1, "ymin": y1, "xmax": x2, "ymax": y2}}


def _entry(vid, frame_count, begin, end_fid, used_end, captions, questions):
    return {
        "vid": vid,
        "fps": 5.0,
        "frame_count": frame_count,
        "width": 100,
        "height": 100,
        "temporal_gt": {"begin_fid": begin, "end_fid": end_fid},
        "used_segment": {"begin_fid": 0, "end_fid": used_end},
        "captions": [{"description": d, "type": "adult", "target_id": t} for d, t in captions],
        "questions": [{"description": d, "type": "adult", "target_id": t} for d, t in questions],
    }


def test_tubedetr_vidstg_dump_numbers_questions_first(tmp_path):
    # One entry with a caption (d0, target 0) and a question (q0, target 1); GT frames 2..5
    # (end_fid 6). TubeDETR's video 0 is the question, video 1 the caption.
    traj = [[_obj(0, BOX), _obj(1, BOX)] for _ in range(10)]
    entry = _entry("77", 10, 2, 6, 9, [("a man runs.", 0)], [("who runs?", 1)])
    ann, samples = _vidstg(tmp_path, [entry], {"77": traj})
    assert [s.sample_id for s in samples] == ["77/0/d0", "77/0/q0"]
    dump = {
        "test_vidstg_vidstg": {
            "predictions": {f"{v}_{f}": {"boxes": [BOX]} for v in (0, 1) for f in range(10)},
            "video_predictions": {
                "0": {"sted": [2.0, 6.0], "qtype": "interrogative"},  # q0: the GT exactly
                "1": {"sted": [4.0, 6.0], "qtype": "declarative"},  # d0: frames 4, 5
            },
        }
    }
    path = tmp_path / "log_stats.json"
    path.write_text(json.dumps(dump))
    loaded = load_predictions(path, pred_format="tubedetr", samples=samples).predictions
    assert loaded["77/0/q0"].span == (2, 5) and loaded["77/0/d0"].span == (4, 5)
    # official: q0 matches GT frames 2..5 of U = 4 -> 1; d0: frames 2..5 have predicted
    # boxes too (TubeDETR writes a box on every frame) -> 4 / 4 = 1 under official, while
    # the span formula gives I = 4..5 of U = 2..5 -> 1/2.
    by = evaluate(samples, loaded, protocol="span").metrics["by_sentence_type"]
    assert by["interrogative"]["m_tIoU"] == 1.0 and by["declarative"]["m_tIoU"] == 0.5
    # through the CLI, by type (and gt_viou 1 for both: perfect boxes on the GT frames)
    out = tmp_path / "m.json"
    argv = ["evaluate", "--annotations", str(ann), "--format", "vidstg"]
    argv += ["--vidor-root", str(tmp_path / "vidor"), "--predictions", str(path)]
    argv += ["--pred-format", "tubedetr", "--protocol", "tubedetr", "--out", str(out)]
    assert main(argv) == 0
    result = json.loads(out.read_text())
    assert result["by_sentence_type"]["declarative"]["m_tIoU"] == 0.5
    assert result["by_sentence_type"]["interrogative"]["m_tIoU"] == 1.0
    assert result["m_gt_vIoU"] == 1.0
    # the captions-first order maps video 0 to d0, whose type differs: an error, not a score
    dump["test_vidstg_vidstg"]["video_predictions"]["0"]["qtype"] = "declarative"
    dump["test_vidstg_vidstg"]["video_predictions"]["1"]["qtype"] = "interrogative"
    path.write_text(json.dumps(dump))
    with pytest.raises(DataError, match="'declarative' sentence but it maps to '77/0/q0'"):
        load_predictions(path, pred_format="tubedetr", samples=samples)
    # a VidSTG dump cannot be matched by ids alone
    with pytest.raises(DataError, match="questions first"):
        load_predictions(path, pred_format="tubedetr", sample_ids=[s.sample_id for s in samples])


def test_tubedetr_order_on_the_real_vidstg_annotations(shared_fixtures, tmp_path):
    # The real VidSTG test annotations (no boxes needed): a dump written in TubeDETR's
    # numbering, each video's span the GT span of its sentence, maps back onto the right
    # samples; the same dump numbered captions first is refused.
    ann = shared_fixtures / "vidstg" / "test_annotations.json"
    entries = json.loads(ann.read_text())[:40]
    small = tmp_path / "test_annotations.json"
    small.write_text(json.dumps(entries))
    samples = list(load_dataset("vidstg", annotations=small))
    order = []  # preproc_vidstg.py: per entry, questions then captions
    for n, e in enumerate(entries):
        order += [(f"{e['vid']}/{n}/q{i}", "interrogative") for i in range(len(e["questions"]))]
        order += [(f"{e['vid']}/{n}/d{i}", "declarative") for i in range(len(e["captions"]))]
    spans = {s.sample_id: s.gt_span for s in samples}
    videos = {
        str(k): {"sted": [spans[sid][0], spans[sid][1] + 1], "qtype": qtype}
        for k, (sid, qtype) in enumerate(order)
    }
    path = tmp_path / "dump.json"
    path.write_text(json.dumps({"predictions": {}, "video_predictions": videos}))
    loaded = load_predictions(path, pred_format="tubedetr", samples=samples).predictions
    assert len(loaded) == len(samples) and {k: p.span for k, p in loaded.items()} == spans
    assert sum(1 for e in entries if e["questions"] and e["captions"]) > 30
    captions_first = [s.sample_id for s in samples]  # stvg's own order
    types = dict(order)
    swapped = {
        str(k): {"sted": [spans[sid][0], spans[sid][1] + 1], "qtype": types[sid]}
        for k, sid in enumerate(captions_first)
    }
    path.write_text(json.dumps({"predictions": {}, "video_predictions": swapped}))
    with pytest.raises(DataError, match="does not number the samples as assumed"):
        load_predictions(path, pred_format="tubedetr", samples=samples)


B = {f: [10.0 * f, 0.0, 10.0 * f + 20.0, 20.0] for f in range(10)}  # target 0, moving


def test_cgstvg_vidstg_reading(tmp_path):
    # 10 frames, target 0 on every frame (box B[f]); target 1 on frames 0..7 only.
    traj = [[_obj(0, B[f])] + ([_obj(1, B[f])] if f < 8 else []) for f in range(10)]
    entries = [
        # a: GT 4..7 (end_fid 8), used segment ends at 9: not capped
        _entry("a", 10, 4, 8, 9, [("the man.", 0)], [("who?", 1)]),
        # b: GT 4..9 (end_fid 10 = frame_count), used segment ends at 9: capped at 9
        _entry("b", 10, 4, 10, 9, [("the man.", 0)], []),
        # c: GT 4..7, used segment ends at 6: "spoiled" (box list 4..8 vs span 4..6)
        _entry("c", 10, 4, 8, 6, [("the man.", 0)], []),
    ]
    _, samples = _vidstg(tmp_path, entries, {v: traj for v in "abc"})
    a_d, a_q, b_d, c_d = samples
    assert a_d.meta["end_fid_box"] == B[8] and a_q.meta["end_fid_box"] is None
    # every prediction: exact boxes on its span 4..7 (sted [4, 8]), none on frame 8
    exact = {"bbox": {str(f): B[f] for f in range(4, 8)}, "st_frame": 4, "ed_frame": 7}
    path = tmp_path / "preds.json"
    path.write_text(json.dumps({s.sample_id: exact for s in samples}))
    predictions = load_predictions(path).predictions
    report = evaluate(samples, predictions, protocol="cgstvg")
    a_ds, a_qs, b_ds, c_ds = report.scores
    # a.d0: gt_temp_bound [4, 8] read as [4, 8): GT 4..7 = the prediction -> tIoU 1, vIoU 1
    # (HC-STVG's reading would drop frame 7: 3/4). gt_viou over frames 4..8: frame 8's box
    # is the target's box on frame end_fid = 8, without a predicted box -> 4/5.
    assert (a_ds.t_iou, a_ds.v_iou, a_ds.gt_v_iou) == (1.0, 1.0, pytest.approx(0.8))
    # a.q0: target 1 is absent on frame 8, so CG-STVG copies the box of frame 7 there:
    # still no predicted box on 8 -> the same numbers
    assert (a_qs.t_iou, a_qs.v_iou, a_qs.gt_v_iou) == (1.0, 1.0, pytest.approx(0.8))
    # b.d0: GT end capped: gt_temp_bound [4, min(10, 9)] = [4, 9] read as [4, 9): GT 4..8.
    # pred [4, 8): inter 4, union 5 -> tIoU 4/5; vIoU 4 frames IoU 1 over range(4, 9) = 4/5.
    # gt_viou over frames 4..9 (6 boxes, 4 predicted exactly) -> 4/6.
    assert b_ds.t_iou == pytest.approx(0.8) and b_ds.v_iou == pytest.approx(0.8)
    assert b_ds.gt_v_iou == pytest.approx(4 / 6)
    # c.d0 is left out by CG-STVG's loader: never averaged
    assert not c_ds.counted and report.excluded == [c_d.sample_id]
    assert report.metrics["n"] == 3
    assert report.metrics["m_tIoU"] == pytest.approx((1 + 1 + 0.8) / 3)
    by = report.metrics["by_sentence_type"]
    assert by["declarative"]["n"] == 2 and by["interrogative"]["n"] == 1
    # the other protocols score all four samples on the annotated spans
    span = evaluate(samples, predictions, protocol="span")
    assert [s.t_iou for s in span.scores] == [1.0, 1.0, pytest.approx(4 / 6), 1.0]
    assert span.excluded == [] and span.metrics["n"] == 4


def test_cgstvg_dump_qtype_is_checked(tmp_path):
    traj = [[_obj(0, BOX), _obj(1, BOX)] for _ in range(10)]
    entry = _entry("77", 10, 2, 6, 9, [("a man runs.", 0)], [("who runs?", 1)])
    _, samples = _vidstg(tmp_path, [entry], {"77": traj})
    # CG-STVG numbers captions first (make_data_pairs), as stvg does: item 0 = d0
    dump = {
        "predictions": {"0": {"2": [BOX]}, "1": {"2": [BOX]}},
        "video_predictions": {
            "0": {"sted": [2, 6], "qtype": "declar"},
            "1": {"sted": [2, 4], "qtype": "inter"},
        },
        "vid2names": {"0": "77", "1": "77"},
    }
    path = tmp_path / "test_results.json"
    path.write_text(json.dumps(dump))
    loaded = load_predictions(path, pred_format="cgstvg", samples=samples).predictions
    assert loaded["77/0/d0"].span == (2, 5) and loaded["77/0/q0"].span == (2, 3)
    dump["video_predictions"]["0"]["qtype"] = "inter"
    path.write_text(json.dumps(dump))
    with pytest.raises(DataError, match="'inter' sentence but it maps to '77/0/d0'"):
        load_predictions(path, pred_format="cgstvg", samples=samples)


def test_every_protocol_reports_gt_viou(tmp_path):
    # HC-STVG GT frames 0..9 (BOX), prediction span [0, 4] with exact boxes on 0..4.
    samples = _hcstvg2(tmp_path, 10)
    path = tmp_path / "preds.json"
    entry = {"st_frame": 0, "ed_frame": 4, "bbox": {str(f): BOX for f in range(5)}}
    path.write_text(json.dumps({"v.mp4": entry}))
    report = evaluate_protocols(samples, load_predictions(path).predictions)
    gt = {name: r.scores[0].gt_v_iou for name, r in report.reports.items()}
    # official / span: 5 of 10 GT frames. cgstvg: keys 0..9 -> 5/10. tubedetr-grid (fps =
    # img_num / 20 = 1, below 5 fps: every frame of [0, 19) is on the grid): GT frames 0..9,
    # 5 predicted -> 5/10. tubedetr: GT read one frame late, 1..10, predicted boxes on
    # 1..4 (each against the box annotated for the frame before, equal here) -> 4/10.
    assert gt == pytest.approx(
        {"official": 0.5, "span": 0.5, "tubedetr": 0.4, "tubedetr-grid": 0.5, "cgstvg": 0.5}
    )
    assert list(gt) == list(PROTOCOLS)
    assert report.reports["official"].metrics["m_gt_vIoU"] == 0.5
    assert np.isclose(report.reports["tubedetr"].metrics["gt_vIoU@0.3"], 1.0)
