"""The typed fast decoder of ``json-v1`` answers gives what Python's ``json`` path gives.

:meth:`JsonV1Format._extract_numbers` returns a :class:`NumericAnswer` only for the common
answer object; for every text it accepts, :meth:`JsonV1Format._extract` (Python's ``json``,
objects as key/value pairs) must find the same span, keys and coordinates (as floats) and
the same repairs, and for every text it refuses, the two must be the very same result.
"""

from __future__ import annotations

import json
import math
import random
import struct
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stvg.verifiers.formats import RawAnswer
from stvg.verifiers.formats.context import NumericAnswer
from stvg.verifiers.formats.json_v1 import JsonV1Format

FMT = JsonV1Format()


def _as_float(value: Any) -> float:
    assert type(value) in (int, float), value  # bool is not a number here
    return float(value)


def check_same(text: str) -> NumericAnswer | RawAnswer | str:
    """Assert both extraction paths agree on ``text``; returns the fast path's result."""
    fast_repairs: list[str] = []
    slow_repairs: list[str] = []
    fast = FMT._extract_numbers(text, fast_repairs)
    slow = FMT._extract(text, slow_repairs)
    assert fast_repairs == slow_repairs, text
    if not isinstance(fast, NumericAnswer):
        assert fast == slow, text
        return fast
    assert isinstance(slow, RawAnswer), (text, slow)
    assert type(slow.span) is list and len(slow.span) == 2, text
    span = [_as_float(v) for v in slow.span]
    assert [fast.start, fast.end] == span, text
    assert [math.copysign(1, v) for v in span] == [
        math.copysign(1, fast.start),
        math.copysign(1, fast.end),
    ], text
    assert fast.keys == [k for k, _ in slow.boxes], text
    values = [_as_float(v) for _, box in slow.boxes for v in box]
    assert all(len(box) == 4 for _, box in slow.boxes), text
    assert fast.values == values, text
    return fast


def wrap(body: str) -> str:
    return f"<think>r</think><answer>{body}</answer>"


@pytest.mark.parametrize(
    ("body", "numeric"),
    [
        ('{"span": [1, 2], "boxes": {"1": [1, 2, 3, 4], "2.0": [5.5, 6, 7, 8e1]}}', True),
        ('{"boxes": {}, "span": [-0, 2.5]}', True),  # order, an empty boxes object, -0
        ('{"span": [1, 2], "boxes": {"\\u0031": [1, 2, 3, 4]}}', True),  # an escaped key
        (' \n{"span":[1,2],"boxes":{"1":[1,2,3,4]}}\t\r\n', True),  # JSON whitespace
        ('{"span": [9007199254740993, 2], "boxes": {}}', True),  # beyond 2**53: rounded
        ('{"span": [1, 2], "boxes": {"1": [1, 2, 3, 4], "1": [5, 6, 7, 8]}}', False),  # twice
        ('{"span": [1, 2], "span": [3, 4], "boxes": {}}', False),  # a top-level key twice
        ('{"span": [1, 2], "boxes": {"1:2": [1, 2, 3, 4]}}', False),  # a colon in a key
        ('{"span": [1, 2], "boxes": {"1": 5, "1": [1, 2, 3, 4]}}', False),  # twice, no [
        ('{"span": [1, 2], "boxes": {}, "extra": 1}', False),  # an unknown key
        ('{"span": [NaN, 2], "boxes": {}}', False),  # Python's JSON reads NaN
        ('{"span": [1e400, 2], "boxes": {}}', False),  # inf for Python
        ('{"span": [1' + "0" * 400 + ", 2], " + '"boxes": {}}', False),  # a huge integer
        ('{"span": [true, 2], "boxes": {}}', False),
        ('{"span": [1, 2, 3], "boxes": {}}', False),
        ('{"span": [1, 2], "boxes": {"1": [1, 2, 3]}}', False),
        ('{"span": [1, 2], "boxes": {"1": [1, 2, 3, "4"]}}', False),
        ('{"span": [1, 2], "boxes": {"1": [1, 2, 3, [4]]}}', False),
        ('{"span": [1, 2], "boxes": [[1, 2, 3, 4]]}', False),
        ('{"span": [1, 2]}', False),
        ('\ufeff{"span": [1, 2], "boxes": {}}', False),  # a BOM: an error for json
        ('{"span": [1, 2], "boxes": {"\t1": [1, 2, 3, 4]}}', False),  # a raw control char
        ('{"span": [1, 2], "boxes": {"\ud800": [1, 2, 3, 4]}}', False),  # a lone surrogate
        ('{"span": [01, 2], "boxes": {}}', False),
        ('{"span": [1., 2], "boxes": {}}', False),
        ('{"span": [1, 2], "boxes": {"1": [1, 2, 3, 4,]}}', False),
        ('{"span": [1, 2], "boxes": {}} trailing', False),
        ("[1, 2]", False),
        ("", False),
    ],
)
def test_fast_and_json_paths_agree(body: str, numeric: bool) -> None:
    result = check_same(wrap(body))
    assert isinstance(result, NumericAnswer) is numeric, result


