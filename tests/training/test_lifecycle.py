"""The trainer lifecycle: one create / resume / train / close for every RL trainer."""

from __future__ import annotations

from pathlib import Path

import pytest

from stvg.config import ConfigError
from stvg.training.config import TrainConfig
from stvg.training.lifecycle import (
    RESUMABLE_CHANGES,
    TrainerLifecycle,
    changed_keys,
    check_resumable,
)
from stvg.training.loop import Trainer
from stvg.training.rllib_ppo import RLlibPPOTrainer


def test_changed_keys_lists_dotted_paths_of_differences_and_missing_keys() -> None:
    a = {"seed": 0, "rl": {"lr": 1e-4, "grpo": {"beta": 0.04}}, "only_a": 1}
    b = {"seed": 0, "rl": {"lr": 3e-4, "grpo": {"beta": 0.0}}, "only_b": 2}
    assert changed_keys(a, b) == ["only_a", "only_b", "rl.grpo.beta", "rl.lr"]
    assert changed_keys(a, a) == []
    assert changed_keys([1, 2], [1, 3], "x") == ["x"]  # lists compare whole


def test_check_resumable_allows_only_the_listed_keys() -> None:
    saved = TrainConfig()
    assert "iterations" in RESUMABLE_CHANGES and "seed" not in RESUMABLE_CHANGES
    check_resumable(saved, TrainConfig(iterations=saved.iterations + 5), Path("run"))
    with pytest.raises(ConfigError, match=r"cannot resume run with a different \['seed'\]"):
        check_resumable(saved, TrainConfig(seed=saved.seed + 1), Path("run"))


def test_resuming_with_other_thread_counts_warns_of_rounding() -> None:
    """torch_threads changes reduction order: the run goes on, and says it is then equal to
    an uninterrupted run up to floating-point rounding only."""
    import warnings

    saved = TrainConfig(torch_threads=1)
    with pytest.warns(UserWarning, match=r"torch_threads 1 -> 2: .*up to floating-point"):
        check_resumable(saved, TrainConfig(torch_threads=2), Path("run"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_resumable(saved, TrainConfig(torch_threads=1, iterations=99), Path("run"))


@pytest.mark.parametrize("trainer", [Trainer, RLlibPPOTrainer])
def test_both_trainers_share_the_lifecycle(trainer: type[TrainerLifecycle]) -> None:
    """create, resume, train, step and close have one home; a trainer brings its
    iteration, checkpoint and shutdown."""
    assert issubclass(trainer, TrainerLifecycle)
    for name in ("create", "resume", "train", "step", "close"):
        assert name not in vars(trainer), f"{trainer.__name__} redefines {name}"
    for name in ("_iterate", "save_checkpoint", "_stop"):
        assert name in vars(trainer), f"{trainer.__name__} lacks {name}"
