"""Evaluate a set of predictions against a dataset: metrics, missing and unknown ids, a table.

:func:`evaluate` scores every sample of the dataset (a sample without a prediction scores
0 on both metrics and is listed in ``missing``), reports predictions whose sample id is not
in the dataset in ``unknown`` (they are not scored), and summarises with
:func:`stvg.verifiers.metrics.dataset_metrics`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from stvg.data.types import Sample
from stvg.verifiers.metrics import GroundTruthTable, Protocol, SampleScore, dataset_metrics
from stvg.verifiers.predictions import Prediction

_TABLE_COLUMNS = ("n", "m_tIoU", "m_vIoU", "vIoU@0.3", "vIoU@0.5")


@dataclass(frozen=True)
class EvaluationReport:
    """Result of :func:`evaluate`.

    Attributes:
        metrics: :func:`~stvg.verifiers.metrics.dataset_metrics` of all samples (fractions
            in ``[0, 1]``; ``by_sentence_type`` when the dataset has sentence types).
        scores: one :class:`~stvg.verifiers.metrics.SampleScore` per sample, dataset order
            (a :class:`~stvg.verifiers.metrics.ScoreBatch`).
        missing: ids of samples without a prediction (scored 0), dataset order.
        unknown: ids of predictions for samples not in the dataset (not scored), file order.
        protocol: the metric protocol used (``"native"`` or ``"tubedetr"``).
        n_boxes_outside_span: predicted boxes outside their span, dropped while reading.
    """

    metrics: dict[str, Any]
    scores: Sequence[SampleScore]
    missing: list[str]
    unknown: list[str]
    protocol: str
    n_boxes_outside_span: int = 0

    def to_dict(self, *, per_sample: bool = True) -> dict[str, Any]:
        """JSON-friendly dict: the metrics at top level, then ``protocol``, ``missing``,
        ``unknown``, ``n_boxes_outside_span`` and (with ``per_sample``) ``per_sample``."""
        out: dict[str, Any] = dict(self.metrics)
        out.update(
            {
                "protocol": self.protocol,
                "n_missing": len(self.missing),
                "n_unknown": len(self.unknown),
                "missing": list(self.missing),
                "unknown": list(self.unknown),
                "n_boxes_outside_span": self.n_boxes_outside_span,
            }
        )
        if per_sample:
            out["per_sample"] = [s.to_dict() for s in self.scores]
        return out


def evaluate(
    samples: Sequence[Sample],
    predictions: Mapping[str, Prediction],
    *,
    protocol: Protocol = "native",
) -> EvaluationReport:
    """Score ``predictions`` against every sample of ``samples``.

    Args:
        samples: the dataset (sample ids must be unique).
        predictions: ``{sample_id: Prediction}``, e.g. from
            :func:`~stvg.verifiers.predictions.read_predictions`.
        protocol: ``"native"`` (official HC-STVG, every native frame) or ``"tubedetr"``
            (TubeDETR's 5 fps grid), see :mod:`stvg.verifiers.metrics`.

    Returns:
        An :class:`EvaluationReport`.
    """
    if len(samples) == 0:
        raise ValueError("evaluate needs at least one sample, got an empty dataset")
    counts = Counter(s.sample_id for s in samples)
    duplicated = [sid for sid, c in counts.items() if c > 1]
    if duplicated:
        raise ValueError(
            f"sample ids must be unique to match predictions, but {len(duplicated)} repeat, "
            f"e.g. {duplicated[:3]}"
        )
    found = [predictions.get(s.sample_id) for s in samples]
    scores = GroundTruthTable(samples, protocol).score(
        [None if p is None else p.span for p in found],
        [None if p is None else p.tube for p in found],
    )
    missing = [s.sample_id for s, p in zip(samples, found, strict=True) if p is None]
    unknown = [sid for sid in predictions if sid not in counts]
    outside = sum(p.n_boxes_outside_span for p in found if p is not None)
    return EvaluationReport(
        metrics=dataset_metrics(scores),
        scores=scores,
        missing=missing,
        unknown=unknown,
        protocol=protocol,
        n_boxes_outside_span=outside,
    )


def format_table(report: EvaluationReport) -> str:
    """A plain-text table of ``report``: one row for all samples, one per sentence type.

    Metrics are shown in percent with two decimals; a footer gives the protocol and the
    counts of missing and unknown predictions.
    """
    rows: list[tuple[str, Mapping[str, Any]]] = [("all", report.metrics)]
    rows += sorted(report.metrics.get("by_sentence_type", {}).items())
    header = ["subset", *_TABLE_COLUMNS]
    cells = [header]
    for name, m in rows:
        cells.append([name, str(m["n"]), *(f"{100.0 * m[c]:.2f}" for c in _TABLE_COLUMNS[1:])])
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = [
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append(
        f"protocol={report.protocol}  (metrics in %)  missing={len(report.missing)}  "
        f"unknown={len(report.unknown)}  boxes_outside_span={report.n_boxes_outside_span}"
    )
    return "\n".join(lines)


__all__ = ["EvaluationReport", "evaluate", "format_table"]
