"""Pools of rollout workers: in this process (``num_workers: 0``) or Ray actors.

Both pools have one method that matters, ``run(tasks, weights, version)``: play every task
with the given weights and return the experiences in task order. The Ray pool puts the
weights in the object store once per call (``ray.put``) and hands every actor the same
reference; an actor loads them only when their version is new to it. Tasks go to actors as
they become free. When an actor dies (killed, out of memory, its node lost) the pool starts
a replacement and gives it the same task again, so the batch is complete and, since a
task's randomness comes from its seed, identical to an undisturbed one.

On a cluster (``ray.address``, see docs/cluster.md) the actors are spread over the nodes
(``rollout.placement``), and every task reports the node that played it: the pool counts
the nodes that played tasks (``workers/nodes`` in the run's metrics).
"""

from __future__ import annotations

import logging
import os
import random
import socket
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from stvg.config import ConfigError
from stvg.training.batch import Experience
from stvg.training.config import RayConfig, RolloutConfig
from stvg.training.rollout import RolloutTask, RolloutWorker
from stvg.training.worker_setup import DRIVER_CWD_VAR, enter_driver_cwd

logger = logging.getLogger(__name__)


class RayConnectError(ConfigError):
    """``ray.address`` names a cluster that cannot be joined (nothing answers there, or Ray
    refused the connection). A :class:`~stvg.config.ConfigError`, so the CLI reports it as
    one line with exit status 2."""


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

    def metrics(self) -> dict[str, float]:
        """``workers/restarts`` (always 0) and ``workers/nodes`` (1: this process)."""
        return {"workers/restarts": float(self.restarts), "workers/nodes": 1.0}

    def close(self) -> None:
        """Release the env."""
        self.worker.env.close()


def worker_threads(rollout: RolloutConfig) -> int:
    """Torch threads of a rollout worker: its CPUs (at least 1)."""
    return max(1, int(rollout.num_cpus_per_worker))


#: Ray's logger of its token-authentication set-up, and the start of the line it logs
#: when it turns token authentication on for a new local instance by default.
_RAY_AUTH_LOGGER = "ray._private.authentication.authentication_token_setup"
_TOKEN_AUTH_ENABLED = "Token authentication is enabled for this Ray cluster"


class _DropTokenAuthEnabled(logging.Filter):
    """Drops Ray's "token authentication is enabled" line (nothing else)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.getMessage()).startswith(_TOKEN_AUTH_ENABLED)


def _drop_token_auth_enabled_line() -> None:
    """Install :class:`_DropTokenAuthEnabled` on Ray's auth logger (once)."""
    logger = logging.getLogger(_RAY_AUTH_LOGGER)
    if not any(isinstance(f, _DropTokenAuthEnabled) for f in logger.filters):
        logger.addFilter(_DropTokenAuthEnabled())


def init_ray(config: RayConfig) -> bool:
    """Connect to Ray unless already connected.

    ``config.address`` ``None`` starts a local instance (``num_cpus``, dashboard per the
    config; Ray's default token authentication, without its line saying so at every
    start); ``host:port``, ``auto`` or ``ray://host:port`` joins an existing cluster.
    A ``host:port`` or ``ray://`` address must answer a TCP connection within
    ``config.connect_timeout_s`` first (Ray alone would retry it for minutes). The
    workers of a joined cluster start in this process's working directory where their
    node has it (:mod:`stvg.training.worker_setup`), as the workers of a local instance
    do.

    Returns:
        whether this call started the connection (and so should shut it down).

    Raises:
        RayConnectError: nothing answers at the address, or Ray could not join it.
    """
    import ray

    if ray.is_initialized():
        return False
    kwargs: dict[str, Any] = {"include_dashboard": config.include_dashboard, "log_to_driver": True}
    if config.address is not None:
        check_reachable(config.address, config.connect_timeout_s)
        kwargs["address"] = config.address
        # A joined cluster starts workers in the directory of its `ray start`; they move
        # to this process's directory, so relative paths (dataset roots, checkpoints)
        # mean what they mean here wherever that directory exists.
        kwargs["runtime_env"] = {
            "env_vars": {DRIVER_CWD_VAR: os.getcwd()},
            "worker_process_setup_hook": f"{enter_driver_cwd.__module__}.enter_driver_cwd",
        }
    else:
        if config.num_cpus is not None:
            kwargs["num_cpus"] = config.num_cpus
        # Ray turns token authentication on for a local instance when RAY_AUTH_MODE is
        # unset, and logs at every start that it did: the expected, secure default here,
        # so that one line is dropped (Ray's warning about auth being *disabled* is kept).
        _drop_token_auth_enabled_line()
    try:
        ray.init(**kwargs)
    except ConnectionError as exc:
        if config.address is None:
            raise
        raise RayConnectError(
            f"ray.address={config.address!r}: Ray could not join the cluster ({exc}). Check "
            "that `ray status --address <address>` works from this machine; a cluster with "
            "token authentication also needs RAY_AUTH_MODE=token and its token here "
            "(docs/cluster.md)"
        ) from exc
    return True


