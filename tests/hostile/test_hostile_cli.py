"""Command lines built to break the ``stvg`` commands, run in-process through
:func:`stvg.cli.main` (a subprocess per example would cost seconds; the real-process runs
are in ``test_hostile_configs.test_real_processes``):

* ``evaluate --policy`` with hostile ``--fps``, ``--limit``, ``--control-seed``,
  ``--control``, ``--split`` and path options, on the tiny synthetic split;
* ``render`` with hostile ``--fps``, ``--max-frames``, ``--columns``, ``--tile-width``,
  ``--max-side``, ``--sample`` and a hostile predictions file, to a PNG or an MP4;
* ``data synth`` with hostile ``--n``, ``--seed``, ``--split`` and ``--difficulty``;
* ``train``, ``train-sft``, ``run`` and ``synth-cot`` on their shipped configs with a
  hostile ``--set`` on one of the config's own keys (or a made-up one), stopped before any
  work by a missing dataset folder or an output folder that is a file.

Each exits 0 with its output in range, or 2 with one line (argparse's usage lines allowed
before it); never a traceback, in bounded time and memory. A value that is valid and asks
for a big (legitimate) buffer, such as ``--tile-width 4096``, is left out of the drawn
values: the bounds themselves have their own tests here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import pytest
import yaml
from hostile_kit import (
    bounded_memory,
    bounded_time,
    check_outcome,
    check_unit_metrics,
    hostile_settings,
    message_lines,
    mutated,
    run_cli,
    strict_json,
    write_json,
)
from hypothesis import event, example, given
from hypothesis import strategies as st
from test_hostile_configs import BASE, yaml_values
from test_hostile_prediction_files import STVG

from stvg.limits import MAX_SHEET_PIXELS

CONFIGS = Path(__file__).resolve().parents[2] / "stvg" / "experiments" / "configs"

#: Option values as a user or a script might type them (argv is text).
CLI_VALUES = [
    "nan",
    "inf",
    "-inf",
    "1e309",
    "1e308",
    "1e-300",
    "-1",
    "0",
    "1",
    "2",
    "0.5",
    "1e20",
    "10000000",
    "10000001",
    "9223372036854775808",
    "9" * 5000,
    "1_0",
    " 2 ",
    "0x10",
    "\u0663",  # ARABIC-INDIC DIGIT THREE: int() reads it as 3
    "",
    " ",
    "\x00",
    "a\nb",
    "native",
    "all",
    "none",
    "x" * 100_000,
    "../../etc/passwd",
    "--help",
    "-",
]
cli_values = st.one_of(
    st.sampled_from(CLI_VALUES),
    st.text(max_size=12),
    st.integers().map(str),
    st.floats().map(repr),
)


def as_int(text: str) -> int | None:
    """``text`` as argparse's ``int`` would read it, or ``None``."""
    try:
        return int(text)
    except ValueError:
        return None


def run_checked(
    argv: list[str], what: str | None = None, *, seconds: float = 60.0
) -> tuple[int, str, str]:
    """Run ``stvg argv`` in-process within the time and memory bounds and check its outcome
    (:func:`hostile_kit.check_outcome`); returns ``(status, stdout, stderr)``. ``what``
    names the hypothesis event of the status (only inside a ``@given`` test)."""
    shown = str([a[:80] for a in argv])[:500]
    with bounded_memory(what=shown), bounded_time(seconds, shown):
        code, out, err = run_cli(argv)
    if what is not None:
        event(f"{what}: exit {code}")
    check_outcome(argv, code, out, err)
    return code, out, err


# ------------------------------------------------------------------ evaluate
POLICY_OPTIONS = ["--fps", "--limit", "--control-seed", "--control", "--split", "--dataset"]
PREDICTION_OPTIONS = ["--protocol", "--fill", "--on-invalid", "--pred-format", "--format"]
PATH_OPTIONS = ["--root", "--out", "--annotations", "--predictions", "--vidor-root"]


