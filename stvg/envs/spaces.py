"""Gymnasium spaces of the stvg envs: text, frames, structured answers and tracking actions.

All builders return fresh space objects (each with its own random generator), so two envs
never share sampling state.

Text spaces use :data:`TEXT_CHARSET`: every character of Unicode's Basic Multilingual
Plane except the surrogate range, plus the emoji and pictograph blocks
(``U+1F000``–``U+1FAFF``). Building such a charset costs about 0.1 s and 11 MB, so one
prototype per ``(min_length, max_length)`` is built per process and shallow-copied; the
copies share the immutable character tables but not the generator. ``Text.contains`` is
what uses the charset; the envs' ``step`` accepts any Python ``str``.
"""

from __future__ import annotations

import copy
import functools

import numpy as np
from gymnasium import spaces

#: Longest text action accepted by ``Text.contains`` (characters).
MAX_ACTION_TEXT_LENGTH = 65536

#: Characters of the text spaces: the BMP without surrogates, plus emoji blocks.
TEXT_CHARSET: frozenset[str] = frozenset(
    [chr(c) for c in range(0x10000) if not 0xD800 <= c <= 0xDFFF]
    + [chr(c) for c in range(0x1F000, 0x1FB00)]
)


@functools.lru_cache(maxsize=8)
def _text_prototype(min_length: int, max_length: int) -> spaces.Text:
    return spaces.Text(max_length, min_length=min_length, charset=TEXT_CHARSET)


def text_space(max_length: int, *, min_length: int = 0) -> spaces.Text:
    """A :class:`gymnasium.spaces.Text` over :data:`TEXT_CHARSET`.

    Args:
        max_length: longest string in the space (characters).
        min_length: shortest string in the space (characters, default 0: the empty string).

    Returns:
        A new ``Text`` space with its own (unseeded) random generator.
    """
    if min_length < 0 or max_length < min_length:
        raise ValueError(
            f"text_space needs 0 <= min_length <= max_length, got min_length={min_length}, "
            f"max_length={max_length}"
        )
    space = copy.copy(_text_prototype(int(min_length), int(max_length)))
    space._np_random = None  # a copy must not share the prototype's generator
    return space


def frames_space(max_frames: int, max_side: int) -> spaces.Box:
    """uint8 RGB frames ``[max_frames, max_side, max_side, 3]`` in ``[0, 255]``."""
    return spaces.Box(0, 255, shape=(max_frames, max_side, max_side, 3), dtype=np.uint8)


def frame_space(max_side: int) -> spaces.Box:
    """One uint8 RGB frame ``[max_side, max_side, 3]`` in ``[0, 255]``."""
    return spaces.Box(0, 255, shape=(max_side, max_side, 3), dtype=np.uint8)


def shown_size_space(max_side: int) -> spaces.Box:
    """``(width, height)`` in pixels of the frame as shown, each in ``[0, max_side]``."""
    return spaces.Box(0, max_side, shape=(2,), dtype=np.int64)


def grounding_observation_space(
    max_frames: int, max_side: int, max_query_length: int, max_duration_s: float
) -> spaces.Dict:
    """Observation space of :class:`~stvg.envs.grounding.GroundingEnv`.

    Keys: ``frames`` (uint8 ``[max_frames, max_side, max_side, 3]``), ``frame_mask`` (int8
    ``[max_frames]``, 1 = a real frame), ``timestamps`` (float32 ``[max_frames]``, seconds
    in ``[0, max_duration_s]``), ``shown_size`` (int64 ``(w, h)``), ``query`` (Text).
    """
    return spaces.Dict(
        {
            "frames": frames_space(max_frames, max_side),
            "frame_mask": spaces.Box(0, 1, shape=(max_frames,), dtype=np.int8),
            "timestamps": spaces.Box(
                0.0, np.float32(max_duration_s), shape=(max_frames,), dtype=np.float32
            ),
            "shown_size": shown_size_space(max_side),
            "query": text_space(max_query_length),
        }
    )


def struct_action_space(max_frames: int, max_duration_s: float) -> spaces.Dict:
    """Structured answer of :class:`~stvg.envs.grounding.GroundingEnv`.

    Keys: ``span`` (float32 ``(start, end)`` seconds in ``[0, max_duration_s]``), ``boxes``
    (float32 ``[max_frames, 4]`` xyxy normalised to ``[0, 1]`` of the frame), ``box_mask``
    (``MultiBinary(max_frames)``, 1 = a box is given at that shown frame).
    """
    return spaces.Dict(
        {
            "span": spaces.Box(0.0, np.float32(max_duration_s), shape=(2,), dtype=np.float32),
            "boxes": spaces.Box(0.0, 1.0, shape=(max_frames, 4), dtype=np.float32),
            "box_mask": spaces.MultiBinary(max_frames),
        }
    )


def track_candidates_space(max_candidates: int, max_frames: int) -> dict[str, spaces.Space]:
    """The observation keys of the track candidates (env ``tracks`` key on).

    Keys: ``track_ids`` (int64 ``[max_candidates]``, the candidates' track IDs in increasing
    order, -1 on unused slots), ``track_boxes`` (float32 ``[max_candidates, max_frames, 4]``
    xyxy normalised to ``[0, 1]`` of the frame: candidate ``k``'s box on shown frame ``t``,
    zeros where it has none) and ``track_box_mask`` (int8 ``[max_candidates, max_frames]``,
    1 = the candidate has a box on that shown frame).
    """
    return {
        "track_ids": spaces.Box(
            -1, np.iinfo(np.int64).max, shape=(max_candidates,), dtype=np.int64
        ),
        "track_boxes": spaces.Box(
            0.0, 1.0, shape=(max_candidates, max_frames, 4), dtype=np.float32
        ),
        "track_box_mask": spaces.Box(0, 1, shape=(max_candidates, max_frames), dtype=np.int8),
    }


