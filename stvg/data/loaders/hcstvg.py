"""HC-STVG v1 and v2 loaders (``hcstvg``, ``hcstvg2``).

Annotation file: a JSON object keyed by video file name (the sample id); each entry has

=============  ========================================================================
``bbox``       list of ``[x, y, w, h]`` pixel boxes, one per frame from ``st_frame`` on
``st_frame``   1-based index of the frame of the first box
``img_num``    number of frames of the video
``st_time``,   event start / end in seconds (optional; kept in ``meta`` when present)
``ed_time``
``caption``    the query (v1)            | ``English`` the query (v2)
``width``,     frame size (v1)           | ``img_size`` ``[height, width]`` (v2)
``height``
``fps``        optional extension: native frame rate; without it fps = ``img_num / 20``
               (HC-STVG clips are 20 s long). The synthetic benchmark writes it.
=============  ========================================================================

Conversion: boxes become ``[x, y, x + w, y + h]``; the ground-truth span is the inclusive
0-based ``[st_frame - 1, st_frame - 1 + len(bbox) - 1]`` and box ``i`` belongs to frame
``st_frame - 1 + i``. A box with negative width or height is a :class:`DataError` (the
annotation is wrong, not merely imprecise); a box of zero width or height is kept
(degenerate, area 0). Boxes reaching outside the frame are kept as annotated and counted
(``box_outside_frame``); spans reaching outside the video are clipped and counted (see
:mod:`stvg.data.loaders.common`).

Files: ``annotations=<file>``, or under ``root`` the first of ``<split>.json`` and
``<split>v2.json`` (v2 ships ``trainv2.json`` / ``valv2.json``). Default split: ``test``
for v1, ``val`` for v2. Videos: ``<video_dir>/<key>``.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, Literal

from stvg.data.datasets import GroundingDataset, register_dataset
from stvg.data.errors import DataError
from stvg.data.loaders.common import (
    BOX_OUTSIDE_FRAME,
    SPAN_CLIPPED,
    FieldReader,
    RepairLog,
    box_outside_frame,
    check_unique_keys,
    clip_span,
    default_video_dir,
    read_json,
    resolve_annotation_file,
)
from stvg.data.types import Sample
from stvg.limits import MAX_VIDEO_SIDE, box_problem, short_repr

HCSTVG_CLIP_SECONDS = 20.0  # seconds; every HC-STVG clip is 20 s, so fps = img_num / 20
PATTERNS: tuple[str, ...] = ("{split}.json", "{split}v2.json")

HcstvgVersion = Literal[1, 2]


def parse_hcstvg_entry(
    key: str,
    entry: Any,
    *,
    version: HcstvgVersion,
    path: Path,
    video_dir: Path,
    meta: dict[str, Any],
    repairs: RepairLog,
) -> Sample:
    """Convert one HC-STVG entry to a :class:`Sample` (see the module docstring).

    Args:
        key: the entry's key (video file name), used as sample id and video file name.
        entry: the entry's JSON object.
        version: 1 (``caption``, ``width``/``height``) or 2 (``English``, ``img_size``).
        path: the annotation file, for error messages.
        video_dir: folder of the videos.
        meta: extra ``meta`` fields (``dataset``, ``split``); ``st_time``, ``ed_time`` and
            the sample's ``repairs`` are added.
        repairs: the dataset's repair counter, updated.
    """
    fields = FieldReader(entry, path=path, sample_id=key)
    if version == 1:
        query = fields.text("caption")
        width = fields.frame_side("width")
        height = fields.frame_side("height")
    else:
        query = fields.text("English")
        size = fields.array("img_size")
        if len(size) != 2:
            raise fields.error(f"expected [height, width], got {short_repr(size)}", "img_size")
        height = _positive_int(fields, size[0], "img_size[0]")
        width = _positive_int(fields, size[1], "img_size[1]")
    num_frames = fields.frame_count("img_num")
    st_frame = fields.integer("st_frame")
    if fields.has("fps"):
        native_fps = fields.native_fps("fps")
    else:
        native_fps = num_frames / HCSTVG_CLIP_SECONDS
    raw_boxes = fields.array("bbox")
    if not raw_boxes:
        raise fields.error("no boxes: the ground-truth tube is empty", "bbox")

    sample_repairs: Counter[str] = Counter()
    first = st_frame - 1
    last = first + len(raw_boxes) - 1
    span_first, span_last, span_clipped = clip_span(first, last, num_frames, fields, "st_frame")
    if span_clipped:
        sample_repairs[SPAN_CLIPPED] += 1
    gt_boxes: dict[int, list[float]] = {}
    for i, raw in enumerate(raw_boxes):
        frame = first + i
        box = _xywh_to_xyxy(fields, raw, f"bbox[{i}]")
        if frame < span_first or frame > span_last:
            continue
        if box_outside_frame(box, width, height):  # kept as annotated, counted
            sample_repairs[BOX_OUTSIDE_FRAME] += 1
        gt_boxes[frame] = box

    sample_meta = dict(meta)
    for time_key in ("st_time", "ed_time"):
        if fields.has(time_key):
            sample_meta[time_key] = fields.number(time_key)
    sample_meta["repairs"] = repairs.record(sample_repairs)
    return Sample(
        sample_id=key,
        video_path=str(video_dir / key),
        query=query,
        native_fps=native_fps,
        num_frames=num_frames,
        width=width,
        height=height,
        gt_span=(span_first, span_last),
        gt_boxes=gt_boxes,
        meta=sample_meta,
    )


def load_hcstvg_file(
    name: str,
    *,
    version: HcstvgVersion,
    annotation_file: Path,
    split: str,
    video_dir: Path,
    extra_meta: dict[str, dict[str, Any]] | None = None,
) -> GroundingDataset:
    """Load every entry of an HC-STVG annotation file (keys in file order).

    Args:
        name: dataset name stored in the dataset and in each sample's ``meta["dataset"]``.
        version: entry layout, 1 or 2.
        annotation_file: the JSON file.
        split: split name stored in the dataset and ``meta["split"]``.
        video_dir: folder of the videos.
        extra_meta: optional ``{sample_id: {key: value}}`` merged into ``meta``.
    """
    data = read_json(annotation_file)
    if not isinstance(data, dict):
        raise DataError(
            f"expected a JSON object keyed by video file name, got {type(data).__name__}",
            path=str(annotation_file),
            hint=f"pass an HC-STVG v{version} annotation file",
        )
    check_unique_keys(data, annotation_file)
    repairs = RepairLog()
    samples = []
    for key, entry in data.items():
        meta: dict[str, Any] = {"dataset": name, "split": split}
        if extra_meta is not None and key in extra_meta:
            meta.update(extra_meta[key])
        samples.append(
            parse_hcstvg_entry(
                key,
                entry,
                version=version,
                path=annotation_file,
                video_dir=video_dir,
                meta=meta,
                repairs=repairs,
            )
        )
    return GroundingDataset(name, split, annotation_file, samples, repairs.as_dict())


@register_dataset("hcstvg")
def load_hcstvg(
    *,
    split: str | None,
    root: Path | None,
    annotations: Path | None,
    video_dir: Path | None,
    vidor_root: Path | None,
) -> GroundingDataset:
    """HC-STVG v1 (``caption``, ``width``, ``height``); default split ``test``."""
    return _load(1, "hcstvg", "test", split, root, annotations, video_dir, vidor_root)


@register_dataset("hcstvg2")
def load_hcstvg2(
    *,
    split: str | None,
    root: Path | None,
    annotations: Path | None,
    video_dir: Path | None,
    vidor_root: Path | None,
) -> GroundingDataset:
    """HC-STVG v2 (``English``, ``img_size = [h, w]``); default split ``val``."""
    return _load(2, "hcstvg2", "val", split, root, annotations, video_dir, vidor_root)


def _load(
    version: HcstvgVersion,
    name: str,
    default_split: str,
    split: str | None,
    root: Path | None,
    annotations: Path | None,
    video_dir: Path | None,
    vidor_root: Path | None,
) -> GroundingDataset:
    reject_vidor_root(name, vidor_root)
    annotation_file, split = resolve_annotation_file(
        name,
        split=split,
        root=root,
        annotations=annotations,
        patterns=PATTERNS,
        default_split=default_split,
    )
    return load_hcstvg_file(
        name,
        version=version,
        annotation_file=annotation_file,
        split=split,
        video_dir=default_video_dir(root, annotation_file, video_dir),
    )


def reject_vidor_root(name: str, vidor_root: Path | None) -> None:
    """``vidor_root`` only makes sense for VidSTG: refuse it elsewhere (a
    :class:`DataError`, reported in one line by every command)."""
    if vidor_root is not None:
        raise DataError(
            f"vidor_root applies to the vidstg dataset only, not {name!r}",
            hint="drop --vidor-root (vidor_root) for this dataset",
        )


def _positive_int(fields: FieldReader, value: Any, key: str) -> int:
    number = fields.as_number(value, key, positive=True)
    if number != int(number):
        raise fields.error(f"expected an integer, got {short_repr(value)}", key)
    if number > MAX_VIDEO_SIDE:
        raise fields.error(f"expected at most {MAX_VIDEO_SIDE:,} pixels, got {number:g}", key)
    return int(number)


def _xywh_to_xyxy(fields: FieldReader, raw: Any, key: str) -> list[float]:
    if not isinstance(raw, list) or len(raw) != 4:
        raise fields.error(f"expected a box [x, y, w, h], got {short_repr(raw)}", key)
    x, y, w, h = (fields.as_number(v, key) for v in raw)
    if w < 0 or h < 0:
        raise fields.error(
            f"box [x, y, w, h] = {short_repr(raw)} has negative width or height (x2 < x1 or y2 < y1)",
            key,
            hint="HC-STVG boxes are [x, y, w, h] with w, h >= 0; fix the box or drop the entry",
        )
    box = [x, y, x + w, y + h]
    problem = box_problem(box)
    if problem is not None:
        raise fields.error(
            f"box [x, y, w, h] = {short_repr(raw)}: {problem}",
            key,
            hint="write boxes in pixels of the video; fix the box or drop the entry",
        )
    return box
