"""LLaVA-OneVision (``llava_onevision``): SigLIP tower, 2x2-pooled video tokens, Qwen2 LM.

How the shown frames go in
--------------------------
The shown frames are ONE ``<video>`` item, and the time of every frame is told in the text
right after it, the way LLaVA-Video (LLaVA-OneVision's video successor, same architecture)
was trained to read it::

    <video>
    The video lasts for 5.0 seconds, and 6 frames are sampled from it. These frames are
    located at 0.0s, 1.0s, 2.0s, 3.0s, 4.0s, 5.0s.
    <the template's user text>

Why the video path and not a list of images, each labelled "Frame at t s":

* **Predictable cost.** transformers' ``LlavaOnevisionVideoProcessor`` resizes every
  frame to the vision tower's square (``image_size``, 384 px in the released models) and
  the model pools each frame's ``g x g`` patch features (``g = floor(image_size / patch)``,
  27) 2x2 (bilinear): ``T * ceil(g / 2)^2 + 1`` tokens for ``T`` frames (the ``+ 1`` is one
  ``image_newline`` after the video), whatever the frames' size or aspect ratio (196 per
  frame at 384 px). An image list costs ``g^2 + 1`` per frame (730 at 384 px, 3.7x), and a
  single image switches to "anyres" tiling
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
:mod:`stvg.policies.vlm.tiny_parts` with ``<image>`` and ``<video>`` added; the real processor
with its image and video processors at 56 px; LLaVA-OneVision's chat template): each frame
costs ``ceil(4 / 2)^2 = 4`` tokens. SFT on the ground truth of 8 synthetic clips memorises
them in 100 epochs at lr 0.005 (``tests/experiments/test_vlm_memorise.py``).

Batches: the model takes all videos of a call as one ``[B, T, 3, S, S]`` tensor, so prompts
with different frame counts are encoded one frame count at a time (:meth:`LlavaOnevision.
encode_visual`) and generation passes those features (``batches_pixels``); scoring always
does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from stvg.policies.vlm.families.base import FamilyAdapter, frame_times, register
from stvg.policies.vlm.prepared import PreparedPrompt
from stvg.verifiers.formats import ModelGeometry, ShownFrames
from stvg.verifiers.formats.base import format_seconds

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


#: The size :func:`build_tiny_llava_onevision` uses by default (223k parameters).
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
    """The byte-level tokenizer of :func:`stvg.policies.vlm.tiny_parts.build_tokenizer` with
    LLaVA-OneVision's ``<image>`` and ``<video>`` special tokens and chat template."""
    from stvg.policies.vlm.tiny_parts import build_tokenizer as build_byte_tokenizer

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

    from stvg.policies.vlm.tiny_parts import text_config

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
    text = text_config(tokenizer, size, model_type="qwen2", tie_word_embeddings=False)
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


def seconds_text(time_s: float) -> str:
    """A frame time as LLaVA-Video's time instruction writes it, exact to the millisecond.

    >>> seconds_text(0.0), seconds_text(1.5), seconds_text(2.125)
    ('0.0s', '1.5s', '2.125s')
    """
    text = format_seconds(time_s)
    return f"{text}s" if "." in text else f"{text}.0s"


def time_instruction(timestamps_s: Sequence[float]) -> str:
    """LLaVA-Video's time instruction for frames shown at ``timestamps_s`` (seconds): the
    time of every frame, in the order the frames fill the video's tokens. The duration is
    the time of the last shown frame (the template's ``{duration}``).

    >>> time_instruction([0.0, 1.5, 3.0])
    'The video lasts for 3.0 seconds, and 3 frames are sampled from it. These frames are located at 0.0s, 1.5s, 3.0s.\\n'
    """
    times = [float(t) for t in timestamps_s]
    if not times:
        raise ValueError("a time instruction needs the time of at least one shown frame")
    listed = ", ".join(seconds_text(t) for t in times)
    return (
        f"The video lasts for {seconds_text(times[-1])[:-1]} seconds, and {len(times)} frames "
        f"are sampled from it. These frames are located at {listed}.\n"
    )


def video_tokens(frames: int, patches_per_side: int) -> int:
    """``<video>`` tokens of ``frames`` frames whose tower sees ``patches_per_side`` patches
    per side: each frame's features pooled 2x2 (bilinear, ``ceil``) plus one
    ``image_newline`` after the video.

    >>> video_tokens(3, 4), video_tokens(8, 27)  # tiny 56 px / patch 14; released 384 / 14
    (13, 1569)
    """
    return frames * math.ceil(patches_per_side / 2) ** 2 + 1


