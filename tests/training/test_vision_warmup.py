"""The VLM vision warm-up: its codes, targets and texts by hand, and both stages on a model."""

from __future__ import annotations

import numpy as np
import pytest

from stvg.data.synthetic.images import grounding_image
from stvg.training.vision_warmup import (
    BACKGROUND_LEVEL,
    CODE_DIMS,
    CODE_LAYOUT,
    VisionWarmupConfig,
    background_code,
    image_context,
    image_observation,
    image_target,
    object_code,
    tower_targets,
)
from stvg.verifiers.formats import ContractSpec, ModelGeometry

# grounding_image(0, seed=0): an orange circle (the target) and a second object
ORANGE_BOX = [6.5, 153.0625, 46.875, 193.4375]


def test_object_code_by_hand():
    code = object_code([0.5, 0.0, 1.0, 0.25], "blue", "square", "large", 64)
    assert code.shape == (64,) and code.dtype == np.float32
    # x1 = 0.5: sin(pi/2), sin(pi), sin(2 pi); cos of the same; 2 * 0.5 - 1
    assert code[0:7] == pytest.approx([1.0, 0.0, 0.0, 0.0, -1.0, 1.0, 0.0], abs=1e-6)
    # y1 = 0: sines 0, cosines 1, -1
    assert code[7:14] == pytest.approx([0, 0, 0, 1, 1, 1, -1], abs=1e-6)
    colour = slice(*CODE_LAYOUT["colour"])
    assert code[colour].tolist() == [0, 0, 1, 0, 0, 0]  # red, green, blue, ...
    assert code[slice(*CODE_LAYOUT["shape"])].tolist() == [0, 1, 0]  # circle, square, triangle
    assert code[slice(*CODE_LAYOUT["size"])].tolist() == [0, 1]  # small, large
    assert code[CODE_LAYOUT["object"][0]] == 1 and code[CODE_LAYOUT["background"][0]] == 0
    assert not code[CODE_DIMS:].any()
    bg = background_code(64)
    assert bg[CODE_LAYOUT["background"][0]] == BACKGROUND_LEVEL and bg.sum() == BACKGROUND_LEVEL
    with pytest.raises(ValueError, match=f"at least {CODE_DIMS} hidden units"):
        background_code(32)


def test_tower_targets_put_each_code_on_the_cell_of_its_centre():
    image = grounding_image(0, seed=0)
    assert image.box_xyxy.tolist() == ORANGE_BOX
    targets = tower_targets(image, (4, 4), 64)
    # the orange circle's centre (26.6875, 173.25) of 224 px: column 0, row 3 -> token 12
    expected = object_code(
        np.array(ORANGE_BOX) / 224, "orange", "circle", image.objects[0].size, 64
    )
    target_obj = next(o for o in image.objects if o.is_target)
    expected = object_code(np.array(ORANGE_BOX) / 224, "orange", "circle", target_obj.size, 64)
    assert np.array_equal(targets[12], expected)
    other = next(o for o in image.objects if not o.is_target)
    cx, cy = (
        (other.box_xyxy[0] + other.box_xyxy[2]) / 448,
        (other.box_xyxy[1] + other.box_xyxy[3]) / 448,
    )
    cell = int(cy * 4) * 4 + int(cx * 4)
    assert cell != 12 and targets[cell][CODE_LAYOUT["object"][0]] == 1
    background = [k for k in range(16) if k not in (12, cell)]
    assert all(np.array_equal(targets[k], background_code(64)) for k in background)


def test_the_grounding_target_is_the_contracts_rendering_of_the_box():
    image = grounding_image(0, seed=0)
    obs = image_observation(image, 128)
    assert obs["frames"].shape == (1, 128, 128, 3) and obs["query"] == "the orange circle"
    assert obs["timestamps"].tolist() == [0.0] and obs["shown_size"].tolist() == [128, 128]
    qwen3 = ContractSpec("json-v1", "norm1000", 1.0, ModelGeometry("qwen3-vl", min_pixels=32768))
    ctx = image_context(image, obs, qwen3)
    assert ctx.timestamps_s.tolist() == [0.0] and ctx.original_size == (224, 224)
    # norm1000 of the 224 px frame: 6.5 / 224 -> 29, 153.0625 / 224 -> 683, ...
    assert image_target(image, ctx, qwen3) == (
        '<answer>{"span": [0.0, 0.0], "boxes": {"0.0": [29, 683, 209, 864]}}</answer>'
    )
    qwen25 = ContractSpec("json-v1", "pixels", 1.0, ModelGeometry("qwen2.5-vl", min_pixels=16384))
    ctx = image_context(image, obs, qwen25)
    assert ctx.model_size == (140, 140)  # 128 px shown -> the processor's multiple of 28
    # pixels of the 140 px model frame: 6.5 * 140 / 224 = 4.06 -> 4, ...
    assert image_target(image, ctx, qwen25) == (
        '<answer>{"span": [0.0, 0.0], "boxes": {"0.0": [4, 96, 29, 121]}}</answer>'
    )


def test_config_refuses_bad_values():
    from stvg.config import ConfigError, from_dict

    with pytest.raises(ConfigError, match=r"warmup\.single_object_share.*must be in \[0, 1\]"):
        from_dict(VisionWarmupConfig, {"single_object_share": 1.5}, path="warmup")
    with pytest.raises(ConfigError, match=r"warmup\.batch_size.*must be >= 1"):
        from_dict(VisionWarmupConfig, {"batch_size": 0}, path="warmup")


