"""The family adapter: everything about a transformers VLM family that the policy needs.

The VLM policy (:class:`~stvg.policies.vlm.policy.VLMPolicy`), its prompter, SFT, the
rollouts and the tiny-checkpoint command are generic: they never branch on a family name.
What differs between families lives in ONE :class:`FamilyAdapter` subclass per family
(``stvg/policies/vlm/families/<family>.py``), registered with :func:`register`:

==========================  ===================================================================
what varies                 where it lives in the adapter
==========================  ===================================================================
``config.json`` model_type  :attr:`~FamilyAdapter.model_types` (``detect_family`` reads it)
processor class             :attr:`~FamilyAdapter.processor_class` (``load_processor`` checks it)
native coordinates          :attr:`~FamilyAdapter.native_coords` (``coords: auto``)
how frames go in            :meth:`~FamilyAdapter.visual_content` (chat items: one video, or
                            one labelled image per frame) and :meth:`~FamilyAdapter.encode`
how time is told            :meth:`~FamilyAdapter.encode` (Qwen2.5-VL ``second_per_grid_ts``,
                            Qwen3-VL ``<t seconds>`` markers) or the labels of
                            :meth:`~FamilyAdapter.visual_content` ("Frame at 1.5 s:")
resized geometry, tokens    :meth:`~FamilyAdapter.geometry` (a verifier-layer
                            :class:`~stvg.verifiers.formats.ModelGeometry`; its constants are
                            ``stvg.verifiers.formats.geometry.PROCESSOR_SPECS[name]``, the one
                            home of the facts the verifier needs without this layer)
batching several prompts    :meth:`~FamilyAdapter.visual_inputs`,
                            :meth:`~FamilyAdapter.row_inputs`,
                            :meth:`~FamilyAdapter.encode_visual`,
                            :meth:`~FamilyAdapter.features_of_rows`
tiny checkpoints            :meth:`~FamilyAdapter.build_processor`,
                            :meth:`~FamilyAdapter.build_checkpoint`
==========================  ===================================================================

Adding a family is one file plus its tests::

    # stvg/policies/vlm/families/my_family.py
    class MyFamily(FamilyAdapter):
        name = "my-family"                     # the policy config's ``family``
        model_types = ("my_family",)           # config.json model_type(s)
        processor_class = "MyFamilyProcessor"  # type(AutoProcessor.from_pretrained(dir)).__name__
        native_coords = "norm1000"             # what the model was trained to answer in
        input_kind = "images"                  # "video" (one video item) or "images"
        placeholder_token = "<image>"          # token the processor expands per frame
        config_token_key = "image_token_id"    # config.json key holding its id
        vision_tokens = ("<image>",)           # never generated, never in a completion
        pixel_keys = ("pixel_values",)         # model inputs cast to the weights' dtype
        features_key = "image"                 # key of the model's ``mm_encoder_outputs``

        def geometry(self, processor, *, min_pixels=None, max_pixels=None,
                     cap_pixels_per_frame=None): ...
        def encode(self, processor, text, frames, shown, geometry): ...
        def visual_inputs(self, preps): ...
        def encode_visual(self, model, preps, device, dtype): ...
        def features_of_rows(self, features, preps, of_row): ...
        def build_processor(self, tokenizer=None, temporal_patch_size=None): ...
        def build_checkpoint(self, path, *, seed=0, size=None): ...

    register(MyFamily())

and one line in ``families/__init__.py`` (``from stvg.policies.vlm.families import
my_family``), plus a :class:`~stvg.verifiers.formats.geometry.VideoProcessorSpec` entry in
``PROCESSOR_SPECS`` under the same name when the family's frames are resized (``pixels``
coordinates and visual-token costs need it).

The tests a family ships (see ``tests/policies/test_vlm_internvl.py``): its prompt holds the
frames and their times, a collated batch equals the per-prompt inputs, the contract checks
(``coords: auto`` is the native system; a config forcing the other one fails at
construction), and the memorisation test (``tests/experiments/test_vlm_memorise.py``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np

from stvg.policies.vlm.prepared import PreparedPrompt
from stvg.verifiers.formats import ModelGeometry, ShownFrames
from stvg.verifiers.formats.base import format_seconds

InputKind = Literal["video", "images"]


class FamilyAdapter(ABC):
    """What one transformers VLM family needs from the generic VLM policy (see module doc).

    An adapter is stateless (one instance per family, in :data:`FAMILIES`); every method
    takes the loaded processor or model it works on. Tensors are torch tensors on the CPU
    unless a ``device`` is passed.

    Class attributes (set by every subclass):
        name: the family's name (``VLMPolicyConfig.family``, ``stvg models tiny --family``,
            ``ModelGeometry.family``, the key of its ``PROCESSOR_SPECS`` entry).
        model_types: ``model_type`` values of ``config.json`` that are this family.
        processor_class: class name ``AutoProcessor`` must load for this family.
        native_coords: the coordinate system the family was trained to ground boxes in
            (``pixels`` of its resized frames, ``norm1000``, ``norm1``): ``coords: auto``.
        input_kind: ``video`` (the frames are ONE video content item) or ``images`` (one
            image content item per frame, each after a "Frame at t s:" text label).
        placeholder_token: the visual token the processor puts in the prompt (its count is
            :attr:`PreparedPrompt.visual_tokens`).
        config_token_key: key of ``config.json`` whose value must be the placeholder's id
            (checked against the tokenizer when the policy loads).
        vision_tokens: every vision special token of the tokenizer: suppressed in
            generation, refused in a completion to score.
        pixel_keys: model-input names that hold pixels (cast to the weights' dtype).
        features_key: key of the model's ``mm_encoder_outputs`` the features of
            :meth:`encode_visual` go under (``video`` or ``image``).
        time_note: one line on how the family is told the frame times (docs, errors).
    """

    name: ClassVar[str]
    model_types: ClassVar[tuple[str, ...]]
    processor_class: ClassVar[str]
    native_coords: ClassVar[str]
    input_kind: ClassVar[InputKind]
    placeholder_token: ClassVar[str]
    config_token_key: ClassVar[str]
    vision_tokens: ClassVar[tuple[str, ...]]
    pixel_keys: ClassVar[tuple[str, ...]]
    features_key: ClassVar[str]
    time_note: ClassVar[str] = ""

    # ------------------------------------------------------------------ processor side

    @abstractmethod
    def geometry(
        self,
        processor: Any,
        *,
        min_pixels: int | None = None,
        max_pixels: int | None = None,
        cap_pixels_per_frame: bool | None = None,
    ) -> ModelGeometry:
        """The frame geometry of ``processor`` (with the policy config's overrides; ``None``
        keeps the processor's value): what ``pixels`` answers refer to and what the visual
        tokens cost. Raises ``ValueError`` when the processor's constants contradict the
        family's ``PROCESSOR_SPECS`` entry, or an override does not apply to the family."""

    def visual_content(self, shown: ShownFrames) -> list[dict[str, Any]]:
        """The chat content items (transformers' multimodal format) that show the frames.

        ``video`` families: ``[{"type": "video"}]``. ``images`` families: for every frame
        ``{"type": "text", "text": "Frame at 1.5 s: "}`` then ``{"type": "image"}``
        (:func:`frame_label`), so the model reads each frame's time before it.
        """
        if self.input_kind == "video":
            return [{"type": "video"}]
        items: list[dict[str, Any]] = []
        for t in shown.timestamps_s:
            items += [{"type": "text", "text": frame_label(float(t))}, {"type": "image"}]
        return items

    @abstractmethod
    def encode(
        self,
        processor: Any,
        text: str,
        frames: np.ndarray,
        shown: ShownFrames,
        geometry: ModelGeometry,
    ) -> PreparedPrompt:
        """Run ``processor`` on the chat ``text`` (holding the placeholders of
        :meth:`visual_content`) and the shown ``frames`` (uint8 ``[T, H, W, 3]``, times and
        sizes in ``shown``) under ``geometry``; the frames are never resampled.

        Raises:
            ValueError: ``text`` holds another number of placeholders than the frames need,
                or the prompt's visual tokens differ from what the frames make.
        """

    def export_processor(self, processor: Any, geometry: ModelGeometry) -> None:
        """Write ``geometry``'s pixel bounds into ``processor`` (a copy, about to be saved
        with an exported checkpoint) so that the export answers in the same contract.
        Default: nothing to write (fixed-size families)."""
        return None

    # ------------------------------------------------------------------ batch side

    @abstractmethod
    def visual_inputs(self, preps: Sequence[PreparedPrompt]) -> dict[str, Any]:
        """Generation inputs of the visual side of ``preps`` (one row each, row order):
        e.g. all prompts' pixels concatenated, and per-row grids. Merged with the
        left-padded ``input_ids``/``attention_mask`` of :mod:`stvg.policies.vlm.batch`."""

    def batches_pixels(self, preps: Sequence[PreparedPrompt]) -> bool:
        """Whether :meth:`visual_inputs` can hold the pixels of all ``preps`` for one
        generation call. When not (LLaVA-OneVision's one ``[B, T, 3, S, S]`` video tensor
        and prompts of different frame counts), generation passes the features of
        :meth:`encode_visual` and :meth:`features_of_rows` as ``mm_encoder_outputs``
        instead. Default: ``True``."""
        return True

    def row_inputs(self, rows: Sequence[PreparedPrompt]) -> dict[str, Any]:
        """Per-row model inputs WITHOUT pixels, for a pass whose visual features come from
        :meth:`encode_visual` (scoring) or from a KV cache (shared-prefill generation):
        e.g. Qwen's ``video_grid_thw``. Default: none."""
        return {}

    @abstractmethod
    def encode_visual(
        self, model: Any, preps: Sequence[PreparedPrompt], device: Any, dtype: Any
    ) -> Any:
        """Run the vision tower once over the prompts ``preps`` (pixels moved to ``device``
        and ``dtype``); returns the model's feature output (``return_dict=True``), whose
        ``pooler_output`` holds the visual tokens' embeddings."""

    @abstractmethod
    def features_of_rows(
        self, features: Any, preps: Sequence[PreparedPrompt], of_row: Sequence[int]
    ) -> Any:
        """``features`` of the prompts ``preps`` (from :meth:`encode_visual`) re-indexed to
        one entry per row (row ``r`` shows ``preps[of_row[r]]``), in the form the model's
        ``mm_encoder_outputs[features_key]`` takes. Rows sharing a prompt share its tensors
        (the vision tower runs once; the gradient sums over the rows)."""

    def position_ids(self, attention_mask: Any) -> Any | None:
        """Position ids of a left-padded batch for a plain forward pass, or ``None`` when
        the model derives them from the mask itself (Qwen's M-RoPE). Default:
        ``cumsum(mask) - 1`` (0 on padding), what ``generate`` uses for 1-D RoPE models, so
        a padded row is scored with the positions it is generated with (RoPE attention is
        shift-invariant, so this keeps learned absolute positions right and costs nothing
        otherwise)."""
        positions = attention_mask.long().cumsum(-1) - 1
        return positions.masked_fill(attention_mask == 0, 0)

    def after_shared_prefill(self, model: Any, n: int) -> None:
        """Fix model state after a prompt prefill whose KV cache was repeated ``n`` times
        per row (Qwen: its M-RoPE ``rope_deltas``). Default: nothing."""
        return None

    # ------------------------------------------------------------------ model side

    @abstractmethod
    def vision_tower(self, model: Any) -> Any:
        """The model's vision tower (``torch.nn.Module``) and projector, for a vision
        learning rate: every parameter that only acts on pixels."""

    # ------------------------------------------------------------------ tiny checkpoints

    @abstractmethod
    def build_processor(self, tokenizer: Any | None = None, temporal_patch_size: int = 2) -> Any:
        """The family's real transformers processor at a tiny checkpoint's settings, around
        ``tokenizer`` (``None``: the tiny byte-level one with the family's special tokens).
        ``temporal_patch_size`` concerns video families only."""

    @abstractmethod
    def build_checkpoint(self, path: str | Path, *, seed: int = 0, size: Any = None) -> Path:
        """Write a randomly initialised checkpoint of this family under ``path`` (model,
        tokenizer, processor, chat template; ``save_pretrained`` of the real classes, so
        ``AutoModelForImageTextToText`` / ``AutoProcessor`` load it with
        ``local_files_only``). ``size``: a :class:`~stvg.policies.vlm.tiny.ModelSize`
        (``None`` = the tiny preset). Same seed -> same bytes."""


def frame_label(time_s: float) -> str:
    """The text before a frame of an image-list family: ``"Frame at 1.5 s: "``.

    >>> frame_label(0.0), frame_label(1.5)
    ('Frame at 0 s: ', 'Frame at 1.5 s: ')
    """
    return f"Frame at {format_seconds(time_s)} s: "


def frame_times(frames: np.ndarray, shown: ShownFrames) -> list[float]:
    """The shown timestamps (seconds) of ``frames`` (uint8 ``[T, H, W, 3]``), one per frame.

    Raises:
        ValueError: ``shown`` holds another number of timestamps than ``frames`` has frames.
    """
    times = [float(t) for t in shown.timestamps_s]
    if len(times) != frames.shape[0]:
        raise ValueError(
            f"need one timestamp per frame, got {len(times)} timestamps for "
            f"{frames.shape[0]} frames"
        )
    return times


#: Registered family adapters by name (filled by :func:`register`; the package's
#: ``__init__`` imports every built-in adapter module, and Python runs it before any of its
#: modules, so the built-ins are registered whenever this module is importable).
FAMILIES: dict[str, FamilyAdapter] = {}


def register(adapter: FamilyAdapter) -> FamilyAdapter:
    """Add ``adapter`` to :data:`FAMILIES`; returns it.

    Raises:
        ValueError: another adapter has the same name or claims one of its model types.
    """
    if adapter.name in FAMILIES and type(FAMILIES[adapter.name]) is not type(adapter):
        raise ValueError(f"a VLM family named {adapter.name!r} is registered already")
    for other in FAMILIES.values():
        shared = set(other.model_types) & set(adapter.model_types)
        if other.name != adapter.name and shared:
            raise ValueError(
                f"model_type(s) {sorted(shared)} of family {adapter.name!r} are claimed by "
                f"family {other.name!r} already"
            )
    FAMILIES[adapter.name] = adapter
    return adapter


def get_family(name: str) -> FamilyAdapter:
    """The adapter of family ``name``.

    Raises:
        ValueError: unknown family; the message lists the registered ones.
    """
    try:
        return FAMILIES[name]
    except KeyError:
        raise ValueError(
            f"unknown VLM family {name!r}; registered families: {family_names()}"
        ) from None


def family_for_model_type(model_type: str | None) -> FamilyAdapter:
    """The adapter whose :attr:`~FamilyAdapter.model_types` holds ``model_type``.

    Raises:
        ValueError: no registered family has it; the message lists the supported types.
    """
    for adapter in FAMILIES.values():
        if model_type in adapter.model_types:
            return adapter
    supported = sorted(t for a in FAMILIES.values() for t in a.model_types)
    raise ValueError(
        f"model_type {model_type!r} is not supported by the VLM policy; supported: {supported}"
    )


def family_names() -> list[str]:
    """Names of the registered families, in registration order."""
    return list(FAMILIES)


__all__ = [
    "FAMILIES",
    "FamilyAdapter",
    "InputKind",
    "family_for_model_type",
    "family_names",
    "frame_label",
    "frame_times",
    "get_family",
    "register",
]
