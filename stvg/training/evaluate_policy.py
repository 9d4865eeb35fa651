"""Run a policy over a dataset split through ``GroundingEnv``: predictions, metrics, cost.

``stvg evaluate --policy CONFIG --dataset D --split S [--root R] [--fps F] [--out DIR]``
reads a :class:`PolicyEvalConfig` YAML::

    policy: {name: native, config: {checkpoint: runs/sft_native/policy.pt}}
    env: {max_frames: 16, max_side: 224}     # any GroundingEnv key; optional
    batch_size: 16
    limit: null                              # first n samples only
    on_bad_video: error                      # or skip: score the others, list the bad ones

builds the env (``action_format`` from the policy: ``struct`` or ``text``), answers every
sample (observations in batches through ``act_batch``, each answer then scored by the env's
``step``), and reports:

* the dataset metrics of :func:`stvg.verifiers.evaluation.evaluate` on the densified
  predictions (m_tIoU, m_vIoU, vIoU@0.3, vIoU@0.5, by sentence type when known);
* the mean env reward and reward terms;
* cost: frames shown, visual tokens per model family (from the env's ``info``), output
  tokens (text policies that report them), and policy seconds per sample.

With ``out_dir`` it writes ``predictions.json`` (the DESIGN.md predictions format),
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

import json
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml

from stvg.config import InvalidField, from_yaml, to_dict
from stvg.data.errors import DataError, VideoError
from stvg.policies.base import TextGenerator, env_action
from stvg.verifiers.evaluation import EvaluationReport, evaluate
from stvg.verifiers.predictions import Prediction, write_predictions

_CLI_ENV_KEYS = ("dataset", "split", "root", "fps")


@dataclass
class PolicySpec:
    """The policy to evaluate.

    Attributes:
        name: registered policy name (``random``, ``oracle``, ``prior``, ``native``, ``vlm``).
        config: its constructor config (e.g. ``{checkpoint: PATH}`` for ``native``).
    """

    name: str
    config: dict[str, Any] = field(default_factory=dict)


@dataclass
class PolicyEvalConfig:
    """What ``stvg evaluate --policy`` runs.

    Attributes:
        policy: the policy.
        env: ``GroundingEnv`` keyword arguments (``max_frames``, ``max_side``, ``densify``,
            ``verifier``, ``answer_format``, ...); ``dataset``, ``split``, ``root`` and
            ``fps`` given on the command line replace the ones here, and
            ``action_format`` comes from the policy.
        batch_size: observations answered per ``act_batch`` call.
        limit: evaluate only the first ``limit`` samples (``None`` = all; bad videos
            among them are skipped, not replaced).
        on_bad_video: a sample whose video cannot be decoded stops the evaluation
            (``error``, default; partial results are written) or is left out and listed
            (``skip``); see the module docstring.
        progress: show a tqdm progress bar.
        control: a visual-reliance control (:mod:`stvg.envs.controls`): the policy sees
            another sample's frames (``shuffled-video``) or black frames (``blank-video``)
            while the query, timestamps and ground truth stay the sample's own; ``None``
            shows the real frames.
        control_seed: seed of the ``shuffled-video`` donor permutation (the same seed gives
            every sample the same donor).
    """

    policy: PolicySpec
    env: dict[str, Any] = field(default_factory=dict)
    batch_size: int = 8
    limit: int | None = None
    on_bad_video: Literal["error", "skip"] = "error"
    progress: bool = True
    control: Literal["shuffled-video", "blank-video"] | None = None
    control_seed: int = 0

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise InvalidField("batch_size", f"must be >= 1, got {self.batch_size}")
        if self.limit is not None and self.limit < 1:
            raise InvalidField("limit", f"must be >= 1 or null (all samples), got {self.limit}")
        if "action_format" in self.env:
            raise InvalidField(
                "env.action_format",
                "is set by the policy (struct or text); remove it from env",
            )
        if "on_bad_video" in self.env:
            raise InvalidField(
                "env.on_bad_video",
                "an evaluation never replaces a sample by another: set on_bad_video at the "
                "top level of the config (error or skip) and remove it from env",
            )


@dataclass
class PolicyEvaluation:
    """The result of :func:`evaluate_policy`.

    Attributes:
        report: the metrics report (:class:`~stvg.verifiers.evaluation.EvaluationReport`).
        predictions: ``{sample_id: Prediction}`` (samples whose answer was unusable have
            none and score 0).
        rewards: mean env reward (``reward``) and mean of every ``reward/<term>``.
        cost: mean cost per sample: ``frames_shown``, ``visual_tokens/<family>``,
            ``output_tokens`` (when the policy reports them) and ``policy_seconds`` (time
            in the policy's ``act_batch``, per sample).
        per_sample: one dict per sample (id, t_iou, v_iou, reward, parse error, cost).
        action_format: ``struct`` or ``text``.
        seconds: wall time of the whole evaluation (env, policy and scoring).
        bad_videos: ``{sample_id, video_path, reason}`` of each sample left out because
            its video could not be decoded (``on_bad_video: skip``).
        stopped_at: ``{sample_id, reason}`` of what stopped an incomplete evaluation
            (partial results); ``None`` when every sample was evaluated.
        control: the visual-reliance control the policy was scored under (``None``: the
            real frames).
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
            "n_bad_videos": len(self.bad_videos),
            "bad_videos": list(self.bad_videos),
            "control": self.control,
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


def load_policy_eval_config(
    path: str | Path, overrides: Mapping[str, Any] | None = None
) -> PolicyEvalConfig:
    """Read and validate a :class:`PolicyEvalConfig` YAML file with dotted ``overrides``
    (errors name the key path)."""
    return from_yaml(PolicyEvalConfig, path, overrides=overrides)


def build_policy(spec: PolicySpec) -> Any:
    """``stvg.policies.make(spec.name, **spec.config)``."""
    from stvg.policies.registry import make

    return make(spec.name, **spec.config)


def answer_batch(
    policy: Any,
    obs_list: Sequence[Mapping[str, Any]],
    infos: Sequence[Mapping[str, Any]],
    contexts: Sequence[Any],
) -> list[Any]:
    """The policy's actions for a batch: ``act_batch(obs_list, infos)``, the one
    :class:`~stvg.policies.base.Policy` signature (``infos``: the env's reset infos).

    A :class:`~stvg.policies.base.TextGenerator` (the VLM policy) answers through
    ``generate_batch(obs_list, contexts)`` instead, in one batched call: its
    :class:`~stvg.policies.base.TextCompletion` objects keep the output-token count, and the
    episodes' ``FrameContext`` objects (``contexts``) are checked against its prompts.
    """
    if isinstance(policy, TextGenerator):
        return list(policy.generate_batch(obs_list, contexts))
    return list(policy.act_batch(obs_list, infos))


def _output_tokens(action: Any) -> int | None:
    tokens = getattr(action, "output_tokens", None)
    return int(tokens) if isinstance(tokens, (int, np.integer)) else None


def _prediction(env: Any, action: Any) -> Prediction | None:
    """The densified prediction the env's verifier makes of ``action`` (``None`` when the
    answer is unusable)."""
    from stvg.envs.answers import struct_to_parse

    ctx, sample, verifier = env.frame_context, env.sample, env.verifier
    if isinstance(action, str):
        parse = verifier.parse(action, ctx)
    else:
        parse, _ = struct_to_parse(action, ctx)
    span, tube = verifier.predict(parse, sample, ctx)
    if span is None or tube is None:
        return None
    return Prediction(span, tube)


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
    from tqdm import tqdm

    from stvg.envs.contract import bind_env_kwargs, check_env_policy
    from stvg.envs.grounding import GroundingEnv

    started = time.perf_counter()
    policy = policy if policy is not None else build_policy(config.policy)
    action_format = getattr(policy, "action_format", "text")
    env_kwargs = bind_env_kwargs(
        policy, {**config.env, "action_format": action_format, "on_bad_video": "error"}
    )
    env = GroundingEnv(env_kwargs, samples=samples)
    check_env_policy(
        env, policy, env_name="evaluation env", policy_name=f"policy {config.policy.name}"
    )
    if hasattr(policy, "bind_samples"):
        policy.bind_samples(env.samples)
    n = len(env.samples) if config.limit is None else min(config.limit, len(env.samples))
    state = _Progress(control=_Control.of(config, len(env.samples)))
    bar = tqdm(total=n, desc=f"evaluate {config.policy.name}", disable=not config.progress)

    def finish(stopped_at: dict[str, str] | None) -> PolicyEvaluation | None:
        bar.close()
        scored = {r["sample_id"] for r in state.per_sample}
        done = [s for s in list(env.samples)[:n] if s.sample_id in scored]
        if not done:  # nothing scored: the counts and the reason only
            if out_dir is not None:
                _write_empty(state, stopped_at, config, Path(out_dir))
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
        )
        if out_dir is not None:
            _write(result, config, Path(out_dir))
        return result

    try:
        for lo in range(0, n, config.batch_size):
            _evaluate_batch(env, policy, config, range(lo, min(lo + config.batch_size, n)), state)
            bar.update(min(config.batch_size, n - lo))
    except VideoError as exc:
        sample = env.samples[state.current]
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
        at = "" if state.current is None else env.samples[state.current].sample_id
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
class _Control:
    """A visual-reliance control applied to each observation (:mod:`stvg.envs.controls`)."""

    name: str
    donors: np.ndarray  # donors[i]: the sample whose frames sample i is shown

    @classmethod
    def of(cls, config: PolicyEvalConfig, n_samples: int) -> _Control | None:
        if config.control is None:
            return None
        from stvg.envs.controls import donor_permutation

        if config.control == "shuffled-video" and n_samples < 2:
            raise DataError(
                "the shuffled-video control needs at least 2 samples (each is shown another "
                f"sample's frames); the split has {n_samples}"
            )
        return cls(config.control, donor_permutation(n_samples, config.control_seed))

    def observe(self, env: Any, obs: dict[str, Any], index: int) -> dict[str, Any]:
        """``obs`` of sample ``index`` with the control's frames."""
        from stvg.envs.controls import controlled_observation

        if self.name == "blank-video":
            return controlled_observation(obs, self.name)
        return controlled_observation(obs, self.name, self._donor_frames(env, index))

    def _donor_frames(self, env: Any, index: int) -> np.ndarray:
        """The frames of ``index``'s donor; an unreadable donor passes the turn to the next
        sample of the cycle (never ``index`` itself)."""
        donor = int(self.donors[index])
        while donor != index:
            try:
                return env.frame_source.frames(env.samples[donor]).frames
            except VideoError:
                donor = int(self.donors[donor])
        raise DataError(
            f"the shuffled-video control found no readable video to show sample "
            f"{env.samples[index].sample_id!r}: every other video of the split is unreadable"
        )


