"""What the tiny-checkpoint builders of every family share: sizes, the byte-level
tokenizer, the Qwen-style chat template, config pieces and saving.

Each family adapter (:mod:`stvg.policies.vlm.families`) builds its own checkpoint from these
parts; :mod:`stvg.policies.vlm.tiny` is the public entry point (``stvg models tiny``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

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


def byte_tokenizer(special_tokens: tuple[str, ...] | dict[str, str], chat_template: str) -> Any:
    """A byte-level BPE ``PreTrainedTokenizerFast`` (the 256 byte symbols, no merges) with
    ``special_tokens`` (``<|im_end|>`` ends a turn and ``<|endoftext|>`` pads: ids 256
    and 257 unless listed earlier), the plain :data:`ADDED_TOKENS` and ``chat_template``.

    Args:
        special_tokens: the family's special tokens, in id order: a tuple (Qwen), or a
            mapping ``{name: token}`` whose names become tokenizer attributes
            (``{"context_image_token": "<IMG_CONTEXT>"}`` -> ``tokenizer.context_image_token``
            and ``tokenizer.context_image_token_id``), which some processors read (InternVL).
        chat_template: the Jinja chat template.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {symbol: i for i, symbol in enumerate(sorted(alphabet))}
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    backend.decoder = decoders.ByteLevel()
    if isinstance(special_tokens, dict):
        specials: dict[str, Any] = {"extra_special_tokens": dict(special_tokens)}
    else:
        specials = {"additional_special_tokens": list(special_tokens)}
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, eos_token="<|im_end|>", pad_token="<|endoftext|>", **specials
    )
    tokenizer.add_tokens(list(ADDED_TOKENS))
    tokenizer.chat_template = chat_template
    return tokenizer


def build_tokenizer() -> Any:
    """A byte-level BPE ``PreTrainedTokenizerFast`` with Qwen's special tokens and template."""
    return byte_tokenizer(SPECIAL_TOKENS, CHAT_TEMPLATE)


def qwen_token_ids(tokenizer: Any) -> dict[str, int]:
    return {
        "image_token_id": tokenizer.convert_tokens_to_ids("<|image_pad|>"),
        "video_token_id": tokenizer.convert_tokens_to_ids("<|video_pad|>"),
        "vision_start_token_id": tokenizer.convert_tokens_to_ids("<|vision_start|>"),
        "vision_end_token_id": tokenizer.convert_tokens_to_ids("<|vision_end|>"),
    }


def text_config(tokenizer: Any, size: Any, **extra: Any) -> dict[str, Any]:
    """The language model's config dict of a tiny/small checkpoint: ``size``'s ``text_*``
    fields (any family's size preset), ``tokenizer``'s vocabulary and special ids, and
    ``extra`` keys (e.g. ``model_type``)."""
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


def vision_config(patch_size: int, size: ModelSize, **extra: Any) -> dict[str, Any]:
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


def count_parameters(path: str | Path) -> int:
    """Parameters of the checkpoint saved under ``path`` (read from its safetensors files)."""
    from safetensors import safe_open

    total = 0
    for file in sorted(Path(path).glob("*.safetensors")):
        with safe_open(str(file), framework="pt") as handle:
            for key in handle.keys():
                total += math.prod(handle.get_slice(key).get_shape())
    return total


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


def sincos_positions(model: Any) -> None:
    """Set Qwen3-VL's learned absolute position embeddings of the vision tower to
    :func:`sincos_grid` (scale 1: as large as the patch embeddings, so that the position of
    a patch survives into its token; the random initialisation's 0.02 does not)."""
    import torch

    embedding = model.model.visual.pos_embed
    count, width = embedding.weight.shape
    with torch.no_grad():
        embedding.weight.copy_(sincos_grid(math.isqrt(count), width))


def save_checkpoint(
    path: Path, model_cls: Any, config: Any, processor: Any, seed: int, init: Any = None
) -> Path:
    """Build ``model_cls(config)`` with weights drawn under ``torch.manual_seed(seed)`` (then
    ``init(model)`` if given), give it the tokenizer's end and padding tokens and
    :data:`QWEN_SAMPLING_DEFAULTS` (which the policy must override), and save it with
    ``processor`` under ``path``; returns ``path``."""
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
    "ADDED_TOKENS",
    "CHAT_TEMPLATE",
    "QWEN_SAMPLING_DEFAULTS",
    "SMALL",
    "SPECIAL_TOKENS",
    "TINY",
    "ModelSize",
    "build_tokenizer",
    "byte_tokenizer",
    "count_parameters",
    "qwen_token_ids",
    "save_checkpoint",
    "sincos_grid",
    "sincos_positions",
    "text_config",
    "vision_config",
]
