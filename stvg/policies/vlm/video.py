"""One observation -> model inputs, through the checkpoint's own transformers processor.

The policy never re-implements the Qwen processors: :func:`encode_prompt` calls the loaded
``Qwen2_5_VLProcessor`` / ``Qwen3VLProcessor`` with the rendered chat text and the shown
frames as one video, and the processor resizes, normalises and patchifies the frames and
expands the text's single ``<|video_pad|>`` into the video's tokens. What this module adds
is how already-sampled frames are described to it:

* ``do_sample_frames=False``: the frames are exactly the shown ones, never resampled.
* ``video_metadata`` so that the timing the model receives is the shown timing:

  - **Qwen3-VL** writes ``<t seconds>`` before each temporal patch, with ``t`` the mean of
    ``frames_indices[i] / fps`` over the first and last frame of the patch. The clip is
    described as a 1 fps video whose ``frames_indices`` are the shown timestamps (seconds,
    as floats), so ``t`` is exactly the mean of the first and last shown timestamp of each
    patch, with no rounding through a frame rate.
  - **Qwen2.5-VL** gets ``second_per_grid_ts = temporal_patch_size / sampled_fps`` (its
    M-RoPE time step). The clip is described with ``fps = 1 / interval`` and one index per
    shown frame, so ``sampled_fps = 1 / interval`` and ``second_per_grid_ts =
    temporal_patch_size * interval``, where ``interval`` is the shown frames' spacing
    (:attr:`~stvg.verifiers.formats.ShownFrames.interval_s`: the median spacing of the
    timestamps, ``1 / fps`` for a single frame).

* A Qwen3-VL clip shorter than one temporal patch (``T < 2``) is padded by repeating the
  last frame and its timestamp: the processor refuses it otherwise, and repeating the last
  frame is exactly what its temporal padding does.
* Pixel bounds: ``size={"shortest_edge": min_pixels, "longest_edge": max_pixels}`` and
  ``cap_pixels_per_frame`` come from :class:`~stvg.verifiers.formats.ModelGeometry`, which
  :func:`processor_geometry` reads from the processor (with the policy config's overrides).

The size the model's pixel coordinates refer to (``model_size``) is read back from the
processor's output: ``(grid_w * patch_size, grid_h * patch_size)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from stvg.verifiers.formats import ModelGeometry, ShownFrames
from stvg.verifiers.formats.geometry import processor_spec

VIDEO_PAD = "<|video_pad|>"
IMAGE_PAD = "<|image_pad|>"
VISION_START = "<|vision_start|>"
VISION_END = "<|vision_end|>"


def processor_geometry(
    processor: Any,
    family: str,
    *,
    min_pixels: int | None = None,
    max_pixels: int | None = None,
    cap_pixels_per_frame: bool | None = None,
) -> ModelGeometry:
    """The :class:`ModelGeometry` of ``processor``'s video processor, with overrides.

    Args:
        processor: a loaded ``Qwen2_5_VLProcessor`` / ``Qwen3VLProcessor``.
        family: ``qwen2.5-vl`` or ``qwen3-vl``.
        min_pixels, max_pixels, cap_pixels_per_frame: override the processor's
            ``size.shortest_edge``, ``size.longest_edge`` and ``cap_pixels_per_frame``
            (``None`` keeps the processor's value; an unset cap is off, as in transformers).

    Raises:
        ValueError: the video processor's patch or merge size differs from the family's, or
            it does not resize frames (the answer contract's frame size would not be the
            processor's). Its temporal patch size is the checkpoint's own (the family's 2, or
            1 for small checkpoints that give every frame its own visual tokens).
    """
    video = processor.video_processor
    spec = processor_spec(family)
    got = (int(video.patch_size), int(video.merge_size))
    want = (spec.patch_size, spec.merge_size)
    if got != want:
        raise ValueError(
            f"the checkpoint's {type(video).__name__} has (patch_size, merge_size)={got}, but "
            f"{family} uses {want}; check the checkpoint's family and its video processor config"
        )
    if not getattr(video, "do_resize", True):
        raise ValueError(
            f"the checkpoint's {type(video).__name__} has do_resize=false; the VLM policy "
            "needs the processor's resize (multiples of patch_size * merge_size) to know the "
            "frame size of pixel answers: set do_resize to true in its video processor config"
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


def video_kwargs(geometry: ModelGeometry) -> dict[str, Any]:
    """The processor's ``videos_kwargs`` for already-sampled frames under ``geometry``."""
    return {
        "do_sample_frames": False,
        "size": {"shortest_edge": geometry.min_pixels, "longest_edge": geometry.max_pixels},
        "cap_pixels_per_frame": geometry.cap_pixels_per_frame,
    }


def clip_and_metadata(
    family: str, frames: np.ndarray, shown: ShownFrames, temporal_patch_size: int
) -> tuple[np.ndarray, dict[str, Any]]:
    """The clip given to the processor and its ``video_metadata`` (see the module doc).

    Args:
        family: ``qwen2.5-vl`` or ``qwen3-vl``.
        frames: uint8 ``[T, H, W, 3]`` shown frames.
        shown: their timestamps (``T`` of them) and sizes.
        temporal_patch_size: frames per temporal patch of the video processor.
    """
    times = [float(t) for t in shown.timestamps_s]
    if len(times) != frames.shape[0]:
        raise ValueError(
            f"need one timestamp per frame, got {len(times)} timestamps for "
            f"{frames.shape[0]} frames"
        )
    if family == "qwen3-vl":
        if (pad := temporal_patch_size - frames.shape[0]) > 0:
            frames = np.concatenate([frames, np.repeat(frames[-1:], pad, axis=0)])
            times = times + [times[-1]] * pad
        return frames, {"fps": 1.0, "frames_indices": times, "total_num_frames": len(times)}
    count = frames.shape[0]
    return frames, {
        "fps": 1.0 / shown.interval_s,
        "frames_indices": list(range(count)),
        "total_num_frames": count,
    }


@dataclass
class PreparedPrompt:
    """Model inputs of one observation (batch of one, on the CPU), from the processor.

    Attributes:
        text: the chat prompt before the processor expanded its ``<|video_pad|>``.
        input_ids: long ``[1, P]`` prompt tokens (video placeholder expanded).
        mm_token_type_ids: int ``[1, P]``: 0 text, 1 image, 2 video token.
        pixel_values_videos: float ``[grid_t * grid_h * grid_w, patch_dim]`` patches.
        video_grid_thw: long ``[1, 3]`` ``(grid_t, grid_h, grid_w)`` in patches.
        second_per_grid_ts: float ``[1]`` seconds per temporal patch (Qwen2.5-VL), or
            ``None`` (Qwen3-VL tells the time in the text).
        frames_shown: real frames in the observation.
        shown: timestamps, shown size and model size as the prompt text told them (the
            policy makes ``shown.model_size`` equal :attr:`model_size`).
        patch_size, merge_size: the video processor's.
    """

    text: str
    input_ids: Any
    mm_token_type_ids: Any
    pixel_values_videos: Any
    video_grid_thw: Any
    second_per_grid_ts: Any
    frames_shown: int
    shown: ShownFrames
    patch_size: int
    merge_size: int

    @property
    def grid_thw(self) -> tuple[int, int, int]:
        """``(grid_t, grid_h, grid_w)`` of the video, patches."""
        t, h, w = (int(v) for v in self.video_grid_thw[0])
        return t, h, w

    @property
    def visual_tokens(self) -> int:
        """``<|video_pad|>`` tokens in the prompt (``grid_t * grid_h * grid_w / merge**2``)."""
        t, h, w = self.grid_thw
        return t * h * w // self.merge_size**2

    @property
    def prompt_tokens(self) -> int:
        """All prompt tokens (text and visual)."""
        return int(self.input_ids.shape[1])

    @property
    def shown_size(self) -> tuple[int, int]:
        """``(width, height)`` of the frames in the observation, pixels."""
        return self.shown.shown_size

    @property
    def model_size(self) -> tuple[int, int]:
        """``(width, height)`` of the frames the processor gave the model, pixels."""
        _, h, w = self.grid_thw
        return w * self.patch_size, h * self.patch_size


def encode_prompt(
    processor: Any,
    family: str,
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
            f"the chat prompt holds {found} {VIDEO_PAD} placeholders for one video; the chat "
            "template must render the video content item as one placeholder, and the query "
            f"and template text must not contain {VIDEO_PAD}"
        )
    video = processor.video_processor
    clip, metadata = clip_and_metadata(family, frames, shown, int(video.temporal_patch_size))
    out = processor(
        text=[text],
        videos=[clip],
        videos_kwargs={**video_kwargs(geometry), "video_metadata": [metadata]},
        return_tensors="pt",
    )
    prep = PreparedPrompt(
        text=text,
        input_ids=out["input_ids"],
        mm_token_type_ids=out["mm_token_type_ids"],
        pixel_values_videos=out["pixel_values_videos"],
        video_grid_thw=out["video_grid_thw"],
        second_per_grid_ts=out.get("second_per_grid_ts"),
        frames_shown=int(frames.shape[0]),
        shown=shown,
        patch_size=int(video.patch_size),
        merge_size=int(video.merge_size),
    )
    in_prompt = int((prep.input_ids == processor.video_token_id).sum())
    if in_prompt != prep.visual_tokens:
        raise ValueError(
            f"the prompt holds {in_prompt} {VIDEO_PAD} tokens but the video grid "
            f"{prep.grid_thw} makes {prep.visual_tokens}: the prompt text itself contains "
            "video tokens"
        )
    return prep


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
