"""Ground-truth replacement: a teacher's text -> a target whose every time and box is GT.

:func:`replace_with_gt` takes one teacher text and, in this order:

1. **parses** the teacher's answer with the contract's own parser
   (:meth:`~stvg.verifiers.formats.AnswerContract.parse`, any answer format); a
   text without a usable answer is a *failure* with a reason (``teacher_error``,
   ``empty``, ``refusal``, ``truncated``, ``no_answer_block``, ``unparsable``);
2. **scores** that answer against the sample *before* any replacement (the env verifier's
   tIoU and vIoU: a free evaluation of the teacher);
3. decides **keep or drop** (``keep="consistent"``: the teacher span must overlap the GT
   span, tIoU > 0, and the teacher's boxes at shown frames inside the GT span must have a
   mean IoU >= ``min_box_iou`` with the GT boxes; otherwise ``span_misses_gt`` or
   ``boxes_off_target``);
4. **replaces** every time and box found in the reasoning (the text before the answer
   block, ``<think>`` tags removed) by ground-truth values in the contract's coordinates,
   with :func:`find_mentions`:

   * a range (``from 2 to 5 seconds``, ``2 - 5 s``, ``2s-5s``) -> the GT span start and end;
   * a single time followed by a box in the same sentence (``At 3 s it is at [..]``) is a
     frame time -> the GT answer time (a shown timestamp inside the GT span) nearest to it;
   * any other single time (``at 3 s``, ``3.0s``) -> the GT span start or end, whichever
     the teacher's time is nearer to among the teacher's own span start and end;
   * a box ``[x1, y1, x2, y2]`` -> the GT box at the frame time its sentence names (after
     replacement); without one, at the GT answer time nearest to the time of the teacher's
     answer box it is closest to (smallest L1 distance);

   and logs each one as ``{"kind": "time" | "box", "teacher": ..., "replaced_by": ...}``;
5. **rewrites** the answer block from :meth:`~stvg.verifiers.formats.AnswerContract.gt_answer`:
   the target is ``contract.render(gt, reasoning)``.

A failed or dropped trajectory has ``target=None``: it is written to the records file with
its reason and left out of the SFT targets (an answer-only GT target would train on a
sample the teacher could not reason about; ``stvg train-sft --write-targets`` gives those).
Nothing here raises for any teacher text.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np

from stvg.data.types import Sample, SecondLevelAnswer
from stvg.synthesis.teachers.scene import box_text
from stvg.verifiers.formats.base import format_seconds
from stvg.verifiers.formats.coords import to_original
from stvg.verifiers.formats.registry import FORMATS
from stvg.verifiers.iou import box_iou

_NUM = r"-?\d+(?:\.\d+)?"
_UNIT = r"\s?(?:seconds|second|secs|sec|s)\b"
_BOX = re.compile(rf"\[\s*({_NUM})\s*,\s*({_NUM})\s*,\s*({_NUM})\s*,\s*({_NUM})\s*\]")
_RANGE = re.compile(rf"(?<![\w.])({_NUM})(?:{_UNIT})?\s*(?:-|–|—|to|and|until)\s*({_NUM}){_UNIT}")
_TIME = re.compile(rf"(?<![\w.])({_NUM}){_UNIT}")
_REFUSAL = re.compile(
    r"\b(I can ?not|I can't|I cannot|I'm sorry|I am sorry|I'm unable|I am unable|"
    r"unable to (help|assist)|cannot (help|assist))\b",
    re.IGNORECASE,
)
# Most characters between a frame time and the box its sentence gives.
_FRAME_TIME_GAP = 60


@dataclass(frozen=True)
class Mention:
    """A time or box written in the reasoning.

    Attributes:
        kind: ``range`` (two times), ``time`` or ``box``.
        start, end: character offsets of the mention in the reasoning text.
        values: the numbers (seconds, or box coordinates in the contract's system).
        groups: ``(start, end)`` offsets of each number inside the text.
    """

    kind: Literal["range", "time", "box"]
    start: int
    end: int
    values: tuple[float, ...]
    groups: tuple[tuple[int, int], ...]


def find_mentions(text: str) -> list[Mention]:
    """Boxes, time ranges and single times in ``text``, in text order, not overlapping.

    >>> mentions = find_mentions("From 2 to 5 seconds; at 3.0s: [1, 2, 3, 4]")
    >>> tuple((m.kind, m.values) for m in mentions)
    (('range', (2.0, 5.0)), ('time', (3.0,)), ('box', (1.0, 2.0, 3.0, 4.0)))
    """
    taken = np.zeros(len(text) + 1, dtype=bool)
    found: list[Mention] = []
    for kind, pattern in (("box", _BOX), ("range", _RANGE), ("time", _TIME)):
        for match in pattern.finditer(text):
            if taken[match.start() : match.end()].any():
                continue
            taken[match.start() : match.end()] = True
            n = pattern.groups
            found.append(
                Mention(
                    kind,  # type: ignore[arg-type]
                    match.start(),
                    match.end(),
                    tuple(float(match.group(i)) for i in range(1, n + 1)),
                    tuple(match.span(i) for i in range(1, n + 1)),
                )
            )
    return sorted(found, key=lambda m: m.start)


@dataclass
class Outcome:
    """What became of one teacher text.

    Attributes:
        target: the SFT target text (GT-replaced reasoning + GT answer), or ``None`` when
            the trajectory failed or was dropped.
        reasoning: the reasoning after replacement (``""`` when there is none).
        replacements: the log, one ``{"kind", "teacher", "replaced_by"}`` per mention.
        parsed: whether the teacher's answer was usable.
        teacher_t_iou, teacher_v_iou: the teacher's scores before replacement (``None``
            without a usable answer).
        teacher_box_iou: mean IoU of the teacher's boxes inside the GT span (``None``
            without a usable answer or without a box there).
        kept: whether ``target`` goes into the SFT targets.
        drop_reason: why not (a failure reason or a ``keep`` drop reason).
        detail: the parser's or the teacher's message for a failure.
    """

    target: str | None
    reasoning: str = ""
    replacements: list[dict[str, str]] = field(default_factory=list)
    parsed: bool = False
    teacher_t_iou: float | None = None
    teacher_v_iou: float | None = None
    teacher_box_iou: float | None = None
    kept: bool = False
    drop_reason: str | None = None
    detail: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON friendly)."""
        return asdict(self)


