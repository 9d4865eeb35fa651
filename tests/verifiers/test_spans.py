"""The one span check (:func:`stvg.verifiers.spans.check_span`) and its callers."""

from __future__ import annotations

import doctest

import numpy as np
import pytest

from stvg.data.types import Sample, Tube
from stvg.verifiers import metrics, spans
from stvg.verifiers.batch_input import _GroundTruth
from stvg.verifiers.formats import FrameContext, ParseResult
from stvg.verifiers.metrics import GroundTruthTable, dataset_metrics, score_sample, temporal_iou
from stvg.verifiers.predictions import Prediction
from stvg.verifiers.rewards import RewardInput
from stvg.verifiers.spans import check_span


def _sample(span, sample_id: str = "v7", meta=None) -> Sample:
    return Sample(
        sample_id=sample_id,
        video_path="v7.mp4",
        query="a man sits",
        gt_span=span,
        gt_boxes={},
        width=64,
        height=48,
        native_fps=10.0,
        num_frames=50,
        meta=meta or {},
    )


@pytest.mark.parametrize(
    ("span", "expected"),
    [
        ((3, 7), (3, 7)),
        ([0, 0], (0, 0)),
        ((np.int64(2), np.int32(9)), (2, 9)),
        ((4.0, 6.0), (4, 6)),  # integer-valued floats, as JSON may give them
        (np.array([1, 5]), (1, 5)),
    ],
)
def test_check_span_accepts_integer_pairs(span, expected) -> None:
    out = check_span(span, "pred_span")
    assert out == expected
    assert all(type(v) is int for v in out)


@pytest.mark.parametrize(
    ("span", "match"),
    [
        ((7, 3), r"pred_span must satisfy 0 <= first <= last .* got \(7, 3\)"),
        ((-1, 3), "0 <= first <= last"),
        ((0.5, 4), r"pair of integer frame indices, got \(0\.5, 4\)"),
        ((True, 4), "pair of integer frame indices"),
        ((1, 2, 3), "pair of integer frame indices"),
        ((1,), "pair of integer frame indices"),
        (None, r"got None"),
        ("ab", "pair of integer frame indices"),
        ((float("nan"), 4), "pair of integer frame indices"),
    ],
)
def test_check_span_rejects_with_value_error(span, match) -> None:
    with pytest.raises(ValueError, match=match):
        check_span(span, "pred_span")


def test_every_caller_raises_the_same_error_naming_its_input() -> None:
    """metrics, the batched verifier, rewards and predictions share the one check."""
    parse = ParseResult.failure("bad")
    ctx = FrameContext.from_sample(_sample((0, 9)), fps=1.0)
    cases = [
        (lambda: temporal_iou((5, 4), (0, 9)), r"^pred_span must satisfy"),
        (lambda: score_sample(_sample((0, 9)), (2.5, 4), None), r"sample 'v7': pred_span"),
        (lambda: GroundTruthTable([_sample((9, 3))]), r"sample 'v7': gt_span must satisfy"),
        (lambda: _GroundTruth([_sample((9, 3))]), r"sample 'v7': gt_span must satisfy"),
        (lambda: RewardInput(_sample((0, 9)), parse, ctx, [3], None), "RewardInput.pred_span"),
        (lambda: Prediction((5, 4), Tube.empty()), r"^Prediction\.span must satisfy"),
    ]
    for call, match in cases:
        with pytest.raises(ValueError, match=match):
            call()


def test_sentence_type_breakdown_is_the_same_from_a_batch_and_from_a_list() -> None:
    samples = [
        _sample((0, 9), "a", {"sentence_type": "declarative"}),
        _sample((0, 9), "b", {}),
        _sample((0, 9), "c", {"sentence_type": "interrogative"}),
    ]
    # span formula, tIoU: a (0, 9) -> 1; b (0, 4) -> 5/10; c (5, 14) -> I = 5..9,
    # U = 0..14 -> 5/15 (spans without boxes: the official protocol would give 0)
    batch = GroundTruthTable(samples, "span").score([(0, 9), (0, 4), (5, 14)], [None, None, None])
    from_batch = dataset_metrics(batch)
    from_list = dataset_metrics(list(batch))
    assert from_batch == from_list
    by_type = from_batch["by_sentence_type"]
    assert list(by_type) == ["declarative", "interrogative", "unknown"]
    assert by_type["declarative"]["m_tIoU"] == pytest.approx(1.0)
    assert by_type["interrogative"]["m_tIoU"] == pytest.approx(1 / 3)
    assert by_type["unknown"]["m_tIoU"] == pytest.approx(0.5)
    assert from_batch["m_tIoU"] == pytest.approx((1 + 0.5 + 1 / 3) / 3)
    untyped = dataset_metrics(GroundTruthTable(samples[1:2], "span").score([(0, 4)], [None]))
    assert "by_sentence_type" not in untyped


@pytest.mark.parametrize("module", [spans, metrics])
def test_module_doctests_pass(module) -> None:
    result = doctest.testmod(module)
    assert result.attempted >= 2
    assert result.failed == 0
