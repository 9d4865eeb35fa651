"""Qwen2.5-VL: one video item, time told by ``second_per_grid_ts``, boxes in pixels of the
processor's resized frames."""

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
    text_config,
    vision_config,
)
from stvg.verifiers.formats import ShownFrames


class Qwen25VL(QwenVideoFamily):
    """Qwen2.5-VL (``Qwen2_5_VLForConditionalGeneration``, ``Qwen2_5_VLProcessor``).

    Time: ``second_per_grid_ts = temporal_patch_size / sampled_fps`` (its M-RoPE time step).
    The clip is described with ``fps = 1 / interval`` and one index per shown frame, so
    ``sampled_fps = 1 / interval`` and ``second_per_grid_ts = temporal_patch_size *
    interval``, where ``interval`` is the shown frames' spacing
    (:attr:`~stvg.verifiers.formats.ShownFrames.interval_s`: the median spacing of the
    timestamps, ``1 / fps`` for a single frame). Geometry: ``smart_resize`` per frame
    (multiples of 28 between ``min_pixels`` and ``max_pixels``); boxes in absolute pixels of
    that resized frame.
    """

    name: ClassVar[str] = "qwen2.5-vl"
    model_types: ClassVar[tuple[str, ...]] = ("qwen2_5_vl",)
    processor_class: ClassVar[str] = "Qwen2_5_VLProcessor"
    native_coords: ClassVar[str] = "pixels"
    time_note: ClassVar[str] = "second_per_grid_ts (M-RoPE time step per temporal patch)"

    def clip_and_metadata(
        self, frames: np.ndarray, shown: ShownFrames, temporal_patch_size: int
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """The frames unchanged, described at ``fps = 1 / interval`` (see the class doc)."""
        frame_times(frames, shown)
        count = frames.shape[0]
        return frames, {
            "fps": 1.0 / shown.interval_s,
            "frames_indices": list(range(count)),
            "total_num_frames": count,
        }

    def build_processor(self, tokenizer: Any | None = None, temporal_patch_size: int = 2) -> Any:
        """``Qwen2_5_VLProcessor`` with ``Qwen2VLImageProcessor`` and ``Qwen2VLVideoProcessor``
        at their class defaults (patch 14, video pixels per frame in ``[128 * 28 * 28,
        768 * 28 * 28]``)."""
        from transformers import Qwen2_5_VLProcessor, Qwen2VLImageProcessor, Qwen2VLVideoProcessor

        tokenizer = build_tokenizer() if tokenizer is None else tokenizer
        return Qwen2_5_VLProcessor(
            image_processor=Qwen2VLImageProcessor(temporal_patch_size=temporal_patch_size),
            tokenizer=tokenizer,
            video_processor=Qwen2VLVideoProcessor(temporal_patch_size=temporal_patch_size),
            chat_template=CHAT_TEMPLATE,
        )

    def build_checkpoint(self, path: str | Path, *, seed: int = 0, size: Any = None) -> Path:
        """:func:`build_qwen25_vl`."""
        return build_qwen25_vl(path, seed=seed, size=TINY if size is None else size)


QWEN2_5_VL = register(Qwen25VL())


def build_qwen25_vl(path: str | Path, *, seed: int = 0, size: ModelSize = TINY) -> Path:
    """Save a Qwen2.5-VL checkpoint of ``size`` (model, tokenizer, processor) under ``path``.

    Every vision block attends over the whole frame (``fullatt_block_indexes``); the window
    of the windowed blocks of the released models (112 pixels) is kept for checkpoints that
    set some blocks windowed.
    """
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    tokenizer = build_tokenizer()
    config = Qwen2_5_VLConfig(
        text_config=text_config(
            tokenizer,
            size,
            rope_parameters={
                "rope_type": "default",
                "rope_theta": 10000.0,
                "mrope_section": mrope_sections("qwen2.5-vl", size.head_dim),
            },
        ),
        vision_config=vision_config(
            14,
            size,
            window_size=56 if size == TINY else 112,
            fullatt_block_indexes=list(range(size.vision_depth)),
        ),
        **qwen_token_ids(tokenizer),
    )
    processor = QWEN2_5_VL.build_processor(tokenizer, size.temporal_patch_size)
    return save_checkpoint(Path(path), Qwen2_5_VLForConditionalGeneration, config, processor, seed)


__all__ = ["QWEN2_5_VL", "Qwen25VL", "build_qwen25_vl"]
