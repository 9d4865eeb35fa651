"""LLaVA-OneVision (``llava_onevision``): SigLIP tower, 2x2-pooled video tokens, Qwen2 LM.

How the shown frames go in
--------------------------
The shown frames are ONE ``<video>`` item, and the time of every frame is told in text
before it, the way LLaVA-Video (LLaVA-OneVision's video successor, same architecture)
was trained to read it::

    <video>
    The video lasts for 5.0 seconds, and 6 frames are sampled from it. These frames are
    located at 0.0s, 1.0s, 2.0s, 3.0s, 4.0s, 5.0s.
    <the template's user text>

Why the video path and not a list of images, each labelled "Frame at t s":

* **Predictable cost.** transformers' ``LlavaOnevisionVideoProcessor`` resizes every
  frame to the vision tower's square (``image_size``, 384 px in the released models) and
  the model pools each frame's ``(image_size / patch)^2`` patch features 2x2 (bilinear):
  ``T * ceil(image_size / patch / 2)^2 + 1`` tokens for ``T`` frames (the ``+ 1`` is one
  ``image_newline`` after the video), whatever the frames' size or aspect ratio (196 per
  frame at 384 px). An image list costs ``image_size^2 / patch^2 + 1`` per frame
  (730 at 384 px, 3.7x), and a single image switches to "anyres" tiling
  (``image_grid_pinpoints``), whose token count depends on the frame's size: a clip of one
  frame would cost another order of magnitude.
* **Exact coordinates.** The video frames are stretched to the square (no padding, no crop),
  so a box normalised to [0, 1] on the model's frame is the same box normalised on the shown
  frame: ``norm1`` answers map back exactly. Multi-image inputs are padded to a square
  (``pad_to_square`` with the mean colour), which moves normalised coordinates on
  non-square frames.
* **Time in the checkpoint's own format.** The released chat template renders all images,
  then the video, then all text of a message (``selectattr('type', ...)``), so per-image
  labels cannot sit beside their images; LLaVA-Video's time instruction lists every frame's
  time, in frame order, as text the model was trained on.

Native coordinates: ``norm1`` (LLaVA-OneVision's grounding data normalises boxes to [0, 1]).

Tiny checkpoints
----------------
:func:`build_tiny_llava_onevision` writes a random checkpoint of the real classes
(``LlavaOnevisionForConditionalGeneration`` with a 2-layer SigLIP tower at 56 px, patch 14,
and a 2-layer Qwen2 LM of width 64; the byte-level tokenizer of
:mod:`stvg.policies.vlm.tiny` with ``<image>`` and ``<video>`` added; the real processor
with its image and video processors at 56 px; LLaVA-OneVision's chat template): each frame
costs ``ceil(4 / 2)^2 = 4`` tokens.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: transformers ``model_type`` of the family.
MODEL_TYPE = "llava_onevision"
#: The family's name in configs and on the command line.
FAMILY = "llava-onevision"
#: Placeholder tokens of the family's tokenizer (one per image / video in the chat text;
#: the processor expands each into the item's visual tokens).
IMAGE_TOKEN = "<image>"
VIDEO_TOKEN = "<video>"

#: LLaVA-OneVision's chat template (transformers' conversion script for the released
#: checkpoints: Qwen's ``<|im_start|>`` turns; all images, then all videos, then the text
#: of a message), extended to plain-string contents (system messages).
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' }}"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}"
    "{{ '<image>\\n' }}{% endfor %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'video') %}"
    "{{ '<video>\\n' }}{% endfor %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}"
    "{{ content['text'] }}{% endfor %}"
    "{% endif %}"
    "{{ '<|im_end|>\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


@dataclass(frozen=True)
class TinyLlavaOnevisionSize:
    """Sizes of a tiny LLaVA-OneVision checkpoint (the real transformers classes).

    Attributes:
        image_size: side of the square every frame is resized to, pixels (the SigLIP
            tower's ``image_size``; a multiple of ``patch_size``).
        patch_size: side of a SigLIP patch, pixels.
        vision_hidden, vision_layers, vision_heads, vision_intermediate: the SigLIP tower.
        text_hidden, text_layers, text_heads, text_intermediate: the Qwen2 language model
            (``text_heads`` query heads, half as many key/value heads, at least one).
    """

    image_size: int = 56
    patch_size: int = 14
    vision_hidden: int = 64
    vision_layers: int = 2
    vision_heads: int = 2
    vision_intermediate: int = 128
    text_hidden: int = 64
    text_layers: int = 2
    text_heads: int = 2
    text_intermediate: int = 128

    def __post_init__(self) -> None:
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(
                    f"TinyLlavaOnevisionSize.{name} must be a positive integer, got {value!r}"
                )
        if self.image_size % self.patch_size:
            raise ValueError(
                f"TinyLlavaOnevisionSize.image_size ({self.image_size}) must be a multiple of "
                f"patch_size ({self.patch_size})"
            )
        for tower in ("vision", "text"):
            hidden, heads = getattr(self, f"{tower}_hidden"), getattr(self, f"{tower}_heads")
            if hidden % heads:
                raise ValueError(
                    f"TinyLlavaOnevisionSize.{tower}_hidden ({hidden}) must be divisible by "
                    f"{tower}_heads ({heads})"
                )

    @property
    def patches_per_side(self) -> int:
        """SigLIP patches per side of a frame (``image_size / patch_size``)."""
        return self.image_size // self.patch_size

    @property
    def tokens_per_frame(self) -> int:
        """Visual tokens of one video frame after the 2x2 pooling."""
        return math.ceil(self.patches_per_side / 2) ** 2


#: The size :func:`build_tiny_llava_onevision` uses by default (about 0.2M parameters).
TINY_SIZE = TinyLlavaOnevisionSize()


def anyres_pinpoints(image_size: int, max_tiles: int = 2) -> list[list[int]]:
    """``image_grid_pinpoints`` of the released models scaled to ``image_size``: every
    ``[rows * image_size, cols * image_size]`` with ``1 <= rows, cols <= max_tiles``
    (the released models: 384 px, 6 tiles).

    >>> anyres_pinpoints(56)
    [[56, 56], [56, 112], [112, 56], [112, 112]]
    """
    return [
        [rows * image_size, cols * image_size]
        for rows in range(1, max_tiles + 1)
        for cols in range(1, max_tiles + 1)
    ]


def build_tokenizer() -> Any:
    """The byte-level tokenizer of :func:`stvg.policies.vlm.tiny.build_tokenizer` with
    LLaVA-OneVision's ``<image>`` and ``<video>`` special tokens and chat template."""
    from stvg.policies.vlm.tiny import build_tokenizer as build_byte_tokenizer

    tokenizer = build_byte_tokenizer()
    tokenizer.add_tokens([IMAGE_TOKEN, VIDEO_TOKEN], special_tokens=True)
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def build_processor(tokenizer: Any, size: TinyLlavaOnevisionSize = TINY_SIZE) -> Any:
    """``LlavaOnevisionProcessor`` around ``tokenizer`` with image and video processors that
    resize to ``size.image_size`` (CLIP mean/std, bicubic: the classes' defaults otherwise).
    """
    from transformers import (
        LlavaOnevisionImageProcessor,
        LlavaOnevisionProcessor,
        LlavaOnevisionVideoProcessor,
    )

    square = {"height": size.image_size, "width": size.image_size}
    return LlavaOnevisionProcessor(
        image_processor=LlavaOnevisionImageProcessor(
            size=square, image_grid_pinpoints=anyres_pinpoints(size.image_size)
        ),
        tokenizer=tokenizer,
        video_processor=LlavaOnevisionVideoProcessor(size=square),
        num_image_tokens=size.patches_per_side**2,
        vision_feature_select_strategy="full",
        chat_template=CHAT_TEMPLATE,
        vision_aspect_ratio="anyres_max_9",
    )


def build_config(tokenizer: Any, size: TinyLlavaOnevisionSize = TINY_SIZE) -> Any:
    """``LlavaOnevisionConfig`` of ``size`` for ``tokenizer``'s vocabulary and tokens."""
    from transformers import LlavaOnevisionConfig

    vision = {
        "model_type": "siglip_vision_model",
        "hidden_size": size.vision_hidden,
        "intermediate_size": size.vision_intermediate,
        "num_hidden_layers": size.vision_layers,
        "num_attention_heads": size.vision_heads,
        "image_size": size.image_size,
        "patch_size": size.patch_size,
        "vision_use_head": False,
    }
    text = {
        "model_type": "qwen2",
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
        "tie_word_embeddings": False,
    }
    return LlavaOnevisionConfig(
        vision_config=vision,
        text_config=text,
        image_token_index=tokenizer.convert_tokens_to_ids(IMAGE_TOKEN),
        video_token_index=tokenizer.convert_tokens_to_ids(VIDEO_TOKEN),
        vision_feature_select_strategy="full",
        vision_feature_layer=-1,
        image_grid_pinpoints=anyres_pinpoints(size.image_size),
        vision_aspect_ratio="anyres_max_9",
    )


def build_tiny_llava_onevision(
    out_dir: str | Path, *, seed: int = 0, size: TinyLlavaOnevisionSize = TINY_SIZE
) -> Path:
    """Write a random LLaVA-OneVision checkpoint of ``size`` under ``out_dir``; return it.

    The directory loads with ``AutoModelForImageTextToText.from_pretrained(dir,
    local_files_only=True)`` and ``AutoProcessor.from_pretrained(dir, ...)`` (model config
    and weights, generation config with ``<|im_end|>`` as end of turn, tokenizer, chat
    template, image and video processor configs).

    Args:
        out_dir: directory to write (created if missing; existing files are overwritten).
        seed: ``torch.manual_seed`` for the weights (same seed -> same weights).
        size: the sizes (:data:`TINY_SIZE` by default).
    """
    import torch
    from transformers import LlavaOnevisionForConditionalGeneration

    tokenizer = build_tokenizer()
    config = build_config(tokenizer, size)
    processor = build_processor(tokenizer, size)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LlavaOnevisionForConditionalGeneration(config).eval()
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    path = Path(out_dir)
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path)
    processor.save_pretrained(path)  # tokenizer, chat template, image + video processors
    return path


__all__ = [
    "CHAT_TEMPLATE",
    "FAMILY",
    "IMAGE_TOKEN",
    "MODEL_TYPE",
    "TINY_SIZE",
    "VIDEO_TOKEN",
    "TinyLlavaOnevisionSize",
    "anyres_pinpoints",
    "build_config",
    "build_processor",
    "build_tiny_llava_onevision",
    "build_tokenizer",
]
