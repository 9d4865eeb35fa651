"""Exact STVG metrics: temporal IoU, video IoU and their dataset summaries, per protocol.

Every protocol reads the same :class:`~stvg.data.types.Sample` (0-based inclusive native
frames, annotated boxes) and a prediction (an inclusive span ``[ps, pe]`` and boxes on any
frames), applies the conventions of the code it follows itself, and scores per sample
``t_iou``, ``v_iou`` and ``gt_v_iou`` (the spatial score with the GT span given, which both
TubeDETR and CG-STVG report as ``gt_viou``). ``gs, ge`` is the annotated GT span.

``"official"`` (default; ``"native"``, its old name, is accepted with a deprecation warning) is the official HC-STVG
evaluator, ``eval_hcvg.py`` of tzhhhh123/HC-STVG at commit ``080b193`` (``hcvg_eval``),
exactly. It matches predicted boxes to GT boxes **by frame** and reads the predicted span
only for the union:

* ``U = max(pe, ge) - min(ps, gs) + 1`` frames (``all_frame``);
* ``H`` = the GT frames (frames of ``[gs, ge]`` with a GT box) that have a predicted box,
  **wherever** that box lies relative to ``[ps, pe]``;
* ``tIoU = |H| / U``; ``vIoU = (1 / U) * sum(IoU(pred_f, gt_f) for f in H)``;
* ``gt_v_iou = (1 / G) * sum(IoU(pred_f, gt_f) for f in H)``, ``G`` the GT frames (the
  peer has no such metric; this is the same sum over the GT frames);
* a sample without a prediction scores 0 and counts in the means.

So a frame of the predicted span without a box adds nothing to tIoU either, a box outside
the predicted span on a GT frame counts, and a GT frame without a GT box (a VidSTG target
out of view) counts in ``U`` only. The one input it cannot mirror: ``eval_hcvg.py`` compares frame keys as
strings, so a predictions file key ``"00130"`` never matches the GT's ``"130"`` there (tIoU
0), while stvg reads every decimal key as its frame number (``"00130"`` is frame 130) under
every protocol.

``"span"`` is the span formula (the RL reward's, :mod:`stvg.verifiers.rewards`): ``I`` =
frames in both spans, ``tIoU = |I| / U``, ``vIoU = (1 / U) * sum(IoU(pred_f, gt_f) for f
in I with a GT box)``, predicted boxes outside ``[ps, pe]`` ignored, a frame of ``I``
without a predicted box contributing 0; ``gt_v_iou`` as ``official`` but only over boxes
inside ``[ps, pe]``. With a predicted box on every frame of ``[ps, pe]``, none outside it,
and a GT box on every frame of ``[gs, ge]`` (what stvg's policies write on HC-STVG and
synthetic data), ``span`` equals ``official``.

For every protocol, GT boxes are scored **as annotated** unless the protocol's code changes
them; the GT boxes on the frames of ``gt_span`` reaching outside ``[0, width] x [0,
height]`` are counted per sample (:attr:`SampleScore.n_gt_boxes_outside_frame`) and in
total. IoU is that of :mod:`stvg.verifiers.iou` (areas of inverted boxes are 0, ``0 / 0``
is 0); TubeDETR and CG-STVG compute areas with signs (``np_box_iou``), so a box inverted in one axis
(``x2 < x1``) against a GT box of the same area, or two zero-area boxes, give ``0 / 0`` =
NaN there and 0 here.

Compatibility protocols reproduce the arithmetic of other codebases exactly, so that a
prediction dump can be compared with numbers published with them:

``"tubedetr"`` follows TubeDETR (Yang et al., CVPR 2022; antoyang/TubeDETR: the evaluators
``datasets/hcstvg_eval.py`` and ``datasets/vidstg_eval.py`` at commit ``3c32cc9``, the
fixed evaluators of May 2022; the GT from ``preproc/preproc_hcstvg*.py`` and
``preproc/preproc_vidstg.py`` and the predicted spans from ``models/postprocessors.py``,
which add 1 to the end frame, at commit ``20c00199``, which those files did not change
since). It differs from ``span``:

* **frame ids**: TubeDETR's preprocessing stores HC-STVG's 1-based ``st_frame`` as
  ``tube_start_frame`` and uses it as a 0-based frame id, so its GT tube is the annotated
  one **one frame late**: GT span ``[gs + 1, ge + 1]``, annotated box of frame ``f`` on
  frame ``f + 1``. Predictions are 0-based decoded frames, unchanged. VidSTG frame ids are
  0-based in its files, so VidSTG samples (``meta["dataset"] == "vidstg"``) are not shifted;
  every other sample is read with HC-STVG's convention;
* **5 fps grid**: only grid frames count in vIoU, see :func:`tubedetr_frame_grid`: starting
  at the first frame of the range, frame ``f`` is kept when ``floor(f * 5 / native_fps)``
  grows. The range is ``[0, num_frames - 1)`` (TubeDETR's HC-STVG loop stops before the last
  frame) or, for VidSTG, its ``used_segment`` ``[begin_fid, end_fid)`` when ``sample.meta``
  carries it. A grid longer than 200 frames is cut to 200 (``ids[j * len // 200]``). Videos
  below 5 fps keep every frame (TubeDETR would refuse them). TubeDETR takes the HC-STVG frame
  rate as ``img_num / 20``, which is what the HC-STVG loader sets when the file has no
  ``fps``; for 29.97 fps TubeDETR's rule rounds up where
  :func:`stvg.data.timing.sample_frame_indices` rounds half up;
* ``tIoU`` from the end points with exclusive ends (GT ``[gs+1, ge+2)``, prediction
  ``[ps, pe+1)``), which equals ``|I| / U`` over the shifted inclusive frames;
* ``vIoU``: the sum runs over grid frames of ``I`` that carry a GT box, and the denominator
  is the number of grid frames in ``[min(ps, gs'), max(pe, ge')]`` (``gs', ge'`` the
  shifted GT span; at least 1); a span between two grid frames gets vIoU 0, and vIoU can
  exceed tIoU (HC-STVG video of 600 frames, 30 fps, grid every 6th frame: GT annotated
  ``[5, 5]`` read as ``[6, 6]``, prediction ``[6, 11]`` with that box: tIoU 1/6, vIoU 1);
* ``gt_v_iou``: the mean IoU over the grid frames of the (shifted) GT span that carry a GT
  box (``inter_frames``), predicted boxes taken wherever they are;
* a missing prediction scores 0 (TubeDETR raises ``RuntimeError`` instead; a missing box on
  a grid frame also raises there and scores 0 here).

``"tubedetr-grid"`` is ``"tubedetr"`` without the frame-id shift: TubeDETR's 5 fps grid on
the correct 0-based frames (stvg's ``tubedetr`` protocol before issue 12). For VidSTG it
equals ``"tubedetr"``.

``"cgstvg"`` follows CG-STVG (Gu et al., CVPR 2024; HengLan/CGSTVG at commit ``90bed96``:
the evaluators ``datasets/evaluation/hcstvg_eval.py`` and ``vidstg_eval.py``, the GT from
``datasets/hcstvg.py`` and ``datasets/vidstg.py``, the predicted spans from
``models/post_processor.py``, which add 1 to the end frame). Frames are 0-based and native
(no grid). The evaluator reads ``gt_temp_bound = [b, t]`` with an **exclusive** end: GT
frames ``[b, t - 1]`` in tIoU, ``I`` and ``U``; ``gt_v_iou`` averages over its GT boxes,
frames ``b .. t`` inclusive (a GT frame without a predicted box scores 0 there).

* HC-STVG (every sample not marked ``meta["dataset"] == "vidstg"``): ``[b, t] = [gs, ge]``,
  so the last annotated frame drops out of tIoU and vIoU (a 1-frame GT is empty and scores
  0); GT boxes ``x2 = min(x2, width)``, ``y2 = min(y2, height)`` (its loader does this,
  and asserts the box is inside on those sides; the near sides are kept as annotated);
* VidSTG: the loader reads ``temporal_gt.end_fid`` (exclusive, ``e = ge + 1``) as
  inclusive and caps it at ``used_segment.end_fid`` (``u``, from ``meta["used_segment"]``;
  the whole video when absent): ``[b, t] = [gs, min(e, u)]``. The two readings cancel
  unless the segment caps the GT (``u < e``, where the GT loses frame ``u`` and later ones);
  ``gt_v_iou`` counts frame ``t`` too, whose box is the target's box on frame ``e`` when
  ``t = e`` (``meta["end_fid_box"]``, else a copy of the box of frame ``ge``). GT boxes as
  annotated. The loader leaves out a sentence (:attr:`GroundTruthTable.excluded`, never
  counted) whose box list (frames ``b .. min(e, num_frames - 1)``) is not as long as
  ``[b, t]`` (``min(e + 1, num_frames) != t + 1``, "the spoiled data") or whose GT lies
  outside the used segment (``e < used begin`` or ``b > u``). A GT frame without a target
  box makes CG-STVG's loader fail (``KeyError``); stvg scores it without a GT box;
* **averaging over predicted samples only**: a sample without a prediction is skipped, not
  scored 0 (:attr:`ScoreBatch.counted`); ``n`` in the summary is the number averaged over.
  CG-STVG's VidSTG evaluator raises ``RuntimeError`` for a GT frame without a predicted
  box (its HC-STVG one skips it); both score 0 here.

``by_sentence_type`` (VidSTG's declarative / interrogative) is what TubeDETR and CG-STVG
report for VidSTG; the all-samples row over both is stvg's own.

Scoring is vectorised: :class:`GroundTruthTable` packs the ground truth of many samples
into flat arrays once (reuse it when the same samples are scored repeatedly, as in RL
training); :meth:`GroundTruthTable.score` then scores all predictions with a handful of
numpy operations over the concatenated predicted frames, with no Python loop over frames,
and returns a :class:`ScoreBatch` whose arrays :func:`dataset_metrics` reads directly.
"""

