"""Micro-batches with gradient accumulation give the whole minibatch's gradient (and
statistics) for every algorithm and GRPO loss type."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch
from rl_helpers import (
    build,
    first_minibatch,
    gradients,
    grounding_config,
)

from stvg.policies.base import Rollouts
from stvg.policies.native import NativePolicy
from stvg.training.algorithms import GRPO, PPO, RLOO, Minibatch, PolicyOutputs, grpo_loss
from stvg.training.config import GRPOConfig, PPOConfig, RLOOConfig
from stvg.training.loop import Trainer

CASES = {
    "grpo": {"grpo": {"group_size": 3, "loss_type": "grpo", "beta": 0.05}},
    "dr_grpo": {"grpo": {"group_size": 3, "loss_type": "dr_grpo", "beta": 0.05}},
    "dapo": {"grpo": {"group_size": 3, "loss_type": "dapo", "dynamic_sampling": False}},
    "rloo": {"algorithm": "rloo", "rloo": {"group_size": 3, "beta": 0.1}},
    "ppo": {"algorithm": "ppo", "batch_size": 5, "ppo": {"ent_coef": 0.01}},
}


def in_float64(policy: NativePolicy) -> None:
    """Run the native model in float64 (its float32 inputs cast on the way in).

    The comparison is then of the accumulation itself, not of float32 reduction order: in
    float32, a minibatch of 6 rows and 6 micro-batches of 1 give conv-weight gradients that
    differ by up to 2.7e-6 at magnitudes of 1.6 (measured), in float64 by < 1e-12.
    """

    def cast(_module: torch.nn.Module, args: tuple) -> tuple:
        (batch,) = args
        return (
            dataclasses.replace(
                batch, frames=batch.frames.double(), rel_time=batch.rel_time.double()
            ),
        )

    policy.model.double()
    policy.model.register_forward_pre_hook(cast)


@pytest.mark.parametrize("case", sorted(CASES))
def test_micro_batches_accumulate_the_minibatch_gradient(
    setup: tuple[Path, Path], tmp_path: Path, case: str
) -> None:
    root, checkpoint = setup
    overrides = {"batch_size": 2, **CASES[case]}
    trainer = Trainer.create(
        build(grounding_config(root, checkpoint, tmp_path, **overrides)), tensorboard=False
    )
    try:
        mb = first_minibatch(trainer)
        in_float64(trainer.policy)
        rows = len(mb)
        assert rows == (5 if case == "ppo" else 6)
        full, full_stats = gradients(trainer, mb, rows)
        assert full and any(float(g.abs().max()) > 0 for g in full.values())
        worst = 0.0
        for size in (1, 2):
            grads, stats = gradients(trainer, mb, size)
            assert grads.keys() == full.keys()
            for i, grad in full.items():
                torch.testing.assert_close(grads[i], grad, rtol=0, atol=1e-6)
                worst = max(worst, float((grads[i] - grad).abs().max()))
            assert stats.keys() == full_stats.keys()
            for key, value in full_stats.items():
                assert stats[key] == pytest.approx(value, abs=1e-6), key
        assert worst < 1e-10
    finally:
        trainer.close()
    # something to compare: the perturbed ratios put some tokens outside the clip range
    if case != "ppo":
        assert full_stats["clipfrac"] > 0


def _rows(n: int, width: int, lengths: list[int]) -> tuple[Rollouts, torch.Tensor]:
    mask = torch.zeros(n, width, dtype=torch.bool)
    for row, length in enumerate(lengths):
        mask[row, :length] = True
    rollouts = Rollouts(
        actions=list(range(n)),
        obs_index=[row // 2 for row in range(n)],
        log_probs=torch.zeros(n, width),
        mask=mask,
    )
    return rollouts, mask


def test_split_keeps_the_minibatch_normalisers() -> None:
    # 4 answers of 3, 1, 2, 2 real tokens over 2 observations
    rollouts, mask = _rows(4, 3, [3, 1, 2, 2])
    mb = Minibatch(
        observations=[{"o": 0}, {"o": 1}],
        rollouts=rollouts,
        old_logp=torch.zeros(4, 3),
        mask=mask,
        advantages=torch.tensor([1.0, -1.0, 0.5, -0.5]),
        token_slots=3,
    )
    assert (mb.num_rows, mb.num_tokens) == (4, 8)
    parts = mb.split(3)
    assert [len(p) for p in parts] == [3, 1]
    assert [(p.num_rows, p.num_tokens) for p in parts] == [(4, 8), (4, 8)]
    # the second part holds row 3 only, whose observation (1) is re-indexed to 0
    assert parts[1].observations == [{"o": 1}] and parts[1].rollouts.obs_index == [0]
    assert parts[1].advantages.tolist() == [-0.5]
    assert mb.split(None) == [mb] and mb.split(4) == [mb]
    with pytest.raises(ValueError, match="size >= 1"):
        mb.split(0)


@pytest.mark.parametrize(
    ("loss_type", "expected"),
    [
        # per-token loss -A at ratio 1; answers (A, tokens): (+1, 3), (-1, 1), (+0.5, 2), (-0.5, 2)
        # grpo: mean of per-answer means = (-1 + 1 - 0.5 + 0.5) / 4 = 0
        ("grpo", 0.0),
        # dr_grpo: sum / (N * L) = (-3 + 1 - 1 + 1) / (4 * 3) = -2 / 12
        ("dr_grpo", -2.0 / 12.0),
        # dapo: sum / tokens = -2 / 8
        ("dapo", -0.25),
    ],
)
def test_micro_batch_losses_add_up_by_hand(loss_type: str, expected: float) -> None:
    _, mask = _rows(4, 3, [3, 1, 2, 2])
    adv = torch.tensor([1.0, -1.0, 0.5, -0.5])
    logp = torch.zeros(4, 3)
    whole, _ = grpo_loss(logp, logp, adv, mask, loss_type=loss_type, token_slots=3)
    assert float(whole) == pytest.approx(expected, abs=1e-7)
    parts = [
        grpo_loss(
            logp[rows],
            logp[rows],
            adv[rows],
            mask[rows],
            loss_type=loss_type,
            token_slots=3,
            num_rows=4,
            num_tokens=8,
        )[0]
        for rows in (slice(0, 1), slice(1, 4))
    ]
    assert float(sum(parts)) == pytest.approx(expected, abs=1e-7)


ALGORITHMS = {
    "grpo": lambda: GRPO(GRPOConfig(group_size=2, loss_type="grpo", beta=0.1)),
    "dr_grpo": lambda: GRPO(GRPOConfig(group_size=2, loss_type="dr_grpo", beta=0.1)),
    "dapo": lambda: GRPO(GRPOConfig(group_size=2, loss_type="dapo")),
    "rloo": lambda: RLOO(RLOOConfig(group_size=2)),
    "ppo": lambda: PPO(PPOConfig(ent_coef=0.01)),
}


@pytest.mark.parametrize("name", sorted(ALGORITHMS))
def test_accumulated_gradient_with_answers_of_different_lengths(name: str) -> None:
    """A shared weight vector scores every token (``logp = log sigmoid(w . x)``), so the
    gradient sums over rows and tokens; answers have 1 to 4 real tokens of 4 slots."""
    gen = torch.Generator().manual_seed(0)
    n, width, dim = 6, 4, 3
    x = torch.randn(n, width, dim, generator=gen, dtype=torch.float64)
    rollouts, mask = _rows(n, width, [4, 1, 3, 2, 4, 1])
    mb = Minibatch(
        observations=[{"o": i} for i in range(3)],
        rollouts=rollouts,
        old_logp=-torch.rand(n, width, generator=gen, dtype=torch.float64),
        mask=mask,
        advantages=torch.randn(n, generator=gen, dtype=torch.float64),
        returns=torch.randn(n, generator=gen, dtype=torch.float64),
        old_values=torch.randn(n, generator=gen, dtype=torch.float64),
        ref_logp=-torch.rand(n, width, generator=gen, dtype=torch.float64),
        token_slots=8,  # a max_new_tokens larger than the batch's width
    )
    algo = ALGORITHMS[name]()
    mb = algo.prepare(mb)
    w = torch.randn(dim, generator=gen, dtype=torch.float64, requires_grad=True)

    def backward(size: int | None) -> tuple[torch.Tensor, float]:
        w.grad = None
        total = 0.0
        for part in mb.split(size):
            index = torch.as_tensor([int(a) for a in part.rollouts.actions])
            score = x[index] @ w
            outputs = PolicyOutputs(
                logp=torch.nn.functional.logsigmoid(score) * part.mask,
                entropy=score.mean(-1).abs(),
                values=score[:, 0],
            )
            loss, _ = algo.loss(outputs, part)
            loss.backward()
            total += float(loss.detach())
        return w.grad.clone(), total

    full, full_loss = backward(None)
    assert float(full.abs().max()) > 1e-3
    for size in (1, 2, 4):
        grad, loss = backward(size)
        torch.testing.assert_close(grad, full, rtol=0, atol=1e-12)
        assert loss == pytest.approx(full_loss, abs=1e-12)
