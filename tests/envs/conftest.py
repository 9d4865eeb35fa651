"""Fixtures of the env tests: a tmp stvg cache, a small synthetic split, a hand-made sample."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from stvg.data.types import Sample

# The toy sample: 30 frames at 10 fps, 64x48; the target is the box [8, 8, 40, 32] on
# frames 10..19 (1.0 s .. 1.9 s).
TOY_FPS = 10.0
TOY_FRAMES = 30
TOY_SIZE = (64, 48)
TOY_SPAN = (10, 19)
TOY_BOX = [8.0, 8.0, 40.0, 32.0]

SMALL_SPLIT = "test"


@pytest.fixture(scope="session", autouse=True)
def stvg_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Point ``$STVG_CACHE`` at a tmp folder so the shortcut envs never write to ``~``."""
    path = tmp_path_factory.mktemp("stvg_cache")
    previous = os.environ.get("STVG_CACHE")
    os.environ["STVG_CACHE"] = str(path)
    yield path
    if previous is None:
        os.environ.pop("STVG_CACHE", None)
    else:
        os.environ["STVG_CACHE"] = previous


@pytest.fixture(scope="session")
def small_split(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 4-video synthetic split (4 s at 5 fps, 64x64) under a tmp root, split ``test``."""
    from stvg.data.synthetic import generate_split

    root = tmp_path_factory.mktemp("synthetic")
    generate_split(root, SMALL_SPLIT, 4, 1, duration_s=4.0, fps=5.0, size=64)
    return root


@pytest.fixture(scope="session")
def small_split_kwargs(small_split: Path) -> dict[str, str]:
    """Env keyword arguments naming :func:`small_split`."""
    return {"dataset": "synthetic", "root": str(small_split), "split": SMALL_SPLIT}


@pytest.fixture(scope="session")
def toy_sample(tmp_path_factory: pytest.TempPathFactory) -> Sample:
    """A hand-made sample whose numbers the reward tests compute by hand."""
    path = tmp_path_factory.mktemp("toy") / "toy.mp4"
    width, height = TOY_SIZE
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), TOY_FPS, TOY_SIZE)
    for i in range(TOY_FRAMES):
        frame = np.full((height, width, 3), 40, dtype=np.uint8)
        if TOY_SPAN[0] <= i <= TOY_SPAN[1]:
            x1, y1, x2, y2 = (int(v) for v in TOY_BOX)
            frame[y1:y2, x1:x2] = (0, 0, 255)
        writer.write(frame)
    writer.release()
    return Sample(
        sample_id="toy",
        video_path=str(path),
        query="the red box",
        native_fps=TOY_FPS,
        num_frames=TOY_FRAMES,
        width=width,
        height=height,
        gt_span=TOY_SPAN,
        gt_boxes={f: list(TOY_BOX) for f in range(TOY_SPAN[0], TOY_SPAN[1] + 1)},
        meta={"dataset": "toy"},
    )
