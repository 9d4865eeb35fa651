"""Training: supervised fine-tuning (native and VLM policies) and RL trainers.

Names are imported on first access so that ``stvg --help`` stays fast (no torch import).
"""

from __future__ import annotations

from stvg.lazy import lazy_names

_LAZY: dict[str, str] = {
    "SFTConfig": "stvg.training.sft",
    "SFTDataConfig": "stvg.training.sft",
    "SFTResult": "stvg.training.sft",
    "load_sft_config": "stvg.training.sft",
    "train_sft": "stvg.training.sft",
    "VLMSFTConfig": "stvg.training.sft",
    "train_sft_vlm": "stvg.training.sft",
    "train_sft_native": "stvg.training.sft",
    "read_targets": "stvg.synthesis.targets",
    "write_gt_targets": "stvg.synthesis.targets",
    "EnvConfig": "stvg.envs.config",
    "create_trainer": "stvg.training.trainers",
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


__getattr__, __dir__, __all__ = lazy_names(__name__, _LAZY, ())
