"""Experiments: policy evaluation over dataset splits, the ``stvg run`` pipeline and its
report, shipped configs (``configs/*.yaml``).

Names are imported on first access so that ``stvg --help`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY: dict[str, str] = {
    "PolicyEvalConfig": "stvg.evaluation",
    "PolicyEvaluation": "stvg.evaluation",
    "PolicySpec": "stvg.evaluation",
    "evaluate_policy": "stvg.evaluation",
    "load_policy_eval_config": "stvg.evaluation",
    "RunConfig": "stvg.experiments.run",
    "RunResult": "stvg.experiments.run",
    "load_run_config": "stvg.experiments.run",
    "run_experiment": "stvg.experiments.run",
    "write_report": "stvg.experiments.report",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'stvg.experiments' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = sorted(_LAZY)
