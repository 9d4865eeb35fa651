"""Shared pieces of the hostile-input suite (``tests/hostile/``): hostile values as
hypothesis strategies, a JSON writer that can say what ``json.dumps`` cannot (a key given
twice, a 5,000-digit integer, nesting 100,000 deep, a lone surrogate), the in-process
``stvg`` runner with the one-line-error check, the memory bound and the range checks of
every metric.

What a hostile input may get (the promise these tests hold the code to):

* a command: exit status 0 (the input was usable; the numbers are in range), or exit
  status 2 with exactly one message line on stderr (argparse's usage lines allowed before
  it); never a traceback;
* a loader: a dataset whose samples keep every invariant, or a :class:`DataError` naming
  the file; nothing else;
* an env or a reward function: a reward in its documented range, with the reason
  (``parse_error``, ``invalid_action``) when the answer was unusable; never an exception;
* everything: no allocation above :data:`MEMORY_LIMIT_MB` while handling one input.

Each test draws a few dozen examples (the whole folder runs in well under a minute); set
``STVG_HOSTILE_SCALE=20`` to draw twenty times as many when hunting for new cases.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import re
import sys
import time
import tracemalloc
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from stvg import limits
from stvg.cli import main
from stvg.data.types import Sample
from stvg.limits import (
    MAX_NATIVE_FPS,
    MAX_VIDEO_FRAMES,
    MAX_VIDEO_SIDE,
    MIN_NATIVE_FPS,
)

#: Most memory one hostile input may take (Python allocations, and the resident set).
MEMORY_LIMIT_MB = 200.0
#: Longest message line of a refused input: an error's message is at most
#: :data:`stvg.limits.MAX_MESSAGE_CHARS` characters (it quotes at most 200 characters of a
#: value), printed after ``stvg <command>: error: `` and, by some commands, the config file.
MAX_MESSAGE_CHARS = limits.MAX_MESSAGE_CHARS + 300

#: How many times the default number of examples to draw (``STVG_HOSTILE_SCALE``).
SCALE = float(os.environ.get("STVG_HOSTILE_SCALE", "1"))


def hostile_settings(max_examples: int) -> settings:
    """Hypothesis settings of a hostile test: ``max_examples`` (times :data:`SCALE`), no
    per-example deadline (the bounds are :func:`bounded_time`'s), and no health check on
    slow or big draws (a million-character string is a wanted example)."""
    return settings(
        max_examples=max(1, round(max_examples * SCALE)),
        deadline=None,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
    )


# ---------------------------------------------------------------------------------------
# JSON that json.dumps cannot write


@dataclass(frozen=True)
class Raw:
    """JSON text written as is (a 5,000-digit integer, ``NaN``, deep nesting)."""

    text: str

    def __repr__(self) -> str:
        text = (
            self.text if len(self.text) <= 60 else f"{self.text[:30]}...<{len(self.text):,} chars>"
        )
        return f"Raw({text!r})"


@dataclass(frozen=True)
class Pairs:
    """A JSON object given as ``(key, value)`` pairs: a key may be given twice."""

    items: tuple[tuple[str, Any], ...]


def dump(value: Any) -> str:
    """``value`` as JSON text; :class:`Raw` and :class:`Pairs` as described there, floats
    as Python writes them (``NaN``, ``Infinity``), strings with ``\\u`` escapes (so a lone
    surrogate survives)."""
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, Pairs):
        return "{" + ", ".join(f"{dump(str(k))}: {dump(v)}" for k, v in value.items) + "}"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{dump(str(k))}: {dump(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(dump(v) for v in value) + "]"
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int):
        return str(value) if value.bit_length() < 4000 else Raw("9" * 5000).text
    if isinstance(value, float):
        return json.dumps(value)  # NaN, Infinity, -Infinity as Python writes them
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=True)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def write_json(path: Path, value: Any) -> Path:
    """Write ``dump(value)`` to ``path`` (UTF-8) and return the path."""
    path.write_text(dump(value), encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------------
# hostile values

SPECIAL_FLOATS = [
    math.nan,
    math.inf,
    -math.inf,
    1e308,
    -1e308,
    1.7976931348623157e308,
    5e-324,
    -5e-324,
    1e-300,
    -0.0,
    0.5,
    1e15,
    1e20,
    -1e20,
]
SPECIAL_INTS = [
    -1,
    0,
    1,
    2**31,
    2**53 + 1,
    2**63 - 1,
    2**63,
    2**64,
    -(2**63) - 1,
    10**20,
    10**400,
    -(10**400),
    MAX_VIDEO_FRAMES,
    MAX_VIDEO_FRAMES + 1,
]
ODD_STRINGS = [
    "",
    " ",
    "\x00",
    "a\nb",
    "\r\n",
    "\u202e\u0645\u0631\u062d\u0628\u0627",  # right-to-left override, Arabic
    "\ufeffBOM",
    "e\u0301\u0301\u0301",  # combining accents
    "\u200b\u200c\u200d",  # zero-width characters
    "\ud800",  # a lone surrogate (not encodable as UTF-8)
    "\U0001f600" * 3,
    "NaN",
    "Infinity",
    "1e999",
    "../../etc/passwd",
    "%s%s%n{0}{}",
    "<answer>{}</answer>",
    "null",
]

hostile_numbers = st.one_of(
    st.sampled_from(SPECIAL_FLOATS),
    st.sampled_from(SPECIAL_INTS),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
)
long_strings = st.builds(
    lambda char, n: char * n,
    st.sampled_from(["x", "\u00e9", "\U0001f600", "\n", "["]),
    st.sampled_from([1_000, 100_000, 1_000_000]),
)
hostile_strings = st.one_of(st.sampled_from(ODD_STRINGS), st.text(max_size=30), long_strings)
#: Values near the valid ones (small numbers, short text): they load, with repairs.
plausible = st.one_of(
    st.integers(-3, 70), st.floats(-5.0, 80.0), st.sampled_from(["a", "the man", "1", "0"])
)
hostile_scalars = st.one_of(
    hostile_numbers,
    hostile_strings,
    st.none(),
    st.booleans(),
    st.just(Raw("9" * 5000)),
    plausible,
    plausible,
)


def deep(n: int, open_: str = "[", close: str = "]") -> Raw:
    """``n`` arrays (or objects, with ``open_='{"a": '`` and ``close='}'``) nested."""
    return Raw(open_ * n + close * n)


deep_values = st.sampled_from(
    [deep(100), deep(5_000), deep(100_000), Raw('{"a": ' * 5000 + "1" + "}" * 5000)]
)
hostile_values = st.recursive(
    st.one_of(hostile_scalars, deep_values),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.text(max_size=5), inner, max_size=4),
        st.builds(lambda k, a, b: Pairs(((k, a), (k, b))), st.text(max_size=5), inner, inner),
    ),
    max_leaves=8,
)


def plain(value: Any) -> Any:
    """``value`` as Python data (what a JSON reader would build from :func:`dump`), for
    the entry points that take objects rather than files; :class:`Raw` is parsed unless it
    nests too deep to (then it is left as a string: the caller passes a JSON string)."""
    if isinstance(value, Raw):
        try:
            return json.loads(value.text)
        except (RecursionError, ValueError):
            return value.text
    if isinstance(value, Pairs):
        return {str(k): plain(v) for k, v in value.items}
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


@st.composite
def mutated(draw: st.DrawFn, value: Any, max_changes: int = 2, values: Any = None) -> Any:
    """``value`` (nested dicts and lists) with 1 to ``max_changes`` places replaced by a
    value of ``values`` (default: :data:`hostile_values`), removed (a key), or given twice
    (a key of an object)."""
    for _ in range(draw(st.integers(1, max_changes))):
        value = _mutate_once(draw, value, hostile_values if values is None else values)
    return value


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(value, Mapping):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value[:6]):
            out += _paths(v, (*prefix, i))
    return out


def _mutate_once(draw: st.DrawFn, value: Any, values: Any) -> Any:
    if isinstance(value, (Raw, Pairs)):
        return value
    paths = _paths(value)
    path = draw(st.sampled_from(paths))
    kind = draw(st.sampled_from(["replace", "replace", "replace", "drop", "twice"]))
    new = draw(values)
    return _edit(value, path, kind, new)


def _edit(value: Any, path: tuple, kind: str, new: Any) -> Any:
    if not path:
        return new if kind == "replace" else value
    head, rest = path[0], path[1:]
    if isinstance(value, Mapping) and head in value:
        if not rest and kind == "drop":
            return {k: v for k, v in value.items() if k != head}
        if not rest and kind == "twice":
            items = [(k, v) for k, v in value.items()] + [(head, new)]
            return Pairs(tuple(items))
        out = dict(value)
        out[head] = _edit(value[head], rest, kind, new)
        return out
    if isinstance(value, list) and isinstance(head, int) and head < len(value):
        out = list(value)
        if not rest and kind == "drop":
            del out[head]
            return out
        out[head] = _edit(value[head], rest, kind if rest else "replace", new)
        return out
    return value


# ---------------------------------------------------------------------------------------
# the command line, in-process


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    """``stvg argv`` in-process: ``(exit status, stdout, stderr)``."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 2
    return int(code or 0), out.getvalue(), err.getvalue()


def message_lines(stderr: str) -> list[str]:
    """stderr without argparse's usage block, warnings and blank lines."""
    lines, in_usage = [], False
    for line in stderr.splitlines():
        if line.startswith("usage:"):
            in_usage = True
            continue
        if in_usage and line.startswith(" "):
            continue
        in_usage = False
        if line.strip() and not line.startswith("warning:") and "Warning:" not in line:
            lines.append(line)
    return lines


def check_outcome(argv: list[str], code: int, out: str, err: str) -> bool:
    """Assert the command's outcome is allowed; returns whether it succeeded (status 0).

    Status 0, or status 2 with exactly one ``stvg ...: error: ...`` line on stderr of at
    most :data:`MAX_MESSAGE_CHARS` characters; never a traceback."""
    shown = f"stvg {' '.join(repr(a)[:200] for a in argv)}\n--- stdout:\n{out[-3000:]}\n--- stderr:\n{err[-3000:]}"
    assert "Traceback" not in out + err, shown
    assert code in (0, 2), shown
    if code == 2:
        lines = [
            line
            for line in message_lines(err)
            if ": error: " in line or not line.startswith("stvg")
        ]
        errors = [line for line in message_lines(err) if ": error: " in line]
        assert len(errors) == 1 and len(lines) == 1, shown
        assert errors[0].startswith(("stvg ", "stvg:")), shown
        assert len(errors[0]) <= MAX_MESSAGE_CHARS, shown
    return code == 0


# ---------------------------------------------------------------------------------------
# memory


def _status_kb(key: str) -> int | None:
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        return None
    match = re.search(rf"^{key}:\s+(\d+) kB", text, re.M)
    return int(match.group(1)) if match else None


def _reset_peak_rss() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM (Linux >= 4.0)
    except OSError:
        return False
    return True


@contextlib.contextmanager
def bounded_memory(
    limit_mb: float = MEMORY_LIMIT_MB, what: str = "", *, trace: bool = True
) -> Iterator[None]:
    """Assert that the block allocates at most ``limit_mb``: the growth of the resident
    set's peak (``VmHWM``, native libraries included) and, with ``trace``, the peak of
    Python's allocations (``tracemalloc``: numpy arrays included, even untouched ones; it
    slows allocation-heavy code such as PyYAML tenfold, hence optional). A block that
    imports a module (a command's first run imports torch) is not held to the resident-set
    bound: loading a library is not the input's doing."""
    modules = len(sys.modules)
    rss_before = _status_kb("VmRSS")
    rss_ok = rss_before is not None and _reset_peak_rss()
    started = tracemalloc.is_tracing()
    if trace and not started:
        tracemalloc.start()
    if trace:
        tracemalloc.reset_peak()
        base, _ = tracemalloc.get_traced_memory()
    try:
        yield
    finally:
        if trace:
            _, peak = tracemalloc.get_traced_memory()
            if not started:
                tracemalloc.stop()
        hwm = _status_kb("VmHWM") if rss_ok else None
    if trace:
        grown_mb = (peak - base) / 2**20
        assert grown_mb <= limit_mb, (
            f"{grown_mb:.0f} MB allocated (bound {limit_mb:.0f} MB): {what}"
        )
    if hwm is not None and rss_before is not None and len(sys.modules) == modules:
        rss_mb = (hwm - rss_before) / 1024
        assert rss_mb <= limit_mb, f"resident set grew {rss_mb:.0f} MB: {what}"


@contextlib.contextmanager
def bounded_time(seconds: float, what: str = "") -> Iterator[None]:
    """Assert that the block takes at most ``seconds`` (a hang shows as a failure, with
    pytest-timeout as the backstop)."""
    start = time.perf_counter()
    yield
    took = time.perf_counter() - start
    assert took <= seconds, f"{took:.1f}s (bound {seconds:.0f}s): {what}"


# ---------------------------------------------------------------------------------------
# ranges

#: Metric names in [0, 1] wherever they appear in a report, a metrics file or an info.
UNIT_METRICS = re.compile(
    r"^(m_tIoU|m_vIoU|m_gt_vIoU|vIoU@0\.[35]|gt_vIoU@0\.[35]|t_iou|v_iou|gt_v_iou|"
    r"reward/(t_iou|v_iou|format|consistency|giou|l1|span_length))$"
)


def check_unit_metrics(value: Any, where: str = "") -> int:
    """Assert every metric of :data:`UNIT_METRICS` in ``value`` (nested dicts and lists) is
    a finite number in ``[0, 1]``, or ``None`` (a mean over no sample); returns how many
    were checked."""
    count = 0
    if isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(key, str) and UNIT_METRICS.match(key) and item is not None:
                assert isinstance(item, (int, float)) and not isinstance(item, bool), (
                    where,
                    key,
                    item,
                )
                assert math.isfinite(item) and 0.0 <= item <= 1.0, (where, key, item)
                count += 1
            else:
                count += check_unit_metrics(item, f"{where}.{key}")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            count += check_unit_metrics(item, f"{where}[{i}]")
    return count


def strict_json(text: str) -> Any:
    """Parse a file we wrote: strict JSON (``NaN``/``Infinity`` refused)."""

    def refuse(name: str) -> Any:
        raise AssertionError(f"{name} in a JSON file stvg wrote")

    return json.loads(text, parse_constant=refuse)


def check_reward(reward: Any, low: float, high: float, where: str = "") -> float:
    """Assert ``reward`` is a finite float in ``[low, high]``."""
    assert isinstance(reward, float) or isinstance(reward, int), (where, reward)
    assert math.isfinite(reward) and low <= reward <= high, (where, reward)
    return float(reward)


def check_sample(sample: Sample) -> None:
    """Assert what every loaded sample holds, whatever file it came from."""
    assert isinstance(sample.sample_id, str) and isinstance(sample.query, str) and sample.query
    assert MIN_NATIVE_FPS <= sample.native_fps <= MAX_NATIVE_FPS
    assert 1 <= sample.num_frames <= MAX_VIDEO_FRAMES
    assert 1 <= sample.width <= MAX_VIDEO_SIDE and 1 <= sample.height <= MAX_VIDEO_SIDE
    first, last = sample.gt_span
    assert 0 <= first <= last <= sample.num_frames - 1, sample.gt_span
    for frame, box in sample.gt_boxes.items():
        assert isinstance(frame, int) and first <= frame <= last, frame
        assert len(box) == 4 and all(isinstance(c, float) and math.isfinite(c) for c in box), box
