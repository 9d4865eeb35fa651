"""Which samples each iteration plays, the seed of every rollout task, and the learning
rate of every iteration.

All three depend only on the run's config and on how far the run has got, never on the
number of workers, on wall-clock order or on how many iterations this process is asked to
run, so a resumed run plays and learns exactly what an uninterrupted one would.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


class SampleSchedule:
    """Sample ids epoch after epoch, each epoch a fresh seeded permutation of the dataset.

    Item ``j`` of the stream is ``ids[perm_e[j mod n]]`` with ``e = j // n`` and
    ``perm_e = default_rng([seed, e]).permutation(n)``.

    Args:
        sample_ids: the dataset's ids (non-empty).
        seed: the run's seed.

    Attributes:
        consumed: items taken so far (the whole state, see :meth:`state_dict`).
    """

    def __init__(self, sample_ids: Sequence[str], seed: int) -> None:
        if not sample_ids:
            raise ValueError("SampleSchedule needs at least one sample id")
        self.sample_ids = list(sample_ids)
        self.seed = int(seed)
        self.consumed = 0
        self._epoch = -1
        self._perm = np.zeros(0, dtype=np.int64)

    def _permutation(self, epoch: int) -> np.ndarray:
        if epoch != self._epoch:
            self._perm = np.random.default_rng([self.seed, epoch]).permutation(len(self.sample_ids))
            self._epoch = epoch
        return self._perm

    def take(self, count: int) -> list[str]:
        """The next ``count`` sample ids."""
        n = len(self.sample_ids)
        out = []
        for j in range(self.consumed, self.consumed + int(count)):
            out.append(self.sample_ids[int(self._permutation(j // n)[j % n])])
        self.consumed += int(count)
        return out

    def state_dict(self) -> dict[str, Any]:
        """``{"consumed": ...}``."""
        return {"consumed": self.consumed}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from a :meth:`state_dict`."""
        self.consumed = int(state["consumed"])


def task_seed(seed: int, iteration: int, round_: int, task_index: int) -> int:
    """A 63-bit seed for task ``task_index`` of sampling round ``round_`` of ``iteration``."""
    state = np.random.SeedSequence([int(seed), int(iteration), int(round_), int(task_index)])
    return int(state.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))


def annealed_lr(iteration: int, base_lr: float, horizon: int) -> float:
    """CleanRL's linear annealing: ``base_lr * (1 - (iteration - 1) / horizon)``, from
    ``base_lr`` at iteration 1 down to ``base_lr / horizon`` at iteration ``horizon``
    (0 after it).

    ``horizon`` is the run's fixed ``lr_anneal_iterations``, not the ``iterations`` of
    the current invocation, so resuming with more iterations keeps every rate.

    >>> [annealed_lr(i, 1.0, 4) for i in (1, 2, 3, 4)]
    [1.0, 0.75, 0.5, 0.25]
    """
    if horizon < 1:
        raise ValueError(f"annealed_lr needs a horizon >= 1, got {horizon}")
    return float(base_lr) * max(0.0, 1.0 - (int(iteration) - 1.0) / int(horizon))


def chunks(items: Sequence[str], size: int) -> list[tuple[str, ...]]:
    """``items`` cut into consecutive tuples of ``size`` (the last may be shorter).

    >>> chunks(["a", "b", "c"], 2)
    [('a', 'b'), ('c',)]
    """
    return [tuple(items[i : i + size]) for i in range(0, len(items), size)]


__all__ = ["SampleSchedule", "annealed_lr", "chunks", "task_seed"]
