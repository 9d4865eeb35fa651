"""GRPO, Dr. GRPO and DAPO: advantages, losses and KL by hand; a tiny training run."""

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

from stvg.config import ConfigError
from stvg.policies.base import Rollouts
from stvg.training.algorithms import (
    GRPO,
    group_normalized_advantages,
    grpo_loss,
    informative_groups,
    k3_kl,
)
from stvg.training.batch import Experience
from stvg.training.config import GRPOConfig
from stvg.training.loop import Trainer
from stvg.training.run_dir import read_metrics


# ---------------------------------------------------------------- advantages
def test_group_normalised_advantages_by_hand() -> None:
    rewards = torch.tensor([1.0, 0.0, 0.0, 1.0, 0.5, 0.5, 0.5, 0.5])
    adv = group_normalized_advantages(rewards, 4)
    # group 1: mean 0.5, unbiased std sqrt((4 * 0.25) / 3) = sqrt(1/3); group 2: all equal
    a = 0.5 / (math.sqrt(1.0 / 3.0) + 1e-4)
    assert adv.tolist() == pytest.approx([a, -a, -a, a, 0.0, 0.0, 0.0, 0.0], abs=1e-12)


def test_dr_grpo_advantages_do_not_divide_by_std() -> None:
    rewards = torch.tensor([0.9, 0.1, 0.2, 0.0], dtype=torch.float64)
    adv = group_normalized_advantages(rewards, 2, scale=False)
    assert adv.tolist() == pytest.approx([0.4, -0.4, 0.1, -0.1], abs=1e-12)


def test_advantages_reject_partial_groups() -> None:
    with pytest.raises(ValueError, match="group_size=4"):
        group_normalized_advantages(torch.zeros(6), 4)


# ---------------------------------------------------------------- k3 KL
def test_k3_single_token_by_hand() -> None:
    # pi = 0.5, pi_ref = 0.25: k3 = 0.25/0.5 - log(0.25/0.5) - 1 = 0.5 + log 2 - 1
    value = k3_kl(torch.tensor([math.log(0.5)]), torch.tensor([math.log(0.25)]))
    assert float(value) == pytest.approx(0.5 + math.log(2.0) - 1.0, abs=1e-7)


def test_k3_expectation_is_the_exact_kl_of_two_categoricals() -> None:
    p = torch.tensor([0.5, 0.5], dtype=torch.float64)
    q = torch.tensor([0.25, 0.75], dtype=torch.float64)
    expected = float((p * (p / q).log()).sum())  # 0.5 ln 2 + 0.5 ln(2/3) = 0.143841...
    assert expected == pytest.approx(0.1438410362, abs=1e-9)
    assert float((p * k3_kl(p.log(), q.log())).sum()) == pytest.approx(expected, abs=1e-12)


