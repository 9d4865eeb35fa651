"""One observation -> model inputs, through the checkpoint's own transformers processor.

The policy never re-implements a processor: the family adapter
(:mod:`stvg.policies.vlm.families`) calls the loaded processor with the rendered chat text
and the shown frames (one video for the Qwen families, one image per frame for image-list
families), and the processor resizes, normalises and patchifies the frames and expands the
text's placeholders into visual tokens. How already-sampled frames and their times are
described to each processor is documented on its adapter
(:class:`~stvg.policies.vlm.families.qwen2_5_vl.Qwen25VL`,
:class:`~stvg.policies.vlm.families.qwen3_vl.Qwen3VL`,
:class:`~stvg.policies.vlm.families.internvl.InternVL`).

The functions here take a family name and hand the work to its adapter.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from stvg.policies.vlm.families import get_family
from stvg.policies.vlm.families._qwen import (
    IMAGE_PAD,
    VIDEO_PAD,
    VISION_END,
    VISION_START,
    QwenVideoFamily,
    video_kwargs,
)
from stvg.policies.vlm.prepared import PreparedPrompt
from stvg.verifiers.formats import ModelGeometry, ShownFrames


def processor_geometry(
    processor: Any,
    family: str,
    *,
    min_pixels: int | None = None,
    max_pixels: int | None = None,
    cap_pixels_per_frame: bool | None = None,
) -> ModelGeometry:
    """The :class:`ModelGeometry` of ``processor`` under ``family``'s adapter, with the
    config's overrides (``None`` keeps the processor's value); see
    :meth:`~stvg.policies.vlm.families.FamilyAdapter.geometry`."""
    return get_family(family).geometry(
        processor,
        min_pixels=min_pixels,
        max_pixels=max_pixels,
        cap_pixels_per_frame=cap_pixels_per_frame,
    )


def clip_and_metadata(
    family: str, frames: np.ndarray, shown: ShownFrames, temporal_patch_size: int
) -> tuple[np.ndarray, dict[str, Any]]:
    """The clip given to a Qwen video processor and its ``video_metadata``.

    Args:
        family: ``qwen2.5-vl`` or ``qwen3-vl`` (a video family).
        frames: uint8 ``[T, H, W, 3]`` shown frames.
        shown: their timestamps (``T`` of them) and sizes.
        temporal_patch_size: frames per temporal patch of the video processor.

    Raises:
        ValueError: ``family`` does not take its frames as one Qwen video.
    """
    adapter = get_family(family)
    if not isinstance(adapter, QwenVideoFamily):
        raise ValueError(
            f"clip_and_metadata describes a Qwen video clip; {family} takes its frames as "
            f"{adapter.input_kind}"
        )
    return adapter.clip_and_metadata(frames, shown, temporal_patch_size)


def encode_prompt(
    processor: Any,
    family: str,
    text: str,
    frames: np.ndarray,
    shown: ShownFrames,
    geometry: ModelGeometry,
) -> PreparedPrompt:
    """Run ``processor`` on ``text`` and the shown ``frames`` through ``family``'s adapter
    (:meth:`~stvg.policies.vlm.families.FamilyAdapter.encode`)."""
    return get_family(family).encode(processor, text, frames, shown, geometry)


__all__ = [
    "IMAGE_PAD",
    "VIDEO_PAD",
    "VISION_END",
    "VISION_START",
    "PreparedPrompt",
    "clip_and_metadata",
    "encode_prompt",
    "processor_geometry",
    "video_kwargs",
]
