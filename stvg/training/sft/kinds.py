"""Which supervised fine-tuning runs: chosen once, here, from the policy.

=========  ============================================  =================================
policy     config                                        trainer
=========  ============================================  =================================
``native`` :class:`~stvg.training.sft.native.SFTConfig`  :func:`~stvg.training.sft.native.
                                                         train_sft_native` (ground-truth
                                                         actions on cached frames)
``vlm``    :class:`~stvg.training.sft.vlm.VLMSFTConfig`  :func:`~stvg.training.sft.vlm.
                                                         train_sft_vlm` (target texts)
=========  ============================================  =================================

A YAML file with a top-level ``policy`` section is a ``vlm`` run (its ``policy.name``);
any other is a ``native`` run. ``stvg run`` picks the kind by ``policy.name``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stvg.config import ConfigError, apply_overrides, from_dict, load_yaml
from stvg.training.sft.common import SFTResult
from stvg.training.sft.native import SFTConfig, train_sft_native
from stvg.training.sft.vlm import VLMSFTConfig, train_sft_vlm


@dataclass(frozen=True)
class SFTKind:
    """One kind of SFT: its config class and its trainer."""

    config_class: type
    train: Callable[..., SFTResult]


#: SFT by policy name.
SFT_KINDS: dict[str, SFTKind] = {
    "native": SFTKind(SFTConfig, train_sft_native),
    "vlm": SFTKind(VLMSFTConfig, train_sft_vlm),
}


def sft_kind(policy_name: str) -> SFTKind:
    """The SFT of policy ``policy_name``.

    Raises:
        ConfigError: a policy without a supervised fine-tuning (naming the ones with one).
    """
    if policy_name not in SFT_KINDS:
        raise ConfigError(
            f"policy {policy_name!r} has no supervised fine-tuning; SFT exists for "
            f"{sorted(SFT_KINDS)}"
        )
    return SFT_KINDS[policy_name]


def policy_of_sft_file(data: Mapping[str, Any]) -> str:
    """The policy an SFT file trains: ``vlm`` with a top-level ``policy`` section (its
    ``name``), else ``native``."""
    policy = data.get("policy")
    if policy is None:
        return "native"
    name = policy.get("name", "vlm") if isinstance(policy, Mapping) else "vlm"
    return str(name)


def load_sft_config(
    path: str | Path, overrides: Mapping[str, Any] | None = None
) -> SFTConfig | VLMSFTConfig:
    """Read and validate an SFT YAML file (errors name the key path and the file); dotted
    ``overrides`` (``{"lr": 1e-5}``) are applied before validation."""
    data = apply_overrides(load_yaml(path), overrides)
    kind = sft_kind(policy_of_sft_file(data))
    return from_dict(kind.config_class, data, source=str(path))


def train_sft(
    config: SFTConfig | VLMSFTConfig, *, progress: bool = True, log: Any = print
) -> SFTResult:
    """Run the SFT of ``config``'s kind (see the module docstring).

    Args:
        config: an :class:`SFTConfig` or a :class:`VLMSFTConfig`.
        progress: show progress bars while decoding (native).
        log: called with one line of text per epoch and evaluation (``None`` = silent).
    """
    for kind in SFT_KINDS.values():
        if isinstance(config, kind.config_class):
            return kind.train(config, progress=progress, log=log)
    raise TypeError(f"train_sft needs an SFT config, got {type(config).__name__}")


__all__ = ["SFT_KINDS", "SFTKind", "load_sft_config", "policy_of_sft_file", "sft_kind", "train_sft"]
