"""Which trainer runs an RL config: chosen once, here, from ``algorithm``."""

from __future__ import annotations

from typing import Any


def trainer_class(algorithm: str) -> Any:
    """``RLlibPPOTrainer`` for ``rllib_ppo``, else the shared-loop ``Trainer`` (GRPO, RLOO,
    PPO)."""
    if algorithm == "rllib_ppo":
        from stvg.training.rllib_ppo import RLlibPPOTrainer

        return RLlibPPOTrainer
    from stvg.training.loop import Trainer

    return Trainer


def create_trainer(config: Any) -> Any:
    """A new run of the :class:`~stvg.training.config.TrainConfig` ``config`` with its
    algorithm's trainer (``trainer.train()`` runs it, ``trainer.close()`` stops it)."""
    return trainer_class(config.algorithm).create(config)


__all__ = ["create_trainer", "trainer_class"]
