"""PPO with a value head and GAE (Schulman et al., 2017), CleanRL's ``ppo.py`` loss.

An action's log-probability is the sum over its tokens (``mask``), so one ratio per action::

    ratio    = exp(log pi(a|s) - log pi_old(a|s))
    pg_loss  = mean( max(-A * ratio, -A * clip(ratio, 1 - clip_coef, 1 + clip_coef)) )
    v_loss   = 0.5 * mean( max((V - R)^2, (V_old + clip(V - V_old, +-clip_coef) - R)^2) )
    loss     = pg_loss - ent_coef * entropy + vf_coef * v_loss

Advantages come from :func:`~stvg.training.algorithms.advantages.generalized_advantage_estimates`,
which bootstraps after truncation and not after termination. On a single-turn env every
episode is one terminated step, so ``A = r - V(s)``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import torch

from stvg.training.algorithms.advantages import generalized_advantage_estimates
from stvg.training.algorithms.base import AdvantageResult, Algorithm, Minibatch, PolicyOutputs
from stvg.training.batch import Experience
from stvg.training.config import PPOConfig


def ppo_loss(
    logp: torch.Tensor,
    old_logp: torch.Tensor,
    advantages: torch.Tensor,
    values: torch.Tensor,
    old_values: torch.Tensor,
    returns: torch.Tensor,
    *,
    clip_coef: float = 0.2,
    clip_vloss: bool = True,
    vf_coef: float = 0.5,
    ent_coef: float = 0.0,
    entropy: torch.Tensor | None = None,
    norm_adv: bool = True,
    num_rows: int | None = None,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The PPO loss of a minibatch (see the module docstring).

    Args:
        logp, old_logp: float ``[n]`` action log-probabilities now (grad) and at sampling.
        advantages: float ``[n]``.
        values: float ``[n]`` critic values now (grad).
        old_values: float ``[n]`` critic values at sampling time.
        returns: float ``[n]`` value targets (``advantages + old_values``).
        clip_coef: clip range of the ratio (and of the value change with ``clip_vloss``).
        clip_vloss: clip the value loss.
        vf_coef, ent_coef: weights of the value loss and the entropy bonus.
        entropy: float ``[n]`` entropies (grad); required when ``ent_coef > 0``.
        norm_adv: normalise advantages within these rows (skipped for one row). The
            trainer normalises over the whole minibatch itself (:meth:`PPO.prepare`) and
            passes ``False``, so that micro-batches share one normalisation.
        num_rows: rows of the whole minibatch when these rows are a micro-batch of it
            (default: the rows given); every mean divides by it.

    Returns:
        ``(loss, stats)`` with ``policy_loss``, ``value_loss``, ``entropy`` (0 without
        one), ``approx_kl``, ``old_approx_kl`` and ``clipfrac`` (share of rows with
        ``|ratio - 1| > clip_coef``); with ``num_rows``, this micro-batch's shares.
    """
    if ent_coef > 0 and entropy is None:
        raise ValueError(
            "ppo_loss with ent_coef > 0 needs the entropy: use a policy with evaluate_actions "
            "or set ppo.ent_coef to 0"
        )
    log_ratio = logp - old_logp
    ratio = log_ratio.exp()
    rows = max(int(logp.shape[0]) if num_rows is None else int(num_rows), 1)

    def mean(x: torch.Tensor) -> torch.Tensor:
        return x.sum() / rows

    adv = advantages.to(logp.dtype)
    if norm_adv and adv.numel() > 1:
        adv = normalize_advantages(adv)
    pg_loss = mean(torch.max(-adv * ratio, -adv * torch.clamp(ratio, 1 - clip_coef, 1 + clip_coef)))
    values = values.to(logp.dtype)
    returns = returns.to(logp.dtype)
    v_unclipped = (values - returns) ** 2
    if clip_vloss:
        v_clipped = old_values + torch.clamp(values - old_values, -clip_coef, clip_coef)
        v_loss = 0.5 * mean(torch.max(v_unclipped, (v_clipped - returns) ** 2))
    else:
        v_loss = 0.5 * mean(v_unclipped)
    entropy_mean = mean(entropy) if entropy is not None else torch.zeros((), dtype=logp.dtype)
    loss = pg_loss - ent_coef * entropy_mean + vf_coef * v_loss
    with torch.no_grad():
        stats = {
            "policy_loss": pg_loss.detach(),
            "value_loss": v_loss.detach(),
            "entropy": entropy_mean.detach(),
            "approx_kl": mean((ratio - 1.0) - log_ratio),  # k3, as kl.approx_kl
            "old_approx_kl": mean(-log_ratio),
            "clipfrac": mean(((ratio - 1.0).abs() > clip_coef).to(logp.dtype)),
        }
    return loss, stats


