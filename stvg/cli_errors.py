"""One-line errors of the ``stvg`` command: bad arguments caught before work starts, and the
failures that escape a command (a config or data error, a file-system error, Ray failing).

The one place the ``stvg`` command reports errors is :func:`stvg.cli.main`: it turns
:class:`CommandError`, :class:`~stvg.config.ConfigError` (and a
:class:`~stvg.config.InvalidField`, as ``config key <field>: ...``),
:class:`~stvg.data.errors.DataError`, :class:`~stvg.checkpoint_files.CheckpointError` (a
checkpoint file refused: damaged, or holding more than tensors and plain data), an
:class:`ImportError` (a missing optional dependency), :class:`OSError` and Ray's errors
escaping a handler into ``stvg <command>: error: <one line>`` and exit status 2, and
Ctrl-C (or an :class:`Interrupted` command) into ``stvg <command>: interrupted; <how to
continue>`` and exit status 130; ``STVG_TRACEBACK=1`` in the environment re-raises them
with their traceback instead. Handlers raise; they never print an error themselves.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from stvg.limits import MAX_MESSAGE_CHARS, one_line

#: Exit status of a usage, config or data error (argparse's).
EXIT_USAGE = 2
#: Exit status after Ctrl-C (128 + SIGINT, what a shell reports for an interrupted command).
EXIT_INTERRUPTED = 130
#: What to run after Ctrl-C, by command (where a command resumes).
RESUME_HINTS = {
    "sweep": "run the same command again to resume (finished trials are kept)",
    "train": "continue with `stvg train --resume RUN_DIR` (from its last checkpoint)",
}
#: Set to 1 to get the traceback of an error that :func:`stvg.cli.main` shortens.
TRACEBACK_ENV = "STVG_TRACEBACK"

_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


class CommandError(Exception):
    """A bad argument found by a command before it starts work, or a failure a command
    explains (Ray dying under a run: where to resume); the message says what was wrong,
    where (the flag and value) and how to fix it."""


class Interrupted(Exception):
    """A command stopped by Ctrl-C after it saved what it finished; the message says what
    (reported with the command's resume hint, exit status 130)."""


def name_argument(text: str) -> str:
    """An argparse type: a name that becomes part of file names (letters, digits, ``-``,
    ``_``; no path separators, no ``..``).

    >>> name_argument("train")
    'train'
    """
    if not _NAME.match(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a name: use letters, digits, '-' or '_' (it becomes part of "
            "file names, so no '/' or '..')"
        )
    return text


def check_writable_dir(path: str | Path, flag: str = "--out", *, keep: bool = True) -> Path:
    """``path`` as a folder that can be written (created when missing), checked before any
    work starts; ``keep=False`` removes again the folders the check created (for a command
    that may still refuse to start: a rejected command leaves nothing behind).

    Raises:
        CommandError: ``path`` is a file, or cannot be created or written.
    """
    folder = Path(path).expanduser()
    if folder.exists() and not folder.is_dir():
        raise CommandError(f"{flag} {path}: exists and is not a folder; give a folder path")
    created = [p for p in [folder, *folder.parents] if not p.exists()]
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise CommandError(
            f"{flag} {path}: cannot create or write this folder ({reason}); choose a writable "
            "folder"
        ) from None
    finally:
        if not keep:
            for made in created:  # deepest first
                with contextlib.suppress(OSError):
                    made.rmdir()
    return folder


def check_writable_file(path: str | Path, flag: str = "--out") -> Path:
    """``path`` as a file that can be written (its folder created when missing), checked
    before any work starts.

    Raises:
        CommandError: ``path`` is a folder, or its folder cannot be created or written.
    """
    file = Path(path).expanduser()
    if file.is_dir():
        raise CommandError(f"{flag} {path}: is a folder; give a file path")
    try:
        check_writable_dir(file.parent, flag)
    except CommandError:
        raise CommandError(
            f"{flag} {path}: its folder {file.parent} cannot be created or written; choose a "
            "writable path"
        ) from None
    return file


def check_not_an_input(
    outputs: Mapping[str, str | Path | None] | Sequence[tuple[str, str | Path | None]],
    inputs: Mapping[str, str | Path | None] | Sequence[tuple[str, str | Path | None]],
) -> None:
    """Refuse to start a command whose output would overwrite one of its inputs.

    Two paths are the same file when :func:`os.path.samefile` says so: a relative path, a
    symbolic link or a hard link to an input is caught, not only the same spelling. Outputs
    that do not exist yet cannot be an input; ``None`` entries are skipped.

    Args:
        outputs: ``{what: path}`` of each file the command writes (``"--out"``,
            ``"--out-dir DIR/config.yaml"``), or the same as pairs.
        inputs: ``{what: path}`` of each file the command reads (``"--predictions"``,
            ``"the video of sample 'v1'"``), or the same as pairs.

    Raises:
        CommandError: an output is an input; the message names both and how to fix it.
    """
    out_items = list(outputs.items()) if isinstance(outputs, Mapping) else list(outputs)
    in_items = list(inputs.items()) if isinstance(inputs, Mapping) else list(inputs)
    for out_what, out_path in out_items:
        if out_path is None or not os.path.exists(out_path):
            continue
        for in_what, in_path in in_items:
            if in_path is None or not os.path.exists(in_path):
                continue
            try:
                same = os.path.samefile(out_path, in_path)
            except OSError:
                continue
            if same:
                where = "" if str(out_path) == str(in_path) else f" ({in_path})"
                raise CommandError(
                    f"{out_what} {out_path} is the same file as {in_what}{where}: writing it "
                    "would replace that input; choose another output path"
                )


def is_ray_failure(exc: BaseException) -> bool:
    """Whether ``exc`` is one of Ray's own errors (a dead node, actor or worker, a lost
    object, a system error), as opposed to an error of our code that Ray carried."""
    exceptions = sys.modules.get("ray.exceptions")  # no Ray imported: not Ray's error
    if exceptions is None or not isinstance(exc, exceptions.RayError):
        return False
    cause = getattr(exc, "cause", None)  # a RayTaskError carries the task's own error
    return not isinstance(cause, Exception) or is_ray_failure(cause)


def carried_error(exc: BaseException) -> BaseException:
    """The error of our code that a ``RayTaskError`` carries (``exc`` itself otherwise)."""
    exceptions = sys.modules.get("ray.exceptions")
    cause = getattr(exc, "cause", None)
    if exceptions is not None and isinstance(exc, exceptions.RayError):
        if isinstance(cause, Exception):
            return carried_error(cause)
    return exc


def ray_failure_message(exc: BaseException, run_dir: str | Path | None, resume: str) -> str:
    """One line for Ray failing under a command: what failed, where the last checkpoint
    is, and how to continue (``resume``, e.g. ``stvg train --resume RUN_DIR``)."""
    where = f"; the last checkpoint is in {run_dir}" if run_dir is not None else ""
    return (
        f"Ray failed ({type(exc).__name__}: {first_line(exc)}){where}. Fix: check the "
        f"machine (memory, a killed node), then continue with {resume}"
    )


def first_line(exc: BaseException, limit: int = 400) -> str:
    """The first non-empty line of ``str(exc)`` (Ray's errors append their traceback)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = lines[0] if lines else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def shortened(exc: BaseException) -> bool:
    """Whether :func:`stvg.cli.main` reports ``exc`` in one line (see the module doc)."""
    if os.environ.get(TRACEBACK_ENV, "") not in ("", "0"):
        return False
    from stvg.checkpoint_files import CheckpointError
    from stvg.config import ConfigError, InvalidField
    from stvg.data.errors import DataError

    carried = carried_error(exc)
    return is_ray_failure(exc) or isinstance(
        carried,
        (
            CommandError,
            ConfigError,
            InvalidField,
            DataError,
            CheckpointError,
            ImportError,
            OSError,
        ),
    )


def error_line(exc: BaseException) -> str:
    """The one-line message of an error that :func:`shortened` accepts."""
    if is_ray_failure(exc):
        again = "the same command (stvg run reuses its finished stages, stvg sweep resumes)"
        return ray_failure_message(exc, None, again)
    from stvg.config import ConfigError, InvalidField

    carried = carried_error(exc)
    if isinstance(carried, OSError) and carried.filename is not None:
        reason = carried.strerror or first_line(carried)
        return one_line(f"{carried.filename}: {reason}; check the path and its permissions")
    if isinstance(carried, InvalidField) and not isinstance(carried, ConfigError):
        return one_line(
            f"config key {carried.field}: {first_line(carried, limit=MAX_MESSAGE_CHARS)}"
        )
    return first_line(carried, limit=MAX_MESSAGE_CHARS)


__all__ = [
    "EXIT_INTERRUPTED",
    "EXIT_USAGE",
    "RESUME_HINTS",
    "TRACEBACK_ENV",
    "CommandError",
    "Interrupted",
    "carried_error",
    "check_not_an_input",
    "check_writable_dir",
    "check_writable_file",
    "error_line",
    "first_line",
    "is_ray_failure",
    "name_argument",
    "ray_failure_message",
    "shortened",
]
