"""SFT of the native policy's track ID head: the candidates and target index of each
sample, the config's checks, and a small run whose ID accuracy goes up."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from stvg.config import ConfigError, from_dict
from stvg.data import load_dataset
from stvg.data.tracks import target_track_id
from stvg.envs.config import TracksConfig
from stvg.envs.tracks import TrackSource
from stvg.policies.native import NativePolicy
from stvg.policies.native import distributions as dist
from stvg.training.sft import SFTConfig, train_sft
from stvg.training.sft.native import with_tracks
from stvg.training.sft.native_data import load_cached_frames, track_targets

MODEL = {
    "frame_size": 32,
    "channels": [8, 8, 8],
    "word_dim": 8,
    "query_dim": 8,
    "hidden": 16,
    "track_id": True,
}
TRACKS = {"source": "synthetic", "seed": 0, "draw": False, "max_candidates": 8}


def _config(root: Path, out_dir: Path, **changes) -> dict:
    config = {
        "data": {"n_train": 8, "n_eval": 2, "seed": 5},
        "env": {
            "root": str(root),
            "fps": 1.0,
            "max_frames": 10,
            "max_side": 64,
            "answer_format": "track-id",
            "tracks": TRACKS,
            "verifier": {"terms": [{"name": "t_iou"}, {"name": "id_match"}]},
        },
        "model": MODEL,
        "epochs": 20,
        "batch_size": 4,
        "lr": 0.03,
        "warmup_steps": 0,
        "eval_every": 20,
        "threads": 1,
        "out_dir": str(out_dir),
    }
    config.update(changes)
    return config


def _accuracy(policy: NativePolicy, samples, cache, targets) -> float:
    videos = [with_tracks(cache.video(i, s.query), targets, i) for i, s in enumerate(samples)]
    policy.eval()
    with torch.no_grad():
        picked = dist.mode_tracks(policy.model(policy.batch(videos))).tolist()
    return float(np.mean([p == t.target for p, t in zip(picked, targets, strict=True)]))


def test_sft_learns_the_target_track(tmp_path: Path) -> None:
    config = from_dict(SFTConfig, _config(tmp_path / "data", tmp_path / "run"))
    result = train_sft(config, progress=False, log=None)
    samples = list(load_dataset("synthetic", root=str(tmp_path / "data"), split="train"))[:8]
    cache = load_cached_frames(
        samples,
        fps=1.0,
        max_frames=10,
        max_side=64,
        frame_size=32,
        cache_dir=tmp_path / "data" / "native_cache",
        name="train",
    )
    targets = track_targets(samples, cache, TracksConfig(**{**TRACKS, "noise": None}), 1.0)
    # the target index names the ground truth's track among the shown candidates
    source = TrackSource(TracksConfig(**{**TRACKS, "noise": None}))
    for sample, target in zip(samples, targets, strict=True):
        track, _ = target_track_id(source.for_sample(sample), sample)
        assert target.target >= 0 and int(target.ids[target.target]) == track
        assert target.boxes.shape[0] == target.mask.shape[0] == target.ids.shape[0] >= 2
    torch.manual_seed(config.seed)
    fresh = NativePolicy.from_samples(samples, model=config.model, seed=config.seed)
    before = _accuracy(fresh, samples, cache, targets)
    after = _accuracy(NativePolicy.load(result.checkpoint), samples, cache, targets)
    lines = [json.loads(x) for x in (result.run_dir / "metrics.jsonl").read_text().splitlines()]
    nll = [line["losses/track_nll"] for line in lines if "losses/track_nll" in line]
    assert len(nll) == 20 and nll[-1] < 0.5 * nll[0], nll
    assert after == 1.0 and after > before, (before, after)
    assert 0.0 <= result.eval_metrics["m_vIoU"] <= result.eval_metrics["m_tIoU"] <= 1.0


def test_the_id_head_config_errors_name_the_key(tmp_path: Path) -> None:
    base = _config(tmp_path, tmp_path)
    drawn = {**base, "env": {**base["env"], "tracks": {**TRACKS, "draw": True}}}
    with pytest.raises(ConfigError, match=r"env\.tracks\.draw.*draw: false"):
        from_dict(SFTConfig, drawn)
    env = {k: v for k, v in base["env"].items() if k not in ("tracks", "answer_format")}
    with pytest.raises(ConfigError, match=r"model\.track_id.*env\.tracks"):
        from_dict(SFTConfig, {**base, "env": env})
