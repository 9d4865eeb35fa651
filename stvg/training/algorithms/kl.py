"""KL estimators from log-probabilities of sampled actions (Schulman, "Approximating KL
Divergence", 2020, http://joschu.net/blog/kl-approx.html)."""

from __future__ import annotations

import torch


def k3_kl(logp: torch.Tensor, ref_logp: torch.Tensor) -> torch.Tensor:
    """Per-token ``k3`` estimate of ``KL(pi || pi_ref)`` for tokens sampled from ``pi``.

    ``k3 = exp(ref_logp - logp) - (ref_logp - logp) - 1``: unbiased, never negative, and
    of low variance when the two policies are close (the estimator GRPO uses for its KL
    penalty, DeepSeekMath eq. 4).

    Args:
        logp: log-probabilities under ``pi`` (the policy being trained).
        ref_logp: log-probabilities of the same tokens under the reference ``pi_ref``.

    Returns:
        a tensor of the broadcast shape, ``>= 0`` element-wise.

    >>> k3_kl(torch.tensor([0.0]), torch.tensor([0.0]))
    tensor([0.])
    """
    log_ratio = ref_logp - logp
    return torch.exp(log_ratio) - log_ratio - 1.0


def approx_kl(old_logp: torch.Tensor, new_logp: torch.Tensor) -> torch.Tensor:
    """``k3`` estimate of ``KL(pi_old || pi_new)`` on samples from ``pi_old`` (a scalar mean).

    CleanRL's ``approx_kl = ((ratio - 1) - log(ratio)).mean()`` with
    ``ratio = pi_new / pi_old``; logged as ``losses/approx_kl`` to watch how far one update
    moved the policy.
    """
    log_ratio = new_logp - old_logp
    return ((torch.exp(log_ratio) - 1.0) - log_ratio).mean()


__all__ = ["approx_kl", "k3_kl"]
