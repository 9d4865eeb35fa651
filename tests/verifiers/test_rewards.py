"""Reward terms on hand-built inputs: every number below is computed by hand.

Scene: a 30 fps, 300-frame (10 s), 640x480 video; the ground truth is frames 30..89 (60
frames) with the box [100, 100, 200, 200] on each. The policy saw 1 fps: frames 0, 30, ...,
270 (10 frames) at 0, 1, ..., 9 s.
"""

from __future__ import annotations

import doctest

import numpy as np
import pytest
from reference_terms import REFERENCE_TERMS, consistency_fraction, length_ratio

from stvg.config import InvalidField
from stvg.data.timing import span_seconds_to_frames
from stvg.data.types import Sample, SecondLevelAnswer, Tube
from stvg.tubes import densify
from stvg.verifiers import rewards
from stvg.verifiers.formats import FrameContext, ParseResult
from stvg.verifiers.rewards import (
    REWARD_TERMS,
    RewardInput,
    get_term,
    register_term,
    resolve_term_params,
    score_term,
)

GT_BOX = [100.0, 100.0, 200.0, 200.0]
SAMPLE = Sample(
    sample_id="vid",
    video_path="vid.mp4",
    query="the man in the hat",
    native_fps=30.0,
    num_frames=300,
    width=640,
    height=480,
    gt_span=(30, 89),
    gt_boxes={f: list(GT_BOX) for f in range(30, 90)},
)
CTX = FrameContext.from_sample(SAMPLE, fps=1.0)
SHIFTED = [150.0, 100.0, 250.0, 200.0]  # IoU with GT_BOX = 5000 / 15000 = 1/3


def answer(
    span: tuple[float, float], times: list[float], boxes: list[list[float]]
) -> SecondLevelAnswer:
    return SecondLevelAnswer(
        span, np.array(times, dtype=np.float64), np.array(boxes, dtype=np.float64).reshape(-1, 4)
    )


def make_input(
    ans: SecondLevelAnswer,
    *,
    format_ok: bool = True,
    repairs: tuple[str, ...] = (),
    end_extension: float = 0.0,
    draft: SecondLevelAnswer | None = None,
) -> RewardInput:
    """The input the verifier builds: the span rule and the linear densified tube (and
    the draft list's, for an answer with one)."""
    parse = ParseResult(ans, None, repairs, format_ok, draft=draft)
    span = span_seconds_to_frames(ans.span_s, 30.0, 300, fps=1.0, end_extension=end_extension)
    tube = densify(ans, SAMPLE, "linear", fps=1.0, end_extension=end_extension)
    draft_tube = None
    if draft is not None:
        draft_tube = densify(draft, SAMPLE, "linear", fps=1.0, end_extension=end_extension)
    return RewardInput(SAMPLE, parse, CTX, span, tube, draft_tube)


def value(name: str, inp: RewardInput, **params) -> float:
    """The term's value by the library (its batch function on a batch of one), checked
    against the per-answer reference implementation of the same formula."""
    score = score_term(name, inp, **params)
    reference = REFERENCE_TERMS[name](inp, **resolve_term_params(name, params))
    assert score.value == pytest.approx(reference.value, abs=1e-12), name
    assert score.reason == reference.reason, name
    return score.value


def test_context_shows_one_frame_per_second() -> None:
    assert CTX.frame_idx.tolist() == [0, 30, 60, 90, 120, 150, 180, 210, 240, 270]


def test_perfect_boxes_over_a_one_frame_longer_span() -> None:
    # span [1, 3] s -> frames 30..90: I = 60 (30..89), U = 61 (30..90).
    inp = make_input(answer((1.0, 3.0), [1, 2, 3], [GT_BOX] * 3))
    assert inp.pred_span == (30, 90)
    assert value("t_iou", inp) == pytest.approx(60 / 61)
    assert value("v_iou", inp) == pytest.approx(60 / 61)
    assert value("giou", inp) == pytest.approx(1.0)
    assert value("l1", inp) == pytest.approx(1.0)
    assert value("span_length", inp) == pytest.approx(60 / 61)


