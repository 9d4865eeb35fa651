"""Contact sheets: a grid of sampled frames with both tubes drawn, under a header.

A sheet is a uint8 RGB image::

    +--------------------------------------------------------------+
    | sample <id>                                                  |  header:
    | tIoU 0.523  vIoU 0.401  [note]        [GT] [pred]             |  id, scores, legend,
    | <query, wrapped over at most query_lines lines>              |  the query
    +--------------------------------------------------------------+
    | [frame + boxes] | [frame + boxes] | [frame + boxes] | ...    |  one tile per frame,
    | t=0.00s IoU -   | t=1.00s IoU 0.83| t=2.00s IoU 0   | ...    |  left to right, then down
    +--------------------------------------------------------------+

Each tile shows one frame fitted into ``tile_width x tile_height`` pixels (aspect kept,
enlarged or shrunk), the boxes drawn at the tile's resolution (:mod:`stvg.render.draw`),
and under it the frame's timestamp in seconds and the IoU that vIoU counts for that frame
(:meth:`~stvg.render.overlay.TubePair.frame_iou`: 0 on a frame of either span where the
other box is missing, ``—`` outside both spans or without a prediction). The header's height does not
depend on the query's length, so sheets with the same layout and frame count have the same
size (what a video recorder of env renders needs).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from stvg.config import ConfigError
from stvg.data.video import SampledFrames
from stvg.limits import MAX_SHEET_PIXELS
from stvg.render.draw import GT_COLOUR, GT_LABEL, PRED_COLOUR, PRED_LABEL, draw_tubes
from stvg.render.overlay import TubePair
from stvg.render.text import EM_DASH, draw_text, fit_text, line_height, text_width, wrap_text

SHEET_BACKGROUND: tuple[int, int, int] = (32, 32, 32)  # RGB
TILE_BACKGROUND: tuple[int, int, int] = (0, 0, 0)  # RGB, around a frame narrower than its tile
TEXT_COLOUR: tuple[int, int, int] = (235, 235, 235)  # RGB


@dataclass(frozen=True)
class SheetHeader:
    """What the header of a contact sheet says.

    Attributes:
        sample_id: the sample's id.
        query: the query text.
        t_iou: the sample's temporal IoU in ``[0, 1]``; ``None`` = not scored (shown ``—``).
        v_iou: the sample's video IoU in ``[0, 1]``; ``None`` = not scored (shown ``—``).
        note: an extra remark after the scores (``"no prediction"``, ``"not answered yet"``).
    """

    sample_id: str
    query: str
    t_iou: float | None = None
    v_iou: float | None = None
    note: str | None = None

    def scores_line(self) -> str:
        """``"tIoU 0.523  vIoU 0.401"`` (three decimals, ``—`` when unscored) and the note.

        >>> SheetHeader("s", "q", 0.5, None, "no boxes").scores_line()
        'tIoU 0.500  vIoU \u2014  (no boxes)'
        """
        parts = [f"tIoU {_number(self.t_iou, 3)}", f"vIoU {_number(self.v_iou, 3)}"]
        text = "  ".join(parts)
        return f"{text}  ({self.note})" if self.note else text


@dataclass(frozen=True)
class SheetLayout:
    """How a contact sheet is laid out (all sizes in pixels of the sheet).

    Attributes:
        tile_width: width of a tile's picture area.
        tile_height: height of a tile's picture area; ``None`` = ``tile_width`` times the
            frames' height/width ratio (the picture fills the tile).
        columns: tiles per row; ``None`` = ``ceil(sqrt(tiles))``.
        num_tiles: tile slots; ``None`` = one per frame. More slots than frames leave empty
            tiles at the end (a fixed-size sheet); fewer is an error.
        query_lines: lines of the header kept for the query (longer queries end in ``...``).
        font_scale: OpenCV font scale of the header and the tile labels.
        gap: space between tiles and around the grid.
        thickness: box outline width.
    """

    tile_width: int = 224
    tile_height: int | None = None
    columns: int | None = None
    num_tiles: int | None = None
    query_lines: int = 2
    font_scale: float = 0.45
    gap: int = 6
    thickness: int = 2

    def __post_init__(self) -> None:
        for name in ("tile_width", "query_lines", "gap", "thickness"):
            value = getattr(self, name)
            low = 0 if name == "gap" else 1
            if not isinstance(value, int) or value < low:
                raise ValueError(f"SheetLayout.{name} must be an integer >= {low}, got {value!r}")
        for name in ("tile_height", "columns", "num_tiles"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(
                    f"SheetLayout.{name} must be a positive integer or None, got {value!r}"
                )
        if not self.font_scale > 0:
            raise ValueError(f"SheetLayout.font_scale must be positive, got {self.font_scale}")


@dataclass(frozen=True)
class SheetGeometry:
    """Where everything of a contact sheet lies (pixels of the sheet).

    Attributes:
        size: ``(width, height)`` of the sheet.
        header_height: rows taken by the header.
        columns, rows: the grid.
        tile_size: ``(width, height)`` of a tile's picture area.
        picture_size: ``(width, height)`` of the fitted frame inside it (top-left aligned).
        label_height: rows of the label strip under each picture.
        scale: ``(sx, sy)`` sheet pixels per original-video pixel inside a picture.
        gap: space between tiles.
    """

    size: tuple[int, int]
    header_height: int
    columns: int
    rows: int
    tile_size: tuple[int, int]
    picture_size: tuple[int, int]
    label_height: int
    scale: tuple[float, float]
    gap: int

    def tile_origin(self, index: int) -> tuple[int, int]:
        """``(x, y)`` of the top-left pixel of tile ``index``'s picture (row-major order)."""
        if not 0 <= index < self.columns * self.rows:
            raise IndexError(f"tile {index} is outside the {self.columns}x{self.rows} grid")
        row, column = divmod(index, self.columns)
        x = self.gap + column * (self.tile_size[0] + self.gap)
        y = self.header_height + self.gap + row * (self.tile_size[1] + self.label_height + self.gap)
        return x, y

    def to_sheet(self, index: int, x: float, y: float) -> tuple[int, int]:
        """Sheet pixel ``(column, row)`` of original-video point ``(x, y)`` on tile ``index``
        (the first pixel a box edge at that point covers, see :mod:`stvg.render.draw`)."""
        ox, oy = self.tile_origin(index)
        return ox + int(round(x * self.scale[0])), oy + int(round(y * self.scale[1]))


