"""Boxes on frames: the pixel rule, spans, colours and per-frame IoU, checked by hand."""

from __future__ import annotations

import numpy as np
import pytest

from stvg.data.types import Tube
from stvg.render.draw import GT_COLOUR, PRED_COLOUR, box_pixels, draw_box, draw_tubes
from stvg.render.overlay import TubePair
from stvg.render.text import EM_DASH, draw_text, text_width, wrap_text


def colour_at(image: np.ndarray, x: int, y: int) -> tuple[int, int, int]:
    return tuple(int(c) for c in image[y, x])


def test_box_pixels_by_hand() -> None:
    # x: 8..39, y: 8..31 (no +1 pixel); at scale (2, 0.5): x 16..79, y 4..15
    assert box_pixels([8, 8, 40, 32]) == (8, 8, 39, 31)
    assert box_pixels([8, 8, 40, 32], (2.0, 0.5)) == (16, 4, 79, 15)
    # thinner than a pixel still covers one pixel
    assert box_pixels([5.0, 5.0, 5.2, 5.2]) == (5, 5, 5, 5)


def test_draw_box_outline_lies_inside_the_box() -> None:
    image = np.zeros((20, 20, 3), dtype=np.uint8)
    draw_box(image, [5, 5, 15, 15], GT_COLOUR, thickness=2)
    coloured = np.all(image == GT_COLOUR, axis=-1)
    # outer ring rows/cols 5 and 14, inner ring 6 and 13, nothing at 4, 7..12 or 15
    assert coloured[5, 5] and coloured[14, 14] and coloured[6, 10] and coloured[10, 13]
    assert not coloured[4, 10] and not coloured[15, 10] and not coloured[10, 15]
    assert not coloured[7:13, 7:13].any()
    assert coloured.sum() == 10 * 10 - 6 * 6  # a 10x10 box minus its 6x6 inside


def test_draw_box_rejects_zero_thickness() -> None:
    with pytest.raises(ValueError, match="thickness"):
        draw_box(np.zeros((4, 4, 3), np.uint8), [0, 0, 2, 2], GT_COLOUR, thickness=0)


def _pair() -> TubePair:
    # GT on frames 2..4 (the box [0, 0, 10, 10]); prediction spans 3..6 with boxes on
    # frames 3..6 (the box [5, 0, 15, 10]: half of the GT box, a third of the union)
    gt = Tube.from_dict({f: [0, 0, 10, 10] for f in (2, 3, 4, 9)})  # frame 9: outside span
    pred = Tube.from_dict({f: [5, 0, 15, 10] for f in (3, 4, 5, 6)})
    return TubePair((2, 4), gt, (3, 6), pred)


def test_tube_pair_boxes_only_inside_spans() -> None:
    pair = _pair()
    assert pair.gt_box(1) is None and pair.gt_box(9) is None  # 9 has a box but is outside
    assert pair.gt_box(2).tolist() == [0, 0, 10, 10]
    assert pair.pred_box(2) is None and pair.pred_box(6).tolist() == [5, 0, 15, 10]
    assert pair.frame_iou(3) == pytest.approx(50 / 150)
    # U = 2..6: a frame of one span without the other's box counts 0 in vIoU, not "—"
    assert pair.frame_iou(2) == 0.0 and pair.frame_iou(5) == 0.0 and pair.frame_iou(6) == 0.0
    assert pair.frame_iou(1) is None and pair.frame_iou(7) is None and pair.frame_iou(9) is None
    assert TubePair((2, 4), pair.gt_tube).frame_iou(3) is None  # no prediction: not scored


def test_draw_tubes_colours_per_frame() -> None:
    pair = _pair()
    image = np.full((20, 30, 3), 100, dtype=np.uint8)
    drawn = {f: draw_tubes(image, pair, f, labels=False) for f in range(1, 8)}
    assert (image == 100).all()  # the input is never changed
    # GT left edge at x=0, prediction right edge at x=14 (round(15) - 1), row 5
    for frame, gt, pred in [(1, 0, 0), (2, 1, 0), (3, 1, 1), (5, 0, 1), (7, 0, 0)]:
        assert (colour_at(drawn[frame], 0, 5) == GT_COLOUR) == bool(gt), frame
        assert (colour_at(drawn[frame], 14, 5) == PRED_COLOUR) == bool(pred), frame
    assert (drawn[1] == image).all() and (drawn[7] == image).all()
    assert colour_at(drawn[3], 25, 15) == (100, 100, 100)  # outside both boxes


def test_draw_tubes_scales_boxes_to_the_image() -> None:
    pair = TubePair((0, 0), Tube.from_dict({0: [10, 10, 20, 20]}))
    drawn = draw_tubes(np.zeros((60, 60, 3), np.uint8), pair, 0, scale=(2.0, 2.0), labels=False)
    assert colour_at(drawn, 20, 30) == GT_COLOUR  # left edge at 10 * 2
    assert colour_at(drawn, 39, 30) == GT_COLOUR  # right edge at 20 * 2 - 1
    assert colour_at(drawn, 19, 30) == (0, 0, 0) and colour_at(drawn, 40, 30) == (0, 0, 0)


def test_em_dash_is_drawn_as_a_stroke() -> None:
    image = np.zeros((30, 60, 3), dtype=np.uint8)
    end = draw_text(image, EM_DASH, (2, 20), (255, 255, 255), scale=0.5)
    assert end == 2 + text_width(EM_DASH, 0.5) and end > 10
    rows = np.flatnonzero(image[..., 0].any(axis=1))
    assert rows.size and rows.max() < 20  # above the baseline, as a dash


def test_wrap_text_keeps_lines_and_width() -> None:
    text = "the man in the hat reaches out and points to the front of the room"
    lines = wrap_text(text, 150, 0.45, max_lines=2)
    assert len(lines) == 2 and lines[-1].endswith("...")
    assert all(text_width(line, 0.45) <= 150 for line in lines)
    assert wrap_text("a short one", 1000, 0.45, max_lines=2) == ["a short one"]
    with pytest.raises(ValueError, match="max_lines"):
        wrap_text(text, 150, 0.45, max_lines=0)
