"""A run directory: resolved config, metrics log, TensorBoard scalars and checkpoints.

Layout::

    <run>/config.yaml                 the resolved config (every default filled in)
    <run>/metrics.jsonl               one JSON object per iteration: {"iteration": i, ...}
    <run>/tb/                         TensorBoard scalars (torch.utils.tensorboard)
    <run>/reference.pt                the frozen reference policy's weights (written once,
                                      when the algorithm has a reference)
    <run>/checkpoints/iter_000010/    trainer.pt (policy, optimizer, RNG states, iteration,
                                      sampler state), policy.pt (the policy's own
                                      checkpoint format, when it has one) and hf/ (a
                                      Hugging Face export, when the policy has
                                      save_pretrained)
    <run>/checkpoints/latest          name of the newest checkpoint folder

Old checkpoint folders are deleted as new ones are written when a run keeps only the
newest ``keep_last`` (:meth:`RunDir.prune_checkpoints`); the newest is never deleted.

Reopening a run for ``--resume`` drops metric lines (and TensorBoard events) logged after
its last checkpoint, so the resumed run writes them again exactly once.
"""

from __future__ import annotations

import json
import math
import shutil
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
import yaml

CONFIG_FILE = "config.yaml"
METRICS_FILE = "metrics.jsonl"
CHECKPOINTS = "checkpoints"
LATEST = "latest"
TRAINER_STATE = "trainer.pt"
POLICY_FILE = "policy.pt"
REFERENCE_FILE = "reference.pt"
HF_DIR = "hf"
CHECKPOINT_PREFIX = "iter_"


