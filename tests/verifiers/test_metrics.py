"""tIoU, vIoU and dataset metrics on hand-computed examples, plus property tests."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stvg.data.timing import sample_frame_indices
from stvg.data.types import Sample, Tube
from stvg.verifiers.iou import box_iou_single
from stvg.verifiers.metrics import (
    GroundTruthTable,
    SampleScore,
    dataset_metrics,
    score_sample,
    score_samples,
    temporal_iou,
    tubedetr_frame_grid,
)

BOX = [0.0, 0.0, 10.0, 10.0]
THIRD = [5.0, 0.0, 15.0, 10.0]  # IoU with BOX: inter 50, union 150 -> 1/3
HALF = [0.0, 0.0, 10.0, 5.0]  # IoU with BOX: inter 50, union 100 -> 1/2


def make_sample(gt_span, gt_boxes, *, fps=30.0, num_frames=100, sample_id="s", meta=None):
    return Sample(
        sample_id=sample_id,
        video_path=f"{sample_id}.mp4",
        query="the target",
        native_fps=fps,
        num_frames=num_frames,
        width=64,
        height=64,
        gt_span=gt_span,
        gt_boxes=gt_boxes,
        meta=dict(meta or {}),
    )


def full_gt(first, last, box=BOX):
    return {f: list(box) for f in range(first, last + 1)}


def tube(frames, box=BOX):
    frames = list(frames)
    return Tube(np.array(frames, dtype=np.int64), np.array([box] * len(frames), dtype=np.float64))


# ---------------------------------------------------------------- temporal IoU


@pytest.mark.parametrize(
    ("pred", "gt", "expected"),
    [
        ((0, 9), (0, 9), 1.0),  # identical
        ((0, 9), (20, 29), 0.0),  # disjoint
        ((0, 9), (10, 19), 0.0),  # adjacent, no shared frame
        ((15, 19), (10, 29), 5 / 20),  # nested: 5 frames of 20
        ((0, 9), (5, 14), 5 / 15),  # partial: I = 5..9, U = 0..14
        ((7, 7), (7, 7), 1.0),  # one-frame spans, same frame
        ((7, 7), (8, 8), 0.0),  # one-frame spans, neighbours
        ((9, 9), (0, 9), 1 / 10),  # one frame inside a 10-frame span
    ],
)
def test_temporal_iou(pred, gt, expected):
    assert temporal_iou(pred, gt) == pytest.approx(expected, abs=1e-12)
    assert temporal_iou(gt, pred) == pytest.approx(expected, abs=1e-12)


def test_temporal_iou_rejects_bad_spans():
    with pytest.raises(ValueError, match="first <= last"):
        temporal_iou((5, 4), (0, 9))
    with pytest.raises(ValueError, match="integer"):
        temporal_iou((0.5, 4), (0, 9))


# ---------------------------------------------------------------- native vIoU


def test_disjoint_spans_score_zero():
    sample = make_sample((10, 19), full_gt(10, 19))
    score = score_sample(sample, (30, 39), tube(range(30, 40)))
    assert (score.t_iou, score.v_iou) == (0.0, 0.0)
    assert score.n_frames_scored == 30  # U = 39 - 10 + 1
    assert score.pred_span == (30, 39) and score.gt_span == (10, 19)


def test_identical_spans_perfect_boxes():
    sample = make_sample((10, 19), full_gt(10, 19))
    score = score_sample(sample, (10, 19), tube(range(10, 20)))
    assert (score.t_iou, score.v_iou, score.n_frames_scored) == (1.0, 1.0, 10)


def test_nested_span():
    # GT 10..29 (20 frames), prediction 15..19 (5 frames): I = 5, U = 20
    sample = make_sample((10, 29), full_gt(10, 29))
    perfect = score_sample(sample, (15, 19), tube(range(15, 20)))
    assert perfect.t_iou == pytest.approx(0.25)
    assert perfect.v_iou == pytest.approx(0.25)  # 5 * 1 / 20
    third = score_sample(sample, (15, 19), tube(range(15, 20), THIRD))
    assert third.v_iou == pytest.approx(1 / 12)  # 5 * (1/3) / 20


def test_one_frame_spans():
    sample = make_sample((7, 7), {7: BOX})
    same = score_sample(sample, (7, 7), tube([7], THIRD))
    assert same.t_iou == 1.0
    assert same.v_iou == pytest.approx(1 / 3)  # one frame, IoU 1/3, U = 1
    apart = score_sample(sample, (8, 8), tube([8]))
    assert (apart.t_iou, apart.v_iou, apart.n_frames_scored) == (0.0, 0.0, 2)


def test_partial_overlap_with_missing_gt_and_pred_boxes():
    # GT span 10..19, GT box missing on frame 17; a GT box on frame 25 lies outside the GT
    # span and is ignored. Prediction 15..24, no box on frame 16, a 1/3 box on frame 18 and
    # a stray box on frame 30 (outside the predicted span, ignored).
    gt = full_gt(10, 19)
    del gt[17]
    gt[25] = list(BOX)
    sample = make_sample((10, 19), gt)
    frames = [f for f in range(15, 25) if f != 16] + [30]
    boxes = [THIRD if f == 18 else BOX for f in frames]
    pred = Tube(np.array(frames), np.array(boxes))
    score = score_sample(sample, (15, 24), pred, protocol="span")
    # I = 15..19 (5 frames), U = 10..24 (15 frames): tIoU = 5/15
    assert score.t_iou == pytest.approx(1 / 3)
    # 15: 1, 16: 0 (no pred box), 17: 0 (no GT box), 18: 1/3, 19: 1 -> 7/3 over U = 15
    assert score.v_iou == pytest.approx(7 / 45)
    assert score.n_frames_scored == 15
    # gt_v_iou: the same 7/3 over the 9 GT frames with a box (10..16, 18, 19)
    assert score.gt_v_iou == pytest.approx(7 / 27)
    # official (eval_hcvg.py): the GT frames with a predicted box are 15, 18, 19 (16 has no
    # predicted box, 17 no GT box) -> tIoU 3/15; the same IoU sum -> vIoU 7/45
    official = score_sample(sample, (15, 24), pred)
    assert official.t_iou == pytest.approx(3 / 15)
    assert official.v_iou == pytest.approx(7 / 45)
    assert official.gt_v_iou == pytest.approx(7 / 27)


def test_no_prediction_and_no_tube():
    sample = make_sample((10, 19), full_gt(10, 19))
    none = score_sample(sample, None, None)
    assert (none.t_iou, none.v_iou, none.pred_span, none.n_frames_scored) == (0.0, 0.0, None, 0)
    # under the span formula a span without boxes still earns its tIoU: I = 10..14,
    # U = 10..19; the official evaluator counts GT frames with a predicted box: none
    span_only = score_sample(sample, (10, 14), None, protocol="span")
    assert (span_only.t_iou, span_only.v_iou) == (0.5, 0.0)
    assert score_sample(sample, (10, 14), Tube.empty(), protocol="span").v_iou == 0.0
    official = score_sample(sample, (10, 14), Tube.empty())
    assert (official.t_iou, official.v_iou, official.n_frames_scored) == (0.0, 0.0, 10)


def test_bad_inputs_name_the_sample():
    sample = make_sample((10, 19), full_gt(10, 19), sample_id="vid7.mp4")
    with pytest.raises(ValueError, match=r"vid7\.mp4.*pred_span"):
        score_sample(sample, (12, 11), None)
    with pytest.raises(ValueError, match="unknown metric protocol"):
        score_sample(sample, (10, 19), None, protocol="per_second")
    with pytest.raises(ValueError, match="one prediction per sample"):
        GroundTruthTable([sample]).score([None, None], [None])


# ---------------------------------------------------------------- tubedetr protocol


def test_tubedetr_grid_matches_timing_at_25_and_30_fps():
    # TubeDETR's HC-STVG range is [0, num_frames - 1): at 30 fps frames 0, 6, ..., 84
    assert tubedetr_frame_grid(30.0, 90).tolist() == list(range(0, 85, 6))
    np.testing.assert_array_equal(
        tubedetr_frame_grid(30.0, 90), sample_frame_indices(30.0, 90, 5.0)
    )
    assert tubedetr_frame_grid(25.0, 100).tolist() == list(range(0, 96, 5))


def test_tubedetr_grid_rounds_up_where_timing_rounds_half_up():
    # 29.97 fps: grid point k = 84 sits at 84 / 5 * 29.97 = 503.496 native frames.
    # TubeDETR keeps the first frame whose floor(f * 5 / 29.97) reaches 84: 504;
    # stvg.data.timing rounds half up: 503.
    assert tubedetr_frame_grid(29.97, 600)[84] == 504
    assert sample_frame_indices(29.97, 600, 5.0)[84] == 503


def test_tubedetr_grid_segment_and_max_len():
    # VidSTG used_segment [13, 40) at 30 fps: start 13 (floor 2), then 18, 24, 30, 36
    assert tubedetr_frame_grid(30.0, 100, segment=(13, 40)).tolist() == [13, 18, 24, 30, 36]
    # 5 fps video: every frame of [0, 999) = 999 frames, cut to 200 as ids[j * 999 // 200]
    grid = tubedetr_frame_grid(5.0, 1000)
    assert grid.size == 200
    assert grid[:3].tolist() == [0, 4, 9] and grid[-1] == 994  # 199 * 999 // 200 = 994


def test_tubedetr_protocol_on_30fps_example():
    # 30 fps, 90 frames: grid 0, 6, ..., 84. GT 10..40, prediction 20..50, perfect boxes.
    sample = make_sample((10, 40), full_gt(10, 40), num_frames=90)
    pred = tube(range(20, 51))
    native = score_sample(sample, (20, 50), pred)
    # native: I = 20..40 (21 frames), U = 10..50 (41 frames)
    assert native.t_iou == pytest.approx(21 / 41)
    assert native.v_iou == pytest.approx(21 / 41)
    tubedetr = score_sample(sample, (20, 50), pred, protocol="tubedetr-grid")
    # tIoU unchanged; grid in U: 12, 18, 24, 30, 36, 42, 48 (7); grid in I: 24, 30, 36 (3)
    assert tubedetr.t_iou == pytest.approx(21 / 41)
    assert tubedetr.v_iou == pytest.approx(3 / 7)
    assert tubedetr.n_frames_scored == 7
    # without the GT box on grid frame 30, only 24 and 36 count
    gt = full_gt(10, 40)
    del gt[30]
    sample_gap = make_sample((10, 40), gt, num_frames=90)
    assert score_sample(
        sample_gap, (20, 50), pred, protocol="tubedetr-grid"
    ).v_iou == pytest.approx(2 / 7)
    assert score_sample(sample_gap, (20, 50), pred).v_iou == pytest.approx(20 / 41)


def test_tubedetr_protocol_uses_vidstg_used_segment():
    # 30 fps; GT 13..20, prediction 13..25 with perfect boxes: I = 13..20, U = 13..25.
    # With used_segment [13, 40) the grid is 13, 18, 24, 30, 36: in U 13, 18, 24 (3),
    # in I 13, 18 (2) -> vIoU 2/3. Without it the grid is 0, 6, 12, 18, 24, ...:
    # in U 18, 24 (2), in I 18 (1) -> vIoU 1/2.
    meta = {"used_segment": {"begin_fid": 13, "end_fid": 40}}
    with_segment = make_sample((13, 20), full_gt(13, 20), meta=meta)
    score = score_sample(with_segment, (13, 25), tube(range(13, 26)), protocol="tubedetr-grid")
    assert score.t_iou == pytest.approx(8 / 13)
    assert (score.v_iou, score.n_frames_scored) == (pytest.approx(2 / 3), 3)
    plain = make_sample((13, 20), full_gt(13, 20))
    score = score_sample(plain, (13, 25), tube(range(13, 26)), protocol="tubedetr-grid")
    assert (score.v_iou, score.n_frames_scored) == (pytest.approx(1 / 2), 2)


# ---------------------------------------------------------------- batch scoring


def test_batch_scoring_equals_one_by_one():
    samples = [
        make_sample((10, 19), full_gt(10, 19), sample_id="a"),
        make_sample((0, 4), full_gt(0, 4, THIRD), sample_id="b"),
        make_sample((50, 60), {55: BOX}, sample_id="c"),
    ]
    spans = [(12, 30), None, (40, 55)]
    tubes = [tube(range(12, 31)), None, tube(range(40, 56), HALF)]
    for protocol in ("native", "span", "tubedetr-grid", "tubedetr", "cgstvg", "official"):
        batch = score_samples(samples, spans, tubes, protocol=protocol)
        single = [
            score_sample(s, p, t, protocol=protocol)
            for s, p, t in zip(samples, spans, tubes, strict=True)
        ]
        assert list(batch) == single
    # c: U = 40..60 (21); the only GT box (55) has a predicted box, IoU 1/2: official tIoU
    # 1/21 (one GT frame with a predicted box), span tIoU 6/21 (I = 50..55); both vIoU 0.5/21
    assert batch[2].t_iou == pytest.approx(1 / 21)
    assert score_samples(samples, spans, tubes, protocol="span")[2].t_iou == pytest.approx(6 / 21)
    assert score_samples(samples, spans, tubes)[2].v_iou == pytest.approx(0.5 / 21)


# ---------------------------------------------------------------- dataset metrics


def make_score(sid, t, v, sentence_type=None):
    meta = {} if sentence_type is None else {"sentence_type": sentence_type}
    return SampleScore(sid, t, v, (0, 1), (0, 1), 2, meta)


def test_dataset_metrics_means_and_strict_thresholds():
    scores = [
        make_score("a", 1.0, 0.5),
        make_score("b", 0.8, 0.6),
        make_score("c", 0.5, 0.3),
        make_score("d", 0.3, 0.2),
    ]
    m = dataset_metrics(scores)
    assert m["m_tIoU"] == pytest.approx(2.6 / 4)
    assert m["m_vIoU"] == pytest.approx(1.6 / 4)
    assert m["vIoU@0.3"] == pytest.approx(2 / 4)  # 0.5 and 0.6; 0.3 is not > 0.3
    assert m["vIoU@0.5"] == pytest.approx(1 / 4)  # only 0.6; 0.5 is not > 0.5
    assert m["n"] == 4
    assert "by_sentence_type" not in m
    assert dataset_metrics(scores, thresholds=(0.25,))["vIoU@0.25"] == pytest.approx(3 / 4)
    with pytest.raises(ValueError, match="at least one"):
        dataset_metrics([])


def test_exact_half_viou_does_not_count_at_half():
    # 10 frames, every box IoU exactly 1/2: vIoU = 10 * 0.5 / 10 = 0.5 exactly
    sample = make_sample((0, 9), full_gt(0, 9))
    score = score_sample(sample, (0, 9), tube(range(10), HALF))
    assert score.v_iou == 0.5
    m = dataset_metrics([score])
    assert (m["vIoU@0.3"], m["vIoU@0.5"]) == (1.0, 0.0)


def test_sentence_type_breakdown():
    scores = [
        make_score("a", 1.0, 0.5, "declarative"),
        make_score("b", 0.8, 0.6, "declarative"),
        make_score("c", 0.5, 0.3, "interrogative"),
        make_score("d", 0.3, 0.2, "interrogative"),
        make_score("e", 0.0, 0.0),
    ]
    by = dataset_metrics(scores)["by_sentence_type"]
    assert sorted(by) == ["declarative", "interrogative", "unknown"]
    zero_gt = {"m_gt_vIoU": 0.0, "gt_vIoU@0.3": 0.0, "gt_vIoU@0.5": 0.0}  # default gt_v_iou
    assert by["declarative"] == pytest.approx(
        {"m_tIoU": 0.9, "m_vIoU": 0.55, "vIoU@0.3": 1.0, "vIoU@0.5": 0.5, **zero_gt, "n": 2}
    )
    assert by["interrogative"] == pytest.approx(
        {"m_tIoU": 0.4, "m_vIoU": 0.25, "vIoU@0.3": 0.0, "vIoU@0.5": 0.0, **zero_gt, "n": 2}
    )
    assert by["unknown"]["n"] == 1


# ---------------------------------------------------------------- properties


def reference_score(sample, span, pred, protocol):
    """Per-frame pure-Python statement of the protocol (module docstring of metrics):
    ``(tIoU, vIoU, gt_v_iou)``."""
    if span is None:
        return 0.0, 0.0, 0.0
    (ps, pe), (gs, ge) = span, sample.gt_span
    pred_boxes = {} if pred is None else pred.to_dict()
    union = range(min(ps, gs), max(pe, ge) + 1)
    gt_frames = [f for f in range(gs, ge + 1) if f in sample.gt_boxes]
    if protocol == "tubedetr-grid":
        grid = set(tubedetr_frame_grid(sample.native_fps, sample.num_frames).tolist())
        counted = [f for f in union if f in grid]
        gt_frames = [f for f in gt_frames if f in grid]
    else:
        counted = list(union)
    if protocol == "official":  # eval_hcvg.py: GT frames with a predicted box, anywhere
        hits = [f for f in gt_frames if f in pred_boxes]
        total = sum(box_iou_single(pred_boxes[f], sample.gt_boxes[f]) for f in hits)
        return len(hits) / len(union), total / len(union), total / max(len(gt_frames), 1)
    total = 0.0
    for f in counted:
        if max(ps, gs) <= f <= min(pe, ge) and f in sample.gt_boxes and f in pred_boxes:
            total += box_iou_single(pred_boxes[f], sample.gt_boxes[f])
    if protocol == "span":  # boxes outside the predicted span are ignored
        pred_boxes = {f: b for f, b in pred_boxes.items() if ps <= f <= pe}
    gt_total = sum(
        box_iou_single(pred_boxes[f], sample.gt_boxes[f]) for f in gt_frames if f in pred_boxes
    )
    n_inter = max(0, min(pe, ge) - max(ps, gs) + 1)
    return (
        n_inter / len(union),
        total / max(len(counted), 1),
        gt_total / max(len(gt_frames), 1),
    )


coord = st.floats(0, 50, allow_nan=False, allow_infinity=False)
box_strategy = st.tuples(coord, coord, st.floats(0.5, 20), st.floats(0.5, 20)).map(
    lambda b: [b[0], b[1], b[0] + b[2], b[1] + b[3]]
)


@st.composite
def scored_case(draw):
    num_frames = draw(st.integers(1, 40))
    gs = draw(st.integers(0, num_frames - 1))
    ge = draw(st.integers(gs, num_frames - 1))
    gt = {f: draw(box_strategy) for f in range(gs, ge + 1) if draw(st.booleans()) or f == gs}
    ps = draw(st.integers(0, num_frames - 1))
    pe = draw(st.integers(ps, num_frames - 1))
    frames = sorted(draw(st.sets(st.integers(0, num_frames + 5), max_size=20)))
    boxes = [draw(box_strategy) for _ in frames]
    fps = draw(st.sampled_from([5.0, 10.0, 25.0, 29.97, 30.0]))
    sample = make_sample((gs, ge), gt, fps=fps, num_frames=num_frames)
    return sample, (ps, pe), Tube(np.array(frames, dtype=np.int64), np.array(boxes).reshape(-1, 4))


@settings(max_examples=150, deadline=None)
@given(scored_case(), st.sampled_from(["official", "span", "tubedetr-grid"]))
def test_property_bounds_and_reference(case, protocol):
    sample, span, pred = case
    score = score_sample(sample, span, pred, protocol=protocol)
    assert 0.0 <= score.v_iou <= 1.0 and 0.0 <= score.t_iou <= 1.0
    assert 0.0 <= score.gt_v_iou <= 1.0
    if protocol in ("official", "span"):
        assert score.v_iou <= score.t_iou
    # (TubeDETR's vIoU counts grid frames but its tIoU all frames, so vIoU can exceed tIoU:
    # 30 fps video (HC-STVG img_num 600), grid every 6th frame, GT 0..0, prediction 0..5
    # -> tIoU 1/6, vIoU 1.)
    t_ref, v_ref, gt_ref = reference_score(sample, span, pred, protocol)
    assert score.t_iou == pytest.approx(t_ref, abs=1e-12)
    assert score.v_iou == pytest.approx(v_ref, abs=1e-12)
    assert score.gt_v_iou == pytest.approx(gt_ref, abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(scored_case())
def test_property_perfect_prediction_scores_one(case):
    sample, _, _ = case
    gs, ge = sample.gt_span
    gt = {f: sample.gt_boxes.get(f, BOX) for f in range(gs, ge + 1)}  # a box on every frame
    sample = make_sample((gs, ge), gt, fps=sample.native_fps, num_frames=sample.num_frames)
    perfect = Tube.from_dict(gt)
    score = score_sample(sample, (gs, ge), perfect)
    assert (score.t_iou, score.v_iou) == (pytest.approx(1.0), pytest.approx(1.0))
    tubedetr = score_sample(sample, (gs, ge), perfect, protocol="tubedetr-grid")
    grid = tubedetr_frame_grid(sample.native_fps, sample.num_frames)
    on_grid = bool(np.any((grid >= gs) & (grid <= ge)))
    # a span between two grid frames has nothing to score under TubeDETR's protocol
    assert tubedetr.t_iou == pytest.approx(1.0)
    assert tubedetr.v_iou == pytest.approx(1.0 if on_grid else 0.0)
