"""Shared pieces of the RL trainer tests: a tiny synthetic split, a tiny native policy
checkpoint and small run configs (plain functions; each test module makes its fixtures)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from stvg.config import from_dict
from stvg.training.config import TrainConfig

SPLIT = "train"
#: A native model small enough to train in well under a second per iteration.
TINY_MODEL = {"frame_size": 16, "channels": [4, 4, 8], "word_dim": 8, "query_dim": 8, "hidden": 8}


def make_split(root: Path, n: int = 4, seed: int = 1) -> Path:
    """A synthetic split of ``n`` 4-second 5 fps 64x64 videos in ``root``."""
    from stvg.data.synthetic import generate_split

    generate_split(root, SPLIT, n, seed, duration_s=4.0, fps=5.0, size=64)
    return root


def make_native_checkpoint(root: Path, path: Path) -> Path:
    """A fresh tiny native policy (vocabulary of ``root``'s split) saved at ``path``."""
    from stvg.data import load_dataset
    from stvg.policies.native import NativePolicy

    samples = list(load_dataset("synthetic", root=root, split=SPLIT))
    policy = NativePolicy.from_samples(samples, model=TINY_MODEL, seed=0)
    return policy.save(path)


def env_kwargs(root: Path) -> dict[str, Any]:
    """``stvg/Grounding-v0`` keyword arguments for ``root``'s split (struct actions)."""
    return {
        "dataset": "synthetic",
        "root": str(root),
        "split": SPLIT,
        "action_format": "struct",
        "max_side": 32,
        "max_frames": 4,
        "frame_cache_mb": 16.0,
    }


def vlm_text_env(root: Path) -> dict[str, Any]:
    """The ``env`` section of the tiny-VLM trainer tests: text answers on ``root``'s split,
    4 frames at 1 fps of at most 64 pixels."""
    return {
        "id": "stvg/Grounding-v0",
        "dataset": "synthetic",
        "root": str(root),
        "split": SPLIT,
        "max_side": 64,
        "max_frames": 4,
        "fps": 1.0,
    }


def grounding_config(
    root: Path, checkpoint: Path, out_dir: Path, **overrides: Any
) -> dict[str, Any]:
    """A tiny single-turn run config as a plain dict (``overrides`` merged one level deep)."""
    config: dict[str, Any] = {
        "algorithm": "grpo",
        "seed": 3,
        "out_dir": str(out_dir),
        "iterations": 2,
        "batch_size": 2,
        "learning_rate": 1e-2,
        "progress_bar": False,
        "torch_threads": 1,
        "checkpoint_every": 1,
        "env": {"id": "stvg/Grounding-v0", **env_kwargs(root)},
        "policy": {"name": "native", "config": {"checkpoint": str(checkpoint)}},
        "grpo": {"group_size": 4},
        "rloo": {"group_size": 4},
        "rollout": {"num_workers": 0, "task_size": 1},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(config.get(key), dict):
            config[key] = {**config[key], **value}
        else:
            config[key] = value
    return config


def build(config: dict[str, Any]) -> TrainConfig:
    """Validate a config dict."""
    return from_dict(TrainConfig, config)


def parameters(policy: Any) -> dict[str, torch.Tensor]:
    """A detached copy of a policy's floating-point weights."""
    return {k: v.detach().clone() for k, v in policy.state_dict().items() if v.is_floating_point()}


def changed(before: dict[str, torch.Tensor], after: dict[str, torch.Tensor]) -> list[str]:
    """Names of the weights that differ."""
    return [k for k in before if not torch.equal(before[k], after[k])]


def first_minibatch(trainer: Any, seed: int = 0) -> Any:
    """Play iteration 1 of ``trainer`` and return all its rows as one prepared minibatch,
    shuffled, with sampling log-probs perturbed (so that ratios differ from 1 and the clip
    is active on some tokens)."""
    import dataclasses

    import numpy as np

    from stvg.training.learner import rollout_weights

    trainer.iteration = 1
    weights = rollout_weights(trainer.policy, trainer.rollout_dtypes)
    experience, _ = trainer.algo.collect(
        lambda n: trainer._collect(n, weights), trainer.config.batch_size
    )
    ref_logp = trainer._reference_logp(experience) if trainer.reference is not None else None
    adv = trainer.algo.advantages(experience, ref_logp)
    rows = np.random.default_rng(seed).permutation(len(experience))
    mb = trainer._minibatch(experience, adv, ref_logp, rows)
    noise = 0.6 * torch.randn(mb.old_logp.shape, generator=torch.Generator().manual_seed(seed))
    mb = dataclasses.replace(mb, old_logp=mb.old_logp + noise * mb.mask)
    return trainer.algo.prepare(mb)


def gradients(trainer: Any, mb: Any, micro_batch_size: int) -> tuple[dict, dict]:
    """The accumulated gradients (by parameter index) and statistics of one minibatch."""
    trainer.optimizer.zero_grad()
    stats = trainer.accumulate_gradients(mb, micro_batch_size)
    grads = {
        i: p.grad.detach().clone() for i, p in enumerate(trainer._params) if p.grad is not None
    }
    trainer.optimizer.zero_grad()
    return grads, stats


#: The tiny native model with the zoom head (4 window bins over the glance).
TINY_ZOOM_MODEL = {**TINY_MODEL, "zoom": {"enabled": True, "bins": 4}}


def make_zoom_checkpoint(root: Path, path: Path, decide: str = "learned") -> Path:
    """A fresh tiny native policy with the zoom head (``decide``: ``learned`` or
    ``always``) saved at ``path``."""
    from stvg.data import load_dataset
    from stvg.policies.native import NativePolicy

    samples = list(load_dataset("synthetic", root=root, split=SPLIT))
    model = {**TINY_ZOOM_MODEL, "zoom": {**TINY_ZOOM_MODEL["zoom"], "decide": decide}}
    policy = NativePolicy.from_samples(samples, model=model, seed=0)
    return policy.save(path)


def zoom_env_kwargs(root: Path) -> dict[str, Any]:
    """``stvg/ZoomGrounding-v0`` keyword arguments for ``root``'s split (4 s videos): a
    1 fps grid (seconds 0..3), a 0.5 fps glance (seconds 0 and 2), one zoom of at most 2
    new frames, struct actions."""
    return {
        "dataset": "synthetic",
        "root": str(root),
        "split": SPLIT,
        "action_format": "struct",
        "max_side": 32,
        "fps": 1.0,
        "glance_fps": 0.5,
        "max_zooms": 1,
        "max_frames_per_zoom": 2,
        "frame_cache_mb": 16.0,
    }


def zoom_config(root: Path, checkpoint: Path, out_dir: Path, **overrides: Any) -> dict[str, Any]:
    """A tiny glance-and-zoom run config (GRPO, groups of 2 whole episodes) as a plain
    dict (``overrides`` merged one level deep)."""
    base = grounding_config(
        root,
        checkpoint,
        out_dir,
        env={"id": "stvg/ZoomGrounding-v0", **zoom_env_kwargs(root)},
        grpo={"group_size": 2},
        rloo={"group_size": 2},
    )
    base["env"] = {"id": "stvg/ZoomGrounding-v0", **zoom_env_kwargs(root)}
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = {**base[key], **value}
        else:
            base[key] = value
    return base