#: Reasons of a trajectory without a usable teacher answer.
FAILURE_REASONS: tuple[str, ...] = (
    "teacher_error",
    "empty",
    "refusal",
    "truncated",
    "no_answer_block",
    "unparsable",
)
#: Reasons of a parsable trajectory dropped by ``keep: consistent``.
DROP_REASONS: tuple[str, ...] = ("span_misses_gt", "boxes_off_target")


def failure_reason(text: str | None, parse_error: str | None) -> str:
    """The failure class of a teacher text without a usable answer."""
    if text is None:
        return "teacher_error"
    if not text.strip():
        return "empty"
    if _REFUSAL.search(text[:2000]):
        return "refusal"
    error = parse_error or ""
    if error.startswith("unterminated"):
        return "truncated"
    if error.startswith("no <"):
        return "no_answer_block"
    return "unparsable"


def answer_start(text: str, answer_format: str) -> int:
    """Offset where the (last) answer block starts: the earliest of the last occurrences of
    the format's answer tags (``<answer>`` for json-v1; ``<time>``, ``<boxes>`` for tagged;
    ``<time>``, ``<think bbox>``, ``<pred bbox>`` for draft-final); ``len(text)`` when none
    is found."""
    found = [text.rfind(tag) for tag in FORMATS[answer_format].answer_tags]
    found = [i for i in found if i >= 0]
    return min(found) if found else len(text)


def reasoning_of(text: str, answer_format: str) -> str:
    """The reasoning of a teacher text: what precedes its answer block, think tags removed."""
    head = text[: answer_start(text, answer_format)]
    return re.sub(r"</?think>", "", head).strip()


def mean_box_iou(answer: SecondLevelAnswer, sample: Sample, ctx: Any) -> float | None:
    """Mean IoU of the answer's boxes at shown frames inside the GT span with the GT boxes
    there (``None`` when no answer box lies inside the GT span)."""
    if answer.times_s.size == 0:
        return None
    nearest = np.abs(ctx.timestamps_s[None, :] - answer.times_s[:, None]).argmin(axis=1)
    frames = ctx.frame_idx[nearest]
    first, last = sample.gt_span
    inside = (frames >= first) & (frames <= last)
    if not inside.any():
        return None
    gt = sample.gt_boxes_at(frames[inside])
    return float(box_iou(answer.boxes_xyxy[inside], gt).mean())


