"""Pictures of grounding results: both tubes drawn on frames, contact sheets, mp4 videos."""

from stvg.render.draw import GT_COLOUR, PRED_COLOUR, box_pixels, draw_box, draw_tubes
from stvg.render.mp4 import Mp4Writer
from stvg.render.overlay import TubePair
from stvg.render.sample import (
    read_sample_frames,
    render_sample,
    sample_header,
    sample_sheet,
    write_image,
    write_sample_video,
)
from stvg.render.sheet import (
    SheetGeometry,
    SheetHeader,
    SheetLayout,
    contact_sheet,
    sheet_geometry,
    tile_label,
)

__all__ = [
    "GT_COLOUR",
    "PRED_COLOUR",
    "Mp4Writer",
    "SheetGeometry",
    "SheetHeader",
    "SheetLayout",
    "TubePair",
    "box_pixels",
    "contact_sheet",
    "draw_box",
    "draw_tubes",
    "read_sample_frames",
    "render_sample",
    "sample_header",
    "sample_sheet",
    "sheet_geometry",
    "tile_label",
    "write_image",
    "write_sample_video",
]
