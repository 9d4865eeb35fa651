"""Declared capabilities: the trainer checks once, when it is built, that the policy can
do what its algorithm needs (an error naming the policy and the capability), and no code
of stvg/training probes a policy's attributes by name."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from rl_helpers import grounding_config, make_native_checkpoint, make_split

from stvg.cli import main
from stvg.config import from_dict
from stvg.policies.baselines import RandomPolicy
from stvg.policies.capabilities import CRITIC, TRAINABLE, MissingCapability, require
from stvg.policies.native import NativePolicy
from stvg.training.config import TrainConfig
from stvg.training.loop import Trainer

TRAINING = Path(__file__).resolve().parents[2] / "stvg" / "training"


def _probes(path: Path) -> list[str]:
    """``hasattr``/``getattr`` calls whose object is a policy (by its source text)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("hasattr", "getattr")
            and node.args
            and "policy" in ast.unparse(node.args[0]).lower()
        ):
            found.append(f"{path.name}:{node.lineno} {ast.unparse(node)}")
    return found


def test_training_reads_capabilities_through_protocols_not_probes() -> None:
    assert [p for f in sorted(TRAINING.rglob("*.py")) for p in _probes(f)] == []


def test_the_probe_finder_finds_a_probe(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f(self):\n    return hasattr(self.policy, 'value')\n")
    assert _probes(module) == ["m.py:2 hasattr(self.policy, 'value')"]


def test_require_names_the_policy_and_what_it_lacks() -> None:
    with pytest.raises(MissingCapability) as info:
        require(RandomPolicy(), TRAINABLE, who="algorithm grpo")
    message = str(info.value)
    assert message.startswith(
        "policy RandomPolicy cannot sample actions with their log-probabilities, which "
        "algorithm grpo needs: it has no "
    )
    assert "log_prob" in message and "sample" in message and "TrainablePolicy" in message


def test_the_native_policy_has_what_ppo_needs(tmp_path: Path) -> None:
    root = make_split(tmp_path)
    policy = NativePolicy.load(make_native_checkpoint(root, tmp_path / "p.pt"))
    require(policy, TRAINABLE + CRITIC, who="algorithm ppo")  # evaluate_actions gives values


def test_the_trainer_refuses_a_policy_it_cannot_train(tmp_path: Path, capsys) -> None:
    root = make_split(tmp_path / "data")
    checkpoint = make_native_checkpoint(root, tmp_path / "p.pt")
    config = grounding_config(root, checkpoint, tmp_path / "runs")
    config["policy"] = {"name": "random", "config": {}}
    with pytest.raises(MissingCapability, match="policy RandomPolicy cannot sample actions"):
        Trainer.create(from_dict(TrainConfig, config))
    # on the command line: one line, exit status 2
    import yaml

    path = tmp_path / "random.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    assert main(["train", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "which algorithm grpo needs" in err[0]
