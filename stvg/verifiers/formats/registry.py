"""Registry of answer formats by name."""

from __future__ import annotations

from stvg.verifiers.formats.base import AnswerFormat
from stvg.verifiers.formats.draft_final import DraftFinalFormat
from stvg.verifiers.formats.json_v1 import JsonV1Format
from stvg.verifiers.formats.tagged import TaggedFormat

# Format name -> class; ``json-v1`` is the default (docs/design.md).
FORMATS: dict[str, type[AnswerFormat]] = {
    JsonV1Format.name: JsonV1Format,
    TaggedFormat.name: TaggedFormat,
    DraftFinalFormat.name: DraftFinalFormat,
}


def get_format(name: str, coords: str = "pixels") -> AnswerFormat:
    """The answer format ``name`` with boxes in ``coords``.

    Args:
        name: a key of :data:`FORMATS` (``json-v1``, ``tagged``, ``draft-final``).
        coords: ``pixels`` (of the frames as shown), ``norm1000`` or ``norm1``.

    Raises:
        ValueError: an unknown format name or coordinate system, listing the choices.
    """
    if name not in FORMATS:
        raise ValueError(f"unknown answer format {name!r}; choose one of {sorted(FORMATS)}")
    return FORMATS[name](coords=coords)


__all__ = ["FORMATS", "get_format"]
