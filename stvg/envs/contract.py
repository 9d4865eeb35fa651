"""Binding an env to a policy's answer contract (one place for the trainer, evaluator, SFT).

A text policy that declares ``answer_spec`` (a :class:`~stvg.verifiers.formats.ContractSpec`:
answer format, coordinates, sampling rate, the frame geometry of its processor) decides how
its answers must be read. :func:`bind_env_kwargs` fills the env keys the user left unset
from it; :func:`check_env_policy` refuses an env whose own spec differs, naming both values.
Policies without ``answer_spec`` (struct-action policies, baselines) bind to nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stvg.verifiers.formats import ContractSpec, check_agreement, env_overrides


def policy_answer_spec(policy: Any) -> ContractSpec | None:
    """The :class:`ContractSpec` a policy answers in, or ``None`` when it declares none."""
    spec = getattr(policy, "answer_spec", None)
    return spec if isinstance(spec, ContractSpec) else None


def bind_env_kwargs(policy_or_spec: Any, env_kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """``env_kwargs`` with ``answer_format``, ``coords``, ``fps`` and ``model_geometry``
    taken from the policy's spec where unset (unchanged for a policy without one)."""
    spec = (
        policy_or_spec
        if isinstance(policy_or_spec, ContractSpec)
        else policy_answer_spec(policy_or_spec)
    )
    if spec is None:
        return dict(env_kwargs)
    return env_overrides(spec, env_kwargs)


def check_env_policy(
    env: Any, policy_or_spec: Any, *, env_name: str = "env", policy_name: str = "policy"
) -> None:
    """Raise :class:`~stvg.verifiers.formats.ContractError` when ``env`` (a GroundingEnv,
    possibly wrapped) scores in another contract than the policy answers in."""
    spec = (
        policy_or_spec
        if isinstance(policy_or_spec, ContractSpec)
        else policy_answer_spec(policy_or_spec)
    )
    env_spec = getattr(getattr(env, "unwrapped", env), "answer_spec", None)
    if spec is None or env_spec is None:
        return
    check_agreement(env_spec, spec, env_name=env_name, policy_name=policy_name)


__all__ = ["bind_env_kwargs", "check_env_policy", "policy_answer_spec"]
