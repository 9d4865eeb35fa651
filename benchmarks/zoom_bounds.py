"""Experiment: what a zoom can buy, bounded with scripted zoom decisions.

One answering policy (a ``native`` checkpoint, e.g. the one ``make demo`` trains) answers the
test split twice over:

* **uniform** — ``stvg/Grounding-v0`` at each rate of ``--rates`` (frames spread evenly);
* **glance and zoom** — ``stvg/ZoomGrounding-v0`` (glance at ``--glance-fps`` on a
  ``--grid-fps`` grid) with the scripted rules of the ``zoom`` policy: ``none`` (glance
  only), ``oracle`` (one zoom on the ground-truth span ± ``--margin`` s: the upper bound of
  the mechanism), ``random`` and ``center`` (a window of the oracle's width placed at random
  / in the middle: the controls, at the oracle's frame cost).

It prints, per arm, frames and Qwen2.5-VL / Qwen3-VL visual tokens per query, m_tIoU and
m_vIoU with 95% bootstrap intervals over samples, and the paired difference (per sample)
of each zoom rule against the uniform rate whose mean frames per query is nearest to the
rule's. Everything runs through ``stvg.evaluation.evaluate_policy``, the path of ``stvg
evaluate``. Run::

    .venv/bin/python benchmarks/zoom_bounds.py --checkpoint runs/demo/sft/policy.pt \\
        --root data_cache/synthetic-easy-train600-test100-seed0 [--split test] \\
        [--rates 0.25 0.5 0.75 1 2] [--out zoom_bounds.json]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from stvg.config import from_dict
from stvg.evaluation.config import PolicyEvalConfig
from stvg.evaluation.evaluate import evaluate_policy
from stvg.stats import Interval, paired_difference

RULES = ("none", "oracle", "random", "center")


def evaluate_arm(policy: dict[str, Any], env: dict[str, Any], limit: int | None) -> dict[str, Any]:
    config = from_dict(
        PolicyEvalConfig,
        {"policy": policy, "env": env, "progress": False, "batch_size": 32, "limit": limit},
    )
    started = time.perf_counter()
    result = evaluate_policy(config)
    rows = sorted(result.per_sample, key=lambda r: r["sample_id"])
    return {
        "sample_ids": [r["sample_id"] for r in rows],
        "t_iou": [float(r["t_iou"]) for r in rows],
        "v_iou": [float(r["v_iou"]) for r in rows],
        "frames": float(np.mean([r["cost/frames_shown"] for r in rows])),
        "tokens_qwen25": float(np.mean([r["cost/visual_tokens/qwen2.5-vl"] for r in rows])),
        "tokens_qwen3": float(np.mean([r["cost/visual_tokens/qwen3-vl"] for r in rows])),
        "seconds": time.perf_counter() - started,
    }


def bootstrap_mean(values: list[float], seed: int = 0) -> tuple[float, float, float]:
    """Mean with a 95% percentile bootstrap interval over samples (10,000 resamples)."""
    x = np.asarray(values, dtype=np.float64)
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, x.size, size=(10_000, x.size))].mean(axis=1)
    return float(x.mean()), float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))


def percent(ci: tuple[float, float, float]) -> str:
    return f"{100 * ci[0]:5.1f} [{100 * ci[1]:5.1f}, {100 * ci[2]:5.1f}]"


def difference(a: list[float], b: list[float]) -> str:
    d: Interval = paired_difference(a, b)
    return f"{100 * d.mean:+.1f} [{100 * d.lo:+.1f}, {100 * d.hi:+.1f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True, help="a native policy checkpoint")
    parser.add_argument("--root", required=True, help="the synthetic (or any) dataset root")
    parser.add_argument("--dataset", default="synthetic")
    parser.add_argument("--split", default="test")
    parser.add_argument("--rates", type=float, nargs="+", default=[0.25, 0.5, 0.75, 1.0, 2.0])
    parser.add_argument("--grid-fps", type=float, default=1.0)
    parser.add_argument("--glance-fps", type=float, default=0.25)
    parser.add_argument("--zoom-fps", type=float, default=None)
    parser.add_argument("--margin", type=float, default=1.0)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--out", type=Path, default=Path("zoom_bounds.json"))
    args = parser.parse_args()
    answerer = {"name": "native", "config": {"checkpoint": args.checkpoint}}
    data = {"dataset": args.dataset, "split": args.split, "root": args.root, "max_side": 224}
    arms: dict[str, dict[str, Any]] = {}
    for rate in args.rates:
        arms[f"uniform {rate:g} fps"] = evaluate_arm(
            answerer, {"id": "stvg/Grounding-v0", **data, "fps": rate}, args.limit
        )
    zoom_env = {
        "id": "stvg/ZoomGrounding-v0",
        **data,
        "fps": args.grid_fps,
        "glance_fps": args.glance_fps,
        "max_zooms": 1,
    }
    for rule in RULES:
        policy = {
            "name": "zoom",
            "config": {
                "rule": rule,
                "answerer": answerer,
                "zoom_fps": args.zoom_fps,
                "margin_s": args.margin,
            },
        }
        arms[f"zoom {rule}"] = evaluate_arm(policy, zoom_env, args.limit)
    ids = {tuple(arm["sample_ids"]) for arm in arms.values()}
    if len(ids) != 1:
        raise SystemExit("the arms scored different samples: cannot pair them")
    print(
        f"{len(next(iter(ids)))} samples of {args.root} ({args.split}); answerer {args.checkpoint}"
    )
    print(
        f"{'arm':<20} {'frames':>7} {'tok 2.5':>8} {'tok 3':>6}  "
        f"{'m_tIoU % [95% CI]':>22}  {'m_vIoU % [95% CI]':>22}"
    )
    for name, arm in arms.items():
        print(
            f"{name:<20} {arm['frames']:7.2f} {arm['tokens_qwen25']:8.0f} {arm['tokens_qwen3']:6.0f}  "
            f"{percent(bootstrap_mean(arm['t_iou'])):>22}  {percent(bootstrap_mean(arm['v_iou'])):>22}"
        )
    uniform = {k: v for k, v in arms.items() if k.startswith("uniform")}
    print("\npaired differences (zoom rule - the uniform rate nearest in frames), points:")
    for rule in RULES:
        arm = arms[f"zoom {rule}"]
        nearest = min(uniform, key=lambda k: abs(uniform[k]["frames"] - arm["frames"]))
        base = uniform[nearest]
        print(
            f"  {rule:<7} ({arm['frames']:.2f} frames) vs {nearest} ({base['frames']:.2f}): "
            f"m_vIoU {difference(arm['v_iou'], base['v_iou'])}, "
            f"m_tIoU {difference(arm['t_iou'], base['t_iou'])}"
        )
    for rule in ("random", "center"):
        print(
            f"  oracle vs {rule}: m_vIoU "
            f"{difference(arms['zoom oracle']['v_iou'], arms[f'zoom {rule}']['v_iou'])}"
        )
    args.out.write_text(
        json.dumps({"args": vars(args) | {"out": str(args.out)}, "arms": arms}, indent=1)
    )


if __name__ == "__main__":
    main()
