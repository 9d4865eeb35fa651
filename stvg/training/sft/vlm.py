"""Supervised fine-tuning (SFT) of the VLM policy on target texts.

``stvg train-sft CONFIG`` with a ``policy: {name: vlm, ...}`` section reads a
:class:`VLMSFTConfig` (see :mod:`stvg.training.sft`), then:

1. makes sure the data exists (synthetic splits are generated when missing) and loads the
   policy (:class:`~stvg.policies.vlm.VLMPolicy`) from its checkpoint;
2. builds the train ``GroundingEnv`` from the ``env`` section, the keys the user left unset
   (answer format, coordinates, fps, the processor's frame geometry) taken from the policy,
   so the env scores in the answer contract the policy answers in;
3. reads the target texts: the ``data.targets`` JSONL (``{"sample_id", "target"}`` lines,
   :mod:`stvg.synthesis.targets`), or, without one, the ground truth of every train
   sample rendered by the episode's answer contract (written to ``<out_dir>/targets.jsonl``);
4. trains for ``epochs`` passes with AdamW (linear warm-up, then cosine decay) on the
   token-level negative log-likelihood of the targets given the prompt,
   ``loss = -(sum of the batch's target-token log-probs) / (target tokens in the batch)``.
   The prompt is the policy's own (:meth:`VLMPolicy.log_prob` builds it from the env's
   observation and frame context, the code rollouts use); prompt tokens are never scored;
   each target is tokenized with the policy's tokenizer and ends with the end-of-turn token
   (``<|im_end|>``), so a greedy decode of a learnt answer stops. A batch of
   ``batch_size`` samples is processed ``micro_batch_size`` at a time with gradient
   accumulation (the gradient equals that of the whole batch). A bf16/fp16 checkpoint trains
   in float32 master weights under autocast (:mod:`stvg.training.learner`), and is cast
   back to its dtype for saving;
5. writes the run folder: ``config.yaml`` (resolved), ``metrics.jsonl`` (one line per
   optimiser step and per evaluation), ``hf/`` (a Hugging Face folder: model, tokenizer and
   processor files; ``policy: {name: vlm, config: {model_path: <out_dir>/hf}}`` loads the
   trained model), and ``targets.jsonl`` when ground-truth targets were used;
6. evaluates with greedy decoding through the env on ``data.eval_split``
   (:func:`stvg.evaluation.evaluate_policy`: m_tIoU, m_vIoU, vIoU@0.3/0.5,
   the mean reward and its terms) every ``eval_every`` epochs and at the end, writing
   ``eval.json`` and ``eval/`` (predictions, per-sample records).
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np

from stvg.config import InvalidField, set_by, to_dict
from stvg.envs.config import EnvConfig, as_env_config
from stvg.policies.base import HFExportable
from stvg.policies.vlm.completion import end_of_turn_id, target_completion
from stvg.policies.vlm.config import VLMPolicyConfig
from stvg.training.sft.common import (
    SFTResult,
    SFTSplits,
    check_at_least,
    check_run_options,
    eval_line,
    sft_optimiser,
    write_run_config,
)
from stvg.training.trackers import Reporter, open_trackers
from stvg.training.vision_warmup import VisionWarmupConfig

#: Checkpoint files that the trained model's own ``save_pretrained`` replaces.
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".index.json")


@dataclass
class VLMPolicySpec:
    """The VLM policy to fine-tune.

    Attributes:
        config: its :class:`~stvg.policies.vlm.config.VLMPolicyConfig` (``model_path``: the
            local checkpoint to start from; ``max_new_tokens`` bounds evaluation answers).
        name: ``vlm`` (the discriminator of a VLM SFT config).
    """

    config: VLMPolicyConfig
    name: Literal["vlm"] = "vlm"


@dataclass
class VLMSFTDataConfig(SFTSplits):
    """Which samples are trained on and evaluated on (the :class:`SFTSplits` keys), and
    their target texts:

    Attributes:
        targets: targets JSONL (``{"sample_id": ..., "target": ...}`` lines); ``None`` =
            the ground truth rendered by the answer contract. Train samples without a
            target are skipped (counted in the log).
        reasoning: ``<think>`` text of ground-truth targets (``""`` = no think block).
    """

    targets: str | None = None
    reasoning: str = ""


@dataclass
class VLMSFTConfig:
    """A supervised fine-tuning run of the VLM policy (YAML, see
    ``stvg/experiments/configs/sft_vlm_tiny.yaml``).

    Attributes:
        policy: the policy and its checkpoint (see :class:`VLMPolicySpec`).
        env: the env (:class:`~stvg.envs.config.EnvConfig`, a grounding env: ``dataset``,
            ``root``, ``fps``, ``max_frames``, ``max_side``, ``verifier``, ...).
            ``split`` and ``action_format`` are set by the run; ``answer_format``,
            ``coords`` and ``model_geometry`` left unset are taken from the policy.
        data: samples and targets (see :class:`VLMSFTDataConfig`).
        epochs: passes over the training samples.
        batch_size: samples per optimiser step.
        micro_batch_size: samples per forward/backward pass (gradient accumulation over
            ``batch_size / micro_batch_size`` passes; must divide ``batch_size``).
        lr: peak learning rate of AdamW (1e-5 suits a 7B model; a tiny model takes 1e-2).
        weight_decay: AdamW weight decay.
        warmup_steps: optimiser steps of linear warm-up before the cosine decay.
        grad_clip: gradient-norm clip (0 = off).
        eval_every: evaluate every this many epochs (0 = only at the end).
        eval_batch_size: observations answered per generation call in evaluation.
        seed: seed of torch (dropout) and of the sample order.
        deterministic: ``torch.use_deterministic_algorithms`` during the run (warn-only
            for operations without a deterministic kernel).
        threads: torch CPU threads (``None`` = chosen from the free cores,
            :mod:`stvg.training.threads`).
        report_to: where the metrics go besides ``metrics.jsonl``: any of
            ``tensorboard``, ``wandb``, ``mlflow`` (:mod:`stvg.training.trackers`).
        time_limit_s: stop training after this many seconds (``None`` = no limit); the run
            still saves and evaluates.
        out_dir: the run folder.
        vision_lr: peak learning rate of the vision tower (``None`` = ``lr``); a warmed-up
            tower trains best slower than the language model (``1e-4`` against ``1e-3``).
        warmup: a vision warm-up run on the policy before the video epochs (see
            :class:`~stvg.training.vision_warmup.VisionWarmupConfig`; ``None`` = none). The
            warmed-up model is saved to ``<out_dir>/warmup_hf``; its figures go to
            ``metrics.jsonl`` (``warmup/...``) and ``warmup.json``. ``epochs: 0`` runs the
            warm-up alone.
    """

    policy: VLMPolicySpec = set_by("stvg run")
    env: EnvConfig = set_by("stvg run", default_factory=EnvConfig)
    data: VLMSFTDataConfig = set_by("stvg run", default_factory=VLMSFTDataConfig)
    epochs: int = 1
    batch_size: int = 8
    micro_batch_size: int = 1
    lr: float = 1e-5
    weight_decay: float = 0.0
    warmup_steps: int = 0
    grad_clip: float = 1.0
    eval_every: int = 0
    eval_batch_size: int = 8
    seed: int = set_by("stvg run", 0)
    deterministic: bool = True
    threads: int | None = None
    report_to: list[Reporter] = field(default_factory=list)
    time_limit_s: float | None = None
    out_dir: str = set_by("stvg run", "runs/sft_vlm")
    vision_lr: float | None = None
    warmup: VisionWarmupConfig | None = None

    def __post_init__(self) -> None:
        self.env = as_env_config(self.env)  # a mapping given in code is validated here
        if self.env.kind != "grounding":
            raise InvalidField("env.id", f"VLM SFT answers a grounding env, got {self.env.id}")
        if self.env.split is not None:
            raise InvalidField(
                "env.split", "is set by the SFT run: set data.train_split / data.eval_split instead"
            )
        if self.env.action_format is not None:
            raise InvalidField(
                "env.action_format", "is set by the SFT run: VLM answers are text; remove it"
            )
        if self.env.dataset == "synthetic" and self.data.generate and not self.env.root:
            raise InvalidField(
                "env.root",
                "synthetic splits are generated under env.root: set it (or data.generate: false "
                "with env.annotations)",
            )
        if self.epochs < 0 or (self.epochs == 0 and self.warmup is None):
            raise InvalidField(
                "epochs", f"must be >= 1 (or 0 with a warmup section), got {self.epochs}"
            )
        if self.vision_lr is not None and not (
            math.isfinite(self.vision_lr) and self.vision_lr >= 0
        ):
            raise InvalidField("vision_lr", f"must be >= 0 or null, got {self.vision_lr}")
        check_at_least(self, ("batch_size", "micro_batch_size", "eval_batch_size"), 1)
        if self.batch_size % self.micro_batch_size:
            raise InvalidField(
                "micro_batch_size",
                f"batch_size ({self.batch_size}) must be divisible by micro_batch_size "
                f"({self.micro_batch_size}): set micro_batch_size to a divisor",
            )
        check_at_least(self, ("weight_decay", "warmup_steps", "grad_clip", "eval_every"), 0)
        check_run_options(self)
        if self.time_limit_s is not None and self.time_limit_s <= 0:
            raise InvalidField("time_limit_s", f"must be positive or null, got {self.time_limit_s}")


# --------------------------------------------------------------------------- pieces


def build_env(env: EnvConfig | Mapping[str, Any], policy: Any, split: str) -> Any:
    """The text ``GroundingEnv`` of ``env``'s ``split``, scoring in the policy's answer
    contract.

    Keys of ``env`` left unset (``answer_format``, ``coords``, ``fps``,
    ``model_geometry``) are taken from the policy's ``answer_spec``
    (:func:`stvg.envs.contract.bind_env_kwargs`, as the RL trainer and the evaluator do);
    keys set to other values than the policy's raise
    :class:`~stvg.verifiers.formats.ContractError` naming both.
    """
    from stvg.envs.contract import bind_env_kwargs, check_env_policy
    from stvg.envs.grounding import GroundingEnv

    env_kwargs = replace(as_env_config(env), split=split, action_format="text").env_kwargs()
    kwargs = bind_env_kwargs(policy, env_kwargs)
    grounding = GroundingEnv(kwargs)
    check_env_policy(grounding, policy, env_name=f"SFT env ({split})", policy_name="policy vlm")
    return grounding


def episode(env: Any, index: int) -> tuple[dict[str, Any], Any]:
    """``(observation, frame context)`` of sample ``index`` of ``env`` (a reset)."""
    obs, _ = env.reset(options={"index": int(index)})
    return obs, env.frame_context


def sft_vlm_loss(
    policy: Any,
    observations: Sequence[Any],
    completions: Sequence[Any],
    contexts: Sequence[Any],
    total_tokens: int | None = None,
) -> tuple[Any, int]:
    """The summed target-token NLL of a (micro-)batch over ``total_tokens``.

    ``loss = -(sum of log p(target token | prompt, earlier target tokens)) / total_tokens``,
    the log-probs from :meth:`VLMPolicy.log_prob` (zero on padding; prompt tokens never
    scored). ``total_tokens`` is the token count of the whole optimiser batch (default:
    this batch's), so micro-batch losses add up to the batch loss.

    Returns:
        ``(loss, target tokens in this batch)``.
    """
    log_probs = policy.log_prob(list(observations), list(completions), list(contexts))
    tokens = sum(len(c.token_ids) for c in completions)
    denominator = tokens if total_tokens is None else total_tokens
    return -log_probs.sum() / max(1, denominator), tokens


def save_hf(policy: Any, out_dir: str | Path) -> Path:
    """Write the policy's model as a Hugging Face folder that ``VLMPolicy`` (and
    ``AutoModelForImageTextToText`` / ``AutoProcessor``) load.

    Uses the policy's own ``save_pretrained`` when it has one; otherwise saves the model and
    the tokenizer and copies the source checkpoint's other files (processor configs, chat
    template) that are not weights.
    """
    import shutil

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if isinstance(policy, HFExportable):
        policy.save_pretrained(out)
        return out
    policy.model.save_pretrained(out)
    policy.tokenizer.save_pretrained(out)
    source = Path(policy.config.model_path)
    for path in sorted(source.iterdir()):
        if not path.is_file() or path.name.endswith(_WEIGHT_SUFFIXES):
            continue
        if not (out / path.name).exists():
            shutil.copy2(path, out / path.name)
    return out


def restore_dtypes(policy: Any, dtypes: dict[str, Any]) -> None:
    """Cast the policy's parameters back to the dtypes they were loaded in (``dtypes``:
    from :func:`stvg.training.learner.float32_master_weights`)."""
    import torch

    with torch.no_grad():
        for name, param in policy.model.named_parameters():
            dtype = dtypes.get(name)
            if dtype is not None and param.dtype != dtype:
                param.data = param.data.to(dtype)


def evaluate_greedy(
    policy: Any,
    env: EnvConfig | Mapping[str, Any],
    split: str,
    *,
    limit: int | None = None,
    batch_size: int = 8,
    out_dir: str | Path | None = None,
) -> Any:
    """Greedy answers of ``policy`` on ``split`` through ``GroundingEnv``, scored as
    ``stvg evaluate --policy`` scores them.

    The evaluator binds the env to the policy's answer contract as :func:`build_env` does.

    Returns:
        The :class:`~stvg.evaluation.evaluate.PolicyEvaluation`.
    """
    from stvg.evaluation import PolicyEvalConfig, PolicySpec, evaluate_policy
    from stvg.evaluation.greedy import Greedy

    config = PolicyEvalConfig(
        policy=PolicySpec("vlm", to_dict(policy.config)),
        env=replace(as_env_config(env), split=split),
        batch_size=batch_size,
        limit=limit,
        progress=False,
    )
    policy.eval()
    try:
        return evaluate_policy(config, policy=Greedy(policy), out_dir=out_dir)
    finally:
        policy.train()


def _eval_summary(result: Any) -> dict[str, Any]:
    """Flat figures of an evaluation: the dataset metrics, mean reward terms, t_iou, v_iou."""
    metrics = {k: v for k, v in result.metrics.items() if not isinstance(v, dict)}
    per_sample = result.per_sample
    metrics.update(result.rewards)
    for key in ("t_iou", "v_iou"):
        metrics[key] = float(np.mean([r[key] for r in per_sample])) if per_sample else 0.0
    metrics["parse_errors"] = sum(1 for r in per_sample if r.get("parse_error"))
    return metrics


def _eval_line(metrics: dict[str, Any]) -> dict[str, float]:
    line = eval_line(metrics, extra=("reward", "t_iou", "v_iou"))
    if "parse_errors" in metrics:
        line["eval/parse_errors"] = float(metrics["parse_errors"])
    return line


def _ensure_data(config: VLMSFTConfig) -> None:
    from stvg.data.synthetic import ensure_synthetic_split

    data = config.data
    if config.env.dataset != "synthetic" or not data.generate:
        return
    root = str(config.env.root)
    ensure_synthetic_split(root, data.train_split, data.n_train, data.seed, data.difficulty)
    if data.eval_split:
        ensure_synthetic_split(root, data.eval_split, data.n_eval, data.seed, data.difficulty)


def write_config_targets(config: VLMSFTConfig, path: str | Path) -> int:
    """Write the ground-truth targets of ``config``'s train split (its first
    ``data.limit_train`` samples) to the targets JSONL ``path``, rendered in the answer
    contract of ``config``'s policy and env; returns the number of records."""
    from stvg.policies.vlm.policy import VLMPolicy
    from stvg.synthesis.targets import write_gt_targets

    _ensure_data(config)
    policy = VLMPolicy.from_config(config.policy.config)
    env = build_env(config.env, policy, config.data.train_split)
    return write_gt_targets(
        env, path, reasoning=config.data.reasoning, limit=config.data.limit_train
    )