from __future__ import annotations

import functools
import itertools
import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from stvg.data.types import Sample, Tube
from stvg.limits import MAX_FRAME_INDEX
from stvg.verifiers.spans import check_span

Protocol = Literal["official", "native", "span", "tubedetr", "tubedetr-grid", "cgstvg"]
PROTOCOLS: tuple[str, ...] = ("official", "span", "tubedetr", "tubedetr-grid", "cgstvg")
"""Canonical protocol names, in the order ``stvg evaluate --protocol all`` prints them."""
PROTOCOL_ALIASES: dict[str, str] = {"native": "official"}  # old name -> canonical name

TUBEDETR_FPS = 5.0  # frames per second of TubeDETR's evaluation grid
TUBEDETR_MAX_LEN = 200  # frames; TubeDETR's video_max_len
CHUNK_FRAMES = 32768  # predicted frames scored per vectorised chunk (work buffers ~4 MB)
_TINY = np.finfo(np.float64).tiny  # smallest positive normal float64
UNKNOWN_SENTENCE_TYPE = "unknown"  # breakdown key for samples without meta["sentence_type"]


def canonical_protocol(protocol: str) -> str:
    """The canonical name of ``protocol`` (the old name ``"native"`` -> ``"official"``, with
    a deprecation warning: ``native`` names the video's own frames everywhere else).

    Raises:
        ValueError: unknown name; the message lists the accepted ones.

    >>> canonical_protocol("official")
    'official'
    """
    if protocol in PROTOCOL_ALIASES:
        warnings.warn(
            f"metric protocol {protocol!r} is deprecated: write {PROTOCOL_ALIASES[protocol]!r}",
            FutureWarning,
            stacklevel=2,
        )
    name = PROTOCOL_ALIASES.get(protocol, protocol)
    if name not in PROTOCOLS:
        accepted = [*PROTOCOLS, *PROTOCOL_ALIASES]
        raise ValueError(f"unknown metric protocol {protocol!r}; choose one of {accepted}")
    return name


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
    ps, pe = check_span(pred_span, "pred_span")
    gs, ge = check_span(gt_span, "gt_span")
    inter = max(0, min(pe, ge) - max(ps, gs) + 1)
    return inter / (max(pe, ge) - min(ps, gs) + 1)


