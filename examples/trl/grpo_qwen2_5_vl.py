"""GRPO with TRL's ``GRPOTrainer`` on a dataset written by ``stvg export trl``.

    stvg export trl --model $MODEL --dataset hcstvg --split train --root $HCSTVG --fps 1 \\
        --max-side 448 --out data/trl_train
    accelerate launch examples/trl/grpo_qwen2_5_vl.py --model $MODEL --data data/trl_train \\
        --output-dir runs/trl_grpo

The reward is stvg's verifier (``make_trl_reward()``: tIoU + vIoU, or ``--verifier
reward.yaml``), logged by TRL as ``rewards/stvg/mean``; ``--log-terms`` adds each term
unweighted (``rewards/stvg_t_iou/mean``, ...) at weight 0. Start from a policy that already
answers in the format (SFT on the dataset's ``target`` column, or ``stvg train-sft``):
GRPO has nothing to rank while every answer scores 0. See docs/trl.md.
"""

from __future__ import annotations

import argparse


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="Qwen2.5-VL / Qwen3-VL checkpoint")
    parser.add_argument("--data", required=True, help="folder written by `stvg export trl`")
    parser.add_argument("--output-dir", required=True)
    parser.add_argument("--verifier", default=None, help="verifier YAML (default tIoU + vIoU)")
    parser.add_argument("--log-terms", action="store_true", help="log each reward term too")
    parser.add_argument("--num-generations", type=int, default=8, help="answers per prompt")
    parser.add_argument("--batch-size", type=int, default=8, help="completions per device step")
    parser.add_argument("--learning-rate", type=float, default=1e-6)
    parser.add_argument("--beta", type=float, default=0.01, help="KL weight to the reference")
    parser.add_argument("--max-completion-length", type=int, default=512)
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--bf16", action="store_true", help="bfloat16 (GPUs)")
    args = parser.parse_args()

    import datasets
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor
    from trl import GRPOConfig, GRPOTrainer

    from stvg.verifiers.adapters import make_trl_reward

    dataset = datasets.load_from_disk(args.data)
    model = AutoModelForImageTextToText.from_pretrained(
        args.model, dtype=torch.bfloat16 if args.bf16 else torch.float32
    )
    processor = AutoProcessor.from_pretrained(args.model)
    rewards = [make_trl_reward(args.verifier)]
    weights = [1.0]
    if args.log_terms:
        for term in rewards[0].config.term_names:
            rewards.append(make_trl_reward(args.verifier, term=term))
            weights.append(0.0)  # logged, not optimised: the total already holds it
    config = GRPOConfig(
        output_dir=args.output_dir,
        num_generations=args.num_generations,
        per_device_train_batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        beta=args.beta,
        max_completion_length=args.max_completion_length,
        num_train_epochs=args.epochs,
        reward_weights=weights,
        bf16=args.bf16,
        logging_steps=1,
        report_to=["tensorboard"],
    )
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=rewards,
        args=config,
        train_dataset=dataset,
        processing_class=processor,
    )
    trainer.train()
    trainer.save_model(args.output_dir)


if __name__ == "__main__":
    main()
