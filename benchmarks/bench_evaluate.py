"""Benchmark: reading a large predictions file, and ``stvg evaluate`` end to end.

Writes a predictions file of ``--samples`` samples x ``--boxes`` boxes (default 12,200 x
250, about 200 MB, in ``--dir``, default ``/tmp``; never in the repository), then, each in
a fresh subprocess so that the peak memory is its own:

* **old**: the reader before issue 12 (``json.loads`` of the whole text, then per-box
  Python validation, :func:`stvg.verifiers.predictions._parse_entry`);
* **new**: :func:`stvg.verifiers.predictions.load_predictions` (``msgspec`` raw slices,
  one sample decoded at a time into numpy arrays);
* **evaluate**: ground truth for the same ids built in memory (not timed), then
  ``load_predictions`` + :func:`stvg.verifiers.evaluation.evaluate` timed together.

It checks that old and new give the same spans and boxes, and prints wall seconds and the
peak resident memory of each (``resource.getrusage(RUSAGE_SELF).ru_maxrss``, MiB), also as
the increase over the resident memory after the imports (the part the file costs). Run::

    .venv/bin/python benchmarks/bench_evaluate.py [--samples 12200] [--boxes 250]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import msgspec
import numpy as np

NUM_FRAMES = 1000  # native frames per synthetic video
NATIVE_FPS = 30.0  # frames per second of the synthetic videos


def spans(n_samples: int, n_boxes: int, seed: int) -> np.ndarray:
    """Seeded GT first frames ``[n_samples]``: spans of ``n_boxes`` frames in the video."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, NUM_FRAMES - n_boxes, size=n_samples)


def write_file(path: Path, n_samples: int, n_boxes: int, seed: int) -> int:
    """Write the predictions file (one box per frame of each span); returns its bytes."""
    rng = np.random.default_rng(seed + 1)
    firsts = spans(n_samples, n_boxes, seed)
    encoder = msgspec.json.Encoder()
    with path.open("wb") as fh:
        fh.write(b"{")
        for i, first in enumerate(firsts):
            xy = 100.0 + np.cumsum(rng.normal(0.0, 2.0, size=(n_boxes, 2)), axis=0)
            boxes = np.round(np.concatenate([xy, xy + 80.0], axis=1), 10).tolist()
            bbox = {str(int(first) + k): box for k, box in enumerate(boxes)}
            entry = {"st_frame": int(first), "ed_frame": int(first) + n_boxes - 1, "bbox": bbox}
            fh.write((b", " if i else b"") + encoder.encode(f"video{i:05d}.mp4") + b": ")
            fh.write(encoder.encode(entry))
        fh.write(b"}")
    return path.stat().st_size


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def _rss_mb() -> float:
    """Current resident memory in MiB (Linux ``/proc/self/statm``)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _worker(mode: str, path: str, n_boxes: int, seed: int) -> dict:
    from stvg.verifiers.evaluation import evaluate  # noqa: F401  (imports before the baseline)
    from stvg.verifiers.predictions import _parse_entry, load_predictions

    base = _rss_mb()
    start = time.perf_counter()
    if mode == "old":
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        preds = {sid: _parse_entry(path, sid, entry) for sid, entry in data.items()}
        del data
    elif mode == "new":
        preds = load_predictions(path).predictions
    else:
        from stvg.data.types import Sample
        from stvg.verifiers.evaluation import evaluate

        samples = []
        for i, first in enumerate(spans(len(load_ids(path)), n_boxes, seed)):  # not timed
            f0 = int(first) + 5  # GT 5 frames later than the prediction
            gt = {f0 + k: [100.0, 100.0, 180.0, 180.0] for k in range(n_boxes)}
            sid = f"video{i:05d}.mp4"
            samples.append(
                Sample(sid, sid, "q", NATIVE_FPS, NUM_FRAMES, 640, 360, (f0, f0 + n_boxes - 1), gt)
            )
        start = time.perf_counter()
        preds = load_predictions(path).predictions
        evaluate(samples, preds)
        seconds = time.perf_counter() - start
        return {"seconds": seconds, "peak_mb": _peak_mb(), "base_mb": base}
    seconds = time.perf_counter() - start
    digest = [len(preds), sum(len(p.tube) for p in preds.values())]
    digest.append(float(sum(p.tube.boxes_xyxy.sum() for p in preds.values())))
    return {"seconds": seconds, "peak_mb": _peak_mb(), "base_mb": base, "digest": digest}


def load_ids(path: str) -> list[str]:
    """The sample ids of the file (fast: raw slices only)."""
    return list(msgspec.json.decode(Path(path).read_bytes(), type=dict[str, msgspec.Raw]))


def main(argv: Sequence[str] | None = None) -> int:
    """Write the file, run the three measurements, print them; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=12_200)
    parser.add_argument("--boxes", type=int, default=250, help="boxes per sample")
    parser.add_argument("--dir", default="/tmp", help="folder for the generated file")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-old", action="store_true", help="do not time the old reader")
    parser.add_argument("--worker", nargs=2, metavar=("MODE", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(_worker(args.worker[0], args.worker[1], args.boxes, args.seed)))
        return 0

    path = Path(args.dir) / f"stvg_bench_preds_{args.samples}x{args.boxes}.json"
    size = write_file(path, args.samples, args.boxes, args.seed)
    size_mb = size / 2**20
    print(f"{path}: {args.samples} samples x {args.boxes} boxes, {size_mb:.1f} MiB")
    results = {}
    try:
        for mode in ("new", "evaluate") if args.skip_old else ("old", "new", "evaluate"):
            cmd = [sys.executable, __file__, "--worker", mode, str(path)]
            cmd += ["--boxes", str(args.boxes), "--seed", str(args.seed)]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=os.environ)
            results[mode] = json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        path.unlink(missing_ok=True)
    if "old" in results and results["old"]["digest"] != results["new"]["digest"]:
        raise AssertionError(f"old {results['old']['digest']} != new {results['new']['digest']}")
    labels = {
        "old": "old reader (json.loads + per-box checks)",
        "new": "new reader (load_predictions)",
        "evaluate": "load_predictions + evaluate()",
    }
    for mode, r in results.items():
        added = r["peak_mb"] - r["base_mb"]
        print(
            f"  {labels[mode]:40s} {r['seconds']:7.2f} s  peak RSS {r['peak_mb']:6.0f} MiB, "
            f"{added:6.0f} MiB above the {r['base_mb']:.0f} MiB after imports "
            f"({added / size_mb:.2f}x file)"
        )
    if "old" in results:
        print(
            f"  speed-up of the reader: {results['old']['seconds'] / results['new']['seconds']:.1f}x"
        )
        print("  old and new readers give the same predictions")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
