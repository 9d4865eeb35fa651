"""The declarations of stvg.config: section defaults, deprecated spellings and the keys a
runner sets (hand-built dataclasses, exact messages)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import ClassVar

import pytest

from stvg.config import ConfigError, DeprecatedKey, from_dict, refuse_set_keys, set_by, set_keys


@dataclass
class Inner:
    a: int = 1
    b: int = 2


@dataclass
class Outer:
    CONFIG_ALIASES: ClassVar[dict[str, str]] = {"old_a": "inner.a", "flat": ""}

    inner: Inner = field(default_factory=lambda: Inner(b=20))
    seed: int = set_by("the runner", 0)
    c: int = 3


def test_a_section_given_in_part_keeps_its_field_default() -> None:
    assert from_dict(Outer, {"inner": {"a": 5}}).inner == Inner(a=5, b=20)
    assert from_dict(Outer, {}).inner == Inner(a=1, b=20)
    assert from_dict(Outer, {"inner": {"b": 7}}).inner == Inner(a=1, b=7)


def test_an_old_spelling_is_read_at_its_new_place_with_one_warning() -> None:
    with pytest.warns(
        DeprecatedKey, match=r"config key x.old_a is deprecated: write it as x.inner.a"
    ):
        config = from_dict(Outer, {"old_a": 9}, path="x")
    assert config.inner == Inner(a=9, b=20)
    with pytest.warns(DeprecatedKey, match="write its keys directly under x"):
        assert from_dict(Outer, {"flat": {"c": 4}}, path="x").c == 4
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        from_dict(Outer, {"inner": {"a": 9}})  # today's spelling: no warning
    with pytest.raises(ConfigError, match="old_a: is the old spelling of inner.a, which is given"):
        from_dict(Outer, {"old_a": 9, "inner": {"a": 8}})


def test_keys_a_runner_sets_are_declared_on_the_field() -> None:
    assert set_keys(Outer, "the runner") == ["seed"]
    assert from_dict(Outer, {"seed": 4}).seed == 4  # standalone, a plain key
    with pytest.raises(ConfigError, match=r"config key run.seed: is set by the runner"):
        refuse_set_keys(Outer, {"seed": 4, "c": 1}, "the runner", "run", None)
    refuse_set_keys(Outer, {"c": 1}, "the runner", "run", None)  # nothing refused


def test_a_mapping_for_a_section_or_a_string_reports_the_sections_own_error() -> None:
    @dataclass
    class Holder:
        section: Inner | str | None = None

    with pytest.raises(ConfigError, match="unknown config key section.z"):
        from_dict(Holder, {"section": {"z": 1}})
    assert from_dict(Holder, {"section": "a/path.yaml"}).section == "a/path.yaml"
