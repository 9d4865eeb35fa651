"""``stvg sweep``: grid axes, up-front validation, shared stages, results, and resuming
after the sweep is killed."""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from test_run import tiny_config

from stvg.cli import main
from stvg.config import ConfigError, InvalidField
from stvg.experiments.sweep import (
    cell_label,
    grid_combinations,
    load_sweep_config,
    parse_axis,
    trial_name,
)


def test_axis_forms() -> None:
    grid = parse_axis("env.fps", [0.5, 1.0])
    assert grid.kind == "grid" and grid.overrides(0.5) == {"env.fps": 0.5}
    drawn = parse_axis("rl.learning_rate", {"loguniform": [1e-5, 1e-3]})
    assert drawn.kind == "drawn" and drawn.distribution == ("loguniform", [1e-5, 1e-3])
    variants = parse_axis(
        "algorithm",
        {
            "dr_grpo": {"rl.algorithm": "grpo", "rl.grpo.loss_type": "dr_grpo"},
            "rloo": {"rl.algorithm": "rloo"},
        },
    )
    assert variants.values == ("dr_grpo", "rloo")
    assert variants.overrides("dr_grpo") == {"rl.algorithm": "grpo", "rl.grpo.loss_type": "dr_grpo"}
    with pytest.raises(InvalidField, match="must be a list of values") as error:
        parse_axis("env.fps", 2.0)
    assert error.value.field == "grid.env.fps"
    with pytest.raises(InvalidField, match="low < high"):
        parse_axis("x", {"uniform": [1.0, 0.5]})
    with pytest.raises(InvalidField, match="needs at least one value"):
        parse_axis("seed", [])


def test_combinations_labels_and_names() -> None:
    axes = [parse_axis("env.fps", [0.5, 1.0]), parse_axis("seed", [0, 1, 2])]
    combos = grid_combinations(axes)
    assert len(combos) == 6 and combos[0] == {"env.fps": 0.5, "seed": 0}
    assert cell_label({"env.fps": 0.5}) == "env.fps=0.5"
    assert cell_label({}) == "base"
    assert trial_name({"env.fps": 0.5, "seed": 2}) == "env.fps=0.5,seed=2"
    terms = {"env.verifier.terms": [{"name": "t_iou", "weight": 1.0}]}
    name = trial_name(terms)
    assert "/" not in name and " " not in name and len(name) <= 80
    assert name != trial_name({"env.verifier.terms": [{"name": "v_iou", "weight": 1.0}]})


def _sweep_file(tmp_path: Path, **extra: object) -> Path:
    base = tiny_config(tmp_path)
    base["data"]["n_test"] = 2
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(base), encoding="utf-8")
    sweep = {
        "name": "tiny",
        "out_dir": str(tmp_path / "sweeps"),
        "base": "base.yaml",
        "set": {"rl.iterations": 2},
        "grid": {
            "algorithm": {
                "grpo": {"rl.algorithm": "grpo"},
                "rloo": {"rl.algorithm": "rloo", "rl.rloo.group_size": 2},
            },
            "eval.densify.method": ["linear", "hold"],
            "seed": [0, 1],
        },
        "resources": {"cpu": 1},
        "max_concurrent_trials": 2,
        "ray": {"num_cpus": 2},
        "report": {"baseline": "algorithm=grpo,eval.densify.method=linear", "plots": ["bars"]},
        **extra,
    }
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(sweep, sort_keys=False), encoding="utf-8")
    return path


def test_every_trial_is_validated_before_anything_runs(tmp_path: Path) -> None:
    path = _sweep_file(tmp_path)
    sweep = yaml.safe_load(path.read_text(encoding="utf-8"))
    sweep["grid"]["algorithm"]["rloo"]["rl.rloo.bogus"] = 1
    path.write_text(yaml.safe_dump(sweep), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"rl\.rloo\.bogus.*trial algorithm=rloo"):
        load_sweep_config(path)
    assert not (tmp_path / "sweeps").exists()


