"""Supervised warm start of the native policy's zoom head on the glance-and-zoom env.

With ``env.id: stvg/ZoomGrounding-v0`` (or ``stvg/SyntheticZoom-v0``) and
``model.zoom.enabled: true``, native SFT (:mod:`stvg.training.sft.native`) caches every
video's whole frame grid (``env.fps``) and plays each training sample as a two-turn
episode made from its ground truth, replayed on the cached grid exactly as the env plays
it (:func:`stvg.envs.zoom.zoom_frames`):

1. **the zoom** — on the glance (every ``glance_step``-th grid frame), the target window
   is the ground-truth span padded by a random margin, ``U(0, zoom_margin_s)`` seconds on
   each side independently, drawn anew every epoch, put on the head's bins
   (:func:`~stvg.policies.native.zoom.window_bins`); the target kind is "zoom";
2. **the answer** — on the union of the glance and the frames that window shows (at the
   head's ``fps``, capped as the env caps it), the usual answer target
   (:func:`~stvg.training.sft.native_data.sft_target`).

The loss adds the zoom's negative log-likelihood ``-log p(kind = zoom) - log p(a) -
log p(b | a)`` (no kind term with ``decide: always``) to the answer's SFT loss.
Validation and evaluation play the deterministic episode on the cache: the head's most
likely kind and window on the glance, then the most likely answer on what was shown (an
answer on the glance alone when the kind head says so); the metrics add ``zoom_rate``
(share of samples that zoomed) and ``frames_per_query`` (mean frames shown).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from stvg.data.types import Sample
from stvg.envs.config import ZoomEnvConfig
from stvg.envs.zoom import episode_frame_budget, zoom_frames
from stvg.policies.native import zoom as zd
from stvg.policies.native.features import VideoInputs, video_length_s
from stvg.policies.native.zoom import ZoomHeadConfig
from stvg.training.sft.native_data import CachedFrames, SFTTarget, SpanTarget, sft_target


@dataclass(frozen=True)
class ZoomEpisodePlan:
    """How the env would play a sample's episode on its cached grid.

    Attributes:
        glance: grid positions of the glance (turn 0).
        can_zoom_after: a zoom is still possible after the first (the answer turn's
            ``can_zoom``).
        limit: most new frames the first zoom may show (``max_frames_per_zoom`` and the
            budget left after the glance).
    """

    glance: list[int]
    can_zoom_after: bool
    limit: int


@dataclass(frozen=True)
class ZoomTarget:
    """The supervised zoom episode of one sample.

    Attributes:
        window_bins: ``(a, b)`` the target window's bins on the glance.
        window_s: ``(start, end)`` seconds of those bins.
        shown: grid positions shown at the answer turn (glance and zoom, in time order).
        answer: the answer target on the ``shown`` frames.
    """

    window_bins: tuple[int, int]
    window_s: tuple[float, float]
    shown: list[int]
    answer: SFTTarget


class ZoomEpisodes:
    """Plays supervised zoom episodes on cached grids (see the module docstring).

    Args:
        env: the zoom env's config (``glance_fps``, ``max_zooms``, ``max_frames_per_zoom``,
            ``frame_budget``, ``fps``).
        head: the zoom head's config (``bins``, ``fps``).
        samples: every sample the env would hold (its frame budget is computed over them).
    """

    def __init__(self, env: ZoomEnvConfig, head: ZoomHeadConfig, samples: Sequence[Sample]):
        self.env = env
        self.head = head
        self.grid_fps = float(env.fps)  # type: ignore[arg-type]
        self.budget = episode_frame_budget(samples, env)

    def plan(self, count: int) -> ZoomEpisodePlan:
        """The glance and the zoom limit of a video of ``count`` grid frames."""
        glance = list(range(0, count, self.env.glance_step))
        left = self.budget - len(glance)
        return ZoomEpisodePlan(
            glance,
            can_zoom_after=self.env.max_zooms > 1 and left > self.env.max_frames_per_zoom,
            limit=max(0, min(self.env.max_frames_per_zoom, left)),
        )

    def shown_after(self, times: np.ndarray, plan: ZoomEpisodePlan, a: int, b: int) -> list[int]:
        """The grid positions shown after a zoom on bins ``a..b`` of the glance."""
        if self.env.max_zooms < 1 or plan.limit < 1:
            return list(plan.glance)
        start, end = zd.zoom_window(a, b, times[plan.glance], self.head.bins)
        found = zoom_frames(
            times, start, end, self.head.fps, self.grid_fps, set(plan.glance), plan.limit
        )
        new = [] if isinstance(found, str) else found[0]
        return sorted(set(plan.glance) | set(new))

    def target(
        self,
        sample: Sample,
        frame_idx: np.ndarray,
        times: np.ndarray,
        margins_s: tuple[float, float],
        rule: SpanTarget = "nearest",
    ) -> ZoomTarget:
        """The zoom episode of ``sample`` on its grid ``frame_idx`` (times ``times``) with
        the window padded by ``margins_s`` seconds before and after the ground truth."""
        plan = self.plan(len(frame_idx))
        first, last = sample.gt_span
        start = first / sample.native_fps - margins_s[0]
        end = last / sample.native_fps + margins_s[1]
        length = video_length_s(times[plan.glance])
        a, b = zd.window_bins(start, end, length, self.head.bins)
        shown = self.shown_after(times, plan, a, b)
        answer = sft_target(sample, frame_idx[shown], rule)
        window = zd.zoom_window(a, b, times[plan.glance], self.head.bins)
        return ZoomTarget((a, b), window, shown, answer)


def cached_video(
    cache: CachedFrames,
    i: int,
    query: str,
    positions: Sequence[int],
    *,
    zoom_env: bool,
    can_zoom: bool,
) -> VideoInputs:
    """Row ``i`` of the cache shown at grid ``positions``, as the model's input."""
    pos = np.asarray(positions, dtype=np.int64)
    return VideoInputs(
        cache.frames[i, pos],
        cache.timestamps_s[i, pos],
        query,
        zoom_env=zoom_env,
        can_zoom=can_zoom,
    )


