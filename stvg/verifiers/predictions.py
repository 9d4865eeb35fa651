"""Predictions files: read (strictly validated) and write.

A predictions file is JSON (``DESIGN.md``)::

    {"<sample_id>": {"st_frame": 12, "ed_frame": 40,
                     "bbox": {"12": [x1, y1, x2, y2], "13": [...], ...}}, ...}

* ``st_frame``/``ed_frame``: 0-based **inclusive** native frames, integers,
  ``0 <= st_frame <= ed_frame``;
* ``bbox``: frame (a decimal string of a non-negative integer) -> ``[x1, y1, x2, y2]``, four
  finite numbers in original-video pixels. Frames of the span without a box are allowed
  (they score 0 IoU); an empty ``bbox`` is allowed.
* Boxes on frames **outside** ``[st_frame, ed_frame]`` are not an error (some models emit a
  box on every sampled frame): they are dropped while reading, because the metric protocol
  ignores them, and counted in :attr:`Prediction.n_boxes_outside_span` so that the
  evaluation report can say how many there were.
* Other keys of an entry (``"score"``, ``"qtype"``, ...) are ignored.

Every malformed entry raises :class:`stvg.data.DataError` naming the file, the sample id and
the field (``bbox["17"]``), and saying how to fix it.
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from stvg.data.errors import DataError
from stvg.data.types import Tube

_FRAME_KEY = re.compile(r"[0-9]+")


@dataclass(frozen=True)
class Prediction:
    """One sample's prediction: a temporal span and boxes.

    Attributes:
        span: ``(first, last)`` 0-based inclusive native frames, ``0 <= first <= last``.
        tube: predicted boxes ``[x1, y1, x2, y2]`` in original-video pixels; frames outside
            ``span`` are ignored by the metrics.
        n_boxes_outside_span: boxes that the predictions file gave outside ``span`` and that
            were dropped while reading (0 for predictions built in code).
    """

    span: tuple[int, int]
    tube: Tube
    n_boxes_outside_span: int = 0

    def __post_init__(self) -> None:
        first, last = self.span
        if (
            isinstance(first, bool)
            or isinstance(last, bool)
            or first != int(first)
            or last != int(last)
        ):
            raise ValueError(f"Prediction.span must hold integer frames, got {self.span!r}")
        if not 0 <= int(first) <= int(last):
            raise ValueError(
                f"Prediction.span must satisfy 0 <= first <= last (inclusive frames), got {self.span!r}"
            )
        if not isinstance(self.tube, Tube):
            raise TypeError(
                f"Prediction.tube must be a stvg.data.Tube, got {type(self.tube).__name__}"
            )
        object.__setattr__(self, "span", (int(first), int(last)))

    def to_json(self) -> dict[str, Any]:
        """The predictions-file entry ``{"st_frame", "ed_frame", "bbox"}`` of this prediction."""
        return {
            "st_frame": self.span[0],
            "ed_frame": self.span[1],
            "bbox": {str(f): box for f, box in self.tube.to_dict().items()},
        }


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _parse_entry(path: str, sample_id: str, entry: Any) -> Prediction:
    def fail(message: str, field: str, hint: str) -> DataError:
        return DataError(message, path=path, sample_id=sample_id, field=field, hint=hint)

    if not isinstance(entry, Mapping):
        raise fail(
            f"a prediction must be an object, got {type(entry).__name__}",
            "<entry>",
            'write {"st_frame": int, "ed_frame": int, "bbox": {"<frame>": [x1, y1, x2, y2]}}',
        )
    for key in ("st_frame", "ed_frame", "bbox"):
        if key not in entry:
            raise fail(
                f"missing key {key!r}", key, "every prediction needs st_frame, ed_frame and bbox"
            )
    first, last = entry["st_frame"], entry["ed_frame"]
    for key, value in (("st_frame", first), ("ed_frame", last)):
        if not _is_int(value) or value < 0:
            raise fail(
                f"{key} must be a non-negative integer frame index, got {value!r}",
                key,
                "write 0-based native frame indices as JSON integers (not floats or strings)",
            )
    if first > last:
        raise fail(
            f"st_frame ({first}) is after ed_frame ({last})",
            "st_frame",
            "the span is inclusive [st_frame, ed_frame] with st_frame <= ed_frame",
        )
    bbox = entry["bbox"]
    if not isinstance(bbox, Mapping):
        raise fail(
            f"bbox must be an object mapping frame -> box, got {type(bbox).__name__}",
            "bbox",
            'write {"<frame>": [x1, y1, x2, y2], ...}',
        )
    frames: list[int] = []
    boxes: list[list[float]] = []
    seen: set[int] = set()
    for key, box in bbox.items():
        where = f"bbox[{key!r}]"
        if not isinstance(key, str) or not _FRAME_KEY.fullmatch(key):
            raise fail(
                f"frame key {key!r} is not a non-negative integer",
                where,
                'use decimal frame indices as keys, e.g. "17"',
            )
        frame = int(key)
        if frame in seen:
            raise fail(f"frame {frame} is given twice", where, "give each frame once")
        seen.add(frame)
        if not isinstance(box, list) or len(box) != 4 or not all(_is_number(c) for c in box):
            raise fail(
                f"a box must be a list of 4 numbers [x1, y1, x2, y2], got {box!r}",
                where,
                "write boxes as [x1, y1, x2, y2] in original-video pixels",
            )
        if not all(math.isfinite(c) for c in box):
            raise fail(
                f"box has a non-finite coordinate: {box!r}",
                where,
                "replace NaN/Infinity by real coordinates",
            )
        if first <= frame <= last:
            frames.append(frame)
            boxes.append(box)
    order = np.argsort(np.asarray(frames, dtype=np.int64), kind="stable")
    tube = Tube(
        np.asarray(frames, dtype=np.int64)[order],
        np.asarray(boxes, dtype=np.float64).reshape(-1, 4)[order],
    )
    return Prediction((first, last), tube, n_boxes_outside_span=len(bbox) - len(frames))


def read_predictions(path: str | Path) -> dict[str, Prediction]:
    """Read and validate a predictions file (format in the module docstring).

    Args:
        path: the JSON file.

    Returns:
        ``{sample_id: Prediction}`` in file order; boxes outside a span are dropped and
        counted in ``Prediction.n_boxes_outside_span``.

    Raises:
        DataError: the file is missing, is not JSON, is not an object keyed by sample id, or
            an entry is malformed (the message names file, sample id and field).
    """
    path_str = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise DataError("predictions file not found", path=path_str, hint="check the path") from exc
    except OSError as exc:
        raise DataError(f"cannot read predictions file: {exc}", path=path_str) from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(
            f"predictions file is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}",
            path=path_str,
        ) from exc
    if not isinstance(data, dict):
        raise DataError(
            f"the top level must be an object keyed by sample id, got {type(data).__name__}",
            path=path_str,
            hint='write {"<sample_id>": {"st_frame": ..., "ed_frame": ..., "bbox": {...}}}',
        )
    return {
        sample_id: _parse_entry(path_str, sample_id, entry) for sample_id, entry in data.items()
    }


def write_predictions(path: str | Path, predictions: Mapping[str, Prediction]) -> None:
    """Write ``predictions`` as a predictions file (atomically: temp file, then rename).

    Args:
        path: destination JSON file; its parent directory is created if needed.
        predictions: ``{sample_id: Prediction}``; only boxes inside each span are written,
            so that :func:`read_predictions` gives back the same predictions.
    """
    out: dict[str, Any] = {}
    for sample_id, pred in predictions.items():
        entry = pred.to_json()
        first, last = pred.span
        entry["bbox"] = {k: v for k, v in entry["bbox"].items() if first <= int(k) <= last}
        out[str(sample_id)] = entry
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(out, fh, allow_nan=False)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


__all__ = ["Prediction", "read_predictions", "write_predictions"]
