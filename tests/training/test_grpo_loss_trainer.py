"""The GRPO losses through the real trainer: ``Trainer.accumulate_gradients`` on a
minibatch made by the trainer's own ``_minibatch``, checked against figures computed by
hand for ``grpo``, ``dr_grpo`` and ``dapo``.

The policy is a tiny float32 Qwen2.5-VL (the built-in policy whose answers have several
tokens, so the per-answer token counts matter), trained by a
:class:`~stvg.training.loop.Trainer` made by ``Trainer.create``. Its log-probabilities are
measured once with the trainer's evaluation path, and the sampling log-probs set from them
so that every token's ratio ``pi / pi_old`` is the one chosen below.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from rl_helpers import build, make_split, vlm_text_env

from stvg.envs.make import make_env
from stvg.policies.base import Rollouts, TextCompletion
from stvg.training.algorithms import policy_outputs
from stvg.training.batch import Experience
from stvg.training.loop import Trainer

# Two prompts x two answers, rows observation-major (rows 0-1: prompt 0, rows 2-3: prompt 1).
REWARDS = [1.0, 0.0, 0.0, 1.0]
#: generated token ids of the answers (byte symbols, no vision tokens): 3, 1, 2, 2 tokens
TOKENS = [(40, 41, 42), (43,), (44, 45), (46, 47)]
WIDTH = 3  # token slots of the batch (the longest answer)
MAX_NEW_TOKENS = 4  # the policy's budget: Dr. GRPO's L = max(4, WIDTH) = 4
#: pi / pi_old on every real token of each answer
RATIOS = [1.5, 0.5, 1.0, 1.0]

# ------------------------------------------------------------------ the figures by hand
# Advantages. Each group is {1, 0}: mean 0.5, unbiased std sqrt(2 * 0.25 / 1) = sqrt(0.5).
#   grpo, dapo: A = +-0.5 / (sqrt(0.5) + 1e-4) = +-a, i.e. [a, -a, -a, a];
#   dr_grpo (no std division): A = [0.5, -0.5, -0.5, 0.5].
a = 0.5 / (math.sqrt(0.5) + 1e-4)
# Per-token loss l = -min(r * A, clip(r, 1 - eps_low, 1 + eps_high) * A), eps_low = 0.2,
# eps_high = 0.2 (0.28 for dapo), with s = |A| (a, or 0.5 for dr_grpo):
#   answer 0 (r 1.5, A +s, 3 tokens): min(1.5s, 1.2s) = 1.2s -> l = -1.2s (-1.28s for
#             dapo: min(1.5s, 1.28s)); clipped
#   answer 1 (r 0.5, A -s, 1 token):  min(-0.5s, -0.8s) = -0.8s -> l = +0.8s; clipped
#   answer 2 (r 1.0, A -s, 2 tokens): l = +s
#   answer 3 (r 1.0, A +s, 2 tokens): l = -s
# Aggregation (N = 4 answers, 8 real tokens, L = 4 slots):
#   grpo    = mean of the answers' token means = (-1.2a + 0.8a + a - a) / 4 = -0.1a
#   dr_grpo = sum / (N * L) = 0.5 * (3 * -1.2 + 0.8 + 2 - 2) / 16 = -1.4 / 16 = -0.0875
#   dapo    = sum / tokens = a * (3 * -1.28 + 0.8 + 2 - 2) / 8 = -3.04a / 8 = -0.38a
# The same for every variant: clipfrac = 4 clipped tokens / 8 = 0.5 (answer 0's 3 and
# answer 1's 1); ratio = (3 * 1.5 + 0.5 + 2 + 2) / 8 = 1.125; approx_kl = token mean of
# (r - 1) - log r = (3 * (0.5 - log 1.5) + (-0.5 + log 2)) / 8.
# Gradient: the clipped tokens take the constant branch of the min, so only answers 2 and 3
# push, with dL/dlogp_it = -r * A_i * w_i at r = 1 (w_i: the token's weight in the
# aggregation, 1 / (|o_i| * N) = 1/8 for grpo, 1 / (N * L) = 1/16 for dr_grpo, 1 / 8 for
# dapo); answers 2 and 3 have different tokens, so their pushes do not cancel.
CASES = {
    "grpo": {"adv": a, "loss": -0.1 * a, "grad_weight": a / 8},
    "dr_grpo": {"adv": 0.5, "loss": -0.0875, "grad_weight": 0.5 / 16},
    "dapo": {"adv": a, "loss": -0.38 * a, "grad_weight": a / 8},
}
CLIPFRAC = 0.5
RATIO = 1.125
APPROX_KL = (3 * (0.5 - math.log(1.5)) + (-0.5 + math.log(2.0))) / 8


@pytest.fixture(scope="module")
def tiny_vlm(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A 2-video synthetic split and a tiny random Qwen2.5-VL, as ``(root, model)``."""
    from stvg.policies.vlm.tiny import build_qwen25_vl

    base = tmp_path_factory.mktemp("grpo_loss")
    return make_split(base / "data", n=2), build_qwen25_vl(base / "qwen25")