def zoom_nll(policy: Any, out: Any, a: Any, b: Any) -> Any:
    """Mean over rows of ``-log p(kind = zoom) - log p(a) - log p(b | a)`` (the kind term
    only with ``decide: learned``): the zoom head's SFT loss on glance outputs ``out``."""
    import torch

    nll = -zd.window_log_prob(out.zoom_start_logits, out.zoom_end_logits, a, b)
    if policy.config.model.zoom.decide == "learned":
        nll = nll - zd.kind_log_probs(out.zoom_kind_logit)[:, 0]
    return nll.mean() if nll.numel() else torch.zeros(())


def evaluate_zoom_cached(
    policy: Any,
    episodes: ZoomEpisodes,
    samples: Sequence[Sample],
    cache: CachedFrames,
    fps: float | None,
    *,
    verifier: Any,
    batch_size: int = 64,
) -> dict[str, Any]:
    """Dataset metrics of the policy's deterministic zoom episodes on cached grids (module
    docstring), with ``zoom_rate`` and ``frames_per_query``."""
    import torch

    from stvg.evaluation.episodes import predict_answers
    from stvg.policies.native import distributions as dist
    from stvg.verifiers.evaluation import evaluate
    from stvg.verifiers.formats import FrameContext

    predictions = {}
    zoomed = frames = 0
    policy.eval()
    for lo in range(0, len(samples), batch_size):
        index = list(range(lo, min(lo + batch_size, len(samples))))
        plans = [episodes.plan(int(cache.counts[i])) for i in index]
        glances = [
            cached_video(
                cache, i, samples[i].query, plan.glance, zoom_env=True, can_zoom=plan.limit > 0
            )
            for i, plan in zip(index, plans, strict=True)
        ]
        with torch.no_grad():
            out = policy.model(policy.batch(glances))
            a, b = zd.mode_window(out.zoom_start_logits, out.zoom_end_logits)
            wants = (
                torch.ones_like(a, dtype=torch.bool)
                if policy.config.model.zoom.decide == "always"
                else out.zoom_kind_logit > 0
            )
        shown = []
        for row, (i, plan) in enumerate(zip(index, plans, strict=True)):
            times = cache.timestamps_s[i, : cache.counts[i]]
            if bool(wants[row]) and plan.limit > 0 and episodes.env.max_zooms > 0:
                shown.append(episodes.shown_after(times, plan, int(a[row]), int(b[row])))
                zoomed += 1
            else:
                shown.append(list(plan.glance))
            frames += len(shown[-1])
        videos = [
            cached_video(cache, i, samples[i].query, pos, zoom_env=False, can_zoom=False)
            for i, pos in zip(index, shown, strict=True)
        ]
        with torch.no_grad():
            start, end, boxes = dist.mode_actions(policy.model(policy.batch(videos)))
        actions = policy.to_actions(videos, [len(v) for v in videos], start, end, boxes, clip=True)
        contexts = [
            FrameContext.from_sample(samples[i], cache.frame_idx[i, pos], None, fps)
            for i, pos in zip(index, shown, strict=True)
        ]
        predictions.update(
            predict_answers(verifier, [samples[i] for i in index], contexts, actions)
        )
    policy.train()
    metrics = evaluate(samples, predictions).metrics
    metrics["zoom_rate"] = zoomed / max(len(samples), 1)
    metrics["frames_per_query"] = frames / max(len(samples), 1)
    return metrics


