"""How the learner holds the policy: dropout zeroed in training mode, gradient
checkpointing, float32 master weights with bf16 autocast, the policy's default learning
rate and Dr. GRPO's constant normaliser."""

from __future__ import annotations

import copy
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch
from rl_helpers import (
    build,
    first_minibatch,
    grounding_config,
    parameters,
)

from stvg.policies.registry import register_policy, unregister_policy
from stvg.policies.tracking import TrackingMLPPolicy
from stvg.training.algorithms import grpo_loss
from stvg.training.learner import (
    autocast,
    disable_dropout,
    enable_gradient_checkpointing,
    float32_master_weights,
    rollout_weights,
    set_train_mode,
)
from stvg.training.loop import Trainer, completion_budget
from stvg.training.run_dir import read_metrics


class HFPolicy:
    """The torch plumbing of a policy around a transformers model (as ``VLMPolicy``)."""

    def __init__(self, model: torch.nn.Module) -> None:
        self.model = model

    def parameters(self) -> Any:
        return self.model.parameters()

    def state_dict(self) -> dict[str, Any]:
        return self.model.state_dict()

    def train(self, mode: bool = True) -> HFPolicy:
        self.model.train(mode)
        return self

    def eval(self) -> HFPolicy:
        return self.train(False)


def tiny_qwen2(attention_dropout: float = 0.5) -> torch.nn.Module:
    """A 2-layer Qwen2 language model with attention dropout (eager attention)."""
    from transformers import Qwen2Config, Qwen2ForCausalLM

    config = Qwen2Config(
        vocab_size=64,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=64,
        attention_dropout=attention_dropout,
    )
    config._attn_implementation = "eager"
    torch.manual_seed(0)
    return Qwen2ForCausalLM(config)


TOKENS = torch.tensor([[1, 5, 9, 3, 7, 2, 8, 4]])


def _logits(model: torch.nn.Module) -> torch.Tensor:
    torch.manual_seed(1)
    with torch.no_grad():
        return model(input_ids=TOKENS, use_cache=False).logits


# ---------------------------------------------------------------- dropout
def test_dropout_zeroed_on_a_transformers_model_in_train_mode() -> None:
    model = tiny_qwen2(attention_dropout=0.5)
    model.train()
    assert not torch.equal(_logits(model), _logits(model.eval()))  # dropout is live
    policy = HFPolicy(model)
    # the config's rate and the rate each of the 2 attention layers copied from it
    assert disable_dropout(policy) == 3
    assert model.config.attention_dropout == 0.0
    assert [layer.self_attn.attention_dropout for layer in model.model.layers] == [0.0, 0.0]
    set_train_mode(policy)
    assert model.training
    train_logits = _logits(model)
    assert torch.equal(train_logits, _logits(model.eval()))


def test_trainer_turns_dropout_off_and_keeps_train_mode(
    setup: tuple[Path, Path], tmp_path: Path
) -> None:
    root, checkpoint = setup
    config = grounding_config(root, checkpoint, tmp_path, grpo={"group_size": 3, "beta": 0.1})
    trainer = Trainer.create(build(config), tensorboard=False)
    try:
        dropouts = [
            m
            for policy in (trainer.policy, trainer.reference)
            for m in policy.model.modules()
            if isinstance(m, torch.nn.Dropout)
        ]
        assert len(dropouts) == 4  # 2 in the policy (p was 0.1 in the model config), 2 in the ref
        assert trainer.policy.config.model.dropout == pytest.approx(0.1)
        assert all(m.p == 0.0 for m in dropouts)
        assert trainer.policy.model.training
        mb = first_minibatch(trainer)
        train_logp = trainer.policy.log_prob(mb.observations, mb.rollouts)
        trainer.policy.eval()
        assert torch.equal(train_logp, trainer.policy.log_prob(mb.observations, mb.rollouts))
    finally:
        trainer.close()


# ---------------------------------------------------------------- gradient checkpointing
def _forward_backward(model: torch.nn.Module) -> tuple[int, list[torch.Tensor]]:
    """Calls into layer 0's MLP during one forward + backward, and the gradients.

    (A pre-hook: torch stops a recomputation as soon as it has the tensors the backward
    pass needs, before the MLP's forward returns.)
    """
    calls = []
    hook = model.model.layers[0].mlp.register_forward_pre_hook(lambda *_: calls.append(1))
    model.zero_grad()
    model(input_ids=TOKENS, use_cache=False).logits.sum().backward()
    hook.remove()
    return len(calls), [p.grad.clone() for p in model.parameters()]


