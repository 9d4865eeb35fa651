"""How ``stvg run`` starts, trains and loads each kind of policy: one table instead of a
branch per policy name in every stage.

=========  ====================  =====================  ===================================
policy     SFT                   RL starts from         its trained checkpoints load with
=========  ====================  =====================  ===================================
``native`` ground-truth actions  ``checkpoint``: SFT's  ``NativePolicy.load`` of
           (:mod:`stvg.training  ``policy.pt``          ``policy.pt``
           .sft.native`)
``vlm``    target texts          ``model_path``: SFT's  ``load_trained_policy`` (RL);
           (:mod:`stvg.training  ``hf`` folder          ``make("vlm", model_path=hf)``
           .sft.vlm`)                                   (SFT)
any other  none                  its fresh weights      ``load_trained_policy``
           (``tracking-mlp``)    (``config_from_env``)
=========  ====================  =====================  ===================================
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal


def _native_sft(config: Mapping[str, Any], checkpoint: Path) -> Any:
    from stvg.policies.native import NativePolicy

    del config  # the network and vocabulary are the checkpoint's
    return NativePolicy.load(checkpoint)


def _native_rl(checkpoint: Path) -> Any:
    from stvg.policies.native import NativePolicy
    from stvg.training.run_dir import POLICY_FILE

    return NativePolicy.load(Path(checkpoint) / POLICY_FILE)


def _vlm_sft(config: Mapping[str, Any], checkpoint: Path) -> Any:
    from stvg.policies.registry import make

    return make("vlm", **{**config, "model_path": str(checkpoint)})


def _trained(checkpoint: Path) -> Any:
    from stvg.training.loop import load_trained_policy

    return load_trained_policy(checkpoint)


@dataclass(frozen=True)
class PipelinePolicy:
    """How the pipeline treats one kind of policy.

    Attributes:
        sft: the policy has a supervised fine-tuning stage
            (:data:`stvg.training.sft.kinds.SFT_KINDS`).
        sft_reads_policy: SFT depends on the ``policy`` section (the VLM's checkpoint and
            processor); the native policy's options act in RL only.
        start_key: the policy config key that RL's starting checkpoint goes in (``None``:
            RL starts from fresh weights).
        action_format: what its actions are in a grounding env (``None``: a tracking
            policy).
        load_sft: ``(policy config, SFT checkpoint) -> policy``.
        load_rl: ``(RL checkpoint folder) -> policy``.
    """

    sft: bool
    sft_reads_policy: bool
    start_key: str | None
    action_format: Literal["text", "struct"] | None
    load_sft: Callable[[Mapping[str, Any], Path], Any] | None
    load_rl: Callable[[Path], Any]


PIPELINE_POLICIES: dict[str, PipelinePolicy] = {
    "native": PipelinePolicy(True, False, "checkpoint", "struct", _native_sft, _native_rl),
    "vlm": PipelinePolicy(True, True, "model_path", "text", _vlm_sft, _trained),
}
#: Any other trainable policy (``tracking-mlp``): RL from fresh weights.
FROM_SCRATCH = PipelinePolicy(False, False, None, None, None, _trained)


def pipeline_policy(name: str) -> PipelinePolicy:
    """The pipeline's treatment of policy ``name``."""
    return PIPELINE_POLICIES.get(name, FROM_SCRATCH)


__all__ = ["FROM_SCRATCH", "PIPELINE_POLICIES", "PipelinePolicy", "pipeline_policy"]
