"""The LLaVA-OneVision family on a tiny random checkpoint built locally (no downloads).

Hand figures: the tiny checkpoint stretches every frame to 56x56 pixels; its SigLIP tower
(patch 14) sees 56 / 14 = 4 patches per side, pooled 2x2 to ceil(4 / 2) = 2 per side, so a
frame costs 2 * 2 = 4 ``<video>`` tokens and a video of T frames 4 T + 1 (one newline
token after the video): 13 for 3 frames, 21 for 5.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from transformers import AutoModelForImageTextToText, AutoProcessor

from stvg.cli import main
from stvg.envs.contract import bind_env_kwargs, check_env_policy
from stvg.envs.cost import visual_tokens
from stvg.envs.grounding import GroundingEnv
from stvg.policies.vlm import VLMPolicy
from stvg.policies.vlm.batch import prompt_batch
from stvg.policies.vlm.checkpoint import detect_family
from stvg.policies.vlm.families import get_family
from stvg.policies.vlm.families.llava_onevision import (
    TINY_SIZE,
    build_tiny_llava_onevision,
    time_instruction,
)
from stvg.policies.vlm.tiny import build_tiny_checkpoint
from stvg.verifiers.formats import ContractError

FAMILY = "llava-onevision"
QUERY = "the man in the red hat waves"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> str:
    return str(build_tiny_checkpoint(FAMILY, tmp_path_factory.mktemp("llava_ov") / "tiny"))


@pytest.fixture(scope="module")
def policy(checkpoint: str) -> VLMPolicy:
    return VLMPolicy(checkpoint, max_new_tokens=6, device="cpu", seed=0)


def make_obs(times_s, shown=(160, 90), canvas=160, slots=6, seed=0, query=QUERY) -> dict:
    """A GroundingEnv-style observation: one real frame per time, top-left on a canvas."""
    width, height = shown
    count = len(times_s)
    rng = np.random.default_rng(seed)
    frames = np.zeros((slots, canvas, canvas, 3), dtype=np.uint8)
    frames[:count, :height, :width] = rng.integers(0, 256, (count, height, width, 3))
    mask = np.zeros(slots, dtype=np.int8)
    mask[:count] = 1
    times = np.zeros(slots, dtype=np.float32)
    times[:count] = times_s
    return {
        "frames": frames,
        "frame_mask": mask,
        "timestamps": times,
        "shown_size": np.array([width, height], dtype=np.int64),
        "query": query,
    }


def test_checkpoint_loads_with_transformers_auto_classes(checkpoint: str) -> None:
    model = AutoModelForImageTextToText.from_pretrained(checkpoint, local_files_only=True)
    processor = AutoProcessor.from_pretrained(checkpoint, local_files_only=True)
    assert type(model).__name__ == "LlavaOnevisionForConditionalGeneration"
    assert type(processor).__name__ == "LlavaOnevisionProcessor"
    assert type(processor.video_processor).__name__ == "LlavaOnevisionVideoProcessor"
    assert detect_family(checkpoint) == FAMILY
    assert processor.num_image_tokens == 16  # (56 / 14) ** 2 patches per frame
    assert processor.video_processor.size == {"height": 56, "width": 56}
    vision = model.config.vision_config
    assert (vision.image_size, vision.patch_size, vision.num_hidden_layers) == (56, 14, 2)
    assert model.config.text_config.model_type == "qwen2"
    assert sum(p.numel() for p in model.parameters()) < 300_000


def test_same_seed_same_weights(tmp_path) -> None:
    first = build_tiny_llava_onevision(tmp_path / "a", seed=3)
    second = build_tiny_llava_onevision(tmp_path / "b", seed=3)
    other = build_tiny_llava_onevision(tmp_path / "c", seed=4)
    weights = [(d / "model.safetensors").read_bytes() for d in (first, second, other)]
    assert weights[0] == weights[1] != weights[2]


def test_prompt_tells_every_frame_time_and_holds_the_visual_tokens(policy: VLMPolicy) -> None:
    prep = policy.prepare(make_obs([0.0, 1.5, 3.0]))
    # The video item, then LLaVA-Video's time instruction, then the template's user text.
    assert "<video>\nThe video lasts for 3.0 seconds, and 3 frames are sampled from it. " in (
        prep.text
    )
    assert "These frames are located at 0.0s, 1.5s, 3.0s.\n" in prep.text
    assert prep.text.count("<video>") == 1
    video_id = policy.processor.video_token_id
    assert int((prep.input_ids == video_id).sum()) == 3 * 4 + 1 == prep.visual_tokens
    assert prep.visual["pixel_values_videos"].shape == (1, 3, 3, 56, 56)
    assert prep.model_size == (56, 56)
    # The env's cost formula agrees with the processor (and the released 384 px model:
    # 27 patches per side pooled to 14: 196 per frame, 8 * 196 + 1).
    assert visual_tokens(FAMILY, 3, 90, 160, min_pixels=56 * 56, max_pixels=56 * 56) == 13
    assert visual_tokens(FAMILY, 8, 360, 640) == 1569


def test_time_instruction_lists_times_to_the_millisecond() -> None:
    assert time_instruction([0.25, 0.5, 2.125]) == (
        "The video lasts for 2.125 seconds, and 3 frames are sampled from it. "
        "These frames are located at 0.25s, 0.5s, 2.125s.\n"
    )


def test_collated_prompts_equal_the_prompts_alone(policy: VLMPolicy) -> None:
    """Two prompts of 3 and 5 frames (13 and 21 video tokens), left-padded into one batch:
    the last-token logits and greedy answers equal each prompt's alone."""
    obs = [make_obs([0.0, 1.5, 3.0], seed=1), make_obs([0.0, 1.0, 2.0, 3.0, 4.0], seed=2)]
    preps = [policy.prepare(o) for o in obs]
    assert [p.visual_tokens for p in preps] == [13, 21]
    text_only = prompt_batch(preps, policy._pad_id, visual=False)
    width = text_only["input_ids"].shape[1]
    for row, prep in enumerate(preps):
        start = width - prep.prompt_tokens
        assert torch.equal(text_only["input_ids"][row, start:], prep.input_ids[0])
        assert int(text_only["attention_mask"][row].sum()) == prep.prompt_tokens
    adapter = get_family(FAMILY)
    assert not adapter.batches_pixels(preps)
    with pytest.raises(ValueError, match=r"show \[3, 5\] frames"):
        adapter.visual_inputs(preps)
    batch = policy.model_inputs(preps)
    with torch.no_grad():
        together = policy.model(**batch).logits[:, -1]
        alone = [policy.model(**policy.model_inputs([p])).logits[0, -1] for p in preps]
    for row in range(2):
        torch.testing.assert_close(together[row], alone[row], atol=1e-5, rtol=1e-5)
    assert [c.text for c in policy.generate_batch(obs)] == [policy.generate(o)[0].text for o in obs]
    # Prompts of one frame count batch their pixels as one [B, T, 3, S, S] tensor.
    same = [policy.prepare(make_obs([0.0, 1.5, 3.0], seed=s)) for s in (3, 4)]
    assert adapter.visual_inputs(same)["pixel_values_videos"].shape == (2, 3, 3, 56, 56)


