"""What every algorithm plugs into the shared loop (:mod:`stvg.training.loop`).

The loop reads, for every algorithm, in the paper's order::

    experience = algo.collect(collect, batch_size)        # rollout
    advantages = algo.advantages(experience, ref_logp)    # advantages
    for epoch, minibatch:                                 # epochs x minibatches
        minibatch = algo.prepare(minibatch)
        for micro in minibatch.split(micro_batch_size):   # gradient accumulation
            outputs = evaluate(policy, micro)
            loss, stats = algo.loss(outputs, micro)
            loss.backward()
        optimizer.step()
    log(stats)                                            # log

Losses normalise by the whole minibatch's rows and tokens (``Minibatch.num_rows``,
``Minibatch.num_tokens``), so the micro-batch losses add up to the minibatch loss and
``micro_batch_size`` changes memory, not gradients.

so an algorithm module only says how it collects, how it scores actions against a baseline
and what loss it minimises.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from stvg.policies.base import ActionEvaluator, Observation, Rollouts
from stvg.training.batch import Experience, select_rollouts

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
        token_slots: token slots per answer (``L``), the constant normaliser of Dr. GRPO:
            the policy's ``max_new_tokens`` when it has one, else the batch's width.
        batch_rows: rows of the whole minibatch this (micro-)batch belongs to; ``None`` =
            ``len(self)``.
        batch_tokens: real tokens (``mask``) of the whole minibatch; ``None`` =
            ``mask.sum()``.

    Losses divide by ``batch_rows``/``batch_tokens``, never by the micro-batch's own
    counts, so the losses (and logged statistics) of the micro-batches of
    :meth:`split` add up to those of the whole minibatch, and so do their gradients.
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
    batch_rows: int | None = None
    batch_tokens: int | None = None

    def __len__(self) -> int:
        return len(self.rollouts)

    @property
    def num_rows(self) -> int:
        """Rows of the whole minibatch (the row normaliser of the losses)."""
        return len(self) if self.batch_rows is None else int(self.batch_rows)

    @property
    def num_tokens(self) -> int:
        """Real tokens of the whole minibatch (the token normaliser of the losses)."""
        return int(self.mask.sum()) if self.batch_tokens is None else int(self.batch_tokens)

    def split(self, size: int | None) -> list[Minibatch]:
        """Consecutive micro-batches of at most ``size`` rows (``None`` = one, ``self``).

        Each keeps the minibatch's :attr:`num_rows` and :attr:`num_tokens` as its
        normalisers; observations are re-indexed per micro-batch (a group cut in two
        appears in both).
        """
        if size is None or size >= len(self):
            return [self]
        if size < 1:
            raise ValueError(f"Minibatch.split needs a size >= 1 (or None), got {size}")
        rows_total, tokens_total = self.num_rows, self.num_tokens
        parts = []
        for begin in range(0, len(self), size):
            rows = np.arange(begin, min(begin + size, len(self)))
            index = torch.as_tensor(rows, dtype=torch.long)
            observations, rollouts = select_rollouts(self.observations, self.rollouts, rows)

            def take(tensor: torch.Tensor | None, index: torch.Tensor = index) -> Any:
                return None if tensor is None else tensor[index]

            parts.append(
                Minibatch(
                    observations=observations,
                    rollouts=rollouts,
                    old_logp=self.old_logp[index],
                    mask=self.mask[index],
                    advantages=self.advantages[index],
                    returns=take(self.returns),
                    old_values=take(self.old_values),
                    ref_logp=take(self.ref_logp),
                    token_slots=self.token_slots,
                    batch_rows=rows_total,
                    batch_tokens=tokens_total,
                )
            )
        return parts

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
            batch_rows=self.batch_rows,
            batch_tokens=self.batch_tokens,
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

    def float(self) -> PolicyOutputs:
        """The outputs in float32 (a forward pass under bf16/fp16 autocast may give lower
        precision; losses are computed in float32)."""

        def cast(tensor: torch.Tensor | None) -> torch.Tensor | None:
            return None if tensor is None else tensor.float()

        return PolicyOutputs(
            logp=self.logp.float(), entropy=cast(self.entropy), values=cast(self.values)
        )


def policy_outputs(
    policy: Any, observations: list[Observation], rollouts: Rollouts, *, need_values: bool
) -> PolicyOutputs:
    """Log-probabilities (and entropy and values when available) of ``rollouts``.

    Uses ``policy.evaluate_actions(obs, rollouts) -> (values, log_prob, entropy)`` (the
    Stable-Baselines3 signature) when the policy is an
    :class:`~stvg.policies.base.ActionEvaluator`, else ``policy.log_prob`` and, with
    ``need_values``, ``policy.value`` (:class:`~stvg.policies.base.ValueHead`; the trainer
    checked at construction that the policy has what its algorithm needs).

    Returns:
        :class:`PolicyOutputs` with ``logp`` shaped like ``rollouts.mask``.
    """
    width = int(rollouts.mask.shape[1])
    if isinstance(policy, ActionEvaluator):
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


def masked_share(values: torch.Tensor, mask: torch.Tensor, count: int) -> torch.Tensor:
    """``sum(values * mask) / count``: this micro-batch's share of a mean over ``count``
    items of the whole minibatch (``count`` < 1 is taken as 1).

    >>> float(masked_share(torch.tensor([2.0, 4.0]), torch.tensor([True, False]), 4))
    0.5
    """
    return (values * mask.to(values.dtype)).sum() / max(int(count), 1)


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

    def prepare(self, mb: Minibatch) -> Minibatch:
        """The minibatch as the losses of its micro-batches read it (default: unchanged).

        Whatever depends on the whole minibatch (PPO's advantage normalisation) is done
        here, before :meth:`Minibatch.split`, so that micro-batching leaves it as it is.
        """
        return mb

    @abstractmethod
    def loss(
        self, outputs: PolicyOutputs, mb: Minibatch
    ) -> tuple[torch.Tensor, Mapping[str, torch.Tensor | float]]:
        """The loss to minimise on ``mb`` and its parts to log (``losses/...``).

        Both are ``mb``'s share of the whole minibatch's values: means are sums over
        ``mb`` divided by ``mb.num_rows`` or ``mb.num_tokens``, so they add up over the
        micro-batches of :meth:`Minibatch.split`.
        """


__all__ = [
    "AdvantageResult",
    "Algorithm",
    "CollectFn",
    "Minibatch",
    "PolicyOutputs",
    "policy_outputs",
    "masked_share",
]
