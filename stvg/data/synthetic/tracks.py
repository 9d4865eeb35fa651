"""Tracks of a synthetic scene: every drawn object is a track, optionally made noisy.

:func:`scene_tracks` turns a :class:`~stvg.data.synthetic.scene.Scene` into
:class:`~stvg.data.tracks.VideoTracks`: one track per object, with the object's exact box
on every frame it is drawn on. Track IDs are ``1..n`` in an order shuffled per scene and
seed (so that the target's ID carries no hint); the target's track is the ground-truth
object's.

:class:`TrackNoise` simulates a real tracker, deterministically per ``seed`` and scene
(the same seed gives identical tracks, another seed other tracks):

* ``id_switch``: probability that a track switches ID once, at a random frame of its
  life (the rest of it continues under a new, unused ID);
* ``miss``: probability that a track has no box on a frame (a missed detection);
* ``jitter``: standard deviation of every box coordinate, as a fraction of the box's
  width (x) or height (y); boxes stay inside the frame, corners in order;
* ``false_tracks``: how many false tracks (a box of a random size drifting over a random
  stretch of frames, on no object) are added.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from stvg.data.synthetic.scene import Scene
from stvg.data.tracks import VideoTracks
from stvg.data.types import Tube


@dataclass(frozen=True)
class TrackNoise:
    """How a simulated tracker errs (module doc); all zero = the exact tracks.

    Attributes:
        id_switch: probability of one ID switch per track, in ``[0, 1]``.
        miss: probability of a missed box per track and frame, in ``[0, 1)``.
        jitter: box jitter, a fraction of the box size (>= 0).
        false_tracks: false tracks added per video (>= 0).
    """

    id_switch: float = 0.0
    miss: float = 0.0
    jitter: float = 0.0
    false_tracks: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.id_switch <= 1.0:
            raise ValueError(f"TrackNoise.id_switch must lie in [0, 1], got {self.id_switch}")
        if not 0.0 <= self.miss < 1.0:
            raise ValueError(f"TrackNoise.miss must lie in [0, 1), got {self.miss}")
        if not self.jitter >= 0.0:
            raise ValueError(f"TrackNoise.jitter must be >= 0, got {self.jitter}")
        if self.false_tracks < 0:
            raise ValueError(f"TrackNoise.false_tracks must be >= 0, got {self.false_tracks}")

    @property
    def off(self) -> bool:
        """Whether the tracks are exact."""
        return not (self.id_switch or self.miss or self.jitter or self.false_tracks)


def _rng(scene_id: str, seed: int, salt: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), zlib.crc32(scene_id.encode()), salt])


def scene_tracks(
    scene: Scene, *, seed: int = 0, noise: TrackNoise | None = None
) -> tuple[VideoTracks, int]:
    """The tracks of ``scene`` and the target's track ID (module doc).

    Args:
        scene: the scene (its objects' boxes on their visible frames).
        seed: the seed of the ID order and of the noise.
        noise: the simulated tracker's errors (``None`` = exact tracks).

    Returns:
        ``(tracks, target_id)``; with an ID switch on the target, ``target_id`` is the ID
        of its first part.
    """
    noise = noise or TrackNoise()
    order = _rng(scene.scene_id, seed, 0).permutation(len(scene.objects))
    ids = {obj.object_id: int(i) + 1 for obj, i in zip(scene.objects, order, strict=True)}
    tracks: dict[int, Tube] = {}
    rng = _rng(scene.scene_id, seed, 1)
    next_id = len(scene.objects) + 1
    limit = np.array([scene.width, scene.height, scene.width, scene.height], dtype=np.float64)
    for obj in sorted(scene.objects, key=lambda o: ids[o.object_id]):
        first, last = obj.visible
        last = min(last, scene.num_frames - 1)
        frames = np.arange(first, last + 1)
        boxes = obj.boxes_xyxy(frames)
        if noise.jitter:
            size = np.stack([boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]], axis=1)
            boxes = boxes + rng.normal(0.0, noise.jitter, boxes.shape) * np.tile(size, 2)
            boxes = np.sort(boxes.reshape(-1, 2, 2), axis=1).reshape(-1, 4)
            boxes = np.clip(boxes, 0.0, limit)
        keep = rng.random(frames.size) >= noise.miss if noise.miss else np.ones(frames.size, bool)
        switch = frames.size + 1
        if noise.id_switch and frames.size > 1 and rng.random() < noise.id_switch:
            switch = int(rng.integers(1, frames.size))
        head = keep & (np.arange(frames.size) < switch)
        tail = keep & (np.arange(frames.size) >= switch)
        tracks[ids[obj.object_id]] = Tube(frames[head], boxes[head])
        if tail.any():
            tracks[next_id] = Tube(frames[tail], boxes[tail])
            next_id += 1
    for _ in range(noise.false_tracks):
        length = int(rng.integers(1, scene.num_frames + 1))
        start = int(rng.integers(0, scene.num_frames - length + 1))
        side = float(rng.uniform(0.05, 0.2)) * min(scene.width, scene.height)
        x0 = rng.uniform(0, scene.width - side)
        y0 = rng.uniform(0, scene.height - side)
        drift = rng.normal(0.0, 0.5, 2)
        steps = np.arange(length)[:, None]
        corner = np.clip(
            np.array([x0, y0]) + drift * steps, 0, [scene.width - side, scene.height - side]
        )
        boxes = np.concatenate([corner, corner + side], axis=1)
        tracks[next_id] = Tube(np.arange(start, start + length), boxes)
        next_id += 1
    return VideoTracks(scene.scene_id, tracks), ids[scene.target_id]


__all__ = ["TrackNoise", "scene_tracks"]
