"""Wrappers that make :class:`~stvg.envs.tracking.TrackingEnv` fit classical RL libraries.

RLlib's default model catalog takes a 1-D ``Box`` observation (an MLP encoder) and corrupts
``Text`` observations, so :class:`FlatTrackingObservation` turns the tracking observation
into numbers only: a small float copy of the frame, the timestamp, the previous box (when
the env gives it) and the query as hashed token ids (:func:`stvg.envs.tokenizer.hash_tokens`).
The action space (``present`` + normalised ``box``) is left as it is: RLlib's new API stack
handles that ``Dict`` with a multi-distribution (categorical + diagonal Gaussian).
"""

from __future__ import annotations

from typing import Any

import cv2
import gymnasium as gym
import numpy as np
from gymnasium import spaces

from stvg.envs.tokenizer import hash_tokens

_REQUIRED_KEYS = ("frame", "shown_size", "timestamp", "query")


class FlatTrackingObservation(gym.ObservationWrapper):
    """Numeric observation for a tracking env: no text, fixed sizes.

    Features, in this order (``flatten=True`` concatenates them into one float32 vector):

    | Key         | Shape                | Range                 | Meaning                 |
    |-------------|----------------------|-----------------------|-------------------------|
    | `frame`     | `(fs, fs, 3)`        | 0..1 float32          | shown frame RGB / 255,  |
    |             |                      |                       | resized (``INTER_AREA``)|
    | `timestamp` | `(1,)`               | 0..duration float32   | seconds                 |
    | `prev_box`  | `(4,)` (if env has)  | 0..1 float32          | previous normalised box |
    | `query_ids` | `(query_length,)`    | 0..vocab_size-1 int64 | hashed word ids, 0 = pad|

    ``fs`` is ``frame_size``. The frame is the real (unpadded) part of the env's frame, stretched to a square.
    Flattened size: ``3 * frame_size**2 + 1 + 4 * has_prev_box + query_length``.

    Args:
        env: a tracking env (observation keys ``frame``, ``shown_size``, ``timestamp``,
            ``query`` and optionally ``prev_box``).
        frame_size: side of the downsampled frame, pixels.
        query_length: token ids kept from the query (padded with 0).
        vocab_size: number of token ids (0 is padding).
        flatten: one float32 ``Box`` vector (``True``) or a ``Dict`` of the features.
    """

    def __init__(
        self,
        env: gym.Env,
        *,
        frame_size: int = 16,
        query_length: int = 16,
        vocab_size: int = 1024,
        flatten: bool = True,
    ) -> None:
        super().__init__(env)
        inner = env.observation_space
        if not isinstance(inner, spaces.Dict) or any(k not in inner.spaces for k in _REQUIRED_KEYS):
            raise ValueError(
                "FlatTrackingObservation needs a Dict observation with keys "
                f"{list(_REQUIRED_KEYS)}, got {inner}"
            )
        if frame_size <= 0 or query_length <= 0 or vocab_size < 2:
            raise ValueError(
                "FlatTrackingObservation needs frame_size > 0, query_length > 0 and "
                f"vocab_size >= 2, got frame_size={frame_size}, query_length={query_length}, vocab_size={vocab_size}"
            )
        self.frame_size = int(frame_size)
        self.query_length = int(query_length)
        self.vocab_size = int(vocab_size)
        self.flatten = bool(flatten)
        self.has_prev_box = "prev_box" in inner.spaces
        max_time = float(inner["timestamp"].high.max())
        features: dict[str, spaces.Box] = {
            "frame": spaces.Box(0.0, 1.0, shape=(frame_size, frame_size, 3), dtype=np.float32),
            "timestamp": spaces.Box(0.0, max_time, shape=(1,), dtype=np.float32),
        }
        if self.has_prev_box:
            features["prev_box"] = spaces.Box(0.0, 1.0, shape=(4,), dtype=np.float32)
        features["query_ids"] = spaces.Box(0, vocab_size - 1, shape=(query_length,), dtype=np.int64)
        self.feature_space = spaces.Dict(features)
        if self.flatten:
            low = np.concatenate([s.low.ravel().astype(np.float32) for s in features.values()])
            high = np.concatenate([s.high.ravel().astype(np.float32) for s in features.values()])
            self.observation_space = spaces.Box(low, high, dtype=np.float32)
        else:
            self.observation_space = self.feature_space
        self._query: str | None = None
        self._query_ids = np.zeros(query_length, dtype=np.int64)

    def observation(self, observation: dict[str, Any]) -> np.ndarray | dict[str, np.ndarray]:
        """The numeric features of one tracking observation."""
        width, height = (int(v) for v in observation["shown_size"])
        shown = observation["frame"][:height, :width]
        small = cv2.resize(shown, (self.frame_size, self.frame_size), interpolation=cv2.INTER_AREA)
        if observation["query"] != self._query:
            self._query = observation["query"]
            self._query_ids = hash_tokens(self._query, self.query_length, self.vocab_size)
        features = {
            "frame": small.astype(np.float32) / np.float32(255.0),
            "timestamp": np.asarray(observation["timestamp"], dtype=np.float32).reshape(1),
        }
        if self.has_prev_box:
            features["prev_box"] = np.asarray(observation["prev_box"], dtype=np.float32).reshape(4)
        features["query_ids"] = self._query_ids.copy()
        if not self.flatten:
            return features
        return np.concatenate([np.ravel(v).astype(np.float32) for v in features.values()])


__all__ = ["FlatTrackingObservation"]
