"""How the learner holds and runs the policy it trains: dropout off without ``eval()``,
float32 master weights with bf16/fp16 autocast, and gradient checkpointing.

* **Dropout off, training mode on.** The ratio ``pi / pi_old`` is 1 at the start of an
  update only when the learner computes log-probabilities exactly as the sampler did, so
  dropout must be off. ``module.eval()`` would do it, but transformers gates gradient
  checkpointing on ``self.training`` too, so :func:`disable_dropout` zeroes every dropout
  probability instead (TRL's ``disable_dropout_in_model``, extended to the functional
  dropout rates transformers layers keep as float attributes and to the HF configs) and
  the learner stays in training mode.
* **Float32 master weights.** Adam's update of a weight near 1 at a learning rate of 1e-6
  is about 1e-6, far below bfloat16's spacing there (2^-7 = 0.0078): applied to bf16
  weights it rounds away. :func:`float32_master_weights` casts lower-precision parameters
  to float32 for training; forward passes run under :func:`autocast` in the dtype the
  policy was loaded in, and :func:`rollout_weights` casts the weights back to that dtype for
  the rollout workers (Micikevicius et al., 2018, "Mixed Precision Training").
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

import torch
from torch import nn

from stvg.policies.base import GradientCheckpointing, WrapsModel
from stvg.policies.modes import set_train_mode, torch_modules

#: Dtypes below float32 that the learner trains in float32 master weights.
LOW_PRECISION = {torch.bfloat16: "bf16", torch.float16: "fp16"}
AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def _is_dropout_rate(name: str, value: Any) -> bool:
    return "dropout" in name and isinstance(value, float) and not isinstance(value, bool)


def _configs(module: nn.Module) -> Iterator[Any]:
    """The Hugging Face configs reachable from a module's ``config`` (sub-configs too)."""
    seen: set[int] = set()
    stack = [getattr(m, "config", None) for m in module.modules()]
    while stack:
        config = stack.pop()
        if config is None or id(config) in seen or not hasattr(config, "to_dict"):
            continue
        seen.add(id(config))
        yield config
        stack.extend(v for v in vars(config).values() if hasattr(v, "to_dict"))


def disable_dropout(policy: Any) -> int:
    """Zero every dropout probability of a policy's modules; returns how many were > 0.

    Zeroed: ``p`` of every ``torch.nn.Dropout*`` module; float attributes whose name
    contains ``dropout`` on any module (the rates transformers attention layers pass to
    functional dropout, ``nn.GRU.dropout``, ``nn.MultiheadAttention.dropout``); and the same
    attributes of every Hugging Face config reachable from the modules (so that layers
    built later from the config have none either).
    """
    zeroed = 0
    for root in torch_modules(policy):
        for module in root.modules():
            if isinstance(module, nn.modules.dropout._DropoutNd):
                zeroed += module.p > 0
                module.p = 0.0
                continue
            for name, value in list(vars(module).items()):
                if _is_dropout_rate(name, value):
                    zeroed += value > 0
                    setattr(module, name, 0.0)
        for config in _configs(root):
            for name, value in list(vars(config).items()):
                if _is_dropout_rate(name, value):
                    zeroed += value > 0
                    setattr(config, name, 0.0)
    return int(zeroed)


def float32_master_weights(policy: Any) -> dict[str, torch.dtype]:
    """Cast the policy's bfloat16/float16 parameters to float32 in place, for training.

    Returns:
        the dtype of every ``state_dict`` entry *before* the cast: what the policy was
        loaded in, which the rollout workers still use (:func:`rollout_weights`).
    """
    loaded = {name: value.dtype for name, value in policy.state_dict().items()}
    with torch.no_grad():
        for param in policy.parameters():
            if param.dtype in LOW_PRECISION:
                param.data = param.data.float()
                if param.grad is not None:
                    param.grad = param.grad.float()
    return loaded


def loaded_precision(dtypes: Mapping[str, torch.dtype]) -> str:
    """``bf16``/``fp16`` when any weight was loaded in that dtype, else ``no``.

    >>> loaded_precision({"w": torch.bfloat16, "step": torch.int64})
    'bf16'
    """
    found = [LOW_PRECISION[d] for d in dtypes.values() if d in LOW_PRECISION]
    if "bf16" in found:
        return "bf16"
    return "fp16" if found else "no"


def rollout_weights(policy: Any, dtypes: Mapping[str, torch.dtype]) -> dict[str, torch.Tensor]:
    """A CPU copy of the policy's ``state_dict`` in the dtypes the workers hold
    (``dtypes``, from :func:`float32_master_weights`)."""
    return {
        name: value.detach().to(device="cpu", dtype=dtypes.get(name, value.dtype), copy=True)
        for name, value in policy.state_dict().items()
    }


def parameter_device(policy: Any) -> torch.device:
    """The device of the policy's first parameter (CPU when it has none)."""
    for param in policy.parameters():
        return param.device
    return torch.device("cpu")


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """``torch.autocast`` on ``device``'s type in ``precision`` (``bf16``/``fp16``), or a
    no-op for ``no``."""
    if precision == "no":
        return contextlib.nullcontext()
    if precision not in AUTOCAST_DTYPES:
        raise ValueError(f"unknown mixed precision {precision!r}; choose 'no', 'bf16' or 'fp16'")
    return torch.autocast(device_type=device.type, dtype=AUTOCAST_DTYPES[precision])


def enable_gradient_checkpointing(policy: Any) -> str:
    """Turn on gradient (activation) checkpointing; returns what was called.

    Uses the policy's own ``enable_gradient_checkpointing()`` when it has one, else its
    transformers ``.model``'s ``activation_checkpointing_enable`` (transformers >= 5.x;
    ``gradient_checkpointing_enable`` before) with ``use_reentrant=False``: non-reentrant
    checkpointing works with inputs that do not require grad and with ``torch.autocast``.
    transformers checkpoints only in training mode, which the learner keeps.

    Raises:
        ValueError: the policy offers none of these.
    """
    if isinstance(policy, GradientCheckpointing):
        policy.enable_gradient_checkpointing()
        return f"{type(policy).__name__}.enable_gradient_checkpointing()"
    model = policy.model if isinstance(policy, WrapsModel) else None
    for method, keyword in (
        ("activation_checkpointing_enable", "activation_checkpointing_kwargs"),
        ("gradient_checkpointing_enable", "gradient_checkpointing_kwargs"),
    ):
        enable = getattr(model, method, None)
        if callable(enable):
            enable(**{keyword: {"use_reentrant": False}})
            return f"{type(model).__name__}.{method}(use_reentrant=False)"
    raise ValueError(
        f"gradient_checkpointing: true, but {type(policy).__name__} has no "
        "enable_gradient_checkpointing() and no transformers .model with "
        "activation_checkpointing_enable()/gradient_checkpointing_enable(): set "
        "gradient_checkpointing: false for this policy"
    )


__all__ = [
    "autocast",
    "disable_dropout",
    "enable_gradient_checkpointing",
    "float32_master_weights",
    "loaded_precision",
    "parameter_device",
    "rollout_weights",
    "set_train_mode",
    "torch_modules",
]
