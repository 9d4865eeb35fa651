"""The tracks of an episode's video (the env's ``tracks`` key): synthetic or from a file.

:class:`TrackSource` gives each sample's :class:`~stvg.data.tracks.VideoTracks`: built from
the sample's scene (``source: synthetic``, :func:`stvg.data.synthetic.tracks.scene_tracks`
with the config's seed and noise; the synthetic loader attaches the scene as
``meta["scene"]``) or looked up in a tracks file (``source: file``, loaded and validated
once). A file's tracks are checked against the sample's video (frames inside it) when
first used. The grounding env puts them in the episode's
:class:`~stvg.verifiers.formats.FrameContext` (``tracks``) and draws them on the frames.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from stvg.config import ConfigError
from stvg.data.errors import DataError
from stvg.data.synthetic.scene import scene_from_dict
from stvg.data.synthetic.tracks import scene_tracks
from stvg.data.tracks import TracksIndex, VideoTracks, load_tracks
from stvg.data.types import Sample
from stvg.envs.config import TracksConfig
from stvg.verifiers.formats import FrameContext


class TrackSource:
    """Per-sample tracks of the env's ``tracks`` key (module doc), cached by sample id.

    Args:
        config: the env's :class:`~stvg.envs.config.TracksConfig`.

    Raises:
        DataError: the tracks file is missing or malformed.
    """

    def __init__(self, config: TracksConfig) -> None:
        self.config = config
        self._index: TracksIndex | None = None
        if config.source == "file":
            self._index = load_tracks(str(config.path))
        self._cache: dict[str, VideoTracks] = {}

    def for_sample(self, sample: Sample) -> VideoTracks:
        """The tracks of ``sample``'s video.

        Raises:
            DataError: a synthetic sample without its scene, a video missing from the
                tracks file, or a track frame beyond the video.
        """
        cached = self._cache.get(sample.sample_id)
        if cached is not None:
            return cached
        if self._index is None:
            scene = sample.meta.get("scene")
            if scene is None:
                raise DataError(
                    "tracks source 'synthetic' needs the sample's scene (meta['scene'])",
                    sample_id=sample.sample_id,
                    hint="use a synthetic split with its <split>_scenes.json, or tracks: "
                    "{source: file, path: ...}",
                )
            tracks, _ = scene_tracks(
                scene_from_dict(scene), seed=self.config.seed, noise=self.config.noise
            )
            tracks = replace(tracks, video=sample.sample_id)
        else:
            tracks = self._index.for_sample(sample)
            for track_id, tube in tracks.tracks.items():
                if len(tube) and int(tube.frame_idx[-1]) >= sample.num_frames:
                    raise DataError(
                        f"video {tracks.video!r}, track {track_id}, frame "
                        f"{int(tube.frame_idx[-1])}: beyond the video's {sample.num_frames} frames",
                        path=self._index.path,
                        sample_id=sample.sample_id,
                    )
        self._cache[sample.sample_id] = tracks
        return tracks


@dataclass(frozen=True)
class TrackCandidates:
    """The tracks an episode shows: the observation's ``track_*`` keys.

    Attributes:
        ids: int64 ``[max_candidates]`` track IDs of the tracks with a box on at least one
            shown frame, increasing, then -1 on unused slots.
        boxes: float32 ``[max_candidates, max_frames, 4]`` xyxy normalised to ``[0, 1]`` of
            the original frame (clipped): candidate ``k``'s box on shown frame ``t``; zeros
            where it has none.
        mask: int8 ``[max_candidates, max_frames]``, 1 = candidate ``k`` has a box on shown
            frame ``t``.
    """

    ids: np.ndarray
    boxes: np.ndarray
    mask: np.ndarray

    @property
    def count(self) -> int:
        """Number of real candidates (the first ``count`` slots)."""
        return int((self.ids >= 0).sum())

    def observation(self) -> dict[str, np.ndarray]:
        """The observation keys (:func:`stvg.envs.spaces.track_candidates_space`)."""
        return {"track_ids": self.ids, "track_boxes": self.boxes, "track_box_mask": self.mask}


def shown_candidates(ctx: FrameContext, max_candidates: int, max_frames: int) -> TrackCandidates:
    """The tracks of ``ctx.tracks`` with a box on a shown frame, as candidates.

    Args:
        ctx: the episode's frames (``frame_idx``, ``original_size``) and tracks.
        max_candidates: candidate slots (``env.tracks.max_candidates``).
        max_frames: frame slots of the observation (>= the shown frames).

    Raises:
        ConfigError: ``ctx`` has no tracks, or more than ``max_candidates`` tracks are shown.
    """
    if ctx.tracks is None:
        raise ConfigError("shown_candidates needs the episode's tracks (the env's tracks key)")
    ids = np.full(max_candidates, -1, dtype=np.int64)
    boxes = np.zeros((max_candidates, max_frames, 4), dtype=np.float32)
    mask = np.zeros((max_candidates, max_frames), dtype=np.int8)
    width, height = ctx.original_size
    scale = np.array([width, height, width, height], dtype=np.float64)
    shown = np.asarray(ctx.frame_idx, dtype=np.int64)
    slot = 0
    for track_id, tube in ctx.tracks.tracks.items():
        hit = np.isin(shown, tube.frame_idx)
        if not hit.any():
            continue
        if slot == max_candidates:
            visible = sum(
                bool(np.isin(shown, t.frame_idx).any()) for t in ctx.tracks.tracks.values()
            )
            raise ConfigError(
                f"config key env.tracks.max_candidates: video {ctx.tracks.video!r} shows "
                f"{visible} tracks on its shown frames, more than max_candidates="
                f"{max_candidates}; raise env.tracks.max_candidates to at least {visible}"
            )
        frames = np.flatnonzero(hit)
        rows = np.searchsorted(tube.frame_idx, shown[frames])
        ids[slot] = track_id
        boxes[slot, frames] = np.clip(tube.boxes_xyxy[rows] / scale, 0.0, 1.0)
        mask[slot, frames] = 1
        slot += 1
    return TrackCandidates(ids, boxes, mask)


__all__ = ["TrackCandidates", "TrackSource", "shown_candidates"]
