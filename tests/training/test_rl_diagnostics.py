"""The RL diagnostics every iteration logs: sampled and greedy rewards, the box head's
sampling spread, zero-variance groups, advantage scale and KL to the reference."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from rl_helpers import (
    build,
    env_kwargs,
    grounding_config,
    parameters,
)

from stvg.config import ConfigError
from stvg.envs.make import make_env
from stvg.policies.base import Rollouts
from stvg.policies.native import NativePolicy
from stvg.training.batch import EpisodeRecord, Experience
from stvg.training.loop import Trainer
from stvg.training.metrics import episode_summary, greedy_summary, group_summary
from stvg.training.run_dir import read_metrics


# ---------------------------------------------------------------- the summaries by hand
def test_group_summary_by_hand() -> None:
    # group 1 all equal; group 2 [0, 1, 0, 1]: mean 0.5, unbiased var 4 * 0.25 / 3 = 1/3
    out = group_summary([1.0, 1.0, 1.0, 1.0, 0.0, 1.0, 0.0, 1.0], 4)
    assert out["charts/zero_variance_groups"] == 0.5
    assert out["charts/reward_std"] == pytest.approx((0.0 + math.sqrt(1 / 3)) / 2)
    assert group_summary([0.3, 0.3, 0.2, 0.2], 2)["charts/zero_variance_groups"] == 1.0
    assert group_summary([0.3, 0.4, 0.2, 0.1], 2)["charts/zero_variance_groups"] == 0.0


def test_group_summary_rejects_partial_groups() -> None:
    with pytest.raises(ValueError, match="5 rewards are not a whole number of groups of 2"):
        group_summary([1, 2, 3, 4, 5], 2)


def test_sampled_rewards_are_named_rewards_sampled() -> None:
    episodes = [
        EpisodeRecord("a", 1.5, 1, {"reward": 1.5, "t_iou": 0.5, "v_iou": 0.25, "reward/l1": 0.8}),
        EpisodeRecord("a", 0.5, 1, {"reward": 0.5, "t_iou": 1.0, "v_iou": 0.75, "reward/l1": 0.2}),
    ]
    out = episode_summary(episodes)
    assert out["rewards/sampled/total"] == 1.0
    assert out["rewards/sampled/t_iou"] == 0.75
    assert out["rewards/sampled/v_iou"] == 0.5
    assert out["rewards/l1/mean"] == 0.5
    assert not {"rewards/total/mean", "charts/t_iou", "charts/v_iou"} & set(out)


def test_greedy_summary_by_hand() -> None:
    infos = [
        {"reward": 2.0, "t_iou": 0.5, "v_iou": 0.5, "parse_ok": True},
        {"reward": 1.0, "t_iou": 0.25, "v_iou": 0.0},
    ]
    assert greedy_summary(infos) == {
        "rewards/greedy/total": 1.5,
        "rewards/greedy/t_iou": 0.375,
        "rewards/greedy/v_iou": 0.25,
    }


def test_native_box_std_includes_temperature_and_clamp(setup: tuple[Path, Path]) -> None:
    _, checkpoint = setup
    policy = NativePolicy.load(checkpoint, box_temperature=0.3)
    with torch.no_grad():
        policy.model.box_log_std.copy_(torch.log(torch.tensor([0.1, 0.2, 0.1, 0.2])))
    assert policy.diagnostics()["policy/box_std"] == pytest.approx(0.3 * 0.15)
    with torch.no_grad():  # below min_log_std = -5: the model samples with exp(-5)
        policy.model.box_log_std.fill_(-9.0)
    assert policy.diagnostics()["policy/box_std"] == pytest.approx(0.3 * math.exp(-5.0))
    env = make_env("stvg/Grounding-v0", env_kwargs(setup[0]))
    out, _ = policy.forward([env.reset(seed=0)[0]])  # what sample() draws with
    env.close()
    assert float(out.box_log_std.detach().exp().mean()) == pytest.approx(0.3 * math.exp(-5.0))


def test_greedy_every_must_not_be_negative(setup: tuple[Path, Path], tmp_path: Path) -> None:
    root, checkpoint = setup
    with pytest.raises(ConfigError, match="greedy_every"):
        build(grounding_config(root, checkpoint, tmp_path, greedy_every=-1))


# ---------------------------------------------------------------- the trainer's log lines
def _trained(config: dict) -> tuple[dict, list[dict]]:
    trainer = Trainer.create(build(config), tensorboard=False)
    try:
        result = trainer.train()
    finally:
        trainer.close()
    return parameters(trainer.policy), read_metrics(result.run_dir)


def test_greedy_logging_leaves_training_unchanged(setup: tuple[Path, Path], tmp_path: Path) -> None:
    """Greedy answers every iteration or never: bit-identical weights and sampled rewards."""
    root, checkpoint = setup
    common = {
        "iterations": 3,
        "grpo": {"group_size": 4, "beta": 0.05},
        "policy": {
            "name": "native",
            "config": {"checkpoint": str(checkpoint), "box_temperature": 0.5},
        },
    }
    on, lines_on = _trained(
        grounding_config(root, checkpoint, tmp_path / "on", greedy_every=1, **common)
    )
    off, lines_off = _trained(
        grounding_config(root, checkpoint, tmp_path / "off", greedy_every=0, **common)
    )
    assert on.keys() == off.keys()
    assert all(torch.equal(on[k], off[k]) for k in on)
    for a, b in zip(lines_on, lines_off, strict=True):
        assert a["rewards/sampled/total"] == b["rewards/sampled/total"]
        assert a["losses/kl"] == b["losses/kl"]
    assert all("rewards/greedy/v_iou" in line for line in lines_on)
    assert not any(k.startswith("rewards/greedy/") for line in lines_off for k in line)


def test_greedy_rewards_are_the_deterministic_answers_scores(
    setup: tuple[Path, Path], tmp_path: Path
) -> None:
    """All 4 samples in one batch: iteration 1's greedy reward is the mean score of the
    starting policy's ``act`` on each sample, played here on an env of our own; greedy
    every 2 iterations of 5 logs iterations 1, 2 and 4."""
    root, checkpoint = setup
    config = grounding_config(
        root, checkpoint, tmp_path, iterations=5, batch_size=4, greedy_every=2
    )
    _, lines = _trained(config)
    greedy = [line["iteration"] for line in lines if "rewards/greedy/total" in line]
    assert greedy == [1, 2, 4]
    policy = NativePolicy.load(checkpoint)
    env = make_env("stvg/Grounding-v0", env_kwargs(root))
    infos = []
    for index in range(4):
        obs, _ = env.reset(options={"index": index})
        infos.append(env.step(policy.act(obs))[-1])
    env.close()
    for key in ("reward", "t_iou", "v_iou"):
        name = "total" if key == "reward" else key
        expected = float(np.mean([info[key] for info in infos]))
        assert lines[0][f"rewards/greedy/{name}"] == pytest.approx(expected, abs=1e-6)
    # the native policy's sampling spread: temperature 1, the checkpoint's init log-std -2
    assert lines[0]["policy/box_std"] == pytest.approx(math.exp(-2.0), rel=1e-6)
    assert all(0.0 <= line["charts/zero_variance_groups"] <= 1.0 for line in lines)
    assert all(line["charts/advantage_abs_mean"] >= 0.0 for line in lines)


def test_metrics_of_a_scripted_batch(setup: tuple[Path, Path], tmp_path: Path) -> None:
    """The loop's group figures come from the episodes played: rewards [1, 1, 1, 1] and
    [0, 1, 0, 1] give zero_variance_groups 0.5 and |A| mean 0.5 (GRPO: the second group's
    advantages are +-0.5 / (std + 1e-4) ~ +-0.866 on half the rows)."""
    root, checkpoint = setup
    trainer = Trainer.create(build(grounding_config(root, checkpoint, tmp_path)), tensorboard=False)
    try:
        rewards = [1.0, 1.0, 1.0, 1.0, 0.0, 1.0, 0.0, 1.0]
        experience = Experience(
            observations=[{"i": 0}, {"i": 1}],
            rollouts=Rollouts(
                actions=list(range(8)),
                obs_index=[i // 4 for i in range(8)],
                log_probs=torch.zeros(8, 1),
                mask=torch.ones(8, 1, dtype=torch.bool),
            ),
            rewards=np.asarray(rewards),
            terminated=np.ones(8, dtype=bool),
            truncated=np.zeros(8, dtype=bool),
            next_values=np.zeros(8),
            sample_ids=[f"s{i // 4}" for i in range(8)],
            episodes=[
                EpisodeRecord(f"s{i // 4}", r, 1, {"reward": r}) for i, r in enumerate(rewards)
            ],
        )
        adv = trainer.algo.advantages(experience, None)
        metrics = trainer._metrics(experience, adv, {}, {}, 1.0, 1.0)
    finally:
        trainer.close()
    assert metrics["charts/zero_variance_groups"] == 0.5
    assert metrics["charts/reward_std"] == pytest.approx(math.sqrt(1 / 3) / 2)
    assert metrics["rewards/sampled/total"] == 0.75
    assert metrics["charts/advantage_abs_mean"] == pytest.approx(
        0.5 * 0.5 / (math.sqrt(1 / 3) + 1e-4), rel=1e-6
    )


@pytest.mark.parametrize(
    ("algorithm", "extra"),
    [
        ("grpo", {"grpo": {"group_size": 4, "beta": 0.1}}),
        ("rloo", {"rloo": {"group_size": 4, "beta": 0.1}}),
    ],
)
def test_kl_to_the_reference_is_logged(
    setup: tuple[Path, Path], tmp_path: Path, algorithm: str, extra: dict
) -> None:
    root, checkpoint = setup
    config = grounding_config(root, checkpoint, tmp_path, algorithm=algorithm, **extra)
    _, lines = _trained(config)
    for line in lines:
        for key in ("losses/kl", "policy/box_std", "charts/zero_variance_groups"):
            assert key in line, (algorithm, key)
    assert lines[0]["losses/kl"] == pytest.approx(0.0, abs=1e-6)  # policy == reference
    assert lines[1]["losses/kl"] != 0.0


def test_ppo_logs_greedy_rewards_and_no_group_figures(
    setup: tuple[Path, Path], tmp_path: Path
) -> None:
    root, checkpoint = setup
    config = grounding_config(root, checkpoint, tmp_path, algorithm="ppo", greedy_every=1)
    _, lines = _trained(config)
    assert all("rewards/greedy/v_iou" in line and "policy/box_std" in line for line in lines)
    assert not any("charts/zero_variance_groups" in line for line in lines)
