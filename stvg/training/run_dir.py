"""A run directory: resolved config, metrics log, TensorBoard scalars and checkpoints.

Layout::

    <run>/config.yaml                 the resolved config (every default filled in)
    <run>/metrics.jsonl               one JSON object per iteration: {"iteration": i, ...}
    <run>/tb/                         TensorBoard scalars (torch.utils.tensorboard; and
                                      wandb / mlflow runs per ``report_to``,
                                      :mod:`stvg.training.trackers`)
    <run>/reference.pt                the frozen reference policy's weights (written once,
                                      when the algorithm has a reference)
    <run>/checkpoints/iter_000010/    trainer.pt (policy, optimizer, RNG states, iteration,
                                      sampler state), policy.pt (the policy's own
                                      checkpoint format, when it has one), hf/ (a
                                      Hugging Face export, when the policy has
                                      save_pretrained) and what the trainer adds
                                      (rllib_state.pt for RLlib's PPO)
    <run>/checkpoints/latest          name of the newest checkpoint folder
    <run>/run.lock                    who is writing the run (pid, host, since when)

Old checkpoint folders are deleted as new ones are written when a run keeps only the
newest ``keep_last`` (:meth:`RunDir.prune_checkpoints`); the newest is never deleted.

Reopening a run for ``--resume`` drops metric lines (and TensorBoard events) logged after
its last checkpoint, so the resumed run writes them again exactly once.

Trust and faults:

* every ``.pt`` file is read with :func:`~stvg.checkpoint_files.load_checkpoint_file`:
  tensors and plain data only, nothing in the file runs;
* ``latest`` must name a checkpoint folder of this run (``iter_<n>``, no path); anything
  else is ignored with a warning, as is a ``trainer.pt`` that is not this run's state at
  that iteration (:func:`newest_loadable_checkpoint` goes back to the previous one);
* a trainer holds the run's :class:`RunLock` while it writes: a second ``stvg train
  --resume`` of the same run is refused with who holds it (:class:`RunInUse`); the OS
  drops the lock when its process ends, however it ends;
* a checkpoint that cannot be written for lack of space is one :class:`DiskFull` error
  naming the folder and the free space; the checkpoint before it stays the newest.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import socket
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from stvg.checkpoint_files import (
    NO_SPACE_ERRNOS,
    CheckpointError,
    CorruptCheckpoint,
    load_checkpoint_file,
    save_checkpoint_file,
    write_error,
)
from stvg.policies.base import Checkpointable

CONFIG_FILE = "config.yaml"
METRICS_FILE = "metrics.jsonl"
CHECKPOINTS = "checkpoints"
LATEST = "latest"
TRAINER_STATE = "trainer.pt"
POLICY_FILE = "policy.pt"
REFERENCE_FILE = "reference.pt"
HF_DIR = "hf"
CHECKPOINT_PREFIX = "iter_"
LOCK_FILE = "run.lock"
#: A ``latest`` pointer's whole content: a checkpoint folder's name, no path.
_CHECKPOINT_NAME = re.compile(rf"^{CHECKPOINT_PREFIX}\d+$")


def _json_value(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class RunInUse(OSError):
    """Another process holds the run's :class:`RunLock` (the message says which)."""


class DiskFull(OSError):
    """A run file could not be written for lack of space (the message names the folder
    and the space left)."""


