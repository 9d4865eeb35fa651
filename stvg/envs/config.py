"""Typed configs of the envs, built from keyword arguments, dicts or YAML via ``stvg.config``.

``gymnasium.make("stvg/Grounding-v0", dataset="hcstvg", fps=2.0)`` maps its keyword
arguments onto :class:`GroundingEnvConfig`; an unknown keyword or a wrong type is a
:class:`stvg.config.ConfigError` naming the key (``env.fps``) and what was expected.

:class:`EnvConfig` is the one env section every stage config embeds (SFT, RL, evaluation,
synthesis, exports, ``stvg run``): the env ``id`` and every key of the envs (the
dataset, the sampling, the answer and verifier settings, the tracking env's reward), each
checked against the env the id names. :meth:`EnvConfig.env_kwargs` gives the keyword
arguments of ``gymnasium.make(config.id, ...)``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, fields
from typing import Any, ClassVar, Literal, TypeVar

from stvg.config import ConfigError, InvalidField, from_dict, to_dict
from stvg.tubes import DensifyConfig
from stvg.verifiers.formats import Coords, ModelGeometry
from stvg.verifiers.verifier import VerifierConfig

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
            ``answer_format``, ``coords``, ``densify``): a mapping (validated, errors at
            ``env.verifier.<key>``), the path of a YAML file, a ``VerifierConfig``, or
            ``None`` for the defaults (``tIoU + vIoU``).
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
    verifier: VerifierConfig | str | None = None
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
        if isinstance(self.verifier, Mapping):  # built in code: validate it here too
            self.verifier = from_dict(VerifierConfig, dict(self.verifier))
        if self.verifier is not None and not isinstance(self.verifier, (str, VerifierConfig)):
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


@dataclass
class FlatObservationConfig:
    """Numbers-only observations of a tracking env for classical RL models
    (:class:`~stvg.envs.wrappers.FlatTrackingObservation`).

    Attributes:
        frame_size: side of the downsampled frame, pixels.
        query_length: hashed query token ids kept (padded with 0).
        vocab_size: number of token ids (0 is padding).
        flatten: one float32 vector (``True``) or a dict of the features.
    """

    frame_size: int = 16
    query_length: int = 16
    vocab_size: int = 1024
    flatten: bool = True

    def __post_init__(self) -> None:
        if self.frame_size < 1 or self.query_length < 1:
            raise InvalidField(
                "frame_size",
                f"frame_size and query_length must be >= 1, got {self.frame_size}, "
                f"{self.query_length}",
            )
        if self.vocab_size < 2:
            raise InvalidField("vocab_size", f"must be >= 2, got {self.vocab_size}")


#: The kind of env (``grounding`` or ``tracking``) of each stvg id; an id of another
#: package is ``None`` (its keys go to it unchecked).
ENV_KINDS: dict[str, str] = {
    "stvg/Grounding-v0": "grounding",
    "stvg/Synthetic-v0": "grounding",
    "stvg/Tracking-v0": "tracking",
    "stvg/SyntheticTracking-v0": "tracking",
    "stvg/SyntheticTrackingFlat-v0": "tracking",
}
#: Ids that hold the cached synthetic split themselves (no dataset keys).
SHORTCUT_IDS = ("stvg/Synthetic-v0", "stvg/SyntheticTracking-v0", "stvg/SyntheticTrackingFlat-v0")
#: The id that wraps its observations into numbers itself.
FLAT_ID = "stvg/SyntheticTrackingFlat-v0"
_DATASET_KEYS = ("dataset", "split", "root", "annotations", "video_dir", "vidor_root")


@dataclass
class EnvConfig(GroundingEnvConfig, TrackingEnvConfig):
    """The env of a stage: its Gymnasium id and its keys (YAML: the ``env:`` section).

    Every key of :class:`EnvDataConfig` (dataset, split, root, fps, max_frames, max_side,
    densify, verifier, ...), of :class:`GroundingEnvConfig` (``action_format``,
    ``answer_format``, ``coords``, ``model_geometry``, ``max_text_length``) and of
    :class:`TrackingEnvConfig` (``reward_mode``, ``false_presence_penalty``,
    ``include_prev_box``), plus:

    Attributes:
        id: the Gymnasium id (``stvg/Grounding-v0``, ``stvg/Tracking-v0``,
            ``stvg/Synthetic-v0``, ``stvg/SyntheticTracking-v0``,
            ``stvg/SyntheticTrackingFlat-v0``, or an id of your own). Switching it is how
            a pipeline runs another env.
        action_format: ``text`` or ``struct`` (grounding envs); ``None`` = set by the
            stage from the policy (text for a text policy).
        max_episode_steps: a time limit for multi-step envs (Gymnasium's ``TimeLimit``):
            an episode cut by it is *truncated*, and PPO bootstraps from the critic's value
            of the state where it was cut. ``None`` = no limit.
        flat_observation: tracking envs: numbers-only observations for classical RL
            models (``tracking-mlp``, RLlib); ``None`` = the env's dict observations.

    Keys that belong to another kind of env than the id's (``reward_mode`` on a grounding
    env, ``coords`` on a tracking env) are errors naming the key and the id. The old
    spelling ``{id: ..., kwargs: {...}}`` is read as the same keys (with a deprecation
    warning).
    """

    CONFIG_ALIASES: ClassVar[dict[str, str]] = {
        "kwargs": "",
        "frame_size": "flat_observation.frame_size",
        "query_length": "flat_observation.query_length",
        "vocab_size": "flat_observation.vocab_size",
        "flatten": "flat_observation.flatten",
    }

    id: str = "stvg/Grounding-v0"
    action_format: Literal["text", "struct"] | None = None  # type: ignore[assignment]
    max_episode_steps: int | None = None
    flat_observation: FlatObservationConfig | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.id:
            raise InvalidField("id", "must be a Gymnasium env id such as 'stvg/Grounding-v0'")
        if self.max_episode_steps is not None and self.max_episode_steps < 1:
            raise InvalidField(
                "max_episode_steps",
                f"must be a positive integer or null, got {self.max_episode_steps}",
            )
        kind = self.kind
        if kind is None:
            return
        other = TrackingEnvConfig if kind == "grounding" else GroundingEnvConfig
        own = {
            f.name for f in fields(GroundingEnvConfig if kind == "grounding" else TrackingEnvConfig)
        }
        for f in fields(other):
            if f.name in own or f.name in ("action_format",):
                continue
            if getattr(self, f.name) != _default(f.name):
                raise InvalidField(
                    f.name,
                    f"is a key of the {'tracking' if kind == 'grounding' else 'grounding'} "
                    f"envs, not of {self.id} (a {kind} env): remove it or change id",
                )
        if kind == "tracking" and self.action_format is not None:
            raise InvalidField(
                "action_format",
                f"{self.id} is a tracking env (present + box per step): remove action_format",
            )
        if kind == "grounding" and self.flat_observation is not None:
            raise InvalidField(
                "flat_observation",
                f"numbers-only observations are for tracking envs, not {self.id}",
            )
        if self.id in SHORTCUT_IDS:
            given = [k for k in _DATASET_KEYS if getattr(self, k) != _default(k)]
            if given:
                raise InvalidField(
                    given[0],
                    f"{self.id} always uses the cached synthetic split; use "
                    f"{'stvg/Grounding-v0' if kind == 'grounding' else 'stvg/Tracking-v0'} "
                    "with dataset=... instead",
                )

    @property
    def kind(self) -> str | None:
        """``grounding``, ``tracking`` or ``None`` (an id of another package)."""
        return ENV_KINDS.get(self.id)

    def env_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of ``gymnasium.make(self.id, ...)``: every key of the id's
        env whose value differs from its default, and ``fps`` always (so that a policy's
        answer contract never replaces a rate the config gave; ``answer_format``,
        ``coords`` and ``model_geometry`` left ``None`` are filled from the policy by
        :func:`stvg.envs.contract.bind_env_kwargs`). A ``verifier`` section is passed as
        a mapping of the keys it sets. ``flat_observation`` is a key that
        :func:`stvg.envs.make.make_env` applies as a wrapper (the flat id takes its keys
        itself)."""
        kind = self.kind
        if kind == "grounding":
            names = [f.name for f in fields(GroundingEnvConfig)]
        elif kind == "tracking":
            names = [f.name for f in fields(TrackingEnvConfig)]
        else:
            skip = {"id", "max_episode_steps", "flat_observation"}
            names = [f.name for f in fields(EnvConfig) if f.name not in skip]
        out: dict[str, Any] = {}
        for name in names:
            value = getattr(self, name)
            if name == "fps" or value != _default(name):
                out[name] = _plain(value)
        if self.flat_observation is not None:
            flat = to_dict(self.flat_observation)
            if self.id == FLAT_ID:
                out.update(flat)
            else:
                out["flat_observation"] = flat
        return out

    def replaced(self, **changes: Any) -> EnvConfig:
        """A copy with ``changes`` (validated as the constructor validates)."""
        import dataclasses

        return dataclasses.replace(self, **changes)


def as_env_config(env: EnvConfig | Mapping[str, Any]) -> EnvConfig:
    """``env`` as an :class:`EnvConfig` (a mapping of its keys is validated, errors at
    ``env.<key>``)."""
    return from_dict(EnvConfig, env, path="env")


def _default(name: str) -> Any:
    """The default of :class:`EnvConfig`'s field ``name``."""
    f = EnvConfig.__dataclass_fields__[name]
    return f.default_factory() if f.default_factory is not MISSING else f.default


def _plain(value: Any) -> Any:
    """A config value as a keyword argument: a verifier config as the mapping of the keys
    it sets (its ``answer_format`` and ``coords`` only when they are not the defaults, so
    a policy's contract fills them), other sections as plain dicts."""
    if isinstance(value, VerifierConfig):
        full, base = to_dict(value), to_dict(VerifierConfig())
        return {k: v for k, v in full.items() if v != base[k]}
    return to_dict(value)


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


__all__ = [
    "ENV_KINDS",
    "as_env_config",
    "EnvConfig",
    "EnvDataConfig",
    "FlatObservationConfig",
    "GroundingEnvConfig",
    "TrackingEnvConfig",
    "resolve_config",
]
