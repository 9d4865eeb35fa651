"""Entry points of the shortcut ids: the synthetic split, built on first use, no arguments.

``stvg/Synthetic-v0`` and ``stvg/SyntheticTracking-v0`` are ``stvg/Grounding-v0`` and
``stvg/Tracking-v0`` on the cached synthetic split (``stvg/SyntheticZoom-v0``:
``stvg/ZoomGrounding-v0`` on it) of
:func:`stvg.envs.synthetic_cache.synthetic_root`; ``stvg/SyntheticTrackingFlat-v0`` adds
:class:`~stvg.envs.wrappers.FlatTrackingObservation` for RLlib. Every other keyword argument
(``fps``, ``action_format``, ``reward_mode``, ...) goes to the env as usual.
"""

from __future__ import annotations

from typing import Any

from stvg.envs.grounding import GroundingEnv
from stvg.envs.synthetic_cache import SYNTHETIC_SPLIT, synthetic_root
from stvg.envs.tracking import TrackingEnv
from stvg.envs.wrappers import FlatTrackingObservation
from stvg.envs.zoom import ZoomGroundingEnv

_DATASET_KEYS = ("dataset", "split", "root", "annotations", "video_dir", "vidor_root")
_FLAT_KEYS = ("frame_size", "query_length", "vocab_size", "flatten")


def _synthetic_kwargs(env_id: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    given = sorted(k for k in _DATASET_KEYS if k in kwargs)
    if given:
        raise ValueError(
            f"{env_id} always uses the cached synthetic split, so {given} cannot be set; "
            "use stvg/Grounding-v0, stvg/Tracking-v0 or stvg/ZoomGrounding-v0 with dataset=... instead"
        )
    return {
        "dataset": "synthetic",
        "root": str(synthetic_root()),
        "split": SYNTHETIC_SPLIT,
        **kwargs,
    }


def make_synthetic_grounding(**kwargs: Any) -> GroundingEnv:
    """``stvg/Synthetic-v0``: a :class:`GroundingEnv` on the cached synthetic split."""
    return GroundingEnv(**_synthetic_kwargs("stvg/Synthetic-v0", kwargs))


def make_synthetic_tracking(**kwargs: Any) -> TrackingEnv:
    """``stvg/SyntheticTracking-v0``: a :class:`TrackingEnv` on the cached synthetic split."""
    return TrackingEnv(**_synthetic_kwargs("stvg/SyntheticTracking-v0", kwargs))


def make_synthetic_tracking_flat(**kwargs: Any) -> FlatTrackingObservation:
    """``stvg/SyntheticTrackingFlat-v0``: the synthetic tracking env with numeric-only
    observations (keywords ``frame_size``, ``query_length``, ``vocab_size``, ``flatten`` go
    to :class:`FlatTrackingObservation`, the rest to the env; ``include_prev_box``
    defaults to ``True``)."""
    flat = {k: kwargs.pop(k) for k in _FLAT_KEYS if k in kwargs}
    kwargs.setdefault("include_prev_box", True)
    env = TrackingEnv(**_synthetic_kwargs("stvg/SyntheticTrackingFlat-v0", kwargs))
    return FlatTrackingObservation(env, **flat)


def make_synthetic_zoom(**kwargs: Any) -> ZoomGroundingEnv:
    """``stvg/SyntheticZoom-v0``: a :class:`ZoomGroundingEnv` on the cached synthetic split."""
    return ZoomGroundingEnv(**_synthetic_kwargs("stvg/SyntheticZoom-v0", kwargs))


__all__ = [
    "make_synthetic_grounding",
    "make_synthetic_tracking",
    "make_synthetic_tracking_flat",
    "make_synthetic_zoom",
]
