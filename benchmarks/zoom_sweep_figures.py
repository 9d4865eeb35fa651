"""Figures of the glance-and-zoom sweep (``sweeps/zoom.yaml``) from its folder.

* ``zoom_tradeoff.png``: test m_vIoU and m_tIoU against frames per query: the uniform-rate
  curve (the ``look=uniform*`` cells), the learned glance + zoom (``look=learned``), and the
  same answerer behind the scripted zoom rules (none, random, oracle: ``results.csv``'s
  ``zoom_<rule>/*`` columns); means over seeds with 95% Student-t intervals.
* ``zoom_curves.png``: learning curves of the zoom decision, one line per seed: SFT
  validation (m_vIoU, zoom rate per epoch) and GRPO (zooms per sampled episode, the sampled
  answers' vIoU per iteration).

Usage::

    python benchmarks/zoom_sweep_figures.py sweeps/zoom --out docs/images
"""

from __future__ import annotations

import argparse
import csv
import json
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy import stats  # noqa: E402


def mean_ci(values: list[float]) -> tuple[float, float]:
    """Mean and the half-width of its 95% Student-t interval (0 for one value)."""
    x = np.asarray(values, dtype=float)
    if len(x) < 2:
        return float(x.mean()), 0.0
    return float(x.mean()), float(stats.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x)))


def tradeoff(rows: list[dict[str, str]], out: Path) -> None:
    cells: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        cells[row["cell"]].append(row)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, metric in zip(axes, ("m_vIoU", "m_tIoU"), strict=True):
        uniform = sorted(
            (mean_ci([float(r["cost/frames_shown"]) for r in rs])[0], rs)
            for cell, rs in cells.items()
            if cell.startswith("look=uniform")
        )
        xs = [x for x, _ in uniform]
        ys = [mean_ci([100 * float(r[f"final/{metric}"]) for r in rs]) for _, rs in uniform]
        ax.errorbar(
            xs,
            [m for m, _ in ys],
            yerr=[h for _, h in ys],
            fmt="o-",
            capsize=3,
            label="uniform sampling (0.25 .. 2 fps)",
        )
        learned = cells.get("look=learned", [])
        points = [("learned zoom", "final", "cost/frames_shown", "s")]
        points += [
            (f"{rule} zoom (same answerer)", f"zoom_{rule}", f"zoom_{rule}/frames_shown", m)
            for rule, m in (("none", "v"), ("random", "x"), ("oracle", "^"))
        ]
        for label, prefix, frames_key, marker in points:
            if not learned or f"{prefix}/{metric}" not in learned[0]:
                continue
            x = mean_ci([float(r[frames_key]) for r in learned])[0]
            m, h = mean_ci([100 * float(r[f"{prefix}/{metric}"]) for r in learned])
            ax.errorbar(
                [x], [m], yerr=[h], fmt=marker, capsize=3, label=f"glance 0.25 fps + {label}"
            )
        ax.set(xscale="log", xlabel="frames shown per query (log)", ylabel=f"test {metric} (%)")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "zoom_tradeoff.png", dpi=110)


def curves(sweep: Path, out: Path) -> None:
    stages = sweep.parent / "stages" if not (sweep / "stages").is_dir() else sweep / "stages"
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    for trial in sorted((sweep / "trials").glob("look=learned*")):
        seed = trial.name.split("seed=")[-1]
        text = (trial / "log.txt").read_text(encoding="utf-8")
        for sft in (p for p in stages.glob("sft-*") if p.is_dir() and p.name in text):
            lines = (sft / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
            rows = [json.loads(line) for line in lines if "val/zoom_rate" in line]
            epochs = [r["epoch"] for r in rows]
            (line,) = axes[0].plot(
                epochs, [100 * r["val/m_vIoU"] for r in rows], label=f"seed {seed}"
            )
            axes[0].plot(
                epochs, [100 * r["val/zoom_rate"] for r in rows], "--", color=line.get_color()
            )
        for rl in (p for p in stages.glob("rl-*") if p.is_dir() and p.name in text):
            lines = next(rl.glob("*/metrics.jsonl")).read_text(encoding="utf-8").splitlines()
            rows = [json.loads(line) for line in lines]
            its = [r["iteration"] for r in rows]
            axes[1].plot(its, [r["cost/zooms"] for r in rows], label=f"seed {seed}")
            axes[2].plot(
                its, [100 * r["rewards/sampled/v_iou"] for r in rows], label=f"seed {seed}"
            )
    axes[0].set(
        title="SFT validation: m_vIoU (solid), zoom rate (dashed)", xlabel="epoch", ylabel="%"
    )
    axes[1].set(title="GRPO: zooms per sampled episode", xlabel="iteration", ylim=(0, 1.05))
    axes[2].set(title="GRPO: sampled answers' vIoU", xlabel="iteration", ylabel="%")
    for ax in axes:
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "zoom_curves.png", dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sweep", type=Path, help="the sweep's folder (sweeps/zoom)")
    parser.add_argument("--out", type=Path, default=Path("."), help="folder for the PNGs")
    args = parser.parse_args()
    rows = list(csv.DictReader((args.sweep / "results.csv").open(encoding="utf-8")))
    args.out.mkdir(parents=True, exist_ok=True)
    tradeoff([r for r in rows if r.get("status", "ok") == "ok"], args.out)
    curves(args.sweep, args.out)
    print(f"wrote {args.out / 'zoom_tradeoff.png'} and {args.out / 'zoom_curves.png'}")


if __name__ == "__main__":
    main()