def test_several_blocks_and_trailing_text_keep_their_repairs_on_the_fast_path() -> None:
    body = '{"span": [1, 2], "boxes": {"1": [1, 2, 3, 4]}}'
    text = f"<answer>{{}}</answer> <answer>{body}</answer> and more"
    repairs: list[str] = []
    result = FMT._extract_numbers(text, repairs)
    assert isinstance(result, NumericAnswer)
    assert repairs == [
        "2 <answer> blocks: the last complete one was used",
        "text after </answer> ignored",
    ]
    check_same(text)


def test_every_decimal_literal_decodes_to_pythons_float() -> None:
    """Random literals of every shape (shortest reprs of random doubles, fixed-point,
    integers up to 30 digits, long mantissas with large exponents) as box coordinates."""
    rng = random.Random(7)
    literals = []
    for _ in range(20_000):
        kind = rng.random()
        if kind < 0.3:
            value = struct.unpack("d", struct.pack("Q", rng.getrandbits(64)))[0]
            if not math.isfinite(value):
                continue
            literals.append(repr(value))
        elif kind < 0.6:
            literals.append(f"{rng.uniform(-2000, 2000):.{rng.randint(0, 20)}f}")
        elif kind < 0.8:
            literals.append(str(rng.randint(-(10 ** rng.randint(1, 30)), 10 ** rng.randint(1, 30))))
        else:
            digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 40)))
            literals.append(
                f"{digits.lstrip('0') or '0'}.{rng.randint(0, 10**20)}e{rng.randint(-330, 300)}"
            )
    numeric = 0
    for k in range(0, len(literals) - 4, 4):
        box = ", ".join(literals[k : k + 4])
        result = check_same(wrap(f'{{"span": [0, 1], "boxes": {{"0.5": [{box}]}}}}'))
        numeric += isinstance(result, NumericAnswer)
    assert numeric > 0.9 * (len(literals) // 4)  # out-of-range ones step aside


_json_leaf = st.one_of(
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.sampled_from(["1.0", "2", "a:b", "", "x"]),
)


def _pairs_text(pairs: list[tuple[str, Any]]) -> str:
    return "{" + ", ".join(f"{json.dumps(k)}: {v}" for k, v in pairs) + "}"


def _mostly(common: st.SearchStrategy[Any], odd: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``common`` 9 times in 10, else ``odd``."""
    return st.integers(0, 9).flatmap(lambda k: common if k else odd)


@st.composite
def answer_bodies(draw: st.DrawFn) -> str:
    """Half of the time a clean object (only the odd duplicate key), else one with odd
    keys, values and structure mixed in one draw in ten."""
    mostly = (lambda common, odd: common) if draw(st.booleans()) else _mostly
    number = mostly(
        st.one_of(
            st.integers(-(10**6), 10**6).map(str),
            st.floats(-1e6, 1e6, allow_nan=False).map(repr),
        ),
        st.sampled_from(["NaN", "Infinity", "-0", "-0.0", "1e400", "true", "null", '"3"']),
    )
    box = mostly(
        st.lists(number, min_size=4, max_size=4).map(lambda v: "[" + ", ".join(v) + "]"),
        st.one_of(
            st.lists(number, max_size=6).map(lambda v: "[" + ", ".join(v) + "]"),
            _json_leaf.map(json.dumps),
        ),
    )
    key = mostly(
        st.sampled_from(["0", "0.5", "1.0", "2", "2.5", "3", "3.5", "4", "5.0", "6", "7", "10"]),
        st.one_of(st.sampled_from(["1:0", "x", " 1"]), st.text(max_size=3)),
    )
    boxes = draw(st.lists(st.tuples(key, box), max_size=6))
    span_size = draw(mostly(st.just(2), st.integers(0, 3)))
    top: list[tuple[str, Any]] = [
        (
            "span",
            "[" + ", ".join(draw(st.lists(number, min_size=span_size, max_size=span_size))) + "]",
        ),
        ("boxes", _pairs_text(boxes)),
    ]
    if draw(st.booleans()):
        top = top[::-1]
    extra = draw(mostly(st.none(), st.sampled_from(["span", "boxes", "other"])))
    if extra is not None:
        top.insert(draw(st.integers(0, len(top))), (extra, '{"1": [1, 2, 3, 4]}'))
    return _pairs_text(top)


@settings(max_examples=300, deadline=None)
@given(answer_bodies())
def test_generated_answers_agree(body: str) -> None:
    check_same(wrap(body))


def test_generated_answers_take_both_paths() -> None:
    """The strategy above reaches the fast path and the general one (it tests both)."""
    taken = {True: 0, False: 0}

    @settings(max_examples=200, deadline=None, database=None, derandomize=True)
    @given(answer_bodies())
    def count(body: str) -> None:
        taken[isinstance(check_same(wrap(body)), NumericAnswer)] += 1

    count()
    assert taken[True] >= 40 and taken[False] >= 40, taken
