"""Verifiers: IoU maths, answer formats, reward terms, the composite verifier, dataset
metrics, predictions files, evaluation."""

from stvg.verifiers.evaluation import (
    EvaluationReport,
    MultiProtocolReport,
    evaluate,
    evaluate_protocols,
    format_table,
)
from stvg.verifiers.formats import (
    FORMATS,
    AnswerFormat,
    FrameContext,
    ParseResult,
    get_format,
)
from stvg.verifiers.iou import box_iou, box_iou_columns, box_iou_single, generalized_box_iou
from stvg.verifiers.metrics import (
    PROTOCOL_ALIASES,
    PROTOCOLS,
    GroundTruthTable,
    Protocol,
    SampleScore,
    ScoreBatch,
    canonical_protocol,
    dataset_metrics,
    score_sample,
    score_samples,
    temporal_iou,
    tubedetr_frame_grid,
)
from stvg.verifiers.predictions import (
    LoadedPredictions,
    Prediction,
    load_predictions,
    read_predictions,
    write_predictions,
)
from stvg.verifiers.rewards import REWARD_TERMS, RewardInput, TermScore, register_term
from stvg.verifiers.verifier import (
    TermConfig,
    Verifier,
    VerifierConfig,
    VerifierResult,
    load_verifier_config,
)

__all__ = [
    "FORMATS",
    "PROTOCOLS",
    "PROTOCOL_ALIASES",
    "LoadedPredictions",
    "MultiProtocolReport",
    "canonical_protocol",
    "evaluate_protocols",
    "load_predictions",
    "REWARD_TERMS",
    "AnswerFormat",
    "EvaluationReport",
    "FrameContext",
    "GroundTruthTable",
    "ParseResult",
    "Prediction",
    "Protocol",
    "RewardInput",
    "SampleScore",
    "ScoreBatch",
    "TermConfig",
    "TermScore",
    "Verifier",
    "VerifierConfig",
    "VerifierResult",
    "box_iou",
    "box_iou_columns",
    "box_iou_single",
    "dataset_metrics",
    "evaluate",
    "format_table",
    "generalized_box_iou",
    "get_format",
    "load_verifier_config",
    "read_predictions",
    "register_term",
    "score_sample",
    "score_samples",
    "temporal_iou",
    "tubedetr_frame_grid",
    "write_predictions",
]
