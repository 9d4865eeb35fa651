"""A small synthetic split built once per machine, so the shortcut envs need no arguments.

``gymnasium.make("stvg/Synthetic-v0")`` on a fresh machine generates
:data:`SYNTHETIC_N` easy synthetic videos (seed :data:`SYNTHETIC_SEED`) into
``<cache>/synthetic/<SYNTHETIC_CACHE_VERSION>-<difficulty>-n<n>-seed<seed>/``, where
``<cache>`` is ``$STVG_CACHE`` or ``~/.cache/stvg``. Parallel processes (e.g. the workers of
an async vector env) do not race: the build holds an exclusive file lock and writes into a
temporary folder that is renamed into place atomically, so a reader sees either no split or
a complete one.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

#: Bumped when the generator's output for the same arguments changes.
SYNTHETIC_CACHE_VERSION = "v1"
#: Split name, number of videos, seed and difficulty of the shortcut envs' split.
SYNTHETIC_SPLIT = "train"
SYNTHETIC_N = 16
SYNTHETIC_SEED = 0
SYNTHETIC_DIFFICULTY = "easy"

_DONE_MARKER = ".complete"


def cache_dir() -> Path:
    """The stvg cache folder: ``$STVG_CACHE`` if set, else ``~/.cache/stvg``."""
    env = os.environ.get("STVG_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "stvg"


@contextlib.contextmanager
def _exclusive_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``path`` (no-op where ``fcntl`` is missing)."""
    try:
        import fcntl
    except ImportError:  # Windows: the atomic rename alone keeps readers safe
        yield
        return
    with open(path, "a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def synthetic_root(
    *,
    n: int = SYNTHETIC_N,
    seed: int = SYNTHETIC_SEED,
    difficulty: str = SYNTHETIC_DIFFICULTY,
    split: str = SYNTHETIC_SPLIT,
) -> Path:
    """The folder of a cached synthetic split, generated on first use.

    Args:
        n: number of videos.
        seed: generator seed.
        difficulty: generator difficulty (e.g. ``"easy"``).
        split: split name (the annotation file is ``<root>/<split>.json``).

    Returns:
        ``root`` such that ``load_dataset("synthetic", root=root, split=split)`` works.
    """
    if n <= 0:
        raise ValueError(f"synthetic split size n must be positive, got {n}")
    parent = cache_dir() / "synthetic"
    root = parent / f"{SYNTHETIC_CACHE_VERSION}-{difficulty}-n{n}-seed{seed}"
    if (root / _DONE_MARKER).is_file():
        return root
    parent.mkdir(parents=True, exist_ok=True)
    with _exclusive_lock(parent / f".{root.name}.lock"):
        if (root / _DONE_MARKER).is_file():  # another process built it while we waited
            return root
        from stvg.data.synthetic import generate_split

        tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}-", dir=parent))
        try:
            generate_split(tmp, split, n, seed, difficulty=difficulty)
            (tmp / _DONE_MARKER).write_text(f"{split} n={n} seed={seed} {difficulty}\n")
            if root.exists():  # an incomplete leftover of an interrupted build
                shutil.rmtree(root)
            os.replace(tmp, root)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    return root


__all__ = [
    "SYNTHETIC_CACHE_VERSION",
    "SYNTHETIC_DIFFICULTY",
    "SYNTHETIC_N",
    "SYNTHETIC_SEED",
    "SYNTHETIC_SPLIT",
    "cache_dir",
    "synthetic_root",
]
