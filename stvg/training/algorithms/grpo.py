"""GRPO and its variants Dr. GRPO and DAPO.

Per token ``t`` of answer ``i`` (Shao et al., 2024, arXiv 2402.03300, eq. 3)::

    ratio_it = pi(o_it) / pi_old(o_it)
    l_it     = -min(ratio_it * A_i, clip(ratio_it, 1 - eps_low, 1 + eps_high) * A_i)
               + beta * k3(pi || pi_ref)_it

and the loss aggregates ``l`` differently per variant (``|o_i|`` = real tokens of answer
``i``, ``L`` = token slots per answer, ``N`` = answers):

=========  =====================================  =============================================
variant    advantages ``A_i``                     aggregation
=========  =====================================  =============================================
grpo       ``(r_i - mean_g) / (std_g + 1e-4)``    ``mean_i( sum_t l_it / |o_i| )``
dr_grpo    ``r_i - mean_g``                       ``sum_it l_it / (N * L)`` (Liu et al., 2025)
dapo       ``(r_i - mean_g) / (std_g + 1e-4)``    ``sum_it l_it / sum_i |o_i|`` (Yu et al., 2025)
=========  =====================================  =============================================

``L`` is the policy's generation budget ``max_new_tokens`` (TRL's ``max_completion_length``),
a constant, when the policy config has one, else the batch's token width. ``N`` and
``sum_i |o_i|`` are counted over the whole minibatch, also when it is cut into
micro-batches for gradient accumulation.

On a multi-step env (the glance-and-zoom env) a group is ``G`` whole episodes of one
sample: the advantage comes from each trajectory's return (the sum of its rewards) against
its group, and applies to every policy action of the trajectory. An action is one "token"
of its trajectory: the ratio is per action, and the aggregation above runs over actions
(each action row has one token, so ``grpo``'s per-answer mean is the mean over the
minibatch's actions, as ``dapo``'s token mean is).

DAPO also clips higher (``eps_high = 0.28 > eps_low = 0.2``) and samples dynamically: groups
whose answers all score the same (zero advantage) are dropped and more prompts are played
until the batch is full.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import numpy as np
import torch

from stvg.training.algorithms.advantages import group_normalized_advantages
from stvg.training.algorithms.base import (
    AdvantageResult,
    Algorithm,
    CollectFn,
    Minibatch,
    PolicyOutputs,
    masked_share,
)
from stvg.training.algorithms.kl import k3_kl
from stvg.training.batch import Experience, group_trajectories
from stvg.training.config import GRPOConfig

LossType = Literal["grpo", "dr_grpo", "dapo"]


def grpo_loss(
    logp: torch.Tensor,
    old_logp: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    *,
    loss_type: LossType = "grpo",
    eps_low: float = 0.2,
    eps_high: float = 0.2,
    beta: float = 0.0,
    ref_logp: torch.Tensor | None = None,
    token_slots: int | None = None,
    num_rows: int | None = None,
    num_tokens: int | None = None,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The clipped GRPO objective of a minibatch (see the module docstring).

    Args:
        logp: float ``[N, L]`` token log-probabilities under the current policy (grad).
        old_logp: float ``[N, L]`` under the sampling policy.
        advantages: float ``[N]`` one advantage per answer.
        mask: bool ``[N, L]`` real tokens.
        loss_type: ``grpo``, ``dr_grpo`` or ``dapo`` aggregation.
        eps_low, eps_high: clip range ``[1 - eps_low, 1 + eps_high]`` of the ratio.
        beta: weight of the ``k3`` KL penalty to ``ref_logp`` (needs ``ref_logp`` if > 0).
        ref_logp: float ``[N, L]`` under the frozen reference policy.
        token_slots: ``L`` of Dr. GRPO's constant normaliser (default ``logp.shape[1]``;
            the trainer passes the policy's ``max_new_tokens``, TRL's
            ``max_completion_length``).
        num_rows: answers ``N`` of the whole minibatch when these rows are a micro-batch
            of it (default: the rows given).
        num_tokens: real tokens of the whole minibatch (default: ``mask.sum()``).

    Returns:
        ``(loss, stats)`` with stats ``policy_loss``, ``kl`` (to the reference, token
        mean; 0 without one), ``approx_kl`` (old vs new), ``clipfrac`` (share of tokens
        where the clip is active: ratio below ``1 - eps_low`` with ``A < 0`` or above
        ``1 + eps_high`` with ``A > 0``) and ``ratio`` (token mean). With ``num_rows`` and
        ``num_tokens`` of a whole minibatch, the loss and every statistic are this
        micro-batch's share: summed over the micro-batches they give the minibatch's.
    """
    if beta > 0 and ref_logp is None:
        raise ValueError(
            "grpo_loss with beta > 0 needs ref_logp (the reference policy's log-probs)"
        )
    mask_f = mask.to(logp.dtype)
    rows = int(logp.shape[0]) if num_rows is None else int(num_rows)
    tokens = int(mask.sum()) if num_tokens is None else int(num_tokens)
    slots = token_slots or int(logp.shape[1])
    adv = advantages.to(logp.dtype).reshape(-1, 1)
    log_ratio = logp - old_logp
    ratio = torch.exp(log_ratio)
    clipped = torch.clamp(ratio, 1.0 - eps_low, 1.0 + eps_high)
    per_token = -torch.min(ratio * adv, clipped * adv)
    policy_per_token = per_token
    kl = torch.zeros((), dtype=logp.dtype)
    if ref_logp is not None:
        token_kl = k3_kl(logp, ref_logp)
        kl = masked_share(token_kl, mask, tokens).detach()
        if beta > 0:
            per_token = per_token + beta * token_kl
    loss = _aggregate(per_token, mask_f, loss_type, slots, rows, tokens)
    with torch.no_grad():
        policy_loss = _aggregate(policy_per_token, mask_f, loss_type, slots, rows, tokens)
        clip_active = ((ratio < 1.0 - eps_low) & (adv < 0)) | ((ratio > 1.0 + eps_high) & (adv > 0))
        # k3 estimate of KL(pi_old || pi) per token, as kl.approx_kl
        token_approx_kl = (ratio - 1.0) - log_ratio
        stats = {
            "policy_loss": policy_loss,
            "kl": kl,
            "approx_kl": masked_share(token_approx_kl, mask, tokens),
            "clipfrac": masked_share(clip_active.to(logp.dtype), mask, tokens),
            "ratio": masked_share(ratio, mask, tokens),
        }
    return loss, stats


