"""The training loop shared by GRPO, RLOO and PPO.

Every iteration reads top to bottom in the papers' order:

1. **rollout** — the learner's weights go to the rollout workers (``ray.put`` once), which
   play ``batch_size`` prompts (``group_size`` answers each) or episodes;
2. **advantages** — the algorithm scores every action against its baseline (group mean,
   leave-one-out mean, or the critic through GAE);
3. **epochs x minibatches** — shuffled rows, each minibatch cut into micro-batches of
   ``micro_batch_size`` rows whose gradients accumulate (the losses are normalised by the
   whole minibatch, so the gradient does not depend on the cut), then Adam with a global
   gradient-norm clip;
4. **log** — one line of ``metrics.jsonl`` and TensorBoard scalars (the diagnostics of
   :meth:`Trainer._metrics`: sampled and greedy rewards, the policy's exploration width,
   zero-variance groups, advantage scale, KL to the reference); a checkpoint every
   ``checkpoint_every`` iterations (the reference policy is saved once, in the run's
   ``reference.pt``; old checkpoints are pruned to ``keep_last``).

The learner holds the policy as :mod:`stvg.training.learner` says: dropout probabilities
zeroed and the model left in training mode (so transformers' gradient checkpointing stays
on), float32 master weights with forward passes under bf16/fp16 autocast
(``mixed_precision``), and weights cast back to the policy's loaded dtype for the workers.

Randomness: sample order and task seeds come from :mod:`stvg.training.schedule`, minibatch
shuffles from ``default_rng([seed, iteration])``; nothing depends on the number of workers,
so a run resumed from a checkpoint ends exactly where the uninterrupted run ends.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import random
import time
from collections import defaultdict
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from stvg.config import ConfigError, InvalidField, to_dict
from stvg.envs.contract import bind_env_kwargs, check_env_policy
from stvg.envs.make import make_env
from stvg.evaluation.greedy import GreedyProbe, played_prompts
from stvg.policies.base import (
    DeclaresLearningRate,
    Diagnostics,
    EnvConfigured,
    HFExportable,
    TokenBudget,
)
from stvg.policies.capabilities import CRITIC, TRAINABLE, require
from stvg.policies.registry import policy_class
from stvg.training.algorithms import Algorithm, Minibatch, build_algorithm, policy_outputs
from stvg.training.algorithms.base import AdvantageResult
from stvg.training.batch import Experience
from stvg.training.config import DEFAULT_LEARNING_RATE, TrainConfig
from stvg.training.learner import (
    autocast,
    disable_dropout,
    enable_gradient_checkpointing,
    float32_master_weights,
    loaded_precision,
    parameter_device,
    rollout_weights,
    set_train_mode,
)
from stvg.training.lifecycle import (
    RESUMABLE_CHANGES,
    ResumePoint,
    TrainerLifecycle,
    TrainResult,
)
from stvg.training.metrics import episode_summary, greedy_summary, group_summary
from stvg.training.rollout import RolloutTask, make_policy
from stvg.training.run_dir import (
    HF_DIR,
    TRAINER_STATE,
    CheckpointError,
    CorruptCheckpoint,
    RunDir,
    latest_checkpoint,
    load_trainer_state,
)
from stvg.training.schedule import SampleSchedule, annealed_lr, chunks, task_seed
from stvg.training.workers import init_ray, make_workers

#: What a loop trainer's ``trainer.pt`` holds (:meth:`Trainer.state_dict`; ``scaler`` may
#: be missing in runs saved before it existed).
STATE_KEYS = (
    "iteration",
    "env_steps",
    "policy_name",
    "policy_config",
    "policy",
    "optimizer",
    "schedule",
    "rng",
)
#: What :func:`load_trained_policy` reads of it.
POLICY_STATE_KEYS = ("policy_name", "policy_config", "policy")


def resolve_policy_config(config: TrainConfig, env: Any) -> dict[str, Any]:
    """The policy's config, completed from the env when its class asks for it.

    A policy class that is :class:`~stvg.policies.base.EnvConfigured` (e.g.
    ``tracking-mlp``, which reads its input size from the observation space) gets to fill
    in what the YAML left out.
    """
    cls = policy_class(config.policy.name)
    policy_config = dict(config.policy.config)
    if isinstance(cls, EnvConfigured):
        policy_config = dict(
            cls.config_from_env(env.observation_space, env.action_space, policy_config)
        )
    return policy_config


def resolve_train_config(config: TrainConfig) -> TrainConfig:
    """``config`` with the keys a run decides filled in (:meth:`TrainConfig.resolved`):
    a ``null`` ``learning_rate`` becomes the policy class's ``default_learning_rate``
    (:class:`~stvg.policies.base.DeclaresLearningRate`;
    :data:`~stvg.training.config.DEFAULT_LEARNING_RATE` for other classes)."""
    cls = policy_class(config.policy.name)
    default = cls.default_learning_rate if isinstance(cls, DeclaresLearningRate) else None
    return config.resolved(DEFAULT_LEARNING_RATE if default is None else float(default))


def completion_budget(policy: Any) -> int | None:
    """The generation budget of a :class:`~stvg.policies.base.TokenBudget` policy (TRL's
    ``max_completion_length``), or ``None``: Dr. GRPO's constant normaliser."""
    if not isinstance(policy, TokenBudget):
        return None
    value = policy.max_new_tokens
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value > 0:
        return int(value)
    return None