@dataclass(frozen=True)
class SampleScore:
    """Metrics of one sample.

    Attributes:
        sample_id: the sample's id.
        t_iou: temporal IoU in ``[0, 1]`` (0 without a prediction).
        v_iou: video IoU in ``[0, 1]`` (0 without a prediction); at most ``t_iou`` under
            ``"official"``, ``"span"`` and ``"cgstvg"``, possibly above it on the 5 fps grid
            of ``"tubedetr"`` and ``"tubedetr-grid"``.
        pred_span: predicted ``(first, last)`` native frames, ``None`` without a prediction.
        gt_span: ground-truth ``(first, last)`` frames as the protocol reads them
            (``"tubedetr"`` on HC-STVG: one frame later than annotated; ``"cgstvg"``: the
            annotated span, of which the protocol scores a part, see the module docstring).
        n_frames_scored: frames in the vIoU denominator: ``U`` for ``"official"``,
            ``"span"`` and ``"cgstvg"``, the grid frames in the union for ``"tubedetr"`` and
            ``"tubedetr-grid"``; 0 without a prediction.
        meta: the sample's ``meta`` (``sentence_type`` drives the VidSTG breakdown).
        n_gt_boxes_outside_frame: annotated GT boxes on the frames of ``gt_span`` that
            reach outside ``[0, width] x [0, height]`` (scored as annotated).
        counted: whether the dataset means include this sample (``False`` only under
            ``"cgstvg"``: a missing prediction, or a sentence CG-STVG's VidSTG loader
            leaves out).
        gt_v_iou: mean IoU over the protocol's GT frames, the GT span given (0 without a
            prediction), see the module docstring.
    """

    sample_id: str
    t_iou: float
    v_iou: float
    pred_span: tuple[int, int] | None
    gt_span: tuple[int, int]
    n_frames_scored: int
    meta: Mapping[str, Any] = field(default_factory=dict)
    n_gt_boxes_outside_frame: int = 0
    counted: bool = True
    gt_v_iou: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-friendly dict (without ``meta``)."""
        return {
            "sample_id": self.sample_id,
            "t_iou": self.t_iou,
            "v_iou": self.v_iou,
            "gt_v_iou": self.gt_v_iou,
            "pred_span": None if self.pred_span is None else list(self.pred_span),
            "gt_span": list(self.gt_span),
            "n_frames_scored": self.n_frames_scored,
            "n_gt_boxes_outside_frame": self.n_gt_boxes_outside_frame,
            "counted": self.counted,
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


class ScoreBatch(Sequence[SampleScore]):
    """Scores of many samples held as arrays; indexing builds :class:`SampleScore` objects.

    Returned by :meth:`GroundTruthTable.score`. It is a ``Sequence[SampleScore]`` (so it
    can go wherever a list of scores goes), and :func:`dataset_metrics` reads its arrays
    directly instead of building one object per sample.

    Attributes:
        table: the :class:`GroundTruthTable` that was scored.
        t_iou: float64 ``[S]`` temporal IoU per sample.
        v_iou: float64 ``[S]`` video IoU per sample.
        n_frames_scored: int64 ``[S]`` frames in each vIoU denominator (0 without prediction).
        has_prediction: bool ``[S]``.
        pred_first, pred_last: int64 ``[S]`` predicted span (``0, -1`` without prediction).
        counted: bool ``[S]``, the samples that the dataset means average over (all of
            them, except under ``"cgstvg"`` missing predictions and the sentences its VidSTG
            loader leaves out).
        gt_v_iou: float64 ``[S]`` mean IoU over the protocol's GT frames (0 without
            prediction).
    """

    def __init__(
        self,
        table: GroundTruthTable,
        t_iou: np.ndarray,
        v_iou: np.ndarray,
        n_frames_scored: np.ndarray,
        has_prediction: np.ndarray,
        pred_first: np.ndarray,
        pred_last: np.ndarray,
        counted: np.ndarray | None = None,
        gt_v_iou: np.ndarray | None = None,
    ) -> None:
        """Wrap per-sample arrays aligned with ``table.samples`` (``counted``: all;
        ``gt_v_iou``: zeros)."""
        self.table = table
        self.t_iou = t_iou
        self.v_iou = v_iou
        self.n_frames_scored = n_frames_scored
        self.has_prediction = has_prediction
        self.pred_first = pred_first
        self.pred_last = pred_last
        self.counted = np.ones(len(t_iou), dtype=bool) if counted is None else counted
        self.gt_v_iou = np.zeros(len(t_iou)) if gt_v_iou is None else gt_v_iou

    def __len__(self) -> int:
        return int(self.t_iou.shape[0])

    def _one(self, i: int) -> SampleScore:
        sample = self.table.samples[i]
        has = bool(self.has_prediction[i])
        return SampleScore(
            sample_id=sample.sample_id,
            t_iou=float(self.t_iou[i]),
            v_iou=float(self.v_iou[i]),
            pred_span=(int(self.pred_first[i]), int(self.pred_last[i])) if has else None,
            gt_span=(int(self.table.gt_start[i]), int(self.table.gt_end[i])),
            n_frames_scored=int(self.n_frames_scored[i]),
            meta=sample.meta,
            n_gt_boxes_outside_frame=int(self.table.n_gt_boxes_outside_frame[i]),
            counted=bool(self.counted[i]),
            gt_v_iou=float(self.gt_v_iou[i]),
        )

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return [self._one(i) for i in range(*index.indices(len(self)))]
        i = int(index)
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(f"score index {index} out of range for {len(self)} samples")
        return self._one(i)

    def __repr__(self) -> str:
        return f"ScoreBatch(n={len(self)}, protocol={self.table.protocol!r})"


def _segment_offsets(lengths: np.ndarray) -> np.ndarray:
    offsets = np.zeros(lengths.shape[0], dtype=np.int64)
    np.cumsum(lengths[:-1], out=offsets[1:])
    return offsets


def _box_iou_rows(work: np.ndarray) -> np.ndarray:
    """IoU of aligned boxes held as rows of ``work``, computed in place.

    ``work`` is float64 ``[13, m]``: rows 0-3 the predicted ``x1, y1, x2, y2``, rows 4-8
    the GT ``x1, y1, x2, y2`` and area, rows 9-12 scratch. The operations (and so every
    rounding) are those of :func:`stvg.verifiers.iou.box_iou_columns`, paired over x and y
    so that each numpy call covers two rows. Returns a view of ``work`` with the ``[m]`` IoU.
    """
    pred_lo, pred_hi, gt_lo, gt_hi, gt_area = work[0:2], work[2:4], work[4:6], work[6:8], work[8]
    hi, lo = work[9:11], work[11:13]
    np.minimum(pred_hi, gt_hi, out=hi)
    np.maximum(pred_lo, gt_lo, out=lo)
    hi -= lo
    np.maximum(hi, 0.0, out=hi)  # intersection width, height
    inter = np.multiply(hi[0], hi[1], out=lo[0])
    np.subtract(pred_hi, pred_lo, out=hi)
    np.maximum(hi, 0.0, out=hi)  # predicted width, height
    union = np.multiply(hi[0], hi[1], out=hi[0])
    union += gt_area
    union -= inter
    # union == 0 implies inter == 0 (inter <= both areas), so 0 / tiny gives the IoU 0
    np.maximum(union, _TINY, out=union)
    return np.divide(inter, union, out=inter)


def _is_vidstg(sample: Sample) -> bool:
    return sample.meta.get("dataset") == "vidstg"


@dataclass(frozen=True)
class CgstvgVidstgReading:
    """How CG-STVG's VidSTG loader reads one sentence (see the module docstring).

    Attributes:
        gt_bound: ``gt_temp_bound = (b, t)``: the evaluator scores GT frames ``b .. t - 1``
            and averages ``gt_viou`` over frames ``b .. t``.
        excluded: the loader leaves the sentence out ("spoiled", or GT outside the used
            segment); then ``gt_bound`` is what it would have been.
    """

    gt_bound: tuple[int, int]
    excluded: bool


def cgstvg_vidstg_reading(sample: Sample) -> CgstvgVidstgReading:
    """CG-STVG's reading of a VidSTG sample (``datasets/vidstg.py`` at ``90bed96``).

    ``temporal_gt.end_fid`` is ``e = gt_span[1] + 1`` (stvg's span is inclusive); the used
    segment ``[a, u]`` comes from ``meta["used_segment"]`` (``begin_fid``, ``end_fid``; the
    whole video when absent). ``t = min(e, u)``; excluded when ``min(e + 1, num_frames) !=
    t + 1`` or when ``e < a`` or ``b > u``.

    >>> from stvg.data.types import Sample
    >>> s = Sample("v/0/d0", "v.mp4", "q", 30.0, 100, 64, 64, (10, 99), {},
    ...            {"dataset": "vidstg", "used_segment": {"begin_fid": 0, "end_fid": 99}})
    >>> cgstvg_vidstg_reading(s)   # end_fid = 100 = frame_count, capped at 99
    CgstvgVidstgReading(gt_bound=(10, 99), excluded=False)
    """
    b, last = sample.gt_span
    e = last + 1
    segment = _used_segment(sample)
    a, u = (0, sample.num_frames - 1) if segment is None else segment
    t = min(e, u)
    spoiled = min(e + 1, sample.num_frames) != t + 1
    outside = e < a or b > u
    return CgstvgVidstgReading((b, t), spoiled or outside)


class GroundTruthTable:
    """Ground truth of many samples packed into flat arrays, ready for vectorised scoring.

    Build it once per sample list and protocol, then call :meth:`score` for each set of
    predictions. Each sample's GT, as the protocol reads it, is stored densely, one row per
    frame from ``gt_start[i]`` to the last frame the protocol reads (row ``gt_offset[i] +
    f - gt_start[i]`` holds frame ``f``), as four coordinate rows plus the box area and a
    has-box flag (a GT box is present, and for the TubeDETR protocols the frame is on the
    grid). GT boxes outside a sample's ``gt_span`` are never used by any protocol and are
    dropped.

    Attributes:
        samples: the samples, in order.
        protocol: the canonical protocol name (see :data:`PROTOCOLS`).
        gt_start, gt_end: int64 ``[S]`` GT spans as the protocol reads them (inclusive
            frames; ``"tubedetr"`` shifts HC-STVG spans one frame later).
        n_gt_boxes_outside_frame: int64 ``[S]`` annotated GT boxes on the frames of the
            annotated ``gt_span`` reaching outside ``[0, width] x [0, height]``.
        excluded: bool ``[S]``, samples the protocol's loader leaves out (only CG-STVG's
            VidSTG loader does); they never enter the means.
        sentence_types: sorted sentence types when any sample has ``meta["sentence_type"]``
            (samples without one are ``"unknown"``), else ``None``.
    """

    def __init__(self, samples: Sequence[Sample], protocol: Protocol | str = "official") -> None:
        """Pack ``samples`` (a sequence of :class:`Sample`) for ``protocol``."""
        self.protocol: str = canonical_protocol(protocol)
        self.samples: tuple[Sample, ...] = tuple(samples)
        n = len(self.samples)
        spans = [check_span(s.gt_span, f"sample {s.sample_id!r}: gt_span") for s in self.samples]
        annotated_start = np.fromiter((sp[0] for sp in spans), dtype=np.int64, count=n)
        annotated_end = np.fromiter((sp[1] for sp in spans), dtype=np.int64, count=n)
        keys, boxes = _flat_boxes(self.samples)
        counts = np.fromiter((len(s.gt_boxes) for s in self.samples), dtype=np.int64, count=n)
        sid = np.repeat(np.arange(n), counts)
        inside = (keys >= annotated_start[sid]) & (keys <= annotated_end[sid])
        keys, boxes, sid = keys[inside], boxes[inside], sid[inside]
        width = np.fromiter((s.width for s in self.samples), dtype=np.float64, count=n)
        height = np.fromiter((s.height for s in self.samples), dtype=np.float64, count=n)
        outside = (boxes[:, 0] < 0) | (boxes[:, 1] < 0)
        outside |= (boxes[:, 2] > width[sid]) | (boxes[:, 3] > height[sid])
        self.n_gt_boxes_outside_frame = np.bincount(sid[outside], minlength=n).astype(np.int64)
        vidstg = np.fromiter((_is_vidstg(s) for s in self.samples), dtype=bool, count=n)
        # The protocol's reading of the annotated ground truth.
        shift = np.zeros(n, dtype=np.int64)
        if self.protocol == "tubedetr":  # 1-based st_frame read as a 0-based frame id
            shift[~vidstg] = 1
            keys = keys + shift[sid]
        self.gt_start = annotated_start + shift
        self.gt_end = annotated_end + shift
        self.excluded = np.zeros(n, dtype=bool)
        scored_end = self.gt_end.copy()  # last GT frame of tIoU, I and U
        gt_viou_end = self.gt_end.copy()  # last frame of the gt_v_iou average
        if self.protocol == "cgstvg":
            keys, boxes, sid = self._read_cgstvg(keys, boxes, sid, vidstg, scored_end, gt_viou_end)
        self._scored_gt_end = scored_end
        self._gt_viou_end = gt_viou_end
        table_end = np.maximum(self.gt_end, gt_viou_end)
        lengths = table_end - self.gt_start + 1
        self.gt_offset = _segment_offsets(lengths)
        self._row_base = self.gt_offset - self.gt_start  # row of frame f = _row_base[i] + f
        total = int(lengths.sum()) if n else 0
        rows = self._row_base[sid] + keys
        if self.protocol in ("tubedetr", "tubedetr-grid"):
            rows, boxes = self._grid_rows(rows, boxes, total)
        # Rows x1, y1, x2, y2, area; column `total` is a null box (area 0, so IoU 0) for
        # predicted frames outside the scored range. Frames without a GT box, and for the
        # TubeDETR protocols frames off the grid, keep a null box too: they add 0 to the sum.
        table = np.zeros((5, total + 1), dtype=np.float64)
        table[:4, rows] = boxes.T
        table[4] = np.maximum(table[2] - table[0], 0.0) * np.maximum(table[3] - table[1], 0.0)
        self._gt_table = table
        self._gt_has = np.zeros(total + 1, dtype=np.float64)  # 1.0 on rows with a GT box
        self._gt_has[rows] = 1.0
        self._null_row = total
        has_before = np.concatenate(([0.0], np.cumsum(self._gt_has)))  # boxes before a row
        window_end = np.maximum(gt_viou_end, self.gt_start - 1)  # empty for excluded samples
        self._n_gt_frames = (
            has_before[self._row_base + window_end + 1] - has_before[self.gt_offset]
        ).astype(np.int64)  # GT boxes in [gt_start, gt_viou_end]
        self.sentence_types: list[str] | None
        self.sentence_types, self._type_index = _sentence_types(s.meta for s in self.samples)

    def _read_cgstvg(
        self,
        keys: np.ndarray,
        boxes: np.ndarray,
        sid: np.ndarray,
        vidstg: np.ndarray,
        scored_end: np.ndarray,
        gt_viou_end: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """CG-STVG's GT: HC-STVG boxes clamped at the far sides and the last frame not
        scored; VidSTG bounds, exclusions and end box (module docstring). Fills
        ``scored_end``, ``gt_viou_end`` and :attr:`excluded`; returns the GT boxes to pack."""
        boxes = boxes.copy()
        hcstvg = ~vidstg[sid]  # its HC-STVG loader: x2 = min(x1 + w, W), y2 = min(y1 + h, H)
        width = np.fromiter((s.width for s in self.samples), dtype=np.float64)
        height = np.fromiter((s.height for s in self.samples), dtype=np.float64)
        boxes[hcstvg, 2] = np.minimum(boxes[hcstvg, 2], width[sid[hcstvg]])
        boxes[hcstvg, 3] = np.minimum(boxes[hcstvg, 3], height[sid[hcstvg]])
        scored_end[~vidstg] -= 1
        extra_sid, extra_keys, extra_boxes = [], [], []
        for i in np.flatnonzero(vidstg).tolist():
            sample = self.samples[i]
            reading = cgstvg_vidstg_reading(sample)
            t = reading.gt_bound[1]
            self.excluded[i] = reading.excluded
            scored_end[i] = t - 1
            gt_viou_end[i] = t
            last = sample.gt_span[1]
            if t == last + 1:  # the box of frame end_fid, outside stvg's span
                box = sample.meta.get("end_fid_box") or sample.gt_boxes.get(last)
                if box is not None:
                    extra_sid.append(i)
                    extra_keys.append(t)
                    extra_boxes.append([float(c) for c in box])
        if extra_sid:
            sid = np.concatenate((sid, np.array(extra_sid, dtype=np.int64)))
            keys = np.concatenate((keys, np.array(extra_keys, dtype=np.int64)))
            boxes = np.concatenate((boxes, np.array(extra_boxes, dtype=np.float64)))
        return keys, boxes, sid

    def _grid_rows(
        self, rows: np.ndarray, boxes: np.ndarray, total: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Keep the GT rows on TubeDETR's grid; index the grid frames for :meth:`score`."""
        n = len(self.samples)
        grids = [
            tubedetr_frame_grid(s.native_fps, s.num_frames, segment=_used_segment(s))
            for s in self.samples
        ]
        grid = np.concatenate(grids) if grids else np.zeros(0, np.int64)
        grid_sid = np.repeat(np.arange(n), [g.size for g in grids])
        on_grid = np.zeros(total, dtype=bool)
        in_span = (grid >= self.gt_start[grid_sid]) & (grid <= self.gt_end[grid_sid])
        on_grid[self._row_base[grid_sid[in_span]] + grid[in_span]] = True
        counted = on_grid[rows]
        # sorted keys (sample, frame) to count grid frames in any range by bisection
        self._grid_stride = int(grid.max()) + 2 if grid.size else 1
        self._grid_keys = grid_sid * self._grid_stride + grid
        return rows[counted], boxes[counted]

    def __len__(self) -> int:
        return len(self.samples)

    def _pred_spans(self, pred_spans: Sequence[Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Validate the spans; returns has-prediction mask, first, last (``0, -1`` if none)."""
        n = len(self.samples)
        has = np.fromiter((sp is not None for sp in pred_spans), dtype=bool, count=n)
        first = np.zeros(n, dtype=np.int64)
        last = np.full(n, -1, dtype=np.int64)  # an empty span: no overlap with anything
        idx = np.flatnonzero(has)
        if idx.size == 0:
            return has, first, last
        try:
            arr = np.asarray([pred_spans[i] for i in idx])
            ok = arr.ndim == 2 and arr.shape[1] == 2 and arr.dtype.kind in "iuf"
            if ok and arr.dtype.kind == "f":
                ok = bool(np.all(np.isfinite(arr)) and np.all(arr == np.floor(arr)))
            # check_span's rule, vectorised: 0 <= first <= last <= MAX_FRAME_INDEX
            ok = ok and bool(np.all((arr[:, 0] >= 0) & (arr[:, 1] <= MAX_FRAME_INDEX)))
            if ok:
                arr = arr.astype(np.int64)
                ok = bool(np.all(arr[:, 0] <= arr[:, 1]))
        except (TypeError, ValueError):
            ok = False
        if not ok:  # find the culprit for a precise message
            for i in idx:
                check_span(pred_spans[i], f"sample {self.samples[i].sample_id!r}: pred_span")
            raise ValueError(f"pred_spans must be (first, last) integer pairs, got {pred_spans!r}")
        first[idx], last[idx] = arr[:, 0], arr[:, 1]
        return has, first, last

    def score(
        self,
        pred_spans: Sequence[tuple[int, int] | None],
        pred_tubes: Sequence[Tube | None],
    ) -> ScoreBatch:
        """Score one prediction per sample (aligned with :attr:`samples`).

        Args:
            pred_spans: per sample, the predicted inclusive ``(first, last)`` native frames,
                or ``None`` for no prediction (scores 0, 0).
            pred_tubes: per sample, the predicted boxes (on any frames; which of them count
                is the protocol's rule); ``None`` counts as a tube with no boxes.

        Returns:
            A :class:`ScoreBatch`: a sequence of :class:`SampleScore`, in sample order.
        """
        n = len(self.samples)
        if len(pred_spans) != n or len(pred_tubes) != n:
            raise ValueError(
                f"need one prediction per sample: {n} samples, {len(pred_spans)} spans, "
                f"{len(pred_tubes)} tubes"
            )
        has, ps, pe = self._pred_spans(pred_spans)
        gs, ge = self.gt_start, self._scored_gt_end
        union_first, union_last = np.minimum(ps, gs), np.maximum(pe, ge)
        n_union = union_last - union_first + 1
        predicted = np.flatnonzero(has)
        if self.protocol == "official":
            # eval_hcvg.py: GT frames with a predicted box, wherever the box lies
            iou_sum, hits = self._frame_sums(pred_tubes, predicted, gs, ge, count_hits=True)
            t_iou = np.where(has, hits / np.maximum(n_union, 1), 0.0)
            denominator = n_union
            gt_sum = iou_sum
        else:
            inter_first, inter_last = np.maximum(ps, gs), np.minimum(pe, ge)
            n_inter = np.maximum(inter_last - inter_first + 1, 0)
            t_iou = np.where(has, n_inter / np.maximum(n_union, 1), 0.0)
            if self.protocol in ("span", "cgstvg"):
                denominator = n_union
            else:
                stride, keys = self._grid_stride, self._grid_keys
                base = np.arange(n, dtype=np.int64) * stride
                lo = base + np.clip(union_first, 0, stride - 1)
                hi = base + np.clip(union_last, -1, stride - 1)
                denominator = np.searchsorted(keys, hi, "right") - np.searchsorted(keys, lo, "left")
            candidates = np.flatnonzero(n_inter > 0)
            iou_sum, _ = self._frame_sums(pred_tubes, candidates, inter_first, inter_last)
            gt_first, gt_last = gs, self._gt_viou_end
            if self.protocol == "span":  # boxes outside the predicted span are ignored
                gt_first, gt_last = np.maximum(ps, gs), np.minimum(pe, gt_last)
            candidates = predicted[gt_last[predicted] >= gt_first[predicted]]
            gt_sum, _ = self._frame_sums(pred_tubes, candidates, gt_first, gt_last)
        v_iou = np.where(has, iou_sum / np.maximum(denominator, 1), 0.0)
        gt_v_iou = np.where(has, gt_sum / np.maximum(self._n_gt_frames, 1), 0.0)
        n_scored = np.where(has, denominator, 0)
        counted = has & ~self.excluded if self.protocol == "cgstvg" else np.ones(n, dtype=bool)
        return ScoreBatch(self, t_iou, v_iou, n_scored, has, ps, pe, counted, gt_v_iou)

    def _frame_sums(
        self,
        pred_tubes: Sequence[Tube | None],
        candidates: np.ndarray,
        window_first: np.ndarray,
        window_last: np.ndarray,
        *,
        count_hits: bool = False,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per sample, the sum of IoU over its predicted boxes on frames of its window
        ``[window_first, window_last]`` (``[S]`` each; non-empty for ``candidates``), and
        (with ``count_hits``) how many of those frames carry a GT box.

        The tubes of ``candidates`` are scored in chunks of about :data:`CHUNK_FRAMES`
        concatenated frames, written into work buffers allocated once per call (so the
        passes over a chunk stay in the CPU cache). Per frame: the GT row is ``_row_base +
        frame`` when the frame lies in the window, else the null row (IoU 0); the GT
        columns are gathered with one ``take``, the IoU is computed in place
        (:func:`_box_iou_rows`) and summed per tube with ``np.add.reduceat``.
        """
        sums = np.zeros(len(self.samples), dtype=np.float64)
        hits = np.zeros(len(self.samples), dtype=np.float64)
        ids = [i for i in candidates.tolist() if pred_tubes[i] is not None]
        tubes = [pred_tubes[i] for i in ids]
        frames_list = [t.frame_idx for t in tubes]
        lengths = np.fromiter(map(len, frames_list), dtype=np.int64, count=len(ids))
        nonempty = lengths > 0
        if not nonempty.all():  # empty tubes add nothing (and would break reduceat)
            keep = nonempty.tolist()
            ids, tubes = list(itertools.compress(ids, keep)), list(itertools.compress(tubes, keep))
            frames_list, lengths = list(itertools.compress(frames_list, keep)), lengths[nonempty]
        if not ids:
            return sums, hits
        boxes_list = [t.boxes_xyxy for t in tubes]
        tube_sid = np.array(ids, dtype=np.int64)
        first = window_first[tube_sid]
        span = (window_last[tube_sid] - first).view(np.uint64)  # >= 0 for candidates
        row_first = self._row_base[tube_sid] + first
        ends = np.cumsum(lengths)
        cuts = np.searchsorted(ends, np.arange(CHUNK_FRAMES, int(ends[-1]), CHUNK_FRAMES), "right")
        bounds = np.unique(np.concatenate(([0], cuts, [len(ids)])))
        starts = np.concatenate(([0], ends))[bounds]
        capacity = int(np.diff(starts).max())
        int_work = np.empty((2, capacity), dtype=np.int64)
        float_work = np.empty((13, capacity), dtype=np.float64)
        boxes_work = np.empty((capacity, 4), dtype=np.float64)  # [m, 4] as the tubes hold them
        outside_work = np.empty(capacity, dtype=bool)
        chunks = zip(
            bounds[:-1].tolist(), bounds[1:].tolist(), np.diff(starts).tolist(), strict=True
        )
        for lo, hi, m in chunks:
            counts = lengths[lo:hi]
            frames, rows, outside = int_work[0, :m], int_work[1, :m], outside_work[:m]
            np.concatenate(frames_list[lo:hi], out=frames)
            # row of each frame, or the null row outside [first, last] (unsigned compare)
            np.subtract(frames, np.repeat(first[lo:hi], counts), out=rows)
            np.greater(rows.view(np.uint64), np.repeat(span[lo:hi], counts), out=outside)
            rows += np.repeat(row_first[lo:hi], counts)
            np.copyto(rows, self._null_row, where=outside)
            offsets = _segment_offsets(counts)
            if count_hits:
                hits[tube_sid[lo:hi]] = np.add.reduceat(self._gt_has.take(rows), offsets)
            work = float_work[:, :m]
            np.concatenate(boxes_list[lo:hi], out=boxes_work[:m])
            np.copyto(work[:4], boxes_work[:m].T)  # transposed in cache, rows x1, y1, x2, y2
            work[4:9] = self._gt_table.take(rows, axis=1)  # faster than take(out=...)
            iou = _box_iou_rows(work)
            sums[tube_sid[lo:hi]] = np.add.reduceat(iou, offsets)
        return sums, hits


def score_sample(
    sample: Sample,
    pred_span: tuple[int, int] | None,
    pred_tube: Tube | None,
    *,
    protocol: Protocol | str = "official",
) -> SampleScore:
    """Score one prediction against one sample (see the module docstring for the protocol).

    Args:
        sample: the ground truth.
        pred_span: predicted inclusive ``(first, last)`` native frames; ``None`` = no
            prediction, which scores 0 on every metric.
        pred_tube: predicted boxes (original-video pixels) on any frames: ``"official"``
            scores every box on a GT frame, the other protocols ignore boxes outside
            ``pred_span``; ``None`` = no boxes.
        protocol: one of :data:`PROTOCOLS` (default ``"official"``, the official HC-STVG
            evaluator (``"native"``: its deprecated old name); ``"span"`` is the RL reward's span
            formula).

    Returns:
        The sample's :class:`SampleScore`.
    """
    return GroundTruthTable([sample], protocol).score([pred_span], [pred_tube])[0]


def score_samples(
    samples: Sequence[Sample],
    pred_spans: Sequence[tuple[int, int] | None],
    pred_tubes: Sequence[Tube | None],
    *,
    protocol: Protocol | str = "official",
) -> ScoreBatch:
    """Score aligned predictions for many samples at once (vectorised over all frames).

    Same arguments as :func:`score_sample`, one entry per sample; returns the scores in
    sample order as a :class:`ScoreBatch` (a ``Sequence[SampleScore]``). To score the same
    samples repeatedly, build a :class:`GroundTruthTable` once and call its
    :meth:`~GroundTruthTable.score`.
    """
    return GroundTruthTable(samples, protocol).score(pred_spans, pred_tubes)


def _sentence_types(
    metas: Iterable[Mapping[str, Any]],
) -> tuple[list[str], np.ndarray] | tuple[None, None]:
    """The sentence-type breakdown of samples given by their ``meta``, in sample order.

    Returns ``(names, index)``: the sorted type names (``str(meta["sentence_type"])``,
    :data:`UNKNOWN_SENTENCE_TYPE` for a sample without one) and int64 ``[S]`` positions of
    each sample's type in ``names``; ``(None, None)`` when no sample has a type.

    >>> _sentence_types([{"sentence_type": "interrogative"}, {}, {"sentence_type": "declarative"}])
    (['declarative', 'interrogative', 'unknown'], array([1, 2, 0]))
    >>> _sentence_types([{}, {"dataset": "hcstvg"}])
    (None, None)
    """
    types = [meta.get("sentence_type") for meta in metas]
    if all(t is None for t in types):
        return None, None
    labels = [UNKNOWN_SENTENCE_TYPE if t is None else str(t) for t in types]
    names = sorted(set(labels))
    lookup = {t: k for k, t in enumerate(names)}
    return names, np.fromiter((lookup[t] for t in labels), dtype=np.int64, count=len(labels))


def _summary(
    t_iou: np.ndarray, v_iou: np.ndarray, gt_v_iou: np.ndarray, thresholds: Sequence[float]
) -> dict[str, Any]:
    """Means over the given samples; ``None`` for every mean when there are none."""
    keys = ["m_tIoU", "m_vIoU", *(f"vIoU@{thr:g}" for thr in thresholds)]
    keys += ["m_gt_vIoU", *(f"gt_vIoU@{thr:g}" for thr in thresholds)]
    if t_iou.size == 0:
        out: dict[str, Any] = dict.fromkeys(keys)
        out["n"] = 0
        return out
    values = [t_iou.mean(), v_iou.mean(), *(np.mean(v_iou > thr) for thr in thresholds)]
    values += [gt_v_iou.mean(), *(np.mean(gt_v_iou > thr) for thr in thresholds)]  # strictly
    out = {key: float(value) for key, value in zip(keys, values, strict=True)}
    out["n"] = int(t_iou.size)
    return out


#: The headline dataset metrics, in the order every table, log and summary shows them
#: (the keys of :func:`dataset_metrics`; ``n`` counts the samples averaged over).
HEADLINE_METRICS: tuple[str, ...] = ("m_tIoU", "m_vIoU", "vIoU@0.3", "vIoU@0.5")


def headline_metrics(metrics: Any, *, with_n: bool = False) -> dict[str, Any]:
    """The :data:`HEADLINE_METRICS` of a :func:`dataset_metrics` result (``n`` first with
    ``with_n``), those it has, as they are.

    >>> headline_metrics({"n": 2, "m_tIoU": 0.5, "m_vIoU": 0.25, "m_gt_vIoU": 1.0}, with_n=True)
    {'n': 2, 'm_tIoU': 0.5, 'm_vIoU': 0.25}
    """
    keys = ("n", *HEADLINE_METRICS) if with_n else HEADLINE_METRICS
    return {k: metrics[k] for k in keys if k in metrics}


def dataset_metrics(
    scores: Sequence[SampleScore], *, thresholds: Sequence[float] = (0.3, 0.5)
) -> dict[str, Any]:
    """Dataset summary of per-sample scores.

    Args:
        scores: one :class:`SampleScore` per sample of the dataset (missing predictions
            included); a :class:`ScoreBatch` is summarised from its arrays. Only counted
            samples enter the means (all of them except, under ``"cgstvg"``, missing
            predictions and the sentences its VidSTG loader leaves out).
        thresholds: vIoU thresholds; ``vIoU@t`` is the share of samples with vIoU
            **strictly** greater than ``t``.

    Returns:
        ``{"m_tIoU", "m_vIoU", "vIoU@0.3", "vIoU@0.5", "m_gt_vIoU", "gt_vIoU@0.3",
        "gt_vIoU@0.5", "n"}`` (fractions in ``[0, 1]``, one ``vIoU@t`` and ``gt_vIoU@t``
        key per threshold, formatted with ``:g``; ``n`` = samples averaged over; every mean
        is ``None`` when ``n`` is 0), plus ``"by_sentence_type"``: ``{type: same keys}``
        when any sample has ``meta["sentence_type"]`` (samples without one are grouped
        under ``"unknown"``). For VidSTG the per-type rows are what TubeDETR and CG-STVG
        report; the all-samples figures are stvg's.
    """
    n = len(scores)
    if n == 0:
        raise ValueError("dataset_metrics needs at least one SampleScore, got none")
    if isinstance(scores, ScoreBatch):
        t_iou, v_iou, counted = scores.t_iou, scores.v_iou, scores.counted
        gt_v_iou = scores.gt_v_iou
        names, type_index = scores.table.sentence_types, scores.table._type_index
    else:
        t_iou = np.fromiter((s.t_iou for s in scores), dtype=np.float64, count=n)
        v_iou = np.fromiter((s.v_iou for s in scores), dtype=np.float64, count=n)
        gt_v_iou = np.fromiter((s.gt_v_iou for s in scores), dtype=np.float64, count=n)
        counted = np.fromiter((s.counted for s in scores), dtype=bool, count=n)
        names, type_index = _sentence_types(s.meta for s in scores)
    out = _summary(t_iou[counted], v_iou[counted], gt_v_iou[counted], thresholds)
    if names is not None and type_index is not None:
        out["by_sentence_type"] = {}
        for k, name in enumerate(names):
            keep = (type_index == k) & counted
            out["by_sentence_type"][name] = _summary(
                t_iou[keep], v_iou[keep], gt_v_iou[keep], thresholds
            )
    return out


__all__ = [
    "HEADLINE_METRICS",
    "PROTOCOLS",
    "PROTOCOL_ALIASES",
    "TUBEDETR_FPS",
    "TUBEDETR_MAX_LEN",
    "CgstvgVidstgReading",
    "GroundTruthTable",
    "Protocol",
    "SampleScore",
    "ScoreBatch",
    "canonical_protocol",
    "cgstvg_vidstg_reading",
    "dataset_metrics",
    "headline_metrics",
    "score_sample",
    "score_samples",
    "temporal_iou",
    "tubedetr_frame_grid",
]
