"""Policy protocols, the Rollouts record and the policy registry."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch

from stvg.config import ConfigError
from stvg.policies import (
    Policy,
    Rollouts,
    TextCompletion,
    TrainablePolicy,
    make,
    policy_class,
    register_policy,
    registered_policies,
    unregister_policy,
)


class EchoPolicy:
    """Answers every observation with its query."""

    def __init__(self, suffix: str = "") -> None:
        self.suffix = suffix

    def act(self, obs, info=None):
        return obs["query"] + self.suffix

    def act_batch(self, obs_list, infos=None):
        return [self.act(obs) for obs in obs_list]


@dataclass(frozen=True)
class ConstantConfig:
    answer: str
    repeat: int = 1


class ConstantPolicy:
    """A policy with a config class, built by ``make`` through ``from_config``."""

    config_class = ConstantConfig

    def __init__(self, config: ConstantConfig) -> None:
        self.config = config

    @classmethod
    def from_config(cls, config: ConstantConfig) -> ConstantPolicy:
        return cls(config)

    def act(self, obs, info=None):
        return self.config.answer * self.config.repeat

    def act_batch(self, obs_list, infos=None):
        return [self.act(obs) for obs in obs_list]


@pytest.fixture
def clean_registry():
    names = ["test-echo", "test-constant", "test-lazy"]
    yield names
    for name in names:
        unregister_policy(name)


def test_register_and_make(clean_registry):
    register_policy("test-echo")(EchoPolicy)
    policy = make("test-echo", suffix="!")
    assert isinstance(policy, Policy)
    assert policy.act_batch([{"query": "a"}, {"query": "b"}]) == ["a!", "b!"]
    assert "test-echo" in registered_policies()


def test_make_validates_a_config_class(clean_registry):
    register_policy("test-constant", ConstantPolicy)
    assert make("test-constant", answer="x", repeat=3).act({}) == "xxx"
    with pytest.raises(ConfigError, match=r"policy\.repeat.*expected an integer"):
        make("test-constant", answer="x", repeat="3")
    with pytest.raises(ConfigError, match=r"unknown config key policy\.answr"):
        make("test-constant", answr="x")


def test_duplicate_names_and_unknown_names(clean_registry):
    register_policy("test-echo", EchoPolicy)
    register_policy("test-echo", EchoPolicy)  # the same object again is fine
    with pytest.raises(ValueError, match="already registered"):
        register_policy("test-echo", ConstantPolicy)
    register_policy("test-echo", ConstantPolicy, overwrite=True)
    assert policy_class("test-echo") is ConstantPolicy
    with pytest.raises(ValueError, match=r"unknown policy 'nope'; registered: \[.*'vlm'"):
        make("nope")


def test_lazy_entries_import_on_first_use(clean_registry):
    register_policy("test-lazy", "stvg.policies.base:TextCompletion")
    assert policy_class("test-lazy") is TextCompletion
    assert make("test-lazy", text="hi", token_ids=(1, 2)).output_tokens == 2


def test_vlm_is_registered_lazily():
    assert "vlm" in registered_policies()
    from stvg.policies.vlm import VLMPolicy

    assert policy_class("vlm") is VLMPolicy


def test_text_completion():
    completion = TextCompletion(
        "<answer>x</answer>", (5, 6, 7), visual_tokens=72, prompt_tokens=900
    )
    assert completion.output_tokens == 3
    assert str(completion) == "<answer>x</answer>"


def test_rollouts_validate_shapes_and_group_size():
    actions = [TextCompletion("a", (1,)), TextCompletion("b", (2, 3))] * 2
    log_probs = torch.tensor([[-0.5, 0.0], [-0.1, -0.2], [-0.3, 0.0], [-1.0, -2.0]])
    mask = log_probs != 0
    rollouts = Rollouts(actions, [0, 0, 1, 1], log_probs, mask)
    assert len(rollouts) == 4 and rollouts.group_size == 2
    with pytest.raises(ValueError, match="one obs_index per action"):
        Rollouts(actions, [0, 0, 1], log_probs, mask)
    with pytest.raises(ValueError, match="log_probs has 3 rows for 4 actions"):
        Rollouts(actions, [0, 0, 1, 1], log_probs[:3], mask)
    with pytest.raises(ValueError, match="must equal mask.shape"):
        Rollouts(actions, [0, 0, 1, 1], log_probs, mask[:, :1])


def test_protocols_are_structural():
    assert isinstance(EchoPolicy(), Policy)
    assert not isinstance(EchoPolicy(), TrainablePolicy)
