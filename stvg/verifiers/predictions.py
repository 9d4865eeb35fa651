"""Predictions files: read (strictly validated) and write.

A predictions file is JSON (``docs/design.md``)::

    {"<sample_id>": {"st_frame": 12, "ed_frame": 40,
                     "bbox": {"12": [x1, y1, x2, y2], "13": [...], ...}}, ...}

* ``st_frame``/``ed_frame``: 0-based **inclusive** native frames, integers,
  ``0 <= st_frame <= ed_frame <= 9,999,999`` (``MAX_FRAME_INDEX`` of
  :mod:`stvg.limits`: no video has more frames; a larger index is an error, never
  arithmetic that wraps);
* ``bbox``: frame (a decimal string of a non-negative integer) -> ``[x1, y1, x2, y2]``, four
  finite numbers in original-video pixels, each at most ``MAX_BOX_COORD`` (1,000,000) in
  absolute value (:func:`stvg.limits.box_problem`). Frames of the span without a box are allowed
  (they score 0 IoU); an empty ``bbox`` is allowed.
* Boxes on frames **outside** ``[st_frame, ed_frame]`` are not an error (some models emit a
  box on every sampled frame): they are kept, because the official HC-STVG evaluator
  (protocol ``official``) scores a box on a GT frame wherever the span is, while the other
  protocols ignore them; :attr:`Prediction.n_boxes_outside_span` counts them so that the
  evaluation report can say how many there were.
* A frame key is read as its decimal number (``"00130"`` is frame 130); like the span, it
  must be at most ``MAX_FRAME_INDEX`` (a larger key, ``2**64`` included, is an error).
* Other keys of an entry (``"score"``, ``"qtype"``, ...) are ignored.

Every malformed entry raises :class:`stvg.data.DataError` naming the file, the sample id and
the field (``bbox["17"]``), and saying how to fix it (or, with ``on_invalid="zero"`` in
:func:`load_predictions`, is left out and listed with its reason). A key given twice (a sample
id, a frame of ``bbox``, a field of an entry) is always an error: plain ``json.load`` would
silently keep the last one, so the same file could score differently by the order of its
entries.

Reading is fast and lean: the file is parsed with ``msgspec`` into one raw slice per sample
(views into the file's bytes, no copy), and each sample is decoded on its own straight into
numpy arrays, so the peak memory is about the file size plus the arrays. A file that the
fast path refuses is read again with the standard library and the strict checks below, so
that every error message is the same on both paths.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import msgspec
import numpy as np

from stvg.data.errors import DataError
from stvg.data.jsonio import parse_json, repeated_keys
from stvg.data.types import Sample, Tube
from stvg.limits import MAX_BOX_COORD, MAX_FRAME_INDEX, box_problem, is_finite, short_repr
from stvg.verifiers.spans import check_span

_FRAME_KEY = re.compile(r"[0-9]+")
_INT64_SAFE_DIGITS = 18  # every decimal of at most 18 digits fits in int64

OnInvalid = Literal["error", "zero"]
ON_INVALID: tuple[str, ...] = ("error", "zero")


@dataclass(frozen=True)
class Prediction:
    """One sample's prediction: a temporal span and boxes.

    Attributes:
        span: ``(first, last)`` 0-based inclusive native frames, ``0 <= first <= last``.
        tube: predicted boxes ``[x1, y1, x2, y2]`` in original-video pixels, on any frames;
            boxes outside ``span`` count only under the ``official`` metric protocol.
    """

    span: tuple[int, int]
    tube: Tube

    def __post_init__(self) -> None:
        object.__setattr__(self, "span", check_span(self.span, "Prediction.span"))
        if not isinstance(self.tube, Tube):
            raise TypeError(
                f"Prediction.tube must be a stvg.data.Tube, got {type(self.tube).__name__}"
            )

    @property
    def n_boxes_outside_span(self) -> int:
        """Boxes of ``tube`` outside ``span`` (only protocol ``official`` scores them)."""
        first, last = self.span
        frames = self.tube.frame_idx
        return len(frames) - int(np.count_nonzero((frames >= first) & (frames <= last)))

    @property
    def n_frames_without_box(self) -> int:
        """Frames of ``span`` (inclusive) that have no box (they score 0 IoU)."""
        first, last = self.span
        frames = self.tube.frame_idx
        return (last - first + 1) - int(np.count_nonzero((frames >= first) & (frames <= last)))

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


def _key_text(key: str) -> str:
    """A frame key as a message shows it: as is when it is a short decimal, else its
    bounded ``repr`` (a key may be a megabyte of text, or hold a line break)."""
    return key if _FRAME_KEY.fullmatch(key) and len(key) <= 20 else short_repr(key)


def _parse_entry(path: str, sample_id: str, entry: Any) -> Prediction:
    def fail(message: str, field: str, hint: str) -> DataError:
        return DataError(message, path=path, sample_id=sample_id, field=field, hint=hint)

    if not isinstance(entry, Mapping):
        raise fail(
            f"a prediction must be an object, got {type(entry).__name__}",
            "<entry>",
            'write {"st_frame": int, "ed_frame": int, "bbox": {"<frame>": [x1, y1, x2, y2]}}',
        )
    repeated = repeated_keys(entry)
    if repeated:
        raise fail(
            f"key {short_repr(repeated[0])} is given twice in the entry",
            short_repr(repeated[0]),
            "give each field of a prediction once",
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
                f"{key} must be a non-negative integer frame index, got {short_repr(value)}",
                key,
                "write 0-based native frame indices as JSON integers (not floats or strings)",
            )
        if value > MAX_FRAME_INDEX:
            raise fail(
                f"{key} {short_repr(value)} is past the largest frame index accepted ({MAX_FRAME_INDEX}: "
                f"no video has more than {MAX_FRAME_INDEX + 1} frames)",
                key,
                "write 0-based native frame indices of the video",
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
    repeated = repeated_keys(bbox)
    if repeated:
        raise fail(
            f"frame {_key_text(repeated[0])} is given twice",
            f"bbox[{short_repr(repeated[0])}]",
            "give each frame once",
        )
    frames: list[int] = []
    boxes: list[list[float]] = []
    seen: set[int] = set()
    for key, box in bbox.items():
        where = f"bbox[{short_repr(key)}]"
        if not isinstance(key, str) or not _FRAME_KEY.fullmatch(key):
            raise fail(
                f"frame key {short_repr(key)} is not a non-negative integer",
                where,
                'use decimal frame indices as keys, e.g. "17"',
            )
        digits = key.lstrip("0") or "0"  # no int() of a 5,000-digit key
        frame = int(digits) if len(digits) <= len(str(MAX_FRAME_INDEX)) else MAX_FRAME_INDEX + 1
        if frame > MAX_FRAME_INDEX:
            raise fail(
                f"frame key {short_repr(key)} is past the largest frame index accepted "
                f"({MAX_FRAME_INDEX}: no video has more than {MAX_FRAME_INDEX + 1} frames)",
                where,
                "use 0-based native frame indices of the video as keys",
            )
        if frame in seen:
            raise fail(f"frame {frame} is given twice", where, "give each frame once")
        seen.add(frame)
        if not isinstance(box, list) or len(box) != 4 or not all(_is_number(c) for c in box):
            raise fail(
                f"a box must be a list of 4 numbers [x1, y1, x2, y2], got {short_repr(box)}",
                where,
                "write boxes as [x1, y1, x2, y2] in original-video pixels",
            )
        if not all(is_finite(c) for c in box):
            raise fail(
                f"box has a non-finite coordinate: {short_repr(box)}",
                where,
                "replace NaN/Infinity by real coordinates",
            )
        problem = box_problem(box)
        if problem is not None:
            raise fail(
                f"box {short_repr(box)}: {problem}",
                where,
                "write boxes as [x1, y1, x2, y2] in original-video pixels",
            )
        frames.append(frame)
        boxes.append(box)
    order = np.argsort(np.asarray(frames, dtype=np.int64), kind="stable")
    tube = Tube(
        np.asarray(frames, dtype=np.int64)[order],
        np.asarray(boxes, dtype=np.float64).reshape(-1, 4)[order],
    )
    return Prediction((first, last), tube)


def _strict_json(path: str, data: bytes | str) -> Any:
    """The file's JSON, objects as :class:`~stvg.data.jsonio.JsonObject` (they list the
    keys given twice); malformed, non-UTF-8 or too deeply nested text is a DataError."""
    return parse_json(data, path=path, what="predictions file")


def _duplicate_id_error(path: str, sample_id: str) -> DataError:
    return DataError(
        "sample id given twice: a JSON reader keeps only the last entry, so the score "
        "would depend on the order of the entries",
        path=path,
        sample_id=sample_id,
        hint="keep one entry per sample id (merge or drop the others)",
    )


def _top_level_error(path: str, data: Any) -> DataError:
    return DataError(
        f"the top level must be an object keyed by sample id, got {type(data).__name__}",
        path=path,
        hint='write {"<sample_id>": {"st_frame": ..., "ed_frame": ..., "bbox": {...}}}',
    )


@dataclass(frozen=True)
class LoadedPredictions:
    """A predictions file as read by :func:`load_predictions`.

    Attributes:
        predictions: ``{sample_id: Prediction}`` of the valid entries, file order.
        invalid: ``{sample_id: reason}`` of the entries left out with ``on_invalid="zero"``
            (the evaluation scores them 0, like a missing prediction), file order.
        path: the file read.
        pred_format: the dump format it was read as (``stvg``, ``tubedetr``, ``cgstvg``).
    """

    predictions: dict[str, Prediction]
    invalid: dict[str, str]
    path: str
    pred_format: str = "stvg"

    @property
    def n_boxes_outside_span(self) -> int:
        """Boxes outside their span (all samples; kept, scored by ``official`` only)."""
        return sum(p.n_boxes_outside_span for p in self.predictions.values())


def _collect(
    path: str, items: Any, parse: Any, on_invalid: OnInvalid
) -> tuple[dict[str, Prediction], dict[str, str]]:
    """Parse ``(sample_id, entry)`` pairs with ``parse``; a DataError is raised or recorded."""
    if on_invalid not in ON_INVALID:
        raise ValueError(f"on_invalid must be one of {ON_INVALID}, got {on_invalid!r}")
    predictions: dict[str, Prediction] = {}
    invalid: dict[str, str] = {}
    for sample_id, entry in items:
        try:
            predictions[sample_id] = parse(path, sample_id, entry)
        except DataError as exc:
            if on_invalid == "error":
                raise
            invalid[sample_id] = str(exc)
    return predictions, invalid


def _read_strict(path: str, data: bytes, on_invalid: OnInvalid) -> LoadedPredictions:
    """The reference reader: the standard library's JSON and :func:`_parse_entry`."""
    top = _strict_json(path, data)
    if not isinstance(top, dict):
        raise _top_level_error(path, top)
    repeated = repeated_keys(top)
    if repeated:
        raise _duplicate_id_error(path, repeated[0])
    predictions, invalid = _collect(path, top.items(), _parse_entry, on_invalid)
    return LoadedPredictions(predictions, invalid, path)


