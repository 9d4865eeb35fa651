"""The native policy's supervised data: each sample's shown frames at model size, cached,
and the target action of its ground truth.

* :func:`load_cached_frames` decodes each video once, exactly as ``GroundingEnv`` does
  (:class:`stvg.envs.frame_source.FrameSource`: same frames, same ``max_side`` resize),
  shrinks the frames to the model's ``frame_size`` with the policy's own
  :func:`~stvg.policies.native.features.downsample`, and keeps them in an ``.npz`` file
  keyed by the samples and the sampling settings, so later epochs and runs skip decoding.

* :func:`sft_target` is the action the ground truth asks for on those frames (shown-frame
  span indices and normalised boxes).

* :func:`track_targets` (the env's ``tracks`` key, a ``track-id`` native policy): each
  sample's track candidates on those frames (as the env's observation carries them) and
  the index of the ground truth's track among them.

Synthetic splits come from :func:`stvg.data.synthetic.ensure_synthetic_split`.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from stvg.data.errors import VideoError
from stvg.data.fingerprint import file_fingerprint
from stvg.data.types import Sample
from stvg.data.video import READER_VERSION
from stvg.envs.config import TracksConfig
from stvg.envs.frame_source import FrameSource
from stvg.policies.native.features import VideoInputs, downsample, xyxy_to_cxcywh

SpanTarget = Literal["nearest", "cover"]
"""How the target span is put on the shown frames (see :func:`sft_target`)."""

_CACHE_VERSION = 1  # bumped when the cache's content for the same key changes


@dataclass(frozen=True)
class CachedFrames:
    """The shown frames of a list of samples, decoded once.

    Attributes:
        sample_ids: ids in sample order.
        frames: uint8 ``[N, T, S, S, 3]`` model-size frames, zero after ``counts[i]``.
        counts: int64 ``[N]`` real frames per sample.
        frame_idx: int64 ``[N, T]`` native frame of each shown frame (-1 on padding).
        timestamps_s: float32 ``[N, T]`` seconds of each shown frame (0 on padding).
    """

    sample_ids: list[str]
    frames: np.ndarray
    counts: np.ndarray
    frame_idx: np.ndarray
    timestamps_s: np.ndarray

    def __len__(self) -> int:
        return len(self.sample_ids)

    def video(self, i: int, query: str) -> VideoInputs:
        """Sample ``i`` as policy inputs."""
        count = int(self.counts[i])
        return VideoInputs(self.frames[i, :count], self.timestamps_s[i, :count], query)


def _settings_key(fps: float | None, max_frames: int, max_side: int, frame_size: int) -> str:
    """Hash of the sampling settings (what every cache of a split at these settings shares)."""
    settings = [_CACHE_VERSION, READER_VERSION, fps, max_frames, max_side, frame_size]
    return hashlib.sha256(json.dumps(settings).encode()).hexdigest()[:8]


def _samples_key(samples: Sequence[Sample]) -> str:
    """Hash of which samples a cache holds (ids, video paths, frame counts and rates)."""
    digest = hashlib.sha256()
    for s in samples:
        digest.update(f"{s.sample_id}\0{s.video_path}\0{s.num_frames}\0{s.native_fps}\n".encode())
    return digest.hexdigest()[:12]


def _files_key(samples: Sequence[Sample]) -> str:
    """Hash of the samples' video files as they are now (:func:`~stvg.data.fingerprint.
    file_fingerprint`: size, modification time, and the first and last 64 KiB), so a split
    regenerated in place, or a video replaced or truncated, gets a new cache instead of
    the old frames, even when the new file has the same size and time.

    Raises:
        VideoError: a sample's video file is missing (naming the sample).
    """
    digest = hashlib.sha256()
    for s in samples:
        try:
            fingerprint = file_fingerprint(s.video_path)
        except OSError as exc:
            raise VideoError(
                "video file not found",
                path=str(s.video_path),
                sample_id=s.sample_id,
                hint=f"the annotations list it but the file cannot be read ({exc.strerror})",
            ) from None
        digest.update(f"{fingerprint}\n".encode())
    return digest.hexdigest()[:12]


def load_cached_frames(
    samples: Sequence[Sample],
    *,
    fps: float | None,
    max_frames: int,
    max_side: int,
    frame_size: int,
    cache_dir: str | Path,
    name: str,
    progress: bool = False,
) -> CachedFrames:
    """The model-size shown frames of ``samples``, from ``cache_dir`` or decoded now.

    A cache file is keyed on the sampling settings, the samples, and the content: each video
    file's size, modification time, and first and last 64 KiB. A split regenerated in place, or a video
    replaced or truncated, therefore decodes again (with a warning naming the stale file,
    which is removed) instead of training on the old frames.

    Args:
        samples: the samples (their videos must exist when not cached).
        fps, max_frames, max_side: the env's sampling settings.
        frame_size: the model's frame side, pixels.
        cache_dir: folder of the ``.npz`` cache files.
        name: prefix of the cache file name (e.g. the split).
        progress: show the decoding's progress (:mod:`stvg.progress`).

    Raises:
        VideoError: a video is missing or cannot be read (naming the sample).
    """
    prefix = (
        f"{name}-{_settings_key(fps, max_frames, max_side, frame_size)}-{_samples_key(samples)}"
    )
    path = Path(cache_dir) / f"{prefix}-{_files_key(samples)}.npz"
    if path.is_file():
        with np.load(path, allow_pickle=False) as data:
            return CachedFrames(
                [str(v) for v in data["sample_ids"]],
                data["frames"],
                data["counts"],
                data["frame_idx"],
                data["timestamps_s"],
            )
    from stvg.progress import progress as show_progress

    stale = [
        old
        for old in sorted(Path(cache_dir).glob(f"{prefix}-*.npz"))
        if old.name != path.name and ".tmp." not in old.name  # not another process's write
    ]
    if stale:
        warnings.warn(
            f"SFT frame cache {stale[-1]} no longer matches the {name} videos (a video was "
            f"regenerated, replaced or truncated since it was written): decoding them again "
            f"into {path.name}",
            stacklevel=2,
        )
        for old in stale:
            old.unlink(missing_ok=True)
    source = FrameSource(fps, max_frames, max_side, cache_mb=0)
    n = len(samples)
    frames = np.zeros((n, max_frames, frame_size, frame_size, 3), dtype=np.uint8)
    counts = np.zeros(n, dtype=np.int64)
    frame_idx = np.full((n, max_frames), -1, dtype=np.int64)
    times = np.zeros((n, max_frames), dtype=np.float32)
    with show_progress(n, f"decode {name}", enabled=progress, unit="videos") as bar:
        for i, sample in enumerate(samples):
            sampled = source.frames(sample)
            count = len(sampled)
            frames[i, :count] = downsample(sampled.frames, frame_size)
            counts[i] = count
            frame_idx[i, :count] = sampled.frame_idx
            times[i, :count] = np.asarray(sampled.frame_idx, np.float64) / sample.native_fps
            bar.update(1)
    cached = CachedFrames([s.sample_id for s in samples], frames, counts, frame_idx, times)
    path.parent.mkdir(parents=True, exist_ok=True)
    # One temporary file per process: trials of a sweep may decode the same split at once.
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp.npz")
    np.savez(
        tmp,
        sample_ids=np.array(cached.sample_ids),
        frames=frames,
        counts=counts,
        frame_idx=frame_idx,
        timestamps_s=times,
    )
    tmp.replace(path)
    return cached


@dataclass(frozen=True)
class SFTTarget:
    """The action a sample's ground truth asks for, on its shown frames.

    Attributes:
        start, end: indices of the shown frames that start and end the span.
        boxes_cxcywh: float32 ``[T, 4]`` normalised ``(cx, cy, w, h)`` ground-truth boxes
            of the shown frames ``start..end`` (zeros elsewhere).
    """

    start: int
    end: int
    boxes_cxcywh: np.ndarray


def sft_target(sample: Sample, frame_idx: np.ndarray, rule: SpanTarget = "nearest") -> SFTTarget:
    """The target action of ``sample`` shown at native frames ``frame_idx``.

    Span rules (``[gs, ge]`` = the ground-truth span in native frames):

    * ``nearest`` — start and end are the shown frames nearest to ``gs`` and ``ge`` (ties
      go to the earlier frame), the best estimate of the span on the shown grid;
    * ``cover`` — the last shown frame at or before ``gs`` and the first at or after
      ``ge``, so the span covers the ground truth (over-long by up to one interval at
      each end).

    The box of a shown frame in the span is the ground-truth box of that frame, or of the
    nearest annotated frame (a frame rounded just outside the ground-truth span, or an
    unannotated one), normalised by the video size.

    >>> from stvg.data import Sample
    >>> s = Sample("v", "v.mp4", "q", 10.0, 100, 200, 100, (7, 48),
    ...            {f: [20.0, 10.0, 60.0, 50.0] for f in range(7, 49)})
    >>> t = sft_target(s, np.arange(0, 100, 10))
    >>> t.start, t.end, t.boxes_cxcywh[1].tolist()
    (1, 5, [0.20000000298023224, 0.30000001192092896, 0.20000000298023224, 0.4000000059604645])
    >>> t2 = sft_target(s, np.arange(0, 100, 10), "cover")
    >>> t2.start, t2.end
    (0, 5)
    """
    frames = np.asarray(frame_idx, dtype=np.int64)
    first, last = sample.gt_span
    if rule == "nearest":
        start = int(np.argmin(np.abs(frames - first)))
        end = int(np.argmin(np.abs(frames - last)))
    elif rule == "cover":
        before = np.flatnonzero(frames <= first)
        after = np.flatnonzero(frames >= last)
        start = int(before[-1]) if before.size else 0
        end = int(after[0]) if after.size else len(frames) - 1
    else:
        raise ValueError(f"span target rule must be 'nearest' or 'cover', got {rule!r}")
    end = max(start, end)
    tube = sample.gt_tube()
    if len(tube) == 0:
        raise ValueError(f"sample {sample.sample_id!r} has no ground-truth box to learn from")
    span_frames = frames[start : end + 1]
    nearest = np.abs(tube.frame_idx[None, :] - span_frames[:, None]).argmin(axis=1)
    scale = np.array([sample.width, sample.height] * 2, dtype=np.float64)
    boxes = np.zeros((len(frames), 4), dtype=np.float32)
    boxes[start : end + 1] = xyxy_to_cxcywh(tube.boxes_xyxy[nearest] / scale)
    return SFTTarget(start, end, boxes)


@dataclass(frozen=True)
class TrackTarget:
    """A sample's track candidates on its shown frames and the ground truth's track.

    Attributes:
        boxes: float32 ``[K, T, 4]`` xyxy normalised boxes of the ``K`` real candidates on
            the ``T`` shown frames (:func:`stvg.envs.tracks.shown_candidates`).
        mask: bool ``[K, T]``, ``True`` where candidate ``k`` has a box on frame ``t``.
        ids: int64 ``[K]`` the candidates' track IDs.
        target: index of the ground truth's track (:func:`stvg.data.tracks.target_track_id`)
            among the candidates, -1 when no track matches it (no ID loss then).
    """

    boxes: np.ndarray
    mask: np.ndarray
    ids: np.ndarray
    target: int


def track_targets(
    samples: Sequence[Sample], cache: CachedFrames, tracks: TracksConfig, fps: float | None
) -> list[TrackTarget]:
    """The :class:`TrackTarget` of each sample shown at its cached frames.

    Raises:
        DataError: a sample's tracks cannot be built (see :class:`stvg.envs.tracks.TrackSource`).
        ConfigError: a sample shows more than ``tracks.max_candidates`` tracks.
    """
    from dataclasses import replace

    from stvg.data.tracks import target_track_id
    from stvg.envs.tracks import TrackSource, shown_candidates
    from stvg.verifiers.formats import FrameContext

    source = TrackSource(tracks)
    out = []
    for i, sample in enumerate(samples):
        count = int(cache.counts[i])
        ctx = FrameContext.from_sample(sample, cache.frame_idx[i, :count], None, fps)
        ctx = replace(ctx, tracks=source.for_sample(sample))
        cand = shown_candidates(ctx, tracks.max_candidates, count)
        k = cand.count
        track, _ = target_track_id(ctx.tracks, sample)
        ids = cand.ids[:k]
        target = int(np.flatnonzero(ids == track)[0]) if track in ids.tolist() else -1
        out.append(TrackTarget(cand.boxes[:k], cand.mask[:k] != 0, ids, target))
    return out


__all__ = [
    "CachedFrames",
    "SFTTarget",
    "SpanTarget",
    "TrackTarget",
    "load_cached_frames",
    "sft_target",
    "track_targets",
]
