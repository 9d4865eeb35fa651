"""Configuration of :class:`~stvg.policies.vlm.policy.VLMPolicy`."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from stvg.config import InvalidField
from stvg.policies.vlm.families import family_names

CoordsChoice = Literal["auto", "pixels", "norm1000", "norm1"]
DType = Literal["auto", "float32", "bfloat16", "float16"]
RolloutLogProbs = Literal["generation", "rescore"]


@dataclass(frozen=True)
class VLMPolicyConfig:
    """Everything needed to rebuild a :class:`VLMPolicy` (saved with checkpoints).

    Attributes:
        model_path: LOCAL directory of a transformers checkpoint (model, tokenizer and
            processor configs); nothing is downloaded.
        family: a registered family (``qwen2.5-vl``, ``qwen3-vl``, ``internvl``, ...;
            :func:`~stvg.policies.vlm.families.family_names`); ``auto`` reads
            ``model_type`` from the checkpoint's config.
        answer_format: answer format name (``stvg.verifiers.formats.get_format``).
        coords: box coordinates the model is asked for; ``auto`` = the family's native
            system (its adapter's ``native_coords``: Qwen2.5-VL ``pixels``, Qwen3-VL and
            InternVL ``norm1000``).
        template: prompt template: a name shipped in ``stvg/policies/templates`` or a path
            to a YAML file.
        fps: the env's sampling rate (frames per second), told to the model.
        max_new_tokens: generation budget per answer (tokens).
        temperature: softmax temperature for sampling, and for the log-probabilities of
            :meth:`VLMPolicy.log_prob` (so sampling and training use one distribution).
        top_p: nucleus-sampling mass (1 = off).
        do_sample: sample (``True``) or decode greedily (``False``, the default: evaluation
            is deterministic) in ``act``/``act_batch``/``generate``; ``sample`` (RL rollouts)
            always samples.
        rollout_log_probs: where :meth:`VLMPolicy.sample` takes the sampled tokens'
            log-probabilities from. ``generation``: the sampling step's own
            ``log_softmax(logits / temperature)``, recorded during ``generate`` (no extra
            forward pass; the probabilities the tokens were drawn with). ``rescore``: a
            separate no-grad forward pass over prompt and completion, the computation
            :meth:`VLMPolicy.log_prob` makes (the learner's numerics, which matters in
            bf16, at the cost of that pass). In float32 the two agree to about 1e-6.
        micro_batch_size: rows (completions) per forward pass when :meth:`VLMPolicy.log_prob`
            scores completions; bounds activation memory, not the result.
        gradient_checkpointing: recompute activations in the backward pass
            (transformers' activation / gradient checkpointing, non-reentrant) to save memory.
        device: ``auto`` (CUDA when available, else CPU), ``cpu``, ``cuda``, ``cuda:1``...
        device_map: passed to ``from_pretrained`` (e.g. ``auto`` to spread a large model
            over the visible GPUs); ``None`` loads on ``device``. Set one of the two.
        dtype: weight dtype; ``auto`` = bfloat16 on CUDA, float32 on CPU.
        min_pixels, max_pixels: override the checkpoint's video-processor pixel bounds
            (``size.shortest_edge`` / ``size.longest_edge``, per frame for Qwen2.5-VL, over
            the clip for Qwen3-VL); ``None`` = the checkpoint's values.
        cap_pixels_per_frame: override the processor's qwen-vl-utils pixel cap
            (``None`` = the checkpoint's setting, off when unset).
        attn_implementation: transformers attention backend (``sdpa``, ``eager``,
            ``flash_attention_2``); ``None`` = transformers' default.
        seed: when set, ``torch.manual_seed(seed)`` once at construction (transformers samples
            from torch's global generator); ``None`` leaves it alone.
    """

    model_path: str
    family: str = "auto"
    answer_format: str = "json-v1"
    coords: CoordsChoice = "auto"
    template: str = "default"
    fps: float = 1.0
    max_new_tokens: int = 512
    temperature: float = 1.0
    top_p: float = 1.0
    do_sample: bool = False
    rollout_log_probs: RolloutLogProbs = "generation"
    micro_batch_size: int = 8
    gradient_checkpointing: bool = False
    device: str = "auto"
    device_map: str | None = None
    dtype: DType = "auto"
    min_pixels: int | None = None
    max_pixels: int | None = None
    cap_pixels_per_frame: bool | None = None
    attn_implementation: str | None = None
    seed: int | None = None

    def __post_init__(self) -> None:
        if not self.model_path:
            raise InvalidField("model_path", "model_path must name a local checkpoint directory")
        if self.family != "auto" and self.family not in family_names():
            raise InvalidField(
                "family",
                f"unknown VLM family {self.family!r}; choose 'auto' (read the checkpoint's "
                f"config.json) or one of {family_names()}",
            )
        if not (math.isfinite(self.fps) and self.fps > 0):
            raise InvalidField(
                "fps", f"fps must be a positive number of frames per second, got {self.fps}"
            )
        if self.max_new_tokens < 1:
            raise InvalidField(
                "max_new_tokens", f"max_new_tokens must be >= 1, got {self.max_new_tokens}"
            )
        if not (math.isfinite(self.temperature) and self.temperature > 0):
            raise InvalidField(
                "temperature",
                f"temperature must be > 0, got {self.temperature}; use do_sample=false for greedy",
            )
        if self.micro_batch_size < 1:
            raise InvalidField(
                "micro_batch_size",
                f"micro_batch_size must be >= 1 rows per forward pass, got {self.micro_batch_size}",
            )
        if self.device_map is not None and self.device != "auto":
            raise InvalidField(
                "device_map",
                f"device={self.device!r} and device_map={self.device_map!r} both place the "
                "model; set device_map (and leave device as 'auto') or device, not both",
            )
        if not (0 < self.top_p <= 1):
            raise InvalidField("top_p", f"top_p must be in (0, 1], got {self.top_p}")
        for name in ("min_pixels", "max_pixels"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise InvalidField(
                    name, f"{name} must be a positive pixel count or null, got {value}"
                )
        if (
            self.min_pixels is not None
            and self.max_pixels is not None
            and self.min_pixels > self.max_pixels
        ):
            raise InvalidField(
                "min_pixels",
                f"min_pixels ({self.min_pixels}) must not exceed max_pixels ({self.max_pixels})",
            )


__all__ = ["VLMPolicyConfig"]
