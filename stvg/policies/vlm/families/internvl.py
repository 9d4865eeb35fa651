"""InternVL (transformers' native ``InternVLForConditionalGeneration``): one image per frame,
each after a "Frame at t s:" label; boxes on a 0-1000 grid."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from stvg.policies.vlm.families.base import FamilyAdapter, frame_times, register
from stvg.policies.vlm.prepared import PreparedPrompt
from stvg.policies.vlm.tiny_parts import TINY, byte_tokenizer, save_checkpoint, text_config
from stvg.verifiers.formats import ModelGeometry, ShownFrames
from stvg.verifiers.formats.geometry import processor_spec

IMG_CONTEXT = "<IMG_CONTEXT>"
IMG_START = "<img>"
IMG_END = "</img>"
VIDEO = "<video>"

#: The tiny tokenizer's special tokens after ``<|im_end|>`` (256) and ``<|endoftext|>``
#: (257), by the tokenizer attribute names the processor reads
#: (``tokenizer.start_image_token``, ``tokenizer.context_image_token_id``, ...).
SPECIAL_TOKENS: dict[str, str] = {
    "im_start_token": "<|im_start|>",
    "start_image_token": IMG_START,
    "end_image_token": IMG_END,
    "context_image_token": IMG_CONTEXT,
    "video_token": VIDEO,
}

#: InternVL-style chat template (the ``-hf`` checkpoints'): an image item is
#: ``<IMG_CONTEXT>`` and a line break, which the processor expands to
#: ``<img><IMG_CONTEXT> x image_seq_length</img>``.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' %}<IMG_CONTEXT>\n"
    "{% elif content['type'] == 'video' %}<video>\n"
    "{% elif content['type'] == 'text' %}{{ content['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

#: Side of the tiny checkpoint's frames, pixels (4 x 4 patches of 14 -> 2 x 2 = 4 tokens).
TINY_IMAGE_SIDE = 56


@dataclass(frozen=True)
class _Frames:
    """The image processor's frame side and tokens per frame, read from a processor."""

    side: int
    tokens: int


