"""The per-sample part of the run report: IoU histograms and a gallery of contact sheets.

It reads the evaluation folders that :mod:`stvg.evaluation` wrote for the
test split (``per_sample.jsonl``: one ``{"sample_id", "t_iou", "v_iou", ...}`` per line;
``predictions.json``: the densified predictions) before RL (``eval_sft``) and after RL
(``eval_rl``), and writes into the run folder:

* ``iou_histograms.png``: the tIoU and the vIoU of every test sample in 10 bins of width
  0.1 (``[0, 0.1)``, ..., ``[0.9, 1.0]``), after RL filled and before RL as an outline;
* ``gallery/best_<rank>_<id>.png`` and ``gallery/worst_<rank>_<id>.png``: contact sheets
  (:func:`stvg.render.sample_sheet`, one frame per second) of the 3 test samples with the
  highest and the lowest vIoU after RL (ties: higher tIoU first, then sample id); a sheet
  whose answer could not be used says why in its header, and for a text policy the tables
  quote each answer's raw text and parse error.

Without the after-RL folder the section is left out; without the before-RL folder the
histograms show after RL only; when the dataset or its videos cannot be read the gallery
is replaced by a line saying why.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from stvg.data.errors import DataError
from stvg.evaluation.answers import quote

HISTOGRAM_FILE = "iou_histograms.png"
GALLERY_DIR = "gallery"
GALLERY_SIZE = 3  # samples in each of the best and worst lists
HISTOGRAM_BINS = 10  # bins of width 0.1 over [0, 1]
PER_SAMPLE_FILE = "per_sample.jsonl"
PREDICTIONS_FILE = "predictions.json"
TEST_SPLIT = "test"
GALLERY_FPS = 1.0  # frames per second shown in a gallery sheet
GALLERY_MAX_FRAMES = 12  # tiles per gallery sheet at most
GALLERY_TILE_WIDTH = 160  # pixels


def eval_dirs(run_dir: str | Path, summary: Mapping[str, Any]) -> tuple[Path, Path]:
    """The ``(before RL, after RL)`` evaluation folders: ``summary["eval_dirs"]["sft"]``
    and ``["rl"]`` when given, else ``run_dir/eval_sft`` and ``run_dir/eval_rl``."""
    given = summary.get("eval_dirs") or {}
    run_dir = Path(run_dir)
    return (
        Path(given.get("sft") or run_dir / "eval_sft"),
        Path(given.get("rl") or run_dir / "eval_rl"),
    )


def read_per_sample(folder: str | Path) -> list[dict[str, Any]] | None:
    """The records of ``folder/per_sample.jsonl``, or ``None`` when the file is absent.

    Raises:
        DataError: a line is not JSON or lacks ``sample_id``, ``t_iou`` or ``v_iou``
            (the message names the file and the line).
    """
    path = Path(folder) / PER_SAMPLE_FILE
    if not path.is_file():
        return None
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(
                f"line {number} is not JSON: {exc.msg}",
                path=str(path),
                hint="rerun the evaluation that wrote it",
            ) from exc
        missing = [k for k in ("sample_id", "t_iou", "v_iou") if k not in record]
        if missing:
            raise DataError(
                f"line {number} lacks {missing}",
                path=str(path),
                hint="per-sample records come from stvg.evaluation",
            )
        records.append(record)
    return records


def histogram_counts(values: Sequence[float], bins: int = HISTOGRAM_BINS) -> np.ndarray:
    """Counts of ``values`` in ``bins`` equal bins over ``[0, 1]`` (the last bin includes 1).

    >>> histogram_counts([0.0, 0.05, 0.1, 0.95, 1.0], bins=10).tolist()
    [2, 1, 0, 0, 0, 0, 0, 0, 0, 2]
    """
    counts, _ = np.histogram(np.asarray(values, dtype=np.float64), np.linspace(0.0, 1.0, bins + 1))
    return counts


def plot_iou_histograms(
    after: Sequence[Mapping[str, Any]],
    before: Sequence[Mapping[str, Any]] | None,
    path: str | Path,
) -> Path:
    """Plot the tIoU and vIoU histograms of the per-sample records ``after`` RL (filled)
    and ``before`` RL (outline; ``None`` = not drawn) into the PNG ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    edges = np.linspace(0.0, 1.0, HISTOGRAM_BINS + 1)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for ax, key, name in ((axes[0], "t_iou", "tIoU"), (axes[1], "v_iou", "vIoU")):
        values = [float(r[key]) for r in after]
        ax.stairs(
            histogram_counts(values),
            edges,
            fill=True,
            color="tab:orange",
            alpha=0.6,
            label=f"after RL (mean {np.mean(values):.3f})",
        )
        if before is not None:
            old = [float(r[key]) for r in before]
            ax.stairs(
                histogram_counts(old),
                edges,
                color="black",
                linewidth=1.5,
                label=f"before RL (mean {np.mean(old):.3f})",
            )
        ax.set_title(f"{name} per test sample ({len(values)} samples)")
        ax.set_xlabel(name)
        ax.set_ylabel("samples")
        ax.set_xlim(0.0, 1.0)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def rank_by_v_iou(
    records: Sequence[Mapping[str, Any]], k: int = GALLERY_SIZE
) -> tuple[list[Mapping[str, Any]], list[Mapping[str, Any]]]:
    """The ``k`` records with the highest and the ``k`` with the lowest ``v_iou``
    (ties: higher ``t_iou`` ranks better, then the sample id in alphabetical order)."""
    best = sorted(records, key=lambda r: (-float(r["v_iou"]), -float(r["t_iou"]), r["sample_id"]))
    worst = sorted(records, key=lambda r: (float(r["v_iou"]), float(r["t_iou"]), r["sample_id"]))
    return best[:k], worst[:k]


