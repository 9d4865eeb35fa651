"""Resuming a run whose newest files are damaged: a truncated trainer.pt, an empty or
dangling ``latest`` pointer, a torn last line of metrics.jsonl (issue 14.2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rl_helpers import build, grounding_config, make_native_checkpoint, make_split

from stvg.cli import main
from stvg.training.loop import Trainer
from stvg.training.run_dir import (
    CHECKPOINTS,
    LATEST,
    METRICS_FILE,
    TRAINER_STATE,
    CorruptCheckpoint,
    latest_checkpoint,
    load_trainer_state,
    read_metrics,
)


@pytest.fixture()
def run(tmp_path: Path) -> Path:
    """A finished 3-iteration run with a checkpoint after every iteration."""
    root = make_split(tmp_path / "data")
    checkpoint = make_native_checkpoint(root, root / "init.pt")
    overrides = {"iterations": 3, "checkpoint_every": 1, "grpo": {"group_size": 2}}
    config = build(
        grounding_config(root, checkpoint, tmp_path / "runs", name="faults", **overrides)
    )
    trainer = Trainer.create(config, tensorboard=False)
    try:
        trainer.train()
    finally:
        trainer.close()
    return trainer.run_dir.path


def _truncate(path: Path, keep: int = 100) -> None:
    path.write_bytes(path.read_bytes()[:keep])


def test_truncated_newest_checkpoint_falls_back_to_the_one_before(run: Path) -> None:
    newest = run / CHECKPOINTS / "iter_000003" / TRAINER_STATE
    _truncate(newest)
    with pytest.raises(CorruptCheckpoint, match=r"iter_000003/trainer.pt cannot be read"):
        load_trainer_state(newest.parent)
    with pytest.warns(
        UserWarning, match="resuming from iter_000002: newer checkpoints cannot be read"
    ):
        trainer = Trainer.resume(run, tensorboard=False)
    try:
        assert trainer.iteration == 2
        assert [r["iteration"] for r in read_metrics(run)] == [1, 2]  # the log follows it
    finally:
        trainer.close()


def test_bad_latest_pointer_uses_the_newest_complete_checkpoint(run: Path) -> None:
    pointer = run / CHECKPOINTS / LATEST
    pointer.write_text("", encoding="utf-8")
    with pytest.warns(UserWarning, match="names 'nothing'.*iter_000003"):
        assert latest_checkpoint(run).name == "iter_000003"
    pointer.write_text("iter_000099\n", encoding="utf-8")
    with pytest.warns(UserWarning, match="names 'iter_000099'"):
        assert latest_checkpoint(run).name == "iter_000003"


def test_torn_last_metrics_line_is_dropped_with_a_warning(run: Path) -> None:
    target = run / METRICS_FILE
    text = target.read_text(encoding="utf-8")
    target.write_text(text + '{"iteration": 4, "charts/episodic_re', encoding="utf-8")
    with pytest.warns(UserWarning, match="the last line is incomplete"):
        assert [r["iteration"] for r in read_metrics(run)] == [1, 2, 3]
    lines = text.splitlines()
    lines[1] = lines[1][:20]
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"metrics.jsonl, line 2: not a JSON object"):
        read_metrics(run)


def test_no_loadable_checkpoint_is_a_one_line_cli_error(run: Path, capsys) -> None:
    for folder in (run / CHECKPOINTS).glob("iter_*"):
        _truncate(folder / TRAINER_STATE)
    assert main(["train", "--resume", str(run)]) == 2
    err = capsys.readouterr().err
    assert "has no checkpoint to resume from (tried:" in err and "iter_000001" in err
    assert "Traceback" not in err
    assert json.loads((run / METRICS_FILE).read_text().splitlines()[0])["iteration"] == 1