class InternVL(FamilyAdapter):
    """InternVL 2.5 / 3.x in transformers' native format (``model_type: internvl``,
    ``InternVLProcessor`` with a ``GotOcr2ImageProcessor``).

    Frames: one image item per shown frame, each after its label ``"Frame at 1.5 s: "``
    (:func:`~stvg.policies.vlm.families.base.frame_label`): the processor's own video path
    numbers frames ``Frame1:``, ``Frame2:``... and cannot be told times, so the frames go in
    as an image list and the times as text. Each frame is resized to the image processor's
    ``S x S`` (448 for the released models) with tiling off (``crop_to_patches=False``: one
    tile per frame, as InternVL's video inference does), giving ``image_seq_length``
    ``<IMG_CONTEXT>`` tokens (``(S / 14)^2 / 4``; 256 at 448) between ``<img>`` and
    ``</img>``. Coordinates: ``norm1000`` natively (InternVL grounds boxes on a 0-1000
    grid); ``pixels`` refer to the ``S x S`` frame. Positions: a 1-D RoPE Qwen2 language
    model, so left-padded batches get ``position_ids`` counting real tokens only.
    """

    name: ClassVar[str] = "internvl"
    model_types: ClassVar[tuple[str, ...]] = ("internvl",)
    processor_class: ClassVar[str] = "InternVLProcessor"
    native_coords: ClassVar[str] = "norm1000"
    input_kind: ClassVar = "images"
    placeholder_token: ClassVar[str] = IMG_CONTEXT
    config_token_key: ClassVar[str] = "image_token_id"
    vision_tokens: ClassVar[tuple[str, ...]] = (IMG_CONTEXT, IMG_START, IMG_END, VIDEO)
    pixel_keys: ClassVar[tuple[str, ...]] = ("pixel_values",)
    features_key: ClassVar[str] = "image"
    time_note: ClassVar[str] = '"Frame at t s:" text label before each frame\'s image'

    # ------------------------------------------------------------------ processor side

    def _frames(self, processor: Any) -> _Frames:
        """The frame side ``S`` and tokens per frame of ``processor``, checked against the
        family's ``PROCESSOR_SPECS`` entry (patch 14, 2 x 2 pixel shuffle)."""
        images = processor.image_processor
        size = dict(images.size)
        side = size.get("height")
        if side is None or size.get("width") != side:
            raise ValueError(
                f"the checkpoint's {type(images).__name__} has size={size}; an InternVL "
                "checkpoint resizes frames to a square {'height': S, 'width': S}"
            )
        if not getattr(images, "do_resize", True):
            raise ValueError(
                f"the checkpoint's {type(images).__name__} has do_resize=false; the VLM "
                "policy needs every frame resized to the vision tower's square: set do_resize "
                "to true in its preprocessor config"
            )
        spec = processor_spec(self.name)
        tokens = int(processor.image_seq_length)
        want = tokens_per_frame(int(side))
        if int(side) % spec.factor or tokens != want:
            raise ValueError(
                f"the checkpoint's processor makes {tokens} tokens per {side}x{side} frame, "
                f"but {self.name} (patch {spec.patch_size}, 2x2 pixel shuffle) makes {want} "
                f"and needs a side that is a multiple of {spec.factor}; check "
                "processor_config.json (image_seq_length) and the image processor's size"
            )
        return _Frames(int(side), tokens)

    def geometry(
        self,
        processor: Any,
        *,
        min_pixels: int | None = None,
        max_pixels: int | None = None,
        cap_pixels_per_frame: bool | None = None,
    ) -> ModelGeometry:
        """``S x S`` per frame (``min_pixels = max_pixels = S * S``), one frame per image.

        Raises:
            ValueError: ``min_pixels``/``max_pixels`` ask for another size than the
                checkpoint's ``S x S`` (the vision tower has a fixed input), a pixel cap is
                asked for, or the processor contradicts the family (see :meth:`_frames`).
        """
        frames = self._frames(processor)
        area = frames.side * frames.side
        for name, value in (("min_pixels", min_pixels), ("max_pixels", max_pixels)):
            if value is not None and int(value) != area:
                raise ValueError(
                    f"{name}={value}: an {self.name} checkpoint resizes every frame to its "
                    f"fixed {frames.side}x{frames.side} (= {area} pixels) input; leave "
                    f"{name} unset (or set it to {area})"
                )
        if cap_pixels_per_frame:
            raise ValueError(
                f"cap_pixels_per_frame is a Qwen processor option; {self.name} frames have a "
                "fixed size: leave it unset"
            )
        return ModelGeometry(
            family=self.name,
            min_pixels=area,
            max_pixels=area,
            cap_pixels_per_frame=False,
            max_video_tokens=frames.tokens,
            temporal_patch_size=1,
        )

    def encode(
        self,
        processor: Any,
        text: str,
        frames: np.ndarray,
        shown: ShownFrames,
        geometry: ModelGeometry,
    ) -> PreparedPrompt:
        """Run ``processor`` on ``text`` (one ``<IMG_CONTEXT>`` per frame, each after its
        time label) and the frames as an image list, tiling off.

        Raises:
            ValueError: ``text`` holds another number of ``<IMG_CONTEXT>`` placeholders than
                there are frames, the frames and timestamps differ in number, or the prompt's
                image tokens differ from ``frames x image_seq_length``.
        """
        frame_times(frames, shown)
        count = int(frames.shape[0])
        found = text.count(IMG_CONTEXT)
        if found != count:
            raise ValueError(
                f"the chat prompt holds {found} {IMG_CONTEXT} placeholders for {count} frames; "
                "the chat template must render each image content item as one placeholder, "
                f"and the query and template text must not contain {IMG_CONTEXT}"
            )
        info = self._frames(processor)
        out = processor(
            text=[text],
            images=[list(frames)],
            images_kwargs={"crop_to_patches": False},
            return_tensors="pt",
        )
        pixels = out["pixel_values"]
        if tuple(pixels.shape[:1]) != (count,):
            raise ValueError(
                f"the processor made {pixels.shape[0]} image tiles for {count} frames; "
                "tiling must be off (crop_to_patches=False)"
            )
        prep = PreparedPrompt(
            text=text,
            input_ids=out["input_ids"],
            mm_token_type_ids=None,
            visual={"pixel_values": pixels},
            frames_shown=count,
            shown=shown,
            visual_tokens=count * info.tokens,
            model_size=(info.side, info.side),
            family=self.name,
            patch_size=processor_spec(self.name).patch_size,
            merge_size=processor_spec(self.name).merge_size,
        )
        in_prompt = int((prep.input_ids == processor.image_token_id).sum())
        if in_prompt != prep.visual_tokens:
            raise ValueError(
                f"the prompt holds {in_prompt} {IMG_CONTEXT} tokens but {count} frames of "
                f"{info.tokens} tokens make {prep.visual_tokens}: the prompt text itself "
                "contains image tokens"
            )
        return prep

    # ------------------------------------------------------------------ batches

    def visual_inputs(self, preps: Sequence[PreparedPrompt]) -> dict[str, Any]:
        """``pixel_values`` float ``[sum T, 3, S, S]``: every prompt's frames, row order."""
        import torch

        return {"pixel_values": torch.cat([p.visual["pixel_values"] for p in preps])}

    def encode_visual(
        self, model: Any, preps: Sequence[PreparedPrompt], device: Any, dtype: Any
    ) -> Any:
        """``model.model.get_image_features`` over every frame of ``preps``:
        ``pooler_output`` float ``[sum T, tokens, hidden]``."""
        import torch

        pixels = torch.cat([p.visual["pixel_values"] for p in preps]).to(device, dtype)
        return model.model.get_image_features(pixel_values=pixels, return_dict=True)

    def features_of_rows(
        self, features: Any, preps: Sequence[PreparedPrompt], of_row: Sequence[int]
    ) -> Any:
        """``pooler_output`` re-cut per prompt and concatenated in row order (the model
        scatters it over the rows' ``<IMG_CONTEXT>`` tokens in order)."""
        import torch

        counts = [int(p.visual["pixel_values"].shape[0]) for p in preps]
        parts = torch.split(features.pooler_output, counts)
        features.pooler_output = torch.cat([parts[v] for v in of_row])
        return features

    # ------------------------------------------------------------------ model side

    def vision_tower(self, model: Any) -> Any:
        """The vision tower and the multimodal projector (everything that only sees pixels)."""
        import torch

        return torch.nn.ModuleList([model.model.vision_tower, model.model.multi_modal_projector])

    # ------------------------------------------------------------------ tiny checkpoints

    def build_processor(self, tokenizer: Any | None = None, temporal_patch_size: int = 2) -> Any:
        """``InternVLProcessor`` for :data:`TINY_IMAGE_SIDE` frames: a
        ``GotOcr2ImageProcessor`` of ``56 x 56`` with tiling off, an
        ``InternVLVideoProcessor`` of the same size, ``image_seq_length`` 4 and
        :data:`CHAT_TEMPLATE` (``temporal_patch_size`` does not apply)."""
        return self._processor(TINY_IMAGE_SIDE, tokenizer)

    def _processor(self, side: int, tokenizer: Any | None) -> Any:
        from transformers import GotOcr2ImageProcessor, InternVLProcessor, InternVLVideoProcessor

        tokenizer = build_tokenizer() if tokenizer is None else tokenizer
        size = {"height": side, "width": side}
        return InternVLProcessor(
            image_processor=GotOcr2ImageProcessor(size=size, crop_to_patches=False),
            tokenizer=tokenizer,
            video_processor=InternVLVideoProcessor(size=size),
            image_seq_length=tokens_per_frame(side),
            chat_template=CHAT_TEMPLATE,
        )

    def build_checkpoint(self, path: str | Path, *, seed: int = 0, size: Any = None) -> Path:
        """An ``InternVLForConditionalGeneration`` (InternViT-style tower + Qwen2 language
        model) of ``size`` (``None`` = the :data:`~stvg.policies.vlm.tiny_parts.TINY`
        preset: one language layer of width 32 and one vision block, about 51k parameters) for
        :data:`TINY_IMAGE_SIDE`-pixel frames, with the byte-level tokenizer plus InternVL's
        special tokens, its processor and chat template."""
        from transformers import InternVLConfig, InternVLForConditionalGeneration

        size = TINY if size is None else size
        tokenizer = build_tokenizer()
        processor = self._processor(TINY_IMAGE_SIDE, tokenizer)
        config = InternVLConfig(
            vision_config={
                "hidden_size": size.vision_hidden,
                "num_hidden_layers": size.vision_depth,
                "num_attention_heads": size.vision_heads,
                "intermediate_size": size.vision_intermediate,
                "image_size": TINY_IMAGE_SIDE,
                "patch_size": processor_spec(self.name).patch_size,
            },
            text_config=text_config(tokenizer, size, model_type="qwen2"),
            image_token_id=tokenizer.convert_tokens_to_ids(IMG_CONTEXT),
            image_seq_length=processor.image_seq_length,
            downsample_ratio=0.5,
        )
        return save_checkpoint(
            Path(path), InternVLForConditionalGeneration, config, processor, seed
        )


def build_tokenizer() -> Any:
    """The tiny byte-level tokenizer with InternVL's special tokens (:data:`SPECIAL_TOKENS`,
    named as the processor reads them) and :data:`CHAT_TEMPLATE`."""
    return byte_tokenizer(SPECIAL_TOKENS, CHAT_TEMPLATE)


def tokens_per_frame(side: int) -> int:
    """``<IMG_CONTEXT>`` tokens of one ``side x side`` frame (patch 14, 2 x 2 shuffle).

    >>> tokens_per_frame(448), tokens_per_frame(56)
    (256, 4)
    """
    spec = processor_spec("internvl")
    return (side // spec.patch_size) ** 2 // spec.merge_size**2


INTERNVL = register(InternVL())

__all__ = [
    "CHAT_TEMPLATE",
    "INTERNVL",
    "SPECIAL_TOKENS",
    "TINY_IMAGE_SIDE",
    "InternVL",
    "build_tokenizer",
    "tokens_per_frame",
]
