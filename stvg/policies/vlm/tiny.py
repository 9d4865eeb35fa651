"""Tiny, randomly initialised VLM checkpoints, built locally (no downloads).

Every registered family adapter builds its own (:meth:`~stvg.policies.vlm.families.
FamilyAdapter.build_checkpoint`); this module holds the parts they share (the byte-level
tokenizer, :class:`ModelSize`, saving) and the Qwen2.5-VL and Qwen3-VL builders.

A tiny checkpoint directory holds what a real one does, written by transformers'
``save_pretrained``: the model config and weights, ``generation_config.json``, a fast
tokenizer (byte-level BPE over the 256 byte symbols plus Qwen's special tokens, built with
the ``tokenizers`` library), a chat template that renders video content the way Qwen's
does, and the family's REAL processor (``Qwen2_5_VLProcessor`` / ``Qwen3VLProcessor`` with
transformers' image and video processors at their class defaults: the real patch, merge and
temporal sizes and pixel bounds). ``AutoProcessor.from_pretrained(dir)`` and
``AutoModelForImageTextToText.from_pretrained(dir)`` load it, so tests, the VLM quickstart
and users smoke-testing a config take the same ``model_path`` code path as with a real model.

The language model and the vision tower have one layer of width 32 (about 60k parameters):
the answers are random text, but shapes, token bookkeeping, M-RoPE positions and gradients
are those of the real architectures.

Command line: ``stvg models tiny --family qwen2.5-vl --out DIR [--seed N]`` (any family of
:data:`TINY_FAMILIES`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stvg.policies.vlm.families import family_names, get_family
from stvg.policies.vlm.families._qwen import mrope_sections
from stvg.policies.vlm.families.qwen2_5_vl import build_qwen25_vl
from stvg.policies.vlm.families.qwen3_vl import build_qwen3_vl
from stvg.policies.vlm.tiny_parts import (
    ADDED_TOKENS,
    CHAT_TEMPLATE,
    QWEN_SAMPLING_DEFAULTS,
    SMALL,
    SPECIAL_TOKENS,
    TINY,
    ModelSize,
    build_tokenizer,
    count_parameters,
    sincos_grid,
)

#: A family name (one of :data:`TINY_FAMILIES`).
TinyFamily = str

#: Families :func:`build_tiny_checkpoint` can build: every registered family adapter.
TINY_FAMILIES: tuple[str, ...] = tuple(family_names())


def build_processor(
    family: TinyFamily, tokenizer: Any | None = None, temporal_patch_size: int = 2
) -> Any:
    """The family's transformers processor at a tiny checkpoint's settings, around
    ``tokenizer`` (image and video frames cut into temporal patches of
    ``temporal_patch_size``, video families): the family adapter's
    :meth:`~stvg.policies.vlm.families.FamilyAdapter.build_processor`.

    * ``qwen2.5-vl``: ``Qwen2_5_VLProcessor`` with ``Qwen2VLImageProcessor`` and
      ``Qwen2VLVideoProcessor`` (patch 14, video pixels per frame in
      ``[128 * 28 * 28, 768 * 28 * 28]``).
    * ``qwen3-vl``: ``Qwen3VLProcessor`` with ``Qwen2VLImageProcessor`` (patch 16, mean/std
      0.5, as Qwen3-VL checkpoints configure it) and ``Qwen3VLVideoProcessor`` (patch 16,
      video pixels per clip in ``[128 * 32 * 32, 768 * 32 * 32]``).
    * ``internvl``: ``InternVLProcessor`` (56-pixel frames, no tiling).

    Raises:
        ValueError: ``family`` is not one of :data:`TINY_FAMILIES`.
    """
    _check_family(family)
    return get_family(family).build_processor(tokenizer, temporal_patch_size)


def build_checkpoint(
    family: TinyFamily, out_dir: str | Path, size: ModelSize = TINY, seed: int = 0
) -> Path:
    """Write a random checkpoint of ``family`` and ``size`` to ``out_dir``; return its path.

    Args:
        family: a family of :data:`TINY_FAMILIES` (its adapter's
            :meth:`~stvg.policies.vlm.families.FamilyAdapter.build_checkpoint` writes it).
        out_dir: directory to write (created if missing; existing checkpoint files are
            overwritten).
        size: the sizes (:data:`TINY`, :data:`SMALL` or any :class:`ModelSize`).
        seed: ``torch.manual_seed`` for the random weights (same seed -> same weights).

    Raises:
        ValueError: unknown ``family``.
    """
    _check_family(family)
    return get_family(family).build_checkpoint(out_dir, seed=seed, size=size)


def build_tiny_checkpoint(family: TinyFamily, out_dir: str | Path, seed: int = 0) -> Path:
    """:func:`build_checkpoint` of the :data:`TINY` size."""
    return build_checkpoint(family, out_dir, TINY, seed)


def _check_family(family: str) -> None:
    if family not in family_names():
        raise ValueError(
            f"unknown tiny checkpoint family {family!r}; choose one of {family_names()}"
        )


__all__ = [
    "ADDED_TOKENS",
    "CHAT_TEMPLATE",
    "QWEN_SAMPLING_DEFAULTS",
    "SMALL",
    "SPECIAL_TOKENS",
    "TINY",
    "TINY_FAMILIES",
    "ModelSize",
    "TinyFamily",
    "build_checkpoint",
    "build_processor",
    "build_qwen25_vl",
    "build_qwen3_vl",
    "build_tiny_checkpoint",
    "build_tokenizer",
    "count_parameters",
    "mrope_sections",
    "sincos_grid",
]
