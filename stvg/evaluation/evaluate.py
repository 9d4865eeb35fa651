"""Run a policy over a dataset split through an env: predictions, metrics, cost.

``stvg evaluate --policy CONFIG --dataset D --split S [--root R] [--fps F] [--out DIR]``
reads a :class:`~stvg.evaluation.config.PolicyEvalConfig`, builds the env
(``action_format`` from the policy: ``struct`` or ``text``), answers every sample
(observations in batches through :func:`~stvg.evaluation.episodes.answer_batch`, each
answer then scored by the env's ``step``, :func:`~stvg.evaluation.episodes.finish_episodes`),
and reports:

* the dataset metrics of :func:`stvg.verifiers.evaluation.evaluate` on the densified
  predictions the env scored (m_tIoU, m_vIoU, vIoU@0.3, vIoU@0.5, by sentence type when
  known), with the env's verifier and densify settings;
* the mean env reward and reward terms;
* cost: frames shown, visual tokens per model family (from the env's ``info``), output
  tokens (text policies that report them), policy seconds per sample, and with the
  ``track`` densify method the seconds it spent reading frames and tracking
  (``densify_seconds``) and, summed over the samples, where it fell back to interpolation
  (``densify`` in the summary: ``tracked_frames``, ``fallback_frames``, ``segments``,
  ``fallback_segments``).

With ``out_dir`` it writes ``predictions.json`` (the predictions format of :mod:`stvg.verifiers.predictions`),
``metrics.json`` (metrics, rewards, cost, counts), ``per_sample.jsonl`` and the resolved
``config.yaml``.

A sample whose video cannot be decoded (:class:`~stvg.data.errors.VideoError`):

* ``on_bad_video: error`` (the default, so that a number is never silently over fewer
  samples): the evaluation stops with :class:`EvaluationStopped`, one line naming the
  sample and the file; with ``out_dir`` the samples scored before it are written first
  (``metrics.json`` then has ``complete: false`` and ``stopped_at: {sample_id, reason}``).
  Any other exception also writes those partial results before it propagates.
* ``on_bad_video: skip``: the sample is left out of the metrics (``n`` counts the scored
  samples), warned about, and listed with its reason under ``bad_videos`` (with
  ``n_bad_videos``) in :meth:`PolicyEvaluation.summary` / ``metrics.json``.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from stvg.data.errors import DataError, VideoError
from stvg.evaluation.answers import answer_stats
from stvg.evaluation.config import PolicyEvalConfig
from stvg.evaluation.controls import ControlView
from stvg.evaluation.episodes import EpisodeEnd, answer_batch, finish_episodes
from stvg.evaluation.outputs import write_empty, write_evaluation
from stvg.policies.base import SampleBound
from stvg.policies.base import action_format as policy_action_format
from stvg.progress import progress
from stvg.verifiers.evaluation import EvaluationReport, evaluate
from stvg.verifiers.predictions import Prediction


@dataclass
class PolicyEvaluation:
    """The result of :func:`evaluate_policy`.

    Attributes:
        report: the metrics report (:class:`~stvg.verifiers.evaluation.EvaluationReport`).
        predictions: ``{sample_id: Prediction}`` (samples whose answer was unusable have
            none and score 0).
        rewards: mean env reward (``reward``) and mean of every ``reward/<term>``.
        cost: mean cost per sample: ``frames_shown``, ``visual_tokens/<family>``,
            ``output_tokens`` and ``prompt_tokens`` (when the policy reports them),
            ``policy_seconds`` (time in the policy's ``act_batch``, per sample) and
            ``densify_seconds`` (densify method ``track``: reading frames and tracking).
        per_sample: one dict per sample (id, t_iou, v_iou, reward, parse error, the
            policy's error when it gave no text, cost).
        action_format: ``struct`` or ``text``.
        seconds: wall time of the whole evaluation (env, policy and scoring).
        bad_videos: ``{sample_id, video_path, reason}`` of each sample left out because
            its video could not be decoded (``on_bad_video: skip``).
        stopped_at: ``{sample_id, reason}`` of what stopped an incomplete evaluation
            (partial results); ``None`` when every sample was evaluated.
        control: the visual-reliance control the policy was scored under (``None``: the
            real frames).
        densify: totals over the samples of what a densify method that reads frames did
            (``tracked_frames``, ``fallback_frames``, ``segments``, ``fallback_segments``;
            empty for the interpolation methods).
    """

    report: EvaluationReport
    predictions: dict[str, Prediction]
    rewards: dict[str, float]
    cost: dict[str, float]
    per_sample: list[dict[str, Any]]
    action_format: str
    seconds: float
    bad_videos: list[dict[str, str]] = field(default_factory=list)
    stopped_at: dict[str, str] | None = None
    control: str | None = None
    densify: dict[str, float] = field(default_factory=dict)

    @property
    def metrics(self) -> dict[str, Any]:
        """The dataset metrics (``m_tIoU``, ``m_vIoU``, ``vIoU@0.3``, ``vIoU@0.5``, ...)."""
        return self.report.metrics

    def summary(self) -> dict[str, Any]:
        """``metrics.json`` content: metrics, rewards, cost and counts."""
        return {
            **self.report.to_dict(per_sample=False),
            "rewards": self.rewards,
            "cost": self.cost,
            "action_format": self.action_format,
            "seconds": self.seconds,
            "n_parse_errors": sum(1 for s in self.per_sample if s["parse_error"] is not None),
            "n_policy_errors": sum(1 for s in self.per_sample if s.get("policy_error")),
            "answers": answer_stats(self.per_sample),
            "n_bad_videos": len(self.bad_videos),
            "bad_videos": list(self.bad_videos),
            "control": self.control,
            **({"densify": dict(self.densify)} if self.densify else {}),
            "complete": self.stopped_at is None,
            **({} if self.stopped_at is None else {"stopped_at": dict(self.stopped_at)}),
        }


class EvaluationStopped(DataError):
    """An evaluation that stopped at a sample (``on_bad_video: error``); its partial
    results were written (when it had an ``out_dir``) and are in :attr:`partial`
    (``None`` when no sample was scored before it)."""

    def __init__(self, message: str, partial: PolicyEvaluation | None, sample_id: str) -> None:
        super().__init__(message)
        self.partial = partial
        self.sample_id = sample_id


def build_policy(spec: Any) -> Any:
    """``stvg.policies.make(spec.name, **spec.config)``."""
    from stvg.policies.registry import make

    return make(spec.name, **spec.config)


def evaluate_policy(
    config: PolicyEvalConfig,
    *,
    policy: Any = None,
    samples: Sequence[Any] | None = None,
    out_dir: str | Path | None = None,
    protocol: str = "official",
) -> PolicyEvaluation:
    """Run ``config.policy`` over the env's split (see the module docstring).

    Args:
        config: the evaluation config (``env`` must name the dataset and split, or give
            ``samples``).
        policy: an already built policy to use instead of ``config.policy``.
        samples: in-memory samples instead of loading ``env.dataset``.
        out_dir: write ``predictions.json``, ``metrics.json``, ``per_sample.jsonl`` and
            ``config.yaml`` here.
        protocol: metric protocol of the report (``official``, ``tubedetr``,
            ``tubedetr-grid`` or ``cgstvg``; see :mod:`stvg.verifiers.metrics`).

    Returns:
        A :class:`PolicyEvaluation`.
    """
    from stvg.envs.contract import bind_env_kwargs, check_env_policy
    from stvg.envs.make import make_env

    started = time.perf_counter()
    policy = policy if policy is not None else build_policy(config.policy)
    action_format = policy_action_format(policy)
    env_config = config.env
    if env_config.kind in ("grounding", "zoom"):
        env_config = replace(env_config, action_format=action_format)
    kwargs = bind_env_kwargs(policy, env_config.env_kwargs())
    if samples is not None:
        kwargs["samples"] = samples
    env = make_env(env_config.id, kwargs, env_config.max_episode_steps)
    check_env_policy(
        env, policy, env_name="evaluation env", policy_name=f"policy {config.policy.name}"
    )
    try:
        return _run(env, policy, config, action_format, started, out_dir, protocol)
    finally:
        env.close()


def _run(
    env: Any,
    policy: Any,
    config: PolicyEvalConfig,
    action_format: str,
    started: float,
    out_dir: str | Path | None,
    protocol: str,
) -> PolicyEvaluation:
    """Play and score every sample of ``env`` (see :func:`evaluate_policy`)."""
    base = env.unwrapped
    if isinstance(policy, SampleBound):
        policy.bind_samples(base.samples)
    n = len(base.samples) if config.limit is None else min(config.limit, len(base.samples))
    control = ControlView.of(config.control, config.control_seed, len(base.samples))
    state = _Progress(control=control)
    bar = progress(n, f"evaluate {config.policy.name}", enabled=config.progress, unit="samples")

    def finish(stopped_at: dict[str, str] | None) -> PolicyEvaluation | None:
        bar.close()
        scored = {r["sample_id"] for r in state.per_sample}
        done = [s for s in list(base.samples)[:n] if s.sample_id in scored]
        if not done:  # nothing scored: the counts and the reason only
            if out_dir is not None:
                write_empty(state.bad_videos, stopped_at, config, Path(out_dir))
            return None
        result = PolicyEvaluation(
            report=evaluate(done, state.predictions, protocol=protocol),  # type: ignore[arg-type]
            predictions=state.predictions,
            rewards=_means(state.per_sample, "reward"),
            cost=_means(state.per_sample, "cost/"),
            per_sample=state.per_sample,
            action_format=action_format,
            seconds=time.perf_counter() - started,
            bad_videos=state.bad_videos,
            stopped_at=stopped_at,
            control=config.control,
            densify=_sums(state.per_sample, "densify/"),
        )
        if out_dir is not None:
            write_evaluation(result, config, Path(out_dir))
        return result

    try:
        for lo in range(0, n, config.batch_size):
            _evaluate_batch(env, policy, config, range(lo, min(lo + config.batch_size, n)), state)
            bar.update(min(config.batch_size, n - lo))
    except VideoError as exc:
        sample = base.samples[state.current]
        partial = finish({"sample_id": sample.sample_id, "reason": str(exc)})
        written = f"; partial results in {out_dir}" if out_dir is not None else ""
        raise EvaluationStopped(
            f"{exc} [evaluation stopped after {len(state.per_sample)} of {n} samples"
            f"{written}; or set on_bad_video: skip (stvg evaluate --on-bad-video skip) to score "
            "the other samples]",
            partial,
            sample.sample_id,
        ) from exc
    except BaseException as exc:  # a policy error, Ctrl-C: keep what was scored, then stop
        at = "" if state.current is None else base.samples[state.current].sample_id
        finish({"sample_id": at, "reason": f"{type(exc).__name__}: {exc}"})
        raise
    result = finish(None)
    if result is None:
        raise DataError(
            f"none of the {n} samples could be evaluated: every video is unreadable "
            f"(on_bad_video=skip; first: {state.bad_videos[0]['reason']})",
            hint="check the dataset's video folder; re-encode or re-download the videos",
        )
    return result


@dataclass
class _Progress:
    """What an evaluation has so far (kept when it stops)."""

    control: ControlView | None = None
    predictions: dict[str, Prediction] = field(default_factory=dict)
    per_sample: list[dict[str, Any]] = field(default_factory=list)
    bad_videos: list[dict[str, str]] = field(default_factory=list)
    current: int | None = None  # index of the sample being evaluated


def _evaluate_batch(
    env: Any, policy: Any, config: PolicyEvalConfig, indices: range, state: _Progress
) -> None:
    """Answer and score the samples ``indices`` into ``state`` (bad videos skipped when
    ``on_bad_video`` is ``skip``)."""
    index, obs_list, infos, contexts = [], [], [], []
    stop: tuple[int, VideoError] | None = None
    for i in indices:
        state.current = i
        try:
            obs, info = env.reset(options={"index": i})
        except VideoError as exc:
            if config.on_bad_video == "error":  # score the batch's samples before it first
                stop = (i, exc)
                break
            sample = env.unwrapped.samples[i]
            state.bad_videos.append(
                {"sample_id": sample.sample_id, "video_path": sample.video_path, "reason": str(exc)}
            )
            warnings.warn(f"on_bad_video=skip: left out {exc}", stacklevel=3)
            continue
        if state.control is not None:
            obs = state.control.observe(env.unwrapped, obs, i)
        index.append(i)
        obs_list.append(obs)
        infos.append(info)
        contexts.append(env.unwrapped.frame_context)
    if index:
        _answer(env, policy, index, obs_list, infos, contexts, state)
    if stop is not None:
        state.current = stop[0]
        raise stop[1]
    state.current = None


def _answer(
    env: Any,
    policy: Any,
    index: Sequence[int],
    obs_list: Sequence[Any],
    infos: Sequence[Any],
    contexts: Sequence[Any],
    state: _Progress,
) -> None:
    """The policy's answers to the reset samples ``index``, scored by the env."""
    state.current = index[0]
    tick = time.perf_counter()
    actions = answer_batch(policy, obs_list, infos, contexts)
    seconds = (time.perf_counter() - tick) / len(index)

    def answer_next(obs: Any, info: Mapping[str, Any]) -> Any:
        return answer_batch(policy, [obs], [info], [env.unwrapped.frame_context])[0]

    def on_start(k: int) -> None:
        state.current = index[k]

    ends = finish_episodes(
        env, policy, [{"index": i} for i in index], actions, answer_next, on_start=on_start
    )
    for end in ends:
        if end.prediction is not None:
            state.predictions[end.info["sample_id"]] = end.prediction
        state.per_sample.append(sample_record(end, seconds))


def sample_record(end: EpisodeEnd, seconds: float) -> dict[str, Any]:
    """``per_sample.jsonl`` record of one played episode: ``sample_id``, ``t_iou``,
    ``v_iou``, ``reward`` (the episode's return), ``parse_error``, ``format_ok`` and
    ``repairs`` (what the verifier made of the answer), ``answer_text`` and ``finished``
    (text policies: the raw answer, and ``False`` when the token budget cut it),
    ``policy_error`` (why a text policy gave no text: a served model's failed request),
    every ``reward/<term>``, ``cost/...`` and ``densify/...`` figure,
    ``cost/output_tokens`` (text
    policies), ``cost/prompt_tokens`` (when the policy reports them) and
    ``cost/policy_seconds``."""
    info = end.info
    record: dict[str, Any] = {
        "sample_id": info["sample_id"],
        "t_iou": float(info["t_iou"]),
        "v_iou": float(info["v_iou"]),
        "reward": end.episode_return,
        "parse_error": info.get("parse_error") or info.get("invalid_action"),
    }
    if "format_ok" in info:
        record["format_ok"] = bool(info["format_ok"])
    if info.get("repairs") is not None:
        record["repairs"] = [str(r) for r in info["repairs"]]
    if end.answer_text is not None:
        record["answer_text"] = end.answer_text
        record["finished"] = end.finished
    if end.policy_error is not None:
        record["policy_error"] = end.policy_error
    for key, value in info.items():
        if key.startswith("reward/") and isinstance(value, (int, float)):
            record[key] = float(value)
        numeric = isinstance(value, (int, float, np.integer, np.floating))
        if key.startswith(("cost/", "densify/")) and numeric:
            record[key] = float(value)
    if end.output_tokens is not None:
        record["cost/output_tokens"] = float(end.output_tokens)
    if end.prompt_tokens is not None:
        record["cost/prompt_tokens"] = float(end.prompt_tokens)
    record["cost/policy_seconds"] = seconds
    return record


def _sums(records: Sequence[Mapping[str, Any]], prefix: str) -> dict[str, float]:
    """Sum over ``records`` of each numeric key starting with ``prefix`` (removed)."""
    keys = dict.fromkeys(k for r in records for k in r if k.startswith(prefix))
    return {key[len(prefix) :]: float(sum(float(r.get(key, 0.0)) for r in records)) for key in keys}


def _means(records: Sequence[Mapping[str, Any]], prefix: str) -> dict[str, float]:
    """Mean over ``records`` of each numeric key starting with ``prefix`` (prefix removed
    for ``cost/``)."""
    keys = dict.fromkeys(k for r in records for k in r if k.startswith(prefix))
    out = {}
    for key in keys:
        values = [float(r[key]) for r in records if key in r]
        name = key[len("cost/") :] if prefix == "cost/" else key
        out[name] = float(np.mean(values)) if values else 0.0
    return out


__all__ = [
    "EvaluationStopped",
    "PolicyEvaluation",
    "build_policy",
    "evaluate_policy",
    "sample_record",
]
