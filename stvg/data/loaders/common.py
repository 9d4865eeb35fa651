"""Helpers shared by the dataset loaders: files, typed field access, repairs.

Every problem raises :class:`~stvg.data.errors.DataError` naming the file, the sample id and
the field (a key path such as ``temporal_gt.end_fid`` or ``bbox[3]``).

Repairs and findings: imperfect annotations are kept or fixed instead of rejected, and
counted in ``meta["repairs"]`` and the dataset's ``repairs``.

* ``box_outside_frame``: a GT box reaching outside ``[0, width] x [0, height]`` is **kept
  as annotated** (counted once per box), because the official HC-STVG evaluator scores GT
  boxes as annotated (``docs/design.md``, metric protocol); nothing is changed. :func:`clip_box`
  stays available for code that builds *training targets* and wants them inside the frame;
  it must never be applied to the GT that metrics or rewards score.
* ``span_clipped_to_video``: a ground-truth span reaching before frame 0 or past the last
  frame is clipped to the video and boxes outside the clipped span are dropped (counted once
  per sample). A span entirely outside the video is a :class:`DataError`.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from stvg.data.errors import DataError
from stvg.data.jsonio import read_json_file, repeated_keys
from stvg.limits import (
    MAX_NATIVE_FPS,
    MAX_VIDEO_FRAMES,
    MAX_VIDEO_SIDE,
    MIN_NATIVE_FPS,
    plain_number,
    short_repr,
)

BOX_OUTSIDE_FRAME = "box_outside_frame"  # counted, kept as annotated (not a repair)
SPAN_CLIPPED = "span_clipped_to_video"


def is_file(path: Path) -> bool:
    """Whether ``path`` is a file; ``False`` for a path no file can have (a NUL character,
    a name too long for the file system) instead of an exception."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def read_json(path: Path) -> Any:
    """Parse an annotation file (:func:`stvg.data.jsonio.parse_json`: every object lists the
    keys it was given twice in ``repeated``); a missing, malformed or too deeply nested file
    is a :class:`DataError` naming it."""
    if not is_file(path):
        raise DataError(
            "annotation file not found",
            path=str(path),
            hint="pass annotations=<file> or root=<dataset folder> with the split's file",
        )
    return read_json_file(
        path,
        what="annotation file",
        hint="the file is truncated or not JSON; re-download or regenerate it",
    )


def check_unique_keys(data: Any, path: Path, what: str = "sample id") -> None:
    """Refuse a JSON object (read by :func:`read_json`) that gives a key twice: a JSON
    reader keeps only the last entry, so a sample would silently disappear.

    Raises:
        DataError: naming the file and the first key given twice.
    """
    repeated = repeated_keys(data)
    if repeated:
        raise DataError(
            f"{what} {repeated[0]!r} is given twice; a JSON reader would keep only the last "
            "entry and silently drop the others",
            path=str(path),
            sample_id=repeated[0] if what == "sample id" else None,
            hint="keep one entry per key (merge or drop the others)",
        )


def resolve_annotation_file(
    dataset: str,
    *,
    split: str | None,
    root: Path | None,
    annotations: Path | None,
    patterns: Sequence[str],
    default_split: str,
) -> tuple[Path, str]:
    """Find the annotation file and the split name.

    Args:
        dataset: dataset name, for messages.
        split: requested split or ``None``.
        root: dataset folder or ``None``.
        annotations: explicit annotation file or ``None`` (wins over ``root``).
        patterns: file names to try under ``root``, with ``{split}`` standing for the split,
            in order (e.g. ``("{split}.json", "{split}v2.json")``).
        default_split: split used when neither ``split`` nor the file name says one.

    Returns:
        ``(annotation file, split)``. With ``annotations`` and no ``split``, the split is
        read from the file name through the most specific pattern it matches
        (``valv2.json`` with pattern ``{split}v2.json`` gives ``val``), else it is the
        file's stem.
    """
    if annotations is not None:
        if not is_file(annotations):  # "" or "." too: no file, whatever the loader does next
            raise DataError(
                "annotation file not found",
                path=short_repr(str(annotations))
                if len(str(annotations)) > 200
                else str(annotations),
                hint="pass annotations=<file> or root=<dataset folder> with the split's file",
            )
        if split is None:
            split = _split_from_name(annotations.name, patterns) or annotations.stem
        return annotations, split
    if root is None:
        raise ValueError(
            f"dataset {dataset!r} needs root=<dataset folder> or annotations=<file>, got neither"
        )
    split = default_split if split is None else split
    candidates = [root / pattern.format(split=split) for pattern in patterns]
    for candidate in candidates:
        if is_file(candidate):
            return candidate, split
    tried = ", ".join(str(c) for c in candidates)
    raise DataError(
        f"no annotation file for {dataset!r} split {split!r}; tried {tried}",
        path=str(root),
        hint="check root and split, or pass annotations=<file>",
    )