def normalize_advantages(advantages: torch.Tensor) -> torch.Tensor:
    """``(A - mean(A)) / (std(A) + 1e-8)`` (CleanRL's ``norm_adv``; unbiased std).

    >>> normalize_advantages(torch.tensor([1.0, 3.0])).tolist()
    [-0.7071067690849304, 0.7071067690849304]
    """
    return (advantages - advantages.mean()) / (advantages.std() + 1e-8)


def explained_variance(values: torch.Tensor, returns: torch.Tensor) -> float:
    """``1 - Var(R - V) / Var(R)``: 1 = perfect critic, 0 = no better than a constant
    (NaN when the returns do not vary)."""
    var_returns = float(returns.var()) if returns.numel() > 1 else 0.0
    if var_returns == 0.0:
        return float("nan")
    return 1.0 - float((returns - values).var()) / var_returns


class PPO(Algorithm):
    """PPO for :mod:`stvg.training.loop`.

    Args:
        config: the :class:`~stvg.training.config.PPOConfig`.
    """

    name = "ppo"
    needs_values = True

    def __init__(self, config: PPOConfig) -> None:
        self.config = config
        self.target_kl = config.target_kl

    def advantages(self, experience: Experience, ref_logp: torch.Tensor | None) -> AdvantageResult:
        """GAE over the episodes of the batch; returns = advantages + values."""
        values = experience.rollouts.values
        if values is None:
            raise ValueError(
                "PPO needs critic values in the rollouts: use an actor-critic policy whose "
                "sample() fills Rollouts.values"
            )
        values = values.detach().to(torch.float64).reshape(-1)
        adv, returns = generalized_advantage_estimates(
            torch.as_tensor(experience.rewards),
            values,
            torch.as_tensor(experience.next_values),
            torch.as_tensor(experience.terminated),
            torch.as_tensor(experience.truncated),
            gamma=self.config.gamma,
            gae_lambda=self.config.gae_lambda,
        )
        stats = {"losses/explained_variance": explained_variance(values, returns)}
        return AdvantageResult(advantages=adv.float(), returns=returns.float(), stats=stats)

    def prepare(self, mb: Minibatch) -> Minibatch:
        """Normalise the advantages over the whole minibatch (``norm_adv``, more than one
        row), before it is cut into micro-batches."""
        if not self.config.norm_adv or len(mb) < 2:
            return mb
        return dataclasses.replace(mb, advantages=normalize_advantages(mb.advantages.float()))

    def loss(
        self, outputs: PolicyOutputs, mb: Minibatch
    ) -> tuple[torch.Tensor, Mapping[str, torch.Tensor | float]]:
        """The PPO loss (:func:`ppo_loss`) with action log-probs summed over tokens; the
        advantages come normalised from :meth:`prepare`."""
        if outputs.values is None or mb.old_values is None or mb.returns is None:
            raise ValueError("PPO's loss needs the critic's values, old values and returns")
        mask = mb.mask.to(outputs.logp.dtype)
        return ppo_loss(
            (outputs.logp * mask).sum(-1),
            (mb.old_logp * mask).sum(-1),
            mb.advantages,
            outputs.values,
            mb.old_values,
            mb.returns,
            clip_coef=self.config.clip_coef,
            clip_vloss=self.config.clip_vloss,
            vf_coef=self.config.vf_coef,
            ent_coef=self.config.ent_coef,
            entropy=outputs.entropy,
            norm_adv=False,
            num_rows=mb.num_rows,
        )


__all__ = ["PPO", "explained_variance", "normalize_advantages", "ppo_loss"]
