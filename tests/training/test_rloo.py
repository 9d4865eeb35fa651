"""RLOO: leave-one-out advantages, KL folded into the reward, the REINFORCE gradient by
hand; a tiny training run."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from rl_helpers import (
    build,
    changed,
    grounding_config,
    parameters,
)

from stvg.policies.base import Rollouts
from stvg.training.algorithms import RLOO, rloo_advantages, rloo_loss
from stvg.training.batch import Experience
from stvg.training.config import RLOOConfig
from stvg.training.loop import Trainer
from stvg.training.run_dir import read_metrics


def test_leave_one_out_baselines_by_hand() -> None:
    adv = rloo_advantages(torch.tensor([1.0, 0.0, 0.0, 0.0, 3.0, 1.0, 2.0, 2.0]), 4)
    # group 1: baselines 0, 1/3, 1/3, 1/3; group 2: baselines 5/3, 7/3, 2, 2
    expected = [1.0, -1 / 3, -1 / 3, -1 / 3, 3 - 5 / 3, 1 - 7 / 3, 0.0, 0.0]
    assert adv.tolist() == pytest.approx(expected, abs=1e-6)


def test_rloo_needs_two_answers() -> None:
    with pytest.raises(ValueError, match="group_size >= 2"):
        rloo_advantages(torch.zeros(3), 1)


def test_reinforce_gradient_is_minus_advantage_over_n() -> None:
    logp = torch.zeros(3, 2, requires_grad=True)
    mask = torch.tensor([[True, True], [True, False], [True, True]])
    adv = torch.tensor([1.5, -0.5, -1.0])
    loss, stats = rloo_loss(logp, logp.detach(), adv, mask)
    loss.backward()
    # loss = -mean_i A_i * sum_t logp_it: d/dlogp_it = -A_i / 3 on real tokens, 0 on padding
    expected = [-0.5, -0.5, 1 / 6, 0.0, 1 / 3, 1 / 3]
    assert logp.grad.reshape(-1).tolist() == pytest.approx(expected, abs=1e-7)
    assert float(stats["clipfrac"]) == 0.0


def test_kl_is_folded_into_the_reward() -> None:
    n = 2
    rollouts = Rollouts(
        actions=[0, 1],
        obs_index=[0, 0],
        log_probs=torch.tensor([[math.log(0.5)], [math.log(0.5)]]),
        mask=torch.ones(n, 1, dtype=torch.bool),
    )
    experience = Experience(
        observations=[{}],
        rollouts=rollouts,
        rewards=np.array([1.0, 0.0]),
        terminated=np.ones(n, dtype=bool),
        truncated=np.zeros(n, dtype=bool),
        next_values=np.zeros(n),
        sample_ids=["a", "a"],
    )
    ref = torch.tensor([[math.log(0.25)], [math.log(0.5)]])
    result = RLOO(RLOOConfig(group_size=2, beta=0.5)).advantages(experience, ref)
    # r' = [1 - 0.5 * ln 2, 0 - 0]; A = r'_i - r'_other
    r0 = 1.0 - 0.5 * math.log(2.0)
    assert result.advantages.tolist() == pytest.approx([r0, -r0], abs=1e-6)
    assert result.stats["losses/kl"] == pytest.approx(math.log(2.0) / 2, abs=1e-9)


def test_rloo_trains(setup: tuple[Path, Path], tmp_path: Path) -> None:
    root, checkpoint = setup
    overrides = {"algorithm": "rloo", "rloo": {"group_size": 3, "beta": 0.1}, "update_epochs": 2}
    trainer = Trainer.create(
        build(grounding_config(root, checkpoint, tmp_path, **overrides)), tensorboard=False
    )
    before = parameters(trainer.policy)
    try:
        result = trainer.train()
    finally:
        trainer.close()
    assert changed(before, parameters(trainer.policy))
    lines = read_metrics(result.run_dir)
    assert len(lines) == 2
    assert lines[0]["charts/trained_rows"] == 6  # 2 prompts x 3 answers
    for key in (
        "losses/policy_loss",
        "losses/kl",
        "losses/clipfrac",
        "rewards/sampled/total",
        "charts/SPS",
    ):
        assert key in lines[0], key
