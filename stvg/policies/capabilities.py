"""What a policy can do, declared by the protocols of :mod:`stvg.policies.base`, and the
check a trainer runs once, when it is built.

========================  =====================================================  ==========
capability                protocol                                               needed by
========================  =====================================================  ==========
act                       :class:`~stvg.policies.base.Policy`                    evaluation
sample with log-probs     :class:`~stvg.policies.base.TrainablePolicy`           every RL
score log-probs           (``log_prob``: part of ``TrainablePolicy``)            trainer
value head                :class:`~stvg.policies.base.ValueHead` or              PPO
                          :class:`~stvg.policies.base.ActionEvaluator`
generate text             :class:`~stvg.policies.base.TextGenerator`             VLM paths
export                    :class:`~stvg.policies.base.HFExportable` (``hf/``),    checkpoints
                          :class:`~stvg.policies.base.Checkpointable`
                          (``policy.pt``)
========================  =====================================================  ==========
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from stvg.config import ConfigError
from stvg.policies.base import ActionEvaluator, Policy, TrainablePolicy, ValueHead


class MissingCapability(ConfigError):
    """A policy lacks what a trainer or a stage needs (a config naming the wrong policy
    for its algorithm); the message names both."""


def _missing(policy: Any, protocol: type) -> list[str]:
    """The members of ``protocol`` that ``policy`` lacks."""
    attrs = getattr(protocol, "__protocol_attrs__", None)
    if attrs is None:  # Python < 3.12
        from typing import _get_protocol_attrs  # type: ignore[attr-defined]

        attrs = _get_protocol_attrs(protocol)
    return sorted(n for n in attrs if not hasattr(policy, n))


def require(policy: Any, needs: Sequence[tuple[str, tuple[type, ...]]], *, who: str) -> None:
    """Raise :class:`MissingCapability` unless ``policy`` is an instance of one protocol of
    every ``(capability, protocols)`` pair of ``needs``.

    Args:
        policy: the policy (named in the message by its class).
        needs: the capabilities, each with the protocols that provide it.
        who: what needs them (``"algorithm ppo"``), for the message.
    """
    for capability, protocols in needs:
        if any(isinstance(policy, p) for p in protocols):
            continue
        missing = _missing(policy, protocols[0])
        raise MissingCapability(
            f"policy {type(policy).__name__} cannot {capability}, which {who} needs: it has "
            f"no {', '.join(missing) or protocols[0].__name__} "
            f"({' or '.join(p.__name__ for p in protocols)}, stvg.policies.base)"
        )


#: What every RL trainer of the shared loop needs.
TRAINABLE = (("sample actions with their log-probabilities", (TrainablePolicy,)),)
#: What an actor-critic algorithm needs besides.
CRITIC = (("give state values (a value head)", (ValueHead, ActionEvaluator)),)
#: What an evaluation needs.
ACTS = (("act", (Policy,)),)


__all__ = ["ACTS", "CRITIC", "TRAINABLE", "MissingCapability", "require"]
