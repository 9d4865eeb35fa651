"""Pools of rollout workers: in this process (``num_workers: 0``) or Ray actors.

Both pools have one method that matters, ``run(tasks, weights, version)``: play every task
with the given weights and return the experiences in task order. The Ray pool puts the
weights in the object store once per call (``ray.put``) and hands every actor the same
reference; an actor loads them only when their version is new to it. Tasks go to actors as
they become free. When an actor dies (killed, out of memory, its node lost) the pool starts
a replacement and gives it the same task again, so the batch is complete and, since a
task's randomness comes from its seed, identical to an undisturbed one.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from stvg.training.batch import Experience
from stvg.training.config import RayConfig, RolloutConfig
from stvg.training.rollout import RolloutTask, RolloutWorker


class LocalWorkers:
    """One :class:`RolloutWorker` in the learner's process.

    The global torch, NumPy and Python random states are saved before and restored after
    every call, so rollouts leave the learner's random streams untouched. Rollouts run with
    ``torch_threads`` intra-op threads, as a Ray worker with that many CPUs does, so both
    compute bit for bit the same experience.

    Args:
        worker_kwargs: keyword arguments of :class:`RolloutWorker`.
        torch_threads: torch threads while playing (restored afterwards).
    """

    num_workers = 0

    def __init__(self, worker_kwargs: Mapping[str, Any], torch_threads: int = 1) -> None:
        self.worker = RolloutWorker(**{**dict(worker_kwargs), "torch_threads": None})
        self.torch_threads = max(1, int(torch_threads))
        self.restarts = 0

    def sample_ids(self) -> list[str]:
        """The env's sample ids, in dataset order."""
        return self.worker.sample_ids()

    def run(
        self, tasks: Sequence[RolloutTask], weights: Mapping[str, Any], version: int
    ) -> list[Experience]:
        """Play ``tasks`` in order with ``weights``."""
        np_state, py_state = np.random.get_state(), random.getstate()
        threads = torch.get_num_threads()
        torch.set_num_threads(self.torch_threads)
        try:
            with torch.random.fork_rng(devices=[]):
                return [self.worker.run(task, weights, version) for task in tasks]
        finally:
            torch.set_num_threads(threads)
            np.random.set_state(np_state)
            random.setstate(py_state)

    def close(self) -> None:
        """Release the env."""
        self.worker.env.close()


def worker_threads(rollout: RolloutConfig) -> int:
    """Torch threads of a rollout worker: its CPUs (at least 1)."""
    return max(1, int(rollout.num_cpus_per_worker))


def init_ray(config: RayConfig) -> bool:
    """Connect to Ray unless already connected.

    ``config.address`` ``None`` starts a local instance (``num_cpus``, dashboard per the
    config); ``auto`` or ``ray://...`` joins an existing cluster.

    Returns:
        whether this call started the connection (and so should shut it down).
    """
    import ray

    if ray.is_initialized():
        return False
    kwargs: dict[str, Any] = {"include_dashboard": config.include_dashboard, "log_to_driver": True}
    if config.address is not None:
        kwargs["address"] = config.address
    elif config.num_cpus is not None:
        kwargs["num_cpus"] = config.num_cpus
    ray.init(**kwargs)
    return True


