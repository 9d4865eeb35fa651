"""What the two Qwen video families share: the frames as ONE video through the checkpoint's
own processor (``Qwen2_5_VLProcessor`` / ``Qwen3VLProcessor``).

The processor resizes, normalises and patchifies the frames and expands the text's single
``<|video_pad|>`` into the video's tokens. The adapter adds how already-sampled frames are
described to it:

* ``do_sample_frames=False``: the frames are exactly the shown ones, never resampled.
* ``video_metadata`` so that the timing the model receives is the shown timing (each
  family's :meth:`QwenVideoFamily.clip_and_metadata`).
* Pixel bounds: ``size={"shortest_edge": min_pixels, "longest_edge": max_pixels}`` and
  ``cap_pixels_per_frame`` come from :class:`~stvg.verifiers.formats.ModelGeometry`, which
  :meth:`QwenVideoFamily.geometry` reads from the processor (with the config's overrides).

The size the model's pixel coordinates refer to (``model_size``) is read back from the
processor's output: ``(grid_w * patch_size, grid_h * patch_size)``.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from stvg.policies.vlm.families.base import FamilyAdapter
from stvg.policies.vlm.prepared import PreparedPrompt
from stvg.verifiers.formats import ModelGeometry, ShownFrames
from stvg.verifiers.formats.geometry import processor_spec

VIDEO_PAD = "<|video_pad|>"
IMAGE_PAD = "<|image_pad|>"
VISION_START = "<|vision_start|>"
VISION_END = "<|vision_end|>"


def video_kwargs(geometry: ModelGeometry) -> dict[str, Any]:
    """The processor's ``videos_kwargs`` for already-sampled frames under ``geometry``."""
    return {
        "do_sample_frames": False,
        "size": {"shortest_edge": geometry.min_pixels, "longest_edge": geometry.max_pixels},
        "cap_pixels_per_frame": geometry.cap_pixels_per_frame,
    }