_TOP_DECODER = msgspec.json.Decoder(dict[str, msgspec.Raw])  # also an entry's fields
_INT_DECODER = msgspec.json.Decoder(int)
_BBOX_DECODER = msgspec.json.Decoder(dict[str, tuple[float, float, float, float]])
# between two consecutive top-level values: `, "<key>" :` (or `{ "<key>" :` before the first)
_KEY_GAP = re.compile(rb'\s*[{,]\s*("(?:[^"\\]|\\.)*")\s*:\s*')
_END_GAP = re.compile(rb"\s*}\s*")


def _find_dropped_id(data: bytes | memoryview, raws: Mapping[str, msgspec.Raw]) -> str | None:
    """The first key that the JSON object ``data`` gives twice, or ``None``.

    ``raws`` holds zero-copy views into ``data``, one per *kept* value; a decoder keeps the
    last of repeated keys, so a dropped entry shows as a gap between two kept values that
    holds more than one key. Only the gaps are scanned (a few bytes per key). Used for the
    sample ids of the file and for the fields of each entry.
    """
    if not raws:
        return None
    base = np.frombuffer(data, dtype=np.uint8).ctypes.data
    extents = sorted(
        (np.frombuffer(raw, dtype=np.uint8).ctypes.data - base, len(memoryview(raw)))
        for raw in raws.values()
    )
    end = 0
    for start, size in extents:
        gap = data[end:start]
        if _KEY_GAP.fullmatch(gap) is None:
            match = _KEY_GAP.match(gap)
            return json.loads(bytes(match.group(1))) if match else None
        end = start + size
    return None


