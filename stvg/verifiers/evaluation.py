"""Evaluate a set of predictions against a dataset: metrics, missing and unknown ids, a table.

:func:`evaluate` scores every sample of the dataset under one metric protocol (a sample
without a prediction is listed in ``missing`` and scores 0, except under ``"cgstvg"``,
which skips it), reports predictions whose sample id is not in the dataset in ``unknown``
(they are not scored), counts the annotated GT boxes reaching outside the frame (scored as
annotated), and summarises with :func:`stvg.verifiers.metrics.dataset_metrics`.
:func:`evaluate_protocols` does the same under several protocols (``--protocol all``), and
:func:`format_table` prints either report, with one row per sentence type (VidSTG:
declarative / interrogative, as TubeDETR reports them) under each protocol.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from stvg.data.types import Sample
from stvg.verifiers.metrics import (
    HEADLINE_METRICS,
    PROTOCOLS,
    GroundTruthTable,
    Protocol,
    SampleScore,
    canonical_protocol,
    dataset_metrics,
)
from stvg.verifiers.predictions import Prediction

_TABLE_COLUMNS = ("n", *HEADLINE_METRICS, "m_gt_vIoU")
ALL_PROTOCOLS = "all"  # --protocol value that scores under every protocol of PROTOCOLS


@dataclass(frozen=True)
class EvaluationReport:
    """Result of :func:`evaluate`.

    Attributes:
        metrics: :func:`~stvg.verifiers.metrics.dataset_metrics` of all samples (fractions
            in ``[0, 1]``; ``by_sentence_type`` when the dataset has sentence types).
        scores: one :class:`~stvg.verifiers.metrics.SampleScore` per sample, dataset order
            (a :class:`~stvg.verifiers.metrics.ScoreBatch`).
        missing: ids of samples without a prediction, dataset order (scored 0; skipped by
            ``"cgstvg"``).
        excluded: ids of samples the protocol's loader leaves out (never averaged; only
            CG-STVG's VidSTG loader does), dataset order.
        unknown: ids of predictions for samples not in the dataset (not scored), file order.
        protocol: the canonical metric protocol used (see
            :data:`~stvg.verifiers.metrics.PROTOCOLS`).
        n_boxes_outside_span: predicted boxes outside their span (scored by ``"official"``
            only).
        n_gt_boxes_outside_frame: annotated GT boxes (on the frames of each GT span) reaching
            outside ``[0, width] x [0, height]``, over all samples; they are scored as
            annotated (per sample in ``scores``).
    """

    metrics: dict[str, Any]
    scores: Sequence[SampleScore]
    missing: list[str]
    unknown: list[str]
    protocol: str
    n_boxes_outside_span: int = 0
    n_gt_boxes_outside_frame: int = 0
    excluded: list[str] = field(default_factory=list)

    def to_dict(self, *, per_sample: bool = True) -> dict[str, Any]:
        """JSON-friendly dict: the metrics at top level, then ``protocol``, ``missing``,
        ``unknown``, ``excluded``, the counts and (with ``per_sample``) ``per_sample``."""
        out: dict[str, Any] = dict(self.metrics)
        out.update(
            {
                "protocol": self.protocol,
                "n_missing": len(self.missing),
                "n_unknown": len(self.unknown),
                "n_excluded": len(self.excluded),
                "missing": list(self.missing),
                "unknown": list(self.unknown),
                "excluded": list(self.excluded),
                "n_boxes_outside_span": self.n_boxes_outside_span,
                "n_gt_boxes_outside_frame": self.n_gt_boxes_outside_frame,
            }
        )
        if per_sample:
            out["per_sample"] = [s.to_dict() for s in self.scores]
        return out


@dataclass(frozen=True)
class MultiProtocolReport:
    """Result of :func:`evaluate_protocols`: one :class:`EvaluationReport` per protocol.

    Attributes:
        reports: ``{protocol: report}``, in the order scored.

    Attributes that do not depend on the protocol (``missing``, ``unknown``,
    ``n_boxes_outside_span``, ``n_gt_boxes_outside_frame``, ...) are read from the first
    report, so code written for an :class:`EvaluationReport` can print them unchanged.
    """

    reports: dict[str, EvaluationReport]

    @property
    def protocol(self) -> str:
        """``"all"`` when every protocol was scored, else the names joined by commas."""
        if tuple(self.reports) == PROTOCOLS:
            return ALL_PROTOCOLS
        return ",".join(self.reports)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name == "reports":
            raise AttributeError(name)
        return getattr(next(iter(self.reports.values())), name)

    def to_dict(self, *, per_sample: bool = True) -> dict[str, Any]:
        """``{"protocol": "all", "by_protocol": {name: EvaluationReport.to_dict()}}`` plus
        the protocol-independent counts at top level."""
        first = next(iter(self.reports.values()))
        return {
            "protocol": self.protocol,
            "n_missing": len(first.missing),
            "n_unknown": len(first.unknown),
            "n_boxes_outside_span": first.n_boxes_outside_span,
            "n_gt_boxes_outside_frame": first.n_gt_boxes_outside_frame,
            "by_protocol": {
                name: report.to_dict(per_sample=per_sample) for name, report in self.reports.items()
            },
        }


def _check_samples(samples: Sequence[Sample]) -> Counter[str]:
    if len(samples) == 0:
        raise ValueError("evaluate needs at least one sample, got an empty dataset")
    counts = Counter(s.sample_id for s in samples)
    duplicated = [sid for sid, c in counts.items() if c > 1]
    if duplicated:
        raise ValueError(
            f"sample ids must be unique to match predictions, but {len(duplicated)} repeat, "
            f"e.g. {duplicated[:3]}"
        )
    return counts


def evaluate(
    samples: Sequence[Sample],
    predictions: Mapping[str, Prediction],
    *,
    protocol: Protocol | str = "official",
) -> EvaluationReport:
    """Score ``predictions`` against every sample of ``samples``.

    Args:
        samples: the dataset (sample ids must be unique).
        predictions: ``{sample_id: Prediction}``, e.g. from
            :func:`~stvg.verifiers.predictions.read_predictions`.
        protocol: ``"official"`` (default; ``"native"``: deprecated old name), ``"span"``,
            ``"tubedetr"``, ``"tubedetr-grid"`` or ``"cgstvg"``, see
            :mod:`stvg.verifiers.metrics`; for several at once use
            :func:`evaluate_protocols`.

    Returns:
        An :class:`EvaluationReport`.
    """
    if protocol == ALL_PROTOCOLS:
        raise ValueError(
            "evaluate scores one protocol; for protocol 'all' call evaluate_protocols "
            "(stvg evaluate --protocol all does)"
        )
    name = canonical_protocol(protocol)
    counts = _check_samples(samples)
    return _evaluate(samples, predictions, name, set(counts))


def _evaluate(
    samples: Sequence[Sample],
    predictions: Mapping[str, Prediction],
    protocol: str,
    known: set[str],
) -> EvaluationReport:
    found = [predictions.get(s.sample_id) for s in samples]
    table = GroundTruthTable(samples, protocol)
    scores = table.score(
        [None if p is None else p.span for p in found],
        [None if p is None else p.tube for p in found],
    )
    missing = [s.sample_id for s, p in zip(samples, found, strict=True) if p is None]
    unknown = [sid for sid in predictions if sid not in known]
    outside = sum(p.n_boxes_outside_span for p in found if p is not None)
    excluded = [s.sample_id for s, x in zip(samples, table.excluded, strict=True) if x]
    return EvaluationReport(
        metrics=dataset_metrics(scores),
        scores=scores,
        missing=missing,
        unknown=unknown,
        protocol=protocol,
        n_boxes_outside_span=outside,
        n_gt_boxes_outside_frame=int(table.n_gt_boxes_outside_frame.sum()),
        excluded=excluded,
    )


def evaluate_protocols(
    samples: Sequence[Sample],
    predictions: Mapping[str, Prediction],
    *,
    protocols: Sequence[str] = PROTOCOLS,
) -> MultiProtocolReport:
    """Score ``predictions`` under each of ``protocols`` (default: all, in
    :data:`~stvg.verifiers.metrics.PROTOCOLS` order), as :func:`evaluate` does for one.

    Raises:
        ValueError: no protocol, an unknown one, or one named twice (aliases included).
    """
    names = [canonical_protocol(p) for p in protocols]
    if not names or len(set(names)) != len(names):
        raise ValueError(
            f"protocols must name each protocol at most once and at least one, got "
            f"{list(protocols)!r}"
        )
    counts = _check_samples(samples)
    known = set(counts)
    return MultiProtocolReport({n: _evaluate(samples, predictions, n, known) for n in names})


def _fmt(value: Any) -> str:
    return "-" if value is None else f"{100.0 * value:.2f}"


def _render(header: list[str], cells: list[list[str]], n_text: int) -> list[str]:
    rows = [header, *cells]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "  ".join(
            cell.ljust(w) if i < n_text else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return lines


def _metric_rows(metrics: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    rows: list[tuple[str, Mapping[str, Any]]] = [("all", metrics)]
    return rows + sorted(metrics.get("by_sentence_type", {}).items())


def _cells(m: Mapping[str, Any]) -> list[str]:
    return [str(m["n"]), *(_fmt(m[c]) for c in _TABLE_COLUMNS[1:])]


def format_table(report: EvaluationReport | MultiProtocolReport) -> str:
    """A plain-text table of ``report``: one row for all samples and one per sentence type;
    for a :class:`MultiProtocolReport`, those rows under each protocol.

    Metrics are shown in percent with two decimals (``-`` where no sample was averaged);
    ``n`` is the number of samples averaged over. For VidSTG the rows per sentence type are
    what TubeDETR and CG-STVG report; the ``all`` row over both types is stvg's own. A footer gives the protocol and the counts
    of missing and unknown predictions, of predicted boxes outside their span, and of GT
    boxes outside the frame.
    """
    if isinstance(report, MultiProtocolReport):
        cells = [
            [name, subset, *_cells(m)]
            for name, r in report.reports.items()
            for subset, m in _metric_rows(r.metrics)
        ]
        lines = _render(["protocol", "subset", *_TABLE_COLUMNS], cells, 2)
    else:
        cells = [[subset, *_cells(m)] for subset, m in _metric_rows(report.metrics)]
        lines = _render(["subset", *_TABLE_COLUMNS], cells, 1)
    lines.append(
        f"protocol={report.protocol}  (metrics in %)  missing={len(report.missing)}  "
        f"unknown={len(report.unknown)}  boxes_outside_span={report.n_boxes_outside_span}  "
        f"gt_boxes_outside_frame={report.n_gt_boxes_outside_frame}"
    )
    return "\n".join(lines)


__all__ = [
    "ALL_PROTOCOLS",
    "EvaluationReport",
    "MultiProtocolReport",
    "evaluate",
    "evaluate_protocols",
    "format_table",
]