class QwenVideoFamily(FamilyAdapter):
    """Base of the Qwen2.5-VL and Qwen3-VL adapters (one video item, M-RoPE positions)."""

    input_kind: ClassVar = "video"
    placeholder_token: ClassVar[str] = VIDEO_PAD
    config_token_key: ClassVar[str] = "video_token_id"
    vision_tokens: ClassVar[tuple[str, ...]] = (VIDEO_PAD, IMAGE_PAD, VISION_START, VISION_END)
    pixel_keys: ClassVar[tuple[str, ...]] = ("pixel_values_videos",)
    features_key: ClassVar[str] = "video"

    @abstractmethod
    def clip_and_metadata(
        self, frames: np.ndarray, shown: ShownFrames, temporal_patch_size: int
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """The clip given to the processor and its ``video_metadata``: how the family is
        told the frame times (see the subclasses)."""

    def geometry(
        self,
        processor: Any,
        *,
        min_pixels: int | None = None,
        max_pixels: int | None = None,
        cap_pixels_per_frame: bool | None = None,
    ) -> ModelGeometry:
        """The :class:`ModelGeometry` of ``processor``'s video processor, with overrides.

        ``min_pixels``, ``max_pixels``, ``cap_pixels_per_frame`` override the processor's
        ``size.shortest_edge``, ``size.longest_edge`` and ``cap_pixels_per_frame`` (``None``
        keeps the processor's value; an unset cap is off, as in transformers).

        Raises:
            ValueError: the video processor's patch or merge size differs from the family's,
                or it does not resize frames (the answer contract's frame size would not be
                the processor's). Its temporal patch size is the checkpoint's own (the
                family's 2, or 1 for small checkpoints that give every frame its own tokens).
        """
        family = self.name
        video = processor.video_processor
        spec = processor_spec(family)
        got = (int(video.patch_size), int(video.merge_size))
        want = (spec.patch_size, spec.merge_size)
        if got != want:
            raise ValueError(
                f"the checkpoint's {type(video).__name__} has (patch_size, merge_size)={got}, "
                f"but {family} uses {want}; check the checkpoint's family and its video "
                "processor config"
            )
        if not getattr(video, "do_resize", True):
            raise ValueError(
                f"the checkpoint's {type(video).__name__} has do_resize=false; the VLM policy "
                "needs the processor's resize (multiples of patch_size * merge_size) to know "
                "the frame size of pixel answers: set do_resize to true in its video "
                "processor config"
            )
        size = video.size
        lo = size["shortest_edge"] if min_pixels is None else min_pixels
        hi = size["longest_edge"] if max_pixels is None else max_pixels
        cap = getattr(video, "cap_pixels_per_frame", None)
        cap = cap_pixels_per_frame if cap_pixels_per_frame is not None else bool(cap)
        return ModelGeometry(
            family=family,
            min_pixels=int(lo),
            max_pixels=int(hi),
            cap_pixels_per_frame=cap,
            max_video_tokens=int(getattr(video, "max_video_tokens", spec.max_video_tokens)),
            temporal_patch_size=int(video.temporal_patch_size),
        )

    def encode(
        self,
        processor: Any,
        text: str,
        frames: np.ndarray,
        shown: ShownFrames,
        geometry: ModelGeometry,
    ) -> PreparedPrompt:
        """Run ``processor`` on ``text`` (one ``<|video_pad|>``) and the shown ``frames``.

        Raises:
            ValueError: ``text`` does not hold exactly one video placeholder, or the prompt's
                video tokens differ from the video's grid (the text itself held video tokens).
        """
        found = text.count(VIDEO_PAD)
        if found != 1:
            raise ValueError(
                f"the chat prompt holds {found} {VIDEO_PAD} placeholders for one video; the "
                "chat template must render the video content item as one placeholder, and the "
                f"query and template text must not contain {VIDEO_PAD}"
            )
        video = processor.video_processor
        clip, metadata = self.clip_and_metadata(frames, shown, int(video.temporal_patch_size))
        out = processor(
            text=[text],
            videos=[clip],
            videos_kwargs={**video_kwargs(geometry), "video_metadata": [metadata]},
            return_tensors="pt",
        )
        visual = {
            "pixel_values_videos": out["pixel_values_videos"],
            "video_grid_thw": out["video_grid_thw"],
        }
        if out.get("second_per_grid_ts") is not None:
            visual["second_per_grid_ts"] = out["second_per_grid_ts"]
        patch, merge = int(video.patch_size), int(video.merge_size)
        t, h, w = (int(v) for v in out["video_grid_thw"][0])
        prep = PreparedPrompt(
            text=text,
            input_ids=out["input_ids"],
            mm_token_type_ids=out["mm_token_type_ids"],
            visual=visual,
            frames_shown=int(frames.shape[0]),
            shown=shown,
            visual_tokens=t * h * w // merge**2,
            model_size=(w * patch, h * patch),
            family=self.name,
            patch_size=patch,
            merge_size=merge,
        )
        in_prompt = int((prep.input_ids == processor.video_token_id).sum())
        if in_prompt != prep.visual_tokens:
            raise ValueError(
                f"the prompt holds {in_prompt} {VIDEO_PAD} tokens but the video grid "
                f"{prep.grid_thw} makes {prep.visual_tokens}: the prompt text itself contains "
                "video tokens"
            )
        return prep

    def export_processor(self, processor: Any, geometry: ModelGeometry) -> None:
        """Write the geometry's pixel bounds and cap into the video processor."""
        video = processor.video_processor
        video.size = {"shortest_edge": geometry.min_pixels, "longest_edge": geometry.max_pixels}
        for name, value in (
            ("min_pixels", geometry.min_pixels),
            ("max_pixels", geometry.max_pixels),
            ("cap_pixels_per_frame", geometry.cap_pixels_per_frame),
        ):
            if hasattr(video, name):
                setattr(video, name, value)

    # ------------------------------------------------------------------ batches

    def visual_inputs(self, preps: Sequence[PreparedPrompt]) -> dict[str, Any]:
        """``pixel_values_videos`` (all videos, row order), ``video_grid_thw`` ``[B, 3]``
        and, for Qwen2.5-VL, ``second_per_grid_ts`` ``[B]``."""
        import torch

        return {
            "pixel_values_videos": torch.cat([p.pixel_values_videos for p in preps]),
            **self.row_inputs(preps),
        }

    def row_inputs(self, rows: Sequence[PreparedPrompt]) -> dict[str, Any]:
        """``video_grid_thw`` ``[R, 3]`` and (Qwen2.5-VL) ``second_per_grid_ts`` ``[R]``."""
        import torch

        inputs: dict[str, Any] = {"video_grid_thw": torch.cat([p.video_grid_thw for p in rows])}
        if not any(p.second_per_grid_ts is None for p in rows):
            inputs["second_per_grid_ts"] = torch.cat(
                [torch.as_tensor(p.second_per_grid_ts, dtype=torch.float32) for p in rows]
            )
        return inputs

    def encode_visual(
        self, model: Any, preps: Sequence[PreparedPrompt], device: Any, dtype: Any
    ) -> Any:
        """``model.get_video_features`` over the prompts' videos."""
        import torch

        return model.get_video_features(
            pixel_values_videos=torch.cat([p.pixel_values_videos for p in preps]).to(device, dtype),
            video_grid_thw=torch.cat([p.video_grid_thw for p in preps]).to(device),
            return_dict=True,
        )

    def features_of_rows(
        self, features: Any, preps: Sequence[PreparedPrompt], of_row: Sequence[int]
    ) -> Any:
        """``pooler_output`` holds one ``[tokens, hidden]`` tensor per video (and Qwen3-VL's
        ``deepstack_features`` one tuple of those per deepstack layer): re-indexed per row."""
        features.pooler_output = tuple(features.pooler_output[v] for v in of_row)
        deepstack = getattr(features, "deepstack_features", None)
        if deepstack is not None:
            features.deepstack_features = [tuple(layer[v] for v in of_row) for layer in deepstack]
        return features

    def position_ids(self, attention_mask: Any) -> Any | None:
        """``None``: Qwen's ``get_rope_index`` derives M-RoPE positions from the mask."""
        return None

    def after_shared_prefill(self, model: Any, n: int) -> None:
        """Repeat the M-RoPE offset of each row's text after its video (set by the prefill;
        the cached continuation reads it, transformers' own cache-continuation path)."""
        base = model.model
        base.rope_deltas = base.rope_deltas.repeat_interleave(n, dim=0)

    def vision_tower(self, model: Any) -> Any:
        """``model.model.visual``: patch embedding, blocks, mergers."""
        return model.model.visual


def mrope_sections(family: str, head_dim: int) -> list[int]:
    """M-RoPE ``(time, height, width)`` sections of a head of ``head_dim`` (summing to
    ``head_dim / 2``), in the proportions of the released checkpoints: Qwen2.5-VL
    ``[16, 24, 24]`` and Qwen3-VL ``[24, 20, 20]`` for 128-dimensional heads.

    >>> mrope_sections("qwen2.5-vl", 16), mrope_sections("qwen3-vl", 32)
    ([2, 3, 3], [6, 5, 5])
    """
    half = head_dim // 2
    spatial = 3 * head_dim // 16 if family == "qwen2.5-vl" else 5 * head_dim // 32
    return [half - 2 * spatial, spatial, spatial]


__all__ = [
    "mrope_sections",
    "IMAGE_PAD",
    "VIDEO_PAD",
    "VISION_END",
    "VISION_START",
    "QwenVideoFamily",
    "video_kwargs",
]
