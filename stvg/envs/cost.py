"""Visual-token cost of showing frames to a VLM (Qwen as one video; InternVL as images).

InternVL (``square`` in its spec) resizes every frame to ``S x S`` and makes
``(S / 14)^2 / 4`` tokens per frame (256 at 448): the same formula with ``grid_t = T``.

This mirrors, constant for constant, the video processors of the installed transformers
(``Qwen2VLVideoProcessor``, which Qwen2.5-VL uses, and ``Qwen3VLVideoProcessor``), so the
figures the envs report equal the number of ``<|video_pad|>`` tokens those models receive.

Formula (all sizes in pixels, counts in tokens)::

    factor   = patch_size * merge_size           # 14 * 2 = 28 (Qwen2.5-VL), 16 * 2 = 32 (Qwen3-VL)
    H', W'   = smart_resize(...)                 # multiples of `factor`, see below
    grid_t   = ceil(T / temporal_patch_size)     # frames padded to a multiple of 2 by
                                                 # repeating the last frame
    grid_h   = H' / patch_size,  grid_w = W' / patch_size
    tokens   = grid_t * grid_h * grid_w / merge_size**2

LLaVA-OneVision (``pooled``): ``grid = floor(S / patch_size)`` of its ``S x S`` frames,
``tokens = T * ceil(grid / 2)**2 + 1`` (bilinear 2x2 pooling, one newline per video).

``smart_resize`` (the resized frame size ``H', W'``) lives in
:mod:`stvg.verifiers.formats.geometry`, where the answer contract uses it too.

Checkpoints may override ``min_pixels``/``max_pixels`` in their processor configs; pass the
values of the processor in use (``VLMPolicy`` does) for exact counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from stvg.verifiers.formats.geometry import (
    MODEL_FAMILIES,
    PROCESSOR_SPECS,
    ModelFamily,
    VideoProcessorSpec,
    processor_spec,
    resized_size,
)


def visual_tokens(
    model_family: ModelFamily,
    num_frames: int,
    height: int,
    width: int,
    *,
    min_pixels: int | None = None,
    max_pixels: int | None = None,
    cap_pixels_per_frame: bool = False,
    max_video_tokens: int | None = None,
    temporal_patch_size: int | None = None,
) -> int:
    """Number of visual tokens (Qwen ``<|video_pad|>``, InternVL ``<IMG_CONTEXT>``) for
    ``num_frames`` frames of ``height x width``.

    Equals ``video_grid_thw.prod() // merge_size**2`` of the family's video processor called
    with ``do_sample_frames=False`` (the frames are the ones shown, no resampling). Arguments
    as in :func:`resized_size`.

    >>> visual_tokens("qwen2.5-vl", 10, 224, 224)  # 336x336 -> 5 * 24 * 24 / 4
    720
    >>> visual_tokens("qwen3-vl", 10, 224, 224)  # 224x224 -> 5 * 14 * 14 / 4
    245
    >>> visual_tokens("llava-onevision", 8, 360, 640)  # 384x384 -> 8 * 14 * 14 + 1
    1569
    """
    spec = processor_spec(model_family)
    resized_h, resized_w = resized_size(
        model_family,
        num_frames,
        height,
        width,
        min_pixels=min_pixels,
        max_pixels=max_pixels,
        cap_pixels_per_frame=cap_pixels_per_frame,
        max_video_tokens=max_video_tokens,
        temporal_patch_size=temporal_patch_size,
    )
    temporal = spec.temporal_patch_size if temporal_patch_size is None else temporal_patch_size
    grid_t = -(-int(num_frames) // temporal)  # ceil: last frame repeated
    grid_h = resized_h // spec.patch_size
    grid_w = resized_w // spec.patch_size
    if spec.pooled:  # LLaVA-OneVision: ceil-pooled grid, plus its newline per video
        merge = spec.merge_size
        pooled = -(-grid_h // merge) * -(-grid_w // merge)
        return grid_t * pooled + spec.tokens_per_video
    return grid_t * grid_h * grid_w // spec.merge_size**2


@dataclass(frozen=True)
class CostFigures:
    """Cost of one episode's answer, as reported in env ``info`` and evaluation reports.

    Attributes:
        frames_shown: real (unpadded) frames shown to the policy.
        visual_tokens: ``{model_family: tokens}`` the frames cost each VLM family.
        output_tokens: tokens the policy generated, when known (text policies).
    """

    frames_shown: int
    visual_tokens: dict[str, int] = field(default_factory=dict)
    output_tokens: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain ``{"frames_shown", "visual_tokens", "output_tokens"}`` (JSON friendly)."""
        return {
            "frames_shown": int(self.frames_shown),
            "visual_tokens": {k: int(v) for k, v in self.visual_tokens.items()},
            "output_tokens": None if self.output_tokens is None else int(self.output_tokens),
        }


def cost_figures(
    num_frames: int,
    shown_height: int,
    shown_width: int,
    *,
    output_tokens: int | None = None,
    families: tuple[str, ...] = MODEL_FAMILIES,
) -> dict[str, Any]:
    """Cost figures of showing ``num_frames`` frames of ``shown_height x shown_width`` pixels.

    Visual tokens use each family's default video-processor settings. ``num_frames == 0``
    (nothing shown) costs 0 tokens.

    Returns:
        :meth:`CostFigures.to_dict` of the figures, e.g. ``{"frames_shown": 10,
        "visual_tokens": {"qwen2.5-vl": 720, "qwen3-vl": 245}, "output_tokens": None}``
        for 10 frames of 224x224.
    """
    if isinstance(num_frames, bool) or int(num_frames) != num_frames or num_frames < 0:
        raise ValueError(f"num_frames must be a non-negative integer, got {num_frames!r}")
    tokens = {
        family: (
            visual_tokens(family, int(num_frames), shown_height, shown_width)  # type: ignore[arg-type]
            if num_frames
            else 0
        )
        for family in families
    }
    return CostFigures(int(num_frames), tokens, output_tokens).to_dict()


__all__ = [
    "MODEL_FAMILIES",
    "PROCESSOR_SPECS",
    "CostFigures",
    "ModelFamily",
    "VideoProcessorSpec",
    "cost_figures",
    "processor_spec",
    "resized_size",
    "visual_tokens",
]
