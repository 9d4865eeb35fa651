"""Per-second tracking env: one step per sampled frame, say whether and where the target is."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np

from stvg.data.errors import DataError
from stvg.data.types import Sample
from stvg.envs.answers import track_to_answer
from stvg.envs.config import TrackingEnvConfig, resolve_config
from stvg.envs.frame_source import FrameSource
from stvg.envs.samples import load_samples, max_duration_s
from stvg.envs.scoring import build_verifier, cost_info
from stvg.envs.selection import SampleSelector
from stvg.envs.spaces import tracking_action_space, tracking_observation_space
from stvg.verifiers.formats import FrameContext
from stvg.verifiers.iou import box_iou_single


class TrackingEnv(gym.Env):
    """Second-level tracking: at each sampled second, is the queried target there, and where?

    ## Description

    An episode is one sample (a video and a query) walked frame by frame at ``fps`` frames
    per second (at most ``max_frames`` steps, evenly spread). At each step the policy sees
    the current frame (longer side ``max_side`` pixels) and its timestamp and says whether
    the target of the query is present and, if so, its box. At the end the per-step
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
    ``present == 1``, clipped to ``[0, 1]``, scaled to original pixels).

    ## Rewards

    * ``reward_mode="sparse"``: 0 on every step but the last, which gets the verifier's
      total on the assembled answer (default ``0.5 * tIoU + 0.5 * vIoU``); an episode that
      never claims presence, or claims it with a non-finite box, scores 0 with the reason
      in ``info["invalid_action"]``.
    * ``reward_mode="dense"``: per step, with ``f`` the native frame shown,
      ``IoU(box, gt_box_f)`` when presence is claimed inside the ground-truth span (0 when
      that frame has no ground-truth box), ``-false_presence_penalty`` when presence is
      claimed outside it, and 0 when absence is claimed. A non-finite box scores 0 with
      the reason in ``info["invalid_action"]``.

    ## Episode End

    * Termination: after the step of the last sampled frame.
    * Truncation: never (the episode length is the number of sampled frames).

    The last step's ``info`` carries the same metrics as ``GroundingEnv``'s step (every
    verifier term, ``t_iou``, ``v_iou``, ``sample_id``, cost figures); every step's
    ``info`` has ``step`` (0-based), ``frame_idx`` and ``in_gt_span``. ``reset``'s
    ``info`` has ``sample_id``, ``original_size``, ``native_fps``, ``num_frames`` and
    ``frame_idx`` (all frames the episode will show).

    ## Arguments

    Keyword arguments map onto :class:`~stvg.envs.config.TrackingEnvConfig` (the dataset
    keys of ``GroundingEnv`` plus ``reward_mode``, ``false_presence_penalty`` and
    ``include_prev_box``); ``samples`` replaces the dataset by an in-memory list.
    ``reset(options={"sample_id": ...})`` or ``{"index": i}`` picks a sample.

    ## Version History

    * v0: initial version.

    ## Example

    >>> import gymnasium as gym, stvg  # doctest: +SKIP
    >>> env = gym.make("stvg/SyntheticTracking-v0", reward_mode="dense")  # doctest: +SKIP
    >>> obs, info = env.reset(seed=0)  # doctest: +SKIP
    >>> obs, reward, terminated, truncated, info = env.step(
    ...     {"present": 1, "box": [0.1, 0.1, 0.3, 0.3]})  # doctest: +SKIP
    """

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(
        self,
        config: TrackingEnvConfig | dict[str, Any] | None = None,
        *,
        samples: Sequence[Sample] | None = None,
        **kwargs: Any,
    ) -> None:
        self.config = cfg = resolve_config(TrackingEnvConfig, config, kwargs)
        self.samples = load_samples(cfg, samples)
        longest = max(len(s.query) for s in self.samples)
        if longest > cfg.max_query_length:
            raise DataError(
                f"a query has {longest} characters, more than max_query_length="
                f"{cfg.max_query_length}",
                field="query",
                hint="raise the env's max_query_length",
            )
        self.observation_space = tracking_observation_space(
            cfg.max_side, cfg.max_query_length, max_duration_s(self.samples), cfg.include_prev_box
        )
        self.action_space = tracking_action_space()
        self.verifier = build_verifier(cfg)
        self.frame_source = FrameSource(cfg.fps, cfg.max_frames, cfg.max_side, cfg.frame_cache_mb)
        self._selector = SampleSelector(self.samples, cfg.sample_order)
        self._sample: Sample | None = None
        self._ctx: FrameContext | None = None
        self._frames: np.ndarray | None = None
        self._step = 0
        self._present: list[bool] = []
        self._boxes: list[np.ndarray] = []

    @property
    def sample(self) -> Sample | None:
        """The sample of the current episode (``None`` before the first reset)."""
        return self._sample

    @property
    def frame_context(self) -> FrameContext | None:
        """All frames the current episode shows, with their times and sizes."""
        return self._ctx

    @property
    def num_steps(self) -> int:
        """Steps of the current episode (sampled frames)."""
        return 0 if self._ctx is None else len(self._ctx.frame_idx)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Start an episode on the next sample (see ``sample_order``) or ``options``."""
        super().reset(seed=seed)
        if seed is not None:
            self._selector.restart()
        sample = self._selector.next(self.np_random, options)
        sampled = self.frame_source.frames(sample)
        self._ctx = FrameContext.from_sample(
            sample, sampled.frame_idx, sampled.shown_size, self.config.fps
        )
        self._sample, self._frames = sample, sampled.frames
        self._step = 0
        self._present, self._boxes = [], []
        info = {
            "sample_id": sample.sample_id,
            "original_size": (sample.width, sample.height),
            "native_fps": sample.native_fps,
            "num_frames": sample.num_frames,
            "frame_idx": self._ctx.frame_idx.copy(),
        }
        return self._observation(0, np.zeros(4, dtype=np.float32)), info

    def step(self, action: Any) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        """Record the decision for the current frame; move to the next frame."""
        if self._ctx is None or self._sample is None or self._step >= self.num_steps:
            raise RuntimeError(
                "TrackingEnv.step() called before reset() or after the episode ended"
            )
        sample, ctx, t = self._sample, self._ctx, self._step
        present = bool(int(np.asarray(action["present"]).reshape(())))
        box = np.asarray(action["box"], dtype=np.float64).reshape(4)
        frame = int(ctx.frame_idx[t])
        in_span = sample.gt_span[0] <= frame <= sample.gt_span[1]
        info: dict[str, Any] = {"step": t, "frame_idx": frame, "in_gt_span": in_span}
        finite = bool(np.all(np.isfinite(box)))
        if present and not finite:
            info["invalid_action"] = (
                f"invalid box at step {t}: {box.tolist()} has a non-finite coordinate"
            )
        self._present.append(present)
        self._boxes.append(box)
        reward = self._dense_reward(present, box, frame, in_span) if finite else 0.0
        self._step += 1
        terminated = self._step == self.num_steps
        if terminated:
            answer, reason = track_to_answer(
                self._present, np.stack(self._boxes), ctx.timestamps_s, ctx.original_size
            )
            result = self.verifier.score_answer(answer, sample, ctx)
            info.update(result.to_info())
            if reason is not None:
                info["invalid_action"] = reason
            info["sample_id"] = sample.sample_id
            info.update(cost_info(self.num_steps, ctx.shown_size))
            if self.config.reward_mode == "sparse":
                reward = float(result.total)
        if self.config.reward_mode == "sparse" and not terminated:
            reward = 0.0
        prev_box = np.clip(box, 0.0, 1.0).astype(np.float32) if present and finite else None
        obs = self._observation(min(self._step, self.num_steps - 1), prev_box)
        return obs, float(reward), terminated, False, info

    def _dense_reward(self, present: bool, box: np.ndarray, frame: int, in_span: bool) -> float:
        """Dense reward of one decision (see the class docstring)."""
        if not present:
            return 0.0
        if not in_span:
            return -float(self.config.false_presence_penalty)
        gt_box = self._sample.gt_boxes.get(frame) if self._sample is not None else None
        if gt_box is None:
            return 0.0
        width, height = self._ctx.original_size if self._ctx is not None else (1, 1)
        pred = np.clip(box, 0.0, 1.0) * np.array([width, height, width, height], dtype=np.float64)
        return float(box_iou_single(pred, np.asarray(gt_box, dtype=np.float64)))

    def _observation(self, t: int, prev_box: np.ndarray | None) -> dict[str, Any]:
        assert self._frames is not None and self._ctx is not None and self._sample is not None
        side = self.config.max_side
        frame = np.zeros((side, side, 3), dtype=np.uint8)
        height, width = self._frames.shape[1:3]
        frame[:height, :width] = self._frames[t]
        obs: dict[str, Any] = {
            "frame": frame,
            "shown_size": np.asarray(self._ctx.shown_size, dtype=np.int64),
            "timestamp": np.asarray([self._ctx.timestamps_s[t]], dtype=np.float32),
            "query": self._sample.query,
        }
        if self.config.include_prev_box:
            obs["prev_box"] = (
                np.zeros(4, dtype=np.float32) if prev_box is None else prev_box.astype(np.float32)
            )
        return obs


__all__ = ["TrackingEnv"]
