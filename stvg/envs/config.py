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
from stvg.data.synthetic.tracks import TrackNoise
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
class TracksConfig:
    """Object tracks drawn onto the shown frames (STVG-R1; the ``track-id`` answer format).

    YAML: ``tracks: {source: synthetic, noise: {id_switch: 0.1}, draw: true}`` or
    ``tracks: {source: file, path: tracks.jsonl}`` (the tracks file, ``docs/tracks.md``).

    Attributes:
        source: ``synthetic`` (every object of the sample's scene is a track:
            :func:`stvg.data.synthetic.tracks.scene_tracks`; needs a synthetic split with
            its scene file) or ``file`` (a tracks file, :func:`stvg.data.tracks.load_tracks`).
        path: the tracks file (``source: file`` only).
        noise: a simulated tracker's errors (``source: synthetic`` only;
            :class:`~stvg.data.synthetic.tracks.TrackNoise`: ``id_switch``, ``miss``,
            ``jitter``, ``false_tracks``); ``None`` = exact tracks.
        seed: seed of the synthetic tracks' ID order and noise (same seed, same tracks).
        draw: draw each track's box and ID on the observation frames
            (:func:`stvg.render.tracks.draw_tracks`); ``false`` gives the verifier the
            tracks without showing them.
        max_candidates: slots of the observation's track candidates (``track_ids``,
            ``track_boxes``, ``track_box_mask``: the tracks with a box on a shown frame)
            and of a struct track-id action's ``track`` index; an episode showing more
            tracks is refused with an error naming this key.
    """

    source: Literal["synthetic", "file"] = "synthetic"
    path: str | None = None
    noise: TrackNoise | None = None
    seed: int = 0
    draw: bool = True
    max_candidates: int = 16

    def __post_init__(self) -> None:
        if self.max_candidates < 1:
            raise InvalidField("max_candidates", f"must be >= 1, got {self.max_candidates}")
        if self.source == "file" and not self.path:
            raise InvalidField("path", "source: file needs the tracks file's path")
        if self.source == "synthetic" and self.path is not None:
            raise InvalidField("path", "source: synthetic builds the tracks; remove path")
        if self.source == "file" and self.noise is not None:
            raise InvalidField("noise", "noise simulates a tracker on synthetic tracks only")


