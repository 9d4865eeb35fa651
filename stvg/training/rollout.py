"""Rollout workers: an env and a policy copy that play rollout tasks into :class:`Experience`.

A :class:`RolloutTask` names the samples to play and a seed; the worker loads the weights
it is given (when their version is new), reseeds the policy's sampling from the task seed
and plays:

* **groups** (``group_size > 1``, single-turn envs, GRPO/RLOO): for each sample, one
  observation and ``group_size`` answers sampled together, all scored on *the same
  sample*: in one batched call of the env's ``score_group`` (``GroundingEnv``), or, for
  another env, with ``env.reset(options={"sample_id": ...})`` before every step;
* **episodes** (``group_size == 1``, any env, PPO): for each sample one episode, one
  ``policy.sample([obs], 1)`` per step, until termination or truncation. After a
  truncation the critic's value of the final observation is stored for bootstrapping;
* **episode groups** (``group_size > 1`` on a multi-step env, :func:`plays_episodes`:
  the glance-and-zoom env; GRPO/RLOO): for each sample ``group_size`` whole episodes, one
  after the other, played as in episodes mode. Every row records its episode
  (:attr:`Experience.trajectory`), so a trajectory's reward gives one advantage to every
  action of it.

A sample whose video the env cannot decode is, with the env's ``on_bad_video: skip``,
replaced by the env (see :mod:`stvg.envs.bad_videos`): the rows and episode records name
the sample actually played, and each episode record says whether it replaced one
(:data:`BAD_VIDEO_KEY`; the iteration's log has the share, ``charts/bad_video_frac``).

Because everything random in a task comes from its seed, a task gives the same experience
on any worker, in this process or in a Ray actor, first try or after a restart.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from stvg.envs.base import GroupScoring
from stvg.envs.contract import check_env_policy
from stvg.envs.make import make_env
from stvg.envs.scoring import set_verifier_iteration
from stvg.policies.base import Rollouts, SeededSampler, TextCompletion, ValueHead, env_action
from stvg.policies.modes import set_train_mode
from stvg.policies.registry import make
from stvg.training.batch import EpisodeRecord, Experience, concat_rollouts

#: ``info`` keys (and prefixes) copied into :class:`EpisodeRecord.metrics`.
METRIC_KEYS = ("reward", "t_iou", "v_iou", "parse_ok", "format_ok", "num_repairs")
METRIC_PREFIXES = ("reward/", "cost/")
#: Episode figure: 1 when the episode plays a replacement for a scheduled sample whose
#: video could not be decoded (env ``on_bad_video: skip``), else 0. Logged as
#: ``charts/bad_video_frac``: the share of the iteration's answers (= of its prompts)
#: that replaced a bad video.
BAD_VIDEO_KEY = "bad_video_frac"


@dataclass(frozen=True)
class RolloutTask:
    """One unit of rollout work.

    Attributes:
        index: position of the task in its iteration (results are put in this order).
        sample_ids: the samples to play, in order.
        group_size: answers per sample (``> 1``: groups mode) or 1 (episodes mode).
        seed: seeds the policy's sampling for the whole task.
        iteration: the trainer's iteration (1-based) the task belongs to, told to the env's
            verifier before it scores (scheduled reward terms read it); ``None`` = not
            part of a training run.
    """

    index: int
    sample_ids: tuple[str, ...]
    group_size: int
    seed: int
    iteration: int | None = None


#: Wrappers that do not change what a single-turn env's step returns for its answer
#: (``gymnasium.make`` adds them); only through these may rollouts score a group at once.
STEP_NEUTRAL_WRAPPERS = (
    gym.wrappers.TimeLimit,
    gym.wrappers.OrderEnforcing,
    gym.wrappers.PassiveEnvChecker,
)


def group_scorer(env: gym.Env) -> Any:
    """The env's ``score_group`` (answers of one episode scored at once) when the env
    declares it (:class:`~stvg.envs.base.GroupScoring` with ``scores_groups`` true), else
    ``None``; also ``None`` when a wrapper that may change a step lies in between."""
    layer: Any = env
    while isinstance(layer, gym.Wrapper):
        if type(layer) not in STEP_NEUTRAL_WRAPPERS:
            return None
        layer = layer.env
    if isinstance(layer, GroupScoring) and layer.scores_groups:
        return layer.score_group
    return None


def plays_episodes(env: gym.Env) -> bool:
    """Whether group sampling must play whole episodes on ``env``: its unwrapped env may
    take more than one step (a ``max_turns`` above 1, the glance-and-zoom env's)."""
    return int(getattr(env.unwrapped, "max_turns", 1) or 1) > 1


def make_policy(name: str, config: Mapping[str, Any]) -> Any:
    """``stvg.policies.make(name, **config)``."""
    return make(name, **dict(config))


def episode_metrics(info: Mapping[str, Any], action: Any = None) -> dict[str, float]:
    """The numeric figures of a final ``info`` (see :data:`METRIC_KEYS`), plus, for a
    :class:`TextCompletion` ``action``, ``completions/mean_length`` (generated tokens) and
    ``completions/clipped_ratio`` (1 when the token budget cut it, TRL's names)."""
    out: dict[str, float] = {}
    for key, value in info.items():
        if key in METRIC_KEYS or key.startswith(METRIC_PREFIXES):
            if isinstance(value, (bool, int, float, np.integer, np.floating)):
                out[key] = float(value)
    if isinstance(action, TextCompletion):
        out["completions/mean_length"] = float(action.output_tokens)
        if action.finished is not None:
            out["completions/clipped_ratio"] = 0.0 if action.finished else 1.0
    return out


def reseed_policy(policy: Any, seed: int) -> None:
    """Seed everything a policy samples from: its own ``generator`` (a
    :class:`~stvg.policies.base.SeededSampler`) and the global torch, NumPy and Python
    generators."""
    if isinstance(policy, SeededSampler) and isinstance(policy.generator, torch.Generator):
        policy.generator.manual_seed(int(seed))
    torch.manual_seed(int(seed))
    np.random.seed(int(seed) % (2**32))
    random.seed(int(seed))


class RolloutWorker:
    """An env and a policy copy that play :class:`RolloutTask` s.

    Used as is in the learner's process (``num_workers: 0``) or as a Ray actor
    (``ray.remote(RolloutWorker)``).

    Args:
        env_id, env_kwargs, max_episode_steps: the env (see :func:`make_env`).
        policy_name, policy_config: the policy (see :func:`make_policy`); its weights come
            with the tasks.
        env_seed: seed of the env's first reset.
        torch_threads: torch intra-op threads of this process (``None`` = unchanged).
    """

    def __init__(
        self,
        env_id: str,
        env_kwargs: Mapping[str, Any],
        max_episode_steps: int | None,
        policy_name: str,
        policy_config: Mapping[str, Any],
        *,
        env_seed: int = 0,
        torch_threads: int | None = None,
    ) -> None:
        if torch_threads is not None:
            torch.set_num_threads(max(1, int(torch_threads)))
        self.env = make_env(env_id, env_kwargs, max_episode_steps)
        self.env.reset(seed=int(env_seed))
        self.policy = make_policy(policy_name, policy_config)
        check_env_policy(self.env, self.policy, env_name=f"env {env_id}", policy_name=policy_name)
        set_train_mode(self.policy, False)
        self.version = -1

    def sample_ids(self) -> list[str]:
        """The ids of the env's samples, in dataset order."""
        return [s.sample_id for s in self.env.unwrapped.samples]

    def set_weights(self, weights: Mapping[str, Any], version: int) -> None:
        """Load ``weights`` unless this version is already loaded."""
        if version != self.version:
            self.policy.load_state_dict(weights)
            self.version = int(version)

    def run(
        self, task: RolloutTask, weights: Mapping[str, Any] | None = None, version: int = -1
    ) -> Experience:
        """Play ``task`` with ``weights`` (version ``version``; ``None`` keeps the current)."""
        if weights is not None:
            self.set_weights(weights, version)
        reseed_policy(self.policy, task.seed)
        set_verifier_iteration(self.env, task.iteration)
        with torch.no_grad():
            if task.group_size > 1 and not plays_episodes(self.env):
                return self._play_groups(task)
            # episode groups: each sample's group_size episodes, one after the other
            asked = [sid for sid in task.sample_ids for _ in range(task.group_size)]
            return self._play_episodes(asked)

    def _play_groups(self, task: RolloutTask) -> Experience:
        env, n = self.env, task.group_size
        observations, played, bad = [], [], []
        for sid in task.sample_ids:
            obs, info = env.reset(options={"sample_id": sid})
            observations.append(obs)
            played.append(info.get("sample_id", sid))  # another sample when sid's video is bad
            bad.append(1.0 if info.get("bad_videos") else 0.0)
        rollouts = self.policy.sample(observations, n)
        rows = len(rollouts)
        groups = [int(g) for g in rollouts.obs_index]
        scored = self._score_groups(played, groups, rollouts.actions, n)
        rewards, episodes, sample_ids = [], [], []
        for row, action in enumerate(rollouts.actions):
            group = groups[row]
            sid = played[group]
            reward, info = scored[row]
            rewards.append(reward)
            sample_ids.append(sid)
            metrics = {**episode_metrics(info, action), BAD_VIDEO_KEY: bad[group]}
            episodes.append(EpisodeRecord(sid, reward, 1, metrics))
        return Experience(
            observations=list(observations),
            rollouts=rollouts,
            rewards=np.asarray(rewards),
            terminated=np.ones(rows, dtype=bool),
            truncated=np.zeros(rows, dtype=bool),
            next_values=np.zeros(rows),
            sample_ids=sample_ids,
            episodes=episodes,
        )

    def _score_groups(
        self, played: Sequence[str], groups: Sequence[int], actions: Sequence[Any], group_size: int
    ) -> list[tuple[float, dict[str, Any]]]:
        """``(reward, info)`` of each answer (row) on its group's sample ``played[group]``.

        An env with ``score_group`` (``GroundingEnv``) scores each group's answers in one
        batched call after one reset, when only gymnasium's step-neutral wrappers
        (:data:`STEP_NEUTRAL_WRAPPERS`) lie between; any other env is reset before every
        answer and stepped once (the same figures, answer by answer).
        """
        env = self.env
        actions = [env_action(a) for a in actions]
        scorer = group_scorer(env)
        scored: list[tuple[float, dict[str, Any]] | None] = [None] * len(actions)
        if scorer is not None:
            rows_of: dict[int, list[int]] = {}
            for row, group in enumerate(groups):
                rows_of.setdefault(group, []).append(row)
            for group, rows in rows_of.items():
                env.reset(options={"sample_id": played[group]})
                for row, result in zip(rows, scorer([actions[r] for r in rows]), strict=True):
                    scored[row] = result
            return scored  # type: ignore[return-value]
        for row, action in enumerate(actions):
            env.reset(options={"sample_id": played[groups[row]]})
            _, reward, terminated, truncated, info = env.step(action)
            if not (terminated or truncated):
                raise ValueError(
                    f"group sampling (group_size={group_size}) needs a single-turn env whose "
                    f"first step ends the episode, but {env.spec.id if env.spec else env} went on: use "
                    "algorithm ppo for multi-step envs"
                )
            scored[row] = (float(reward), info)
        return scored  # type: ignore[return-value]

    def _play_episodes(self, asked_ids: Sequence[str]) -> Experience:
        env = self.env
        observations: list[Any] = []
        parts: list[Rollouts] = []
        rewards: list[float] = []
        terminated: list[bool] = []
        truncated: list[bool] = []
        next_values: list[float] = []
        sample_ids: list[str] = []
        episodes: list[EpisodeRecord] = []
        trajectory: list[int] = []
        for asked in asked_ids:
            obs, reset_info = env.reset(options={"sample_id": asked})
            sid = reset_info.get("sample_id", asked)  # another sample when asked's video is bad
            bad = 1.0 if reset_info.get("bad_videos") else 0.0
            start, total, done = len(rewards), 0.0, False
            while not done:
                step = self.policy.sample([obs], 1)
                next_obs, reward, term, trunc, info = env.step(env_action(step.actions[0]))
                observations.append(obs)
                parts.append(step)
                rewards.append(float(reward))
                terminated.append(bool(term))
                truncated.append(bool(trunc) and not term)
                sample_ids.append(sid)
                trajectory.append(len(episodes))
                total += float(reward)
                done = bool(term or trunc)
                next_values.append(self._bootstrap(next_obs) if truncated[-1] else 0.0)
                obs = next_obs
            length = len(rewards) - start
            self._fill_next_values(parts, next_values, start)
            metrics = {**episode_metrics(info, step.actions[0]), BAD_VIDEO_KEY: bad}
            episodes.append(EpisodeRecord(sid, total, length, metrics))
        return Experience(
            observations=observations,
            rollouts=concat_rollouts(parts, [1] * len(parts)),
            rewards=np.asarray(rewards),
            terminated=np.asarray(terminated),
            truncated=np.asarray(truncated),
            next_values=np.asarray(next_values),
            sample_ids=sample_ids,
            episodes=episodes,
            trajectory=np.asarray(trajectory, dtype=np.int64),
        )

    def _bootstrap(self, next_obs: Any) -> float:
        """The critic's value of the observation where a time limit cut the episode."""
        if not isinstance(self.policy, ValueHead):
            return 0.0
        return float(self.policy.value([next_obs]).reshape(-1)[0])

    @staticmethod
    def _fill_next_values(parts: Sequence[Rollouts], next_values: list[float], start: int) -> None:
        """Inside an episode, ``V(s_{t+1})`` is the value recorded with the next step."""
        for t in range(start, len(next_values) - 1):
            values = parts[t + 1].values
            next_values[t] = 0.0 if values is None else float(values.reshape(-1)[0])


__all__ = [
    "BAD_VIDEO_KEY",
    "METRIC_KEYS",
    "METRIC_PREFIXES",
    "RolloutTask",
    "RolloutWorker",
    "env_action",
    "episode_metrics",
    "make_policy",
    "plays_episodes",
    "reseed_policy",
]
