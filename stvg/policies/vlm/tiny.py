"""Tiny, randomly initialised Qwen2.5-VL and Qwen3-VL checkpoints, built locally (no downloads).

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

Command line: ``stvg models tiny --family qwen2.5-vl --out DIR [--seed N]``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

TinyFamily = Literal["qwen2.5-vl", "qwen3-vl"]

#: Families :func:`build_tiny_checkpoint` can build.
TINY_FAMILIES: tuple[TinyFamily, ...] = ("qwen2.5-vl", "qwen3-vl")

#: Special tokens, in id order after the 256 byte symbols.
SPECIAL_TOKENS: tuple[str, ...] = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
)
#: Plain added tokens (decoded like text, as in Qwen's tokenizers).
ADDED_TOKENS: tuple[str, ...] = ("<think>", "</think>", "<answer>", "</answer>")

#: Qwen-style chat template: ``{"type": "video"}`` -> vision start, video pad, vision end.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'video' %}<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif content['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'text' %}{{ content['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

TEXT_HIDDEN = 32  # hidden size of the language model
VISION_HIDDEN = 32  # hidden size of the vision tower

#: The near-greedy sampling defaults that Qwen2.5-VL-Instruct ships in its
#: ``generation_config.json``. The tiny checkpoints carry them too, so tests prove that the
#: policy overrides them (a ``top_k`` of 1 would make every sample identical).
QWEN_SAMPLING_DEFAULTS: dict[str, Any] = {
    "do_sample": True,
    "top_k": 1,
    "top_p": 0.001,
    "temperature": 0.1,
    "repetition_penalty": 1.05,
}


def build_tokenizer() -> Any:
    """A byte-level BPE ``PreTrainedTokenizerFast`` with Qwen's special tokens and template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {symbol: i for i, symbol in enumerate(sorted(alphabet))}
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    backend.decoder = decoders.ByteLevel()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=list(SPECIAL_TOKENS),
    )
    tokenizer.add_tokens(list(ADDED_TOKENS))
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def build_processor(family: TinyFamily, tokenizer: Any | None = None) -> Any:
    """The family's transformers processor at its class defaults, around ``tokenizer``.

    * ``qwen2.5-vl``: ``Qwen2_5_VLProcessor`` with ``Qwen2VLImageProcessor`` and
      ``Qwen2VLVideoProcessor`` (patch 14, video pixels per frame in
      ``[128 * 28 * 28, 768 * 28 * 28]``).
    * ``qwen3-vl``: ``Qwen3VLProcessor`` with ``Qwen2VLImageProcessor`` (patch 16, mean/std
      0.5, as Qwen3-VL checkpoints configure it) and ``Qwen3VLVideoProcessor`` (patch 16,
      video pixels per clip in ``[128 * 32 * 32, 768 * 32 * 32]``).

    Raises:
        ValueError: ``family`` is not one of :data:`TINY_FAMILIES`.
    """
    _check_family(family)
    tokenizer = build_tokenizer() if tokenizer is None else tokenizer
    if family == "qwen2.5-vl":
        from transformers import Qwen2_5_VLProcessor, Qwen2VLImageProcessor, Qwen2VLVideoProcessor

        return Qwen2_5_VLProcessor(
            image_processor=Qwen2VLImageProcessor(),
            tokenizer=tokenizer,
            video_processor=Qwen2VLVideoProcessor(),
            chat_template=CHAT_TEMPLATE,
        )
    from transformers import Qwen2VLImageProcessor, Qwen3VLProcessor, Qwen3VLVideoProcessor

    image_processor = Qwen2VLImageProcessor(
        patch_size=16, image_mean=[0.5, 0.5, 0.5], image_std=[0.5, 0.5, 0.5]
    )
    return Qwen3VLProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        video_processor=Qwen3VLVideoProcessor(),
        chat_template=CHAT_TEMPLATE,
    )


def _token_ids(tokenizer: Any) -> dict[str, int]:
    return {
        "image_token_id": tokenizer.convert_tokens_to_ids("<|image_pad|>"),
        "video_token_id": tokenizer.convert_tokens_to_ids("<|video_pad|>"),
        "vision_start_token_id": tokenizer.convert_tokens_to_ids("<|vision_start|>"),
        "vision_end_token_id": tokenizer.convert_tokens_to_ids("<|vision_end|>"),
    }