class RunLock:
    """An exclusive lock on a run directory, held while a trainer writes to it.

    ``fcntl.flock`` on ``<run>/run.lock``: the OS releases it when the holding process
    ends, however it ends (a kill, a crash), so a lock is never stale. The file records
    who holds it (pid, host, since when) for the message of the process refused. Where
    ``flock`` is missing (not POSIX) or refused by the file system, the run is not locked
    (with a warning in the second case).
    """

    def __init__(self, path: Path, handle: Any) -> None:
        self.path = path
        self._handle = handle

    @classmethod
    def acquire(cls, run_dir: str | Path) -> RunLock:
        """Lock ``run_dir`` (created if missing) for this process.

        Raises:
            RunInUse: another process holds the lock; the message names its pid, host and
                since when, and says what to do.
        """
        folder = Path(run_dir)
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / LOCK_FILE
        handle = os.fdopen(os.open(target, os.O_RDWR | os.O_CREAT, 0o644), "r+", encoding="utf-8")
        try:
            import fcntl
        except ImportError:  # not POSIX: no lock
            return cls(target, handle)
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(handle.read())
            handle.close()
            raise RunInUse(
                f"run {folder} is in use by {holder} (another `stvg train` writing it): "
                "wait for it to finish or stop it, then run again"
            ) from None
        except OSError as exc:  # a file system without flock (some network mounts)
            warnings.warn(
                f"cannot lock {target} ({exc.strerror or exc}); two trainers writing this "
                "run at once would mix their files",
                stacklevel=2,
            )
            return cls(target, handle)
        handle.seek(0)
        handle.truncate()
        since = datetime.now().astimezone().isoformat(timespec="seconds")
        handle.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": since}))
        handle.flush()
        return cls(target, handle)

    @property
    def held(self) -> bool:
        """Whether this object still holds the lock."""
        return self._handle is not None

    def release(self) -> None:
        """Give the lock up (closing the file releases it); a second call does nothing."""
        if self._handle is not None:
            handle, self._handle = self._handle, None
            try:
                handle.seek(0)
                handle.truncate()
            except OSError:
                pass
            handle.close()


def _holder(text: str) -> str:
    """``pid P on host H since T`` from a lock file's content."""
    try:
        info = json.loads(text)
        return f"pid {info['pid']} on host {info['host']} since {info['since']}"
    except (ValueError, TypeError, KeyError):
        return "another process (it has not recorded its pid yet)"


@contextmanager
def _no_space_is_one_line(folder: Path, what: str, hint: str | Callable[[], str]) -> Iterator[None]:
    """Turn a write that fails for lack of space inside the block into :class:`DiskFull`
    naming ``folder`` and its free space, then ``hint`` (what to do; a callable is asked
    only then); other errors pass unchanged."""
    try:
        yield
    except Exception as exc:
        cause = write_error(exc)
        if cause is None or cause.errno not in NO_SPACE_ERRNOS:
            raise
        try:
            free = f"{shutil.disk_usage(folder).free / 2**20:.1f} MiB free"
        except OSError:
            free = "free space unknown"
        reason = cause.strerror or os.strerror(cause.errno or 0)
        todo = hint() if callable(hint) else hint
        error = DiskFull(f"cannot write {what} in {folder}: {reason} ({free} there); {todo}")
        error.errno = cause.errno
        raise error from None


