"""Qwen2.5-VL / Qwen3-VL text policy on transformers, its prompts and video inputs."""

from stvg.policies.vlm.config import FAMILY_COORDS, VLMPolicyConfig
from stvg.policies.vlm.observation import context_from_reset, read_observation
from stvg.policies.vlm.policy import ParsedGeneration, PreparedPrompt, VLMPolicy
from stvg.policies.vlm.prompt import PromptTemplate, load_template
from stvg.policies.vlm.video import EncodedVideo, VideoSettings, encode_video, load_video_settings

__all__ = [
    "FAMILY_COORDS",
    "EncodedVideo",
    "ParsedGeneration",
    "PreparedPrompt",
    "PromptTemplate",
    "VLMPolicy",
    "VLMPolicyConfig",
    "VideoSettings",
    "context_from_reset",
    "encode_video",
    "load_template",
    "load_video_settings",
    "read_observation",
]
