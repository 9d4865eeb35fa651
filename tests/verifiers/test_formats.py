"""Unit tests of the answer formats: hand-written texts, every repair and error rule."""

from __future__ import annotations

import time

import numpy as np
import pytest

from stvg.data.types import Sample, SecondLevelAnswer
from stvg.verifiers.formats import (
    FORMATS,
    MAX_TEXT_CHARS,
    FrameContext,
    ParseResult,
    from_original,
    get_format,
    to_original,
)

# A 30 fps, 20 s, 1280x720 video shown at 1 fps as 640x360 frames (scale 2 back to original).
SAMPLE = Sample(
    sample_id="vid",
    video_path="vid.mp4",
    query="the man in the hat",
    native_fps=30.0,
    num_frames=600,
    width=1280,
    height=720,
    gt_span=(60, 120),
    gt_boxes={},
)
CTX = FrameContext.from_sample(SAMPLE, shown_size=(640, 360), fps=1.0)
JSON = get_format("json-v1")
TAGGED = get_format("tagged")


def parse_json(body: str) -> ParseResult:
    return JSON.parse(f"<answer>{body}</answer>", CTX)


def test_frame_context_from_sample() -> None:
    assert CTX.frame_idx.tolist() == list(range(0, 600, 30))
    np.testing.assert_allclose(CTX.timestamps_s, np.arange(20.0))
    assert CTX.shown_size == (640, 360) and CTX.original_size == (1280, 720)
    assert CTX.interval_s == 1.0 and CTX.duration_s == 20.0
    ntsc = Sample("n", "n.mp4", "q", 29.97, 300, 640, 480, (0, 1), {})
    ctx = FrameContext.from_sample(ntsc, fps=1.0)
    assert ctx.frame_idx[:4].tolist() == [0, 30, 60, 90]
    np.testing.assert_allclose(ctx.timestamps_s[:3], [0.0, 30 / 29.97, 60 / 29.97])
    assert ctx.shown_size == (640, 480)
    with pytest.raises(ValueError, match="shown_size must be"):
        FrameContext.from_sample(SAMPLE, shown_size=(0, 360), fps=1.0)


def test_coordinates_convert_in_one_place() -> None:
    shown = np.array([[10.0, 20.0, 30.0, 40.0]])
    np.testing.assert_allclose(to_original(shown, "pixels", CTX), [[20.0, 40.0, 60.0, 80.0]])
    norm = np.array([[500.0, 250.0, 1000.0, 1000.0]])
    np.testing.assert_allclose(to_original(norm, "norm1000", CTX), [[640.0, 180.0, 1280.0, 720.0]])
    unit = np.array([[0.5, 0.5, 1.0, 1.0]])
    np.testing.assert_allclose(to_original(unit, "norm1", CTX), [[640.0, 360.0, 1280.0, 720.0]])
    np.testing.assert_allclose(
        from_original([[640.0, 180.0, 1280.0, 720.0]], "norm1000", CTX), norm
    )


def test_well_formed_json_v1_answer() -> None:
    text = (
        "<think>The man in the hat points at 2-4 s.</think>\n"
        '<answer>{"span": [2.0, 4.0], "boxes": {"2.0": [10, 20, 110, 220], '
        '"3.0": [20, 20, 120, 220], "4.0": [30, 20, 130, 220]}}</answer>'
    )
    result = JSON.parse(text, CTX)
    assert result.ok and result.format_ok and result.error is None and result.repairs == ()
    assert result.answer.span_s == (2.0, 4.0)
    np.testing.assert_array_equal(result.answer.times_s, [2.0, 3.0, 4.0])
    np.testing.assert_allclose(
        result.answer.boxes_xyxy,
        [[20, 40, 220, 440], [40, 40, 240, 440], [60, 40, 260, 440]],
    )


def test_render_json_v1_exact_text() -> None:
    answer = SecondLevelAnswer(
        (2.0, 4.0), np.array([2.0, 3.0]), np.array([[20, 40, 220, 440], [42, 40, 240, 442.0]])
    )
    assert JSON.render(answer, CTX) == (
        '<answer>{"span": [2.0, 4.0], "boxes": {"2.0": [10, 20, 110, 220], '
        '"3.0": [21, 20, 120, 221]}}</answer>'
    )
    assert (
        get_format("json-v1", "norm1000")
        .render(answer, CTX, "why")
        .startswith(
            '<think>\nwhy\n</think>\n<answer>{"span": [2.0, 4.0], "boxes": {"2.0": [16, 56, 172, 611]'
        )
    )


