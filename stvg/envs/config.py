"""Typed configs of the envs, built from keyword arguments, dicts or YAML via ``stvg.config``.

``gymnasium.make("stvg/Grounding-v0", dataset="hcstvg", fps=2.0)`` maps its keyword
arguments onto :class:`GroundingEnvConfig`; an unknown keyword or a wrong type is a
:class:`stvg.config.ConfigError` naming the key (``env.fps``) and what was expected.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from stvg.config import ConfigError, InvalidField, from_dict, to_dict
from stvg.tubes import DensifyConfig
from stvg.verifiers.formats import Coords, ModelGeometry

C = TypeVar("C", bound="EnvDataConfig")


@dataclass
class EnvDataConfig:
    """What both envs share: the dataset, how frames are sampled, and the scoring.

    Attributes:
        dataset: dataset name for ``stvg.data.load_dataset`` (``hcstvg``, ``hcstvg2``,
            ``vidstg``, ``synthetic``).
        split: split name (dataset specific, e.g. ``test``, ``val``, ``train``).
        root: dataset folder (annotations and videos beneath it).
        annotations: annotation file, overriding the one found under ``root``.
        video_dir: video folder, overriding the one found under ``root``.
        vidor_root: VidOR folder (VidSTG boxes).
        fps: frames sampled per second of video; ``None`` = every native frame.
        max_frames: most frames sampled from one video (evenly spread when the rate gives
            more, with a warning that counts the thinned videos); ``None`` (default) = room
            for the longest video at ``fps``.
        max_side: longer side, in pixels, of the frames as shown (aspect ratio kept).
        densify: how per-second boxes become a frame-level tube before scoring; ``None``
            keeps the verifier config's ``densify``, a value replaces it.
        verifier: the verifier config (``stvg.verifiers.VerifierConfig`` fields: ``terms``,
            ``answer_format``, ``coords``, ``densify``): a mapping, the path of a YAML file,
            a ``VerifierConfig``, or ``None`` for the defaults (``tIoU + vIoU``).
        sample_order: ``sequential`` (dataset order, cycling) or ``shuffle`` (a new
            permutation from ``self.np_random`` every pass over the dataset).
        frame_cache_mb: memory bound of the decoded-frame LRU cache in MB (0 = off).
        max_query_length: longest query, in characters, of the ``query`` observation.
        on_bad_video: what ``reset`` does with a sample whose video cannot be decoded:
            ``error`` (default) raises naming the sample and the file; ``skip`` plays
            another sample instead, warns once per bad video and lists the skipped ones in
            ``info["bad_videos"]`` (see :mod:`stvg.envs.bad_videos`; the RL log has the share
            of replaced samples as ``charts/bad_video_frac``).
    """

    dataset: str = "synthetic"
    split: str | None = None
    root: str | None = None
    annotations: str | None = None
    video_dir: str | None = None
    vidor_root: str | None = None
    fps: float | None = 1.0
    max_frames: int | None = None
    max_side: int = 224
    densify: DensifyConfig | None = None
    verifier: Any = None
    sample_order: Literal["sequential", "shuffle"] = "sequential"
    frame_cache_mb: float = 512.0
    max_query_length: int = 4096
    on_bad_video: Literal["error", "skip"] = "error"

    def __post_init__(self) -> None:
        if self.fps is not None and not (math.isfinite(self.fps) and self.fps > 0):
            raise InvalidField(
                "fps", f"must be a positive number or None (every frame), got {self.fps}"
            )
        if self.max_frames is not None and self.max_frames <= 0:
            raise InvalidField(
                "max_frames", f"must be a positive integer or None, got {self.max_frames}"
            )
        if self.max_side < 2:
            raise InvalidField("max_side", f"must be >= 2 pixels, got {self.max_side}")
        if not (math.isfinite(self.frame_cache_mb) and self.frame_cache_mb >= 0):
            raise InvalidField(
                "frame_cache_mb", f"must be a number >= 0 (0 = no cache), got {self.frame_cache_mb}"
            )
        if self.max_query_length <= 0:
            raise InvalidField("max_query_length", f"must be positive, got {self.max_query_length}")
        if self.verifier is not None and not isinstance(self.verifier, (str, Mapping)):
            if not hasattr(self.verifier, "__dataclass_fields__"):
                raise InvalidField(
                    "verifier",
                    "expected a mapping, a YAML path or a VerifierConfig, "
                    f"got {type(self.verifier).__name__}",
                )

    def dataset_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``stvg.data.load_dataset`` (after the name)."""
        return {
            "split": self.split,
            "root": self.root,
            "annotations": self.annotations,
            "video_dir": self.video_dir,
            "vidor_root": self.vidor_root,
        }


