"""Glance and zoom: a multi-turn grounding env where the policy buys the frames it needs."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import gymnasium as gym
import numpy as np

from stvg.config import ConfigError
from stvg.data.timing import sample_frame_indices
from stvg.data.types import Sample
from stvg.data.video import SampledFrames
from stvg.envs.answers import invalid, struct_to_parse
from stvg.envs.base import VideoGroundingEnvBase, scored_info
from stvg.envs.config import ZoomEnvConfig
from stvg.envs.frame_source import pad_frames
from stvg.envs.render_sheet import RENDER_MODES, check_render_mode, episode_sheet, sheet_layout
from stvg.envs.samples import frame_slots, max_duration_s
from stvg.envs.scoring import cost_info
from stvg.envs.spaces import text_space, zoom_observation_space, zoom_struct_action_space
from stvg.verifiers.formats import AnswerContract, ContractSpec, FrameContext, ParseResult
from stvg.verifiers.formats.zoom_calls import (
    ZoomCall,
    is_zoom_text,
    parse_zoom_text,
    read_struct_action,
)
from stvg.verifiers.verifier import VerifierResult


def glance_count(sample: Sample, fps: float, glance_step: int) -> int:
    """Frames of ``sample``'s glance: every ``glance_step``-th point of its ``fps`` grid."""
    grid = len(sample_frame_indices(sample.native_fps, sample.num_frames, fps))
    return (grid + glance_step - 1) // glance_step


def thin_evenly(positions: Sequence[int], limit: int) -> list[int]:
    """At most ``limit`` of ``positions``, evenly spread, the first and last kept (the rule
    of ``max_frames``: ``numpy.linspace`` over the positions, rounded).

    >>> thin_evenly([0, 1, 2, 3, 4, 5, 6, 7, 8], 3)
    [0, 4, 8]
    >>> thin_evenly([3, 4], 5)
    [3, 4]
    """
    if len(positions) <= limit:
        return list(positions)
    if limit == 1:
        return [positions[0]]
    picks = np.round(np.linspace(0, len(positions) - 1, limit)).astype(int)
    return [positions[i] for i in picks]


def zoom_frames(
    times: np.ndarray,
    start_s: float,
    end_s: float,
    rate: float | None,
    grid_fps: float,
    shown: Sequence[int] | set[int] | dict[int, Any],
    limit: int,
) -> tuple[list[int], tuple[float, float, float]] | str:
    """The grid positions a zoom shows (the rule of :class:`ZoomGroundingEnv`'s docstring),
    or the reason it is invalid.

    Args:
        times: float ``[G]`` the grid's timestamps, seconds (increasing).
        start_s: the window's start asked for, seconds.
        end_s: its end, seconds.
        rate: the rate asked for (``None`` = the grid's).
        grid_fps: the grid's rate.
        shown: grid positions shown before (not shown again).
        limit: most new frames (``max_frames_per_zoom`` and what the budget allows).

    Returns:
        ``(new positions, (start, end, rate) as used)``, or a ``str`` reason (reversed or
        outside the video).

    >>> zoom_frames(np.arange(12.0), 2.0, 6.0, 1.0, 1.0, {0, 4, 8}, 16)
    ([2, 3, 5, 6], (2.0, 6.0, 1.0))
    """
    if start_s > end_s:
        return f"invalid zoom: the window [{start_s:g}, {end_s:g}] is reversed"
    if end_s < times[0] or start_s > times[-1]:
        return (
            f"invalid zoom: the window [{start_s:g}, {end_s:g}] lies outside the video "
            f"[{times[0]:g}, {times[-1]:g}] s"
        )
    start, end = max(start_s, float(times[0])), min(end_s, float(times[-1]))
    step = 1
    if rate is not None:
        ratio = grid_fps / rate  # a rate of 1e-300 asks for one frame at most
        step = len(times) if not ratio < len(times) else max(1, math.ceil(ratio - 1e-9))
    inside = np.flatnonzero((times >= start - 1e-9) & (times <= end + 1e-9))
    positions = [int(p) for p in inside if p % step == 0]
    if not positions:
        middle = (start + end) / 2
        positions = [int(np.argmin(np.abs(times - middle)))]
    new = [p for p in positions if p not in shown]
    return thin_evenly(new, limit), (start, end, grid_fps / step)


