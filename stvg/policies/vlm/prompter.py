"""``VLMPrompter``: the VLM policy's prompts and model inputs, without the model.

Everything the model is shown is built here, once, for every consumer: the policy's
rollouts and evaluation (:class:`~stvg.policies.vlm.policy.VLMPolicy` holds one), SFT, and
the exports to verl and TRL (:mod:`stvg.exports`), which must hand those engines exactly the
prompt text, frames and frame times the policy would see. It needs only the checkpoint's
processor and config files (``config.json``, the processor and tokenizer), never the
weights, so an export of a 7B model's dataset runs on a laptop.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from stvg.policies.base import Observation
from stvg.policies.vlm.checkpoint import check_model_path, detect_family, load_processor
from stvg.policies.vlm.config import VLMPolicyConfig
from stvg.policies.vlm.families import FamilyAdapter, get_family
from stvg.policies.vlm.observation import read_observation
from stvg.policies.vlm.prepared import PreparedPrompt
from stvg.policies.vlm.prompt import (
    TIMESTAMP_TOLERANCE_S,
    chat_messages,
    check_context_times,
    load_template,
    prompt_values,
)
from stvg.verifiers.formats import ContractSpec, FrameContext, ShownFrames, get_format


def checkpoint_contract(config: VLMPolicyConfig) -> tuple[Any, ContractSpec]:
    """The checkpoint's processor and the :class:`ContractSpec` a policy of ``config``
    answers in (answer format, coordinates, fps, the processor's geometry), without loading
    the model: what :attr:`VLMPolicy.answer_spec` is, for stages that only need the
    contract (synthesis before SFT).

    Raises:
        FileNotFoundError, ValueError: not a local checkpoint of a registered family, or
            ``config.family`` contradicts it.
    """
    path = check_model_path(config.model_path)
    detected = detect_family(path)
    if config.family != "auto" and config.family != detected:
        raise ValueError(
            f"family={config.family!r} but {path}/config.json is a {detected} checkpoint; "
            "set family to 'auto' or to the checkpoint's family"
        )
    adapter = get_family(detected)
    coords = adapter.native_coords if config.coords == "auto" else config.coords
    processor = load_processor(path, detected)
    geometry = adapter.geometry(
        processor,
        min_pixels=config.min_pixels,
        max_pixels=config.max_pixels,
        cap_pixels_per_frame=config.cap_pixels_per_frame,
    )
    spec = ContractSpec(
        answer_format=config.answer_format, coords=coords, fps=config.fps, geometry=geometry
    )
    return processor, spec


class VLMPrompter:
    """The chat prompt and processor inputs of a VLM policy config (no model weights).

    Args:
        config: the policy config (``model_path`` a local checkpoint of a registered
            family; its processor and config files are read, the weights are not).

    Attributes:
        config: ``config``.
        model_path: the checked checkpoint directory.
        family: the family's name (``qwen2.5-vl``, ``qwen3-vl``, ``internvl``, ...).
        adapter: its :class:`~stvg.policies.vlm.families.FamilyAdapter`.
        processor: the checkpoint's ``AutoProcessor``.
        answer_spec: the answer contract (format, coordinates, fps, processor geometry).
        answer_format: the answer format (its instructions go into the prompt).
        template: the prompt template.
    """

    def __init__(self, config: VLMPolicyConfig) -> None:
        self.config = config
        self.model_path: Path = check_model_path(config.model_path)
        self.processor, self.answer_spec = checkpoint_contract(config)
        self.family = detect_family(self.model_path)
        self.adapter: FamilyAdapter = get_family(self.family)
        self.answer_format = get_format(config.answer_format, self.answer_spec.coords)
        self.template = load_template(config.template)

    @property
    def geometry(self) -> Any:
        """The processor's frame geometry (:class:`~stvg.verifiers.formats.ModelGeometry`)."""
        return self.answer_spec.geometry

    def shown_frames(self, obs: Observation) -> tuple[np.ndarray, str, ShownFrames]:
        """The real frames ``[T, H, W, 3]`` of ``obs``, its query and their
        :class:`ShownFrames` (timestamps, shown size, predicted model size)."""
        frames, times, query, shown_size = read_observation(obs)
        return frames, query, self.answer_spec.shown_frames(times, shown_size)

    def messages(self, query: str, shown: ShownFrames) -> list[dict[str, Any]]:
        """The chat messages (transformers' multimodal format; the frames as the family
        adapter shows them: one video item, or one labelled image per frame) for ``query``
        shown ``shown``."""
        width, height = shown.coord_size
        values = prompt_values(
            query=query,
            fps=self.config.fps,
            timestamps_s=shown.timestamps_s,
            width=width,
            height=height,
            format_instructions=self.answer_format.instructions(shown),
        )
        return chat_messages(self.template, values, self.adapter.visual_content(shown))

    def chat_text(self, query: str, shown: ShownFrames) -> str:
        """The chat prompt text (generation prompt added; the family's visual placeholders:
        one ``<|video_pad|>`` for the Qwen families)."""
        return self.processor.apply_chat_template(
            self.messages(query, shown), tokenize=False, add_generation_prompt=True
        )

    def prepare(self, obs: Observation, ctx: FrameContext | None = None) -> PreparedPrompt:
        """Build the model inputs of one observation (from the observation and config only).

        Args:
            obs: a GroundingEnv observation.
            ctx: the env's frame context, optional and NOT used for the prompt; when given it
                is checked against what the prompt tells.

        Raises:
            ValueError: ``ctx`` has other timestamps than the observation, or (``pixels``
                coordinates) its ``coord_size`` is not the processor's resized size; the
                message names both values.
        """
        frames, query, shown = self.shown_frames(obs)
        prep = self.encode(frames, query, shown)
        if prep.model_size != shown.model_size:
            # The geometry's estimate of the processor's resize is held equal to the
            # processor by tests; should a checkpoint still differ, tell the processor's size.
            shown = ShownFrames(shown.timestamps_s, shown.shown_size, prep.model_size, shown.fps)
            prep = self.encode(frames, query, shown)
        if ctx is not None:
            self.check_context(prep, ctx)
        return prep

    def encode(self, frames: np.ndarray, query: str, shown: ShownFrames) -> PreparedPrompt:
        """Run the processor on the prompt of ``query`` and the shown ``frames``."""
        text = self.chat_text(query, shown)
        return self.adapter.encode(self.processor, text, frames, shown, self.geometry)

    def check_context(self, prep: PreparedPrompt, ctx: FrameContext) -> None:
        """Raise ``ValueError`` when ``ctx`` disagrees with what ``prep``'s prompt tells."""
        check_context_times(ctx, prep.shown.timestamps_s)
        if self.answer_spec.coords == "pixels" and tuple(ctx.coord_size) != prep.model_size:
            raise ValueError(
                f"the frame context's coord_size is {tuple(ctx.coord_size)} (model_size="
                f"{ctx.model_size}, shown_size={ctx.shown_size}) but the {self.family} "
                f"processor resized the frames to {prep.model_size} (width, height), the size "
                "the prompt tells and pixel answers refer to; build the env's contract from "
                "policy.answer_spec (model_geometry) so that the verifier scores in this size"
            )


__all__ = ["TIMESTAMP_TOLERANCE_S", "VLMPrompter", "checkpoint_contract"]
