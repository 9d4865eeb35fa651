"""Checkpoint files read without running code, and written atomically.

Every ``.pt`` file stvg reads (``trainer.pt``, ``policy.pt``, ``reference.pt``,
``rllib_state.pt``, a native policy checkpoint) may come from someone else: a shared run, a
downloaded policy. A plain ``torch.load`` unpickles, and a crafted pickle runs any code it
names. :func:`load_checkpoint_file` reads tensors and plain data only (``torch.load`` with
``weights_only=True``), plus numpy arrays and scalars of numeric dtypes (what a numpy RNG
state and RLlib's state hold); a file that names anything else is refused with
:class:`UnsafeCheckpoint`, naming the file and what it names, and nothing in it runs.

:func:`save_checkpoint_file` writes through a Python file object under a temporary name and
renames it, so a full disk surfaces as the ``OSError`` it is (``torch.save`` to a path
reports it as a bare ``RuntimeError``) and never leaves a half-written file under the
final name.
"""

from __future__ import annotations

import errno
import os
import re
import warnings
from pathlib import Path
from typing import Any


class CheckpointError(ValueError):
    """A checkpoint file stvg will not use; the message names the file, what is wrong and
    what to do."""


class CorruptCheckpoint(CheckpointError):
    """A checkpoint file that cannot be read (truncated or damaged), or that holds
    something other than what was expected."""


class UnsafeCheckpoint(CheckpointError):
    """A checkpoint file that holds objects other than tensors and plain data: loading it
    could run code, so it is not loaded."""


#: errno values of a write that failed for lack of space.
NO_SPACE_ERRNOS = frozenset(
    code for code in (errno.ENOSPC, getattr(errno, "EDQUOT", None), errno.EFBIG) if code
)


def _numpy_globals() -> list[Any]:
    """The numpy names a numeric array or scalar pickles as (numpy 1 and 2 spellings)."""
    import numpy as np

    try:
        from numpy._core import multiarray
    except ImportError:  # numpy < 2
        from numpy.core import multiarray  # type: ignore[no-redef]
    dtypes = {type(np.dtype(code)) for code in "?bBhHiIlLqQefdgFDG"}
    allowed: list[Any] = [multiarray._reconstruct, multiarray.scalar, np.ndarray, np.dtype]
    allowed += sorted(dtypes, key=lambda cls: cls.__name__)
    for name in ("_reconstruct", "scalar"):  # a file written under the other numpy
        allowed.append((getattr(multiarray, name), f"numpy.core.multiarray.{name}"))
        allowed.append((getattr(multiarray, name), f"numpy._core.multiarray.{name}"))
    return allowed


def _first_line(exc: BaseException, limit: int = 200) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = lines[0] if lines else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _unsafe_names(path: Path, exc: BaseException) -> list[str] | None:
    """What a file refused by the ``weights_only`` unpickler names (``None`` when ``exc``
    is not such a refusal but a damaged file)."""
    text = str(exc)
    if "Weights only load failed" not in text:
        return None
    import torch

    try:
        names = torch.serialization.get_unsafe_globals_in_checkpoint(str(path))
    except Exception:  # not a zip checkpoint (a raw pickle)
        names = []
    names = [name for name in names if not name.startswith("numpy.")]
    if not names:
        names = re.findall(r"GLOBAL (\S+)", text)
    return names or ["objects that only a full unpickler builds"]


def load_checkpoint_file(path: str | Path, what: str = "checkpoint") -> Any:
    """The content of a ``.pt`` file, read without running code (see the module doc).

    Args:
        path: the file.
        what: what the file is, for messages (``trainer state``, ``native policy``).

    Raises:
        FileNotFoundError: no such file.
        UnsafeCheckpoint: the file names objects other than tensors, plain data and
            numeric numpy arrays (it was not written by stvg, or was tampered with).
        CorruptCheckpoint: the file cannot be read (truncated or damaged).
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} file not found: {path}")
    try:
        with warnings.catch_warnings(), torch.serialization.safe_globals(_numpy_globals()):
            # a raw pickle of a newer protocol: refused below, no need for torch's warning
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises UnpicklingError, RuntimeError, EOFError, ...
        names = _unsafe_names(path, exc)
        if names is not None:
            raise UnsafeCheckpoint(
                f"{path} is not a plain {what} file: it names {', '.join(names[:5])}, and "
                "loading it could run code, so stvg does not load it. Use a checkpoint "
                "written by stvg (tensors and plain data only), from a source you trust"
            ) from None
        raise CorruptCheckpoint(
            f"{path} cannot be read ({type(exc).__name__}: {_first_line(exc)}); it is "
            "truncated or damaged"
        ) from None


def write_error(exc: BaseException) -> OSError | None:
    """The ``OSError`` behind a failed write: ``exc`` itself, or the one a ``RuntimeError``
    of ``torch.save`` carries as its cause or context; ``None`` when there is none."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, OSError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def save_checkpoint_file(obj: Any, path: str | Path) -> Path:
    """Write ``obj`` with ``torch.save`` to ``path`` atomically (a temporary file renamed
    over it), through a Python file object so that a failed write raises its ``OSError``.

    Raises:
        OSError: the write failed (e.g. ``ENOSPC``, the disk is full); the temporary file
            is removed and an older ``path`` is left as it was.
    """
    import torch

    path = Path(path)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as handle:
            torch.save(obj, handle)
        tmp.replace(path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        cause = write_error(exc)
        if cause is not None and cause is not exc:
            raise cause from None
        raise
    return path


__all__ = [
    "NO_SPACE_ERRNOS",
    "CheckpointError",
    "CorruptCheckpoint",
    "UnsafeCheckpoint",
    "load_checkpoint_file",
    "save_checkpoint_file",
    "write_error",
]
