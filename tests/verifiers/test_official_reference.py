"""``--protocol official`` and ``span`` against independent references of their arithmetic.

The references below are written from the arithmetic (not from stvg's code): they read the
raw annotation files and the predictions files as JSON text themselves and never call
stvg's metric, IoU or loader code.

``official`` is the official HC-STVG evaluator, ``eval_hcvg.py`` (``hcvg_eval``): GT and
predictions are ``{video: {"st_frame", "ed_frame", "bbox": {"<frame>": [x1, y1, x2,
y2]}}}``; per video present in the predictions, ``ious`` = the IoU of every GT frame key
that is also a key of the predicted ``bbox`` (whatever the predicted span),
``all_frame = max(ed) - min(st) + 1``, ``tIoU = len(ious) / all_frame`` and ``vIoU =
sum(ious) / all_frame``; a video without a prediction scores 0, 0; ``iou2d`` has no ``+1``
pixel and is 0 when the boxes do not overlap. The GT is written in that format from the
raw annotations on stvg's 0-based frames (HC-STVG: ``st_frame - 1``; VidSTG:
``begin_fid .. end_fid - 1``, frames where the target is absent have no key).
``gt_v_iou`` (not in ``eval_hcvg.py``) is ``sum(ious) / len(gt bbox)``.

Frame keys: ``eval_hcvg.py`` compares them as strings; stvg reads a key as its decimal
number, so a key written with leading zeros (``"00130"``) is frame 130 here and never
matches there. That is the documented input ``official`` does not mirror; the reference
canonicalises keys (``str(int(key))``) before matching, and the test checks that such keys
occur and change the peer's raw string matching.

``span`` (the RL reward's span formula): walk every frame of the union; a frame in both
spans counts for tIoU and, with a GT box and a predicted box, adds its IoU; boxes outside
the predicted span are ignored.

Generated cases: HC-STVG v2 and VidSTG (with VidOR box files) annotation files with GT
boxes outside the frame, frames of the GT span where the VidSTG target is absent, missing
predictions, sparse predictions (frames of the span without a box), boxes outside the
predicted span (before, after, on GT frames and not), degenerate predicted boxes, predicted
spans past the end of the video, and frame keys with leading zeros.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from stvg.data import load_dataset
from stvg.verifiers.evaluation import evaluate
from stvg.verifiers.predictions import load_predictions

WIDTH, HEIGHT = 64, 48  # pixels
TOL = 1e-9


def ref_iou2d(a: list[float], b: list[float]) -> float:
    """``iou2d`` of the official evaluator, for xyxy pixel boxes."""
    area_a = (a[2] - a[0]) * (a[3] - a[1])
    area_b = (b[2] - b[0]) * (b[3] - b[1])
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[2], b[2]), min(a[3], b[3])
    if x1 >= x2 or y1 >= y2:
        return 0.0
    inter = (x2 - x1) * (y2 - y1)
    return inter / (area_a + area_b - inter)


def ref_official(gt_v: dict, pred_v: dict | None, *, canonical: bool = True):
    """``(tIoU, vIoU, gt_v_iou)`` of one video by ``hcvg_eval``'s arithmetic.

    ``canonical``: match ``str(int(key))`` of the predicted keys (stvg's reading); ``False``
    matches the raw strings, as ``eval_hcvg.py`` does.
    """
    if pred_v is None:
        return 0.0, 0.0, 0.0
    boxes = pred_v["bbox"]
    if canonical:
        boxes = {str(int(k)): v for k, v in boxes.items()}
    ious = [ref_iou2d(boxes[k], gt_v["bbox"][k]) for k in gt_v["bbox"] if k in boxes]
    all_frame = max(gt_v["ed_frame"], pred_v["ed_frame"]) - min(
        gt_v["st_frame"], pred_v["st_frame"]
    )
    all_frame += 1
    return len(ious) / all_frame, sum(ious) / all_frame, sum(ious) / max(len(gt_v["bbox"]), 1)


def ref_span(gt_v: dict, pred_v: dict | None):
    """``(tIoU, vIoU)`` of one video by the span formula (frame by frame)."""
    if pred_v is None:
        return 0.0, 0.0
    gs, ge, ps, pe = gt_v["st_frame"], gt_v["ed_frame"], pred_v["st_frame"], pred_v["ed_frame"]
    boxes = {int(k): v for k, v in pred_v["bbox"].items()}
    frames = range(min(ps, gs), max(pe, ge) + 1)
    both, total = 0, 0.0
    for f in frames:
        if ps <= f <= pe and gs <= f <= ge:
            both += 1
            if str(f) in gt_v["bbox"] and f in boxes:
                total += ref_iou2d(boxes[f], gt_v["bbox"][str(f)])
    return both / len(frames), total / len(frames)


def ref_dataset(values):
    t = np.array([v[0] for v in values])
    v = np.array([v[1] for v in values])
    return {
        "m_tIoU": t.mean(),
        "m_vIoU": v.mean(),
        "vIoU@0.3": np.mean(v > 0.3),
        "vIoU@0.5": np.mean(v > 0.5),
        "n": len(values),
    }


def random_xywh(rng) -> list[float]:
    """A box that reaches outside the WIDTHxHEIGHT frame about one time in three."""
    w, h = rng.uniform(0, 30), rng.uniform(0, 30)
    x, y = rng.uniform(-15, WIDTH - 5), rng.uniform(-15, HEIGHT - 5)
    return [round(x, 2), round(y, 2), round(w, 2), round(h, 2)]


def random_box(rng, gt_box=None) -> list[float]:
    """A predicted xyxy box: near the GT box mostly, sometimes degenerate."""
    if gt_box is not None and rng.random() < 0.8:
        return [round(c + rng.uniform(-1, 1), 2) for c in gt_box]
    x, y, w, h = random_xywh(rng)
    if rng.random() < 0.05:
        w = 0.0  # degenerate box
    return [x, y, x + w, y + h]


def random_prediction(rng, gt_v: dict, num_frames: int) -> dict | None:
    """``None`` (missing) or a predictions-file entry with string keys: sparse boxes in the
    span, boxes outside it (on GT frames and not), keys with leading zeros."""
    if rng.random() < 0.15:
        return None
    gs, ge = gt_v["st_frame"], gt_v["ed_frame"]
    ps = int(rng.integers(max(0, gs - 10), ge + 3))
    pe = int(rng.integers(ps, min(ge + 12, num_frames + 10)))  # up to 9 frames past the end
    keep = rng.choice([1.0, 0.7, 0.2])  # dense, gappy or sparse
    frames = {f for f in range(ps, pe + 1) if rng.random() < keep}
    if rng.random() < 0.4:  # boxes outside the predicted span, often on GT frames
        frames |= {int(f) for f in rng.integers(max(0, gs - 5), ge + 6, size=4)}
    zeros = rng.random() < 0.2  # write this sample's keys with leading zeros
    bbox = {}
    for f in sorted(frames):
        key = f"{f:05d}" if zeros else str(f)
        bbox[key] = random_box(rng, gt_v["bbox"].get(str(f)))
    return {"st_frame": ps, "ed_frame": pe, "bbox": bbox}


def check(samples, gt_by_id, pred_path, types=None):
    """Score the predictions file under official and span; compare with the references."""
    raw = json.loads(pred_path.read_text())
    predictions = load_predictions(pred_path).predictions
    official = evaluate(samples, predictions, protocol="official")
    span = evaluate(samples, predictions, protocol="span")
    assert [s.sample_id for s in official.scores] == list(gt_by_id)
    ref_o = {sid: ref_official(gt, raw.get(sid)) for sid, gt in gt_by_id.items()}
    ref_s = {sid: ref_span(gt, raw.get(sid)) for sid, gt in gt_by_id.items()}
    for score in official.scores:
        t_ref, v_ref, gt_ref = ref_o[score.sample_id]
        assert score.t_iou == pytest.approx(t_ref, abs=TOL), score.sample_id
        assert score.v_iou == pytest.approx(v_ref, abs=TOL), score.sample_id
        assert score.gt_v_iou == pytest.approx(gt_ref, abs=TOL), score.sample_id
    for score in span.scores:
        t_ref, v_ref = ref_s[score.sample_id]
        assert score.t_iou == pytest.approx(t_ref, abs=TOL), score.sample_id
        assert score.v_iou == pytest.approx(v_ref, abs=TOL), score.sample_id
    for report, ref in ((official, ref_o), (span, ref_s)):
        for key, value in ref_dataset(list(ref.values())).items():
            assert report.metrics[key] == pytest.approx(value, abs=TOL), key
        if types is not None:
            for name in set(types.values()):
                values = [ref[sid] for sid, t in types.items() if t == name]
                got = report.metrics["by_sentence_type"][name]
                for key, value in ref_dataset(values).items():
                    assert got[key] == pytest.approx(value, abs=TOL), (name, key)
    # the generated cases exercise what separates official from span ...
    differ = [sid for sid in gt_by_id if abs(ref_o[sid][0] - ref_s[sid][0]) > TOL]
    assert len(differ) > len(gt_by_id) // 5
    # ... and keys with leading zeros, which eval_hcvg.py itself would not match
    zero_keyed = [
        sid
        for sid, p in raw.items()
        if p["bbox"] and next(iter(p["bbox"])).startswith("0") and len(next(iter(p["bbox"]))) > 1
    ]
    assert zero_keyed
    assert any(
        ref_official(gt_by_id[sid], raw[sid], canonical=False) != ref_o[sid] for sid in zero_keyed
    )
    return official


def write_predictions_text(tmp_path, preds: dict) -> object:
    path = tmp_path / "preds.json"
    path.write_text(json.dumps({k: v for k, v in preds.items() if v is not None}))
    return path


def test_official_equals_reference_on_generated_hcstvg2(tmp_path):
    rng = np.random.default_rng(12)
    annotations, gt_by_id, preds = {}, {}, {}
    for i in range(80):
        num_frames = int(rng.integers(20, 120))
        length = int(rng.integers(1, min(30, num_frames) + 1))
        st_frame = int(rng.integers(1, num_frames - length + 2))  # 1-based
        bbox = [random_xywh(rng) for _ in range(length)]
        key = f"{i}/v{i}.mp4"
        annotations[key] = {
            "English": "the person walks",
            "bbox": bbox,
            "st_frame": st_frame,
            "img_num": num_frames,
            "img_size": [HEIGHT, WIDTH],
        }
        gs = st_frame - 1  # eval_hcvg.py's GT file, on 0-based frames
        gt_by_id[key] = {
            "st_frame": gs,
            "ed_frame": gs + length - 1,
            "bbox": {str(gs + k): [x, y, x + w, y + h] for k, (x, y, w, h) in enumerate(bbox)},
        }
        preds[key] = random_prediction(rng, gt_by_id[key], num_frames)
    path = tmp_path / "valv2.json"
    path.write_text(json.dumps(annotations), encoding="utf-8")
    samples = list(load_dataset("hcstvg2", annotations=path))
    report = check(samples, gt_by_id, write_predictions_text(tmp_path, preds))
    outside = sum(
        1
        for gt in gt_by_id.values()
        for x1, y1, x2, y2 in gt["bbox"].values()
        if x1 < 0 or y1 < 0 or x2 > WIDTH or y2 > HEIGHT
    )
    assert outside > 10  # the case is exercised ...
    assert report.n_gt_boxes_outside_frame == outside  # ... and counted
    assert 2 < len(report.missing) < 30
    assert 0 < report.metrics["vIoU@0.5"] < report.metrics["vIoU@0.3"] < 1
    assert report.n_boxes_outside_span > 20


def test_official_equals_reference_on_generated_vidstg(tmp_path):
    rng = np.random.default_rng(34)
    entries, gt_by_id, preds, types = [], {}, {}, {}
    vidor = tmp_path / "vidor" / "0000"
    vidor.mkdir(parents=True)
    for n in range(30):
        vid = f"{1000 + n}"
        num_frames = int(rng.integers(20, 100))
        begin = int(rng.integers(0, num_frames - 1))
        end_exclusive = int(rng.integers(begin + 1, num_frames + 1))
        # VidOR trajectories: targets 0 and 1, each absent on some frames
        trajectories, boxes = [], {0: {}, 1: {}}
        for f in range(num_frames):
            objects = []
            for tid in (0, 1):
                if rng.random() < 0.8:
                    x, y, w, h = random_xywh(rng)
                    bbox = {"xmin": x, "ymin": y, "xmax": x + w, "ymax": y + h}
                    objects.append({"tid": tid, "bbox": bbox})
                    boxes[tid][f] = [x, y, x + w, y + h]
            trajectories.append(objects)
        (vidor / f"{vid}.json").write_text(json.dumps({"trajectories": trajectories}))
        entries.append(
            {
                "vid": vid,
                "fps": 5.0,
                "frame_count": num_frames,
                "width": WIDTH,
                "height": HEIGHT,
                "temporal_gt": {"begin_fid": begin, "end_fid": end_exclusive},
                "used_segment": {"begin_fid": 0, "end_fid": num_frames - 1},
                "captions": [{"description": "a dog runs", "type": "animal", "target_id": 0}],
                "questions": [{"description": "who runs?", "type": "animal", "target_id": 1}],
            }
        )
        gs, ge = begin, end_exclusive - 1  # end_fid is exclusive
        for sid, tid, kind in (
            (f"{vid}/{n}/d0", 0, "declarative"),
            (f"{vid}/{n}/q0", 1, "interrogative"),
        ):
            gt_box = {str(f): b for f, b in boxes[tid].items() if gs <= f <= ge}
            gt_by_id[sid] = {"st_frame": gs, "ed_frame": ge, "bbox": gt_box}
            preds[sid] = random_prediction(rng, gt_by_id[sid], num_frames)
            types[sid] = kind
    path = tmp_path / "test.json"
    path.write_text(json.dumps(entries), encoding="utf-8")
    samples = list(load_dataset("vidstg", annotations=path, vidor_root=tmp_path / "vidor"))
    report = check(samples, gt_by_id, write_predictions_text(tmp_path, preds), types)
    assert report.n_gt_boxes_outside_frame > 10
