"""Checkpoint files are data, never code; a run's checkpoints are its own; a full disk and
a second trainer of the same run are one-line errors (issue 25).

A crafted ``trainer.pt``, ``policy.pt``, ``reference.pt`` or native checkpoint names a
function that would create a marker file when unpickled: nothing may create it. A
``latest`` pointer into another run, a ``trainer.pt`` that is readable but not this run's
state, a checkpoint written on a full disk (``ENOSPC`` raised at the file write torch.save
makes) and two trainers of one run are each handled without a traceback."""

from __future__ import annotations

import builtins
import errno
import os
import pickle
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml
from rl_helpers import build, grounding_config, make_native_checkpoint, make_split

import stvg.checkpoint_files as checkpoint_files
from stvg.checkpoint_files import (
    CorruptCheckpoint,
    UnsafeCheckpoint,
    load_checkpoint_file,
    save_checkpoint_file,
)
from stvg.cli import main
from stvg.policies.native import NativePolicy
from stvg.training.loop import Trainer, load_trained_policy
from stvg.training.rllib_ppo import RLlibPPOTrainer
from stvg.training.run_dir import (
    CHECKPOINTS,
    LATEST,
    LOCK_FILE,
    TRAINER_STATE,
    RunDir,
    RunInUse,
    RunLock,
    latest_checkpoint,
    load_trainer_state,
    newest_loadable_checkpoint,
    read_metrics,
)


class _CreatesAFile:
    """Unpickled, runs ``exec`` that writes ``marker``: what a crafted checkpoint does."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (builtins.exec, (f"open({str(self.marker)!r}, 'w').write('ran')",))


def _crafted(path: Path, marker: Path, base: dict | None = None, raw: bool = False) -> Path:
    """Overwrite ``path`` with ``base`` plus an object that creates ``marker`` when
    unpickled; as torch's zip format or (``raw``) as a bare pickle."""
    payload = {**(base or {}), "payload": _CreatesAFile(marker)}
    if raw:
        path.write_bytes(pickle.dumps(payload, protocol=2))
    else:
        torch.save(payload, path)
    return path


@pytest.fixture()
def run(tmp_path: Path) -> Path:
    """A finished 3-iteration GRPO run with a checkpoint after every iteration."""
    root = make_split(tmp_path / "data")
    checkpoint = make_native_checkpoint(root, root / "init.pt")
    overrides = {"iterations": 3, "checkpoint_every": 1, "grpo": {"group_size": 2}}
    config = build(grounding_config(root, checkpoint, tmp_path / "runs", name="trust", **overrides))
    trainer = Trainer.create(config, tensorboard=False)
    try:
        trainer.train()
    finally:
        trainer.close()
    return trainer.run_dir.path


def _folder(run: Path, iteration: int) -> Path:
    return run / CHECKPOINTS / f"iter_{iteration:06d}"


# ---------------------------------------------------------------------------- case 1
@pytest.mark.parametrize("raw", [False, True], ids=["torch_zip", "raw_pickle"])
def test_a_crafted_trainer_pt_runs_nothing_and_resume_goes_back(
    run: Path, tmp_path: Path, raw: bool
) -> None:
    marker = tmp_path / "ran.txt"
    newest = _folder(run, 3) / TRAINER_STATE
    state = torch.load(newest, weights_only=False)  # our own file: trusted here
    _crafted(newest, marker, state, raw=raw)
    with pytest.raises(UnsafeCheckpoint, match=r"iter_000003/trainer.pt is not a plain"):
        load_trainer_state(newest.parent)
    with pytest.warns(UserWarning, match=r"resuming from iter_000002: .*iter_000003/trainer.pt"):
        trainer = Trainer.resume(run, tensorboard=False)
    try:
        assert trainer.iteration == 2
    finally:
        trainer.close()
    assert not marker.exists()