class RunDir:
    """A run directory (see the module docstring).

    Args:
        path: the directory (created if missing).
        tensorboard: write TensorBoard scalars (when ``report_to`` is not given).
        purge_after: on reopening, drop metrics of iterations after this one.
        lock: the run's :class:`RunLock`, taken by the caller; released by :meth:`close`.
        report_to: where the metrics go besides ``metrics.jsonl``
            (:mod:`stvg.training.trackers`: ``tensorboard``, ``wandb``, ``mlflow``);
            ``None`` = ``[tensorboard]`` or ``[]`` per ``tensorboard``.
        config: the run's resolved config, sent with the run to wandb and mlflow.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        tensorboard: bool = True,
        purge_after: int | None = None,
        lock: RunLock | None = None,
        report_to: Sequence[str] | None = None,
        config: Mapping[str, Any] | None = None,
    ) -> None:
        from stvg.training.trackers import open_trackers

        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.lock = lock
        if purge_after is not None:
            self._truncate_metrics(purge_after)
        if report_to is None:
            report_to = ["tensorboard"] if tensorboard else []
        self._trackers = open_trackers(report_to, self.path, config=config, purge_after=purge_after)

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
        """Append one line to ``metrics.jsonl`` and the scalars to the trackers
        (``report_to``)."""
        record = {"iteration": int(iteration), **{k: _json_value(v) for k, v in metrics.items()}}
        with (
            _no_space_is_one_line(self.path, METRICS_FILE, self._resume_hint),
            open(self.path / METRICS_FILE, "a", encoding="utf-8") as handle,
        ):
            handle.write(json.dumps(record) + "\n")
        self._trackers.log(int(iteration), metrics)

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

        Raises:
            DiskFull: a file could not be written for lack of space; the partial folder is
                removed and ``latest`` still names the checkpoint before.
        """
        final = self.checkpoint_dir(iteration)
        tmp = final.with_name(final.name + ".tmp")
        checkpoints = final.parent
        with _no_space_is_one_line(checkpoints, f"checkpoint {final.name}", self._resume_hint):
            try:
                if tmp.exists():
                    shutil.rmtree(tmp)
                tmp.mkdir(parents=True)
                save_checkpoint_file(dict(state), tmp / TRAINER_STATE)
                if isinstance(policy, Checkpointable):
                    policy.save(tmp / POLICY_FILE, extra={"iteration": int(iteration)})
                if write_extra is not None:
                    write_extra(tmp)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)  # the space it took, back
                raise
            if final.exists():
                shutil.rmtree(final)
            tmp.replace(final)
            pointer = checkpoints / LATEST
            pointer_tmp = pointer.with_name(f"{LATEST}.{os.getpid()}.tmp")
            pointer_tmp.write_text(final.name + "\n", encoding="utf-8")
            pointer_tmp.replace(pointer)
        return final

    def _resume_hint(self) -> str:
        newest = self.latest_checkpoint()
        last = f"the last checkpoint, {newest.name}, is intact; " if newest else ""
        return f"{last}free space, then continue with `stvg train --resume {self.path}`"

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
        with _no_space_is_one_line(self.path, REFERENCE_FILE, "free space and run again"):
            save_checkpoint_file(dict(state), target)
        return target

    def load_reference(self) -> dict[str, Any] | None:
        """The weights of ``reference.pt``, or ``None`` when the run has none.

        Raises:
            CheckpointError: the file cannot be read, or holds more than tensors.
        """
        target = self.path / REFERENCE_FILE
        if not target.is_file():
            return None
        weights = load_checkpoint_file(target, "reference weights")
        if not isinstance(weights, Mapping):
            raise CorruptCheckpoint(
                f"{target} holds {type(weights).__name__}, not the reference policy's weights "
                "(a mapping of tensors); restore the file or start a new run"
            )
        return dict(weights)

    def close(self) -> None:
        """Close the trackers (TensorBoard, wandb, mlflow); release the run's lock."""
        self._trackers.close()
        if self.lock is not None:
            self.lock.release()


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


def _checkpoint_number(folder: Path) -> int | None:
    """``n`` of a folder named ``iter_<n>``, else ``None``."""
    name = folder.name
    return int(name[len(CHECKPOINT_PREFIX) :]) if _CHECKPOINT_NAME.match(name) else None


def list_checkpoints(run_dir: str | Path) -> list[Path]:
    """The complete checkpoint folders of a run (``iter_*`` with ``trainer.pt``, real
    folders of this run's ``checkpoints/``, not links elsewhere), oldest first."""
    folder = Path(run_dir) / CHECKPOINTS
    if not folder.is_dir():
        return []
    found = [
        path
        for path in folder.glob(f"{CHECKPOINT_PREFIX}*")
        if _checkpoint_number(path) is not None
        and path.is_dir()
        and not path.is_symlink()
        and (path / TRAINER_STATE).is_file()
    ]
    return sorted(found, key=lambda path: _checkpoint_number(path) or 0)


