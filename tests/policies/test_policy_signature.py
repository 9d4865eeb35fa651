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


GENERATE_BATCH = [("obs_list", EMPTY), ("ctxs", None), ("do_sample", None)]


def test_text_generators_share_one_generate_batch_signature() -> None:
    """``generate_batch(obs_list, ctxs=None, *, do_sample=None)``: callers ask for greedy or
    sampled answers by keyword, never by inspecting the policy."""
    assert _params(base.TextGenerator.generate_batch) == GENERATE_BATCH
    generators = [
        name
        for name in sorted(BUILTIN_POLICIES)
        if callable(getattr(policy_class(name), "generate_batch", None))
    ]
    assert "vlm" in generators
    for name in generators:
        method = policy_class(name).generate_batch
        assert _params(method) == GENERATE_BATCH, name
        kind = inspect.signature(method).parameters["do_sample"].kind
        assert kind is inspect.Parameter.KEYWORD_ONLY, name


def test_a_module_attribute_name_imports_a_policy_of_your_own(tmp_path, monkeypatch) -> None:
    """``policy.name: "module:Class"`` imports the module (from the working directory when
    it is not on the path) and builds the class; bad names say what is wrong."""
    import pytest

    from stvg.config import ConfigError
    from stvg.policies.registry import make, unregister_policy

    (tmp_path / "my_fixed_policy.py").write_text(
        "class Fixed:\n"
        "    def __init__(self, start=1.0):\n"
        "        self.start = start\n"
        "    def act(self, obs, info=None):\n"
        "        return self.start\n"
        "    def act_batch(self, obs_list, infos=None):\n"
        "        return [self.start for _ in obs_list]\n",
        encoding="utf-8",
    )
    import sys

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))  # the import adds the working directory
    try:
        policy = make("my_fixed_policy:Fixed", start=2.5)
        assert policy.act({}) == 2.5
        with pytest.raises(ConfigError, match="module 'my_fixed_policy' has no 'Nope'"):
            make("my_fixed_policy:Nope")
        with pytest.raises(ConfigError, match="cannot import module 'no_such_module_xyz'"):
            make("no_such_module_xyz:Policy")
    finally:
        unregister_policy("my_fixed_policy:Fixed")
