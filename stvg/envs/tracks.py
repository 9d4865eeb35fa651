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

from dataclasses import replace

from stvg.data.errors import DataError
from stvg.data.synthetic.scene import scene_from_dict
from stvg.data.synthetic.tracks import scene_tracks
from stvg.data.tracks import TracksIndex, VideoTracks, load_tracks
from stvg.data.types import Sample
from stvg.envs.config import TracksConfig


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


__all__ = ["TrackSource"]