def test_sweep_shares_stages_and_writes_results(tmp_path: Path) -> None:
    path = _sweep_file(tmp_path)
    assert main(["sweep", str(path)]) == 0
    sweep_dir = tmp_path / "sweeps" / "tiny"
    with (sweep_dir / "results.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 8 and {r["status"] for r in rows} == {"ok"}
    assert [r["cell"] for r in rows[:2]] == ["algorithm=grpo,eval.densify.method=linear"] * 2
    assert sorted({r["seed"] for r in rows}) == ["0", "1"]
    for row in rows:
        assert 0.0 <= float(row["final/m_vIoU"]) <= float(row["final/m_tIoU"]) <= 1.0
        assert float(row["cost/frames_shown"]) == 4.0 and float(row["wall_s"]) > 0
    stages = sorted(p.name.split("-")[0] for p in (sweep_dir / "stages").iterdir() if p.is_dir())
    # SFT once per seed; RL once per (algorithm, seed); the densify axis only re-evaluates.
    assert stages.count("sft") == 2 and stages.count("eval_sft") == 4
    assert stages.count("rl") == 4 and stages.count("eval_rl") == 8
    # The hold and linear evaluations of one trained policy differ only in densification.
    by_trial = {r["trial"]: r for r in rows}
    hold = by_trial["algorithm=grpo,eval.densify.method=hold,seed=0"]
    linear = by_trial["algorithm=grpo,eval.densify.method=linear,seed=0"]
    assert hold["final/m_tIoU"] == linear["final/m_tIoU"]
    report = (sweep_dir / "report.md").read_text(encoding="utf-8")
    assert "algorithm=rloo,eval.densify.method=hold" in report
    # Running it again resumes: nothing is trained again.
    before = {p.name: p.stat().st_mtime_ns for p in (sweep_dir / "stages").iterdir()}
    assert main(["sweep", str(path)]) == 0
    after = {p.name: p.stat().st_mtime_ns for p in (sweep_dir / "stages").iterdir()}
    assert after == before


def _most_at_once(intervals: list[tuple[float, float]]) -> int:
    """The largest number of ``(start, end)`` intervals that overlap at one instant."""
    events = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    running = most = 0
    for _, step in events:  # an end sorts before a start at the same instant
        running += step
        most = max(most, running)
    return most


def test_most_at_once_by_hand() -> None:
    assert _most_at_once([(0, 1), (1, 2), (2, 3)]) == 1
    assert _most_at_once([(0, 2), (1, 3), (1.5, 4)]) == 3
    assert _most_at_once([(0, 2), (1, 3), (2.5, 4)]) == 2


@pytest.mark.timeout(300)
def test_max_concurrent_trials_is_honoured(tmp_path: Path) -> None:
    """Room on the Ray cluster for 2 trials at once, max_concurrent_trials 1: the trials'
    run times do not overlap (Tune ignored the setting before, and ran them together)."""
    path = _sweep_file(
        tmp_path,
        grid={"seed": [0, 1]},
        max_concurrent_trials=1,
        ray={"num_cpus": 2},
        report={"plots": []},
    )
    assert main(["sweep", str(path)]) == 0
    rows = list(csv.DictReader((tmp_path / "sweeps" / "tiny" / "results.csv").open()))
    assert len(rows) == 2 and {r["status"] for r in rows} == {"ok"}
    intervals = [(float(r["started_at"]), float(r["finished_at"])) for r in rows]
    assert all(start < end for start, end in intervals)
    assert _most_at_once(intervals) == 1, intervals


def test_a_changed_sweep_in_the_same_folder_is_refused(tmp_path: Path) -> None:
    path = _sweep_file(tmp_path)
    config, spec = load_sweep_config(path)
    sweep_dir = Path(spec.sweep_dir)
    sweep_dir.mkdir(parents=True)
    (sweep_dir / "sweep.yaml").write_text(yaml.safe_dump({"grid": {"seed": [5]}}), "utf-8")
    assert main(["sweep", str(path)]) == 2


def test_an_edited_base_config_is_not_resumed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same sweep file over an edited base file is a different sweep: resuming it would
    keep trials run with the old base."""
    from stvg.experiments.sweep import SWEEP_FILE, _check_same_sweep

    path = _sweep_file(tmp_path)
    config, spec = load_sweep_config(path)
    sweep_dir = Path(spec.sweep_dir)
    sweep_dir.mkdir(parents=True)
    resolved = {"base": "base.yaml", "resolved_base": dict(spec.base), "grid": config.grid}
    (sweep_dir / SWEEP_FILE).write_text(yaml.safe_dump(resolved), "utf-8")
    assert _check_same_sweep(sweep_dir, resolved, restart=False) is True
    edited = {**resolved, "resolved_base": {**spec.base, "seed": 7}}
    with pytest.raises(ConfigError, match="changed: resolved_base"):
        _check_same_sweep(sweep_dir, edited, restart=False)


@pytest.mark.timeout(300)
def test_a_killed_sweep_resumes_without_rerunning_finished_trials(tmp_path: Path) -> None:
    path = _sweep_file(tmp_path, max_concurrent_trials=1)
    sweep = yaml.safe_load(path.read_text(encoding="utf-8"))
    sweep["grid"]["seed"] = [0]  # 4 trials: 2 finish before the kill, 2 after the resume
    path.write_text(yaml.safe_dump(sweep, sort_keys=False), encoding="utf-8")
    sweep_dir = tmp_path / "sweeps" / "tiny"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "stvg.cli", "sweep", str(path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            finished = list((sweep_dir / "trials").glob("*/row.json"))
            if len(finished) >= 2:
                break
            assert process.poll() is None, "the sweep ended before it could be killed"
            time.sleep(0.2)
        else:
            pytest.fail("no trial finished within 180 s")
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    done = {p.parent.name: p.stat().st_mtime_ns for p in finished}
    assert len(done) < 4
    assert main(["sweep", str(path)]) == 0
    rows = list(csv.DictReader((sweep_dir / "results.csv").open(encoding="utf-8")))
    assert len(rows) == 4 and {r["status"] for r in rows} == {"ok"}
    for name, mtime in done.items():  # finished trials were not run again
        assert (sweep_dir / "trials" / name / "row.json").stat().st_mtime_ns == mtime
        summary = json.loads((sweep_dir / "trials" / name / "summary.json").read_text())
        assert summary["name"] == name


HINT = "run the same command again to resume (finished trials are kept)"


@pytest.mark.timeout(300)
def test_ctrl_c_stops_a_sweep_with_one_line_saying_how_to_resume(tmp_path: Path) -> None:
    """SIGINT (Ctrl-C, sent to the whole process group as a terminal does) while trials run:
    Tune stops, and the command says in one line how to resume, exit status 130."""
    path = _sweep_file(tmp_path, max_concurrent_trials=1)
    sweep_dir = tmp_path / "sweeps" / "tiny"
    process = subprocess.Popen(
        [sys.executable, "-m", "stvg.cli", "sweep", str(path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 180
        while not list((sweep_dir / "trials").glob("*/row.json")):
            assert process.poll() is None, "the sweep ended before it could be interrupted"
            assert time.monotonic() < deadline, "no trial finished within 180 s"
            time.sleep(0.2)
        os.killpg(process.pid, signal.SIGINT)
        _, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    stderr = err.decode()
    lines = stderr.strip().splitlines()
    assert process.returncode == 130, stderr[-2000:]
    # no traceback of the command (Ray forwards its workers' output prefixed "(pid=...)")
    assert not any(line.startswith("Traceback") for line in lines), stderr[-2000:]
    # Tune stops and returns (the usual case), or the interrupt reaches the command itself
    # (Ctrl-C outside Tune's loop): either way one line says how to resume
    stopped = rf"sweep {re.escape(str(sweep_dir))} interrupted: [1-7] of 8 trials finished"
    assert re.fullmatch(rf"stvg sweep: ({stopped}|interrupted); {re.escape(HINT)}", lines[-1]), (
        lines[-1]
    )


def test_ctrl_c_in_any_command_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A KeyboardInterrupt out of a command's handler: one line on stderr, exit 130."""
    import stvg.training.rl_commands as rl_commands

    def interrupted(args: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(rl_commands, "_train", interrupted, raising=True)
    assert main(["train", "--resume", str(tmp_path)]) == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "stvg train: interrupted; continue with `stvg train --resume RUN_DIR` (from its last "
        "checkpoint)"
    ]


def test_tune_runs_the_grid_with_the_seed_innermost(tmp_path: Path) -> None:
    """Tune's own variant generator, on the coded space: trials side by side are seeds of
    one cell (different SFT stages), the declared axes nest like loops."""
    from ray.tune.search.variant_generator import generate_variants

    from stvg.experiments.sweep import _tune_space, decode_axes

    config, spec = load_sweep_config(_sweep_file(tmp_path))
    order = [
        trial_name(decode_axes(spec, v["axes"]))
        for _, v in generate_variants({"axes": _tune_space(spec)})
    ]
    assert order[:3] == [
        "algorithm=grpo,eval.densify.method=linear,seed=0",
        "algorithm=grpo,eval.densify.method=linear,seed=1",
        "algorithm=grpo,eval.densify.method=hold,seed=0",
    ]
    assert len(order) == len(set(order)) == 8


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[None]:
    """One local Ray instance for the shipped sweeps (each sweep then leaves it running)."""
    import ray

    ray.init(num_cpus=2, include_dashboard=False)
    yield
    ray.shutdown()


SHIPPED = Path(__file__).resolve().parents[2] / "stvg" / "experiments" / "configs" / "sweeps"


def _reduced_budget(tmp_path: Path) -> list[str]:
    """``--set`` overrides that shrink a shipped sweep to seconds: 6 tiny videos, a tiny
    model, one SFT epoch, one RL iteration, 2 seeds; everything under ``tmp_path``."""
    model = "{frame_size: 16, channels: [4, 4, 8], word_dim: 8, query_dim: 8, hidden: 8}"
    return [
        f"out_dir={tmp_path / 'sweeps'}",
        f"stages_dir={tmp_path / 'stages'}",
        "grid.seed=[0]",
        f"set.data.root={tmp_path / 'data'}",
        "set.data.n_train=6",
        "set.data.n_test=2",
        "set.data.val_size=2",
        "set.sft.epochs=1",
        "set.sft.patience=1",
        f"set.sft.model={model}",
        "set.rl.iterations=1",
        "set.rl.batch_size=2",
        "set.rl.grpo.group_size=2",
        "set.eval.batch_size=2",
    ]


#: The shipped sweeps run end to end in ``make test-all`` (~170 s kept out of ``make
#: test``, which validates every trial config of theirs in test_shipped_configs.py, runs
#: every recipe config alone in test_recipes.py and the sweep machinery on a tiny sweep here).
SHIPPED_SWEEPS = [
    "fps",
    "quickstart_seeds",
    "smoothing",
    "rewards",
    "algorithms",
    "rl_knobs",
    "recipes",
    "densify_fps",
    "zoom",
    "tracks_noise",
]


@pytest.mark.parametrize(
    "name",
    [pytest.param(name, marks=pytest.mark.slow) for name in SHIPPED_SWEEPS],
)
def test_shipped_sweep_runs_end_to_end_on_a_reduced_budget(
    tmp_path: Path, name: str, ray_cluster: None
) -> None:
    args = ["sweep", str(SHIPPED / f"{name}.yaml"), "--set", *_reduced_budget(tmp_path)]
    assert main(args) == 0
    sweep_dir = tmp_path / "sweeps" / name
    rows = list(csv.DictReader((sweep_dir / "results.csv").open(encoding="utf-8")))
    config, spec = load_sweep_config(SHIPPED / f"{name}.yaml", {"grid.seed": [0]})
    assert len(rows) == len(grid_combinations(spec.axes)) and {r["status"] for r in rows} == {"ok"}
    report = (sweep_dir / "report.md").read_text(encoding="utf-8")
    for plot in config.report.plots:
        assert f"]({plot}" in report
    if name == "fps":  # cost grows with the rate: 3, 5, 10, 20 and 100 frames per query
        frames = {r["cell"]: float(r["cost/frames_shown"]) for r in rows}
        assert frames == {
            "fps=0.25": 3.0,
            "fps=0.5": 5.0,
            "fps=1": 10.0,
            "fps=2": 20.0,
            "fps=frame": 100.0,
        }
    if name == "zoom":  # the learned zooms (at most 3 + 4 frames) vs uniform 0.7 fps (7)
        by_cell = {r["cell"]: r for r in rows}
        assert float(by_cell["look=uniform"]["cost/frames_shown"]) == 7.0
        assert float(by_cell["look=uniform_2fps"]["cost/frames_shown"]) == 20.0
        learned = by_cell["look=learned"]
        assert 3.0 <= float(learned["cost/frames_shown"]) <= 7.0
        assert float(learned["zoom_none/frames_shown"]) == 3.0
        for rule in ("none", "oracle", "random"):
            assert 0.0 <= float(learned[f"zoom_{rule}/m_vIoU"]) <= 1.0
    if name == "densify_fps":  # evaluation only: one SFT and RL per rate, four densify cells
        tracker = {r["cell"]: r["cost/densify_seconds_per_query"] for r in rows}
        for cell, seconds in tracker.items():
            reads = cell.endswith(("densify=track", "densify=track_ends"))
            assert (float(seconds) > 0) if reads else seconds == "", (cell, seconds)
        for fps in ("0.25", "0.5", "1"):  # SFT and RL trained once per rate, reused thrice
            reused = [r["stages_reused"].split(",") for r in rows if r["axis/fps"] == fps]
            assert sorted("sft" in x and "rl" in x for x in reused) == [False, True, True, True]
