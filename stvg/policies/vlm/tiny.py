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

import math
from dataclasses import dataclass
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


@dataclass(frozen=True)
class ModelSize:
    """The sizes of a checkpoint built from a config (the real transformers classes).

    Attributes:
        text_hidden: hidden size of the language model.
        text_layers: decoder layers of the language model.
        text_heads: attention heads of the language model (``text_hidden`` must divide by
            it; the key/value heads are half of them, at least one).
        text_intermediate: MLP width of the language model.
        vision_hidden: hidden size of the vision tower.
        vision_depth: blocks of the vision tower.
        vision_heads: attention heads of the vision tower.
        vision_intermediate: MLP width of the vision tower.
        vision_positions: Qwen3-VL's learned absolute position embeddings of the vision
            tower: a square number of grid cells, interpolated to the frame's patch grid
            (``64`` = an 8x8 grid, exact for 128-pixel frames at patch 16).
        deepstack: Qwen3-VL's vision blocks whose features are also fed to the first
            language layers (indices ``< vision_depth``).
        vision_position_init: Qwen3-VL's absolute position embeddings: ``random`` (the
            classes' initialisation, std 0.02) or ``sincos`` (:func:`sincos_grid`, as large
            as the patch embeddings: what a small model needs to tell where a patch is).
        temporal_patch_size: frames per temporal patch of the vision tower and of the
            processors (``2`` as in the released models: each visual token covers two
            frames; ``1``: every frame has its own tokens and its own timestamp, twice the
            visual tokens).
    """

    text_hidden: int = 32
    text_layers: int = 1
    text_heads: int = 2
    text_intermediate: int = 64
    vision_hidden: int = 32
    vision_depth: int = 1
    vision_heads: int = 2
    vision_intermediate: int = 64
    vision_positions: int = 144
    deepstack: tuple[int, ...] = (0,)
    vision_position_init: Literal["random", "sincos"] = "random"
    temporal_patch_size: int = 2

    def __post_init__(self) -> None:
        for name in (
            "text_hidden",
            "text_layers",
            "text_heads",
            "text_intermediate",
            "vision_hidden",
            "vision_depth",
            "vision_heads",
            "vision_intermediate",
            "vision_positions",
            "temporal_patch_size",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"ModelSize.{name} must be a positive integer, got {value!r}")
        if self.text_hidden % self.text_heads or (self.text_hidden // self.text_heads) % 16:
            raise ValueError(
                f"ModelSize.text_hidden ({self.text_hidden}) must be text_heads "
                f"({self.text_heads}) times a multiple of 16 (the M-RoPE sections split the "
                "head dimension)"
            )
        if self.vision_position_init not in ("random", "sincos"):
            raise ValueError(
                "ModelSize.vision_position_init must be 'random' or 'sincos', got "
                f"{self.vision_position_init!r}"
            )
        if self.vision_hidden % self.vision_heads:
            raise ValueError(
                f"ModelSize.vision_hidden ({self.vision_hidden}) must be divisible by "
                f"vision_heads ({self.vision_heads})"
            )
        side = math.isqrt(self.vision_positions)
        if side * side != self.vision_positions:
            raise ValueError(
                f"ModelSize.vision_positions must be a square number (a grid), got "
                f"{self.vision_positions}"
            )
        if not self.deepstack or any(not 0 <= i < self.vision_depth for i in self.deepstack):
            raise ValueError(
                f"ModelSize.deepstack must name vision blocks in [0, {self.vision_depth}), "
                f"got {self.deepstack}"
            )

    @property
    def head_dim(self) -> int:
        """Dimension of one language-model attention head."""
        return self.text_hidden // self.text_heads


#: The tiny preset (about 0.1M parameters): shapes and plumbing, no skill.
TINY = ModelSize()
#: The small preset (about 2.7M parameters): large enough to learn the synthetic benchmark on
#: a CPU (``stvg models small``).
SMALL = ModelSize(
    text_hidden=128,
    text_layers=4,
    text_heads=4,
    text_intermediate=512,
    vision_hidden=128,
    vision_depth=4,
    vision_heads=4,
    vision_intermediate=512,
    vision_positions=64,
    deepstack=(1, 2),
    vision_position_init="sincos",
)

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


def build_processor(
    family: TinyFamily, tokenizer: Any | None = None, temporal_patch_size: int = 2
) -> Any:
    """The family's transformers processor at its class defaults, around ``tokenizer``
    (image and video frames cut into temporal patches of ``temporal_patch_size``).

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
            image_processor=Qwen2VLImageProcessor(temporal_patch_size=temporal_patch_size),
            tokenizer=tokenizer,
            video_processor=Qwen2VLVideoProcessor(temporal_patch_size=temporal_patch_size),
            chat_template=CHAT_TEMPLATE,
        )
    from transformers import Qwen2VLImageProcessor, Qwen3VLProcessor, Qwen3VLVideoProcessor

    image_processor = Qwen2VLImageProcessor(
        patch_size=16,
        image_mean=[0.5, 0.5, 0.5],
        image_std=[0.5, 0.5, 0.5],
        temporal_patch_size=temporal_patch_size,
    )
    return Qwen3VLProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        video_processor=Qwen3VLVideoProcessor(temporal_patch_size=temporal_patch_size),
        chat_template=CHAT_TEMPLATE,
    )


def _token_ids(tokenizer: Any) -> dict[str, int]:
    return {
        "image_token_id": tokenizer.convert_tokens_to_ids("<|image_pad|>"),
        "video_token_id": tokenizer.convert_tokens_to_ids("<|video_pad|>"),
        "vision_start_token_id": tokenizer.convert_tokens_to_ids("<|vision_start|>"),
        "vision_end_token_id": tokenizer.convert_tokens_to_ids("<|vision_end|>"),
    }


def _text_config(tokenizer: Any, size: ModelSize, **extra: Any) -> dict[str, Any]:
    return {
        "vocab_size": len(tokenizer),
        "hidden_size": size.text_hidden,
        "intermediate_size": size.text_intermediate,
        "num_hidden_layers": size.text_layers,
        "num_attention_heads": size.text_heads,
        "num_key_value_heads": max(1, size.text_heads // 2),
        "max_position_embeddings": 4096,
        "bos_token_id": tokenizer.pad_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
        **extra,
    }


def _vision_config(patch_size: int, size: ModelSize, **extra: Any) -> dict[str, Any]:
    """A vision tower of ``size`` with the family's patch size (2x2 merge, temporal patches
    of ``size.temporal_patch_size`` frames)."""
    return {
        "depth": size.vision_depth,
        "hidden_size": size.vision_hidden,
        "intermediate_size": size.vision_intermediate,
        "num_heads": size.vision_heads,
        "out_hidden_size": size.text_hidden,
        "patch_size": patch_size,
        "spatial_merge_size": 2,
        "temporal_patch_size": size.temporal_patch_size,
        **extra,
    }


def mrope_sections(family: TinyFamily, head_dim: int) -> list[int]:
    """M-RoPE ``(time, height, width)`` sections of a head of ``head_dim`` (summing to
    ``head_dim / 2``), in the proportions of the released checkpoints: Qwen2.5-VL
    ``[16, 24, 24]`` and Qwen3-VL ``[24, 20, 20]`` for 128-dimensional heads.

    >>> mrope_sections("qwen2.5-vl", 16), mrope_sections("qwen3-vl", 32)
    ([2, 3, 3], [6, 5, 5])
    """
    half = head_dim // 2
    spatial = 3 * head_dim // 16 if family == "qwen2.5-vl" else 5 * head_dim // 32
    return [half - 2 * spatial, spatial, spatial]


def build_qwen25_vl(path: str | Path, *, seed: int = 0, size: ModelSize = TINY) -> Path:
    """Save a Qwen2.5-VL checkpoint of ``size`` (model, tokenizer, processor) under ``path``.

    Every vision block attends over the whole frame (``fullatt_block_indexes``); the window
    of the windowed blocks of the released models (112 pixels) is kept for checkpoints that
    set some blocks windowed.
    """
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    tokenizer = build_tokenizer()
    config = Qwen2_5_VLConfig(
        text_config=_text_config(
            tokenizer,
            size,
            rope_parameters={
                "rope_type": "default",
                "rope_theta": 10000.0,
                "mrope_section": mrope_sections("qwen2.5-vl", size.head_dim),
            },
        ),
        vision_config=_vision_config(
            14,
            size,
            window_size=56 if size == TINY else 112,
            fullatt_block_indexes=list(range(size.vision_depth)),
        ),
        **_token_ids(tokenizer),
    )
    processor = build_processor("qwen2.5-vl", tokenizer, size.temporal_patch_size)
    return _save(Path(path), Qwen2_5_VLForConditionalGeneration, config, processor, seed)


def build_qwen3_vl(path: str | Path, *, seed: int = 0, size: ModelSize = TINY) -> Path:
    """Save a Qwen3-VL checkpoint of ``size`` (model, tokenizer, processor) under ``path``."""
    from transformers import Qwen3VLConfig, Qwen3VLForConditionalGeneration

    tokenizer = build_tokenizer()
    config = Qwen3VLConfig(
        text_config=_text_config(
            tokenizer,
            size,
            head_dim=size.head_dim,
            rope_parameters={
                "rope_type": "default",
                "rope_theta": 10000.0,
                "mrope_section": mrope_sections("qwen3-vl", size.head_dim),
                "mrope_interleaved": True,
            },
        ),
        vision_config=_vision_config(
            16,
            size,
            num_position_embeddings=size.vision_positions,
            deepstack_visual_indexes=list(size.deepstack),
        ),
        **_token_ids(tokenizer),
    )
    processor = build_processor("qwen3-vl", tokenizer, size.temporal_patch_size)
    init = _sincos_positions if size.vision_position_init == "sincos" else None
    return _save(Path(path), Qwen3VLForConditionalGeneration, config, processor, seed, init)


def build_checkpoint(
    family: TinyFamily, out_dir: str | Path, size: ModelSize = TINY, seed: int = 0
) -> Path:
    """Write a random checkpoint of ``family`` and ``size`` to ``out_dir``; return its path.

    Args:
        family: ``qwen2.5-vl`` or ``qwen3-vl``.
        out_dir: directory to write (created if missing; existing checkpoint files are
            overwritten).
        size: the sizes (:data:`TINY`, :data:`SMALL` or any :class:`ModelSize`).
        seed: ``torch.manual_seed`` for the random weights (same seed -> same weights).

    Raises:
        ValueError: unknown ``family``.
    """
    _check_family(family)
    builder = build_qwen25_vl if family == "qwen2.5-vl" else build_qwen3_vl
    return builder(out_dir, seed=seed, size=size)


def build_tiny_checkpoint(family: TinyFamily, out_dir: str | Path, seed: int = 0) -> Path:
    """:func:`build_checkpoint` of the :data:`TINY` size."""
    return build_checkpoint(family, out_dir, TINY, seed)


def count_parameters(path: str | Path) -> int:
    """Parameters of the checkpoint saved under ``path`` (read from its safetensors files)."""
    from safetensors import safe_open

    total = 0
    for file in sorted(Path(path).glob("*.safetensors")):
        with safe_open(str(file), framework="pt") as handle:
            for key in handle.keys():
                total += math.prod(handle.get_slice(key).get_shape())
    return total


def _check_family(family: str) -> None:
    if family not in TINY_FAMILIES:
        raise ValueError(
            f"unknown tiny checkpoint family {family!r}; choose one of {list(TINY_FAMILIES)}"
        )


def sincos_grid(side: int, dim: int, scale: float = 1.0) -> Any:
    """float32 ``[side * side, dim]``: a 2-D sine-cosine position code per grid cell,
    row-major (MAE's fixed position embedding): for column ``x`` and row ``y``, ``[sin(x w),
    cos(x w), sin(y w), cos(y w)]`` with ``dim / 4`` frequencies ``w_k = 10000^(-k / (dim /
    4))``, times ``scale``.

    >>> grid = sincos_grid(2, 8)
    >>> [round(float(v), 3) for v in grid[1]]  # column 1, row 0
    [0.841, 0.01, 0.54, 1.0, 0.0, 0.0, 1.0, 1.0]
    """
    import torch

    if dim % 4:
        raise ValueError(f"a 2-D sine-cosine code needs a width divisible by 4, got {dim}")
    quarter = dim // 4
    omega = 1.0 / (10000.0 ** (torch.arange(quarter, dtype=torch.float32) / quarter))
    rows, cols = torch.meshgrid(
        torch.arange(side, dtype=torch.float32),
        torch.arange(side, dtype=torch.float32),
        indexing="ij",
    )
    parts = []
    for coord in (cols.reshape(-1, 1), rows.reshape(-1, 1)):
        parts += [torch.sin(coord * omega), torch.cos(coord * omega)]
    return torch.cat(parts, dim=1) * scale


def _sincos_positions(model: Any) -> None:
    """Set Qwen3-VL's learned absolute position embeddings of the vision tower to
    :func:`sincos_grid` (scale 1: as large as the patch embeddings, so that the position of
    a patch survives into its token; the random initialisation's 0.02 does not)."""
    import torch

    embedding = model.model.visual.pos_embed
    count, width = embedding.weight.shape
    with torch.no_grad():
        embedding.weight.copy_(sincos_grid(math.isqrt(count), width))


def _save(
    path: Path, model_cls: Any, config: Any, processor: Any, seed: int, init: Any = None
) -> Path:
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = model_cls(config).eval()
    if init is not None:
        init(model)
    tokenizer = processor.tokenizer
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.update(**QWEN_SAMPLING_DEFAULTS)
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path)
    processor.save_pretrained(path)  # tokenizer, chat template, image + video processor
    return path


__all__ = [
    "SMALL",
    "TINY",
    "ModelSize",
    "build_checkpoint",
    "count_parameters",
    "mrope_sections",
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
