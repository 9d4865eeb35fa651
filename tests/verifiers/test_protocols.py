"""The metric protocols of issue 12 on hand-computed cases, where they differ.

Every expected number below was worked out by hand from the arithmetic of the evaluator the
protocol follows (see :mod:`stvg.verifiers.metrics`): the official HC-STVG ``eval_hcvg.py``
(``official``), TubeDETR's ``datasets/hcstvg_eval.py`` with its preprocessing
(``tubedetr``: GT one frame late, 5 fps grid; ``tubedetr-grid``: the grid only) and
CG-STVG's ``datasets/evaluation/hcstvg_eval.py`` (``cgstvg``: GT end read as exclusive,
missing predictions skipped). Videos are 100 frames at 5 fps (TubeDETR's ``img_num / 20``),
so TubeDETR's grid keeps every frame of ``range(0, 99)`` and only its other conventions
show.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from stvg.cli import main
from stvg.data import load_dataset
from stvg.data.types import Sample, Tube
from stvg.verifiers.evaluation import (
    MultiProtocolReport,
    evaluate,
    evaluate_protocols,
    format_table,
)
from stvg.verifiers.metrics import (
    PROTOCOLS,
    canonical_protocol,
    dataset_metrics,
    score_sample,
    score_samples,
    tubedetr_frame_grid,
)
from stvg.verifiers.predictions import Prediction, write_predictions

BOX = [0.0, 0.0, 10.0, 10.0]


def make_sample(gt_span, gt_boxes, *, sample_id="s", meta=None, size=(100, 100)):
    return Sample(
        sample_id=sample_id,
        video_path=f"{sample_id}.mp4",
        query="the target",
        native_fps=5.0,  # 100 frames / 20 s, as TubeDETR assumes for HC-STVG
        num_frames=100,
        width=size[0],
        height=size[1],
        gt_span=gt_span,
        gt_boxes=gt_boxes,
        meta=dict(meta or {}),
    )


def moving_box(f: int) -> list[float]:
    """A 10x10 box that moves 5 pixels right per frame: consecutive frames have IoU 1/3."""
    return [5.0 * f, 0.0, 5.0 * f + 10.0, 10.0]


def tube_of(boxes_by_frame) -> Tube:
    return Tube.from_dict(boxes_by_frame)


def scores(sample, span, pred):
    return {p: score_sample(sample, span, pred, protocol=p) for p in PROTOCOLS}


def test_protocol_names_and_alias():
    assert PROTOCOLS == ("official", "span", "tubedetr", "tubedetr-grid", "cgstvg")
    assert canonical_protocol("native") == "official"
    with pytest.raises(ValueError, match="unknown metric protocol 'tube'.*'cgstvg'"):
        canonical_protocol("tube")
    sample = make_sample((3, 6), {f: BOX for f in range(3, 7)})
    assert score_sample(sample, (3, 6), None, protocol="native") == score_sample(
        sample, (3, 6), None
    )
    assert np.array_equal(tubedetr_frame_grid(5.0, 100), np.arange(99))  # no subsampling


def test_tubedetr_reads_st_frame_as_a_0_based_id():
    # GT annotated on 0-based frames 3..6 (HC-STVG st_frame = 4), boxes moving 5 px/frame;
    # the prediction is the GT exactly.
    gt = {f: moving_box(f) for f in range(3, 7)}
    sample = make_sample((3, 6), gt)
    s = scores(sample, (3, 6), tube_of(gt))
    # official and tubedetr-grid: I = U = 3..6, every IoU 1.
    assert (s["official"].t_iou, s["official"].v_iou) == (1.0, 1.0)
    assert (s["tubedetr-grid"].t_iou, s["tubedetr-grid"].v_iou) == (1.0, 1.0)
    # tubedetr: tube_start_frame = st_frame = 4, tube_end_frame = 4 + 4 = 8 (exclusive); the
    # box annotated for frame f sits on frame f + 1. pred_sted = [3, 6 + 1]. tIoU: inter
    # min(8, 7) - max(4, 3) = 3, union 4 + 4 - 3 = 5 -> 3/5. vIoU: grid frames of I 4, 5, 6,
    # each pred box(f) against GT box(f - 1): inter 5 x 10, union 150 -> 1/3; U = 3..7 holds
    # 5 grid frames -> (3 * 1/3) / 5 = 1/5.
    t = s["tubedetr"]
    assert t.t_iou == pytest.approx(3 / 5)
    assert t.v_iou == pytest.approx(1 / 5)
    assert (t.gt_span, t.n_frames_scored) == ((4, 7), 5)
    # cgstvg: gt_temp_bound [3, 6] read as exclusive, pred_sted [3, 7]: inter 6 - 3 = 3,
    # union 3 + 4 - 3 = 4 -> 3/4; vIoU: frames 3, 4, 5 with IoU 1 over range(3, 7) -> 3/4.
    c = s["cgstvg"]
    assert (c.t_iou, c.v_iou, c.n_frames_scored) == (pytest.approx(3 / 4), pytest.approx(3 / 4), 4)


def test_vidstg_samples_are_not_shifted_by_tubedetr():
    # VidSTG frame ids are 0-based in its files: tubedetr equals tubedetr-grid there.
    gt = {f: moving_box(f) for f in range(3, 7)}
    sample = make_sample((3, 6), gt, meta={"dataset": "vidstg"})
    s = scores(sample, (3, 6), tube_of(gt))
    assert s["tubedetr"] == s["tubedetr-grid"]
    assert (s["tubedetr"].t_iou, s["tubedetr"].v_iou) == (1.0, 1.0)


def test_cgstvg_drops_the_last_gt_frame():
    # GT 3..6, prediction 3..5 with perfect boxes.
    sample = make_sample((3, 6), {f: BOX for f in range(3, 7)})
    s = scores(sample, (3, 5), tube_of({f: BOX for f in range(3, 6)}))
    # official: I = 3..5 (3), U = 3..6 (4) -> 3/4, 3/4.
    assert (s["official"].t_iou, s["official"].v_iou) == (0.75, 0.75)
    # cgstvg: GT [3, 6) and pred [3, 6): identical -> 1, 1.
    assert (s["cgstvg"].t_iou, s["cgstvg"].v_iou) == (1.0, 1.0)
    # A 1-frame GT is empty for cgstvg: gt_sted [5, 5], pred_sted [5, 6]: min_end 5 <=
    # max_start 5 -> tIoU 0; no frame in range(5, 5) -> vIoU 0 over range(5, 6).
    one = make_sample((5, 5), {5: BOX})
    s = scores(one, (5, 5), tube_of({5: BOX}))
    assert (s["official"].t_iou, s["official"].v_iou) == (1.0, 1.0)
    assert (s["cgstvg"].t_iou, s["cgstvg"].v_iou, s["cgstvg"].n_frames_scored) == (0.0, 0.0, 1)


def test_gt_box_outside_the_frame():
    # 100x100 frame. GT 2..4; the box of frame 2 reaches past the right edge:
    # [80, 0, 120, 40] (as annotated). The prediction is that box clipped: [80, 0, 100, 40].
    gt = {2: [80.0, 0.0, 120.0, 40.0], 3: BOX, 4: BOX}
    sample = make_sample((2, 4), gt)
    pred = tube_of({2: [80.0, 0.0, 100.0, 40.0], 3: BOX, 4: BOX})
    s = scores(sample, (2, 4), pred)
    # official (GT as annotated): frame 2 IoU = 20*40 / 40*40 = 1/2 -> vIoU (1/2 + 2) / 3.
    assert s["official"].v_iou == pytest.approx(2.5 / 3)
    assert s["official"].n_gt_boxes_outside_frame == 1
    # tubedetr-grid does not clip either.
    assert s["tubedetr-grid"].v_iou == pytest.approx(2.5 / 3)
    # cgstvg: its loader sets x2 = min(x1 + w, W) = 100 -> frame 2 IoU 1; frames 2, 3 of
    # [2, 4) count, U = range(2, 5) -> 2/3 (the last GT frame drops out).
    assert s["cgstvg"].v_iou == pytest.approx(2 / 3)
    for score in s.values():
        assert score.n_gt_boxes_outside_frame == 1


def test_missing_prediction_scores_0_or_is_skipped():
    a = make_sample((3, 6), {f: BOX for f in range(3, 7)}, sample_id="a")
    b = make_sample((10, 19), {f: BOX for f in range(10, 20)}, sample_id="b")
    spans, tubes = [(3, 5), None], [tube_of({f: BOX for f in range(3, 6)}), None]
    m = {p: dataset_metrics(score_samples([a, b], spans, tubes, protocol=p)) for p in PROTOCOLS}
    # official: a 3/4, 3/4 (previous test); b missing -> 0: means 3/8, n 2.
    assert (m["official"]["m_tIoU"], m["official"]["m_vIoU"], m["official"]["n"]) == (
        0.375,
        0.375,
        2,
    )
    assert m["tubedetr-grid"]["m_tIoU"] == 0.375
    # tubedetr: a's GT read as 4..7, pred 3..5: I = 4..5 (2), U = 3..7 (5) -> 2/5, and
    # vIoU (constant boxes) 2/5; b 0 -> means 1/5.
    assert m["tubedetr"]["m_tIoU"] == pytest.approx(0.2)
    assert m["tubedetr"]["m_vIoU"] == pytest.approx(0.2)
    # cgstvg: a 1, 1 (GT [3, 6) = pred [3, 6)); b skipped: means over 1 sample.
    assert (m["cgstvg"]["m_tIoU"], m["cgstvg"]["m_vIoU"], m["cgstvg"]["n"]) == (1.0, 1.0, 1)
    assert m["cgstvg"]["vIoU@0.5"] == 1.0
    # no prediction at all: cgstvg averages over nothing
    empty = dataset_metrics(score_samples([a, b], [None, None], [None, None], protocol="cgstvg"))
    assert empty["n"] == 0 and empty["m_tIoU"] is None and empty["vIoU@0.3"] is None


def test_sentence_types_under_each_protocol():
    gt = {f: BOX for f in range(3, 7)}
    d = make_sample((3, 6), gt, sample_id="v/0/d0", meta={"sentence_type": "declarative"})
    q = make_sample((3, 6), gt, sample_id="v/0/q0", meta={"sentence_type": "interrogative"})
    predictions = {"v/0/d0": Prediction((3, 5), tube_of({f: BOX for f in range(3, 6)}))}
    report = evaluate_protocols([d, q], predictions)
    assert isinstance(report, MultiProtocolReport) and report.protocol == "all"
    assert report.missing == ["v/0/q0"]  # protocol-independent attributes from the first
    by = {p: r.metrics["by_sentence_type"] for p, r in report.reports.items()}
    # official: declarative 3/4 (as above), interrogative missing -> 0
    assert by["official"]["declarative"]["m_tIoU"] == 0.75
    assert by["official"]["interrogative"] == {
        "m_tIoU": 0.0,
        "m_vIoU": 0.0,
        "vIoU@0.3": 0.0,
        "vIoU@0.5": 0.0,
        "m_gt_vIoU": 0.0,
        "gt_vIoU@0.3": 0.0,
        "gt_vIoU@0.5": 0.0,
        "n": 1,
    }
    # cgstvg: declarative 1; interrogative has no prediction, so nothing is averaged
    assert by["cgstvg"]["declarative"]["m_vIoU"] == 1.0
    assert by["cgstvg"]["interrogative"]["n"] == 0
    lines = format_table(report).splitlines()
    assert lines[0].split() == [
        "protocol",
        "subset",
        "n",
        "m_tIoU",
        "m_vIoU",
        "vIoU@0.3",
        "vIoU@0.5",
        "m_gt_vIoU",
    ]
    rows = [line.split() for line in lines[2:-1]]
    assert [r[:2] for r in rows] == [
        [p, subset] for p in PROTOCOLS for subset in ("all", "declarative", "interrogative")
    ]
    # gt_v_iou: frames 3..5 of the GT frames 3..6 -> 75.00
    assert ["official", "declarative", "1", "75.00", "75.00", "100.00", "100.00", "75.00"] in rows
    assert ["cgstvg", "interrogative", "0", "-", "-", "-", "-", "-"] in rows
    assert lines[-1].startswith("protocol=all ")
    assert "gt_boxes_outside_frame=0" in lines[-1]
    out = report.to_dict(per_sample=False)
    assert list(out["by_protocol"]) == list(PROTOCOLS)
    assert out["by_protocol"]["cgstvg"]["n"] == 1 and out["n_missing"] == 1
    with pytest.raises(ValueError, match="at most once"):
        evaluate_protocols([d, q], predictions, protocols=["official", "native"])
    with pytest.raises(ValueError, match="evaluate_protocols"):
        evaluate([d, q], predictions, protocol="all")


def _hcstvg2_file(tmp_path):
    # 640x360 frames, 100 frames (5 fps). a: st_frame 4 -> GT 3..6, the box of frame 3
    # reaches past the right edge ([600, 0, 100, 40] -> x2 = 700). b: GT 10..19, in frame.
    entry = {"English": "the man waves", "img_num": 100, "img_size": [360, 640]}
    annotations = {
        "a.mp4": {**entry, "st_frame": 4, "bbox": [[600, 0, 100, 40]] + [[0, 0, 10, 10]] * 3},
        "b.mp4": {**entry, "st_frame": 11, "bbox": [[0, 0, 10, 10]] * 10},
    }
    path = tmp_path / "valv2.json"
    path.write_text(json.dumps(annotations), encoding="utf-8")
    return path


def test_loader_keeps_gt_as_annotated_and_evaluate_counts_it(tmp_path):
    samples = list(load_dataset("hcstvg2", annotations=_hcstvg2_file(tmp_path)))
    a = samples[0]
    assert a.gt_boxes[3] == [600.0, 0.0, 700.0, 40.0]  # not clipped to the 640-wide frame
    assert a.meta["repairs"] == {"box_outside_frame": 1}
    # a predicts the box clipped to the frame, [600, 0, 640, 40]: IoU 40/100 on frame 3;
    # frames 4..6 perfect -> official vIoU (0.4 + 3) / 4 = 0.85 (0.85 is not 1.0: clipping
    # the GT would have changed the metric). b is missing -> 0.
    pred_a = {3: [600.0, 0.0, 640.0, 40.0], **{f: BOX for f in range(4, 7)}}
    report = evaluate(samples, {"a.mp4": Prediction((3, 6), tube_of(pred_a))})
    assert report.scores[0].v_iou == pytest.approx(0.85)
    assert report.metrics["m_vIoU"] == pytest.approx(0.425)
    assert report.n_gt_boxes_outside_frame == 1
    out = report.to_dict()
    assert out["n_gt_boxes_outside_frame"] == 1
    assert out["per_sample"][0]["n_gt_boxes_outside_frame"] == 1
    assert "gt_boxes_outside_frame=1" in format_table(report)


def test_cli_protocol_all_prints_one_row_per_protocol(tmp_path, capsys):
    ann = _hcstvg2_file(tmp_path)
    preds = tmp_path / "preds.json"
    # a: perfect on 4..6 plus the clipped box on 3 (as above); b: GT exactly.
    pred_a = {3: [600.0, 0.0, 640.0, 40.0], **{f: BOX for f in range(4, 7)}}
    write_predictions(
        preds,
        {
            "a.mp4": Prediction((3, 6), tube_of(pred_a)),
            "b.mp4": Prediction((10, 19), tube_of({f: BOX for f in range(10, 20)})),
        },
    )
    out = tmp_path / "m.json"
    argv = ["evaluate", "--annotations", str(ann), "--format", "hcstvg2"]
    argv += ["--predictions", str(preds), "--protocol", "all", "--out", str(out)]
    assert main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = [line.split() for line in lines[2:7]]
    assert [r[0] for r in rows] == list(PROTOCOLS)
    # official: a 0.85, b 1 -> m_vIoU 92.50; tIoU 1, 1; gt_v_iou as vIoU (spans equal).
    assert rows[0] == ["official", "all", "2", "100.00", "92.50", "100.00", "100.00", "92.50"]
    assert rows[1] == ["span", "all", "2", "100.00", "92.50", "100.00", "100.00", "92.50"]
    # cgstvg: a: frames 3..5 of [3, 6) with GT x2 = min(700, 640) = 640 -> IoU 1 on
    # frame 3: 3/4 and tIoU 3/4; b: 9/10, 9/10 -> means 82.50, 82.50. gt_viou averages
    # over all GT boxes 3..6 (the last frame included): 1 and 1.
    assert rows[4] == ["cgstvg", "all", "2", "82.50", "82.50", "100.00", "100.00", "100.00"]
    result = json.loads(out.read_text())
    assert result["protocol"] == "all" and list(result["by_protocol"]) == list(PROTOCOLS)
    assert result["by_protocol"]["official"]["m_vIoU"] == pytest.approx(0.925)
    assert result["n_gt_boxes_outside_frame"] == 1


def test_reward_scores_gt_as_annotated(tmp_path):
    from stvg.data.types import SecondLevelAnswer
    from stvg.verifiers.formats import FrameContext, ParseResult
    from stvg.verifiers.rewards import RewardInput, score_term

    a = list(load_dataset("hcstvg2", annotations=_hcstvg2_file(tmp_path)))[0]
    # GT 3..6 with [600, 0, 700, 40] on frame 3 (past the 640-wide frame); the answer is
    # the same clipped prediction as above: the v_iou reward equals official vIoU 0.85.
    pred_a = {3: [600.0, 0.0, 640.0, 40.0], **{f: BOX for f in range(4, 7)}}
    answer = SecondLevelAnswer((0.6, 1.2), np.zeros(0), np.zeros((0, 4)))
    inp = RewardInput(
        a,
        ParseResult(answer, None, (), True),
        FrameContext.from_sample(a, fps=5.0),
        (3, 6),
        tube_of(pred_a),
    )
    assert score_term("v_iou", inp).value == pytest.approx(0.85)