def sheet_name(kind: str, rank: int, sample_id: str) -> str:
    """File name of a gallery sheet, the id made safe for a file name.

    >>> sheet_name("best", 1, "vid/3/q0")
    'best_1_vid_3_q0.png'
    """
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", sample_id).strip("_") or "sample"
    return f"{kind}_{rank}_{stem}.png"


def _write_gallery(
    ranked: Mapping[str, Sequence[Mapping[str, Any]]],
    rl_dir: Path,
    data_root: str | None,
    out_dir: Path,
) -> dict[tuple[str, int], str]:
    """Render the sheets of ``ranked`` (``{"best": records, "worst": records}``); returns
    ``{(kind, rank): path relative to the run folder}``.

    Raises:
        DataError: the dataset, a sample, the predictions or a video cannot be read.
    """
    from stvg.data import load_dataset
    from stvg.render.sample import sample_sheet, write_image
    from stvg.render.sheet import SheetLayout
    from stvg.verifiers.predictions import read_predictions

    if not data_root:
        raise DataError("the run summary names no data_root", hint="rerun stvg run")
    dataset = load_dataset("synthetic", root=data_root, split=TEST_SPLIT)
    predictions = read_predictions(rl_dir / PREDICTIONS_FILE)
    layout = SheetLayout(tile_width=GALLERY_TILE_WIDTH)
    written: dict[tuple[str, int], str] = {}
    (out_dir / GALLERY_DIR).mkdir(parents=True, exist_ok=True)
    for kind, records in ranked.items():
        for rank, record in enumerate(records, start=1):
            sample_id = str(record["sample_id"])
            if sample_id not in dataset.ids:
                raise DataError(
                    "sample of the evaluation is not in the test split",
                    path=dataset.source,
                    sample_id=sample_id,
                    hint="the evaluation and the data root must be of the same run",
                )
            error = record.get("parse_error")
            image = sample_sheet(
                dataset.get(sample_id),
                predictions.get(sample_id),
                fps=GALLERY_FPS,
                max_frames=GALLERY_MAX_FRAMES,
                layout=layout,
                note=None if not error else f"unusable answer: {error}",
            )
            relative = f"{GALLERY_DIR}/{sheet_name(kind, rank, sample_id)}"
            write_image(out_dir / relative, image)
            written[(kind, rank)] = relative
    return written


def samples_section(run_dir: str | Path, summary: Mapping[str, Any]) -> list[str]:
    """Write the histograms and the gallery into ``run_dir`` and return the report's
    ``## Test samples`` section as Markdown lines (empty without the after-RL folder)."""
    run_dir = Path(run_dir)
    sft_dir, rl_dir = eval_dirs(run_dir, summary)
    after = read_per_sample(rl_dir)
    if not after:
        return []
    before = read_per_sample(sft_dir)
    plot_iou_histograms(after, before, run_dir / HISTOGRAM_FILE)
    compared = "after RL (filled) and before RL (outline)" if before else "after RL"
    lines = [
        "## Test samples",
        "",
        f"![tIoU and vIoU histograms of the test samples]({HISTOGRAM_FILE})",
        "",
        f"tIoU and vIoU of each of the {len(after)} test samples {compared}, in bins of "
        f"width {1 / HISTOGRAM_BINS:g}.",
        "",
    ]
    best, worst = rank_by_v_iou(after)
    ranked = {"best": best, "worst": worst}
    try:
        sheets = _write_gallery(ranked, rl_dir, summary.get("data_root"), run_dir)
    except DataError as exc:
        return [*lines, f"Gallery skipped: {exc}", ""]
    titles = {"best": "Best", "worst": "Worst"}
    texts = any("answer_text" in r for r in after)  # a text policy: show what it wrote
    for kind, records in ranked.items():
        lines += [
            f"### {titles[kind]} {len(records)} by vIoU after RL",
            "",
            "| rank | sample | tIoU | vIoU | contact sheet |"
            + (" answer (raw text) | parse error |" if texts else ""),
            "|---:|---|---:|---:|---|" + ("---|---|" if texts else ""),
        ]
        for rank, record in enumerate(records, start=1):
            sheet = sheets[(kind, rank)]
            row = (
                f"| {rank} | `{record['sample_id']}` | {float(record['t_iou']):.3f} | "
                f"{float(record['v_iou']):.3f} | [{Path(sheet).name}]({sheet}) |"
            )
            if texts:
                row += (
                    f" {_cell(quote(record.get('answer_text')))} |"
                    f" {_cell(record.get('parse_error') or '')} |"
                )
            lines.append(row)
        lines.append("")
        for rank, record in enumerate(records, start=1):
            lines += [f"![{kind} {rank}: {record['sample_id']}]({sheets[(kind, rank)]})", ""]
    return lines


def _cell(text: str) -> str:
    """``text`` safe inside a Markdown table cell (pipes and backticks escaped)."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("`", "\\`")


__all__ = [
    "GALLERY_DIR",
    "HISTOGRAM_FILE",
    "eval_dirs",
    "histogram_counts",
    "plot_iou_histograms",
    "rank_by_v_iou",
    "read_per_sample",
    "samples_section",
    "sheet_name",
]
