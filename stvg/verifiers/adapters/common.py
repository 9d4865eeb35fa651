"""Ground-truth records for trainer integrations (TRL, verl) and a cache of verifiers.

Trainers outside this project pass each sample's ground truth as one dataset column value:
a JSON object (or its JSON string) holding the ground-truth tube and what the model was
shown. :func:`ground_truth_to_dict` writes it from a :class:`~stvg.data.types.Sample` and a
:class:`~stvg.verifiers.formats.FrameContext`; :func:`ground_truth_from_dict` reads it back.
The layout (documented in ``docs/verifier.md``):

=================  ==========================================================  ========
key                value                                                       required
=================  ==========================================================  ========
``gt_span``        ``[first, last]`` inclusive 0-based native frames           yes
``gt_boxes``       ``{"<frame>": [x1, y1, x2, y2]}`` original-video pixels     yes
``native_fps``     frames per second of the video                              yes
``num_frames``     native frames in the video                                  yes
``width``          original width, pixels                                      yes
``height``         original height, pixels                                     yes
``frame_indices``  native frames shown to the model, increasing                yes
``timestamps``     seconds of each shown frame (same length)                   yes
``shown_size``     ``[width, height]`` of the frames as shown, pixels          yes
``fps``            sampling rate the frames were taken at (``null``: every     no
                   native frame); needed for a densify ``end_extension``
``model_size``     ``[width, height]`` of the frames as the MODEL saw them     no
                   (its processor's resize, e.g. Qwen2.5-VL); ``pixels``
                   answers are read in it. Absent: ``shown_size``
``answer_format``  answer format of this sample, overriding the config         no
``coords``         coordinate system of this sample, overriding the config     no
``sample_id``      the sample's id (for error messages)                        no
``query``          the query text (informational)                              no
=================  ==========================================================  ========

A malformed record is a **data bug**, not a model failure: it raises ``ValueError`` naming
the key. Columns stored through Arrow/Parquet may arrive with numpy arrays for lists and,
for ``gt_boxes`` stored as a struct, ``None`` for frames that other rows have: both are
accepted (``None`` boxes are skipped). Storing the record as a JSON string avoids both.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from stvg.config import to_dict
from stvg.data.errors import DataError
from stvg.data.jsonio import parse_json, repeated_keys
from stvg.data.types import Sample
from stvg.limits import MAX_FRAME_INDEX, box_problem, is_finite, short_repr
from stvg.verifiers.formats import AnswerContract, FrameContext
from stvg.verifiers.spans import check_span
from stvg.verifiers.verifier import (
    Verifier,
    VerifierConfig,
    VerifierConfigLike,
    VerifierResult,
    load_verifier_config,
)

REQUIRED_KEYS: tuple[str, ...] = (
    "gt_span",
    "gt_boxes",
    "native_fps",
    "num_frames",
    "width",
    "height",
    "frame_indices",
    "timestamps",
    "shown_size",
)
OPTIONAL_KEYS: tuple[str, ...] = (
    "fps",
    "model_size",
    "answer_format",
    "coords",
    "sample_id",
    "query",
)
_HOW_TO_BUILD = "build it with stvg.verifiers.adapters.ground_truth_to_dict(sample, ctx)"


@dataclass(frozen=True, eq=False)
class GroundTruth:
    """One decoded ground-truth record.

    Attributes:
        sample: the ground truth as a :class:`Sample` (``video_path`` empty).
        ctx: what the model was shown.
        answer_format: per-sample answer format overriding the verifier config, or ``None``.
        coords: per-sample coordinate system overriding the verifier config, or ``None``.
    """

    sample: Sample
    ctx: FrameContext
    answer_format: str | None = None
    coords: str | None = None


def ground_truth_to_dict(
    sample: Sample,
    ctx: FrameContext | AnswerContract,
    *,
    answer_format: str | None = None,
    coords: str | None = None,
) -> dict[str, Any]:
    """The JSON-friendly ground-truth record of ``sample`` shown ``ctx`` (module layout).

    ``ctx`` is the episode's :class:`~stvg.verifiers.formats.AnswerContract` (``env.contract``:
    its answer format, coordinates and model frame size go into the record) or a plain
    :class:`FrameContext`. ``answer_format`` and ``coords`` given here win; they are written
    only when known. Frame keys of ``gt_boxes`` are strings (JSON object keys).
    """
    if isinstance(ctx, AnswerContract):
        answer_format = answer_format or ctx.spec.answer_format
        coords = coords or ctx.spec.coords
        ctx = ctx.frame
    record: dict[str, Any] = {
        "sample_id": sample.sample_id,
        "query": sample.query,
        "gt_span": [int(sample.gt_span[0]), int(sample.gt_span[1])],
        "gt_boxes": {
            str(int(f)): [float(v) for v in box] for f, box in sorted(sample.gt_boxes.items())
        },
        "native_fps": float(sample.native_fps),
        "num_frames": int(sample.num_frames),
        "width": int(sample.width),
        "height": int(sample.height),
        "frame_indices": [int(f) for f in ctx.frame_idx],
        "timestamps": [float(t) for t in ctx.timestamps_s],
        "shown_size": [int(ctx.shown_size[0]), int(ctx.shown_size[1])],
        "fps": None if ctx.fps is None else float(ctx.fps),
    }
    if ctx.model_size is not None:
        record["model_size"] = [int(ctx.model_size[0]), int(ctx.model_size[1])]
    if answer_format is not None:
        record["answer_format"] = answer_format
    if coords is not None:
        record["coords"] = coords
    return record


def _of_sample(sample_id: str) -> str:
    """`` of sample '<id>'`` for a message (the id cut to a bounded length), or ``""``."""
    return f" of sample {short_repr(sample_id)}" if sample_id else ""


def _bad(key: str, sample_id: str, message: str) -> ValueError:
    return ValueError(
        f"ground_truth key {key!r}{_of_sample(sample_id)}: {message}; {_HOW_TO_BUILD}"
    )


def _as_list(value: Any) -> Any:
    return value.tolist() if isinstance(value, np.ndarray) else value


def _number(record: Mapping[str, Any], key: str, sid: str, *, integer: bool = False) -> float | int:
    value = _as_list(record[key])
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not is_finite(value):
        raise _bad(key, sid, f"expected a finite number, got {short_repr(value)}")
    if integer:
        if int(value) != value:
            raise _bad(key, sid, f"expected an integer, got {short_repr(value)}")
        return int(value)
    return float(value)


def _numbers(
    record: Mapping[str, Any], key: str, sid: str, length: int | None = None
) -> list[float]:
    value = _as_list(record[key])
    if not isinstance(value, (list, tuple)):
        raise _bad(key, sid, f"expected a list of numbers, got {short_repr(value)}")
    if length is not None and len(value) != length:
        raise _bad(key, sid, f"expected {length} numbers, got {len(value)}")
    out = []
    for item in value:
        if isinstance(item, np.generic):
            item = item.item()
        if isinstance(item, bool) or not isinstance(item, (int, float)) or not is_finite(item):
            raise _bad(key, sid, f"expected finite numbers, got {short_repr(item)}")
        out.append(item)
    return out


def _integers(
    record: Mapping[str, Any], key: str, sid: str, length: int | None = None
) -> list[int]:
    values = _numbers(record, key, sid, length)
    if any(int(v) != v for v in values):
        raise _bad(key, sid, f"expected integers, got {short_repr(values)}")
    # every integer list of the record is frames or pixels: 0 .. MAX_FRAME_INDEX
    if any(not 0 <= v <= MAX_FRAME_INDEX for v in values):
        raise _bad(
            key, sid, f"expected integers from 0 to {MAX_FRAME_INDEX:,}, got {short_repr(values)}"
        )
    return [int(v) for v in values]


def _gt_boxes(record: Mapping[str, Any], sid: str) -> dict[int, list[float]]:
    raw = record["gt_boxes"]
    if not isinstance(raw, Mapping):
        raise _bad(
            "gt_boxes", sid, f'expected {{"<frame>": [x1, y1, x2, y2]}}, got {type(raw).__name__}'
        )
    boxes: dict[int, list[float]] = {}
    for key, box in raw.items():
        if box is None:  # an Arrow struct column fills other rows' frames with None
            continue
        if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
            frame = int(key)
        elif isinstance(key, str) and key.strip().isdigit():
            frame = int(key)
        else:
            frame = -1
        if not 0 <= frame <= MAX_FRAME_INDEX:
            raise _bad(
                "gt_boxes",
                sid,
                f"frame key {short_repr(key)} is not a frame index from 0 to {MAX_FRAME_INDEX:,}",
            )
        values = _numbers({"gt_boxes": box}, "gt_boxes", sid, length=4)
        problem = box_problem(values)
        if problem is not None:
            raise _bad("gt_boxes", sid, f"box of frame {short_repr(key)}: {problem}")
        boxes[frame] = [float(v) for v in values]
    return boxes


def ground_truth_from_dict(ground_truth: Mapping[str, Any] | str) -> GroundTruth:
    """Decode a ground-truth record (a mapping or its JSON string) of the module layout.

    Raises:
        ValueError: malformed JSON, a missing required key (named, with the list of
            required keys), or a value of the wrong type or shape (named).
    """
    record: Any = ground_truth
    if isinstance(record, (str, bytes)):
        try:  # the one JSON reader of user data: nesting, long integers, keys given twice
            record = parse_json(record, path=None, what="ground_truth")
        except DataError as exc:
            raise ValueError(f"{exc}; {_HOW_TO_BUILD}") from None
        for where, value in (("", record), (" gt_boxes", _get(record, "gt_boxes"))):
            if repeated_keys(value):
                raise ValueError(
                    f"ground_truth{where} gives key {short_repr(repeated_keys(value)[0])} "
                    f"twice (a JSON reader would keep only the last); {_HOW_TO_BUILD}"
                )
    if not isinstance(record, Mapping):
        raise ValueError(
            f"ground_truth must be a mapping or a JSON object string, got {type(record).__name__}; {_HOW_TO_BUILD}"
        )
    sid = str(record.get("sample_id") or "")
    missing = [k for k in REQUIRED_KEYS if k not in record or record[k] is None]
    if missing:
        raise ValueError(
            f"ground_truth{_of_sample(sid)} is missing key {missing[0]!r} (all missing: {missing}; "
            f"required: {list(REQUIRED_KEYS)}); {_HOW_TO_BUILD}"
        )
    gt_span = _integers(record, "gt_span", sid, length=2)
    try:  # the one rule of a span: 0 <= first <= last <= MAX_FRAME_INDEX
        check_span(gt_span, "gt_span")
    except ValueError as exc:
        raise _bad("gt_span", sid, str(exc)) from None
    frame_idx = _integers(record, "frame_indices", sid)
    timestamps = _numbers(record, "timestamps", sid, length=len(frame_idx))
    width, height = _integers(record, "shown_size", sid, length=2)
    fps = record.get("fps")
    fps = None if fps is None else _number(record, "fps", sid)
    model_size = None
    if record.get("model_size") is not None:
        model_w, model_h = _integers(record, "model_size", sid, length=2)
        model_size = (model_w, model_h)
    fields = {
        "native_fps": _number(record, "native_fps", sid),
        "num_frames": _number(record, "num_frames", sid, integer=True),
        "width": _number(record, "width", sid, integer=True),
        "height": _number(record, "height", sid, integer=True),
        "gt_boxes": _gt_boxes(record, sid),
    }
    try:  # Sample checks the bounds of stvg.limits (fps, frame count, size) and the span
        sample = Sample(
            sample_id=sid,
            video_path="",
            query=str(record.get("query") or ""),
            gt_span=(gt_span[0], gt_span[1]),
            **fields,
        )
    except ValueError as exc:
        raise ValueError(f"ground_truth: {exc}; {_HOW_TO_BUILD}") from None
    try:
        ctx = FrameContext(
            frame_idx=np.asarray(frame_idx, dtype=np.int64),
            timestamps_s=np.asarray(timestamps, dtype=np.float64),
            shown_size=(width, height),
            original_size=(sample.width, sample.height),
            native_fps=sample.native_fps,
            num_frames=sample.num_frames,
            fps=fps,
            model_size=model_size,
        )
    except ValueError as exc:
        raise ValueError(f"ground_truth{_of_sample(sid)}: {exc}; {_HOW_TO_BUILD}") from exc
    overrides = {}
    for key in ("answer_format", "coords"):
        value = record.get(key)
        if value is not None and not isinstance(value, str):
            raise _bad(key, sid, f"expected a string, got {short_repr(value)}")
        overrides[key] = value
    return GroundTruth(sample, ctx, overrides["answer_format"], overrides["coords"])


def _get(record: Any, key: str) -> Any:
    return record.get(key) if isinstance(record, Mapping) else None


def config_key(config: VerifierConfigLike) -> str:
    """A hashable text identifying a verifier config (for caching)."""
    if config is None:
        return "default"
    if isinstance(config, (str, Path)):
        return "path:" + str(Path(config).resolve())
    if isinstance(config, VerifierConfig):
        return "config:" + json.dumps(to_dict(config), sort_keys=True)
    if isinstance(config, Mapping):
        return "mapping:" + json.dumps(config, sort_keys=True, default=str)
    raise TypeError(
        f"verifier config must be a VerifierConfig, a mapping, a YAML path or None, got {type(config).__name__}"
    )


class VerifierCache:
    """Verifiers built once per ``(config, answer_format, coords)`` and reused.

    Args:
        maxsize: most verifiers kept (least recently used dropped first).
    """

    def __init__(self, maxsize: int = 64) -> None:
        self._configs: dict[str, VerifierConfig] = {}
        self._build = functools.lru_cache(maxsize=maxsize)(self._make)

    def _make(self, key: str, answer_format: str | None, coords: str | None) -> Verifier:
        config = self._configs[key]
        changes = {}
        if answer_format is not None:
            changes["answer_format"] = answer_format
        if coords is not None:
            changes["coords"] = coords
        return Verifier(replace(config, **changes) if changes else config)

    def get(
        self,
        config: VerifierConfigLike = None,
        *,
        answer_format: str | None = None,
        coords: str | None = None,
    ) -> Verifier:
        """The verifier of ``config`` with optional per-sample format overrides.

        Raises:
            stvg.config.ConfigError: an invalid config (see :func:`load_verifier_config`).
            ValueError: an unknown ``answer_format`` or ``coords`` override.
        """
        key = config_key(config)
        if key not in self._configs:
            self._configs[key] = load_verifier_config(config)
        return self._build(key, answer_format, coords)

    def clear(self) -> None:
        """Forget every cached config and verifier (e.g. after editing a YAML file)."""
        self._configs.clear()
        self._build.cache_clear()


def score_record(
    verifier_cache: VerifierCache,
    config: VerifierConfigLike,
    text: str,
    ground_truth: Mapping[str, Any] | str,
) -> VerifierResult:
    """Score model ``text`` against a ground-truth record with a cached verifier.

    Args:
        verifier_cache: where verifiers are built once and reused.
        config: the verifier config (see :func:`~stvg.verifiers.verifier.load_verifier_config`).
        text: the model's answer.
        ground_truth: the record (mapping or JSON string) of the module layout.

    Raises:
        ValueError: a malformed ground-truth record (a data bug).
        TypeError: ``text`` is not a ``str``.
    """
    record = ground_truth_from_dict(ground_truth)
    verifier = verifier_cache.get(config, answer_format=record.answer_format, coords=record.coords)
    _check_fps(verifier, record)
    return verifier.score_text(text, record.sample, record.ctx)


def _check_fps(verifier: Verifier, record: GroundTruth) -> None:
    """A record without ``fps`` cannot be scored with a ``densify.end_extension`` (a
    fraction of the sampling interval ``1 / fps``): a data bug, named."""
    extension = verifier.config.densify.end_extension
    if extension and record.ctx.fps is None:
        raise _bad(
            "fps",
            record.sample.sample_id,
            f"null (every frame shown), but the verifier's densify.end_extension ({extension}) "
            "is a fraction of the sampling interval 1 / fps; write the record's fps",
        )


def score_records(
    verifier_cache: VerifierCache,
    config: VerifierConfigLike,
    texts: Sequence[str],
    ground_truths: Sequence[Mapping[str, Any] | str],
    iteration: int | None = None,
) -> list[VerifierResult]:
    """Score many model texts against their ground-truth records in batches.

    The batch form of :func:`score_record` (equal results): records are decoded once per
    distinct record (a group's completions repeat their prompt's record, so they share one
    ``Sample`` and context), and the texts of each ``(answer_format, coords)`` go through
    one :meth:`~stvg.verifiers.verifier.Verifier.score_batch` call, as sampled at training
    iteration ``iteration`` (:meth:`~stvg.verifiers.verifier.Verifier.set_iteration`;
    ``None``: outside training).

    Raises:
        ValueError: a malformed ground-truth record; ``texts`` and ``ground_truths`` of
            different lengths.
        TypeError: a text that is not a ``str``.
    """
    if len(texts) != len(ground_truths):
        raise ValueError(
            f"score_records needs one ground-truth record per text, got {len(texts)} texts "
            f"and {len(ground_truths)} records"
        )
    decoded: dict[Any, GroundTruth] = {}
    records = []
    for text, ground_truth in zip(texts, ground_truths, strict=True):
        if not isinstance(text, str):
            raise TypeError(f"score_text needs the answer as str, got {type(text).__name__}")
        key = ground_truth if isinstance(ground_truth, str) else id(ground_truth)
        if key not in decoded:
            decoded[key] = ground_truth_from_dict(ground_truth)
        records.append(decoded[key])
    groups: dict[tuple[str | None, str | None], list[int]] = {}
    for i, record in enumerate(records):
        groups.setdefault((record.answer_format, record.coords), []).append(i)
    results: list[VerifierResult | None] = [None] * len(texts)
    for (answer_format, coords), rows in groups.items():
        verifier = verifier_cache.get(config, answer_format=answer_format, coords=coords)
        for i in rows:
            _check_fps(verifier, records[i])
        verifier.set_iteration(iteration)
        scored = verifier.score_batch(
            [texts[i] for i in rows],
            [records[i].sample for i in rows],
            [records[i].ctx for i in rows],
        )
        for i, result in zip(rows, scored, strict=True):
            results[i] = result
    return results  # type: ignore[return-value]


__all__ = [
    "OPTIONAL_KEYS",
    "REQUIRED_KEYS",
    "GroundTruth",
    "VerifierCache",
    "config_key",
    "ground_truth_from_dict",
    "ground_truth_to_dict",
    "score_record",
    "score_records",
]