def test_log_prob_of_a_batch_equals_rows_alone(policy: VLMPolicy) -> None:
    obs = [make_obs([0.0, 1.5, 3.0], seed=1), make_obs([0.0, 1.0, 2.0, 3.0, 4.0], seed=2)]
    answers = ['{"span": [0, 1]}', '{"span": [2.5, 4]}']
    together = policy.log_prob(obs, answers)
    alone = [policy.log_prob([o], [a]) for o, a in zip(obs, answers, strict=True)]
    for row in range(2):
        width = alone[row].shape[1]
        torch.testing.assert_close(together[row, :width], alone[row][0], atol=1e-5, rtol=1e-5)


def test_native_coordinates_are_norm1(policy: VLMPolicy, checkpoint: str) -> None:
    assert policy.answer_spec.coords == "norm1"
    assert policy.answer_spec.geometry.family == FAMILY
    assert "normalised to 0-1" in policy.prepare(make_obs([0.0, 1.0])).text
    assert VLMPolicy(checkpoint, coords="norm1000", device="cpu").answer_spec.coords == ("norm1000")


def test_an_env_in_other_coordinates_fails_at_construction(policy: VLMPolicy, tmp_path) -> None:
    from stvg.data.synthetic import generate_split

    generate_split(tmp_path, "train", 1, 0, duration_s=4.0, fps=5.0, size=64)
    env_kwargs = {"dataset": "synthetic", "root": str(tmp_path), "split": "train"}
    check_env_policy(GroundingEnv(bind_env_kwargs(policy, env_kwargs)), policy)
    wrong_kwargs = {**env_kwargs, "verifier": {"coords": "norm1000"}}
    wrong = GroundingEnv(bind_env_kwargs(policy, wrong_kwargs))
    with pytest.raises(ContractError, match="coords"):
        check_env_policy(wrong, policy)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"min_pixels": 12544}, "min_pixels=12544 does not apply to llava-onevision"),
        ({"max_pixels": 10_000}, "max_pixels=10000 does not apply"),
        ({"cap_pixels_per_frame": True}, "cap_pixels_per_frame does not apply"),
    ],
)
def test_pixel_overrides_that_cannot_apply_fail_at_construction(
    checkpoint: str, override: dict, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        VLMPolicy(checkpoint, device="cpu", **override)
    # The frame's own size is accepted.
    assert VLMPolicy(checkpoint, device="cpu", min_pixels=56 * 56).geometry.max_pixels == 3136


def test_cli_writes_a_checkpoint(tmp_path, capsys) -> None:
    out = tmp_path / "ov"
    assert main(["models", "tiny", "--family", FAMILY, "--out", str(out), "--seed", "1"]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["model_type"] == "llava_onevision"
    assert config["vision_config"]["image_size"] == TINY_SIZE.image_size
    assert str(out) in capsys.readouterr().out


@pytest.mark.parametrize("share_prefill", [True, False])
def test_sampled_log_probs_equal_the_training_pass(policy: VLMPolicy, share_prefill) -> None:
    """Sampling 3 answers for prompts of 3 and 2 frames (13 and 9 video tokens, so the
    features go in pre-encoded) records the log-probs a training pass recomputes, from one
    shared prefill or from every row's own (the prompts repeated, not transformers'
    expansion of encoder outputs, which would pair rows with the other prompt's video)."""
    from stvg.policies.vlm.sampling import StepLogProbs

    obs = [make_obs([0.0, 1.5, 3.0], seed=3), make_obs([0.0, 2.0], seed=4)]
    preps = [policy.prepare(o) for o in obs]
    torch.manual_seed(0)
    recorder = StepLogProbs(policy.config.temperature)
    completions = policy._generate(preps, 3, True, share_prefill=share_prefill, recorder=recorder)
    assert [c.visual_tokens for c in completions] == [13] * 3 + [9] * 3
    token_ids, mask = policy._pad_completions(completions)
    recorded = recorder.result()[:, : token_ids.shape[1]].cpu()
    recorded = torch.nn.functional.pad(recorded, (0, token_ids.shape[1] - recorded.shape[1]))
    rescored = policy.log_prob(obs, completions).detach()
    torch.testing.assert_close(rescored, torch.where(mask, recorded, 0.0), atol=1e-4, rtol=0)


def test_save_pretrained_reloads_with_the_same_contract_and_answers(
    policy: VLMPolicy, tmp_path
) -> None:
    out = policy.save_pretrained(tmp_path / "export")
    again = VLMPolicy(str(out), max_new_tokens=6, device="cpu")
    assert again.family == FAMILY and again.answer_spec == policy.answer_spec
    obs = make_obs([0.0, 1.0, 2.0], seed=5)
    assert again.generate(obs)[0].text == policy.generate(obs)[0].text


def test_exports_refuse_llava_onevision(checkpoint: str) -> None:
    from stvg.exports.samples import check_export_family
    from stvg.policies.vlm.config import VLMPolicyConfig
    from stvg.policies.vlm.prompter import VLMPrompter

    prompter = VLMPrompter(VLMPolicyConfig(model_path=checkpoint))
    with pytest.raises(ValueError, match=r"llava-onevision checkpoint.*\['qwen2.5-vl'"):
        check_export_family(prompter)