def test_shifted_boxes() -> None:
    # IoU = 1/3 on the 60 shared frames: vIoU = 60 * (1/3) / 61 = 20/61.
    # The hull [100, 100, 250, 200] equals the union (15000), so GIoU = IoU = 1/3.
    # L1: |150-100|/640 and |250-200|/640 on x, 0 on y -> mean 100/2560 = 0.0390625.
    inp = make_input(answer((1.0, 3.0), [1, 2, 3], [SHIFTED] * 3))
    assert value("v_iou", inp) == pytest.approx(20 / 61)
    assert value("giou", inp) == pytest.approx((1 / 3 + 1) / 2)
    assert value("giou", inp, mapped=False) == pytest.approx(1 / 3)
    assert value("l1", inp) == pytest.approx(1 - 0.0390625)


def test_giou_ranks_disjoint_boxes_and_l1_normalises_y_by_height() -> None:
    # Disjoint: IoU 0, hull [100, 100, 400, 200] = 30000, union 20000 -> GIoU = -1/3.
    far = make_input(answer((1.0, 3.0), [1, 2, 3], [[300.0, 100.0, 400.0, 200.0]] * 3))
    assert value("v_iou", far) == 0.0
    assert value("giou", far, mapped=False) == pytest.approx(-1 / 3)
    assert value("giou", far) == pytest.approx(1 / 3)
    # y off by 48 px on both corners: 48 / 480 = 0.1 on 2 of 4 coordinates -> 1 - 0.05.
    low = make_input(answer((1.0, 3.0), [1, 2, 3], [[100.0, 148.0, 200.0, 248.0]] * 3))
    assert value("l1", low) == pytest.approx(0.95)


def test_spatial_terms_use_only_the_temporal_intersection() -> None:
    # span [0, 2] s -> frames 0..60; the box at 0 s is far off, but frames 0..29 have no GT
    # box and the densified boxes on 30..60 equal the GT (the 1 s and 2 s keys are exact).
    inp = make_input(answer((0.0, 2.0), [0, 1, 2], [[400.0, 300.0, 500.0, 400.0], GT_BOX, GT_BOX]))
    assert value("giou", inp) == pytest.approx(1.0)
    assert value("l1", inp) == pytest.approx(1.0)
    # I = 30..60 = 31 frames, U = 0..89 = 90 frames.
    assert value("t_iou", inp) == pytest.approx(31 / 90)
    assert value("v_iou", inp) == pytest.approx(31 / 90)


def test_stvg_o1_spatial_giou_minus_l1_on_the_overlap() -> None:
    # SHIFTED on the 60 shared frames: GIoU 1/3, L1 distance (50 + 50) / 640 / 4 = 0.0390625.
    inp = make_input(answer((1.0, 3.0), [1, 2, 3], [SHIFTED] * 3))
    assert value("spatial", inp) == pytest.approx(1 / 3 - 0.0390625)
    assert value("spatial", inp, l1=False) == pytest.approx(1 / 3)
    assert value("spatial", inp, giou=False) == pytest.approx(-0.0390625)
    # disjoint: GIoU -1/3, L1 (200 + 200) / 640 / 4 = 0.15625
    far = make_input(answer((1.0, 3.0), [1, 2, 3], [[300.0, 100.0, 400.0, 200.0]] * 3))
    assert value("spatial", far) == pytest.approx(-1 / 3 - 0.15625)
    # only the overlap counts: the far box at 0 s lies before the GT span
    inp = make_input(answer((0.0, 2.0), [0, 1, 2], [[400.0, 300.0, 500.0, 400.0], GT_BOX, GT_BOX]))
    assert value("spatial", inp) == pytest.approx(1.0)
    with pytest.raises(InvalidField, match="giou: true, l1: true or both"):
        resolve_term_params("spatial", {"giou": False, "l1": False})


def test_time_r1_boundary_penalty() -> None:
    # span [1, 3] s -> frames 30..90 against 30..89: tIoU 60/61, end off by 1 of 300 frames
    inp = make_input(answer((1.0, 3.0), [1, 2, 3], [GT_BOX] * 3))
    assert value("t_iou_boundary", inp) == pytest.approx(60 / 61 * (1 - 1 / 300))
    # span [0, 2] s -> 0..60: tIoU 31/90, start off by 30 frames, end by 29
    inp = make_input(answer((0.0, 2.0), [0, 1, 2], [GT_BOX] * 3))
    assert value("t_iou_boundary", inp) == pytest.approx(31 / 90 * (1 - 30 / 300) * (1 - 29 / 300))