class RayWorkers:
    """``num_workers`` :class:`RolloutWorker` Ray actors, restarted when they die.

    Args:
        worker_kwargs: keyword arguments of :class:`RolloutWorker` (``env_seed`` is offset
            by the actor's index).
        rollout: sizes and resources (``num_workers``, ``num_cpus_per_worker``,
            ``num_gpus_per_worker``, ``max_worker_restarts``).

    Attributes:
        actors: the live actor handles, one per slot.
        restarts: actors replaced so far.
        tasks_in_flight: tasks queued on an actor at once (2 hides the round trip).
    """

    def __init__(self, worker_kwargs: Mapping[str, Any], rollout: RolloutConfig) -> None:
        import ray

        if rollout.num_workers < 1:
            raise ValueError("RayWorkers needs num_workers >= 1; use LocalWorkers for 0")
        self._ray = ray
        self.num_workers = rollout.num_workers
        self.max_restarts = rollout.max_worker_restarts
        self._remote = ray.remote(
            num_cpus=rollout.num_cpus_per_worker,
            num_gpus=rollout.num_gpus_per_worker,
            max_restarts=0,
        )(RolloutWorker)
        self._kwargs = {**dict(worker_kwargs), "torch_threads": worker_threads(rollout)}
        self.tasks_in_flight = 2
        self.restarts = 0
        self.actors = [self._start(slot) for slot in range(self.num_workers)]

    def _start(self, slot: int) -> Any:
        kwargs = dict(self._kwargs)
        kwargs["env_seed"] = int(kwargs.get("env_seed", 0)) + slot
        return self._remote.remote(**kwargs)

    def _replace(self, slot: int) -> None:
        if self.restarts >= self.max_restarts:
            raise RuntimeError(
                f"rollout worker {slot} died and the run already replaced {self.restarts} "
                f"workers (rollout.max_worker_restarts={self.max_restarts}): raise the limit "
                "or look for the cause in the Ray logs"
            )
        self._ray.kill(self.actors[slot], no_restart=True)
        self.restarts += 1
        self.actors[slot] = self._start(slot)

    def sample_ids(self) -> list[str]:
        """The env's sample ids, in dataset order (asked of a worker)."""
        for _ in range(self.max_restarts + 1):
            try:
                return self._ray.get(self.actors[0].sample_ids.remote())
            except self._ray.exceptions.RayActorError:
                self._replace(0)
        raise RuntimeError("rollout worker 0 keeps dying before it can list the samples")

    def run(
        self, tasks: Sequence[RolloutTask], weights: Mapping[str, Any], version: int
    ) -> list[Experience]:
        """Play ``tasks`` on the actors with ``weights``; results in task order.

        Every actor has up to ``tasks_in_flight`` tasks queued, so it starts the next one
        without waiting for the learner to collect the last. When an actor dies, its
        queued tasks go back to the front of the queue and a replacement is started (once
        per death, however many of its tasks fail).
        """
        ray = self._ray
        weights_ref = ray.put(dict(weights))
        queue = list(tasks)
        results: dict[int, Experience] = {}
        pending: dict[Any, tuple[RolloutTask, int, Any]] = {}
        in_flight = [0] * self.num_workers

        def fill(slot: int) -> None:
            while queue and in_flight[slot] < self.tasks_in_flight:
                task, actor = queue.pop(0), self.actors[slot]
                pending[actor.run.remote(task, weights_ref, version)] = (task, slot, actor)
                in_flight[slot] += 1

        for slot in range(self.num_workers):
            fill(slot)
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            task, slot, actor = pending.pop(ready[0])
            in_flight[slot] -= 1
            try:
                results[task.index] = ray.get(ready[0])
            except ray.exceptions.RayActorError:
                if actor is self.actors[slot]:
                    self._replace(slot)
                queue.insert(0, task)
            fill(slot)
        return [results[task.index] for task in tasks]

    def close(self) -> None:
        """Kill the actors."""
        for actor in self.actors:
            self._ray.kill(actor, no_restart=True)
        self.actors = []


def make_workers(
    worker_kwargs: Mapping[str, Any], rollout: RolloutConfig
) -> LocalWorkers | RayWorkers:
    """:class:`LocalWorkers` for ``num_workers: 0``, else :class:`RayWorkers` (Ray must be
    initialised, see :func:`init_ray`)."""
    if rollout.num_workers == 0:
        return LocalWorkers(worker_kwargs, worker_threads(rollout))
    return RayWorkers(worker_kwargs, rollout)


__all__ = ["LocalWorkers", "RayWorkers", "init_ray", "make_workers", "worker_threads"]