def episode_frame_budget(samples: Sequence[Sample], config: ZoomEnvConfig) -> int:
    """The frame budget of a zoom env over ``samples``: ``config.frame_budget``, or the
    glance of the longest video plus ``max_zooms * max_frames_per_zoom``, at most the
    longest video's grid.

    Raises:
        ConfigError: ``frame_budget`` cannot hold the glance of the longest video.
    """
    fps = float(config.fps)  # type: ignore[arg-type]  # check_zoom refuses None
    longest_glance = max(glance_count(s, fps, config.glance_step) for s in samples)
    if config.frame_budget is None:
        longest_grid = frame_slots(samples, fps, None)
        return min(longest_glance + config.max_zooms * config.max_frames_per_zoom, longest_grid)
    if config.frame_budget < longest_glance:
        raise ConfigError(
            f"config key env.frame_budget: {config.frame_budget} frames cannot hold the "
            f"glance of the longest video ({longest_glance} frames at glance_fps "
            f"{config.glance_fps:g}); raise frame_budget or glance_fps's step"
        )
    return config.frame_budget


@dataclass
class ZoomEpisode:
    """State of one glance-and-zoom episode.

    Attributes:
        sample: the sample played.
        grid: the episode's frame grid: every frame a zoom may show (native indices at
            ``fps``) with their timestamps, as a :class:`FrameContext`.
        frames: uint8 ``[G, H, W, 3]``, the grid's frames as shown.
        shown: grid positions shown so far (increasing).
        turn_of: grid position -> the turn that showed it (0 = the glance).
        turn: steps taken so far.
        zooms: zoom calls carried out (invalid ones are not counted).
        new_per_turn: frames each turn showed (turn 0: the glance).
        windows: the zooms carried out, ``(start_s, end_s, fps)`` after clipping.
    """

    sample: Sample
    grid: FrameContext
    frames: np.ndarray
    shown: list[int] = field(default_factory=list)
    turn_of: dict[int, int] = field(default_factory=dict)
    turn: int = 0
    zooms: int = 0
    new_per_turn: list[int] = field(default_factory=list)
    windows: list[tuple[float, float, float]] = field(default_factory=list)
    done: bool = False

    def show(self, positions: Sequence[int]) -> None:
        """Add ``positions`` (not shown before) as this turn's frames."""
        for p in positions:
            self.turn_of[p] = self.turn
        self.shown = sorted(set(self.shown) | set(positions))
        self.new_per_turn.append(len(positions))


