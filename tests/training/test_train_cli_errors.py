"""``stvg train`` failures that were tracebacks (issue 14.5): a missing dataset root, an
unknown env, policy or dataset (one line naming the key and the file, before a run folder
is made), and Ray failing under a run (one line naming the run folder to ``--resume``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import pytest
import ray.exceptions
import yaml
from rl_helpers import grounding_config, make_native_checkpoint, make_split

from stvg.cli import main
from stvg.envs.grounding import GroundingEnv
from stvg.training.run_dir import read_metrics

RAY_DIES_ID = "stvgtest/RayDies-v0"


class RayDiesEnv(GroundingEnv):
    """A ``GroundingEnv`` whose 5th step raises Ray's ``NodeDiedError``: with 2 prompts x
    2 answers per iteration, inside the second iteration, after the first checkpoint."""

    FAIL_AT_STEP = 5

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.steps = 0

    def step(self, action: Any):
        self.steps += 1
        if self.steps == self.FAIL_AT_STEP:
            raise ray.exceptions.NodeDiedError("node 10.0.0.2 died: the raylet exited")
        return super().step(action)


if RAY_DIES_ID not in gym.registry:
    gym.register(RAY_DIES_ID, entry_point=RayDiesEnv)


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = make_split(tmp_path_factory.mktemp("cli_errors"))
    return root, make_native_checkpoint(root, root / "init.pt")


def _write(path: Path, config: dict) -> Path:
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"env": {"root": "/nonexistent/data"}}, "config key env.root: folder"),
        ({"env": {"dataset": "nope"}}, "config key env.dataset: unknown"),
        ({"policy": {"name": "nope"}}, "config key policy.name: unknown policy 'nope'"),
        ({"env": {"id": "stvg/Nope-v0"}}, "config key env.id: unknown env 'stvg/Nope-v0'"),
    ],
)
def test_bad_names_are_one_line_before_a_run_folder(
    setup, tmp_path: Path, capsys, change: dict, message: str
) -> None:
    root, checkpoint = setup
    config = grounding_config(root, checkpoint, tmp_path / "runs")
    for key, value in change.items():
        config[key].update(value)
    path = _write(tmp_path / "bad.yaml", config)
    assert main(["train", str(path)]) == 2
    captured = capsys.readouterr()
    (line,) = captured.err.strip().splitlines()
    assert line.startswith("stvg train: error: ") and message in line and str(path) in line
    assert "Traceback" not in captured.err + captured.out
    assert not (tmp_path / "runs").exists()  # nothing started


def test_ray_failing_under_a_run_names_the_run_to_resume(setup, tmp_path: Path, capsys) -> None:
    root, checkpoint = setup
    config = grounding_config(
        root, checkpoint, tmp_path / "runs", iterations=2, grpo={"group_size": 2}
    )
    config["env"]["id"] = RAY_DIES_ID
    path = _write(tmp_path / "run.yaml", config)
    assert main(["train", str(path)]) == 2
    captured = capsys.readouterr()
    (run,) = [p for p in (tmp_path / "runs").iterdir() if p.is_dir()]
    (line,) = captured.err.strip().splitlines()
    assert line.startswith("stvg train: error: Ray failed (NodeDiedError: node 10.0.0.2 died")
    assert f"the last checkpoint is in {run}" in line
    assert f"stvg train --resume {run}" in line
    assert [r["iteration"] for r in read_metrics(run)] == [1]
    # the advice works: a fresh env (its step count restarts) finishes iteration 2
    assert main(["train", "--resume", str(run)]) == 0
    assert [r["iteration"] for r in read_metrics(run)] == [1, 2]
