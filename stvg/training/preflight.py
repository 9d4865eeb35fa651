"""Checks of a :class:`~stvg.training.config.TrainConfig` that need the registries or the
file system, run by ``stvg train`` before the run directory, Ray or any worker exists: the
env id, the policy name, the dataset name and its root folder.

Each failure is a :class:`~stvg.config.ConfigError` naming the config file, the full key
path and the known choices.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stvg.config import ConfigError


def check_train_names(config: Any, source: str | None = None) -> None:
    """Raise :class:`ConfigError` when ``config`` names an unknown env id, policy or
    dataset, or a dataset ``root`` folder that does not exist.

    Args:
        config: the run's ``TrainConfig``.
        source: the config file (named in the message).
    """
    import gymnasium as gym

    import stvg  # noqa: F401  (registers the stvg/... env ids)
    from stvg.data.datasets import dataset_names
    from stvg.policies.registry import policy_class, registered_policies

    where = f" (in {source})" if source else ""
    env_id = config.env.id
    if env_id not in gym.registry:
        known = sorted(k for k in gym.registry if k.startswith("stvg/"))
        raise ConfigError(
            f"config key env.id: unknown env {env_id!r}{where}; registered stvg envs: {known}"
        )
    name = config.policy.name
    try:
        policy_class(name)
    except ValueError:
        raise ConfigError(
            f"config key policy.name: unknown policy {name!r}{where}; registered: "
            f"{registered_policies()}"
        ) from None
    dataset = config.env.dataset
    if dataset is not None and dataset not in dataset_names():
        raise ConfigError(
            f"config key env.dataset: unknown dataset {dataset!r}{where}; choose one "
            f"of {dataset_names()}"
        )
    root = config.env.root
    if root is not None and not Path(str(root)).expanduser().is_dir():
        raise ConfigError(
            f"config key env.root: folder {root} does not exist{where}; point it at "
            "the dataset folder (stvg data synth --out makes a synthetic one)"
        )


__all__ = ["check_train_names"]