# --------------------------------------------------------------------------- the run


def train_sft_vlm(config: VLMSFTConfig, *, progress: bool = True, log: Any = print) -> Any:
    """Run VLM SFT as described in the module docstring.

    Args:
        config: the run config.
        progress: show the steps' progress (:mod:`stvg.progress`: a bar with the loss and
            an ETA on a terminal, a line every 30 s elsewhere).
        log: called with one line of text per epoch and evaluation (``None`` = silent).

    Returns:
        An :class:`~stvg.training.sft.common.SFTResult` whose ``checkpoint`` is the ``hf`` folder.
    """
    import torch

    from stvg.data.errors import DataError
    from stvg.policies.vlm.policy import VLMPolicy
    from stvg.progress import progress as show_progress
    from stvg.synthesis.targets import read_targets, write_targets
    from stvg.training.learner import (
        autocast,
        float32_master_weights,
        loaded_precision,
        parameter_device,
    )

    show = progress
    started = time.perf_counter()
    say = log or (lambda _line: None)
    from stvg.training.threads import resolve_threads

    torch.set_num_threads(resolve_threads(config.threads))
    was_deterministic = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(config.deterministic, warn_only=True)
    run_dir = Path(config.out_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    write_run_config(config, run_dir)
    data = config.data
    try:
        _ensure_data(config)
        policy = VLMPolicy.from_config(config.policy.config)
        torch.manual_seed(config.seed)
        # bf16/fp16 checkpoints train in float32 master weights under autocast (Adam's small
        # updates round away in bf16; see stvg.training.learner) and are cast back to the
        # loaded dtype for saving and evaluation.
        loaded_dtypes = float32_master_weights(policy)
        precision = loaded_precision(loaded_dtypes)
        device = parameter_device(policy)
        env = build_env(config.env, policy, data.train_split)
        n = (
            len(env.samples)
            if data.limit_train is None
            else min(data.limit_train, len(env.samples))
        )
        if data.targets is not None:
            targets = read_targets(data.targets)
            source = data.targets
        else:
            from stvg.synthesis.targets import gt_targets

            targets = gt_targets(env, reasoning=data.reasoning, limit=n)
            write_targets(run_dir / "targets.jsonl", targets)
            source = "ground truth (targets.jsonl)"
        train_index = [i for i in range(n) if env.samples[i].sample_id in targets]
        if not train_index:
            raise DataError(
                f"none of the {n} {data.train_split} samples has a target",
                path=str(data.targets),
                hint="check that the targets file was written for this split",
            )
        completions = {
            i: target_completion(policy, targets[env.samples[i].sample_id]) for i in train_index
        }
        unused = len(set(targets) - {env.samples[i].sample_id for i in range(n)})
        say(
            f"data: {len(train_index)} of {n} {data.train_split} samples have a target "
            f"({source}; {unused} targets of other samples unused); "
            f"{sum(len(c.token_ids) for c in completions.values())} target tokens; "
            f"{time.perf_counter() - started:.1f}s"
        )

        optimiser, scheduler = sft_optimiser(
            _parameter_groups(policy, config), config, len(train_index)
        )
        rng = np.random.default_rng(config.seed)
        history: list[dict[str, Any]] = []
        eval_metrics: dict[str, Any] = {}
        with (
            (run_dir / "metrics.jsonl").open("w", encoding="utf-8") as metrics_file,
            contextlib.closing(
                open_trackers(config.report_to, run_dir, config=to_dict(config))
            ) as trackers,
        ):

            def record(line: dict[str, Any]) -> None:
                history.append(line)
                metrics_file.write(json.dumps(line) + "\n")
                metrics_file.flush()
                trackers.log(int(line.get("step", 0)), line)

            if config.warmup is not None:
                _run_warmup(policy, config, env, loaded_dtypes, say, record)
            global_step, epoch = 0, 0
            policy.train()
            steps = config.epochs * math.ceil(len(train_index) / config.batch_size)
            bar = show_progress(steps, "SFT", enabled=show, unit="steps")
            for epoch in range(1, config.epochs + 1):
                order = [train_index[j] for j in rng.permutation(len(train_index))]
                losses = []
                for lo in range(0, len(order), config.batch_size):
                    step_start = time.perf_counter()
                    b_index = order[lo : lo + config.batch_size]
                    b_tokens = sum(len(completions[i].token_ids) for i in b_index)
                    optimiser.zero_grad()
                    loss_sum = 0.0
                    for mlo in range(0, len(b_index), config.micro_batch_size):
                        mb_index = b_index[mlo : mlo + config.micro_batch_size]
                        mb_obs, mb_ctxs = zip(*(episode(env, i) for i in mb_index), strict=True)
                        with autocast(device, precision):
                            loss, _ = sft_vlm_loss(
                                policy,
                                mb_obs,
                                [completions[i] for i in mb_index],
                                mb_ctxs,
                                b_tokens,
                            )
                        loss.backward()
                        loss_sum += float(loss.detach())
                    grad_norm = torch.nn.utils.clip_grad_norm_(
                        policy.parameters(), config.grad_clip if config.grad_clip > 0 else math.inf
                    )
                    optimiser.step()
                    scheduler.step()
                    global_step += 1
                    losses.append(loss_sum)
                    bar.update(1, epoch=epoch, nll=loss_sum)
                    record(
                        {
                            "epoch": epoch,
                            "step": global_step,
                            "losses/nll": loss_sum,
                            "charts/grad_norm": float(grad_norm),
                            "charts/lr": float(scheduler.get_last_lr()[0]),
                            "charts/target_tokens": b_tokens,
                            "charts/samples_per_s": len(b_index)
                            / max(time.perf_counter() - step_start, 1e-9),
                            "time_s": time.perf_counter() - started,
                        }
                    )
                    if _out_of_time(config, started):
                        break
                out_of_time = _out_of_time(config, started)
                last = epoch == config.epochs or out_of_time
                if (
                    data.eval_split
                    and not last
                    and config.eval_every
                    and epoch % config.eval_every == 0
                ):
                    # float32 masters of a bf16/fp16 checkpoint meet its dtype's inputs here
                    with torch.no_grad(), autocast(device, precision):
                        eval_metrics = _evaluate(
                            policy, config, say, epoch, global_step, record, None
                        )
                if out_of_time:
                    say(f"time limit {config.time_limit_s}s reached in epoch {epoch}")
                    break
            bar.close()
            restore_dtypes(policy, loaded_dtypes)
            checkpoint = save_hf(policy, run_dir / "hf")
            (run_dir / "hf" / "stvg_sft.json").write_text(
                json.dumps(
                    {
                        "source_model_path": config.policy.config.model_path,
                        "targets": source,
                        "epochs_done": epoch,
                        "steps": global_step,
                    },
                    indent=2,
                )
                + "\n",
                encoding="utf-8",
            )
            if data.eval_split:
                eval_metrics = _evaluate(
                    policy, config, say, epoch, global_step, record, run_dir / "eval"
                )
    finally:
        torch.use_deterministic_algorithms(was_deterministic)
    seconds = time.perf_counter() - started
    if eval_metrics:
        (run_dir / "eval.json").write_text(
            json.dumps({**eval_metrics, "seconds": seconds}, indent=2) + "\n", encoding="utf-8"
        )
    say(f"model written to {checkpoint} ({seconds:.1f}s in all)")
    return SFTResult(run_dir, checkpoint, history, eval_metrics, seconds)


def _parameter_groups(policy: Any, config: VLMSFTConfig) -> Any:
    """The policy's parameters, the vision tower's in a group of its own at
    ``config.vision_lr`` when that is set."""
    if config.vision_lr is None:
        return policy.parameters()
    tower = {id(p) for p in policy.vision_tower().parameters()}
    return [
        {"params": [p for p in policy.parameters() if id(p) not in tower], "lr": config.lr},
        {"params": list(policy.vision_tower().parameters()), "lr": config.vision_lr},
    ]


def _run_warmup(
    policy: Any,
    config: VLMSFTConfig,
    env: Any,
    loaded_dtypes: dict[str, Any],
    say: Any,
    record: Any,
) -> None:
    """The vision warm-up of ``config.warmup`` on ``policy``, its images shown at the env's
    ``max_side`` (the first training video's longer side without one); the warmed-up model
    saved to ``warmup_hf`` and the last evaluation to ``warmup.json`` in the run folder."""
    from stvg.training.learner import float32_master_weights
    from stvg.training.vision_warmup import run_vision_warmup

    first = env.samples[0]
    side = config.env.max_side or max(first.width, first.height)
    figures = run_vision_warmup(policy, config.warmup, side, log=say, record=record)
    run_dir = Path(config.out_dir)
    (run_dir / "warmup.json").write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    # saved in the loaded dtypes (as the SFT model is), then back to float32 masters
    restore_dtypes(policy, loaded_dtypes)
    save_hf(policy, run_dir / "warmup_hf")
    float32_master_weights(policy)
    say(f"warm-up model written to {run_dir / 'warmup_hf'}")


def _out_of_time(config: VLMSFTConfig, started: float) -> bool:
    return config.time_limit_s is not None and time.perf_counter() - started > config.time_limit_s


def _evaluate(
    policy: Any,
    config: VLMSFTConfig,
    say: Any,
    epoch: int,
    step: int,
    record: Any,
    out_dir: Path | None,
) -> dict[str, Any]:
    data = config.data
    result = evaluate_greedy(
        policy,
        config.env,
        str(data.eval_split),
        limit=data.limit_eval,
        batch_size=config.eval_batch_size,
        out_dir=out_dir,
    )
    metrics = _eval_summary(result)
    record({"epoch": epoch, "step": step, **_eval_line(metrics)})
    say(
        f"eval {data.eval_split} @ epoch {epoch} (greedy): m_tIoU {metrics['m_tIoU']:.3f} "
        f"m_vIoU {metrics['m_vIoU']:.3f} reward {metrics.get('reward', 0.0):.3f} "
        f"({metrics['parse_errors']} unparsed)"
    )
    return metrics


__all__ = [
    "VLMPolicySpec",
    "VLMSFTConfig",
    "VLMSFTDataConfig",
    "build_env",
    "end_of_turn_id",
    "episode",
    "evaluate_greedy",
    "save_hf",
    "sft_vlm_loss",
    "target_completion",
    "train_sft_vlm",
    "write_config_targets",
]