def _output(value: str) -> str:
    """An ``--out`` value kept inside the test's folder (no ``/``, not ``..``)."""
    return value if value and "/" not in value and value not in (".", "..") else f"x{value}_"


@hostile_settings(40)
@given(
    mode=st.sampled_from(["policy", "predictions"]),
    options=st.lists(
        st.tuples(st.sampled_from(POLICY_OPTIONS + PREDICTION_OPTIONS + PATH_OPTIONS), cli_values),
        min_size=1,
        max_size=2,
    ),
)
@example(mode="policy", options=[("--fps", "9" * 5000)])  # was a 5,000-character message
@example(mode="policy", options=[("--limit", "x" * 100_000)])
@example(mode="policy", options=[("--out", "x" * 5000)])
@example(mode="policy", options=[("--out", "\x00")])  # was a ValueError traceback
@example(mode="predictions", options=[("--out", "a\x00b")])
@example(mode="predictions", options=[("--format", "x" * 100_000)])
@example(mode="predictions", options=[("--vidor-root", "nan")])  # was a ValueError traceback
@example(mode="policy", options=[("--vidor-root", "v")])
@example(mode="policy", options=[("--root", "a\x00b")])
def test_evaluate_options(
    mode: str, options: list[tuple[str, str]], synth_root: Path, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)  # a relative --out lands here
    if mode == "policy":
        config = tmp_path / "eval.yaml"
        config.write_text(BASE, encoding="utf-8")
        argv = ["evaluate", "--policy", str(config), "--dataset", "synthetic", "--split", "test"]
        argv += ["--root", str(synth_root), "--no-progress"]
        out = "out"
    else:
        predictions = write_json(tmp_path / "predictions.json", STVG)
        argv = ["evaluate", "--annotations", str(synth_root / "test.json")]
        argv += ["--format", "synthetic", "--predictions", str(predictions)]
        out = "metrics.json"
    for option, value in options:
        if option == "--out":
            out = value = _output(value)
        argv += [option, value]
    argv += ["--out", out] if "--out" not in dict(options) else []
    code, _, _ = run_checked(argv, f"evaluate {mode}")
    if code == 0:
        written = Path(out, "metrics.json") if Path(out).is_dir() else Path(out)
        assert check_unit_metrics(strict_json(written.read_text(encoding="utf-8"))) > 0


# ------------------------------------------------------------------ render
RENDER_OPTIONS = ["--fps", "--max-frames", "--columns", "--tile-width", "--max-side", "--sample"]


def _render_value(option_value: tuple[str, str]) -> bool:
    """Leave out valid tile widths above 512 pixels: 20 tiles of 4096 pixels are a
    legitimate 300 MB sheet (the bound on sheets is tested on its own)."""
    option, value = option_value
    number = as_int(value)
    return not (option == "--tile-width" and number is not None and 512 < number <= 4096)


@hostile_settings(30)
@given(
    options=st.lists(
        st.tuples(st.sampled_from(RENDER_OPTIONS), cli_values).filter(_render_value),
        max_size=3,
    ),
    predictions=st.none() | mutated(STVG, max_changes=2),
    suffix=st.sampled_from([".png", ".png", ".mp4"]),
)
@example(options=[("--max-frames", "10000000"), ("--fps", "1000")], predictions=None, suffix=".png")
@example(options=[("--sample", "x" * 100_000)], predictions=None, suffix=".png")
def test_render_options(
    options: list[tuple[str, str]],
    predictions: Any,
    suffix: str,
    synth_root: Path,
    tmp_path: Path,
) -> None:
    out = tmp_path / f"sheet{suffix}"
    out.unlink(missing_ok=True)
    argv = ["render", "--annotations", str(synth_root / "test.json"), "--format", "synthetic"]
    argv += ["--sample", "test_0000.mp4", "--out", str(out)]
    if predictions is not None:
        argv += ["--predictions", str(write_json(tmp_path / "predictions.json", predictions))]
    for option, value in options:
        argv += [option, value]
    code, _, _ = run_checked(argv, f"render {suffix}")
    if code == 0:
        assert out.is_file() and out.stat().st_size > 0
        if suffix == ".png":
            image = cv2.imread(str(out))
            assert image is not None and image.ndim == 3
            assert image.shape[0] * image.shape[1] <= MAX_SHEET_PIXELS


