"""The typed config of ``stvg run``: the pipeline's own sections and its stages' configs.

``RunConfig`` holds the real stage configs: ``sft`` (a
:class:`~stvg.training.sft.native.SFTConfig` or
:class:`~stvg.training.sft.vlm.VLMSFTConfig`, by ``policy.name``), ``rl`` (a
:class:`~stvg.training.config.TrainConfig`) and ``synthesis`` (a
:class:`~stvg.synthesis.config.SynthesisConfig`). The keys of those configs that the
pipeline sets, so that every stage sees the same data and frames, are declared on the
stage configs themselves (``set_by("stvg run")``: the env, the data, the policy, the seed,
the run names and folders): the YAML may not give them, and :meth:`RunConfig.__config_prepare__`
fills those known when the config is read (the env from ``env`` with the generated data,
the data splits from ``data``, the policy from ``policy``, the seed); the runner fills the
rest (output folders, the checkpoints each stage starts from) with ``dataclasses.replace``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from stvg.config import (
    ConfigError,
    InvalidField,
    field_value,
    from_dict,
    from_yaml,
    refuse_set_keys,
    set_keys,
    to_dict,
)
from stvg.envs.config import EnvConfig
from stvg.experiments.pipeline_policies import pipeline_policy
from stvg.policies.spec import PolicySpec
from stvg.policies.zoom import ZoomRule
from stvg.synthesis.config import SynthesisConfig
from stvg.training.config import TrainConfig
from stvg.training.sft import SFTConfig, VLMSFTConfig, sft_kind
from stvg.training.sft.native import SFTDataConfig
from stvg.training.sft.vlm import VLMPolicySpec, VLMSFTDataConfig
from stvg.tubes import DensifyConfig

RUNNER = "stvg run"
#: The policy config keys of the native policy that SFT decides (the network, vocabulary).
NATIVE_KEYS_FROM_SFT = ("vocab", "model", "max_query_len", "checkpoint")


@dataclass
class DataSection:
    """The synthetic benchmark the pipeline generates.

    Attributes:
        root: folder of the splits; ``null`` = ``data_cache/synthetic-<difficulty>-
            train<n_train>-test<n_test>-seed<seed>`` (reused by later runs).
        n_train, n_test: videos of the train and test splits.
        difficulty: generator difficulty (``easy``, ``medium``, ``hard``).
        seed: generator seed.
        val_size: native SFT: the last ``val_size`` train videos are held out as a
            validation split; SFT keeps its best checkpoint on them and stops at the
            plateau (``sft.patience``). 0 = no validation (train for ``sft.epochs``).
    """

    root: str | None = None
    n_train: int = 600
    n_test: int = 100
    difficulty: Literal["easy", "medium", "hard"] = "easy"
    seed: int = 0
    val_size: int = 0

    def __post_init__(self) -> None:
        for name in ("n_train", "n_test"):
            if getattr(self, name) < 1:
                raise InvalidField(name, f"must be >= 1, got {getattr(self, name)}")
        if not 0 <= self.val_size < self.n_train:
            raise InvalidField(
                "val_size",
                f"must be >= 0 and < n_train ({self.n_train}), got {self.val_size}",
            )

    def resolved_root(self) -> str:
        """``root`` or its default."""
        if self.root:
            return self.root
        return (
            f"data_cache/synthetic-{self.difficulty}-train{self.n_train}-test{self.n_test}"
            f"-seed{self.seed}"
        )


@dataclass
class PolicySection:
    """The policy the pipeline trains.

    Attributes:
        name: ``native`` (the small torch policy), ``vlm`` (Qwen2.5-VL / Qwen3-VL through
            transformers) or another registered trainable policy (``tracking-mlp``: no
            SFT, RL from fresh weights; see :mod:`stvg.experiments.pipeline_policies`).
        config: ``vlm``: :class:`~stvg.policies.vlm.config.VLMPolicyConfig` keys
            (``model_path`` required: the local checkpoint SFT starts from); ``native``:
            the RL stage's policy options (``box_temperature``, ``seed``,
            :class:`~stvg.policies.native.policy.NativePolicyConfig`); the network and
            vocabulary come from SFT (the ``sft`` section); any other: the policy's
            config keys.
        tiny: ``vlm`` only: build a tiny random checkpoint of this family (a registered
            VLM family: ``qwen2.5-vl``, ``qwen3-vl``, ``internvl``, ...) at
            ``config.model_path`` when it does not exist yet (what ``stvg models tiny``
            writes), for runs on a CPU.
    """

    name: str = "native"
    config: dict[str, Any] = field(default_factory=dict)
    tiny: str | None = None

    def __post_init__(self) -> None:
        from stvg.policies.registry import registered_policies

        if self.name not in registered_policies():
            raise InvalidField(
                "name", f"unknown policy {self.name!r}; registered: {registered_policies()}"
            )
        if self.name == "vlm" and not self.config.get("model_path"):
            raise InvalidField(
                "config.model_path",
                "policy vlm needs config.model_path (a local checkpoint folder; with tiny: "
                "qwen2.5-vl a tiny random one is built there)",
            )
        if self.tiny and self.name != "vlm":
            raise InvalidField("tiny", f"tiny builds a VLM checkpoint: remove it for {self.name}")
        if self.tiny is not None:
            from stvg.policies.vlm.families import family_names

            if self.tiny not in family_names():
                raise InvalidField(
                    "tiny", f"unknown tiny VLM family {self.tiny!r}; choose one of {family_names()}"
                )
        if self.name == "native":
            sft_owned = sorted(set(self.config) & set(NATIVE_KEYS_FROM_SFT))
            if sft_owned:
                raise InvalidField(
                    f"config.{sft_owned[0]}",
                    "the native policy's network and vocabulary come from SFT (the sft "
                    "section): remove it from policy.config",
                )
            from stvg.policies.native.policy import NativePolicyConfig

            try:
                from_dict(NativePolicyConfig, {**self.config, "checkpoint": "<sft>"})
            except ConfigError as exc:
                raise InvalidField("config", str(exc)) from None


def _run_env() -> EnvConfig:
    return EnvConfig(max_frames=10, max_side=64)


@dataclass
class EvalSection:
    """The evaluations on the test split.

    Attributes:
        batch_size: observations answered per ``act_batch`` call.
        limit: only the first ``limit`` test samples (``null`` = all).
        densify: how the evaluations densify the per-second answers into frame-level
            tubes (``{method: pchip}``; ``null`` = as the RL reward does,
            ``env.verifier.densify`` or the default ``linear``). Only the evaluations
            change, so a sweep over it evaluates the same trained policies.
        on_bad_video: a test video that cannot be decoded stops the run naming it
            (``error``, default; the evaluation's partial results are written) or is
            left out of both evaluations and listed in ``summary.json`` (``skip``).
        zoom_rules: on a glance-and-zoom env, also evaluate the RL policy as the answerer
            of these scripted zoom rules (:class:`~stvg.policies.zoom.ZoomController`:
            ``none`` = the glance alone, ``oracle`` = one zoom on the ground-truth span
            padded by ``zoom_margin_s``, the bound of the mechanism, ``random`` and
            ``center`` = a window of the oracle's width placed at random or in the
            middle), on the same test split: the report's "zoom rules" table
            (``summary.json`` ``zoom_rules``). ``[]`` = none.
        zoom_margin_s: the oracle window's padding, seconds on each side.
    """

    batch_size: int = 32
    limit: int | None = None
    densify: DensifyConfig | None = None
    on_bad_video: Literal["error", "skip"] = "error"
    zoom_rules: list[ZoomRule] = field(default_factory=list)
    zoom_margin_s: float = 1.0

    def __post_init__(self) -> None:
        if len(set(self.zoom_rules)) != len(self.zoom_rules):
            raise InvalidField("zoom_rules", f"names a rule twice: {self.zoom_rules}")
        if not self.zoom_margin_s >= 0:
            raise InvalidField("zoom_margin_s", f"must be >= 0 seconds, got {self.zoom_margin_s}")
        if self.batch_size < 1:
            raise InvalidField("batch_size", f"must be >= 1, got {self.batch_size}")
        if self.limit is not None and self.limit < 1:
            raise InvalidField("limit", f"must be >= 1 or null (all samples), got {self.limit}")


@dataclass
class RunConfig:
    """The whole pipeline (see :mod:`stvg.experiments.run`).

    Attributes:
        name: name of the run folder (``out_dir/name``; ``-2``, ``-3`` when taken).
        out_dir: where run folders go.
        seed: seeds SFT and RL.
        policy, data, eval: see their classes.
        env: the env of every stage (:class:`~stvg.envs.config.EnvConfig`; ``id``, default
            ``stvg/Grounding-v0``, picks the env, e.g. ``stvg/Tracking-v0``; ``fps``,
            ``max_frames`` (default 10), ``max_side`` (default 64); ``verifier`` is the RL
            reward, its answer format and densify rule score the evaluations too). Its
            dataset is the generated synthetic data.
        sft: the SFT stage (:class:`~stvg.training.sft.native.SFTConfig` for ``native``,
            :class:`~stvg.training.sft.vlm.VLMSFTConfig` for ``vlm``; ``None`` for a
            policy without SFT).
        rl: the RL stage (:class:`~stvg.training.config.TrainConfig`).
        synthesis: the CoT synthesis stage (:class:`~stvg.synthesis.config.SynthesisConfig`,
            ``policy: vlm`` only), or ``None``.
        progress: show each long stage's progress on stderr (:mod:`stvg.progress`: one bar
            per stage on a terminal, a line every 30 s elsewhere); ``false`` (``stvg run
            --no-progress``): none. It never changes a result or a stage's key.
    """

    name: str = "quickstart"
    out_dir: str = "runs"
    seed: int = 0
    policy: PolicySection = field(default_factory=PolicySection)
    data: DataSection = field(default_factory=DataSection)
    env: EnvConfig = field(default_factory=_run_env)
    eval: EvalSection = field(default_factory=EvalSection)
    sft: SFTConfig | VLMSFTConfig | None = None
    rl: TrainConfig = field(default_factory=TrainConfig)
    synthesis: SynthesisConfig | None = None
    progress: bool = True

    @classmethod
    def __config_prepare__(
        cls, data: Mapping[str, Any], path: str, source: str | None
    ) -> dict[str, Any]:
        """Build the stage configs from the YAML's ``sft``, ``rl`` and ``synthesis``
        sections and what this config's other sections decide for them (see the module
        docstring); a key the pipeline sets is an error naming it."""
        data = dict(data)
        prefix = f"{path}." if path else ""

        def section(name: str) -> Any:
            return field_value(cls, name, data, path=path, source=source)

        seed, policy, run_data, env = (section(k) for k in ("seed", "policy", "data", "env"))
        data.update(seed=seed, policy=policy, data=run_data, env=env)
        if data.get("synthesis") is not None and policy.name != "vlm":
            raise ConfigError(
                f"config key {prefix}synthesis: a synthesis stage writes text targets: it "
                "needs policy vlm"
            )
        stage_env = stage_env_of(env, run_data)
        treatment = pipeline_policy(policy.name)
        raw_sft = data.get("sft") or {}
        if treatment.sft:
            kind = sft_kind(policy.name)
            refuse_set_keys(kind.config_class, raw_sft, RUNNER, f"{prefix}sft", source)
            owned = _sft_owned(kind.config_class, policy, run_data, stage_env, seed)
            data["sft"] = from_dict(
                kind.config_class, {**raw_sft, **owned}, path=f"{prefix}sft", source=source
            )
        elif raw_sft:
            raise ConfigError(
                f"config key {prefix}sft: policy {policy.name} has no supervised fine-tuning "
                "(RL starts from its fresh weights): remove the sft section"
            )
        raw_rl = data.get("rl") or {}
        refuse_set_keys(TrainConfig, raw_rl, RUNNER, f"{prefix}rl", source)
        rl_env = replace(stage_env, split="train", action_format=treatment.action_format)
        rl = from_dict(
            TrainConfig,
            {**raw_rl, "env": rl_env, "policy": PolicySpec(policy.name, dict(policy.config))},
            path=f"{prefix}rl",
            source=source,
        )
        data["rl"] = replace(rl, seed=seed, name=f"{env_short(env)}__{rl.algorithm}__seed{seed}")
        if data.get("synthesis") is not None:
            refuse_set_keys(
                SynthesisConfig, data["synthesis"], RUNNER, f"{prefix}synthesis", source
            )
        return data

    def __post_init__(self) -> None:
        if not self.name or re.search(r"[/\\]", self.name) or self.name in (".", ".."):
            raise InvalidField(
                "name",
                f"{self.name!r} is not a folder name (the run folder is out_dir/name): no "
                "'/', '\\', '.' or '..'",
            )
        if self.synthesis is not None and self.policy.name != "vlm":
            raise InvalidField(
                "synthesis", "a synthesis stage writes text targets: it needs policy vlm"
            )
        if self.policy.name == "vlm" and self.data.val_size:
            raise InvalidField(
                "data.val_size",
                "validation early stopping is implemented for the native policy's SFT; "
                "set it to 0 for policy vlm",
            )
        if self.eval.zoom_rules and self.env.kind != "zoom":
            raise InvalidField(
                "eval.zoom_rules",
                f"scripted zoom rules evaluate on a glance-and-zoom env, but env.id is "
                f"{self.env.id}: set env.id: stvg/ZoomGrounding-v0 or remove eval.zoom_rules",
            )
        if self.policy.name == "native" and self.env.max_frames is None and self.env.kind != "zoom":
            raise InvalidField(
                "env.max_frames",
                "the native policy has a fixed number of frame slots: set it (10 fits the "
                "10 s synthetic videos at 1 fps)",
            )
        if self.env.dataset != "synthetic" or self.env.root is not None or self.env.split:
            raise InvalidField(
                "env.dataset",
                "the pipeline generates its data (the data section): remove env.dataset, "
                "env.root and env.split",
            )

    def user_dict(self) -> dict[str, Any]:
        """The config as its YAML (``config.yaml`` of a run folder): every section, the
        stage sections without the keys the pipeline sets."""
        out = to_dict(self)
        for name in ("sft", "rl", "synthesis"):
            stage = getattr(self, name)
            if stage is not None:
                for key in set_keys(type(stage), RUNNER):
                    out[name].pop(key, None)
        return out


def stage_env_of(env: EnvConfig, data: DataSection) -> EnvConfig:
    """The run's env on its generated data (no split: each stage picks its own)."""
    return replace(env, dataset="synthetic", root=data.resolved_root())


