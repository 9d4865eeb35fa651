"""Checkpoints: the reference policy saved once, pruning to ``keep_last``, and the Hugging
Face export of policies with ``save_pretrained``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from rl_helpers import build, grounding_config

from stvg.policies.native import NativePolicy
from stvg.policies.registry import register_policy, unregister_policy
from stvg.training.loop import Trainer
from stvg.training.run_dir import (
    REFERENCE_FILE,
    RunDir,
    latest_checkpoint,
    list_checkpoints,
    load_trainer_state,
)


def _names(run: Path) -> list[str]:
    return [path.name for path in list_checkpoints(run)]


def _run(trainer: Trainer) -> Path:
    try:
        trainer.train()
    finally:
        trainer.close()
    return trainer.run_dir.path


def test_reference_saved_once_and_old_checkpoints_pruned(
    setup: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, checkpoint = setup
    saved: list[Path] = []
    original = RunDir.save_reference

    def spy(self: RunDir, state: Any) -> Path:
        saved.append(self.path)
        return original(self, state)

    monkeypatch.setattr(RunDir, "save_reference", spy)
    overrides = {"iterations": 3, "keep_last": 2, "grpo": {"group_size": 3, "beta": 0.1}}
    config = build(grounding_config(root, checkpoint, tmp_path, name="ref", **overrides))
    run = _run(Trainer.create(config, tensorboard=False))
    assert saved == [run]
    assert _names(run) == ["iter_000002", "iter_000003"]
    assert (run / REFERENCE_FILE).is_file()
    state = load_trainer_state(latest_checkpoint(run))
    assert "reference" not in state
    initial = NativePolicy.load(checkpoint).state_dict()
    reference = torch.load(run / REFERENCE_FILE, weights_only=False)
    assert all(torch.equal(reference[k], initial[k]) for k in initial)
    assert not all(torch.equal(state["policy"][k], initial[k]) for k in initial)

    more = {**overrides, "iterations": 4, "keep_last": 1}  # both may change on resume
    longer = build(grounding_config(root, checkpoint, tmp_path, name="ref", **more))
    resumed = Trainer.resume(run, longer, tensorboard=False)
    ref_state = resumed.reference.state_dict()
    assert all(torch.equal(ref_state[k], initial[k]) for k in initial)
    _run(resumed)
    assert saved == [run]  # not written again by the resumed run
    assert _names(run) == ["iter_000004"]


def test_prune_never_deletes_the_newest(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "run", tensorboard=False)
    for iteration in (1, 2, 3, 4):
        run.save_checkpoint(iteration, {"iteration": iteration})
    (run.path / "checkpoints" / "latest").write_text("iter_000002\n", encoding="utf-8")
    assert [p.name for p in run.prune_checkpoints(1)] == ["iter_000001", "iter_000003"]
    assert _names(run.path) == ["iter_000002", "iter_000004"]
    assert run.prune_checkpoints(None) == []
    with pytest.raises(ValueError, match="keep_last"):
        run.prune_checkpoints(0)


class ExportingPolicy(NativePolicy):
    """The native policy with a ``save_pretrained`` (as the VLM policy has)."""

    def save_pretrained(self, path: str | Path) -> None:
        path = Path(path)
        path.mkdir(parents=True)
        torch.save(self.state_dict(), path / "weights.pt")


@pytest.fixture
def exporting() -> Any:
    register_policy("native-exporting", ExportingPolicy)
    yield "native-exporting"
    unregister_policy("native-exporting")


@pytest.mark.parametrize(
    ("hf_export", "exported"),
    [("every", [1, 2]), ("final", [2]), ("never", [])],
)
def test_hf_export(
    setup: tuple[Path, Path],
    tmp_path: Path,
    exporting: str,
    hf_export: str,
    exported: list[int],
) -> None:
    root, checkpoint = setup
    config = grounding_config(root, checkpoint, tmp_path, hf_export=hf_export)
    config["policy"]["name"] = exporting
    trainer = Trainer.create(build(config), tensorboard=False)
    run = _run(trainer)
    found = [int(p.name[5:]) for p in list_checkpoints(run) if (p / "hf" / "weights.pt").is_file()]
    assert found == exported
    if exported:
        weights = torch.load(run / "checkpoints" / "iter_000002" / "hf" / "weights.pt")
        final = trainer.policy.state_dict()
        assert all(torch.equal(weights[k], final[k]) for k in final)
