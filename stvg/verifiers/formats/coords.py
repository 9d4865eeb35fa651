"""The one place where answer coordinates convert to and from original-video pixels.

Coordinate systems an answer format may declare:

* ``pixels`` — pixels of the frames **as the model sees them** (``ctx.coord_size``: the
  processor's resized size when the context has a ``model_size``, else ``shown_size``);
* ``norm1000`` — Qwen3-VL style, 0 = left/top edge, 1000 = right/bottom edge;
* ``norm1`` — 0 = left/top edge, 1 = right/bottom edge.

In every system the origin is the top-left corner, x grows right and y grows down, and a
box is ``[x1, y1, x2, y2]``. A format coordinate ``v`` on an axis of extent ``E`` (shown
width, 1000 or 1) and original size ``S`` is ``v / E * S`` original pixels.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np

if TYPE_CHECKING:
    from stvg.verifiers.formats.context import FrameContext, ShownFrames

Coords = Literal["pixels", "norm1000", "norm1"]
COORD_SYSTEMS: tuple[str, ...] = ("pixels", "norm1000", "norm1")

# Decimals used when rendering coordinates (``render``): whole pixels / thousandths.
RENDER_DECIMALS: dict[str, int] = {"pixels": 0, "norm1000": 0, "norm1": 4}


def check_coords(coords: str) -> str:
    """Return ``coords`` if it names a coordinate system, else raise a ``ValueError``."""
    if coords not in COORD_SYSTEMS:
        raise ValueError(
            f"unknown coordinate system {coords!r}; choose one of {list(COORD_SYSTEMS)}"
        )
    return coords


def extent(coords: str, ctx: FrameContext | ShownFrames) -> tuple[float, float]:
    """``(max_x, max_y)`` of the frame in the format's coordinates (the lower bound is 0)."""
    check_coords(coords)
    if coords == "pixels":
        return float(ctx.coord_size[0]), float(ctx.coord_size[1])
    if coords == "norm1000":
        return 1000.0, 1000.0
    return 1.0, 1.0


def _scales(coords: str, ctx: FrameContext) -> tuple[np.ndarray, np.ndarray]:
    max_x, max_y = extent(coords, ctx)
    width, height = ctx.original_size
    ext = np.array([max_x, max_y, max_x, max_y], dtype=np.float64)
    orig = np.array([width, height, width, height], dtype=np.float64)
    return ext, orig


def to_original(boxes: np.ndarray, coords: str, ctx: FrameContext) -> np.ndarray:
    """Boxes ``[K, 4]`` in the format's coordinates -> float64 original-video pixels.

    Coordinates inside ``[0, extent]`` map inside ``[0, original size]`` exactly (the
    division comes first, so a coordinate on the far edge maps onto the far edge).
    """
    ext, orig = _scales(coords, ctx)
    return np.asarray(boxes, dtype=np.float64).reshape(-1, 4) / ext * orig


def from_original(boxes_xyxy: np.ndarray, coords: str, ctx: FrameContext) -> np.ndarray:
    """Boxes ``[K, 4]`` in original-video pixels -> float64 in the format's coordinates."""
    ext, orig = _scales(coords, ctx)
    return np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4) / orig * ext


def render_coord(value: float, coords: str) -> float | int:
    """One coordinate rounded for text: whole numbers for pixels/norm1000, else 4 decimals."""
    decimals = RENDER_DECIMALS[coords]
    return int(round(value)) if decimals == 0 else round(float(value), decimals)


def rounding_tolerance(coords: str, ctx: FrameContext) -> tuple[float, float]:
    """Largest ``(x, y)`` error, original pixels, that rendering's rounding can introduce."""
    max_x, max_y = extent(coords, ctx)
    half_unit = 0.5 * 10.0 ** (-RENDER_DECIMALS[coords])
    width, height = ctx.original_size
    return half_unit / max_x * width, half_unit / max_y * height


def describe(coords: str, ctx: FrameContext | ShownFrames | None = None) -> str:
    """One sentence for a prompt: what the coordinates of a box mean."""
    check_coords(coords)
    if coords == "pixels":
        size = ""
        if ctx is not None:
            width, height = ctx.coord_size
            size = f" ({width}x{height}: x from 0 to {width}, y from 0 to {height})"
        return (
            f"Coordinates are pixels of the frames as shown to you{size}, origin at the "
            "top-left corner, x to the right, y downwards, whole numbers."
        )
    if coords == "norm1000":
        return (
            "Coordinates are normalised to 0-1000 on each axis: 0 is the left/top edge and "
            "1000 the right/bottom edge of the frame, whole numbers."
        )
    return (
        "Coordinates are normalised to 0-1 on each axis: 0 is the left/top edge and 1 the "
        "right/bottom edge of the frame, up to 4 decimals."
    )


__all__ = [
    "COORD_SYSTEMS",
    "RENDER_DECIMALS",
    "Coords",
    "check_coords",
    "describe",
    "extent",
    "from_original",
    "render_coord",
    "rounding_tolerance",
    "to_original",
]
