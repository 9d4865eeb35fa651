"""Group rollouts (GRPO/RLOO) score each prompt's answers in one batched call of the env's
``score_group``, with the same experience as resetting and stepping before every answer."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
from rl_helpers import env_kwargs

from stvg.training.rollout import RolloutTask, RolloutWorker, group_scorer


def _worker(root: Path, checkpoint: Path) -> RolloutWorker:
    return RolloutWorker(
        "stvg/Grounding-v0", env_kwargs(root), None, "native", {"checkpoint": str(checkpoint)}
    )


def test_group_scoring_gives_the_experience_of_stepping_every_answer(setup) -> None:
    root, checkpoint = setup
    task = RolloutTask(
        index=0, sample_ids=("train_0000.mp4", "train_0002.mp4", "train_0000.mp4"),
        group_size=4, seed=11,
    )  # fmt: skip
    batched = _worker(root, checkpoint)
    assert group_scorer(batched.env) is not None  # gymnasium.make's wrappers only
    stepped = _worker(root, checkpoint)
    stepped.env = gym.Wrapper(stepped.env)  # any other wrapper: answer by answer
    assert group_scorer(stepped.env) is None
    a, b = batched.run(task), stepped.run(task)
    assert a.sample_ids == b.sample_ids == [sid for sid in task.sample_ids for _ in range(4)]
    np.testing.assert_array_equal(a.rewards, b.rewards)
    assert np.unique(a.rewards).size > 1  # the answers differ: the test sees the order
    assert [e.metrics for e in a.episodes] == [e.metrics for e in b.episodes]
    assert [e.episode_return for e in a.episodes] == list(a.rewards)


def test_an_env_that_overrides_step_is_stepped(setup) -> None:
    """A subclass that changes ``step`` (reward shaping) but not ``score_group`` must not be
    bypassed: its rollouts step every answer, and get its shaped rewards."""
    from stvg.envs.grounding import GroundingEnv

    class Shaped(GroundingEnv):
        def step(self, action):
            obs, reward, terminated, truncated, info = super().step(action)
            return obs, reward + 10.0, terminated, truncated, info

    class Both(Shaped):
        def score_group(self, actions):
            return [(reward + 10.0, info) for reward, info in super().score_group(actions)]

    root, checkpoint = setup
    worker = _worker(root, checkpoint)
    assert group_scorer(Shaped(env_kwargs(root))) is None
    assert group_scorer(Both(env_kwargs(root))) is not None  # it shapes both ways
    task = RolloutTask(index=0, sample_ids=("train_0001.mp4",), group_size=3, seed=2)
    plain = worker.run(task)
    worker.env = gym.wrappers.OrderEnforcing(Shaped(env_kwargs(root)))
    shaped = worker.run(task)
    np.testing.assert_allclose(shaped.rewards, plain.rewards + 10.0)
