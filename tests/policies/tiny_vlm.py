"""Build tiny, randomly initialised Qwen2.5-VL and Qwen3-VL checkpoints on disk (no downloads).

Each checkpoint directory holds what a real one does: model config and weights, a fast
tokenizer (byte-level BPE over the 256 byte symbols plus Qwen's special tokens, built with
the ``tokenizers`` library), a chat template that renders video content the way Qwen's does,
and the family's processor (image + video processor with the real patch, merge and temporal
sizes). Tests load them back through the same ``model_path`` code path a user takes.
"""

from __future__ import annotations

import json
from pathlib import Path

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

OPENAI_CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
OPENAI_CLIP_STD = [0.26862954, 0.26130258, 0.27577711]

# Processor configs as transformers 5 saves them for these classes' defaults. (Building the
# video processors needs torchvision, which has no CPU build, so they are written as JSON.)
# ``preprocessor_config.json`` is the image processor with the bounds real Qwen2.5-VL
# checkpoints ship; the video config takes precedence for videos.
QWEN25_PROCESSOR_FILES: dict[str, dict] = {
    "video_preprocessor_config.json": {
        "video_processor_type": "Qwen2VLVideoProcessor",
        "processor_class": "Qwen2_5_VLProcessor",
        "size": {"shortest_edge": 128 * 28 * 28, "longest_edge": 768 * 28 * 28},
        "patch_size": 14,
        "temporal_patch_size": 2,
        "merge_size": 2,
        "image_mean": OPENAI_CLIP_MEAN,
        "image_std": OPENAI_CLIP_STD,
        "rescale_factor": 1 / 255,
        "do_resize": True,
        "do_rescale": True,
        "do_normalize": True,
        "do_convert_rgb": True,
        "do_sample_frames": False,
        "resample": 3,
        "min_frames": 4,
        "max_frames": 768,
    },
    "preprocessor_config.json": {
        "image_processor_type": "Qwen2VLImageProcessor",
        "processor_class": "Qwen2_5_VLProcessor",
        "min_pixels": 3136,
        "max_pixels": 12845056,
        "patch_size": 14,
        "temporal_patch_size": 2,
        "merge_size": 2,
        "image_mean": OPENAI_CLIP_MEAN,
        "image_std": OPENAI_CLIP_STD,
    },
}
QWEN3_PROCESSOR_FILES: dict[str, dict] = {
    "video_preprocessor_config.json": {
        "video_processor_type": "Qwen3VLVideoProcessor",
        "processor_class": "Qwen3VLProcessor",
        "size": {"shortest_edge": 128 * 32 * 32, "longest_edge": 768 * 32 * 32},
        "patch_size": 16,
        "temporal_patch_size": 2,
        "merge_size": 2,
        "image_mean": [0.5, 0.5, 0.5],
        "image_std": [0.5, 0.5, 0.5],
        "rescale_factor": 1 / 255,
        "do_resize": True,
        "do_rescale": True,
        "do_normalize": True,
        "do_convert_rgb": True,
        "do_sample_frames": True,
        "fps": 2,
        "resample": 3,
        "min_frames": 4,
        "max_frames": 768,
    },
}

TEXT_HIDDEN = 32  # hidden size of the language model
VISION_HIDDEN = 32  # hidden size of the vision tower


def build_tokenizer():
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


def _token_ids(tokenizer) -> dict[str, int]:
    return {
        "image_token_id": tokenizer.convert_tokens_to_ids("<|image_pad|>"),
        "video_token_id": tokenizer.convert_tokens_to_ids("<|video_pad|>"),
        "vision_start_token_id": tokenizer.convert_tokens_to_ids("<|vision_start|>"),
        "vision_end_token_id": tokenizer.convert_tokens_to_ids("<|vision_end|>"),
    }


def _text_config(tokenizer, **extra) -> dict:
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


def build_qwen25_vl(path: Path, *, seed: int = 0) -> Path:
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
        vision_config={
            "depth": 1,
            "hidden_size": VISION_HIDDEN,
            "intermediate_size": 64,
            "num_heads": 2,
            "out_hidden_size": TEXT_HIDDEN,
            "patch_size": 14,
            "spatial_merge_size": 2,
            "temporal_patch_size": 2,
            "window_size": 56,
            "fullatt_block_indexes": [0],
        },
        **_token_ids(tokenizer),
    )
    return _save(
        path, Qwen2_5_VLForConditionalGeneration, config, tokenizer, QWEN25_PROCESSOR_FILES, seed
    )


def build_qwen3_vl(path: Path, *, seed: int = 0) -> Path:
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
        vision_config={
            "depth": 1,
            "hidden_size": VISION_HIDDEN,
            "intermediate_size": 64,
            "num_heads": 2,
            "out_hidden_size": TEXT_HIDDEN,
            "patch_size": 16,
            "spatial_merge_size": 2,
            "temporal_patch_size": 2,
            "num_position_embeddings": 144,
            "deepstack_visual_indexes": [0],
        },
        **_token_ids(tokenizer),
    )
    return _save(
        path, Qwen3VLForConditionalGeneration, config, tokenizer, QWEN3_PROCESSOR_FILES, seed
    )


def _save(path: Path, model_cls, config, tokenizer, processor_files: dict, seed: int) -> Path:
    import torch

    torch.manual_seed(seed)
    model = model_cls(config).eval()
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    # The near-greedy sampling defaults that Qwen2.5-VL-Instruct ships; the policy must
    # override them (a top_k of 1 would make every sample identical).
    model.generation_config.update(
        do_sample=True, top_k=1, top_p=0.001, temperature=0.1, repetition_penalty=1.05
    )
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    for name, content in processor_files.items():
        (path / name).write_text(json.dumps(content, indent=2), encoding="utf-8")
    return path


def transformers_qwen3_video_module():
    """transformers' ``video_processing_qwen3_vl`` module, loaded without torchvision.

    transformers refuses to import the module when torchvision is missing (there is no CPU
    build), but its ``smart_resize`` and ``Qwen3VLVideoProcessor.patchify`` only need torch,
    so tests load the file itself to compare against transformers' own code.
    """
    import importlib.util
    import sys

    import transformers.models.qwen3_vl  # noqa: F401  (the package of the relative imports)

    name = "transformers.models.qwen3_vl._stvg_test_video_processing"
    if name not in sys.modules:
        origin = importlib.util.find_spec(
            "transformers.models.qwen3_vl.video_processing_qwen3_vl"
        ).origin
        spec = importlib.util.spec_from_file_location(name, origin)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # auto_docstring looks the class's source file up here
        spec.loader.exec_module(module)
    return sys.modules[name]
