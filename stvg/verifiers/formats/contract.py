"""The answer contract: how a text answer maps to the video, built once per episode.

An :class:`AnswerContract` says everything that turns a model's text into boxes and frames:

* the **answer format** (``json-v1``, ``tagged``, ``draft-final``) and the **coordinate system** (``pixels``,
  ``norm1000``, ``norm1``);
* the **frame geometry the model actually sees**: the env shows frames of ``shown_size``,
  and a Qwen2.5-VL processor resizes them (multiples of 28 between ``min_pixels`` and
  ``max_pixels``) before the model answers in absolute pixels *of the resized frames*; the
  contract's :attr:`FrameContext.model_size` is that size (:class:`ModelGeometry`), and
  ``pixels`` coordinates refer to it;
* the **timestamps** the model is told (the shown frames' times, seconds).

The static part, the same for every episode of a run, is a :class:`ContractSpec`. A policy
declares the spec it answers in (``policy.answer_spec``: the VLM policy reads the geometry
from its processor); an env declares the spec it scores in (``env.answer_spec``, from its
config). :func:`check_agreement` compares them and raises :class:`ContractError` naming both
values, and :func:`env_overrides` fills the env keys a user left unset from the policy, so
an env and a policy that disagree fail at construction instead of silently mis-scoring.

The env builds the per-episode contract at ``reset`` (``env.contract``); the prompt's format
instructions (:meth:`AnswerContract.instructions`), the parser (:meth:`parse`), the verifier,
SFT targets (:meth:`render` of :meth:`gt_answer`) and exported ground-truth records all use
it.

>>> spec = ContractSpec("json-v1", "pixels", 1.0, ModelGeometry("qwen2.5-vl"))
>>> spec.geometry.model_size(10, (224, 126))  # the default min_pixels enlarges small frames
(448, 252)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from stvg.config import ConfigError
from stvg.data.types import Sample, SecondLevelAnswer
from stvg.verifiers.formats.base import AnswerFormat
from stvg.verifiers.formats.context import FrameContext, ParseResult, ShownFrames
from stvg.verifiers.formats.coords import check_coords
from stvg.verifiers.formats.geometry import processor_spec, resized_size
from stvg.verifiers.formats.registry import get_format


class ContractError(ConfigError):
    """An env and a policy (or a config and a checkpoint) disagree on the answer contract.

    A :class:`~stvg.config.ConfigError` (a ``ValueError``): the fix is in a config."""


@dataclass(frozen=True)
class ModelGeometry:
    """How a model's processor resizes the shown frames (the size its pixel answers use).

    Attributes:
        family: a family of ``geometry.PROCESSOR_SPECS`` (``qwen2.5-vl``, ``qwen3-vl``,
            ``internvl``): which resize rule applies.
        min_pixels, max_pixels: the processor's ``size.shortest_edge`` /
            ``size.longest_edge`` (per frame for Qwen2.5-VL, over the clip for Qwen3-VL;
            both ``S * S`` for InternVL's fixed ``S x S`` frames); ``None`` = the family
            default.
        cap_pixels_per_frame: the processor's optional qwen-vl-utils pixel cap.
        max_video_tokens: the cap's token budget (``None`` = family default).
        temporal_patch_size: frames per temporal patch of the processor (``None`` = the
            family's 2; small checkpoints may use 1: one group of visual tokens per frame).
    """

    family: str
    min_pixels: int | None = None
    max_pixels: int | None = None
    cap_pixels_per_frame: bool = False
    max_video_tokens: int | None = None
    temporal_patch_size: int | None = None

    def __post_init__(self) -> None:
        spec = processor_spec(self.family)  # raises for an unknown family
        if self.min_pixels is None:
            object.__setattr__(self, "min_pixels", spec.min_pixels)
        if self.max_pixels is None:
            object.__setattr__(self, "max_pixels", spec.max_pixels)
        if self.max_video_tokens is None:
            object.__setattr__(self, "max_video_tokens", spec.max_video_tokens)
        if self.temporal_patch_size is None:
            object.__setattr__(self, "temporal_patch_size", spec.temporal_patch_size)
        for name in ("min_pixels", "max_pixels", "max_video_tokens", "temporal_patch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or int(value) != value or value <= 0:
                raise ValueError(f"ModelGeometry.{name} must be a positive integer, got {value!r}")
            object.__setattr__(self, name, int(value))
        if self.min_pixels > self.max_pixels:
            raise ValueError(
                f"ModelGeometry.min_pixels ({self.min_pixels}) exceeds max_pixels "
                f"({self.max_pixels})"
            )

    def model_size(self, num_frames: int, shown_size: tuple[int, int]) -> tuple[int, int]:
        """``(width, height)`` the processor resizes ``num_frames`` frames of ``shown_size``
        (``(width, height)``) to, pixels."""
        width, height = shown_size
        new_h, new_w = resized_size(
            self.family,  # type: ignore[arg-type]
            max(1, int(num_frames)),
            int(height),
            int(width),
            min_pixels=self.min_pixels,
            max_pixels=self.max_pixels,
            cap_pixels_per_frame=self.cap_pixels_per_frame,
            max_video_tokens=self.max_video_tokens,
            temporal_patch_size=self.temporal_patch_size,
        )
        return int(new_w), int(new_h)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (YAML / env kwargs friendly)."""
        return asdict(self)

    @classmethod
    def coerce(cls, value: ModelGeometry | Mapping[str, Any] | None) -> ModelGeometry | None:
        """A geometry from a mapping (a YAML section), an instance, or ``None``."""
        if value is None or isinstance(value, ModelGeometry):
            return value
        if isinstance(value, Mapping):
            unknown = sorted(set(value) - set(cls.__dataclass_fields__))
            if unknown:
                raise ValueError(
                    f"unknown model_geometry key(s) {unknown}; valid keys: "
                    f"{sorted(cls.__dataclass_fields__)}"
                )
            return cls(**dict(value))
        raise TypeError(f"model_geometry must be a mapping or null, got {type(value).__name__}")


@dataclass(frozen=True)
class ContractSpec:
    """The part of the answer contract that is the same for every episode of a run.

    Attributes:
        answer_format: the text answer format (``json-v1``, ``tagged``, ``draft-final``).
        coords: coordinate system of boxes in the text (``pixels``, ``norm1000``, ``norm1``).
        fps: frames sampled per second of video (``None`` = every native frame).
        geometry: how the model's processor resizes the shown frames; ``None`` = the model
            sees them at the shown size (text policies without a processor, the envs'
            default).
    """

    answer_format: str = "json-v1"
    coords: str = "pixels"
    fps: float | None = 1.0
    geometry: ModelGeometry | None = None

    def __post_init__(self) -> None:
        check_coords(self.coords)
        get_format(self.answer_format, self.coords)  # raises for an unknown format
        if self.fps is not None and not (math.isfinite(self.fps) and self.fps > 0):
            raise ValueError(f"ContractSpec.fps must be positive or None, got {self.fps}")
        object.__setattr__(self, "geometry", ModelGeometry.coerce(self.geometry))

    @property
    def format(self) -> AnswerFormat:
        """The answer format object in :attr:`coords`."""
        return get_format(self.answer_format, self.coords)

    def model_size(self, num_frames: int, shown_size: tuple[int, int]) -> tuple[int, int] | None:
        """The model's frame size for ``num_frames`` shown frames, or ``None`` (no resize)."""
        if self.geometry is None:
            return None
        return self.geometry.model_size(num_frames, shown_size)

    def shown_frames(self, timestamps_s: np.ndarray, shown_size: tuple[int, int]) -> ShownFrames:
        """What a prompt may say about frames shown at ``timestamps_s`` of ``shown_size``."""
        times = np.asarray(timestamps_s, dtype=np.float64).reshape(-1)
        return ShownFrames(times, shown_size, self.model_size(times.size, shown_size), self.fps)

    def contract(self, ctx: FrameContext) -> AnswerContract:
        """The episode's contract for frames shown as ``ctx`` (its ``model_size`` filled)."""
        model_size = self.model_size(ctx.timestamps_s.size, ctx.shown_size)
        if ctx.model_size != model_size:
            ctx = replace(ctx, model_size=model_size)
        return AnswerContract(self, ctx)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict: ``answer_format``, ``coords``, ``fps``, ``geometry`` (a dict or None)."""
        return {
            "answer_format": self.answer_format,
            "coords": self.coords,
            "fps": self.fps,
            "geometry": None if self.geometry is None else self.geometry.to_dict(),
        }


@dataclass(frozen=True, eq=False)
class AnswerContract:
    """How one episode's text answer maps to the video (see the module doc).

    Attributes:
        spec: the run-wide :class:`ContractSpec`.
        frame: what was shown: frames, timestamps, shown size and the model's frame size.
    """

    spec: ContractSpec
    frame: FrameContext
    _format: AnswerFormat = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_format", self.spec.format)

    @property
    def answer_format(self) -> AnswerFormat:
        """The answer format object (in the contract's coordinates)."""
        return self._format

    @property
    def shown(self) -> ShownFrames:
        """The prompt-side view: timestamps, shown size and model size."""
        return self.frame.shown

    def instructions(self) -> str:
        """The answer format's prompt instructions for this episode."""
        return self._format.instructions(self.shown)

    def parse(self, text: str) -> ParseResult:
        """Parse a model answer (never raises); boxes come back in original pixels."""
        return self._format.parse(text, self.frame)

    def render(self, answer: SecondLevelAnswer, reasoning: str = "") -> str:
        """The text of ``answer`` (original pixels, seconds) as the model must write it."""
        return self._format.render(answer, self.frame, reasoning)

    def gt_answer(self, sample: Sample) -> SecondLevelAnswer:
        """The ground truth as an answer on the shown frames (what SFT targets render).

        The span is the ground-truth span in seconds (``first / native_fps`` to
        ``last / native_fps``, which the verifier maps back to exactly those frames); the
        boxes are at the shown frames inside it, each the ground-truth box of that frame or
        of the nearest annotated one. A span shorter than the sampling interval, with no
        shown frame inside, gets the box of the shown frame nearest its middle.

        Raises:
            ValueError: ``sample`` is not the episode's video, or has no ground-truth box.
        """
        ctx = self.frame
        if (sample.width, sample.height) != ctx.original_size or sample.num_frames != (
            ctx.num_frames
        ):
            raise ValueError(
                f"sample {sample.sample_id!r} ({sample.width}x{sample.height}, "
                f"{sample.num_frames} frames) is not the video of this contract "
                f"({ctx.original_size[0]}x{ctx.original_size[1]}, {ctx.num_frames} frames)"
            )
        first, last = sample.gt_span
        frames = ctx.frame_idx
        keep = np.flatnonzero((frames >= first) & (frames <= last))
        if keep.size == 0:
            keep = np.array([int(np.argmin(np.abs(frames - (first + last) / 2)))])
        return SecondLevelAnswer(
            span_s=(first / sample.native_fps, last / sample.native_fps),
            times_s=ctx.timestamps_s[keep],
            boxes_xyxy=sample.gt_boxes_at(frames[keep]),
        )


def _describe(value: Any) -> str:
    if isinstance(value, ModelGeometry):
        return str(value.to_dict())
    return repr(value)


def check_agreement(
    env_spec: ContractSpec,
    policy_spec: ContractSpec,
    *,
    env_name: str = "env",
    policy_name: str = "policy",
) -> None:
    """Raise :class:`ContractError` when an env scores in another contract than the policy
    answers in (format, coordinates, sampling rate or frame geometry).

    The message names every field that differs with both values and the config keys to fix.
    """
    problems = []
    for name in ("answer_format", "coords", "fps"):
        ours, theirs = getattr(env_spec, name), getattr(policy_spec, name)
        if ours != theirs:
            problems.append(f"{name}: {env_name} has {ours!r}, {policy_name} has {theirs!r}")
    if env_spec.geometry != policy_spec.geometry and policy_spec.coords == "pixels":
        problems.append(
            f"model_geometry: {env_name} has {_describe(env_spec.geometry)}, {policy_name} "
            f"has {_describe(policy_spec.geometry)} (pixel answers refer to the model's "
            "resized frames)"
        )
    if problems:
        raise ContractError(
            f"the {env_name} and the {policy_name} disagree on the answer contract: "
            + "; ".join(problems)
            + f". Remove these keys from the {env_name} config so they are taken from the "
            f"{policy_name}, or set them to the {policy_name}'s values"
        )


#: Env config keys that carry a :class:`ContractSpec`'s fields.
ENV_CONTRACT_KEYS: dict[str, str] = {
    "answer_format": "answer_format",
    "coords": "coords",
    "fps": "fps",
    "geometry": "model_geometry",
}


def env_overrides(policy_spec: ContractSpec, env_kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """Env keyword arguments completed from ``policy_spec`` where the user left them unset.

    Keys already present in ``env_kwargs`` (answer_format, coords, fps, model_geometry) are
    kept as given, so :func:`check_agreement` can report a real disagreement; the verifier
    section's own ``answer_format``/``coords`` count as set.
    """
    merged = dict(env_kwargs)
    verifier = merged.get("verifier")
    for field_name, key in ENV_CONTRACT_KEYS.items():
        if key in merged:
            continue
        if isinstance(verifier, Mapping) and key in verifier:
            continue
        value = getattr(policy_spec, field_name)
        merged[key] = value.to_dict() if isinstance(value, ModelGeometry) else value
    return merged


__all__ = [
    "AnswerContract",
    "ContractError",
    "ContractSpec",
    "ENV_CONTRACT_KEYS",
    "ModelGeometry",
    "check_agreement",
    "env_overrides",
]
