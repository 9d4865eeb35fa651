"""Advantage estimators: group-normalised (GRPO), leave-one-out (RLOO) and GAE (PPO).

All functions take plain tensors and return new ones; rows of a group are contiguous
(row ``i * G + j`` is answer ``j`` to prompt ``i``), the layout of
:class:`stvg.policies.base.Rollouts`.
"""

from __future__ import annotations

import torch


def _grouped(rewards: torch.Tensor, group_size: int) -> torch.Tensor:
    rewards = torch.as_tensor(rewards, dtype=torch.float64).reshape(-1)
    if group_size < 1:
        raise ValueError(f"group_size must be >= 1, got {group_size}")
    if rewards.numel() % group_size:
        raise ValueError(
            f"{rewards.numel()} rewards cannot be split into groups of group_size={group_size}: "
            "give a whole number of groups"
        )
    return rewards.view(-1, group_size)


def group_normalized_advantages(
    rewards: torch.Tensor, group_size: int, *, scale: bool = True, eps: float = 1e-4
) -> torch.Tensor:
    """GRPO advantages: each reward minus its group's mean, optionally over its group's std.

    ``A_ij = (r_ij - mean_j r_ij) / (std_j r_ij + eps)`` with the unbiased std (Shao et al.,
    2024, "DeepSeekMath", eq. 3; TRL's ``GRPOTrainer``); ``scale=False`` drops the std
    division, as Dr. GRPO does (Liu et al., 2025, "Understanding R1-Zero-Like Training"),
    because dividing by the std up-weights groups whose answers barely differ.

    Args:
        rewards: ``[B * G]`` rewards, groups contiguous.
        group_size: answers per prompt ``G`` (>= 2 when ``scale``).
        scale: divide by the group's standard deviation.
        eps: added to the std so that a group of equal rewards gives 0, not NaN.

    Returns:
        float64 ``[B * G]`` advantages.

    >>> group_normalized_advantages(torch.tensor([1.0, 0.0, 0.0, 1.0]), 4, scale=False)
    tensor([ 0.5000, -0.5000, -0.5000,  0.5000], dtype=torch.float64)
    """
    grouped = _grouped(rewards, group_size)
    centred = grouped - grouped.mean(dim=1, keepdim=True)
    if scale:
        if group_size < 2:
            raise ValueError("group-normalised advantages need group_size >= 2 to have a std")
        centred = centred / (grouped.std(dim=1, keepdim=True) + eps)
    return centred.reshape(-1)


def rloo_advantages(rewards: torch.Tensor, group_size: int) -> torch.Tensor:
    """RLOO advantages: each reward minus the mean of the *other* answers of its group.

    ``A_ij = r_ij - (sum_k r_ik - r_ij) / (G - 1) = G / (G - 1) * (r_ij - mean_j r_ij)``
    (Kool et al., 2019, "Buy 4 REINFORCE Samples, Get a Baseline for Free!"; Ahmadian et
    al., 2024, "Back to Basics"). The baseline does not depend on the answer it scores, so
    the gradient estimate stays unbiased.

    Args:
        rewards: ``[B * G]`` rewards, groups contiguous.
        group_size: answers per prompt ``G >= 2``.

    Returns:
        float64 ``[B * G]`` advantages.

    >>> rloo_advantages(torch.tensor([1.0, 0.0, 0.0, 0.0]), 4)
    tensor([ 1.0000, -0.3333, -0.3333, -0.3333], dtype=torch.float64)
    """
    if group_size < 2:
        raise ValueError(f"RLOO needs group_size >= 2 (a leave-one-out baseline), got {group_size}")
    grouped = _grouped(rewards, group_size)
    baseline = (grouped.sum(dim=1, keepdim=True) - grouped) / (group_size - 1)
    return (grouped - baseline).reshape(-1)


def generalized_advantage_estimates(
    rewards: torch.Tensor,
    values: torch.Tensor,
    next_values: torch.Tensor,
    terminated: torch.Tensor,
    truncated: torch.Tensor,
    *,
    gamma: float,
    gae_lambda: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """GAE(gamma, lambda) over whole episodes laid end to end (Schulman et al., 2016).

    Row ``t`` is one step. ``next_values[t]`` is ``V(s_{t+1})``, the value of the state the
    step led to; it is ignored after a **termination** (the episode truly ended, the future
    is worth 0) but used after a **truncation** (a time limit cut the episode: the future
    is worth ``V(s_{t+1})``, so we bootstrap from it). Either way the advantage recursion
    stops at an episode end::

        delta_t = r_t + gamma * (1 - terminated_t) * next_values_t - values_t
        A_t     = delta_t + gamma * lambda * (1 - done_t) * A_{t+1},  done = term | trunc
        returns = A + values

    Args:
        rewards, values, next_values: float ``[T]``.
        terminated, truncated: bool ``[T]``.
        gamma: discount factor.
        gae_lambda: GAE's lambda (0 = one-step TD, 1 = Monte Carlo).

    Returns:
        ``(advantages, returns)``, float64 ``[T]``.
    """
    rewards = torch.as_tensor(rewards, dtype=torch.float64).reshape(-1)
    values = torch.as_tensor(values, dtype=torch.float64).reshape(-1)
    next_values = torch.as_tensor(next_values, dtype=torch.float64).reshape(-1)
    terminated = torch.as_tensor(terminated, dtype=torch.bool).reshape(-1)
    truncated = torch.as_tensor(truncated, dtype=torch.bool).reshape(-1)
    n = rewards.numel()
    if not (values.numel() == next_values.numel() == terminated.numel() == truncated.numel() == n):
        raise ValueError(
            "GAE needs one value, next value, terminated and truncated flag per reward, got "
            f"rewards={n}, values={values.numel()}, next_values={next_values.numel()}, "
            f"terminated={terminated.numel()}, truncated={truncated.numel()}"
        )
    not_terminal = (~terminated).to(torch.float64)
    not_done = (~(terminated | truncated)).to(torch.float64)
    deltas = rewards + gamma * not_terminal * next_values - values
    advantages = torch.zeros(n, dtype=torch.float64)
    last = 0.0
    for t in reversed(range(n)):
        last = deltas[t] + gamma * gae_lambda * not_done[t] * last
        advantages[t] = last
    return advantages, advantages + values


__all__ = ["generalized_advantage_estimates", "group_normalized_advantages", "rloo_advantages"]
