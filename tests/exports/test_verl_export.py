"""``stvg export verl`` read by verl's own code: ``RLHFDataset`` (plain and
``StvgRLHFDataset``), its multimodal processor inputs, and the naive reward manager
scoring a ``DataProto`` with :func:`stvg.verifiers.adapters.verl.compute_score`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from verl import DataProto
from verl.utils.dataset.rl_dataset import RLHFDataset
from verl.utils.tokenizer import build_multimodal_processor_inputs
from verl.workers.reward_manager import NaiveRewardManager

from stvg.cli import main
from stvg.exports.samples import build_export_env, export_samples
from stvg.exports.verl_dataset import StvgRLHFDataset
from stvg.policies.vlm.video import VIDEO_PAD
from stvg.verifiers.adapters.common import ground_truth_from_dict
from stvg.verifiers.adapters.verl import compute_score
from stvg.verifiers.verifier import Verifier


def _dataset_config(tmp_path: Path) -> object:
    return OmegaConf.create(
        {
            "max_prompt_length": 8192,
            "filter_overlong_prompts": True,
            "filter_overlong_prompts_workers": None,  # in-process (no dataset.map workers)
            "cache_dir": str(tmp_path / "verl_cache"),
        }
    )


@pytest.fixture(scope="module")
def exported(tmp_path_factory, tiny_checkpoints, export_root, prompter_of, env_kwargs):
    """Per family: the parquet written by the CLI and stvg's own samples of the split."""
    out = {}
    for family, checkpoint in tiny_checkpoints.items():
        path = tmp_path_factory.mktemp("verl") / "train.parquet"
        argv = ["export", "verl", "--model", str(checkpoint), "--dataset", "synthetic"]
        argv += ["--split", "test", "--root", str(export_root), "--max-side", "64"]
        assert main([*argv, "--out", str(path)]) == 0
        prompter = prompter_of(family)
        samples = list(export_samples(prompter, build_export_env(prompter, env_kwargs)))
        out[family] = (path, prompter, samples)
    return out


def test_rlhf_dataset_gives_the_policy_prompt_and_stvg_cost(exported, family, tmp_path) -> None:
    path, prompter, samples = exported[family]
    config = _dataset_config(tmp_path)
    dataset = RLHFDataset(str(path), prompter.processor.tokenizer, config, prompter.processor)
    assert len(dataset) == len(samples) == 3
    video_pad = prompter.processor.tokenizer.convert_tokens_to_ids(VIDEO_PAD)
    for index, sample in enumerate(samples):
        row = dataset[index]
        messages = row["raw_prompt"]
        text = prompter.processor.apply_chat_template(
            messages, add_generation_prompt=True, tokenize=False
        )
        assert text == sample.prompt_text  # the VLM policy's prompt, byte for byte
        images, videos, _ = RLHFDataset._process_multi_modal_info(
            messages, dataset.image_patch_size, config
        )
        inputs = build_multimodal_processor_inputs(
            prompter.processor, text=[text], images=images, videos=videos
        )
        tokens = int((inputs["input_ids"][0] == video_pad).sum())
        cost = sample.cost[f"cost/visual_tokens/{family}"]
        assert tokens == cost == row["extra_info"]["video_tokens"]
        assert cost == (72 if family == "qwen3-vl" else 288)  # 4 frames of 64x64, by hand
        # the ground truth carries the answer contract the prompt told
        record = json.loads(row["reward_model"]["ground_truth"])
        assert record["model_size"] == list(sample.prepared.model_size)
        assert record["timestamps"] == [0.0, 1.0, 2.0, 3.0]


def test_stvg_dataset_class_reproduces_the_policy_inputs_exactly(exported, family, tmp_path):
    path, prompter, samples = exported[family]
    config = _dataset_config(tmp_path)
    dataset = StvgRLHFDataset(str(path), prompter.processor.tokenizer, config, prompter.processor)
    for index, sample in enumerate(samples):
        messages = dataset[index]["raw_prompt"]
        _, videos, _ = StvgRLHFDataset._process_multi_modal_info(
            messages, dataset.image_patch_size, config
        )
        frames, _ = videos[0]
        np.testing.assert_array_equal(frames, sample.frames)  # lossless PNG round trip
        inputs = build_multimodal_processor_inputs(
            prompter.processor, text=[sample.prompt_text], videos=videos
        )
        prep = sample.prepared
        assert torch.equal(inputs["input_ids"], prep.input_ids)
        assert torch.equal(inputs["pixel_values_videos"], prep.pixel_values_videos)
        assert torch.equal(inputs["video_grid_thw"], prep.video_grid_thw)


