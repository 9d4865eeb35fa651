"""The report of a hyper-parameter sweep: ``results.csv``, ``report.md`` and PNG plots.

A sweep (``stvg sweep CONFIG``) runs one trial per grid combination: a *cell* (a setting of
the swept axes, e.g. ``env.fps=0.5``) times a *seed*. Each trial gives one row (a dict):

====================================  ============================================================
key                                   value
====================================  ============================================================
``trial``                             trial id (str)
``cell``                              cell label (``env.fps=0.5``, ``algorithm=dapo``; ``base``
                                      when nothing is swept)
``seed``                              the trial's seed (int)
``status``                            ``ok`` or ``error`` (anything but ``ok`` counts as errored)
``error``                             the error message (empty when ok)
``axis/<name>``                       the value (or variant label) of swept axis ``<name>``
``sft/<metric>``                      test metric of the SFT policy, a fraction in [0, 1]
                                      (``m_tIoU``, ``m_vIoU``, ``vIoU@0.3``, ``vIoU@0.5``)
``rl/<metric>``                       the same after RL (missing when the trial had no RL stage)
``final/<metric>``                    the same for the policy the trial ends with
``cost/frames_shown``                 frames shown per test query
``cost/visual_tokens/<vlm>``          visual tokens per test query (``qwen2.5-vl``, ``qwen3-vl``)
``cost/seconds_per_query``            policy seconds per test query
``cost/densify_seconds_per_query``    seconds per test query the densify method ``track`` spent
                                      reading frames and tracking (absent for interpolation)
``wall_s``                            the trial's wall time (s)
``started_at``                        when the trial started and finished (Unix time, s): the
``finished_at``                       trials' overlap shows how many ran at once
``run_dir``                           the trial's run folder (str)
``rl_metrics``                        path of the RL ``metrics.jsonl`` (or empty)
====================================  ============================================================

Values may be missing (absent, ``None`` or ``""``) for errored trials. Errored trials are
listed in the report and left out of every statistic. Intervals come from
:mod:`stvg.stats` only: a Student-t interval of the mean across seeds
(:func:`~stvg.stats.mean_ci`) and a paired bootstrap interval of the
difference to the baseline cell (:func:`~stvg.stats.paired_difference`). Metrics are
fractions: their intervals are cut at 0 and 1 (shown ``mean [lo, hi]``, with a note), and
two cells whose paired values are equal are reported ``identical``.
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from stvg.config import ConfigError, InvalidField
from stvg.experiments.report import moving_average
from stvg.stats import Interval, mean_ci, paired_difference

REPORT_FILE = "report.md"
RESULTS_FILE = "results.csv"
PLOT_KINDS = ("tradeoff", "curves", "bars")
CONFIDENCE = 0.95  # two-sided coverage of every interval in the report
#: The range of every reported metric (``final/<metric>``: a fraction); intervals are cut at it.
METRIC_BOUNDS = (0.0, 1.0)
CLIPPED_NOTE = (
    "An interval that would pass below 0 % or above 100 % is cut at the bound (the mean "
    "lies in the range, so the cut interval covers it whenever the t interval does) and "
    "shown as `mean [lo, hi]`."
)
LEADING_COLUMNS = ("trial", "cell", "seed", "status")
KNOWN_COSTS = (
    "cost/frames_shown",
    "cost/visual_tokens/qwen2.5-vl",
    "cost/visual_tokens/qwen3-vl",
    "cost/seconds_per_query",
    "cost/densify_seconds_per_query",
)
MAX_ERROR_CHARS = 300  # an error message is cut to this length in the report


@dataclass
class SweepReportConfig:
    """What the sweep report shows (the ``report:`` section of a sweep config).

    Attributes:
        baseline: the cell label the paired differences are against; ``null`` = the first
            cell in row order. A label that is not a cell is an error at report time.
        metrics: metric names (``m_vIoU``, ``m_tIoU``, ``vIoU@0.3``, ``vIoU@0.5``); the row
            key is ``final/<metric>``, a fraction shown in percent.
        plots: the figures to draw:

            * ``tradeoff`` — per metric, the metric against each cost axis (log x), one
              point per cell: is the gain worth its cost?
            * ``curves`` — the RL learning curve (``curve_metric`` per iteration) per cell.
            * ``bars`` — per metric, one bar per cell, the baseline highlighted.
        curve_metric: the key of each trial's RL ``metrics.jsonl`` plotted by ``curves``
            (e.g. ``charts/episodic_return``, ``rewards/sampled/total``).
        curve_change: plot each seed's curve minus its own first (smoothed) value, so the
            band shows how much RL moved the metric rather than how far apart the seeds'
            starting points are.
        cost_axes: row keys of the costs on the x axes of ``tradeoff`` (per test query).
    """

    baseline: str | None = None
    metrics: list[str] = field(default_factory=lambda: ["m_vIoU", "m_tIoU"])
    plots: list[Literal["tradeoff", "curves", "bars"]] = field(default_factory=lambda: ["bars"])
    curve_metric: str = "charts/episodic_return"
    curve_change: bool = False
    cost_axes: list[str] = field(
        default_factory=lambda: ["cost/visual_tokens/qwen2.5-vl", "cost/seconds_per_query"]
    )

    def __post_init__(self) -> None:
        if self.baseline is not None and not self.baseline:
            raise InvalidField("baseline", "must be a cell label or null (the first cell)")
        if not self.metrics:
            raise InvalidField("metrics", "must name at least one metric, e.g. [m_vIoU]")
        _check_names("metrics", self.metrics)
        for i, metric in enumerate(self.metrics):
            if "/" in metric and metric.split("/", 1)[0] in ("sft", "rl", "final"):
                raise InvalidField(
                    f"metrics[{i}]",
                    f"give the metric without its stage prefix ({metric.split('/', 1)[1]!r}, "
                    f"not {metric!r}): the report reads final/<metric>",
                )
        _check_names("plots", self.plots)
        for i, kind in enumerate(self.plots):
            if kind not in PLOT_KINDS:
                raise InvalidField(f"plots[{i}]", f"must be one of {PLOT_KINDS}, got {kind!r}")
        if not self.curve_metric:
            raise InvalidField("curve_metric", "must be a metrics.jsonl key, e.g. charts/SPS")
        _check_names("cost_axes", self.cost_axes)
        if "tradeoff" in self.plots and not self.cost_axes:
            raise InvalidField(
                "cost_axes",
                "the tradeoff plot needs at least one cost axis: add one (e.g. "
                "cost/seconds_per_query) or drop tradeoff from plots",
            )


def _check_names(name: str, values: Sequence[str]) -> None:
    """Each of ``values`` a non-empty string, none twice (else :class:`InvalidField`)."""
    seen: set[str] = set()
    for i, value in enumerate(values):
        if not isinstance(value, str) or not value:
            raise InvalidField(f"{name}[{i}]", f"must be a non-empty string, got {value!r}")
        if value in seen:
            raise InvalidField(f"{name}[{i}]", f"{value!r} is listed twice")
        seen.add(value)


# --------------------------------------------------------------------------- results.csv
def results_columns(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """The union of the rows' keys in a stable order: ``trial, cell, seed, status``, then
    the ``axis/*`` keys in first-seen order (the sweep's axis order), then the rest sorted."""
    keys: dict[str, None] = {}
    for row in rows:
        keys.update(dict.fromkeys(row))
    axes = [key for key in keys if key.startswith("axis/")]
    rest = sorted(key for key in keys if key not in LEADING_COLUMNS and key not in axes)
    return [*LEADING_COLUMNS, *axes, *rest]


def write_results_csv(path: str | Path, rows: Sequence[Mapping[str, Any]]) -> Path:
    """Write ``rows`` (one per trial, see the module docstring) to the CSV file ``path``,
    columns as :func:`results_columns`; a missing value (or ``None``) is an empty field.

    Returns:
        ``path``.
    """
    path = Path(path)
    columns = results_columns(rows)
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({key: "" if row.get(key) is None else row[key] for key in columns})
    return path


# --------------------------------------------------------------------------- rows
def _number(row: Mapping[str, Any], key: str) -> float | None:
    """``row[key]`` as a float; ``None`` when missing, ``None`` or ``""``.

    Raises:
        ValueError: a value that is not a finite number (a broken trial must not vanish
            from the statistics).
    """
    value = row.get(key)
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number):
        raise ValueError(
            f"trial {row.get('trial')!r} (cell {row.get('cell')!r}): {key} is {value!r}, "
            "not a finite number; fix the row or mark the trial as errored"
        )
    return number


def _is_ok(row: Mapping[str, Any]) -> bool:
    return row.get("status") == "ok"


def _group_cells(rows: Sequence[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    """Label -> the cell's ok rows, cells in first-seen row order (errored rows count for
    the order, so a cell whose trials all failed still appears).

    Raises:
        ValueError: a row without a cell label, an ok row without a seed, or two ok rows
            of one cell with the same seed.
    """
    cells: dict[str, list[Mapping[str, Any]]] = {}
    for i, row in enumerate(rows):
        label = row.get("cell")
        if not isinstance(label, str) or not label:
            raise ValueError(f"row {i} (trial {row.get('trial')!r}) has no 'cell' label")
        ok_rows = cells.setdefault(label, [])
        if not _is_ok(row):
            continue
        if row.get("seed") in (None, ""):
            raise ValueError(f"row {i} (trial {row.get('trial')!r}) is ok but has no 'seed'")
        seed = int(row["seed"])
        if any(int(other["seed"]) == seed for other in ok_rows):
            raise ValueError(f"cell {label!r} has two ok trials with seed {seed}")
        ok_rows.append(row)
    return cells


def _values(rows: Sequence[Mapping[str, Any]], key: str) -> list[float]:
    """The finite values of ``key`` over ``rows`` that have it."""
    return [v for v in (_number(row, key) for row in rows) if v is not None]


def _by_seed(rows: Sequence[Mapping[str, Any]], key: str) -> dict[int, float]:
    out: dict[int, float] = {}
    for row in rows:
        value = _number(row, key)
        if value is not None:
            out[int(row["seed"])] = value
    return out


# --------------------------------------------------------------------------- markdown
def _md(text: Any) -> str:
    """``text`` safe inside a markdown table cell (one line, ``|`` escaped)."""
    one_line = " ".join(str(text).split())
    if len(one_line) > MAX_ERROR_CHARS:
        one_line = one_line[: MAX_ERROR_CHARS - 1] + "…"
    return one_line.replace("|", "\\|")


def _code(label: str) -> str:
    return f"`{_md(label)}`"


def _plain(value: float | None, digits: int = 1) -> str:
    """A cost or time for the table: ``digits`` decimals from 1 up, 4 significant below."""
    if value is None or not math.isfinite(value):
        return "—"
    if value == 0 or abs(value) >= 1:
        return f"{value:.{digits}f}"
    return f"{value:.4g}"


def _cost_keys(ok_rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """The ``cost/*`` keys present in ``ok_rows``: the known ones first, the rest sorted."""
    present = {key for row in ok_rows for key in row if key.startswith("cost/")}
    return [k for k in KNOWN_COSTS if k in present] + sorted(present - set(KNOWN_COSTS))


def _change(row: Mapping[str, Any], metric: str) -> float | None:
    """``final/<metric> - sft/<metric>`` of a trial with an RL stage (else ``None``)."""
    if _number(row, f"rl/{metric}") is None:
        return None
    sft, final = _number(row, f"sft/{metric}"), _number(row, f"final/{metric}")
    return None if sft is None or final is None else final - sft


def _cell_table(
    cells: Mapping[str, Sequence[Mapping[str, Any]]], metrics: Sequence[str]
) -> list[str]:
    """The per-cell table: seeds, each metric (%), the SFT -> final change (points, when
    some trial has an RL stage), the mean costs and the mean wall time."""
    ok_rows = [row for rows in cells.values() for row in rows]
    changed = [m for m in metrics if any(_change(row, m) is not None for row in ok_rows)]
    costs = _cost_keys(ok_rows)
    header = [
        "cell",
        "seeds",
        *(f"final/{m} (%)" for m in metrics),
        *(f"{m} SFT→final (pts)" for m in changed),
        *costs,
        "wall_s",
    ]
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    for label, rows in cells.items():
        n = len(rows)
        cols = [_code(label), str(n)]
        for metric in metrics:
            cols.append(_with_n(final_ci(rows, metric), n))
        for metric in changed:
            deltas = [d for d in (_change(row, metric) for row in rows) if d is not None]
            cols.append(mean_ci(deltas, CONFIDENCE).format(signed=True) if deltas else "—")
        for key in costs:
            values = _values(rows, key)
            cols.append(_plain(mean_ci(values).mean, 4 if "seconds" in key else 1))
        cols.append(_plain(mean_ci(_values(rows, "wall_s")).mean))
        lines.append("| " + " | ".join(cols) + " |")
    return lines


def final_ci(rows: Sequence[Mapping[str, Any]], metric: str) -> Interval:
    """The mean of ``final/<metric>`` over ``rows`` with its 95% t interval, cut at the
    metric's range (:data:`METRIC_BOUNDS`)."""
    return mean_ci(_values(rows, f"final/{metric}"), CONFIDENCE, bounds=METRIC_BOUNDS)


def _any_clipped(cells: Mapping[str, Sequence[Mapping[str, Any]]], metrics: Sequence[str]) -> bool:
    return any(final_ci(rows, m).clipped for rows in cells.values() for m in metrics)


def _with_n(ci: Interval, n_cell: int) -> str:
    """``ci`` in percent, with its ``n`` when it is not the cell's seed count."""
    text = ci.format()
    if ci.n not in (n_cell, 0, 1):
        text += f" (n={ci.n})"
    return text


def _difference_table(
    cells: Mapping[str, Sequence[Mapping[str, Any]]], baseline: str, metrics: Sequence[str]
) -> list[str]:
    """Paired differences (points) of each other cell to ``baseline``, per metric."""
    lines = [
        "| cell | metric | pairs | Δ vs baseline (pts) | 95% CI (pts) | CI excludes 0 |",
        "|---|---|---:|---:|---|---|",
    ]
    for label, rows in cells.items():
        if label == baseline:
            continue
        for metric in metrics:
            key = f"final/{metric}"
            ours, base = _by_seed(rows, key), _by_seed(cells[baseline], key)
            seeds = sorted(set(ours) & set(base))
            if len(seeds) < 2:
                reason = f"n/a: {len(seeds)} seed(s) in both cells, need >= 2"
                lines.append(f"| {_code(label)} | {metric} | {len(seeds)} | n/a | {reason} | — |")
                continue
            ci = paired_difference(
                [ours[s] for s in seeds], [base[s] for s in seeds], confidence=CONFIDENCE
            )
            if ci.identical:
                lines.append(
                    f"| {_code(label)} | {metric} | {ci.n} | 0 | identical (every pair "
                    "equal) | identical |"
                )
                continue
            marker = "yes" if ci.excludes(0.0) else "no"
            mean = ci.format(signed=True).split(" ")[0]
            lines.append(
                f"| {_code(label)} | {metric} | {ci.n} | {mean} | {ci.format_bounds()} | {marker} |"
            )
    return lines


# --------------------------------------------------------------------------- plots
def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _file_name(prefix: str, name: str) -> str:
    """``prefix_name.png`` with characters outside ``[A-Za-z0-9_.-]`` replaced by ``_``."""
    return f"{prefix}_{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)}.png"


def _errors(ci: Interval, scale: float = 1.0) -> tuple[float, float]:
    """``(mean - lo, hi - mean)`` times ``scale``, the error-bar lengths of ``ci``."""
    return (ci.mean - ci.lo) * scale, (ci.hi - ci.mean) * scale


def _plot_bars(
    folder: Path,
    cells: Mapping[str, Sequence[Mapping[str, Any]]],
    metric: str,
    baseline: str,
) -> tuple[str, str]:
    """One bar per cell: mean ``final/<metric>`` (%) with its 95% t interval, cut at
    0 % and 100 % (the caption says which bars were cut)."""
    plt = _pyplot()
    labels = list(cells)
    cis = [final_ci(rows, metric) for rows in cells.values()]
    heights = [100.0 * ci.mean if ci.n else 0.0 for ci in cis]
    yerr = [[_errors(ci, 100.0)[k] if ci.n else 0.0 for ci in cis] for k in (0, 1)]
    colours = ["tab:orange" if label == baseline else "tab:blue" for label in labels]
    fig, ax = plt.subplots(figsize=(max(4.0, 1.0 + 0.9 * len(labels)), 3.8))
    bars = ax.bar(range(len(labels)), heights, yerr=yerr, capsize=4, color=colours)
    bars[labels.index(baseline)].set_hatch("//")
    bars[labels.index(baseline)].set_edgecolor("black")
    ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel(f"final/{metric} (%)")
    ax.set_title(f"{metric} per cell (hatched: baseline)", fontsize=9)
    ax.grid(axis="y", alpha=0.3)
    name = _file_name("bars", metric)
    _save(fig, folder / name)
    cut = [label for label, ci in zip(labels, cis, strict=True) if ci.clipped]
    caption = (
        f"final/{metric} (%) per cell: mean over seeds with a 95% t interval; "
        f"the baseline {_code(baseline)} is hatched orange."
        + (
            f" Bars cut at the metric's range (0-100 %): {', '.join(map(_code, cut))}."
            if cut
            else ""
        )
    )
    return name, caption


def _plot_tradeoff(
    folder: Path,
    cells: Mapping[str, Sequence[Mapping[str, Any]]],
    metric: str,
    cost_axes: Sequence[str],
) -> tuple[str, str]:
    """``final/<metric>`` (%) against each cost axis (log x), one point per cell."""
    import matplotlib.ticker

    plt = _pyplot()
    fig, axes = plt.subplots(1, len(cost_axes), figsize=(5.0 * len(cost_axes), 4.0))
    axes = [axes] if len(cost_axes) == 1 else list(axes)
    for ax, cost in zip(axes, cost_axes, strict=True):
        points = []
        for label, rows in cells.items():
            x = mean_ci(_values(rows, cost), CONFIDENCE)
            y = final_ci(rows, metric)
            if x.n and y.n and x.mean > 0:
                points.append((label, x, y))
        if not points:
            ax.text(0.5, 0.5, f"no trial has {cost} > 0", ha="center", transform=ax.transAxes)
        else:
            xs = [x.mean for _, x, _ in points]
            ys = [100.0 * y.mean for _, _, y in points]
            ax.plot(xs, ys, color="grey", linewidth=0.8, zorder=1)
            for label, x, y in points:
                xerr = [[v] for v in _errors(x)] if x.hi > x.lo else None
                ax.errorbar(
                    x.mean,
                    100.0 * y.mean,
                    yerr=[[v] for v in _errors(y, 100.0)],
                    xerr=xerr,
                    fmt="o",
                    capsize=3,
                    zorder=2,
                )
                ax.annotate(
                    label,
                    (x.mean, 100.0 * y.mean),
                    textcoords="offset points",
                    xytext=(4, 4),
                    fontsize=7,
                )
            ax.set_xscale("log", nonpositive="clip")
            # Labelled decades only: minor-tick labels of a short log axis overlap.
            ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_xlabel(f"{cost} (mean per test query, log)")
        ax.set_ylabel(f"final/{metric} (%)")
        ax.grid(alpha=0.3, which="both")
    name = _file_name("tradeoff", metric)
    _save(fig, folder / name)
    cut = sum(1 for rows in cells.values() if final_ci(rows, metric).clipped)
    caption = (
        f"final/{metric} (%) against cost per query ({', '.join(cost_axes)}), one point per "
        "cell joined in cell order: means with 95% t intervals over seeds"
        + (f" ({cut} cut at the metric's range, 0-100 %)." if cut else ".")
    )
    return name, caption


def _read_curve(path: Path, key: str) -> tuple[dict[int, float], int]:
    """``{iteration: value of key}`` from a ``metrics.jsonl`` (a folder means its
    ``metrics.jsonl``), and how many non-finite values were left out."""
    if path.is_dir():
        path = path / "metrics.jsonl"
    curve: dict[int, float] = {}
    non_finite = 0
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        record = json.loads(line)
        value = record.get(key)
        if value is None or "iteration" not in record:
            continue
        if not math.isfinite(float(value)):
            non_finite += 1
            continue
        curve[int(record["iteration"])] = float(value)
    return curve, non_finite


@dataclass
class CurveBands:
    """Learning curves per cell, aggregated over seeds (what the ``curves`` plot draws).

    Attributes:
        bands: cell label -> (iterations, one 95% t interval over the seeds per iteration).
        n_trials, n_read: trials in the cells, and those whose ``metrics.jsonl`` was read.
        n_non_finite: non-finite values left out.
        windows: the trailing-mean windows used (``max(1, iterations // 20)`` per curve).
    """

    bands: dict[str, tuple[list[int], list[Interval]]]
    n_trials: int
    n_read: int
    n_non_finite: int
    windows: set[int]


#: RL ``metrics.jsonl`` keys that are fractions (their bands are cut at 0 and 1).
FRACTION_CURVE_KEYS = frozenset(
    {"charts/parse_ok", "charts/zero_variance_groups", "charts/truncated", "charts/repaired"}
)


def _run_verifier(rows: Sequence[Mapping[str, Any]]) -> Any | None:
    """The verifier of the cell's RL runs, from the first run folder's ``config.yaml``
    (every trial of a cell shares its reward); ``None`` when none can be read."""
    import yaml

    from stvg.verifiers.verifier import Verifier

    for row in rows:
        source = row.get("rl_metrics")
        if not source:
            continue
        config_file = Path(source).parent / "config.yaml"
        try:
            config = yaml.safe_load(config_file.read_text(encoding="utf-8"))
            return Verifier.from_config((config.get("env") or {}).get("verifier") or {})
        except Exception:  # noqa: BLE001 - no bounds is the safe answer for any failure
            continue
    return None


def curve_value_range(
    key: str, rows: Sequence[Mapping[str, Any]] = ()
) -> tuple[float, float] | None:
    """The values ``key`` of an RL ``metrics.jsonl`` can take, or ``None`` when unknown.

    Fractions (``charts/parse_ok``, ...) lie in [0, 1]; a reward term's mean
    (``rewards/<term>/mean``, ``rewards/sampled/<term>``, ``rewards/greedy/<term>``) in the
    term's declared ``value_range``; the reward total (``rewards/*/total``) and the return
    of one-answer episodes (``charts/episodic_return`` when every logged
    ``charts/episodic_length`` is 1) in the verifier's :meth:`total_range`, read from the
    cell's run ``config.yaml``.

    >>> curve_value_range("charts/parse_ok"), curve_value_range("rewards/t_iou/mean")
    ((0.0, 1.0), (0.0, 1.0))
    >>> curve_value_range("charts/SPS") is None
    True
    """
    from stvg.verifiers.rewards import get_term

    if key in FRACTION_CURVE_KEYS:
        return (0.0, 1.0)
    parts = key.split("/")
    term = None
    if len(parts) == 3 and parts[0] == "rewards":
        term = parts[1] if parts[2] == "mean" else parts[2]
    if term == "total" or key == "charts/episodic_return":
        if key == "charts/episodic_return" and not _one_step_episodes(rows):
            return None
        verifier = _run_verifier(rows)
        return verifier.total_range() if verifier is not None else None
    if term is not None:
        try:
            registered = get_term(term)
        except (KeyError, ValueError):
            return None
        verifier = _run_verifier(rows)
        params = verifier.term_params(term) if verifier is not None else None
        try:
            return registered.range_of(params if params is not None else registered.defaults)
        except Exception:  # noqa: BLE001 - a range that cannot be computed is unknown
            return None
    return None


def _one_step_episodes(rows: Sequence[Mapping[str, Any]]) -> bool:
    """Whether every ``charts/episodic_length`` logged by the rows' RL runs is 1."""
    seen = False
    for row in rows:
        source = row.get("rl_metrics")
        if not source or not Path(source).exists():
            continue
        lengths, _ = _read_curve(Path(source), "charts/episodic_length")
        if any(value != 1.0 for value in lengths.values()):
            return False
        seen = seen or bool(lengths)
    return seen


