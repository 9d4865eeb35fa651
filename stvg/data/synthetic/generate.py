"""Write a synthetic STVG split: mp4 videos, HC-STVG v2 annotations and scene metadata."""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from stvg.config import ConfigError
from stvg.data.synthetic.annotation import scene_annotation
from stvg.data.synthetic.render import render_scene
from stvg.data.synthetic.sampler import DIFFICULTIES, sample_scene
from stvg.data.synthetic.scene import Scene, scene_to_dict
from stvg.data.timing import round_half_up
from stvg.limits import MAX_VIDEO_FRAMES, video_problem
from stvg.progress import progress as show_progress


@dataclass(frozen=True)
class SyntheticConfig:
    """Settings of one generated split (build from YAML with ``stvg.config.from_dict``).

    Attributes:
        split: split name; part of every sample id (``<split>_0003.mp4``) and of the seed.
        n: number of videos (one query each).
        seed: base seed; sample ``i`` uses a generator seeded from ``(seed, split, i)``.
        difficulty: ``easy`` (1-2 distractors sharing <= 1 attribute, long events),
            ``medium`` (2-4 distractors sharing 1-2 attributes, shorter events, crossings
            behind the target) or ``hard`` (4-6 distractors incl. a look-alike that needs a
            spatial relation, short events, occluding crossings).
        duration_s: video length in seconds.
        fps: frames per second of the videos.
        size: frame width and height in pixels (even).
    """

    split: str
    n: int
    seed: int
    difficulty: Literal["easy", "medium", "hard"] = "easy"
    duration_s: float = 10.0
    fps: float = 10.0
    size: int = 224

    def __post_init__(self) -> None:
        if not self.split or not self.split.replace("-", "").replace("_", "").isalnum():
            raise ConfigError(
                f"split {self.split!r} must be a non-empty name of letters, digits, '-' or '_' "
                "(it becomes part of file names)"
            )
        if self.seed < 0:
            raise ConfigError(f"seed must be a non-negative integer, got {self.seed}")
        if self.n < 1:
            raise ConfigError(f"n (number of videos) must be at least 1, got {self.n}")
        if self.difficulty not in DIFFICULTIES:
            raise ConfigError(f"difficulty {self.difficulty!r} is not one of {tuple(DIFFICULTIES)}")
        if not (self.fps > 0 and self.duration_s > 0):
            raise ConfigError(
                f"fps and duration_s must be positive, got fps={self.fps}, "
                f"duration_s={self.duration_s}"
            )
        if not self.duration_s * self.fps <= MAX_VIDEO_FRAMES:
            raise ValueError(
                f"duration_s * fps = {self.duration_s:g} * {self.fps:g} frames is more than "
                f"the {MAX_VIDEO_FRAMES:,} frames a video may have"
            )
        problem = video_problem(self.fps, self.num_frames, self.size, self.size)
        if problem is not None:
            raise ValueError(f"the videos asked for are out of bounds: {problem}")
        if self.num_frames < 20:
            raise ConfigError(
                f"duration_s * fps = {self.duration_s} * {self.fps} gives {self.num_frames} "
                "frames; synthetic events need at least 20: raise duration_s or fps"
            )
        if self.size < 64 or self.size % 2:
            raise ConfigError(
                f"size must be an even number of pixels >= 64 (mp4v needs even sizes), "
                f"got {self.size}"
            )

    @property
    def num_frames(self) -> int:
        """Frames per video: ``round_half_up(duration_s * fps)``."""
        return int(round_half_up(self.duration_s * self.fps))


def sample_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """The generator for sample ``index`` of ``split``: independent of ``n`` and of other splits."""
    split_key = int.from_bytes(hashlib.sha256(split.encode("utf-8")).digest()[:8], "little")
    return np.random.default_rng([int(seed), split_key, int(index)])


def sample_key(split: str, index: int) -> str:
    """Annotation key, sample id and video file name of sample ``index``, e.g. ``train_0003.mp4``."""
    return f"{split}_{index:04d}.mp4"


def make_scene(config: SyntheticConfig, index: int) -> Scene:
    """Scene ``index`` of the split described by ``config`` (no files written)."""
    return sample_scene(
        sample_rng(config.seed, config.split, index),
        sample_key(config.split, index),
        config.difficulty,
        num_frames=config.num_frames,
        fps=config.fps,
        width=config.size,
        height=config.size,
    )


