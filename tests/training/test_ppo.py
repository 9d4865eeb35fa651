"""PPO: GAE with truncation bootstrapping and the clipped loss by hand; tiny training runs
on the single-turn env (native policy) and on the tracking env (tracking-mlp, time limit)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from rl_helpers import (
    build,
    changed,
    grounding_config,
    parameters,
)

from stvg.training.algorithms import explained_variance, generalized_advantage_estimates, ppo_loss
from stvg.training.loop import Trainer
from stvg.training.run_dir import read_metrics


def _gae(truncated_second: bool) -> tuple[torch.Tensor, torch.Tensor]:
    # episode A: steps 0, 1 (step 1 ends it: truncated or terminated); episode B: step 2
    # (terminated). next_values: V(s1) = 0.4 inside A, V(final obs of A) = 0.6, and a
    # value after B's termination that must be ignored (10.0).
    return generalized_advantage_estimates(
        torch.tensor([1.0, 0.0, 2.0]),
        torch.tensor([0.5, 0.4, 0.3]),
        torch.tensor([0.4, 0.6, 10.0]),
        terminated=torch.tensor([False, not truncated_second, True]),
        truncated=torch.tensor([False, truncated_second, False]),
        gamma=0.9,
        gae_lambda=0.8,
    )


def test_gae_bootstraps_on_truncation_by_hand() -> None:
    adv, returns = _gae(truncated_second=True)
    # delta2 = 2 - 0.3 = 1.7 (terminated: no bootstrap)
    # delta1 = 0 + 0.9 * 0.6 - 0.4 = 0.14 (truncated: bootstrap from V = 0.6; A stops here)
    # delta0 = 1 + 0.9 * 0.4 - 0.5 = 0.86; A0 = 0.86 + 0.9 * 0.8 * 0.14 = 0.9608
    assert adv.tolist() == pytest.approx([0.9608, 0.14, 1.7], abs=1e-6)
    assert returns.tolist() == pytest.approx([1.4608, 0.54, 2.0], abs=1e-6)


def test_gae_does_not_bootstrap_on_termination() -> None:
    adv, _ = _gae(truncated_second=False)
    # delta1 = 0 - 0.4 = -0.4; A0 = 0.86 + 0.72 * (-0.4) = 0.572
    assert adv.tolist() == pytest.approx([0.572, -0.4, 1.7], abs=1e-6)


def test_single_turn_gae_is_reward_minus_value() -> None:
    adv, returns = generalized_advantage_estimates(
        torch.tensor([1.0, 0.2]),
        torch.tensor([0.25, 0.5]),
        torch.zeros(2),
        torch.tensor([True, True]),
        torch.tensor([False, False]),
        gamma=0.99,
        gae_lambda=0.95,
    )
    assert adv.tolist() == pytest.approx([0.75, -0.3], abs=1e-6)
    assert returns.tolist() == pytest.approx([1.0, 0.2], abs=1e-6)


def test_ppo_loss_by_hand() -> None:
    loss, stats = ppo_loss(
        logp=torch.tensor([math.log(1.5), math.log(0.5)]),
        old_logp=torch.zeros(2),
        advantages=torch.tensor([1.0, 1.0]),
        values=torch.tensor([1.0, 0.0]),
        old_values=torch.tensor([0.5, 0.5]),
        returns=torch.tensor([2.0, 0.0]),
        clip_coef=0.2,
        vf_coef=0.5,
        norm_adv=False,
    )
    # pg: max(-1.5, -1.2) = -1.2 and max(-0.5, -0.8) = -0.5 -> mean -0.85
    # v: clipped values 0.7 and 0.3 -> max((1-2)^2, (0.7-2)^2) = 1.69, max(0, 0.09) = 0.09
    #    -> 0.5 * mean = 0.445
    assert float(stats["policy_loss"]) == pytest.approx(-0.85, abs=1e-6)
    assert float(stats["value_loss"]) == pytest.approx(0.445, abs=1e-6)
    assert float(loss) == pytest.approx(-0.85 + 0.5 * 0.445, abs=1e-6)
    assert float(stats["clipfrac"]) == pytest.approx(1.0)
    # approx_kl = mean((r - 1) - log r) over r = 1.5, 0.5
    expected_kl = ((0.5 - math.log(1.5)) + (-0.5 - math.log(0.5))) / 2
    assert float(stats["approx_kl"]) == pytest.approx(expected_kl, abs=1e-6)


def test_ppo_loss_entropy_bonus_needs_entropy() -> None:
    args = [torch.zeros(2)] * 6
    with pytest.raises(ValueError, match="entropy"):
        ppo_loss(*args, ent_coef=0.01)
    loss, _ = ppo_loss(*args, ent_coef=0.5, entropy=torch.tensor([1.0, 3.0]), norm_adv=False)
    assert float(loss) == pytest.approx(-0.5 * 2.0)


def test_explained_variance() -> None:
    returns = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    assert explained_variance(returns, returns) == pytest.approx(1.0)
    assert explained_variance(torch.full((3,), 2.0, dtype=torch.float64), returns) == pytest.approx(
        0.0
    )


def test_ppo_trains_native_policy_on_the_single_turn_env(
    setup: tuple[Path, Path], tmp_path: Path
) -> None:
    root, checkpoint = setup
    overrides = {"algorithm": "ppo", "batch_size": 4, "update_epochs": 2, "num_minibatches": 2}
    overrides["ppo"] = {"ent_coef": 0.01}
    trainer = Trainer.create(
        build(grounding_config(root, checkpoint, tmp_path, **overrides)), tensorboard=False
    )
    before = parameters(trainer.policy)
    try:
        result = trainer.train()
    finally:
        trainer.close()
    assert changed(before, parameters(trainer.policy))
    line = read_metrics(result.run_dir)[-1]
    for key in (
        "losses/value_loss",
        "losses/policy_loss",
        "losses/entropy",
        "losses/explained_variance",
    ):
        assert key in line, key
    assert line["charts/episodic_length"] == 1.0


def test_ppo_trains_tracking_mlp_with_a_time_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STVG_CACHE", str(tmp_path / "cache"))
    config = {
        "algorithm": "ppo",
        "seed": 1,
        "out_dir": str(tmp_path / "runs"),
        "iterations": 2,
        "batch_size": 2,
        "num_minibatches": 2,
        "learning_rate": 3e-3,
        "progress_bar": False,
        "torch_threads": 1,
        "env": {
            "id": "stvg/SyntheticTrackingFlat-v0",
            "max_side": 32,
            "reward_mode": "dense",
            "flat_observation": {"frame_size": 8},
            "max_episode_steps": 4,
        },
        "policy": {"name": "tracking-mlp", "config": {"hidden": [16]}},
        "rollout": {"num_workers": 0, "task_size": 1},
    }
    trainer = Trainer.create(build(config), tensorboard=False)
    assert trainer.policy.config.obs_dim == 3 * 8 * 8 + 1 + 4 + 16  # frame, time, prev box, query
    before = parameters(trainer.policy)
    try:
        result = trainer.train()
    finally:
        trainer.close()
    assert changed(before, parameters(trainer.policy))
    line = read_metrics(result.run_dir)[-1]
    assert line["charts/episodic_length"] == 4.0  # every episode cut by the time limit
    assert line["charts/trained_rows"] == 8.0
    assert "losses/value_loss" in line
