"""Answer formats: prompt instructions, a never-raising parser and a renderer per format."""

from stvg.verifiers.formats.base import MAX_BLOCK_CHARS, MAX_TEXT_CHARS, AnswerFormat
from stvg.verifiers.formats.context import FrameContext, ParseResult, RawAnswer, ShownFrames
from stvg.verifiers.formats.contract import (
    AnswerContract,
    ContractError,
    ContractSpec,
    ModelGeometry,
    check_agreement,
    env_overrides,
)
from stvg.verifiers.formats.coords import COORD_SYSTEMS, Coords, from_original, to_original
from stvg.verifiers.formats.draft_final import DraftFinalFormat
from stvg.verifiers.formats.json_v1 import JsonV1Format
from stvg.verifiers.formats.registry import FORMATS, get_format
from stvg.verifiers.formats.tagged import TaggedFormat

__all__ = [
    "AnswerContract",
    "ContractError",
    "ContractSpec",
    "ModelGeometry",
    "ShownFrames",
    "check_agreement",
    "env_overrides",
    "COORD_SYSTEMS",
    "FORMATS",
    "MAX_BLOCK_CHARS",
    "MAX_TEXT_CHARS",
    "AnswerFormat",
    "Coords",
    "DraftFinalFormat",
    "FrameContext",
    "JsonV1Format",
    "ParseResult",
    "RawAnswer",
    "TaggedFormat",
    "from_original",
    "get_format",
    "to_original",
]
