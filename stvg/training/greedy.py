"""The deterministic answers' reward on an iteration's prompts, for the RL logs.

RL samples its answers; evaluation scores the policy's deterministic answer (``act_batch``:
the mode of the native policy, greedy decoding of a VLM). Their rewards on the same
prompts, side by side in ``metrics.jsonl`` (``rewards/sampled/...`` against
``rewards/greedy/...``), say how much exploration noise the group's reward differences
hold and whether RL improves what evaluation measures.

:class:`GreedyProbe` plays the answers in the learner's process on an env of its own, with
every random generator the training run draws from (torch, NumPy, Python, the policy's
``generator``) saved before and restored after, and the policy in evaluation mode: a run
that logs them trains exactly as one that does not.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

from stvg.policies.base import env_action
from stvg.training.learner import set_train_mode
from stvg.training.rollout import make_env


@contextmanager
def preserved_rng(policy: Any = None) -> Iterator[None]:
    """Run the block and put back the state of the torch (CPU and CUDA), NumPy and Python
    global generators and of ``policy.generator`` (a ``torch.Generator``, when it has one)."""
    generator = getattr(policy, "generator", None)
    saved = generator.get_state() if isinstance(generator, torch.Generator) else None
    numpy_state = np.random.get_state()
    python_state = random.getstate()
    try:
        with torch.random.fork_rng(devices=range(torch.cuda.device_count())):
            yield
    finally:
        np.random.set_state(numpy_state)
        random.setstate(python_state)
        if saved is not None:
            generator.set_state(saved)


@contextmanager
def evaluation_mode(policy: Any) -> Iterator[None]:
    """The policy in evaluation mode (:func:`~stvg.training.learner.set_train_mode`)
    inside the block, back in training mode after it (the learner's mode)."""
    set_train_mode(policy, False)
    try:
        yield
    finally:
        set_train_mode(policy, True)


class GreedyProbe:
    """Plays a policy's deterministic answers to given samples on its own env.

    Args:
        env_id, env_kwargs, max_episode_steps: the env (as the rollout workers make it).
        env_seed: seed of the env's first reset.

    The env is made on the first :meth:`play`.
    """

    def __init__(
        self,
        env_id: str,
        env_kwargs: Mapping[str, Any],
        max_episode_steps: int | None,
        env_seed: int = 0,
    ) -> None:
        self.env_id = env_id
        self.env_kwargs = dict(env_kwargs)
        self.max_episode_steps = max_episode_steps
        self.env_seed = int(env_seed)
        self._env: Any = None

    def _make_env(self) -> Any:
        if self._env is None:
            self._env = make_env(self.env_id, self.env_kwargs, self.max_episode_steps)
            self._env.reset(seed=self.env_seed)
        return self._env

    def play(self, policy: Any, sample_ids: Sequence[str]) -> list[dict[str, Any]]:
        """The final ``info`` of one deterministic episode per sample id, in order.

        The first answers of all samples come from one ``policy.act_batch`` call; a
        multi-step env's later steps from ``act_batch`` on the one observation. Random
        generators are left as they were (:func:`preserved_rng`), gradients off.
        """
        if not sample_ids:
            return []
        env = self._make_env()
        infos: list[dict[str, Any]] = []
        with preserved_rng(policy), evaluation_mode(policy), torch.no_grad():
            observations = [env.reset(options={"sample_id": sid})[0] for sid in sample_ids]
            actions = policy.act_batch(observations)
            for sid, action in zip(sample_ids, actions, strict=True):
                env.reset(options={"sample_id": sid})
                obs, _, terminated, truncated, info = env.step(env_action(action))
                while not (terminated or truncated):
                    action = policy.act_batch([obs])[0]
                    obs, _, terminated, truncated, info = env.step(env_action(action))
                infos.append(dict(info))
        return infos

    def close(self) -> None:
        """Close the env (if it was made)."""
        if self._env is not None:
            self._env.close()
            self._env = None


def played_prompts(sample_ids: Sequence[str]) -> list[str]:
    """The distinct sample ids in order of first appearance (a group's answers share one).

    >>> played_prompts(["a", "a", "b", "a", "c", "c"])
    ['a', 'b', 'c']
    """
    return list(dict.fromkeys(sample_ids))


__all__ = ["GreedyProbe", "evaluation_mode", "played_prompts", "preserved_rng"]
