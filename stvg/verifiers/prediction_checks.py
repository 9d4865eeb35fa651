"""Checks of predictions against their videos, and filling of gaps inside predicted spans.

Two cases that a metric alone hides:

* **gaps**: frames of a predicted span without a box score 0 IoU; a file with boxes only on
  every 10th frame (forgot to densify) scores about a tenth of its vIoU without any error.
  :func:`check_predictions` counts them per sample and in total (frames of the video only:
  a frame past its end is counted as such, below); :func:`fill_gaps` densifies on the fly
  with a :mod:`stvg.tubes` method (``linear``, ``hold``, or ``track``, which reads each
  sample's video file and tracks between the given boxes, falling back to linear
  interpolation where it loses the target: counted), on the frames of the video only,
  so the work is bounded by the video's length whatever ``ed_frame`` says.
* **spans past the video end**: ``ed_frame >= num_frames`` (the video has frames
  ``0 .. num_frames - 1``); counted and listed (the metric scores them as given).
* **swapped corners**: a box with ``x2 < x1`` or ``y2 < y1`` has no area and scores 0 IoU
  (the official evaluator's arithmetic); counted per sample and listed, not repaired.

:class:`PredictionChecks` holds the counts and goes into the evaluation report
(``to_dict`` for the metrics JSON, ``summary_line`` for the table).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from stvg.data.errors import DataError
from stvg.data.types import Sample, Tube
from stvg.tubes.densify import DENSIFY_METHODS, resolve_params
from stvg.tubes.frames import FrameProvider, VideoFileFrames
from stvg.tubes.track import track_boxes
from stvg.verifiers.predictions import Prediction

FillMethod = Literal["none", "linear", "hold", "track"]
FILL_METHODS: tuple[str, ...] = ("none", "linear", "hold", "track")
#: ``sample -> its video's frames``: where ``--fill track`` reads the frames.
FramesOf = Callable[[Sample], FrameProvider]


@dataclass(frozen=True)
class PredictionChecks:
    """What :func:`check_predictions` found (counts over the predictions of known samples).

    Attributes:
        frames_without_box: ``{sample_id: n}`` for samples whose span has ``n > 0`` frames
            of the video without a box, dataset order (after filling, when ``fill`` is not
            ``none``); frames past the video's end are in ``span_past_end`` instead.
        frames_filled: ``{sample_id: n}`` frames given a box by ``fill``, dataset order.
        span_past_end: ``{sample_id: ed_frame - (num_frames - 1)}``, the frames past the
            last frame of the video, for spans that end after it.
        boxes_swapped_corners: ``{sample_id: n}`` boxes inside the span with ``x2 < x1``
            or ``y2 < y1`` (scored as given: 0 IoU), dataset order.
        n_boxes_outside_span: boxes given outside their span (kept; only the ``official``
            protocol scores them, and ``fill`` does not fill from them).
        invalid: ``{sample_id: reason}`` of entries left out (``--on-invalid zero``).
        fill: the fill method used (``none``, ``linear``, ``hold``, ``track``).
        frames_fallback: ``fill: track``: ``{sample_id: n}`` frames filled by linear
            interpolation because the tracker lost the target (or the video had no frame
            there), dataset order.
        fill_seconds: ``fill: track``: seconds spent reading the videos and tracking.
    """

    frames_without_box: dict[str, int] = field(default_factory=dict)
    frames_filled: dict[str, int] = field(default_factory=dict)
    span_past_end: dict[str, int] = field(default_factory=dict)
    boxes_swapped_corners: dict[str, int] = field(default_factory=dict)
    n_boxes_outside_span: int = 0
    invalid: dict[str, str] = field(default_factory=dict)
    fill: str = "none"
    frames_fallback: dict[str, int] = field(default_factory=dict)
    fill_seconds: float = 0.0

    @property
    def n_frames_without_box(self) -> int:
        """Frames without a box inside predicted spans, all samples."""
        return sum(self.frames_without_box.values())

    @property
    def n_frames_filled(self) -> int:
        """Frames given a box by ``fill``, all samples."""
        return sum(self.frames_filled.values())

    @property
    def n_frames_fallback(self) -> int:
        """Frames ``fill: track`` filled by linear interpolation, all samples."""
        return sum(self.frames_fallback.values())

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly counts (totals first, then the per-sample dicts; with ``fill:
        track`` also ``n_frames_fallback``, ``fill_seconds`` and ``frames_fallback``)."""
        out = {
            "fill": self.fill,
            "n_frames_without_box": self.n_frames_without_box,
            "n_samples_with_gaps": len(self.frames_without_box),
            "n_frames_filled": self.n_frames_filled,
            "n_span_past_end": len(self.span_past_end),
            "n_boxes_swapped_corners": sum(self.boxes_swapped_corners.values()),
            "n_boxes_outside_span": self.n_boxes_outside_span,
            "n_invalid": len(self.invalid),
            "frames_without_box": dict(self.frames_without_box),
            "frames_filled": dict(self.frames_filled),
            "span_past_end": dict(self.span_past_end),
            "boxes_swapped_corners": dict(self.boxes_swapped_corners),
            "invalid": dict(self.invalid),
        }
        if self.fill == "track":
            out["n_frames_fallback"] = self.n_frames_fallback
            out["fill_seconds"] = self.fill_seconds
            out["frames_fallback"] = dict(self.frames_fallback)
        return out

    def summary_line(self) -> str:
        """One line for under the metrics table."""
        tracked = ""
        if self.fill == "track":
            tracked = (
                f" (tracker fell back to linear on {self.n_frames_fallback}, "
                f"{self.fill_seconds:.2f}s)"
            )
        return (
            f"frames_without_box={self.n_frames_without_box} "
            f"(in {len(self.frames_without_box)} samples)  fill={self.fill} "
            f"filled={self.n_frames_filled}{tracked}  span_past_end={len(self.span_past_end)}  "
            f"swapped_corners={sum(self.boxes_swapped_corners.values())}  "
            f"invalid={len(self.invalid)}"
        )

    def warnings(self) -> list[str]:
        """One warning line per non-zero count, saying how to fix it."""
        out = []
        if self.frames_without_box:
            shown = ", ".join(list(self.frames_without_box)[:3])
            out.append(
                f"warning: {self.n_frames_without_box} frames inside predicted spans have no box "
                f"(in {len(self.frames_without_box)} samples, e.g. {shown}); they score 0 IoU. "
                "If the boxes are sparse on purpose, densify them or pass --fill "
                "linear|hold|track"
            )
        if self.frames_fallback:
            shown = ", ".join(list(self.frames_fallback)[:3])
            out.append(
                f"note: --fill track fell back to linear interpolation on "
                f"{self.n_frames_fallback} frames (in {len(self.frames_fallback)} samples, "
                f"e.g. {shown}) where the tracker lost the target; per sample in the metrics "
                "JSON (--out)"
            )
        if self.span_past_end:
            shown = ", ".join(list(self.span_past_end)[:3])
            out.append(
                f"warning: {len(self.span_past_end)} predicted spans end after the last frame "
                f"of their video (e.g. {shown}); check the frame indices (0-based, inclusive)"
            )
        if self.boxes_swapped_corners:
            shown = ", ".join(list(self.boxes_swapped_corners)[:3])
            out.append(
                f"warning: {sum(self.boxes_swapped_corners.values())} predicted boxes have "
                f"x2 < x1 or y2 < y1 (in {len(self.boxes_swapped_corners)} samples, e.g. "
                f"{shown}); they score 0 IoU. Write boxes as [x1, y1, x2, y2] (corners, not "
                "[x, y, w, h])"
            )
        if self.invalid:
            shown = ", ".join(list(self.invalid)[:3])
            out.append(
                f"warning: {len(self.invalid)} invalid predictions scored 0 (e.g. {shown}); "
                "their reasons are in the metrics JSON (--out)"
            )
        return out


