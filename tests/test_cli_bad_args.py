"""Property test (issue 14.5): every ``stvg`` entry point, driven with random bad arguments,
exits with status 2 and a one-line message (argparse's usage lines allowed before it),
never a traceback, and quickly (bad arguments are rejected before work starts).

The entry points come from the real parser (:func:`stvg.cli.build_parser`), so a new
subcommand is covered without editing this file; :data:`KNOWN` is a floor that fails when
the enumeration finds fewer commands than exist today. Each example keeps at least one
argument that is bad for its option (a non-number for a number, an unknown choice, a path
that cannot exist or be written), so no example is a valid command that starts a job.
The commands run in-process (``stvg.cli.main``) in a scratch working folder.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stvg.cli import build_parser, main

#: Entry points that exist today (the enumeration must find at least these).
KNOWN = {
    ("data", "synth"),
    ("data", "inspect"),
    ("evaluate",),
    ("train-sft",),
    ("train",),
    ("run",),
    ("sweep",),
    ("models", "tiny"),
    ("synth-cot",),
    ("render",),
}
#: Seconds one rejected command may take once its lazy imports are warm, and the first
#: time (a handler's first call imports torch, Ray Tune...; slow on a busy machine).
MAX_SECONDS = 10.0
FIRST_CALL_SECONDS = 90.0
_WARM: set[str] = set()  # commands called once already

#: Values that are bad for any option of their kind.
BAD_NUMBERS = ["abc", "", "1.5.2", "nan?", "--", "0x", "1e", "one"]
BAD_PATHS = [
    "/proc/nonexistent/x.yaml",
    "/proc/x/out",
    "/proc/version/x.json",
    "../../proc/nonexistent/x",
    "/proc/nonexistent/../x.mp4",
]
BAD_CHOICES = ["nope", "NOPE", "../../x", "", "qwen9-vl"]
#: Values that may or may not be valid for an option (mixed in with a bad one).
ANY_VALUES = [
    "-1",
    "0",
    "-5",
    "1e308",
    "99999999999999999999",
    "nan",
    "inf",
    "-inf",
    "abc",
    "../../x",
    "nope",
    "x=1",
    "policy.name=nope",
    "/proc/x/out",
    "/proc/nonexistent/x.yaml",
    "",
]


def leaf_commands(
    parser: argparse.ArgumentParser,
) -> dict[tuple[str, ...], argparse.ArgumentParser]:
    """``{words: parser}`` of every subcommand that takes no further subcommand."""
    out: dict[tuple[str, ...], argparse.ArgumentParser] = {}

    def walk(words: tuple[str, ...], node: argparse.ArgumentParser) -> None:
        subs = [a for a in node._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            out[words] = node
            return
        for name, child in subs[0].choices.items():
            walk((*words, name), child)

    walk((), parser)
    return out


def group_commands(parser: argparse.ArgumentParser) -> list[tuple[str, ...]]:
    """Subcommands that only group others (``stvg data``, ``stvg models``)."""
    leaves = leaf_commands(parser)
    return sorted({words[:-1] for words in leaves if len(words) > 1})


PARSER = build_parser()
LEAVES = leaf_commands(PARSER)


def _options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in parser._actions if not isinstance(a, argparse._HelpAction)]


def _kind(action: argparse.Action) -> str:
    if action.nargs == 0:
        return "flag"
    if action.choices is not None:
        return "choice"
    if action.type is not None and action.type is not str:
        return "typed"
    return "text"


def _bad_value(kind: str, draw: st.DrawFn) -> str:
    """A value that the option of ``kind`` must reject (directly or as a missing/unwritable
    path or unknown name when it is text)."""
    if kind == "choice":
        return draw(st.sampled_from(BAD_CHOICES))
    if kind == "typed":
        return draw(st.sampled_from(BAD_NUMBERS))
    return draw(st.sampled_from(BAD_PATHS))


def _words(action: argparse.Action, value: str) -> list[str]:
    if not action.option_strings:
        return [value]
    flag = action.option_strings[-1]
    return [flag] if action.nargs == 0 else [flag, value]


@st.composite
def bad_argv(draw: st.DrawFn, words: tuple[str, ...]) -> list[str]:
    """``words`` + random options, one of them surely bad for its kind."""
    actions = [a for a in _options(LEAVES[words]) if _kind(a) != "flag"]
    flags = [a for a in _options(LEAVES[words]) if _kind(a) == "flag"]
    argv: list[str] = list(words)
    chosen = draw(st.lists(st.sampled_from(actions), max_size=6, unique_by=id)) if actions else []
    poisoned = draw(st.sampled_from(actions)) if actions else None
    for action in chosen:
        if action is poisoned:
            continue
        argv += _words(action, draw(st.sampled_from(ANY_VALUES)))
    for action in draw(st.lists(st.sampled_from(flags), max_size=2, unique_by=id)) if flags else []:
        argv += _words(action, "")
    if poisoned is not None:
        argv += _words(poisoned, _bad_value(_kind(poisoned), draw))
    return argv


@contextlib.contextmanager
def _in(folder: Path) -> Iterator[None]:
    before = Path.cwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(before)


def run_cli(argv: list[str]) -> tuple[int, str, str, float]:
    """``stvg argv`` in-process: ``(exit status, stdout, stderr, seconds)``."""
    out, err = io.StringIO(), io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 2
    return int(code or 0), out.getvalue(), err.getvalue(), time.perf_counter() - start


def message_lines(stderr: str) -> list[str]:
    """stderr without argparse's usage block (``usage:`` and its indented continuation)."""
    lines, in_usage = [], False
    for line in stderr.splitlines():
        if line.startswith("usage:"):
            in_usage = True
            continue
        if in_usage and line.startswith(" "):
            continue
        in_usage = False
        if line.strip():
            lines.append(line)
    return lines


def check_rejected(argv: list[str], words: tuple[str, ...]) -> None:
    code, out, err, seconds = run_cli(argv)
    shown = f"stvg {' '.join(repr(a) for a in argv)}\n--- stdout:\n{out}\n--- stderr:\n{err}"
    assert "Traceback" not in out + err, shown
    assert code == 2, shown
    lines = message_lines(err)
    assert len(lines) == 1, shown
    assert lines[0].startswith(f"stvg {argv[0]}") and ": error: " in lines[0], shown
    key = " ".join(words)
    limit = MAX_SECONDS if key in _WARM else FIRST_CALL_SECONDS
    _WARM.add(key)
    assert seconds < limit, f"{seconds:.1f}s: {shown}"


def test_the_enumeration_finds_every_known_entry_point() -> None:
    assert KNOWN <= set(LEAVES), sorted(KNOWN - set(LEAVES))
    assert {("data",), ("models",)} <= set(group_commands(PARSER))


@pytest.mark.parametrize("words", sorted(LEAVES), ids=" ".join)
def test_bad_arguments_are_one_line_errors(words: tuple[str, ...], tmp_path: Path) -> None:
    @settings(
        max_examples=20,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(argv=bad_argv(words))
    def check(argv: list[str]) -> None:
        check_rejected(argv, words)

    with _in(tmp_path):
        check()
    assert not any(tmp_path.iterdir()), sorted(tmp_path.rglob("*"))  # nothing was written


@pytest.mark.parametrize("words", sorted(LEAVES), ids=" ".join)
def test_no_arguments_is_a_one_line_error(words: tuple[str, ...], tmp_path: Path) -> None:
    with _in(tmp_path):
        check_rejected(list(words), words)
