"""Baseline policies: ``random``, ``oracle`` (ground truth plus noise) and ``prior``.

Each baseline builds a struct answer (``GroundingEnv``'s ``"struct"`` action: ``span`` in
seconds, ``boxes`` normalised ``(x1, y1, x2, y2)`` per frame slot, ``box_mask``) and, with
``action_format="text"``, renders it with an answer format (``json-v1`` by default) for a
``"text"`` env. Text mode and the oracle need the env's reset ``info`` (``sample_id``,
``frame_idx``, ``original_size``, ``native_fps``, ``num_frames``), passed as
``act(obs, info)`` / ``act_batch(obs_list, infos)``.

* ``random`` — a uniformly random pair of shown frames as the span, and an independent
  uniformly random box (sorted corners) on every shown frame of the span; seeded.
* ``oracle`` — the ground truth: span ``[first / fps, last / fps]`` (native frames to
  seconds) plus Gaussian noise of ``span_noise_s`` seconds on each end; on every shown frame
  of the span the ground-truth box of that frame (the nearest annotated frame when it has
  none) plus Gaussian noise of ``box_noise`` times the box's width (x) or height (y) on each
  coordinate; seeded. With no noise it scores ``m_vIoU = 1`` at frame level.
* ``prior`` — the training split's averages: span ``[rel_start, rel_end] * duration`` and a
  box of ``rel_width x rel_height`` (fractions of the frame) centred in the frame on every
  shown frame of the span. :meth:`PriorPolicy.fit` computes the four numbers; they are kept
  in the policy's config.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np

from stvg.config import InvalidField, to_dict
from stvg.data.timing import time_of_frame
from stvg.data.types import Sample, SecondLevelAnswer
from stvg.policies.base import Observation
from stvg.verifiers.formats import FrameContext, get_format
from stvg.verifiers.formats.coords import to_original

Info = Mapping[str, Any]
StructAction = dict[str, np.ndarray]


@dataclass
class OutputConfig:
    """How a baseline's answer is handed to the env.

    Attributes:
        action_format: ``struct`` (numeric action) or ``text`` (rendered answer string).
        answer_format: answer format used in ``text`` mode (``json-v1``, ``tagged``, ``draft-final``).
        coords: coordinate system of the rendered boxes (``pixels`` of the shown frames,
            ``norm1000`` or ``norm1``); must match the env's ``coords``.
    """

    action_format: Literal["struct", "text"] = "struct"
    answer_format: str = "json-v1"
    coords: str = "pixels"

    def __post_init__(self) -> None:
        try:
            get_format(self.answer_format, self.coords)
        except ValueError as exc:
            raise InvalidField("answer_format", str(exc)) from exc


def shown_times(obs: Observation, info: Info | None) -> np.ndarray:
    """Timestamps (float64 seconds) of the real frames: ``frame_idx / native_fps`` from
    ``info`` when given (the env's exact times), else the observation's ``timestamps``."""
    count = int((np.asarray(obs["frame_mask"]).reshape(-1) != 0).sum())
    if count == 0:
        raise ValueError("the observation has no real frame (frame_mask is all 0)")
    if info is not None and "frame_idx" in info and "native_fps" in info:
        return np.asarray(time_of_frame(np.asarray(info["frame_idx"]), float(info["native_fps"])))
    return np.asarray(obs["timestamps"], dtype=np.float64).reshape(-1)[:count]


def _require(info: Info | None, keys: Sequence[str], who: str) -> Info:
    if info is None or any(k not in info for k in keys):
        missing = list(keys) if info is None else [k for k in keys if k not in info]
        raise ValueError(
            f"{who} needs the env's reset info with {missing}: call act(obs, info) / "
            "act_batch(obs_list, infos) with the info dicts that env.reset returned"
        )
    return info


def _snap(time_s: float, times_s: np.ndarray) -> float:
    """``time_s`` moved onto the nearest shown time when within float32 rounding (10 us)."""
    nearest = int(np.argmin(np.abs(times_s - time_s)))
    return float(times_s[nearest]) if abs(times_s[nearest] - time_s) < 1e-5 else float(time_s)


def frame_context(obs: Observation, info: Info | None) -> FrameContext:
    """What the env showed, rebuilt from the observation and its reset ``info``."""
    info = _require(info, ("frame_idx", "original_size", "native_fps", "num_frames"), "text mode")
    width, height = (int(v) for v in np.asarray(obs["shown_size"]).reshape(2))
    original = tuple(int(v) for v in info["original_size"])
    return FrameContext(
        frame_idx=np.asarray(info["frame_idx"], dtype=np.int64),
        timestamps_s=shown_times(obs, info),
        shown_size=(width, height),
        original_size=(original[0], original[1]),
        native_fps=float(info["native_fps"]),
        num_frames=int(info["num_frames"]),
    )


def struct_action(
    span_s: tuple[float, float], times_s: np.ndarray, boxes_norm: np.ndarray, slots: int
) -> StructAction:
    """A struct action: ``span_s`` seconds; every shown frame whose time lies in the span
    gets its row of ``boxes_norm`` (float ``[T, 4]`` normalised xyxy) and ``box_mask = 1``.

    When no shown frame lies inside the span, the frame nearest to its middle carries the
    box, so the answer always has one.
    """
    start, end = float(span_s[0]), float(span_s[1])
    inside = (times_s >= start - 1e-9) & (times_s <= end + 1e-9)
    if not inside.any():
        inside[int(np.argmin(np.abs(times_s - (start + end) / 2)))] = True
    boxes = np.zeros((slots, 4), dtype=np.float32)
    mask = np.zeros(slots, dtype=np.int8)
    count = times_s.shape[0]
    boxes[:count][inside] = boxes_norm[inside]
    mask[:count] = inside
    return {"span": np.array([start, end], dtype=np.float32), "boxes": boxes, "box_mask": mask}


class _AnswerPolicy(ABC):
    """Shared plumbing: build a struct action per observation, render it in text mode."""

    config: Any
    output: OutputConfig

    @property
    def action_format(self) -> str:
        """``struct`` or ``text``: the env ``action_format`` this policy's actions fit."""
        return self.output.action_format

    def act(self, obs: Observation, info: Info | None = None) -> StructAction | str:
        """The action for one observation (``info``: the env's reset info)."""
        action = self._struct(obs, info)
        if self.output.action_format == "struct":
            return action
        return self.render(action, obs, info)

    def act_batch(
        self, obs_list: Sequence[Observation], infos: Sequence[Info | None] | None = None
    ) -> list[StructAction | str]:
        """The actions for several observations, in order."""
        infos = list(infos) if infos is not None else [None] * len(obs_list)
        if len(infos) != len(obs_list):
            raise ValueError(f"act_batch got {len(obs_list)} observations but {len(infos)} infos")
        return [self.act(obs, info) for obs, info in zip(obs_list, infos, strict=True)]

    def render(self, action: StructAction, obs: Observation, info: Info | None) -> str:
        """The struct ``action`` as answer text in the configured format and coordinates."""
        ctx = frame_context(obs, info)
        keep = np.flatnonzero(np.asarray(action["box_mask"])[: len(ctx.frame_idx)])
        boxes = to_original(np.asarray(action["boxes"], dtype=np.float64)[keep], "norm1", ctx)
        start, end = (_snap(v, ctx.timestamps_s) for v in np.asarray(action["span"], np.float64))
        answer = SecondLevelAnswer((start, end), ctx.timestamps_s[keep], boxes)
        return get_format(self.output.answer_format, self.output.coords).render(answer, ctx)

    @abstractmethod
    def _struct(self, obs: Observation, info: Info | None) -> StructAction:
        """The struct action (span in seconds, normalised boxes, mask) for one observation."""


# --------------------------------------------------------------------------- random
@dataclass
class RandomConfig(OutputConfig):
    """Config of :class:`RandomPolicy`.

    Attributes:
        seed: seed of the policy's generator (the same seed gives the same actions).
    """

    seed: int = 0


class RandomPolicy(_AnswerPolicy):
    """Uniformly random span over the shown frames and random boxes (see the module doc).

    Args:
        **config: fields of :class:`RandomConfig`.
    """

    config_class = RandomConfig

    def __init__(self, **config: Any) -> None:
        self.config = self.output = RandomConfig(**config)
        self.rng = np.random.default_rng(self.config.seed)

    @classmethod
    def from_config(cls, config: RandomConfig) -> RandomPolicy:
        """Build from a validated config."""
        return cls(**to_dict(config))

    def _struct(self, obs: Observation, info: Info | None) -> StructAction:
        times = shown_times(obs, info)
        first, last = np.sort(self.rng.integers(0, times.shape[0], size=2))
        xs = np.sort(self.rng.uniform(0.0, 1.0, size=(times.shape[0], 2)), axis=1)
        ys = np.sort(self.rng.uniform(0.0, 1.0, size=(times.shape[0], 2)), axis=1)
        boxes = np.stack([xs[:, 0], ys[:, 0], xs[:, 1], ys[:, 1]], axis=1)
        slots = int(np.asarray(obs["frame_mask"]).shape[0])
        return struct_action((times[first], times[last]), times, boxes, slots)


# --------------------------------------------------------------------------- oracle
@dataclass
class OracleConfig(OutputConfig):
    """Config of :class:`OraclePolicy`.

    Attributes:
        span_noise_s: standard deviation (seconds) of the Gaussian noise on each span end.
        box_noise: standard deviation of the noise on each box coordinate, as a fraction of
            the ground-truth box's width (x1, x2) or height (y1, y2).
        seed: seed of the noise generator.
        dataset, split, root: where to read the ground truth (``stvg.data.load_dataset``);
            may be left out when the caller hands the samples over with
            :meth:`OraclePolicy.bind_samples` (``stvg evaluate`` does).
    """

    span_noise_s: float = 0.0
    box_noise: float = 0.0
    seed: int = 0
    dataset: str | None = None
    split: str | None = None
    root: str | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("span_noise_s", "box_noise"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value >= 0):
                raise InvalidField(name, f"must be a finite number >= 0, got {value}")


class OraclePolicy(_AnswerPolicy):
    """The ground-truth answer, optionally perturbed (see the module docstring).

    Args:
        samples: the samples to answer (looked up by ``info["sample_id"]``); else
            ``dataset``/``split``/``root`` of the config are loaded, else call
            :meth:`bind_samples` before acting.
        **config: fields of :class:`OracleConfig`.
    """

    config_class = OracleConfig

    def __init__(self, samples: Sequence[Sample] | None = None, **config: Any) -> None:
        self.config = self.output = OracleConfig(**config)
        self.rng = np.random.default_rng(self.config.seed)
        self.samples: dict[str, Sample] = {}
        if samples is None and self.config.dataset is not None:
            from stvg.data import load_dataset

            cfg = self.config
            samples = load_dataset(cfg.dataset, split=cfg.split, root=cfg.root)
        if samples is not None:
            self.bind_samples(samples)

    @classmethod
    def from_config(cls, config: OracleConfig) -> OraclePolicy:
        """Build from a validated config."""
        return cls(**to_dict(config))

    def bind_samples(self, samples: Sequence[Sample]) -> None:
        """Use ``samples`` as the ground truth (looked up by sample id)."""
        self.samples = {s.sample_id: s for s in samples}

    def _struct(self, obs: Observation, info: Info | None) -> StructAction:
        info = _require(info, ("sample_id",), "the oracle")
        sample = self.samples.get(str(info["sample_id"]))
        if sample is None:
            raise KeyError(
                f"oracle has no ground truth for sample {info['sample_id']!r} ("
                f"{len(self.samples)} samples bound): pass the env's samples with "
                "bind_samples(env.samples) or set dataset/split/root in its config"
            )
        times = shown_times(obs, info)
        cfg = self.config
        first, last = sample.gt_span
        span = np.array([first, last], dtype=np.float64) / sample.native_fps
        if cfg.span_noise_s > 0:
            span = span + self.rng.normal(0.0, cfg.span_noise_s, size=2)
        span = np.sort(np.clip(span, 0.0, sample.duration_s))
        frames = np.asarray(info.get("frame_idx", np.round(times * sample.native_fps)), np.int64)
        boxes = sample.gt_boxes_at(frames)
        if cfg.box_noise > 0:
            size = np.concatenate([boxes[:, 2:] - boxes[:, :2]] * 2, axis=1)
            boxes = boxes + self.rng.normal(0.0, 1.0, size=boxes.shape) * cfg.box_noise * size
        scale = np.array([sample.width, sample.height] * 2, dtype=np.float64)
        slots = int(np.asarray(obs["frame_mask"]).shape[0])
        return struct_action((span[0], span[1]), times, boxes / scale, slots)


# --------------------------------------------------------------------------- prior
@dataclass
class PriorConfig(OutputConfig):
    """Config of :class:`PriorPolicy`: the four statistics, or where to fit them.

    Attributes:
        rel_start, rel_end: mean start and end of the ground-truth span as fractions of the
            video length (``first / num_frames``, ``last / num_frames``).
        rel_width, rel_height: mean ground-truth box width and height as fractions of the
            frame (averaged per sample, then over samples).
        dataset, split, root: the split to fit the statistics on when they are not given.
    """

    rel_start: float | None = None
    rel_end: float | None = None
    rel_width: float | None = None
    rel_height: float | None = None
    dataset: str | None = None
    split: str | None = "train"
    root: str | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        stats = [self.rel_start, self.rel_end, self.rel_width, self.rel_height]
        if any(v is None for v in stats):
            if self.dataset is None and any(v is not None for v in stats):
                raise InvalidField(
                    "rel_start",
                    "give all four of rel_start, rel_end, rel_width, rel_height, or none of "
                    "them and a dataset to fit them on",
                )
            return
        for name in ("rel_start", "rel_end", "rel_width", "rel_height"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise InvalidField(name, f"must be a fraction in [0, 1], got {value}")
        if self.rel_start > self.rel_end:
            raise InvalidField(
                "rel_end", f"must be >= rel_start={self.rel_start}, got {self.rel_end}"
            )


def fit_prior(samples: Sequence[Sample]) -> dict[str, float]:
    """The prior's statistics of ``samples``: ``rel_start``, ``rel_end``, ``rel_width``,
    ``rel_height`` (see :class:`PriorConfig`).

    Raises:
        ValueError: no samples, or no sample with a ground-truth box.
    """
    if len(samples) == 0:
        raise ValueError("fit_prior needs at least one sample")
    starts = [s.gt_span[0] / s.num_frames for s in samples]
    ends = [s.gt_span[1] / s.num_frames for s in samples]
    widths, heights = [], []
    for s in samples:
        tube = s.gt_tube()
        if len(tube):
            size = tube.boxes_xyxy[:, 2:] - tube.boxes_xyxy[:, :2]
            widths.append(float(np.mean(size[:, 0])) / s.width)
            heights.append(float(np.mean(size[:, 1])) / s.height)
    if not widths:
        raise ValueError("fit_prior found no ground-truth box in the samples")
    return {
        "rel_start": float(np.mean(starts)),
        "rel_end": float(np.mean(ends)),
        "rel_width": float(np.mean(widths)),
        "rel_height": float(np.mean(heights)),
    }


class PriorPolicy(_AnswerPolicy):
    """The training split's mean span and a centred box of the mean size.

    Args:
        **config: fields of :class:`PriorConfig`; missing statistics are fitted on its
            ``dataset``/``split``/``root`` and stored in ``self.config``.
    """

    config_class = PriorConfig

    def __init__(self, **config: Any) -> None:
        cfg = PriorConfig(**config)
        if cfg.rel_start is None:
            if cfg.dataset is None:
                raise ValueError(
                    "prior policy needs rel_start, rel_end, rel_width, rel_height or a "
                    "dataset (and split, root) to fit them on"
                )
            from stvg.data import load_dataset

            cfg = replace(
                cfg, **fit_prior(load_dataset(cfg.dataset, split=cfg.split, root=cfg.root))
            )
        self.config = self.output = cfg
        stats = (cfg.rel_start, cfg.rel_end, cfg.rel_width, cfg.rel_height)
        self.stats: tuple[float, ...] = tuple(float(v) for v in stats if v is not None)

    @classmethod
    def from_config(cls, config: PriorConfig) -> PriorPolicy:
        """Build from a validated config (fitting the statistics if needed)."""
        return cls(**to_dict(config))

    @classmethod
    def fit(cls, samples: Sequence[Sample], **config: Any) -> PriorPolicy:
        """A prior policy with statistics fitted on ``samples`` (see :func:`fit_prior`)."""
        return cls(**{**config, **fit_prior(samples)})

    def _struct(self, obs: Observation, info: Info | None) -> StructAction:
        rel_start, rel_end, rel_width, rel_height = self.stats
        times = shown_times(obs, info)
        if info is not None and "num_frames" in info and "native_fps" in info:
            duration = int(info["num_frames"]) / float(info["native_fps"])
        else:
            interval = float(np.median(np.diff(times))) if times.size > 1 else 1.0
            duration = float(times[-1]) + interval
        span = (rel_start * duration, rel_end * duration)
        half_w, half_h = rel_width / 2, rel_height / 2
        box = np.array([0.5 - half_w, 0.5 - half_h, 0.5 + half_w, 0.5 + half_h])
        slots = int(np.asarray(obs["frame_mask"]).shape[0])
        return struct_action(span, times, np.tile(box, (times.shape[0], 1)), slots)


__all__ = [
    "OracleConfig",
    "OraclePolicy",
    "OutputConfig",
    "PriorConfig",
    "PriorPolicy",
    "RandomConfig",
    "RandomPolicy",
    "fit_prior",
    "frame_context",
    "shown_times",
    "struct_action",
]
