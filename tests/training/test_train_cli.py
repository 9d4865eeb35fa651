"""``stvg train``: smoke runs of the CLI with tiny budgets (loop trainers and RLlib)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from rl_helpers import grounding_config

from stvg.cli import main
from stvg.config import ConfigError, from_dict
from stvg.training import rllib_ppo
from stvg.training.config import TrainConfig
from stvg.training.rllib_ppo import RLlibPPOTrainer
from stvg.training.run_dir import read_metrics


def _write(path: Path, config: dict) -> Path:
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def _only_run(out: Path) -> Path:
    runs = [p for p in out.iterdir() if p.is_dir()]
    assert len(runs) == 1, runs
    return runs[0]


def test_train_then_resume_with_more_iterations(
    setup: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root, checkpoint = setup
    config = grounding_config(root, checkpoint, tmp_path / "runs", iterations=1)
    path = _write(tmp_path / "run.yaml", config)
    assert main(["train", str(path)]) == 0
    run = _only_run(tmp_path / "runs")
    assert run.name.startswith("Grounding-v0__grpo__seed3__")
    assert "run directory:" in capsys.readouterr().out
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["grpo"]["loss_type"] == "grpo"  # the resolved config has every default
    assert main(["train", "--resume", str(run), "--iterations", "2"]) == 0
    assert [line["iteration"] for line in read_metrics(run)] == [1, 2]
    assert (run / "checkpoints" / "iter_000002" / "trainer.pt").is_file()


def test_config_errors_name_the_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path / "bad.yaml", {"algorithm": "grpo", "grpo": {"group_sise": 4}})
    assert main(["train", str(path)]) == 2
    assert "grpo.group_sise" in capsys.readouterr().err
    path = _write(tmp_path / "bad2.yaml", {"algorithm": "a2c"})
    assert main(["train", str(path)]) == 2
    assert "algorithm" in capsys.readouterr().err


def test_train_needs_a_config_or_a_run() -> None:
    with pytest.raises(SystemExit):
        main(["train"])


def test_rllib_ppo_two_iterations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STVG_CACHE", str(tmp_path / "cache"))
    config = {
        "algorithm": "rllib_ppo",
        "seed": 0,
        "out_dir": str(tmp_path / "runs"),
        "iterations": 2,
        "progress_bar": False,
        "torch_threads": 1,
        "checkpoint_every": 1,
        "env": {
            "id": "stvg/SyntheticTrackingFlat-v0",
            "max_side": 32,
            "reward_mode": "dense",
            "flat_observation": {"frame_size": 8},
        },
        "rllib": {
            "train_batch_size": 32,
            "minibatch_size": 16,
            "num_epochs": 1,
            "fcnet_hiddens": [16],
        },
        "rollout": {"num_workers": 0},
        "ray": {"num_cpus": 2},
    }
    path = _write(tmp_path / "rllib.yaml", config)
    told: list[tuple[str, int | None]] = []  # the verifiers' iteration, as the loop trainers'
    tell = rllib_ppo.set_verifier_iteration

    def spy(env: object, iteration: int | None) -> None:
        told.append((type(env.unwrapped).__name__, iteration))  # type: ignore[attr-defined]
        tell(env, iteration)

    monkeypatch.setattr(rllib_ppo, "set_verifier_iteration", spy)
    assert main(["train", str(path)]) == 0
    run = _only_run(tmp_path / "runs")
    lines = read_metrics(run)
    assert [line["iteration"] for line in lines] == [1, 2]
    # one local env runner with one env (num_workers 0): told before each iteration
    assert told == [("TrackingEnv", 1), ("TrackingEnv", 2)]
    for key in (
        "charts/episodic_return",
        "rewards/sampled/t_iou",
        "rewards/sampled/v_iou",
        "rewards/sampled/total",
        "losses/policy_loss",
        "losses/value_loss",
        "losses/entropy",
        "charts/SPS",
    ):
        assert key in lines[-1], key
    # RLlib's state as data (read back without unpickling), not RLlib's pickle checkpoint
    assert (run / "checkpoints" / "iter_000002" / "rllib_state.pt").is_file()
    assert not (run / "checkpoints" / "iter_000002" / "rllib").exists()
    assert (run / "tb").is_dir()
    assert main(["train", "--resume", str(run), "--iterations", "3"]) == 0
    assert [line["iteration"] for line in read_metrics(run)] == [1, 2, 3]
    assert told[-1] == ("TrackingEnv", 3)
    # the lifecycle's resume check, shared with the loop trainers: a key that changes the
    # results is refused, naming it, before Ray starts
    changed = from_dict(TrainConfig, {**config, "seed": 1})
    with pytest.raises(ConfigError, match=r"cannot resume .* with a different \['seed'\]"):
        RLlibPPOTrainer.resume(run, changed, tensorboard=False)