def _split_from_name(file_name: str, patterns: Sequence[str]) -> str | None:
    # Most specific pattern first: "test_annotations.json" is split "test", not
    # "test_annotations".
    for pattern in sorted(patterns, key=lambda p: len(p), reverse=True):
        prefix, _, suffix = pattern.partition("{split}")
        if (
            file_name.startswith(prefix)
            and file_name.endswith(suffix)
            and len(file_name) > len(prefix) + len(suffix)
        ):
            return file_name[len(prefix) : len(file_name) - len(suffix)]
    return None


def default_video_dir(root: Path | None, annotation_file: Path, video_dir: Path | None) -> Path:
    """``video_dir`` if given, else ``root/videos``, else ``videos/`` beside the annotations."""
    if video_dir is not None:
        return video_dir
    if root is not None:
        return root / "videos"
    return annotation_file.parent / "videos"


class FieldReader:
    """Typed access to one annotation entry, raising :class:`DataError` with full context.

    Args:
        entry: the entry (a JSON object).
        path: annotation file, for messages.
        sample_id: the entry's sample id, for messages.
        prefix: key path of ``entry`` inside the sample (``"captions[0]"``), for messages.
    """

    def __init__(self, entry: Any, *, path: Path, sample_id: str, prefix: str = "") -> None:
        self.path = path
        self.sample_id = sample_id
        self.prefix = prefix
        if not isinstance(entry, dict):
            raise self.error(f"expected a JSON object, got {type(entry).__name__}", "")
        repeated = repeated_keys(entry)
        if repeated:
            raise self.error(
                f"key {repeated[0]!r} is given twice; a JSON reader would keep only the last",
                repeated[0],
                hint="give each key of an entry once",
            )
        self.entry = entry

    def field_name(self, key: str) -> str:
        """Full key path of ``key`` (``prefix.key``)."""
        if not self.prefix or not key:
            return self.prefix or key
        return f"{self.prefix}{key}" if key.startswith("[") else f"{self.prefix}.{key}"

    def error(self, message: str, key: str, hint: str | None = None) -> DataError:
        """A :class:`DataError` for ``key`` of this entry."""
        return DataError(
            message,
            path=str(self.path),
            sample_id=self.sample_id,
            field=self.field_name(key) or None,
            hint=hint,
        )

    def has(self, key: str) -> bool:
        """Whether the entry has ``key``."""
        return key in self.entry

    def raw(self, key: str) -> Any:
        """The value of a required ``key`` (missing: :class:`DataError`)."""
        if key not in self.entry:
            raise self.error(
                "missing annotation key",
                key,
                hint=f"add {key!r} to the entry or drop the entry",
            )
        return self.entry[key]

    def child(self, key: str) -> FieldReader:
        """A reader for the JSON object under ``key``."""
        return FieldReader(
            self.raw(key), path=self.path, sample_id=self.sample_id, prefix=self.field_name(key)
        )

    def number(
        self,
        key: str,
        *,
        positive: bool = False,
        minimum: float | None = None,
        maximum: float | None = None,
    ) -> float:
        """A finite number (``positive``: also > 0), within ``[minimum, maximum]`` when
        given (the bounds of :mod:`stvg.limits`)."""
        number = self.as_number(self.raw(key), key, positive=positive)
        self._check_range(number, key, minimum, maximum)
        return number

    def _check_range(
        self, number: float, key: str, minimum: float | None, maximum: float | None
    ) -> None:
        if minimum is not None and number < minimum:
            raise self.error(f"expected at least {plain_number(minimum)}, got {number:g}", key)
        if maximum is not None and number > maximum:
            raise self.error(
                f"expected at most {plain_number(maximum)}, got {number:g}",
                key,
                hint="no video is that large; check the field",
            )

    def as_number(self, value: Any, key: str, *, positive: bool = False) -> float:
        """Check that ``value`` (found at ``key``) is a finite number."""
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.error(f"expected a number, got {short_repr(value)}", key)
        if isinstance(value, int) and value.bit_length() > 1000:  # float() would overflow
            raise self.error(f"expected a number, got {short_repr(value)} (too large)", key)
        if not math.isfinite(value):
            raise self.error(f"expected a finite number, got {short_repr(value)}", key)
        if positive and value <= 0:
            raise self.error(f"expected a positive number, got {short_repr(value)}", key)
        return float(value)

    def integer(self, key: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
        """An integer (a float with no fractional part is accepted), at least ``minimum``
        and at most ``maximum`` (a bound of :mod:`stvg.limits`) when given."""
        value = self.raw(key)
        number = self.as_number(value, key)
        if number != int(number):
            raise self.error(f"expected an integer, got {short_repr(value)}", key)
        if minimum is not None and number < minimum:
            raise self.error(f"expected an integer >= {minimum}, got {short_repr(value)}", key)
        self._check_range(number, key, None, maximum)
        return int(number)

    def native_fps(self, key: str) -> float:
        """A video's frame rate: a number in ``[MIN_NATIVE_FPS, MAX_NATIVE_FPS]``."""
        return self.number(key, positive=True, minimum=MIN_NATIVE_FPS, maximum=MAX_NATIVE_FPS)

    def frame_count(self, key: str) -> int:
        """A video's frame count: an integer in ``[1, MAX_VIDEO_FRAMES]``."""
        return self.integer(key, minimum=1, maximum=MAX_VIDEO_FRAMES)

    def frame_side(self, key: str) -> int:
        """A video's width or height in pixels: an integer in ``[1, MAX_VIDEO_SIDE]``."""
        return self.integer(key, minimum=1, maximum=MAX_VIDEO_SIDE)

    def text(self, key: str) -> str:
        """A non-empty string (surrounding whitespace removed)."""
        value = self.raw(key)
        if not isinstance(value, str) or not value.strip():
            raise self.error(f"expected a non-empty string, got {short_repr(value)}", key)
        return value.strip()

    def array(self, key: str) -> list[Any]:
        """A JSON array."""
        value = self.raw(key)
        if not isinstance(value, list):
            raise self.error(f"expected a list, got {type(value).__name__}", key)
        return value


def box_outside_frame(box: Sequence[float], width: int, height: int) -> bool:
    """Whether an xyxy pixel box reaches outside ``[0, width] x [0, height]``.

    >>> box_outside_frame([630, 350, 650, 360], 640, 360)
    True
    """
    return box[0] < 0 or box[1] < 0 or box[2] > width or box[3] > height


def clip_box(box: list[float], width: int, height: int) -> tuple[list[float], bool]:
    """Clip an xyxy box to ``[0, width] x [0, height]``; returns ``(box, was_clipped)``.

    For training targets only: scored ground truth stays as annotated (module docstring).
    """
    x1 = min(max(box[0], 0.0), float(width))
    y1 = min(max(box[1], 0.0), float(height))
    x2 = min(max(box[2], 0.0), float(width))
    y2 = min(max(box[3], 0.0), float(height))
    clipped = [x1, y1, x2, y2]
    return clipped, clipped != box


def clip_span(
    first: int, last: int, num_frames: int, fields: FieldReader, key: str
) -> tuple[int, int, bool]:
    """Clip an inclusive span to ``[0, num_frames - 1]``; returns ``(first, last, clipped)``.

    Raises:
        DataError: the span lies entirely outside the video (``fields``/``key`` name it).
    """
    if last < 0 or first > num_frames - 1:
        raise fields.error(
            f"ground-truth span [{first}, {last}] (0-based frames) lies entirely outside the "
            f"video's {num_frames} frames",
            key,
            hint="check the frame fields and the video's frame count",
        )
    new_first, new_last = max(first, 0), min(last, num_frames - 1)
    return new_first, new_last, (new_first, new_last) != (first, last)


class RepairLog:
    """Counts repairs per kind for a whole dataset and for the current sample."""

    def __init__(self) -> None:
        self.total: Counter[str] = Counter()

    def record(self, sample_repairs: Counter[str]) -> dict[str, int]:
        """Add one sample's repairs to the total; returns them as a plain dict."""
        self.total.update(sample_repairs)
        return dict(sorted(sample_repairs.items()))

    def as_dict(self) -> dict[str, int]:
        """Totals per repair kind, sorted by kind."""
        return dict(sorted(self.total.items()))