def test_a_contact_sheet_past_its_bound_is_refused_before_decoding(
    synth_root: Path, tmp_path: Path
) -> None:
    # before: 20 tiles of 4096 pixels in one column made a 4,108 x 82,596 sheet (2.7 GB
    # resident, 30 s) for a 4 s video of 64 x 64 pixels
    out = tmp_path / "sheet.png"
    argv = ["render", "--annotations", str(synth_root / "test.json"), "--format", "synthetic"]
    argv += ["--sample", "test_0000.mp4", "--out", str(out), "--fps", "5"]
    argv += ["--tile-width", "4096", "--columns", "1"]
    code, _, err = run_checked(argv, seconds=20)
    assert code == 2 and not out.exists()
    assert "4,108x82,596 pixels, more than the 100,000,000 allowed" in err
    code, _, _ = run_checked([*argv[:-4], "--tile-width", "256"])  # a sane sheet
    assert code == 0 and out.is_file()


# ------------------------------------------------------------------ data synth


def _synth_value(option_value: tuple[str, str]) -> bool:
    """Leave out valid counts above 2 videos (each is generated)."""
    option, value = option_value
    number = as_int(value)
    return not (option == "--n" and number is not None and number > 2)


@hostile_settings(20)
@given(
    options=st.lists(
        st.tuples(st.sampled_from(["--n", "--seed", "--split", "--difficulty"]), cli_values).filter(
            _synth_value
        ),
        min_size=1,
        max_size=3,
    )
)
def test_data_synth_options(options: list[tuple[str, str]], tmp_path: Path) -> None:
    out = tmp_path / "synth"
    argv = ["data", "synth", "--out", str(out), "--split", "s", "--n", "1", "--seed", "0"]
    for option, value in options:
        argv += [option, value]
    code, stdout, _ = run_checked(argv, "data synth")
    if code == 0:
        summary = json.loads(stdout)
        split = summary["split"]
        assert 1 <= summary["n"] <= 2 and (out / f"{split}.json").is_file()


# ------------------------------------------------------------------ config-driven commands


def dotted_keys(value: Any, prefix: str = "") -> list[str]:
    """Every key path of a YAML mapping (``env.kwargs.root``), parents included."""
    keys: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            path = f"{prefix}{key}"
            keys += [path, *dotted_keys(item, f"{path}.")]
    return keys


#: command -> (arguments before the overrides, its shipped config). Each stops before any
#: work with the config valid: ``train`` on the missing dataset folder (data/hcstvg2
#: relative to the test's folder), the others on an output folder that is a file.
COMMANDS = {
    "train": (["train", "{config}"], "hcstvg2_qwen25vl7b_grpo.yaml"),
    "train-sft": (
        ["train-sft", "--config", "{config}", "--out-dir", "{file}"],
        "hcstvg2_qwen25vl7b_sft.yaml",
    ),
    "run": (["run", "{config}", "--out-dir", "{file}"], "quickstart.yaml"),
    "synth-cot": (["synth-cot", "--config", "{config}", "--out", "{file}"], "synth_scene.yaml"),
}
#: Keys left alone: a valid value could start Ray workers (train runs up to its data check).
SKIPPED = ("rollout", "ray")


@st.composite
def command_overrides(draw: st.DrawFn) -> tuple[str, list[str]]:
    command = draw(st.sampled_from(sorted(COMMANDS)))
    config = yaml.safe_load((CONFIGS / COMMANDS[command][1]).read_text(encoding="utf-8"))
    keys = [k for k in dotted_keys(config) if not k.startswith(SKIPPED)]
    overrides = []
    for _ in range(draw(st.integers(1, 2))):
        key = draw(st.sampled_from(keys) | st.text(min_size=1, max_size=12))
        overrides.append(f"{key}={draw(yaml_values)}")
    return command, overrides


