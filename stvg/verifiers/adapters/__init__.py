"""Adapters to external RL trainers: TRL reward functions and verl's ``compute_score``."""

from stvg.verifiers.adapters.common import (
    OPTIONAL_KEYS,
    REQUIRED_KEYS,
    GroundTruth,
    VerifierCache,
    ground_truth_from_dict,
    ground_truth_to_dict,
)
from stvg.verifiers.adapters.trl import TrlReward, completion_text, make_trl_reward
from stvg.verifiers.adapters.verl import compute_score, verl_result

__all__ = [
    "OPTIONAL_KEYS",
    "REQUIRED_KEYS",
    "GroundTruth",
    "TrlReward",
    "VerifierCache",
    "completion_text",
    "compute_score",
    "ground_truth_from_dict",
    "ground_truth_to_dict",
    "make_trl_reward",
    "verl_result",
]
