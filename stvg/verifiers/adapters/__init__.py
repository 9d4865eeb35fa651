"""Adapters to external RL trainers: TRL reward functions and verl's ``compute_score``."""

from stvg.verifiers.adapters.common import (
    OPTIONAL_KEYS,
    REQUIRED_KEYS,
    GroundTruth,
    VerifierCache,
    ground_truth_from_dict,
    ground_truth_to_dict,
    score_records,
)
from stvg.verifiers.adapters.trl import TrlReward, completion_text, make_trl_reward
from stvg.verifiers.adapters.verl import compute_score, compute_score_batch, verl_result

__all__ = [
    "OPTIONAL_KEYS",
    "REQUIRED_KEYS",
    "GroundTruth",
    "TrlReward",
    "VerifierCache",
    "completion_text",
    "compute_score",
    "compute_score_batch",
    "ground_truth_from_dict",
    "ground_truth_to_dict",
    "make_trl_reward",
    "score_records",
    "verl_result",
]
