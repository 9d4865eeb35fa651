"""RLOO: REINFORCE with a leave-one-out baseline (Ahmadian et al., 2024, arXiv 2402.14740).

Each prompt gets ``k`` answers; answer ``i``'s baseline is the mean reward of the other
``k - 1``. A KL penalty to the reference, when asked for, is folded into the reward of the
whole answer (the paper's setup): ``r'_i = r_i - beta * sum_t (log pi_old - log pi_ref)``.
The answer is one action, so the loss uses the sequence log-probability::

    ratio = exp(sum_t log pi(o_it) - sum_t log pi_old(o_it))
    loss  = mean_i( -min(ratio_i * A_i, clip(ratio_i, 1 - eps, 1 + eps) * A_i) )

On a multi-step env (the glance-and-zoom env) a group is ``k`` whole episodes of one
sample: the leave-one-out baseline is taken over the trajectories' returns (the sum of
their rewards, each row's KL penalty included) and the advantage applies to every action
of the trajectory, each action a row of the loss.

With one epoch and one minibatch ``ratio = 1`` and the gradient is plain REINFORCE,
``-mean_i(A_i * grad log pi(o_i))``; the clip only matters for extra epochs.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from stvg.training.algorithms.advantages import rloo_advantages
from stvg.training.algorithms.base import AdvantageResult, Algorithm, Minibatch, PolicyOutputs
from stvg.training.batch import Experience, group_trajectories
from stvg.training.config import RLOOConfig


def rloo_loss(
    logp: torch.Tensor,
    old_logp: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    *,
    clip_coef: float = 0.2,
    num_rows: int | None = None,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The clipped sequence-level REINFORCE loss (see the module docstring).

    Args:
        logp: float ``[N, L]`` token log-probabilities now (grad).
        old_logp: float ``[N, L]`` at sampling time.
        advantages: float ``[N]`` leave-one-out advantages.
        mask: bool ``[N, L]`` real tokens.
        clip_coef: clip range of the sequence ratio.
        num_rows: answers of the whole minibatch when these rows are a micro-batch of it
            (default: the rows given); the mean over answers divides by it.

    Returns:
        ``(loss, stats)`` with ``policy_loss``, ``approx_kl`` and ``clipfrac`` (this
        micro-batch's share of the minibatch's values with ``num_rows``).
    """
    mask_f = mask.to(logp.dtype)
    seq_logp = (logp * mask_f).sum(-1)
    old_seq = (old_logp * mask_f).sum(-1)
    ratio = torch.exp(seq_logp - old_seq)
    adv = advantages.to(logp.dtype)
    clipped = torch.clamp(ratio, 1.0 - clip_coef, 1.0 + clip_coef)
    rows = max(int(logp.shape[0]) if num_rows is None else int(num_rows), 1)
    loss = -torch.min(ratio * adv, clipped * adv).sum() / rows
    with torch.no_grad():
        log_ratio = seq_logp - old_seq
        stats = {
            "policy_loss": loss.detach(),
            "approx_kl": ((ratio - 1.0) - log_ratio).sum() / rows,  # k3, as kl.approx_kl
            "clipfrac": ((ratio - 1.0).abs() > clip_coef).to(logp.dtype).sum() / rows,
        }
    return loss, stats


class RLOO(Algorithm):
    """RLOO for :mod:`stvg.training.loop`.

    Args:
        config: the :class:`~stvg.training.config.RLOOConfig`.
    """

    name = "rloo"

    def __init__(self, config: RLOOConfig) -> None:
        self.config = config
        self.group_size = config.group_size
        self.needs_reference = config.beta > 0

    def advantages(self, experience: Experience, ref_logp: torch.Tensor | None) -> AdvantageResult:
        """Leave-one-out advantages of the (KL-penalised) rewards; on episode groups, of
        the trajectories' returns, each given to every action of its trajectory."""
        rewards = torch.as_tensor(experience.rewards, dtype=torch.float64)
        stats: dict[str, float] = {}
        if self.config.beta > 0:
            if ref_logp is None:
                raise ValueError("RLOO with beta > 0 needs the reference policy's log-probs")
            mask = experience.rollouts.mask.to(torch.float64)
            old = experience.rollouts.log_probs.to(torch.float64)
            seq_kl = ((old - ref_logp.to(torch.float64)) * mask).sum(-1)
            rewards = rewards - self.config.beta * seq_kl
            stats["losses/kl"] = float(seq_kl.mean())
        if experience.trajectory is not None:
            ids, _, row_of = experience.trajectory_returns()
            group_trajectories(ids, self.group_size)
            returns = torch.zeros(len(ids), dtype=torch.float64)
            returns.index_add_(0, torch.as_tensor(row_of), rewards)
            per_trajectory = rloo_advantages(returns, self.group_size)
            return AdvantageResult(
                advantages=per_trajectory[torch.as_tensor(row_of)].float(), stats=stats
            )
        adv = rloo_advantages(rewards, self.group_size)
        return AdvantageResult(advantages=adv.float(), stats=stats)

    def loss(
        self, outputs: PolicyOutputs, mb: Minibatch
    ) -> tuple[torch.Tensor, Mapping[str, torch.Tensor | float]]:
        """The clipped REINFORCE loss (:func:`rloo_loss`)."""
        return rloo_loss(
            outputs.logp,
            mb.old_logp,
            mb.advantages,
            mb.mask,
            clip_coef=self.config.clip_coef,
            num_rows=mb.num_rows,
        )


__all__ = ["RLOO", "rloo_loss"]
