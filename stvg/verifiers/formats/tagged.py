"""The ``tagged`` answer format (STVG-o1 style).

::

    <think> ... free reasoning ... </think>
    <time>3 - 7</time>
    <boxes>3: [x1, y1, x2, y2], 4: [x1, y1, x2, y2]</boxes>

Parsing rules specific to this format (the shared ones are in
:mod:`stvg.verifiers.formats.assemble`):

* ``<think>`` is optional and ignored; the **last complete** ``<time>`` and ``<boxes>``
  blocks are used (several: repair); non-space text after the later of the two: repair.
* ``<time>`` holds ``START - END`` (the dash may also be ``–``, ``—`` or ``to``; an ``s``
  after a number is allowed). Anything else there is an error, as is a missing or
  unterminated ``<time>`` or ``<boxes>`` block, or a block over
  :data:`~stvg.verifiers.formats.base.MAX_BLOCK_CHARS` characters.
* ``<boxes>`` holds ``SECONDS: [x1, y1, x2, y2]`` entries separated by commas, semicolons
  or new lines (``3s: [...]`` is accepted too). A list that is not 4 plain numbers drops its box (repair); text that is
  not part of an entry is ignored (repair "unparsed text in <boxes> ignored").
* Numbers are plain decimals (``NaN``/``inf`` are not numbers here: the box is dropped).
"""

from __future__ import annotations

import re

from stvg.data.types import SecondLevelAnswer
from stvg.verifiers.formats.assemble import NUMBER_PATTERN, parse_number
from stvg.verifiers.formats.base import (
    MAX_BLOCK_CHARS,
    AnswerFormat,
    format_seconds,
    think_block,
    timestamps_sentence,
)
from stvg.verifiers.formats.blocks import check_trailing, last_block
from stvg.verifiers.formats.context import FrameContext, RawAnswer, ShownFrames
from stvg.verifiers.formats.coords import describe, from_original, render_coord

# ``START - END`` inside <time> (the block is at most _MAX_TIME_CHARS long).
_TIME = re.compile(
    rf"({NUMBER_PATTERN})\s{{0,5}}s?\s{{0,5}}(?:-|–|—|to)\s{{0,5}}({NUMBER_PATTERN})\s{{0,5}}s?"
)
_MAX_TIME_CHARS = 200
# One ``KEY: [LIST]`` entry; every part is bounded, so a scan is linear in the block.
_ENTRY = re.compile(r"([^:\[\]<>]{0,40}):\s{0,20}\[([^\[\]]{0,200})\]")
_SEPARATORS = " \t\r\n,;"


def _box_values(text: str) -> list[float] | str:
    """Four numbers from ``"x1, y1, x2, y2"``, or ``text`` itself when it is not that."""
    parts = text.split(",")
    if len(parts) != 4:
        return text
    values = [parse_number(p) for p in parts]
    if any(v is None for v in values):
        return text
    return [float(v) for v in values if v is not None]


def span_numbers(text: str) -> tuple[float, float] | None:
    """``(start, end)`` of a ``<time>`` block's ``START - END`` text, or ``None``."""
    text = text.strip()
    match = _TIME.fullmatch(text) if len(text) <= _MAX_TIME_CHARS else None
    return None if match is None else (float(match.group(1)), float(match.group(2)))


def shorten(text: str) -> str:
    """``repr`` of a block's stripped text, cut to 40 characters (for error reasons)."""
    text = text.strip()
    return repr(text if len(text) <= 40 else text[:37] + "...")


