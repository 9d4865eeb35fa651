"""What every stvg env shares: config, dataset, verifier, sample walk, frames, reset.

:class:`VideoGroundingEnvBase` holds the part of :class:`~stvg.envs.grounding.GroundingEnv`
and :class:`~stvg.envs.tracking.TrackingEnv` that is the same: the typed config from
keyword arguments, the samples (a dataset split or an in-memory list), the query-length
check, the verifier, the sample walk (:class:`~stvg.envs.selection.SampleSelector`), the
frame source with its cache, the bad-video policy (``on_bad_video``,
:mod:`stvg.envs.bad_videos`) and the bookkeeping of ``reset``. A subclass builds its spaces
and says what an episode's first observation is (:meth:`VideoGroundingEnvBase._start_episode`).
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import gymnasium as gym

from stvg.data.errors import DataError
from stvg.data.types import Sample
from stvg.data.video import SampledFrames
from stvg.envs.bad_videos import BadVideoSkipper
from stvg.envs.config import EnvDataConfig, resolve_config
from stvg.envs.frame_source import FrameSource
from stvg.envs.samples import check_frame_buffer, load_samples
from stvg.envs.scoring import build_verifier, cost_info
from stvg.envs.selection import SampleSelector
from stvg.tubes.densify import needs_frames
from stvg.tubes.frames import FrameProvider
from stvg.verifiers.formats import FrameContext, ModelGeometry
from stvg.verifiers.verifier import VerifierResult


def check_query_length(samples: Sequence[Sample], max_query_length: int) -> None:
    """Raise when a query of ``samples`` is longer than the ``query`` text space allows.

    Raises:
        DataError: the longest query has more than ``max_query_length`` characters.
    """
    longest = max(len(s.query) for s in samples)
    if longest > max_query_length:
        raise DataError(
            f"a query has {longest} characters, more than max_query_length={max_query_length}",
            field="query",
            hint="raise the env's max_query_length",
        )


def scored_info(
    result: VerifierResult,
    reason: str | None,
    sample_id: str,
    ctx: FrameContext,
    geometry: ModelGeometry | None = None,
) -> dict[str, Any]:
    """The ``info`` figures of an episode's scored answer (both envs' last step).

    Returns:
        every figure of ``result.to_info()`` (reward terms, ``t_iou``, ``v_iou``,
        ``parse_error`` ...), ``invalid_action`` (``reason``, when not ``None``),
        ``sample_id`` and the cost of the episode's ``len(ctx.frame_idx)`` frames of
        ``ctx.shown_size`` pixels (``cost/frames_shown``, ``cost/visual_tokens/<family>``,
        the family of ``geometry`` costed with its pixel bounds).
    """
    info = dict(result.to_info())
    if reason is not None:
        info["invalid_action"] = reason
    info["sample_id"] = sample_id
    info.update(cost_info(len(ctx.frame_idx), ctx.shown_size, geometry))
    return info


@runtime_checkable
class ScoredEpisode(Protocol):
    """An env that keeps the verifier's result of the answer it scored last
    (``last_result``: ``None`` before an episode's answer is scored, reset with every
    episode). Evaluations read the densified prediction there, the one the env scored."""

    last_result: VerifierResult | None


@runtime_checkable
class GroupScoring(Protocol):
    """A single-turn env that scores several answers to its current episode at once:
    ``score_group(actions)`` gives each answer the ``(reward, info)`` that ``reset`` on the
    same sample and ``step(action)`` give it, and ends the episode. Group sampling (GRPO,
    RLOO) uses it when the env declares it; a subclass that changes ``step`` must change
    ``score_group`` too, or set ``scores_groups = False``."""

    scores_groups: bool

    def score_group(self, actions: Sequence[Any]) -> list[tuple[float, dict[str, Any]]]:
        """``(reward, info)`` per answer, in order."""
        ...


class VideoGroundingEnvBase(gym.Env[dict[str, Any], Any], abc.ABC):
    """Base of the stvg envs: one episode per sample of a video-grounding dataset.

    Args:
        config_class: the env's config dataclass (an :class:`~stvg.envs.config.EnvDataConfig`).
        config: a ``config_class`` instance, a mapping of its fields, or ``None``.
        overrides: keyword arguments of the env (win over ``config``; key path ``env.<key>``).
        samples: in-memory samples replacing the dataset that ``config`` names.

    After construction: :attr:`config`, :attr:`samples`, :attr:`verifier`,
    :attr:`last_result` (:class:`ScoredEpisode`) and :attr:`frame_source` (frames at ``config.fps``, at most :meth:`_frame_slots` per video,
    longer side ``config.max_side`` pixels). ``reset(seed=..., options=...)`` picks the
    sample (a new ``seed`` restarts the walk; ``options`` ``sample_id`` or ``index``
    choose one), decodes its frames (replacing a bad video under ``on_bad_video="skip"``)
    and returns the subclass's observation with the info ``sample_id``,
    ``original_size`` (w, h pixels), ``native_fps``, ``num_frames``, ``frame_idx`` (native
    frames shown, 0-based), the subclass's extra keys, and ``bad_videos`` when samples
    were skipped. :attr:`episode_frames` is what the verifier's densify method reads
    between the shown frames (``track``): a provider of the episode's native frames,
    decoded through the frame cache (:meth:`~stvg.envs.frame_source.FrameSource.native`),
    or ``None`` for the methods that read none.

    Raises:
        stvg.config.ConfigError: a wrong config key or value (names the key path).
        DataError: an empty dataset or a query longer than ``max_query_length``.
    """

    config: EnvDataConfig

    def __init__(
        self,
        config_class: type[EnvDataConfig],
        config: Any,
        overrides: dict[str, Any],
        samples: Sequence[Sample] | None,
    ) -> None:
        self.config = cfg = resolve_config(config_class, config, overrides)
        self.samples = load_samples(cfg, samples)
        check_query_length(self.samples, cfg.max_query_length)
        self.verifier = build_verifier(cfg)
        slots = self._frame_slots()
        check_frame_buffer(self.samples, cfg.fps, slots, cfg.max_side)  # before any space
        self.frame_source = FrameSource(cfg.fps, slots, cfg.max_side, cfg.frame_cache_mb)
        self._selector = SampleSelector(self.samples, cfg.sample_order)
        self._bad_videos = BadVideoSkipper(self.samples, cfg.on_bad_video)
        self._sample: Sample | None = None
        self._frame: FrameContext | None = None
        #: the verifier's result of the answer scored last in this episode (``None`` until
        #: then): what an evaluation reads the densified prediction from
        self.last_result: VerifierResult | None = None
        self._reads_frames = needs_frames(self.verifier.config.densify.method)
        self._episode_frames: FrameProvider | None = None

    @property
    def episode_frames(self) -> FrameProvider | None:
        """The current episode's native frames for a densify method that reads them
        (``track``; pass as the verifier's ``frames=``); ``None`` for the other methods
        and before the first reset."""
        return self._episode_frames

    def _frame_slots(self) -> int | None:
        """Most frames decoded per video (``None`` = every sampled frame): ``max_frames``."""
        return self.config.max_frames

    @property
    def sample(self) -> Sample | None:
        """The sample of the current episode (``None`` before the first reset)."""
        return self._sample

    @property
    def frame_context(self) -> FrameContext | None:
        """What the current episode shows: native frames, their times, the shown size
        (``None`` before the first reset)."""
        return self._frame

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Start an episode on the next sample (see ``sample_order``) or ``options``."""
        super().reset(seed=seed)
        if seed is not None:
            self._selector.restart()
        sample, sampled, skipped = self._bad_videos.load(
            self._selector.next(self.np_random, options),
            self.frame_source.frames,
            lambda: self._selector.next(self.np_random, None),
            options,
        )
        ctx = self._episode_context(
            FrameContext.from_sample(
                sample, sampled.frame_idx, sampled.shown_size, self.config.fps
            ),
            sample,
        )
        self._sample, self._frame = sample, ctx
        self.last_result = None
        self._episode_frames = self.frame_source.native(sample) if self._reads_frames else None
        obs, extra = self._start_episode(sample, sampled, ctx)
        info: dict[str, Any] = {
            "sample_id": sample.sample_id,
            "original_size": (sample.width, sample.height),
            "native_fps": sample.native_fps,
            "num_frames": sample.num_frames,
            "frame_idx": ctx.frame_idx.copy(),
            **extra,
        }
        if skipped:
            info["bad_videos"] = skipped
        return obs, info

    def _episode_context(self, ctx: FrameContext, sample: Sample) -> FrameContext:
        """The episode's frame context of ``sample`` from the shown frames' ``ctx``
        (unchanged here)."""
        return ctx

    @abc.abstractmethod
    def _start_episode(
        self, sample: Sample, sampled: SampledFrames, ctx: FrameContext
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Set up the episode's state; return its first observation and extra reset info.

        Args:
            sample: the sample played (a replacement when the chosen one's video was bad).
            sampled: its decoded frames (uint8 RGB ``[T, H, W, 3]``) and their indices.
            ctx: the episode's frame context (:meth:`_episode_context`).
        """


__all__ = [
    "GroupScoring",
    "ScoredEpisode",
    "VideoGroundingEnvBase",
    "check_query_length",
    "scored_info",
]
