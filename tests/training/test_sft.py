"""SFT of the native policy: targets, frame cache, a tiny-budget run, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from stvg.cli import main
from stvg.config import ConfigError, from_dict
from stvg.data import load_dataset
from stvg.data.types import Sample
from stvg.envs.grounding import GroundingEnv
from stvg.policies.native import NativePolicy
from stvg.policies.native.features import observation_inputs
from stvg.training.sft import SFTConfig, load_sft_config, train_sft
from stvg.training.sft.native_data import load_cached_frames, sft_target

TINY_MODEL = {"frame_size": 32, "channels": [8, 8, 8], "word_dim": 8, "query_dim": 8, "hidden": 8}


def _tiny_config(root: Path, out_dir: Path, **changes) -> dict:
    config = {
        "data": {"n_train": 6, "n_eval": 3, "seed": 2},
        "env": {"root": str(root), "fps": 1.0, "max_frames": 10, "max_side": 64},
        "model": TINY_MODEL,
        "epochs": 4,
        "batch_size": 3,
        "lr": 0.01,
        "warmup_steps": 0,
        "eval_every": 2,
        "threads": 1,
        "out_dir": str(out_dir),
    }
    config.update(changes)
    return config


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory):
    """One tiny SFT run (generates 6 + 3 synthetic videos)."""
    base = tmp_path_factory.mktemp("sft")
    config = from_dict(SFTConfig, _tiny_config(base / "data", base / "run"))
    return config, train_sft(config, progress=False, log=None)


def _sample(gt_span=(7, 48), boxes=None) -> Sample:
    return Sample(
        "v",
        "v.mp4",
        "q",
        10.0,
        100,
        200,
        100,
        gt_span,
        boxes if boxes is not None else {f: [20.0, 10.0, 60.0, 50.0] for f in range(7, 49)},
    )


def test_sft_target_rules_hand_computed():
    shown = np.arange(0, 100, 10)  # 1 fps of a 10 fps video
    nearest = sft_target(_sample(), shown)
    assert (nearest.start, nearest.end) == (1, 5)  # frames 10 and 50 are nearest 7 and 48
    # box [20, 10, 60, 50] of a 200 x 100 video -> centre (0.2, 0.3), size (0.2, 0.4)
    assert nearest.boxes_cxcywh[1:6] == pytest.approx(np.tile([0.2, 0.3, 0.2, 0.4], (5, 1)))
    assert np.all(nearest.boxes_cxcywh[[0, 6, 7, 8, 9]] == 0)
    cover = sft_target(_sample(), shown, "cover")
    assert (cover.start, cover.end) == (0, 5)  # frame 0 <= 7, frame 50 >= 48
    # a span between two shown frames: start and end both round to frame 30, whose box is
    # the one of the nearest annotated frame (32, not 27)
    short = sft_target(_sample((27, 32), {27: [0, 0, 20, 10], 32: [100, 50, 200, 100]}), shown)
    assert (short.start, short.end) == (3, 3)
    assert short.boxes_cxcywh[3] == pytest.approx([0.75, 0.75, 0.5, 0.5])
    with pytest.raises(ValueError, match="'nearest' or 'cover'"):
        sft_target(_sample(), shown, "middle")


def test_cached_frames_equal_what_the_policy_sees_through_the_env(tiny_run):
    config, _ = tiny_run
    root = config.env.root
    samples = list(load_dataset("synthetic", split="test", root=root))
    kwargs = dict(fps=1.0, max_frames=10, max_side=64, frame_size=32, name="test")
    cache = load_cached_frames(samples, cache_dir=Path(root) / "native_cache", **kwargs)
    files = sorted((Path(root) / "native_cache").glob("test-*.npz"))
    assert len(files) == 1  # the run already wrote it; this call read it back
    env = GroundingEnv(
        dataset="synthetic",
        split="test",
        root=root,
        fps=1.0,
        max_frames=10,
        max_side=64,
        action_format="struct",
    )
    for i, sample in enumerate(samples):
        obs, info = env.reset(options={"sample_id": sample.sample_id})
        inputs = observation_inputs(obs, 32)
        count = int(cache.counts[i])
        assert count == 10  # 10 s at 1 fps
        assert np.array_equal(cache.frame_idx[i, :count], info["frame_idx"])
        assert np.array_equal(cache.frames[i, :count], inputs.frames)
        assert np.array_equal(cache.timestamps_s[i, :count], inputs.timestamps_s)


def test_tiny_budget_run_learns_and_writes_its_run_folder(tiny_run):
    config, result = tiny_run
    run_dir = Path(config.out_dir)
    epochs = [line for line in result.history if "losses/total" in line]
    evals = [line for line in result.history if "eval/m_vIoU" in line]
    assert [line["epoch"] for line in epochs] == [1, 2, 3, 4]
    assert [line["epoch"] for line in evals] == [2, 4]
    assert epochs[-1]["losses/total"] < epochs[0]["losses/total"]
    assert epochs[-1]["losses/box_nll"] < epochs[0]["losses/box_nll"]
    lines = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert lines == result.history
    assert set(result.eval_metrics) >= {"m_tIoU", "m_vIoU", "vIoU@0.3", "vIoU@0.5"}
    assert (
        json.loads((run_dir / "eval.json").read_text())["m_vIoU"] == result.eval_metrics["m_vIoU"]
    )
    resolved = load_sft_config(run_dir / "config.yaml")
    assert resolved == config

    trained = NativePolicy.load(result.checkpoint)
    train = list(load_dataset("synthetic", split="train", root=config.env.root))
    torch.manual_seed(config.seed)
    initial = NativePolicy.from_samples(train, model=config.model, seed=config.seed)
    assert trained.vocab.words == initial.vocab.words
    before, after = initial.state_dict(), trained.state_dict()
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    for name in (
        "start_head.weight",
        "end_head.weight",
        "box_log_std",
        "heat.weight",
        "cnn.0.0.weight",
    ):
        assert name in changed
    # every weight but the critic's (the SFT loss does not reach the value head)
    assert sorted(set(before) - set(changed)) == [
        "value_head.0.bias",
        "value_head.0.weight",
        "value_head.2.bias",
        "value_head.2.weight",
    ]


def test_cli_smoke_run_and_config_errors(tmp_path: Path, capsys):
    config_path = tmp_path / "sft.yaml"
    config = _tiny_config(tmp_path / "data", tmp_path / "run", epochs=1, eval_every=0)
    config_path.write_text(yaml.safe_dump(config))
    assert main(["train-sft", "--config", str(config_path), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "final eval: m_tIoU" in out and "run folder" in out
    for name in ("config.yaml", "metrics.jsonl", "policy.pt", "eval.json"):
        assert (tmp_path / "run" / name).is_file()
    config["model"] = {**TINY_MODEL, "chanels": [8, 8, 8]}
    config_path.write_text(yaml.safe_dump(config))
    assert main(["train-sft", "--config", str(config_path)]) == 2
    assert "unknown config key model.chanels" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="config key lr"):
        from_dict(SFTConfig, {"lr": -1.0})
    assert (
        main(["train-sft", "--config", str(tmp_path / "run" / "config.yaml"), "--epochs", "0"]) == 2
    )
    assert "config key epochs: must be >= 1" in capsys.readouterr().err