def sheet_geometry(
    num_frames: int,
    shown_size: tuple[int, int],
    original_size: tuple[int, int],
    layout: SheetLayout | None = None,
) -> SheetGeometry:
    """The geometry of a sheet of ``num_frames`` frames of ``shown_size`` (w, h) pixels,
    showing a video of ``original_size`` (w, h) pixels, under ``layout``.

    Raises:
        ValueError: no frame and no tile slot, or more frames than ``layout.num_tiles``.
        ConfigError: a sheet of more than :data:`~stvg.limits.MAX_SHEET_PIXELS` pixels.
    """
    layout = layout or SheetLayout()
    tiles = num_frames if layout.num_tiles is None else layout.num_tiles
    if num_frames > tiles:
        raise ValueError(
            f"{num_frames} frames do not fit in SheetLayout.num_tiles={layout.num_tiles}: "
            "raise num_tiles or leave it None"
        )
    if tiles < 1:
        raise ValueError("a contact sheet needs at least one frame or tile slot, got none")
    shown_w, shown_h = (max(1, int(v)) for v in shown_size)
    tile_w = layout.tile_width
    tile_h = layout.tile_height or max(1, int(round(tile_w * shown_h / shown_w)))
    fit = min(tile_w / shown_w, tile_h / shown_h)
    picture = (
        min(tile_w, max(1, int(round(shown_w * fit)))),
        min(tile_h, max(1, int(round(shown_h * fit)))),
    )
    columns = min(tiles, layout.columns or math.ceil(math.sqrt(tiles)))
    rows = math.ceil(tiles / columns)
    text_h = line_height(layout.font_scale)
    header_h = layout.gap + text_h * (2 + layout.query_lines)
    label_h = text_h + 2
    width = layout.gap + columns * (tile_w + layout.gap)
    height = header_h + layout.gap + rows * (tile_h + label_h + layout.gap)
    if width * height > MAX_SHEET_PIXELS:
        raise ConfigError(
            f"a contact sheet of {tiles:,} tiles of {tile_w}x{tile_h} pixels would be "
            f"{width:,}x{height:,} pixels, more than the {MAX_SHEET_PIXELS:,} allowed; lower "
            "the tile width (--tile-width), the number of tiles (--max-frames) or the frames "
            "per second (--fps)"
        )
    return SheetGeometry(
        size=(width, height),
        header_height=header_h,
        columns=columns,
        rows=rows,
        tile_size=(tile_w, tile_h),
        picture_size=picture,
        label_height=label_h,
        scale=(picture[0] / original_size[0], picture[1] / original_size[1]),
        gap=layout.gap,
    )