def _aggregate(
    per_token: torch.Tensor,
    mask: torch.Tensor,
    loss_type: str,
    token_slots: int,
    num_rows: int,
    num_tokens: int,
) -> torch.Tensor:
    """The loss of ``per_token`` as a share of a minibatch of ``num_rows`` answers and
    ``num_tokens`` real tokens (see the module docstring's table)."""
    if loss_type == "grpo":
        per_answer = (per_token * mask).sum(-1) / mask.sum(-1).clamp(min=1.0)
        return per_answer.sum() / max(num_rows, 1)
    total = (per_token * mask).sum()
    if loss_type == "dr_grpo":
        return total / (max(num_rows, 1) * token_slots)
    if loss_type == "dapo":
        return total / max(num_tokens, 1)
    raise ValueError(f"unknown GRPO loss_type {loss_type!r}; choose 'grpo', 'dr_grpo' or 'dapo'")


def informative_groups(rewards: np.ndarray, group_size: int) -> np.ndarray:
    """Indices of the groups whose rewards are not all equal (DAPO's dynamic-sampling filter).

    >>> informative_groups(np.array([1.0, 1.0, 0.0, 1.0, 0.5, 0.5]), 2).tolist()
    [1]
    """
    grouped = np.asarray(rewards, dtype=np.float64).reshape(-1, group_size)
    return np.flatnonzero(grouped.max(axis=1) - grouped.min(axis=1) > 1e-12)


