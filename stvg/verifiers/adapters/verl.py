"""verl custom reward function: ``compute_score(data_source, solution_str, ground_truth, ...)``.

Point verl at this module in its config::

    custom_reward_function:
      path: /path/to/site-packages/stvg/verifiers/adapters/verl.py
      name: compute_score
      reward_kwargs:            # optional: the verifier config for every sample
        verifier: {terms: [{name: t_iou, weight: 0.5}, {name: v_iou, weight: 0.5}]}

Each row's ``reward_model.ground_truth`` is the record of
:mod:`stvg.verifiers.adapters.common` (a mapping or its JSON string); ``extra_info`` may carry
a per-row ``verifier`` config. The layout is documented in ``docs/verifier.md``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from stvg.verifiers.adapters.common import VerifierCache, score_record
from stvg.verifiers.verifier import VerifierConfigLike, VerifierResult

# Verifiers built once per (config, answer format, coords) in this process.
VERIFIERS = VerifierCache()


def verl_result(result: VerifierResult) -> dict[str, float | str]:
    """The dict verl expects: ``score`` plus flat extra values (logged by verl).

    Keys: ``score`` (the weighted total), one key per configured term (unweighted value),
    ``t_iou``, ``v_iou``, ``parse_ok`` and ``format_ok`` (1.0 / 0.0) and ``parse_error``
    (the reason, ``""`` when the answer was usable). Every row of one config has the same
    keys, as verl requires; the one string value is skipped by verl's metric reduction.
    """
    out: dict[str, float | str] = {"score": result.total}
    out.update(result.terms)
    out["t_iou"] = result.t_iou
    out["v_iou"] = result.v_iou
    out["parse_ok"] = 1.0 if result.parse_ok else 0.0
    out["format_ok"] = 1.0 if result.format_ok else 0.0
    out["parse_error"] = result.parse_error or ""
    return out


def _config_from_extra_info(extra_info: Any, default: VerifierConfigLike) -> VerifierConfigLike:
    if extra_info is None:
        return default
    if not isinstance(extra_info, Mapping):
        raise TypeError(f"extra_info must be a mapping or None, got {type(extra_info).__name__}")
    config = extra_info.get("verifier")
    if config is None:
        return default
    if isinstance(config, str) and config.lstrip().startswith("{"):
        try:
            return json.loads(config)
        except json.JSONDecodeError as exc:
            raise ValueError(f"extra_info['verifier'] is not valid JSON: {exc}") from exc
    return config


def compute_score(
    data_source: str,
    solution_str: str,
    ground_truth: Mapping[str, Any] | str,
    extra_info: Mapping[str, Any] | None = None,
    *,
    verifier: VerifierConfigLike = None,
    **kwargs: Any,
) -> dict[str, float | str]:
    """Score one verl rollout (verl's custom reward function signature).

    Args:
        data_source: the row's data source (not used: every STVG source scores alike).
        solution_str: the decoded model response.
        ground_truth: the ground-truth record (mapping or JSON string, see
            :mod:`stvg.verifiers.adapters.common` and ``docs/verifier.md``).
        extra_info: the row's extra info; its ``verifier`` entry (a config mapping, its
            JSON string, or a YAML path) overrides ``verifier``.
        verifier: the verifier config for every row (verl's ``reward_kwargs``); ``None``
            = the default ``tIoU + vIoU``.
        **kwargs: other keyword arguments verl may pass (sandbox settings, ...); ignored.

    Returns:
        See :func:`verl_result`. A malformed ``solution_str`` scores 0 with its reason in
        ``parse_error``.

    Raises:
        ValueError: a malformed ground-truth record (a data bug), naming the key.
        stvg.config.ConfigError: an invalid verifier config.
    """
    del data_source, kwargs
    config = _config_from_extra_info(extra_info, verifier)
    return verl_result(score_record(VERIFIERS, config, solution_str, ground_truth))


__all__ = ["VERIFIERS", "compute_score", "verl_result"]