def _fast_entry(path: str, sample_id: str, raw: msgspec.Raw) -> Prediction:
    """Decode one entry straight into arrays; anything unusual goes to :func:`_parse_entry`
    (which raises the precise error, or accepts what the fast path was unsure of)."""

    def strict() -> Prediction:
        return _parse_entry(path, sample_id, _strict_json(path, bytes(raw)))

    try:
        fields = _TOP_DECODER.decode(raw)
        first = _INT_DECODER.decode(fields["st_frame"])
        last = _INT_DECODER.decode(fields["ed_frame"])
        raw_bbox = fields["bbox"]
        bbox = _BBOX_DECODER.decode(raw_bbox)
    except (msgspec.DecodeError, KeyError, RecursionError):
        return strict()
    n = len(bbox)
    if not 0 <= first <= last <= MAX_FRAME_INDEX:
        return strict()
    if _find_dropped_id(memoryview(raw), fields) is not None:  # a field given twice
        return strict()
    if n == 0:
        return Prediction((first, last), Tube.empty())
    keys = "".join(bbox)
    # a repeated frame key leaves fewer boxes than "[" (boxes are flat lists of numbers)
    if "" in bbox or not (keys.isascii() and keys.isdigit()) or bytes(raw_bbox).count(b"[") != n:
        return strict()
    if max(map(len, bbox)) > _INT64_SAFE_DIGITS:  # a key past int64: the strict path refuses it
        return strict()
    frames = np.fromiter(map(int, bbox), dtype=np.int64, count=n)
    boxes = np.array(list(bbox.values()), dtype=np.float64)
    order = np.argsort(frames, kind="stable")
    frames, boxes = frames[order], boxes[order]
    if (
        np.any(np.diff(frames) == 0)
        or frames[-1] > MAX_FRAME_INDEX
        or not (np.abs(boxes) <= MAX_BOX_COORD).all()  # NaN and inf fail too
    ):
        return strict()
    return Prediction((first, last), Tube(frames, boxes))


