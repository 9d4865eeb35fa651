"""The ``track-id`` answer format (STVG-R1) and the ``id_match`` term, by hand.

The hand video: 10 fps, 50 frames, 100x100; the ground truth is the box [0, 0, 50, 50] on
frames 10..29 (1.0 s .. 2.9 s). Track 3 is that box on every frame; track 5 a box
[50, 50, 60, 60] (no overlap); track 7 the box [0, 0, 50, 25] (IoU 0.5 with the GT).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from reference_terms import REFERENCE_TERMS

from stvg.data.tracks import VideoTracks
from stvg.data.types import Sample, SecondLevelAnswer, Tube
from stvg.verifiers.formats import FrameContext, get_format
from stvg.verifiers.rewards import RewardInput, score_term
from stvg.verifiers.verifier import Verifier, VerifierConfig, load_verifier_config

GT_BOX = [0.0, 0.0, 50.0, 50.0]
SAMPLE = Sample("s", "", "q", 10.0, 50, 100, 100, (10, 29), {f: GT_BOX for f in range(10, 30)})
TRACKS = VideoTracks(
    "s",
    {
        3: Tube.from_dict({f: GT_BOX for f in range(50)}),
        5: Tube.from_dict({f: [50, 50, 60, 60] for f in range(50)}),
        7: Tube.from_dict({f: [0, 0, 50, 25] for f in range(50)}),
    },
)
CTX = replace(FrameContext.from_sample(SAMPLE, fps=1.0), tracks=TRACKS)
FMT = get_format("track-id")


def test_strict_answer_parses_without_repair_and_its_boxes_are_the_track_in_the_span() -> None:
    result = FMT.parse("<think>the red one</think>\nTarget ID: 7, Time range: 1 to 2.9", CTX)
    assert result.ok and result.format_ok and result.repairs == () and result.track_id == 7
    assert result.answer.span_s == (1.0, 2.9)
    # frames 10..29 (frame_of_time(2.9) = 29): 20 native frames, each track 7's box
    assert result.answer.times_s.tolist() == pytest.approx([f / 10 for f in range(10, 30)])
    assert result.answer.boxes_xyxy.tolist() == [[0, 0, 50, 25]] * 20


@pytest.mark.parametrize(
    ("text", "track_id", "span", "repairs"),
    [
        ("target id: 3, time range: 1 - 2", 3, (1.0, 2.0), 1),
        ("Target ID = #3; Time range: [1s, 2s]", 3, (1.0, 2.0), 1),
        ("Target ID: 5 ... no, Target ID: 3, Time range: 1 to 2", 3, (1.0, 2.0), 2),
        ("Target ID: 3, Time range: 1s to 2s", 3, (1.0, 2.0), 0),
        ("Target ID: 3, Time range: 4 to 9", 3, (4.0, 5.0), 1),  # clipped to the 5 s video
    ],
)
def test_tolerant_variations_parse_with_repairs(text, track_id, span, repairs) -> None:
    result = FMT.parse(text, CTX)
    assert result.ok and result.track_id == track_id and result.answer.span_s == span
    assert len(result.repairs) == repairs and result.format_ok == (repairs == 0)


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("Time range: 1 to 2", "no target ID"),
        ("Target ID: 3", "no time range"),
        ("Target ID: 3, Time range: 2 to 1", "span end 1 < start 2"),
        ("Target ID: 3, Time range: 7 to 9", "starts after the video ends"),
        ("", "no target ID"),
        ("Target ID: x, Time range: 1 to 2", "no target ID"),
    ],
)
def test_malformed_answers_fail_with_a_reason_and_finite_reward(text: str, error: str) -> None:
    result = FMT.parse(text, CTX)
    assert not result.ok and error in result.error and result.track_id is None
    verifier = Verifier(load_verifier_config({"answer_format": "track-id", "terms": _TERMS}))
    scored = verifier.score_text(text, SAMPLE, CTX)
    assert scored.total == 0.0 and scored.parse_error == result.error


def test_parse_never_raises_on_junk() -> None:
    for text in ["Target ID: 99999999999", "Target ID:" * 1000, "\x00Time range: 1e400 to 2", 3]:
        assert FMT.parse(text, CTX).ok in (True, False)


def test_without_tracks_the_answer_is_a_parse_failure() -> None:
    result = FMT.parse(
        "Target ID: 3, Time range: 1 to 2", FrameContext.from_sample(SAMPLE, fps=1.0)
    )
    assert not result.ok and "no tracks were drawn" in result.error


def test_render_round_trip_names_the_gt_track_and_span() -> None:
    gt = SecondLevelAnswer((1.0, 2.9), np.array([1.0, 2.0]), np.array([GT_BOX, GT_BOX]))
    text = FMT.render(gt, CTX, reasoning="the square")
    assert text == "<think>\nthe square\n</think>\nTarget ID: 3, Time range: 1 to 2.9"
    back = FMT.parse(text, CTX)
    assert back.format_ok and back.track_id == 3 and back.answer.span_s == (1.0, 2.9)
    assert FMT.render(gt, CTX, track_id=5).endswith("Target ID: 5, Time range: 1 to 2.9")
    with pytest.raises(ValueError, match="no tracks"):
        FMT.render(gt, FrameContext.from_sample(SAMPLE, fps=1.0))


_TERMS = [
    {"name": "t_iou"},
    {"name": "id_match"},
    {"name": "format"},
    {"name": "v_iou", "weight": 0.0},
]


def _score(text: str):
    verifier = Verifier(load_verifier_config({"answer_format": "track-id", "terms": _TERMS}))
    return verifier.score_text(text, SAMPLE, CTX)


def test_the_tube_is_the_track_inside_the_span_and_its_viou_is_the_hand_figure() -> None:
    # span 1.5 .. 3.4 s = frames 15..34; GT 10..29: intersection 15..29 = 15 frames, union
    # 10..34 = 25 frames: tIoU = 15/25 = 0.6. Track 7 ([0,0,50,25]) has IoU 0.5 with the GT
    # box on each shared frame: vIoU = 15 * 0.5 / 25 = 0.3.
    result = _score("Target ID: 7, Time range: 1.5 to 3.4")
    assert result.pred_span == (15, 34)
    assert result.pred_tube.frame_idx.tolist() == list(range(15, 35))
    assert result.pred_tube.boxes_xyxy.tolist() == TRACKS.inside(7, 15, 34).boxes_xyxy.tolist()
    assert result.t_iou == pytest.approx(0.6) and result.v_iou == pytest.approx(0.3)
    # track 7's mean IoU with the GT is 0.5 but track 3's is 1: the target is 3
    assert result.terms == {
        "t_iou": pytest.approx(0.6),
        "id_match": 0.0,
        "format": 1.0,
        "v_iou": pytest.approx(0.3),
    }
    assert result.reasons["id_match"] == "answered track ID 7, the target's track is 3"
    right = _score("Target ID: 3, Time range: 1.5 to 3.4")
    assert right.v_iou == pytest.approx(0.6) and right.terms["id_match"] == 1.0
    assert right.total == pytest.approx(0.6 + 1.0 + 1.0)


def test_an_unknown_id_scores_tiou_but_viou_zero_with_a_reason() -> None:
    result = _score("Target ID: 9, Time range: 1 to 2.9")
    assert result.t_iou == pytest.approx(1.0) and result.v_iou == 0.0
    assert result.repairs == ("target ID 9 is not a track of this video: no boxes",)
    assert result.terms["format"] == 0.5 and result.terms["id_match"] == 0.0
    assert result.reasons["id_match"] == "answered track ID 9, the target's track is 3"
    assert result.reasons["v_iou"] == "answer has no boxes"


def _input(text: str, ctx: FrameContext = CTX, fmt: str = "track-id") -> RewardInput:
    verifier = Verifier(VerifierConfig(answer_format=fmt))
    parse = get_format(fmt).parse(text, ctx)
    result = verifier.score_parse(parse, SAMPLE, ctx)
    return RewardInput(SAMPLE, parse, ctx, result.pred_span, result.pred_tube)


@pytest.mark.parametrize(
    ("text", "ctx", "fmt", "value", "reason"),
    [
        ("Target ID: 3, Time range: 1 to 2", CTX, "track-id", 1.0, None),
        (
            "Target ID: 5, Time range: 1 to 2",
            CTX,
            "track-id",
            0.0,
            "answered track ID 5, the target's track is 3",
        ),
        (
            '<answer>{"span": [1, 2], "boxes": {"1": [0, 0, 50, 50]}}</answer>',
            CTX,
            "json-v1",
            0.0,
            "the answer names no track ID",
        ),
        (
            "Time range: 1 to 2",
            CTX,
            "track-id",
            0.0,
            "parse failed: no target ID (expected 'Target ID: K, Time range: START to END')",
        ),
    ],
)
def test_id_match_matching_wrong_and_missing_id(text, ctx, fmt, value, reason) -> None:
    inp = _input(text, ctx, fmt)
    assert score_term("id_match", inp) == (value, reason)
    assert REFERENCE_TERMS["id_match"](inp) == (value, reason)


def test_id_match_without_a_matching_track() -> None:
    far = VideoTracks("s", {5: TRACKS.tracks[5]})
    inp = _input("Target ID: 5, Time range: 1 to 2", replace(CTX, tracks=far))
    expected = (0.0, "no track matches the ground truth (best mean IoU 0.000 < 0.5)")
    assert score_term("id_match", inp) == expected == REFERENCE_TERMS["id_match"](inp)


def test_ground_truth_record_round_trips_the_tracks() -> None:
    from stvg.verifiers.adapters import ground_truth_from_dict, ground_truth_to_dict

    record = ground_truth_to_dict(SAMPLE, CTX, answer_format="track-id")
    back = ground_truth_from_dict(record)
    assert back.ctx.tracks.ids == [3, 5, 7]
    assert back.ctx.tracks.tracks[7].to_dict() == TRACKS.tracks[7].to_dict()
    record["tracks"]["tracks"][0]["frames"]["3"] = [5, 5, 1, 1]
    with pytest.raises(ValueError, match="track 3, frame 3"):
        ground_truth_from_dict(record)
