"""Supervised fine-tuning (SFT) of the native policy on ground-truth actions.

``stvg train-sft CONFIG`` with a config without a ``policy`` section reads an
:class:`SFTConfig` (see :mod:`stvg.training.sft` for how the kind of SFT is chosen), then:

1. makes sure the data exists (synthetic splits are generated when missing);
2. with ``data.val_size > 0``, holds out the last ``val_size`` samples of the train split
   (after ``limit_train``, in the split's order, whatever the seed) as the validation
   split: they are never trained on;
3. decodes every video once at the env's sampling settings and caches the model-size
   frames (:mod:`stvg.training.sft.native_data`; the validation samples are rows of the train
   split's cache, so they are decoded once, and the cache file does not depend on
   ``val_size``);
4. builds the policy with a vocabulary from the training queries (not the held-out ones);
5. trains for up to ``epochs`` passes with AdamW (linear warm-up, then cosine decay over
   ``epochs``, see :func:`sft_optimiser`) on the negative log-likelihood of the target
   action (:func:`~stvg.training.sft.native_data.sft_target`):
   ``loss = -log p(start) - log p(end | start) + box_weight * mean_box(-log N(box))
   + heat_weight * mean_box(heatmap cross-entropy)`` (box terms are averaged over the
   boxes of the span so long spans do not dominate; see :func:`sft_loss`);
6. with validation, evaluates the validation split every ``eval_every`` epochs and after
   the last one, keeps in memory the weights of the best evaluation by ``select_metric``,
   and stops after ``patience`` evaluations without improvement (early stopping only
   stops: the learning-rate schedule stays the one of ``epochs``); the best weights are
   restored at the end;
7. evaluates on the eval split (m_tIoU, m_vIoU, vIoU@0.3/0.5 via
   :func:`stvg.verifiers.evaluation.evaluate`, answers densified by the verifier of the
   ``env`` section exactly as ``GroundingEnv`` scores them): with validation once, the selected
   checkpoint; without, every ``eval_every`` epochs and at the end;
8. writes the run folder: ``config.yaml`` (resolved), ``metrics.jsonl`` (one line per
   epoch and per evaluation: ``val/...`` of the validation split, ``eval/...`` of the eval
   split), ``policy.pt`` (the selected weights, loadable with ``NativePolicy.load`` — the
   RL trainer starts from it) and ``eval.json`` (the final evaluation).

With a glance-and-zoom env (``env.id: stvg/ZoomGrounding-v0``) and ``model.zoom.enabled``
the cache holds every video's whole frame grid and each sample is a supervised two-turn
episode, a zoom on the ground-truth span padded by a random margin then the answer on the
frames it shows (:mod:`stvg.training.sft.native_zoom`).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np

from stvg.config import ConfigError, InvalidField, set_by, to_dict
from stvg.data.synthetic import ensure_synthetic_split
from stvg.data.types import Sample
from stvg.envs.answers import TrackAction
from stvg.envs.config import EnvConfig, as_env_config
from stvg.envs.samples import frame_slots
from stvg.envs.scoring import build_verifier
from stvg.envs.tracks import TrackSource
from stvg.policies.native.model import NativeModelConfig
from stvg.training.sft.common import (
    SFTResult,
    SFTSplits,
    check_at_least,
    check_run_options,
    eval_line,
    sft_optimiser,
    write_run_config,
)
from stvg.training.sft.native_data import (
    CachedFrames,
    SpanTarget,
    TrackTarget,
    load_cached_frames,
    sft_target,
    track_targets,
)
from stvg.training.sft.native_zoom import (
    ZoomBatcher,
    ZoomEpisodes,
    evaluate_zoom_cached,
    zoom_nll,
)
from stvg.training.trackers import Reporter, open_trackers
from stvg.verifiers.verifier import Verifier

SelectMetric = Literal["m_vIoU", "m_tIoU", "m_tIoU+m_vIoU"]

#: Where the native SFT's synthetic data lives by default.
DEFAULT_ROOT = "data_cache/synthetic-easy"


@dataclass
class SFTDataConfig(SFTSplits):
    """Which samples the native policy's SFT trains on (the :class:`SFTSplits` keys; the
    dataset and its folder are the env's, ``env.dataset`` and ``env.root``), and:

    Attributes:
        cache_dir: folder of the decoded-frame caches (``None`` = ``<root>/native_cache``).
        val_size: the last ``val_size`` samples of the train split (after ``limit_train``,
            in the split's order, so the same whatever the seed) are held out as the
            validation split: not trained on, evaluated every ``eval_every`` epochs to
            select the checkpoint and stop early (0 = no validation; must be less than the
            number of train samples).
    """

    cache_dir: str | None = None
    val_size: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.val_size < 0:
            raise InvalidField(
                "val_size", f"must be >= 0 (0 = no validation hold-out), got {self.val_size}"
            )
        if self.limit_train is not None and self.val_size >= self.limit_train:
            raise InvalidField(
                "val_size",
                f"holds out {self.val_size} of the limit_train={self.limit_train} train "
                f"samples, leaving none to train on: set val_size below {self.limit_train} "
                "or raise limit_train",
            )


@dataclass
class SFTConfig:
    """A supervised fine-tuning run of the native policy (YAML, see
    ``stvg/experiments/configs/sft_native.yaml``).

    Attributes:
        data: the splits (see :class:`SFTDataConfig`).
        env: the env the policy will act in (:class:`~stvg.envs.config.EnvConfig`, a
            grounding env): the dataset (``dataset``, ``root``; default
            ``data_cache/synthetic-easy``), how frames are shown (``fps``, ``max_frames``,
            default 16, ``max_side``) and the verifier whose densify rule scores the
            validation and evaluation answers. The old top-level ``fps``, ``max_frames``,
            ``max_side`` and ``data.dataset``, ``data.root`` are read as these (with a
            deprecation warning).
        model: network sizes (``frame_size`` is the side the frames are shrunk to).
        max_query_len: query words read.
        min_word_count: a training word becomes a vocabulary entry when seen this often.
        span_target: ``nearest`` (shown frames nearest the ground-truth ends: best tIoU)
            or ``cover`` (shown frames covering the ground-truth span).
        zoom_margin_s: with a glance-and-zoom env and ``model.zoom.enabled``, the zoom
            target is the ground-truth span padded by ``U(0, zoom_margin_s)`` seconds on
            each side, drawn anew every batch (:mod:`stvg.training.sft.native_zoom`).
        epochs: passes over the training split.
        batch_size: samples per optimiser step.
        lr: peak learning rate of AdamW.
        weight_decay: AdamW weight decay.
        warmup_steps: optimiser steps of linear warm-up before the cosine decay.
        grad_clip: gradient-norm clip (0 = off).
        box_weight: weight of the box negative log-likelihood against the span's.
        heat_weight: weight of the auxiliary heatmap cross-entropy (0 = off).
        eval_every: evaluate every this many epochs (0 = only at the end): the validation
            split when ``data.val_size > 0`` (then it must be >= 1), else the eval split.
        select_metric: validation metric that picks the saved checkpoint and drives early
            stopping: ``m_vIoU`` (spatio-temporal, the benchmark's headline metric),
            ``m_tIoU`` (temporal only) or ``m_tIoU+m_vIoU`` (their sum).
        patience: with validation, stop after this many validation evaluations without a
            strictly better ``select_metric`` (``None`` = run all ``epochs``; the best
            checkpoint is still the one saved).
        seed: seed of initialisation and shuffling.
        threads: torch CPU threads (``None`` = chosen from the free cores,
            :mod:`stvg.training.threads`).
        report_to: where the metrics go besides ``metrics.jsonl``: any of
            ``tensorboard``, ``wandb``, ``mlflow`` (:mod:`stvg.training.trackers`).
        time_limit_s: stop training after this many seconds (``None`` = no limit); the
            run still evaluates and saves.
        out_dir: the run folder.
    """

    CONFIG_ALIASES: ClassVar[dict[str, str]] = {
        "fps": "env.fps",
        "max_frames": "env.max_frames",
        "max_side": "env.max_side",
        "data.dataset": "env.dataset",
        "data.root": "env.root",
    }

    data: SFTDataConfig = set_by("stvg run", default_factory=SFTDataConfig)
    env: EnvConfig = set_by(
        "stvg run", default_factory=lambda: EnvConfig(root=DEFAULT_ROOT, max_frames=16)
    )
    model: NativeModelConfig = field(default_factory=NativeModelConfig)
    max_query_len: int = 32
    min_word_count: int = 1
    span_target: SpanTarget = "nearest"
    zoom_margin_s: float = 1.0
    epochs: int = 20
    batch_size: int = 32
    lr: float = 3e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 20
    grad_clip: float = 1.0
    box_weight: float = 1.0
    heat_weight: float = 1.0
    eval_every: int = 5
    select_metric: SelectMetric = "m_vIoU"
    patience: int | None = None
    seed: int = set_by("stvg run", 0)
    threads: int | None = None
    report_to: list[Reporter] = field(default_factory=list)
    time_limit_s: float | None = None
    out_dir: str = set_by("stvg run", "runs/sft_native")

    def __post_init__(self) -> None:
        self.env = as_env_config(self.env)  # a mapping given in code is validated here
        if self.env.kind not in ("grounding", "zoom"):
            raise InvalidField(
                "env.id",
                f"the native policy answers a grounding or glance-and-zoom env, got {self.env.id}",
            )
        if self.zooms != self.model.zoom.enabled:
            raise InvalidField(
                "model.zoom.enabled",
                f"is {self.model.zoom.enabled} but env.id is {self.env.id}: the zoom head "
                "trains on a glance-and-zoom env (stvg/ZoomGrounding-v0 or "
                "stvg/SyntheticZoom-v0) and only there; set both or neither",
            )
        if not (math.isfinite(self.zoom_margin_s) and self.zoom_margin_s >= 0):
            raise InvalidField(
                "zoom_margin_s", f"must be a number of seconds >= 0, got {self.zoom_margin_s}"
            )
        if self.env.max_frames is None and not self.zooms:
            raise InvalidField(
                "env.max_frames",
                "the native policy has a fixed number of frame slots: set it (16 by default)",
            )
        check_at_least(self, ("max_query_len", "min_word_count", "epochs", "batch_size"), 1)
        check_at_least(
            self,
            (
                "weight_decay",
                "warmup_steps",
                "grad_clip",
                "box_weight",
                "heat_weight",
                "eval_every",
            ),
            0,
        )
        check_run_options(self)
        if self.data.val_size > 0 and self.eval_every < 1:
            raise InvalidField(
                "eval_every",
                f"must be >= 1 with a validation hold-out (data.val_size={self.data.val_size}), "
                f"got {self.eval_every}: set eval_every: 1 to validate every epoch, or "
                "data.val_size: 0",
            )
        if self.patience is not None and self.patience < 1:
            raise InvalidField(
                "patience", f"must be >= 1 or null (run all epochs), got {self.patience}"
            )
        if self.patience is not None and self.data.val_size == 0:
            raise InvalidField(
                "patience",
                f"early stopping (patience={self.patience}) needs a validation hold-out, but "
                "data.val_size is 0: set data.val_size > 0 or patience: null",
            )
        if self.time_limit_s is not None and self.time_limit_s <= 0:
            raise InvalidField("time_limit_s", f"must be positive or null, got {self.time_limit_s}")
        tracks = getattr(self.env, "tracks", None)
        if self.model.track_id and tracks is None:
            raise InvalidField(
                "model.track_id",
                "the track ID head learns from the tracks' candidates: set env.tracks "
                "(e.g. {source: synthetic, draw: false})",
            )
        if self.model.track_id and tracks is not None and tracks.draw:
            raise InvalidField(
                "env.tracks.draw",
                "the SFT frame cache holds the frames without track overlays, so the native "
                "track-id policy must act on undrawn frames too: set env.tracks.draw: false "
                "(it reads the candidates as numbers)",
            )

    @property
    def zooms(self) -> bool:
        """Whether this SFT trains the zoom head (a glance-and-zoom env)."""
        return self.env.kind == "zoom"


#: Figures of zoom evaluations logged with the headline metrics.
ZOOM_EVAL_EXTRA = ("zoom_rate", "frames_per_query")


def _load_split(
    env: EnvConfig, cfg: SFTDataConfig, split: str, n: int, limit: int | None
) -> list[Sample]:
    from stvg.data import load_dataset

    if env.dataset == "synthetic" and cfg.generate:
        ensure_synthetic_split(env.root, split, n, cfg.seed, cfg.difficulty)
    kwargs = {**env.dataset_kwargs(), "split": split}
    samples = list(load_dataset(env.dataset, **kwargs))
    return samples[:limit] if limit is not None else samples


class _Batcher:
    """Training examples (cached frames + targets) and their collation into tensors."""

    def __init__(
        self,
        policy: Any,
        samples: Sequence[Sample],
        cache: CachedFrames,
        rule: SpanTarget,
        tracks: Sequence[TrackTarget] | None = None,
    ):
        self.policy = policy
        self.samples = samples
        self.cache = cache
        self.tracks = tracks
        self.targets = [
            sft_target(s, cache.frame_idx[i, : cache.counts[i]], rule)
            for i, s in enumerate(samples)
        ]

    def track(self, index: Sequence[int]) -> Any:
        """long ``[B]`` the ground truth's candidate index of samples ``index`` (-1 = none),
        or ``None`` without tracks."""
        import torch

        if self.tracks is None:
            return None
        return torch.tensor([self.tracks[i].target for i in index], dtype=torch.long)

    def batch(self, index: Sequence[int]) -> tuple[Any, Any, Any, Any]:
        """``(NativeBatch, start [B], end [B], boxes [B, T, 4])`` of samples ``index``."""
        import torch

        videos = [
            with_tracks(self.cache.video(i, self.samples[i].query), self.tracks, i) for i in index
        ]
        batch = self.policy.batch(videos)
        steps = batch.mask.shape[1]
        boxes = np.zeros((len(index), steps, 4), dtype=np.float32)
        for row, i in enumerate(index):
            target = self.targets[i].boxes_cxcywh
            boxes[row, : target.shape[0]] = target
        start = torch.tensor([self.targets[i].start for i in index], dtype=torch.long)
        end = torch.tensor([self.targets[i].end for i in index], dtype=torch.long)
        return batch, start, end, torch.from_numpy(boxes)


def with_tracks(video: Any, tracks: Sequence[TrackTarget] | None, i: int) -> Any:
    """``video`` (:class:`~stvg.policies.native.features.VideoInputs`) with sample ``i``'s
    track candidates, or as it is without tracks."""
    if tracks is None:
        return video
    return replace(video, track_boxes=tracks[i].boxes, track_mask=tracks[i].mask)


def sft_loss(
    policy: Any,
    batch: Any,
    start: Any,
    end: Any,
    boxes: Any,
    box_weight: float,
    heat_weight: float,
    track: Any = None,
) -> tuple[Any, dict[str, float]]:
    """The SFT loss of a batch and its parts (``losses/span_nll``, ``losses/box_nll``,
    ``losses/heat_nll`` and, with ``track``, ``losses/track_nll``).

    With ``track`` (long ``[B]``, the ground truth's candidate index, -1 = none; a
    ``track-id`` policy) the answer has no boxes: ``loss = span_nll + track_nll +
    heat_weight * heat_nll`` with ``track_nll`` the mean of ``-log p(track)`` over the
    rows with a target (the box likelihood is left out, the heatmap term kept: the ID head
    reads the heatmap).

    ``span_nll = mean(-log p(start) - log p(end | start))``; ``box_nll`` = the mean over
    the span's boxes of ``-log N(box)`` (summed over the 4 coordinates); ``heat_nll`` =
    the mean over the span's boxes of the cross-entropy between the model's target
    heatmap and the feature-map cell holding the ground-truth box centre (an auxiliary
    term that teaches the attention where the target is much faster than the box
    likelihood alone; it is not part of the action distribution).
    """
    import torch

    from stvg.policies.native import distributions as dist

    out = policy.model(batch)
    rows = torch.arange(start.shape[0])
    span_nll = -(dist.start_log_probs(out)[rows, start] + dist.end_log_probs(out)[rows, start, end])
    in_span = dist.span_box_mask(start, end, out.mask.shape[1]) & out.mask
    n_boxes = in_span.sum().clamp(min=1)
    box_nll = -(dist.box_log_density(out, boxes) * in_span).sum() / n_boxes
    cells = int(round(math.sqrt(out.heat_logits.shape[-1])))
    cell = (boxes[..., :2].clamp(0, 1 - 1e-6) * cells).long()  # [B, T, 2]: column, row
    target = cell[..., 1] * cells + cell[..., 0]
    heat_lp = (
        torch.log_softmax(out.heat_logits, dim=-1).gather(-1, target.unsqueeze(-1)).squeeze(-1)
    )
    heat_nll = -(heat_lp * in_span).sum() / n_boxes
    parts = {
        "losses/span_nll": float(span_nll.mean().detach()),
        "losses/box_nll": float(box_nll.detach()),
        "losses/heat_nll": float(heat_nll.detach()),
    }
    if track is None:
        loss = span_nll.mean() + box_weight * box_nll + heat_weight * heat_nll
        return loss, parts
    known = track >= 0
    lp_track = dist.track_log_probs(out)[rows, track.clamp(min=0)]
    track_nll = -(lp_track * known).sum() / known.sum().clamp(min=1)
    parts["losses/track_nll"] = float(track_nll.detach())
    return span_nll.mean() + track_nll + heat_weight * heat_nll, parts


def evaluate_cached(
    policy: Any,
    samples: Sequence[Sample],
    cache: CachedFrames,
    fps: float | None,
    batch_size: int = 64,
    *,
    verifier: Verifier,
    tracks: Sequence[TrackTarget] | None = None,
    tracks_config: Any = None,
) -> dict[str, Any]:
    """Dataset metrics of the policy's deterministic answers on cached frames.

    Actions are scored as ``GroundingEnv`` scores them
    (:func:`stvg.evaluation.episodes.predict_answers`): converted with
    :func:`stvg.envs.answers.struct_to_parse`, then densified by ``verifier``, the one
    the env config builds (:func:`stvg.envs.scoring.build_verifier`). With ``tracks`` (a
    ``track-id`` policy; ``tracks_config`` the env's ``tracks`` key) the actions are
    ``{track, span}`` and are scored by :func:`stvg.envs.answers.track_struct_to_parse`.
    """
    import torch

    from stvg.evaluation.episodes import predict_answers
    from stvg.policies.native import distributions as dist
    from stvg.verifiers.evaluation import evaluate
    from stvg.verifiers.formats import FrameContext

    predictions = {}
    policy.eval()
    for lo in range(0, len(samples), batch_size):
        index = list(range(lo, min(lo + batch_size, len(samples))))
        videos = [with_tracks(cache.video(i, samples[i].query), tracks, i) for i in index]
        with torch.no_grad():
            out = policy.model(policy.batch(videos))
            start, end, boxes = dist.mode_actions(out)
            track = dist.mode_tracks(out) if tracks is not None else None
        actions: list[Any] = policy.to_actions(
            videos,
            [cache.frame_idx.shape[1]] * len(index),
            start,
            end,
            boxes,
            clip=True,
            track=track,
        )
        contexts = [
            FrameContext.from_sample(samples[i], cache.frame_idx[i, : cache.counts[i]], None, fps)
            for i in index
        ]
        if tracks is not None:
            source = TrackSource(tracks_config)
            contexts = [
                replace(ctx, tracks=source.for_sample(samples[i]))
                for ctx, i in zip(contexts, index, strict=True)
            ]
            actions = [
                TrackAction(action, tracks[i].ids) for action, i in zip(actions, index, strict=True)
            ]
        predictions.update(
            predict_answers(verifier, [samples[i] for i in index], contexts, actions)
        )
    policy.train()
    return evaluate(samples, predictions).metrics


def train_sft_native(config: SFTConfig, *, progress: bool = True, log: Any = print) -> SFTResult:
    """Run SFT of the native policy as described in the module docstring.

    Args:
        config: the run config.
        progress: show the decoding's and the epochs' progress (:mod:`stvg.progress`: a
            bar with the loss, the validation metric and an ETA on a terminal, a line every
            30 s elsewhere); ``log`` gets the few lines that are not progress (data ready,
            early stop, the kept checkpoint).
        log: called with one line of text per epoch and evaluation (``None`` = silent).

    Returns:
        An :class:`SFTResult`.
    """
    import torch

    from stvg.policies.native import NativePolicy
    from stvg.progress import progress as show_progress
    from stvg.training.threads import resolve_threads

    started = time.perf_counter()
    say = log or (lambda _line: None)
    torch.set_num_threads(resolve_threads(config.threads))
    torch.manual_seed(config.seed)
    run_dir = Path(config.out_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    write_run_config(config, run_dir)

    data, env = config.data, config.env
    train = _load_split(env, data, data.train_split, data.n_train, data.limit_train)
    n_fit = _train_count(len(train), data, env)
    evals = (
        _load_split(env, data, data.eval_split, data.n_eval, data.limit_eval)
        if data.eval_split
        else []
    )
    cache_dir = Path(data.cache_dir) if data.cache_dir else Path(str(env.root)) / "native_cache"
    verifier = build_verifier(env)  # the env's densify rule scores validation and eval
    max_frames = env.max_frames
    if config.zooms:  # the whole grid: a zoom may show any of its frames
        max_frames = frame_slots([*train, *evals], env.fps, None)
    frame_args = dict(
        fps=env.fps,
        max_frames=max_frames,
        max_side=env.max_side,
        frame_size=config.model.frame_size,
        cache_dir=cache_dir,
        progress=progress,
    )
    # the whole train split is cached once (the same file whatever val_size); the
    # held-out samples are its last rows
    split_cache = load_cached_frames(train, name=data.train_split, **frame_args)
    train, val = train[:n_fit], train[n_fit:]
    train_cache = _rows(split_cache, 0, n_fit)
    val_cache = _rows(split_cache, n_fit, len(split_cache)) if val else None
    eval_cache = (
        load_cached_frames(evals, name=str(data.eval_split), **frame_args) if evals else None
    )
    held_out = f" / {len(val)} validation" if val else ""
    say(
        f"data: {len(train)} train{held_out} / {len(evals)} eval samples ready "
        f"in {time.perf_counter() - started:.1f}s"
    )

    policy = NativePolicy.from_samples(
        train,
        min_count=config.min_word_count,
        model=config.model,
        max_query_len=config.max_query_len,
        seed=config.seed,
    )
    tracks_cfg = getattr(env, "tracks", None) if config.model.track_id else None
    train_tracks = val_tracks = eval_tracks = None
    if tracks_cfg is not None:
        train_tracks = track_targets(train, train_cache, tracks_cfg, env.fps)
        if val_cache is not None:
            val_tracks = track_targets(val, val_cache, tracks_cfg, env.fps)
        if eval_cache is not None:
            eval_tracks = track_targets(evals, eval_cache, tracks_cfg, env.fps)
    batcher = _Batcher(policy, train, train_cache, config.span_target, train_tracks)
    zoom_batcher = None
    if config.zooms:
        zoom_batcher = ZoomBatcher(
            policy,
            ZoomEpisodes(env, config.model.zoom, train),  # type: ignore[arg-type]
            train,
            train_cache,
            config.span_target,
            config.zoom_margin_s,
            config.seed,
        )

    def evaluate_split(
        samples: Sequence[Sample], cache: CachedFrames, tracks: Any
    ) -> dict[str, Any]:
        """The split's metrics: deterministic zoom episodes, or answers on the frames."""
        if config.zooms:
            episodes = ZoomEpisodes(env, config.model.zoom, samples)  # type: ignore[arg-type]
            return evaluate_zoom_cached(
                policy, episodes, samples, cache, env.fps, verifier=verifier
            )
        return evaluate_cached(
            policy, samples, cache, env.fps, verifier=verifier, **track_args(tracks)
        )

    def track_args(tracks: Any) -> dict[str, Any]:
        """``evaluate_cached``'s track arguments (none without the ID head)."""
        return {} if tracks_cfg is None else {"tracks": tracks, "tracks_config": tracks_cfg}

    optimiser, scheduler = sft_optimiser(policy.parameters(), config, len(train))
    steps_per_epoch = math.ceil(len(train) / config.batch_size)
    rng = np.random.default_rng(config.seed)
    history: list[dict[str, Any]] = []
    metrics_file = (run_dir / "metrics.jsonl").open("w", encoding="utf-8")
    trackers = open_trackers(config.report_to, run_dir, config=to_dict(config))

    def record(line: dict[str, Any]) -> None:
        history.append(line)
        metrics_file.write(json.dumps(line) + "\n")
        metrics_file.flush()
        trackers.log(int(line.get("step", 0)), line)

    eval_metrics: dict[str, Any] = {}
    best = _Best(config.select_metric)
    stopped_early = False
    global_step = 0
    policy.train()
    bar = show_progress(config.epochs, "SFT", enabled=progress, unit="epochs")
    try:
        for epoch in range(1, config.epochs + 1):
            epoch_start = time.perf_counter()
            sums = dict.fromkeys(
                ("losses/total", "losses/span_nll", "losses/box_nll", "losses/heat_nll"), 0.0
            )
            order = rng.permutation(len(train))
            for lo in range(0, len(order), config.batch_size):
                rows = order[lo : lo + config.batch_size].tolist()
                if zoom_batcher is not None:  # the zoom's NLL + the answer's loss
                    glance, a, b, batch, start, end, boxes = zoom_batcher.batch(rows)
                    zoom = zoom_nll(policy, policy.model(glance), a, b)
                    loss, parts = sft_loss(
                        policy, batch, start, end, boxes, config.box_weight, config.heat_weight
                    )
                    loss = loss + zoom
                    parts["losses/zoom_nll"] = float(zoom.detach())
                else:
                    batch, start, end, boxes = batcher.batch(rows)
                    loss, parts = sft_loss(
                        policy,
                        batch,
                        start,
                        end,
                        boxes,
                        config.box_weight,
                        config.heat_weight,
                        batcher.track(rows),
                    )
                optimiser.zero_grad()
                loss.backward()
                if config.grad_clip > 0:
                    torch.nn.utils.clip_grad_norm_(policy.parameters(), config.grad_clip)
                optimiser.step()
                scheduler.step()
                global_step += 1
                sums["losses/total"] += float(loss.detach())
                for key, value in parts.items():
                    sums[key] = sums.get(key, 0.0) + value
            seconds = time.perf_counter() - epoch_start
            line = {
                "epoch": epoch,
                "step": global_step,
                **{k: v / steps_per_epoch for k, v in sums.items()},
                "charts/box_std": float(policy.model.box_log_std.detach().exp().mean()),
                "charts/lr": float(scheduler.get_last_lr()[0]),
                "charts/samples_per_s": len(train) / max(seconds, 1e-9),
                "time_s": time.perf_counter() - started,
            }
            record(line)
            bar.update(1, loss=line["losses/total"])  # the epoch line of the progress display
            out_of_time = (
                config.time_limit_s is not None
                and time.perf_counter() - started > config.time_limit_s
            )
            last = epoch == config.epochs or out_of_time
            due = last or (config.eval_every and epoch % config.eval_every == 0)
            if val_cache is not None and due:
                val_metrics = evaluate_split(val, val_cache, val_tracks)
                record(
                    {
                        "epoch": epoch,
                        "step": global_step,
                        **eval_line(val_metrics, "val", ZOOM_EVAL_EXTRA),
                    }
                )
                verdict = best.update(epoch, global_step, val_metrics, policy)
                if best.stale == 0:  # a new best: the checkpoint that will be kept changed
                    say(f"val @ epoch {epoch}: {verdict}")
                bar.update(
                    0,
                    **{
                        f"val {config.select_metric}": select_value(
                            val_metrics, best.select_metric
                        ),
                        "best epoch": best.epoch,
                    },
                )
                if (
                    config.patience is not None
                    and best.stale >= config.patience
                    and epoch < config.epochs
                ):
                    stopped_early = True
                    say(
                        f"early stop after epoch {epoch}: val {config.select_metric} did not "
                        f"improve in {best.stale} evaluations (patience {config.patience}); "
                        f"keeping epoch {best.epoch}"
                    )
                    break
            elif eval_cache is not None and due:
                eval_metrics = evaluate_split(evals, eval_cache, eval_tracks)
                record(
                    {
                        "epoch": epoch,
                        "step": global_step,
                        **eval_line(eval_metrics, extra=ZOOM_EVAL_EXTRA),
                    }
                )
                bar.update(0, **{f"{data.eval_split} m_vIoU": float(eval_metrics["m_vIoU"])})
            if out_of_time:
                say(f"time limit {config.time_limit_s}s reached after epoch {epoch}")
                break
        epochs_done = epoch
        if best.state is not None:
            policy.load_state_dict(best.state)
            if eval_cache is not None:
                eval_metrics = evaluate_split(evals, eval_cache, eval_tracks)
                record(
                    {
                        "epoch": best.epoch,
                        "step": best.step,
                        **eval_line(eval_metrics, extra=ZOOM_EVAL_EXTRA),
                    }
                )
                say(
                    f"eval {data.eval_split} of the best checkpoint (epoch {best.epoch}): "
                    f"m_tIoU {eval_metrics['m_tIoU']:.3f} m_vIoU {eval_metrics['m_vIoU']:.3f}"
                )
    finally:
        bar.close()
        metrics_file.close()
        trackers.close()
    sft_extra: dict[str, Any] = {
        "epochs_done": epochs_done,
        "steps": global_step,
        "eval": eval_line(eval_metrics, extra=ZOOM_EVAL_EXTRA),
    }
    validation: dict[str, Any] = {}
    if best.state is not None:
        validation = {
            "best_epoch": best.epoch,
            "best_step": best.step,
            "stopped_early": stopped_early,
            "select_metric": config.select_metric,
            "val_size": len(val),
            "val": eval_line(best.metrics, "val"),
        }
        sft_extra.update(validation)
    checkpoint = policy.save(run_dir / "policy.pt", extra={"sft": sft_extra})
    seconds = time.perf_counter() - started
    if eval_metrics:
        summary = {
            **{k: v for k, v in eval_metrics.items() if not isinstance(v, dict)},
            "seconds": seconds,
            **{k: v for k, v in validation.items() if k != "val"},
            **eval_line(best.metrics, "val"),
        }
        (run_dir / "eval.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    say(f"checkpoint written to {checkpoint} ({seconds:.1f}s in all)")
    return SFTResult(
        run_dir,
        checkpoint,
        history,
        eval_metrics,
        seconds,
        epochs_done=epochs_done,
        best_epoch=best.epoch,
        stopped_early=stopped_early,
        val_metrics=best.metrics,
    )


def _train_count(n_samples: int, data: SFTDataConfig, env: EnvConfig) -> int:
    """Samples trained on: the train split less the ``data.val_size`` held out at its end."""
    if data.val_size == 0:
        return n_samples
    if data.val_size >= n_samples:
        limit = "" if data.limit_train is None else f" (limit_train={data.limit_train})"
        raise ConfigError(
            f"config key data.val_size: holds out {data.val_size} samples, but the train split "
            f"{data.train_split!r} under {env.root} has {n_samples}{limit}, leaving none to "
            f"train on: set data.val_size below {n_samples}"
        )
    return n_samples - data.val_size


def _rows(cache: CachedFrames, lo: int, hi: int) -> CachedFrames:
    """Rows ``lo:hi`` of a frame cache (array views, nothing copied)."""
    return CachedFrames(
        cache.sample_ids[lo:hi],
        cache.frames[lo:hi],
        cache.counts[lo:hi],
        cache.frame_idx[lo:hi],
        cache.timestamps_s[lo:hi],
    )


def select_value(metrics: dict[str, Any], select_metric: SelectMetric) -> float:
    """The value of ``select_metric`` in dataset metrics (higher is better).

    >>> select_value({"m_tIoU": 0.5, "m_vIoU": 0.25}, "m_tIoU+m_vIoU")
    0.75
    """
    return float(sum(metrics[name] for name in select_metric.split("+")))


class _Best:
    """The best validation evaluation so far, with a copy of its weights."""

    def __init__(self, select_metric: SelectMetric) -> None:
        self.select_metric = select_metric
        self.value = -math.inf
        self.epoch: int | None = None
        self.step: int | None = None
        self.metrics: dict[str, Any] = {}
        self.state: dict[str, Any] | None = None
        self.stale = 0  # evaluations since the best one

    def update(self, epoch: int, step: int, metrics: dict[str, Any], policy: Any) -> str:
        """Take the evaluation of ``epoch`` if strictly better (the first always is);
        returns the log text saying which is best."""
        value = select_value(metrics, self.select_metric)
        name = self.select_metric
        if self.state is None or value > self.value:
            before = "" if self.epoch is None else f", was {self.value:.4f} @ epoch {self.epoch}"
            self.value, self.epoch, self.step, self.stale = value, epoch, step, 0
            self.metrics = {k: v for k, v in metrics.items() if not isinstance(v, dict)}
            self.state = {k: v.detach().clone() for k, v in policy.state_dict().items()}
            return f"new best {name} {value:.4f}{before}"
        self.stale += 1
        return (
            f"best {name} {self.value:.4f} @ epoch {self.epoch} "
            f"({self.stale} evaluation{'s' if self.stale > 1 else ''} without improvement)"
        )


__all__ = [
    "SFTConfig",
    "SFTDataConfig",
    "SelectMetric",
    "evaluate_cached",
    "select_value",
    "sft_loss",
    "train_sft_native",
]
