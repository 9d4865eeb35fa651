"""Make an env by its Gymnasium id: the one factory the trainers, rollout workers and
evaluations use."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import gymnasium as gym

if TYPE_CHECKING:
    from stvg.envs.config import EnvConfig


def make_env(
    env_id: str, kwargs: Mapping[str, Any], max_episode_steps: int | None = None
) -> gym.Env:
    """``gymnasium.make(env_id, **kwargs)``, with a ``TimeLimit`` when ``max_episode_steps``
    and, when ``kwargs`` has ``flat_observation`` (the keys of
    :class:`~stvg.envs.config.FlatObservationConfig`), the numbers-only observations of
    :class:`~stvg.envs.wrappers.FlatTrackingObservation` around it."""
    import stvg  # noqa: F401  (registers the stvg/... ids)

    kwargs = dict(kwargs)
    flat = kwargs.pop("flat_observation", None)
    extra = {} if max_episode_steps is None else {"max_episode_steps": int(max_episode_steps)}
    env = gym.make(env_id, **extra, **kwargs)
    if flat is not None:
        from stvg.envs.wrappers import FlatTrackingObservation

        env = FlatTrackingObservation(env, **dict(flat))
    return env


def make_env_of(config: EnvConfig, **overrides: Any) -> gym.Env:
    """The env of an :class:`~stvg.envs.config.EnvConfig` (``overrides``: keyword arguments
    that replace its own, e.g. ``samples=...``)."""
    return make_env(config.id, {**config.env_kwargs(), **overrides}, config.max_episode_steps)


__all__ = ["make_env", "make_env_of"]
