"""How many torch threads a training process uses when its config leaves it open.

``threads: null`` (SFT) and ``torch_threads: null`` (the RL learner) mean *auto*:

    threads = max(1, usable cores - CPUs of the Ray rollout workers beside it
                     - cores other processes keep busy)

* **usable cores**: the CPUs this process may run on (its affinity, ``taskset`` and cpusets
  included) capped by the container's CPU quota (cgroup v2 ``cpu.max`` or v1
  ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us``), where torch's own default counts every
  core of the host;
* **Ray workers**: the rollout workers' ``num_workers x num_cpus_per_worker`` (each
  worker runs that many threads itself);
* **busy cores**: the CPU time other processes used during a 0.2 s look at ``/proc/stat``
  (this process's own time taken out), rounded to whole cores.

Two threads on two cores that another process keeps busy are much slower than one: every
parallel region waits for the thread that is not scheduled (on the 2-core machine of the
README, the tiny VLM's SFT took 13.7 min with 2 threads and 2.1 min with 1 while other work
ran). ``OMP_NUM_THREADS`` in the environment is taken as the user's choice. A number in the
config is used as given.

Results depend on the thread count: torch sums floats in another order with another
count, and a small model's training can end elsewhere. Runs record the counts they used
(``summary.json`` ``threads``, the report); give the counts in the config to compare runs
across machines.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Iterator
from pathlib import Path

#: How long :func:`busy_cores` watches ``/proc/stat`` (seconds).
BUSY_INTERVAL_S = 0.2
_CGROUP = Path("/sys/fs/cgroup")


def cgroup_cpu_limit(root: Path = _CGROUP) -> float | None:
    """The container's CPU quota in cores (``None``: no quota, or no cgroup files).

    Reads cgroup v2 ``<root>/cpu.max`` (``"200000 100000"`` = 2 cores, ``"max 100000"`` = no
    quota), else cgroup v1 ``<root>/cpu/cpu.cfs_quota_us`` over ``cpu.cfs_period_us``
    (``-1`` = no quota).
    """
    try:
        quota, period = (root / "cpu.max").read_text(encoding="ascii").split()[:2]
        if quota != "max" and float(period) > 0:
            return float(quota) / float(period)
        return None
    except (OSError, ValueError):
        pass
    try:
        quota_us = float((root / "cpu" / "cpu.cfs_quota_us").read_text(encoding="ascii"))
        period_us = float((root / "cpu" / "cpu.cfs_period_us").read_text(encoding="ascii"))
    except (OSError, ValueError):
        return None
    return quota_us / period_us if quota_us > 0 and period_us > 0 else None


def usable_cores(root: Path = _CGROUP) -> int:
    """CPUs this process may use: its affinity, capped by the cgroup quota (at least 1)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        cores = os.cpu_count() or 1
    limit = cgroup_cpu_limit(root)
    if limit is not None:
        cores = min(cores, max(1, math.ceil(limit - 1e-9)))
    return max(1, cores)


def _cpu_jiffies() -> tuple[int, int]:
    """``(busy, total)`` jiffies of all CPUs since boot, from ``/proc/stat``."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    total = sum(fields[:8])  # guest time is already inside user time
    return total - idle, total


def _own_jiffies() -> int:
    """This process's user + system jiffies (all its threads), from ``/proc/self/stat``."""
    text = Path("/proc/self/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)


def busy_cores(interval_s: float = BUSY_INTERVAL_S) -> float:
    """Cores kept busy by other processes over ``interval_s`` seconds (0 without
    ``/proc``)."""
    try:
        busy0, total0 = _cpu_jiffies()
        own0 = _own_jiffies()
        time.sleep(interval_s)
        busy1, total1 = _cpu_jiffies()
        own1 = _own_jiffies()
    except (OSError, ValueError, IndexError):
        return 0.0
    elapsed = total1 - total0
    if elapsed <= 0:
        return 0.0
    cpus = os.cpu_count() or 1
    return max(0.0, (busy1 - busy0 - (own1 - own0)) / elapsed * cpus)


def choose_threads(usable: int, reserved: float = 0.0, busy: float = 0.0) -> int:
    """The rule of the module docstring on given numbers.

    >>> choose_threads(2), choose_threads(2, busy=1.4), choose_threads(8, reserved=2, busy=0.4)
    (2, 1, 6)
    >>> choose_threads(2, reserved=2)
    1
    """
    return max(1, int(usable - math.ceil(reserved - 1e-9) - round(busy)))


def auto_threads(reserved: float = 0.0) -> int:
    """Torch threads for a process with ``reserved`` CPUs taken by Ray workers beside it
    (see the module docstring); ``OMP_NUM_THREADS`` when set to a positive integer."""
    given = os.environ.get("OMP_NUM_THREADS", "").strip()
    if given.isdigit() and int(given) > 0:
        return int(given)
    return choose_threads(usable_cores(), reserved, busy_cores())


def resolve_threads(threads: int | None, reserved: float = 0.0) -> int:
    """``threads`` when the config gives a number, else :func:`auto_threads`."""
    return int(threads) if threads is not None else auto_threads(reserved)


@contextlib.contextmanager
def torch_threads(threads: int | None = None) -> Iterator[int]:
    """Run the block with ``resolve_threads(threads)`` torch threads (yielded), then give
    the process its count back (an evaluation inside ``stvg run``, ``stvg evaluate``)."""
    import torch

    before = torch.get_num_threads()
    count = resolve_threads(threads)
    torch.set_num_threads(count)
    try:
        yield count
    finally:
        torch.set_num_threads(before)


__all__ = [
    "auto_threads",
    "busy_cores",
    "cgroup_cpu_limit",
    "choose_threads",
    "resolve_threads",
    "torch_threads",
    "usable_cores",
]
