"""The algorithm object of a :class:`~stvg.training.config.TrainConfig`."""

from __future__ import annotations

from stvg.training.algorithms.base import Algorithm
from stvg.training.algorithms.grpo import GRPO
from stvg.training.algorithms.ppo import PPO
from stvg.training.algorithms.rloo import RLOO
from stvg.training.config import TrainConfig


def build_algorithm(config: TrainConfig) -> Algorithm:
    """``GRPO``, ``RLOO`` or ``PPO`` built from the config's section of that name.

    Raises:
        ValueError: ``rllib_ppo`` (RLlib runs its own loop: :mod:`stvg.training.rllib_ppo`).
    """
    if config.algorithm == "grpo":
        return GRPO(config.grpo)
    if config.algorithm == "rloo":
        return RLOO(config.rloo)
    if config.algorithm == "ppo":
        return PPO(config.ppo)
    raise ValueError(
        f"algorithm {config.algorithm!r} has no loop-based trainer; rllib_ppo runs through "
        "stvg.training.rllib_ppo.train_rllib_ppo"
    )


__all__ = ["build_algorithm"]
