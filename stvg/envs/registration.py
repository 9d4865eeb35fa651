"""Gymnasium ids of the stvg envs; ``import stvg`` calls :func:`register_envs`.

Entry points are strings, so registering imports nothing heavy: an env's module (and the
dataset, the verifier, OpenCV) is imported by ``gymnasium.make`` only.
"""

from __future__ import annotations

import gymnasium as gym

#: ``id -> entry point`` of every env id (versioned; bumped when observation, action or
#: reward semantics change).
ENV_IDS: dict[str, str] = {
    "stvg/Grounding-v0": "stvg.envs.grounding:GroundingEnv",
    "stvg/Tracking-v0": "stvg.envs.tracking:TrackingEnv",
    "stvg/Synthetic-v0": "stvg.envs.shortcuts:make_synthetic_grounding",
    "stvg/SyntheticTracking-v0": "stvg.envs.shortcuts:make_synthetic_tracking",
    "stvg/SyntheticTrackingFlat-v0": "stvg.envs.shortcuts:make_synthetic_tracking_flat",
    "stvg/ZoomGrounding-v0": "stvg.envs.zoom:ZoomGroundingEnv",
    "stvg/SyntheticZoom-v0": "stvg.envs.shortcuts:make_synthetic_zoom",
}


def register_envs() -> None:
    """Register every id of :data:`ENV_IDS` with Gymnasium (idempotent)."""
    for env_id, entry_point in ENV_IDS.items():
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point=entry_point, disable_env_checker=False)


__all__ = ["ENV_IDS", "register_envs"]
