"""Which boxes are drawn on which native frame: the ground-truth and the predicted tube.

A box is drawn on frame ``f`` only when ``f`` lies inside its tube's span (inclusive
native frames) *and* the tube has a box at ``f``: the ground truth on frames of
``sample.gt_span`` that carry an annotated box, the prediction on frames of
``prediction.span`` that carry a predicted box. These are exactly the boxes that the
span formula scores, so a picture never shows a box that is not counted.

A frame's IoU (:meth:`TubePair.frame_iou`) is what vIoU adds up for it: every frame from
the earlier start to the later end of the two spans (``U``, vIoU's denominator) counts,
with the IoU of its two boxes, or 0 when one of them is missing there (a frame inside the
predicted span but outside the ground truth, or the reverse). The mean of the IoUs of all
frames of ``U`` is the sample's vIoU.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from stvg.data.types import Sample, Tube
from stvg.verifiers.iou import box_iou_single
from stvg.verifiers.predictions import Prediction


def _box_at(tube: Tube | None, span: tuple[int, int] | None, frame_idx: int) -> np.ndarray | None:
    """The box of ``tube`` at ``frame_idx`` when the frame is inside ``span``, else ``None``."""
    if tube is None or span is None or len(tube) == 0:
        return None
    if not span[0] <= frame_idx <= span[1]:
        return None
    pos = int(np.searchsorted(tube.frame_idx, frame_idx))
    if pos < len(tube) and int(tube.frame_idx[pos]) == frame_idx:
        return tube.boxes_xyxy[pos]
    return None


@dataclass(frozen=True)
class TubePair:
    """The ground-truth tube and the predicted tube of one sample, looked up by frame.

    Attributes:
        gt_span: inclusive ``(first, last)`` 0-based native frames of the ground truth.
        gt_tube: ground-truth boxes ``[x1, y1, x2, y2]`` (original-video pixels).
        pred_span: inclusive ``(first, last)`` native frames of the prediction, ``None``
            without a prediction.
        pred_tube: predicted boxes (original-video pixels), ``None`` without boxes.
    """

    gt_span: tuple[int, int]
    gt_tube: Tube
    pred_span: tuple[int, int] | None = None
    pred_tube: Tube | None = None

    @classmethod
    def from_sample(cls, sample: Sample, prediction: Prediction | None = None) -> TubePair:
        """The pair of ``sample``'s ground truth and ``prediction`` (``None``: GT only)."""
        if prediction is None:
            return cls(tuple(sample.gt_span), sample.gt_tube())
        return cls(tuple(sample.gt_span), sample.gt_tube(), prediction.span, prediction.tube)

    def gt_box(self, frame_idx: int) -> np.ndarray | None:
        """Ground-truth box (float64 ``[4]``, original pixels) at native frame
        ``frame_idx``, or ``None`` outside ``gt_span`` or on a frame without a GT box."""
        return _box_at(self.gt_tube, self.gt_span, int(frame_idx))

    def pred_box(self, frame_idx: int) -> np.ndarray | None:
        """Predicted box (float64 ``[4]``, original pixels) at native frame ``frame_idx``,
        or ``None`` outside ``pred_span`` or on a frame without a predicted box."""
        return _box_at(self.pred_tube, self.pred_span, int(frame_idx))

    @property
    def scored_span(self) -> tuple[int, int] | None:
        """``U``: from the earlier start to the later end of the two spans (inclusive
        native frames), the frames vIoU divides by; ``None`` without a prediction."""
        if self.pred_span is None:
            return None
        return min(self.gt_span[0], self.pred_span[0]), max(self.gt_span[1], self.pred_span[1])

    def frame_iou(self, frame_idx: int) -> float | None:
        """What vIoU counts for ``frame_idx``: on a frame of :attr:`scored_span`, the IoU in
        ``[0, 1]`` of the predicted and the ground-truth box
        (:func:`stvg.verifiers.iou.box_iou_single`), or 0 when either box is missing there;
        ``None`` on a frame outside it or without a prediction (not scored).

        >>> pair = TubePair((0, 1), Tube.from_dict({0: [0, 0, 10, 10], 1: [0, 0, 10, 10]}),
        ...                 (1, 2), Tube.from_dict({1: [0, 0, 10, 5], 2: [0, 0, 10, 5]}))
        >>> pair.frame_iou(0), pair.frame_iou(1), pair.frame_iou(2), pair.frame_iou(3)
        (0.0, 0.5, 0.0, None)
        """
        scored = self.scored_span
        if scored is None or not scored[0] <= int(frame_idx) <= scored[1]:
            return None
        gt, pred = self.gt_box(frame_idx), self.pred_box(frame_idx)
        if gt is None or pred is None:
            return 0.0
        return box_iou_single(pred, gt)


__all__ = ["TubePair"]