def test_gate_pays_the_term_only_past_the_threshold() -> None:
    good = make_input(answer((1.0, 3.0), [1, 2, 3], [GT_BOX] * 3))  # tIoU 60/61
    assert value("gate", good) == pytest.approx(60 / 61)  # vIoU, paid
    early = make_input(answer((0.0, 2.0), [0, 1, 2], [GT_BOX] * 3))  # tIoU = vIoU = 31/90
    assert value("gate", early) == 0.0
    assert score_term("gate", early).reason == "gated: t_iou 0.344 < 0.5"
    assert value("gate", early, threshold=0.3) == pytest.approx(31 / 90)
    assert value("gate", early, term="giou", when="span_length", threshold=0.5) == pytest.approx(
        1.0
    )
    with pytest.raises(InvalidField, match="parameter 'term' must name a registered term"):
        resolve_term_params("gate", {"term": "gate"})
    with pytest.raises(InvalidField, match="parameter 'when' must name"):
        resolve_term_params("gate", {"when": "nope"})
    assert get_term("gate").range_of(resolve_term_params("gate", {"term": "spatial"})) == (
        -2.0,
        1.0,
    )


def test_gate_threshold_schedule_over_training_iterations() -> None:
    # 10 iterations from 0.1 to 0.5: iteration 1 -> 0.1, 6 -> 0.1 + 0.4 * 5/10 = 0.3,
    # 8 -> 0.1 + 0.4 * 7/10 = 0.38, 11 and later -> 0.5; outside training -> 0.5.
    assert rewards.gate_threshold(1, 0.5, 0.1, 10) == pytest.approx(0.1)
    assert rewards.gate_threshold(6, 0.5, 0.1, 10) == pytest.approx(0.3)
    assert rewards.gate_threshold(8, 0.5, 0.1, 10) == pytest.approx(0.38)
    assert rewards.gate_threshold(11, 0.5, 0.1, 10) == 0.5
    assert rewards.gate_threshold(500, 0.5, 0.1, 10) == 0.5
    assert rewards.gate_threshold(None, 0.5, 0.1, 10) == 0.5
    assert rewards.gate_threshold(1, 0.5, 0.1, 0) == 0.5  # no schedule
    from stvg.verifiers import Verifier

    params = {"threshold": 0.5, "threshold_start": 0.1, "schedule_iterations": 10}
    verifier = Verifier.from_config({"terms": [{"name": "gate", "params": params}]})
    early = answer((0.0, 2.0), [0, 1, 2], [GT_BOX] * 3)  # tIoU = vIoU = 31/90 = 0.344
    paid = {}
    for iteration in (1, 6, 8, 11, None):
        verifier.set_iteration(iteration)
        result = verifier.score_answer(early, SAMPLE, CTX)
        paid[iteration] = (result.terms["gate"], result.reasons.get("gate"))
    assert paid[1][0] == pytest.approx(31 / 90) and paid[1][1] is None  # 0.344 >= 0.1
    assert paid[6][0] == pytest.approx(31 / 90)  # 0.344 >= 0.3
    assert paid[8] == (0.0, "gated: t_iou 0.344 < 0.38")
    assert paid[11] == (0.0, "gated: t_iou 0.344 < 0.5")
    assert paid[None] == (0.0, "gated: t_iou 0.344 < 0.5")
    with pytest.raises(InvalidField, match="whole number of iterations >= 0"):
        resolve_term_params("gate", {"schedule_iterations": 2.5})
    with pytest.raises(InvalidField, match="whole number of iterations >= 0"):
        resolve_term_params("gate", {"schedule_iterations": -1})
    with pytest.raises(ValueError, match="iteration >= 0 or None"):
        verifier.set_iteration(-1)
    with pytest.raises(ValueError, match="iteration >= 0 or None"):
        verifier.set_iteration(True)