def env_short(env: EnvConfig) -> str:
    """The env id without its ``stvg/`` namespace (``Grounding-v0``), for run names."""
    return env.id.split("/", 1)[-1].replace("/", "-")


def _sft_owned(
    config_class: type, policy: PolicySection, data: DataSection, env: EnvConfig, seed: int
) -> dict[str, Any]:
    """The keys of the SFT config the pipeline sets when it reads the config."""
    splits = {
        "train_split": "train",
        "eval_split": None,
        "generate": True,
        "n_train": data.n_train,
        "n_eval": data.n_test,
        "difficulty": data.difficulty,
        "seed": data.seed,
    }
    if config_class is VLMSFTConfig:
        return {
            "policy": from_dict(VLMPolicySpec, {"config": dict(policy.config)}, path="policy"),
            "env": env,
            "data": VLMSFTDataConfig(**splits),
            "seed": seed,
        }
    return {"env": env, "data": SFTDataConfig(**splits, val_size=data.val_size), "seed": seed}


def load_run_config(path: str | Path, overrides: dict[str, Any] | None = None) -> RunConfig:
    """Read and validate a :class:`RunConfig` YAML file with dotted ``overrides`` (errors
    name the key path and the file)."""
    return from_yaml(RunConfig, path, overrides=overrides)


__all__ = [
    "NATIVE_KEYS_FROM_SFT",
    "RUNNER",
    "DataSection",
    "EvalSection",
    "PolicySection",
    "RunConfig",
    "env_short",
    "load_run_config",
    "stage_env_of",
]