@dataclass
class GroundingEnvConfig(EnvDataConfig):
    """Config of :class:`~stvg.envs.grounding.GroundingEnv` (single turn).

    Attributes:
        action_format: ``text`` (the model's whole answer as a string, parsed by
            ``answer_format``) or ``struct`` (span, normalised boxes and a box mask).
        answer_format: the text answer format (``json-v1``, ``tagged``); ``None`` keeps
            the verifier config's (default ``json-v1``), a value replaces it.
        coords: box coordinates of the text format (``pixels`` of the frames as the model
            sees them, ``norm1000``, ``norm1``); ``None`` keeps the verifier config's
            (``pixels``).
        model_geometry: how the policy's processor resizes the shown frames before the
            model answers (``{family: qwen2.5-vl, min_pixels: ..., max_pixels: ...}``, see
            :class:`~stvg.verifiers.formats.ModelGeometry`); ``pixels`` answers are read in
            that resized frame. ``None`` = the model sees the frames as shown. The trainer,
            the evaluator and ``stvg run`` fill it (and ``answer_format``, ``coords``,
            ``fps``) from the policy when unset, and refuse a policy that disagrees.
        max_text_length: longest text action accepted by ``action_space.contains``.
    """

    action_format: Literal["text", "struct"] = "text"
    answer_format: str | None = None
    coords: Coords | None = None
    model_geometry: ModelGeometry | None = None
    max_text_length: int = 65536

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.max_text_length <= 0:
            raise InvalidField("max_text_length", f"must be positive, got {self.max_text_length}")


@dataclass
class TrackingEnvConfig(EnvDataConfig):
    """Config of :class:`~stvg.envs.tracking.TrackingEnv` (one step per sampled frame).

    Attributes:
        max_frames: most steps (sampled frames) per episode; ``None`` = the whole video.
        reward_mode: ``sparse`` (the verifier on the whole episode, given at the last step)
            or ``dense`` (per-step box IoU, minus ``false_presence_penalty`` for claiming
            the target outside the ground-truth span).
        false_presence_penalty: subtracted from a dense step's reward when presence is
            claimed on a frame outside the ground-truth span (>= 0).
        include_prev_box: add ``prev_box`` (the previous step's box) to the observation.
    """

    max_frames: int | None = None
    reward_mode: Literal["sparse", "dense"] = "sparse"
    false_presence_penalty: float = 0.1
    include_prev_box: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        if not (math.isfinite(self.false_presence_penalty) and self.false_presence_penalty >= 0):
            raise InvalidField(
                "false_presence_penalty",
                f"must be a finite number >= 0, got {self.false_presence_penalty}",
            )


def resolve_config(
    cls: type[C], config: Any = None, overrides: Mapping[str, Any] | None = None
) -> C:
    """Build ``cls`` from ``config`` (an instance, a mapping or ``None``) plus keyword
    ``overrides`` (which win), validating every key under the path ``env``."""
    if config is None:
        base: dict[str, Any] = {}
    elif isinstance(config, cls):
        base = to_dict(config)
    elif isinstance(config, Mapping):
        base = dict(config)
    else:
        raise ConfigError(
            f"config key env: expected a {cls.__name__} or a mapping, got {type(config).__name__}"
        )
    merged = {**base, **dict(overrides or {})}
    return from_dict(cls, merged, path="env")


__all__ = ["EnvDataConfig", "GroundingEnvConfig", "TrackingEnvConfig", "resolve_config"]
