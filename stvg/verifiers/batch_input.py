"""What batched reward terms look at: a batch of parsed answers, densified and scored.

:class:`BatchInput` (``RewardBatch`` in :mod:`stvg.verifiers.rewards`) is what every reward
term reads: ``A`` answers (an :class:`~stvg.verifiers.batch_parse.AnswerColumns`), their samples and
frame contexts. Everything is computed with array code over all answers at once, and only
when a term asks for it:

* :attr:`BatchInput.pred_first` / :attr:`BatchInput.pred_last`: the predicted span in
  native frames (:func:`stvg.data.timing.span_seconds_to_frames` with the densify end
  extension), for every usable answer;
* :attr:`BatchInput.tubes`: the densified tubes (:func:`stvg.tubes.densify_batch`);
* :attr:`BatchInput.official`: the tIoU and vIoU of every answer by the span formula, the
  arithmetic of :func:`stvg.verifiers.metrics.score_sample` (protocol ``span``; equal to
  ``official`` for an answer with boxes, whose tube covers its span, when the GT has a box
  on every frame of its span): per tube frame the IoU with the GT box of that frame when it lies in both spans, else with a null box, summed
  per answer with ``np.add.reduceat``;
* :attr:`BatchInput.pairs`: predicted and GT boxes on the frames that have both (inside
  both spans, with a GT box): what the spatial terms compare;
* :attr:`BatchInput.draft`: for a format with a draft box list (``draft-final``), the
  draft lists as a batch of their own over the same predicted spans, densified by the same
  rule (``None`` when no answer has one): what ``think_gain`` compares the answers with.

:attr:`BatchInput.iteration` is the training iteration the answers were sampled at (set by
the :class:`~stvg.verifiers.verifier.Verifier`, ``None`` outside training): terms with a
schedule (``gate``) read it.

The ground truth of the batch's distinct samples (by identity: the answers of one prompt
share it) is packed once, densely over each ``gt_span``.
"""

from __future__ import annotations

import functools
import itertools
import weakref
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from stvg.data.types import Sample, Tube
from stvg.tubes.densify import (
    TubeBatch,
    densify_batch,
    frames_of_times,
    missing_frames_message,
    needs_frames,
)
from stvg.tubes.frames import FrameProvider
from stvg.verifiers.batch_parse import AnswerColumns, columns_of
from stvg.verifiers.formats.context import FrameContext, ParseResult
from stvg.verifiers.iou import box_iou_columns
from stvg.verifiers.spans import check_span


def _unique(objects: Sequence[object]) -> tuple[list[int], np.ndarray]:
    """Positions of the distinct objects (by identity) and each item's distinct index."""
    seen: dict[int, int] = {}
    first: list[int] = []
    index = np.empty(len(objects), dtype=np.int64)
    for i, obj in enumerate(objects):
        k = seen.get(id(obj))
        if k is None:
            k = seen[id(obj)] = len(first)
            first.append(i)
        index[i] = k
    return first, index


@dataclass(frozen=True, eq=False)
class _PackedTruth:
    """One sample's GT over its ``gt_span``: a box column, an area and a has-box flag per
    frame (float64 ``[4, L]``, ``[L]``, bool ``[L]``), and what it was packed from."""

    span: tuple[int, int]
    boxes: dict[int, list[float]]  # the sample's gt_boxes object (identity is checked)
    count: int  # len(boxes) when packed
    cols: np.ndarray
    area: np.ndarray
    has_box: np.ndarray


# Packed GT by Sample identity, dropped with the sample: RL and evaluation score the same
# Sample objects again and again, and packing their dicts is a tenth of a batch's time.
_PACKED: dict[int, tuple[weakref.ref[Sample], _PackedTruth]] = {}


def _packed(sample: Sample) -> _PackedTruth | None:
    """The cached packing of ``sample`` when it still describes the sample's GT."""
    entry = _PACKED.get(id(sample))
    if entry is None or entry[0]() is not sample:
        return None
    packed = entry[1]
    boxes = sample.gt_boxes
    if (
        packed.boxes is not boxes
        or packed.count != len(boxes)
        or packed.span != tuple(sample.gt_span)
    ):
        return None
    return packed


def _remember(sample: Sample, packed: _PackedTruth) -> None:
    key = id(sample)
    try:
        ref = weakref.ref(sample, lambda _, key=key: _PACKED.pop(key, None))
    except TypeError:  # a Sample subclass with __slots__: not cached
        return
    _PACKED[key] = (ref, packed)


