"""``benchmarks/bench_vlm_trainers.py`` gives TRL the work our trainers do.

The benchmark's claims checked on the tiny checkpoints: the TRL SFT collator's rows hold
exactly our SFT's tokens (the policy's prompt and the target with ``<|im_end|>``, labels on
the target only) and pixels; the image layout (every second frame as an image) feeds the
vision tower the video's input shape; generation can only end at the token budget.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest
import torch

from stvg.exports.samples import build_export_env
from stvg.policies.vlm import VLMPolicy
from stvg.policies.vlm.prompter import checkpoint_contract
from stvg.training.sft.vlm import target_completion

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_vlm_trainers.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_vlm_trainers", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_trl_batches_hold_our_sft_tokens_and_pixels(
    bench, family, tiny_checkpoints, env_kwargs, tmp_path
) -> None:
    from transformers import AutoProcessor

    checkpoint = Path(shutil.copytree(tiny_checkpoints[family], tmp_path / "model"))
    bench.align_checkpoint(checkpoint, 64 * 64)
    # 4-second clips at 1 fps: 4 frames of 64x64
    policy = VLMPolicy(str(checkpoint), min_pixels=bench.min_pixels(family, 64, frames=4))
    env = build_export_env(policy.prompter, env_kwargs)
    rows = bench.work_rows(policy.prompter, env, 2)
    processor = AutoProcessor.from_pretrained(checkpoint)
    _, spec = checkpoint_contract(policy.config)
    batch = bench.VideoCollator(processor, family, spec.geometry, rows)(
        [{"index": 0}, {"index": 1}]
    )

    preps, completions = [], []
    for index, row in enumerate(rows):  # what train_sft_vlm feeds VLMPolicy.log_prob
        obs, _ = env.reset(options={"index": index})
        preps.append(policy.prepare(obs, env.frame_context))
        completions.append(torch.tensor(target_completion(policy, row["target"]).token_ids))
    im_end = processor.tokenizer.convert_tokens_to_ids("<|im_end|>")
    for r, (prep, completion) in enumerate(zip(preps, completions, strict=True)):
        real = batch["attention_mask"][r].bool()
        assert completion[-1] == im_end
        assert torch.equal(batch["input_ids"][r][real], torch.cat([prep.input_ids[0], completion]))
        types = batch["mm_token_type_ids"][r][real]
        assert torch.equal(types[: prep.prompt_tokens], prep.mm_token_type_ids[0])
        assert not types[prep.prompt_tokens :].any()
        labels = batch["labels"][r]
        assert torch.equal(labels[labels != -100], completion)
    videos = torch.cat([p.pixel_values_videos for p in preps])
    assert torch.equal(batch["pixel_values_videos"], videos)
    assert torch.equal(batch["video_grid_thw"], torch.cat([p.video_grid_thw for p in preps]))
    if family == "qwen2.5-vl":
        timing = torch.cat([torch.as_tensor(p.second_per_grid_ts) for p in preps])
        assert torch.equal(batch["second_per_grid_ts"], timing)

    # image layout: 2 of the 4 frames, each repeated over the 2-frame temporal patch
    frames = bench.image_frames(rows[0]["frames"], "half")
    assert len(frames) == 2
    messages = bench.image_messages(rows[0]["messages"], len(frames))
    text = processor.apply_chat_template(messages, add_generation_prompt=True)
    out = processor(text=[text], images=frames, return_tensors="pt")
    assert out["pixel_values"].shape == preps[0].pixel_values_videos.shape
    t, h, w = preps[0].grid_thw
    assert out["image_grid_thw"].tolist() == [[1, h, w]] * t
    image_pad = processor.tokenizer.convert_tokens_to_ids("<|image_pad|>")
    assert int((out["input_ids"] == image_pad).sum()) == preps[0].visual_tokens

    generation = json.loads((checkpoint / "generation_config.json").read_text())
    assert generation["eos_token_id"] == processor.tokenizer.convert_tokens_to_ids("<|video_pad|>")
    env.close()
