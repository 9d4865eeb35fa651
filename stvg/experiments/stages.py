"""Where the stages of a pipeline run write, and how runs of a sweep share them.

A stage (SFT, an evaluation, RL, ...) is a function of its inputs: the resolved config of
that stage and the keys of the stages it starts from. :class:`RunFolderStages` (what
``stvg run`` uses) builds every stage in a sub-folder of the run folder. :class:`StageStore`
(what ``stvg sweep`` uses) builds each stage once in ``<root>/<stage>-<key>/``, ``key``
being a hash of its inputs, and hands the same folder to every later run that asks with
the same inputs: an SFT checkpoint that a grid over RL settings starts from trains once, a
trained policy that several densify settings evaluate trains once.

Concurrency and interruption: a stage is built under a file lock (trials of a sweep run in
parallel processes, possibly on several machines sharing the folder); a folder counts as
built only once its ``stage.json`` (the stage's record) is written, so a stage killed half
way is rebuilt from scratch by the next run that needs it.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

RECORD_FILE = "stage.json"
INPUTS_FILE = "inputs.json"


def stage_key(inputs: Mapping[str, Any]) -> str:
    """A 12-hex-digit hash of the canonical JSON of ``inputs`` (key order ignored).

    >>> stage_key({"a": 1, "b": [1.5, None]}) == stage_key({"b": [1.5, None], "a": 1})
    True
    """
    text = json.dumps(inputs, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


@dataclass(frozen=True)
class StageOutput:
    """A built stage.

    Attributes:
        folder: where the stage wrote its files.
        record: what the stage returned (JSON-serialisable: checkpoint paths, metrics, ...).
        key: the hash of the stage's inputs (``""`` for :class:`RunFolderStages`).
        reused: the stage was built by an earlier run and not rebuilt.
    """

    folder: Path
    record: dict[str, Any]
    key: str
    reused: bool


class Stages(Protocol):
    """Builds the stages of one run (see the module docstring)."""

    def run(
        self,
        stage: str,
        inputs: Mapping[str, Any],
        build: Callable[[Path], dict[str, Any]],
    ) -> StageOutput:
        """Build ``stage`` with ``build(folder) -> record`` unless it is already built."""
        ...


class RunFolderStages:
    """Every stage in ``run_dir/<stage>``, built every time (``stvg run``).

    Args:
        run_dir: the run folder.
    """

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)

    def run(
        self,
        stage: str,
        inputs: Mapping[str, Any],
        build: Callable[[Path], dict[str, Any]],
    ) -> StageOutput:
        folder = self.run_dir / stage
        return StageOutput(folder, build(folder), stage_key(inputs), reused=False)


class StageStore:
    """Stages shared between runs, each built once per distinct input (``stvg sweep``).

    Args:
        root: the store folder (``<sweep>/stages``).
        lock_timeout_s: longest wait for a stage another process is building.

    Attributes:
        built, reused: names of the stage folders this object built and reused.
    """

    def __init__(self, root: str | Path, *, lock_timeout_s: float = 24 * 3600.0) -> None:
        self.root = Path(root)
        self.lock_timeout_s = lock_timeout_s
        self.built: list[str] = []
        self.reused: list[str] = []

    def folder(self, stage: str, inputs: Mapping[str, Any]) -> Path:
        """The folder of ``stage`` built from ``inputs``."""
        return self.root / f"{stage}-{stage_key(inputs)}"

    def run(
        self,
        stage: str,
        inputs: Mapping[str, Any],
        build: Callable[[Path], dict[str, Any]],
    ) -> StageOutput:
        from filelock import FileLock

        key = stage_key(inputs)
        folder = self.root / f"{stage}-{key}"
        self.root.mkdir(parents=True, exist_ok=True)
        with FileLock(str(folder) + ".lock", timeout=self.lock_timeout_s):
            record = read_record(folder)
            if record is not None:
                self.reused.append(folder.name)
                return StageOutput(folder, record, key, reused=True)
            if folder.exists():  # a build that was interrupted: start it again
                shutil.rmtree(folder)
            folder.mkdir(parents=True)
            (folder / INPUTS_FILE).write_text(
                json.dumps({"stage": stage, "inputs": inputs}, indent=2, default=str) + "\n",
                encoding="utf-8",
            )
            started = time.perf_counter()
            record = dict(build(folder))
            record.setdefault("build_s", time.perf_counter() - started)
            write_record(folder, record)
            self.built.append(folder.name)
            return StageOutput(folder, record, key, reused=False)


def read_record(folder: Path) -> dict[str, Any] | None:
    """The record of a built stage folder, or ``None`` when it is not (completely) built."""
    path = Path(folder) / RECORD_FILE
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        return None


def write_record(folder: Path, record: Mapping[str, Any]) -> None:
    """Write ``stage.json`` atomically (a reader never sees half of it)."""
    path = Path(folder) / RECORD_FILE
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=2, default=str) + "\n", encoding="utf-8")
    tmp.replace(path)


__all__ = [
    "RunFolderStages",
    "StageOutput",
    "StageStore",
    "Stages",
    "read_record",
    "stage_key",
    "write_record",
]