def latest_checkpoint(run_dir: str | Path) -> Path | None:
    """The folder ``checkpoints/latest`` names; when the pointer is missing, empty, names
    anything but a complete checkpoint folder of this run (a path, a folder of another
    run, one without ``trainer.pt``), the newest complete checkpoint folder (with a warning
    when the pointer was there but bad); ``None`` when the run has no checkpoint."""
    pointer = Path(run_dir) / CHECKPOINTS / LATEST
    found = list_checkpoints(run_dir)
    if pointer.is_file():
        name = pointer.read_text(encoding="utf-8", errors="replace").strip()
        for folder in found:
            if folder.name == name:
                return folder
        if found:
            why = "" if not name or _CHECKPOINT_NAME.match(name) else " (not a folder name)"
            warnings.warn(
                f"{pointer} names {name[:200] or 'nothing'!r}{why}, which is not a complete "
                f"checkpoint of this run; using the newest complete one, {found[-1].name}",
                stacklevel=2,
            )
    return found[-1] if found else None


def load_trainer_state(
    checkpoint: str | Path, required: Sequence[str] = ("iteration",)
) -> dict[str, Any]:
    """Read ``trainer.pt`` of a checkpoint folder (tensors and plain data only) and check
    that it is a trainer's state at the folder's iteration.

    Args:
        checkpoint: the folder (``checkpoints/iter_<n>``).
        required: keys the state must have (the trainer's; ``iteration`` always).

    Raises:
        FileNotFoundError: the folder has no ``trainer.pt``.
        CorruptCheckpoint: the file cannot be read, is not a mapping, lacks a required
            key or holds another iteration than ``n``; the message names the file.
        UnsafeCheckpoint: the file holds objects other than tensors and plain data.
    """
    path = Path(checkpoint) / TRAINER_STATE
    if not path.is_file():
        raise FileNotFoundError(f"no {TRAINER_STATE} in checkpoint folder {checkpoint}")
    state = load_checkpoint_file(path, "trainer state")
    if not isinstance(state, Mapping):
        raise CorruptCheckpoint(
            f"{path} holds {type(state).__name__}, not a trainer's state (a mapping); it was "
            "not written by stvg train"
        )
    missing = [key for key in ("iteration", *required) if key not in state]
    if missing:
        raise CorruptCheckpoint(
            f"{path} has no {sorted(set(missing))} (it holds {sorted(map(str, state))[:12]}); "
            "it is not this trainer's state"
        )
    iteration = state["iteration"]
    number = _checkpoint_number(Path(checkpoint))
    if isinstance(iteration, bool) or not isinstance(iteration, int) or iteration < 0:
        raise CorruptCheckpoint(f"{path}: iteration {iteration!r} is not a count of iterations")
    if number is not None and iteration != number:
        raise CorruptCheckpoint(
            f"{path} holds the state of iteration {iteration}, not {number}: the file was "
            "copied from another checkpoint"
        )
    return dict(state)


def newest_loadable_checkpoint(
    run_dir: str | Path,
    required: Sequence[str] = ("iteration",),
    check: Callable[[Path, Mapping[str, Any]], None] | None = None,
) -> tuple[Path, dict[str, Any]]:
    """The newest checkpoint of a run whose ``trainer.pt`` loads, with its state: the one
    ``latest`` names first, then the complete folders newest first; each one skipped is
    named with the reason in a warning.

    Args:
        run_dir: the run directory.
        required: keys the trainer's state must have (:func:`load_trainer_state`).
        check: also called as ``check(folder, state)``; a :class:`CheckpointError` it
            raises skips the folder like an unreadable one.

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
            state = load_trainer_state(checkpoint, required)
            if check is not None:
                check(checkpoint, state)
        except (CheckpointError, FileNotFoundError) as exc:
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
    "LOCK_FILE",
    "METRICS_FILE",
    "POLICY_FILE",
    "REFERENCE_FILE",
    "TRAINER_STATE",
    "CheckpointError",
    "CorruptCheckpoint",
    "DiskFull",
    "RunDir",
    "RunInUse",
    "RunLock",
    "latest_checkpoint",
    "newest_loadable_checkpoint",
    "list_checkpoints",
    "load_trainer_state",
    "read_metrics",
]