def _pack(samples: Sequence[Sample]) -> list[_PackedTruth]:
    """Pack the GT of ``samples`` (one pass over all their boxes)."""
    n = len(samples)
    spans = np.zeros((n, 2), dtype=np.int64)
    for u, s in enumerate(samples):
        spans[u] = check_span(s.gt_span, f"sample {s.sample_id!r}: gt_span")
    first, last = spans[:, 0], spans[:, 1]
    counts = np.fromiter((len(s.gt_boxes) for s in samples), np.int64, n)
    total = int(counts.sum())
    try:
        values = itertools.chain.from_iterable(s.gt_boxes.values() for s in samples)
        if total and set(map(len, values)) != {4}:
            raise ValueError("a box without 4 coordinates")
        keys = np.fromiter(
            itertools.chain.from_iterable(s.gt_boxes for s in samples), np.int64, total
        )
        boxes = np.fromiter(
            itertools.chain.from_iterable(
                itertools.chain.from_iterable(s.gt_boxes.values()) for s in samples
            ),
            np.float64,
            4 * total,
        ).reshape(total, 4)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ValueError(
            "gt_boxes must map int frames to [x1, y1, x2, y2] boxes; samples "
            f"{[s.sample_id for s in samples][:5]} hold another value ({exc})"
        ) from exc
    owner = np.repeat(np.arange(n), counts)
    inside = (keys >= first[owner]) & (keys <= last[owner])
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(last - first + 1, out=offsets[1:])
    rows = (offsets[:-1] - first)[owner[inside]] + keys[inside]
    cols = np.zeros((4, int(offsets[-1])), dtype=np.float64)
    cols[:, rows] = boxes[inside].T
    has_box = np.zeros(int(offsets[-1]), dtype=bool)
    has_box[rows] = True
    area = np.maximum(cols[2] - cols[0], 0.0) * np.maximum(cols[3] - cols[1], 0.0)
    bounds = offsets.tolist()
    return [
        _PackedTruth(
            (int(first[u]), int(last[u])),
            s.gt_boxes,
            int(counts[u]),
            cols[:, lo:hi],
            area[lo:hi],
            has_box[lo:hi],
        )  # fmt: skip
        for u, (s, lo, hi) in enumerate(zip(samples, bounds[:-1], bounds[1:], strict=True))
    ]


class _GroundTruth:
    """GT boxes of distinct samples, one row per frame of each ``gt_span``, plus a null row.

    Row ``row_base[u] + f`` holds frame ``f`` of sample ``u`` (``gs <= f <= ge``): the box
    as annotated (column of ``cols``, float64 ``[4, R + 1]``), its area and whether the
    frame has a GT box (``has_box``).
    The last row (``null``) is a zero box without a GT box.

    Each sample's rows are packed once per ``Sample`` object and kept while it lives
    (:data:`_PACKED`); a sample whose ``gt_span`` or ``gt_boxes`` object (or its length)
    changed is packed again. ``Sample`` is frozen: change GT with ``dataclasses.replace``,
    not by editing a box list in place.
    """

    def __init__(self, samples: Sequence[Sample]) -> None:
        packed = [_packed(s) for s in samples]
        missing = [u for u, p in enumerate(packed) if p is None]
        if missing:
            for u, p in zip(missing, _pack([samples[u] for u in missing]), strict=True):
                packed[u] = p
                _remember(samples[u], p)
        parts: list[_PackedTruth] = packed  # type: ignore[assignment]
        n = len(parts)
        self.first = np.fromiter((p.span[0] for p in parts), np.int64, n)
        self.last = np.fromiter((p.span[1] for p in parts), np.int64, n)
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(self.last - self.first + 1, out=offsets[1:])
        self.row_base = offsets[:-1] - self.first
        self.null = int(offsets[-1])
        self.cols = np.concatenate([p.cols for p in parts] + [np.zeros((4, 1))], axis=1)
        self.area = np.concatenate([p.area for p in parts] + [np.zeros(1)])
        self.has_box = np.concatenate([p.has_box for p in parts] + [np.zeros(1, dtype=bool)])


