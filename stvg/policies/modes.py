"""A policy's training and evaluation modes, for the policies made of torch modules."""

from __future__ import annotations

from typing import Any


def torch_modules(policy: Any) -> list[Any]:
    """The ``torch.nn.Module`` s a policy is made of: the policy itself when it is one, else
    its attributes that are modules (``model`` of the native and VLM policies, ``net`` of
    ``tracking-mlp``)."""
    from torch import nn

    if isinstance(policy, nn.Module):
        return [policy]
    return [value for value in vars(policy).values() if isinstance(value, nn.Module)]


def set_train_mode(policy: Any, mode: bool = True) -> None:
    """``train(mode)`` on the policy's torch modules, batch-norm layers excepted: they stay
    in eval mode (running statistics), since in training mode their output depends on the
    batch, unlike the sampler's.

    A policy without ``train`` (the baselines) is left as it is.
    """
    from torch import nn

    if hasattr(policy, "train"):
        policy.train(mode)
    for root in torch_modules(policy):
        for module in root.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.eval()


__all__ = ["set_train_mode", "torch_modules"]
