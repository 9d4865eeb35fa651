"""Single-turn grounding env: see the whole (sampled) video once, answer once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from stvg.config import ConfigError
from stvg.data.types import Sample
from stvg.data.video import SampledFrames
from stvg.envs.answers import struct_to_parse, track_struct_to_parse
from stvg.envs.base import VideoGroundingEnvBase, scored_info
from stvg.envs.config import GroundingEnvConfig
from stvg.envs.frame_source import pad_frames
from stvg.envs.render_sheet import RENDER_MODES, check_render_mode, episode_sheet, sheet_layout
from stvg.envs.samples import frame_slots, max_duration_s
from stvg.envs.spaces import (
    grounding_observation_space,
    struct_action_space,
    text_space,
    track_candidates_space,
    track_struct_action_space,
)
from stvg.envs.tracks import TrackSource, shown_candidates
from stvg.render.tracks import draw_tracks
from stvg.verifiers.formats import AnswerContract, ContractSpec, FrameContext, ParseResult


class GroundingEnv(VideoGroundingEnvBase):
    """Spatio-temporal video grounding in one step: *when* and *where* is the query?

    ## Description

    An episode is one sample: a video and a natural-language query. The policy sees the
    video sampled at ``fps`` frames per second (at most ``max_frames`` frames, shrunk with
    the aspect ratio kept so the longer side is at most ``max_side`` pixels; never
    enlarged) with the frames' timestamps, and answers once
    with a temporal span in seconds and a box for each shown frame it chooses. The answer
    is densified to every native frame (``densify``) and scored by the verifier against
    the ground-truth tube with the official HC-STVG protocol (tIoU, vIoU).

    ## Observation Space

    A ``Dict``:

    | Key          | Shape                                | Range / dtype        | Units        |
    |--------------|--------------------------------------|----------------------|--------------|
    | `frames`     | `(max_frames, max_side, max_side, 3)`| 0..255 uint8, RGB    | pixels       |
    | `frame_mask` | `(max_frames,)`                      | 0/1 int8 (1 = real)  | -            |
    | `timestamps` | `(max_frames,)`                      | 0..duration float32  | seconds      |
    | `shown_size` | `(2,)`                               | 0..max_side int64    | pixels (w,h) |
    | `query`      | text                                 | Text(max_query_length)| characters  |

    Frame ``i`` (``i < sum(frame_mask)``) is the native frame shown at ``timestamps[i]``;
    its pixels occupy the top-left ``shown_size`` corner of the slot, the rest is zero.
    Padded slots are all zero with timestamp 0.

    With the ``tracks`` key the observation also carries the track candidates (the tracks
    with a box on a shown frame, :func:`stvg.envs.tracks.shown_candidates`): ``track_ids``
    (int64 ``(max_candidates,)``, IDs increasing, -1 = unused), ``track_boxes`` (float32
    ``(max_candidates, max_frames, 4)``, xyxy normalised to ``[0, 1]``) and
    ``track_box_mask`` (int8 ``(max_candidates, max_frames)``, 1 = a box on that frame);
    ``max_candidates`` is ``tracks.max_candidates``.

    ## Action Space

    * ``action_format="text"``: a ``Text(max_text_length)`` string, the model's whole
      output in the ``answer_format`` (default ``json-v1``: ``<answer>{"span": [s, e],
      "boxes": {"t": [x1, y1, x2, y2], ...}}</answer>``, coordinates per ``coords``).
      The episode's answer contract (:attr:`contract`) says how it is read: ``pixels``
      are pixels of the frames *as the model sees them*, i.e. of ``model_geometry``'s
      resized size when set (a Qwen2.5-VL processor turns 224x126 frames into 448x252),
      else of ``shown_size``.
    * ``action_format="struct"``: a ``Dict`` of ``span`` (float32 ``(2,)``, start and end
      in seconds), ``boxes`` (float32 ``(max_frames, 4)``, xyxy normalised to ``[0, 1]``
      of the frame) and ``box_mask`` (``MultiBinary(max_frames)``): slot ``i`` with
      ``box_mask[i] = 1`` is a box at ``timestamps[i]``; padding slots are ignored
      whatever their mask. It is scored exactly as the text answer ``{"span": span,
      "boxes": {timestamps[i]: boxes[i] for each masked slot}}`` in ``norm1``
      coordinates: the same rules (:mod:`stvg.verifiers.formats.assemble`), reward,
      ``parse_error`` and repairs. A span that is not finite, reversed or wholly outside
      the video is an error; a span partly outside is clipped; a box with a non-finite
      coordinate is dropped; swapped corners are swapped back; a box reaching outside the
      frame is clipped; a box at a shown frame outside the span is dropped.
      What text cannot get wrong (not a mapping, a missing key, values that are not
      numbers, wrong shapes, a mask value other than 0 and 1) is an invalid action.
    * ``action_format="struct"`` with ``answer_format="track-id"``: a ``Dict`` of ``track``
      (``Discrete(max_candidates)``, an index into ``track_ids``) and ``span`` (float32
      ``(2,)`` seconds). It is scored exactly as the text ``Target ID: track_ids[track],
      Time range: span[0] to span[1]`` (:func:`stvg.envs.answers.track_struct_to_parse`);
      an index past the real candidates is an invalid action.

    ## Rewards

    ``reward = sum_k w_k * term_k`` over the verifier's terms (default: the paper's
    ``tIoU + vIoU``, range ``[0, 2]``; see ``stvg.verifiers.verifier``), with, on native frames,
    ``tIoU = |pred ∩ gt| / |pred ∪ gt|`` and ``vIoU = (1/|pred ∪ gt|) Σ_{f ∈ pred ∩ gt}
    IoU(box_pred_f, box_gt_f)``. An unusable answer (text that does not parse, a span that
    is not finite, reversed or outside the video, a malformed struct action) scores 0 on
    the affected terms with its reason in ``info["parse_error"]`` (a struct action's reason is
    also ``info["invalid_action"]``); it never raises.

    ## Episode End

    * Termination: after the single step.
    * Truncation: never.

    ``info`` after ``reset``: ``sample_id``, ``original_size`` (w, h), ``native_fps``,
    ``num_frames``, ``frame_idx`` (native frames shown), ``cache_hits``/``cache_misses``,
    and ``bad_videos`` (``on_bad_video="skip"`` only, when the chosen sample's video could
    not be decoded and another sample was played: ``[{"sample_id", "reason"}, ...]``).
    ``info`` after ``step``: every reward term, ``t_iou``, ``v_iou``, ``parse_error`` (if
    any), ``invalid_action`` (if any), ``sample_id`` and the cost figures
    ``cost/frames_shown`` and ``cost/visual_tokens/<family>`` (Qwen2.5-VL and Qwen3-VL);
    with ``densify: {method: track}`` also ``cost/densify_seconds`` (reading the native
    frames and tracking, seconds) and ``densify/tracked_frames``,
    ``densify/fallback_frames``, ``densify/segments``, ``densify/fallback_segments``
    (where the tracker lost the target and linear interpolation filled in).

    ## Arguments

    Keyword arguments map onto :class:`~stvg.envs.config.GroundingEnvConfig` (``dataset``,
    ``split``, ``root``, ``annotations``, ``video_dir``, ``vidor_root``, ``fps``,
    ``max_frames``, ``max_side``, ``action_format``, ``answer_format``, ``coords``,
    ``densify``, ``verifier``, ``sample_order``, ``frame_cache_mb``, ``max_query_length``,
    ``max_text_length``, ``model_geometry``, ``on_bad_video``); ``config`` may give them
    as one config object or mapping. :attr:`answer_spec` is the env's
    :class:`~stvg.verifiers.formats.ContractSpec` (format, coordinates, fps, geometry);
    the trainer and the evaluator fill unset keys from the policy's spec and refuse a
    policy whose spec differs (:mod:`stvg.envs.contract`).
    ``samples`` replaces the dataset by an in-memory list of :class:`~stvg.data.Sample`.
    ``render_mode="rgb_array"`` makes :meth:`render` return the episode as a contact sheet
    (see :mod:`stvg.envs.render_sheet`); ``None`` (default) renders nothing.
    ``max_frames=None`` (the default) makes room for the longest video at ``fps``; a
    smaller cap spreads a longer video's frames evenly and warns with a count.
    ``reset(options={"sample_id": ...})`` or ``{"index": i}`` picks a sample.

    ## Version History

    * v0: initial version (``model_geometry``, the ``max_frames=None`` default,
      ``render_mode="rgb_array"`` and ``on_bad_video`` are additions: with their
      defaults, observations and scores are unchanged for a given ``max_frames``).
      Struct actions are scored by the text answers' rules (a fix: a span outside the
      video scored as if clamped onto its first or last frame, swapped corners scored 0,
      boxes outside the span were kept); text scores are unchanged.

    ## Example

    >>> import gymnasium as gym, stvg  # doctest: +SKIP
    >>> env = gym.make("stvg/Synthetic-v0", action_format="struct")  # doctest: +SKIP
    >>> obs, info = env.reset(seed=0)  # doctest: +SKIP
    >>> action = env.action_space.sample()  # doctest: +SKIP
    >>> obs, reward, terminated, truncated, info = env.step(action)  # doctest: +SKIP
    >>> terminated, 0.0 <= reward <= 2.0  # doctest: +SKIP
    (True, True)
    """

    metadata: dict[str, Any] = {
        "render_modes": list(RENDER_MODES),
        "render_fps": 1,  # sheets per second when renders are recorded as a video
    }

    config: GroundingEnvConfig

    #: Answers to one episode may be scored at once (:class:`~stvg.envs.base.GroupScoring`).
    scores_groups: bool = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """A subclass that changes ``step`` but not ``score_group`` (a shaped step reward
        the group scoring would miss) declares ``scores_groups = False``; one that changes
        ``score_group`` declares it true again; either unless it says so itself."""
        super().__init_subclass__(**kwargs)
        own = vars(cls)
        if "scores_groups" in own:
            return
        if "score_group" in own:
            cls.scores_groups = True
        elif "step" in own:
            cls.scores_groups = False

    def __init__(
        self,
        config: GroundingEnvConfig | dict[str, Any] | None = None,
        *,
        samples: Sequence[Sample] | None = None,
        render_mode: str | None = None,
        **kwargs: Any,
    ) -> None:
        self.render_mode = check_render_mode(render_mode, "GroundingEnv")
        super().__init__(GroundingEnvConfig, config, kwargs, samples)
        cfg = self.config
        duration = max_duration_s(self.samples)
        self.observation_space = grounding_observation_space(
            self.max_frames, cfg.max_side, cfg.max_query_length, duration
        )
        self.answer_spec = ContractSpec(
            answer_format=self.verifier.config.answer_format,
            coords=self.verifier.config.coords,
            fps=cfg.fps,
            geometry=cfg.model_geometry,
        )
        #: a struct action names a track and a span (answer_format track-id).
        self.track_struct = (
            cfg.action_format == "struct" and self.answer_spec.answer_format == "track-id"
        )
        if cfg.tracks is not None:
            self.observation_space = spaces.Dict(
                {
                    **self.observation_space.spaces,
                    **track_candidates_space(cfg.tracks.max_candidates, self.max_frames),
                }
            )
        if cfg.action_format == "text":
            self.action_space = text_space(cfg.max_text_length)
        elif self.track_struct:
            assert cfg.tracks is not None  # checked below: track-id needs tracks
            self.action_space = track_struct_action_space(cfg.tracks.max_candidates, duration)
        else:
            self.action_space = struct_action_space(self.max_frames, duration)
        self._tracks = TrackSource(cfg.tracks) if cfg.tracks is not None else None
        if self.answer_spec.answer_format == "track-id" and cfg.tracks is None:
            raise ConfigError(
                "config key env.tracks: answer_format track-id reads the drawn tracks: set "
                "tracks: {source: synthetic} or {source: file, path: ...}"
            )
        self._contract: AnswerContract | None = None
        self._obs: dict[str, Any] | None = None
        self._done = True
        self._shown_frames: np.ndarray | None = None  # RGB frames of the episode, as shown

    def _frame_slots(self) -> int:
        """Sets :attr:`max_frames`, the frame slots of an observation: ``max_frames``, or
        (``None``) room for the longest video at ``fps``."""
        self.max_frames = frame_slots(self.samples, self.config.fps, self.config.max_frames)
        return self.max_frames

    @property
    def contract(self) -> AnswerContract | None:
        """The current episode's answer contract (``None`` before the first reset)."""
        return self._contract

    def _episode_context(self, ctx: FrameContext, sample: Sample) -> FrameContext:
        """``ctx`` with the video's tracks (``tracks`` key) and the model's frame size
        filled by the episode's answer contract."""
        if self._tracks is not None:
            ctx = replace(ctx, tracks=self._tracks.for_sample(sample))
        self._contract = self.answer_spec.contract(ctx)
        return self._contract.frame

    def _start_episode(
        self, sample: Sample, sampled: SampledFrames, ctx: FrameContext
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        shown = sampled.frames
        if ctx.tracks is not None and self.config.tracks is not None and self.config.tracks.draw:
            shown = draw_tracks(shown, ctx.frame_idx, ctx.tracks, ctx.original_size)
        frames, mask = pad_frames(shown, self.max_frames, self.config.max_side)
        timestamps = np.zeros(self.max_frames, dtype=np.float32)
        timestamps[: len(sampled)] = ctx.timestamps_s
        self._obs = {
            "frames": frames,
            "frame_mask": mask,
            "timestamps": timestamps,
            "shown_size": np.asarray(sampled.shown_size, dtype=np.int64),
            "query": sample.query,
        }
        if self.config.tracks is not None:
            candidates = shown_candidates(ctx, self.config.tracks.max_candidates, self.max_frames)
            self._obs.update(candidates.observation())
        self._done = False
        self._shown_frames = shown
        stats = self.frame_source.stats
        return self._obs, {"cache_hits": stats.hits, "cache_misses": stats.misses}

    def step(self, action: Any) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        """Score the answer; the episode ends (``terminated=True``) whatever it is."""
        ((reward, info),) = self.score_group([action])
        return self._obs, reward, True, False, info

    def score_group(self, actions: Sequence[Any]) -> list[tuple[float, dict[str, Any]]]:
        """Score several answers to the current episode at once; the episode ends.

        The batch counterpart of :meth:`step` for group sampling (GRPO, RLOO): answer
        ``k`` gets the reward and ``info`` that ``reset`` on this sample and then
        ``step(actions[k])`` give it, and all answers are scored in one
        :meth:`~stvg.verifiers.Verifier.score_batch` call. A subclass that changes
        :meth:`step` should change this too: until it does, rollouts step every answer
        (:func:`stvg.training.rollout.group_scorer`).

        Args:
            actions: answers in the env's ``action_format`` (``str`` for ``text``, the
                struct dict otherwise).

        Returns:
            ``(reward, info)`` per answer, in order.

        Raises:
            RuntimeError: called before ``reset()`` or after the episode ended.
            TypeError: a non-``str`` answer with ``action_format="text"``.
        """
        if self._done or self._sample is None or self._contract is None or self._obs is None:
            raise RuntimeError(
                "GroundingEnv.step() or score_group() called before reset() or after the "
                "episode ended"
            )
        sample, ctx = self._sample, self._contract.frame
        items: list[str | ParseResult] = []
        reasons: list[str | None] = []
        for action in actions:
            reason = None
            if self.config.action_format == "text":
                if not isinstance(action, str):
                    raise TypeError(
                        f"action_format='text' takes a str action, got {type(action).__name__}"
                    )
                items.append(action)
            else:
                if self.track_struct:
                    parse, reason = track_struct_to_parse(action, ctx, self._obs["track_ids"])
                else:
                    parse, reason = struct_to_parse(action, ctx)
                items.append(parse)
            reasons.append(reason)
        n = len(items)
        frames = None if self.episode_frames is None else [self.episode_frames] * n
        results = self.verifier.score_batch(items, [sample] * n, [ctx] * n, frames=frames)
        geometry = self.config.model_geometry
        self._done = True
        self.last_result = results[-1] if results else None
        return [
            (
                float(result.total),
                scored_info(result, reason, sample.sample_id, ctx, geometry),
            )
            for result, reason in zip(results, reasons, strict=True)
        ]

    def render(self) -> np.ndarray | None:
        """The current episode as a contact sheet (``render_mode="rgb_array"``).

        Returns:
            uint8 ``[H, W, 3]`` RGB image of the frames shown in this episode, with the
            last answer's boxes and the ground truth drawn after the step (just the frames
            before it); the same shape for every episode of this env (see
            :mod:`stvg.envs.render_sheet`). ``None``, with Gymnasium's warning, when the
            env was made without a render mode.

        Raises:
            RuntimeError: called before :meth:`reset`.
        """
        if self.render_mode is None:
            gym.logger.warn(
                "GroundingEnv.render() called without a render mode; make the env with "
                'render_mode="rgb_array" to get contact sheets'
            )
            return None
        if self._sample is None or self._contract is None or self._shown_frames is None:
            raise RuntimeError("GroundingEnv.render() called before reset()")
        layout = sheet_layout(self.max_frames, self.config.max_side)
        return episode_sheet(
            self._sample, self._contract.frame, self._shown_frames, self.last_result, layout
        )


__all__ = ["GroundingEnv"]
