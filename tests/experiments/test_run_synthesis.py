"""``stvg run`` with a synthesis stage, end to end on CPU with a tiny VLM:
data -> synthesis (noisy scene teacher, ground-truth replacement) -> SFT on its targets ->
GRPO -> evaluation -> report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from stvg.cli import main
from stvg.config import ConfigError, from_dict
from stvg.experiments.run import RunConfig


def _config(tmp_path: Path) -> dict:
    return {
        "name": "synth",
        "out_dir": str(tmp_path / "runs"),
        "seed": 0,
        "policy": {
            "name": "vlm",
            "tiny": "qwen2.5-vl",
            "config": {
                "model_path": str(tmp_path / "tiny"),
                "min_pixels": 3136,
                "max_new_tokens": 32,
                "device": "cpu",
            },
        },
        "data": {"root": str(tmp_path / "data"), "n_train": 4, "n_test": 2},
        "env": {"fps": 1.0, "max_frames": None, "max_side": 64},
        "synthesis": {
            "teacher": {"name": "scene", "scene": {"span_noise_s": 0.5, "box_noise": 0.2}},
            "keep": "all",
        },
        "sft": {"epochs": 1, "batch_size": 2, "micro_batch_size": 2, "lr": 0.01, "threads": 1},
        "rl": {
            "algorithm": "grpo",
            "iterations": 1,
            "batch_size": 2,
            "learning_rate": 1e-4,
            "progress_bar": False,
            "torch_threads": 1,
            "grpo": {"group_size": 2},
            "rollout": {"num_workers": 0},
        },
        "eval": {"batch_size": 2},
    }


def test_pipeline_with_a_synthesis_stage(tmp_path: Path, capsys) -> None:
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(_config(tmp_path)), encoding="utf-8")
    assert main(["run", str(path)]) == 0
    out = capsys.readouterr().out
    assert "[2/7] synthesis (scene): 4 of 4 kept" in out
    run = tmp_path / "runs" / "synth"
    summary = json.loads((run / "summary.json").read_text())
    synthesis = summary["synthesis"]
    assert synthesis["counts"]["written"] == 4 and synthesis["counts"]["replacements"] > 0
    # The noisy teacher is scored before replacement; its targets are then exact.
    assert synthesis["teacher_metrics"]["over_parsed"]["m_tIoU"] < 1.0
    targets = run / "synthesis" / "targets.jsonl"
    assert Path(synthesis["targets"]) == targets
    sft_config = yaml.safe_load((run / "sft" / "config.yaml").read_text())
    assert sft_config["data"]["targets"] == str(targets)
    manifest = json.loads((run / "synthesis" / "manifest.json").read_text())
    assert manifest["contract"]["geometry"]["min_pixels"] == 3136  # the policy's processor
    assert "- synthesis: teacher `scene`, 4 of 4 targets kept" in (run / "report.md").read_text()


def test_synthesis_needs_the_vlm_and_leaves_runner_keys_alone(tmp_path: Path) -> None:
    config = _config(tmp_path)
    with pytest.raises(ConfigError, match="synthesis.out"):
        from_dict(RunConfig, {**config, "synthesis": {"out": "x"}})
    native = {k: v for k, v in config.items() if k not in ("policy",)}
    native["env"] = {"fps": 1.0, "max_frames": 10, "max_side": 64}
    with pytest.raises(ConfigError, match="needs policy vlm"):
        from_dict(RunConfig, native)


def test_a_synthesis_stage_that_keeps_nothing_stops_the_run(tmp_path: Path, capsys) -> None:
    """A teacher without a server: the run stops after the synthesis stage with one line
    giving the counts and the first failure's reason, exit status 2."""
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = _config(tmp_path)
    config["synthesis"]["teacher"] = {
        "name": "openai",
        "openai": {"model": "m", "max_retries": 0, "base_url": f"http://127.0.0.1:{port}/v1"},
    }
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("stvg run: error: synthesis kept no target of 4"), err
    assert "failed 4 (teacher_error 4)" in err and "first failure: sample train_0000" in err
    assert not (tmp_path / "runs" / "synth" / "sft" / "policy.pt").exists()
