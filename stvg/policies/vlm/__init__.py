"""Qwen2.5-VL / Qwen3-VL text policy on transformers, its prompts, inputs and tiny checkpoints."""

from stvg.policies.vlm.config import FAMILY_COORDS, VLMPolicyConfig
from stvg.policies.vlm.observation import context_from_reset, read_observation
from stvg.policies.vlm.policy import ParsedGeneration, VLMPolicy
from stvg.policies.vlm.prompt import PromptTemplate, load_template
from stvg.policies.vlm.tiny import TINY_FAMILIES, build_tiny_checkpoint
from stvg.policies.vlm.video import PreparedPrompt, encode_prompt, processor_geometry

__all__ = [
    "FAMILY_COORDS",
    "TINY_FAMILIES",
    "ParsedGeneration",
    "PreparedPrompt",
    "PromptTemplate",
    "VLMPolicy",
    "VLMPolicyConfig",
    "build_tiny_checkpoint",
    "context_from_reset",
    "encode_prompt",
    "load_template",
    "processor_geometry",
    "read_observation",
]
