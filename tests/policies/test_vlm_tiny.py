"""Tiny and small Qwen VL checkpoints as package code, and the ``stvg models`` commands."""

from __future__ import annotations

import json

import pytest
import torch
from transformers import AutoModelForImageTextToText, AutoProcessor, GenerationConfig

from stvg.cli import main
from stvg.policies.vlm.families import family_names
from stvg.policies.vlm.tiny import (
    QWEN_SAMPLING_DEFAULTS,
    SMALL,
    ModelSize,
    build_checkpoint,
    build_tiny_checkpoint,
    count_parameters,
    mrope_sections,
)

EXPECTED = {
    # family: (model class, processor class, video processor class, patch size, size bounds)
    "qwen2.5-vl": (
        "Qwen2_5_VLForConditionalGeneration",
        "Qwen2_5_VLProcessor",
        "Qwen2VLVideoProcessor",
        14,
        {"shortest_edge": 128 * 28 * 28, "longest_edge": 768 * 28 * 28},
    ),
    "qwen3-vl": (
        "Qwen3VLForConditionalGeneration",
        "Qwen3VLProcessor",
        "Qwen3VLVideoProcessor",
        16,
        {"shortest_edge": 128 * 32 * 32, "longest_edge": 768 * 32 * 32},
    ),
}


@pytest.mark.parametrize("family", sorted(EXPECTED))
def test_checkpoint_loads_with_transformers_auto_classes(tmp_path, family):
    path = build_tiny_checkpoint(family, tmp_path / "ckpt", seed=0)
    model_cls, processor_cls, video_cls, patch, size = EXPECTED[family]
    model = AutoModelForImageTextToText.from_pretrained(path, local_files_only=True)
    processor = AutoProcessor.from_pretrained(path, local_files_only=True)
    assert type(model).__name__ == model_cls
    assert type(processor).__name__ == processor_cls
    assert type(processor.video_processor).__name__ == video_cls
    assert processor.video_processor.patch_size == model.config.vision_config.patch_size == patch
    assert dict(processor.video_processor.size) == size
    assert processor.chat_template and "<|video_pad|>" in processor.chat_template
    # The tokenizer knows the vision tokens at the ids the model config uses.
    assert processor.video_token_id == model.config.video_token_id
    # One layer of width 32 in both towers: about 0.1M parameters.
    assert sum(p.numel() for p in model.parameters()) < 200_000
    # Qwen's near-greedy sampling defaults ship with it (the policy must override them).
    generation = GenerationConfig.from_pretrained(path)
    assert generation.top_k == QWEN_SAMPLING_DEFAULTS["top_k"] == 1
    assert generation.temperature == pytest.approx(0.1)


def test_seed_fixes_the_weights(tmp_path):
    def weights(seed, name):
        path = build_tiny_checkpoint("qwen3-vl", tmp_path / name, seed=seed)
        model = AutoModelForImageTextToText.from_pretrained(path, local_files_only=True)
        return torch.cat([p.detach().flatten() for p in model.parameters()])

    first, again, other = weights(0, "a"), weights(0, "b"), weights(1, "c")
    assert torch.equal(first, again)
    assert not torch.equal(first, other)


def test_building_leaves_the_global_torch_generator_alone(tmp_path):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    build_tiny_checkpoint("qwen2.5-vl", tmp_path / "ckpt", seed=7)
    assert torch.equal(torch.rand(3), expected)


def test_unknown_family_raises(tmp_path):
    with pytest.raises(ValueError, match=r"unknown tiny checkpoint family 'qwen4'.*qwen2\.5-vl"):
        build_tiny_checkpoint("qwen4", tmp_path)  # type: ignore[arg-type]


