"""Verifiers: IoU maths, answer formats, dataset metrics, predictions files, evaluation."""

from stvg.verifiers.evaluation import EvaluationReport, evaluate, format_table
from stvg.verifiers.formats import (
    FORMATS,
    AnswerFormat,
    FrameContext,
    ParseResult,
    get_format,
)
from stvg.verifiers.iou import box_iou, box_iou_single, generalized_box_iou
from stvg.verifiers.metrics import (
    PROTOCOLS,
    GroundTruthTable,
    Protocol,
    SampleScore,
    dataset_metrics,
    score_sample,
    score_samples,
    temporal_iou,
    tubedetr_frame_grid,
)
from stvg.verifiers.predictions import Prediction, read_predictions, write_predictions

__all__ = [
    "FORMATS",
    "PROTOCOLS",
    "AnswerFormat",
    "EvaluationReport",
    "FrameContext",
    "GroundTruthTable",
    "ParseResult",
    "Prediction",
    "Protocol",
    "SampleScore",
    "box_iou",
    "box_iou_single",
    "dataset_metrics",
    "evaluate",
    "format_table",
    "generalized_box_iou",
    "get_format",
    "read_predictions",
    "score_sample",
    "score_samples",
    "temporal_iou",
    "tubedetr_frame_grid",
    "write_predictions",
]