__all__ = [
    "ZoomEpisodePlan",
    "ZoomEpisodes",
    "ZoomTarget",
    "cached_video",
    "evaluate_zoom_cached",
    "zoom_nll",
]


class ZoomBatcher:
    """Training batches of supervised zoom episodes and their loss.

    Args:
        policy: the native policy (with the zoom head).
        episodes: the episode rules of the env.
        samples: the training samples.
        cache: their cached grids.
        rule: the answer's span target rule.
        margin_s: the largest margin (seconds) drawn on each side of the window.
        seed: seed of the margins (drawn anew for every batch).
    """

    def __init__(
        self,
        policy: Any,
        episodes: ZoomEpisodes,
        samples: Sequence[Sample],
        cache: CachedFrames,
        rule: SpanTarget,
        margin_s: float,
        seed: int,
    ) -> None:
        self.policy = policy
        self.episodes = episodes
        self.samples = samples
        self.cache = cache
        self.rule = rule
        self.margin_s = margin_s
        self.rng = np.random.default_rng([int(seed), 29])

    def targets(self, index: Sequence[int]) -> list[ZoomTarget]:
        """Fresh zoom targets of samples ``index`` (new random margins)."""
        out = []
        for i in index:
            count = int(self.cache.counts[i])
            margins = self.rng.uniform(0.0, self.margin_s, size=2) if self.margin_s > 0 else (0, 0)
            out.append(
                self.episodes.target(
                    self.samples[i],
                    self.cache.frame_idx[i, :count],
                    self.cache.timestamps_s[i, :count],
                    (float(margins[0]), float(margins[1])),
                    self.rule,
                )
            )
        return out

    def batch(self, index: Sequence[int]) -> tuple[Any, Any, Any, Any, Any, Any, Any]:
        """``(glance batch, a [B], b [B], answer batch, start [B], end [B], boxes [B, T, 4])``
        of samples ``index``: the zoom's inputs and target bins, then the answer's inputs
        (the frames the target zoom shows) and targets (new random margins)."""
        import torch

        targets = self.targets(index)
        glances = []
        answers = []
        for i, target in zip(index, targets, strict=True):
            plan = self.episodes.plan(int(self.cache.counts[i]))
            query = self.samples[i].query
            glances.append(
                cached_video(self.cache, i, query, plan.glance, zoom_env=True, can_zoom=True)
            )
            answers.append(
                cached_video(
                    self.cache, i, query, target.shown, zoom_env=True, can_zoom=plan.can_zoom_after
                )
            )
        a = torch.tensor([t.window_bins[0] for t in targets], dtype=torch.long)
        b = torch.tensor([t.window_bins[1] for t in targets], dtype=torch.long)
        answer_batch = self.policy.batch(answers)
        steps = answer_batch.mask.shape[1]
        boxes = np.zeros((len(index), steps, 4), dtype=np.float32)
        for row, target in enumerate(targets):
            boxes[row, : target.answer.boxes_cxcywh.shape[0]] = target.answer.boxes_cxcywh
        start = torch.tensor([t.answer.start for t in targets], dtype=torch.long)
        end = torch.tensor([t.answer.end for t in targets], dtype=torch.long)
        glance_batch = self.policy.batch(glances)
        return glance_batch, a, b, answer_batch, start, end, torch.from_numpy(boxes)


__all__ += ["ZoomBatcher"]