def test_tagged_parse_and_render() -> None:
    text = "<think>ok</think><time>2 - 4</time>\n<boxes>2: [10, 20, 110, 220], 3: [20, 20, 120, 220]</boxes>"
    result = TAGGED.parse(text, CTX)
    assert result.format_ok
    assert result.answer.span_s == (2.0, 4.0)
    np.testing.assert_allclose(result.answer.boxes_xyxy, [[20, 40, 220, 440], [40, 40, 240, 440]])
    assert TAGGED.render(result.answer, CTX) == (
        "<time>2 - 4</time>\n<boxes>2: [10, 20, 110, 220], 3: [20, 20, 120, 220]</boxes>"
    )
    for span_text in ("2s to 4s", "2 – 4", "2.0-4.0"):
        assert TAGGED.parse(f"<time>{span_text}</time><boxes></boxes>", CTX).answer.span_s == (2, 4)


def test_box_outside_the_frame_is_clipped() -> None:
    result = parse_json('{"span": [2, 4], "boxes": {"3": [-10, 5, 700, 400]}}')
    assert result.repairs == ("box clipped to the frame at 3 s",) and not result.format_ok
    np.testing.assert_allclose(result.answer.boxes_xyxy, [[0, 10, 1280, 720]])


def test_reversed_corners_are_swapped() -> None:
    result = parse_json('{"span": [2, 4], "boxes": {"3": [110, 220, 10, 20]}}')
    assert result.repairs == ("box corners swapped (x2 < x1 or y2 < y1) at 3 s",)
    np.testing.assert_allclose(result.answer.boxes_xyxy, [[20, 40, 220, 440]])


def test_box_times_snap_to_shown_timestamps() -> None:
    box = "[1, 1, 2, 2]"
    # 2.04 is within 0.05 s of 2.0 (display rounding): no repair.
    assert parse_json(f'{{"span": [2, 9], "boxes": {{"2.04": {box}}}}}').format_ok
    result = parse_json(
        f'{{"span": [2, 9], "boxes": {{"2.4": {box}, "3.5": {box}, "5.6": {box}}}}}'
    )
    # 2.4 -> 2; 3.5 is half way between 3 and 4: the earlier wins; 5.6 -> 6.
    np.testing.assert_array_equal(result.answer.times_s, [2.0, 3.0, 6.0])
    assert result.repairs == (
        "box time snapped to the nearest shown frame at 2.4 s -> 2 s, 3.5 s -> 3 s, 5.6 s -> 6 s",
    )
    # 19.7 s is 0.7 s from the last shown frame (19 s): more than half an interval.
    far = parse_json(f'{{"span": [2, 20], "boxes": {{"19.7": {box}}}}}')
    assert far.repairs == ("box time matches no shown frame, dropped at 19.7 s",)
    assert far.answer.times_s.size == 0


def test_boxes_outside_the_span_are_dropped() -> None:
    result = parse_json(
        '{"span": [2, 4], "boxes": {"1": [1, 1, 2, 2], "3": [1, 1, 2, 2], "5": [1, 1, 2, 2]}}'
    )
    np.testing.assert_array_equal(result.answer.times_s, [3.0])
    assert result.repairs == ("box outside the span [2, 4] s, dropped at 1 s, 5 s",)


def test_non_finite_and_malformed_boxes_are_dropped() -> None:
    result = parse_json(
        '{"span": [2, 6], "boxes": {"2": [NaN, 1, 2, 3], "3": [1, 1, Infinity, 2], '
        '"4": [1, 2, 3], "5": ["1", 2, 3, 4], "6": [true, 1, 2, 3]}}'
    )
    assert result.ok and result.answer.times_s.size == 0
    assert result.repairs == ("box is not 4 finite numbers, dropped at 2 s, 3 s, 4 s, 5 s, 6 s",)


def test_non_numeric_time_keys_are_dropped() -> None:
    result = parse_json(
        '{"span": [2, 6], "boxes": {"three": [1, 1, 2, 2], "1_0": [1, 1, 2, 2], '
        '"nan": [1, 1, 2, 2], "٣": [1, 1, 2, 2], "4": [1, 1, 2, 2]}}'
    )
    np.testing.assert_array_equal(result.answer.times_s, [4.0])
    assert result.repairs == ("non-numeric time key, box dropped at 'three', '1_0', 'nan', '٣'",)


