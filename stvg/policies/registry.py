"""Policies by name: ``register_policy(name, target)`` and ``make(name, **cfg)``.

One way to register: :func:`register_policy` with a class or factory, or with a lazy
``"module:attribute"`` string that :func:`make` imports only when the policy is asked for
(so that naming a policy never imports torch or transformers). The built-in policies are
registered that way, from :data:`BUILTIN_POLICIES`; a policy of your own is registered the
same way (``register_policy("mine", "my_package.policy:MyPolicy")``, or as a decorator
``@register_policy("mine")`` on the class).

A registered target is a class or factory. When it has a ``config_class`` (a dataclass) and
a ``from_config`` classmethod, :func:`make` validates ``cfg`` with
:func:`stvg.config.from_dict` (unknown keys and wrong types name their key path) and calls
``from_config``; otherwise it calls ``target(**cfg)``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, TypeVar

from stvg.config import ConfigError, from_dict
from stvg.limits import short_repr

T = TypeVar("T")

#: Built-in policies registered lazily: name -> ``"module:attribute"``.
BUILTIN_POLICIES: dict[str, str] = {
    "vlm": "stvg.policies.vlm.policy:VLMPolicy",
    "random": "stvg.policies.baselines:RandomPolicy",
    "oracle": "stvg.policies.baselines:OraclePolicy",
    "prior": "stvg.policies.baselines:PriorPolicy",
    "native": "stvg.policies.native.policy:NativePolicy",
    "tracking-mlp": "stvg.policies.tracking:TrackingMLPPolicy",
    "zoom": "stvg.policies.zoom:ZoomController",
    "openai": "stvg.policies.served.policy:OpenAIPolicy",
}

_REGISTRY: dict[str, Callable[..., Any] | str] = {}


def register_policy(
    name: str, target: Callable[..., Any] | str | None = None, *, overwrite: bool = False
) -> Any:
    """Register a policy class/factory under ``name``.

    Use as a decorator (``@register_policy("random")``) or call with ``target`` (a callable
    or a lazy ``"module:attribute"`` string).

    Raises:
        ValueError: ``name`` is already registered to something else and ``overwrite`` is
            false.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"policy name must be a non-empty string, got {name!r}")

    def _register(obj: T) -> T:
        existing = _REGISTRY.get(name)
        if existing is not None and existing is not obj and not overwrite:
            same_lazy = isinstance(existing, str) and _describe(obj) == existing
            if not same_lazy:
                raise ValueError(
                    f"policy {name!r} is already registered to {_describe(existing)}; "
                    "pick another name or pass overwrite=True"
                )
        _REGISTRY[name] = obj  # type: ignore[assignment]
        return obj

    if target is None:
        return _register
    return _register(target)  # type: ignore[arg-type]


for _name, _target in BUILTIN_POLICIES.items():
    register_policy(_name, _target)


def unregister_policy(name: str) -> None:
    """Remove ``name`` from the registry (a no-op when it is not registered)."""
    _REGISTRY.pop(name, None)


def registered_policies() -> list[str]:
    """Sorted names of every registered policy."""
    return sorted(_REGISTRY)


def policy_class(name: str) -> Callable[..., Any]:
    """The class/factory registered as ``name`` (importing a lazy entry).

    A name of the form ``"module:attribute"`` that is not registered names a policy of your
    own: the module is imported (from the working directory or any installed package) and
    the attribute registered under that name, in every process that builds it (Ray rollout
    workers included), so a YAML ``policy: {name: "my_policy:MotionPolicy"}`` needs no
    registration code.

    Raises:
        ConfigError: an unknown name (a config's ``policy.name``; a ``ValueError``), or a
            ``module:attribute`` name whose module cannot be imported or lacks the attribute.
    """
    if name not in _REGISTRY and isinstance(name, str) and ":" in name:
        module_name, _, attr = name.partition(":")
        try:
            target = getattr(_import_user_module(module_name), attr)
        except ImportError as exc:
            raise ConfigError(
                f"policy {short_repr(name)}: cannot import module {module_name!r} ({exc}); "
                "run from the folder that holds it or install its package"
            ) from exc
        except AttributeError as exc:
            raise ConfigError(
                f"policy {short_repr(name)}: module {module_name!r} has no {attr!r}"
            ) from exc
        _REGISTRY[name] = target
        return target
    if name not in _REGISTRY:
        raise ConfigError(f"unknown policy {short_repr(name)}; registered: {registered_policies()}")
    target = _REGISTRY[name]
    if isinstance(target, str):
        module_name, _, attr = target.partition(":")
        target = getattr(importlib.import_module(module_name), attr)
        _REGISTRY[name] = target
    return target


def _import_user_module(module_name: str) -> Any:
    """Import ``module_name``; when it is not found, once more with the working directory
    on ``sys.path`` (a console script such as ``stvg`` does not put it there)."""
    import os
    import sys

    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        cwd = os.getcwd()
        if exc.name != module_name.split(".")[0] or cwd in sys.path:
            raise
        sys.path.append(cwd)
        return importlib.import_module(module_name)


def make(name: str, **cfg: Any) -> Any:
    """Build the policy ``name`` from keyword configuration ``cfg``.

    Raises:
        stvg.config.ConfigError: an unknown policy name (listing the registered ones), or
            ``cfg`` does not fit the policy's ``config_class`` (key path ``policy.<key>``).
    """
    target = policy_class(name)
    config_class = getattr(target, "config_class", None)
    from_config = getattr(target, "from_config", None)
    if config_class is not None and from_config is not None:
        return from_config(from_dict(config_class, cfg, path="policy"))
    return target(**cfg)


def _describe(obj: Any) -> str:
    if isinstance(obj, str):
        return obj
    module = getattr(obj, "__module__", "?")
    return f"{module}:{getattr(obj, '__qualname__', repr(obj))}"


__all__ = [
    "BUILTIN_POLICIES",
    "make",
    "policy_class",
    "register_policy",
    "registered_policies",
    "unregister_policy",
]