# The draft list of a draft-final answer (STVG-o1) next to the final list. Both lists cover
# 1, 2, 3 s (span [1, 3] s -> frames 30..90, 60 of them with a GT box). spatial(GT_BOX) = 1;
# spatial(SHIFTED) = GIoU 1/3 - L1 (50 + 50) / 640 / 4 = 1/3 - 0.0390625.
def test_think_gain_is_the_final_lists_spatial_gain_over_the_draft() -> None:
    final_gt = answer((1.0, 3.0), [1, 2, 3], [GT_BOX] * 3)
    draft_shifted = answer((1.0, 3.0), [1, 2, 3], [SHIFTED] * 3)
    refined = make_input(final_gt, draft=draft_shifted)
    assert value("think_gain", refined) == pytest.approx(1 - (1 / 3 - 0.0390625))  # 0.70573
    assert value("think_gain", refined, l1=False) == pytest.approx(1 - 1 / 3)  # GIoU only
    assert value("think_gain", refined, giou=False) == pytest.approx(0.0390625)  # L1 only
    # a final list worse than its draft gains nothing (max(., 0))
    worse = make_input(draft_shifted, draft=final_gt)
    assert value("think_gain", worse) == 0.0 and score_term("think_gain", worse).reason is None
    # disjoint draft [300, 100, 400, 200]: GIoU -1/3, L1 (200 + 200) / 640 / 4 = 0.15625
    far = answer((1.0, 3.0), [1, 2, 3], [[300.0, 100.0, 400.0, 200.0]] * 3)
    assert value("think_gain", make_input(final_gt, draft=far)) == pytest.approx(
        1 + 1 / 3 + 0.15625
    )
    # only the span overlap counts: a far draft box at 0 s lies before the GT span
    # (frames 0..29), the densified draft on 30..60 is the GT: no gain
    span02 = answer((0.0, 2.0), [0, 1, 2], [GT_BOX] * 3)
    off_at_0 = answer((0.0, 2.0), [0, 1, 2], [[400.0, 300.0, 500.0, 400.0], GT_BOX, GT_BOX])
    assert value("think_gain", make_input(span02, draft=off_at_0)) == 0.0
    assert get_term("think_gain").range_of(resolve_term_params("think_gain", {})) == (0.0, 3.0)
    with pytest.raises(InvalidField, match="giou: true, l1: true or both"):
        resolve_term_params("think_gain", {"giou": False, "l1": False})


def test_think_gain_without_a_draft_or_a_shared_frame_is_zero_with_the_reason() -> None:
    final_gt = answer((1.0, 3.0), [1, 2, 3], [GT_BOX] * 3)
    one_list = make_input(final_gt)  # json-v1 / tagged: no draft list
    assert value("think_gain", one_list) == 0.0
    assert score_term("think_gain", one_list).reason == "the answer has no draft box list"
    no_draft_boxes = make_input(final_gt, draft=answer((1.0, 3.0), [], []))
    assert value("think_gain", no_draft_boxes) == 0.0
    assert score_term("think_gain", no_draft_boxes).reason == (
        "draft list: no frame has both a predicted and a ground-truth box"
    )
    # an empty final list with a far-off draft (spatial -1/3 - 0.15625) gains nothing
    far = answer((1.0, 3.0), [1, 2, 3], [[300.0, 100.0, 400.0, 200.0]] * 3)
    no_final_boxes = make_input(answer((1.0, 3.0), [], []), draft=far)
    assert value("think_gain", no_final_boxes) == 0.0
    assert score_term("think_gain", no_final_boxes).reason == (
        "final list: no frame has both a predicted and a ground-truth box"
    )


def test_box_consistency_needs_both_lists_at_exactly_the_sampled_seconds() -> None:
    full = answer((1.0, 3.0), [1, 2, 3], [GT_BOX] * 3)
    gap = answer((1.0, 3.0), [1, 3], [GT_BOX] * 2)  # 2 s missing
    assert value("box_consistency", make_input(full, draft=full)) == 1.0
    assert value("box_consistency", make_input(full)) == 1.0  # one list: it alone
    missing_draft = make_input(full, draft=gap)
    assert value("box_consistency", missing_draft) == 0.0
    assert score_term("box_consistency", missing_draft).reason == (
        "the draft list has 2 boxes for the 3 shown frames in the span [1, 3] s"
    )
    both = make_input(gap, draft=answer((1.0, 3.0), [2], [GT_BOX]))
    assert score_term("box_consistency", both).reason == (
        "the answer has 2 boxes for the 3 shown frames in the span [1, 3] s; "
        "the draft list has 1 box for the 3 shown frames in the span [1, 3] s"
    )
    # span [1.2, 3.4] s: the shown seconds inside it are 2 and 3 (1 s is 0.2 s before it,
    # more than the parser's min(0.05 s, interval / 4) = 0.05 s)
    inner = answer((1.2, 3.4), [2, 3], [GT_BOX] * 2)
    assert value("box_consistency", make_input(inner, draft=inner)) == 1.0
    # a structured answer's box between two shown frames: 3 boxes, but 2.5 s is not shown
    between = make_input(answer((1.0, 3.0), [1, 2.5, 3], [GT_BOX] * 3))
    assert value("box_consistency", between) == 0.0
    assert score_term("box_consistency", between).reason == (
        "the answer has 3 boxes not at the 3 shown frames in the span [1, 3] s"
    )


