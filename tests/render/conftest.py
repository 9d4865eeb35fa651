"""Fixtures of the render tests: a small synthetic split and a hand-made flat-grey video."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from render_fixtures import GREY, GREY_BOX, GREY_FPS, GREY_FRAMES, GREY_SIZE, GREY_SPAN, SPLIT

from stvg.data.types import Sample
from stvg.render.mp4 import Mp4Writer


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-video synthetic split ``test`` (4 s at 5 fps, 64x64, 20 frames per video)."""
    from stvg.data.synthetic import generate_split

    root = tmp_path_factory.mktemp("render_synthetic")
    generate_split(root, SPLIT, 2, 3, duration_s=4.0, fps=5.0, size=64)
    return root


@pytest.fixture(scope="session")
def grey_sample(tmp_path_factory: pytest.TempPathFactory) -> Sample:
    """A flat grey video whose numbers the tests compute by hand (see the constants)."""
    path = tmp_path_factory.mktemp("grey") / "grey.mp4"
    width, height = GREY_SIZE
    with Mp4Writer(path, GREY_FPS, GREY_SIZE) as writer:
        for _ in range(GREY_FRAMES):
            writer.write(np.full((height, width, 3), GREY, dtype=np.uint8))
    return Sample(
        sample_id="grey",
        video_path=str(path),
        query="the grey nothing in the middle",
        native_fps=GREY_FPS,
        num_frames=GREY_FRAMES,
        width=width,
        height=height,
        gt_span=GREY_SPAN,
        gt_boxes={f: list(GREY_BOX) for f in range(GREY_SPAN[0], GREY_SPAN[1] + 1)},
        meta={"dataset": "grey"},
    )
