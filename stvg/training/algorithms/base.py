"""What every algorithm plugs into the shared loop (:mod:`stvg.training.loop`).

The loop reads, for every algorithm, in the paper's order::

    experience = algo.collect(collect, batch_size)        # rollout
    advantages = algo.advantages(experience, ref_logp)    # advantages
    for epoch, minibatch:                                 # epochs x minibatches
        outputs = evaluate(policy, minibatch)
        loss, stats = algo.loss(outputs, minibatch)
    log(stats)                                            # log

so an algorithm module only says how it collects, how it scores actions against a baseline
and what loss it minimises.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from stvg.policies.base import Observation, Rollouts
from stvg.training.batch import Experience

#: ``collect(n)`` plays ``n`` prompts (or episodes) with the current weights.
CollectFn = Callable[[int], Experience]


@dataclass
class AdvantageResult:
    """Output of :meth:`Algorithm.advantages`.

    Attributes:
        advantages: float32 ``[N]`` per row.
        returns: float32 ``[N]`` value targets (critic algorithms), else ``None``.
        stats: scalars to log (``charts/...``).
    """

    advantages: torch.Tensor
    returns: torch.Tensor | None = None
    stats: dict[str, float] = field(default_factory=dict)


@dataclass
class Minibatch:
    """Rows of one update step and everything the losses read.

    Attributes:
        observations: the observations ``rollouts.obs_index`` points into.
        rollouts: the rows' actions.
        old_logp: float32 ``[n, L]`` log-probabilities under the sampling policy.
        mask: bool ``[n, L]`` real action tokens.
        advantages: float32 ``[n]``.
        returns: float32 ``[n]`` value targets, or ``None``.
        old_values: float32 ``[n]`` critic values at sampling time, or ``None``.
        ref_logp: float32 ``[n, L]`` log-probabilities under the frozen reference, or
            ``None``.
        token_slots: token slots per row of the whole batch (``L``), the constant
            normaliser of Dr. GRPO.
    """

    observations: list[Observation]
    rollouts: Rollouts
    old_logp: torch.Tensor
    mask: torch.Tensor
    advantages: torch.Tensor
    returns: torch.Tensor | None = None
    old_values: torch.Tensor | None = None
    ref_logp: torch.Tensor | None = None
    token_slots: int = 1

    def __len__(self) -> int:
        return len(self.rollouts)

    def to(self, device: torch.device | str) -> Minibatch:
        """The same minibatch with its tensors on ``device`` (where the policy computes)."""

        def move(tensor: torch.Tensor | None) -> torch.Tensor | None:
            return None if tensor is None else tensor.to(device)

        return Minibatch(
            observations=self.observations,
            rollouts=self.rollouts,
            old_logp=self.old_logp.to(device),
            mask=self.mask.to(device),
            advantages=self.advantages.to(device),
            returns=move(self.returns),
            old_values=move(self.old_values),
            ref_logp=move(self.ref_logp),
            token_slots=self.token_slots,
        )


@dataclass
class PolicyOutputs:
    """The current policy's view of a minibatch (all differentiable).

    Attributes:
        logp: float ``[n, L]`` log-probabilities of the taken actions' tokens.
        entropy: float ``[n]`` entropy of each row's action distribution, or ``None``
            when the policy cannot compute it.
        values: float ``[n]`` critic values of each row's observation, or ``None``.
    """

    logp: torch.Tensor
    entropy: torch.Tensor | None = None
    values: torch.Tensor | None = None


def evaluate_policy(
    policy: Any, observations: list[Observation], rollouts: Rollouts, *, need_values: bool
) -> PolicyOutputs:
    """Log-probabilities (and entropy and values when available) of ``rollouts``.

    Uses ``policy.evaluate_actions(obs, rollouts) -> (values, log_prob, entropy)`` (the
    Stable-Baselines3 signature) when the policy has it, else ``policy.log_prob`` and, with
    ``need_values``, ``policy.value``.

    Returns:
        :class:`PolicyOutputs` with ``logp`` shaped like ``rollouts.mask``.
    """
    width = int(rollouts.mask.shape[1])
    if hasattr(policy, "evaluate_actions"):
        values, logp, entropy = policy.evaluate_actions(observations, rollouts)
        logp = logp.reshape(len(rollouts), -1)
        if logp.shape[1] != width:
            raise ValueError(
                f"{type(policy).__name__}.evaluate_actions gave log-probs of width "
                f"{logp.shape[1]} for rollouts of width {width}"
            )
        return PolicyOutputs(logp=logp, entropy=entropy.reshape(-1), values=values.reshape(-1))
    logp = policy.log_prob(observations, rollouts)
    values = None
    if need_values:
        index = torch.as_tensor(rollouts.obs_index, dtype=torch.long)
        values = policy.value(observations).reshape(-1)[index]
    return PolicyOutputs(logp=logp[:, :width], values=values)


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``values`` where ``mask`` (0 when nothing is masked in)."""
    mask = mask.to(values.dtype)
    return (values * mask).sum() / mask.sum().clamp(min=1.0)


class Algorithm(ABC):
    """Base class: plain collection, no reference, no critic.

    Attributes:
        name: the algorithm's name in logs.
        group_size: answers sampled per prompt (1 = one per observation).
        needs_values: the loss reads a critic (``Minibatch.old_values``/``returns``).
        needs_reference: the loss or the advantages read the frozen reference policy.
        target_kl: stop an iteration's epochs once ``losses/approx_kl`` exceeds it.
    """

    name = "base"
    group_size = 1
    needs_values = False
    needs_reference = False
    target_kl: float | None = None

    def collect(self, collect: CollectFn, batch_size: int) -> tuple[Experience, dict[str, float]]:
        """Play ``batch_size`` prompts/episodes; returns the experience and stats to log."""
        return collect(batch_size), {}

    @abstractmethod
    def advantages(self, experience: Experience, ref_logp: torch.Tensor | None) -> AdvantageResult:
        """Advantages (and value targets) of every row."""

    @abstractmethod
    def loss(
        self, outputs: PolicyOutputs, mb: Minibatch
    ) -> tuple[torch.Tensor, Mapping[str, torch.Tensor | float]]:
        """The loss to minimise on ``mb`` and its parts to log (``losses/...``)."""


__all__ = [
    "AdvantageResult",
    "Algorithm",
    "CollectFn",
    "Minibatch",
    "PolicyOutputs",
    "evaluate_policy",
    "masked_mean",
]
