"""stvg: Gymnasium envs, policies, verifiers and RL trainers for spatio-temporal video grounding.

``import stvg`` registers the Gymnasium ids ``stvg/Grounding-v0``, ``stvg/Tracking-v0``,
``stvg/ZoomGrounding-v0``, ``stvg/Synthetic-v0``, ``stvg/SyntheticTracking-v0``,
``stvg/SyntheticTrackingFlat-v0`` and ``stvg/SyntheticZoom-v0`` (cheaply: the envs themselves
are imported by ``gymnasium.make``).
"""

from stvg.envs.registration import register_envs as _register_envs

_register_envs()
