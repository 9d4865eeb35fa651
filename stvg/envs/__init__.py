"""Gymnasium environments for spatio-temporal video grounding.

Importing this package only registers the env ids (see :mod:`stvg.envs.registration`);
the env classes and helpers below are imported on first access, so ``import stvg`` stays
cheap (no OpenCV, torch or ray).
"""

from __future__ import annotations

from stvg.envs.registration import ENV_IDS as ENV_IDS
from stvg.envs.registration import register_envs as register_envs
from stvg.lazy import lazy_names

_LAZY: dict[str, str] = {
    "CacheStats": "stvg.envs.frame_cache",
    "EnvConfig": "stvg.envs.config",
    "EnvDataConfig": "stvg.envs.config",
    "FlatTrackingObservation": "stvg.envs.wrappers",
    "FrameCache": "stvg.envs.frame_cache",
    "FrameSource": "stvg.envs.frame_source",
    "GroundingEnv": "stvg.envs.grounding",
    "GroundingEnvConfig": "stvg.envs.config",
    "TrackingEnv": "stvg.envs.tracking",
    "TrackingEnvConfig": "stvg.envs.config",
    "VideoGroundingEnvBase": "stvg.envs.base",
    "cost_figures": "stvg.envs.cost",
    "hash_tokens": "stvg.envs.tokenizer",
    "struct_to_parse": "stvg.envs.answers",
    "synthetic_root": "stvg.envs.synthetic_cache",
    "track_to_parse": "stvg.envs.answers",
    "visual_tokens": "stvg.envs.cost",
}


__getattr__, __dir__, __all__ = lazy_names(__name__, _LAZY, ("ENV_IDS", "register_envs"))
