"""The ``track-id`` answer format (STVG-R1, arXiv 2602.11730): an object ID and a time range.

The model never writes coordinates. Objects are tracked offline and each track's ID is
drawn beside its box on the shown frames (:mod:`stvg.render.tracks`); the model names the
target's ID and when the event happens::

    <think> ... free reasoning ... </think>
    Target ID: 3, Time range: 2.5 to 6

The answer's tube is track 3's boxes on the native frames of the span
(``frame_of_time(START)`` to ``frame_of_time(END)``), read from
:attr:`FrameContext.tracks <stvg.verifiers.formats.FrameContext>`: the parsed answer's
times are those frames' times and its boxes the track's (original-video pixels). The
verifier densifies them like every answer, so the tube *is* the track where the track has
a box; frames of the span the track misses are filled by the densify rule. The answered ID
is :attr:`ParseResult.track_id` (the ``id_match`` term compares it with the target's track).

Parsing rules (never raises):

* the text after the last ``</think>`` is the answer (no ``<think>``: the whole text);
* the **strict** form, ``Target ID: K, Time range: START to END`` and nothing else (an
  ``s`` after a number allowed), is well formed;
* otherwise the last ``target id`` (any case, ``:``, ``=`` or nothing after it, ``#`` or
  a bracket before the number) and the last ``time range`` (``START to END``,
  ``START - END`` or ``START, END``, in brackets or not) are used, with the repair
  "answer not in the exact form ...";  several of either: also "N target IDs: the last
  was used";
* no target ID or no time range: an error naming what is missing;
* the span follows the shared rules (:mod:`stvg.verifiers.formats.assemble`: a reversed
  or non-finite span, or one wholly outside the video, is an error; partly outside:
  clipped, a repair);
* no tracks in the context (the env draws none): an error;
* an ID that is not a track of the video: a usable answer **without boxes** (tIoU still
  scores, vIoU 0) with the repair "target ID K is not a track of this video".

Rendering (SFT targets, the ground-truth answer) writes the ID of the track that matches
the answer's boxes best (:func:`stvg.data.tracks.match_track`, mean IoU over the answer's
times) and the answer's span.
"""

from __future__ import annotations

import re

import numpy as np

from stvg.data.timing import frame_of_time, time_of_frame
from stvg.data.tracks import match_track
from stvg.data.types import SecondLevelAnswer
from stvg.verifiers.formats.assemble import NUMBER_PATTERN, assemble
from stvg.verifiers.formats.base import (
    AnswerFormat,
    format_seconds,
    refuse_text,
    think_block,
    timestamps_sentence,
)
from stvg.verifiers.formats.context import FrameContext, ParseResult, RawAnswer, ShownFrames

_NUM = rf"({NUMBER_PATTERN})\s{{0,5}}s?"
_STRICT = re.compile(rf"\s*Target ID: ([0-9]{{1,9}}), Time range: {_NUM} to {_NUM}\s*")
_ID = re.compile(r"target[ _-]?id\s{0,5}[:=]?\s{0,5}[#\[(]?\s{0,5}([0-9]{1,9})", re.IGNORECASE)
_RANGE = re.compile(
    rf"time[ _-]?range\s{{0,5}}[:=]?\s{{0,5}}[\[(]?\s{{0,5}}{_NUM}\s{{0,5}}(?:to|-|–|,)\s{{0,5}}{_NUM}",
    re.IGNORECASE,
)
_EXACT = "'Target ID: K, Time range: START to END'"


