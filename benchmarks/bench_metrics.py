"""Benchmark: vectorised STVG metrics against a per-frame pure-Python reference.

Scores ``--samples`` samples of ``--frames`` native frames each (random but seeded spans
and boxes; some GT boxes, predicted boxes and whole predictions missing) and computes all
dataset metrics (m_tIoU, m_vIoU, vIoU@0.3, vIoU@0.5) twice:

* **vectorised**: :class:`stvg.verifiers.metrics.GroundTruthTable` scoring plus
  :func:`~stvg.verifiers.metrics.dataset_metrics`. Packing the ground truth into the table
  is timed separately (it is done once per dataset and reused across evaluations) and
  also included in an end-to-end :func:`~stvg.verifiers.evaluation.evaluate` timing;
* **reference**: :func:`reference_metrics`, a straightforward loop over every frame of
  every sample, kept here as the executable statement of the protocol.

The script asserts that both agree to 1e-9 on every per-sample score and every dataset
metric, then prints the seconds and the speed-up. Run::

    .venv/bin/python benchmarks/bench_metrics.py [--samples 2000] [--frames 600]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from stvg.data.types import Sample, Tube
from stvg.verifiers.evaluation import evaluate
from stvg.verifiers.metrics import GroundTruthTable, dataset_metrics, tubedetr_frame_grid
from stvg.verifiers.predictions import Prediction

THRESHOLDS = (0.3, 0.5)
NATIVE_FPS = 30.0  # frames per second of the synthetic videos


def make_data(
    n_samples: int, n_frames: int, seed: int
) -> tuple[list[Sample], dict[str, Prediction]]:
    """Seeded random samples and predictions (about 5% of predictions missing)."""
    rng = np.random.default_rng(seed)
    samples: list[Sample] = []
    predictions: dict[str, Prediction] = {}
    for i in range(n_samples):
        sample_id = f"video{i:05d}.mp4"
        length = int(rng.integers(n_frames // 10, n_frames * 2 // 3))
        gs = int(rng.integers(0, n_frames - length))
        ge = gs + length - 1
        # a box drifting over a 640x360 frame
        xy = 100.0 + np.cumsum(rng.normal(0.0, 2.0, size=(length, 2)), axis=0)
        wh = rng.uniform(40.0, 120.0, size=2)
        gt = np.concatenate([xy, xy + wh], axis=1)
        gt_keep = rng.random(length) > 0.05  # some frames without a GT box
        gt_boxes = {gs + int(k): gt[k].tolist() for k in np.flatnonzero(gt_keep)}
        sentence_type = "declarative" if i % 2 == 0 else "interrogative"
        samples.append(
            Sample(
                sample_id=sample_id,
                video_path=sample_id,
                query="the target",
                native_fps=NATIVE_FPS,
                num_frames=n_frames,
                width=640,
                height=360,
                gt_span=(gs, ge),
                gt_boxes=gt_boxes,
                meta={"sentence_type": sentence_type},
            )
        )
        if rng.random() < 0.05:
            continue  # missing prediction
        ps = int(np.clip(gs + rng.integers(-60, 61), 0, n_frames - 1))
        pe = int(np.clip(ge + rng.integers(-60, 61), ps, n_frames - 1))
        frames = np.arange(ps, pe + 1)
        frames = frames[rng.random(frames.size) > 0.05]  # some frames without a box
        centre = np.clip(frames - gs, 0, length - 1)
        boxes = gt[centre] + rng.normal(0.0, 8.0, size=(frames.size, 4))
        predictions[sample_id] = Prediction((ps, pe), Tube(frames, boxes))
    return samples, predictions


def _iou(a: Sequence[float], b: Sequence[float]) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    area_a = max(0.0, a[2] - a[0]) * max(0.0, a[3] - a[1])
    area_b = max(0.0, b[2] - b[0]) * max(0.0, b[3] - b[1])
    union = area_a + area_b - inter
    return inter / union if union > 0.0 else 0.0


def reference_metrics(
    samples: Sequence[Sample],
    pred_dicts: Mapping[str, tuple[tuple[int, int], dict[int, list[float]]]],
    protocol: str = "official",
) -> tuple[list[tuple[float, float]], dict[str, Any]]:
    """The metric protocol as a plain per-frame loop (see ``stvg.verifiers.metrics``).

    Args:
        samples: the dataset.
        pred_dicts: ``{sample_id: ((first, last), {frame: [x1, y1, x2, y2]})}``.
        protocol: ``"official"`` (alias ``"native"``; ``eval_hcvg.py``: GT frames with a
            predicted box over the union), ``"span"`` (the span formula) or
            ``"tubedetr-grid"`` (TubeDETR's 5 fps grid on 0-based frames; ``"tubedetr"``
            also shifts HC-STVG frames, which this loop does not model).

    Returns:
        Per-sample ``(tIoU, vIoU)`` and the overall dataset metrics.
    """
    per_sample: list[tuple[float, float]] = []
    for sample in samples:
        entry = pred_dicts.get(sample.sample_id)
        if entry is None:
            per_sample.append((0.0, 0.0))
            continue
        (ps, pe), boxes = entry
        gs, ge = sample.gt_span
        if protocol in ("official", "native"):
            hits = [f for f in range(gs, ge + 1) if f in sample.gt_boxes and f in boxes]
            n_union = max(pe, ge) - min(ps, gs) + 1
            iou_sum = sum(_iou(boxes[f], sample.gt_boxes[f]) for f in hits)
            per_sample.append((len(hits) / n_union, iou_sum / n_union))
            continue
        grid = None
        if protocol == "tubedetr-grid":
            grid = set(tubedetr_frame_grid(sample.native_fps, sample.num_frames).tolist())
        n_union = n_inter = n_counted = 0
        iou_sum = 0.0
        for f in range(min(ps, gs), max(pe, ge) + 1):
            n_union += 1
            in_inter = ps <= f <= pe and gs <= f <= ge
            n_inter += in_inter
            if grid is not None and f not in grid:
                continue
            n_counted += 1
            if in_inter and f in sample.gt_boxes and f in boxes:
                iou_sum += _iou(boxes[f], sample.gt_boxes[f])
        per_sample.append((n_inter / n_union, iou_sum / max(n_counted, 1)))
    n = len(per_sample)
    metrics: dict[str, Any] = {
        "m_tIoU": sum(t for t, _ in per_sample) / n,
        "m_vIoU": sum(v for _, v in per_sample) / n,
    }
    for thr in THRESHOLDS:
        metrics[f"vIoU@{thr:g}"] = sum(1 for _, v in per_sample if v > thr) / n
    metrics["n"] = n
    return per_sample, metrics


def best_of(repeats: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    """Smallest wall time in seconds over ``repeats`` runs of ``fn``, and its last result."""
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print the timings; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--frames", type=int, default=600, help="native frames per video")
    parser.add_argument(
        "--protocol", choices=("official", "native", "span", "tubedetr-grid"), default="official"
    )
    parser.add_argument("--repeats", type=int, default=3, help="timings keep the best run")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    samples, predictions = make_data(args.samples, args.frames, args.seed)
    found = [predictions.get(s.sample_id) for s in samples]
    spans = [None if p is None else p.span for p in found]
    tubes = [None if p is None else p.tube for p in found]
    pred_dicts = {sid: (p.span, p.tube.to_dict()) for sid, p in predictions.items()}

    t_build, table = best_of(args.repeats, lambda: GroundTruthTable(samples, args.protocol))

    def vectorised() -> tuple[list, dict]:
        scores = table.score(spans, tubes)
        return scores, dataset_metrics(scores, thresholds=THRESHOLDS)

    t_vec, (scores, metrics) = best_of(args.repeats, vectorised)
    t_e2e, report = best_of(
        args.repeats, lambda: evaluate(samples, predictions, protocol=args.protocol)
    )
    t_ref, (ref_scores, ref_metrics) = best_of(
        args.repeats, lambda: reference_metrics(samples, pred_dicts, args.protocol)
    )

    got = np.array([(s.t_iou, s.v_iou) for s in scores])
    np.testing.assert_allclose(got, np.array(ref_scores), rtol=0, atol=1e-9)
    for key, value in ref_metrics.items():
        if abs(metrics[key] - value) > 1e-9 or abs(report.metrics[key] - value) > 1e-9:
            raise AssertionError(f"{key}: vectorised {metrics[key]} != reference {value}")

    n_frames_scored = sum(s.n_frames_scored for s in scores)
    print(
        f"{args.samples} samples x {args.frames} frames, protocol={args.protocol}, "
        f"{n_frames_scored} frames in vIoU denominators, best of {args.repeats}"
    )
    print(
        f"  m_tIoU={metrics['m_tIoU']:.6f}  m_vIoU={metrics['m_vIoU']:.6f}  "
        f"vIoU@0.3={metrics['vIoU@0.3']:.4f}  vIoU@0.5={metrics['vIoU@0.5']:.4f}"
    )
    print(f"  reference per-frame Python loop:          {t_ref:8.4f} s")
    print(f"  vectorised score + dataset_metrics:       {t_vec:8.4f} s  ({t_ref / t_vec:6.1f}x)")
    print(f"  GroundTruthTable build (once per dataset): {t_build:8.4f} s")
    print(f"  evaluate() end to end (build included):   {t_e2e:8.4f} s  ({t_ref / t_e2e:6.1f}x)")
    print("  per-sample scores and dataset metrics agree to 1e-9")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