def _swapped_in_span(pred: Prediction) -> int:
    """Boxes of ``pred`` inside its span with ``x2 < x1`` or ``y2 < y1``."""
    frames, boxes = pred.tube.frame_idx, pred.tube.boxes_xyxy
    in_span = (frames >= pred.span[0]) & (frames <= pred.span[1])
    swapped = (boxes[:, 2] < boxes[:, 0]) | (boxes[:, 3] < boxes[:, 1])
    return int(np.count_nonzero(in_span & swapped))


def _gaps_in_video(pred: Prediction, num_frames: int) -> int:
    """Frames of ``pred.span`` inside the video (``< num_frames``) without a box."""
    first, last = pred.span[0], min(pred.span[1], num_frames - 1)
    if last < first:
        return 0
    frames = pred.tube.frame_idx
    return (last - first + 1) - int(np.count_nonzero((frames >= first) & (frames <= last)))


def _filled_tube(
    pred: Prediction,
    method: str,
    native_fps: float,
    num_frames: int,
    video: FrameProvider | None = None,
) -> tuple[Tube, int]:
    """``pred.tube`` with a box on every frame of its span inside the video, filled from the
    boxes inside the span (given boxes kept as they are: those outside the span and those
    past the video's end too), and the frames ``track`` filled by linear interpolation
    (``video``: the frames it reads)."""
    first, last = pred.span
    frames, given_boxes = pred.tube.frame_idx, pred.tube.boxes_xyxy
    inside = (frames >= first) & (frames <= last)
    queries = np.arange(first, min(last, num_frames - 1) + 1, dtype=np.int64)
    queries = np.union1d(queries, frames[inside])
    fallback = 0
    if method == "track":
        if video is None:
            raise ValueError("fill track needs the video's frames")
        result = track_boxes(
            frames[inside].astype(np.float64),
            given_boxes[inside],
            queries.astype(np.float64),
            video,
            **resolve_params("track", {}),
        )
        boxes, fallback = result.boxes, result.fallback_frames
    else:
        boxes = DENSIFY_METHODS[method].function(
            frames[inside].astype(np.float64),
            given_boxes[inside],
            queries.astype(np.float64),
            float(native_fps),
        )
    boxes[np.searchsorted(queries, frames[inside])] = given_boxes[
        inside
    ]  # exact, whatever the method does
    outside = ~inside
    all_frames = np.concatenate((frames[outside], queries))
    order = np.argsort(all_frames, kind="stable")
    return Tube(all_frames[order], np.concatenate((given_boxes[outside], boxes))[order]), fallback


