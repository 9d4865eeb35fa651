"""Torch thread counts chosen from the cores a process may use, less the Ray workers' CPUs
and the cores other processes keep busy (``stvg.training.threads``)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stvg.training.threads import (
    auto_threads,
    busy_cores,
    cgroup_cpu_limit,
    choose_threads,
    resolve_threads,
    torch_threads,
    usable_cores,
)


def test_the_rule_by_hand() -> None:
    assert choose_threads(2) == 2
    assert choose_threads(2, busy=1.4) == 1  # another process keeps a core busy
    assert choose_threads(2, reserved=2) == 1  # two Ray workers x 1 CPU beside the learner
    assert choose_threads(8, reserved=2, busy=0.4) == 6
    assert choose_threads(8, reserved=1.5) == 6  # a fractional CPU still takes a core
    assert choose_threads(1, busy=5.0) == 1  # never below one


def test_cgroup_quota_files(tmp_path: Path) -> None:
    v2 = tmp_path / "v2"
    v2.mkdir()
    (v2 / "cpu.max").write_text("150000 100000\n")
    assert cgroup_cpu_limit(v2) == 1.5
    assert usable_cores(v2) == min(len(os.sched_getaffinity(0)), 2)  # 1.5 cores -> 2
    (v2 / "cpu.max").write_text("max 100000\n")
    assert cgroup_cpu_limit(v2) is None
    v1 = tmp_path / "v1"
    (v1 / "cpu").mkdir(parents=True)
    (v1 / "cpu" / "cpu.cfs_quota_us").write_text("100000\n")
    (v1 / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert cgroup_cpu_limit(v1) == 1.0 and usable_cores(v1) == 1
    (v1 / "cpu" / "cpu.cfs_quota_us").write_text("-1\n")
    assert cgroup_cpu_limit(v1) is None
    assert cgroup_cpu_limit(tmp_path / "none") is None


def test_affinity_bounds_the_count() -> None:
    """A process pinned to one CPU (taskset) gets one thread, whatever the host has."""
    code = (
        "import os; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}); "
        "from stvg.training.threads import usable_cores, auto_threads; "
        "print(usable_cores(), auto_threads())"
    )
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert out.stdout.split() == ["1", "1"]


def test_a_busy_process_beside_is_seen() -> None:
    """A process spinning on a core shows up as about one busy core (other work on the
    machine can only add to it); this process's own time is not counted."""
    spin = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)
        assert busy_cores(0.5) >= 0.6
    finally:
        spin.kill()
        spin.wait()
    start = time.process_time()
    while time.process_time() - start < 0.05:  # our own work before the look
        pass
    assert busy_cores(0.1) >= 0.0


def test_omp_num_threads_and_a_given_count_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert auto_threads() == 3 and resolve_threads(None) == 3
    assert resolve_threads(5) == 5
    monkeypatch.setenv("OMP_NUM_THREADS", "")
    assert 1 <= resolve_threads(None, reserved=0) <= usable_cores()


def test_torch_threads_gives_the_count_back(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    before = torch.get_num_threads()
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    with torch_threads() as count:
        assert count == 1 and torch.get_num_threads() == 1
    with torch_threads(2) as count:
        assert count == 2 and torch.get_num_threads() == 2
    assert torch.get_num_threads() == before