def test_duplicate_times_keep_the_last_box() -> None:
    result = parse_json('{"span": [2, 6], "boxes": {"3": [1, 1, 2, 2], "3.0": [4, 4, 8, 8]}}')
    np.testing.assert_allclose(result.answer.boxes_xyxy, [[8, 8, 16, 16]])
    assert result.repairs == ("several boxes for one shown frame, the last was kept at 3 s",)
    exact = parse_json('{"span": [2, 6], "boxes": {"3": [1, 1, 2, 2], "3": [5, 5, 6, 6]}}')
    np.testing.assert_allclose(exact.answer.boxes_xyxy, [[10, 10, 12, 12]])


def test_span_partly_outside_the_video_is_clipped() -> None:
    result = parse_json('{"span": [-1.5, 25], "boxes": {}}')
    assert result.answer.span_s == (0.0, 20.0)
    assert result.repairs == ("span clipped to the video [0, 20] s",)


def test_last_complete_answer_block_wins() -> None:
    first = '<answer>{"span": [1, 2], "boxes": {}}</answer>'
    second = '<answer>{"span": [3, 4], "boxes": {}}</answer>'
    result = JSON.parse(f"{first} then {second}", CTX)
    assert result.answer.span_s == (3.0, 4.0)
    assert result.repairs == ("2 <answer> blocks: the last complete one was used",)
    truncated = JSON.parse(f'{second}\n<answer>{{"span": [5', CTX)
    assert truncated.answer.span_s == (3.0, 4.0)
    assert truncated.repairs == (
        "2 <answer> blocks: the last complete one was used",
        "text after </answer> ignored",
    )


def test_unknown_and_repeated_top_level_keys() -> None:
    result = parse_json('{"span": [1, 2], "boxes": {}, "label": "man", "span": [3, 4]}')
    assert result.answer.span_s == (3.0, 4.0)
    assert result.repairs == (
        "key 'span' given twice: the last value was used",
        "unknown keys ignored: 'label'",
    )


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "no <answer> block"),
        ("I think it is at 3 s.", "no <answer> block"),
        ('<answer>{"span": [3, 7], "boxes": {}}', "unterminated <answer> block"),
        ('{"span": [3, 7]}</answer>', "</answer> without <answer>"),
        (
            '<answer>{"span": [3.0, 7.0],}</answer>',
            "invalid JSON at char 20: Expecting property name enclosed in double quotes",
        ),
        ("<answer>" + "[" * 5000 + "</answer>", "invalid JSON: nested too deeply"),
        ("<answer>[3, 7]</answer>", "the answer must be a JSON object, got list"),
        ('<answer>{"boxes": {}}</answer>', 'missing key "span"'),
        ('<answer>{"span": [3, 7]}</answer>', 'missing key "boxes"'),
        ('<answer>{"span": [3, 7], "boxes": [[1, 2, 3, 4]]}</answer>', '"boxes" must be an object'),
        ('<answer>{"span": [7.0, 3.0], "boxes": {}}</answer>', "span end 3 < start 7"),
        ('<answer>{"span": [NaN, 3.0], "boxes": {}}</answer>', "span must be two finite numbers"),
        ('<answer>{"span": [3], "boxes": {}}</answer>', "span must be [start, end] in seconds"),
        ('<answer>{"span": "3-7", "boxes": {}}</answer>', "span must be [start, end]"),
        ('<answer>{"span": [-5, -1], "boxes": {}}</answer>', "ends before the video starts"),
        ('<answer>{"span": [21, 25], "boxes": {}}</answer>', "starts after the video ends (20 s)"),
        ('<answer>{"span": [1e400, 2], "boxes": {}}</answer>', "span must be two finite numbers"),
    ],
)
def test_json_v1_errors(text: str, reason: str) -> None:
    result = JSON.parse(text, CTX)
    assert not result.ok and not result.format_ok and result.answer is None
    assert reason in result.error


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("<boxes>2: [1, 1, 2, 2]</boxes>", "no <time> block"),
        ("<time>2 - 4</time>", "no <boxes> block"),
        ("<time>2 - 4</time><boxes>2: [1, 1, 2, 2]", "unterminated <boxes> block"),
        ("<time>from two to four</time><boxes></boxes>", "<time> must hold 'START - END'"),
        ("<time>nan - 4</time><boxes></boxes>", "<time> must hold 'START - END'"),
        ("<time>4 - 2</time><boxes></boxes>", "span end 2 < start 4"),
    ],
)
def test_tagged_errors(text: str, reason: str) -> None:
    result = TAGGED.parse(text, CTX)
    assert not result.ok and reason in result.error


