"""``StvgRLHFDataset``: verl's ``RLHFDataset`` reading stvg's frames exactly.

Point verl at it (``data.custom_cls``, see ``docs/verl.md``)::

    data:
      custom_cls:
        path: pkg://stvg.exports.verl_dataset    # or the file path of this module
        name: StvgRLHFDataset

Everything but the vision step is verl's own (parquet loading, prompt filtering, the chat
messages). The vision step hands the processor the row's shown frames with the VLM
policy's own video metadata (:func:`stvg.exports.verl.stvg_videos`): the same pixels, frame
times (Qwen3-VL's in-prompt timestamps) and token counts as ``stvg``'s VLM policy, where
verl's default (qwen-vl-utils) renumbers the frames ``0, 1, ...`` and resizes them once
more. This module imports verl; the rest of :mod:`stvg.exports` does not.
"""

from __future__ import annotations

from typing import Any

from verl.utils.dataset.rl_dataset import RLHFDataset

from stvg.exports.verl import stvg_videos


class StvgRLHFDataset(RLHFDataset):
    """verl's ``RLHFDataset`` whose vision step returns stvg's shown frames and metadata.

    Inputs: parquet files written by ``stvg export verl`` (their ``videos`` entries carry
    the frames, ``stvg_timestamps`` and ``stvg_family``). Outputs: verl's rows; the vision
    step yields ``(frames uint8 [T, H, W, 3], video_metadata)`` per video, no images or
    audio (STVG rows have none).
    """

    @classmethod
    def _process_multi_modal_info(
        cls, messages: list[dict[str, Any]], image_patch_size: int, config: Any
    ) -> tuple[None, list[Any] | None, None]:
        videos = stvg_videos(messages)
        return None, (videos or None), None

    @classmethod
    async def process_vision_info(
        cls, messages: list[dict[str, Any]], image_patch_size: int, config: Any
    ) -> tuple[None, list[Any] | None]:
        videos = stvg_videos(messages)
        return None, (videos or None)


__all__ = ["StvgRLHFDataset"]
