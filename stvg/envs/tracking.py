"""Per-second tracking env: one step per sampled frame, say whether and where the target is."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from stvg.data.types import Sample
from stvg.data.video import SampledFrames
from stvg.envs.answers import invalid, read_track_action, track_to_parse
from stvg.envs.base import VideoGroundingEnvBase, scored_info
from stvg.envs.config import TrackingEnvConfig
from stvg.envs.samples import max_duration_s
from stvg.envs.spaces import tracking_action_space, tracking_observation_space
from stvg.verifiers.formats import FrameContext
from stvg.verifiers.formats.assemble import repair_box
from stvg.verifiers.iou import box_iou_single

_UNIT = np.ones(4)  # the extent of a normalised frame: x and y in [0, 1]


class TrackingEnv(VideoGroundingEnvBase):
    """Second-level tracking: at each sampled second, is the queried target there, and where?

    ## Description

    An episode is one sample (a video and a query) walked frame by frame at ``fps`` frames
    per second (at most ``max_frames`` steps, evenly spread). At each step the policy sees
    the current frame (longer side at most ``max_side`` pixels) and its timestamp and says
    whether the target of the query is present and, if so, its box. At the end the per-step
    decisions form one second-level answer: the span runs from the first to the last step
    that claimed presence, with the boxes of those steps; it is densified and scored by the
    verifier like :class:`~stvg.envs.grounding.GroundingEnv`'s answers.

    ## Observation Space

    A ``Dict``:

    | Key          | Shape                      | Range / dtype          | Units         |
    |--------------|----------------------------|------------------------|---------------|
    | `frame`      | `(max_side, max_side, 3)`  | 0..255 uint8, RGB      | pixels        |
    | `shown_size` | `(2,)`                     | 0..max_side int64      | pixels (w, h) |
    | `timestamp`  | `(1,)`                     | 0..duration float32    | seconds       |
    | `query`      | text                       | Text(max_query_length) | characters    |
    | `prev_box`   | `(4,)` (``include_prev_box``) | 0..1 float32        | frame fraction|

    The frame occupies the top-left ``shown_size`` corner, the rest is zero. ``prev_box``
    is the previous step's box (xyxy, normalised) when it claimed presence, else zeros.

    ## Action Space

    A ``Dict`` of ``present`` (``Discrete(2)``: 1 = the target is visible now) and ``box``
    (float32 ``(4,)``, xyxy normalised to ``[0, 1]`` of the frame; read only when
    ``present == 1``, with the text answers' box rules: swapped corners are swapped
    back, then the box is clipped to ``[0, 1]`` and scaled to original pixels).

    ``present`` is a decision: a Python or NumPy bool, or an integer or float equal to 0
    or 1 (a one-element array of one is fine). Any other value is an invalid action, a
    probability like ``0.7`` included (it is not rounded: threshold it in the policy), as
    are ``NaN``, ``2``, ``-1`` and a string. With ``present == 1`` the ``box`` must be 4
    finite numbers (a 3-number box, a ``NaN`` or a string is invalid). An action that is
    not a mapping or lacks ``present`` or ``box`` (both keys are required, even when
    absence is claimed) is invalid too. An invalid action never raises: the step scores
    0, its reason is ``info["invalid_action"]`` (``"invalid tracking action at step 3:
    ..."``), the episode goes on with that step counted as absent, and the episode's
    answer is unusable (see Rewards).

    ## Rewards

    * ``reward_mode="sparse"``: 0 on every step but the last, which gets the verifier's
      total on the assembled answer (default ``tIoU + vIoU``), scored by the rules of a
      text answer with that span and those boxes (:func:`stvg.envs.answers.track_to_parse`).
      An episode that never claims presence, or has an invalid action at any step,
      scores 0 with the reason (the first invalid action's) in the last step's
      ``info["invalid_action"]`` and ``info["parse_error"]``.
    * ``reward_mode="dense"``: per step, with ``f`` the native frame shown,
      ``IoU(box, gt_box_f)`` when presence is claimed inside the ground-truth span (0 when
      that frame has no ground-truth box), ``-false_presence_penalty`` when presence is
      claimed outside it, and 0 when absence is claimed. An invalid action scores 0 with
      the reason in ``info["invalid_action"]``.

    ## Episode End

    * Termination: after the step of the last sampled frame.
    * Truncation: never (the episode length is the number of sampled frames).

    The last step's ``info`` carries the same metrics as ``GroundingEnv``'s step (every
    verifier term, ``t_iou``, ``v_iou``, ``sample_id``, cost figures); every step's
    ``info`` has ``step`` (0-based), ``frame_idx`` and ``in_gt_span``. ``reset``'s
    ``info`` has ``sample_id``, ``original_size``, ``native_fps``, ``num_frames``,
    ``frame_idx`` (all frames the episode will show) and, with ``on_bad_video="skip"``
    when the chosen sample's video could not be decoded and another sample is played,
    ``bad_videos`` (``[{"sample_id", "reason"}, ...]``, see :mod:`stvg.envs.bad_videos`).

    ## Arguments

    Keyword arguments map onto :class:`~stvg.envs.config.TrackingEnvConfig` (the dataset
    keys of ``GroundingEnv``, ``on_bad_video`` included, plus ``reward_mode``,
    ``false_presence_penalty`` and ``include_prev_box``); ``samples`` replaces the dataset
    by an in-memory list. What both envs share (config, samples, verifier, sample walk,
    frames, ``reset``) is :class:`~stvg.envs.base.VideoGroundingEnvBase`.
    ``reset(options={"sample_id": ...})`` or ``{"index": i}`` picks a sample.

    ## Version History

    * v0: initial version (``on_bad_video`` is an addition: with its default ``error``,
      observations and rewards are unchanged; a bad video's error now names the sample).
      Malformed actions are invalid actions with a reason (they raised, or were read
      as present or absent); a box with swapped corners is swapped back (it scored 0).

    ## Example

    >>> import gymnasium as gym, stvg  # doctest: +SKIP
    >>> env = gym.make("stvg/SyntheticTracking-v0", reward_mode="dense")  # doctest: +SKIP
    >>> obs, info = env.reset(seed=0)  # doctest: +SKIP
    >>> obs, reward, terminated, truncated, info = env.step(
    ...     {"present": 1, "box": [0.1, 0.1, 0.3, 0.3]})  # doctest: +SKIP
    """

    metadata: dict[str, Any] = {"render_modes": []}

    config: TrackingEnvConfig

    def __init__(
        self,
        config: TrackingEnvConfig | dict[str, Any] | None = None,
        *,
        samples: Sequence[Sample] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(TrackingEnvConfig, config, kwargs, samples)
        cfg = self.config
        self.observation_space = tracking_observation_space(
            cfg.max_side, cfg.max_query_length, max_duration_s(self.samples), cfg.include_prev_box
        )
        self.action_space = tracking_action_space()
        self._episode: _Episode | None = None

    @property
    def num_steps(self) -> int:
        """Steps of the current episode (sampled frames; 0 before the first reset)."""
        return 0 if self._episode is None else self._episode.num_steps

    def _start_episode(
        self, sample: Sample, sampled: SampledFrames, ctx: FrameContext
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        self._episode = episode = _Episode(sample, ctx, sampled.frames)
        return self._observation(episode, 0, None), {}

    def step(self, action: Any) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        """Record the decision for the current frame; move to the next frame.

        An invalid action (see the class docstring) never raises: the step scores 0 with
        the reason in ``info["invalid_action"]``, and so does the episode's answer.
        """
        episode = self._episode
        if episode is None or episode.step >= episode.num_steps:
            raise RuntimeError(
                "TrackingEnv.step() called before reset() or after the episode ended"
            )
        sample, ctx, t = episode.sample, episode.ctx, episode.step
        present, box, reason = read_track_action(action, t)
        frame = int(ctx.frame_idx[t])
        in_span = bool(sample.gt_span[0] <= frame <= sample.gt_span[1])
        info: dict[str, Any] = {"step": t, "frame_idx": frame, "in_gt_span": in_span}
        shown_box = None if box is None else repair_box(box, _UNIT)[0]
        if reason is not None:
            info["invalid_action"] = reason
            episode.invalid = episode.invalid or reason
            reward = 0.0
        else:
            reward = dense_reward(
                sample, frame, present, shown_box, self.config.false_presence_penalty
            )
        episode.present.append(present)
        episode.boxes.append(np.zeros(4) if box is None else box)
        episode.step += 1
        terminated = episode.step == episode.num_steps
        if self.config.reward_mode == "sparse":
            reward = 0.0
        if terminated:
            if episode.invalid is not None:
                parse, final_reason = invalid(episode.invalid)
            else:
                parse, final_reason = track_to_parse(episode.present, np.stack(episode.boxes), ctx)
            result = self.verifier.score_parse(parse, sample, ctx, frames=self.episode_frames)
            self.last_result = result
            info.update(scored_info(result, final_reason, sample.sample_id, ctx))
            if self.config.reward_mode == "sparse":
                reward = float(result.total)
        obs = self._observation(episode, min(episode.step, episode.num_steps - 1), shown_box)
        return obs, float(reward), terminated, False, info

    def _observation(
        self, episode: _Episode, t: int, prev_box: np.ndarray | None
    ) -> dict[str, Any]:
        side = self.config.max_side
        frame = np.zeros((side, side, 3), dtype=np.uint8)
        height, width = episode.frames.shape[1:3]
        frame[:height, :width] = episode.frames[t]
        obs: dict[str, Any] = {
            "frame": frame,
            "shown_size": np.asarray(episode.ctx.shown_size, dtype=np.int64),
            "timestamp": np.asarray([episode.ctx.timestamps_s[t]], dtype=np.float32),
            "query": episode.sample.query,
        }
        if self.config.include_prev_box:
            obs["prev_box"] = (
                np.zeros(4, dtype=np.float32) if prev_box is None else prev_box.astype(np.float32)
            )
        return obs


@dataclass
class _Episode:
    """State of one tracking episode: what is shown and what was decided so far."""

    sample: Sample
    ctx: FrameContext
    frames: np.ndarray  # uint8 [T, H, W, 3], the shown frames
    step: int = 0
    present: list[bool] = field(default_factory=list)
    boxes: list[np.ndarray] = field(default_factory=list)
    invalid: str | None = None  # the first invalid action's reason

    @property
    def num_steps(self) -> int:
        return int(len(self.ctx.frame_idx))


def dense_reward(
    sample: Sample, frame: int, present: bool, box_norm: np.ndarray | None, penalty: float
) -> float:
    """Dense reward of one tracking decision on native frame ``frame``.

    Args:
        sample: the ground truth.
        frame: the native frame shown at this step.
        present: whether the policy claimed the target is visible.
        box_norm: finite xyxy box normalised to ``[0, 1]``, corners in order (the step's
            box after :func:`~stvg.verifiers.formats.assemble.repair_box`); clipped to
            ``[0, 1]``, then scaled to original pixels. Unused (may be ``None``) when absent.
        penalty: ``false_presence_penalty`` (>= 0).

    Returns:
        0 for a claimed absence; ``-penalty`` for presence claimed outside ``gt_span``;
        inside it, the IoU with the GT box of ``frame`` (0 when that frame has none).

    >>> s = Sample("s", "", "q", 10.0, 30, 100, 50, (10, 19), {12: [0, 0, 50, 50]})
    >>> dense_reward(s, 12, True, np.array([0, 0, 0.25, 1.0]), 0.1)
    0.5
    >>> dense_reward(s, 25, True, np.array([0, 0, 0.25, 1.0]), 0.1)
    -0.1
    """
    if not present:
        return 0.0
    if not sample.gt_span[0] <= frame <= sample.gt_span[1]:
        return -float(penalty)
    gt_box = sample.gt_boxes.get(frame)
    if gt_box is None or box_norm is None:
        return 0.0
    scale = np.array([sample.width, sample.height, sample.width, sample.height], dtype=np.float64)
    pred = np.clip(np.asarray(box_norm, dtype=np.float64), 0.0, 1.0) * scale
    return float(box_iou_single(pred, np.asarray(gt_box, dtype=np.float64)))


__all__ = ["TrackingEnv", "dense_reward"]