def _read_fast(path: str, data: bytes, on_invalid: OnInvalid) -> LoadedPredictions:
    try:
        raws = _TOP_DECODER.decode(data)
    except (msgspec.DecodeError, RecursionError):
        # not JSON, not an object, or JSON that only Python accepts (NaN): the strict
        # reader gives the precise error, or reads the file
        return _read_strict(path, data, on_invalid)
    dropped = _find_dropped_id(data, raws)
    if dropped is not None:
        raise _duplicate_id_error(path, dropped)
    predictions, invalid = _collect(path, raws.items(), _fast_entry, on_invalid)
    return LoadedPredictions(predictions, invalid, path)


def _read_bytes(path: str | Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError as exc:
        raise DataError(
            "predictions file not found", path=str(path), hint="check the path"
        ) from exc
    except IsADirectoryError as exc:
        raise DataError(
            "the predictions path is a folder", path=str(path), hint="give the JSON file"
        ) from exc
    except OSError as exc:
        raise DataError(f"cannot read predictions file: {exc}", path=str(path)) from exc


PRED_FORMATS: tuple[str, ...] = ("stvg", "tubedetr", "cgstvg")


def load_predictions(
    path: str | Path,
    *,
    pred_format: str = "stvg",
    on_invalid: OnInvalid = "error",
    sample_ids: Sequence[str] | None = None,
    samples: Sequence[Sample] | None = None,
) -> LoadedPredictions:
    """Read a predictions file or another codebase's prediction dump.

    Args:
        path: the JSON file.
        pred_format: ``stvg`` (the format of the module docstring), ``tubedetr``
            (TubeDETR's ``log_stats.json``) or ``cgstvg`` (CG-STVG's ``test_results.json``);
            the dumps are converted in :mod:`stvg.verifiers.prediction_dumps`.
        on_invalid: ``error`` (default): a malformed entry raises; ``zero``: it is left out
            (the evaluation scores it 0) and listed in ``LoadedPredictions.invalid``.
        sample_ids: the dataset's sample ids in annotation-file order; the dumps number
            their samples in that order (ignored for ``stvg``).
        samples: the dataset itself (instead of ``sample_ids``): needed for TubeDETR's
            VidSTG dumps, which number the sentences in their own order and whose
            sentence types are checked against the samples'.

    Raises:
        DataError: the file is missing or not JSON, a sample id is given twice, or (with
            ``on_invalid="error"``) an entry is malformed; the message names file, sample id
            and field.
    """
    path_str = str(path)
    data = _read_bytes(path)
    if pred_format == "stvg":
        return _read_fast(path_str, data, on_invalid)
    if pred_format not in PRED_FORMATS:
        raise ValueError(f"unknown pred_format {pred_format!r}; choose one of {PRED_FORMATS}")
    from stvg.verifiers.prediction_dumps import convert_dump

    top = _strict_json(path_str, data)
    if sample_ids is None and samples is not None:
        sample_ids = [s.sample_id for s in samples]
    entries = convert_dump(path_str, top, pred_format, sample_ids, samples)
    predictions, invalid = _collect(path_str, entries.items(), _parse_entry, on_invalid)
    return LoadedPredictions(predictions, invalid, path_str, pred_format)


def read_predictions(path: str | Path) -> dict[str, Prediction]:
    """Read and validate a predictions file (format in the module docstring).

    Args:
        path: the JSON file.

    Returns:
        ``{sample_id: Prediction}`` in file order; boxes outside a span are kept and
        counted in ``Prediction.n_boxes_outside_span``.

    Raises:
        DataError: the file is missing, is not JSON, is not an object keyed by sample id,
            gives a sample id twice, or an entry is malformed (the message names file,
            sample id and field).
    """
    return load_predictions(path).predictions


def write_predictions(path: str | Path, predictions: Mapping[str, Prediction]) -> None:
    """Write ``predictions`` as a predictions file (atomically: temp file, then rename).

    Args:
        path: destination JSON file; its parent directory is created if needed.
        predictions: ``{sample_id: Prediction}``; every box is written (those outside the
            span too), so that :func:`read_predictions` gives back the same predictions.
    """
    out = {str(sample_id): pred.to_json() for sample_id, pred in predictions.items()}
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


__all__ = [
    "ON_INVALID",
    "PRED_FORMATS",
    "LoadedPredictions",
    "OnInvalid",
    "Prediction",
    "load_predictions",
    "read_predictions",
    "write_predictions",
]