def tile_label(timestamp_s: float, iou: float | None) -> str:
    """The text under a tile: the time in seconds and the frame's IoU (``—``: not scored).

    >>> tile_label(3.0, 0.7251), tile_label(0.5, None)
    ('t=3.00s  IoU 0.73', 't=0.50s  IoU \u2014')
    """
    return f"t={timestamp_s:.2f}s  IoU {_number(iou, 2)}"


def _number(value: float | None, digits: int) -> str:
    return EM_DASH if value is None else f"{value:.{digits}f}"


def contact_sheet(
    frames: SampledFrames,
    tubes: TubePair | None,
    header: SheetHeader,
    layout: SheetLayout | None = None,
) -> np.ndarray:
    """The contact sheet of ``frames`` with ``tubes`` drawn (see the module docstring).

    Args:
        frames: the frames to show (RGB uint8, their native frame indices and timestamps in
            seconds, shown and original sizes), e.g. from
            :meth:`stvg.data.VideoReader.read_frames`.
        tubes: the ground-truth and predicted tubes; ``None`` draws no box and no IoU.
        header: the sample id, query, tIoU and vIoU shown on top.
        layout: tile size, columns, slots, fonts (default :class:`SheetLayout`).

    Returns:
        uint8 ``[H, W, 3]`` RGB image, ``(W, H)`` = :func:`sheet_geometry` ``.size``.
    """
    layout = layout or SheetLayout()
    geometry = sheet_geometry(len(frames), frames.shown_size, frames.original_size, layout)
    width, height = geometry.size
    sheet = np.empty((height, width, 3), dtype=np.uint8)
    sheet[:] = SHEET_BACKGROUND
    _draw_header(sheet, header, layout, width)
    tile_w, tile_h = geometry.tile_size
    pic_w, pic_h = geometry.picture_size
    shrink = pic_w < frames.shown_size[0]
    interpolation = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    text_h = line_height(layout.font_scale)
    for index in range(len(frames)):
        x, y = geometry.tile_origin(index)
        sheet[y : y + tile_h, x : x + tile_w] = TILE_BACKGROUND
        picture = cv2.resize(frames.frames[index], (pic_w, pic_h), interpolation=interpolation)
        frame_idx = int(frames.frame_idx[index])
        iou = None
        if tubes is not None:
            picture = draw_tubes(
                picture,
                tubes,
                frame_idx,
                scale=geometry.scale,
                thickness=layout.thickness,
                font_scale=layout.font_scale * 0.8,
            )
            iou = tubes.frame_iou(frame_idx)
        sheet[y : y + pic_h, x : x + pic_w] = picture
        label = fit_text(
            tile_label(float(frames.timestamps_s[index]), iou), tile_w, layout.font_scale
        )
        draw_text(sheet, label, (x, y + tile_h + text_h - 3), TEXT_COLOUR, scale=layout.font_scale)
    return sheet


def _draw_header(sheet: np.ndarray, header: SheetHeader, layout: SheetLayout, width: int) -> None:
    scale, gap = layout.font_scale, layout.gap
    text_h = line_height(scale)
    usable = max(1, width - 2 * gap)
    baseline = gap + text_h - 4
    draw_text(
        sheet,
        fit_text(f"sample {header.sample_id}", usable, scale),
        (gap, baseline),
        TEXT_COLOUR,
        scale=scale,
    )
    baseline += text_h
    x = draw_text(
        sheet,
        fit_text(header.scores_line(), usable, scale),
        (gap, baseline),
        TEXT_COLOUR,
        scale=scale,
    )
    x += 3 * gap
    for label, colour in ((GT_LABEL, GT_COLOUR), (PRED_LABEL, PRED_COLOUR)):
        swatch = text_h // 2
        if x + swatch + gap + text_width(label, scale) > width - gap:
            break
        top = baseline - swatch
        cv2.rectangle(sheet, (x, top), (x + swatch, baseline), colour, thickness=cv2.FILLED)
        x = draw_text(sheet, label, (x + swatch + gap // 2 + 2, baseline), colour, scale=scale)
        x += 2 * gap
    for line in wrap_text(header.query, usable, scale, max_lines=layout.query_lines):
        baseline += text_h
        draw_text(sheet, line, (gap, baseline), TEXT_COLOUR, scale=scale)


__all__ = [
    "SheetGeometry",
    "SheetHeader",
    "SheetLayout",
    "contact_sheet",
    "sheet_geometry",
    "tile_label",
]
