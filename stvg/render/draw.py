"""Drawing boxes of the ground-truth and the predicted tube on one frame (OpenCV).

Colours are RGB, as the frames of :class:`stvg.data.SampledFrames` are: the ground truth
is green :data:`GT_COLOUR`, the prediction magenta :data:`PRED_COLOUR`.

**Pixel rule.** A box ``[x1, y1, x2, y2]`` in original-video pixels, drawn on an image that
shows the video at ``scale = (sx, sy)`` image pixels per original pixel, covers the image
columns ``round(x1 * sx) .. round(x2 * sx) - 1`` and rows ``round(y1 * sy) .. round(y2 * sy)
- 1`` (the box's area has no ``+1`` pixel, as in the metric). Its outline is drawn *inside*
that range, ``thickness`` pixels wide, so the outermost coloured pixels are exactly the
box's corners. The ground-truth label sits above the box's top-left corner, the
prediction's label below its bottom-left corner, so the two never hide each other.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from stvg.render.overlay import TubePair
from stvg.render.text import draw_text, line_height, text_width

GT_COLOUR: tuple[int, int, int] = (0, 255, 0)  # RGB, green
PRED_COLOUR: tuple[int, int, int] = (255, 0, 255)  # RGB, magenta
LABEL_TEXT_COLOUR: tuple[int, int, int] = (0, 0, 0)  # RGB, black on the box colour
GT_LABEL = "GT"
PRED_LABEL = "pred"


def box_pixels(
    box_xyxy: Sequence[float] | np.ndarray, scale: tuple[float, float] = (1.0, 1.0)
) -> tuple[int, int, int, int]:
    """Inclusive pixel extent ``(left, top, right, bottom)`` of a box on the image
    (see the module's pixel rule); a box thinner than a pixel still covers one pixel.

    >>> box_pixels([8, 8, 40, 32])
    (8, 8, 39, 31)
    >>> box_pixels([8, 8, 40, 32], (2.0, 0.5))
    (16, 4, 79, 15)
    """
    x1, y1, x2, y2 = (float(c) for c in np.asarray(box_xyxy, dtype=np.float64).reshape(4))
    sx, sy = scale
    left, top = int(round(x1 * sx)), int(round(y1 * sy))
    right, bottom = int(round(x2 * sx)) - 1, int(round(y2 * sy)) - 1
    return left, top, max(right, left), max(bottom, top)


def draw_box(
    image: np.ndarray,
    box_xyxy: Sequence[float] | np.ndarray,
    colour: tuple[int, int, int],
    *,
    scale: tuple[float, float] = (1.0, 1.0),
    thickness: int = 2,
    label: str | None = None,
    label_below: bool = False,
    font_scale: float = 0.4,
) -> None:
    """Draw one box outline (and its label) on ``image`` in place.

    Args:
        image: uint8 ``[H, W, 3]`` image showing the video at ``scale``.
        box_xyxy: ``[x1, y1, x2, y2]`` in original-video pixels.
        colour: outline colour (RGB for RGB images).
        scale: ``(sx, sy)`` image pixels per original-video pixel.
        thickness: outline width in pixels, drawn inside the box (at least 1).
        label: text in a filled tag of the box colour; ``None`` for no tag.
        label_below: put the tag under the bottom-left corner instead of above the
            top-left one (inside the image either way).
        font_scale: OpenCV font scale of the label.
    """
    if thickness < 1:
        raise ValueError(f"thickness must be at least 1 pixel, got {thickness}")
    left, top, right, bottom = box_pixels(box_xyxy, scale)
    inner = thickness - 1
    bands = (
        ((left, top), (right, min(top + inner, bottom))),
        ((left, max(bottom - inner, top)), (right, bottom)),
        ((left, top), (min(left + inner, right), bottom)),
        ((max(right - inner, left), top), (right, bottom)),
    )
    for pt1, pt2 in bands:
        cv2.rectangle(image, pt1, pt2, colour, thickness=cv2.FILLED)
    if label:
        _draw_tag(image, label, colour, left, top, bottom, below=label_below, scale=font_scale)


def _draw_tag(
    image: np.ndarray,
    label: str,
    colour: tuple[int, int, int],
    left: int,
    top: int,
    bottom: int,
    *,
    below: bool,
    scale: float,
) -> None:
    """A filled tag with ``label`` next to a box, kept inside the image."""
    height, width = image.shape[:2]
    pad = 2
    tag_w = text_width(label, scale) + 2 * pad
    tag_h = line_height(scale) - 2
    x = min(max(left, 0), max(width - tag_w, 0))
    y = bottom + 1 if below else top - tag_h
    y = min(max(y, 0), max(height - tag_h, 0))
    cv2.rectangle(image, (x, y), (x + tag_w - 1, y + tag_h - 1), colour, thickness=cv2.FILLED)
    baseline_y = y + tag_h - max(2, tag_h // 4)
    draw_text(image, label, (x + pad, baseline_y), LABEL_TEXT_COLOUR, scale=scale)


def draw_tubes(
    image: np.ndarray,
    tubes: TubePair,
    frame_idx: int,
    *,
    scale: tuple[float, float] = (1.0, 1.0),
    thickness: int = 2,
    labels: bool = True,
    font_scale: float = 0.4,
) -> np.ndarray:
    """A copy of ``image`` with the ground-truth and predicted boxes of native frame
    ``frame_idx`` drawn (each only when the frame is inside its tube's span and the tube has
    a box there, see :class:`~stvg.render.overlay.TubePair`).

    Args:
        image: uint8 ``[H, W, 3]`` RGB frame showing the video at ``scale``.
        tubes: the sample's ground-truth and predicted tubes.
        frame_idx: 0-based native frame that ``image`` shows.
        scale: ``(sx, sy)`` image pixels per original-video pixel.
        thickness: outline width in pixels.
        labels: draw the ``GT`` / ``pred`` tags.
        font_scale: OpenCV font scale of the tags.

    Returns:
        A new uint8 ``[H, W, 3]`` image (``image`` itself is left unchanged).
    """
    out = np.array(image, dtype=np.uint8, copy=True)
    gt, pred = tubes.gt_box(frame_idx), tubes.pred_box(frame_idx)
    if gt is not None:
        draw_box(
            out,
            gt,
            GT_COLOUR,
            scale=scale,
            thickness=thickness,
            label=GT_LABEL if labels else None,
            font_scale=font_scale,
        )
    if pred is not None:
        draw_box(
            out,
            pred,
            PRED_COLOUR,
            scale=scale,
            thickness=thickness,
            label=PRED_LABEL if labels else None,
            label_below=True,
            font_scale=font_scale,
        )
    return out


__all__ = [
    "GT_COLOUR",
    "GT_LABEL",
    "PRED_COLOUR",
    "PRED_LABEL",
    "box_pixels",
    "draw_box",
    "draw_tubes",
]
