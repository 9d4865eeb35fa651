"""Object tracks of a video: the tracks file, the MOT converter and matching a tube to a track.

STVG-R1 (arXiv 2602.11730) never asks the model for coordinates: objects are detected and
tracked offline, each track's integer ID is drawn onto the frames, and the model answers
with an ID and a time range (the ``track-id`` answer format). This module holds the tracks.

**Tracks file** (JSON Lines, ``docs/tracks.md``): one line per video::

    {"video": "0001.mp4", "tracks": [{"id": 3, "frames": {"12": [x1, y1, x2, y2], ...}}, ...]}

* ``video``: the video's file name (the basename of :attr:`Sample.video_path`) or the
  sample id; :meth:`TracksIndex.for_sample` looks the sample up by both, in that order;
* ``id``: a non-negative integer, unique within the video;
* ``frames``: ``{"<frame>": [x1, y1, x2, y2]}``, 0-based native frames (JSON keys are
  strings) and boxes in original-video pixels with ``x1 <= x2``, ``y1 <= y2``, finite.

Loading validates every line; an error names the file, the line, the video, the track id
and the frame. A video given twice is an error.

**MOT text** (MOTChallenge ``gt.txt`` / tracker output): ``frame,id,x,y,w,h,conf,...`` per
line, 1-based frames, top-left corner and size in pixels. :func:`tracks_from_mot` converts
it (frame ``f`` becomes native frame ``f - 1``; the box is ``[x, y, x + w, y + h]``; rows
with ``conf == 0`` are kept, MOT's "ignore" flag is the evaluator's business).

**The target's track** of a sample (:func:`target_track_id`): the track whose boxes overlap
the ground-truth tube best, by the mean IoU over the ground-truth frames (a frame the track
misses counts 0), if that mean reaches :data:`MIN_TARGET_IOU`; ties go to the lower ID.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from stvg.data.errors import DataError
from stvg.data.types import Sample, Tube

#: The least mean IoU with the ground truth that makes a track the sample's target.
MIN_TARGET_IOU = 0.5


@dataclass(frozen=True, eq=False)
class VideoTracks:
    """The tracks of one video.

    Attributes:
        video: the video's key (file name or sample id).
        tracks: ``{track_id: Tube}`` (native frames, original-video pixels), ids sorted.
    """

    video: str
    tracks: dict[int, Tube] = field(default_factory=dict)

    def __post_init__(self) -> None:
        tracks = {int(k): self.tracks[k] for k in sorted(self.tracks)}
        object.__setattr__(self, "tracks", tracks)

    @property
    def ids(self) -> list[int]:
        """Track ids, increasing."""
        return list(self.tracks)

    def boxes_at(self, frame_idx: int) -> list[tuple[int, np.ndarray]]:
        """``(track_id, box_xyxy)`` of every track with a box on native frame ``frame_idx``."""
        out = []
        for track_id, tube in self.tracks.items():
            k = int(np.searchsorted(tube.frame_idx, frame_idx))
            if k < len(tube) and tube.frame_idx[k] == frame_idx:
                out.append((track_id, tube.boxes_xyxy[k]))
        return out

    def inside(self, track_id: int, first: int, last: int) -> Tube:
        """Track ``track_id``'s boxes on native frames ``first..last`` (inclusive).

        Raises:
            KeyError: no such track.
        """
        tube = self.tracks[int(track_id)]
        keep = (tube.frame_idx >= first) & (tube.frame_idx <= last)
        return Tube(tube.frame_idx[keep], tube.boxes_xyxy[keep])

    def to_dict(self) -> dict[str, Any]:
        """The tracks file's line of this video (module doc)."""
        return {
            "video": self.video,
            "tracks": [
                {"id": track_id, "frames": {str(f): box for f, box in tube.to_dict().items()}}
                for track_id, tube in self.tracks.items()
            ],
        }


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Element-wise IoU of ``[N, 4]`` xyxy boxes (0 where the union is empty)."""
    w = np.clip(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0, None)
    h = np.clip(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0, None)
    inter = w * h
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a + area_b - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def match_track(
    tracks: VideoTracks, frame_idx: np.ndarray, boxes_xyxy: np.ndarray
) -> tuple[int | None, float]:
    """The track closest to the boxes ``boxes_xyxy`` on native frames ``frame_idx``.

    Returns:
        ``(track_id, mean IoU)``: the track with the highest mean IoU over the given frames
        (a frame without a box of the track counts 0; ties to the lower id), or
        ``(None, 0.0)`` when there are no tracks or no frames.
    """
    frames = np.asarray(frame_idx, dtype=np.int64).reshape(-1)
    boxes = np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4)
    best: tuple[int | None, float] = (None, 0.0)
    if frames.size == 0:
        return best
    for track_id, tube in tracks.tracks.items():
        k = np.clip(np.searchsorted(tube.frame_idx, frames), 0, max(len(tube) - 1, 0))
        if len(tube) == 0:
            continue
        has = tube.frame_idx[k] == frames
        ious = np.where(has, _iou(tube.boxes_xyxy[k], boxes), 0.0)
        mean = float(ious.mean())
        if best[0] is None or mean > best[1]:
            best = (track_id, mean)
    return best


def target_track_id(tracks: VideoTracks, sample: Sample) -> tuple[int | None, str | None]:
    """The sample's target track (module doc) and, when there is none, why.

    Returns:
        ``(track_id, None)``, or ``(None, reason)``: no tracks, no ground-truth box, or
        the best track's mean IoU below :data:`MIN_TARGET_IOU`.
    """
    if not tracks.tracks:
        return None, f"video {tracks.video!r} has no tracks"
    gt = Tube.from_dict(sample.gt_boxes)
    if len(gt) == 0:
        return None, f"sample {sample.sample_id!r} has no ground-truth box"
    track_id, mean = match_track(tracks, gt.frame_idx, gt.boxes_xyxy)
    if track_id is None or mean < MIN_TARGET_IOU:
        return None, (
            f"no track matches the ground truth (best mean IoU {mean:.3f} < {MIN_TARGET_IOU})"
        )
    return track_id, None


# ---------------------------------------------------------------------------- file


def _bad(path: str, line: int, message: str, hint: str | None = None) -> DataError:
    return DataError(f"line {line}: {message}", path=path, field="tracks", hint=hint)


def video_tracks_from_dict(
    data: Any, *, path: str = "<tracks>", line: int = 1, num_frames: int | None = None
) -> VideoTracks:
    """One video's tracks from its tracks-file line (module doc), validated.

    Args:
        data: the decoded line.
        path: the file it came from (for messages).
        line: its line in that file (for messages).
        num_frames: the video's native frames, when known: frames beyond are errors.

    Raises:
        DataError: naming the file, the line, the video, the track id and the frame.
    """
    if not isinstance(data, Mapping) or set(data) - {"video", "tracks"}:
        raise _bad(path, line, 'expected {"video": ..., "tracks": [...]} and no other key')
    video = data.get("video")
    if not isinstance(video, str) or not video:
        raise _bad(path, line, f"'video' must be a non-empty string, got {video!r}")
    items = data.get("tracks")
    if not isinstance(items, list):
        raise _bad(path, line, f"video {video!r}: 'tracks' must be a list")
    tracks: dict[int, Tube] = {}
    for item in items:
        if not isinstance(item, Mapping) or set(item) != {"id", "frames"}:
            raise _bad(
                path, line, f"video {video!r}: each track is {{'id': ..., 'frames': {{...}}}}"
            )
        track_id = item["id"]
        if isinstance(track_id, bool) or not isinstance(track_id, int) or track_id < 0:
            raise _bad(
                path, line, f"video {video!r}: track id must be an integer >= 0, got {track_id!r}"
            )
        where = f"video {video!r}, track {track_id}"
        if track_id in tracks:
            raise _bad(path, line, f"{where}: the id is given twice")
        frames = item["frames"]
        if not isinstance(frames, Mapping):
            raise _bad(path, line, f"{where}: 'frames' must be an object {{frame: box}}")
        boxes: dict[int, list[float]] = {}
        for key, box in frames.items():
            if not (isinstance(key, str) and key.isdigit() and len(key) <= 9):
                raise _bad(path, line, f"{where}: frame key {key!r} is not a 0-based frame index")
            frame = int(key)
            if num_frames is not None and frame >= num_frames:
                raise _bad(
                    path, line, f"{where}, frame {frame}: beyond the video's {num_frames} frames"
                )
            ok = isinstance(box, list) and len(box) == 4
            ok = ok and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                for v in box
            )
            if not ok:
                raise _bad(
                    path, line, f"{where}, frame {frame}: box must be 4 finite numbers, got {box!r}"
                )
            if box[2] < box[0] or box[3] < box[1] or min(box) < 0:
                raise _bad(
                    path,
                    line,
                    f"{where}, frame {frame}: box {box} needs 0 <= x1 <= x2 and 0 <= y1 <= y2",
                )
            boxes[frame] = [float(v) for v in box]
        tracks[track_id] = Tube.from_dict(boxes)
    return VideoTracks(video, tracks)


@dataclass(frozen=True, eq=False)
class TracksIndex:
    """The tracks of many videos (a tracks file), looked up by sample.

    Attributes:
        videos: ``{video key: VideoTracks}``.
        path: the file they came from (for messages).
    """

    videos: dict[str, VideoTracks]
    path: str = "<tracks>"

    def for_sample(self, sample: Sample) -> VideoTracks:
        """The tracks of ``sample``'s video: by the video file's name, then the sample id.

        Raises:
            DataError: neither is in the file.
        """
        name = Path(sample.video_path).name if sample.video_path else ""
        for key in (name, sample.sample_id):
            if key and key in self.videos:
                return self.videos[key]
        raise DataError(
            f"no tracks for video {name!r}",
            path=self.path,
            sample_id=sample.sample_id,
            hint="add a line with the video's file name (or the sample id) as 'video'",
        )


def load_tracks(path: str | Path) -> TracksIndex:
    """Read and validate a tracks file (JSON Lines, module doc).

    Raises:
        DataError: a missing file, invalid JSON, a malformed line or a video given twice.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read the tracks file ({exc})", path=str(path)) from None
    videos: dict[str, VideoTracks] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            data = json.loads(raw)
        except (json.JSONDecodeError, RecursionError, ValueError) as exc:
            raise _bad(str(path), number, f"invalid JSON ({exc})") from None
        tracks = video_tracks_from_dict(data, path=str(path), line=number)
        if tracks.video in videos:
            raise _bad(str(path), number, f"video {tracks.video!r} is given twice")
        videos[tracks.video] = tracks
    return TracksIndex(videos, str(path))