@dataclass
class GroundingEnvConfig(EnvDataConfig):
    """Config of :class:`~stvg.envs.grounding.GroundingEnv` (single turn).

    Attributes:
        action_format: ``text`` (the model's whole answer as a string, parsed by
            ``answer_format``) or ``struct`` (span, normalised boxes and a box mask).
        answer_format: the text answer format (``json-v1``, ``tagged``, ``draft-final``); ``None`` keeps
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
        tracks: object tracks drawn on the frames and read by the ``track-id`` answer
            format (:class:`TracksConfig`); ``None`` = no tracks.
    """

    action_format: Literal["text", "struct"] = "text"
    answer_format: str | None = None
    coords: Coords | None = None
    model_geometry: ModelGeometry | None = None
    max_text_length: int = 65536
    tracks: TracksConfig | None = None

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
class ZoomKeys:
    """The keys of the glance-and-zoom env (see :class:`ZoomEnvConfig`), checked by
    :meth:`check_zoom` where the env is a zoom env.

    Every shown frame lies on the sampling grid of ``fps`` (the finest rate a zoom may ask
    for; the grid of :func:`stvg.data.timing.sample_frame_indices`); the glance and each
    zoom take every ``n``-th grid point for an integer ``n``.

    Attributes:
        glance_fps: the rate of the first look at the whole video (turn 0); must be
            ``fps / n`` for an integer ``n`` (0.25 with ``fps`` 1).
        max_zooms: most zoom calls per episode.
        max_frames_per_zoom: most new frames one zoom shows (a window holding more is
            thinned evenly, the first and last kept).
        frame_budget: most frames an episode shows in all, glance included; ``None`` =
            the glance of the longest video plus ``max_zooms * max_frames_per_zoom``, at
            most the longest video's whole grid.
            Also the number of frame slots of an observation.
        max_turns: most steps of an episode; an episode that reaches it without an answer
            is truncated with reward 0 and a reason. ``None`` = ``max_zooms + 1``.
        on_invalid_zoom: what a zoom past a limit (no zoom left, no frame left) or a
            malformed zoom does: ``continue`` (reward 0 for the step, the reason in
            ``info["invalid_action"]``, the turn counted) or ``end`` (the episode ends
            with reward 0 and the reason).
        frame_cost: ``lambda`` of the frame-cost term added to the answer's reward,
            ``-lambda * frames shown / frame_budget`` (0 = off).
        zoom_bonus: added to the answer's reward when the episode zoomed at least once
            and the answer's vIoU is at least ``zoom_bonus_min_v_iou`` (0 = off).
        zoom_bonus_min_v_iou: the vIoU an answer needs for the zoom bonus, in [0, 1].
    """

    glance_fps: float = 0.25
    max_zooms: int = 2
    max_frames_per_zoom: int = 16
    frame_budget: int | None = None
    max_turns: int | None = None
    on_invalid_zoom: Literal["continue", "end"] = "continue"
    frame_cost: float = 0.0
    zoom_bonus: float = 0.0
    zoom_bonus_min_v_iou: float = 0.3

    def check_zoom(self) -> None:
        """Validate the zoom keys (and ``fps``, ``max_frames``) of a zoom env.

        Raises:
            InvalidField: a bad value, naming the key.
        """
        fps = getattr(self, "fps", None)
        if fps is None:
            raise InvalidField(
                "fps", "the zoom env needs a sampling grid: a positive rate (e.g. 1.0 or 2.0)"
            )
        if getattr(self, "max_frames", None) is not None:
            raise InvalidField(
                "max_frames", "the zoom env limits frames with frame_budget: remove max_frames"
            )
        if not (math.isfinite(self.glance_fps) and self.glance_fps > 0):
            raise InvalidField("glance_fps", f"must be a positive rate, got {self.glance_fps}")
        step = fps / self.glance_fps
        if step < 1 - 1e-9 or abs(step - round(step)) > 1e-6:
            raise InvalidField(
                "glance_fps",
                f"must be fps / n for an integer n >= 1 (fps={fps}: "
                f"{', '.join(f'{fps / n:g}' for n in (1, 2, 4, 8))}, ...), "
                f"got {self.glance_fps}",
            )
        if self.max_zooms < 0:
            raise InvalidField("max_zooms", f"must be >= 0, got {self.max_zooms}")
        if self.max_frames_per_zoom < 1:
            raise InvalidField(
                "max_frames_per_zoom", f"must be >= 1, got {self.max_frames_per_zoom}"
            )
        if self.frame_budget is not None and self.frame_budget < 1:
            raise InvalidField("frame_budget", f"must be >= 1 or null, got {self.frame_budget}")
        if self.max_turns is not None and self.max_turns < 1:
            raise InvalidField("max_turns", f"must be >= 1 or null, got {self.max_turns}")
        for name in ("frame_cost", "zoom_bonus"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise InvalidField(name, f"must be a finite number >= 0, got {value}")
        if not 0.0 <= self.zoom_bonus_min_v_iou <= 1.0:
            raise InvalidField(
                "zoom_bonus_min_v_iou", f"must lie in [0, 1], got {self.zoom_bonus_min_v_iou}"
            )

    @property
    def glance_step(self) -> int:
        """Grid points per glance frame: ``fps / glance_fps``."""
        return int(round(self.fps / self.glance_fps))  # type: ignore[attr-defined]

    @property
    def turn_limit(self) -> int:
        """``max_turns``, or ``max_zooms + 1`` when unset."""
        return self.max_turns if self.max_turns is not None else self.max_zooms + 1


@dataclass
class ZoomEnvConfig(GroundingEnvConfig, ZoomKeys):
    """Config of :class:`~stvg.envs.zoom.ZoomGroundingEnv` (glance, zoom, answer): the keys
    of :class:`GroundingEnvConfig` (``fps`` is the grid of every shown frame: the finest
    rate a zoom may ask for; ``max_frames`` is refused, ``frame_budget`` replaces it) and
    of :class:`ZoomKeys` (``glance_fps``, ``max_zooms``, ``max_frames_per_zoom``,
    ``frame_budget``, ``max_turns``, ``on_invalid_zoom``, ``frame_cost``, ``zoom_bonus``,
    ``zoom_bonus_min_v_iou``)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.check_zoom()
        if self.tracks is not None:
            raise InvalidField("tracks", "the zoom env draws no tracks; use stvg/Grounding-v0")


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
    "stvg/ZoomGrounding-v0": "zoom",
    "stvg/SyntheticZoom-v0": "zoom",
}
#: Ids that hold the cached synthetic split themselves (no dataset keys).
SHORTCUT_IDS = (
    "stvg/Synthetic-v0",
    "stvg/SyntheticTracking-v0",
    "stvg/SyntheticTrackingFlat-v0",
    "stvg/SyntheticZoom-v0",
)
#: The full env (dataset keys allowed) behind each kind, named in errors about shortcuts.
DATASET_IDS = {
    "grounding": "stvg/Grounding-v0",
    "tracking": "stvg/Tracking-v0",
    "zoom": "stvg/ZoomGrounding-v0",
}
#: The id that wraps its observations into numbers itself.
FLAT_ID = "stvg/SyntheticTrackingFlat-v0"
_DATASET_KEYS = ("dataset", "split", "root", "annotations", "video_dir", "vidor_root")


@dataclass
class EnvConfig(GroundingEnvConfig, TrackingEnvConfig, ZoomKeys):
    """The env of a stage: its Gymnasium id and its keys (YAML: the ``env:`` section).

    Every key of :class:`EnvDataConfig` (dataset, split, root, fps, max_frames, max_side,
    densify, verifier, ...), of :class:`GroundingEnvConfig` (``action_format``,
    ``answer_format``, ``coords``, ``model_geometry``, ``max_text_length``, ``tracks``) and of
    :class:`TrackingEnvConfig` (``reward_mode``, ``false_presence_penalty``,
    ``include_prev_box``) and of :class:`ZoomKeys` (``glance_fps``, ``max_zooms``,
    ``max_frames_per_zoom``, ``frame_budget``, ``max_turns``, ``on_invalid_zoom``,
    ``frame_cost``, ``zoom_bonus``, ``zoom_bonus_min_v_iou``), plus:

    Attributes:
        id: the Gymnasium id (``stvg/Grounding-v0``, ``stvg/Tracking-v0``,
            ``stvg/Synthetic-v0``, ``stvg/SyntheticTracking-v0``,
            ``stvg/SyntheticTrackingFlat-v0``, ``stvg/ZoomGrounding-v0``,
            ``stvg/SyntheticZoom-v0``, or an id of your own). Switching it is how a
            pipeline runs another env.
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
        own = {f.name for f in fields(KIND_CONFIGS[kind])} | set(_ENV_CONFIG_KEYS)
        for f in fields(self):
            if f.name in own:
                continue
            if getattr(self, f.name) != _default(f.name):
                owner = next(k for k, c in KIND_CONFIGS.items() if f.name in _field_names(c))
                raise InvalidField(
                    f.name,
                    f"is a key of the {owner} envs, not of {self.id} (a {kind} env): remove "
                    "it or change id",
                )
        if kind == "tracking" and self.action_format is not None:
            raise InvalidField(
                "action_format",
                f"{self.id} is a tracking env (present + box per step): remove action_format",
            )
        if kind != "tracking" and self.flat_observation is not None:
            raise InvalidField(
                "flat_observation",
                f"numbers-only observations are for tracking envs, not {self.id}",
            )
        if kind == "zoom":
            self.check_zoom()
        if self.id in SHORTCUT_IDS:
            given = [k for k in _DATASET_KEYS if getattr(self, k) != _default(k)]
            if given:
                raise InvalidField(
                    given[0],
                    f"{self.id} always uses the cached synthetic split; use "
                    f"{DATASET_IDS[kind]} with dataset=... instead",
                )

    @property
    def kind(self) -> str | None:
        """``grounding``, ``tracking``, ``zoom`` or ``None`` (an id of another package)."""
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
        if kind is not None:
            names = [f.name for f in fields(KIND_CONFIGS[kind])]
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


#: The config class of each kind of env: its keys are the keys an ``env:`` section of that
#: kind may set.
KIND_CONFIGS: dict[str, type[EnvDataConfig]] = {
    "grounding": GroundingEnvConfig,
    "tracking": TrackingEnvConfig,
    "zoom": ZoomEnvConfig,
}
#: Keys of :class:`EnvConfig` itself, valid for every kind.
_ENV_CONFIG_KEYS = ("id", "action_format", "max_episode_steps", "flat_observation")


def _field_names(cls: type) -> set[str]:
    return {f.name for f in fields(cls)}


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
    "KIND_CONFIGS",
    "TrackingEnvConfig",
    "TracksConfig",
    "ZoomEnvConfig",
    "ZoomKeys",
    "resolve_config",
]