def test_format_term() -> None:
    ans = answer((1.0, 3.0), [1, 2, 3], [GT_BOX] * 3)
    assert value("format", make_input(ans)) == 1.0
    repaired = make_input(ans, format_ok=False, repairs=("box clipped to the frame at 2 s",))
    assert value("format", repaired) == 0.5
    assert value("format", repaired, repaired=0.2) == pytest.approx(0.2)


def test_consistency_counts_shown_frames_classified_correctly() -> None:
    full = make_input(answer((1.0, 3.0), [1, 2, 3], [GT_BOX] * 3))
    assert value("consistency", full) == 1.0
    # 2 s is inside the span but has no box: 9 of 10 shown frames are right.
    missing = make_input(answer((1.0, 3.0), [1, 3], [GT_BOX] * 2))
    assert value("consistency", missing) == pytest.approx(0.9)
    # A box at 5 s, outside the span [1, 3]: 9 of 10.
    outside = make_input(answer((1.0, 3.0), [1, 2, 3, 5], [GT_BOX] * 4))
    assert value("consistency", outside) == pytest.approx(0.9)


def test_span_length_against_gt_and_prior() -> None:
    inp = make_input(answer((1.0, 3.0), [1, 2, 3], [GT_BOX] * 3))  # Lp = 61
    assert value("span_length", inp) == pytest.approx(60 / 61)
    # Prior: 0.25 * 300 = 75 frames; 0.1 * 300 = 30 frames.
    assert value("span_length", inp, reference="prior") == pytest.approx(61 / 75)
    assert value("span_length", inp, reference="prior", prior_fraction=0.1) == pytest.approx(
        30 / 61
    )


def test_end_extension_lengthens_the_predicted_span() -> None:
    # end 3 s + 0.5 / 1 fps = 3.5 s -> frame 105: I = 60, U = 30..105 = 76.
    inp = make_input(answer((1.0, 3.0), [1, 2, 3], [GT_BOX] * 3), end_extension=0.5)
    assert inp.pred_span == (30, 105)
    assert value("t_iou", inp) == pytest.approx(60 / 76)
    assert value("v_iou", inp) == pytest.approx(60 / 76)


def test_parse_failure_scores_zero_with_the_reason_on_every_term() -> None:
    inp = RewardInput(SAMPLE, ParseResult.failure("no <answer> block"), CTX, None, None)
    for name in REWARD_TERMS:
        score = score_term(name, inp)
        assert score.value == 0.0, name
        assert score.reason == "parse failed: no <answer> block", name


def test_answer_without_boxes_keeps_its_temporal_score() -> None:
    inp = make_input(answer((1.0, 3.0), [], []))
    assert len(inp.pred_tube) == 0
    assert value("t_iou", inp) == pytest.approx(60 / 61)
    v = score_term("v_iou", inp)
    assert v.value == 0.0 and v.reason == "answer has no boxes"
    g = score_term("giou", inp, mapped=True)
    assert g.value == 0.0 and "no frame has both" in g.reason
    # Frames 30, 60, 90 are inside the span without a box: 7 of 10 right.
    assert value("consistency", inp) == pytest.approx(0.7)


