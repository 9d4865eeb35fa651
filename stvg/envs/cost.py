"""Visual-token cost of showing frames to a Qwen VLM as one video.

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

``smart_resize`` rounds each side to the nearest multiple of ``factor`` and rescales,
keeping the aspect ratio, when the pixel count leaves ``[min_pixels, max_pixels]``:

* **Qwen2.5-VL** (per frame): the bound applies to ``H' * W'``. Video defaults
  ``min_pixels = 128 * 28 * 28 = 100_352`` and ``max_pixels = 768 * 28 * 28 = 602_112``
  (pixels per frame).
* **Qwen3-VL** (whole clip): the bound applies to ``round(T / 2) * 2 * H' * W'`` (Python's
  half-to-even ``round``), rescaling by ``sqrt(T * H * W / max_pixels)``; sides shorter than
  ``factor`` are first scaled up to ``factor``. Video defaults ``min_pixels = 128 * 32 * 32
  = 131_072`` and ``max_pixels = 768 * 32 * 32 = 786_432`` (pixels over all frames). The
  processor refuses ``T < 2``; the VLM policy then repeats the frame (exactly what the
  temporal padding does anyway), so ``T = 1`` is costed as ``T = 2``.

``cap_pixels_per_frame=True`` reproduces the processors' optional qwen-vl-utils cap on
``max_pixels`` (off by default, as in the processors).

Checkpoints may override ``min_pixels``/``max_pixels`` in their processor configs; pass the
values of the processor in use (``VLMPolicy`` does) for exact counts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

ModelFamily = Literal["qwen2.5-vl", "qwen3-vl"]

#: Families whose cost :func:`visual_tokens` knows.
MODEL_FAMILIES: tuple[ModelFamily, ...] = ("qwen2.5-vl", "qwen3-vl")


@dataclass(frozen=True)
class VideoProcessorSpec:
    """The constants of one family's video processor.

    Attributes:
        patch_size: side of a vision patch (pixels).
        merge_size: patches merged per side into one LLM token (2 -> 2x2 patches/token).
        temporal_patch_size: frames per temporal patch.
        min_pixels: default lower pixel bound (per frame for Qwen2.5-VL, per clip for Qwen3-VL).
        max_pixels: default upper pixel bound (same units as ``min_pixels``).
        max_video_tokens: the processor's ``max_video_tokens`` used by ``cap_pixels_per_frame``
            (whole-video LLM context for Qwen2.5-VL, tokens per frame for Qwen3-VL).
        pixels_per_clip: whether the pixel bounds count all frames (Qwen3-VL) or one frame.
    """

    patch_size: int
    merge_size: int
    temporal_patch_size: int
    min_pixels: int
    max_pixels: int
    max_video_tokens: int
    pixels_per_clip: bool

    @property
    def factor(self) -> int:
        """Side granularity of resized frames: ``patch_size * merge_size`` (pixels)."""
        return self.patch_size * self.merge_size


#: Video-processor constants per family (transformers 5.x ``Qwen2VLVideoProcessor`` and
#: ``Qwen3VLVideoProcessor`` class defaults).
PROCESSOR_SPECS: dict[str, VideoProcessorSpec] = {
    "qwen2.5-vl": VideoProcessorSpec(
        patch_size=14,  # pixels
        merge_size=2,  # patches per side per token
        temporal_patch_size=2,  # frames
        min_pixels=128 * 28 * 28,  # pixels per frame
        max_pixels=768 * 28 * 28,  # pixels per frame
        max_video_tokens=128_000,  # tokens per video
        pixels_per_clip=False,
    ),
    "qwen3-vl": VideoProcessorSpec(
        patch_size=16,  # pixels
        merge_size=2,  # patches per side per token
        temporal_patch_size=2,  # frames
        min_pixels=128 * 32 * 32,  # pixels over the clip
        max_pixels=768 * 32 * 32,  # pixels over the clip
        max_video_tokens=768,  # tokens per frame
        pixels_per_clip=True,
    ),
}


def processor_spec(model_family: str) -> VideoProcessorSpec:
    """Constants of ``model_family``'s video processor; unknown families raise ``ValueError``."""
    try:
        return PROCESSOR_SPECS[model_family]
    except KeyError:
        raise ValueError(
            f"unknown model_family {model_family!r}; choose one of {list(PROCESSOR_SPECS)}"
        ) from None