def test_tagged_repairs() -> None:
    text = "<time>2 - 5</time><boxes>2: [1, 1, 2, 2], 3: [1, 2, 3]; 4s: [2, 2, 4, 4] and more</boxes> bye"
    result = TAGGED.parse(text, CTX)
    np.testing.assert_array_equal(result.answer.times_s, [2.0, 4.0])
    np.testing.assert_allclose(result.answer.boxes_xyxy, [[2, 2, 4, 4], [4, 4, 8, 8]])
    assert result.repairs == (
        "text after </boxes> ignored",
        "unparsed text in <boxes> ignored",
        "box is not 4 finite numbers, dropped at 3 s",
    )


DRAFT_FINAL = get_format("draft-final")


def test_draft_final_parse_and_render() -> None:
    """STVG-o1's span, draft list, final list: the final list is the answer, the draft
    list travels in ``ParseResult.draft`` with the same span (shown 640x360 -> x2)."""
    text = (
        "<think>ok</think><time>[2, 4]</time>\n"
        "<think bbox>2: [12, 20, 112, 220], 3: [22, 20, 122, 220]</think bbox>\n"
        "<pred bbox>2: [10, 20, 110, 220], 3: [20, 20, 120, 220]</pred bbox>"
    )
    result = DRAFT_FINAL.parse(text, CTX)
    assert result.format_ok and result.repairs == ()
    assert result.answer.span_s == result.draft.span_s == (2.0, 4.0)
    np.testing.assert_allclose(result.answer.boxes_xyxy, [[20, 40, 220, 440], [40, 40, 240, 440]])
    np.testing.assert_allclose(result.draft.boxes_xyxy, [[24, 40, 224, 440], [44, 40, 244, 440]])
    np.testing.assert_array_equal(result.draft.times_s, [2.0, 3.0])
    assert DRAFT_FINAL.render(result.answer, CTX, "ok", draft=result.draft) == text.replace(
        "<think>ok</think>", "<think>\nok\n</think>\n"
    )
    # a ground-truth target: the same boxes in both lists
    assert DRAFT_FINAL.render(result.answer, CTX) == (
        "<time>[2, 4]</time>\n"
        "<think bbox>2: [10, 20, 110, 220], 3: [20, 20, 120, 220]</think bbox>\n"
        "<pred bbox>2: [10, 20, 110, 220], 3: [20, 20, 120, 220]</pred bbox>"
    )
    for span_text in ("[2, 4]", "[2s, 4s]", "[ 2.0 , 4.0 ]", "2 - 4", "2s to 4s"):
        lists = "<think bbox></think bbox><pred bbox></pred bbox>"
        assert DRAFT_FINAL.parse(f"<time>{span_text}</time>{lists}", CTX).answer.span_s == (2, 4)
    # the other formats carry no draft list
    assert TAGGED.parse("<time>2 - 4</time><boxes></boxes>", CTX).draft is None
    assert parse_json('{"span": [2, 4], "boxes": {}}').draft is None
    instructions = DRAFT_FINAL.instructions(CTX)
    assert "<time>[START, END]</time>" in instructions
    assert "<think bbox>3: [x1, y1, x2, y2], ...</think bbox>" in instructions
    assert "<pred bbox>3: [x1, y1, x2, y2], ...</pred bbox>" in instructions


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("<time>[2, 4]</time><pred bbox></pred bbox>", "no <think bbox> block"),
        ("<time>[2, 4]</time><think bbox></think bbox>", "no <pred bbox> block"),
        ("<think bbox></think bbox><pred bbox></pred bbox>", "no <time> block"),
        (
            "<time>[2, 4]</time><think bbox></think bbox><pred bbox>2: [1, 1, 2, 2]",
            "unterminated <pred bbox> block",
        ),
        (
            "<time>[two, four]</time><think bbox></think bbox><pred bbox></pred bbox>",
            "<time> must hold '[START, END]' in seconds, got '[two, four]'",
        ),
        (
            "<time>[4, 2]</time><think bbox></think bbox><pred bbox></pred bbox>",
            "span end 2 < start 4",
        ),
        ("<time>[25, 30]</time><think bbox></think bbox><pred bbox></pred bbox>", "starts after"),
    ],
)
def test_draft_final_errors(text: str, reason: str) -> None:
    result = DRAFT_FINAL.parse(text, CTX)
    assert not result.ok and result.draft is None and reason in result.error


