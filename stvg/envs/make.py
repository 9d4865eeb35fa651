"""Make an env by its Gymnasium id: the one factory the trainers, rollout workers and
evaluations use."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium as gym


def make_env(
    env_id: str, kwargs: Mapping[str, Any], max_episode_steps: int | None = None
) -> gym.Env:
    """``gymnasium.make(env_id, **kwargs)`` (with a ``TimeLimit`` when ``max_episode_steps``)."""
    import stvg  # noqa: F401  (registers the stvg/... ids)

    extra = {} if max_episode_steps is None else {"max_episode_steps": int(max_episode_steps)}
    return gym.make(env_id, **extra, **dict(kwargs))


__all__ = ["make_env"]
