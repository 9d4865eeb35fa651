"""``stvg train`` runs GRPO on a tiny VLM with two Ray rollout workers, and resumes exactly.

The tiny Qwen2.5-VL is first SFT-trained for a few steps on ground-truth answers so that its
sampled answers parse and their rewards differ within a group (a random model's answers all
score 0, and GRPO's advantages with them).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import ray
import torch
import yaml
from rl_helpers import SPLIT, make_split

from stvg.cli import main
from stvg.config import from_dict
from stvg.policies.vlm.tiny import build_tiny_checkpoint
from stvg.training.loop import load_trained_policy
from stvg.training.run_dir import read_metrics
from stvg.training.sft.vlm import VLMSFTConfig, train_sft_vlm

TIMING = ("SPS", "_s", "time/")


@pytest.fixture(scope="module")
def ray_session() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def _policy(model_path: Path) -> dict:
    return {
        "model_path": str(model_path),
        "min_pixels": 3136,
        "max_new_tokens": 160,
        "temperature": 0.5,
        "seed": 0,
    }


@pytest.fixture(scope="module")
def warm_vlm(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("vlm_grpo")
    root = make_split(base / "data")
    checkpoint = build_tiny_checkpoint("qwen2.5-vl", base / "tiny")
    config = from_dict(
        VLMSFTConfig,
        {
            "policy": {"name": "vlm", "config": _policy(checkpoint)},
            "env": {"dataset": "synthetic", "root": str(root), "max_side": 64},
            "data": {"train_split": SPLIT, "eval_split": None, "generate": False},
            "epochs": 40,
            "batch_size": 1,
            "lr": 0.02,
            "warmup_steps": 4,
            "threads": 1,
            "out_dir": str(base / "sft"),
        },
    )
    return root, Path(train_sft_vlm(config, progress=False, log=None).checkpoint)


def _write_config(path: Path, root: Path, model: Path, out: Path, iterations: int) -> Path:
    config = {
        "algorithm": "grpo",
        "seed": 0,
        "name": "vlm_grpo",
        "out_dir": str(out),
        "iterations": iterations,
        "batch_size": 2,
        "learning_rate": 1e-3,
        "micro_batch_size": 4,
        "checkpoint_every": 1,
        "progress_bar": False,
        "torch_threads": 1,
        "env": {
            "id": "stvg/Grounding-v0",
            "dataset": "synthetic",
            "root": str(root),
            "split": SPLIT,
            "action_format": "text",
            "max_side": 64,
            "verifier": {
                "terms": [
                    {"name": "t_iou", "weight": 1.0},
                    {"name": "v_iou", "weight": 1.0},
                    {"name": "format", "weight": 0.5},
                ]
            },
        },
        "policy": {"name": "vlm", "config": _policy(model)},
        "grpo": {"group_size": 4, "beta": 0.02},
        "rollout": {"num_workers": 2, "num_cpus_per_worker": 1, "task_size": 1},
    }
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def _strip(lines: list[dict]) -> list[dict]:
    return [{k: v for k, v in line.items() if not any(t in k for t in TIMING)} for line in lines]


def test_grpo_with_two_ray_workers_trains_logs_and_resumes_exactly(
    ray_session: None, warm_vlm: tuple[Path, Path], tmp_path: Path
) -> None:
    root, model = warm_vlm
    before = {k: v.clone() for k, v in load_trained_policy_or_hf(model).items()}

    straight = _write_config(tmp_path / "straight.yaml", root, model, tmp_path / "a", 3)
    assert main(["train", str(straight)]) == 0
    run_a = tmp_path / "a" / "vlm_grpo"
    lines = read_metrics(run_a)
    assert [line["iteration"] for line in lines] == [1, 2, 3]
    for key in (
        "rewards/sampled/total",
        "rewards/t_iou/mean",
        "rewards/v_iou/mean",
        "rewards/format/mean",
        "completions/mean_length",
        "completions/clipped_ratio",
        "losses/clipfrac",
        "losses/approx_kl",
    ):
        assert key in lines[-1], key
    assert any(line["rewards/format/mean"] > 0 for line in lines)
    assert 0 < lines[-1]["completions/mean_length"] <= 160
    after = load_trained_policy(run_a).state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)

    # Two iterations, then `stvg train --resume` with the three-iteration config.
    first = _write_config(tmp_path / "first.yaml", root, model, tmp_path / "b", 2)
    assert main(["train", str(first)]) == 0
    run_b = tmp_path / "b" / "vlm_grpo"
    assert main(["train", str(straight), "--resume", str(run_b)]) == 0
    resumed = load_trained_policy(run_b).state_dict()
    assert all(torch.equal(after[k], resumed[k]) for k in after)
    assert _strip(read_metrics(run_b)) == _strip(lines)


def load_trained_policy_or_hf(model: Path) -> dict:
    from stvg.policies.registry import make

    return make("vlm", **_policy(model)).state_dict()