def generate_split(
    out_dir: str | Path,
    split: str,
    n: int,
    seed: int,
    difficulty: Literal["easy", "medium", "hard"] = "easy",
    *,
    duration_s: float = 10.0,
    fps: float = 10.0,
    size: int = 224,
    progress: bool = False,
) -> dict[str, Any]:
    """Generate ``n`` synthetic videos with queries and ground truth under ``out_dir``
    (``progress``: show it, :mod:`stvg.progress`).

    Writes ``out_dir/videos/<split>_<iiii>.mp4`` (mp4v, ``size`` x ``size``, ``fps``),
    ``out_dir/<split>.json`` (HC-STVG v2 entries plus ``fps``, see
    :func:`scene_annotation`) and ``out_dir/<split>_scenes.json`` (full scene metadata,
    :func:`scene_to_dict`). The same arguments give byte-identical JSON and identical frames;
    sample ``i`` does not depend on ``n``; another split name with the same seed differs.

    Returns a summary: ``split``, ``n``, ``seed``, ``difficulty``, ``seconds`` (wall time),
    ``annotation_path``, ``scenes_path``, ``video_dir``, ``num_frames``, ``fps``, ``size``,
    ``mean_span_frames``, ``mean_span_s``, ``event_counts`` (target events by kind) and
    ``relation_queries`` (queries that needed a spatial relation).
    """
    started = time.perf_counter()
    config = SyntheticConfig(
        split=split,
        n=int(n),
        seed=int(seed),
        difficulty=difficulty,
        duration_s=float(duration_s),
        fps=float(fps),
        size=int(size),
    )
    out_dir = Path(out_dir)
    video_dir = out_dir / "videos"
    video_dir.mkdir(parents=True, exist_ok=True)
    annotations: dict[str, Any] = {}
    scenes: dict[str, Any] = {}
    span_frames = []
    events: Counter[str] = Counter()
    relation_queries = 0
    bar = show_progress(config.n, f"generate {split}", enabled=progress, unit="videos")
    with bar:
        for index in range(config.n):
            scene = make_scene(config, index)
            render_scene(scene, video_dir / scene.scene_id)
            annotations[scene.scene_id] = scene_annotation(scene)
            scenes[scene.scene_id] = scene_to_dict(scene)
            span_frames.append(scene.event.last_frame - scene.event.first_frame + 1)
            events[scene.event.kind] += 1
            relation_queries += scene.query.relation is not None
            bar.update(1)
    annotation_path = out_dir / f"{config.split}.json"
    scenes_path = out_dir / f"{config.split}_scenes.json"
    _write_json(annotation_path, annotations, indent=None)
    _write_json(scenes_path, scenes, indent=1)
    mean_span = float(np.mean(span_frames))
    return {
        "split": config.split,
        "n": config.n,
        "seed": config.seed,
        "difficulty": config.difficulty,
        "seconds": time.perf_counter() - started,
        "annotation_path": str(annotation_path),
        "scenes_path": str(scenes_path),
        "video_dir": str(video_dir),
        "num_frames": config.num_frames,
        "fps": config.fps,
        "size": config.size,
        "mean_span_frames": mean_span,
        "mean_span_s": mean_span / config.fps,
        "event_counts": dict(sorted(events.items())),
        "relation_queries": int(relation_queries),
    }


def _write_json(path: Path, data: Any, *, indent: int | None) -> None:
    """Write ``data`` as JSON via a temporary file, so a crash never leaves half a file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=indent, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)


def ensure_synthetic_split(
    root: str | Path,
    split: str,
    n: int,
    seed: int,
    difficulty: str = "easy",
    *,
    progress: bool = False,
) -> bool:
    """Generate synthetic split ``split`` under ``root`` unless ``root/<split>.json`` exists
    (``progress``: show the generation's progress).

    Returns:
        ``True`` when the split was generated now, ``False`` when it already existed.
    """
    if (Path(root) / f"{split}.json").is_file():
        return False
    generate_split(root, split, n, seed, difficulty, progress=progress)  # type: ignore[arg-type]
    return True