def test_cli_writes_a_checkpoint(tmp_path, capsys):
    out = tmp_path / "tiny25"
    assert main(["models", "tiny", "--family", "qwen2.5-vl", "--out", str(out), "--seed", "3"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("wrote a tiny qwen2.5-vl checkpoint (") and f") to {out}" in printed
    config = json.loads((out / "config.json").read_text())
    assert config["model_type"] == "qwen2_5_vl"
    processor = json.loads((out / "processor_config.json").read_text())
    assert processor["processor_class"] == "Qwen2_5_VLProcessor"
    assert processor["video_processor"]["video_processor_type"] == "Qwen2VLVideoProcessor"


def test_cli_bad_input_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["models", "tiny", "--family", "qwen4", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    families = family_names()  # every registered family adapter
    assert {"qwen2.5-vl", "qwen3-vl", "internvl", "llava-onevision"} <= set(families)
    assert err.strip() == (
        f"stvg models tiny: error: unknown --family 'qwen4'; choose one of {', '.join(families)}"
    )
    assert not (tmp_path / "x").exists()
    a_file = tmp_path / "file"
    a_file.write_text("")
    assert main(["models", "tiny", "--family", "qwen3-vl", "--out", str(a_file)]) == 2
    assert "exists and is not a directory" in capsys.readouterr().err
    assert main(["models"]) == 2  # no action: help on stderr
    assert "tiny" in capsys.readouterr().err


@pytest.mark.parametrize("family", sorted(EXPECTED))
def test_small_checkpoint_loads_with_transformers_auto_classes(tmp_path, family):
    path = build_checkpoint(family, tmp_path / "small", SMALL, seed=0)
    model = AutoModelForImageTextToText.from_pretrained(path, local_files_only=True)
    processor = AutoProcessor.from_pretrained(path, local_files_only=True)
    model_cls, processor_cls, video_cls, patch, _ = EXPECTED[family]
    assert type(model).__name__ == model_cls and type(processor).__name__ == processor_cls
    assert type(processor.video_processor).__name__ == video_cls
    text, vision = model.config.text_config, model.config.vision_config
    assert (text.hidden_size, text.num_hidden_layers, text.num_attention_heads) == (128, 4, 4)
    assert (vision.hidden_size, vision.depth, vision.patch_size) == (128, 4, patch)
    sections = text.rope_parameters["mrope_section"]
    assert sum(sections) == 128 // 4 // 2  # half a head
    n = sum(p.numel() for p in model.parameters())
    assert n == count_parameters(path)
    # 2.59M (Qwen2.5-VL) and 3.04M (Qwen3-VL: learned positions, two deepstack mergers)
    assert {"qwen2.5-vl": 2_588_800, "qwen3-vl": 3_038_080}[family] == n
    if family == "qwen3-vl":
        assert vision.num_position_embeddings == 64 and vision.deepstack_visual_indexes == [1, 2]


def test_mrope_sections_follow_the_released_proportions():
    # Qwen2.5-VL-7B: head 128 -> [16, 24, 24]; Qwen3-VL-8B: head 128 -> [24, 20, 20]
    assert mrope_sections("qwen2.5-vl", 128) == [16, 24, 24]
    assert mrope_sections("qwen3-vl", 128) == [24, 20, 20]
    assert mrope_sections("qwen2.5-vl", 16) == [2, 3, 3]  # the tiny checkpoints' sections
    assert mrope_sections("qwen3-vl", 16) == [4, 2, 2]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"text_hidden": 96}, "text_heads"),
        ({"vision_positions": 50}, "square"),
        ({"deepstack": (4,)}, "deepstack"),
        ({"text_layers": 0}, "positive integer"),
    ],
)
def test_model_size_refuses_shapes_the_classes_cannot_take(change, message):
    with pytest.raises(ValueError, match=message):
        ModelSize(**{**SMALL.__dict__, **change})


def test_cli_small_writes_a_sized_checkpoint(tmp_path, capsys):
    out = tmp_path / "small3"
    args = ["models", "small", "--family", "qwen3-vl", "--out", str(out), "--text-hidden", "64"]
    assert main([*args, "--text-layers", "2", "--vision-depth", "2"]) == 0
    assert "wrote a small qwen3-vl checkpoint (" in capsys.readouterr().out
    config = json.loads((out / "config.json").read_text())
    assert config["text_config"]["hidden_size"] == 64
    assert config["text_config"]["num_hidden_layers"] == 2
    assert config["vision_config"]["depth"] == 2
    assert config["vision_config"]["deepstack_visual_indexes"] == [1]
    assert (
        main(["models", "small", "--family", "qwen3-vl", "--out", str(out), "--text-hidden", "100"])
        == 2
    )
    assert capsys.readouterr().err.strip() == (
        "stvg models small: error: --text-hidden must be a multiple of 32 (heads of 32), got 100"
    )


@pytest.mark.parametrize("family", sorted(EXPECTED))
def test_one_frame_temporal_patches_reach_the_tower_and_the_processors(tmp_path, family):
    from stvg.policies.vlm.checkpoint import load_processor

    out = tmp_path / "tp1"
    args = ["models", "small", "--family", family, "--out", str(out), "--text-hidden", "64"]
    assert main([*args, "--temporal-patch-size", "1", "--text-layers", "1"]) == 0
    model = AutoModelForImageTextToText.from_pretrained(out, local_files_only=True)
    processor = load_processor(out, family)
    assert model.config.vision_config.temporal_patch_size == 1
    assert processor.video_processor.temporal_patch_size == 1
    assert processor.image_processor.temporal_patch_size == 1
    # 3 channels * 1 frame * patch^2 inputs per patch: half the family's default
    patch = EXPECTED[family][3]
    assert model.model.visual.patch_embed.proj.weight.shape[1:] == (3, 1, patch, patch)
    # A processor whose temporal patches differ from the tower's is refused on load.
    config = json.loads((out / "config.json").read_text())
    config["vision_config"]["temporal_patch_size"] = 2
    (out / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match=r"embeds temporal patches of 2 frames .* patches of 1"):
        load_processor(out, family)