class TrackIdFormat(AnswerFormat):
    """``track-id``: ``Target ID: K, Time range: START to END`` (STVG-R1; module doc).

    Args:
        coords: accepted for a uniform constructor; the format has no coordinates.
    """

    name = "track-id"
    answer_tags = ("Target ID",)

    def parse(self, text: str, ctx: FrameContext) -> ParseResult:
        """Parse ``text`` shown ``ctx`` (module doc); never raises for any ``str``."""
        if (refused := refuse_text(text)) is not None:
            return refused
        repairs: list[str] = []
        found = self._find(text, repairs)
        if isinstance(found, str):
            return ParseResult.failure(found, repairs)
        track_id, start, end = found
        return track_parse(track_id, start, end, ctx, repairs, coords=self.coords)

    @staticmethod
    def _find(text: str, repairs: list[str]) -> tuple[int, float, float] | str:
        """``(track id, start, end)`` of ``text``, or the error reason."""
        cut = text.rfind("</think>")
        body = text[cut + len("</think>") :] if cut >= 0 else text
        strict = _STRICT.fullmatch(body) if len(body) <= 400 else None
        if strict is not None:
            return int(strict.group(1)), float(strict.group(2)), float(strict.group(3))
        ids = list(_ID.finditer(body))
        ranges = list(_RANGE.finditer(body))
        if not ids:
            return "no target ID (expected " + _EXACT + ")"
        if not ranges:
            return "no time range (expected " + _EXACT + ")"
        repairs.append(f"answer not in the exact form {_EXACT}")
        if len(ids) > 1:
            repairs.append(f"{len(ids)} target IDs: the last was used")
        if len(ranges) > 1:
            repairs.append(f"{len(ranges)} time ranges: the last was used")
        last = ranges[-1]
        return int(ids[-1].group(1)), float(last.group(1)), float(last.group(2))

    def _extract(self, text: str, repairs: list[str]) -> RawAnswer | str:
        """The span alone (the boxes come from the tracks, in :meth:`parse`)."""
        found = self._find(text, repairs)
        if isinstance(found, str):
            return found
        return RawAnswer([found[1], found[2]], [])

    def render(
        self,
        answer: SecondLevelAnswer,
        ctx: FrameContext,
        reasoning: str = "",
        track_id: int | None = None,
    ) -> str:
        """``Target ID: K, Time range: START to END`` of ``answer``: ``K`` is ``track_id``,
        or (``None``) the track that matches the answer's boxes best.

        Raises:
            ValueError: ``track_id`` is ``None`` and ``ctx`` has no tracks, or no track
                overlaps the answer's boxes.
        """
        if track_id is None:
            if ctx.tracks is None:
                raise ValueError("track-id: the context has no tracks to name the answer's ID")
            frames = np.array(
                [frame_of_time(t, ctx.native_fps, ctx.num_frames) for t in answer.times_s],
                dtype=np.int64,
            )
            track_id, mean = match_track(ctx.tracks, frames, answer.boxes_xyxy)
            if track_id is None or mean <= 0.0:
                raise ValueError(
                    f"track-id: no track of video {ctx.tracks.video!r} overlaps the answer's boxes"
                )
        start, end = (format_seconds(t) for t in answer.span_s)
        return f"{think_block(reasoning)}Target ID: {int(track_id)}, Time range: {start} to {end}"

    def instructions(self, ctx: FrameContext | ShownFrames | None = None) -> str:
        """Prompt text: the IDs drawn on the frames, the exact answer line and its times."""
        return "\n".join(
            [
                "Answer format (track-id): every object in the frames is outlined by a box "
                "with its ID number written on a label just above the box. First think "
                "inside <think> </think>, then write exactly one line and nothing after it:",
                "<think> your reasoning about when the event happens and which object is "
                "meant </think>",
                "Target ID: K, Time range: START to END",
                "- K is the ID number drawn beside the target object's box.",
                "- START and END are the first and last second of the event (START <= END).",
                "- " + timestamps_sentence(ctx),
            ]
        )


def track_parse(
    track_id: int,
    start: float,
    end: float,
    ctx: FrameContext,
    repairs: list[str] | None = None,
    *,
    coords: str = "norm1",
) -> ParseResult:
    """The parsed answer "track ``track_id`` from ``start`` to ``end`` seconds" (module doc).

    The one place both forms of a track-id answer are scored from: the text format's
    :meth:`TrackIdFormat.parse` and the env's struct action
    (:func:`stvg.envs.answers.track_struct_to_parse`).

    Args:
        track_id: the answered track's ID.
        start, end: the span, seconds, as given (the shared span rules judge it).
        ctx: what the episode showed (its ``tracks`` give the tube).
        repairs: repairs made so far (the text's); copied, not changed.
        coords: passed to the span's assembly (a span has no coordinates).

    Returns:
        The answer with :attr:`ParseResult.track_id`; never raises.
    """
    repairs = list(repairs or [])
    span = assemble(RawAnswer([start, end], []), ctx, coords, repairs)
    if span.answer is None:
        return span
    if ctx.tracks is None:
        return ParseResult.failure(
            "no tracks were drawn on the frames (the track-id format needs the env's tracks key)",
            span.repairs,
        )
    start, end = span.answer.span_s
    all_repairs = list(span.repairs)
    if track_id not in ctx.tracks.tracks:
        all_repairs.append(f"target ID {track_id} is not a track of this video: no boxes")
        times, boxes = np.zeros(0), np.zeros((0, 4))
    else:
        first = frame_of_time(start, ctx.native_fps, ctx.num_frames)
        last = max(first, frame_of_time(end, ctx.native_fps, ctx.num_frames))
        tube = ctx.tracks.inside(track_id, first, last)
        times = np.asarray(time_of_frame(tube.frame_idx, ctx.native_fps), dtype=np.float64)
        boxes = tube.boxes_xyxy
    answer = SecondLevelAnswer(span_s=(start, end), times_s=times, boxes_xyxy=boxes)
    return ParseResult(
        answer, None, tuple(all_repairs), format_ok=not all_repairs, track_id=track_id
    )


__all__ = ["TrackIdFormat", "track_parse"]