def test_gradient_checkpointing_recomputes_in_train_mode_only() -> None:
    plain = tiny_qwen2(attention_dropout=0.0)
    policy = HFPolicy(copy.deepcopy(plain))
    called = enable_gradient_checkpointing(policy)
    assert called == "Qwen2ForCausalLM.activation_checkpointing_enable(use_reentrant=False)"
    assert policy.model.is_activation_checkpointing
    set_train_mode(policy)
    plain.train()
    calls, grads = _forward_backward(policy.model)
    assert calls == 2  # forward, then recomputed in the backward pass
    plain_calls, plain_grads = _forward_backward(plain)
    assert plain_calls == 1
    for grad, expected in zip(grads, plain_grads, strict=True):
        torch.testing.assert_close(grad, expected, rtol=0, atol=1e-7)
    # what eval() did before: transformers skips checkpointing outside training mode
    assert _forward_backward(policy.model.eval())[0] == 1


def test_gradient_checkpointing_prefers_the_policy_hook_and_explains_a_refusal() -> None:
    class Hooked(HFPolicy):
        enabled = False

        def enable_gradient_checkpointing(self) -> None:
            self.enabled = True

    policy = Hooked(tiny_qwen2())
    assert enable_gradient_checkpointing(policy) == "Hooked.enable_gradient_checkpointing()"
    assert policy.enabled and not policy.model.is_activation_checkpointing
    with pytest.raises(ValueError, match="set gradient_checkpointing: false"):
        enable_gradient_checkpointing(SimpleNamespace(model=torch.nn.Linear(2, 2)))


# ---------------------------------------------------------------- fp32 master weights
def test_lr_1e6_updates_survive_in_fp32_master_weights_but_not_in_bf16() -> None:
    # loss = w * 0.5 with w = 1: grad 0.5, and Adam's first steps move w by
    # lr * g / (|g| + eps) = 1e-6 * 0.5 / (0.5 + 1e-5) = 9.99980e-7 each
    step = 1e-6 * 0.5 / (0.5 + 1e-5)

    def train(module: torch.nn.Module, precision: str, steps: int) -> None:
        optimizer = torch.optim.Adam(module.parameters(), lr=1e-6, eps=1e-5)
        for _ in range(steps):
            optimizer.zero_grad()
            x = torch.full((1, 1), 0.5, dtype=module.weight.dtype)
            with autocast(torch.device("cpu"), precision):
                loss = module(x).sum()
            loss.float().backward()
            optimizer.step()

    def bf16_linear() -> torch.nn.Linear:
        layer = torch.nn.Linear(1, 1, bias=False)
        torch.nn.init.ones_(layer.weight)
        return layer.to(torch.bfloat16)

    pure = bf16_linear()
    train(pure, "no", 100)
    # bf16 has 8 bits of mantissa: the spacing just below 1 is 2^-8 = 0.0039, so
    # 1 - 1e-6 rounds back to 1 at every step
    assert pure.weight.dtype == torch.bfloat16
    assert float(pure.weight.detach()) == 1.0

    policy = HFPolicy(bf16_linear())
    loaded = float32_master_weights(policy)
    assert loaded == {"weight": torch.bfloat16}
    assert policy.model.weight.dtype == torch.float32
    train(policy.model, "bf16", 1)
    assert float(policy.model.weight.detach()) == pytest.approx(1.0 - step, abs=6e-8)  # 0.999999
    train(policy.model, "bf16", 99)
    # 0.9999, up to float32 rounding (spacing 6e-8 near 1, up to half of it per step)
    assert float(policy.model.weight.detach()) == pytest.approx(1.0 - 100 * step, abs=3e-6)
    # the workers get bf16 weights: the master's 0.9999 is still 1.0 in bf16
    sent = rollout_weights(policy, loaded)
    assert sent["weight"].dtype == torch.bfloat16 and float(sent["weight"]) == 1.0


