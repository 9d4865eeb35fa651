"""``stvg run`` on another env: the shipped tracking config (stvg/Tracking-v0, the suite's
PPO, tracking-mlp without SFT) end to end on a tiny budget."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stvg.cli import main
from stvg.experiments.run import load_run_config, rl_config

TRACKING = (
    Path(__file__).resolve().parents[2]
    / "stvg"
    / "experiments"
    / "configs"
    / "tracking_quickstart.yaml"
)


def test_the_tracking_config_is_a_tracking_run() -> None:
    config = load_run_config(TRACKING)
    assert config.env.id == "stvg/Tracking-v0" and config.sft is None
    rl = rl_config(config, None, Path("runs/t"))
    assert rl.env.id == "stvg/Tracking-v0" and rl.env.reward_mode == "dense"
    assert rl.env.action_format is None and rl.env.split == "train"
    assert rl.algorithm == "ppo" and rl.policy.name == "tracking-mlp"
    assert rl.name == "Tracking-v0__ppo__seed0" and "checkpoint" not in rl.policy.config


def test_tracking_pipeline_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    overrides = [
        f"data.root={tmp_path / 'data'}",
        f"out_dir={tmp_path / 'runs'}",
        "data.n_train=4",
        "data.n_test=3",
        "rl.iterations=2",
        "rl.batch_size=2",
        "rl.progress_bar=false",
        "rl.checkpoint_every=1",
    ]
    assert main(["run", str(TRACKING), "--set", *overrides]) == 0
    out = capsys.readouterr().out
    assert "[2/5] start on test" in out and "[5/5] report" in out
    run = tmp_path / "runs" / "tracking_quickstart"
    summary = json.loads((run / "summary.json").read_text())
    assert summary["env"] == "stvg/Tracking-v0" and summary["policy"] == "tracking-mlp"
    assert summary["sft_checkpoint"] is None and summary["rl_algorithm"] == "ppo"
    for stage in ("before_rl", "after_rl"):
        metrics = summary[stage]["metrics"]
        assert metrics["n"] == 3 and 0.0 <= metrics["m_vIoU"] <= metrics["m_tIoU"] <= 1.0
        assert summary[stage]["cost"]["frames_shown"] == 10.0  # one step per second, 10 s
    per_sample = (run / "eval_rl" / "per_sample.jsonl").read_text().splitlines()
    assert len(per_sample) == 3
    rl_dir = Path(summary["rl_run_dir"])
    assert rl_dir.name == "Tracking-v0__ppo__seed0" and (rl_dir / "metrics.jsonl").is_file()
    report = (run / "report.md").read_text()
    assert "SFT: none (RL starts from the policy's fresh weights)" in report
