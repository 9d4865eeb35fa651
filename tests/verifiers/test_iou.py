"""Box IoU and GIoU on hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from stvg.verifiers.iou import box_iou, box_iou_single, generalized_box_iou

# (a, b, IoU computed by hand)
CASES = [
    # identical 10x10 boxes: inter 100, union 100
    ([0, 0, 10, 10], [0, 0, 10, 10], 1.0),
    # disjoint: no overlap
    ([0, 0, 1, 1], [2, 2, 3, 3], 0.0),
    # contained: inter = 2*2 = 4, union = 100 + 4 - 4 = 100
    ([0, 0, 10, 10], [2, 2, 4, 4], 0.04),
    # half overlap: inter = 1*2 = 2, union = 4 + 4 - 2 = 6
    ([0, 0, 2, 2], [1, 0, 3, 2], 1.0 / 3.0),
    # touching edges (x = 1): inter width 0
    ([0, 0, 1, 1], [1, 0, 2, 1], 0.0),
    # degenerate (zero width) against a real box: area 0, inter 0
    ([1, 1, 1, 5], [0, 0, 4, 4], 0.0),
    # two identical degenerate points: union 0 -> 0, not NaN
    ([3, 3, 3, 3], [3, 3, 3, 3], 0.0),
    # inverted box: area clipped to 0 (unclipped it would be (0-5)*(0-5) = 25)
    ([5, 5, 0, 0], [0, 0, 5, 5], 0.0),
    # fractional: inter = 0.5*1 = 0.5, union = 1 + 1 - 0.5 = 1.5
    ([0.0, 0.0, 1.0, 1.0], [0.5, 0.0, 1.5, 1.0], 1.0 / 3.0),
]


@pytest.mark.parametrize(("a", "b", "expected"), CASES)
def test_box_iou_single_cases(a, b, expected):
    value = box_iou_single(a, b)
    assert isinstance(value, float)
    assert value == pytest.approx(expected, abs=1e-12)
    assert box_iou_single(b, a) == pytest.approx(expected, abs=1e-12)  # symmetric


def test_box_iou_is_elementwise_over_aligned_arrays():
    a = np.array([c[0] for c in CASES], dtype=np.float64)
    b = np.array([c[1] for c in CASES], dtype=np.float64)
    out = box_iou(a, b)
    assert out.dtype == np.float64
    assert out.shape == (len(CASES),)
    np.testing.assert_allclose(out, [c[2] for c in CASES], atol=1e-12)
    assert not np.isnan(out).any()


def test_box_iou_empty_and_shape_errors():
    assert box_iou(np.zeros((0, 4)), np.zeros((0, 4))).shape == (0,)
    with pytest.raises(ValueError, match="aligned"):
        box_iou(np.zeros((2, 4)), np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"shape \[N, 4\]"):
        box_iou(np.zeros((2, 3)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="one box with one box"):
        box_iou_single(np.zeros((2, 4)), np.zeros((2, 4)))


def test_generalized_box_iou_cases():
    a = [[0, 0, 10, 10], [0, 0, 1, 1], [0, 0, 2, 2], [0, 0, 1, 1], [3, 3, 3, 3]]
    b = [[0, 0, 10, 10], [2, 0, 3, 1], [1, 0, 3, 2], [99, 99, 100, 100], [3, 3, 3, 3]]
    expected = [
        1.0,  # identical: IoU 1, hull = union
        -1.0 / 3.0,  # IoU 0, union 2, hull 3x1 = 3: 0 - (3 - 2) / 3
        1.0 / 3.0,  # IoU 1/3, hull [0,0,3,2] = 6 = union: no penalty
        -0.9998,  # IoU 0, union 2, hull 100x100: -(10000 - 2) / 10000
        0.0,  # both degenerate: hull 0, no penalty, IoU 0
    ]
    np.testing.assert_allclose(generalized_box_iou(a, b), expected, atol=1e-12)
