"""Benchmark: the wall time of ``make demo`` and ``make demo-vlm`` (their ``stvg run``) and
the machine it was measured on: the figures README states.

Each demo runs ``--repeats`` times as a fresh ``stvg run`` of its shipped config (a new run
folder each time; the synthetic data and the tiny checkpoint are built by the first run and
reused, as a user's second ``make demo`` does, unless ``--fresh-data``), in a subprocess,
timed end to end (Python start-up and imports included). The report names the machine: CPU
model, the cores this process may use, the load average before each run, and the torch
thread counts and stage times each run recorded in its ``summary.json``. Run::

    .venv/bin/python benchmarks/bench_demo.py [--repeats 3] [--demos demo demo-vlm] \\
        [--fresh-data] [--out bench_demo.json]

Run it on an otherwise idle machine for the figures README gives; on a shared one the load
column says how busy it was.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEMOS = {
    "demo": "stvg/experiments/configs/quickstart.yaml",
    "demo-vlm": "stvg/experiments/configs/vlm_tiny_quickstart.yaml",
}


def machine() -> dict[str, Any]:
    """CPU model, usable cores (affinity and container quota), total cores, Python, torch."""
    import torch

    from stvg.training.threads import usable_cores

    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": model,
        "usable_cores": usable_cores(),
        "host_cores": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "platform": platform.platform(),
    }


def run_once(demo: str, work: Path, index: int) -> dict[str, Any]:
    """One timed ``stvg run`` of ``demo`` in ``work`` (its own run name)."""
    name = f"bench_{demo.replace('-', '_')}_{index}"
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "stvg.cli", "run", str(ROOT / DEMOS[demo]), "--name", name],
        cwd=work,
        env={**os.environ, "PYTHONPATH": str(ROOT), "STVG_PROGRESS": "off"},
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"{demo} failed:\n{result.stderr[-3000:]}")
    summary = json.loads((work / "runs" / name / "summary.json").read_text(encoding="utf-8"))
    return {
        "demo": demo,
        "wall_s": wall,
        "load_1min_before": load,
        "threads": summary.get("threads"),
        "stages_s": summary.get("timings_s"),
        "m_vIoU": [
            summary["before_rl"]["metrics"]["m_vIoU"],
            summary["after_rl"]["metrics"]["m_vIoU"],
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--demos", nargs="+", choices=sorted(DEMOS), default=sorted(DEMOS))
    parser.add_argument("--fresh-data", action="store_true", help="rebuild data each run")
    parser.add_argument("--work", type=Path, help="working folder (default: a temporary one)")
    parser.add_argument("--out", type=Path, default=Path("bench_demo.json"))
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="bench_demo_"))
    work.mkdir(parents=True, exist_ok=True)
    runs = []
    for demo in args.demos:
        for index in range(args.repeats):
            if args.fresh_data:
                shutil.rmtree(work / "data_cache", ignore_errors=True)
            runs.append(run_once(demo, work, index))
            last = runs[-1]
            print(
                f"{demo} #{index + 1}: {last['wall_s'] / 60:.1f} min (load {last['load_1min_before']:.1f}, "
                f"threads {last['threads']})",
                flush=True,
            )
    report = {"machine": machine(), "runs": runs}
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(report["machine"], indent=2))
    for demo in args.demos:
        walls = sorted(r["wall_s"] / 60 for r in runs if r["demo"] == demo)
        print(
            f"{demo}: {', '.join(f'{w:.1f}' for w in walls)} min (median {walls[len(walls) // 2]:.1f})"
        )


if __name__ == "__main__":
    main()