@dataclass
class _Filled:
    """What filling did: the predictions, frames filled and fallen back per sample, and
    the seconds spent reading videos and tracking (``track``)."""

    predictions: dict[str, Prediction]
    filled: dict[str, int] = field(default_factory=dict)
    fallback: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def _needs_filling(pred: Prediction, sample: Sample | None) -> int:
    """Frames of ``pred``'s span inside ``sample``'s video to fill (0: leave it as is)."""
    if sample is None:
        return 0
    frames = pred.tube.frame_idx
    if not np.any((frames >= pred.span[0]) & (frames <= pred.span[1])):
        return 0
    return _gaps_in_video(pred, sample.num_frames)


def _check_videos(todo: Sequence[Sample]) -> None:
    """Raise, before anything is decoded, when a video ``--fill track`` reads is missing."""
    missing = [s for s in todo if not Path(s.video_path).is_file()]
    if missing:
        shown = ", ".join(f"{s.sample_id} ({s.video_path})" for s in missing[:3])
        raise DataError(
            f"--fill track reads the videos between the given boxes, and {len(missing)} of "
            f"the {len(todo)} videos to fill are not there, e.g. {shown}",
            hint="put the videos in the folder the annotations name (videos/ beside "
            "them, or pass --video-dir), or fill with --fill linear|hold",
        )


def _fill(
    samples: Sequence[Sample],
    predictions: Mapping[str, Prediction],
    method: FillMethod,
    frames_of: FramesOf | None = None,
) -> _Filled:
    """:func:`fill_gaps` with its ``track`` counts (``frames_of``: where ``track`` reads
    the frames; default :class:`~stvg.tubes.frames.VideoFileFrames`)."""
    if method not in FILL_METHODS:
        raise ValueError(f"fill must be one of {FILL_METHODS}, got {method!r}")
    if method == "none":
        return _Filled(dict(predictions))
    known = {s.sample_id: s for s in samples}
    if method == "track" and frames_of is None:
        todo = [known[i] for i, p in predictions.items() if _needs_filling(p, known.get(i))]
        _check_videos(todo)
        frames_of = VideoFileFrames
    done = _Filled({})
    started = time.perf_counter()
    for sample_id, pred in predictions.items():
        sample = known.get(sample_id)
        gaps = _needs_filling(pred, sample)
        if gaps == 0 or sample is None:
            done.predictions[sample_id] = pred
            continue
        video = None if frames_of is None else frames_of(sample)
        tube, fallback = _filled_tube(pred, method, sample.native_fps, sample.num_frames, video)
        done.predictions[sample_id] = Prediction(pred.span, tube)
        done.filled[sample_id] = gaps
        if fallback:
            done.fallback[sample_id] = fallback
    if method == "track":
        done.seconds = time.perf_counter() - started
    order = {s.sample_id: i for i, s in enumerate(samples)}
    done.filled = dict(sorted(done.filled.items(), key=lambda kv: order[kv[0]]))
    done.fallback = dict(sorted(done.fallback.items(), key=lambda kv: order[kv[0]]))
    return done