class ZoomGroundingEnv(VideoGroundingEnvBase):
    """Glance and zoom: the policy sees a sparse glance of the video, asks for the windows it
    wants to see closer, then answers *when* and *where* the query is.

    ## Description

    An episode is one sample (a video and a query) played over several turns. Every frame
    the episode can show lies on the grid of ``fps`` frames per second (the sampling rule
    of :func:`stvg.data.timing.sample_frame_indices`); the longer side is at most
    ``max_side`` pixels.

    * Turn 0 (``reset``) shows the **glance**: every ``fps / glance_fps``-th grid frame
      (``glance_fps`` 0.25 on a 1 fps grid: one frame every 4 s).
    * Each step is either a **zoom** ``(start_s, end_s, rate)`` or the **answer**. A zoom
      shows the grid frames in ``[start_s, end_s]`` (clipped to the video) at ``rate``:
      every ``n``-th grid point with ``n = ceil(fps / rate)`` (never more frames than
      asked; a rate at or above ``fps``, or none, takes every grid frame); frames already
      shown are not shown again; more than ``max_frames_per_zoom`` new frames, or more than
      the budget still allows, are thinned evenly (the first and last kept). A window that
      holds no frame of its rate shows the grid frame nearest its middle.
    * The **answer** (a span in seconds and boxes at any shown times, glance or zoomed)
      ends the episode and is scored by the verifier on every native frame, as
      :class:`~stvg.envs.grounding.GroundingEnv` scores it.

    ## Observation Space

    A ``Dict``: the keys of ``GroundingEnv``'s observation over ``frame_budget`` slots
    holding the frames shown so far, sorted by time (``frames``, ``frame_mask``,
    ``timestamps``, ``shown_size``, ``query``), and

    | Key           | Shape             | Range / dtype            | Meaning                     |
    |---------------|-------------------|--------------------------|-----------------------------|
    | `frame_turn`  | `(frame_budget,)` | 0..max_turns int64       | turn that showed each frame |
    | `turn`        | `(1,)`            | 0..max_turns int64       | steps taken so far          |
    | `frames_left` | `(1,)`            | 0..frame_budget int64    | frames the budget allows    |
    | `zooms_left`  | `(1,)`            | 0..max_turns int64       | zoom calls left             |

    ## Action Space

    * ``action_format="text"``: a string. Text holding a ``<zoom>`` block is a zoom call,
      ``<zoom>{"span": [s, e], "fps": n}</zoom>`` (``fps`` optional; see
      :mod:`stvg.verifiers.formats.zoom_calls`); any other text is the answer in ``answer_format``,
      read through the episode's answer contract (:attr:`contract`, over the frames shown
      so far) exactly as ``GroundingEnv`` reads it.
    * ``action_format="struct"``: a ``Dict`` of ``kind`` (0 = zoom, 1 = answer),
      ``window`` (``(start, end)`` seconds) and ``zoom_fps`` (a rate, 0 = the grid's) for
      a zoom, and ``span``, ``boxes``, ``box_mask`` over the ``frame_budget`` slots (slot
      ``i`` = the ``i``-th shown frame in time order) for an answer, scored as
      ``GroundingEnv`` scores its struct answers. Only the keys of the chosen kind are read.

    ## Rewards

    A zoom step: 0. The answer: the verifier's weighted terms (default ``tIoU + vIoU``)
    ``- frame_cost * frames_shown / frame_budget`` ``+ zoom_bonus`` when the episode zoomed
    and the answer's vIoU is at least ``zoom_bonus_min_v_iou``; ``info`` has
    ``reward/frame_cost`` (``-frames_shown / frame_budget``) and ``reward/zoom_bonus`` (0
    or 1) unweighted, as the verifier's terms are. An unusable answer scores 0 on every
    verifier term (the reason in ``parse_error``); the frame cost still applies.

    An invalid zoom (malformed, reversed or outside the video, no zoom left, no frame
    left) never raises: with ``on_invalid_zoom="continue"`` the step scores 0 with the
    reason in ``info["invalid_action"]`` and counts as a turn; with ``"end"`` the episode
    ends there with reward 0, scored as an unusable answer with that reason.

    ## Episode End

    * Termination: the answer (or an invalid zoom with ``on_invalid_zoom="end"``).
    * Truncation: ``max_turns`` steps (default ``max_zooms + 1``) without an answer:
      reward 0, scored as an unusable answer, the reason in ``info["truncated_reason"]``.

    The last step's ``info`` has what ``GroundingEnv``'s step has (every verifier term,
    ``t_iou``, ``v_iou``, ``parse_error``, ``sample_id``) with the cost of the whole
    episode: ``cost/frames_shown`` (all turns), ``cost/visual_tokens/<family>`` (summed
    over turns: each turn's new frames are encoded once), ``cost/turns``, ``cost/zooms``.
    Every step's ``info`` has ``turn``, ``kind`` (``zoom`` or ``answer``), and for a zoom
    ``zoom_window`` (the clipped window and rate used), ``zoom_frames`` (frames added) and
    the reset info's keys for what is shown now (``sample_id``, ``original_size``,
    ``native_fps``, ``num_frames``, ``frame_idx``), so a policy reads a later turn as it
    reads the first.

    ## Arguments

    Keyword arguments map onto :class:`~stvg.envs.config.ZoomEnvConfig`: the keys of
    ``GroundingEnv`` (``max_frames`` excepted) and ``glance_fps``, ``max_zooms``,
    ``max_frames_per_zoom``, ``frame_budget``, ``max_turns``, ``on_invalid_zoom``,
    ``frame_cost``, ``zoom_bonus``, ``zoom_bonus_min_v_iou``. ``samples`` replaces the
    dataset; ``render_mode="rgb_array"`` renders the shown frames with both tubes.

    ## Version History

    * v0: initial version.

    ## Example

    >>> import gymnasium as gym, stvg  # doctest: +SKIP
    >>> env = gym.make("stvg/SyntheticZoom-v0")  # doctest: +SKIP
    >>> obs, info = env.reset(seed=0)  # doctest: +SKIP
    >>> obs, reward, terminated, truncated, info = env.step(
    ...     '<zoom>{"span": [2, 6], "fps": 1}</zoom>')  # doctest: +SKIP
    >>> obs, reward, terminated, truncated, info = env.step(
    ...     '<answer>{"span": [3, 5], "boxes": {"3.0": [1, 1, 9, 9]}}</answer>')  # doctest: +SKIP
    """

    metadata: dict[str, Any] = {"render_modes": list(RENDER_MODES), "render_fps": 1}

    config: ZoomEnvConfig
    #: multi-turn: answers cannot be scored as a group of one step
    scores_groups: bool = False

    def __init__(
        self,
        config: ZoomEnvConfig | dict[str, Any] | None = None,
        *,
        samples: Sequence[Sample] | None = None,
        render_mode: str | None = None,
        **kwargs: Any,
    ) -> None:
        self.render_mode = check_render_mode(render_mode, "ZoomGroundingEnv")
        super().__init__(ZoomEnvConfig, config, kwargs, samples)
        cfg = self.config
        fps = float(cfg.fps)  # type: ignore[arg-type]  # check_zoom refuses None
        self.frame_budget = episode_frame_budget(self.samples, cfg)
        self.max_turns = cfg.turn_limit
        duration = max_duration_s(self.samples)
        self.observation_space = zoom_observation_space(
            self.frame_budget, cfg.max_side, cfg.max_query_length, duration, self.max_turns
        )
        if cfg.action_format == "text":
            self.action_space = text_space(cfg.max_text_length)
        else:
            self.action_space = zoom_struct_action_space(self.frame_budget, duration, fps)
        self.answer_spec = ContractSpec(
            answer_format=self.verifier.config.answer_format,
            coords=self.verifier.config.coords,
            fps=cfg.fps,
            geometry=cfg.model_geometry,
        )
        self._episode: ZoomEpisode | None = None
        self._contract: AnswerContract | None = None

    def _frame_slots(self) -> None:
        """The whole grid is decoded (a zoom may show any grid frame)."""
        return None

    @property
    def contract(self) -> AnswerContract | None:
        """The answer contract over the frames shown so far (``None`` before a reset)."""
        return self._contract

    @property
    def frame_context(self) -> FrameContext | None:
        """What the episode has shown so far (the frames an answer's boxes may refer to)."""
        return None if self._contract is None else self._contract.frame

    @property
    def episode(self) -> ZoomEpisode | None:
        """The current episode's state (``None`` before the first reset)."""
        return self._episode

    def _start_episode(
        self, sample: Sample, sampled: SampledFrames, ctx: FrameContext
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        self._episode = episode = ZoomEpisode(sample, ctx, sampled.frames)
        episode.show(list(range(0, len(ctx.frame_idx), self.config.glance_step)))
        self._update_contract()
        stats = self.frame_source.stats
        return self._observation(), {
            "cache_hits": stats.hits,
            "cache_misses": stats.misses,
            "glance_frames": len(episode.shown),
            "frame_budget": self.frame_budget,
            "frame_idx": self._shown_info()["frame_idx"],  # the glance, not the whole grid
        }

    def _shown_info(self) -> dict[str, Any]:
        """The reset info's keys for what is shown now (a policy reads a later turn's
        frames as it reads the first's): ``sample_id``, ``original_size``, ``native_fps``,
        ``num_frames`` and ``frame_idx`` (the native frames shown so far, in time order, as a
        tuple)."""
        episode = self._episode
        assert episode is not None and self._contract is not None
        sample = episode.sample
        return {
            "sample_id": sample.sample_id,
            "original_size": (sample.width, sample.height),
            "native_fps": sample.native_fps,
            "num_frames": sample.num_frames,
            # a tuple, not an array: episodes of a vector env show different frame counts,
            # and Gymnasium stacks same-key arrays of one shape only
            "frame_idx": tuple(int(f) for f in self._contract.frame.frame_idx),
        }

    def _update_contract(self) -> None:
        episode = self._episode
        assert episode is not None
        grid, shown = episode.grid, np.asarray(episode.shown, dtype=np.int64)
        ctx = replace(grid, frame_idx=grid.frame_idx[shown], timestamps_s=grid.timestamps_s[shown])
        self._contract = self.answer_spec.contract(ctx)

    def _observation(self) -> dict[str, Any]:
        episode = self._episode
        assert episode is not None
        cfg = self.config
        shown = episode.shown
        frames, mask = pad_frames(episode.frames[shown], self.frame_budget, cfg.max_side)
        timestamps = np.zeros(self.frame_budget, dtype=np.float32)
        timestamps[: len(shown)] = episode.grid.timestamps_s[shown]
        turns = np.zeros(self.frame_budget, dtype=np.int64)
        turns[: len(shown)] = [episode.turn_of[p] for p in shown]
        return {
            "frames": frames,
            "frame_mask": mask,
            "timestamps": timestamps,
            "shown_size": np.asarray(episode.grid.shown_size, dtype=np.int64),
            "query": episode.sample.query,
            "frame_turn": turns,
            "turn": np.asarray([episode.turn], dtype=np.int64),
            "frames_left": np.asarray([self.frame_budget - len(shown)], dtype=np.int64),
            "zooms_left": np.asarray([cfg.max_zooms - episode.zooms], dtype=np.int64),
        }

    # ------------------------------------------------------------------ the step
    def step(self, action: Any) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        """Carry out a zoom, or score the answer (see the class docstring); never raises
        on what the policy produced.

        Raises:
            RuntimeError: called before ``reset()`` or after the episode ended.
            TypeError: a non-``str`` action with ``action_format="text"``.
        """
        episode = self._episode
        if episode is None or episode.done:
            raise RuntimeError(
                "ZoomGroundingEnv.step() called before reset() or after the episode ended"
            )
        kind, call, reason, parse = self._read(action)
        episode.turn += 1
        info: dict[str, Any] = {"turn": episode.turn, "kind": kind or "zoom"}
        if kind == "answer":
            return self._finish(parse, reason, info)
        if reason is None:
            assert call is not None
            reason = self._zoom(call, info)
        info.update(self._shown_info())
        if reason is not None:
            info["invalid_action"] = reason
            if self.config.on_invalid_zoom == "end":
                return self._finish(invalid(reason)[0], reason, info, zero=True)
        if episode.turn >= self.max_turns:
            why = (
                f"turn limit reached without an answer (max_turns={self.max_turns}): the "
                "episode is cut and scores 0"
            )
            obs, _, _, _, info = self._finish(invalid(why)[0], None, info, zero=True)
            info["truncated_reason"] = why
            return obs, 0.0, False, True, info
        return self._observation(), 0.0, False, False, info

    def _read(
        self, action: Any
    ) -> tuple[str | None, ZoomCall | None, str | None, str | ParseResult | None]:
        """``(kind, zoom call, reason, answer)`` of an action."""
        if self.config.action_format == "text":
            if not isinstance(action, str):
                raise TypeError(
                    f"action_format='text' takes a str action, got {type(action).__name__}"
                )
            if is_zoom_text(action):
                call, reason = parse_zoom_text(action)
                return "zoom", call, reason, None
            return "answer", None, None, action
        kind, call, reason = read_struct_action(action)
        if kind == "answer":
            assert self._contract is not None
            parse, reason = struct_to_parse(action, self._contract.frame)
            return "answer", None, reason, parse
        return kind, call, reason, None

    def _zoom(self, call: ZoomCall, info: dict[str, Any]) -> str | None:
        """Show the frames of ``call``; the reason when it is invalid (nothing shown)."""
        episode, cfg = self._episode, self.config
        assert episode is not None
        grid_fps = float(cfg.fps)  # type: ignore[arg-type]
        if episode.zooms >= cfg.max_zooms:
            return f"invalid zoom: no zoom left (max_zooms={cfg.max_zooms})"
        left = self.frame_budget - len(episode.shown)
        if left <= 0:
            return f"invalid zoom: the frame budget is spent (frame_budget={self.frame_budget})"
        limit = min(cfg.max_frames_per_zoom, left)
        found = zoom_frames(
            episode.grid.timestamps_s,
            call.start_s,
            call.end_s,
            call.fps,
            grid_fps,
            episode.turn_of,
            limit,
        )
        if isinstance(found, str):
            return found
        new, (start, end, rate) = found
        episode.show(new)
        episode.zooms += 1
        episode.windows.append((start, end, rate))
        info["zoom_window"] = (start, end, rate)
        info["zoom_frames"] = len(new)
        self._update_contract()
        return None

    def _finish(
        self,
        answer: str | ParseResult | None,
        reason: str | None,
        info: dict[str, Any],
        *,
        zero: bool = False,
    ) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        """Score the episode's answer and end it."""
        episode, cfg = self._episode, self.config
        assert episode is not None and self._contract is not None
        ctx = self._contract.frame
        if answer is None:  # a struct answer that could not be read
            answer = invalid(reason or "invalid answer")[0]
        (result,) = self.verifier.score_batch(
            [answer], [episode.sample], [ctx], frames=[self.episode_frames]
        )
        self.last_result = result
        episode.done = True
        info.update(scored_info(result, reason, episode.sample.sample_id, ctx))
        info.update(self._cost(ctx))
        frame_term = -len(episode.shown) / self.frame_budget
        bonus_term = float(episode.zooms > 0 and result.v_iou >= cfg.zoom_bonus_min_v_iou)
        info["reward/frame_cost"] = frame_term
        info["reward/zoom_bonus"] = bonus_term
        reward = 0.0 if zero else float(result.total)
        if not zero:
            reward += cfg.frame_cost * frame_term + cfg.zoom_bonus * bonus_term
        info["reward"] = reward
        return self._observation(), reward, True, False, info

    def _cost(self, ctx: FrameContext) -> dict[str, Any]:
        """The episode's cost: frames over all turns, visual tokens summed over turns."""
        episode = self._episode
        assert episode is not None
        geometry = self.config.model_geometry
        total: dict[str, Any] = {}
        for count in episode.new_per_turn:
            if count == 0:
                continue
            for key, value in cost_info(count, ctx.shown_size, geometry).items():
                total[key] = total.get(key, 0) + value
        total["cost/frames_shown"] = len(episode.shown)
        total["cost/turns"] = episode.turn
        total["cost/zooms"] = episode.zooms
        return total

    # ------------------------------------------------------------------ render
    def render(self) -> np.ndarray | None:
        """The frames shown so far as a contact sheet (``render_mode="rgb_array"``), with
        the answer's boxes and the ground truth once the episode is scored, and where the
        episode looked (:meth:`looks`) in the header; the same shape for every episode of
        this env (``frame_budget`` tiles)."""
        if self.render_mode is None:
            gym.logger.warn(
                "ZoomGroundingEnv.render() called without a render mode; make the env with "
                'render_mode="rgb_array" to get contact sheets'
            )
            return None
        episode = self._episode
        if episode is None or self._contract is None:
            raise RuntimeError("ZoomGroundingEnv.render() called before reset()")
        layout = sheet_layout(self.frame_budget, self.config.max_side)
        result: VerifierResult | None = self.last_result
        return episode_sheet(
            episode.sample,
            self._contract.frame,
            episode.frames[episode.shown],
            result,
            layout,
            remark=self.looks(),
        )

    def looks(self) -> str:
        """Where the episode looked, for the sheet's header: ``glance 0.25 fps (3); zoom
        [3, 8.9] s at 1 fps (+4)``."""
        episode = self._episode
        assert episode is not None
        parts = [f"glance {self.config.glance_fps:g} fps ({episode.new_per_turn[0]})"]
        for (start, end, rate), count in zip(
            episode.windows, episode.new_per_turn[1:], strict=True
        ):
            parts.append(f"zoom [{start:.3g}, {end:.3g}] s at {rate:g} fps (+{count})")
        return "; ".join(parts)


__all__ = [
    "ZoomEpisode",
    "ZoomGroundingEnv",
    "episode_frame_budget",
    "glance_count",
    "thin_evenly",
    "zoom_frames",
]
