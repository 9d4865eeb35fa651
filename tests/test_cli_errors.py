"""One-line errors where tracebacks were (issue 14.5): ``stvg data synth --seed -1``, a split
named ``../../x``, an unwritable ``--out`` (synth and evaluate), and the CLI's net for
config, data, file and Ray errors escaping a command."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import ray.exceptions
import yaml

from stvg.cli import main
from stvg.cli_errors import carried_error, error_line, is_ray_failure, shortened
from stvg.data.errors import VideoError

SYNTH = ["data", "synth", "--n", "1"]


def _fails(argv: list[str], capsys) -> str:
    """Run ``stvg argv``, assert exit status 2 and no traceback; returns stderr."""
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's usage errors
        code = exc.code
    captured = capsys.readouterr()
    assert code == 2, captured
    assert "Traceback" not in captured.err + captured.out
    return captured.err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--seed", "-1", "--split", "t"], "argument --seed: expected an integer >= 0, got -1"),
        (["--seed", "1", "--split", "../../x"], "argument --split: '../../x' is not a name"),
        (["--seed", "1", "--split", "a/b"], "argument --split: 'a/b' is not a name"),
    ],
)
def test_synth_bad_arguments_are_usage_errors(tmp_path: Path, capsys, extra, message) -> None:
    err = _fails([*SYNTH, "--out", str(tmp_path / "d"), *extra], capsys)
    assert message in err and err.startswith("usage: stvg data synth")
    assert not (tmp_path / "d").exists() and not (tmp_path.parent / "x.json").exists()


@pytest.mark.parametrize("out", ["/proc/x/out", "/proc/version"])
def test_synth_unwritable_out_is_one_line(out: str, capsys) -> None:
    err = _fails([*SYNTH, "--out", out, "--seed", "1", "--split", "t"], capsys)
    (line,) = err.strip().splitlines()
    assert line.startswith(f"stvg data synth: error: --out {out}: ")


def test_evaluate_unwritable_out_is_one_line_before_work(tmp_path: Path, capsys) -> None:
    config = tmp_path / "oracle.yaml"
    config.write_text(yaml.safe_dump({"policy": {"name": "oracle"}}))
    argv = ["evaluate", "--policy", str(config), "--dataset", "synthetic", "--split", "test"]
    # the root does not exist: the --out check comes first, before any data is read
    err = _fails([*argv, "--root", str(tmp_path / "none"), "--out", "/proc/x/out"], capsys)
    (line,) = err.strip().splitlines()
    assert line == (
        "stvg evaluate: error: --out /proc/x/out: cannot create or write this folder "
        "(No such file or directory); choose a writable folder"
    )


def test_ray_errors_are_told_apart_from_errors_ray_carried() -> None:
    died = ray.exceptions.NodeDiedError("node 10.0.0.2 died")
    assert is_ray_failure(died) and is_ray_failure(ray.exceptions.ActorDiedError())
    assert error_line(died).startswith("Ray failed (NodeDiedError: node 10.0.0.2 died)")
    bad = VideoError("video file is unreadable (file v.mp4)")
    carried = ray.exceptions.RayTaskError("run", "Traceback (most recent call last):\n...", bad)
    assert not is_ray_failure(carried) and carried_error(carried) is bad
    assert shortened(carried) and error_line(carried) == "video file is unreadable (file v.mp4)"
    bug = ray.exceptions.RayTaskError("run", "Traceback ...", ZeroDivisionError("x"))
    assert not shortened(bug)  # our bug keeps its traceback
    assert not shortened(ValueError("a bug")) and shortened(PermissionError(13, "denied", "/x"))


def test_traceback_env_keeps_the_traceback(monkeypatch) -> None:
    monkeypatch.setenv("STVG_TRACEBACK", "1")
    assert not shortened(VideoError("unreadable"))


QUICKSTART = str(Path(__file__).resolve().parents[1] / "stvg/experiments/configs/quickstart.yaml")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--name", "../../x"], "config key name (in "),
        (["--name", "a/b"], "'a/b' is not a folder name"),
        (["--out-dir", "/proc/x/out"], "--out-dir /proc/x/out: cannot create or write"),
    ],
)
def test_run_rejects_a_path_name_and_an_unwritable_out_dir_first(
    extra: list[str], message: str, tmp_path: Path, capsys, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    start = time.perf_counter()
    err = _fails(["run", QUICKSTART, *extra], capsys)
    assert time.perf_counter() - start < 10.0  # before any stage (data generation alone is more)
    (line,) = err.strip().splitlines()
    assert line.startswith("stvg run: error: ") and message in line
    assert not (tmp_path.parent / "x").exists() and not (tmp_path / "runs").exists()


def test_models_tiny_negative_seed_and_inspect_errors_exit_2(tmp_path: Path, capsys) -> None:
    err = _fails(
        ["models", "tiny", "--family", "qwen2.5-vl", "--out", str(tmp_path / "m"), "--seed", "-1"],
        capsys,
    )
    assert "argument --seed: expected an integer >= 0, got -1" in err
    assert not (tmp_path / "m").exists()
    # data inspect used SystemExit(message): exit status 1 and the message only at exit
    err = _fails(["data", "inspect", str(tmp_path / "none.json"), "--format", "nope"], capsys)
    (line,) = err.strip().splitlines()
    assert line.startswith("stvg data inspect: error: ")


SFT_NATIVE = str(Path(QUICKSTART).parent / "sft_native.yaml")


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (
            ["train", "/proc/nonexistent/run.yaml", "--out-dir", "/proc/x/out"],
            "stvg train: error: --out-dir /proc/x/out: cannot create or write this folder",
        ),
        (
            ["train", "--resume", "/proc/nonexistent/run"],
            "stvg train: error: --resume /proc/nonexistent/run: no such run folder",
        ),
        (
            ["train-sft", "--config", SFT_NATIVE, "--out-dir", "/proc/x/out"],
            "stvg train-sft: error: --out-dir /proc/x/out: cannot create or write this folder",
        ),
        (
            ["render", "--root", "/proc/nonexistent", "--format", "synthetic", "--sample", "a"]
            + ["--out", "/proc/x/a.png"],
            "stvg render: error: --out /proc/x/a.png: its folder /proc/x cannot be created",
        ),
    ],
)
def test_unwritable_outputs_and_a_missing_run_are_one_line(argv, line, capsys) -> None:
    err = _fails(argv, capsys)
    (only,) = err.strip().splitlines()
    assert only.startswith(line)


def test_synth_cot_unwritable_out_is_one_line_before_the_teacher(capsys) -> None:
    config = str(Path(QUICKSTART).parent / "synth_scene.yaml")
    err = _fails(["synth-cot", "--config", config, "--out", "/proc/x/out"], capsys)
    (line,) = err.strip().splitlines()
    assert line.startswith("stvg synth-cot: error: --out /proc/x/out: cannot create or write")
