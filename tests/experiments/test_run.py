"""``stvg run``: the whole pipeline on a tiny budget, its config rules and the report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from stvg.cli import main
from stvg.config import ConfigError, from_dict
from stvg.experiments.report import cost_table, metrics_table, moving_average
from stvg.experiments.run import RunConfig, load_run_config

QUICKSTART = (
    Path(__file__).resolve().parents[2] / "stvg" / "experiments" / "configs" / "quickstart.yaml"
)
TINY_MODEL = {"frame_size": 16, "channels": [4, 4, 8], "word_dim": 8, "query_dim": 8, "hidden": 8}


def tiny_config(tmp_path: Path) -> dict:
    return {
        "name": "tiny",
        "out_dir": str(tmp_path / "runs"),
        "seed": 1,
        "data": {"root": str(tmp_path / "data"), "n_train": 4, "n_test": 3},
        "env": {"fps": 1.0, "max_frames": 4, "max_side": 32},
        "sft": {"epochs": 1, "batch_size": 4, "model": TINY_MODEL, "threads": 1},
        "rl": {
            "algorithm": "grpo",
            "iterations": 2,
            "batch_size": 2,
            "progress_bar": False,
            "torch_threads": 1,
            "grpo": {"group_size": 2},
            "rollout": {"num_workers": 0},
        },
        "eval": {"batch_size": 4},
    }


def test_pipeline_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(tiny_config(tmp_path)), encoding="utf-8")
    assert main(["run", str(path)]) == 0
    out = capsys.readouterr().out
    assert "[6/6] report" in out and "test m_vIoU" in out
    run = tmp_path / "runs" / "tiny"
    summary = json.loads((run / "summary.json").read_text())
    for stage in ("before_rl", "after_rl"):
        metrics = summary[stage]["metrics"]
        assert metrics["n"] == 3
        assert 0.0 <= metrics["m_vIoU"] <= metrics["m_tIoU"] <= 1.0
        assert summary[stage]["cost"]["frames_shown"] == 4.0  # 10 s at 1 fps, max_frames 4
    assert summary["seed"] == 1 and summary["rl_iterations"] == 2
    assert summary["reward"] == {"formula": "t_iou + v_iou", "min": 0.0, "max": 2.0}
    # the thread counts the numbers depend on, as the config gave them
    assert summary["threads"] == {
        "sft": 1,
        "rl_learner": 1,
        "rl_workers": 0,
        "rl_threads_per_worker": 1,
    }
    report = (run / "report.md").read_text()
    assert "## Test metrics before and after RL" in report and "m_vIoU" in report
    assert "- torch threads: SFT 1, RL learner 1 (the numbers depend on them" in report
    assert (run / "learning_curve.png").stat().st_size > 1000
    assert "## Test samples" in report and (run / "iou_histograms.png").stat().st_size > 1000
    gallery = sorted(p.name.split("_")[0] for p in (run / "gallery").glob("*.png"))
    assert gallery == ["best"] * 3 + ["worst"] * 3  # 3 test samples: each list has all 3
    assert (run / "sft" / "policy.pt").is_file()
    assert (run / "eval_sft" / "predictions.json").is_file()
    assert (run / "eval_rl" / "metrics.json").is_file()
    rl_runs = [p for p in (run / "rl").iterdir() if p.name.startswith("Grounding-v0__grpo__seed1")]
    assert len(rl_runs) == 1 and (rl_runs[0] / "metrics.jsonl").is_file()


def test_runner_owned_keys_are_refused() -> None:
    with pytest.raises(
        ConfigError, match=r"sft.fps: is set by stvg run \(the old spelling of sft.env.fps\)"
    ):
        from_dict(RunConfig, {"sft": {"fps": 2.0}})
    with pytest.raises(ConfigError, match="sft.env: is set by stvg run"):
        from_dict(RunConfig, {"sft": {"env": {"fps": 2.0}}})
    with pytest.raises(ConfigError, match="rl.env: is set by stvg run"):
        from_dict(RunConfig, {"rl": {"env": {"id": "stvg/Synthetic-v0"}}})
    with pytest.raises(ConfigError, match="rl.seed: is set by stvg run"):
        from_dict(RunConfig, {"rl": {"seed": 3}})
    with pytest.raises(ConfigError, match="env.dataset: the pipeline generates its data"):
        from_dict(RunConfig, {"env": {"dataset": "hcstvg"}})


def test_quickstart_config_is_valid() -> None:
    """The run config holds the typed stage configs, their runner-set keys filled."""
    from stvg.experiments.run import rl_config, sft_config
    from stvg.training.config import TrainConfig
    from stvg.training.sft import SFTConfig

    config = load_run_config(QUICKSTART)
    assert isinstance(config.rl, TrainConfig) and isinstance(config.sft, SFTConfig)
    assert config.rl.rollout.num_workers == 2
    rl = rl_config(config, Path("sft/policy.pt"), Path("runs/q"))
    assert rl.algorithm == "grpo" and rl.grpo.group_size == 8 and rl.out_dir == "runs/q"
    assert rl.env.id == "stvg/Grounding-v0" and rl.env.action_format == "struct"
    assert rl.env.verifier.terms[0].name == "t_iou" and rl.env.split == "train"
    assert rl.name == "Grounding-v0__grpo__seed0"
    sft = sft_config(config, Path("runs/q/sft"))
    assert sft.env.max_frames == rl.env.max_frames == 10 and sft.out_dir == "runs/q/sft"
    assert sft.env.root == rl.env.root == "data_cache/synthetic-easy-train600-test100-seed0"
    assert sft.data.val_size == 100 and sft.data.n_train == 600 and sft.seed == 0
    assert sft.env.verifier == rl.env.verifier  # SFT validation densifies as RL scores


def test_report_tables_by_hand() -> None:
    table = metrics_table({"m_tIoU": 0.5, "m_vIoU": 0.2}, {"m_tIoU": 0.55, "m_vIoU": 0.2125})
    assert "| m_tIoU | 50.00 | 55.00 | +5.00 |" in table
    assert "| m_vIoU | 20.00 | 21.25 | +1.25 |" in table
    costs = cost_table({"frames_shown": 10.0, "policy_seconds": 0.01}, {"frames_shown": 10.0})
    assert "| frames_shown | 10.0 | 10.0 |" in costs
    assert "| policy_seconds | 0.0100 | - |" in costs
    assert moving_average([2.0, 4.0, 6.0, 8.0], 2).tolist() == [2.0, 3.0, 5.0, 7.0]


def test_native_policy_options_reach_rl_only() -> None:
    from stvg.experiments.run import rl_config, sft_config

    config = load_run_config(QUICKSTART)
    assert config.policy.config == {"box_temperature": 0.3}
    rl = rl_config(config, Path("sft/policy.pt"), Path("runs/q"))
    assert rl.policy.config == {"box_temperature": 0.3, "checkpoint": "sft/policy.pt"}
    assert "box_temperature" not in str(sft_config(config, Path("s")))
    with pytest.raises(ConfigError, match="policy.config.model"):
        from_dict(RunConfig, {"policy": {"name": "native", "config": {"model": {}}}})
    with pytest.raises(ConfigError, match="box_temperature"):
        from_dict(RunConfig, {"policy": {"name": "native", "config": {"box_temperature": 0}}})


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("eval.batch_size=0", "config key eval.batch_size"),
        (
            "env.verifier.terms=[{name: bogus}]",
            "config key env.verifier.terms[0].name (in {config}): unknown reward term 'bogus'",
        ),
        ("env.verifier.densify.method=cubic", "config key env.verifier.densify.method"),
        ("env.max_side=1", "config key env.max_side"),
        ("rl.grpo.bogus=1", "unknown config key rl.grpo.bogus"),
    ],
)
def test_config_errors_stop_the_run_before_any_stage(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], override: str, message: str
) -> None:
    """An error anywhere in the run config fails at once, naming the key and the file, before
    data generation (the data root is never created) — not after SFT."""
    import time

    data = tmp_path / "data"
    started = time.perf_counter()
    code = main(
        ["run", str(QUICKSTART), "--set", override, f"data.root={data}", f"out_dir={tmp_path}"]
    )
    assert code == 2 and time.perf_counter() - started < 10
    err = capsys.readouterr().err
    message = message.format(config=QUICKSTART)
    assert message in err and str(QUICKSTART) in err and "Traceback" not in err
    assert not data.exists() and not (tmp_path / "quickstart").exists()


ZOOM_NATIVE = QUICKSTART.parent / "zoom_native.yaml"


def test_the_zoom_native_pipeline_learns_zooms_and_reports_their_cost(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``zoom_native.yaml`` on a tiny budget: SFT of the zoom head, GRPO on whole episodes,
    the learned zooms and the scripted rules evaluated with the same answerer."""
    args = [
        "run",
        str(ZOOM_NATIVE),
        "--no-progress",
        *("--set", f"out_dir={tmp_path / 'runs'}", f"data.root={tmp_path / 'data'}"),
        *("data.n_train=6", "data.n_test=3", "data.val_size=2", "sft.epochs=1"),
        *("sft.patience=1", "rl.iterations=1", "rl.batch_size=2", "rl.grpo.group_size=2"),
        *(f"sft.model.{k}={json.dumps(v)}" for k, v in TINY_MODEL.items()),
    ]
    assert main(args) == 0
    assert "[9/9] report" in capsys.readouterr().out
    run = tmp_path / "runs" / "zoom_native"
    summary = json.loads((run / "summary.json").read_text())
    assert set(summary["zoom_rules"]) == {"none", "oracle", "random"}
    cost = {k: summary["zoom_rules"][k]["cost"] for k in summary["zoom_rules"]}
    # the glance is seconds 0, 4, 8 of the 10 s videos; a zoom adds at most 4 frames
    assert cost["none"]["frames_shown"] == 3.0 and cost["none"]["zooms"] == 0.0
    assert cost["oracle"]["zooms"] == 1.0 and 3.0 < cost["oracle"]["frames_shown"] <= 7.0
    after = summary["after_rl"]["cost"]
    assert 3.0 <= after["frames_shown"] <= 7.0 and after["turns"] == after["zooms"] + 1
    report = (run / "report.md").read_text(encoding="utf-8")
    assert "## Zoom rules (the same answerer)" in report
    assert "| zooms |" in report and "| turns |" in report
    rl_lines = [json.loads(x) for x in (Path(summary["rl_run_dir"]) / "metrics.jsonl").open()]
    assert all("cost/zooms" in line for line in rl_lines)
