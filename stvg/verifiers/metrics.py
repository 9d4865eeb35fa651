"""Exact STVG metrics: temporal IoU, video IoU and their dataset summaries.

Protocol ``"native"`` (default) is the official HC-STVG evaluator's, on native frames (see
``DESIGN.md``). For a ground-truth span ``[gs, ge]`` and a predicted span ``[ps, pe]``
(0-based inclusive native frames) with predicted boxes:

* ``U = max(pe, ge) - min(ps, gs) + 1`` frames; ``I`` = frames in both spans;
* ``tIoU = |I| / U`` (0 when the spans are disjoint);
* ``vIoU = (1 / U) * sum(IoU(pred_f, gt_f) for f in I if f has a GT box)``; a frame of
  ``I`` without a predicted box contributes 0, and predicted boxes outside ``[ps, pe]``
  are ignored;
* a sample without a prediction scores 0 on both.

Protocol ``"tubedetr"`` reproduces the evaluators of TubeDETR (Yang et al., CVPR 2022,
``datasets/hcstvg_eval.py`` and ``vidstg_eval.py``), which most later STVG papers report:

* frames are subsampled to a 5 fps grid built by TubeDETR's own rule, *not* by
  :func:`stvg.data.timing.sample_frame_indices`: starting at the first frame of the range,
  frame ``f`` is kept when ``floor(f * 5 / native_fps)`` grows. The range is
  ``[0, num_frames - 1)`` (TubeDETR's HC-STVG loop stops before the last frame) or, for
  VidSTG, VidSTG's ``used_segment`` ``[begin_fid, end_fid)`` when ``sample.meta`` carries
  it. A grid longer than 200 frames is cut down to 200 (``ids[j * len // 200]``), which
  only happens in long VidSTG videos. Videos below 5 fps keep every frame (TubeDETR would
  refuse them). For 25 and 30 fps videos the grid equals ``sample_frame_indices(.., 5.0)``
  (every 5th/6th frame); for rates like 29.97 the two rules differ by a frame here and there
  (TubeDETR rounds up, ``timing`` rounds half up);
* ``tIoU`` is unchanged: TubeDETR computes it from the span end points with exclusive
  ends, which equals ``|I| / U`` over inclusive native frames;
* ``vIoU`` counts only grid frames: the sum runs over grid frames of ``I`` and ``U`` is the
  number of grid frames in ``[min(ps, gs), max(pe, ge)]`` (at least 1). Because sparse grid
  frames rarely sit on the span edges, tubedetr vIoU is not exactly native vIoU; the two
  agree to within a grid step of the span ends.

Scoring is vectorised: :class:`GroundTruthTable` packs the ground truth of many samples
into flat arrays once (reuse it when the same samples are scored repeatedly, as in RL
training); :meth:`GroundTruthTable.score` then scores all predictions with a handful of
numpy operations over the concatenated frames, with no Python loop over frames.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from stvg.data.types import Sample, Tube
from stvg.verifiers.iou import box_iou

Protocol = Literal["native", "tubedetr"]
PROTOCOLS: tuple[str, ...] = ("native", "tubedetr")

TUBEDETR_FPS = 5.0  # frames per second of TubeDETR's evaluation grid
TUBEDETR_MAX_LEN = 200  # frames; TubeDETR's video_max_len
UNKNOWN_SENTENCE_TYPE = "unknown"  # breakdown key for samples without meta["sentence_type"]


def _check_protocol(protocol: str) -> None:
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown metric protocol {protocol!r}; choose one of {list(PROTOCOLS)}")


def _check_span(span: Any, what: str) -> tuple[int, int]:
    try:
        first, last = (int(span[0]), int(span[1]))
    except (TypeError, ValueError, IndexError) as exc:
        raise ValueError(
            f"{what} must be a (first, last) pair of frame indices, got {span!r}"
        ) from exc
    if len(span) != 2 or first != span[0] or last != span[1]:
        raise ValueError(
            f"{what} must be a (first, last) pair of integer frame indices, got {span!r}"
        )
    if first < 0 or first > last:
        raise ValueError(
            f"{what} must satisfy 0 <= first <= last (0-based inclusive native frames), got {span!r}"
        )
    return first, last


def temporal_iou(pred_span: tuple[int, int], gt_span: tuple[int, int]) -> float:
    """Temporal IoU of two inclusive native-frame spans.

    Args:
        pred_span: ``(first, last)`` predicted frames, 0-based inclusive.
        gt_span: ``(first, last)`` ground-truth frames, 0-based inclusive.

    Returns:
        ``|I| / U`` in ``[0, 1]``: frames in both spans over frames from the earliest start
        to the latest end; 0 when the spans are disjoint.

    >>> temporal_iou((0, 9), (5, 14))
    0.3333333333333333
    """
    ps, pe = _check_span(pred_span, "pred_span")
    gs, ge = _check_span(gt_span, "gt_span")
    inter = max(0, min(pe, ge) - max(ps, gs) + 1)
    return inter / (max(pe, ge) - min(ps, gs) + 1)


@dataclass(frozen=True)
class SampleScore:
    """Metrics of one sample.

    Attributes:
        sample_id: the sample's id.
        t_iou: temporal IoU in ``[0, 1]`` (0 without a prediction).
        v_iou: video IoU in ``[0, 1]``, never above ``t_iou`` (0 without a prediction).
        pred_span: predicted ``(first, last)`` native frames, ``None`` without a prediction.
        gt_span: ground-truth ``(first, last)`` native frames.
        n_frames_scored: frames in the vIoU denominator: ``U`` for ``"native"``, the grid
            frames in the union for ``"tubedetr"``; 0 without a prediction.
        meta: the sample's ``meta`` (``sentence_type`` drives the VidSTG breakdown).
    """

    sample_id: str
    t_iou: float
    v_iou: float
    pred_span: tuple[int, int] | None
    gt_span: tuple[int, int]
    n_frames_scored: int
    meta: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-friendly dict (without ``meta``)."""
        return {
            "sample_id": self.sample_id,
            "t_iou": self.t_iou,
            "v_iou": self.v_iou,
            "pred_span": None if self.pred_span is None else list(self.pred_span),
            "gt_span": list(self.gt_span),
            "n_frames_scored": self.n_frames_scored,
        }


