"""Configs built to break a config-driven command: ``stvg evaluate --policy CONFIG`` on the
tiny synthetic split, with ``--set KEY=VALUE`` overrides whose values are hostile YAML (huge,
negative or non-finite numbers, 5,000-digit integers, wrong types, deep nesting, aliases,
a Python tag, very long or odd strings) on real and made-up keys, and whole YAML files
built the same way (an alias bomb, a key given twice, a document nested 10,000 deep).

Each run exits 0 with every metric in [0, 1] in a strict JSON ``metrics.json``, or 2 with
one line; never a traceback, in bounded time and memory. A few of the same inputs run as
real ``python -m stvg.cli`` processes (:func:`test_real_process`; all of them in the slow
:func:`test_real_processes`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hostile_kit import (
    bounded_memory,
    bounded_time,
    check_outcome,
    check_unit_metrics,
    hostile_settings,
    message_lines,
    run_cli,
    strict_json,
)
from hypothesis import event, example, given
from hypothesis import strategies as st

SETTINGS = hostile_settings(30)

BASE = (
    "policy: {name: random, config: {seed: 0}}\nenv: {max_frames: 8, max_side: 64}\nbatch_size: 4\n"
)
ORACLE = "policy: {name: oracle, config: {box_noise: 0.1, seed: 1}}\nenv: {max_side: 64}\n"
KEYS = [
    "env.fps",
    "env.max_frames",
    "env.max_side",
    "env.frame_cache_mb",
    "env.max_query_length",
    "env.max_text_length",
    "env.densify",
    "env.densify.method",
    "env.densify.end_extension",
    "env.verifier",
    "env.verifier.terms",
    "env.answer_format",
    "env.coords",
    "env.sample_order",
    "env.model_geometry",
    "batch_size",
    "limit",
    "on_bad_video",
    "control_seed",
    "policy",
    "policy.name",
    "policy.config",
    "policy.config.seed",
    "policy.config.box_noise",
    "policy.config.span_noise_s",
    "policy.config.answer_format",
]
#: Sizes whose valid values ask for big (legitimate) frame buffers: kept small or invalid.
SIZE_KEYS = {"env.max_side", "env.max_frames"}
YAML_VALUES = [
    "1e308",
    "-1e308",
    ".nan",
    ".inf",
    "-.inf",
    "1e-300",
    "-1",
    "0",
    "1" * 5000,
    "0x7fffffffffffffff",
    "18446744073709551616",
    "1e20",
    "100000000",
    "true",
    "null",
    "~",
    "''",
    "[]",
    "{}",
    "[1, 2, 3]",
    "{a: 1}",
    "{name: t_iou, weight: .nan}",
    "[{name: t_iou, weight: 1e308}, {name: v_iou, weight: -1e308}]",
    "[{name: t_iou, weight: 1}, {name: t_iou, weight: 2}]",
    "{method: kalman, end_extension: 1e308}",
    "{family: qwen2.5-vl, min_pixels: 1, max_pixels: 1e30}",
    "&a [*a]",
    "[" * 200 + "]" * 200,
    "!!python/object/apply:os.system ['echo hostile > pwned']",
    "!!python/name:os.system",
    "2020-02-30",
    "x" * 100_000,
    "'a\\nb'",
    "\u202e\u0645\u0631\u062d\u0628\u0627",
    "\ud800",
    "%s{0}",
    "a: b: c",
    "[unclosed",
]
yaml_values = st.one_of(
    st.sampled_from(YAML_VALUES),
    st.integers().map(str),
    st.floats().map(repr),
    st.text(max_size=20),
)


@st.composite
def override(draw: st.DrawFn) -> str:
    key = draw(st.sampled_from(KEYS) | st.text(min_size=1, max_size=12))
    value = draw(yaml_values)
    if key in SIZE_KEYS:
        value = draw(st.sampled_from(YAML_VALUES) | st.integers(-3, 256).map(str))
    return f"{key}={value}"


def run_policy_eval(
    config: Path, overrides: list[str], root: Path, out: Path, *, trace: bool = True
) -> None:
    argv = ["evaluate", "--policy", str(config), "--dataset", "synthetic", "--split", "test"]
    argv += ["--root", str(root), "--out", str(out), "--no-progress"]
    if overrides:
        argv += ["--set", *overrides]
    (out / "metrics.json").unlink(missing_ok=True)
    with bounded_memory(what=str(argv)[:500], trace=trace), bounded_time(60, str(argv)[:500]):
        code, stdout, stderr = run_cli(argv)
    event(f"exit {code}")
    if check_outcome(argv, code, stdout, stderr):
        metrics = strict_json((out / "metrics.json").read_text(encoding="utf-8"))
        assert check_unit_metrics(metrics) > 0
    assert not (Path.cwd() / "pwned").exists()


@SETTINGS
@given(base=st.sampled_from([BASE, ORACLE]), overrides=st.lists(override(), min_size=1, max_size=3))
@example(base=BASE, overrides=["seed=" + "1" * 5000])
@example(base=BASE, overrides=["policy.config.seed=" + "1" * 5000])
@example(base=BASE, overrides=["env.fps=1e-300"])
@example(base=BASE, overrides=["env.max_frames=1e8"])
@example(base=BASE, overrides=["env.verifier.terms=[{name: t_iou, weight: .nan}]"])
@example(
    base=BASE,
    overrides=["env.verifier.terms=[{name: t_iou, weight: 1e308}, {name: v_iou, weight: 1e308}]"],
)
@example(base=BASE, overrides=["env.densify={method: linear, end_extension: .nan}"])
@example(base=BASE, overrides=["env.frame_cache_mb=.nan"])
@example(base=BASE, overrides=["policy.name=nope"])  # was a ValueError traceback
def test_overrides(base: str, overrides: list[str], synth_root: Path, tmp_path: Path) -> None:
    config = tmp_path / "eval.yaml"
    config.write_text(base, encoding="utf-8")
    run_policy_eval(config, overrides, synth_root, tmp_path / "out")


HOSTILE_DOCUMENTS = [
    "a: &a [1, 2]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
    "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
    "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\ng: [*f, *f, *f, *f, *f, *f, *f, *f, *f]\n",
    "policy: {name: random}\npolicy: {name: oracle}\n",  # refused: a key given twice
    "env: " + "[" * 10_000 + "]" * 10_000 + "\n",
    "env: " + "{a: " * 10_000 + "1" + "}" * 10_000 + "\n",
    "batch_size: " + "9" * 5000 + "\n",
    "!!python/object/apply:os.system ['echo hostile > pwned']\n",
    "- 1\n- 2\n",
    "\ufeff\x00\x01",
    "policy: {name: random}\nenv: {fps: 2020-02-30}\n",
    "x" * 1_000_000,
    b"policy: {name: random}\nenv: \xff\xfe\n",  # not UTF-8
    "",
    "# only a comment\n",
]


@SETTINGS
@given(
    text=st.sampled_from(HOSTILE_DOCUMENTS)
    | st.builds(lambda a, b: a + b, st.sampled_from([BASE, ORACLE]), st.text(max_size=40))
)
def test_yaml_files(text: str | bytes, synth_root: Path, tmp_path: Path) -> None:
    config = tmp_path / "eval.yaml"
    config.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass"))
    # the resident set only: tracemalloc slows PyYAML's parse of a deep document 20-fold
    run_policy_eval(config, [], synth_root, tmp_path / "out", trace=False)


def test_a_key_given_twice_is_refused(synth_root: Path, tmp_path: Path) -> None:
    # before: PyYAML kept the last `policy:` and the random policy was silently dropped
    config = tmp_path / "eval.yaml"
    config.write_text(BASE + "policy: {name: oracle}\n", encoding="utf-8")
    argv = ["evaluate", "--policy", str(config), "--dataset", "synthetic", "--split", "test"]
    argv += ["--root", str(synth_root), "--no-progress"]
    code, out, err = run_cli(argv)
    assert not check_outcome(argv, code, out, err)
    assert "found key 'policy' given twice" in err and "line 4" in err
    code, out, err = run_cli([*argv, "--set", "env={max_side: 64, max_side: 32}"])
    assert not check_outcome(argv, code, out, err) and "'max_side' given twice" in err


def real_cases(synth_root: Path, folder: Path) -> dict[str, list[str]]:
    """Command lines that raised before, as a user types them (``folder`` holds their
    files and is the working folder)."""
    config = folder / "eval.yaml"
    config.write_text(BASE, encoding="utf-8")
    predictions = folder / "predictions.json"
    predictions.write_text('{"a": {"st_frame": ' + "1" * 5000 + ', "ed_frame": 1, "bbox": {}}}')
    policy = ["evaluate", "--policy", str(config), "--dataset", "synthetic", "--split", "test"]
    policy += ["--root", str(synth_root), "--no-progress", "--set"]
    predictions_mode = ["evaluate", "--annotations", str(synth_root / "test.json")]
    predictions_mode += ["--format", "synthetic", "--predictions", str(predictions)]
    render = ["render", "--annotations", str(synth_root / "test.json"), "--format", "synthetic"]
    render += ["--sample", "test_0000.mp4", "--out", str(folder / "sheet.png")]
    return {
        "python tag": [
            *policy,
            "policy.config=!!python/object/apply:os.system ['echo hostile > pwned']",
        ],
        "long seed": [*policy, "seed=" + "1" * 5000],
        "NUL in a path": [*policy, 'env.video_dir="a\\0b"'],
        "long integer": predictions_mode,
        "long option": [*predictions_mode, "--protocol", "x" * 100_000],
        "huge sheet": [*render, "--tile-width", "4096", "--columns", "1", "--fps", "5"],
    }


def run_real(cases: dict[str, list[str]], folder: Path) -> None:
    """Run ``python -m stvg.cli`` on each case side by side: exit 2, one line on stderr,
    no traceback, nothing run from the YAML."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    env.pop("STVG_TRACEBACK", None)
    procs = {
        name: subprocess.Popen(
            [sys.executable, "-m", "stvg.cli", *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=folder,
        )
        for name, argv in cases.items()
    }
    for name, proc in procs.items():
        _, stderr = proc.communicate(timeout=300)
        shown = f"{name}: {proc.returncode}\n{stderr[-3000:]}"
        assert "Traceback" not in stderr, shown
        assert proc.returncode == 2, shown
        assert len(message_lines(stderr)) == 1, shown
    assert not (folder / "pwned").exists()


def test_real_process(synth_root: Path, tmp_path: Path) -> None:
    """One real ``python -m stvg.cli``: a YAML tag that would run a command does not."""
    run_real({"python tag": real_cases(synth_root, tmp_path)["python tag"]}, tmp_path)


@pytest.mark.slow
def test_real_processes(synth_root: Path, tmp_path: Path) -> None:
    """Every case of :func:`real_cases` in a real process (a process each, ~3 s of CPU)."""
    run_real(real_cases(synth_root, tmp_path), tmp_path)
