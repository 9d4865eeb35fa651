"""Benchmark: VLM rollout throughput, batched vs one prompt / one completion at a time.

A tiny random Qwen VL checkpoint (``stvg models tiny``) answers ``--prompts`` observations
of the synthetic benchmark (``stvg/Synthetic-v0`` at 1 fps: 10 frames of 224x224, the
env's contract filled from the policy) with ``--completions`` sampled completions each,
``--max-new-tokens`` tokens per completion. Three ways to produce the same rollouts
(completions and their log-probabilities, as ``VLMPolicy.sample`` returns them):

* ``batched`` — ``policy.sample(all_prompts, n)``: one left-padded prefill encodes every
  prompt (video and text) once, its KV cache is repeated ``n`` times, ONE ``generate``
  call samples the ``B * n`` rows and records their log-probabilities;
* ``batched_rescore`` — the same with ``rollout_log_probs="rescore"``: the log-probs from a
  separate no-grad forward pass in micro-batches (each video encoded once per micro-batch);
* ``per_prompt`` — ``policy.sample([prompt], n)`` for each prompt;
* ``old_path`` — what ``sample`` did before batching, per prompt: ``generate`` with
  ``num_return_sequences=n`` (the language model runs over the prompt ``n`` times), then a
  no-grad scoring pass over the ``n`` rows;
* ``per_completion`` — ``policy.sample([prompt], 1)`` ``n`` times for each prompt.

Each mode runs in its own process (so ``ru_maxrss``, the peak resident memory, is that
mode's) and plays the whole workload ``1 + --repeats`` times: an untimed warm-up
(first-call allocations of every shape), then timed runs of which the fastest counts (the
one least disturbed by other processes on the machine). The table gives completions per
second, the ratios to ``old_path`` and ``per_completion``, and peak memory (also above the
process's memory after loading, before the warm-up). Run::

    .venv/bin/python benchmarks/bench_vlm_rollout.py [--family qwen2.5-vl] [--prompts 8] \\
        [--completions 8] [--max-new-tokens 32] [--threads 2] [--repeats 3] \\
        [--out bench_vlm_rollout.json]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

MODES = ("batched", "batched_rescore", "per_prompt", "old_path", "per_completion")


def observations(policy: Any, count: int) -> list[dict[str, Any]]:
    """``count`` observations of ``stvg/Synthetic-v0`` in the policy's answer contract."""
    import gymnasium as gym

    import stvg.envs  # noqa: F401  (registers the env ids)

    spec = policy.answer_spec
    env = gym.make(
        "stvg/Synthetic-v0",
        fps=spec.fps,
        answer_format=spec.answer_format,
        coords=spec.coords,
        model_geometry=spec.geometry,
    )
    out = []
    for seed in range(count):
        obs, _ = env.reset(seed=seed)
        out.append(obs)
    env.close()
    return out


def run_mode(args: argparse.Namespace) -> dict[str, Any]:
    """Time one mode in this process; returns its figures (the child side)."""
    import torch

    from stvg.policies.vlm import VLMPolicy

    torch.set_num_threads(args.threads)
    policy = VLMPolicy(
        args.checkpoint,
        fps=1.0,
        max_new_tokens=args.max_new_tokens,
        micro_batch_size=args.micro_batch_size,
        rollout_log_probs="rescore" if args.mode == "batched_rescore" else "generation",
        device="cpu",
        seed=0,
    )
    obs = observations(policy, args.prompts)
    loaded_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    n = args.completions

    def old_path(o: dict[str, Any]) -> int:
        prep = policy.prepare(o)
        completions = policy._generate([prep], n, True, share_prefill=False)
        ids, mask = policy._pad_completions(completions)
        with torch.no_grad():
            policy._score([prep], [0] * len(ids), ids, mask, range(len(ids)))
        return len(completions)

    def play() -> int:
        if args.mode in ("batched", "batched_rescore"):
            return len(policy.sample(obs, n))
        if args.mode == "per_prompt":
            return sum(len(policy.sample([o], n)) for o in obs)
        if args.mode == "old_path":
            return sum(old_path(o) for o in obs)
        return sum(len(policy.sample([o], 1)) for o in obs for _ in range(n))

    play()  # warm-up: first-call allocations of every shape
    seconds = float("inf")
    for _ in range(args.repeats):  # the fastest run: the least disturbed by other processes
        start = time.perf_counter()
        completions = play()
        seconds = min(seconds, time.perf_counter() - start)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "mode": args.mode,
        "completions": completions,
        "seconds": seconds,
        "completions_per_s": completions / seconds,
        "peak_rss_mib": peak_kib / 1024,
        "loaded_rss_mib": loaded_kib / 1024,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--family", default="qwen2.5-vl", choices=("qwen2.5-vl", "qwen3-vl"))
    parser.add_argument("--prompts", type=int, default=8)
    parser.add_argument("--completions", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--micro-batch-size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2, help="torch threads (2 cores)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per mode (best)")
    parser.add_argument("--out", help="write the figures as JSON here")
    parser.add_argument("--mode", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--checkpoint", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.mode is not None:  # child: one mode, figures as JSON on stdout
        print(json.dumps(run_mode(args)))
        return 0

    from stvg.policies.vlm.tiny import build_tiny_checkpoint

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = build_tiny_checkpoint(args.family, Path(tmp) / "tiny", seed=0)
        for mode in MODES:
            command = [
                sys.executable,
                __file__,
                "--mode",
                mode,
                "--checkpoint",
                str(checkpoint),
                *("--family", args.family, "--prompts", str(args.prompts)),
                *("--completions", str(args.completions)),
                *("--max-new-tokens", str(args.max_new_tokens)),
                *("--micro-batch-size", str(args.micro_batch_size)),
                *("--threads", str(args.threads), "--repeats", str(args.repeats)),
            ]
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                print(done.stderr, file=sys.stderr)
                return done.returncode
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))

    by_mode = {row["mode"]: row for row in rows}
    print(
        f"{args.family} tiny, {args.prompts} prompts x {args.completions} completions, "
        f"{args.max_new_tokens} new tokens, {args.threads} threads"
    )
    header = (
        f"{'mode':<16} {'seconds':>8} {'compl/s':>8} {'x old_path':>11} "
        f"{'x per_compl':>12} {'peak MiB':>9} {'+MiB run':>9}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        row["x_old_path"] = row["completions_per_s"] / by_mode["old_path"]["completions_per_s"]
        row["x_per_completion"] = (
            row["completions_per_s"] / by_mode["per_completion"]["completions_per_s"]
        )
        print(
            f"{row['mode']:<16} {row['seconds']:>8.2f} {row['completions_per_s']:>8.2f} "
            f"{row['x_old_path']:>11.2f} {row['x_per_completion']:>12.2f} "
            f"{row['peak_rss_mib']:>9.0f} {row['peak_rss_mib'] - row['loaded_rss_mib']:>9.0f}"
        )
    if args.out:
        Path(args.out).write_text(json.dumps({"args": vars(args), "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
