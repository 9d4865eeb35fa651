"""The stage configs of a ``stvg run`` pipeline as the runner completes them: the output
folders and the checkpoints each stage starts from, filled with ``dataclasses.replace``
into the stage configs :class:`~stvg.experiments.run_config.RunConfig` holds."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from stvg.config import to_dict
from stvg.experiments.pipeline_policies import pipeline_policy
from stvg.experiments.run_config import RunConfig, stage_env_of


def synthesis_config(config: RunConfig, folder: Path) -> Any:
    """The :class:`~stvg.synthesis.config.SynthesisConfig` of the synthesis stage: the train
    split shown as every stage shows it, in the policy's answer contract."""
    from stvg.config import from_dict
    from stvg.policies.vlm.config import VLMPolicyConfig
    from stvg.policies.vlm.policy import checkpoint_contract
    from stvg.synthesis.config import SynthContractConfig

    policy = from_dict(VLMPolicyConfig, dict(config.policy.config), path="policy.config")
    _, spec = checkpoint_contract(policy)
    env = replace(_stage_env(config), split="train", verifier=None, densify=None)
    contract = SynthContractConfig(spec.answer_format, spec.coords, spec.geometry)
    return replace(
        config.synthesis,  # type: ignore[arg-type]
        env=env,
        contract=contract,
        template=policy.template,
        out=str(folder),
        progress=config.progress,
    )


def sft_config(config: RunConfig, folder: Path, targets: Path | None = None) -> Any:
    """The SFT stage's config (the synthesis stage's ``targets`` for a VLM)."""
    sft = replace(config.sft, out_dir=str(folder))  # type: ignore[arg-type]
    if targets is not None:
        sft = replace(sft, data=replace(sft.data, targets=str(targets)))
    return sft


def rl_config(config: RunConfig, checkpoint: Path | None, folder: Path) -> Any:
    """The RL stage's :class:`~stvg.training.config.TrainConfig`, starting from the SFT
    ``checkpoint`` (``None``: fresh weights)."""
    start_key = pipeline_policy(config.policy.name).start_key
    policy = config.rl.policy
    if start_key is not None and checkpoint is not None:
        policy = replace(policy, config={**policy.config, start_key: str(checkpoint)})
    progress_bar = config.rl.progress_bar and config.progress
    return replace(config.rl, policy=policy, out_dir=str(folder), progress_bar=progress_bar)


def eval_config(config: RunConfig, label: str) -> Any:
    """The :class:`~stvg.evaluation.config.PolicyEvalConfig` of an evaluation: the test
    split, the RL env's verifier, ``eval.densify`` when set."""
    from stvg.evaluation import PolicyEvalConfig, PolicySpec

    env = replace(_stage_env(config), split="test")
    if config.eval.densify is not None:
        env = replace(env, densify=config.eval.densify)
    return PolicyEvalConfig(
        policy=PolicySpec(name=label),
        env=env,
        batch_size=config.eval.batch_size,
        limit=config.eval.limit,
        on_bad_video=config.eval.on_bad_video,
        progress=config.progress,
    )


def _stage_env(config: RunConfig) -> Any:
    return stage_env_of(config.env, config.data)


def eval_inputs(config: RunConfig) -> dict[str, Any]:
    """What an evaluation's result depends on besides the policy."""
    return {"env": to_dict(eval_config(config, "eval").env), "eval": to_dict(config.eval)}


__all__ = ["eval_config", "eval_inputs", "rl_config", "sft_config", "synthesis_config"]
