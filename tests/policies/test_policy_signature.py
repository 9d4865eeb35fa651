"""Every built-in policy has the one :class:`~stvg.policies.base.Policy` signature:
``act(obs, info=None)`` and ``act_batch(obs_list, infos=None)``."""

from __future__ import annotations

import inspect

import pytest

from stvg.policies import base
from stvg.policies.registry import BUILTIN_POLICIES, policy_class


def _params(method) -> list[tuple[str, object]]:
    sig = inspect.signature(method)
    return [(p.name, p.default) for p in sig.parameters.values() if p.name != "self"]


EMPTY = inspect.Parameter.empty


def test_the_protocol_itself() -> None:
    assert _params(base.Policy.act) == [("obs", EMPTY), ("info", None)]
    assert _params(base.Policy.act_batch) == [("obs_list", EMPTY), ("infos", None)]


@pytest.mark.parametrize("name", sorted(BUILTIN_POLICIES))
def test_builtin_policy_has_the_protocol_signature(name: str) -> None:
    cls = policy_class(name)
    assert _params(cls.act) == [("obs", EMPTY), ("info", None)], name
    assert _params(cls.act_batch) == [("obs_list", EMPTY), ("infos", None)], name
