"""Experiments: the ``stvg run`` pipeline and its report, ``stvg sweep``, shipped configs
(``configs/*.yaml``); policy evaluation (:mod:`stvg.evaluation`) re-exported.

Names are imported on first access so that ``stvg --help`` stays fast.
"""

from __future__ import annotations

from stvg.lazy import lazy_names

_LAZY: dict[str, str] = {
    "PolicyEvalConfig": "stvg.evaluation",
    "PolicyEvaluation": "stvg.evaluation",
    "PolicySpec": "stvg.evaluation",
    "evaluate_policy": "stvg.evaluation",
    "load_policy_eval_config": "stvg.evaluation",
    "RunConfig": "stvg.experiments.run_config",
    "RunResult": "stvg.experiments.run",
    "load_run_config": "stvg.experiments.run_config",
    "run_experiment": "stvg.experiments.run",
    "write_report": "stvg.experiments.report",
}


__getattr__, __dir__, __all__ = lazy_names(__name__, _LAZY, ())
