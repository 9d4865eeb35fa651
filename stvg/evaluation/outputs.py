"""What an evaluation writes to its folder: ``predictions.json``, ``metrics.json``,
``per_sample.jsonl`` and the resolved ``config.yaml``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from stvg.config import to_dict
from stvg.verifiers.predictions import write_predictions


def write_evaluation(result: Any, config: Any, out_dir: Path) -> None:
    """Write a :class:`~stvg.evaluation.evaluate.PolicyEvaluation` and its config."""
    out_dir.mkdir(parents=True, exist_ok=True)
    write_predictions(out_dir / "predictions.json", result.predictions)
    (out_dir / "metrics.json").write_text(
        json.dumps(result.summary(), indent=2) + "\n", encoding="utf-8"
    )
    with (out_dir / "per_sample.jsonl").open("w", encoding="utf-8") as handle:
        for record in result.per_sample:
            handle.write(json.dumps(record) + "\n")
    _write_config(config, out_dir)


def write_empty(
    bad_videos: Sequence[dict[str, str]],
    stopped_at: dict[str, str] | None,
    config: Any,
    out_dir: Path,
) -> None:
    """``metrics.json`` (counts, bad videos, where it stopped) of an evaluation that
    scored no sample; empty ``predictions.json`` and ``per_sample.jsonl``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    write_predictions(out_dir / "predictions.json", {})
    summary: dict[str, Any] = {
        "n": 0,
        "n_bad_videos": len(bad_videos),
        "bad_videos": list(bad_videos),
        "complete": stopped_at is None,
        **({} if stopped_at is None else {"stopped_at": dict(stopped_at)}),
    }
    (out_dir / "metrics.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    (out_dir / "per_sample.jsonl").write_text("", encoding="utf-8")
    _write_config(config, out_dir)


def _write_config(config: Any, out_dir: Path) -> None:
    (out_dir / "config.yaml").write_text(
        yaml.safe_dump(to_dict(config), sort_keys=False), encoding="utf-8"
    )


__all__ = ["write_empty", "write_evaluation"]
