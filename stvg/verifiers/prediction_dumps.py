"""Prediction dumps of other codebases, converted to stvg's predictions-file entries.

One place for the conversion (:func:`convert_dump`, used by
:func:`stvg.verifiers.predictions.load_predictions`); every converted entry is then
validated like an entry of an stvg predictions file. The structures below were read from
the code of each codebase (file and commit given); frames are 0-based native frames in
both, and both write the predicted end **exclusive** (``pred_sted[1] = end + 1``), so the
stvg span is ``(sted[0], sted[1] - 1)`` inclusive.

``tubedetr`` -- TubeDETR (antoyang/TubeDETR, commit 20c00199), ``main.py --eval --test``
writes ``log_stats.json``; under ``"test_hcstvg_hcstvg"`` (or ``"test_vidstg_vidstg"``) the
evaluator's ``summarize()`` (``datasets/hcstvg_eval.py``) puts::

    "predictions":       {"<video_id>_<frame_id>": {"boxes": [[x1, y1, x2, y2]]}, ...}
    "video_predictions": {"<video_id>": {"sted": [start, end_exclusive]}, ...}

Boxes are xyxy pixels (``models/postprocessors.py: PostProcess``), ``sted`` floats with
integer values (``PostProcessSTVG`` adds 1 to the end). ``video_id`` is the index of the
sample in TubeDETR's preprocessed annotations, which number the samples in the order of
the annotation file (``preproc/preproc_hcstvgv2.py``: ``"video_id": len(videos)``), so it
maps to ``sample_ids[video_id]``. (Verified for HC-STVG; for VidSTG the same order is
assumed.) The file may also be that inner object itself.

``cgstvg`` -- CG-STVG (HengLan/CGSTVG, commit 90bed961), ``datasets/evaluation/
hcstvg_eval.py`` with ``save_pred`` writes ``test_results.json``::

    "predictions":       {"<item_id>": {"<frame_id>": [[x1, y1, x2, y2]], ...}, ...}
    "video_predictions": {"<item_id>": {"sted": [start, end_exclusive]}, ...}
    "vid2names":         {"<item_id>": "<video file name>"}

Boxes are xyxy pixels clamped at 0 (``models/post_processor.py``), linearly interpolated on
every frame between the sampled ones (``engine/evaluate.py: linear_interp``), including
frames outside the span (they are dropped and counted). ``item_id`` counts the samples in
annotation-file order (``datasets/hcstvg.py: preprocess``), so it maps to
``sample_ids[item_id]``; without ``sample_ids``, ``vid2names`` gives the HC-STVG id (the
video file name). When both are there they must agree.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from stvg.data.errors import DataError

_TUBEDETR_IMAGE_ID = re.compile(r"(.+)_([0-9]+)")


def _require(path: str, obj: Any, key: str, where: str, fmt: str) -> Any:
    if not isinstance(obj, Mapping) or key not in obj or not isinstance(obj[key], Mapping):
        raise DataError(
            f"not a {fmt} dump: no object {key!r} in {where}",
            path=path,
            hint=f"give the file that {fmt} wrote, or pick the right --pred-format",
        )
    repeated = getattr(obj[key], "repeated", ())
    if repeated:
        raise DataError(
            f"id given twice in {key!r}", path=path, sample_id=repeated[0], hint="keep one entry"
        )
    return obj[key]


def _frame(path: str, sample_id: str, value: Any, field: str) -> int:
    """An integer frame from a dump (ints, or floats with an integer value)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
        raise DataError(
            f"{field} must be an integer frame, got {value!r}",
            path=path,
            sample_id=sample_id,
            field=field,
        )
    return int(value)


def _map_id(
    path: str, dump_id: str, sample_ids: Sequence[str] | None, name: str | None = None
) -> str:
    """The stvg sample id of a dump's numeric sample index (see the module docstring)."""
    if sample_ids is None or not dump_id.isdigit():
        return name if name is not None else dump_id
    index = int(dump_id)
    if index >= len(sample_ids):
        raise DataError(
            f"dump sample index {index} is past the {len(sample_ids)} samples of the annotations",
            path=path,
            sample_id=dump_id,
            hint="score the dump against the annotation file it was made from",
        )
    sample_id = sample_ids[index]
    if name is not None and name != sample_id and not sample_id.startswith(f"{name}/"):
        raise DataError(
            f"dump sample {index} is video {name!r} but sample {index} of the annotations is "
            f"{sample_id!r}",
            path=path,
            sample_id=dump_id,
            hint="score the dump against the annotation file (and order) it was made from",
        )
    return sample_id


