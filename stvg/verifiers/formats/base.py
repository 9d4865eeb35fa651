"""Answer-format base types: what the model was shown, parse results, the format protocol.

An :class:`AnswerFormat` gives a prompt its output instructions, parses model text into a
:class:`~stvg.data.types.SecondLevelAnswer` without ever raising, and renders an answer
back to text (SFT targets, oracle text policies, tests). The rules shared by every format
(which inputs are repaired and which are errors) are in :mod:`stvg.verifiers.formats.assemble`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from stvg.data.types import SecondLevelAnswer
from stvg.verifiers.formats.assemble import assemble
from stvg.verifiers.formats.context import (
    FrameContext,
    NumericAnswer,
    ParseResult,
    RawAnswer,
    ShownFrames,
)
from stvg.verifiers.formats.coords import check_coords

# Texts longer than this are rejected outright (a reason, no quadratic work): characters.
MAX_TEXT_CHARS = 1_000_000
# Answer blocks longer than this are rejected: characters.
MAX_BLOCK_CHARS = 100_000


class AnswerFormat(ABC):
    """A text answer format: prompt instructions, a never-raising parser and a renderer.

    Subclasses set :attr:`name` and :attr:`answer_tags` and implement :meth:`_extract`, :meth:`render` and
    :meth:`instructions`; :meth:`parse` applies the shared rules of
    :mod:`stvg.verifiers.formats.assemble`.

    Args:
        coords: the coordinate system of boxes in the text (``pixels`` of the frames as
            shown, ``norm1000`` or ``norm1``; see :mod:`stvg.verifiers.formats.coords`).
    """

    name: ClassVar[str]
    #: The opening tags of the answer blocks: the answer starts at the earliest of the last
    #: occurrences of each (what precedes it is the reasoning).
    answer_tags: ClassVar[tuple[str, ...]]

    def __init__(self, coords: str = "pixels") -> None:
        self.coords = check_coords(coords)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(coords={self.coords!r})"

    def parse(self, text: str, ctx: FrameContext) -> ParseResult:
        """Parse model ``text`` shown ``ctx``; never raises for any ``str``.

        Returns:
            A :class:`ParseResult`: an answer in original-video pixels and seconds, or an
            error reason; plus the repairs applied and whether the text was well formed.
        """
        if (refused := refuse_text(text)) is not None:
            return refused
        repairs: list[str] = []
        raw = self._extract(text, repairs)
        if isinstance(raw, str):
            return ParseResult.failure(raw, repairs)
        return assemble(raw, ctx, self.coords, repairs)

    @abstractmethod
    def _extract(self, text: str, repairs: list[str]) -> RawAnswer | str:
        """Find the span and the boxes in ``text``; an error reason (str) on failure.

        Appends format-level repairs (several blocks, trailing text, ...) to ``repairs``.
        Must not raise for any ``str`` of at most :data:`MAX_TEXT_CHARS` characters.
        """

    def _extract_numbers(self, text: str, repairs: list[str]) -> NumericAnswer | RawAnswer | str:
        """:meth:`_extract`, or for a well-formed text the same answer already in numbers.

        Batched parsing (:func:`stvg.verifiers.batch_parse.parse_batch`) calls this; a
        format with a fast decoder for its common case returns a :class:`NumericAnswer`
        there (appending the same repairs as :meth:`_extract`), and
        ``self._extract(text, [])`` must then give the :class:`RawAnswer` of those numbers.
        The default is :meth:`_extract`.
        """
        return self._extract(text, repairs)

    @abstractmethod
    def render(self, answer: SecondLevelAnswer, ctx: FrameContext, reasoning: str = "") -> str:
        """The text of ``answer`` in this format (boxes converted to :attr:`coords`).

        ``parse(render(a, ctx), ctx)`` gives back ``a`` up to coordinate rounding when
        ``a``'s times are shown timestamps inside its span. An empty ``reasoning`` omits
        the ``<think>`` block.
        """

    @abstractmethod
    def instructions(self, ctx: FrameContext | ShownFrames | None = None) -> str:
        """The prompt text describing the exact output format, coordinates and times."""


def refuse_text(text: object) -> ParseResult | None:
    """The parse failure of an answer that is not a ``str`` or is longer than
    :data:`MAX_TEXT_CHARS`; ``None`` for a text every format must parse without raising."""
    if not isinstance(text, str):
        return ParseResult.failure(f"answer text is {type(text).__name__}, not str")
    if len(text) > MAX_TEXT_CHARS:
        return ParseResult.failure(f"answer text too long: {len(text)} chars > {MAX_TEXT_CHARS}")
    return None


def think_block(reasoning: str) -> str:
    """``<think>\\n...\\n</think>\\n`` for a non-empty ``reasoning``, else ``""``."""
    return f"<think>\n{reasoning}\n</think>\n" if reasoning else ""


def format_seconds(time_s: float) -> str:
    """Seconds rounded to milliseconds, as compact text: ``3.0 -> "3"``, ``3.003 -> "3.003"``."""
    text = f"{round(float(time_s), 3):.3f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def timestamps_sentence(ctx: FrameContext | ShownFrames | None) -> str:
    """One prompt sentence listing where the shown timestamps lie (first, last, interval)."""
    if ctx is None or ctx.timestamps_s.size == 0:
        return "Times are in seconds, read from the timestamps of the frames you were shown."
    first, last = ctx.timestamps_s[0], ctx.timestamps_s[-1]
    return (
        f"Times are in seconds, read from the timestamps of the {ctx.timestamps_s.size} "
        f"frames you were shown ({format_seconds(first)} s to {format_seconds(last)} s, "
        f"every {format_seconds(ctx.interval_s)} s)."
    )


__all__ = [
    "MAX_BLOCK_CHARS",
    "MAX_TEXT_CHARS",
    "refuse_text",
    "AnswerFormat",
    "FrameContext",
    "ParseResult",
    "RawAnswer",
    "format_seconds",
    "think_block",
    "timestamps_sentence",
]
