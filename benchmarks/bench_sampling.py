"""Benchmark: low-fps sampling with VideoReader vs decoding every frame.

Writes a synthetic video (default 60 s, 640x360, 30 fps, mp4v) to a temporary folder, then
times, once each:

* ``decode-all``: ``cv2.VideoCapture.read()`` on every frame, keeping the sampled ones (what
  a reader without frame skipping does);
* ``VideoReader.sample(rate)`` with each seek policy (``grab``, ``seek``, ``auto``).

It checks that every method returns the same frames and prints the seconds and the speed-up
over ``decode-all``, plus the cost of one ``grab()`` and of one seek on this video.

Usage::

    .venv/bin/python benchmarks/bench_sampling.py [--seconds 60] [--rates 1 0.5 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from stvg.data import VideoReader, sample_frame_indices

WIDTH, HEIGHT, NATIVE_FPS = 640, 360, 30.0  # pixels, pixels, frames per second


def write_video(path: Path, num_frames: int) -> None:
    """A textured video that scrolls 3 px per frame and prints its frame number."""
    rng = np.random.default_rng(0)
    texture = cv2.resize(
        rng.integers(0, 256, (HEIGHT // 8, WIDTH // 8, 3), dtype=np.uint8),
        (WIDTH, HEIGHT),
        interpolation=cv2.INTER_LINEAR,
    )
    writer = cv2.VideoWriter(
        str(path), cv2.VideoWriter_fourcc(*"mp4v"), NATIVE_FPS, (WIDTH, HEIGHT)
    )
    for i in range(num_frames):
        frame = np.roll(texture, 3 * i, axis=1)
        cv2.putText(frame, str(i), (20, 200), cv2.FONT_HERSHEY_SIMPLEX, 4, (255, 255, 255), 8)
        writer.write(frame)
    writer.release()


def decode_all(path: Path, wanted: np.ndarray) -> tuple[float, np.ndarray]:
    """Read every frame, keep the wanted ones (RGB); returns (seconds, frames)."""
    keep = set(wanted.tolist())
    start = time.perf_counter()
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    frames = []
    index = 0
    while True:
        ok, image = cap.read()
        if not ok:
            break
        if index in keep:
            frames.append(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
        index += 1
    cap.release()
    return time.perf_counter() - start, np.stack(frames)


def sample_with(path: Path, rate: float, policy: str) -> tuple[float, np.ndarray]:
    """``VideoReader.sample(rate)`` with ``policy``, opening included; (seconds, frames)."""
    start = time.perf_counter()
    with VideoReader(path, seek_policy=policy) as video:
        frames = video.sample(rate).frames
    return time.perf_counter() - start, frames


def unit_costs(path: Path, num_frames: int) -> tuple[float, float]:
    """Seconds per ``grab()`` (over the whole video) and per seek (to 20 spread frames)."""
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    start = time.perf_counter()
    grabs = 0
    while cap.grab():
        grabs += 1
    per_grab = (time.perf_counter() - start) / grabs
    targets = np.linspace(40, num_frames - 40, 20).astype(int)
    start = time.perf_counter()
    for target in targets:
        cap.set(cv2.CAP_PROP_POS_FRAMES, float(target))
    per_seek = (time.perf_counter() - start) / len(targets)
    cap.release()
    return per_grab, per_seek


def main() -> None:
    """Run the benchmark and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="video length (s)")
    parser.add_argument("--rates", type=float, nargs="+", default=[1.0], help="sampling fps")
    args = parser.parse_args()
    num_frames = int(round(args.seconds * NATIVE_FPS))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.mp4"
        start = time.perf_counter()
        write_video(path, num_frames)
        print(
            f"video: {args.seconds:g} s, {WIDTH}x{HEIGHT}, {NATIVE_FPS:g} fps, mp4v, "
            f"{num_frames} frames, {path.stat().st_size / 1e6:.1f} MB "
            f"(written in {time.perf_counter() - start:.1f} s)"
        )
        per_grab, per_seek = unit_costs(path, num_frames)
        print(
            f"one grab(): {per_grab * 1e3:.2f} ms   one seek: {per_seek * 1e3:.2f} ms "
            f"(= {per_seek / per_grab:.1f} grabs)"
        )
        for rate in args.rates:
            wanted = sample_frame_indices(NATIVE_FPS, num_frames, rate)
            base_s, reference = decode_all(path, wanted)
            print(f"\n{rate:g} fps: {len(wanted)} frames")
            print(f"  {'method':<22}{'seconds':>9}{'speed-up':>10}")
            print(f"  {'decode-all (read)':<22}{base_s:>9.3f}{1.0:>10.2f}")
            for policy in ("grab", "seek", "auto"):
                seconds, frames = sample_with(path, rate, policy)
                if not np.array_equal(frames, reference):
                    raise SystemExit(f"seek policy {policy!r} returned different frames")
                print(f"  {'VideoReader ' + policy:<22}{seconds:>9.3f}{base_s / seconds:>10.2f}")


if __name__ == "__main__":
    main()