def check_reachable(address: str, timeout_s: float) -> None:
    """Raise :class:`RayConnectError` unless ``address`` (``host:port`` or
    ``ray://host:port``) accepts a TCP connection within ``timeout_s`` seconds. ``auto``,
    ``local`` and addresses without a port are left to Ray."""
    host, sep, port_text = address.removeprefix("ray://").rpartition(":")
    if not sep or not host or not port_text.isdigit():
        return
    host = host.strip("[]")  # [::1]:6379
    try:
        with socket.create_connection((host, int(port_text)), timeout=timeout_s):
            return
    except TimeoutError:
        reason = f"no answer within {timeout_s:g} s (ray.connect_timeout_s)"
    except OSError as exc:  # refused, unknown host, unreachable network
        reason = exc.strerror or str(exc)
    raise RayConnectError(
        f"ray.address={address!r}: cannot reach {host}:{port_text}: {reason}. Start the "
        "cluster's head there (`ray start --head --port=PORT`) and give its address as "
        "host:PORT, or set ray.address to null for a local Ray instance (docs/cluster.md)"
    )


class _RayRolloutWorker(RolloutWorker):
    """A :class:`RolloutWorker` actor whose results say which Ray node played them."""

    def run_on_node(
        self, task: RolloutTask, weights: Mapping[str, Any], version: int
    ) -> tuple[Experience, str]:
        """``(self.run(task, weights, version), the Ray node id of this actor)``."""
        import ray

        return self.run(task, weights, version), ray.get_runtime_context().get_node_id()


class RayWorkers:
    """``num_workers`` :class:`RolloutWorker` Ray actors, restarted when they die.

    Args:
        worker_kwargs: keyword arguments of :class:`RolloutWorker` (``env_seed`` is offset
            by the actor's index).
        rollout: sizes, resources and placement (``num_workers``, ``num_cpus_per_worker``,
            ``num_gpus_per_worker``, ``max_worker_restarts``, ``placement``).

    Attributes:
        actors: the live actor handles, one per slot.
        restarts: actors replaced so far.
        tasks_in_flight: tasks queued on an actor at once (2 hides the round trip).
        scheduling_strategy: the Ray scheduling strategy of the actors (``"SPREAD"``, or
            ``None`` for Ray's default or the enclosing placement group's).
        tasks_by_node: tasks played so far per Ray node id (hex), as the actors report.
    """

    def __init__(self, worker_kwargs: Mapping[str, Any], rollout: RolloutConfig) -> None:
        import ray

        if rollout.num_workers < 1:
            raise ValueError("RayWorkers needs num_workers >= 1; use LocalWorkers for 0")
        self._ray = ray
        self.num_workers = rollout.num_workers
        self.max_restarts = rollout.max_worker_restarts
        # Inside a placement group (a sweep trial's) the actors belong to its bundles; an
        # explicit strategy would take them out of it.
        spread = (
            rollout.placement == "spread"
            and rollout.num_workers > 1
            and ray.util.get_current_placement_group() is None
        )
        self.scheduling_strategy: str | None = "SPREAD" if spread else None
        options: dict[str, Any] = {
            "num_cpus": rollout.num_cpus_per_worker,
            "num_gpus": rollout.num_gpus_per_worker,
            "max_restarts": 0,
        }
        if self.scheduling_strategy is not None:
            options["scheduling_strategy"] = self.scheduling_strategy
        self._remote = ray.remote(**options)(_RayRolloutWorker)
        self._kwargs = {**dict(worker_kwargs), "torch_threads": worker_threads(rollout)}
        self.tasks_in_flight = 2
        self.restarts = 0
        self.tasks_by_node: Counter[str] = Counter()
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
                pending[actor.run_on_node.remote(task, weights_ref, version)] = (task, slot, actor)
                in_flight[slot] += 1

        for slot in range(self.num_workers):
            fill(slot)
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            task, slot, actor = pending.pop(ready[0])
            in_flight[slot] -= 1
            try:
                results[task.index], node_id = ray.get(ready[0])
            except ray.exceptions.RayActorError:
                if actor is self.actors[slot]:
                    self._replace(slot)
                queue.insert(0, task)
            else:
                if node_id not in self.tasks_by_node:
                    logger.info("rollout worker %d plays on Ray node %s", slot, node_id)
                self.tasks_by_node[node_id] += 1
            fill(slot)
        return [results[task.index] for task in tasks]

    def metrics(self) -> dict[str, float]:
        """``workers/restarts`` (actors replaced so far) and ``workers/nodes`` (Ray nodes
        that have played at least one task since the pool started)."""
        return {
            "workers/restarts": float(self.restarts),
            "workers/nodes": float(len(self.tasks_by_node)),
        }

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


__all__ = [
    "LocalWorkers",
    "RayConnectError",
    "RayWorkers",
    "check_reachable",
    "init_ray",
    "make_workers",
    "worker_threads",
]
