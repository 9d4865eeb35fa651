"""The envs' dataset: loading it from the config and the sizes derived from it."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

from stvg.config import ConfigError
from stvg.data.errors import DataError
from stvg.data.timing import sample_frame_indices
from stvg.data.types import Sample
from stvg.envs.config import EnvDataConfig
from stvg.limits import MAX_FRAME_BUFFER_BYTES


def load_samples(cfg: EnvDataConfig, samples: Sequence[Sample] | None = None) -> Sequence[Sample]:
    """``samples`` when given, else the split that ``cfg`` names (``stvg.data.load_dataset``).

    Raises:
        ConfigError: the synthetic dataset without a folder.
        DataError: the dataset is empty (or cannot be loaded).
    """
    if samples is None:
        from stvg.data import load_dataset

        if cfg.dataset == "synthetic" and cfg.root is None and cfg.annotations is None:
            raise ConfigError(
                "config key env.root: dataset 'synthetic' needs root=<folder of a generated "
                "split> or annotations=<file>; gymnasium.make('stvg/Synthetic-v0') uses a "
                "cached split built on first use"
            )

        samples = load_dataset(cfg.dataset, **cfg.dataset_kwargs())
        where = f"dataset {cfg.dataset!r} split {cfg.split!r}"
    else:
        samples = list(samples)
        where = "the samples given"
    if len(samples) == 0:
        raise DataError(
            f"{where} holds no sample", hint="check the dataset root, split and annotations"
        )
    return samples


def frame_slots(samples: Sequence[Sample], fps: float | None, max_frames: int | None) -> int:
    """Frame slots of an observation: ``max_frames``, or (when ``None``) the most frames
    that sampling any video of ``samples`` at ``fps`` gives."""
    counts = [len(sample_frame_indices(s.native_fps, s.num_frames, fps)) for s in samples]
    if max_frames is None:
        return max(counts)
    thinned = sum(1 for c in counts if c > max_frames)
    if thinned:
        rate = "every frame" if fps is None else f"{fps:g} fps"
        warnings.warn(
            f"max_frames={max_frames} thins {thinned} of {len(counts)} videos below {rate} "
            f"(the longest needs {max(counts)} frames): their frames are spread evenly and "
            "the model sees a lower rate than it is told; set max_frames: null to make room",
            stacklevel=2,
        )
    return int(max_frames)


def check_frame_buffer(
    samples: Sequence[Sample], fps: float | None, slots: int | None, max_side: int
) -> None:
    """Refuse a config whose frames of one episode would not fit the frame-buffer bound.

    An episode holds up to ``slots`` frames (``None``: every frame sampled from the longest
    video at ``fps``) of at most ``max_side x max_side`` RGB pixels; their bytes must stay
    within :data:`stvg.limits.MAX_FRAME_BUFFER_BYTES` (4 GiB).

    Raises:
        ConfigError: naming the frames, the side, the bytes and how to lower them.
    """
    frames = slots if slots is not None else frame_slots(samples, fps, None)
    nbytes = frames * max_side * max_side * 3
    if nbytes > MAX_FRAME_BUFFER_BYTES:
        raise ConfigError(
            f"config key env.max_frames: {frames:,} frames of up to {max_side}x{max_side} "
            f"pixels need {nbytes / 2**30:,.1f} GiB per episode, more than the "
            f"{MAX_FRAME_BUFFER_BYTES / 2**30:g} GiB allowed; lower env.max_frames, "
            "env.max_side or env.fps"
        )


def max_duration_s(samples: Sequence[Sample]) -> float:
    """Length in seconds of the longest video of ``samples``."""
    return float(max(s.duration_s for s in samples))


__all__ = ["check_frame_buffer", "frame_slots", "load_samples", "max_duration_s"]
