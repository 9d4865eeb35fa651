"""Contact sheets: tiles at known positions, boxes in the right tiles, header scores by hand.

The frames are 40x30 pixels showing an 80x60 video (shown at half size) at native frames
0, 10 and 20 (10 fps). Ground truth: frames 5..15, box [10, 10, 50, 40]. Prediction:
frames 10..25, box [30, 10, 70, 40]. On frame 10 the boxes overlap on [30, 50] x [10, 40]:
600 px of a 1800 px union, IoU 1/3. Spans: U = 25 - 5 + 1 = 21 frames, I = 10..15 = 6
frames, so tIoU = 6/21 and vIoU = 6 * (1/3) / 21 = 2/21.
"""

from __future__ import annotations

import numpy as np
import pytest

from stvg.data.types import Sample, Tube
from stvg.data.video import SampledFrames
from stvg.render.draw import GT_COLOUR, PRED_COLOUR
from stvg.render.overlay import TubePair
from stvg.render.sample import sample_header
from stvg.render.sheet import (
    SheetHeader,
    SheetLayout,
    contact_sheet,
    sheet_geometry,
    tile_label,
)
from stvg.render.text import EM_DASH
from stvg.verifiers.predictions import Prediction

GT_BOX = [10.0, 10.0, 50.0, 40.0]
PRED_BOX = [30.0, 10.0, 70.0, 40.0]


def frames(count: int = 3) -> SampledFrames:
    idx = np.arange(count, dtype=np.int64) * 10
    return SampledFrames(
        frames=np.full((count, 30, 40, 3), 100, dtype=np.uint8),
        frame_idx=idx,
        timestamps_s=idx / 10.0,
        shown_size=(40, 30),
        original_size=(80, 60),
        native_fps=10.0,
    )


def sample() -> Sample:
    return Sample(
        sample_id="s1",
        video_path="",
        query="the box",
        native_fps=10.0,
        num_frames=30,
        width=80,
        height=60,
        gt_span=(5, 15),
        gt_boxes={f: list(GT_BOX) for f in range(5, 16)},
    )


def prediction() -> Prediction:
    return Prediction((10, 25), Tube.from_dict({f: PRED_BOX for f in range(10, 26)}))


LAYOUT = SheetLayout(tile_width=160, columns=3, gap=4)


def test_geometry_by_hand() -> None:
    geometry = sheet_geometry(3, (40, 30), (80, 60), LAYOUT)
    assert geometry.tile_size == (160, 120) and geometry.picture_size == (160, 120)
    assert geometry.scale == (2.0, 2.0)  # 160 sheet px per 80 original px
    assert (geometry.columns, geometry.rows) == (3, 1)
    assert geometry.size[0] == 4 + 3 * (160 + 4)
    x0, y0 = geometry.tile_origin(0)
    assert geometry.tile_origin(2) == (x0 + 2 * 164, y0)
    with pytest.raises(IndexError):
        geometry.tile_origin(3)


def test_boxes_drawn_in_the_right_tiles() -> None:
    pair = TubePair.from_sample(sample(), prediction())
    sheet = contact_sheet(frames(), pair, SheetHeader("s1", "the box"), LAYOUT)
    geometry = sheet_geometry(3, (40, 30), (80, 60), LAYOUT)
    assert sheet.shape == (geometry.size[1], geometry.size[0], 3) and sheet.dtype == np.uint8

    def at(tile: int, x: float, y: float, dx: int = 0) -> tuple[int, ...]:
        col, row = geometry.to_sheet(tile, x, y)
        return tuple(int(c) for c in sheet[row, col + dx])

    # GT left edge (x=10 -> column 20 of the tile), prediction right edge (x=70 -> 139)
    assert at(0, 10, 25) == (100, 100, 100) and at(0, 70, 25, -1) == (100, 100, 100)  # frame 0
    assert at(1, 10, 25) == GT_COLOUR and at(1, 70, 25, -1) == PRED_COLOUR  # frame 10: both
    assert at(2, 10, 25) == (100, 100, 100) and at(2, 70, 25, -1) == PRED_COLOUR  # 20: pred
    assert at(1, 5, 50) == (100, 100, 100)  # outside both boxes
    assert pair.frame_iou(10) == pytest.approx(1 / 3)
    # frame 0: outside U = 5..25 (not scored); frame 20: predicted, no GT: vIoU counts 0
    assert pair.frame_iou(0) is None and pair.frame_iou(20) == 0.0


def test_tile_ious_average_to_the_header_vIoU() -> None:
    """Every native frame's tile IoU: the scored ones are U's 21 frames, and their mean
    is the header's vIoU, 2/21 (6 frames at 1/3, 15 at 0)."""
    pair = TubePair.from_sample(sample(), prediction())
    ious = [pair.frame_iou(f) for f in range(30)]
    scored = [iou for iou in ious if iou is not None]
    assert len(scored) == 21 and scored.count(0.0) == 15
    assert sum(scored) / len(scored) == pytest.approx(sample_header(sample(), prediction()).v_iou)
    assert sum(scored) / len(scored) == pytest.approx(2 / 21)


def test_fixed_number_of_tiles_gives_a_fixed_size() -> None:
    layout = SheetLayout(tile_width=64, num_tiles=6)
    one = contact_sheet(frames(1), None, SheetHeader("a", "q"), layout)
    three = contact_sheet(frames(3), None, SheetHeader("a", "a much longer query " * 9), layout)
    assert one.shape == three.shape
    with pytest.raises(ValueError, match="num_tiles"):
        contact_sheet(frames(3), None, SheetHeader("a", "q"), SheetLayout(num_tiles=2))


def test_header_scores_by_hand() -> None:
    header = sample_header(sample(), prediction())
    assert header.t_iou == pytest.approx(6 / 21) and header.v_iou == pytest.approx(2 / 21)
    assert header.scores_line() == "tIoU 0.286  vIoU 0.095"
    missing = sample_header(sample(), None)
    assert (missing.t_iou, missing.v_iou, missing.note) == (0.0, 0.0, "no prediction")
    assert SheetHeader("s", "q").scores_line() == f"tIoU {EM_DASH}  vIoU {EM_DASH}"


def test_tile_labels() -> None:
    assert tile_label(1.0, 1 / 3) == "t=1.00s  IoU 0.33"
    assert tile_label(2.0, None) == f"t=2.00s  IoU {EM_DASH}"


@pytest.mark.parametrize(
    "kwargs", [{"tile_width": 0}, {"columns": 0}, {"font_scale": 0.0}, {"gap": -1}]
)
def test_bad_layout_is_refused(kwargs: dict) -> None:
    with pytest.raises(ValueError, match="SheetLayout"):
        SheetLayout(**kwargs)
