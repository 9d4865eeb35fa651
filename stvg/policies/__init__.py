"""Policies: the protocols, the rollout record, the registry (``make("vlm", ...)``)."""

from stvg.policies.base import (
    ActorCriticPolicy,
    Observation,
    Policy,
    Rollouts,
    TextCompletion,
    TrainablePolicy,
)
from stvg.policies.registry import (
    BUILTIN_POLICIES,
    make,
    policy_class,
    register_policy,
    registered_policies,
    unregister_policy,
)

__all__ = [
    "BUILTIN_POLICIES",
    "ActorCriticPolicy",
    "Observation",
    "Policy",
    "Rollouts",
    "TextCompletion",
    "TrainablePolicy",
    "make",
    "policy_class",
    "register_policy",
    "registered_policies",
    "unregister_policy",
]
