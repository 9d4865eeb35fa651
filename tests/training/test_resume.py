"""Resuming a run from its last checkpoint ends exactly where an uninterrupted run ends."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from rl_helpers import build, grounding_config

from stvg.config import ConfigError
from stvg.training.loop import Trainer, load_trained_policy
from stvg.training.run_dir import read_metrics

#: Metrics that measure time and so differ between two runs of the same seed.
TIMING = (
    "charts/SPS",
    "charts/rollout_SPS",
    "time/rollout_s",
    "time/update_s",
    "time/iteration_s",
    "time/greedy_s",
)


class Interrupted(RuntimeError):
    """Stands for a crash of the training process."""


def _config(setup: tuple[Path, Path], out: Path, name: str, **overrides):
    root, checkpoint = setup
    overrides = {
        "name": name,
        "iterations": 4,
        "update_epochs": 2,
        "num_minibatches": 2,
        "checkpoint_every": 2,
        "grpo": {"group_size": 4, "beta": 0.02},
        **overrides,
    }
    return build(grounding_config(root, checkpoint, out, **overrides))


def _strip(lines: list[dict]) -> list[dict]:
    return [{k: v for k, v in line.items() if k not in TIMING} for line in lines]


def _interrupt_after_two(iteration: int, metrics, trainer) -> None:
    if iteration == 2:
        raise Interrupted


def test_two_plus_two_equals_four(setup: tuple[Path, Path], tmp_path: Path) -> None:
    straight = Trainer.create(_config(setup, tmp_path, "straight"), tensorboard=False)
    try:
        straight.train()
    finally:
        straight.close()

    first = Trainer.create(_config(setup, tmp_path, "resumed"), tensorboard=False)
    with pytest.raises(Interrupted):
        try:
            first.train(on_iteration_end=_interrupt_after_two)
        finally:
            first.close()
    run = first.run_dir.path
    # a line logged after the last checkpoint must not survive into the resumed run
    with open(run / "metrics.jsonl", "a", encoding="utf-8") as handle:
        handle.write('{"iteration": 3, "charts/episodic_return": -1.0}\n')

    second = Trainer.resume(run, tensorboard=False)
    assert second.iteration == 2
    try:
        second.train()
    finally:
        second.close()

    a, b = straight.policy.state_dict(), second.policy.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    for key, value in straight.optimizer.state_dict()["state"][0].items():
        assert torch.equal(value, second.optimizer.state_dict()["state"][0][key]), key
    lines_a, lines_b = read_metrics(straight.run_dir.path), read_metrics(run)
    assert [line["iteration"] for line in lines_b] == [1, 2, 3, 4]
    assert _strip(lines_a) == _strip(lines_b)
    reloaded = load_trained_policy(run)
    assert all(torch.equal(reloaded.state_dict()[k], b[k]) for k in b)


def test_resume_refuses_a_config_that_changes_results(
    setup: tuple[Path, Path], tmp_path: Path
) -> None:
    trainer = Trainer.create(_config(setup, tmp_path, "r", iterations=2), tensorboard=False)
    try:
        trainer.train()
    finally:
        trainer.close()
    with pytest.raises(ConfigError, match="learning_rate"):
        Trainer.resume(trainer.run_dir.path, _config(setup, tmp_path, "r", learning_rate=0.5))
    longer = Trainer.resume(
        trainer.run_dir.path, _config(setup, tmp_path, "r", iterations=3), tensorboard=False
    )
    try:
        result = longer.train()
    finally:
        longer.close()
    assert result.iterations == 3


def test_resume_needs_a_checkpoint(tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    with pytest.raises(FileNotFoundError, match="config.yaml"):
        Trainer.resume(tmp_path / "run")


def _learning_rates(run: Path) -> list[float]:
    return [line["charts/learning_rate"] for line in read_metrics(run)]


def test_anneal_lr_keeps_its_schedule_when_resumed_with_more_iterations(
    setup: tuple[Path, Path], tmp_path: Path
) -> None:
    anneal = {"anneal_lr": True, "learning_rate": 1e-2, "update_epochs": 1, "num_minibatches": 1}
    straight = Trainer.create(_config(setup, tmp_path, "straight", **anneal), tensorboard=False)
    try:
        straight.train()
    finally:
        straight.close()
    assert straight.config.lr_anneal_iterations == 4  # resolved from iterations, and saved
    assert "lr_anneal_iterations: 4" in (straight.run_dir.path / "config.yaml").read_text()
    # lr_i = 1e-2 * (1 - (i - 1) / 4)
    expected = [1e-2, 7.5e-3, 5e-3, 2.5e-3]
    assert _learning_rates(straight.run_dir.path) == pytest.approx(expected, abs=1e-12)

    # a run planned as 4 annealed iterations, played 2 at a time
    staged = _config(setup, tmp_path, "staged", iterations=2, lr_anneal_iterations=4, **anneal)
    first = Trainer.create(staged, tensorboard=False)
    try:
        first.train()
    finally:
        first.close()
    more = _config(setup, tmp_path, "staged", iterations=4, **anneal)  # lr_anneal_iterations: null
    second = Trainer.resume(first.run_dir.path, more, tensorboard=False)
    try:
        second.train()
    finally:
        second.close()
    assert _learning_rates(second.run_dir.path) == _learning_rates(straight.run_dir.path)
    a, b = straight.policy.state_dict(), second.policy.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)

    # a run whose schedule ended at iteration 2 cannot go on to 4 (the rate would be 0)
    short = Trainer.create(
        _config(setup, tmp_path, "short", iterations=2, **anneal), tensorboard=False
    )
    try:
        short.train()
    finally:
        short.close()
    with pytest.raises(ConfigError, match="lr_anneal_iterations"):
        Trainer.resume(
            short.run_dir.path, _config(setup, tmp_path, "short", iterations=4, **anneal)
        )


def test_lr_anneal_iterations_validation(setup: tuple[Path, Path], tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="anneal_lr is false"):
        _config(setup, tmp_path, "x", lr_anneal_iterations=4)
    with pytest.raises(ConfigError, match=r"iterations: \(4\) exceeds lr_anneal_iterations"):
        _config(setup, tmp_path, "x", anneal_lr=True, lr_anneal_iterations=3)


def test_a_scheduled_gate_follows_the_trainers_iteration_across_a_resume(
    setup: tuple[Path, Path], tmp_path: Path
) -> None:
    """The gate's threshold moves from -1 at iteration 1 to 2 at iteration 4 (3 scheduled
    iterations: -1, 0, 1, 2): paid on every answer at iterations 1 and 2 (tIoU >= -1, >= 0),
    so it equals vIoU there; never at iteration 4 (tIoU < 2). A run interrupted after
    iteration 2 and resumed scores iterations 3 and 4 as the uninterrupted run does."""
    gate = {"term": "v_iou", "when": "t_iou", "threshold": 2.0, "threshold_start": -1.0}
    verifier = {
        "terms": [
            {"name": "v_iou", "weight": 1.0},
            {"name": "gate", "weight": 1.0, "params": {**gate, "schedule_iterations": 3}},
        ]
    }
    config = {"env": {"verifier": verifier}}
    straight = Trainer.create(_config(setup, tmp_path, "straight", **config), tensorboard=False)
    try:
        straight.train()
    finally:
        straight.close()
    lines = read_metrics(straight.run_dir.path)
    for line in lines[:2]:
        assert line["rewards/gate/mean"] == pytest.approx(line["rewards/v_iou/mean"])
    assert lines[0]["rewards/v_iou/mean"] > 0
    assert lines[3]["rewards/gate/mean"] == 0.0

    first = Trainer.create(_config(setup, tmp_path, "resumed", **config), tensorboard=False)
    with pytest.raises(Interrupted):
        try:
            first.train(on_iteration_end=_interrupt_after_two)
        finally:
            first.close()
    second = Trainer.resume(first.run_dir.path, tensorboard=False)
    try:
        second.train()
    finally:
        second.close()
    assert _strip(read_metrics(second.run_dir.path)) == _strip(lines)