class LlavaOnevision(FamilyAdapter):
    """LLaVA-OneVision (``LlavaOnevisionForConditionalGeneration``, ``LlavaOnevisionProcessor``;
    also LLaVA-Video checkpoints of the same class).

    Frames: ONE ``<video>`` item; the processor stretches every frame to the tower's square
    (``S x S``, ``S`` = its ``size``) and the model pools each frame to
    ``ceil(S / patch / 2)^2`` tokens plus one newline token per video (:func:`video_tokens`).
    Time: LLaVA-Video's instruction listing every frame's time (:func:`time_instruction`),
    a text item after the video. Coordinates: ``norm1`` (exact under the stretch).
    See the module doc for why this and not an image list.
    """

    name: ClassVar[str] = FAMILY
    model_types: ClassVar[tuple[str, ...]] = (MODEL_TYPE,)
    processor_class: ClassVar[str] = "LlavaOnevisionProcessor"
    native_coords: ClassVar[str] = "norm1"
    input_kind: ClassVar = "video"
    placeholder_token: ClassVar[str] = VIDEO_TOKEN
    config_token_key: ClassVar[str] = "video_token_id"
    vision_tokens: ClassVar[tuple[str, ...]] = (IMAGE_TOKEN, VIDEO_TOKEN)
    pixel_keys: ClassVar[tuple[str, ...]] = ("pixel_values_videos",)
    features_key: ClassVar[str] = "video"
    time_note: ClassVar[str] = (
        "LLaVA-Video's time instruction after the video: 'These frames are located at "
        "0.0s, 1.0s, ...'"
    )

    # ------------------------------------------------------------------ processor side

    @staticmethod
    def square_side(processor: Any) -> int:
        """Side ``S`` of the square the video processor resizes every frame to, pixels.

        Raises:
            ValueError: the video processor does not resize, or not to a square
                ``{"height": S, "width": S}``.
        """
        video = processor.video_processor
        size = dict(video.size or {})
        side = size.get("height")
        if not getattr(video, "do_resize", True) or side is None or size.get("width") != side:
            raise ValueError(
                f"the checkpoint's {type(video).__name__} has do_resize="
                f"{getattr(video, 'do_resize', None)} and size={size}; LLaVA-OneVision's "
                "video tower takes square frames: set do_resize to true and size to "
                '{"height": S, "width": S} with S the vision config\'s image_size'
            )
        return int(side)

    @staticmethod
    def patches_per_side(processor: Any) -> int:
        """Vision patches per side of a frame: ``sqrt(processor.num_image_tokens)``.

        Raises:
            ValueError: ``num_image_tokens`` is unset or not a square number.
        """
        count = getattr(processor, "num_image_tokens", None)
        side = math.isqrt(int(count)) if count else 0
        if not count or side * side != int(count):
            raise ValueError(
                f"the checkpoint's LlavaOnevisionProcessor has num_image_tokens={count!r}; it "
                "must be (image_size / patch_size)^2 of the vision tower (729 for 384 px at "
                "patch 14): set it in processor_config.json"
            )
        return side

    def geometry(
        self,
        processor: Any,
        *,
        min_pixels: int | None = None,
        max_pixels: int | None = None,
        cap_pixels_per_frame: bool | None = None,
    ) -> ModelGeometry:
        """``S x S`` frames (``min_pixels = max_pixels = S * S``), one frame per temporal
        patch.

        Raises:
            ValueError: an override asks for another frame size (the tower's position
                embeddings fix ``S``), a pixel cap is asked for, or the processor does not
                resize to a square (:meth:`square_side`).
        """
        side = self.square_side(processor)
        pixels = side * side
        for key, value in (("min_pixels", min_pixels), ("max_pixels", max_pixels)):
            if value is not None and int(value) != pixels:
                raise ValueError(
                    f"{key}={value} does not apply to {self.name}: every frame is resized to "
                    f"the vision tower's {side}x{side} ({pixels} pixels); leave {key} unset"
                )
        if cap_pixels_per_frame:
            raise ValueError(
                f"cap_pixels_per_frame does not apply to {self.name} (fixed {side}x{side} "
                "frames); leave it unset"
            )
        return ModelGeometry(
            family=self.name, min_pixels=pixels, max_pixels=pixels, temporal_patch_size=1
        )

    def visual_content(self, shown: ShownFrames) -> list[dict[str, Any]]:
        """The video item, then the time instruction (:func:`time_instruction`) as text."""
        return [{"type": "video"}, {"type": "text", "text": time_instruction(shown.timestamps_s)}]

    def encode(
        self,
        processor: Any,
        text: str,
        frames: np.ndarray,
        shown: ShownFrames,
        geometry: ModelGeometry,
    ) -> PreparedPrompt:
        """Run ``processor`` on ``text`` (one ``<video>``) and the shown ``frames``.

        Raises:
            ValueError: ``text`` does not hold exactly one ``<video>``, the frames and
                timestamps disagree in number, or the prompt's ``<video>`` tokens differ from
                :func:`video_tokens` (the text itself held video tokens).
        """
        found = text.count(VIDEO_TOKEN)
        if found != 1:
            raise ValueError(
                f"the chat prompt holds {found} {VIDEO_TOKEN} placeholders for one video; the "
                "chat template must render the video content item as one placeholder, and the "
                f"query and template text must not contain {VIDEO_TOKEN}"
            )
        frame_times(frames, shown)
        count = int(frames.shape[0])
        side, per_side = self.square_side(processor), self.patches_per_side(processor)
        out = processor(
            text=[text],
            videos=[frames],
            videos_kwargs={"do_sample_frames": False},
            return_tensors="pt",
        )
        expected = video_tokens(count, per_side)
        in_prompt = int((out["input_ids"] == processor.video_token_id).sum())
        if in_prompt != expected:
            raise ValueError(
                f"the prompt holds {in_prompt} {VIDEO_TOKEN} tokens but {count} frames make "
                f"{expected} ({count} x {math.ceil(per_side / 2) ** 2} + 1 newline): the prompt "
                "text itself contains video tokens"
            )
        return PreparedPrompt(
            text=text,
            input_ids=out["input_ids"],
            mm_token_type_ids=None,
            visual={"pixel_values_videos": out["pixel_values_videos"]},
            frames_shown=count,
            shown=shown,
            visual_tokens=expected,
            model_size=(side, side),
            family=self.name,
            patch_size=side // per_side,
            merge_size=2,
        )

    # ------------------------------------------------------------------ batch side

    def batches_pixels(self, preps: Sequence[PreparedPrompt]) -> bool:
        """``True`` when all ``preps`` show the same number of frames (the model's video
        input is one ``[B, T, 3, S, S]`` tensor); otherwise generation passes
        :meth:`encode_visual` features."""
        return len({p.frames_shown for p in preps}) <= 1

    def visual_inputs(self, preps: Sequence[PreparedPrompt]) -> dict[str, Any]:
        """``pixel_values_videos`` float ``[B, T, 3, S, S]`` of prompts that show the same
        number of frames ``T``.

        Raises:
            ValueError: the prompts show different numbers of frames (:meth:`batches_pixels`
                is false): encode them with :meth:`encode_visual` instead.
        """
        import torch

        if not self.batches_pixels(preps):
            counts = sorted({p.frames_shown for p in preps})
            raise ValueError(
                f"{self.name} batches videos as one [B, T, 3, S, S] tensor, but these prompts "
                f"show {counts} frames; pass encode_visual features (mm_encoder_outputs)"
            )
        return {"pixel_values_videos": torch.cat([_pixels(p) for p in preps])}

    def encode_visual(
        self, model: Any, preps: Sequence[PreparedPrompt], device: Any, dtype: Any
    ) -> Any:
        """``model.get_video_features`` over the prompts' videos, one tower call per frame
        count; ``pooler_output`` is a tuple of one ``[tokens, hidden]`` tensor per prompt
        (``tokens`` = :func:`video_tokens`), in ``preps`` order."""
        import torch

        per_prompt: list[Any] = [None] * len(preps)
        features = None
        for count in sorted({p.frames_shown for p in preps}):
            group = [i for i, p in enumerate(preps) if p.frames_shown == count]
            pixels = torch.cat([_pixels(preps[i]) for i in group]).to(device, dtype)
            features = model.get_video_features(pixel_values_videos=pixels, return_dict=True)
            for row, i in enumerate(group):
                per_prompt[i] = features.pooler_output[row]
        if features is None:
            raise ValueError("encode_visual needs at least one prepared prompt")
        features.pooler_output = tuple(per_prompt)
        return features

    def features_of_rows(
        self, features: Any, preps: Sequence[PreparedPrompt], of_row: Sequence[int]
    ) -> Any:
        """The per-prompt features re-indexed per row and concatenated in row order as
        ``pooler_output`` ``[1, sum of tokens, hidden]`` (the model flattens the first two
        dimensions and fills the ``<video>`` tokens in row-major order)."""
        import torch
        from transformers.modeling_outputs import BaseModelOutputWithPooling

        rows = [features.pooler_output[v] for v in of_row]
        return BaseModelOutputWithPooling(pooler_output=torch.cat(rows, dim=0)[None])

    # ------------------------------------------------------------------ model side

    def vision_tower(self, model: Any) -> Any:
        """The SigLIP tower and the multimodal projector (every parameter acting on pixels
        only; ``image_newline`` is a language-side embedding and stays with the LM)."""
        import torch

        base = model.model
        return torch.nn.ModuleList([base.vision_tower, base.multi_modal_projector])

    # ------------------------------------------------------------------ tiny checkpoints

    def build_processor(self, tokenizer: Any | None = None, temporal_patch_size: int = 2) -> Any:
        """:func:`build_processor` at :data:`TINY_SIZE` (``temporal_patch_size`` does not
        apply: every frame is pooled on its own)."""
        return build_processor(build_tokenizer() if tokenizer is None else tokenizer)

    def build_checkpoint(self, path: str | Path, *, seed: int = 0, size: Any = None) -> Path:
        """:func:`build_tiny_llava_onevision` of :func:`as_size` ``(size)`` (``None`` or
        the shared tiny preset: :data:`TINY_SIZE`)."""
        return build_tiny_llava_onevision(path, seed=seed, size=as_size(size))