class BatchInput:
    """A batch of parsed answers with their samples and contexts (see the module docstring).

    Args:
        columns: the parsed answers (``A`` of them).
        samples: per answer, the ground truth.
        contexts: per answer, what the model was shown.
        densify_method, densify_params, end_extension: the densify rule
            (:class:`stvg.tubes.DensifyConfig`, parameters resolved).
        frames: per answer, its video's frames (:class:`~stvg.tubes.frames.FrameProvider`,
            ``None`` = none), for a densify method that reads them (``track``).

    Attributes:
        columns, samples, contexts, frames: as given.
        ok: bool ``[A]``, usable answers.
        native_fps, num_frames, width, height: ``[A]`` each answer's video.
        gt_first, gt_last: int64 ``[A]`` each answer's GT span.
        pred_first, pred_last: int64 ``[A]`` predicted span (``0, -1`` when unusable).
        iteration: the 1-based training iteration whose rollouts these answers are
            (:meth:`~stvg.verifiers.verifier.Verifier.set_iteration`), or ``None``
            (evaluation, exports: scheduled terms take their final values).

    Raises:
        ValueError: a non-zero ``end_extension`` with a context without ``fps``; a
            malformed GT span or GT box; (when the tubes are densified) a method that
            reads frames without the frames of an answer with boxes.
    """

    def __init__(
        self,
        columns: AnswerColumns,
        samples: Sequence[Sample],
        contexts: Sequence[FrameContext],
        densify_method: str,
        densify_params: dict[str, float | int],
        end_extension: float,
        frames: Sequence[FrameProvider | None] | None = None,
    ) -> None:
        self.columns, self.samples, self.contexts = columns, samples, contexts
        self.frames = frames
        self.densify_method, self.densify_params = densify_method, densify_params
        self.ok = columns.ok
        first, self._sample_index = _unique(samples)
        self._distinct = [samples[i] for i in first]
        u, d = self._sample_index, self._distinct
        m = len(d)
        self.native_fps = np.fromiter((float(s.native_fps) for s in d), np.float64, m)[u]
        self.num_frames = np.fromiter((int(s.num_frames) for s in d), np.int64, m)[u]
        self.width = np.fromiter((float(s.width) for s in d), np.float64, m)[u]
        self.height = np.fromiter((float(s.height) for s in d), np.float64, m)[u]
        self.gt = _GroundTruth(d)
        self.gt_first, self.gt_last = self.gt.first[u], self.gt.last[u]
        # predicted spans (span_seconds_to_frames, vectorised)
        idx = np.flatnonzero(self.ok)
        start, end = columns.span_s[idx, 0], columns.span_s[idx, 1].copy()
        if end_extension:
            fps = [contexts[i].fps for i in idx.tolist()]
            if not all(fps):
                raise ValueError("end_extension needs the sampling rate fps")
            end += float(end_extension) / np.array(fps, dtype=np.float64)
        fps_ok, n_ok = self.native_fps[idx], self.num_frames[idx]
        pf = frames_of_times(start, fps_ok, n_ok)
        pl = np.maximum(pf, frames_of_times(end, fps_ok, n_ok))
        self.pred_first = np.zeros(len(columns), dtype=np.int64)
        self.pred_last = np.full(len(columns), -1, dtype=np.int64)
        self.pred_first[idx], self.pred_last[idx] = pf, pl
        self.iteration: int | None = None
        self._given_draft_tubes: list[Tube | None] | None = None

    def __len__(self) -> int:
        return len(self.columns)

    @classmethod
    def of_predictions(
        cls,
        parses: Sequence[ParseResult],
        samples: Sequence[Sample],
        contexts: Sequence[FrameContext],
        spans: Sequence[tuple[int, int] | None],
        tubes: Sequence[Tube | None],
        draft_tubes: Sequence[Tube | None] | None = None,
    ) -> BatchInput:
        """A batch of answers whose predictions are given instead of derived: each
        answer's ``(first, last)`` native-frame span and its tube (``None`` = unusable, or
        no boxes), and the densified draft lists of answers that have one
        (``draft_tubes``, ``None`` = all empty). What
        :class:`~stvg.verifiers.rewards.RewardInput` scores one answer with."""
        inp = cls(columns_of(parses), samples, contexts, "linear", {}, 0.0)
        for i, span in enumerate(spans):
            if span is not None:
                inp.pred_first[i], inp.pred_last[i] = int(span[0]), int(span[1])
        inp.__dict__["tubes"] = _given_tubes(tubes, inp.ok)  # a cached property, not densified
        if draft_tubes is not None:
            inp._given_draft_tubes = list(draft_tubes)
        return inp

    @functools.cached_property
    def failure_reasons(self) -> list[str | None]:
        """Per answer ``"parse failed: <error>"`` for unusable answers, else ``None``."""
        errors = self.columns.errors
        return [None if ok else f"parse failed: {errors[i]}" for i, ok in enumerate(self.ok)]

    @functools.cached_property
    def tubes(self) -> TubeBatch:
        """The densified tube of every answer (empty without boxes or when unusable)."""
        c = self.columns
        if needs_frames(self.densify_method):
            with_boxes = np.diff(c.box_offsets) > 0
            for i in np.flatnonzero(with_boxes).tolist():
                if self.frames is None or self.frames[i] is None:
                    where = f"sample {self.samples[i].sample_id!r}"
                    raise ValueError(missing_frames_message(self.densify_method, where))
        return densify_batch(
            self.densify_method,
            self.densify_params,
            first=self.pred_first,
            last=self.pred_last,
            box_offsets=c.box_offsets,
            times_s=c.times_s,
            boxes_xyxy=c.boxes_xyxy,
            native_fps=self.native_fps,
            num_frames=self.num_frames,
            width=self.width,
            height=self.height,
            frames=self.frames,
        )

    @functools.cached_property
    def _intersection(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per answer: first and last frame in both spans, and the union length."""
        first = np.maximum(self.pred_first, self.gt_first)
        last = np.minimum(self.pred_last, self.gt_last)
        union = np.maximum(self.pred_last, self.gt_last) - np.minimum(
            self.pred_first, self.gt_first
        )
        return first, last, union + 1

    @functools.cached_property
    def _frame_rows(self) -> tuple[np.ndarray, np.ndarray]:
        """Per tube frame: its GT row (null outside both spans) and whether it is inside."""
        tubes = self.tubes
        first, last, _ = self._intersection
        a = tubes.answer
        f = tubes.frame_idx
        inside = (f >= first[a]) & (f <= last[a])
        rows = np.where(inside, self.gt.row_base[self._sample_index[a]] + f, self.gt.null)
        return rows, inside

    @functools.cached_property
    def official(self) -> tuple[np.ndarray, np.ndarray]:
        """float64 ``[A]`` tIoU and vIoU by the span formula (0 for unusable answers)."""
        first, last, union = self._intersection
        n_inter = np.maximum(last - first + 1, 0)
        t_iou = np.where(self.ok, n_inter / np.maximum(union, 1), 0.0)
        tubes = self.tubes
        sums = np.zeros(len(self), dtype=np.float64)
        lengths = tubes.lengths
        nonempty = np.flatnonzero(lengths > 0)
        if nonempty.size:
            rows, _ = self._frame_rows
            gt = self.gt.cols.take(rows, axis=1)
            iou = box_iou_columns(tubes.boxes_xyxy.T, gt, b_area=self.gt.area[rows])
            sums[nonempty] = np.add.reduceat(iou, tubes.offsets[nonempty])
        sums = np.where(n_inter > 0, sums, 0.0)
        v_iou = np.where(self.ok, sums / np.maximum(union, 1), 0.0)
        return t_iou, v_iou

    @functools.cached_property
    def pairs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Frames with a predicted and a GT box inside both spans, all answers.

        Returns:
            ``(answer [M], pred [M, 4], gt [M, 4], count [A])``: the answer of each pair,
            the aligned boxes (original pixels) and the pairs per answer.
        """
        rows, inside = self._frame_rows
        keep = np.flatnonzero(inside & self.gt.has_box[rows])
        answer = self.tubes.answer[keep]
        count = np.bincount(answer, minlength=len(self))
        gt = self.gt.cols.take(rows[keep], axis=1).T
        return answer, self.tubes.boxes_xyxy[keep], gt, count

    @functools.cached_property
    def draft(self) -> BatchInput | None:
        """The answers' draft box lists as a batch (``None`` when no answer has one).

        Answer ``i`` of it is usable (``draft.ok[i]``) when answer ``i`` is and has a
        draft list; its span is the answer's predicted span (the same ``pred_first`` /
        ``pred_last``), its tube the draft list densified by the same rule, so that its
        :attr:`pairs` lie on the same frames as the answer's.
        """
        columns = self.columns.draft
        if columns is None:
            return None
        inp = BatchInput(
            columns, self.samples, self.contexts, self.densify_method, self.densify_params, 0.0
        )
        usable = inp.ok & self.ok
        inp.ok = usable
        inp.pred_first = np.where(usable, self.pred_first, 0)
        inp.pred_last = np.where(usable, self.pred_last, -1)
        inp.iteration = self.iteration
        if self._given_draft_tubes is not None:
            inp.__dict__["tubes"] = _given_tubes(self._given_draft_tubes, usable)
        return inp

    @functools.cached_property
    def box_counts(self) -> np.ndarray:
        """int64 ``[A]`` boxes of each answer (after parsing)."""
        return np.diff(self.columns.box_offsets)

    @functools.cached_property
    def shown_counts(self) -> np.ndarray:
        """int64 ``[A]`` frames shown for each answer (``ctx.frame_idx.size``)."""
        return np.fromiter((c.frame_idx.shape[0] for c in self.contexts), np.int64, len(self))


def _given_tubes(tubes: Sequence[Tube | None], usable: np.ndarray) -> TubeBatch:
    """``tubes`` as a :class:`TubeBatch` (``None`` or an unusable answer: empty)."""
    given = [Tube.empty() if t is None or not usable[i] else t for i, t in enumerate(tubes)]
    lengths = np.array([len(t) for t in given], dtype=np.int64)
    offsets = np.zeros(len(given) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    frames = np.concatenate([t.frame_idx for t in given]).astype(np.int64)
    boxes = np.concatenate([t.boxes_xyxy for t in given]).reshape(-1, 4)
    answer = np.repeat(np.arange(len(given), dtype=np.int64), lengths)
    return TubeBatch(frames, np.ascontiguousarray(boxes.T, dtype=np.float64).T, offsets, answer)


__all__ = ["BatchInput"]