@hostile_settings(30)
@given(case=command_overrides())
@example(case=("train", ["seed=" + "1" * 5000]))
@example(case=("train", ["iterations=1e20"]))
@example(case=("run", ["env.max_frames=1e8"]))
@example(case=("train-sft", ["epochs=.nan"]))
@example(case=("synth-cot", ["teacher.openai.timeout_s=-1"]))
def test_config_commands(case: tuple[str, list[str]], tmp_path: Path, monkeypatch) -> None:
    command, overrides = case
    monkeypatch.chdir(tmp_path)  # the shipped configs' relative folders do not exist here
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder", encoding="utf-8")
    template, config = COMMANDS[command]
    argv = [a.format(config=CONFIGS / config, file=blocker) for a in template] + [
        "--set",
        *overrides,
    ]
    code, _, err = run_checked(argv, command)
    assert code == 2, err[-2000:]  # nothing ran
    assert len(message_lines(err)) == 1
    assert not (tmp_path / "runs").exists() and not (tmp_path / "data_cache").exists()


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_config_commands_stop_before_work(command: str, tmp_path: Path, monkeypatch) -> None:
    """The stop each case above relies on: the shipped config unchanged exits 2 on it."""
    monkeypatch.chdir(tmp_path)
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder", encoding="utf-8")
    template, config = COMMANDS[command]
    argv = [a.format(config=CONFIGS / config, file=blocker) for a in template]
    code, _, err = run_checked(argv)
    expected = "data/hcstvg2 does not exist" if command == "train" else "is not a folder"
    assert code == 2 and expected in err


@pytest.mark.parametrize(
    "argv",
    [
        # was a ValueError traceback: the run folder's mkdir on a path holding a NUL
        ["train-sft", "--config", str(CONFIGS / "hcstvg2_qwen25vl7b_sft.yaml")],
        ["run", str(CONFIGS / "quickstart.yaml")],
    ],
)
def test_a_nul_character_in_a_config_string_is_refused(
    argv: list[str], tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = run_checked([*argv, "--set", 'out_dir="a\\0b"'])
    assert code == 2 and "config key out_dir" in err
    assert "'a\\x00b' holds a NUL character" in err
    assert not (tmp_path / "runs").exists()


def test_a_nul_character_in_an_argument_is_refused(synth_root: Path, tmp_path: Path) -> None:
    # in-process callers only (exec() refuses it): was a ValueError traceback of mkdir
    predictions = write_json(tmp_path / "predictions.json", STVG)
    argv = ["evaluate", "--annotations", str(synth_root / "test.json"), "--format", "synthetic"]
    argv += ["--predictions", str(predictions), "--out", str(tmp_path / "a\0b.json")]
    code, _, err = run_checked(argv)
    assert code == 2 and "holds a NUL character" in err


def test_synth_cot_uses_set_values_of_its_option_keys(synth_root: Path, tmp_path: Path) -> None:
    # before: `--set limit=1 out=... env.root=... env.split=...` were silently replaced by
    # the unset --limit/--out/--root/--split options (None), so the config's own values ran
    out = tmp_path / "synth"
    argv = ["synth-cot", "--config", str(CONFIGS / "synth_scene.yaml"), "--no-progress"]
    argv += ["--set", f"env.root={synth_root}", "env.split=test", "limit=1", f"out={out}"]
    code, stdout, _ = run_checked(argv, seconds=120)
    assert code == 0, stdout
    records = (out / "records.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(records) == 1 and json.loads(records[0])["sample_id"] == "test_0000.mp4"
    code, _, _ = run_checked([*argv[:4], "--limit", "2", "--set", *argv[5:]], seconds=120)
    assert code == 0  # the option wins over --set
    records = (out / "records.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(records) == 2
