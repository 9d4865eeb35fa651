"""Env observations -> the native model's inputs (small frames, relative times, query ids).

The env shows frames top-left in a zero-padded ``max_side`` square canvas; the real pixels
of each frame are its top-left ``shown_size`` corner. :func:`observation_inputs` crops that
corner and resizes it to ``frame_size x frame_size`` (OpenCV ``INTER_AREA``), so a box
normalised to the shown frame (``x / shown_width``) is also normalised to the small frame.
The SFT cache runs the very same :func:`downsample` on decoded frames, so training and
acting see identical pixels.

Boxes inside the model are ``(cx, cy, w, h)`` normalised to ``[0, 1]`` of the frame; the
env's struct action takes normalised ``(x1, y1, x2, y2)``: :func:`cxcywh_to_xyxy` and
:func:`xyxy_to_cxcywh` convert (exact inverses up to float rounding).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from stvg.policies.native.tokenizer import QueryVocab

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class VideoInputs:
    """One observation's frames, ready for the model.

    Attributes:
        frames: uint8 ``[T, S, S, 3]`` RGB, the ``T`` real frames resized to ``S = frame_size``.
        timestamps_s: float32 ``[T]`` time of each frame, seconds.
        query: the query text.
        track_boxes: float32 ``[K, T, 4]`` xyxy normalised boxes of the ``K`` track
            candidates on the real frames (env ``tracks`` key; zeros where a candidate has
            no box), or ``None`` without tracks.
        track_mask: bool ``[K, T]``, ``True`` where candidate ``k`` has a box on frame
            ``t``; ``None`` without tracks.
        zoom_env: the observation is a glance-and-zoom env's (an answer carries
            ``kind = 1``).
        can_zoom: a zoom is still possible (``zooms_left > 0`` and ``frames_left > 0``).
    """

    frames: np.ndarray
    timestamps_s: np.ndarray
    query: str
    track_boxes: np.ndarray | None = None
    track_mask: np.ndarray | None = None
    zoom_env: bool = False
    can_zoom: bool = False

    def __len__(self) -> int:
        return int(self.frames.shape[0])


@dataclass
class NativeBatch:
    """A padded batch of observations as torch tensors.

    Attributes:
        frames: float32 ``[B, T, 3, S, S]`` in ``[0, 1]`` (zeros on padding).
        mask: bool ``[B, T]``, ``True`` on real frames.
        rel_time: float32 ``[B, T]`` each frame's time divided by the estimated video
            length ``t_last + interval`` (0 on padding).
        tokens: int64 ``[B, L]`` query word ids (0 = padding).
        track_boxes: float32 ``[B, K, T, 4]`` the track candidates' ``(cx, cy, w, h)``
            normalised boxes (zeros where none), ``K`` the most candidates of the batch;
            ``None`` without tracks.
        track_mask: bool ``[B, K, T]``, ``True`` where candidate ``k`` has a box on frame
            ``t``; ``None`` without tracks.
        track_valid: bool ``[B, K]``, ``True`` on real candidates; ``None`` without tracks.
    """

    frames: torch.Tensor
    mask: torch.Tensor
    rel_time: torch.Tensor
    tokens: torch.Tensor
    track_boxes: torch.Tensor | None = None
    track_mask: torch.Tensor | None = None
    track_valid: torch.Tensor | None = None

    def to(self, device: Any) -> NativeBatch:
        """The batch on ``device``."""

        def move(t: torch.Tensor | None) -> torch.Tensor | None:
            return None if t is None else t.to(device)

        return NativeBatch(
            self.frames.to(device),
            self.mask.to(device),
            self.rel_time.to(device),
            self.tokens.to(device),
            move(self.track_boxes),
            move(self.track_mask),
            move(self.track_valid),
        )


def downsample(frames: np.ndarray, frame_size: int) -> np.ndarray:
    """Resize uint8 ``[T, H, W, 3]`` frames to ``[T, frame_size, frame_size, 3]`` (INTER_AREA)."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"downsample expects uint8 frames [T, H, W, 3], got shape {frames.shape}")
    out = np.empty((frames.shape[0], frame_size, frame_size, 3), dtype=np.uint8)
    for i, frame in enumerate(frames):
        out[i] = cv2.resize(frame, (frame_size, frame_size), interpolation=cv2.INTER_AREA)
    return out


def observation_inputs(obs: Mapping[str, Any], frame_size: int) -> VideoInputs:
    """The real frames of a ``GroundingEnv`` observation, cropped to ``shown_size`` and resized.

    Args:
        obs: ``frames`` uint8 ``[max_frames, max_side, max_side, 3]``, ``frame_mask``
            ``[max_frames]``, ``timestamps`` ``[max_frames]`` seconds, ``shown_size``
            ``(w, h)`` pixels, ``query`` str and, with the env's ``tracks`` key,
            ``track_ids``, ``track_boxes`` and ``track_box_mask`` (the real candidates
            on the real frames become :attr:`VideoInputs.track_boxes`/``track_mask``).
        frame_size: side of the model's square frames, pixels.

    Raises:
        ValueError: the observation has no real frame, or its mask is not a prefix.
    """
    mask = np.asarray(obs["frame_mask"]).reshape(-1) != 0
    count = int(mask.sum())
    if count == 0 or not mask[:count].all():
        raise ValueError(
            "observation frame_mask must mark a non-empty prefix of real frames, got "
            f"{mask.astype(int).tolist()}"
        )
    width, height = (int(v) for v in np.asarray(obs["shown_size"]).reshape(2))
    frames = np.asarray(obs["frames"])[:count, :height, :width]
    times = np.asarray(obs["timestamps"], dtype=np.float32).reshape(-1)[:count]
    track_boxes = track_mask = None
    if "track_ids" in obs:
        k = int((np.asarray(obs["track_ids"]).reshape(-1) >= 0).sum())
        track_boxes = np.asarray(obs["track_boxes"], dtype=np.float32)[:k, :count]
        track_mask = np.asarray(obs["track_box_mask"])[:k, :count] != 0
    zoom_env = "zooms_left" in obs
    can_zoom = zoom_env and (
        int(np.asarray(obs["zooms_left"]).reshape(-1)[0]) > 0
        and int(np.asarray(obs.get("frames_left", [1])).reshape(-1)[0]) > 0
    )
    return VideoInputs(
        downsample(frames, frame_size),
        times,
        str(obs["query"]),
        track_boxes,
        track_mask,
        zoom_env=zoom_env,
        can_zoom=can_zoom,
    )


