"""RL algorithms for the shared training loop: GRPO (and Dr. GRPO, DAPO), PPO, RLOO."""

from stvg.training.algorithms.advantages import (
    generalized_advantage_estimates,
    group_normalized_advantages,
    rloo_advantages,
)
from stvg.training.algorithms.base import (
    AdvantageResult,
    Algorithm,
    Minibatch,
    PolicyOutputs,
    policy_outputs,
)
from stvg.training.algorithms.grpo import GRPO, grpo_loss, informative_groups
from stvg.training.algorithms.kl import approx_kl, k3_kl
from stvg.training.algorithms.ppo import PPO, explained_variance, normalize_advantages, ppo_loss
from stvg.training.algorithms.registry import build_algorithm
from stvg.training.algorithms.rloo import RLOO, rloo_loss

__all__ = [
    "GRPO",
    "PPO",
    "RLOO",
    "AdvantageResult",
    "Algorithm",
    "Minibatch",
    "PolicyOutputs",
    "approx_kl",
    "build_algorithm",
    "policy_outputs",
    "explained_variance",
    "generalized_advantage_estimates",
    "group_normalized_advantages",
    "grpo_loss",
    "informative_groups",
    "k3_kl",
    "normalize_advantages",
    "ppo_loss",
    "rloo_advantages",
    "rloo_loss",
]