def test_reward_input_rejects_caller_bugs() -> None:
    parse = ParseResult(answer((1.0, 3.0), [1], [GT_BOX]), None, (), True)
    with pytest.raises(TypeError, match="RewardInput.sample"):
        RewardInput({"id": 1}, parse, CTX, (30, 90), None)
    with pytest.raises(ValueError, match=r"RewardInput\.pred_span must be a \(first, last\) pair"):
        RewardInput(SAMPLE, parse, CTX, (30.5, 90), None)
    # any integer pair is stored as a tuple of Python ints
    listed = RewardInput(SAMPLE, parse, CTX, [np.int64(30), 90.0], None).pred_span
    assert listed == (30, 90) and all(type(v) is int for v in listed)
    with pytest.raises(TypeError, match="pred_tube"):
        RewardInput(SAMPLE, parse, CTX, (30, 90), {30: GT_BOX})
    with pytest.raises(ValueError, match="0 <= first <= last"):
        RewardInput(SAMPLE, parse, CTX, (90, 30), Tube.empty())
    with pytest.raises(ValueError, match="parse failed"):
        RewardInput(SAMPLE, ParseResult.failure("bad"), CTX, (30, 90), None)


def test_param_validation_names_the_parameter() -> None:
    with pytest.raises(InvalidField, match="unknown parameter 'window'") as info:
        resolve_term_params("giou", {"window": 3})
    assert info.value.field == "params.window"
    with pytest.raises(InvalidField, match="must be a bool"):
        resolve_term_params("giou", {"mapped": 1})
    with pytest.raises(InvalidField, match=r"one of \['gt', 'prior'\]"):
        resolve_term_params("span_length", {"reference": "median"})
    with pytest.raises(InvalidField, match=r"lie in \(0, 1\]") as info:
        resolve_term_params("span_length", {"prior_fraction": 0.0})
    assert info.value.field == "params.prior_fraction"
    with pytest.raises(InvalidField, match=r"lie in \[0, 1\]"):
        resolve_term_params("format", {"repaired": 1.5})
    assert resolve_term_params("format", {"repaired": 1}) == {"repaired": 1.0}
    with pytest.raises(ValueError, match="unknown reward term 'tiou'"):
        get_term("tiou")
    with pytest.raises(ValueError, match="already registered"):
        register_term("t_iou")(lambda inp: None)


def test_pure_helpers_edge_cases() -> None:
    assert consistency_fraction(np.zeros(0, np.int64), np.array([3]), (0, 5)) == 0.0
    with pytest.raises(ValueError, match="lengths must be positive"):
        length_ratio(0, 10)


def test_module_doctests_pass() -> None:
    result = doctest.testmod(rewards)
    assert result.attempted >= 3
    assert result.failed == 0


def test_reward_formula_and_range_from_the_terms() -> None:
    """What the report labels the reward curve with: the quickstart's tIoU + vIoU + 3·L1
    lies in [0, 5]; a penalty weight and a raw GIoU widen the range downwards; a term that
    declares no range leaves it unknown; weight-0 terms are logged, not in the formula."""
    from stvg.verifiers import Verifier

    def verifier(*terms: dict) -> Verifier:
        return Verifier.from_config({"terms": list(terms)})

    quickstart = verifier(
        {"name": "t_iou", "weight": 1.0},
        {"name": "v_iou", "weight": 1.0},
        {"name": "l1", "weight": 3.0},
        {"name": "format", "weight": 0.0},
    )
    assert quickstart.formula() == "t_iou + v_iou + 3·l1"
    assert quickstart.total_range() == (0.0, 5.0)
    mixed = verifier(
        {"name": "giou", "weight": 0.5, "params": {"mapped": False}},  # [-0.5, 0.5]
        {"name": "format", "weight": -0.1},  # [-0.1, 0]
    )
    assert mixed.formula() == "0.5·giou - 0.1·format"
    assert mixed.total_range() == (-0.6, 0.5)
    assert verifier({"name": "giou", "weight": 2.0}).total_range() == (0.0, 2.0)  # mapped
    name = "test_range_unknown_term"
    if name not in REWARD_TERMS:
        register_term(name)(lambda batch: None)
    assert verifier({"name": name, "weight": 1.0}).total_range() is None
    assert all(term.value_range is not None for term in BUILT_IN_TERMS)


BUILT_IN_TERMS = [
    REWARD_TERMS[n]
    for n in (
        "t_iou",
        "v_iou",
        "format",
        "consistency",
        "giou",
        "l1",
        "span_length",
        "spatial",
        "t_iou_boundary",
        "gate",
        "think_gain",
        "box_consistency",
    )
]