def test_draft_final_repairs_name_the_list() -> None:
    """Repairs of the final list read as every format's; the draft list's are prefixed;
    blocks out of order and trailing text are format repairs."""
    text = (
        "<time>[2, 19.5]</time><pred bbox>2: [1, 1, 2, 2], 3: [1, 2, 3]</pred bbox>"
        "<think bbox>2: [1, 1, 2, 2], 9: [700, 1, 2, 2]; 21: [1, 1, 2, 2] junk</think bbox> bye"
    )
    result = DRAFT_FINAL.parse(text, CTX)
    assert result.ok and not result.format_ok
    np.testing.assert_array_equal(result.answer.times_s, [2.0])
    np.testing.assert_array_equal(result.draft.times_s, [2.0, 9.0])
    np.testing.assert_allclose(result.draft.boxes_xyxy[1], [4, 2, 1280, 4])  # swapped, clipped
    assert result.repairs == (
        "blocks out of order (expected <time>, <think bbox>, <pred bbox>)",
        "text after </think bbox> ignored",
        "unparsed text in <think bbox> ignored",
        "box is not 4 finite numbers, dropped at 3 s",
        "draft: box corners swapped (x2 < x1 or y2 < y1) at 9 s",
        "draft: box clipped to the frame at 9 s",
        "draft: box time matches no shown frame, dropped at 21 s",
    )


def test_non_str_and_huge_inputs_give_reasons_quickly() -> None:
    assert JSON.parse(None, CTX).error == "answer text is NoneType, not str"  # type: ignore[arg-type]
    started = time.perf_counter()
    huge = JSON.parse("x" * (MAX_TEXT_CHARS + 1), CTX)
    assert huge.error == f"answer text too long: {MAX_TEXT_CHARS + 1} chars > {MAX_TEXT_CHARS}"
    long_block = JSON.parse("<answer>" + " " * 200_000 + "</answer>", CTX)
    assert long_block.error == "<answer> block too long: 200000 chars > 100000"
    # Near-limit adversarial texts stay linear.
    for fmt, text in [
        (JSON, "<answer>" * 100_000),
        (
            JSON,
            "<answer>{" + '"1": [1, 1, 2, 2], ' * 4000 + '"span": [0, 20], "boxes": {}}</answer>',
        ),
        (TAGGED, "<time>1 - 2</time><boxes>" + "1" * 99_000 + "</boxes>"),
        (TAGGED, "<time>1 - 2</time><boxes>" + "1: [" + "1," * 49_000 + "</boxes>"),
        (TAGGED, "<time>1 - 2</time><boxes>" + "1:" * 49_000 + "</boxes>"),
    ]:
        assert isinstance(fmt.parse(text, CTX), ParseResult)
    assert time.perf_counter() - started < 5.0


def test_registry_and_instructions() -> None:
    assert sorted(FORMATS) == ["draft-final", "json-v1", "tagged"]
    with pytest.raises(
        ValueError,
        match=r"unknown answer format 'xml'; choose one of \['draft-final', 'json-v1', 'tagged'\]",
    ):
        get_format("xml")
    with pytest.raises(ValueError, match=r"unknown coordinate system 'norm100'.*'norm1000'"):
        get_format("json-v1", "norm100")
    text = JSON.instructions(CTX)
    assert (
        '<answer>{"span": [START, END], "boxes": {"3.0": [x1, y1, x2, y2], ...}}</answer>' in text
    )
    assert "640x360" in text and "20 frames you were shown (0 s to 19 s, every 1 s)" in text
    assert "0-1000" in get_format("tagged", "norm1000").instructions()
    assert "<time>START - END</time>" in TAGGED.instructions(None)
    assert "0-1 on each axis" in get_format("json-v1", "norm1").instructions(None)
