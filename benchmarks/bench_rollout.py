"""Benchmark: GRPO rollout throughput with 0, 1 and 2 Ray workers, and the learner's step.

Each setting runs the real trainer (:class:`stvg.training.loop.Trainer`, GRPO) for
``--iterations`` iterations on the quickstart's env settings (synthetic easy split, 1 fps,
10 frames of 64 px, struct actions) with a fresh native policy of the quickstart's size,
``--batch-size`` prompts x ``--group-size`` answers per iteration, and reads its
``metrics.jsonl``:

* rollout throughput = answers played per second of the rollout stage (weights broadcast,
  env resets and steps, policy sampling, experience sent back), ``charts/rollout_SPS``;
* learner step = seconds of the update stage of one iteration (log-probs of every answer,
  the GRPO loss, backward, Adam), ``time/update_s``.

The first ``--warmup`` iterations (actor start-up, first video decodes) are left out of
the means; with the default 16 videos and 16 prompts per iteration every worker has every
video in its frame cache by then, so the figures are the steady state. ``num_workers: 0`` plays in the learner's process; 1 and 2 use Ray actors of one
CPU each; the ratio of 2 to 1 workers is the scaling of the rollout stage. Run::

    .venv/bin/python benchmarks/bench_rollout.py [--iterations 12] [--warmup 4] \\
        [--batch-size 16] [--group-size 8] [--task-size 2] [--n 16] [--out bench_rollout.json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np


def run_setting(
    root: Path, checkpoint: Path, out_dir: Path, workers: int, args: argparse.Namespace
) -> dict[str, Any]:
    """Train ``args.iterations`` GRPO iterations with ``workers`` rollout workers; returns
    the mean rollout throughput and learner step time after the warm-up."""
    from stvg.config import from_dict
    from stvg.training.config import TrainConfig
    from stvg.training.loop import Trainer
    from stvg.training.run_dir import read_metrics

    config = from_dict(
        TrainConfig,
        {
            "algorithm": "grpo",
            "name": f"workers{workers}",
            "out_dir": str(out_dir),
            "iterations": args.iterations,
            "batch_size": args.batch_size,
            "learning_rate": 1e-4,
            "progress_bar": False,
            "torch_threads": 1,
            "checkpoint_every": 10_000,
            "env": {
                "id": "stvg/Grounding-v0",
                "kwargs": {
                    "dataset": "synthetic",
                    "root": str(root),
                    "split": "train",
                    "fps": 1.0,
                    "max_frames": 10,
                    "max_side": 64,
                    "action_format": "struct",
                },
            },
            "policy": {"name": "native", "config": {"checkpoint": str(checkpoint)}},
            "grpo": {"group_size": args.group_size},
            "rollout": {
                "num_workers": workers,
                "num_cpus_per_worker": 1,
                "task_size": args.task_size,
            },
        },
    )
    started = time.perf_counter()
    trainer = Trainer.create(config, tensorboard=False)
    try:
        trainer.train()
    finally:
        trainer.close()
    lines = read_metrics(trainer.run_dir.path)[args.warmup :]
    return {
        "num_workers": workers,
        "answers_per_iteration": args.batch_size * args.group_size,
        "rollout_answers_per_s": float(np.mean([line["charts/rollout_SPS"] for line in lines])),
        "rollout_s": float(np.mean([line["time/rollout_s"] for line in lines])),
        "learner_step_s": float(np.mean([line["time/update_s"] for line in lines])),
        "iteration_s": float(np.mean([line["time/iteration_s"] for line in lines])),
        "wall_s": time.perf_counter() - started,
    }


def main() -> None:
    """Run the three settings and print a table (and write JSON with ``--out``)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=12)
    parser.add_argument("--warmup", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--group-size", type=int, default=8)
    parser.add_argument("--task-size", type=int, default=2, help="prompts per rollout task")
    parser.add_argument("--n", type=int, default=16, help="videos in the generated split")
    parser.add_argument("--out", help="write the figures as JSON here")
    args = parser.parse_args()
    if args.iterations <= args.warmup:
        parser.error("--iterations must exceed --warmup")

    import ray

    from stvg.data import load_dataset
    from stvg.data.synthetic import generate_split
    from stvg.policies.native import NativePolicy

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "data"
        generate_split(root, "train", args.n, 0, difficulty="easy")
        samples = list(load_dataset("synthetic", root=root, split="train"))
        checkpoint = NativePolicy.from_samples(samples, seed=0).save(Path(tmp) / "policy.pt")
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        try:
            rows = [run_setting(root, checkpoint, Path(tmp) / "runs", w, args) for w in (0, 1, 2)]
        finally:
            ray.shutdown()

    print(
        f"GRPO rollouts, {args.batch_size} prompts x {args.group_size} answers per iteration, "
        f"means of iterations {args.warmup + 1}..{args.iterations}"
    )
    print(
        f"{'workers':>7} {'answers/s':>10} {'rollout s':>10} {'learner step s':>15} {'iteration s':>12}"
    )
    for row in rows:
        print(
            f"{row['num_workers']:>7} {row['rollout_answers_per_s']:>10.1f} {row['rollout_s']:>10.3f} "
            f"{row['learner_step_s']:>15.3f} {row['iteration_s']:>12.3f}"
        )
    one, two = rows[1], rows[2]
    ratio = two["rollout_answers_per_s"] / one["rollout_answers_per_s"]
    print(f"rollout throughput, 2 workers / 1 worker: {ratio:.2f}x")
    if args.out:
        payload = {"settings": vars(args), "rows": rows, "ratio_2_over_1": ratio}
        Path(args.out).write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