def fill_gaps(
    samples: Sequence[Sample],
    predictions: Mapping[str, Prediction],
    method: FillMethod,
    *,
    frames_of: FramesOf | None = None,
) -> tuple[dict[str, Prediction], dict[str, int]]:
    """Give a box to every frame of each predicted span that lies inside the video
    (``method`` ``linear`` or ``hold``, :mod:`stvg.tubes.smoothing`, or ``track``,
    :mod:`stvg.tubes.track` with its default parameters; the end boxes are held beyond
    the first and last box). Frames past the video's end get none: they have no ground
    truth, and filling them would cost memory in proportion to ``ed_frame``.

    A span without any box stays empty (nothing to fill from). Predictions of ids not in
    ``samples`` are kept unchanged.

    Args:
        samples: the dataset.
        predictions: ``{sample_id: Prediction}``.
        method: ``none``, ``linear``, ``hold`` or ``track``.
        frames_of: ``track`` only: ``sample -> its video's frames``; default: each
            sample's video file (:class:`~stvg.tubes.frames.VideoFileFrames`).

    Returns:
        The filled predictions (same keys and order) and ``{sample_id: frames filled}``.

    Raises:
        DataError: ``track`` (without ``frames_of``) and a video to fill is missing.
    """
    done = _fill(samples, predictions, method, frames_of)
    return done.predictions, done.filled


def check_predictions(
    samples: Sequence[Sample],
    predictions: Mapping[str, Prediction],
    *,
    fill: FillMethod = "none",
    invalid: Mapping[str, str] | None = None,
    frames_of: FramesOf | None = None,
) -> tuple[dict[str, Prediction], PredictionChecks]:
    """Fill gaps (``fill``) and count gaps, spans past the video end, boxes with swapped
    corners and dropped boxes.

    Args:
        samples: the dataset (``num_frames`` of each video).
        predictions: ``{sample_id: Prediction}``; ids not in ``samples`` are not counted.
        fill: ``none`` (default), ``linear``, ``hold`` or ``track``, see :func:`fill_gaps`.
        invalid: entries left out while reading (``LoadedPredictions.invalid``), passed on.
        frames_of: ``track`` only, see :func:`fill_gaps`.

    Returns:
        The predictions to score (filled when ``fill`` is not ``none``) and the
        :class:`PredictionChecks`.
    """
    done = _fill(samples, predictions, fill, frames_of)
    scored = done.predictions
    without: dict[str, int] = {}
    past_end: dict[str, int] = {}
    swapped: dict[str, int] = {}
    outside = 0
    for sample in samples:
        pred = scored.get(sample.sample_id)
        if pred is None:
            continue
        outside += pred.n_boxes_outside_span
        gaps = _gaps_in_video(pred, sample.num_frames)
        if gaps:
            without[sample.sample_id] = gaps
        n_swapped = _swapped_in_span(predictions[sample.sample_id])  # as given, not filled
        if n_swapped:
            swapped[sample.sample_id] = n_swapped
        beyond = pred.span[1] - (sample.num_frames - 1)
        if beyond > 0:
            past_end[sample.sample_id] = beyond
    checks = PredictionChecks(
        frames_without_box=without,
        frames_filled=done.filled,
        span_past_end=past_end,
        boxes_swapped_corners=swapped,
        n_boxes_outside_span=outside,
        invalid=dict(invalid or {}),
        fill=fill,
        frames_fallback=done.fallback,
        fill_seconds=done.seconds,
    )
    return scored, checks


__all__ = ["FILL_METHODS", "FillMethod", "PredictionChecks", "check_predictions", "fill_gaps"]
