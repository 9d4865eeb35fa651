"""verl custom reward function: ``compute_score(data_source, solution_str, ground_truth, ...)``.

Point verl at this module in its config::

    custom_reward_function:
      path: /path/to/site-packages/stvg/verifiers/adapters/verl.py
      name: compute_score
      reward_kwargs:            # optional: the verifier config for every sample
        verifier: {terms: [{name: t_iou, weight: 0.5}, {name: v_iou, weight: 0.5}]}

With verl's batch reward manager (``reward_model.reward_manager: batch``) use
``name: compute_score_batch``: the whole batch is scored with one batched verifier call
per config, the same results row by row.

Each row's ``reward_model.ground_truth`` is the record of
:mod:`stvg.verifiers.adapters.common` (a mapping or its JSON string); ``extra_info`` may carry
a per-row ``verifier`` config. The layout is documented in ``docs/verifier.md``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from stvg.verifiers.adapters.common import VerifierCache, config_key, score_record, score_records
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


def plain_config(value: Any) -> Any:
    """``value`` with OmegaConf containers (verl's ``reward_kwargs`` arrive as
    ``DictConfig``/``ListConfig``) turned into plain dicts and lists."""
    if type(value).__module__.startswith("omegaconf"):
        from omegaconf import OmegaConf

        return OmegaConf.to_container(value, resolve=True)
    return value


def _row_config(extra_info: Any, default: VerifierConfigLike) -> VerifierConfigLike:
    """The verifier config of one row, as plain values: ``extra_info["verifier"]`` when
    given, else ``default`` (verl's ``reward_kwargs["verifier"]``, which verl passes as an
    OmegaConf ``DictConfig``: both entry points go through here, so both accept it)."""
    return plain_config(_config_from_extra_info(extra_info, plain_config(default)))


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
    config = _row_config(extra_info, verifier)
    return verl_result(score_record(VERIFIERS, config, solution_str, ground_truth))


def compute_score_batch(
    data_sources: Sequence[str],
    solution_strs: Sequence[str],
    ground_truths: Sequence[Mapping[str, Any] | str],
    extra_infos: Sequence[Mapping[str, Any] | None] | None = None,
    *,
    verifier: VerifierConfigLike = None,
    **kwargs: Any,
) -> list[dict[str, float | str]]:
    """Score a verl batch at once (``reward_model.reward_manager: batch``).

    verl's ``BatchRewardManager`` calls its ``compute_score`` with lists
    (``data_sources``, ``solution_strs``, ``ground_truths``, ``extra_infos``); this scores
    the rows of each verifier config with one batched call and returns, row by row, what
    :func:`compute_score` returns for that row.

    Raises:
        ValueError: lists of different lengths; a malformed ground-truth record.
        stvg.config.ConfigError: an invalid verifier config.
    """
    del kwargs
    n = len(solution_strs)
    infos = [None] * n if extra_infos is None else list(extra_infos)
    if not (len(data_sources) == len(ground_truths) == len(infos) == n):
        raise ValueError(
            f"compute_score_batch needs aligned lists, got {len(data_sources)} data sources, "
            f"{n} solutions, {len(ground_truths)} ground truths and {len(infos)} extra infos"
        )
    by_config: dict[str, tuple[VerifierConfigLike, list[int]]] = {}
    for i, info in enumerate(infos):
        config = _row_config(info, verifier)
        by_config.setdefault(config_key(config), (config, []))[1].append(i)
    out: list[dict[str, float | str] | None] = [None] * n
    for config, rows in by_config.values():
        results = score_records(
            VERIFIERS, config, [solution_strs[i] for i in rows], [ground_truths[i] for i in rows]
        )
        for i, result in zip(rows, results, strict=True):
            out[i] = verl_result(result)
    return out  # type: ignore[return-value]


__all__ = ["VERIFIERS", "compute_score", "compute_score_batch", "verl_result"]