def test_crafted_checkpoints_are_one_line_cli_errors_and_run_nothing(
    run: Path, tmp_path: Path, capsys
) -> None:
    marker = tmp_path / "ran.txt"
    for iteration in (1, 2, 3):
        _crafted(_folder(run, iteration) / TRAINER_STATE, marker, {"iteration": iteration})
    assert main(["train", "--resume", str(run)]) == 2
    err = capsys.readouterr().err
    assert "has no checkpoint to resume from" in err and "builtins.exec" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    # a native policy checkpoint given to `stvg evaluate --policy`
    policy = _crafted(tmp_path / "policy.pt", marker)
    config = tmp_path / "eval.yaml"
    config.write_text(
        yaml.safe_dump({"policy": {"name": "native", "config": {"checkpoint": str(policy)}}})
    )
    root = tmp_path / "data"
    argv = ["evaluate", "--policy", str(config), "--dataset", "synthetic", "--split", "train"]
    assert main([*argv, "--root", str(root), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert f"{policy} is not a plain native policy checkpoint file" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not marker.exists()


def test_policy_pt_and_reference_pt_are_read_as_data_only(run: Path, tmp_path: Path) -> None:
    marker = tmp_path / "ran.txt"
    policy_pt = _folder(run, 3) / "policy.pt"
    assert NativePolicy.load(policy_pt).state_dict()  # a real one loads
    _crafted(policy_pt, marker, torch.load(policy_pt, weights_only=False))
    with pytest.raises(UnsafeCheckpoint, match="policy.pt is not a plain native policy"):
        NativePolicy.load(policy_pt)
    reference = run / "reference.pt"
    _crafted(reference, marker, {"w": torch.zeros(2)})
    with pytest.raises(UnsafeCheckpoint, match="reference.pt is not a plain reference"):
        RunDir(run, tensorboard=False).load_reference()
    assert not marker.exists()


def test_checkpoints_written_before_stay_loadable(run: Path, tmp_path: Path) -> None:
    # The state as the earlier code wrote it: torch.save to a path, numpy RNG state inside.
    folder = _folder(run, 3)
    state = torch.load(folder / TRAINER_STATE, weights_only=False)
    assert isinstance(state["rng"]["numpy"][1], type(__import__("numpy").zeros(1)))
    torch.save(state, folder / TRAINER_STATE)
    loaded = load_trainer_state(folder)
    assert loaded["iteration"] == 3 and loaded["rng"]["numpy"][1].dtype.name == "uint32"
    assert (loaded["rng"]["numpy"][1] == state["rng"]["numpy"][1]).all()
    # numpy scalars (RLlib's state holds them) and what save_checkpoint_file writes
    import numpy as np

    data = {"f": np.float64(2.5), "i": np.int64(-3), "a": np.arange(4, dtype=np.float32)}
    back = load_checkpoint_file(save_checkpoint_file(data, tmp_path / "s.pt"))
    assert back["f"] == 2.5 and back["i"] == -3 and back["a"].tolist() == [0, 1, 2, 3]
    trainer = Trainer.resume(run, tensorboard=False)
    try:
        assert trainer.iteration == 3
    finally:
        trainer.close()


def test_an_rllib_pickle_checkpoint_is_never_loaded(tmp_path: Path) -> None:
    folder = tmp_path / "run" / CHECKPOINTS / "iter_000001"
    (folder / "rllib").mkdir(parents=True)
    save_checkpoint_file({"iteration": 1, "algorithm": "rllib_ppo"}, folder / TRAINER_STATE)
    (folder / "rllib" / "algorithm_state.pkl").write_bytes(pickle.dumps({"x": 1}))
    with pytest.raises(FileNotFoundError, match=r"only RLlib's pickle checkpoint \(rllib/\)"):
        newest_loadable_checkpoint(
            tmp_path / "run", RLlibPPOTrainer.state_keys, RLlibPPOTrainer.check_checkpoint
        )


# ---------------------------------------------------------------------------- case 7
def test_a_latest_pointer_into_another_run_is_not_followed(run: Path, tmp_path: Path) -> None:
    other = tmp_path / "other_run"
    shutil.copytree(run, other)
    shutil.rmtree(_folder(run, 3))  # this run's newest is now iter_000002
    pointer = run / CHECKPOINTS / LATEST
    for text in (
        str(_folder(other, 3)),  # an absolute path into the other run
        "../../other_run/checkpoints/iter_000003",
        "iter_000003/../../../other_run/checkpoints/iter_000003",
    ):
        pointer.write_text(text + "\n", encoding="utf-8")
        with pytest.warns(UserWarning, match="not a folder name"):
            assert latest_checkpoint(run) == _folder(run, 2)
    # nor is a checkpoint folder that links into the other run
    _folder(run, 9).symlink_to(_folder(other, 3), target_is_directory=True)
    pointer.write_text("iter_000009\n", encoding="utf-8")
    with pytest.warns(UserWarning, match="names 'iter_000009'"):
        assert latest_checkpoint(run) == _folder(run, 2)
    with pytest.warns(UserWarning):
        trainer = Trainer.resume(run, tensorboard=False)
    try:
        assert trainer.iteration == 2
    finally:
        trainer.close()


def test_a_readable_but_wrong_trainer_pt_goes_back_to_the_previous(run: Path) -> None:
    newest = _folder(run, 3) / TRAINER_STATE
    save_checkpoint_file({"note": "not a trainer state"}, newest)
    with pytest.raises(CorruptCheckpoint, match=r"iter_000003/trainer.pt has no \['iteration'\]"):
        load_trainer_state(newest.parent)
    save_checkpoint_file([1, 2, 3], newest)
    with pytest.raises(CorruptCheckpoint, match="holds list, not a trainer's state"):
        load_trainer_state(newest.parent)
    # a state of another iteration (copied from iter_000002)
    shutil.copy(_folder(run, 2) / TRAINER_STATE, newest)
    with pytest.raises(CorruptCheckpoint, match="holds the state of iteration 2, not 3"):
        load_trainer_state(newest.parent)
    # RLlib's trainer.pt (only an iteration) in a loop trainer's run
    save_checkpoint_file({"iteration": 3, "algorithm": "rllib_ppo"}, newest)
    with pytest.raises(CorruptCheckpoint, match=r"has no \['policy', 'policy_config'"):
        load_trained_policy(newest.parent)
    with pytest.warns(UserWarning, match=r"resuming from iter_000002: .*has no \['env_steps'"):
        trainer = Trainer.resume(run, tensorboard=False)
    try:
        assert trainer.iteration == 2
        assert [r["iteration"] for r in read_metrics(run)] == [1, 2]
    finally:
        trainer.close()


def test_a_trainer_pt_with_weights_of_another_policy_is_one_line(run: Path, capsys) -> None:
    newest = _folder(run, 3) / TRAINER_STATE
    state = load_trainer_state(newest.parent)
    state["policy"] = {"not_a_weight": torch.zeros(3)}
    save_checkpoint_file(state, newest)
    with pytest.raises(CorruptCheckpoint, match=r"iter_000003/trainer.pt does not fit this run"):
        Trainer.resume(run, tensorboard=False)
    assert main(["train", "--resume", str(run)]) == 2
    err = capsys.readouterr().err
    assert "iter_000003/trainer.pt does not fit this run (RuntimeError" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    # the failed resumes let the run go: the lock is free again
    RunLock.acquire(run).release()


# ---------------------------------------------------------------------------- case 12
def test_a_full_disk_while_checkpointing_is_one_line_and_the_run_resumes(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    root = make_split(tmp_path / "data")
    checkpoint = make_native_checkpoint(root, root / "init.pt")
    config = grounding_config(root, checkpoint, tmp_path / "runs", name="full", iterations=3)
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    real_open = builtins.open
    opened: list[str] = []

    class FullDisk:
        """A file whose writes fail with ENOSPC after the first 1000 bytes."""

        def __init__(self, handle) -> None:
            self.handle, self.written = handle, 0

        def write(self, data) -> int:
            if self.written + len(data) > 1000:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            self.written += len(data)
            return self.handle.write(data)

        def __getattr__(self, name):
            return getattr(self.handle, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.handle.close()

    def open_on_a_full_disk(file, mode="r", *args, **kwargs):
        handle = real_open(file, mode, *args, **kwargs)
        opened.append(str(file))
        # checkpoint 1 (trainer.pt, policy.pt) fits; from checkpoint 2 on the disk is full
        return FullDisk(handle) if "iter_000002" in str(file) else handle

    monkeypatch.setattr(checkpoint_files, "open", open_on_a_full_disk, raising=False)
    assert main(["train", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    run = next(p for p in (tmp_path / "runs").iterdir() if p.is_dir())
    checkpoints = run / CHECKPOINTS
    assert err.startswith(
        f"stvg train: error: cannot write checkpoint iter_000002 in {checkpoints}: No space "
        "left on device ("
    )
    assert " MiB free there); the last checkpoint, iter_000001, is intact" in err
    assert f"continue with `stvg train --resume {run}`" in err
    assert "Traceback" not in err and len(err.splitlines()) == 1
    assert any("iter_000002" in name for name in opened)  # the write really was reached
    # consistent: no partial folder, `latest` still names iteration 1
    assert sorted(p.name for p in checkpoints.iterdir()) == ["iter_000001", LATEST]
    assert (checkpoints / LATEST).read_text().strip() == "iter_000001"
    monkeypatch.undo()
    assert main(["train", "--resume", str(run)]) == 0
    assert [r["iteration"] for r in read_metrics(run)] == [1, 2, 3]


# ---------------------------------------------------------------------------- case 13
_HOLD = """
import sys, time
from stvg.training.run_dir import RunLock
lock = RunLock.acquire(sys.argv[1])
print("locked", flush=True)
time.sleep(60)
"""


def test_a_second_trainer_of_the_same_run_is_refused(run: Path, capsys) -> None:
    first = Trainer.resume(run, tensorboard=False)
    try:
        with pytest.raises(RunInUse, match=rf"run {run} is in use by pid {os.getpid()} on host"):
            Trainer.resume(run, tensorboard=False)
        assert main(["train", "--resume", str(run)]) == 2
        err = capsys.readouterr().err
        assert f"is in use by pid {os.getpid()}" in err and "since 20" in err
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    finally:
        first.close()
    assert [r["iteration"] for r in read_metrics(run)] == [1, 2, 3]  # not written twice
    Trainer.resume(run, tensorboard=False).close()  # free again once the first closed


def test_the_lock_of_another_process_is_named_and_dies_with_it(run: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(run)], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunInUse, match=rf"in use by pid {holder.pid} on host \S+ since "):
            Trainer.resume(run, tensorboard=False)
        assert str(holder.pid) in (run / LOCK_FILE).read_text()
    finally:
        holder.kill()  # dies without releasing anything itself
        holder.wait(timeout=10)
    start = time.monotonic()
    trainer = Trainer.resume(run, tensorboard=False)  # the OS dropped the dead one's lock
    trainer.close()
    assert time.monotonic() - start < 30
