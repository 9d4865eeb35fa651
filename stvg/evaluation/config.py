"""Typed config of a policy evaluation (``stvg evaluate --policy CONFIG``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from stvg.config import InvalidField, from_yaml, set_by
from stvg.envs.config import EnvConfig, as_env_config
from stvg.policies.spec import PolicySpec

#: Env keys the command line's ``--dataset``, ``--split``, ``--root`` and ``--fps`` set.
CLI_ENV_KEYS = ("dataset", "split", "root", "fps")

Control = Literal["shuffled-video", "blank-video"]


@dataclass
class PolicyEvalConfig:
    """What ``stvg evaluate --policy`` runs::

        policy: {name: native, config: {checkpoint: runs/sft_native/policy.pt}}
        env: {max_frames: 16, max_side: 224}     # any env key (and id); optional
        batch_size: 16
        limit: null                              # first n samples only
        on_bad_video: error                      # or skip: score the others, list the bad ones

    Attributes:
        policy: the policy.
        env: the env (:class:`~stvg.envs.config.EnvConfig`: ``id``, default
            ``stvg/Grounding-v0``, ``max_frames``, ``max_side``, ``densify``, ``verifier``,
            ``answer_format``, ...); ``dataset``, ``split``, ``root`` and ``fps`` given on
            the command line replace the ones here, and ``action_format`` comes from the
            policy. Its verifier and densify settings score the predictions.
        batch_size: observations answered per ``act_batch`` call.
        limit: evaluate only the first ``limit`` samples (``None`` = all; bad videos
            among them are skipped, not replaced).
        on_bad_video: a sample whose video cannot be decoded stops the evaluation
            (``error``, default; partial results are written) or is left out and listed
            (``skip``); see :mod:`stvg.evaluation.evaluate`.
        progress: show the stage's progress (:mod:`stvg.progress`: a bar on a terminal,
            a line every 30 s elsewhere).
        control: a visual-reliance control (:mod:`stvg.envs.controls`): the policy sees
            another sample's frames (``shuffled-video``) or black frames (``blank-video``)
            while the query, timestamps and ground truth stay the sample's own; ``None``
            shows the real frames.
        control_seed: seed of the ``shuffled-video`` donor permutation (the same seed gives
            every sample the same donor).
    """

    policy: PolicySpec = set_by("stvg run", default_factory=PolicySpec)
    env: EnvConfig = set_by("stvg run", default_factory=EnvConfig)
    batch_size: int = 8
    limit: int | None = None
    on_bad_video: Literal["error", "skip"] = "error"
    progress: bool = set_by("stvg run", True)
    control: Control | None = None
    control_seed: int = 0

    def __post_init__(self) -> None:
        self.env = as_env_config(self.env)  # a mapping given in code is validated here
        if self.batch_size < 1:
            raise InvalidField("batch_size", f"must be >= 1, got {self.batch_size}")
        if self.limit is not None and self.limit < 1:
            raise InvalidField("limit", f"must be >= 1 or null (all samples), got {self.limit}")
        if self.env.action_format is not None:
            raise InvalidField(
                "env.action_format",
                "is set by the policy (struct or text); remove it from env",
            )
        if self.env.on_bad_video != "error":
            raise InvalidField(
                "env.on_bad_video",
                "an evaluation never replaces a sample by another: set on_bad_video at the "
                "top level of the config (error or skip) and remove it from env",
            )


def load_policy_eval_config(
    path: str | Path, overrides: Mapping[str, Any] | None = None
) -> PolicyEvalConfig:
    """Read and validate a :class:`PolicyEvalConfig` YAML file with dotted ``overrides``
    (errors name the key path)."""
    return from_yaml(PolicyEvalConfig, path, overrides=overrides)


def with_cli_overrides(config: PolicyEvalConfig, **overrides: Any) -> PolicyEvalConfig:
    """``config`` with the command line's ``dataset``, ``split``, ``root`` and ``fps``
    (those given, not ``...``) put into ``env``; ``fps=None`` means every native frame."""
    given = {k: overrides[k] for k in CLI_ENV_KEYS if k in overrides and overrides[k] is not ...}
    return replace(config, env=replace(config.env, **given))


__all__ = [
    "CLI_ENV_KEYS",
    "Control",
    "PolicyEvalConfig",
    "PolicySpec",
    "load_policy_eval_config",
    "with_cli_overrides",
]
