"""The ``draft-final`` answer format (STVG-o1, arXiv 2511.21375).

The model writes the time span, then a *draft* list of boxes, then the *final* list, each
with one box per sampled frame of the span::

    <think> ... free reasoning ... </think>
    <time>[3, 7]</time>
    <think bbox>3: [x1, y1, x2, y2], 4: [x1, y1, x2, y2], ...</think bbox>
    <pred bbox>3: [x1, y1, x2, y2], 4: [x1, y1, x2, y2], ...</pred bbox>

The final list (``<pred bbox>``) is the answer: the densified tube, tIoU, vIoU and every
term score it. The draft list (``<think bbox>``) is parsed by the same rules into
:attr:`~stvg.verifiers.formats.ParseResult.draft` (an answer with the same span), for the
terms that compare the two lists: ``think_gain`` (the final list's spatial reward minus the
draft's) and ``box_consistency`` (both lists cover exactly the sampled frames of the span).

Parsing rules specific to this format (the shared ones are in
:mod:`stvg.verifiers.formats.assemble`):

* ``<think>`` is optional and ignored; the **last complete** ``<time>``, ``<think bbox>``
  and ``<pred bbox>`` blocks are used (several: repair). A missing or unterminated block
  is an error (both lists are part of the format), as is a block over
  :data:`~stvg.verifiers.formats.base.MAX_BLOCK_CHARS` characters. Blocks that are not in
  the order ``<time>``, ``<think bbox>``, ``<pred bbox>``: repair; non-space text after
  the last block: repair.
* ``<time>`` holds ``[START, END]`` (``START - END``, as in ``tagged``, is accepted too; an
  ``s`` after a number is allowed). Anything else there is an error.
* Both lists hold ``SECONDS: [x1, y1, x2, y2]`` entries separated by commas, semicolons or
  new lines, read as in ``tagged`` (:func:`~stvg.verifiers.formats.tagged.box_entries`).
* The final list is assembled first: its span rules decide the answer's span (clipped to
  the video, or an error). The draft list is assembled on that span; its repairs are
  recorded with the prefix ``"draft: "``. ``format_ok`` needs both lists without repair.

Rendering writes ``answer``'s boxes in the final list and ``draft``'s (default: the same
boxes) in the draft list: a ground-truth SFT target has the ground truth in both lists.
"""

from __future__ import annotations

import re

from stvg.data.types import SecondLevelAnswer
from stvg.verifiers.formats.assemble import NUMBER_PATTERN, assemble
from stvg.verifiers.formats.base import (
    MAX_BLOCK_CHARS,
    AnswerFormat,
    format_seconds,
    refuse_text,
    think_block,
    timestamps_sentence,
)
from stvg.verifiers.formats.blocks import Block, check_trailing, last_block
from stvg.verifiers.formats.context import FrameContext, ParseResult, RawAnswer, ShownFrames
from stvg.verifiers.formats.coords import describe
from stvg.verifiers.formats.tagged import box_entries, render_entries, shorten, span_numbers

# ``[START, END]`` inside <time> (the block is at most _MAX_TIME_CHARS long).
_BRACKETS = re.compile(
    rf"\[\s{{0,5}}({NUMBER_PATTERN})\s{{0,5}}s?\s{{0,5}},\s{{0,5}}({NUMBER_PATTERN})\s{{0,5}}s?\s{{0,5}}\]"
)
_MAX_TIME_CHARS = 200
#: The tags of the three blocks, in the order the model writes them.
TIME_TAG, DRAFT_TAG, FINAL_TAG = "time", "think bbox", "pred bbox"
_TAGS = (TIME_TAG, DRAFT_TAG, FINAL_TAG)
#: Prefix of the draft list's repairs.
DRAFT_PREFIX = "draft: "


def _span(text: str) -> tuple[float, float] | None:
    """``(start, end)`` of a ``<time>`` block: ``[START, END]`` or ``START - END``."""
    stripped = text.strip()
    match = _BRACKETS.fullmatch(stripped) if len(stripped) <= _MAX_TIME_CHARS else None
    if match is not None:
        return float(match.group(1)), float(match.group(2))
    return span_numbers(stripped)


def _start(block: Block, tag: str) -> int:
    """Index of the opening tag of ``block``."""
    return block.end - len(f"</{tag}>") - len(block.content) - len(f"<{tag}>")