@pytest.fixture(scope="module", params=sorted(CASES))
def trainer(
    request: pytest.FixtureRequest,
    tiny_vlm: tuple[Path, Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Trainer]:
    """A GRPO trainer of the ``loss_type`` in ``request.param`` (no KL, float32)."""
    root, model = tiny_vlm
    config = {
        "algorithm": "grpo",
        "seed": 0,
        "out_dir": str(tmp_path_factory.mktemp("runs")),
        "iterations": 1,
        "batch_size": 2,
        "progress_bar": False,
        "torch_threads": 2,
        "env": vlm_text_env(root),
        "policy": {
            "name": "vlm",
            "config": {
                "model_path": str(model),
                "max_new_tokens": MAX_NEW_TOKENS,
                "device": "cpu",
                "dtype": "float32",  # precision "no": no autocast rounding in the figures
                "seed": 0,
            },
        },
        "grpo": {"group_size": 2, "loss_type": request.param, "beta": 0.0},
        "rollout": {"num_workers": 0, "task_size": 2},
    }
    trainer = Trainer.create(build(config), tensorboard=False)
    yield trainer
    trainer.close()


def _observations(trainer: Trainer) -> list[dict[str, Any]]:
    """Two prompts of the env the trainer plays."""
    cfg = trainer.config
    env = make_env(cfg.env.id, trainer.env_kwargs, cfg.env.max_episode_steps)
    try:
        return [env.reset(seed=seed)[0] for seed in (0, 1)]
    finally:
        env.close()


def _rollouts() -> Rollouts:
    """The four answers of :data:`TOKENS` (sampling log-probs still 0)."""
    mask = torch.zeros(len(TOKENS), WIDTH, dtype=torch.bool)
    token_ids = torch.zeros(len(TOKENS), WIDTH, dtype=torch.long)
    for row, ids in enumerate(TOKENS):
        mask[row, : len(ids)] = True
        token_ids[row, : len(ids)] = torch.tensor(ids)
    return Rollouts(
        actions=[TextCompletion(f"answer {row}", ids) for row, ids in enumerate(TOKENS)],
        obs_index=[0, 0, 1, 1],
        log_probs=torch.zeros(len(TOKENS), WIDTH),
        mask=mask,
        token_ids=token_ids,
    )


def _grads(trainer: Trainer) -> list[torch.Tensor]:
    """A copy of every trained weight's ``.grad`` (zeros where there is none)."""
    return [
        torch.zeros_like(p) if p.grad is None else p.grad.detach().clone() for p in trainer._params
    ]


def test_accumulate_gradients_gives_the_grpo_loss_by_hand(trainer: Trainer) -> None:
    loss_type = trainer.algo.config.loss_type
    case = CASES[loss_type]
    assert trainer.precision == "no" and trainer.reference is None
    policy, observations, rollouts = trainer.policy, _observations(trainer), _rollouts()
    mask = rollouts.mask

    # the current log-probs, by the evaluation the trainer's loss uses; pi_old from them
    with torch.no_grad():
        logp = policy_outputs(policy, observations, rollouts, need_values=False).logp.float()
    assert logp.shape == (4, WIDTH) and bool((logp[mask] < 0).all())
    log_ratio = torch.log(torch.tensor(RATIOS)).reshape(-1, 1)
    rollouts = dataclasses.replace(rollouts, log_probs=torch.where(mask, logp - log_ratio, 0.0))

    # the trainer's advantages and minibatch
    experience = Experience(
        observations=observations,
        rollouts=rollouts,
        rewards=np.asarray(REWARDS),
        terminated=np.ones(4, dtype=bool),
        truncated=np.zeros(4, dtype=bool),
        next_values=np.zeros(4),
        sample_ids=["s0", "s0", "s1", "s1"],
    )
    adv = trainer.algo.advantages(experience, None)
    s = case["adv"]
    assert adv.advantages.tolist() == pytest.approx([s, -s, -s, s], abs=1e-6)
    mb = trainer.algo.prepare(trainer._minibatch(experience, adv, None, np.arange(4)))
    assert (mb.num_rows, mb.num_tokens, mb.token_slots) == (4, 8, MAX_NEW_TOKENS)

    trainer.optimizer.zero_grad()
    stats = trainer.accumulate_gradients(mb, micro_batch_size=None)
    grads = _grads(trainer)
    assert stats["loss"] == pytest.approx(case["loss"], abs=1e-6)
    assert stats["policy_loss"] == pytest.approx(case["loss"], abs=1e-6)
    assert stats["clipfrac"] == pytest.approx(CLIPFRAC, abs=1e-6)
    assert stats["ratio"] == pytest.approx(RATIO, abs=1e-6)
    assert stats["approx_kl"] == pytest.approx(APPROX_KL, abs=1e-6)
    assert stats["kl"] == 0.0  # beta 0: no reference
    # the VLM gives no entropy: the sampled tokens' surprisal per answer, -sum(logp) / N
    assert stats["entropy"] == pytest.approx(float(-logp[mask].sum()) / 4, rel=1e-6)

    # the gradient reached the weights, and it is that of the unclipped tokens alone
    assert math.sqrt(sum(float(g.pow(2).sum()) for g in grads)) > 1e-4
    trainer.optimizer.zero_grad()
    weight = case["grad_weight"]
    weights = torch.tensor([0.0, 0.0, weight, -weight]).reshape(-1, 1)
    surrogate = policy_outputs(policy, observations, rollouts, need_values=False).logp
    (surrogate * weights * mask).sum().backward()
    for got, want in zip(grads, _grads(trainer), strict=True):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-7)

    # one row per backward pass: the same loss, statistics and gradient
    trainer.optimizer.zero_grad()
    micro = trainer.accumulate_gradients(mb, micro_batch_size=1)
    assert micro.keys() == stats.keys()
    for key, value in stats.items():
        assert micro[key] == pytest.approx(value, abs=1e-6), key
    for got, want in zip(_grads(trainer), grads, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-7)
    trainer.optimizer.zero_grad()