def curve_bands(
    cells: Mapping[str, Sequence[Mapping[str, Any]]], key: str, *, change: bool = False
) -> CurveBands:
    """Each trial's ``key`` per RL iteration, smoothed with a trailing mean over
    ``max(1, n // 20)`` iterations (minus its first smoothed value with ``change``), then
    per cell and iteration the mean and 95% t interval over the seeds that have it, cut at
    the key's range (:func:`curve_value_range`; ``[lo - hi, hi - lo]`` for changes) when
    it is known and every value lies in it."""
    bands: dict[str, tuple[list[int], list[Interval]]] = {}
    n_trials = n_read = n_non_finite = 0
    windows: set[int] = set()
    for label, rows in cells.items():
        value_range = curve_value_range(key, rows)
        if value_range is not None and change:
            width = value_range[1] - value_range[0]
            value_range = (-width, width)
        per_iteration: dict[int, list[float]] = {}
        for row in rows:
            n_trials += 1
            source = row.get("rl_metrics")
            if not source or not Path(source).exists():
                continue
            curve, non_finite = _read_curve(Path(source), key)
            n_read += 1
            n_non_finite += non_finite
            steps = sorted(curve)
            window = max(1, len(steps) // 20)
            windows.add(window)
            smoothed = moving_average([curve[i] for i in steps], window)
            if change and len(smoothed):
                smoothed = smoothed - smoothed[0]
            for iteration, value in zip(steps, smoothed, strict=True):
                per_iteration.setdefault(iteration, []).append(float(value))
        if per_iteration:
            iterations = sorted(per_iteration)
            bands[label] = (
                iterations,
                [_bounded_ci(per_iteration[i], value_range) for i in iterations],
            )
    return CurveBands(bands, n_trials, n_read, n_non_finite, windows)


def _bounded_ci(values: Sequence[float], bounds: tuple[float, float] | None) -> Interval:
    """The 95% t interval of ``values``, cut at ``bounds`` when every value lies in them
    (a value outside means the declared range is wrong: the interval stays uncut)."""
    if bounds is not None and all(bounds[0] <= v <= bounds[1] for v in values):
        return mean_ci(values, CONFIDENCE, bounds=bounds)
    return mean_ci(values, CONFIDENCE)


def _plot_curves(
    folder: Path,
    cells: Mapping[str, Sequence[Mapping[str, Any]]],
    key: str,
    *,
    change: bool = False,
) -> tuple[str, str]:
    """``key`` per RL iteration: per cell the mean over its seeds with a 95% t band."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.0, 4.0))
    aggregated = curve_bands(cells, key, change=change)
    n_trials, n_read = aggregated.n_trials, aggregated.n_read
    n_non_finite, windows = aggregated.n_non_finite, aggregated.windows
    clipped = any(ci.clipped for _, cis in aggregated.bands.values() for ci in cis)
    for label, (iterations, cis) in aggregated.bands.items():
        (line,) = ax.plot(iterations, [ci.mean for ci in cis], label=label, linewidth=1.5)
        ax.fill_between(
            iterations,
            [ci.lo for ci in cis],
            [ci.hi for ci in cis],
            color=line.get_color(),
            alpha=0.2,
            linewidth=0,
        )
    if n_read == 0:
        ax.text(0.5, 0.5, "no RL metrics.jsonl found", ha="center", transform=ax.transAxes)
    else:
        ax.legend(fontsize=7)
    ax.set_xlabel("RL iteration")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_ylabel(f"change of {key} since iteration 1" if change else key)
    ax.grid(alpha=0.3)
    name = "curves.png"
    _save(fig, folder / name)
    steps = []
    if windows - {1}:
        steps.append(f"a trailing mean over {'/'.join(map(str, sorted(windows)))} iterations")
    if change:
        steps.append("minus its first value")
    per_seed = f"each seed's curve {' '.join(steps)}, then " if steps else ""
    caption = (
        f"{key} per RL iteration ({per_seed}the mean over each cell's seeds with a 95% t "
        f"band; {n_read} of {n_trials} ok trials had RL metrics"
        + (f"; {n_non_finite} non-finite values left out" if n_non_finite else "")
        + (f"; bands cut at the range of {key}" if clipped else "")
        + ")."
    )
    return name, caption


def _save(fig: Any, path: Path) -> None:
    plt = _pyplot()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


# --------------------------------------------------------------------------- report
def resolve_baseline(labels: Sequence[str], baseline: str | None) -> str:
    """The baseline cell: ``baseline`` itself, or the first of ``labels`` when ``None``.

    Raises:
        ConfigError: ``baseline`` is not one of ``labels`` (the message lists them).
    """
    if not labels:
        raise ValueError("the sweep has no trials: nothing to report")
    if baseline is None:
        return labels[0]
    if baseline not in labels:
        raise ConfigError(
            f"report.baseline {baseline!r} is not a cell of this sweep; "
            f"cells: {', '.join(repr(label) for label in labels)}"
        )
    return baseline


def write_sweep_report(
    sweep_dir: Path,
    rows: list[dict[str, Any]],
    config: SweepReportConfig,
    *,
    title: str,
    command: str = "",
) -> Path:
    """Write ``sweep_dir/report.md`` and its PNG plots (next to it).

    The report holds the command, the trial counts, the errored trials with their errors,
    a table with one line per cell (metrics in percent as mean ± 95% t interval over
    seeds, the SFT -> final change in points, mean costs per query and wall time), the
    paired differences to the baseline cell (points, bootstrap 95% CI over the seeds both
    cells have) and the plots of ``config.plots``. Write ``results.csv``
    (:func:`write_results_csv`) first: it keeps the rows if the report fails.

    Args:
        sweep_dir: the sweep's folder (must exist).
        rows: one dict per trial (keys: the module docstring); errored trials are listed
            and left out of every statistic.
        config: what to show.
        title: the report's heading.
        command: the command line that ran the sweep (shown when given).

    Returns:
        the path of ``report.md``.

    Raises:
        ConfigError: ``config.baseline`` is not a cell label.
        ValueError: no rows, a row without a cell, an ok row without a seed, two ok rows
            of one cell with one seed, or a non-finite number in an ok row.
    """
    sweep_dir = Path(sweep_dir)
    cells = _group_cells(rows)
    baseline = resolve_baseline(list(cells), config.baseline)
    errored = [row for row in rows if not _is_ok(row)]
    n_ok = len(rows) - len(errored)
    seeds = ", ".join(f"{_code(label)} {len(r)}" for label, r in cells.items())
    text = [f"# {title}", ""]
    if command:
        text += [f"Command: `{command}`", ""]
    text += [
        "## Trials",
        "",
        f"- trials: {n_ok} ok, {len(errored)} errored ({len(rows)} in all)",
        f"- cells: {len(cells)}; seeds per cell (ok trials): {seeds}",
        f"- baseline cell: {_code(baseline)}",
        "",
    ]
    if errored:
        text += ["### Errored trials (left out of every statistic)", ""]
        text += ["| trial | cell | seed | error |", "|---|---|---:|---|"]
        text += [
            f"| {_md(r.get('trial', ''))} | {_code(r['cell'])} | {_md(r.get('seed', ''))} | "
            f"{_md(r.get('error') or '(no message)')} |"
            for r in errored
        ]
        text.append("")
    text += [
        "## Results per cell",
        "",
        "Test metrics of the policy each trial ends with, in percent: mean ± half-width "
        "of the 95% Student-t interval over the cell's seeds (`(n=1)`: one seed, no "
        "interval). SFT→final: the change in points over the trials with an RL stage. "
        "Costs are means per test query; wall_s is the mean trial wall time (s).",
        "",
        *_cell_table(cells, config.metrics),
        "",
        *([CLIPPED_NOTE, ""] if _any_clipped(cells, config.metrics) else []),
        f"## Paired differences vs {_code(baseline)}",
        "",
    ]
    if len(cells) < 2:
        text += ["Only one cell: nothing to compare.", ""]
    else:
        text += [
            "Cell minus baseline in points, paired on the seeds both cells have: the mean "
            "paired difference with a 95% bootstrap percentile interval (all n**n "
            "resamples when n**n <= 10000). *CI excludes 0*: yes when 0 lies outside the "
            "interval; *identical* when every pair of values is equal (the two cells computed "
            "the same numbers).",
            "",
            *_difference_table(cells, baseline, config.metrics),
            "",
        ]
    figures: list[tuple[str, str]] = []
    for kind in config.plots:
        if kind == "bars":
            figures += [_plot_bars(sweep_dir, cells, m, baseline) for m in config.metrics]
        elif kind == "tradeoff":
            figures += [
                _plot_tradeoff(sweep_dir, cells, m, config.cost_axes) for m in config.metrics
            ]
        elif kind == "curves":
            figures.append(
                _plot_curves(sweep_dir, cells, config.curve_metric, change=config.curve_change)
            )
    if figures:
        text += ["## Plots", ""]
        for name, caption in figures:
            text += [f"![{name}]({name})", "", caption, ""]
    path = sweep_dir / REPORT_FILE
    path.write_text("\n".join(text), encoding="utf-8")
    return path
