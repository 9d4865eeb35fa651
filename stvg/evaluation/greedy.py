"""A policy's deterministic answers: the greedy wrapper and the RL trainer's greedy probe.

RL samples its answers; evaluation scores the policy's deterministic answer (``act_batch``:
the mode of the native policy, greedy decoding of a VLM). Their rewards on the same
prompts, side by side in the RL log (``rewards/sampled/...`` against
``rewards/greedy/...``), say how much exploration noise the group's reward differences
hold and whether RL improves what evaluation measures.

* :class:`Greedy` wraps a text generator so that it always decodes greedily (what SFT
  validation of the VLM scores);
* :class:`GreedyProbe` plays the answers in the learner's process on an env of its own
  through :func:`~stvg.evaluation.episodes.finish_episodes` (the evaluation path), with
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

from stvg.envs.make import make_env
from stvg.envs.scoring import set_verifier_iteration
from stvg.evaluation.episodes import finish_episodes
from stvg.policies.base import SeededSampler, TextGenerator
from stvg.policies.modes import set_train_mode


class Greedy:
    """A :class:`~stvg.policies.base.TextGenerator` that decodes greedily in ``generate``
    and ``generate_batch`` (everything else forwarded), whatever its config's
    ``do_sample``."""

    def __init__(self, policy: TextGenerator) -> None:
        self._policy = policy

    def generate(self, obs: Any, ctx: Any = None, *, n: int = 1, **_: Any) -> Any:
        return self._policy.generate(obs, ctx, n=n, do_sample=False)  # type: ignore[attr-defined]

    def generate_batch(
        self,
        obs_list: Sequence[Any],
        ctxs: Sequence[Any] | None = None,
        *,
        do_sample: bool | None = None,
    ) -> Any:
        """Greedy completions (``do_sample`` is accepted, as the protocol says, and
        ignored)."""
        return self._policy.generate_batch(obs_list, ctxs, do_sample=False)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._policy, name)


@contextmanager
def preserved_rng(policy: Any = None) -> Iterator[None]:
    """Run the block and put back the state of the torch (CPU and CUDA), NumPy and Python
    global generators and of the policy's own sampling generator (a
    :class:`~stvg.policies.base.SeededSampler`'s ``generator``)."""
    import torch

    generator = policy.generator if isinstance(policy, SeededSampler) else None
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
    """The policy in evaluation mode (:func:`~stvg.policies.modes.set_train_mode`)
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

    def play(
        self, policy: Any, sample_ids: Sequence[str], iteration: int | None = None
    ) -> list[dict[str, Any]]:
        """The final ``info`` of one deterministic episode per sample id, in order.

        The first answers of all samples come from one ``policy.act_batch`` call; a
        multi-step env's later steps from ``act_batch`` on the one observation. Random
        generators are left as they were (:func:`preserved_rng`), gradients off. The
        env's verifier scores as at training iteration ``iteration`` (``None``: outside
        training), as the sampled answers of that iteration are scored.
        """
        import torch

        if not sample_ids:
            return []
        env = self._make_env()
        set_verifier_iteration(env, iteration)
        with preserved_rng(policy), evaluation_mode(policy), torch.no_grad():
            observations = [env.reset(options={"sample_id": sid})[0] for sid in sample_ids]
            actions = policy.act_batch(observations)
            ends = finish_episodes(
                env,
                policy,
                [{"sample_id": sid} for sid in sample_ids],
                actions,
                lambda obs, info: policy.act_batch([obs], [info])[0],
            )
        return [end.info for end in ends]

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


__all__ = ["Greedy", "GreedyProbe", "evaluation_mode", "played_prompts", "preserved_rng"]
