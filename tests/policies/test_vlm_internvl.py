"""The InternVL family adapter on a tiny random checkpoint built locally (no downloads).

Frames go in as an image list, each after its time label; every frame becomes
``<img>`` + 4 ``<IMG_CONTEXT>`` + ``</img>`` (56 x 56 pixels: 4 x 4 patches of 14, 2 x 2
pixel shuffle); boxes are asked on the 0-1000 grid.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from transformers import AutoModelForImageTextToText, AutoProcessor

from stvg.cli import main
from stvg.envs.cost import visual_tokens
from stvg.policies.vlm import VLMPolicy
from stvg.policies.vlm.batch import prompt_batch
from stvg.policies.vlm.checkpoint import detect_family, load_processor
from stvg.policies.vlm.families import (
    FAMILIES,
    family_for_model_type,
    family_names,
    frame_label,
    get_family,
)
from stvg.policies.vlm.families.internvl import tokens_per_frame
from stvg.policies.vlm.tiny import build_tiny_checkpoint
from stvg.verifiers.formats import ContractSpec, ModelGeometry

QUERY = "the blue square moves left"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return str(build_tiny_checkpoint("internvl", tmp_path_factory.mktemp("internvl") / "tiny"))


@pytest.fixture(scope="module")
def policy(checkpoint):
    return VLMPolicy(checkpoint, max_new_tokens=5, device="cpu", seed=0)


def make_obs(times=(0.0, 1.5, 3.0), shown=(64, 40), slots=6, seed=0, query=QUERY):
    """A GroundingEnv-style observation: ``len(times)`` frames top-left on a padded canvas."""
    width, height = shown
    rng = np.random.default_rng(seed)
    frames = np.zeros((slots, 64, 64, 3), dtype=np.uint8)
    frames[: len(times), :height, :width] = rng.integers(0, 256, (len(times), height, width, 3))
    mask = np.zeros(slots, dtype=np.int8)
    mask[: len(times)] = 1
    stamps = np.zeros(slots, dtype=np.float32)
    stamps[: len(times)] = times
    return {
        "frames": frames,
        "frame_mask": mask,
        "timestamps": stamps,
        "query": query,
        "shown_size": np.array(shown, dtype=np.int32),
    }


def test_registry_knows_the_three_families():
    assert {"qwen2.5-vl", "qwen3-vl", "internvl"} <= set(family_names())
    assert family_for_model_type("internvl").name == "internvl"
    assert family_for_model_type("qwen3_vl_moe").name == "qwen3-vl"
    native = {a.name: a.native_coords for a in FAMILIES.values()}
    assert native["qwen3-vl"] == native["internvl"] == "norm1000" != native["qwen2.5-vl"]
    with pytest.raises(ValueError, match="unknown VLM family 'gemma'.*internvl"):
        get_family("gemma")
    with pytest.raises(ValueError, match="model_type 'llama' is not supported.*'internvl'"):
        family_for_model_type("llama")
    assert frame_label(1.5) == "Frame at 1.5 s: "


def test_visual_tokens_per_frame_by_hand():
    # 448 / 14 = 32 patches a side, 2 x 2 shuffled: 16 * 16 = 256 tokens per frame
    assert tokens_per_frame(448) == 256 and tokens_per_frame(56) == 4
    assert visual_tokens("internvl", 10, 720, 1280) == 2560  # any frame size: 448 x 448
    tiny = {"min_pixels": 56 * 56, "max_pixels": 56 * 56}
    assert visual_tokens("internvl", 3, 40, 64, **tiny) == 12
    geometry = ModelGeometry("internvl", **tiny)
    assert geometry.model_size(3, (64, 40)) == (56, 56)  # square, aspect ratio not kept
    with pytest.raises(ValueError, match="S x S"):
        ModelGeometry("internvl", min_pixels=3136, max_pixels=4096).model_size(1, (64, 64))


def test_the_prompt_holds_three_labelled_frames_and_their_image_tokens(policy, checkpoint):
    prep = policy.prepare(make_obs())
    labelled = [f"Frame at {t} s: <IMG_CONTEXT>\n" for t in ("0", "1.5", "3")]
    at = [prep.text.index(item) for item in labelled]
    assert at == sorted(at) and prep.text.count("<IMG_CONTEXT>") == 3
    assert prep.text.count("Frame at ") == 3
    # the processor expands each placeholder to <img> + 4 <IMG_CONTEXT> + </img>
    tokens = "<img>" + "<IMG_CONTEXT>" * 4 + "</img>"
    decoded = policy.tokenizer.decode(prep.input_ids[0])
    for t in ("0", "1.5", "3"):
        assert f"Frame at {t} s: {tokens}\n" in decoded
    image_id = policy.processor.image_token_id
    assert int((prep.input_ids == image_id).sum()) == prep.visual_tokens == 3 * 4
    assert prep.visual_tokens == visual_tokens("internvl", 3, 40, 64, **_tiny_bounds())
    assert prep.model_size == (56, 56) and prep.frames_shown == 3
    assert prep.mm_token_type_ids is None
    # the pixels are the processor's own for the three frames as images, tiling off
    frames = make_obs()["frames"][:3, :40, :64]
    own = AutoProcessor.from_pretrained(checkpoint, local_files_only=True)(
        text=[prep.text],
        images=[list(frames)],
        images_kwargs={"crop_to_patches": False},
        return_tensors="pt",
    )
    assert tuple(prep.visual["pixel_values"].shape) == (3, 3, 56, 56)
    assert torch.equal(prep.visual["pixel_values"], own["pixel_values"])
    assert torch.equal(prep.input_ids, own["input_ids"])


def _tiny_bounds() -> dict:
    return {"min_pixels": 56 * 56, "max_pixels": 56 * 56}


def test_the_collated_batch_equals_the_prompts_alone(policy):
    short = make_obs(times=(0.0, 1.0), seed=1, query="a dot")
    long = make_obs(times=(0.0, 1.0, 2.0, 3.0, 4.0), seed=2)
    preps = [policy.prepare(short), policy.prepare(long)]
    batch = prompt_batch(preps, pad_id=7)
    assert set(batch) == {"input_ids", "attention_mask", "pixel_values"}
    for row, prep in enumerate(preps):
        real = batch["attention_mask"][row].bool()
        assert torch.equal(batch["input_ids"][row][real], prep.input_ids[0])
        padding = batch["input_ids"].shape[1] - prep.prompt_tokens
        assert not real[:padding].any() and real[padding:].all()  # left padding
        assert (batch["input_ids"][row][:padding] == 7).all()
    assert batch["input_ids"].shape[1] == preps[1].prompt_tokens  # the longer prompt
    expected = torch.cat([p.visual["pixel_values"] for p in preps])
    assert torch.equal(batch["pixel_values"], expected) and expected.shape[0] == 2 + 5

    # numerically: the batch generates and scores what each prompt does alone
    alone = [policy.generate(obs)[0] for obs in (short, long)]
    together = policy.generate_batch([short, long])
    assert [c.token_ids for c in together] == [c.token_ids for c in alone]
    texts = ["<answer>{}</answer>", '<answer>{"span": [0, 1]}</answer>']
    with torch.no_grad():
        batched = policy.log_prob([short, long], texts)
        single = [
            policy.log_prob([obs], [text]) for obs, text in zip((short, long), texts, strict=True)
        ]
    for row, one in enumerate(single):
        width = one.shape[1]
        torch.testing.assert_close(batched[row, :width], one[0], atol=1e-5, rtol=0)


def test_sampled_log_probs_equal_the_training_pass(policy):
    obs = [make_obs(seed=3), make_obs(times=(0.0, 2.0), seed=4)]
    rollouts = policy.sample(obs, n=3)
    assert len(rollouts.actions) == 6
    assert rollouts.extras["visual_tokens"] == [12] * 3 + [8] * 3
    rescored = policy.log_prob(obs, rollouts)
    torch.testing.assert_close(rescored.detach(), rollouts.log_probs, atol=1e-4, rtol=0)


def test_contract_is_norm1000_and_pixels_refer_to_the_56px_frame(policy, checkpoint):
    assert policy.family == "internvl" and policy.coords == "norm1000"
    assert policy.answer_spec == ContractSpec(
        "json-v1",
        "norm1000",
        1.0,
        ModelGeometry("internvl", **_tiny_bounds(), max_video_tokens=4, temporal_patch_size=1),
    )
    pixels = VLMPolicy(checkpoint, coords="pixels", max_new_tokens=2, device="cpu")
    prep = pixels.prepare(make_obs())
    assert "56x56" in prep.text  # the prompt tells the size pixel answers refer to
    with pytest.raises(ValueError, match="fixed 56x56 .*3136 pixels"):
        VLMPolicy(checkpoint, min_pixels=12544, device="cpu")


def test_detect_family_and_load_processor(checkpoint, tmp_path):
    assert detect_family(checkpoint) == "internvl"
    assert type(load_processor(checkpoint, "internvl")).__name__ == "InternVLProcessor"
    with pytest.raises(ValueError, match="loaded a InternVLProcessor, but a qwen3-vl"):
        load_processor(checkpoint, "qwen3-vl")
    with pytest.raises(ValueError, match="family='qwen2.5-vl' but .* is a internvl checkpoint"):
        VLMPolicy(checkpoint, family="qwen2.5-vl", device="cpu")


def test_stvg_models_tiny_builds_a_loadable_internvl(tmp_path, capsys):
    out = tmp_path / "tiny"
    assert main(["models", "tiny", "--family", "internvl", "--out", str(out)]) == 0
    assert "internvl checkpoint" in capsys.readouterr().out
    assert json.loads((out / "config.json").read_text())["model_type"] == "internvl"
    model = AutoModelForImageTextToText.from_pretrained(out, local_files_only=True)
    processor = AutoProcessor.from_pretrained(out, local_files_only=True)
    assert type(model).__name__ == "InternVLForConditionalGeneration"
    assert processor.image_seq_length == 4 and processor.image_processor.size["height"] == 56
    assert model.config.image_token_id == processor.image_token_id
    with pytest.raises(SystemExit):
        main(["models", "tiny", "--help"])
    assert "internvl" in capsys.readouterr().out


def test_exports_refuse_internvl_naming_the_supported_families(checkpoint):
    from stvg.exports.samples import check_export_family
    from stvg.policies.vlm.config import VLMPolicyConfig
    from stvg.policies.vlm.prompter import VLMPrompter

    prompter = VLMPrompter(VLMPolicyConfig(model_path=checkpoint))
    with pytest.raises(ValueError, match=r"internvl checkpoint.*\['qwen2.5-vl', 'qwen3-vl'\]"):
        check_export_family(prompter)
