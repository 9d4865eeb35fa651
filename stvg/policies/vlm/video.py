"""Frames -> Qwen video inputs: pixel patches, grid, and the prompt's video placeholder text.

This reproduces, step for step, what transformers' ``Qwen2VLVideoProcessor`` (used by
Qwen2.5-VL) and ``Qwen3VLVideoProcessor`` do with already-sampled frames
(``do_sample_frames=False``), and what ``Qwen2_5_VLProcessor`` / ``Qwen3VLProcessor`` put
in the prompt for a video. Those classes need ``torchvision``, which has no CPU build on
PyPI; the steps below use only ``torch``:

1. resize every frame to :func:`stvg.envs.cost.resized_size` (bicubic, antialiased; uint8
   frames go through float32, clamped to [0, 255] and rounded back, as torchvision does);
   frames already at that size are left untouched;
2. fused rescale + normalise: ``(x - mean / rescale_factor) / (std / rescale_factor)``;
3. pad the clip to a multiple of ``temporal_patch_size`` by repeating the last frame and
   cut it into ``[grid_t * grid_h * grid_w, 3 * temporal_patch_size * patch * patch]``
   patches in the processors' merge-window order.

Placeholder text (what replaces the chat template's single ``<|video_pad|>``):

* Qwen2.5-VL: ``<|video_pad|>`` once per visual token; the time between temporal patches
  goes to the model as ``second_per_grid_ts = temporal_patch_size * interval`` seconds,
  where ``interval`` is the mean spacing of the shown timestamps (``1 / fps`` for a
  single frame).
* Qwen3-VL: per temporal patch ``<{t:.1f} seconds><|vision_start|>`` + one
  ``<|video_pad|>`` per token of the patch + ``<|vision_end|>``, where ``t`` is the mean of
  the first and last timestamp in the patch (the clip padded like the frames). The
  processor takes ``t`` from ``frames_indices / fps`` of the video metadata; here the shown
  timestamps are used directly, which is the same number.

Processor settings come from the checkpoint like transformers reads them:
``processor_config.json["video_processor"]``, else ``video_preprocessor_config.json``, else
``preprocessor_config.json``; Qwen2.5-VL honours top-level ``min_pixels``/``max_pixels``
keys over ``size`` (as ``Qwen2VLVideoProcessor.__init__`` does).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from stvg.envs.cost import processor_spec, resized_size

VIDEO_PAD = "<|video_pad|>"
VISION_START = "<|vision_start|>"
VISION_END = "<|vision_end|>"

#: Normalisation defaults of each family's video processor (transformers constants).
_DEFAULT_MEAN_STD: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "qwen2.5-vl": (
        (0.48145466, 0.4578275, 0.40821073),  # OPENAI_CLIP_MEAN
        (0.26862954, 0.26130258, 0.27577711),  # OPENAI_CLIP_STD
    ),
    "qwen3-vl": ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),  # IMAGENET_STANDARD_MEAN / STD
}

# Files holding video-processor settings, in the order transformers looks for them.
_PROCESSOR_FILES = (
    "processor_config.json",
    "video_preprocessor_config.json",
    "preprocessor_config.json",
)


@dataclass(frozen=True)
class VideoSettings:
    """Video-processor settings of one checkpoint.

    Attributes:
        family: ``qwen2.5-vl`` or ``qwen3-vl``.
        patch_size, merge_size, temporal_patch_size: vision patching (pixels, patches per
            side per token, frames per temporal patch).
        min_pixels, max_pixels: resize bounds (per frame for Qwen2.5-VL, per clip for
            Qwen3-VL; see :mod:`stvg.envs.cost`).
        image_mean, image_std: per-channel normalisation (of values in [0, 1]).
        rescale_factor: multiplier from uint8 to [0, 1] (``1 / 255``).
        do_resize, do_rescale, do_normalize: the processor's switches.
        cap_pixels_per_frame: the qwen-vl-utils pixel cap switch.
        max_video_tokens: the cap's token budget.
        source: the file the settings were read from (``None`` = family defaults).
    """

    family: str
    patch_size: int
    merge_size: int
    temporal_patch_size: int
    min_pixels: int
    max_pixels: int
    image_mean: tuple[float, ...]
    image_std: tuple[float, ...]
    rescale_factor: float = 1 / 255
    do_resize: bool = True
    do_rescale: bool = True
    do_normalize: bool = True
    cap_pixels_per_frame: bool = False
    max_video_tokens: int | None = None
    source: str | None = None

    @classmethod
    def defaults(cls, family: str) -> VideoSettings:
        """The family's class defaults in transformers (see :data:`stvg.envs.cost.PROCESSOR_SPECS`)."""
        spec = processor_spec(family)
        mean, std = _DEFAULT_MEAN_STD[family]
        return cls(
            family=family,
            patch_size=spec.patch_size,
            merge_size=spec.merge_size,
            temporal_patch_size=spec.temporal_patch_size,
            min_pixels=spec.min_pixels,
            max_pixels=spec.max_pixels,
            image_mean=mean,
            image_std=std,
            max_video_tokens=spec.max_video_tokens,
        )

    def check_against_family(self) -> None:
        """Raise ``ValueError`` when the patch sizes differ from the family's architecture."""
        spec = processor_spec(self.family)
        got = (self.patch_size, self.merge_size, self.temporal_patch_size)
        want = (spec.patch_size, spec.merge_size, spec.temporal_patch_size)
        if got != want:
            raise ValueError(
                f"video processor settings in {self.source or '<defaults>'} give (patch_size, "
                f"merge_size, temporal_patch_size)={got}, but {self.family} uses {want}; "
                "check the checkpoint's family or its processor config"
            )

    def visual_tokens(self, num_frames: int, height: int, width: int) -> int:
        """Visual tokens of ``num_frames`` frames of ``height x width`` under these settings."""
        resized_h, resized_w = self.resized(num_frames, height, width)
        grid_t = -(-int(num_frames) // self.temporal_patch_size)
        grid = grid_t * (resized_h // self.patch_size) * (resized_w // self.patch_size)
        return grid // self.merge_size**2

    def resized(self, num_frames: int, height: int, width: int) -> tuple[int, int]:
        """``(height, width)`` the frames are resized to (unchanged when ``do_resize`` is off)."""
        if not self.do_resize:
            return int(height), int(width)
        return resized_size(
            self.family,  # type: ignore[arg-type]
            num_frames,
            height,
            width,
            min_pixels=self.min_pixels,
            max_pixels=self.max_pixels,
            cap_pixels_per_frame=self.cap_pixels_per_frame,
            max_video_tokens=self.max_video_tokens,
        )


def load_video_settings(
    model_path: str | Path,
    family: str,
    *,
    min_pixels: int | None = None,
    max_pixels: int | None = None,
    cap_pixels_per_frame: bool | None = None,
) -> VideoSettings:
    """Read the checkpoint's video-processor settings, with optional overrides.

    Args:
        model_path: local checkpoint directory.
        family: ``qwen2.5-vl`` or ``qwen3-vl`` (fills the defaults for missing keys).
        min_pixels, max_pixels, cap_pixels_per_frame: override the checkpoint's values.

    Raises:
        ValueError: a settings file is not valid JSON, or its patch sizes contradict
            ``family``.
    """
    settings = VideoSettings.defaults(family)
    data, source = _read_processor_dict(Path(model_path))
    if data is not None:
        settings = _apply(settings, data, family, source)
    overrides: dict[str, Any] = {}
    if min_pixels is not None:
        overrides["min_pixels"] = int(min_pixels)
    if max_pixels is not None:
        overrides["max_pixels"] = int(max_pixels)
    if cap_pixels_per_frame is not None:
        overrides["cap_pixels_per_frame"] = bool(cap_pixels_per_frame)
    settings = replace(settings, **overrides)
    settings.check_against_family()
    return settings


def _read_processor_dict(model_path: Path) -> tuple[dict[str, Any] | None, str | None]:
    for name in _PROCESSOR_FILES:
        path = model_path / name
        if not path.is_file():
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path} is not valid JSON: {exc}") from exc
        if name == "processor_config.json":
            if isinstance(data.get("video_processor"), dict):
                return data["video_processor"], f"{path}[video_processor]"
            continue
        return data, str(path)
    return None, None


def _apply(
    settings: VideoSettings, data: dict[str, Any], family: str, source: str | None
) -> VideoSettings:
    size = data.get("size") if isinstance(data.get("size"), dict) else {}
    lo = size.get("shortest_edge", size.get("min_pixels"))
    hi = size.get("longest_edge", size.get("max_pixels"))
    if family == "qwen2.5-vl":
        lo = data.get("min_pixels", lo)
        hi = data.get("max_pixels", hi)
    values: dict[str, Any] = {"source": source}
    for key, value in (("min_pixels", lo), ("max_pixels", hi)):
        if value is not None:
            values[key] = int(value)
    for key in ("patch_size", "merge_size", "temporal_patch_size", "max_video_tokens"):
        if data.get(key) is not None:
            values[key] = int(data[key])
    for key in ("image_mean", "image_std"):
        value = data.get(key)
        if value is not None:
            values[key] = tuple(float(v) for v in np.broadcast_to(np.asarray(value, float), (3,)))
    if data.get("rescale_factor") is not None:
        values["rescale_factor"] = float(data["rescale_factor"])
    for key in ("do_resize", "do_rescale", "do_normalize", "cap_pixels_per_frame"):
        if data.get(key) is not None:
            values[key] = bool(data[key])
    return replace(settings, **values)


@dataclass
class EncodedVideo:
    """A clip ready for a Qwen VLM.

    Attributes:
        pixel_values: float32 ``[grid_t * grid_h * grid_w, 3 * temporal * patch * patch]``.
        grid_thw: ``(grid_t, grid_h, grid_w)`` in patches.
        resized_size: ``(height, width)`` of the frames given to the vision tower, pixels.
        num_tokens: visual tokens (``<|video_pad|>``) the clip takes in the prompt.
        placeholder: the text that replaces the chat template's ``<|video_pad|>``.
        second_per_grid_t: seconds between temporal patches (Qwen2.5-VL's M-RoPE input).
    """

    pixel_values: Any
    grid_thw: tuple[int, int, int]
    resized_size: tuple[int, int]
    num_tokens: int
    placeholder: str
    second_per_grid_t: float


def encode_video(
    frames: np.ndarray, timestamps_s: np.ndarray, settings: VideoSettings, *, fps: float
) -> EncodedVideo:
    """Turn shown frames into the model's video inputs (see the module doc).

    Args:
        frames: uint8 ``[T, H, W, 3]`` RGB frames, ``T >= 1`` (no padding frames).
        timestamps_s: ``[T]`` time of each frame, seconds, strictly increasing.
        settings: the checkpoint's :class:`VideoSettings`.
        fps: the sampling rate, frames per second (the interval of a single frame).
    """
    import torch
    import torch.nn.functional as F

    frames = np.asarray(frames)
    times = np.asarray(timestamps_s, dtype=np.float64).reshape(-1)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.shape[0] < 1:
        raise ValueError(f"frames must be [T>=1, H, W, 3] RGB, got shape {frames.shape}")
    if frames.dtype != np.uint8:
        raise ValueError(f"frames must be uint8, got {frames.dtype}")
    if times.shape[0] != frames.shape[0]:
        raise ValueError(
            f"need one timestamp per frame, got {times.shape[0]} timestamps for "
            f"{frames.shape[0]} frames"
        )
    # Mean spacing of the shown frames, seconds (1 / fps for a single frame).
    interval = float((times[-1] - times[0]) / (len(times) - 1)) if len(times) > 1 else 1.0 / fps
    tp = settings.temporal_patch_size
    if settings.family == "qwen3-vl" and frames.shape[0] < tp:
        # The Qwen3-VL processor refuses clips shorter than a temporal patch; repeating
        # the last frame is what its temporal padding would do anyway.
        reps = tp - frames.shape[0]
        frames = np.concatenate([frames, np.repeat(frames[-1:], reps, axis=0)])
        times = np.concatenate([times, np.repeat(times[-1:], reps)])
    num_frames, height, width = frames.shape[:3]

    video = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2)  # T, C, H, W
    new_h, new_w = settings.resized(num_frames, height, width)
    if (new_h, new_w) != (height, width):
        resized = F.interpolate(
            video.to(torch.float32),
            size=(new_h, new_w),
            mode="bicubic",
            align_corners=False,
            antialias=True,
        )
        video = resized.clamp_(0, 255).round_().to(torch.uint8)

    pixels = video.to(torch.float32)
    if settings.do_rescale and settings.do_normalize:
        mean = torch.tensor(settings.image_mean) * (1.0 / settings.rescale_factor)
        std = torch.tensor(settings.image_std) * (1.0 / settings.rescale_factor)
        pixels = (pixels - mean.view(1, 3, 1, 1)) / std.view(1, 3, 1, 1)
    elif settings.do_normalize:
        mean = torch.tensor(settings.image_mean).view(1, 3, 1, 1)
        std = torch.tensor(settings.image_std).view(1, 3, 1, 1)
        pixels = (pixels - mean) / std
    elif settings.do_rescale:
        pixels = pixels * settings.rescale_factor

    patch, merge = settings.patch_size, settings.merge_size
    if pad := -num_frames % tp:
        pixels = torch.cat([pixels, pixels[-1:].expand(pad, -1, -1, -1)], dim=0)
    grid_t = pixels.shape[0] // tp
    grid_h, grid_w = new_h // patch, new_w // patch
    patches = pixels.reshape(
        grid_t, tp, 3, grid_h // merge, merge, patch, grid_w // merge, merge, patch
    )
    patches = patches.permute(0, 3, 6, 4, 7, 2, 1, 5, 8)
    pixel_values = patches.reshape(grid_t * grid_h * grid_w, 3 * tp * patch * patch)

    tokens_per_t = grid_h * grid_w // merge**2
    num_tokens = grid_t * tokens_per_t
    if settings.family == "qwen3-vl":
        padded = np.concatenate([times, np.repeat(times[-1:], -len(times) % tp)])
        patch_times = (padded[0::tp] + padded[tp - 1 :: tp]) / 2
        placeholder = "".join(
            f"<{t:.1f} seconds>{VISION_START}{VIDEO_PAD * tokens_per_t}{VISION_END}"
            for t in patch_times
        )
    else:
        placeholder = VIDEO_PAD * num_tokens
    return EncodedVideo(
        pixel_values=pixel_values,
        grid_thw=(grid_t, grid_h, grid_w),
        resized_size=(new_h, new_w),
        num_tokens=num_tokens,
        placeholder=placeholder,
        second_per_grid_t=tp * interval,
    )


__all__ = [
    "VIDEO_PAD",
    "VISION_END",
    "VISION_START",
    "EncodedVideo",
    "VideoSettings",
    "encode_video",
    "load_video_settings",
]
