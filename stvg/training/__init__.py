"""Training: supervised fine-tuning (native and VLM policies) and RL trainers.

Names are imported on first access so that ``stvg --help`` stays fast (no torch import).
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY: dict[str, str] = {
    "SFTConfig": "stvg.training.sft",
    "SFTDataConfig": "stvg.training.sft",
    "SFTResult": "stvg.training.sft",
    "load_sft_config": "stvg.training.sft",
    "train_sft": "stvg.training.sft",
    "VLMSFTConfig": "stvg.training.sft",
    "train_sft_vlm": "stvg.training.sft",
    "read_targets": "stvg.synthesis.targets",
    "write_gt_targets": "stvg.synthesis.targets",
    "EnvSpec": "stvg.training.config",
    "GRPOConfig": "stvg.training.config",
    "PPOConfig": "stvg.training.config",
    "PolicySpec": "stvg.training.config",
    "RLOOConfig": "stvg.training.config",
    "RLlibConfig": "stvg.training.config",
    "RLlibPPOTrainer": "stvg.training.rllib_ppo",
    "RayConfig": "stvg.training.config",
    "RolloutConfig": "stvg.training.config",
    "TrainConfig": "stvg.training.config",
    "TrainResult": "stvg.training.loop",
    "Trainer": "stvg.training.loop",
    "load_trained_policy": "stvg.training.loop",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'stvg.training' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = sorted(_LAZY)