def _check_positive(name: str, value: int) -> int:
    if isinstance(value, bool) or int(value) != value or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _smart_resize_per_frame(
    height: int, width: int, factor: int, min_pixels: int, max_pixels: int
) -> tuple[int, int]:
    # transformers.models.qwen2_vl.image_processing_qwen2_vl.smart_resize
    if max(height, width) / min(height, width) > 200:
        raise ValueError(f"aspect ratio must be at most 200, got {height}x{width} (height x width)")
    h_bar = round(height / factor) * factor
    w_bar = round(width / factor) * factor
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar


def _smart_resize_per_clip(
    num_frames: int,
    height: int,
    width: int,
    factor: int,
    temporal_factor: int,
    min_pixels: int,
    max_pixels: int,
) -> tuple[int, int]:
    # transformers.models.qwen3_vl.video_processing_qwen3_vl.smart_resize
    if height < factor or width < factor:
        scale = max(factor / height, factor / width)
        height = int(height * scale)
        width = int(width * scale)
    if max(height, width) / min(height, width) > 200:
        raise ValueError(f"aspect ratio must be at most 200, got {height}x{width} (height x width)")
    h_bar = round(height / factor) * factor
    w_bar = round(width / factor) * factor
    t_bar = round(num_frames / temporal_factor) * temporal_factor
    if t_bar * h_bar * w_bar > max_pixels:
        beta = math.sqrt((num_frames * height * width) / max_pixels)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif t_bar * h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (num_frames * height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar


def resized_size(
    model_family: ModelFamily,
    num_frames: int,
    height: int,
    width: int,
    *,
    min_pixels: int | None = None,
    max_pixels: int | None = None,
    cap_pixels_per_frame: bool = False,
    max_video_tokens: int | None = None,
) -> tuple[int, int]:
    """Size ``(height, width)`` in pixels to which the family's video processor resizes frames.

    Args:
        model_family: ``"qwen2.5-vl"`` or ``"qwen3-vl"``.
        num_frames: frames in the clip (``1`` is costed as ``2`` for Qwen3-VL, see module doc).
        height, width: size of the frames given to the processor (pixels).
        min_pixels, max_pixels: the processor's ``size["shortest_edge"]`` and
            ``size["longest_edge"]``; ``None`` takes the family default.
        cap_pixels_per_frame: apply the processors' optional qwen-vl-utils pixel cap.
        max_video_tokens: the cap's token budget (``None`` = family default): tokens per
            video for Qwen2.5-VL, per frame for Qwen3-VL.

    Returns:
        ``(resized_height, resized_width)``, both multiples of ``patch_size * merge_size``.
    """
    spec = processor_spec(model_family)
    num_frames = _check_positive("num_frames", num_frames)
    height = _check_positive("height", height)
    width = _check_positive("width", width)
    lo = spec.min_pixels if min_pixels is None else _check_positive("min_pixels", min_pixels)
    hi = spec.max_pixels if max_pixels is None else _check_positive("max_pixels", max_pixels)
    budget = spec.max_video_tokens if max_video_tokens is None else max_video_tokens
    factor = spec.factor
    if spec.pixels_per_clip:
        num_frames = max(num_frames, spec.temporal_patch_size)
        if cap_pixels_per_frame:
            frame_cap = budget * factor * factor
            per_frame = max(min(frame_cap, hi // num_frames), int(lo * 1.05))
            hi = per_frame * num_frames
        return _smart_resize_per_clip(
            num_frames, height, width, factor, spec.temporal_patch_size, lo, hi
        )
    if cap_pixels_per_frame:
        total_pixels = int(budget * factor * factor * 0.9)
        hi = max(min(hi, total_pixels * spec.temporal_patch_size // num_frames), int(lo * 1.05))
    return _smart_resize_per_frame(height, width, factor, lo, hi)


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
) -> int:
    """Number of visual (``<|video_pad|>``) tokens for ``num_frames`` frames of ``height x width``.

    Equals ``video_grid_thw.prod() // merge_size**2`` of the family's video processor called
    with ``do_sample_frames=False`` (the frames are the ones shown, no resampling). Arguments
    as in :func:`resized_size`.

    >>> visual_tokens("qwen2.5-vl", 10, 224, 224)  # 336x336 -> 5 * 24 * 24 / 4
    720
    >>> visual_tokens("qwen3-vl", 10, 224, 224)  # 224x224 -> 5 * 14 * 14 / 4
    245
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
    )
    grid_t = -(-int(num_frames) // spec.temporal_patch_size)  # ceil: last frame repeated
    grid_h = resized_h // spec.patch_size
    grid_w = resized_w // spec.patch_size
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