class GRPO(Algorithm):
    """GRPO/Dr. GRPO/DAPO for :mod:`stvg.training.loop` (see the module docstring).

    Args:
        config: the :class:`~stvg.training.config.GRPOConfig`.
    """

    name = "grpo"

    def __init__(self, config: GRPOConfig) -> None:
        self.config = config
        self.group_size = config.group_size
        self.needs_reference = config.beta > 0

    def collect(self, collect: CollectFn, batch_size: int) -> tuple[Experience, dict[str, float]]:
        """Play ``batch_size`` prompts; with dynamic sampling keep only informative groups
        and play more prompts (up to ``max_sampling_rounds`` rounds) to fill the batch."""
        if not self.config.uses_dynamic_sampling:
            return collect(batch_size), {}
        kept: list[Experience] = []
        found = played = rounds = 0
        while found < batch_size and rounds < self.config.max_sampling_rounds:
            experience = collect(batch_size - found if rounds else batch_size)
            rounds += 1
            if experience.trajectory is None:
                played += experience.num_groups
                groups = informative_groups(experience.rewards, self.group_size)
                groups = groups[: batch_size - found]
                rows = (groups[:, None] * self.group_size + np.arange(self.group_size)).reshape(-1)
            else:  # multi-step: groups of whole episodes, judged by their returns
                ids, returns, _ = experience.trajectory_returns()
                group_trajectories(ids, self.group_size)
                played += len(ids) // self.group_size
                groups = informative_groups(returns, self.group_size)[: batch_size - found]
                kept_ids = ids.reshape(-1, self.group_size)[groups].reshape(-1)
                rows = np.flatnonzero(np.isin(experience.trajectory, kept_ids))
            kept.append(experience.select(rows))  # keeps every episode record for the logs
            found += len(groups)
        stats = {
            "charts/sampling_rounds": float(rounds),
            "charts/kept_groups_frac": found / max(played, 1),
        }
        return Experience.concat(kept), stats

    def advantages(self, experience: Experience, ref_logp: torch.Tensor | None) -> AdvantageResult:
        """Group-normalised advantages (no std division for ``dr_grpo``); on episode
        groups, of the trajectories' returns, each given to every action of its
        trajectory."""
        scale = self.config.loss_type != "dr_grpo"
        if experience.trajectory is not None:
            ids, returns, row_of = experience.trajectory_returns()
            group_trajectories(ids, self.group_size)
            per_trajectory = group_normalized_advantages(
                torch.as_tensor(returns), self.group_size, scale=scale
            )
            return AdvantageResult(advantages=per_trajectory[torch.as_tensor(row_of)].float())
        rewards = torch.as_tensor(experience.rewards)
        adv = group_normalized_advantages(rewards, self.group_size, scale=scale)
        # the groups' reward spread and zero-variance share are logged by the loop for
        # every group algorithm, over all groups played (stvg.training.metrics.group_summary)
        return AdvantageResult(advantages=adv.float())

    def loss(
        self, outputs: PolicyOutputs, mb: Minibatch
    ) -> tuple[torch.Tensor, Mapping[str, torch.Tensor | float]]:
        """The clipped GRPO loss of the minibatch (:func:`grpo_loss`)."""
        return grpo_loss(
            outputs.logp,
            mb.old_logp,
            mb.advantages,
            mb.mask,
            loss_type=self.config.loss_type,
            eps_low=self.config.clip_coef,
            eps_high=self.config.eps_high,
            beta=self.config.beta,
            ref_logp=mb.ref_logp,
            token_slots=mb.token_slots,
            num_rows=mb.num_rows,
            num_tokens=mb.num_tokens,
        )


__all__ = ["GRPO", "LossType", "grpo_loss", "informative_groups"]
