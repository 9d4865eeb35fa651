"""Evaluation: the one path that runs a policy over a split and scores it.

Answers come in batches from the policy (:func:`~stvg.evaluation.episodes.answer_batch`),
each is played in the env (:func:`~stvg.evaluation.episodes.finish_episodes`), the
prediction the env scored goes to the official metrics (:mod:`stvg.verifiers.evaluation`)
with the cost figures. ``stvg evaluate --policy``, ``stvg run``'s two evaluations, sweeps,
SFT validation and the RL trainer's greedy probe use it.
"""

from stvg.evaluation.config import PolicyEvalConfig, load_policy_eval_config, with_cli_overrides
from stvg.evaluation.controls import CONTROL_METRICS, compare_control, format_control
from stvg.evaluation.episodes import answer_batch, finish_episodes, predict_answers
from stvg.evaluation.evaluate import (
    EvaluationStopped,
    PolicyEvaluation,
    build_policy,
    evaluate_policy,
)
from stvg.policies.spec import PolicySpec

__all__ = [
    "CONTROL_METRICS",
    "EvaluationStopped",
    "PolicyEvalConfig",
    "PolicyEvaluation",
    "PolicySpec",
    "answer_batch",
    "build_policy",
    "compare_control",
    "evaluate_policy",
    "finish_episodes",
    "format_control",
    "load_policy_eval_config",
    "predict_answers",
    "with_cli_overrides",
]