def video_length_s(timestamps_s: np.ndarray) -> float:
    """The video length shown frames suggest, seconds: ``t_last + interval`` with the
    median spacing of the times as the interval (1 s for a single frame).

    >>> video_length_s(np.array([0.0, 4.0, 8.0]))
    12.0
    """
    times = np.asarray(timestamps_s, dtype=np.float64)
    interval = float(np.median(np.diff(times))) if times.size > 1 else 1.0
    return float(times[-1]) + max(interval, 1e-6)


def relative_times(timestamps_s: np.ndarray) -> np.ndarray:
    """Times divided by the estimated video length ``t_last + interval`` (float32).

    The interval is the median spacing of the times (1 s for a single frame).

    >>> relative_times(np.array([0.0, 1.0, 2.0, 3.0])).tolist()
    [0.0, 0.25, 0.5, 0.75]
    """
    times = np.asarray(timestamps_s, dtype=np.float64)
    return (times / video_length_s(times)).astype(np.float32)


def collate(videos: Sequence[VideoInputs], vocab: QueryVocab, max_query_len: int) -> NativeBatch:
    """Pad ``videos`` to the longest and stack them into a :class:`NativeBatch`."""
    import torch

    if not videos:
        raise ValueError("collate needs at least one observation")
    longest = max(len(v) for v in videos)
    size = videos[0].frames.shape[1]
    frames = np.zeros((len(videos), longest, size, size, 3), dtype=np.uint8)
    mask = np.zeros((len(videos), longest), dtype=bool)
    rel = np.zeros((len(videos), longest), dtype=np.float32)
    for b, video in enumerate(videos):
        frames[b, : len(video)] = video.frames
        mask[b, : len(video)] = True
        rel[b, : len(video)] = relative_times(video.timestamps_s)
    tokens = vocab.encode_batch([v.query for v in videos], max_query_len)
    frames_t = torch.from_numpy(frames).permute(0, 1, 4, 2, 3).float().div_(255.0)
    batch = NativeBatch(
        frames_t, torch.from_numpy(mask), torch.from_numpy(rel), torch.from_numpy(tokens)
    )
    with_tracks = [v.track_boxes is not None for v in videos]
    if any(with_tracks):
        if not all(with_tracks):
            raise ValueError(
                "collate: some observations carry track candidates and some do not; make "
                "every env of the batch with the same tracks key"
            )
        most = max(1, max(int(v.track_boxes.shape[0]) for v in videos))  # type: ignore[union-attr]
        boxes = np.zeros((len(videos), most, longest, 4), dtype=np.float32)
        box_mask = np.zeros((len(videos), most, longest), dtype=bool)
        valid = np.zeros((len(videos), most), dtype=bool)
        for b, video in enumerate(videos):
            k = int(video.track_boxes.shape[0])  # type: ignore[union-attr]
            boxes[b, :k, : len(video)] = xyxy_to_cxcywh(video.track_boxes)
            box_mask[b, :k, : len(video)] = video.track_mask
            valid[b, :k] = True
        batch.track_boxes = torch.from_numpy(boxes)
        batch.track_mask = torch.from_numpy(box_mask)
        batch.track_valid = torch.from_numpy(valid)
    return batch


def cxcywh_to_xyxy(boxes: np.ndarray) -> np.ndarray:
    """``(cx, cy, w, h)`` -> ``(x1, y1, x2, y2)`` on the last axis.

    >>> cxcywh_to_xyxy(np.array([0.5, 0.5, 0.2, 0.4])).round(12).tolist()
    [0.4, 0.3, 0.6, 0.7]
    """
    boxes = np.asarray(boxes, dtype=np.float64)
    centre, size = boxes[..., :2], boxes[..., 2:]
    return np.concatenate([centre - size / 2, centre + size / 2], axis=-1)


def xyxy_to_cxcywh(boxes: np.ndarray) -> np.ndarray:
    """``(x1, y1, x2, y2)`` -> ``(cx, cy, w, h)`` on the last axis.

    >>> xyxy_to_cxcywh(np.array([0.4, 0.3, 0.6, 0.7])).round(12).tolist()
    [0.5, 0.5, 0.2, 0.4]
    """
    boxes = np.asarray(boxes, dtype=np.float64)
    low, high = boxes[..., :2], boxes[..., 2:]
    return np.concatenate([(low + high) / 2, high - low], axis=-1)


__all__ = [
    "NativeBatch",
    "VideoInputs",
    "collate",
    "cxcywh_to_xyxy",
    "downsample",
    "observation_inputs",
    "relative_times",
    "video_length_s",
    "xyxy_to_cxcywh",
]