class _Replacer:
    """Rewrites the mentions of one reasoning text (see the module doc, step 4)."""

    def __init__(self, contract: Any, gt: SecondLevelAnswer, teacher: SecondLevelAnswer):
        self.contract, self.gt, self.teacher = contract, gt, teacher
        self.coords = contract.spec.coords
        self.log: list[dict[str, str]] = []

    def gt_time_near(self, t: float) -> int:
        return int(np.argmin(np.abs(self.gt.times_s - t)))

    def single_time(self, t: float) -> float:
        start, end = self.teacher.span_s
        return self.gt.span_s[0] if abs(t - start) <= abs(t - end) else self.gt.span_s[1]

    def box_index(self, values: tuple[float, ...], frame_time: float | None) -> int:
        if frame_time is not None:
            return self.gt_time_near(frame_time)
        if self.teacher.times_s.size == 0:
            return 0
        box = to_original(np.asarray(values), self.coords, self.contract.frame)[0]
        nearest = int(np.argmin(np.abs(self.teacher.boxes_xyxy - box).sum(axis=1)))
        return self.gt_time_near(float(self.teacher.times_s[nearest]))

    def run(self, text: str) -> str:
        mentions = find_mentions(text)
        pieces: list[str] = []
        cursor = 0
        frame_time: float | None = None  # the GT time of the last frame-time mention
        frame_time_end = -1
        for i, m in enumerate(mentions):
            new_values: list[str]
            if m.kind == "box":
                gap = text[frame_time_end : m.start]
                near = frame_time_end >= 0 and len(gap) <= _FRAME_TIME_GAP and "\n" not in gap
                index = self.box_index(m.values, frame_time if near else None)
                replaced = box_text(self.gt.boxes_xyxy[index], self.coords, self.contract.frame)
                self._log("box", text[m.start : m.end], replaced)
                pieces += [text[cursor : m.start], replaced]
                cursor = m.end
                continue
            if m.kind == "range":
                new_values = [format_seconds(v) for v in self.gt.span_s]
            else:
                following = mentions[i + 1] if i + 1 < len(mentions) else None
                gap = text[m.end : following.start] if following is not None else ""
                is_frame = (
                    following is not None
                    and following.kind == "box"
                    and len(gap) <= _FRAME_TIME_GAP
                    and "\n" not in gap
                    and ". " not in gap
                )
                if is_frame:
                    value = float(self.gt.times_s[self.gt_time_near(m.values[0])])
                    frame_time, frame_time_end = value, m.end
                else:
                    value = self.single_time(m.values[0])
                new_values = [format_seconds(value)]
            rewritten = _substitute(text, m, new_values)
            self._log("time", text[m.start : m.end], rewritten)
            pieces += [text[cursor : m.start], rewritten]
            cursor = m.end
        pieces.append(text[cursor:])
        return "".join(pieces)

    def _log(self, kind: str, teacher: str, replaced_by: str) -> None:
        self.log.append({"kind": kind, "teacher": teacher, "replaced_by": replaced_by})


def _substitute(text: str, mention: Mention, values: list[str]) -> str:
    """The mention's text with its numbers replaced by ``values`` (units kept)."""
    out, cursor = [], mention.start
    for (start, end), value in zip(mention.groups, values, strict=True):
        out += [text[cursor:start], value]
        cursor = end
    out.append(text[cursor : mention.end])
    return "".join(out)


def replace_with_gt(
    text: str | None,
    contract: Any,
    sample: Sample,
    verifier: Any,
    *,
    keep: Literal["all", "consistent"] = "all",
    min_box_iou: float = 0.3,
    teacher_error: str | None = None,
) -> Outcome:
    """The :class:`Outcome` of one teacher text (see the module doc); never raises for a
    bad text.

    Args:
        text: the teacher's raw text, or ``None`` when the teacher returned none.
        contract: the episode's :class:`~stvg.verifiers.formats.AnswerContract`.
        sample: the episode's sample (ground truth).
        verifier: scores the teacher's answer (``score_answer(answer, sample, ctx)``; the
            env's :class:`~stvg.verifiers.Verifier`).
        keep: ``all`` or ``consistent``.
        min_box_iou: the ``consistent`` threshold on the teacher's mean box IoU.
        teacher_error: the teacher's reason when ``text`` is ``None``.
    """
    parse = contract.parse(text) if isinstance(text, str) else None
    if parse is None or not parse.ok:
        reason = failure_reason(text, None if parse is None else parse.error)
        detail = teacher_error if parse is None else parse.error
        return Outcome(None, drop_reason=reason, detail=detail)
    teacher = parse.answer
    text = str(text)
    ctx = contract.frame
    result = verifier.score_answer(teacher, sample, ctx)
    box_iou_mean = mean_box_iou(teacher, sample, ctx)
    gt = contract.gt_answer(sample)
    replacer = _Replacer(contract, gt, teacher)
    reasoning = replacer.run(reasoning_of(text, contract.spec.answer_format))
    drop = None
    if keep == "consistent":
        if result.t_iou <= 0:
            drop = "span_misses_gt"
        elif box_iou_mean is None or box_iou_mean < min_box_iou:
            drop = "boxes_off_target"
    return Outcome(
        target=None if drop else contract.render(gt, reasoning),
        reasoning=reasoning,
        replacements=replacer.log,
        parsed=True,
        teacher_t_iou=float(result.t_iou),
        teacher_v_iou=float(result.v_iou),
        teacher_box_iou=box_iou_mean,
        kept=drop is None,
        drop_reason=drop,
    )


__all__ = [
    "DROP_REASONS",
    "FAILURE_REASONS",
    "Mention",
    "Outcome",
    "answer_start",
    "failure_reason",
    "find_mentions",
    "mean_box_iou",
    "reasoning_of",
    "replace_with_gt",
]
