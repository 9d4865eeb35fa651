"""The lifecycle every RL trainer shares: create, resume, train, close.

:class:`TrainerLifecycle` is the one home of what a trainer does around its iterations:

* :meth:`~TrainerLifecycle.create` makes a new run directory (``out_dir/<run name>``, a
  ``-2``, ``-3`` suffix if taken), locks it and writes the config into it;
* :meth:`~TrainerLifecycle.resume` reads a run's saved config, refuses a new config that
  changes a key outside :data:`RESUMABLE_CHANGES` (it would change the results), locks the
  run (a second trainer of the same run is refused, :class:`~stvg.training.run_dir.RunInUse`),
  finds the newest checkpoint whose ``trainer.pt`` loads and holds this trainer's state
  (:attr:`~TrainerLifecycle.state_keys`, :meth:`~TrainerLifecycle.check_checkpoint`), and
  reopens the run's logs from there;
* :meth:`~TrainerLifecycle.train` runs the remaining iterations with a progress bar;
  :meth:`~TrainerLifecycle.step` is one of them: the subclass's :meth:`_iterate`, then one
  line of metrics and a checkpoint every ``checkpoint_every`` iterations (and at the last);
* :meth:`~TrainerLifecycle.close` stops what the subclass started (:meth:`_stop`), closes
  the logs, releases the run's lock, gives the process its torch thread count back and
  stops Ray if the trainer started it.

The trainers (:class:`stvg.training.loop.Trainer` for GRPO, RLOO and PPO;
:class:`stvg.training.rllib_ppo.RLlibPPOTrainer` for RLlib's PPO) implement the
iteration, the checkpoint and what to stop.
"""

from __future__ import annotations

import abc
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from stvg.config import ConfigError, from_dict, to_dict
from stvg.training.config import TrainConfig
from stvg.training.run_dir import RunDir, RunLock, newest_loadable_checkpoint

#: Config keys that change only floating-point rounding (the order of reductions): a run
#: resumed with a different value goes on, with a warning that its remaining iterations are
#: equal to an uninterrupted run's up to rounding, not bit for bit (a run that ran out of
#: memory can go on with smaller micro-batches; one moved to a bigger machine, with more
#: threads).
ROUNDING_CHANGES = ("torch_threads", "micro_batch_size", "gradient_checkpointing")

#: Config keys that may differ when a run is resumed: they do not change its results, or
#: (:data:`ROUNDING_CHANGES`) change them only by floating-point rounding.
RESUMABLE_CHANGES = (
    "iterations",
    "progress_bar",
    "report_to",
    "torch_threads",
    "checkpoint_every",
    "keep_last",
    "hf_export",
    "greedy_every",
    "micro_batch_size",
    "gradient_checkpointing",
    "out_dir",
    "rollout.num_workers",
    "rollout.num_cpus_per_worker",
    "rollout.num_gpus_per_worker",
    "rollout.max_worker_restarts",
    "rollout.placement",
    "ray.address",
    "ray.num_cpus",
    "ray.include_dashboard",
    "ray.connect_timeout_s",
)

IterationCallback = Callable[[int, Mapping[str, float], "TrainerLifecycle"], None]

_Self = TypeVar("_Self", bound="TrainerLifecycle")


def _reporting(config: TrainConfig, tensorboard: bool) -> dict[str, Any]:
    """RunDir's ``report_to`` and ``config`` (``tensorboard=False``: no tracker at all)."""
    return {"report_to": list(config.report_to) if tensorboard else [], "config": to_dict(config)}


@dataclass
class TrainResult:
    """What :meth:`TrainerLifecycle.train` returns.

    Attributes:
        run_dir: the run directory.
        iterations: the last iteration completed.
        metrics: the last iteration's metrics.
        checkpoint: the newest checkpoint folder.
    """

    run_dir: Path
    iterations: int
    metrics: dict[str, float]
    checkpoint: Path | None


@dataclass(frozen=True)
class ResumePoint:
    """Where a resumed run goes on from.

    Attributes:
        checkpoint: the checkpoint folder (``checkpoints/iter_*``).
        state: its ``trainer.pt`` (``iteration`` and whatever the trainer saved).
    """

    checkpoint: Path
    state: Mapping[str, Any]


def changed_keys(a: Any, b: Any, prefix: str = "") -> list[str]:
    """Dotted key paths where two nested config dicts differ (a key missing on one side
    counts as a difference)."""
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        out: list[str] = []
        for key in sorted(set(a) | set(b)):
            path = f"{prefix}.{key}" if prefix else str(key)
            if key not in a or key not in b:
                out.append(path)
            else:
                out.extend(changed_keys(a[key], b[key], path))
        return out
    return [] if a == b else [prefix]


