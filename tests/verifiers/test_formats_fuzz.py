"""Property and fuzz tests: render/parse round trips, and parse never raises on any text."""

from __future__ import annotations

import random
import time

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stvg.data.types import Sample, SecondLevelAnswer
from stvg.verifiers.formats import COORD_SYSTEMS, FORMATS, FrameContext, ParseResult, get_format
from stvg.verifiers.formats.coords import rounding_tolerance

ALL_FORMATS = [get_format(name, coords) for name in FORMATS for coords in COORD_SYSTEMS]


def make_context(
    native_fps: float, seconds: int, size: tuple[int, int], shown: tuple[int, int], fps
):
    sample = Sample(
        "s", "s.mp4", "q", native_fps, int(round(seconds * native_fps)), *size, (0, 1), {}
    )
    return FrameContext.from_sample(sample, shown_size=shown, fps=fps)


CONTEXTS = [
    make_context(29.97, 20, (1280, 720), (640, 360), 1.0),
    make_context(25.0, 12, (640, 480), (448, 336), 2.0),
    make_context(30.0, 2, (320, 240), (320, 240), None),
    make_context(24.0, 30, (1920, 1080), (1000, 562), 0.5),
]


def check_result(result: ParseResult, ctx: FrameContext) -> None:
    """Every result is consistent; every usable answer satisfies the answer invariants."""
    assert isinstance(result, ParseResult)
    assert (result.answer is None) == (result.error is not None)
    assert isinstance(result.repairs, tuple) and all(isinstance(r, str) for r in result.repairs)
    if result.format_ok:
        assert result.ok and result.repairs == ()
    if not result.ok:
        assert isinstance(result.error, str) and result.error
        assert result.draft is None
        return
    answer = result.answer
    start, end = answer.span_s
    assert np.isfinite([start, end]).all() and 0.0 <= start <= end <= ctx.duration_s
    if result.draft is not None:  # a draft-final draft list: the same span and invariants
        assert result.draft.span_s == answer.span_s
        check_result(ParseResult(result.draft, None, (), True), ctx)
    times = answer.times_s
    assert np.all(np.diff(times) > 0)
    assert np.isin(times, ctx.timestamps_s).all()
    assert np.all(times >= start - 0.051) and np.all(times <= end + 0.051)
    boxes = answer.boxes_xyxy
    width, height = ctx.original_size
    assert np.isfinite(boxes).all()
    assert np.all(boxes[:, 0] <= boxes[:, 2]) and np.all(boxes[:, 1] <= boxes[:, 3])
    assert (
        np.all(boxes >= 0) and np.all(boxes[:, 0::2] <= width) and np.all(boxes[:, 1::2] <= height)
    )


@st.composite
def answers(draw: st.DrawFn) -> tuple[FrameContext, SecondLevelAnswer]:
    """A context and an answer whose times are shown timestamps inside its span."""
    ctx = draw(st.sampled_from(CONTEXTS))
    count = ctx.timestamps_s.size
    first = draw(st.integers(0, count - 1))
    last = draw(st.integers(first, count - 1))
    chosen = sorted(draw(st.sets(st.integers(first, last), max_size=last - first + 1)))
    width, height = ctx.original_size
    coords = st.floats(0.0, 1.0, allow_nan=False)
    boxes = []
    for _ in chosen:
        xs = sorted([draw(coords) * width, draw(coords) * width])
        ys = sorted([draw(coords) * height, draw(coords) * height])
        boxes.append([xs[0], ys[0], xs[1], ys[1]])
    span = (float(ctx.timestamps_s[first]), float(ctx.timestamps_s[last]))
    times = ctx.timestamps_s[chosen] if chosen else np.zeros(0)
    return ctx, SecondLevelAnswer(span, times, np.array(boxes).reshape(-1, 4))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=answers(), fmt=st.sampled_from(ALL_FORMATS), reasoning=st.text(max_size=30))
def test_render_then_parse_round_trips(data, fmt, reasoning: str) -> None:
    ctx, answer = data
    # Reasoning must not contain the format's own tags (a real teacher's text is cleaned).
    reasoning = "".join(c for c in reasoning if c not in "<>")
    result = fmt.parse(fmt.render(answer, ctx, reasoning), ctx)
    assert result.format_ok, (result.error, result.repairs)
    if fmt.name == "draft-final":  # the answer rendered in both lists
        np.testing.assert_array_equal(result.draft.times_s, result.answer.times_s)
        np.testing.assert_array_equal(result.draft.boxes_xyxy, result.answer.boxes_xyxy)
    check_result(result, ctx)
    np.testing.assert_allclose(result.answer.span_s, answer.span_s, atol=5e-4)
    np.testing.assert_array_equal(result.answer.times_s, answer.times_s)
    tol_x, tol_y = rounding_tolerance(fmt.coords, ctx)
    error = np.abs(result.answer.boxes_xyxy - answer.boxes_xyxy)
    assert np.all(error[:, 0::2] <= tol_x + 1e-9) and np.all(error[:, 1::2] <= tol_y + 1e-9)


