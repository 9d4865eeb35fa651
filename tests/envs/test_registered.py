"""Every registered env id, with every action format: the Gymnasium contract.

``check_env``, a seeded determinism rollout, ``observation_space.contains`` on every
observation, and ``gymnasium.make_vec`` in ``sync`` and ``async`` modes.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env, data_equivalence

import stvg  # noqa: F401  (registers the ids)
from stvg.envs.registration import ENV_IDS

# (id, env kwargs, whether the kwargs name the small split)
CASES: list[tuple[str, dict[str, Any], bool]] = [
    ("stvg/Grounding-v0", {"action_format": "text"}, True),
    ("stvg/Grounding-v0", {"action_format": "struct", "sample_order": "shuffle"}, True),
    ("stvg/Synthetic-v0", {"action_format": "text", "max_side": 64}, False),
    ("stvg/Synthetic-v0", {"action_format": "struct", "max_side": 64, "fps": None}, False),
    ("stvg/Tracking-v0", {"reward_mode": "sparse", "sample_order": "shuffle"}, True),
    ("stvg/Tracking-v0", {"reward_mode": "dense", "include_prev_box": True}, True),
    ("stvg/SyntheticTracking-v0", {"max_side": 64, "fps": 2.0}, False),
    ("stvg/SyntheticTrackingFlat-v0", {"max_side": 64, "frame_size": 8}, False),
    ("stvg/ZoomGrounding-v0", {"action_format": "text"}, True),
    ("stvg/ZoomGrounding-v0", {"action_format": "struct", "fps": 2.0, "glance_fps": 0.5}, True),
    ("stvg/SyntheticZoom-v0", {"action_format": "struct", "max_side": 64, "max_zooms": 3}, False),
]
CASE_IDS = [f"{env_id}-{i}" for i, (env_id, _, _) in enumerate(CASES)]


Case = tuple[str, dict[str, Any], bool]


def env_kwargs(case: Case, split_kwargs: dict[str, str]) -> dict[str, Any]:
    """The case's env kwargs, plus the small split's dataset kwargs when it names one."""
    _, kwargs, uses_split = case
    return {**kwargs, **split_kwargs} if uses_split else dict(kwargs)


def make(case: Case, split_kwargs: dict[str, str], **extra: Any) -> gym.Env:
    return gym.make(case[0], **env_kwargs(case, split_kwargs), **extra)


def test_every_registered_id_is_covered() -> None:
    assert set(ENV_IDS) == {env_id for env_id, _, _ in CASES}
    assert set(ENV_IDS) <= set(gym.registry)


@pytest.mark.filterwarnings("ignore:.*symmetric and normalized space")
@pytest.mark.filterwarnings("ignore:.*different from the unwrapped version")
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_check_env(case: Case, small_split_kwargs: dict[str, str]) -> None:
    env = make(case, small_split_kwargs, disable_env_checker=True)
    # The flat id is a wrapper by design: check the wrapper, not the env inside it.
    wrapped = case[0] == "stvg/SyntheticTrackingFlat-v0"
    check_env(env if wrapped else env.unwrapped, skip_render_check=True)
    env.close()


def rollout(env: gym.Env, seed: int, episodes: int) -> tuple[list[Any], list[float]]:
    """Observations and rewards of ``episodes`` episodes with seeded random actions."""
    env.action_space.seed(seed)
    observations, rewards = [], []
    obs, _ = env.reset(seed=seed)
    for _ in range(episodes):
        observations.append(obs)
        assert env.observation_space.contains(obs)
        terminated = truncated = False
        while not (terminated or truncated):
            obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
            assert env.observation_space.contains(obs)
            assert np.isfinite(reward)
            observations.append(obs)
            rewards.append(float(reward))
        assert "t_iou" in info and "v_iou" in info and "cost/frames_shown" in info
        obs, _ = env.reset()
    return observations, rewards


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_seeded_determinism_and_contains(case: Case, small_split_kwargs: dict[str, str]) -> None:
    first = rollout(make(case, small_split_kwargs), seed=7, episodes=3)
    second = rollout(make(case, small_split_kwargs), seed=7, episodes=3)
    assert len(first[0]) == len(second[0])
    for a, b in zip(first[0], second[0], strict=True):
        assert data_equivalence(a, b)
    assert first[1] == second[1]


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_make_vec(mode: str, case: Case, small_split_kwargs: dict[str, str]) -> None:
    envs = gym.make_vec(
        case[0], num_envs=2, vectorization_mode=mode, **env_kwargs(case, small_split_kwargs)
    )
    try:
        envs.action_space.seed(3)
        obs, _ = envs.reset(seed=3)
        assert envs.observation_space.contains(obs)
        for _ in range(3):
            obs, rewards, terminated, truncated, _ = envs.step(envs.action_space.sample())
            assert envs.observation_space.contains(obs)
            assert rewards.shape == (2,) and np.all(np.isfinite(rewards))
    finally:
        envs.close()