def save_tracks(path: str | Path, videos: Iterable[VideoTracks]) -> Path:
    """Write ``videos`` as a tracks file (one JSON line per video, folders created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(v.to_dict(), separators=(",", ":")) for v in videos]
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def tracks_from_mot(text: str, video: str, *, path: str = "<mot>") -> VideoTracks:
    """The tracks of one video from MOT text (``frame,id,x,y,w,h,conf,...``, module doc).

    Raises:
        DataError: a line with fewer than 6 numbers, a frame < 1, an id < 0, a negative
            size or a (frame, id) pair given twice; naming the file and the line.
    """
    boxes: dict[int, dict[int, list[float]]] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        parts = [p.strip() for p in raw.replace(" ", ",").split(",") if p.strip()]
        try:
            values = [float(p) for p in parts[:6]]
        except ValueError:
            values = []
        if len(values) < 6 or not all(math.isfinite(v) for v in values):
            raise _bad(path, number, f"expected 'frame,id,x,y,w,h,...', got {raw.strip()[:60]!r}")
        frame, track_id, x, y, w, h = values
        if frame != int(frame) or frame < 1 or track_id != int(track_id) or track_id < 0:
            raise _bad(
                path,
                number,
                f"frame must be an integer >= 1 and id >= 0, got {frame:g}, {track_id:g}",
            )
        if w < 0 or h < 0:
            raise _bad(
                path,
                number,
                f"track {int(track_id)}, frame {int(frame)}: negative size {w:g}x{h:g}",
            )
        per_track = boxes.setdefault(int(track_id), {})
        native = int(frame) - 1
        if native in per_track:
            raise _bad(path, number, f"track {int(track_id)}, frame {int(frame)}: given twice")
        x1, y1 = max(x, 0.0), max(y, 0.0)
        per_track[native] = [x1, y1, max(x + w, x1), max(y + h, y1)]
    return VideoTracks(video, {k: Tube.from_dict(v) for k, v in boxes.items()})


def mot_to_tracks_file(mot_files: Iterable[str | Path], out: str | Path) -> Path:
    """Convert MOT text files into one tracks file; each file's video key is its name
    without ``.txt`` (``0001.mp4.txt`` -> ``0001.mp4``; a folder ``<video>/gt/gt.txt`` ->
    ``<video>``)."""
    videos = []
    for file in mot_files:
        file = Path(file)
        video = file.parent.parent.name if file.name == "gt.txt" else file.name.removesuffix(".txt")
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise DataError(f"cannot read the MOT file ({exc})", path=str(file)) from None
        videos.append(tracks_from_mot(text, video, path=str(file)))
    return save_tracks(out, videos)


__all__ = [
    "MIN_TARGET_IOU",
    "TracksIndex",
    "VideoTracks",
    "load_tracks",
    "match_track",
    "mot_to_tracks_file",
    "save_tracks",
    "target_track_id",
    "tracks_from_mot",
    "video_tracks_from_dict",
]
