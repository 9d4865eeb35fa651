"""What native and VLM supervised fine-tuning share: the splits section, the result, the
optimiser recipe, and the metrics lines of an evaluation."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from stvg.config import InvalidField, to_dict
from stvg.verifiers.metrics import HEADLINE_METRICS


@dataclass
class SFTSplits:
    """Which splits an SFT run trains and evaluates on, and how synthetic ones are made.

    Attributes:
        train_split: split trained on.
        eval_split: split evaluated on (``None`` = no evaluation).
        generate: for ``synthetic``: generate a split whose annotation file is missing.
        n_train, n_eval: videos generated for the train and eval splits.
        difficulty: difficulty of generated synthetic splits.
        seed: generation seed.
        limit_train, limit_eval: use only the first ``n`` samples (``None`` = all).
    """

    train_split: str = "train"
    eval_split: str | None = "test"
    generate: bool = True
    n_train: int = 1000
    n_eval: int = 100
    difficulty: Literal["easy", "medium", "hard"] = "easy"
    seed: int = 0
    limit_train: int | None = None
    limit_eval: int | None = None

    def __post_init__(self) -> None:
        for name in ("n_train", "n_eval"):
            if getattr(self, name) < 1:
                raise InvalidField(name, f"must be >= 1, got {getattr(self, name)}")
        for name in ("limit_train", "limit_eval"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise InvalidField(name, f"must be >= 1 or null (all samples), got {value}")


def check_at_least(config: Any, names: tuple[str, ...], low: int) -> None:
    """Raise :class:`~stvg.config.InvalidField` naming the first of ``config``'s fields
    ``names`` below ``low``."""
    for name in names:
        value = getattr(config, name)
        if value < low:
            raise InvalidField(name, f"must be >= {low}, got {value}")


def check_run_options(config: Any) -> None:
    """The options every SFT config shares: a positive finite ``lr``, ``threads`` >= 1 or
    null, and ``report_to`` naming known trackers."""
    from stvg.training.trackers import check_report_to

    if not (config.lr > 0 and math.isfinite(config.lr)):
        raise InvalidField("lr", f"must be a positive number, got {config.lr}")
    if config.threads is not None and config.threads < 1:
        raise InvalidField("threads", f"must be >= 1 or null, got {config.threads}")
    try:
        check_report_to(config.report_to)
    except ValueError as exc:
        raise InvalidField("report_to", str(exc)) from None


@dataclass
class SFTResult:
    """What :func:`train_sft` produced.

    Attributes:
        run_dir: the run folder.
        checkpoint: path of the saved policy (``policy.pt``; for a VLM run the
            Hugging Face folder ``hf``).
        history: the logged metric lines (as written to ``metrics.jsonl``).
        eval_metrics: the final evaluation's metrics (empty without an eval split); with
            validation, those of the selected checkpoint.
        seconds: wall time of the whole run.
        epochs_done: epochs trained (``None``: not recorded, VLM runs).
        best_epoch: epoch of the selected checkpoint, the best validation evaluation
            (``None`` without validation: the checkpoint is the last epoch's).
        stopped_early: training stopped before ``epochs`` because ``patience``
            validation evaluations in a row did not improve.
        val_metrics: the validation metrics of the selected checkpoint (empty without
            validation).
    """

    run_dir: Path
    checkpoint: Path
    history: list[dict[str, Any]]
    eval_metrics: dict[str, Any]
    seconds: float
    epochs_done: int | None = None
    best_epoch: int | None = None
    stopped_early: bool = False
    val_metrics: dict[str, Any] = field(default_factory=dict)


def warmup_cosine(step: int, warmup: int, total: int) -> float:
    """Learning-rate factor: linear warm-up to 1 over ``warmup`` steps, then cosine decay
    to 0.05 at ``total``.

    >>> [round(warmup_cosine(s, 2, 10), 3) for s in (0, 1, 2, 6, 10)]
    [0.5, 1.0, 1.0, 0.525, 0.05]
    """
    if warmup and step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress))


def sft_optimiser(parameters: Any, config: Any, num_samples: int) -> tuple[Any, Any]:
    """AdamW and its :func:`warmup_cosine` schedule over the run's optimiser steps, the SFT
    recipe of both policies.

    Args:
        parameters: the parameters trained (or AdamW parameter groups, each with its ``lr``).
        config: an SFT config (``lr``, ``weight_decay``, ``warmup_steps``, ``batch_size``,
            ``epochs``).
        num_samples: training samples per epoch.
    """
    import torch

    total_steps = math.ceil(num_samples / config.batch_size) * config.epochs
    optimiser = torch.optim.AdamW(parameters, lr=config.lr, weight_decay=config.weight_decay)
    # each group's peak rate is its own ``lr``; the schedule scales them all alike
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda step: warmup_cosine(step, config.warmup_steps, total_steps)
    )
    return optimiser, scheduler


def eval_line(
    metrics: dict[str, Any], prefix: str = "eval", extra: tuple[str, ...] = ()
) -> dict[str, float]:
    """``{prefix/<metric>: value}`` of an evaluation's :data:`HEADLINE_METRICS` and the
    ``extra`` keys it has, as floats (a line of ``metrics.jsonl``)."""
    keys = (*HEADLINE_METRICS, *extra)
    return {f"{prefix}/{k}": float(metrics[k]) for k in keys if k in metrics}


def write_run_config(config: Any, run_dir: Path) -> None:
    """The resolved config as the run folder's ``config.yaml``."""
    (run_dir / "config.yaml").write_text(
        yaml.safe_dump(to_dict(config), sort_keys=False), encoding="utf-8"
    )


__all__ = [
    "SFTResult",
    "SFTSplits",
    "eval_line",
    "sft_optimiser",
    "warmup_cosine",
    "write_run_config",
]