@dataclass
class _Progress:
    """What an evaluation has so far (kept when it stops)."""

    control: _Control | None = None
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
            sample = env.samples[i]
            state.bad_videos.append(
                {"sample_id": sample.sample_id, "video_path": sample.video_path, "reason": str(exc)}
            )
            warnings.warn(f"on_bad_video=skip: left out {exc}", stacklevel=3)
            continue
        if state.control is not None:
            obs = state.control.observe(env, obs, i)
        index.append(i)
        obs_list.append(obs)
        infos.append(info)
        contexts.append(env.frame_context)
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
    for i, action in zip(index, actions, strict=True):
        state.current = i
        env.reset(options={"index": i})
        _, reward, _, _, info = env.step(env_action(action))
        prediction = _prediction(env, env_action(action))
        if prediction is not None:
            state.predictions[env.sample.sample_id] = prediction
        state.per_sample.append(_sample_record(info, float(reward), action, seconds))


def _sample_record(
    info: Mapping[str, Any], reward: float, action: Any, seconds: float
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "sample_id": info["sample_id"],
        "t_iou": float(info["t_iou"]),
        "v_iou": float(info["v_iou"]),
        "reward": reward,
        "parse_error": info.get("parse_error") or info.get("invalid_action"),
    }
    for key, value in info.items():
        if key.startswith("reward/") and isinstance(value, (int, float)):
            record[key] = float(value)
        if key.startswith("cost/") and isinstance(value, (int, float, np.integer, np.floating)):
            record[key] = float(value)
    tokens = _output_tokens(action)
    if tokens is not None:
        record["cost/output_tokens"] = float(tokens)
    record["cost/policy_seconds"] = seconds
    return record


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


