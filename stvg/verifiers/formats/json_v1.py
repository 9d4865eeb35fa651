"""The ``json-v1`` answer format (the default, see docs/design.md).

::

    <think> ... free reasoning ... </think>
    <answer>{"span": [3.0, 7.0], "boxes": {"3.0": [x1, y1, x2, y2], "4.0": [...]}}</answer>

Parsing rules specific to this format (the shared ones are in
:mod:`stvg.verifiers.formats.assemble`):

* ``<think>`` is optional and ignored; the **last complete** ``<answer>`` block is used
  (several blocks: repair); non-space text after it: repair "text after </answer> ignored".
* Errors: no ``<answer>`` block, an unterminated one, a block over
  :data:`~stvg.verifiers.formats.base.MAX_BLOCK_CHARS`, invalid JSON ("invalid JSON at char
  17: Expecting value"), JSON nested too deeply, a top level that is not an object, a
  missing ``span`` or ``boxes`` key, ``boxes`` not an object.
* Repairs: unknown top-level keys ignored; a top-level key given twice (the last wins).
  ``NaN``/``Infinity`` (accepted by Python's JSON reader) follow the shared rules: a
  non-finite span is an error, a non-finite box is dropped.

Decoding is Python's ``json`` (objects kept as their key/value pairs, so a key given twice
is seen). Batched parsing first tries a typed ``msgspec`` decoder of the common answer
(:meth:`JsonV1Format._extract_numbers`): exactly ``span`` (2 numbers) and ``boxes`` (keys
mapping to 4 numbers), each key once. It accepts only texts that ``json`` reads to the same
numbers (msgspec and Python agree on every decimal literal's float, both refuse what JSON
forbids; ``NaN``, out-of-range numbers, ``true`` and any other value type make it step
aside), so either decoder gives the same answer; anything else goes to ``json``.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import msgspec

from stvg.data.types import SecondLevelAnswer
from stvg.verifiers.formats.base import (
    MAX_BLOCK_CHARS,
    AnswerFormat,
    think_block,
    timestamps_sentence,
)
from stvg.verifiers.formats.blocks import Block, check_trailing, last_block
from stvg.verifiers.formats.context import FrameContext, NumericAnswer, RawAnswer, ShownFrames
from stvg.verifiers.formats.coords import describe, from_original, render_coord


class _Pairs(list):
    """A JSON object kept as its ``(key, value)`` pairs, so duplicate keys are visible."""


# Built once: json.loads(text, object_pairs_hook=...) builds a decoder per call.
_DECODER = json.JSONDecoder(object_pairs_hook=_Pairs)


def _decode(text: str) -> Any | str:
    """JSON value of ``text`` with objects as :class:`_Pairs`, or an error reason."""
    try:
        if text.startswith("\ufeff"):  # what json.loads checks before decoding
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
        return _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        return f"invalid JSON at char {exc.pos}: {exc.msg}"
    except RecursionError:
        return "invalid JSON: nested too deeply"
    except ValueError as exc:  # e.g. an integer literal longer than Python's digit limit
        return f"invalid JSON: {str(exc)[:80]}"


class _CommonAnswer(msgspec.Struct, forbid_unknown_fields=True):
    """The common ``json-v1`` answer object, typed: what the fast decoder accepts."""

    span: tuple[float, float]
    boxes: dict[str, tuple[float, float, float, float]]


_COMMON_DECODER = msgspec.json.Decoder(_CommonAnswer)


def _decode_common(text: str) -> NumericAnswer | None:
    """``text`` as a :class:`NumericAnswer` when it is the common answer object, else None.

    msgspec's typed decoding refuses any other structure or value type, but a key given
    twice silently keeps the last value: each ``:`` outside a string separates one pair,
    and the accepted structure has no strings but the keys, so the text holds exactly
    ``2 + len(boxes)`` colons when no key was given twice and no key holds a colon.
    """
    if text.startswith("\ufeff"):
        return None
    try:
        value = _COMMON_DECODER.decode(text)
    except (msgspec.DecodeError, UnicodeError):
        return None
    boxes = value.boxes
    if text.count(":") != 2 + len(boxes):
        return None
    start, end = value.span
    return NumericAnswer(
        start, end, list(boxes), list(itertools.chain.from_iterable(boxes.values()))
    )


class JsonV1Format(AnswerFormat):
    """``json-v1``: ``<think>...</think><answer>{"span": [...], "boxes": {...}}</answer>``.

    Args:
        coords: coordinate system of the boxes (``pixels``, ``norm1000``, ``norm1``).
    """

    name = "json-v1"
    answer_tags = ("<answer>",)

    def _extract(self, text: str, repairs: list[str]) -> RawAnswer | str:
        block = self._answer_block(text, repairs)
        return block if isinstance(block, str) else self._fields(block.content, repairs)

    def _extract_numbers(self, text: str, repairs: list[str]) -> NumericAnswer | RawAnswer | str:
        """:meth:`_extract`, with the typed fast decoder for the common answer first."""
        block = self._answer_block(text, repairs)
        if isinstance(block, str):
            return block
        numeric = _decode_common(block.content)
        return numeric if numeric is not None else self._fields(block.content, repairs)

    @staticmethod
    def _answer_block(text: str, repairs: list[str]) -> Block | str:
        """The last complete ``<answer>`` block (its repairs appended), or an error."""
        block = last_block(text, "answer", repairs, MAX_BLOCK_CHARS)
        if not isinstance(block, str):
            check_trailing(text, block.end, "answer", repairs)
        return block

    @staticmethod
    def _fields(content: str, repairs: list[str]) -> RawAnswer | str:
        """The span and boxes of the answer object ``content`` (``json``), or an error."""
        value = _decode(content)
        if isinstance(value, str):
            return value
        if not isinstance(value, _Pairs):
            return f"the answer must be a JSON object, got {type(value).__name__}"
        fields: dict[str, Any] = {}
        for key, item in value:
            if key in fields:
                repairs.append(f"key {key!r} given twice: the last value was used")
            fields[key] = item
        unknown = sorted(set(fields) - {"span", "boxes"})
        if unknown:
            listed = ", ".join(repr(k[:20]) for k in unknown[:5])
            repairs.append(f"unknown keys ignored: {listed}")
        for key in ("span", "boxes"):
            if key not in fields:
                return f'missing key "{key}" in the answer object'
        boxes = fields["boxes"]
        if not isinstance(boxes, _Pairs):
            return f'"boxes" must be an object {{"<seconds>": [x1, y1, x2, y2]}}, got {type(boxes).__name__}'
        return RawAnswer(span=fields["span"], boxes=list(boxes))

    def render(self, answer: SecondLevelAnswer, ctx: FrameContext, reasoning: str = "") -> str:
        """``json-v1`` text of ``answer``; see :meth:`AnswerFormat.render`."""
        boxes = from_original(answer.boxes_xyxy, self.coords, ctx)
        payload = {
            "span": [round(answer.span_s[0], 3), round(answer.span_s[1], 3)],
            "boxes": {
                str(round(float(t), 3)): [render_coord(v, self.coords) for v in box]
                for t, box in zip(answer.times_s, boxes, strict=True)
            },
        }
        return f"{think_block(reasoning)}<answer>{json.dumps(payload)}</answer>"

    def instructions(self, ctx: FrameContext | ShownFrames | None = None) -> str:
        """Prompt text: the exact ``json-v1`` output, its coordinates and its times."""
        example_time = "3.0"
        if ctx is not None and ctx.timestamps_s.size:
            example_time = str(round(float(ctx.timestamps_s[min(3, ctx.timestamps_s.size - 1)]), 3))
        return "\n".join(
            [
                "Answer format (json-v1): first think inside <think> </think>, then give "
                "the answer as one JSON object inside <answer> </answer>, and nothing after it:",
                "<think> your reasoning about when the event happens and which object is "
                "meant </think>",
                '<answer>{"span": [START, END], "boxes": {"' + example_time + '": '
                "[x1, y1, x2, y2], ...}}</answer>",
                "- START and END are the first and last second of the event (START <= END).",
                "- " + timestamps_sentence(ctx),
                '- "boxes" has one entry for each shown frame inside the span: the key is the '
                f'frame\'s timestamp in seconds as a string (e.g. "{example_time}"), the value '
                "the target's box [x1, y1, x2, y2] with x1 <= x2 and y1 <= y2.",
                "- " + describe(self.coords, ctx),
            ]
        )


__all__ = ["JsonV1Format"]