@functools.lru_cache(maxsize=4096)
def _cached_grid(native_fps: float, start: int, end: int, fps: float, max_len: int) -> np.ndarray:
    rate = min(fps / native_fps, 1.0)
    frames = np.arange(start, max(end, start + 1), dtype=np.int64)
    steps = np.floor(frames * rate)
    keep = np.concatenate(([True], steps[1:] > steps[:-1]))
    grid = frames[keep]
    if grid.size > max_len:
        grid = grid[(np.arange(max_len) * grid.size) // max_len]
    grid.setflags(write=False)
    return grid


def tubedetr_frame_grid(
    native_fps: float,
    num_frames: int,
    *,
    segment: tuple[int, int] | None = None,
    fps: float = TUBEDETR_FPS,
    max_len: int = TUBEDETR_MAX_LEN,
) -> np.ndarray:
    """Native frames that TubeDETR's evaluators score (see the module docstring).

    Args:
        native_fps: frames per second of the video.
        num_frames: native frames in the video.
        segment: ``[begin, end)`` native frames to sample (VidSTG's ``used_segment``);
            ``None`` = TubeDETR's HC-STVG range ``[0, num_frames - 1)``.
        fps: grid rate in frames per second.
        max_len: most frames kept (evenly cut down as TubeDETR does).

    Returns:
        Read-only int64 array of strictly increasing native frame indices.

    >>> tubedetr_frame_grid(30.0, 40).tolist()
    [0, 6, 12, 18, 24, 30, 36]
    """
    if not (native_fps > 0 and math.isfinite(native_fps)):
        raise ValueError(f"native_fps must be a positive number, got {native_fps}")
    if num_frames <= 0:
        raise ValueError(f"num_frames must be positive, got {num_frames}")
    start, end = (0, num_frames - 1) if segment is None else (int(segment[0]), int(segment[1]))
    return _cached_grid(float(native_fps), start, end, float(fps), int(max_len))


def _used_segment(sample: Sample) -> tuple[int, int] | None:
    seg = sample.meta.get("used_segment")
    if seg is None:
        return None
    if isinstance(seg, Mapping):
        return int(seg["begin_fid"]), int(seg["end_fid"])
    return int(seg[0]), int(seg[1])


def _flat_boxes(samples: Sequence[Sample]) -> tuple[np.ndarray, np.ndarray]:
    """All GT frame keys and boxes of ``samples``, concatenated in sample order."""
    total = sum(len(s.gt_boxes) for s in samples)
    try:
        keys = np.fromiter(
            itertools.chain.from_iterable(s.gt_boxes.keys() for s in samples),
            dtype=np.int64,
            count=total,
        )
        boxes = np.array(
            list(itertools.chain.from_iterable(s.gt_boxes.values() for s in samples)),
            dtype=np.float64,
        ).reshape(total, 4)
    except (TypeError, ValueError) as exc:
        for s in samples:  # find and name the culprit
            for frame, box in s.gt_boxes.items():
                if not isinstance(frame, (int, np.integer)) or np.shape(box) != (4,):
                    raise ValueError(
                        f"sample {s.sample_id!r}: gt_boxes needs int frame keys and "
                        f"[x1, y1, x2, y2] boxes, got {frame!r}: {box!r}"
                    ) from exc
        raise
    return keys, boxes


class GroundTruthTable:
    """Ground truth of many samples packed into flat arrays, ready for vectorised scoring.

    Build it once per sample list and protocol, then call :meth:`score` for each set of
    predictions. GT boxes on frames outside a sample's ``gt_span`` are never used by the
    protocol and are dropped.

    Attributes:
        samples: the samples, in order.
        protocol: ``"native"`` or ``"tubedetr"``.
    """

    def __init__(self, samples: Sequence[Sample], protocol: Protocol = "native") -> None:
        """Pack ``samples`` (a sequence of :class:`Sample`) for ``protocol``."""
        _check_protocol(protocol)
        self.samples: tuple[Sample, ...] = tuple(samples)
        self.protocol: Protocol = protocol
        n = len(self.samples)
        spans = [_check_span(s.gt_span, f"sample {s.sample_id!r}: gt_span") for s in self.samples]
        self.gt_start = np.fromiter((sp[0] for sp in spans), dtype=np.int64, count=n)
        self.gt_end = np.fromiter((sp[1] for sp in spans), dtype=np.int64, count=n)
        lengths = self.gt_end - self.gt_start + 1
        self.gt_offset = np.concatenate(([0], np.cumsum(lengths)[:-1])).astype(np.int64)
        total = int(lengths.sum()) if n else 0
        # Dense GT over each gt_span: row gt_offset[i] + (f - gt_start[i]) holds frame f.
        self.gt_dense = np.zeros((total, 4), dtype=np.float64)
        self.gt_valid = np.zeros(total, dtype=bool)
        keys, boxes = _flat_boxes(self.samples)
        counts = np.fromiter((len(s.gt_boxes) for s in self.samples), dtype=np.int64, count=n)
        sid = np.repeat(np.arange(n), counts)
        inside = (keys >= self.gt_start[sid]) & (keys <= self.gt_end[sid])
        rows = self.gt_offset[sid[inside]] + keys[inside] - self.gt_start[sid[inside]]
        self.gt_dense[rows] = boxes[inside]
        self.gt_valid[rows] = True
        if protocol == "tubedetr":
            grids = [
                tubedetr_frame_grid(s.native_fps, s.num_frames, segment=_used_segment(s))
                for s in self.samples
            ]
            self.grid_frames = np.concatenate(grids) if grids else np.zeros(0, np.int64)
            self.grid_sid = np.repeat(np.arange(n), [g.size for g in grids])

    def __len__(self) -> int:
        return len(self.samples)

    def score(
        self,
        pred_spans: Sequence[tuple[int, int] | None],
        pred_tubes: Sequence[Tube | None],
    ) -> list[SampleScore]:
        """Score one prediction per sample (aligned with :attr:`samples`).

        Args:
            pred_spans: per sample, the predicted inclusive ``(first, last)`` native frames,
                or ``None`` for no prediction (scores 0, 0).
            pred_tubes: per sample, the predicted boxes; ``None`` counts as a tube with no
                boxes (tIoU is still scored, vIoU is 0).

        Returns:
            One :class:`SampleScore` per sample, in order.
        """
        n = len(self.samples)
        if len(pred_spans) != n or len(pred_tubes) != n:
            raise ValueError(
                f"need one prediction per sample: {n} samples, {len(pred_spans)} spans, "
                f"{len(pred_tubes)} tubes"
            )
        has = np.fromiter((sp is not None for sp in pred_spans), dtype=bool, count=n)
        ps = np.zeros(n, dtype=np.int64)
        pe = np.full(n, -1, dtype=np.int64)  # an empty span: no overlap with anything
        idx = np.flatnonzero(has)
        checked = [
            _check_span(pred_spans[i], f"sample {self.samples[i].sample_id!r}: pred_span")
            for i in idx
        ]
        ps[idx] = [c[0] for c in checked]
        pe[idx] = [c[1] for c in checked]
        gs, ge = self.gt_start, self.gt_end
        inter_first, inter_last = np.maximum(ps, gs), np.minimum(pe, ge)
        n_inter = np.maximum(inter_last - inter_first + 1, 0)
        union_first, union_last = np.minimum(ps, gs), np.maximum(pe, ge)
        n_union = union_last - union_first + 1
        t_iou = np.where(has, n_inter / np.maximum(n_union, 1), 0.0)

        # Predicted boxes on the intersection frames, densely: row inter_offset[i] + f - first.
        inter_offset = np.concatenate(([0], np.cumsum(n_inter)[:-1])).astype(np.int64)
        total_inter = int(n_inter.sum())
        pred_dense = np.zeros((total_inter, 4), dtype=np.float64)
        pred_valid = np.zeros(total_inter, dtype=bool)
        tube_idx = [i for i in idx if pred_tubes[i] is not None and len(pred_tubes[i]) > 0]
        if tube_idx and total_inter:
            frames = np.concatenate([pred_tubes[i].frame_idx for i in tube_idx])
            boxes = np.concatenate([pred_tubes[i].boxes_xyxy for i in tube_idx])
            sid = np.repeat(tube_idx, [len(pred_tubes[i]) for i in tube_idx])
            keep = (frames >= inter_first[sid]) & (frames <= inter_last[sid])
            rows = inter_offset[sid[keep]] + frames[keep] - inter_first[sid[keep]]
            pred_dense[rows] = boxes[keep]
            pred_valid[rows] = True

        # Frames that count: every intersection frame (native) or its grid frames (tubedetr).
        if self.protocol == "native":
            c_sid = np.repeat(np.arange(n), n_inter)
            c_rows = np.arange(total_inter, dtype=np.int64)
            c_frames = inter_first[c_sid] + (c_rows - inter_offset[c_sid])
            denominator = n_union
        else:
            g, g_sid = self.grid_frames, self.grid_sid
            in_inter = (g >= inter_first[g_sid]) & (g <= inter_last[g_sid])
            c_sid, c_frames = g_sid[in_inter], g[in_inter]
            c_rows = inter_offset[c_sid] + c_frames - inter_first[c_sid]
            in_union = (g >= union_first[g_sid]) & (g <= union_last[g_sid])
            denominator = np.bincount(g_sid[in_union], minlength=n)
        gt_rows = self.gt_offset[c_sid] + c_frames - gs[c_sid]
        ok = pred_valid[c_rows] & self.gt_valid[gt_rows]
        ious = box_iou(pred_dense[c_rows[ok]], self.gt_dense[gt_rows[ok]])
        iou_sum = np.bincount(c_sid[ok], weights=ious, minlength=n)
        v_iou = np.where(has, iou_sum / np.maximum(denominator, 1), 0.0)
        n_scored = np.where(has, denominator, 0)

        t_list, v_list, n_list = t_iou.tolist(), v_iou.tolist(), n_scored.tolist()
        ps_list, pe_list = ps.tolist(), pe.tolist()
        has_list = has.tolist()
        return [
            SampleScore(
                sample_id=s.sample_id,
                t_iou=t_list[i],
                v_iou=v_list[i],
                pred_span=(ps_list[i], pe_list[i]) if has_list[i] else None,
                gt_span=(int(gs[i]), int(ge[i])),
                n_frames_scored=n_list[i],
                meta=s.meta,
            )
            for i, s in enumerate(self.samples)
        ]


def score_sample(
    sample: Sample,
    pred_span: tuple[int, int] | None,
    pred_tube: Tube | None,
    *,
    protocol: Protocol = "native",
) -> SampleScore:
    """Score one prediction against one sample (see the module docstring for the protocol).

    Args:
        sample: the ground truth.
        pred_span: predicted inclusive ``(first, last)`` native frames; ``None`` = no
            prediction, which scores 0 on both metrics.
        pred_tube: predicted boxes (original-video pixels); frames outside ``pred_span``
            are ignored; ``None`` = no boxes (tIoU is scored, vIoU is 0).
        protocol: ``"native"`` (official HC-STVG) or ``"tubedetr"`` (5 fps grid).

    Returns:
        The sample's :class:`SampleScore`.
    """
    return GroundTruthTable([sample], protocol).score([pred_span], [pred_tube])[0]


def score_samples(
    samples: Sequence[Sample],
    pred_spans: Sequence[tuple[int, int] | None],
    pred_tubes: Sequence[Tube | None],
    *,
    protocol: Protocol = "native",
) -> list[SampleScore]:
    """Score aligned predictions for many samples at once (vectorised over all frames).

    Same arguments as :func:`score_sample`, one entry per sample; returns the scores in
    sample order. To score the same samples repeatedly, build a :class:`GroundTruthTable`
    once and call its :meth:`~GroundTruthTable.score`.
    """
    return GroundTruthTable(samples, protocol).score(pred_spans, pred_tubes)


def _summary(t_iou: np.ndarray, v_iou: np.ndarray, thresholds: Sequence[float]) -> dict[str, Any]:
    out: dict[str, Any] = {"m_tIoU": float(t_iou.mean()), "m_vIoU": float(v_iou.mean())}
    for thr in thresholds:
        out[f"vIoU@{thr:g}"] = float(np.mean(v_iou > thr))  # strictly greater
    out["n"] = int(t_iou.size)
    return out


def dataset_metrics(
    scores: Sequence[SampleScore], *, thresholds: Sequence[float] = (0.3, 0.5)
) -> dict[str, Any]:
    """Dataset summary of per-sample scores.

    Args:
        scores: one :class:`SampleScore` per sample of the dataset (missing predictions
            included, as zeros).
        thresholds: vIoU thresholds; ``vIoU@t`` is the share of samples with vIoU
            **strictly** greater than ``t``.

    Returns:
        ``{"m_tIoU", "m_vIoU", "vIoU@0.3", "vIoU@0.5", "n"}`` (fractions in ``[0, 1]``, one
        ``vIoU@t`` key per threshold, formatted with ``:g``), plus ``"by_sentence_type"``:
        ``{type: same keys}`` when any sample has ``meta["sentence_type"]`` (samples
        without one are grouped under ``"unknown"``).
    """
    if len(scores) == 0:
        raise ValueError("dataset_metrics needs at least one SampleScore, got none")
    n = len(scores)
    t_iou = np.fromiter((s.t_iou for s in scores), dtype=np.float64, count=n)
    v_iou = np.fromiter((s.v_iou for s in scores), dtype=np.float64, count=n)
    out = _summary(t_iou, v_iou, thresholds)
    types = [s.meta.get("sentence_type") for s in scores]
    if any(t is not None for t in types):
        labels = np.array([UNKNOWN_SENTENCE_TYPE if t is None else str(t) for t in types])
        out["by_sentence_type"] = {
            label: _summary(t_iou[labels == label], v_iou[labels == label], thresholds)
            for label in sorted(set(labels.tolist()))
        }
    return out


__all__ = [
    "PROTOCOLS",
    "TUBEDETR_FPS",
    "TUBEDETR_MAX_LEN",
    "GroundTruthTable",
    "Protocol",
    "SampleScore",
    "dataset_metrics",
    "score_sample",
    "score_samples",
    "temporal_iou",
    "tubedetr_frame_grid",
]
