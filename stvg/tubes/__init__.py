"""Second-level answer -> frame-level tube: interpolation, cross-second smoothing, tracking."""

from stvg.tubes.densify import (
    DENSIFY_METHODS,
    FRAME_METHODS,
    DensifyConfig,
    DensifyMethod,
    densify,
    densify_with,
    method_names,
    needs_frames,
    resolve_params,
)
from stvg.tubes.frames import ArrayFrames, FrameBlock, FrameProvider, VideoFileFrames
from stvg.tubes.kalman import kalman_boxes, rts_smooth
from stvg.tubes.smoothing import hold_boxes, linear_boxes, pchip_boxes, savgol_boxes
from stvg.tubes.track import TrackResult, track_boxes

__all__ = [
    "DENSIFY_METHODS",
    "FRAME_METHODS",
    "ArrayFrames",
    "DensifyConfig",
    "DensifyMethod",
    "FrameBlock",
    "FrameProvider",
    "TrackResult",
    "VideoFileFrames",
    "densify",
    "densify_with",
    "hold_boxes",
    "kalman_boxes",
    "linear_boxes",
    "method_names",
    "needs_frames",
    "pchip_boxes",
    "resolve_params",
    "rts_smooth",
    "savgol_boxes",
    "track_boxes",
]