def _data_proto(tokenizer, rows, responses: list[str]) -> DataProto:
    """A verl batch of one response per row: prompts left-padded, responses right-padded."""
    prompt_ids = [
        tokenizer(f"prompt {i}", add_special_tokens=False)["input_ids"] for i in range(len(rows))
    ]
    response_ids = [tokenizer(r, add_special_tokens=False)["input_ids"] for r in responses]
    p_len = max(map(len, prompt_ids))
    r_len = max(map(len, response_ids))
    pad = tokenizer.pad_token_id or 0
    prompts = torch.full((len(rows), p_len), pad)
    resp = torch.full((len(rows), r_len), pad)
    mask = torch.zeros((len(rows), p_len + r_len), dtype=torch.long)
    for i, (p, r) in enumerate(zip(prompt_ids, response_ids, strict=True)):
        prompts[i, p_len - len(p) :] = torch.tensor(p)
        resp[i, : len(r)] = torch.tensor(r)
        mask[i, p_len - len(p) : p_len] = 1
        mask[i, p_len : p_len + len(r)] = 1
    batch = {"prompts": prompts, "responses": resp, "attention_mask": mask}
    non_tensors = {
        "data_source": np.array([r["data_source"] for r in rows], dtype=object),
        "reward_model": np.array([r["reward_model"] for r in rows], dtype=object),
        "extra_info": np.array([dict(r["extra_info"]) for r in rows], dtype=object),
    }
    return DataProto.from_dict(tensors=batch, non_tensors=non_tensors)


def test_naive_reward_manager_scores_equal_the_verifier(exported, tmp_path) -> None:
    path, prompter, samples = exported["qwen2.5-vl"]
    dataset = RLHFDataset(
        str(path), prompter.processor.tokenizer, _dataset_config(tmp_path), prompter.processor
    )
    rows = [dataset[i] for i in range(len(dataset))]
    # the perfect answer, a shifted one, and one that does not parse
    responses = [samples[0].target, _shift_boxes(samples[1].target), "no answer here"]
    manager = NaiveRewardManager(
        prompter.processor.tokenizer, num_examine=0, compute_score=compute_score
    )
    out = manager(_data_proto(prompter.processor.tokenizer, rows, responses), return_dict=True)
    scores = out["reward_tensor"].sum(dim=1).tolist()
    verifier = Verifier()
    expected = []
    for row, response in zip(rows, responses, strict=True):
        truth = ground_truth_from_dict(json.loads(row["reward_model"]["ground_truth"]))
        expected.append(verifier.score_text(response, truth.sample, truth.ctx).total)
    assert scores == pytest.approx(expected, abs=1e-6)  # the reward tensor is float32
    assert expected[0] > 1.8 and 0 < expected[1] < expected[0] and expected[2] == 0.0
    assert out["reward_extra_info"]["parse_ok"] == [1.0, 1.0, 0.0]


def _shift_boxes(target: str) -> str:
    """``target`` with every box moved 3 pixels right (a worse but valid answer)."""
    prefix, body = target.split("<answer>", 1)
    answer = json.loads(body.split("</answer>", 1)[0])
    answer["boxes"] = {t: [b[0] + 3, b[1], b[2] + 3, b[3]] for t, b in answer["boxes"].items()}
    return f"{prefix}<answer>{json.dumps(answer)}</answer>"


def test_verl_loads_our_reward_and_dataset_class_from_the_documented_config() -> None:
    """The keys docs/verl.md and examples/verl set, read by verl's own loaders."""
    from verl.trainer.ppo.reward import get_custom_reward_fn
    from verl.utils.import_utils import load_extern_object

    config = OmegaConf.create(
        {
            "reward": {
                "custom_reward_function": {
                    "path": "pkg://stvg.verifiers.adapters.verl",
                    "name": "compute_score",
                    "reward_kwargs": {"verifier": {"terms": [{"name": "v_iou", "weight": 1.0}]}},
                }
            }
        }
    )
    reward = get_custom_reward_fn(config)
    record = {
        "gt_span": [0, 9],
        "gt_boxes": {str(f): [0.0, 0.0, 10.0, 10.0] for f in range(10)},
        "native_fps": 10.0,
        "num_frames": 10,
        "width": 10,
        "height": 10,
        "frame_indices": [0, 5],
        "timestamps": [0.0, 0.5],
        "shown_size": [10, 10],
        "fps": 2.0,
    }
    # the right span with boxes half the area of the truth: vIoU 0.5 on every frame
    answer = '<answer>{"span": [0.0, 0.9], "boxes": {"0.0": [0, 0, 5, 10], "0.5": [0, 0, 5, 10]}}</answer>'
    out = reward(data_source="stvg/synthetic", solution_str=answer, ground_truth=record)
    assert out["score"] == pytest.approx(0.5) and out["v_iou"] == pytest.approx(0.5)
    cls = load_extern_object("pkg://stvg.exports.verl_dataset", "StvgRLHFDataset")
    assert cls is StvgRLHFDataset and issubclass(cls, RLHFDataset)
