"""Qwen3-VL: one video item, time told by ``<t seconds>`` text markers, boxes on a 0-1000
grid."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from stvg.policies.vlm.families._qwen import QwenVideoFamily, mrope_sections
from stvg.policies.vlm.families.base import frame_times, register
from stvg.policies.vlm.tiny_parts import (
    CHAT_TEMPLATE,
    TINY,
    ModelSize,
    build_tokenizer,
    qwen_token_ids,
    save_checkpoint,
    sincos_positions,
    text_config,
    vision_config,
)
from stvg.verifiers.formats import ShownFrames


class Qwen3VL(QwenVideoFamily):
    """Qwen3-VL (``Qwen3VLForConditionalGeneration`` and its MoE, ``Qwen3VLProcessor``).

    Time: the processor writes ``<t seconds>`` before each temporal patch, with ``t`` the
    mean of ``frames_indices[i] / fps`` over the first and last frame of the patch. The clip
    is described as a 1 fps video whose ``frames_indices`` are the shown timestamps
    (seconds, as floats), so ``t`` is exactly the mean of the first and last shown timestamp
    of each patch, with no rounding through a frame rate. A clip shorter than one temporal
    patch (``T < 2``) is padded by repeating the last frame and its timestamp: the processor
    refuses it otherwise, and repeating the last frame is exactly what its temporal padding
    does. Geometry: ``smart_resize`` over the clip (multiples of 32); boxes on 0-1000.
    """

    name: ClassVar[str] = "qwen3-vl"
    model_types: ClassVar[tuple[str, ...]] = ("qwen3_vl", "qwen3_vl_moe")
    processor_class: ClassVar[str] = "Qwen3VLProcessor"
    native_coords: ClassVar[str] = "norm1000"
    time_note: ClassVar[str] = "<t seconds> text markers before each temporal patch"

    def clip_and_metadata(
        self, frames: np.ndarray, shown: ShownFrames, temporal_patch_size: int
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """The frames (padded to one temporal patch), described as a 1 fps video whose
        ``frames_indices`` are the shown timestamps (see the class doc)."""
        times = frame_times(frames, shown)
        if (pad := temporal_patch_size - frames.shape[0]) > 0:
            frames = np.concatenate([frames, np.repeat(frames[-1:], pad, axis=0)])
            times = times + [times[-1]] * pad
        return frames, {"fps": 1.0, "frames_indices": times, "total_num_frames": len(times)}

    def build_processor(self, tokenizer: Any | None = None, temporal_patch_size: int = 2) -> Any:
        """``Qwen3VLProcessor`` with ``Qwen2VLImageProcessor`` (patch 16, mean/std 0.5, as
        Qwen3-VL checkpoints configure it) and ``Qwen3VLVideoProcessor`` (patch 16, video
        pixels per clip in ``[128 * 32 * 32, 768 * 32 * 32]``)."""
        from transformers import Qwen2VLImageProcessor, Qwen3VLProcessor, Qwen3VLVideoProcessor

        tokenizer = build_tokenizer() if tokenizer is None else tokenizer
        image_processor = Qwen2VLImageProcessor(
            patch_size=16,
            image_mean=[0.5, 0.5, 0.5],
            image_std=[0.5, 0.5, 0.5],
            temporal_patch_size=temporal_patch_size,
        )
        return Qwen3VLProcessor(
            image_processor=image_processor,
            tokenizer=tokenizer,
            video_processor=Qwen3VLVideoProcessor(temporal_patch_size=temporal_patch_size),
            chat_template=CHAT_TEMPLATE,
        )

    def build_checkpoint(self, path: str | Path, *, seed: int = 0, size: Any = None) -> Path:
        """:func:`build_qwen3_vl`."""
        return build_qwen3_vl(path, seed=seed, size=TINY if size is None else size)


QWEN3_VL = register(Qwen3VL())


def build_qwen3_vl(path: str | Path, *, seed: int = 0, size: ModelSize = TINY) -> Path:
    """Save a Qwen3-VL checkpoint of ``size`` (model, tokenizer, processor) under ``path``."""
    from transformers import Qwen3VLConfig, Qwen3VLForConditionalGeneration

    tokenizer = build_tokenizer()
    config = Qwen3VLConfig(
        text_config=text_config(
            tokenizer,
            size,
            head_dim=size.head_dim,
            rope_parameters={
                "rope_type": "default",
                "rope_theta": 10000.0,
                "mrope_section": mrope_sections("qwen3-vl", size.head_dim),
                "mrope_interleaved": True,
            },
        ),
        vision_config=vision_config(
            16,
            size,
            num_position_embeddings=size.vision_positions,
            deepstack_visual_indexes=list(size.deepstack),
        ),
        **qwen_token_ids(tokenizer),
    )
    processor = QWEN3_VL.build_processor(tokenizer, size.temporal_patch_size)
    init = sincos_positions if size.vision_position_init == "sincos" else None
    return save_checkpoint(
        Path(path), Qwen3VLForConditionalGeneration, config, processor, seed, init
    )


__all__ = ["QWEN3_VL", "Qwen3VL", "build_qwen3_vl"]
