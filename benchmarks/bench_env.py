"""Benchmark: single-turn GroundingEnv episodes per second on the synthetic split.

One episode is ``reset()`` plus one ``step()`` with a random (seeded) struct action: frame
decoding (or a frame-cache hit), padding into the observation, parsing the action,
densifying and scoring with the default verifier (``tIoU + vIoU``). Four settings:

* ``1 fps`` (``fps=1``, ``max_frames=16``) and ``frame level`` (``fps=None``, one slot per
  native frame), each
* with the LRU frame cache (``frame_cache_mb=1024``: every video decoded once) and without
  it (``frame_cache_mb=0``: every reset decodes).

The split is generated once into a temporary folder (``--n`` videos of 10 s at 10 fps,
224x224, seed 0, easy: the same videos as ``stvg/Synthetic-v0``). A warm-up pass over the
split is not timed, so the cached settings measure the steady state of later epochs.
Run::

    .venv/bin/python benchmarks/bench_env.py [--episodes 64] [--n 16] [--max-side 224]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

SPLIT = "train"


def run_setting(
    root: Path, fps: float | None, cache_mb: float, episodes: int, max_side: int, n: int
) -> dict[str, Any]:
    """Time ``episodes`` episodes of one setting; returns its figures."""
    from stvg.envs.grounding import GroundingEnv

    env = GroundingEnv(
        dataset="synthetic",
        root=str(root),
        split=SPLIT,
        fps=fps,
        max_frames=16 if fps is not None else None,
        max_side=max_side,
        action_format="struct",
        frame_cache_mb=cache_mb,
    )
    env.action_space.seed(0)
    env.reset(seed=0)
    for _ in range(n):  # warm-up epoch (fills the cache when it is on)
        env.step(env.action_space.sample())
        env.reset()
    started = time.perf_counter()
    for _ in range(episodes):
        env.step(env.action_space.sample())
        env.reset()
    seconds = time.perf_counter() - started
    stats = env.frame_source.stats
    return {
        "setting": f"{'1 fps' if fps else 'frame level'}, cache {'on' if cache_mb else 'off'}",
        "frames": env.max_frames,
        "episodes_per_s": episodes / seconds,
        "ms_per_episode": 1000 * seconds / episodes,
        "hits": stats.hits,
        "misses": stats.misses,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=64, help="timed episodes per setting")
    parser.add_argument("--n", type=int, default=16, help="videos in the synthetic split")
    parser.add_argument("--max-side", type=int, default=224, help="longer side of shown frames")
    args = parser.parse_args()

    from stvg.data.synthetic import generate_split

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        generate_split(root, SPLIT, args.n, 0, difficulty="easy")
        rows = [
            run_setting(root, fps, cache_mb, args.episodes, args.max_side, args.n)
            for fps in (1.0, None)
            for cache_mb in (1024.0, 0.0)
        ]
    print(
        f"{'setting':<26}{'slots':>6}{'episodes/s':>12}{'ms/episode':>12}{'hits':>7}{'misses':>8}"
    )
    for row in rows:
        print(
            f"{row['setting']:<26}{row['frames']:>6}{row['episodes_per_s']:>12.1f}"
            f"{row['ms_per_episode']:>12.2f}{row['hits']:>7}{row['misses']:>8}"
        )


if __name__ == "__main__":
    main()
