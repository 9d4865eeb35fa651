"""The paper's SFT-data ablation: which targets make the better grounder after SFT?

(a) ``replaced`` — chain-of-thought from a noisy teacher with every span and box replaced
    by the ground truth (the method's data: ``stvg synth-cot``);
(b) ``raw`` — the same teacher's text as it was written (its wrong spans and boxes kept);
(c) ``answer`` — answer-only ground-truth targets (no reasoning).

Each arm fine-tunes the same checkpoint with the same budget on the train split and is
evaluated greedily on the test split (m_tIoU, m_vIoU of the official protocol). On a CPU
with the tiny random checkpoint (the default) it shows the machinery, not a difference:
a model that small does not generalise from 32 clips. On a GPU::

    .venv/bin/python benchmarks/ablation_cot_sft.py --model-path models/Qwen2.5-VL-7B-Instruct \\
        --root data_cache/synthetic-easy --n-train 1000 --n-test 100 --epochs 2 --lr 1e-5 \\
        --max-side 448 --device cuda --dtype bfloat16 --out runs/ablation_cot

CPU default: ``.venv/bin/python benchmarks/ablation_cot_sft.py`` (about 6 minutes).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from stvg.config import from_dict
from stvg.data.synthetic import ensure_synthetic_split
from stvg.policies.vlm.config import VLMPolicyConfig
from stvg.policies.vlm.policy import checkpoint_contract
from stvg.synthesis.config import load_synthesis_config
from stvg.synthesis.run import RECORDS_FILE, TARGETS_FILE, read_records, synthesize
from stvg.synthesis.targets import write_targets
from stvg.training.sft.vlm import VLMSFTConfig, train_sft_vlm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model-path", default="data_cache/tiny-qwen2.5-vl")
    parser.add_argument("--root", default="data_cache/synthetic-easy-train32-test16-seed0")
    parser.add_argument("--n-train", type=int, default=32)
    parser.add_argument("--n-test", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--max-side", type=int, default=64)
    parser.add_argument("--min-pixels", type=int, default=3136)
    parser.add_argument("--span-noise-s", type=float, default=1.0)
    parser.add_argument("--box-noise", type=float, default=0.3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default="runs/ablation_cot")
    args = parser.parse_args()

    out = Path(args.out)
    model = Path(args.model_path)
    if not (model / "config.json").is_file():
        from stvg.policies.vlm.tiny import build_tiny_checkpoint

        build_tiny_checkpoint("qwen2.5-vl", model)
    for split, n in (("train", args.n_train), ("test", args.n_test)):
        ensure_synthetic_split(args.root, split, n, 0, "easy")
    policy = {
        "model_path": str(model),
        "min_pixels": args.min_pixels,
        "max_new_tokens": 768,
        "device": args.device,
        "dtype": args.dtype,
    }
    _, spec = checkpoint_contract(from_dict(VLMPolicyConfig, policy))
    env = {"dataset": "synthetic", "root": args.root, "fps": 1.0, "max_side": args.max_side}

    # The noisy scene teacher, once; both CoT arms come from the same trajectories.
    synthesis = synthesize(
        load_synthesis_config(
            {
                "teacher": {
                    "name": "scene",
                    "scene": {"span_noise_s": args.span_noise_s, "box_noise": args.box_noise},
                },
                "env": {**env, "split": "train"},
                "contract": {
                    "answer_format": spec.answer_format,
                    "coords": spec.coords,
                    "model_geometry": spec.geometry.to_dict() if spec.geometry else None,
                },
                "keep": "all",
                "out": str(out / "synthesis"),
                "progress": False,
            }
        )
    )
    records = read_records(synthesis.out_dir / RECORDS_FILE)
    raw = {r["sample_id"]: r["teacher_text"] for r in records if r.get("target")}
    write_targets(out / "raw_targets.jsonl", raw)
    arms = {
        "replaced": synthesis.out_dir / TARGETS_FILE,
        "raw": out / "raw_targets.jsonl",
        "answer": None,  # ground-truth answers rendered by the contract
    }
    teacher = synthesis.manifest["teacher_metrics"]["over_parsed"]
    print(
        f"teacher before replacement: m_tIoU {teacher['m_tIoU']:.4f} m_vIoU "
        f"{teacher['m_vIoU']:.4f} over {teacher['n']} answers"
    )
    results = {}
    for arm, targets in arms.items():
        tick = time.perf_counter()
        config = from_dict(
            VLMSFTConfig,
            {
                "policy": {"name": "vlm", "config": policy},
                "env": env,
                "data": {
                    "train_split": "train",
                    "eval_split": "test",
                    "generate": False,
                    "targets": None if targets is None else str(targets),
                },
                "epochs": args.epochs,
                "batch_size": 4,
                "micro_batch_size": 4,
                "lr": args.lr,
                "warmup_steps": 10,
                "seed": 0,
                "threads": args.threads,
                "out_dir": str(out / f"sft_{arm}"),
            },
        )
        result = train_sft_vlm(config, progress=False, log=None)
        metrics = result.eval_metrics
        results[arm] = {
            "m_tIoU": metrics["m_tIoU"],
            "m_vIoU": metrics["m_vIoU"],
            "parse_errors": metrics.get("parse_errors"),
            "seconds": time.perf_counter() - tick,
        }
    print("| SFT targets | test m_tIoU | test m_vIoU | parse errors | seconds |")
    print("|---|---:|---:|---:|---:|")
    for arm, row in results.items():
        print(
            f"| {arm} | {100 * row['m_tIoU']:.2f} | {100 * row['m_vIoU']:.2f} | "
            f"{row['parse_errors']} | {row['seconds']:.0f} |"
        )
    (out / "ablation.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
