"""Frame geometry of the VLM processors: the size frames are resized to, per family.

One data-only :class:`VideoProcessorSpec` per model family, keyed by the family name that
``stvg.policies.vlm.families`` registers (the policy's family adapter reads the same
constants from the checkpoint's processor and checks them against these): the verifier
layer needs them to convert pixel answers and to cost visual tokens without importing
the policy layer.

Qwen2.5-VL answers boxes in absolute pixels of the frames *as its processor resized them*,
so the answer contract (:mod:`stvg.verifiers.formats.contract`) needs this size to convert a
pixel answer back to the video. The formula mirrors, constant for constant, transformers'
``smart_resize`` of ``Qwen2VLVideoProcessor`` (used by Qwen2.5-VL, bound per frame) and
``Qwen3VLVideoProcessor`` (bound over the clip); tests hold it equal to those processors'
real output. See :mod:`stvg.envs.cost` for the visual-token formula built on it.

``smart_resize`` rounds each side to the nearest multiple of ``factor = patch_size *
merge_size`` (28 for Qwen2.5-VL, 32 for Qwen3-VL) and rescales, keeping the aspect ratio,
when the pixel count leaves ``[min_pixels, max_pixels]``:

* **Qwen2.5-VL** (per frame): the bound applies to ``H' * W'``. Video defaults
  ``min_pixels = 128 * 28 * 28 = 100_352`` and ``max_pixels = 768 * 28 * 28 = 602_112``.
* **Qwen3-VL** (whole clip): the bound applies to ``round(T / 2) * 2 * H' * W'`` (Python's
  half-to-even ``round``), rescaling by ``sqrt(T * H * W / max_pixels)``; sides shorter than
  ``factor`` are first scaled up to ``factor`` (``2`` is the temporal patch size; a checkpoint
  with another one, e.g. 1, rounds ``T`` to its multiples). Video defaults ``min_pixels = 128 * 32 * 32``
  and ``max_pixels = 768 * 32 * 32`` (pixels over all frames). The processor refuses
  ``T < 2``; the VLM policy then repeats the frame, so ``T = 1`` is sized as ``T = 2``.

* **InternVL** (fixed square, ``square=True``): every frame is resized to ``S x S`` with
  ``S * S = max_pixels`` (``min_pixels == max_pixels``), aspect ratio not kept, no tiling
  (the policy switches ``crop_to_patches`` off). Released checkpoints use ``S = 448``
  (``patch 14``, pixel-shuffle ``0.5`` = a 2x2 merge: 256 tokens per frame); a tiny one 56.
* **LLaVA-OneVision** (fixed square, ``pooled=True``): every frame is stretched to ``S x S``
  (``S = 384`` in the released checkpoints, 56 in a tiny one); the SigLIP tower sees
  ``floor(S / 14)`` patches per side (27: its stride-14 convolution drops the last 6
  pixels, so ``S`` need not be a multiple of anything) and the model pools them 2x2
  bilinearly to ``ceil(27 / 2) = 14`` per side: 196 tokens per frame, plus one newline
  token per video (``tokens_per_video``).

``cap_pixels_per_frame=True`` reproduces the processors' optional qwen-vl-utils cap on
``max_pixels`` (off by default, as in the processors).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

ModelFamily = Literal["qwen2.5-vl", "qwen3-vl", "internvl", "llava-onevision"]

#: Families the envs cost by default (``cost/visual_tokens/<family>`` of every episode);
#: every family of :data:`PROCESSOR_SPECS` can be costed on demand.
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
        square: every frame is resized to a square of side ``sqrt(max_pixels)`` whatever
            its aspect ratio (InternVL), instead of ``smart_resize``.
        pooled: the tower's patch grid is ``floor(side / patch_size)`` and pooled to
            ``ceil(grid / merge_size)`` tokens per side (LLaVA-OneVision's bilinear 2x2
            pooling), instead of an exact ``merge_size x merge_size`` merge of a grid that
            ``patch_size * merge_size`` divides.
        tokens_per_video: tokens added once per video (LLaVA-OneVision's newline token).
    """

    patch_size: int
    merge_size: int
    temporal_patch_size: int
    min_pixels: int
    max_pixels: int
    max_video_tokens: int
    pixels_per_clip: bool
    square: bool = False
    pooled: bool = False
    tokens_per_video: int = 0

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
    "internvl": VideoProcessorSpec(
        patch_size=14,  # pixels
        merge_size=2,  # patches per side per token (pixel shuffle, downsample_ratio 0.5)
        temporal_patch_size=1,  # frames: every frame is one image
        min_pixels=448 * 448,  # pixels per frame (fixed: min == max)
        max_pixels=448 * 448,  # pixels per frame
        max_video_tokens=256,  # tokens per frame (unused: no cap)
        pixels_per_clip=False,
        square=True,
    ),
    "llava-onevision": VideoProcessorSpec(
        patch_size=14,  # pixels (SigLIP)
        merge_size=2,  # patches per side per token (bilinear pooling, ceil)
        temporal_patch_size=1,  # frames: every frame pooled on its own
        min_pixels=384 * 384,  # pixels per frame (fixed: min == max)
        max_pixels=384 * 384,  # pixels per frame
        max_video_tokens=196,  # tokens per frame (unused: no cap)
        pixels_per_clip=False,
        square=True,
        pooled=True,
        tokens_per_video=1,  # image_newline after the video
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


def _square(min_pixels: int, max_pixels: int, factor: int) -> tuple[int, int]:
    side = math.isqrt(max_pixels)
    if min_pixels != max_pixels or side * side != max_pixels or side % factor:
        raise ValueError(
            f"a fixed-square family resizes every frame to S x S: min_pixels ({min_pixels}) "
            f"and max_pixels ({max_pixels}) must both be S * S with S a multiple of {factor} "
            "(e.g. 448 * 448)"
        )
    return side, side


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
    temporal_patch_size: int | None = None,
) -> tuple[int, int]:
    """Size ``(height, width)`` in pixels to which the family's video processor resizes frames.

    Args:
        model_family: a family of :data:`PROCESSOR_SPECS` (``qwen2.5-vl``, ``qwen3-vl``,
            ``internvl``).
        num_frames: frames in the clip (``1`` is costed as ``2`` for Qwen3-VL, see module doc).
        height, width: size of the frames given to the processor (pixels).
        min_pixels, max_pixels: the processor's ``size["shortest_edge"]`` and
            ``size["longest_edge"]``; ``None`` takes the family default.
        cap_pixels_per_frame: apply the processors' optional qwen-vl-utils pixel cap.
        max_video_tokens: the cap's token budget (``None`` = family default): tokens per
            video for Qwen2.5-VL, per frame for Qwen3-VL.
        temporal_patch_size: frames per temporal patch (``None`` = the family's 2; a small
            checkpoint of ``stvg models small --temporal-patch-size 1`` has 1).

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
    temporal = (
        spec.temporal_patch_size
        if temporal_patch_size is None
        else _check_positive("temporal_patch_size", temporal_patch_size)
    )
    factor = spec.factor
    if spec.square:
        return _square(lo, hi, 1 if spec.pooled else factor)
    if spec.pixels_per_clip:
        num_frames = max(num_frames, temporal)
        if cap_pixels_per_frame:
            frame_cap = budget * factor * factor
            per_frame = max(min(frame_cap, hi // num_frames), int(lo * 1.05))
            hi = per_frame * num_frames
        return _smart_resize_per_clip(num_frames, height, width, factor, temporal, lo, hi)
    if cap_pixels_per_frame:
        total_pixels = int(budget * factor * factor * 0.9)
        hi = max(min(hi, total_pixels * temporal // num_frames), int(lo * 1.05))
    return _smart_resize_per_frame(height, width, factor, lo, hi)


__all__ = [
    "MODEL_FAMILIES",
    "PROCESSOR_SPECS",
    "ModelFamily",
    "VideoProcessorSpec",
    "processor_spec",
    "resized_size",
]
