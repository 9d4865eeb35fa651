"""Tiny Qwen VLM checkpoints for tests: a re-export of :mod:`stvg.policies.vlm.tiny`.

The builders live in the package (``stvg models tiny`` writes the same checkpoints); test
modules in any test directory may keep importing them from here.
"""

from stvg.policies.vlm.tiny import (
    ADDED_TOKENS,
    CHAT_TEMPLATE,
    QWEN_SAMPLING_DEFAULTS,
    SPECIAL_TOKENS,
    TINY_FAMILIES,
    build_processor,
    build_qwen3_vl,
    build_qwen25_vl,
    build_tiny_checkpoint,
    build_tokenizer,
)

__all__ = [
    "ADDED_TOKENS",
    "CHAT_TEMPLATE",
    "QWEN_SAMPLING_DEFAULTS",
    "SPECIAL_TOKENS",
    "TINY_FAMILIES",
    "build_processor",
    "build_qwen25_vl",
    "build_qwen3_vl",
    "build_tiny_checkpoint",
    "build_tokenizer",
]
