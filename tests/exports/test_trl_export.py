"""``stvg export trl`` trained on by TRL's real ``GRPOTrainer`` with ``make_trl_reward()``.

A random tiny Qwen2.5-VL answers nothing parsable, so every reward would be 0 and GRPO
would have no advantage to follow. The test first teaches it the exported ``target``
column of one row (plain supervised steps on the same prompt), then runs 2 GRPO steps on
it: the completions sampled at temperature 1 then differ in their boxes, the verifier's
rewards differ within a group, and the parameters move.
"""

from __future__ import annotations

import json

import datasets
import pytest
import torch

from stvg.cli import main
from stvg.verifiers.adapters import make_trl_reward
from stvg.verifiers.adapters.common import ground_truth_from_dict
from stvg.verifiers.verifier import Verifier


@pytest.fixture(scope="module")
def trl_dataset(tmp_path_factory, tiny_checkpoints, export_root):
    out = tmp_path_factory.mktemp("trl") / "dataset"
    argv = ["export", "trl", "--model", str(tiny_checkpoints["qwen2.5-vl"])]
    argv += ["--dataset", "synthetic", "--split", "test", "--root", str(export_root)]
    assert main([*argv, "--max-side", "64", "--limit", "2", "--out", str(out)]) == 0
    return datasets.load_from_disk(str(out))


def test_rows_tell_times_and_score_their_target_fully(trl_dataset) -> None:
    row = trl_dataset[0]
    user = row["prompt"][-1]["content"]
    assert [p["text"] for p in user[:4:2]] == ["t=0s:", "t=1s:"]
    assert sum(p["type"] == "image" for p in user) == len(row["images"]) == 4
    record = json.loads(row["ground_truth"])
    # Qwen2.5-VL's image processor keeps a 64x64 frame at 56x56 (a multiple of 28)
    assert record["model_size"] == [56, 56]
    assert "56x56 pixels" in user[-1]["text"]
    truth = ground_truth_from_dict(record)
    result = Verifier().score_text(row["target"], truth.sample, truth.ctx)
    # integer pixels of a 56x56 frame round the ~6-pixel boxes: vIoU 0.84, not 1
    assert result.parse_ok and result.t_iou == 1.0 and result.v_iou > 0.8
    reward = make_trl_reward()
    assert reward(completions=[row["target"]], ground_truth=[row["ground_truth"]]) == [result.total]
    assert row["visual_tokens"] == 4 * 4  # 4 frames of 56x56: (56/14)^2 / 4 tokens each


def test_a_draft_final_export_renders_both_lists_and_scores_them(
    tmp_path, tiny_checkpoints, export_root
) -> None:
    """``--set policy.answer_format=draft-final``: the prompt asks for STVG-o1's three
    blocks, the target has the ground truth in both box lists and its record names the
    format, so the STVG-o1 reward scores it: consistent lists, no gain over an equal draft."""
    out = tmp_path / "dataset"
    argv = ["export", "trl", "--model", str(tiny_checkpoints["qwen2.5-vl"])]
    argv += ["--dataset", "synthetic", "--split", "test", "--root", str(export_root)]
    argv += ["--max-side", "64", "--limit", "1", "--out", str(out)]
    assert main([*argv, "--set", "policy.answer_format=draft-final"]) == 0
    row = datasets.load_from_disk(str(out))[0]
    assert "<think bbox>" in row["prompt"][-1]["content"][-1]["text"]
    record = json.loads(row["ground_truth"])
    assert record["answer_format"] == "draft-final"
    draft = row["target"].split("<think bbox>")[1].split("</think bbox>")[0]
    final = row["target"].split("<pred bbox>")[1].split("</pred bbox>")[0]
    assert draft == final and final
    terms = [{"name": n, "weight": 1.0} for n in ("t_iou", "box_consistency", "think_gain")]
    truth = ground_truth_from_dict(record)
    result = Verifier.from_config({"answer_format": "draft-final", "terms": terms}).score_text(
        row["target"], truth.sample, truth.ctx
    )
    assert result.format_ok and result.terms["t_iou"] == 1.0
    assert result.terms["box_consistency"] == 1.0 and result.terms["think_gain"] == 0.0
    reward = make_trl_reward({"terms": terms}, term="box_consistency")
    assert reward(completions=[row["target"]], ground_truth=[row["ground_truth"]]) == [1.0]


def _warm_up(model, processor, row, max_steps: int, stop_loss: float) -> float:
    """Supervised steps on ``row``'s ``target`` (loss on the answer tokens only), until the
    loss is below ``stop_loss``; returns the last loss."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    prompt = processor.apply_chat_template(row["prompt"], add_generation_prompt=True)
    inputs = processor(
        text=[prompt + row["target"] + "<|im_end|>"], images=row["images"], return_tensors="pt"
    )
    prompt_len = processor(text=[prompt], images=row["images"], return_tensors="pt")[
        "input_ids"
    ].shape[1]
    labels = inputs["input_ids"].clone()
    labels[:, :prompt_len] = -100
    model.train()
    for _ in range(max_steps):
        loss = model(**inputs, labels=labels).loss
        if float(loss) < stop_loss:
            break
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return float(loss)


@pytest.mark.timeout(900)
def test_grpo_trainer_runs_two_steps_with_our_reward(trl_dataset, tiny_checkpoints, tmp_path):
    from transformers import AutoModelForImageTextToText, AutoProcessor
    from trl import GRPOConfig, GRPOTrainer

    torch.manual_seed(0)
    checkpoint = tiny_checkpoints["qwen2.5-vl"]
    model = AutoModelForImageTextToText.from_pretrained(checkpoint, dtype=torch.float32)
    processor = AutoProcessor.from_pretrained(checkpoint)
    shortest = min(range(len(trl_dataset)), key=lambda i: len(trl_dataset[i]["target"]))
    one_row = trl_dataset.select([shortest])
    assert _warm_up(model, processor, one_row[0], max_steps=300, stop_loss=0.005) < 0.005
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    args = GRPOConfig(
        output_dir=str(tmp_path / "grpo"),
        per_device_train_batch_size=8,
        # 8 answers at temperature 1 from a policy whose answer tokens have p ~ 0.995:
        # ~3/4 copy the target, the others deviate somewhere and mostly do not parse
        num_generations=8,
        temperature=1.0,
        max_completion_length=128,  # the targets are 80-120 tokens (one per character)
        max_steps=2,
        learning_rate=1e-3,
        logging_steps=1,
        report_to=[],
        use_cpu=True,
        bf16=False,
        save_strategy="no",
        seed=0,
    )
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=[make_trl_reward()],
        args=args,
        train_dataset=one_row,
        processing_class=processor,
    )
    trainer.train()
    logs = [h for h in trainer.state.log_history if "rewards/stvg/mean" in h]
    assert len(logs) == 2
    assert max(h["rewards/stvg/mean"] for h in logs) > 0  # parsable, partly right answers
    assert max(h["rewards/stvg/std"] for h in logs) > 0  # groups that GRPO can rank
    changed = [n for n, p in model.named_parameters() if not torch.equal(before[n], p.detach())]
    assert changed, "GRPO left every parameter unchanged"
