"""Ray rollout workers: same experience as in-process, one ``ray.put`` per broadcast, and
recovery from a worker killed mid-run (the batch still comes back whole)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import ray
import torch
from rl_helpers import (
    build,
    env_kwargs,
    grounding_config,
    make_native_checkpoint,
    make_split,
    make_zoom_checkpoint,
    zoom_env_kwargs,
)

from stvg.training.config import RolloutConfig
from stvg.training.loop import Trainer
from stvg.training.rollout import RolloutTask
from stvg.training.run_dir import read_metrics
from stvg.training.workers import LocalWorkers, RayWorkers


@pytest.fixture(scope="module")
def ray_session() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = make_split(tmp_path_factory.mktemp("workers_data"))
    return root, make_native_checkpoint(root, root / "init.pt")


def _worker_kwargs(setup: tuple[Path, Path]) -> dict:
    from stvg.policies.native import NativePolicy

    root, checkpoint = setup
    policy = NativePolicy.load(checkpoint)
    from stvg.config import to_dict

    return {
        "env_id": "stvg/Grounding-v0",
        "env_kwargs": env_kwargs(root),
        "max_episode_steps": None,
        "policy_name": "native",
        "policy_config": to_dict(policy.config),
        "env_seed": 0,
    }, policy.state_dict()


def _tasks(ids: list[str]) -> list[RolloutTask]:
    return [
        RolloutTask(index=k, sample_ids=(sid,), group_size=3, seed=100 + k)
        for k, sid in enumerate(ids)
    ]


def _same(a, b) -> None:
    assert a.sample_ids == b.sample_ids
    np.testing.assert_array_equal(a.rewards, b.rewards)
    assert torch.equal(a.rollouts.log_probs, b.rollouts.log_probs)


def test_ray_workers_match_in_process_and_survive_a_kill(
    ray_session: None, setup: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    kwargs, weights = _worker_kwargs(setup)
    local = LocalWorkers(kwargs)
    ids = local.sample_ids()
    tasks = _tasks(ids + ids)  # 8 tasks for 2 workers
    expected = local.run(tasks, weights, version=1)
    pool = RayWorkers(kwargs, RolloutConfig(num_workers=2, num_cpus_per_worker=1))
    try:
        puts = []
        real_put, real_wait = ray.put, ray.wait
        monkeypatch.setattr(ray, "put", lambda value: puts.append(1) or real_put(value))
        first = pool.run(tasks, weights, version=1)
        assert len(puts) == 1  # the weights go to the object store once per broadcast
        for a, b in zip(expected, first, strict=True):
            _same(a, b)

        # kill worker 0 as soon as the tasks are in flight
        victim = pool.actors[0]
        killed = []

        def wait_and_kill(*args, **kw):
            if not killed:
                ray.kill(victim, no_restart=True)
                killed.append(victim)
            return real_wait(*args, **kw)

        monkeypatch.setattr(ray, "wait", wait_and_kill)
        second = pool.run(tasks, weights, version=2)
        assert killed and pool.restarts == 1
        assert pool.actors[0] is not victim
        assert len(second) == len(tasks)
        for a, b in zip(expected, second, strict=True):
            _same(a, b)
    finally:
        pool.close()
        local.close()


def test_training_goes_on_after_a_worker_dies(
    ray_session: None, setup: tuple[Path, Path], tmp_path: Path
) -> None:
    root, checkpoint = setup
    overrides = {"iterations": 3, "batch_size": 4, "rollout": {"num_workers": 2, "task_size": 1}}
    trainer = Trainer.create(
        build(grounding_config(root, checkpoint, tmp_path, **overrides)), tensorboard=False
    )

    def kill_one(iteration: int, metrics, trainer: Trainer) -> None:
        if iteration == 1:
            ray.kill(trainer.workers.actors[1], no_restart=True)

    try:
        result = trainer.train(on_iteration_end=kill_one)
    finally:
        trainer.close()
    assert ray.is_initialized()  # the trainer did not own the session, so left it running
    lines = read_metrics(result.run_dir)
    assert [line["iteration"] for line in lines] == [1, 2, 3]
    assert [line["charts/trained_rows"] for line in lines] == [16, 16, 16]  # 4 prompts x 4
    assert [line["workers/restarts"] for line in lines] == [0, 1, 1]


def test_worker_count_does_not_change_the_run(
    ray_session: None, setup: tuple[Path, Path], tmp_path: Path
) -> None:
    root, checkpoint = setup
    finals = []
    for workers in (0, 2):
        overrides = {"name": f"w{workers}", "rollout": {"num_workers": workers, "task_size": 1}}
        trainer = Trainer.create(
            build(grounding_config(root, checkpoint, tmp_path, **overrides)), tensorboard=False
        )
        try:
            trainer.train()
        finally:
            trainer.close()
        finals.append(trainer.policy.state_dict())
    assert all(torch.equal(finals[0][k], finals[1][k]) for k in finals[0])


def test_ray_workers_play_the_same_episode_groups_as_in_process(
    ray_session: None, tmp_path: Path
) -> None:
    """Multi-step GRPO groups (whole glance-and-zoom episodes per sample) come back from
    Ray actors as they come from the learner's process."""
    from stvg.config import to_dict
    from stvg.policies.native import NativePolicy

    root = make_split(tmp_path / "data")
    learned = make_zoom_checkpoint(root, root / "zoom.pt")
    policy = NativePolicy.load(learned)
    kwargs = {
        "env_id": "stvg/ZoomGrounding-v0",
        "env_kwargs": zoom_env_kwargs(root),
        "max_episode_steps": None,
        "policy_name": "native",
        "policy_config": to_dict(policy.config),
        "env_seed": 0,
    }
    local = LocalWorkers(kwargs)
    ids = local.sample_ids()
    tasks = [RolloutTask(k, (sid,), group_size=3, seed=40 + k) for k, sid in enumerate(ids)]
    weights = policy.state_dict()
    expected = local.run(tasks, weights, version=1)
    pool = RayWorkers(kwargs, RolloutConfig(num_workers=2, num_cpus_per_worker=1))
    try:
        got = pool.run(tasks, weights, version=1)
    finally:
        pool.close()
        local.close()
    kinds = [a["kind"] for e in expected for a in e.rollouts.actions]
    assert 0 in kinds and 1 in kinds  # the learned kind head both zooms and answers
    for a, b in zip(expected, got, strict=True):
        assert a.sample_ids == b.sample_ids
        np.testing.assert_array_equal(a.trajectory, b.trajectory)
        np.testing.assert_array_equal(a.rewards, b.rewards)
        assert torch.equal(a.rollouts.log_probs, b.rollouts.log_probs)