def box_entries(content: str, tag: str, repairs: list[str]) -> list[tuple[str, object]]:
    """The ``SECONDS: [x1, y1, x2, y2]`` entries of a block's ``content``, in text order.

    Each entry is ``(time key text, 4 floats)``, or ``(key, the list's text)`` when the
    list is not 4 plain numbers (the shared rules drop that box). Text that is not part of
    an entry appends the repair "unparsed text in <tag> ignored" to ``repairs``.
    """
    entries: list[tuple[str, object]] = []
    previous_end = 0
    unparsed = False
    for entry in _ENTRY.finditer(content):
        if content[previous_end : entry.start()].strip(_SEPARATORS):
            unparsed = True
        previous_end = entry.end()
        key = entry.group(1).strip(_SEPARATORS)
        key = key[:-1].rstrip() if key.endswith("s") else key
        entries.append((key, _box_values(entry.group(2))))
    if content[previous_end:].strip(_SEPARATORS):
        unparsed = True
    if unparsed:
        repairs.append(f"unparsed text in <{tag}> ignored")
    return entries


def render_entries(answer: SecondLevelAnswer, coords: str, ctx: FrameContext) -> str:
    """``T: [x1, y1, x2, y2], ...`` of ``answer``'s boxes in ``coords`` (times in seconds)."""
    boxes = from_original(answer.boxes_xyxy, coords, ctx)
    return ", ".join(
        f"{format_seconds(t)}: [{', '.join(str(render_coord(v, coords)) for v in box)}]"
        for t, box in zip(answer.times_s, boxes, strict=True)
    )


class TaggedFormat(AnswerFormat):
    """``tagged``: ``<time>START - END</time>`` then ``<boxes>T: [x1, y1, x2, y2], ...</boxes>``.

    Args:
        coords: coordinate system of the boxes (``pixels``, ``norm1000``, ``norm1``).
    """

    name = "tagged"
    answer_tags = ("<time>", "<boxes>")

    def _extract(self, text: str, repairs: list[str]) -> RawAnswer | str:
        time_block = last_block(text, "time", repairs, MAX_BLOCK_CHARS)
        if isinstance(time_block, str):
            return time_block
        boxes_block = last_block(text, "boxes", repairs, MAX_BLOCK_CHARS)
        if isinstance(boxes_block, str):
            return boxes_block
        if time_block.end > boxes_block.end:
            check_trailing(text, time_block.end, "time", repairs)
        else:
            check_trailing(text, boxes_block.end, "boxes", repairs)
        span = span_numbers(time_block.content)
        if span is None:
            return f"<time> must hold 'START - END' in seconds, got {shorten(time_block.content)}"
        entries = box_entries(boxes_block.content, "boxes", repairs)
        return RawAnswer(span=list(span), boxes=entries)

    def render(self, answer: SecondLevelAnswer, ctx: FrameContext, reasoning: str = "") -> str:
        """``tagged`` text of ``answer``; see :meth:`AnswerFormat.render`."""
        entries = render_entries(answer, self.coords, ctx)
        start, end = (format_seconds(t) for t in answer.span_s)
        return f"{think_block(reasoning)}<time>{start} - {end}</time>\n<boxes>{entries}</boxes>"

    def instructions(self, ctx: FrameContext | ShownFrames | None = None) -> str:
        """Prompt text: the exact ``tagged`` output, its coordinates and its times."""
        example = "3"
        if ctx is not None and ctx.timestamps_s.size:
            example = format_seconds(ctx.timestamps_s[min(3, ctx.timestamps_s.size - 1)])
        return "\n".join(
            [
                "Answer format (tagged): first think inside <think> </think>, then give the "
                "time span inside <time> </time> and the boxes inside <boxes> </boxes>, and "
                "nothing after them:",
                "<think> your reasoning about when the event happens and which object is "
                "meant </think>",
                "<time>START - END</time>",
                f"<boxes>{example}: [x1, y1, x2, y2], ...</boxes>",
                "- START and END are the first and last second of the event (START <= END).",
                "- " + timestamps_sentence(ctx),
                "- <boxes> has one entry for each shown frame inside the span, separated by "
                f"commas: the frame's timestamp in seconds (e.g. {example}), a colon, and the "
                "target's box [x1, y1, x2, y2] with x1 <= x2 and y1 <= y2.",
                "- " + describe(self.coords, ctx),
            ]
        )


__all__ = ["TaggedFormat", "box_entries", "render_entries", "shorten", "span_numbers"]