@settings(max_examples=300, deadline=None)
@given(text=st.text(), fmt=st.sampled_from(ALL_FORMATS), ctx=st.sampled_from(CONTEXTS))
def test_parse_never_raises_on_any_text(text: str, fmt, ctx: FrameContext) -> None:
    check_result(fmt.parse(text, ctx), ctx)


@settings(max_examples=300, deadline=None)
@given(
    body=st.text(alphabet=st.sampled_from('{}[]":,.-+eE0123456789 NaInfity<>/abxs\n'), max_size=80),
    fmt=st.sampled_from(ALL_FORMATS),
)
def test_parse_never_raises_inside_blocks(body: str, fmt) -> None:
    ctx = CONTEXTS[0]
    for text in (
        f"<answer>{body}</answer>",
        f"<time>1 - 3</time><boxes>{body}</boxes>",
        f"<time>[{body}]</time><think bbox>{body}</think bbox><pred bbox>{body}</pred bbox>",
        f"<time>[1, 3]</time><think bbox>{body}</think bbox><pred bbox>{body}</pred bbox>",
    ):
        check_result(fmt.parse(text, ctx), ctx)


# ---- Fuzzing: mutations of valid answers --------------------------------------------------

_ALPHABET = list('{}[]":,.-+eE0123456789 \n\t<>/sxNaInfity') + [
    "<answer>",
    "</answer>",
    "<time>",
    "</time>",
    "<boxes>",
    "</boxes>",
    "<think bbox>",
    "</think bbox>",
    "<pred bbox>",
    "</pred bbox>",
    "NaN",
    "Infinity",
    "1e999",
    "-",
    "é",
    "😀",
    "\x00",
    "٣",
]
_NUMBER_SWAPS = [
    "NaN",
    "-Infinity",
    "1e999",
    "-50",
    "99999",
    "1" * 40,
    "0",
    "3.5",
    '"3"',
    "true",
    "[]",
]


def _random_valid_text(rng: random.Random) -> tuple[str, FrameContext, object]:
    ctx = rng.choice(CONTEXTS)
    fmt = rng.choice(ALL_FORMATS)
    count = ctx.timestamps_s.size
    first = rng.randrange(count)
    last = rng.randrange(first, count)
    chosen = sorted(rng.sample(range(first, last + 1), rng.randint(0, last - first + 1)))
    width, height = ctx.original_size
    boxes = []
    for _ in chosen:
        x1, x2 = sorted(rng.uniform(0, width) for _ in range(2))
        y1, y2 = sorted(rng.uniform(0, height) for _ in range(2))
        boxes.append([x1, y1, x2, y2])
    answer = SecondLevelAnswer(
        (float(ctx.timestamps_s[first]), float(ctx.timestamps_s[last])),
        ctx.timestamps_s[chosen] if chosen else np.zeros(0),
        np.array(boxes).reshape(-1, 4),
    )
    return fmt.render(answer, ctx, rng.choice(["", "the man walks left", "t=3 <b>"])), ctx, fmt


def _mutate(text: str, rng: random.Random) -> str:
    op = rng.randrange(8)
    pos = rng.randrange(len(text) + 1)
    if op == 0:  # delete a range
        return text[:pos] + text[pos + rng.randint(1, 8) :]
    if op == 1:  # insert tokens
        return text[:pos] + "".join(rng.choices(_ALPHABET, k=rng.randint(1, 4))) + text[pos:]
    if op == 2:  # replace a character
        return text[:pos] + rng.choice(_ALPHABET) + text[pos + 1 :]
    if op == 3:  # truncate
        return text[:pos]
    if op == 4:  # duplicate a block (or the whole text)
        return text + rng.choice(["", "\n", " junk "]) + text[pos:]
    if op == 5:  # replace a number with something odd
        digits = [i for i, c in enumerate(text) if c.isdigit()]
        if not digits:
            return text
        i = rng.choice(digits)
        return text[:i] + rng.choice(_NUMBER_SWAPS) + text[i + 1 :]
    if op == 6:  # swap two characters
        j = rng.randrange(len(text) + 1)
        chars = list(text)
        if pos < len(chars) and j < len(chars):
            chars[pos], chars[j] = chars[j], chars[pos]
        return "".join(chars)
    return "".join(rng.choices(_ALPHABET, k=rng.randint(0, 60)))  # pure noise


def test_fuzz_ten_thousand_mutated_answers() -> None:
    rng = random.Random(20240611)
    counts = {"format_ok": 0, "repaired": 0, "error": 0}
    started = time.perf_counter()
    for _ in range(10_000):
        text, ctx, own = _random_valid_text(rng)
        for _ in range(rng.randint(1, 3)):
            text = _mutate(text, rng)
        result = own.parse(text, ctx)
        check_result(result, ctx)
        kind = "error" if not result.ok else ("format_ok" if result.format_ok else "repaired")
        counts[kind] += 1
        check_result(rng.choice(ALL_FORMATS).parse(text, ctx), ctx)
    elapsed = time.perf_counter() - started
    # The fuzzer reached every outcome many times (the mutated text in its own format).
    assert all(n >= 300 for n in counts.values()), counts
    assert elapsed < 30.0, f"fuzzing took {elapsed:.1f} s"