def test_k3_monte_carlo_matches_gaussian_kl() -> None:
    # KL(N(0, 1) || N(1, 1)) = (0 - 1)^2 / 2 = 0.5
    x = torch.randn(200_000, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    logp = -0.5 * x**2
    ref_logp = -0.5 * (x - 1.0) ** 2
    assert float(k3_kl(logp, ref_logp).mean()) == pytest.approx(0.5, abs=0.02)


# ---------------------------------------------------------------- losses
def _two_answers() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Answer 0: 3 tokens, A = +1; answer 1: 1 token (2 slots of padding), A = -1."""
    logp = torch.zeros(2, 3)
    mask = torch.tensor([[True, True, True], [True, False, False]])
    return logp, torch.tensor([1.0, -1.0]), mask


def test_loss_aggregations_by_hand() -> None:
    logp, adv, mask = _two_answers()
    # ratio 1 everywhere, so the per-token loss is -A: -1 on 3 tokens, +1 on 1 token
    grpo, _ = grpo_loss(logp, logp, adv, mask, loss_type="grpo")
    dapo, _ = grpo_loss(logp, logp, adv, mask, loss_type="dapo")
    dr, _ = grpo_loss(logp, logp, adv, mask, loss_type="dr_grpo")
    assert float(grpo) == pytest.approx(0.0)  # mean(-3/3, +1/1)
    assert float(dapo) == pytest.approx(-0.5)  # (-3 + 1) / 4 tokens
    assert float(dr) == pytest.approx(-1.0 / 3.0)  # (-3 + 1) / (2 answers x 3 slots)


def test_clip_higher_and_clip_fraction_by_hand() -> None:
    mask = torch.ones(2, 1, dtype=torch.bool)
    old = torch.zeros(2, 1)
    new = torch.full((2, 1), math.log(1.5))  # ratio 1.5 on both tokens
    adv = torch.tensor([1.0, -1.0])
    loss, stats = grpo_loss(new, old, adv, mask, eps_low=0.2, eps_high=0.2)
    # A > 0: min(1.5, 1.2) = 1.2 -> -1.2 (clipped); A < 0: min(-1.5, -1.2) = -1.5 -> +1.5
    assert float(loss) == pytest.approx((-1.2 + 1.5) / 2)
    assert float(stats["clipfrac"]) == pytest.approx(0.5)
    loss_high, _ = grpo_loss(new, old, adv, mask, eps_low=0.2, eps_high=0.28)
    assert float(loss_high) == pytest.approx((-1.28 + 1.5) / 2)
    assert float(stats["approx_kl"]) == pytest.approx(0.5 - math.log(1.5), abs=1e-6)


def test_kl_penalty_adds_beta_times_k3() -> None:
    mask = torch.ones(1, 1, dtype=torch.bool)
    logp = torch.full((1, 1), math.log(0.5), requires_grad=True)
    ref = torch.full((1, 1), math.log(0.25))
    loss, stats = grpo_loss(logp, logp.detach(), torch.zeros(1), mask, beta=0.1, ref_logp=ref)
    k3 = 0.5 + math.log(2.0) - 1.0
    assert float(loss.detach()) == pytest.approx(0.1 * k3, abs=1e-7)
    assert float(stats["kl"]) == pytest.approx(k3, abs=1e-7)
    loss.backward()
    # d/dlogp [beta * (exp(ref - logp) - (ref - logp) - 1)] = beta * (1 - exp(ref - logp))
    assert float(logp.grad) == pytest.approx(0.1 * (1.0 - 0.5), abs=1e-7)
    with pytest.raises(ValueError, match="ref_logp"):
        grpo_loss(logp, logp, torch.zeros(1), mask, beta=0.1)


def test_policy_gradient_pushes_up_positive_advantages() -> None:
    logp = torch.zeros(2, 1, requires_grad=True)
    loss, _ = grpo_loss(
        logp, logp.detach(), torch.tensor([2.0, -1.0]), torch.ones(2, 1, dtype=torch.bool)
    )
    loss.backward()
    assert logp.grad.reshape(-1).tolist() == pytest.approx([-1.0, 0.5])  # -A / N


# ---------------------------------------------------------------- dynamic sampling
def _experience(rewards: list[float], group_size: int) -> Experience:
    n = len(rewards)
    rollouts = Rollouts(
        actions=list(range(n)),
        obs_index=[i // group_size for i in range(n)],
        log_probs=torch.zeros(n, 1),
        mask=torch.ones(n, 1, dtype=torch.bool),
    )
    return Experience(
        observations=[{"i": i} for i in range(n // group_size)],
        rollouts=rollouts,
        rewards=np.asarray(rewards),
        terminated=np.ones(n, dtype=bool),
        truncated=np.zeros(n, dtype=bool),
        next_values=np.zeros(n),
        sample_ids=[f"s{i // group_size}" for i in range(n)],
    )


def test_informative_groups() -> None:
    assert informative_groups(np.array([1.0, 1.0, 0.0, 1.0, 0.5, 0.5]), 2).tolist() == [1]


def test_dapo_dynamic_sampling_refills_the_batch() -> None:
    rounds = iter([[1.0, 1.0, 0.0, 1.0], [0.0, 0.0], [0.2, 0.7]])
    asked = []

    def collect(n: int) -> Experience:
        asked.append(n)
        return _experience(next(rounds), 2)

    algo = GRPO(GRPOConfig(group_size=2, loss_type="dapo"))
    experience, stats = algo.collect(collect, 2)
    assert asked == [2, 1, 1]
    assert experience.rewards.tolist() == [0.0, 1.0, 0.2, 0.7]
    assert experience.rollouts.obs_index == [0, 0, 1, 1]
    assert stats == {"charts/sampling_rounds": 3.0, "charts/kept_groups_frac": 0.5}


def test_grpo_config_validation() -> None:
    with pytest.raises(ConfigError, match="grpo.group_size"):
        build({"grpo": {"group_size": 1}})
    assert GRPOConfig(loss_type="dapo").eps_high == pytest.approx(0.28)
    assert GRPOConfig(loss_type="dapo").uses_dynamic_sampling
    assert not GRPOConfig().uses_dynamic_sampling


# ---------------------------------------------------------------- training
def test_grpo_trains_with_kl_to_the_reference(setup: tuple[Path, Path], tmp_path: Path) -> None:
    root, checkpoint = setup
    config = build(
        grounding_config(root, checkpoint, tmp_path, grpo={"group_size": 4, "beta": 0.05})
    )
    trainer = Trainer.create(config, tensorboard=True)
    before = parameters(trainer.policy)
    try:
        result = trainer.train()
    finally:
        trainer.close()
    assert changed(before, parameters(trainer.policy))
    lines = read_metrics(result.run_dir)
    assert [line["iteration"] for line in lines] == [1, 2]
    for key in (
        "charts/episodic_return",
        "rewards/sampled/total",
        "rewards/t_iou/mean",
        "rewards/v_iou/mean",
        "rewards/sampled/t_iou",
        "rewards/sampled/v_iou",
        "losses/loss",
        "losses/kl",
        "losses/entropy",
        "losses/clipfrac",
        "losses/approx_kl",
        "charts/SPS",
    ):
        assert key in lines[0], key
    assert lines[0]["charts/trained_rows"] == 8  # 2 prompts x 4 answers
    # iteration 1: the policy is the reference and the sampler, so KL and ratio are 0/1
    assert lines[0]["losses/kl"] == pytest.approx(0.0, abs=1e-6)
    assert lines[0]["losses/approx_kl"] == pytest.approx(0.0, abs=1e-5)
    assert lines[1]["losses/kl"] > 0.0
    assert (result.run_dir / "config.yaml").is_file()
    assert list((result.run_dir / "tb").glob("events.out.tfevents.*"))
    assert (result.run_dir / "checkpoints" / "iter_000002" / "policy.pt").is_file()
    assert result.run_dir.name.startswith("Grounding-v0__grpo__seed3__")


@pytest.mark.parametrize("loss_type", ["dr_grpo", "dapo"])
def test_grpo_variants_train(setup: tuple[Path, Path], tmp_path: Path, loss_type: str) -> None:
    root, checkpoint = setup
    overrides = {"iterations": 1, "grpo": {"group_size": 4, "loss_type": loss_type}}
    trainer = Trainer.create(
        build(grounding_config(root, checkpoint, tmp_path, **overrides)), tensorboard=False
    )
    before = parameters(trainer.policy)
    try:
        result = trainer.train()
    finally:
        trainer.close()
    assert changed(before, parameters(trainer.policy))
    if loss_type == "dapo":
        assert "charts/kept_groups_frac" in result.metrics