def _entry(path: str, sample_id: str, sted: Any, bbox: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(sted, (list, tuple)) or len(sted) != 2:
        raise DataError(
            f"sted must be [start, end_exclusive], got {sted!r}",
            path=path,
            sample_id=sample_id,
            field="sted",
        )
    first = _frame(path, sample_id, sted[0], "sted[0]")
    last = _frame(path, sample_id, sted[1], "sted[1]") - 1
    return {"st_frame": first, "ed_frame": last, "bbox": bbox}


def _single_box(path: str, sample_id: str, boxes: Any, field: str) -> Any:
    """``[[x1, y1, x2, y2]]`` (one box per frame in both dumps) -> ``[x1, y1, x2, y2]``."""
    if isinstance(boxes, list) and len(boxes) == 1 and isinstance(boxes[0], list):
        return boxes[0]
    raise DataError(
        f"expected one box [[x1, y1, x2, y2]] per frame, got {boxes!r}",
        path=path,
        sample_id=sample_id,
        field=field,
    )


def _tubedetr(path: str, top: Any, sample_ids: Sequence[str] | None) -> dict[str, Any]:
    block = top
    if isinstance(top, Mapping) and "video_predictions" not in top:
        inner = [v for k, v in top.items() if k.startswith("test_") and isinstance(v, Mapping)]
        inner = [v for v in inner if "video_predictions" in v]
        if len(inner) == 1:
            block = inner[0]
    videos = _require(path, block, "video_predictions", "the file", "TubeDETR")
    frames = _require(path, block, "predictions", "the file", "TubeDETR")
    by_video: dict[str, dict[str, Any]] = {vid: {} for vid in videos}
    for image_id, value in frames.items():
        match = _TUBEDETR_IMAGE_ID.fullmatch(image_id)
        if match is None or not isinstance(value, Mapping) or "boxes" not in value:
            raise DataError(
                f'expected "<video_id>_<frame_id>": {{"boxes": [[x1, y1, x2, y2]]}}, '
                f"got key {image_id!r}",
                path=path,
                field=f"predictions[{image_id!r}]",
            )
        vid, frame = match.groups()
        if vid in by_video:  # boxes of videos without a span are not scored
            by_video[vid][str(int(frame))] = _single_box(path, vid, value["boxes"], image_id)
    out: dict[str, Any] = {}
    for vid, video in videos.items():
        sample_id = _map_id(path, vid, sample_ids)
        sted = video.get("sted") if isinstance(video, Mapping) else None
        out[sample_id] = _entry(path, sample_id, sted, by_video[vid])
    return out


def _cgstvg(path: str, top: Any, sample_ids: Sequence[str] | None) -> dict[str, Any]:
    videos = _require(path, top, "video_predictions", "the file", "CG-STVG")
    boxes = _require(path, top, "predictions", "the file", "CG-STVG")
    names = top.get("vid2names") if isinstance(top.get("vid2names"), Mapping) else {}
    out: dict[str, Any] = {}
    for item_id, video in videos.items():
        name = names.get(item_id)
        sample_id = _map_id(path, item_id, sample_ids, name if isinstance(name, str) else None)
        per_frame = boxes.get(item_id, {})
        if not isinstance(per_frame, Mapping):
            raise DataError(
                "predictions of a sample must map frame -> [[x1, y1, x2, y2]]",
                path=path,
                sample_id=sample_id,
                field="predictions",
            )
        bbox = {
            k: _single_box(path, sample_id, v, f"predictions[{k!r}]") for k, v in per_frame.items()
        }
        sted = video.get("sted") if isinstance(video, Mapping) else None
        out[sample_id] = _entry(path, sample_id, sted, bbox)
    return out


def convert_dump(
    path: str, top: Any, pred_format: str, sample_ids: Sequence[str] | None
) -> dict[str, dict[str, Any]]:
    """Convert a parsed dump to ``{sample_id: {"st_frame", "ed_frame", "bbox"}}``.

    Args:
        path: the file (for messages).
        top: the parsed JSON.
        pred_format: ``tubedetr`` or ``cgstvg``.
        sample_ids: the dataset's ids in annotation-file order (maps the dumps' indices).

    Raises:
        DataError: the structure is not the format's, a sample id maps twice, or an index
            does not fit the annotations.
    """
    convert = {"tubedetr": _tubedetr, "cgstvg": _cgstvg}[pred_format]
    entries = convert(path, top, sample_ids)
    return entries


__all__ = ["convert_dump"]