@pytest.fixture(scope="module")
def small_policy(tmp_path_factory):
    from stvg.policies.vlm.config import VLMPolicyConfig
    from stvg.policies.vlm.policy import VLMPolicy
    from stvg.policies.vlm.tiny import SMALL, ModelSize, build_checkpoint

    size = ModelSize(
        **{
            **SMALL.__dict__,
            "text_hidden": 64,
            "text_layers": 1,
            "vision_depth": 2,
            "deepstack": (1,),
        }
    )
    path = build_checkpoint("qwen3-vl", tmp_path_factory.mktemp("warmup") / "m", size)
    return VLMPolicy.from_config(
        VLMPolicyConfig(model_path=str(path), device="cpu", min_pixels=32768, max_new_tokens=40)
    )


def test_both_stages_train_what_they_should(small_policy):
    import torch

    from stvg.training.vision_warmup import run_vision_warmup

    policy = small_policy
    tower = {n: p.detach().clone() for n, p in policy.vision_tower().named_parameters()}
    text = {
        n: p.detach().clone()
        for n, p in policy.model.named_parameters()
        if "visual" not in n and "embed_tokens" not in n
    }
    lines, records = [], []
    config = VisionWarmupConfig(
        tower_steps=2, grounding_steps=0, batch_size=2, eval_images=0, eval_every=1
    )
    run_vision_warmup(policy, config, 64, log=lines.append, record=records.append)
    after_tower = {n: p.detach().clone() for n, p in policy.vision_tower().named_parameters()}
    assert any(not torch.equal(tower[n], after_tower[n]) for n in tower)  # the tower learnt
    assert all(
        torch.equal(text[n], p) for n, p in policy.model.named_parameters() if n in text
    )  # the language model did not
    assert records[-1]["warmup/step"] == 2 and records[-1]["warmup/tower_loss"] > 0
    config = VisionWarmupConfig(
        tower_steps=0, grounding_steps=2, batch_size=2, eval_images=2, eval_every=2
    )
    result = run_vision_warmup(policy, config, 64, log=lines.append)
    # grounding_tower_lr 0: the tower keeps its codes, the language model learns
    assert all(torch.equal(after_tower[n], p) for n, p in policy.vision_tower().named_parameters())
    assert any(not torch.equal(text[n], p) for n, p in policy.model.named_parameters() if n in text)
    assert set(result) == {"warmup/miou", "warmup/miou_single"}
    assert all(0.0 <= v <= 1.0 for v in result.values())
    assert all(p.requires_grad for p in policy.parameters())  # the freeze is undone


def test_train_sft_runs_the_warmup_first_and_saves_it(tmp_path):
    """``warmup:`` in a VLM SFT config runs both stages before the video epochs (``epochs: 0``
    runs the warm-up alone): the warmed-up model in ``warmup_hf``, its figures in
    ``warmup.json`` and ``metrics.jsonl``; ``vision_lr: 0`` keeps the tower as warmed up."""
    import json

    import torch
    from transformers import AutoModelForImageTextToText

    from stvg.config import from_dict
    from stvg.data.synthetic import generate_split
    from stvg.policies.vlm.tiny import SMALL, ModelSize, build_checkpoint
    from stvg.training.sft import train_sft
    from stvg.training.sft.vlm import VLMSFTConfig

    size = ModelSize(
        **{
            **SMALL.__dict__,
            "text_hidden": 64,
            "text_layers": 1,
            "vision_depth": 2,
            "deepstack": (1,),
        }
    )
    model = build_checkpoint("qwen3-vl", tmp_path / "m", size)
    generate_split(tmp_path / "data", "train", 2, 1, duration_s=4.0, fps=5.0, size=64)
    config = {
        "policy": {
            "name": "vlm",
            "config": {"model_path": str(model), "min_pixels": 32768, "max_new_tokens": 8},
        },
        "env": {"dataset": "synthetic", "root": str(tmp_path / "data"), "fps": 1.0, "max_side": 64},
        "data": {"train_split": "train", "eval_split": None, "generate": False},
        "epochs": 1,
        "batch_size": 2,
        "micro_batch_size": 2,
        "lr": 0.01,
        "vision_lr": 0.0,
        "threads": 1,
        "out_dir": str(tmp_path / "run"),
        "warmup": {
            "tower_steps": 2,
            "grounding_steps": 2,
            "batch_size": 2,
            "eval_images": 2,
            "eval_every": 2,
        },
    }
    result = train_sft(from_dict(VLMSFTConfig, config), log=None)
    run = tmp_path / "run"
    figures = json.loads((run / "warmup.json").read_text())
    assert set(figures) == {"warmup/miou", "warmup/miou_single"}
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [x["warmup/step"] for x in lines if "warmup/tower_loss" in x] == [2]
    assert lines[-1]["step"] == 1 and "losses/nll" in lines[-1]  # then the video epoch
    warm = AutoModelForImageTextToText.from_pretrained(run / "warmup_hf")
    final = AutoModelForImageTextToText.from_pretrained(result.checkpoint)
    warm_state, final_state = warm.state_dict(), final.state_dict()
    tower = [n for n in warm_state if ".visual." in f".{n}"]
    text = [n for n in warm_state if "language_model" in n and "layers.0." in n]
    assert tower and text
    assert all(torch.equal(warm_state[n], final_state[n]) for n in tower)  # vision_lr 0
    assert any(not torch.equal(warm_state[n], final_state[n]) for n in text)

    with pytest.raises(ValueError, match="epochs"):
        from_dict(VLMSFTConfig, {**config, "epochs": 0, "warmup": None})
    only = from_dict(VLMSFTConfig, {**config, "epochs": 0, "out_dir": str(tmp_path / "w")})
    assert only.epochs == 0
