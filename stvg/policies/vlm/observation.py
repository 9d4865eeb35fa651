"""Reading GroundingEnv observations (and reset info) for the VLM policy."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from stvg.policies.base import Observation
from stvg.verifiers.formats import FrameContext


def read_observation(obs: Observation) -> tuple[np.ndarray, np.ndarray, str, tuple[int, int]]:
    """Real frames, their timestamps, the query and the shown ``(width, height)`` of ``obs``.

    Frames beyond ``frame_mask`` are dropped; when ``obs`` has ``shown_size`` (the env places
    frames top-left on a square canvas) the canvas is cropped to it.
    """
    for key in ("frames", "frame_mask", "timestamps", "query"):
        if key not in obs:
            raise KeyError(
                f"observation has no {key!r}; GroundingEnv observations carry frames, "
                f"frame_mask, timestamps and query (got keys {sorted(obs)})"
            )
    frames = np.asarray(obs["frames"])
    mask = np.asarray(obs["frame_mask"]).astype(bool).reshape(-1)
    times = np.asarray(obs["timestamps"], dtype=np.float64).reshape(-1)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"observation 'frames' must be [N, H, W, 3], got shape {frames.shape}")
    if not (mask.shape[0] == times.shape[0] == frames.shape[0]):
        raise ValueError(
            f"observation 'frames' ({frames.shape[0]}), 'frame_mask' ({mask.shape[0]}) and "
            f"'timestamps' ({times.shape[0]}) must have one entry per frame slot"
        )
    if not mask.any():
        raise ValueError("observation 'frame_mask' marks no real frame (all zeros)")
    frames, times = frames[mask], times[mask]
    height, width = frames.shape[1:3]
    if "shown_size" in obs:
        width, height = (int(v) for v in np.asarray(obs["shown_size"]).reshape(2))
        frames = frames[:, :height, :width]
    query = obs["query"]
    if not isinstance(query, str) or not query:
        raise ValueError(f"observation 'query' must be a non-empty str, got {query!r}")
    return np.ascontiguousarray(frames, dtype=np.uint8), times, query, (int(width), int(height))


def context_from_reset(
    obs: Observation,
    info: Mapping[str, Any],
    fps: float | None,
    model_size: tuple[int, int] | None = None,
) -> FrameContext:
    """The :class:`FrameContext` of an episode from ``GroundingEnv.reset``'s ``obs`` and ``info``.

    ``info`` needs ``frame_idx``, ``original_size``, ``native_fps`` and ``num_frames``;
    ``model_size`` is the ``(width, height)`` the model's processor resized the frames to
    (what ``pixels`` answers refer to), ``None`` = the shown size.
    """
    missing = [
        k for k in ("frame_idx", "original_size", "native_fps", "num_frames") if k not in info
    ]
    if missing:
        raise KeyError(
            f"reset info lacks {missing}; pass GroundingEnv.reset's info or a FrameContext"
        )
    _, times, _, shown_size = read_observation(obs)
    return FrameContext(
        frame_idx=np.asarray(info["frame_idx"]),
        timestamps_s=times,
        shown_size=shown_size,
        original_size=tuple(info["original_size"]),
        native_fps=float(info["native_fps"]),
        num_frames=int(info["num_frames"]),
        fps=fps,
        model_size=model_size,
    )


__all__ = ["context_from_reset", "read_observation"]
