"""Second-level answer -> frame-level tube: interpolation and cross-second smoothing."""

from stvg.tubes.densify import (
    DENSIFY_METHODS,
    DensifyConfig,
    DensifyMethod,
    densify,
    densify_with,
    resolve_params,
)
from stvg.tubes.kalman import kalman_boxes, rts_smooth
from stvg.tubes.smoothing import hold_boxes, linear_boxes, pchip_boxes, savgol_boxes

__all__ = [
    "DENSIFY_METHODS",
    "DensifyConfig",
    "DensifyMethod",
    "densify",
    "densify_with",
    "hold_boxes",
    "kalman_boxes",
    "linear_boxes",
    "pchip_boxes",
    "resolve_params",
    "rts_smooth",
    "savgol_boxes",
]
