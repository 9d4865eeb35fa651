"""``render_mode="rgb_array"`` of the grounding env: the episode as a contact sheet.

The sheet (:func:`stvg.render.contact_sheet`) shows the frames of the current episode as
the policy was shown them, one tile per frame with its timestamp; before the step there
are no boxes and the header says ``not answered yet``; after the step the answer's
densified tube (magenta) and the ground truth (green) are drawn, each tile says its frame's
IoU and the header the episode's tIoU and vIoU. The sheet has one tile slot per frame slot
of the env (``max_frames``) and square tiles of ``max(max_side, MIN_TILE_SIDE)`` pixels, so
every render of one env has the same shape, as video recorders need.
"""

from __future__ import annotations

import numpy as np

from stvg.data.types import Sample
from stvg.data.video import SampledFrames
from stvg.render.overlay import TubePair
from stvg.render.sheet import SheetHeader, SheetLayout, contact_sheet
from stvg.verifiers.formats import FrameContext
from stvg.verifiers.verifier import VerifierResult

RENDER_MODES: tuple[str, ...] = ("rgb_array",)
MIN_TILE_SIDE = 160  # pixels; smaller shown frames are enlarged so the tile labels fit
NOT_ANSWERED = "not answered yet"


def check_render_mode(render_mode: str | None, env_name: str) -> str | None:
    """``render_mode`` when it is ``None`` or one of :data:`RENDER_MODES`.

    Raises:
        ValueError: any other value (the message names the env and the choices).
    """
    if render_mode is not None and render_mode not in RENDER_MODES:
        raise ValueError(
            f"{env_name} render_mode must be None or one of {list(RENDER_MODES)}, "
            f"got {render_mode!r}"
        )
    return render_mode


def sheet_layout(max_frames: int, max_side: int) -> SheetLayout:
    """The fixed layout of an env's sheets: ``max_frames`` square tiles of
    ``max(max_side, MIN_TILE_SIDE)`` pixels."""
    side = max(int(max_side), MIN_TILE_SIDE)
    return SheetLayout(tile_width=side, tile_height=side, num_tiles=int(max_frames))


def episode_sheet(
    sample: Sample,
    ctx: FrameContext,
    frames: np.ndarray,
    result: VerifierResult | None,
    layout: SheetLayout,
    remark: str | None = None,
) -> np.ndarray:
    """The contact sheet of one episode.

    Args:
        sample: the episode's sample (ground truth, id, query).
        ctx: what the policy was shown (native frames, timestamps in seconds, sizes).
        frames: uint8 ``[T, H, W, 3]`` RGB frames as shown, ``T = len(ctx.frame_idx)``.
        result: the verifier's result of the step's answer, ``None`` before the step.
        layout: :func:`sheet_layout` of the env.
        remark: a line the env adds to the header's note (the zoom env: its glance and
            zoom windows).

    Returns:
        uint8 ``[H, W, 3]`` RGB image.
    """
    shown = SampledFrames(
        frames=frames,
        frame_idx=ctx.frame_idx,
        timestamps_s=ctx.timestamps_s,
        shown_size=ctx.shown_size,
        original_size=ctx.original_size,
        native_fps=ctx.native_fps,
    )
    if result is None:
        note = NOT_ANSWERED if remark is None else f"{NOT_ANSWERED}; {remark}"
        header = SheetHeader(sample.sample_id, sample.query, note=note)
        return contact_sheet(shown, None, header, layout)
    tubes = TubePair(tuple(sample.gt_span), sample.gt_tube(), result.pred_span, result.pred_tube)
    note = None if result.parse_error is None else f"unusable answer: {result.parse_error}"
    if remark is not None:
        note = remark if note is None else f"{note}; {remark}"
    header = SheetHeader(sample.sample_id, sample.query, result.t_iou, result.v_iou, note)
    return contact_sheet(shown, tubes, header, layout)


__all__ = ["MIN_TILE_SIDE", "RENDER_MODES", "check_render_mode", "episode_sheet", "sheet_layout"]