def _text_config(tokenizer: Any, **extra: Any) -> dict[str, Any]:
    return {
        "vocab_size": len(tokenizer),
        "hidden_size": TEXT_HIDDEN,
        "intermediate_size": 64,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "num_key_value_heads": 1,
        "max_position_embeddings": 4096,
        "bos_token_id": tokenizer.pad_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
        **extra,
    }


def _vision_config(patch_size: int, **extra: Any) -> dict[str, Any]:
    """A one-block vision tower with the family's patch size (2x2 merge, 2-frame patches)."""
    return {
        "depth": 1,
        "hidden_size": VISION_HIDDEN,
        "intermediate_size": 64,
        "num_heads": 2,
        "out_hidden_size": TEXT_HIDDEN,
        "patch_size": patch_size,
        "spatial_merge_size": 2,
        "temporal_patch_size": 2,
        **extra,
    }


def build_qwen25_vl(path: str | Path, *, seed: int = 0) -> Path:
    """Save a tiny Qwen2.5-VL checkpoint (model, tokenizer, processor) under ``path``."""
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    tokenizer = build_tokenizer()
    config = Qwen2_5_VLConfig(
        text_config=_text_config(
            tokenizer,
            rope_parameters={
                "rope_type": "default",
                "rope_theta": 10000.0,
                "mrope_section": [2, 3, 3],
            },
        ),
        vision_config=_vision_config(14, window_size=56, fullatt_block_indexes=[0]),
        **_token_ids(tokenizer),
    )
    processor = build_processor("qwen2.5-vl", tokenizer)
    return _save(Path(path), Qwen2_5_VLForConditionalGeneration, config, processor, seed)


def build_qwen3_vl(path: str | Path, *, seed: int = 0) -> Path:
    """Save a tiny Qwen3-VL checkpoint (model, tokenizer, processor) under ``path``."""
    from transformers import Qwen3VLConfig, Qwen3VLForConditionalGeneration

    tokenizer = build_tokenizer()
    config = Qwen3VLConfig(
        text_config=_text_config(
            tokenizer,
            head_dim=16,
            rope_parameters={
                "rope_type": "default",
                "rope_theta": 10000.0,
                "mrope_section": [4, 2, 2],
                "mrope_interleaved": True,
            },
        ),
        vision_config=_vision_config(16, num_position_embeddings=144, deepstack_visual_indexes=[0]),
        **_token_ids(tokenizer),
    )
    processor = build_processor("qwen3-vl", tokenizer)
    return _save(Path(path), Qwen3VLForConditionalGeneration, config, processor, seed)


def build_tiny_checkpoint(family: TinyFamily, out_dir: str | Path, seed: int = 0) -> Path:
    """Write a tiny random checkpoint of ``family`` to ``out_dir`` and return its path.

    Args:
        family: ``qwen2.5-vl`` or ``qwen3-vl``.
        out_dir: directory to write (created if missing; existing checkpoint files are
            overwritten).
        seed: ``torch.manual_seed`` for the random weights (same seed -> same weights).

    Raises:
        ValueError: unknown ``family``.
    """
    _check_family(family)
    builder = build_qwen25_vl if family == "qwen2.5-vl" else build_qwen3_vl
    return builder(out_dir, seed=seed)


def _check_family(family: str) -> None:
    if family not in TINY_FAMILIES:
        raise ValueError(
            f"unknown tiny checkpoint family {family!r}; choose one of {list(TINY_FAMILIES)}"
        )


def _save(path: Path, model_cls: Any, config: Any, processor: Any, seed: int) -> Path:
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = model_cls(config).eval()
    tokenizer = processor.tokenizer
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.update(**QWEN_SAMPLING_DEFAULTS)
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path)
    processor.save_pretrained(path)  # tokenizer, chat template, image + video processor
    return path


__all__ = [
    "ADDED_TOKENS",
    "CHAT_TEMPLATE",
    "QWEN_SAMPLING_DEFAULTS",
    "SPECIAL_TOKENS",
    "TINY_FAMILIES",
    "TinyFamily",
    "build_processor",
    "build_qwen25_vl",
    "build_qwen3_vl",
    "build_tiny_checkpoint",
    "build_tokenizer",
]
