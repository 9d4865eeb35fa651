"""Dataset statistics for ``stvg data inspect``: counts, durations, spans, boxes, repairs.

:func:`inspect_dataset` returns plain numbers (JSON friendly); :func:`format_report` prints
them. Every ``{"min", "mean", "max"}`` block is :func:`describe` of the values named.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from stvg.data.datasets import GroundingDataset, load_dataset


def describe(values: Iterable[float]) -> dict[str, float] | None:
    """``{"min", "mean", "max"}`` of ``values`` as floats, or ``None`` when there are none."""
    array = np.asarray(list(values), dtype=np.float64)
    if array.size == 0:
        return None
    return {"min": float(array.min()), "mean": float(array.mean()), "max": float(array.max())}


def inspect_dataset(dataset: GroundingDataset) -> dict[str, Any]:
    """Statistics of one loaded split.

    Returns a dict with:

    * ``name``, ``split``, ``source``, ``num_samples``, ``num_videos`` (distinct video
      paths), ``repairs`` (from :meth:`GroundingDataset.summary`);
    * ``sentence_types``: samples per ``meta["sentence_type"]`` (empty if not recorded);
    * ``video_duration_s`` and ``video_num_frames``: over distinct videos;
    * ``span_frames`` (inclusive length ``last - first + 1``), ``span_s`` (that length
      divided by the native fps) and ``span_share_of_video`` (span frames / video frames):
      over samples;
    * ``boxes``: ``num_boxes``, ``samples_without_boxes``, ``width_px``, ``height_px``,
      ``area_share_of_frame`` (box area / frame area, over boxes) and ``span_coverage``
      (per sample: share of span frames that carry a box).
    """
    videos: dict[str, tuple[int, float]] = {}
    span_frames, span_s, span_share = [], [], []
    widths, heights, area_share, coverage = [], [], [], []
    sentence_types: Counter[str] = Counter()
    num_boxes = 0
    samples_without_boxes = 0
    for sample in dataset:
        videos[sample.video_path] = (sample.num_frames, sample.native_fps)
        first, last = sample.gt_span
        length = last - first + 1
        span_frames.append(length)
        span_s.append(length / sample.native_fps)
        span_share.append(length / sample.num_frames)
        if "sentence_type" in sample.meta:
            sentence_types[str(sample.meta["sentence_type"])] += 1
        in_span = [f for f in sample.gt_boxes if first <= f <= last]
        coverage.append(len(in_span) / length)
        if not sample.gt_boxes:
            samples_without_boxes += 1
        frame_area = float(sample.width * sample.height)
        for x1, y1, x2, y2 in sample.gt_boxes.values():
            num_boxes += 1
            widths.append(x2 - x1)
            heights.append(y2 - y1)
            area_share.append((x2 - x1) * (y2 - y1) / frame_area)
    stats = dataset.summary()
    stats.update(
        {
            "sentence_types": dict(sorted(sentence_types.items())),
            "video_duration_s": describe(n / fps for n, fps in videos.values()),
            "video_num_frames": describe(n for n, _ in videos.values()),
            "span_frames": describe(span_frames),
            "span_s": describe(span_s),
            "span_share_of_video": describe(span_share),
            "boxes": {
                "num_boxes": num_boxes,
                "samples_without_boxes": samples_without_boxes,
                "width_px": describe(widths),
                "height_px": describe(heights),
                "area_share_of_frame": describe(area_share),
                "span_coverage": describe(coverage),
            },
        }
    )
    return stats


def inspect_path(
    path: str | Path,
    dataset_format: str,
    *,
    split: str | None = None,
    vidor_root: str | Path | None = None,
) -> dict[str, Any]:
    """Load ``path`` (an annotation file, or a dataset root with ``split``) and inspect it.

    Args:
        path: annotation file or dataset folder.
        dataset_format: registered dataset name (``hcstvg``, ``hcstvg2``, ``vidstg``, ...).
        split: split to read under a dataset folder (ignored for a file unless given).
        vidor_root: VidSTG only: VidOR annotation folder, for the boxes.
    """
    path = Path(path)
    if path.is_dir():
        dataset = load_dataset(dataset_format, split=split, root=path, vidor_root=vidor_root)
    else:
        dataset = load_dataset(dataset_format, split=split, annotations=path, vidor_root=vidor_root)
    return inspect_dataset(dataset)


def format_report(stats: dict[str, Any]) -> str:
    """A human-readable multi-line report of :func:`inspect_dataset` output."""
    lines = [
        f"dataset      {stats['name']}  split {stats['split']}",
        f"source       {stats['source']}",
        f"samples      {stats['num_samples']}   videos {stats['num_videos']}",
    ]
    if stats["sentence_types"]:
        kinds = ", ".join(f"{k} {v}" for k, v in stats["sentence_types"].items())
        lines.append(f"sentences    {kinds}")
    rows = [
        ("video duration (s)", stats["video_duration_s"]),
        ("video frames", stats["video_num_frames"]),
        ("span (frames)", stats["span_frames"]),
        ("span (s)", stats["span_s"]),
        ("span / video", stats["span_share_of_video"]),
        ("box width (px)", stats["boxes"]["width_px"]),
        ("box height (px)", stats["boxes"]["height_px"]),
        ("box area / frame", stats["boxes"]["area_share_of_frame"]),
        ("boxes / span frames", stats["boxes"]["span_coverage"]),
    ]
    lines.append(f"{'':22}{'min':>12}{'mean':>12}{'max':>12}")
    for label, block in rows:
        if block is None:
            lines.append(f"{label:22}{'-':>12}{'-':>12}{'-':>12}")
        else:
            lines.append(
                f"{label:22}{block['min']:>12.4g}{block['mean']:>12.4g}{block['max']:>12.4g}"
            )
    boxes = stats["boxes"]
    lines.append(
        f"boxes        {boxes['num_boxes']}   samples without boxes "
        f"{boxes['samples_without_boxes']}"
    )
    repairs = stats["repairs"]
    repaired = ", ".join(f"{k} {v}" for k, v in repairs.items()) if repairs else "none"
    lines.append(f"repairs      {repaired}")
    return "\n".join(lines)
