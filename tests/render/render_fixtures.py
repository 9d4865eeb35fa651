"""Numbers of the render tests' fixtures (``conftest.py``), importable by the tests."""

from __future__ import annotations

# The grey sample: 10 frames at 10 fps, 128x96, every pixel (100, 100, 100); the ground
# truth is the box [16, 16, 80, 64] on frames 2..5.
GREY = 100
GREY_FPS = 10.0
GREY_FRAMES = 10
GREY_SIZE = (128, 96)
GREY_SPAN = (2, 5)
GREY_BOX = [16.0, 16.0, 80.0, 64.0]

SPLIT = "test"  # split name of the synthetic fixture split