class Trainer(TrainerLifecycle):
    """Trains a policy with the algorithm of a :class:`TrainConfig`.

    Build with :meth:`create` (a new run directory) or :meth:`resume` (continue a run from
    its last checkpoint), then call :meth:`train`; the lifecycle is
    :class:`~stvg.training.lifecycle.TrainerLifecycle`'s.

    Args:
        config: the run's config (``learning_rate: null`` and the anneal horizon are
            resolved, :func:`resolve_train_config`).
        run_dir: its run directory.
        resume_from: the checkpoint to continue from (``None`` = fresh start).

    Attributes:
        policy: the learner's policy: float32 master weights, dropout zeroed, training
            mode (gradient checkpointing on when configured).
        reference: the frozen reference (in the dtype the policy was loaded in), or
            ``None`` when the algorithm needs none; saved once, in ``reference.pt``.
        precision: the forward-pass precision in effect (``no``, ``bf16``, ``fp16``).
        rollout_dtypes: the loaded dtype of every weight, in which workers receive them.
        token_slots: Dr. GRPO's constant ``L`` (the policy's ``max_new_tokens``), or
            ``None`` (the batch's token width).
    """

    state_keys = STATE_KEYS

    def __init__(
        self, config: TrainConfig, run_dir: RunDir, resume_from: ResumePoint | None = None
    ) -> None:
        self.config = cfg = resolve_train_config(config)
        self.run_dir = run_dir
        self._take_threads()
        state = None if resume_from is None else resume_from.state
        self.algo: Algorithm = build_algorithm(cfg)
        probe = make_env(cfg.env.id, cfg.env.env_kwargs(), cfg.env.max_episode_steps)
        sample_ids = [s.sample_id for s in probe.unwrapped.samples]
        if state is None:
            policy_config = resolve_policy_config(cfg, probe)
            self.policy = make_policy(cfg.policy.name, policy_config)
            self.worker_policy_config = to_dict(self.policy.config)
        else:
            with _state_of(resume_from):
                self.worker_policy_config = dict(state["policy_config"])
            self.policy = make_policy(cfg.policy.name, self.worker_policy_config)
        probe.close()
        needs = TRAINABLE + (CRITIC if self.algo.needs_values else ())
        require(self.policy, needs, who=f"algorithm {cfg.algorithm}")
        # The policy's answer contract (format, coordinates, fps, processor geometry) fills
        # the env keys left unset; an env that disagrees fails here, naming both values.
        self.env_kwargs = bind_env_kwargs(self.policy, cfg.env.env_kwargs())
        probe = make_env(cfg.env.id, self.env_kwargs, cfg.env.max_episode_steps)
        check_env_policy(
            probe,
            self.policy,
            env_name=f"env {cfg.env.id}",
            policy_name=f"policy {cfg.policy.name}",
        )
        probe.close()
        self._setup_learner()
        torch.manual_seed(cfg.seed)
        self.schedule = SampleSchedule(sample_ids, cfg.seed)
        self.iteration = 0
        self.env_steps = 0
        self._round = 0
        if state is not None:
            with _state_of(resume_from):
                self._load_state(state)
        elif self.reference is not None:
            self.run_dir.save_reference(self.reference.state_dict())
        self._owns_ray = init_ray(cfg.ray) if cfg.rollout.num_workers > 0 else False
        worker_kwargs = {
            "env_id": cfg.env.id,
            "env_kwargs": dict(self.env_kwargs),
            "max_episode_steps": cfg.env.max_episode_steps,
            "policy_name": cfg.policy.name,
            "policy_config": self.worker_policy_config,
            "env_seed": cfg.seed,
        }
        self.workers = make_workers(worker_kwargs, cfg.rollout)
        self.greedy = GreedyProbe(
            cfg.env.id, self.env_kwargs, cfg.env.max_episode_steps, env_seed=cfg.seed
        )

    def _setup_learner(self) -> None:
        """Reference, master weights, precision, dropout, checkpointing and optimizer."""
        cfg, policy = self.config, self.policy
        # Dropout off, as TRL's ``disable_dropout_in_model``: the ratio pi / pi_old is only
        # 1 at the start of an update when the learner computes log-probs exactly as the
        # sampler did. Zeroed rather than ``eval()``, which would also turn off
        # transformers' gradient checkpointing.
        disable_dropout(policy)
        self.reference = None
        if self.algo.needs_reference:  # frozen, in the dtype the policy was loaded in
            self.reference = copy.deepcopy(policy)
            for p in self.reference.parameters():
                p.requires_grad_(False)
            set_train_mode(self.reference, False)
        #: dtype of every weight as loaded: what the rollout workers hold
        self.rollout_dtypes = float32_master_weights(policy)
        loaded = loaded_precision(self.rollout_dtypes)
        #: forward-pass precision in effect (``mixed_precision`` with ``auto`` resolved)
        self.precision = loaded if cfg.mixed_precision == "auto" else cfg.mixed_precision
        if cfg.gradient_checkpointing:
            enable_gradient_checkpointing(policy)
        set_train_mode(policy, True)
        self.device = parameter_device(policy)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.precision == "fp16")
        #: Dr. GRPO's constant ``L`` (``None`` = the batch's token width)
        self.token_slots = completion_budget(policy)
        self._params = [p for p in policy.parameters() if p.requires_grad]
        self.optimizer = torch.optim.Adam(self._params, lr=cfg.learning_rate, eps=cfg.adam_eps)

    # ------------------------------------------------------------------ construction
    @classmethod
    def prepare_config(cls, config: TrainConfig) -> TrainConfig:
        """``learning_rate: null`` and the anneal horizon resolved
        (:func:`resolve_train_config`)."""
        return resolve_train_config(config)

    @classmethod
    def fill_from_saved(cls, config: TrainConfig, saved: TrainConfig, path: Path) -> TrainConfig:
        """``config`` with its ``null`` ``learning_rate`` and ``lr_anneal_iterations`` taken
        from the saved run (so a resumed run keeps its schedule)."""
        changes: dict[str, Any] = {}
        if config.learning_rate is None:
            changes["learning_rate"] = saved.learning_rate
        if config.anneal_lr and config.lr_anneal_iterations is None:
            changes["lr_anneal_iterations"] = saved.lr_anneal_iterations
        try:
            return dataclasses.replace(config, **changes) if changes else config
        except InvalidField as exc:
            raise ConfigError(f"cannot resume {path} (saved schedule): {exc.field} {exc}") from exc

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        """Everything a resumed run needs (see :meth:`resume`)."""
        return {
            "iteration": self.iteration,
            "env_steps": self.env_steps,
            "policy_name": self.config.policy.name,
            "policy_config": self.worker_policy_config,
            "policy": self.policy.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict(),
            "mixed_precision": self.precision,
            "schedule": self.schedule.state_dict(),
            "rng": {
                "torch": torch.get_rng_state(),
                "numpy": np.random.get_state(),
                "python": random.getstate(),
            },
            "config": to_dict(self.config),
        }

    def _load_state(self, state: Mapping[str, Any]) -> None:
        self.policy.load_state_dict(state["policy"])
        if self.reference is not None:
            reference = self.run_dir.load_reference()
            if reference is None:  # a run saved before reference.pt existed
                reference = state.get("reference")
            if reference is None:
                raise FileNotFoundError(
                    f"{self.run_dir.path} has no reference.pt, which "
                    f"{self.algo.name} with a KL penalty needs to resume: restore the file "
                    "or start a new run"
                )
            self.reference.load_state_dict(reference)
        self.optimizer.load_state_dict(state["optimizer"])
        if state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        self.schedule.load_state_dict(state["schedule"])
        self.iteration = int(state["iteration"])
        self.env_steps = int(state["env_steps"])
        rng = state["rng"]
        torch.set_rng_state(rng["torch"])
        np.random.set_state(rng["numpy"])
        random.setstate(rng["python"])

    # ------------------------------------------------------------------ the loop
    def _iterate(self) -> dict[str, float]:
        """One iteration: rollout -> advantages -> epochs x minibatches -> metrics (logged
        and checkpointed by :meth:`step`)."""
        cfg, algo, policy = self.config, self.algo, self.policy
        self.iteration += 1
        iteration = self.iteration
        start = time.perf_counter()
        if cfg.anneal_lr:
            horizon = cfg.lr_anneal_iterations or cfg.iterations
            for group in self.optimizer.param_groups:
                group["lr"] = annealed_lr(iteration, cfg.learning_rate, horizon)

        # 1. rollout (the weights in the dtype the workers hold)
        weights = rollout_weights(policy, self.rollout_dtypes)
        self._round = 0
        experience, stats = algo.collect(lambda n: self._collect(n, weights), cfg.batch_size)
        rollout_s = time.perf_counter() - start
        # the policy's own diagnostics and its deterministic answers, before the update
        # (the weights that sampled); neither draws on the run's random generators
        stats = {**stats, **self._policy_diagnostics()}
        if self._greedy_due(iteration):
            greedy_start = time.perf_counter()
            sample_ids = played_prompts([e.sample_id for e in experience.episodes])
            with autocast(self.device, self.precision):
                stats.update(greedy_summary(self.greedy.play(policy, sample_ids, iteration)))
            stats["time/greedy_s"] = time.perf_counter() - greedy_start
            start += stats["time/greedy_s"]  # not counted as rollout or update time

        # 2. advantages
        ref_logp = self._reference_logp(experience) if self.reference is not None else None
        adv = algo.advantages(experience, ref_logp) if len(experience) else None

        # 3. epochs x minibatches
        losses: dict[str, list[float]] = defaultdict(list)
        b_inds = np.arange(len(experience))
        rng = np.random.default_rng([cfg.seed, iteration])
        for _epoch in range(cfg.update_epochs if adv is not None else 0):
            rng.shuffle(b_inds)
            epoch_kl = []
            for mb_inds in np.array_split(b_inds, cfg.num_minibatches):
                if len(mb_inds) == 0:
                    continue
                mb = algo.prepare(self._minibatch(experience, adv, ref_logp, mb_inds))
                self.optimizer.zero_grad()
                mb_stats = self.accumulate_gradients(mb)
                losses["losses/grad_norm"].append(self._optimizer_step())
                for key, value in mb_stats.items():
                    losses[f"losses/{key}"].append(value)
                epoch_kl.append(mb_stats.get("approx_kl", 0.0))
            if algo.target_kl is not None and epoch_kl and np.mean(epoch_kl) > algo.target_kl:
                break
        update_s = time.perf_counter() - start - rollout_s

        # 4. log
        return self._metrics(experience, adv, stats, losses, rollout_s, update_s)

    def _greedy_due(self, iteration: int) -> bool:
        """Whether iteration ``iteration`` logs the greedy rewards (``greedy_every``: at
        iteration 1 and every ``greedy_every`` iterations; 0 = never). Not "at the last":
        a run resumed with more ``iterations`` must log what the longer run logs."""
        every = self.config.greedy_every
        return every > 0 and (iteration == 1 or iteration % every == 0)

    def _policy_diagnostics(self) -> dict[str, float]:
        """The scalars of a :class:`~stvg.policies.base.Diagnostics` policy (the native
        policy's ``policy/box_std``); none for other policies."""
        if not isinstance(self.policy, Diagnostics):
            return {}
        return {str(k): float(v) for k, v in self.policy.diagnostics().items()}

    def accumulate_gradients(
        self, mb: Minibatch, micro_batch_size: int | None = None
    ) -> dict[str, float]:
        """Backward passes over ``mb`` in micro-batches, gradients accumulated in ``.grad``.

        Each micro-batch's loss is its share of the minibatch's (normalised by the whole
        minibatch's rows and tokens), so the accumulated gradient is the minibatch's
        gradient for every algorithm and ``loss_type``.

        Args:
            mb: the minibatch (after :meth:`Algorithm.prepare`).
            micro_batch_size: rows per pass; ``None`` = the config's ``micro_batch_size``
                (``null`` there = the whole minibatch at once).

        Returns:
            the minibatch's ``loss``, the algorithm's statistics and ``entropy``: sums of
            the micro-batches' shares, i.e. the whole minibatch's values.
        """
        size = self.config.micro_batch_size if micro_batch_size is None else micro_batch_size
        totals: dict[str, float] = defaultdict(float)
        for part in mb.split(size):
            with autocast(self.device, self.precision):
                outputs = policy_outputs(
                    self.policy,
                    part.observations,
                    part.rollouts,
                    need_values=self.algo.needs_values,
                )
            outputs = outputs.float()
            part = part.to(outputs.logp.device)
            loss, stats = self.algo.loss(outputs, part)
            self.scaler.scale(loss).backward()
            totals["loss"] += float(loss.detach())
            for key, value in stats.items():
                totals[key] += float(value)
            if "entropy" not in stats:
                if outputs.entropy is not None:
                    entropy = outputs.entropy.detach().sum()
                else:  # the sampled actions' surprisal, an unbiased estimate of the entropy
                    entropy = -(outputs.logp.detach() * part.mask).sum()
                totals["entropy"] += float(entropy) / max(part.num_rows, 1)
        return dict(totals)

    def _optimizer_step(self) -> float:
        """Unscale (fp16), clip the global gradient norm, step; returns the norm."""
        self.scaler.unscale_(self.optimizer)
        grad_norm = torch.nn.utils.clip_grad_norm_(self._params, self.config.max_grad_norm)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return float(grad_norm)

    def _collect(self, count: int, weights: Mapping[str, Any]) -> Experience:
        """Play ``count`` scheduled samples on the workers (one sampling round)."""
        cfg = self.config
        self._round += 1
        ids = self.schedule.take(count)
        tasks = [
            RolloutTask(
                index=k,
                sample_ids=chunk,
                group_size=self.algo.group_size,
                seed=task_seed(cfg.seed, self.iteration, self._round, k),
                iteration=self.iteration,
            )
            for k, chunk in enumerate(chunks(ids, cfg.rollout.task_size))
        ]
        parts = self.workers.run(tasks, weights, self.iteration)
        experience = Experience.concat(parts)
        self.env_steps += len(experience)
        return experience

    def _reference_logp(self, experience: Experience) -> torch.Tensor:
        """Log-probabilities of the batch's actions under the frozen reference policy (in
        chunks of ``micro_batch_size`` rows, 64 without one)."""
        chunk = self.config.micro_batch_size or 64
        out = []
        with torch.no_grad(), autocast(self.device, self.precision):
            for begin in range(0, len(experience), chunk):
                part = experience.select(np.arange(begin, min(begin + chunk, len(experience))))
                out.append(
                    policy_outputs(
                        self.reference, part.observations, part.rollouts, need_values=False
                    ).logp.float()
                )
        if not out:
            return torch.zeros_like(experience.rollouts.log_probs)
        return torch.cat(out).float().cpu()

    def _minibatch(
        self,
        experience: Experience,
        adv: AdvantageResult,
        ref_logp: torch.Tensor | None,
        rows: np.ndarray,
    ) -> Minibatch:
        part = experience.select(rows)
        index = torch.as_tensor(rows, dtype=torch.long)
        values = part.rollouts.values
        width = int(experience.rollouts.mask.shape[1])
        return Minibatch(
            observations=part.observations,
            rollouts=part.rollouts,
            old_logp=part.rollouts.log_probs.float(),
            mask=part.rollouts.mask,
            advantages=adv.advantages[index],
            returns=None if adv.returns is None else adv.returns[index],
            old_values=None if values is None else values.detach().float().reshape(-1),
            ref_logp=None if ref_logp is None else ref_logp[index],
            # Dr. GRPO's L: the policy's max_new_tokens (never below the batch's width)
            token_slots=width if self.token_slots is None else max(self.token_slots, width),
        )

    def _metrics(
        self,
        experience: Experience,
        adv: AdvantageResult | None,
        collect_stats: Mapping[str, float],
        losses: Mapping[str, list[float]],
        rollout_s: float,
        update_s: float,
    ) -> dict[str, float]:
        """One iteration's log line.

        Besides the losses (``losses/...``: ``kl`` is the KL to the reference of every
        algorithm that has one) and timings, the RL diagnostics:

        * ``rewards/sampled/{total,t_iou,v_iou}``: the sampled answers
          (:func:`~stvg.training.metrics.episode_summary`); ``rewards/greedy/...``: the
          deterministic answers to the same prompts, every ``greedy_every`` iterations;
        * ``policy/...``: the policy's own figures (the native policy's ``box_std``, the
          spread its boxes are sampled with);
        * group algorithms: ``charts/reward_std`` and ``charts/zero_variance_groups``
          over every group played (DAPO's dropped groups included);
        * ``charts/advantage_abs_mean``: the mean ``|A|`` of the rows trained on.
        """
        iteration_s = rollout_s + update_s
        played = sum(e.length for e in experience.episodes)
        metrics: dict[str, float] = {}
        metrics.update(episode_summary(experience.episodes))
        if self.algo.group_size > 1 and experience.episodes:
            returns = [e.episode_return for e in experience.episodes]
            metrics.update(group_summary(returns, self.algo.group_size))
        metrics.update({k: float(np.mean(v)) for k, v in sorted(losses.items())})
        metrics.update(collect_stats)
        if adv is not None:
            metrics.update(adv.stats)
            metrics["charts/advantage_abs_mean"] = float(adv.advantages.abs().mean())
        metrics.update(
            {
                "charts/learning_rate": float(self.optimizer.param_groups[0]["lr"]),
                "charts/global_step": float(self.env_steps),
                "charts/trained_rows": float(len(experience)),
                "charts/SPS": played / iteration_s if iteration_s > 0 else 0.0,
                "charts/rollout_SPS": played / rollout_s if rollout_s > 0 else 0.0,
                "time/rollout_s": rollout_s,
                "time/update_s": update_s,
                "time/iteration_s": iteration_s,
                **self.workers.metrics(),  # workers/restarts, workers/nodes
            }
        )
        return metrics

    def save_checkpoint(self) -> Path:
        """Checkpoint the current iteration into the run directory: ``trainer.pt``,
        ``policy.pt`` (a :class:`~stvg.policies.base.Checkpointable` policy), ``hf/`` (an
        :class:`~stvg.policies.base.HFExportable` one, as ``hf_export`` says); then prune to
        the newest ``keep_last``."""
        cfg = self.config
        export = isinstance(self.policy, HFExportable) and (
            cfg.hf_export == "every"
            or (cfg.hf_export == "final" and self.iteration >= cfg.iterations)
        )

        def write_hf(folder: Path) -> None:
            self.policy.save_pretrained(folder / HF_DIR)

        path = self.run_dir.save_checkpoint(
            self.iteration, self.state_dict(), self.policy, write_hf if export else None
        )
        self.run_dir.prune_checkpoints(cfg.keep_last)
        return path

    def _stop(self) -> None:
        """Stop the rollout workers and the greedy probe's env."""
        self.workers.close()
        self.greedy.close()


