"""Text policy on transformers VLMs (one adapter per family), its prompts, inputs and tiny
checkpoints."""

from stvg.policies.vlm.config import VLMPolicyConfig
from stvg.policies.vlm.families import FamilyAdapter, family_for_model_type, get_family
from stvg.policies.vlm.observation import context_from_reset, read_observation
from stvg.policies.vlm.policy import ParsedGeneration, VLMPolicy
from stvg.policies.vlm.prompt import PromptTemplate, load_template
from stvg.policies.vlm.tiny import TINY_FAMILIES, build_tiny_checkpoint
from stvg.policies.vlm.video import PreparedPrompt, encode_prompt, processor_geometry

__all__ = [
    "FamilyAdapter",
    "family_for_model_type",
    "get_family",
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
