"""The one parser of the JSON files a user hands over (annotations, predictions).

Plain ``json.load`` has two silent or fatal failure modes that this module removes:

* **a key given twice** in one object keeps the last value and drops the others without a
  word. Here every object is a :class:`JsonObject` that lists such keys in ``repeated``, so
  that the reader can refuse them with the file, the sample id and the key (the annotation
  loaders and the predictions reader do);
* **nesting deeper than the parser can follow** (Python's recursion limit, about 1,000
  levels; no real file comes near it) raises ``RecursionError``; here it is a
  :class:`~stvg.data.errors.DataError` naming the file;
* **an integer of more than 4,300 digits** makes Python's ``int()`` refuse it with a plain
  ``ValueError`` (not a JSON error); here it is a :class:`~stvg.data.errors.DataError`
  naming the file (no count, index or size of a valid file is that large).

Malformed JSON and text that is not UTF-8 are :class:`~stvg.data.errors.DataError` naming the
file, line and column as well.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from stvg.data.errors import DataError


class JsonObject(dict):
    """A JSON object that remembers the keys it was given more than once (``repeated``,
    in file order; empty when every key is given once)."""

    repeated: tuple[str, ...] = ()


def object_pairs_hook(pairs: list[tuple[str, Any]]) -> JsonObject:
    """``json``'s ``object_pairs_hook`` that builds a :class:`JsonObject`."""
    out = JsonObject(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        out.repeated = tuple(k for k, _ in pairs if k in seen or seen.add(k))
    return out


def repeated_keys(value: Any) -> tuple[str, ...]:
    """The keys that the JSON object ``value`` was given more than once (``()`` for any
    other value, or an object read without :func:`parse_json`)."""
    return getattr(value, "repeated", ())


def too_deep_error(path: str | None, what: str) -> DataError:
    """The error for a document nested deeper than the parser follows."""
    return DataError(
        f"{what} is nested too deeply to read (arrays or objects inside each other more "
        "than about 1,000 levels deep)",
        path=path,
        hint="write the file with the documented layout; no valid file nests that deep",
    )


def parse_json(data: bytes | str, *, path: str | None, what: str, hint: str | None = None) -> Any:
    """Parse JSON text; every object is a :class:`JsonObject`.

    Args:
        data: the file's bytes (UTF-8) or text.
        path: the file, for messages (``None``: text that is not a file's).
        what: what the file is, for messages (``"predictions file"``).
        hint: how to fix a malformed file (added to the message).

    Raises:
        DataError: malformed JSON (line and column), text that is not UTF-8, nesting
            deeper than the parser follows, or an integer too long to read.
    """
    try:
        return json.loads(data, object_pairs_hook=object_pairs_hook)
    except json.JSONDecodeError as exc:
        raise DataError(
            f"{what} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}",
            path=path,
            hint=hint,
        ) from exc
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{what} is not UTF-8 text: {exc.reason} at byte {exc.start}",
            path=path,
            hint=f"give the {what} as UTF-8 JSON",
        ) from exc
    except RecursionError:
        raise too_deep_error(path, what) from None
    except ValueError:  # the only other ValueError: int() refusing a very long literal
        digits = getattr(sys, "get_int_max_str_digits", lambda: 4300)()
        raise DataError(
            f"{what} holds an integer of more than {digits:,} digits, which Python does not read",
            path=path,
            hint="no count, frame index or size of a valid file is that large; fix the number",
        ) from None


def read_json_file(path: str | Path, *, what: str, hint: str | None = None) -> Any:
    """Read and parse a JSON file with :func:`parse_json`.

    Raises:
        DataError: the file cannot be read, or :func:`parse_json`'s errors.
    """
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read the {what}: {exc.strerror or exc}", path=str(path)) from exc
    return parse_json(data, path=str(path), what=what, hint=hint)


__all__ = [
    "JsonObject",
    "object_pairs_hook",
    "parse_json",
    "read_json_file",
    "repeated_keys",
    "too_deep_error",
]