def _write(result: PolicyEvaluation, config: PolicyEvalConfig, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    write_predictions(out_dir / "predictions.json", result.predictions)
    (out_dir / "metrics.json").write_text(
        json.dumps(result.summary(), indent=2) + "\n", encoding="utf-8"
    )
    with (out_dir / "per_sample.jsonl").open("w", encoding="utf-8") as handle:
        for record in result.per_sample:
            handle.write(json.dumps(record) + "\n")
    (out_dir / "config.yaml").write_text(
        yaml.safe_dump(to_dict(config), sort_keys=False), encoding="utf-8"
    )


def _write_empty(
    state: _Progress, stopped_at: dict[str, str] | None, config: PolicyEvalConfig, out_dir: Path
) -> None:
    """``metrics.json`` (counts, bad videos, where it stopped) of an evaluation that
    scored no sample; empty ``predictions.json`` and ``per_sample.jsonl``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    write_predictions(out_dir / "predictions.json", {})
    summary: dict[str, Any] = {
        "n": 0,
        "n_bad_videos": len(state.bad_videos),
        "bad_videos": list(state.bad_videos),
        "complete": stopped_at is None,
        **({} if stopped_at is None else {"stopped_at": dict(stopped_at)}),
    }
    (out_dir / "metrics.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    (out_dir / "per_sample.jsonl").write_text("", encoding="utf-8")
    (out_dir / "config.yaml").write_text(
        yaml.safe_dump(to_dict(config), sort_keys=False), encoding="utf-8"
    )


#: The per-sample figures a control comparison pairs, and their dataset names.
CONTROL_METRICS: dict[str, str] = {"v_iou": "m_vIoU", "t_iou": "m_tIoU"}


def compare_control(real: PolicyEvaluation, controlled: PolicyEvaluation) -> dict[str, Any]:
    """How much a policy's score drops under a visual-reliance control.

    The samples scored in both evaluations are paired by id; for vIoU and tIoU the result
    holds the real and controlled means over those samples and their paired drop
    (``real - controlled``, fractions in [-1, 1]) with a 95% bootstrap percentile interval
    (:func:`stvg.stats.paired_difference`, 10,000 resamples, seed 0).

    Returns:
        ``{"control", "n", "m_vIoU": {"real", "control", "drop", "drop_lo", "drop_hi"},
        "m_tIoU": {...}}``.

    Raises:
        ValueError: ``controlled`` ran without a control, or the two share no sample.
    """
    from stvg.stats import paired_difference

    if controlled.control is None:
        raise ValueError("the second evaluation ran without a control (control=None)")
    real_by_id = {r["sample_id"]: r for r in real.per_sample}
    pairs = [
        (real_by_id[r["sample_id"]], r)
        for r in controlled.per_sample
        if r["sample_id"] in real_by_id
    ]
    if not pairs:
        raise ValueError("the real and the controlled evaluation share no sample")
    out: dict[str, Any] = {"control": controlled.control, "n": len(pairs)}
    for key, name in CONTROL_METRICS.items():
        a = [float(p[0][key]) for p in pairs]
        b = [float(p[1][key]) for p in pairs]
        drop = paired_difference(a, b)
        out[name] = {
            "real": float(np.mean(a)),
            "control": float(np.mean(b)),
            "drop": drop.mean,
            "drop_lo": drop.lo,
            "drop_hi": drop.hi,
        }
    return out


def format_control(comparison: dict[str, Any], scale: float = 100.0) -> str:
    """One line: ``shuffled-video: m_vIoU 43.10 -> 2.05 (drop 41.05 [38.20, 43.90]), ...``
    (percent)."""
    parts = []
    for name in CONTROL_METRICS.values():
        m = comparison[name]
        parts.append(
            f"{name} {m['real'] * scale:.2f} -> {m['control'] * scale:.2f} (drop "
            f"{m['drop'] * scale:+.2f} [{m['drop_lo'] * scale:+.2f}, {m['drop_hi'] * scale:+.2f}])"
        )
    return f"{comparison['control']} control (n={comparison['n']}): " + ", ".join(parts)


def with_cli_overrides(config: PolicyEvalConfig, **overrides: Any) -> PolicyEvalConfig:
    """``config`` with the command line's ``dataset``, ``split``, ``root`` and ``fps``
    (those given, not ``...``) put into ``env``; ``fps=None`` means every native frame."""
    env = dict(config.env)
    for key in _CLI_ENV_KEYS:
        if key in overrides and overrides[key] is not ...:
            env[key] = overrides[key]
    return replace(config, env=env)


__all__ = [
    "EvaluationStopped",
    "PolicyEvalConfig",
    "answer_batch",
    "PolicyEvaluation",
    "PolicySpec",
    "CONTROL_METRICS",
    "build_policy",
    "compare_control",
    "format_control",
    "evaluate_policy",
    "load_policy_eval_config",
    "with_cli_overrides",
]