class BF16TrackingMLP(TrackingMLPPolicy):
    """``tracking-mlp`` loaded in bfloat16 with a VLM's learning rate, as a VLM on a GPU:
    its inputs follow its weights' dtype, its outputs are float32."""

    default_learning_rate = 1e-6

    def __init__(self, **config: Any) -> None:
        super().__init__(**config)
        self.net.to(torch.bfloat16)
        self.log_std.data = self.log_std.data.to(torch.bfloat16)
        self.torso_dtypes: list[torch.dtype] = []
        self.net["torso"][0].register_forward_hook(
            lambda _m, _i, out: self.torso_dtypes.append(out.dtype)
        )

    def _heads(self, obs_batch: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        weight = self.net["present"].weight
        x = torch.as_tensor(np.stack([np.asarray(o, dtype=np.float32) for o in obs_batch]))
        h = self.net["torso"](x.to(weight.dtype))
        return (
            self.net["present"](h).float(),
            torch.sigmoid(self.net["box"](h).float()),
            self.net["value"](h).squeeze(-1).float(),
        )


@pytest.fixture
def bf16_policy() -> Any:
    register_policy("tracking-mlp-bf16", BF16TrackingMLP)
    yield "tracking-mlp-bf16"
    unregister_policy("tracking-mlp-bf16")


def tracking_config(out: Path, policy: str, **overrides: Any) -> dict[str, Any]:
    config = {
        "algorithm": "ppo",
        "seed": 1,
        "out_dir": str(out),
        "iterations": 2,
        "batch_size": 2,
        "num_minibatches": 2,
        "progress_bar": False,
        "torch_threads": 1,
        "env": {
            "id": "stvg/SyntheticTrackingFlat-v0",
            "max_side": 32,
            "reward_mode": "dense",
            "flat_observation": {"frame_size": 8},
            "max_episode_steps": 4,
        },
        "policy": {"name": policy, "config": {"hidden": [16]}},
        "rollout": {"num_workers": 0, "task_size": 1},
    }
    return {**config, **overrides}


def test_trainer_keeps_fp32_masters_autocasts_bf16_and_sends_bf16_weights(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bf16_policy: str
) -> None:
    monkeypatch.setenv("STVG_CACHE", str(tmp_path / "cache"))
    trainer = Trainer.create(build(tracking_config(tmp_path, bf16_policy)), tensorboard=False)
    try:
        policy, worker = trainer.policy, trainer.workers.worker.policy
        assert trainer.precision == "bf16"  # mixed_precision: auto, from the loaded dtype
        assert {p.dtype for p in policy.parameters()} == {torch.float32}
        assert {p.dtype for p in worker.parameters()} == {torch.bfloat16}
        before = parameters(policy)
        trainer.step()
        after_one = parameters(policy)
        trainer.step()
        after = parameters(policy)
        # lr 1e-6 (the policy's default): every master weight moved, by about 2 x 1e-6
        moved = [float((after[k] - before[k]).abs().max()) for k in before]
        assert all(0 < m < 1e-5 for m in moved)
        assert policy.torso_dtypes and set(policy.torso_dtypes) == {torch.bfloat16}
        # iteration 2 was played with the masters of iteration 1 rounded to bf16
        for key, value in worker.state_dict().items():
            assert value.dtype == torch.bfloat16
            assert torch.equal(value, after_one[key].to(torch.bfloat16)), key
    finally:
        trainer.close()
    run = trainer.run_dir.path
    assert "learning_rate: 1.0e-06" in (run / "config.yaml").read_text(encoding="utf-8")
    assert [line["charts/learning_rate"] for line in read_metrics(run)] == [1e-6] * 2


def test_learning_rate_defaults_to_1e4_without_a_policy_default(
    setup: tuple[Path, Path], tmp_path: Path
) -> None:
    root, checkpoint = setup
    config = build(grounding_config(root, checkpoint, tmp_path, learning_rate=None, iterations=1))
    assert config.learning_rate is None
    trainer = Trainer.create(config, tensorboard=False)
    try:
        assert trainer.config.learning_rate == 1e-4
        assert trainer.precision == "no"  # a float32 policy: no autocast
        trainer.train()
    finally:
        trainer.close()
    assert "learning_rate: 0.0001" in (trainer.run_dir.path / "config.yaml").read_text()
    assert read_metrics(trainer.run_dir.path)[0]["charts/learning_rate"] == 1e-4


# ---------------------------------------------------------------- Dr. GRPO's normaliser
def test_dr_grpo_divides_by_max_new_tokens(setup: tuple[Path, Path], tmp_path: Path) -> None:
    # a TokenBudget policy (the VLM's max_new_tokens) declares it; others have none
    assert completion_budget(SimpleNamespace(max_new_tokens=8)) == 8
    assert completion_budget(SimpleNamespace(config=SimpleNamespace(max_new_tokens=8))) is None
    assert completion_budget(SimpleNamespace()) is None
    # answers: 3 tokens with A = +1, 1 token with A = -1, in 3 slots; at ratio 1 the
    # per-token loss is -A: sum = -3 + 1 = -2, over N * L = 2 x 8 (not 2 x 3 slots)
    logp = torch.zeros(2, 3)
    mask = torch.tensor([[True, True, True], [True, False, False]])
    adv = torch.tensor([1.0, -1.0])
    loss, _ = grpo_loss(logp, logp, adv, mask, loss_type="dr_grpo", token_slots=8)
    assert float(loss) == pytest.approx(-2.0 / 16.0)

    root, checkpoint = setup
    overrides = {"grpo": {"group_size": 2, "loss_type": "dr_grpo"}}
    trainer = Trainer.create(
        build(grounding_config(root, checkpoint, tmp_path, **overrides)), tensorboard=False
    )
    try:
        assert trainer.token_slots is None  # the native policy has no max_new_tokens
        mb = first_minibatch(trainer)
        assert mb.token_slots == mb.mask.shape[1] == 1
        trainer.token_slots = 8  # what a policy with max_new_tokens = 8 gets
        assert first_minibatch(trainer).token_slots == 8
    finally:
        trainer.close()
