"""What an env does with a sample whose video cannot be decoded (``on_bad_video``).

* ``error`` (default): ``reset`` raises :class:`~stvg.data.errors.VideoError` naming the
  sample id and the file.
* ``skip``: the sample is remembered as bad (decoded once, never again), a warning names
  it and the reason once, and the episode uses a replacement: the next sample of the
  walk for a plain ``reset()``, the next sample in dataset order (cycling) for
  ``reset(options={"sample_id"|"index": ...})``, so the same request always gets the same
  replacement on any worker. ``info["bad_videos"]`` lists ``{"sample_id", "reason"}`` of
  every sample skipped by that reset (absent when none was). When every video is bad the
  reset raises.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, TypeVar

from stvg.data.errors import DataError, VideoError
from stvg.data.types import Sample

OnBadVideo = Literal["error", "skip"]
#: The choices of ``on_bad_video``.
ON_BAD_VIDEO: tuple[str, ...] = ("error", "skip")

T = TypeVar("T")


def sample_video_error(sample: Sample, exc: VideoError) -> VideoError:
    """``exc`` with the sample id in front (the reader names only the file)."""
    text = str(exc)
    if repr(sample.sample_id) in text:
        return exc
    error = VideoError(f"sample {sample.sample_id!r}: {text}")
    error.path = exc.path if exc.path is not None else sample.video_path
    error.sample_id = sample.sample_id
    return error


class BadVideoSkipper:
    """Loads a sample's frames, replacing samples whose video is bad when ``skip``.

    Args:
        samples: the env's samples (dataset order).
        mode: ``error`` or ``skip`` (see the module docstring).
    """

    def __init__(self, samples: Sequence[Sample], mode: str) -> None:
        if mode not in ON_BAD_VIDEO:
            raise ValueError(f"on_bad_video must be one of {list(ON_BAD_VIDEO)}, got {mode!r}")
        self.samples = samples
        self.mode = mode
        self._index_of = {s.sample_id: i for i, s in enumerate(samples)}
        #: ``{sample_id: reason}`` of every bad video met so far
        self.bad: dict[str, str] = {}

    def load(
        self,
        sample: Sample,
        decode: Callable[[Sample], T],
        next_in_walk: Callable[[], Sample],
        options: Mapping[str, Any] | None,
    ) -> tuple[Sample, T, list[dict[str, str]]]:
        """``(sample, decode(sample), skipped)`` for ``sample`` or its replacement.

        Args:
            sample: the sample the reset chose.
            decode: decodes a sample's frames (raises :class:`VideoError`).
            next_in_walk: the next sample of the env's walk (plain resets).
            options: the reset's options (a chosen sample is replaced in dataset order).

        Raises:
            VideoError: ``error`` mode and a bad video (message names sample and file).
            DataError: ``skip`` mode and every sample's video is bad.
        """
        chosen = bool(options) and ("sample_id" in options or "index" in options)
        skipped: list[dict[str, str]] = []
        for _ in range(len(self.samples)):
            if sample.sample_id not in self.bad:
                try:
                    return sample, decode(sample), skipped
                except VideoError as exc:
                    error = sample_video_error(sample, exc)
                    if self.mode == "error":
                        raise error from exc
                    self.bad[sample.sample_id] = str(error)
                    warnings.warn(
                        f"on_bad_video=skip: skipping {error}; episodes asked for it play "
                        "another sample",
                        stacklevel=3,
                    )
            skipped.append({"sample_id": sample.sample_id, "reason": self.bad[sample.sample_id]})
            if chosen:
                index = (self._index_of[sample.sample_id] + 1) % len(self.samples)
                sample = self.samples[index]
            else:
                sample = next_in_walk()
        raise DataError(
            f"every one of the {len(self.samples)} samples' videos is unreadable "
            f"(on_bad_video=skip skipped them all; first: {next(iter(self.bad.values()))})",
            hint="check the dataset's video folder; re-encode or re-download the videos",
        )


__all__ = ["ON_BAD_VIDEO", "BadVideoSkipper", "OnBadVideo", "sample_video_error"]