def check_resumable(saved: TrainConfig, config: TrainConfig, path: Path) -> None:
    """Raise :class:`ConfigError` if ``config`` changes a key outside
    :data:`RESUMABLE_CHANGES` against the run's ``saved`` config; warn (``UserWarning``)
    when it changes one of :data:`ROUNDING_CHANGES`."""
    all_changed = changed_keys(to_dict(saved), to_dict(config))
    changed = sorted(k for k in all_changed if k not in RESUMABLE_CHANGES)
    if changed:
        raise ConfigError(
            f"cannot resume {path} with a different {changed}: these keys change the "
            f"run's results (only {list(RESUMABLE_CHANGES)} may change). Start a new run "
            "or resume with the saved config"
        )
    rounding = sorted(k for k in all_changed if k in ROUNDING_CHANGES)
    if rounding:
        saved_values, new_values = to_dict(saved), to_dict(config)
        changes = ", ".join(f"{k} {saved_values.get(k)} -> {new_values.get(k)}" for k in rounding)
        warnings.warn(
            f"resuming {path} with {changes}: the remaining iterations round differently, "
            "so the run equals an uninterrupted one up to floating-point rounding, not bit "
            "for bit",
            stacklevel=3,
        )


class TrainerLifecycle(abc.ABC):
    """Base of the RL trainers: run directory, resume checks, the iteration loop, shutdown.

    Subclasses are built as ``cls(config, run_dir, resume_from)`` (``resume_from`` is
    ``None`` for a fresh run) and set :attr:`config`, :attr:`run_dir` and
    :attr:`iteration` there; they call :meth:`_take_threads` before loading anything and
    set :attr:`_owns_ray` when they start Ray.

    Attributes:
        config: the run's config.
        run_dir: the run directory (config, ``metrics.jsonl``, TensorBoard, checkpoints).
        iteration: the last iteration completed (0 before the first).
    """

    config: TrainConfig
    run_dir: RunDir
    iteration: int
    _owns_ray: bool = False
    _threads_before: int | None = None
    #: the learner's torch threads (set by :meth:`_take_threads`)
    threads: int | None = None
    #: Keys the trainer's ``trainer.pt`` must hold to resume from it.
    state_keys: tuple[str, ...] = ("iteration",)

    # ------------------------------------------------------------------ hooks
    @classmethod
    def prepare_config(cls, config: TrainConfig) -> TrainConfig:
        """The config as the trainer runs it (default: unchanged)."""
        return config

    @classmethod
    def fill_from_saved(cls, config: TrainConfig, saved: TrainConfig, path: Path) -> TrainConfig:
        """``config`` with the keys it leaves to the saved run filled in (default: none)."""
        return config

    @classmethod
    def check_checkpoint(cls, folder: Path, state: Mapping[str, Any]) -> None:
        """Raise :class:`~stvg.checkpoint_files.CheckpointError` if ``folder`` (whose
        ``trainer.pt`` holds ``state``) lacks what this trainer resumes from (default:
        nothing more)."""
        return None

    @abc.abstractmethod
    def _iterate(self) -> dict[str, float]:
        """One iteration: advance :attr:`iteration` by one and return its metrics."""

    @abc.abstractmethod
    def save_checkpoint(self) -> Path:
        """Checkpoint the current iteration into the run directory; returns the folder."""

    @abc.abstractmethod
    def _stop(self) -> None:
        """Stop what the trainer started (workers, an RLlib algorithm)."""

    # ------------------------------------------------------------------ construction
    @classmethod
    def create(cls: type[_Self], config: TrainConfig, *, tensorboard: bool = True) -> _Self:
        """A fresh run in ``out_dir/<run name>`` (a ``-2``, ``-3`` suffix if taken)."""
        config = cls.prepare_config(config)
        name = config.run_name(datetime.now().strftime("%Y%m%d-%H%M%S"))
        path = RunDir.unique_path(config.out_dir, name)
        lock = RunLock.acquire(path)
        try:
            run_dir = RunDir(path, lock=lock, **_reporting(config, tensorboard))
        except BaseException:
            lock.release()
            raise
        return cls._build(run_dir, config, None)

    @classmethod
    def _build(
        cls: type[_Self], run_dir: RunDir, config: TrainConfig, resume_from: ResumePoint | None
    ) -> _Self:
        """``cls(config, run_dir, resume_from)`` after writing the config; the run's lock
        and logs are released if that fails."""
        try:
            run_dir.write_config(to_dict(config))
            return cls(config, run_dir, resume_from)  # type: ignore[call-arg]
        except BaseException:
            run_dir.close()
            raise

    @classmethod
    def resume(
        cls: type[_Self],
        path: str | Path,
        config: TrainConfig | None = None,
        *,
        tensorboard: bool = True,
    ) -> _Self:
        """Continue the run in ``path`` from its newest checkpoint that loads.

        Args:
            path: the run directory.
            config: the config to go on with (``None`` = the saved one). Only the keys of
                :data:`RESUMABLE_CHANGES` may differ from the saved config (e.g. a larger
                ``iterations``); anything else would change the results.

        Raises:
            FileNotFoundError: not a run directory, or no checkpoint that loads.
            ConfigError: ``config`` changes a key that must stay the same.
            RunInUse: another process is training this run.
            CheckpointError: the checkpoint's state does not fit this run.
        """
        path = Path(path)
        saved = from_dict(
            TrainConfig, RunDir(path, tensorboard=False).read_config(), source=str(path)
        )
        saved = cls.prepare_config(saved)
        if config is not None:
            config = cls.fill_from_saved(config, saved, path)
            check_resumable(saved, config, path)
        else:
            config = saved
        lock = RunLock.acquire(path)
        try:
            checkpoint, state = newest_loadable_checkpoint(
                path, cls.state_keys, cls.check_checkpoint
            )
            run_dir = RunDir(
                path,
                purge_after=int(state["iteration"]),
                lock=lock,
                **_reporting(config, tensorboard),
            )
        except BaseException:
            lock.release()
            raise
        return cls._build(run_dir, config, ResumePoint(checkpoint, state))

    # ------------------------------------------------------------------ the loop
    def step(self) -> dict[str, float]:
        """One iteration, logged; checkpointed every ``checkpoint_every`` and at the last."""
        metrics = self._iterate()
        self.run_dir.log(self.iteration, metrics)
        if (
            self.iteration % self.config.checkpoint_every == 0
            or self.iteration == self.config.iterations
        ):
            self.save_checkpoint()
        return metrics

    def train(self, on_iteration_end: IterationCallback | None = None) -> TrainResult:
        """Run the remaining iterations; checkpoints and logs as configured.

        Args:
            on_iteration_end: called as ``fn(iteration, metrics, trainer)`` after each
                iteration is logged and checkpointed.
        """
        from stvg.progress import progress

        cfg = self.config
        metrics: dict[str, float] = {}
        bar = progress(
            cfg.iterations,
            f"RL {cfg.algorithm}",
            enabled=cfg.progress_bar,
            unit="iterations",
            initial=self.iteration,
        )
        greedy: dict[str, float] = {}
        try:
            while self.iteration < cfg.iterations:
                metrics = self.step()
                if "rewards/greedy/v_iou" in metrics:  # every greedy_every iterations
                    greedy = {"greedy vIoU": float(metrics["rewards/greedy/v_iou"])}
                reward = metrics.get("rewards/sampled/total", metrics.get("charts/episodic_return"))
                bar.update(1, reward=float("nan") if reward is None else float(reward), **greedy)
                if on_iteration_end is not None:
                    on_iteration_end(self.iteration, metrics, self)
        finally:
            bar.close()
        return TrainResult(
            self.run_dir.path, self.iteration, metrics, self.run_dir.latest_checkpoint()
        )

    # ------------------------------------------------------------------ resources
    def _take_threads(self) -> None:
        """Apply ``torch_threads``, or choose the count (:mod:`stvg.training.threads`, the
        rollout workers' CPUs left to them), remembering the process's count for
        :meth:`close`."""
        import torch

        from stvg.training.threads import resolve_threads

        self._threads_before = torch.get_num_threads()
        rollout = self.config.rollout
        reserved = rollout.num_workers * rollout.num_cpus_per_worker
        self.threads = resolve_threads(self.config.torch_threads, reserved)
        torch.set_num_threads(self.threads)

    def close(self) -> None:
        """Stop the trainer's workers (and Ray, if this trainer started it); close the
        logs and release the run's lock (also when stopping the workers fails); give the
        process its torch thread count back."""
        import torch

        try:
            self._stop()
        finally:
            self.run_dir.close()
        if self._threads_before is not None:
            torch.set_num_threads(self._threads_before)
        if self._owns_ray:
            import ray

            ray.shutdown()
            self._owns_ray = False


__all__ = [
    "RESUMABLE_CHANGES",
    "ROUNDING_CHANGES",
    "IterationCallback",
    "ResumePoint",
    "TrainResult",
    "TrainerLifecycle",
    "changed_keys",
    "check_resumable",
]