def load_trained_policy(path: str | Path) -> Any:
    """The policy of a run directory's last checkpoint (or of a checkpoint folder)."""
    path = Path(path)
    checkpoint = path if (path / "trainer.pt").is_file() else latest_checkpoint(path)
    if checkpoint is None:
        raise FileNotFoundError(
            f"{path} is neither a checkpoint folder nor a run with a checkpoint"
        )
    state = load_trainer_state(checkpoint, POLICY_STATE_KEYS)
    policy = make_policy(state["policy_name"], state["policy_config"])
    with _state_of(ResumePoint(Path(checkpoint), state)):
        policy.load_state_dict(state["policy"])
    return policy


@contextlib.contextmanager
def _state_of(point: ResumePoint | None) -> Iterator[None]:
    """Turn an error while taking values from ``point``'s ``trainer.pt`` (a weight of
    another shape, a value of the wrong type) into a :class:`CorruptCheckpoint` naming the
    file; errors of other files (``reference.pt``) pass unchanged."""
    try:
        yield
    except (CheckpointError, FileNotFoundError):
        raise
    except (KeyError, TypeError, ValueError, RuntimeError, IndexError) as exc:
        where = "the checkpoint" if point is None else str(point.checkpoint / TRAINER_STATE)
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        detail = detail if len(detail) <= 300 else detail[:297] + "..."
        raise CorruptCheckpoint(
            f"{where} does not fit this run ({type(exc).__name__}: {detail}); resume "
            "from a checkpoint of this run or start a new run"
        ) from None


__all__ = [
    "POLICY_STATE_KEYS",
    "RESUMABLE_CHANGES",
    "STATE_KEYS",
    "TrainResult",
    "Trainer",
    "completion_budget",
    "load_trained_policy",
    "resolve_policy_config",
    "resolve_train_config",
]