def _json_value(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class RunDir:
    """A run directory (see the module docstring).

    Args:
        path: the directory (created if missing).
        tensorboard: write TensorBoard scalars.
        purge_after: on reopening, drop metrics of iterations after this one.
    """

    def __init__(
        self, path: str | Path, *, tensorboard: bool = True, purge_after: int | None = None
    ) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        if purge_after is not None:
            self._truncate_metrics(purge_after)
        self._writer = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            purge = None if purge_after is None else purge_after + 1
            self._writer = SummaryWriter(log_dir=str(self.path / "tb"), purge_step=purge)

    # ------------------------------------------------------------------ creation
    @staticmethod
    def unique_path(out_dir: str | Path, name: str) -> Path:
        """``out_dir/name``, or ``out_dir/name-2``, ``-3``, ... if it is taken."""
        base = Path(out_dir) / name
        path, k = base, 2
        while path.exists():
            path = base.with_name(f"{base.name}-{k}")
            k += 1
        return path

    def write_config(self, config: Mapping[str, Any]) -> Path:
        """Write the resolved config as YAML."""
        target = self.path / CONFIG_FILE
        target.write_text(yaml.safe_dump(dict(config), sort_keys=False), encoding="utf-8")
        return target

    def read_config(self) -> dict[str, Any]:
        """The saved config (a plain mapping)."""
        target = self.path / CONFIG_FILE
        if not target.is_file():
            raise FileNotFoundError(f"{self.path} has no {CONFIG_FILE}: is it a run directory?")
        return yaml.safe_load(target.read_text(encoding="utf-8")) or {}

    # ------------------------------------------------------------------ metrics
    def log(self, iteration: int, metrics: Mapping[str, float]) -> None:
        """Append one line to ``metrics.jsonl`` and the scalars to TensorBoard."""
        record = {"iteration": int(iteration), **{k: _json_value(v) for k, v in metrics.items()}}
        with open(self.path / METRICS_FILE, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
        if self._writer is not None:
            for key, value in metrics.items():
                if isinstance(value, (int, float)) and math.isfinite(float(value)):
                    self._writer.add_scalar(key, float(value), global_step=int(iteration))
            self._writer.flush()

    def read_metrics(self) -> list[dict[str, Any]]:
        """Every line of ``metrics.jsonl`` (empty before the first iteration)."""
        return read_metrics(self.path)

    def _truncate_metrics(self, last_iteration: int) -> None:
        kept = [r for r in self.read_metrics() if int(r["iteration"]) <= last_iteration]
        target = self.path / METRICS_FILE
        target.write_text("".join(json.dumps(r) + "\n" for r in kept), encoding="utf-8")

    # ------------------------------------------------------------------ checkpoints
    def checkpoint_dir(self, iteration: int) -> Path:
        """``checkpoints/iter_<iteration>`` (not created)."""
        return self.path / CHECKPOINTS / f"{CHECKPOINT_PREFIX}{int(iteration):06d}"

    def save_checkpoint(
        self,
        iteration: int,
        state: Mapping[str, Any],
        policy: Any = None,
        write_extra: Callable[[Path], Any] | None = None,
    ) -> Path:
        """Save ``state`` (``trainer.pt``), ``policy.save(policy.pt)`` when the policy has
        a ``save`` method and whatever ``write_extra(folder)`` writes; then point
        ``latest`` at the folder.

        The folder is written under a temporary name and renamed, so a crash never leaves
        a half-written checkpoint behind ``latest``.
        """
        final = self.checkpoint_dir(iteration)
        tmp = final.with_name(final.name + ".tmp")
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
        torch.save(dict(state), tmp / TRAINER_STATE)
        if policy is not None and hasattr(policy, "save"):
            policy.save(tmp / POLICY_FILE, extra={"iteration": int(iteration)})
        if write_extra is not None:
            write_extra(tmp)
        if final.exists():
            shutil.rmtree(final)
        tmp.replace(final)
        (self.path / CHECKPOINTS / LATEST).write_text(final.name + "\n", encoding="utf-8")
        return final

    def latest_checkpoint(self) -> Path | None:
        """The newest checkpoint folder, or ``None``."""
        return latest_checkpoint(self.path)

    def checkpoints(self) -> list[Path]:
        """Every complete checkpoint folder (with ``trainer.pt``), oldest first."""
        return list_checkpoints(self.path)

    def prune_checkpoints(self, keep_last: int | None) -> list[Path]:
        """Delete all but the newest ``keep_last`` checkpoint folders (``None`` = keep all);
        the one ``latest`` names is always kept. Returns the deleted folders."""
        if keep_last is None:
            return []
        if keep_last < 1:
            raise ValueError(f"keep_last must be >= 1 or None, got {keep_last}")
        folders = self.checkpoints()
        newest = self.latest_checkpoint()
        deleted = []
        for folder in folders[: max(len(folders) - int(keep_last), 0)]:
            if newest is not None and folder.resolve() == newest.resolve():
                continue
            shutil.rmtree(folder)
            deleted.append(folder)
        return deleted

    # ------------------------------------------------------------------ reference
    def save_reference(self, state: Mapping[str, Any]) -> Path:
        """Write the frozen reference policy's weights to ``reference.pt`` (atomically)."""
        target = self.path / REFERENCE_FILE
        tmp = target.with_name(target.name + ".tmp")
        torch.save(dict(state), tmp)
        tmp.replace(target)
        return target

    def load_reference(self) -> dict[str, Any] | None:
        """The weights of ``reference.pt``, or ``None`` when the run has none."""
        target = self.path / REFERENCE_FILE
        if not target.is_file():
            return None
        return torch.load(target, map_location="cpu", weights_only=False)

    def close(self) -> None:
        """Flush and close TensorBoard."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def read_metrics(run_dir: str | Path) -> list[dict[str, Any]]:
    """Every line of ``<run_dir>/metrics.jsonl``.

    A torn last line (a run killed while writing it) is dropped with a warning; a bad line
    before the last is an error naming the file and the line.

    Raises:
        ValueError: a line other than the last is not JSON.
    """
    target = Path(run_dir) / METRICS_FILE
    if not target.is_file():
        return []
    lines = [line for line in target.read_text(encoding="utf-8").splitlines() if line.strip()]
    records = []
    for number, line in enumerate(lines, start=1):
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as exc:
            if number == len(lines):
                warnings.warn(
                    f"{target}: the last line is incomplete (the run stopped while writing "
                    f"it); dropping it: {line[:60]!r}",
                    stacklevel=2,
                )
                break
            raise ValueError(
                f"{target}, line {number}: not a JSON object ({exc.msg}); the file is "
                "damaged: remove the line or restore the file"
            ) from None
    return records


def list_checkpoints(run_dir: str | Path) -> list[Path]:
    """The complete checkpoint folders of a run (``iter_*`` with ``trainer.pt``), oldest
    first."""
    folder = Path(run_dir) / CHECKPOINTS
    if not folder.is_dir():
        return []
    found = [
        path
        for path in folder.glob(f"{CHECKPOINT_PREFIX}*")
        if path.is_dir()
        and path.name[len(CHECKPOINT_PREFIX) :].isdigit()
        and (path / TRAINER_STATE).is_file()
    ]
    return sorted(found, key=lambda path: int(path.name[len(CHECKPOINT_PREFIX) :]))


def latest_checkpoint(run_dir: str | Path) -> Path | None:
    """The folder ``checkpoints/latest`` names; when the pointer is missing, empty or names
    a folder without ``trainer.pt``, the newest complete checkpoint folder (with a warning
    when the pointer was there but bad); ``None`` when the run has no checkpoint."""
    pointer = Path(run_dir) / CHECKPOINTS / LATEST
    found = list_checkpoints(run_dir)
    if pointer.is_file():
        name = pointer.read_text(encoding="utf-8").strip()
        folder = Path(run_dir) / CHECKPOINTS / name
        if name and (folder / TRAINER_STATE).is_file():
            return folder
        if found:
            warnings.warn(
                f"{pointer} names {name or 'nothing'!r}, which is not a complete checkpoint; "
                f"using the newest complete one, {found[-1].name}",
                stacklevel=2,
            )
    return found[-1] if found else None


class CorruptCheckpoint(ValueError):
    """A checkpoint's ``trainer.pt`` exists but cannot be read (truncated or damaged)."""


def load_trainer_state(checkpoint: str | Path) -> dict[str, Any]:
    """Read ``trainer.pt`` of a checkpoint folder.

    Raises:
        FileNotFoundError: the folder has no ``trainer.pt``.
        CorruptCheckpoint: the file cannot be read, naming it.
    """
    path = Path(checkpoint) / TRAINER_STATE
    if not path.is_file():
        raise FileNotFoundError(f"no {TRAINER_STATE} in checkpoint folder {checkpoint}")
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # torch raises RuntimeError, EOFError, UnpicklingError, ...
        raise CorruptCheckpoint(
            f"{path} cannot be read ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else 'no detail'}); "
            "it is truncated or damaged"
        ) from None


def newest_loadable_checkpoint(run_dir: str | Path) -> tuple[Path, dict[str, Any]]:
    """The newest checkpoint of a run whose ``trainer.pt`` loads, with its state: the one
    ``latest`` names first, then the complete folders newest first; each one skipped is
    named with the reason in a warning.

    Raises:
        FileNotFoundError: the run has no checkpoint that loads (listing what was tried).
    """
    first = latest_checkpoint(run_dir)
    candidates = ([first] if first is not None else []) + [
        c for c in reversed(list_checkpoints(run_dir)) if c != first
    ]
    problems = []
    for checkpoint in candidates:
        try:
            state = load_trainer_state(checkpoint)
        except (CorruptCheckpoint, FileNotFoundError) as exc:
            problems.append(str(exc))
            continue
        if problems:
            warnings.warn(
                f"resuming from {checkpoint.name}: newer checkpoints cannot be read: "
                + "; ".join(problems),
                stacklevel=2,
            )
        return checkpoint, state
    tried = f" (tried: {'; '.join(problems)})" if problems else ""
    raise FileNotFoundError(f"run {run_dir} has no checkpoint to resume from{tried}")


__all__ = [
    "CONFIG_FILE",
    "HF_DIR",
    "METRICS_FILE",
    "POLICY_FILE",
    "REFERENCE_FILE",
    "TRAINER_STATE",
    "RunDir",
    "CorruptCheckpoint",
    "latest_checkpoint",
    "newest_loadable_checkpoint",
    "list_checkpoints",
    "load_trainer_state",
    "read_metrics",
]
