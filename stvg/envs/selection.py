"""Which sample an episode uses: dataset order, a seeded shuffle, or an explicit choice."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from stvg.data.types import Sample

#: ``reset(options=...)`` keys understood by the envs.
RESET_OPTIONS = ("sample_id", "index")


class SampleSelector:
    """Picks the sample of each episode.

    ``sequential`` walks the dataset in order and starts again after the last sample;
    ``shuffle`` draws a new permutation from the env's ``np_random`` for every pass.
    ``reset(options={"sample_id": ...})`` or ``{"index": i}`` picks a sample explicitly
    without moving the walk.

    Args:
        samples: the dataset (non-empty).
        order: ``"sequential"`` or ``"shuffle"``.
    """

    def __init__(self, samples: Sequence[Sample], order: str) -> None:
        if len(samples) == 0:
            raise ValueError("the env needs at least one sample, got an empty dataset")
        if order not in ("sequential", "shuffle"):
            raise ValueError(f"sample_order must be 'sequential' or 'shuffle', got {order!r}")
        self.samples = samples
        self.order = order
        self._index_of = {s.sample_id: i for i, s in enumerate(samples)}
        self._permutation: np.ndarray | None = None
        self._cursor = 0

    def restart(self) -> None:
        """Begin a new pass at its first sample (called when the env is reseeded)."""
        self._permutation = None
        self._cursor = 0

    def next(self, rng: np.random.Generator, options: Mapping[str, Any] | None = None) -> Sample:
        """The sample of the next episode.

        Args:
            rng: the env's ``np_random`` (used by ``shuffle``).
            options: ``reset`` options; ``sample_id`` or ``index`` choose a sample.

        Raises:
            ValueError: unknown option keys, both keys given, or an index out of range.
            KeyError: an unknown ``sample_id``.
        """
        options = dict(options or {})
        unknown = sorted(set(options) - set(RESET_OPTIONS))
        if unknown:
            raise ValueError(
                f"unknown reset option(s) {unknown}; valid options: {list(RESET_OPTIONS)}"
            )
        if "sample_id" in options and "index" in options:
            raise ValueError("reset options 'sample_id' and 'index' are exclusive: give one")
        if "sample_id" in options:
            sample_id = options["sample_id"]
            if sample_id not in self._index_of:
                raise KeyError(f"reset option sample_id={sample_id!r} is not in the dataset")
            return self.samples[self._index_of[sample_id]]
        if "index" in options:
            index = int(options["index"])
            if not 0 <= index < len(self.samples):
                raise ValueError(
                    f"reset option index={index} is out of range [0, {len(self.samples) - 1}]"
                )
            return self.samples[index]
        if self._cursor == 0 and self.order == "shuffle":
            self._permutation = rng.permutation(len(self.samples))
        position = self._cursor
        self._cursor = (self._cursor + 1) % len(self.samples)
        if self._permutation is not None:
            position = int(self._permutation[position])
        return self.samples[position]


__all__ = ["RESET_OPTIONS", "SampleSelector"]