def as_size(size: Any) -> TinyLlavaOnevisionSize:
    """A :class:`TinyLlavaOnevisionSize` from ``None`` or the shared tiny preset
    (:data:`~stvg.policies.vlm.tiny_parts.TINY`, what ``stvg models tiny`` passes): this
    family's :data:`TINY_SIZE`; from itself; or from another
    :class:`~stvg.policies.vlm.tiny_parts.ModelSize` (``stvg models small``): its widths,
    depths and heads, with 112-pixel frames (8 patches per side, 16 tokens per frame: a model
    that learns where things are needs more than 2x2 tokens).

    Raises:
        TypeError: ``size`` is none of these.
    """
    from stvg.policies.vlm.tiny_parts import TINY, ModelSize

    if size is None or size == TINY:
        return TINY_SIZE
    if isinstance(size, TinyLlavaOnevisionSize):
        return size
    if not isinstance(size, ModelSize):
        raise TypeError(
            f"size must be a TinyLlavaOnevisionSize, a ModelSize or None, got {type(size).__name__}"
        )
    return TinyLlavaOnevisionSize(
        image_size=112,
        vision_hidden=size.vision_hidden,
        vision_layers=size.vision_depth,
        vision_heads=size.vision_heads,
        vision_intermediate=size.vision_intermediate,
        text_hidden=size.text_hidden,
        text_layers=size.text_layers,
        text_heads=size.text_heads,
        text_intermediate=size.text_intermediate,
    )


