"""Gymnasium environments for spatio-temporal video grounding.

Importing this package only registers the env ids (see :mod:`stvg.envs.registration`);
the env classes and helpers below are imported on first access, so ``import stvg`` stays
cheap (no OpenCV, torch or ray).
"""

from __future__ import annotations

import importlib
from typing import Any

from stvg.envs.registration import ENV_IDS, register_envs

_LAZY: dict[str, str] = {
    "CacheStats": "stvg.envs.frame_cache",
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


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'stvg.envs' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = ["ENV_IDS", "register_envs", *sorted(_LAZY)]