def track_struct_action_space(max_candidates: int, max_duration_s: float) -> spaces.Dict:
    """Structured ``track-id`` answer of :class:`~stvg.envs.grounding.GroundingEnv`.

    Keys: ``track`` (``Discrete(max_candidates)``: the index of the answered track among the
    observation's candidates, ``track_ids[track]`` is its ID) and ``span`` (float32
    ``(start, end)`` seconds in ``[0, max_duration_s]``).
    """
    return spaces.Dict(
        {
            "track": spaces.Discrete(max_candidates),
            "span": spaces.Box(0.0, np.float32(max_duration_s), shape=(2,), dtype=np.float32),
        }
    )


def tracking_observation_space(
    max_side: int, max_query_length: int, max_duration_s: float, include_prev_box: bool
) -> spaces.Dict:
    """Observation space of :class:`~stvg.envs.tracking.TrackingEnv`.

    Keys: ``frame`` (uint8 ``[max_side, max_side, 3]``), ``shown_size`` (int64 ``(w, h)``),
    ``timestamp`` (float32 ``(1,)`` seconds), ``query`` (Text) and, with
    ``include_prev_box``, ``prev_box`` (float32 ``(4,)`` normalised xyxy of the previous
    step's box, zeros when absence was claimed or at the first step).
    """
    entries: dict[str, spaces.Space] = {
        "frame": frame_space(max_side),
        "shown_size": shown_size_space(max_side),
        "timestamp": spaces.Box(0.0, np.float32(max_duration_s), shape=(1,), dtype=np.float32),
        "query": text_space(max_query_length),
    }
    if include_prev_box:
        entries["prev_box"] = spaces.Box(0.0, 1.0, shape=(4,), dtype=np.float32)
    return spaces.Dict(entries)


def tracking_action_space() -> spaces.Dict:
    """``present`` (``Discrete(2)``, 1 = the target is visible) and ``box`` (float32
    ``(4,)`` xyxy normalised to ``[0, 1]`` of the frame)."""
    return spaces.Dict(
        {
            "present": spaces.Discrete(2),
            "box": spaces.Box(0.0, 1.0, shape=(4,), dtype=np.float32),
        }
    )


def zoom_observation_space(
    frame_budget: int, max_side: int, max_query_length: int, max_duration_s: float, max_turns: int
) -> spaces.Dict:
    """Observation space of :class:`~stvg.envs.zoom.ZoomGroundingEnv`: the keys of
    :func:`grounding_observation_space` with ``frame_budget`` frame slots (the frames shown
    so far, sorted by time), plus ``frame_turn`` (int64 ``[frame_budget]``, the turn that
    showed each frame: 0 = the glance, k = the k-th step's zoom; 0 for padding),
    ``turn`` (int64 ``(1,)``, steps taken), ``frames_left`` (int64 ``(1,)``, frames the
    budget still allows) and ``zooms_left`` (int64 ``(1,)``)."""
    entries = dict(
        grounding_observation_space(frame_budget, max_side, max_query_length, max_duration_s)
    )
    entries["frame_turn"] = spaces.Box(0, max_turns, shape=(frame_budget,), dtype=np.int64)
    entries["turn"] = spaces.Box(0, max_turns, shape=(1,), dtype=np.int64)
    entries["frames_left"] = spaces.Box(0, frame_budget, shape=(1,), dtype=np.int64)
    entries["zooms_left"] = spaces.Box(0, max_turns, shape=(1,), dtype=np.int64)
    return spaces.Dict(entries)


def zoom_struct_action_space(
    frame_budget: int, max_duration_s: float, max_fps: float
) -> spaces.Dict:
    """Structured action of :class:`~stvg.envs.zoom.ZoomGroundingEnv`: ``kind``
    (``Discrete(2)``: 0 = zoom, 1 = answer), the zoom's ``window`` (float32 ``(start, end)``
    seconds) and ``zoom_fps`` (float32 ``(1,)``, frames per second; 0 = the finest), and the
    answer's keys of :func:`struct_action_space` over the ``frame_budget`` slots."""
    entries = dict(struct_action_space(frame_budget, max_duration_s))
    entries["kind"] = spaces.Discrete(2)
    entries["window"] = spaces.Box(0.0, np.float32(max_duration_s), shape=(2,), dtype=np.float32)
    entries["zoom_fps"] = spaces.Box(0.0, np.float32(max_fps), shape=(1,), dtype=np.float32)
    return spaces.Dict(entries)


__all__ = [
    "MAX_ACTION_TEXT_LENGTH",
    "TEXT_CHARSET",
    "frame_space",
    "frames_space",
    "grounding_observation_space",
    "shown_size_space",
    "struct_action_space",
    "text_space",
    "track_candidates_space",
    "track_struct_action_space",
    "tracking_action_space",
    "tracking_observation_space",
    "zoom_observation_space",
    "zoom_struct_action_space",
]