def _pixels(prep: PreparedPrompt) -> Any:
    return prep.visual["pixel_values_videos"]


def build_tiny_llava_onevision(
    out_dir: str | Path, *, seed: int = 0, size: TinyLlavaOnevisionSize = TINY_SIZE
) -> Path:
    """Write a random LLaVA-OneVision checkpoint of ``size`` under ``out_dir``; return it.

    The directory loads with ``AutoModelForImageTextToText.from_pretrained(dir,
    local_files_only=True)`` and ``AutoProcessor.from_pretrained(dir, ...)`` (model config
    and weights, generation config with ``<|im_end|>`` as end of turn and the Qwen sampling
    defaults every tiny checkpoint carries, tokenizer, chat template, image and video
    processor configs).

    Args:
        out_dir: directory to write (created if missing; existing files are overwritten).
        seed: ``torch.manual_seed`` for the weights (same seed -> same weights).
        size: the sizes (:data:`TINY_SIZE` by default).
    """
    from transformers import LlavaOnevisionForConditionalGeneration

    from stvg.policies.vlm.tiny_parts import save_checkpoint

    tokenizer = build_tokenizer()
    config = build_config(tokenizer, size)
    processor = build_processor(tokenizer, size)
    return save_checkpoint(
        Path(out_dir), LlavaOnevisionForConditionalGeneration, config, processor, seed
    )


LLAVA_ONEVISION = register(LlavaOnevision())

__all__ = [
    "LLAVA_ONEVISION",
    "LlavaOnevision",
    "as_size",
    "seconds_text",
    "time_instruction",
    "video_tokens",
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