class DraftFinalFormat(AnswerFormat):
    """``draft-final``: ``<time>[START, END]</time>``, a draft ``<think bbox>`` list, then the
    final ``<pred bbox>`` list of ``T: [x1, y1, x2, y2]`` entries (STVG-o1).

    Args:
        coords: coordinate system of the boxes (``pixels``, ``norm1000``, ``norm1``).
    """

    name = "draft-final"
    answer_tags = ("<time>", "<think bbox>", "<pred bbox>")

    def parse(self, text: str, ctx: FrameContext) -> ParseResult:
        """Parse both lists of ``text`` shown ``ctx``; never raises for any ``str``.

        Returns:
            A :class:`ParseResult` whose ``answer`` is the final list and ``draft`` the
            draft list (same span), or an error reason.
        """
        if (refused := refuse_text(text)) is not None:
            return refused
        repairs: list[str] = []
        found = self._lists(text, repairs)
        if isinstance(found, str):
            return ParseResult.failure(found, repairs)
        span, draft_entries, final_entries = found
        final = assemble(RawAnswer(list(span), final_entries), ctx, self.coords, repairs)
        if final.answer is None:
            return final
        start, end = final.answer.span_s
        draft = assemble(RawAnswer([start, end], draft_entries), ctx, self.coords, [])
        if draft.answer is None:  # unreachable: the span rules accepted this span already
            return ParseResult.failure(f"<think bbox>: {draft.error}", final.repairs)
        all_repairs = final.repairs + tuple(DRAFT_PREFIX + r for r in draft.repairs)
        return ParseResult(
            final.answer, None, all_repairs, format_ok=not all_repairs, draft=draft.answer
        )

    def _extract(self, text: str, repairs: list[str]) -> RawAnswer | str:
        """The span and the final list (what :meth:`AnswerFormat.parse` would score)."""
        found = self._lists(text, repairs)
        if isinstance(found, str):
            return found
        span, _, final_entries = found
        return RawAnswer(list(span), final_entries)

    @staticmethod
    def _lists(
        text: str, repairs: list[str]
    ) -> tuple[tuple[float, float], list[tuple[str, object]], list[tuple[str, object]]] | str:
        """The span, the draft entries and the final entries of ``text``, or an error."""
        blocks: list[Block] = []
        for tag in _TAGS:
            block = last_block(text, tag, repairs, MAX_BLOCK_CHARS)
            if isinstance(block, str):
                return block
            blocks.append(block)
        time_block, draft_block, final_block = blocks
        if not (
            time_block.end <= _start(draft_block, DRAFT_TAG)
            and draft_block.end <= _start(final_block, FINAL_TAG)
        ):
            repairs.append("blocks out of order (expected <time>, <think bbox>, <pred bbox>)")
        last = max(range(3), key=lambda k: blocks[k].end)
        check_trailing(text, blocks[last].end, _TAGS[last], repairs)
        span = _span(time_block.content)
        if span is None:
            return f"<time> must hold '[START, END]' in seconds, got {shorten(time_block.content)}"
        draft = box_entries(draft_block.content, DRAFT_TAG, repairs)
        final = box_entries(final_block.content, FINAL_TAG, repairs)
        return span, draft, final

    def render(
        self,
        answer: SecondLevelAnswer,
        ctx: FrameContext,
        reasoning: str = "",
        draft: SecondLevelAnswer | None = None,
    ) -> str:
        """``draft-final`` text of ``answer`` (the final list) and ``draft`` (the draft
        list; ``None``: ``answer``'s boxes again); see :meth:`AnswerFormat.render`."""
        start, end = (format_seconds(t) for t in answer.span_s)
        draft_entries = render_entries(answer if draft is None else draft, self.coords, ctx)
        return (
            f"{think_block(reasoning)}<time>[{start}, {end}]</time>\n"
            f"<think bbox>{draft_entries}</think bbox>\n"
            f"<pred bbox>{render_entries(answer, self.coords, ctx)}</pred bbox>"
        )

    def instructions(self, ctx: FrameContext | ShownFrames | None = None) -> str:
        """Prompt text: the exact ``draft-final`` output, its coordinates and its times."""
        example = "3"
        if ctx is not None and ctx.timestamps_s.size:
            example = format_seconds(ctx.timestamps_s[min(3, ctx.timestamps_s.size - 1)])
        return "\n".join(
            [
                "Answer format (draft-final): first think inside <think> </think>, then give "
                "the time span inside <time> </time>, a first draft of the boxes inside "
                "<think bbox> </think bbox>, and the refined final boxes inside "
                "<pred bbox> </pred bbox>, and nothing after them:",
                "<think> your reasoning about when the event happens and which object is "
                "meant </think>",
                "<time>[START, END]</time>",
                f"<think bbox>{example}: [x1, y1, x2, y2], ...</think bbox>",
                f"<pred bbox>{example}: [x1, y1, x2, y2], ...</pred bbox>",
                "- START and END are the first and last second of the event (START <= END).",
                "- " + timestamps_sentence(ctx),
                "- <think bbox> and <pred bbox> each have one entry for every shown frame "
                "from START to END, separated by commas: the frame's timestamp in seconds "
                f"(e.g. {example}), a colon, and the target's box [x1, y1, x2, y2] with "
                "x1 <= x2 and y1 <= y2. <think bbox> is your draft; <pred bbox> is your "
                "answer, scored against the ground truth.",
                "- " + describe(self.coords, ctx),
            ]
        )


__all__ = ["DRAFT_PREFIX", "DraftFinalFormat"]
