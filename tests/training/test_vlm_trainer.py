"""The learner's numerics on a tiny Qwen2.5-VL: a bf16-loaded model trained in float32
master weights under bf16 autocast, dropout zeroed in training mode, gradient checkpointing
on, micro-batches, the reference saved once, pruning and a Hugging Face export that
transformers loads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from rl_helpers import build, changed, first_minibatch, make_split, parameters, vlm_text_env

from stvg.training.loop import Trainer
from stvg.training.run_dir import list_checkpoints

try:
    from stvg.policies.vlm.tiny import build_qwen25_vl
except ImportError:  # pragma: no cover - the builder lived in tests/policies before
    build_qwen25_vl = None


def dropout_rates(model: torch.nn.Module) -> list[float]:
    """Every dropout rate of a model's modules (``p`` and ``*dropout*`` float attributes)."""
    rates = []
    for module in model.modules():
        if isinstance(module, torch.nn.modules.dropout._DropoutNd):
            rates.append(module.p)
        rates += [v for k, v in vars(module).items() if "dropout" in k and type(v) is float]
    return rates


@pytest.fixture(scope="module")
def tiny_vlm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if build_qwen25_vl is None:
        pytest.skip("stvg.policies.vlm.tiny is not available")
    path = build_qwen25_vl(tmp_path_factory.mktemp("vlm") / "qwen25")
    config_file = path / "config.json"
    config = json.loads(config_file.read_text(encoding="utf-8"))
    config["text_config"]["attention_dropout"] = 0.25  # a rate for the trainer to zero
    config_file.write_text(json.dumps(config), encoding="utf-8")
    return path


def vlm_config(root: Path, model: Path, out: Path) -> dict[str, Any]:
    return {
        "algorithm": "grpo",
        "seed": 0,
        "out_dir": str(out),
        "iterations": 2,
        "batch_size": 2,
        "micro_batch_size": 2,
        "gradient_checkpointing": True,
        "keep_last": 1,
        "progress_bar": False,
        "torch_threads": 2,
        "checkpoint_every": 1,
        "env": vlm_text_env(root),
        "policy": {
            "name": "vlm",
            "config": {
                "model_path": str(model),
                "max_new_tokens": 4,
                "device": "cpu",
                "dtype": "bfloat16",
                "seed": 0,
            },
        },
        "grpo": {"group_size": 2, "beta": 0.05, "loss_type": "dr_grpo"},
        "rollout": {"num_workers": 0, "task_size": 2},
    }


def test_tiny_vlm_trains_in_fp32_masters_with_dropout_off_and_checkpointing_on(
    tiny_vlm: Path, tmp_path: Path
) -> None:
    from transformers import AutoModelForImageTextToText

    root = make_split(tmp_path / "data", n=2)
    trainer = Trainer.create(build(vlm_config(root, tiny_vlm, tmp_path)), tensorboard=False)
    try:
        policy, model = trainer.policy, trainer.policy.model
        assert model.config.text_config.attention_dropout == 0.0
        assert set(dropout_rates(model)) == {0.0} and 0.25 not in dropout_rates(model)
        assert model.training and model.is_activation_checkpointing
        assert trainer.precision == "bf16"
        assert {p.dtype for p in policy.parameters()} == {torch.float32}
        assert {p.dtype for p in trainer.workers.worker.policy.parameters()} == {torch.bfloat16}
        assert {p.dtype for p in trainer.reference.parameters()} == {torch.bfloat16}
        assert trainer.token_slots == 4  # Dr. GRPO's L = max_new_tokens
        mb = first_minibatch(trainer)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            train_logp = policy.log_prob(mb.observations, mb.rollouts)  # checkpointed
            policy.eval()
            eval_logp = policy.log_prob(mb.observations, mb.rollouts)
            policy.train()
        assert torch.equal(train_logp, eval_logp)
        trainer.iteration = 0
        before = parameters(policy)
        result = trainer.train()
        assert changed(before, parameters(policy))
    finally:
        trainer.close()
    run = result.run_dir
    assert [p.name for p in list_checkpoints(run)] == ["iter_000002"]
    assert (run / "reference.pt").is_file()
    # The export holds the float32 master weights rounded to the dtype the policy was
    # loaded in (bf16), and says so in its config.
    exported = AutoModelForImageTextToText.from_pretrained(result.checkpoint / "hf", dtype="auto")
    weights = trainer.policy.state_dict()
    for key, value in exported.state_dict().items():
        assert value.dtype == torch.bfloat16, key
        assert torch.equal(value, weights[key].to(torch.bfloat16)), key
