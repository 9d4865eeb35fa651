"""Intervals across seeds, checked against numbers computed by hand."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stvg.stats import Interval, mean_ci, paired_difference

T_0975_DF3 = 3.182446  # Student t quantile t(0.975, df=3), from a printed t table
T_0975_DF2 = 4.302653  # t(0.975, df=2)


def linear_quantile(sorted_values: list[float], q: float) -> float:
    """The percentile rule of ``paired_difference``, written out: h = (N - 1) q, then
    linear interpolation between the sorted values at floor(h) and ceil(h)."""
    h = (len(sorted_values) - 1) * q
    lo, hi = math.floor(h), math.ceil(h)
    return sorted_values[lo] + (h - lo) * (sorted_values[hi] - sorted_values[lo])


def test_mean_ci_by_hand() -> None:
    # [1, 2, 3, 4]: mean 2.5; squared deviations 2.25 + 0.25 + 0.25 + 2.25 = 5,
    # s = sqrt(5 / 3) = 1.290994; half-width = 3.182446 * 1.290994 / 2 = 2.054260.
    ci = mean_ci([1.0, 2.0, 3.0, 4.0])
    assert ci.n == 4
    assert ci.mean == 2.5
    assert ci.half_width == pytest.approx(T_0975_DF3 * math.sqrt(5 / 3) / 2, rel=1e-6)
    assert ci.half_width == pytest.approx(2.0543, abs=1e-4)
    assert ci.lo == pytest.approx(2.5 - 2.054260, abs=1e-5)
    assert ci.hi == pytest.approx(2.5 + 2.054260, abs=1e-5)
    assert ci.format(scale=1.0, digits=4) == "2.5000 ± 2.0543"


def test_mean_ci_percent_format() -> None:
    # [0.40, 0.42, 0.44]: mean 42 %, s = 2 points, half-width 4.302653 * 2 / sqrt(3) = 4.968.
    ci = mean_ci([0.40, 0.42, 0.44])
    assert ci.format() == "42.00 ± 4.97"
    assert ci.format(signed=True) == "+42.00 ± 4.97"


def test_single_value_and_empty() -> None:
    one = mean_ci([0.489])
    assert (one.mean, one.lo, one.hi, one.n) == (0.489, 0.489, 0.489, 1)
    assert one.half_width == 0.0
    assert one.format() == "48.90 (n=1)"
    assert not one.excludes(0.0)
    none = mean_ci([])
    assert none.n == 0 and all(math.isnan(v) for v in (none.mean, none.lo, none.hi))
    assert none.format() == "n/a (n=0)"
    assert none.format_bounds() == "n/a"
    pair_one = paired_difference([0.5], [0.2])
    assert (pair_one.lo, pair_one.hi, pair_one.n) == (pair_one.mean, pair_one.mean, 1)
    assert paired_difference([], []).n == 0


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_is_an_error_naming_the_index(bad: float) -> None:
    with pytest.raises(ValueError, match=r"values\[2\]"):
        mean_ci([0.1, 0.2, bad, 0.3])
    with pytest.raises(ValueError, match=r"b\[1\]"):
        paired_difference([0.1, 0.2], [0.1, bad])


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="same length"):
        paired_difference([0.1, 0.2], [0.1])
    with pytest.raises(ValueError, match="confidence"):
        mean_ci([1.0, 2.0], confidence=1.0)
    with pytest.raises(ValueError, match="n_resamples"):
        paired_difference([1.0, 2.0], [0.0, 0.0], n_resamples=0)


def test_paired_three_seeds_enumerates_27_resamples() -> None:
    a = [0.50, 0.61, 0.52]
    b = [0.40, 0.41, 0.52]
    d = [0.10, 0.20, 0.00]  # a - b per seed
    # The 27 ordered resamples of d; their means are (by count of 0.0 / 0.1 / 0.2 drawn)
    # 0.0 x1, 1/30 x3, 2/30 x6 (3 with two 0.1s, 3 with two 0.0s and a 0.2) ...
    means = sorted(sum(r) / 3 for r in itertools.product(d, repeat=3))
    assert len(means) == 27
    assert means[:4] == pytest.approx([0.0, 1 / 30, 1 / 30, 1 / 30])
    assert means[-4:] == pytest.approx([0.5 / 3, 0.5 / 3, 0.5 / 3, 0.2])
    # h(0.025) = 26 * 0.025 = 0.65 -> 0 + 0.65 * (1/30) = 0.021667;
    # h(0.975) = 25.35 -> 0.5/3 + 0.35 * (0.2 - 0.5/3) = 0.178333.
    lo, hi = linear_quantile(means, 0.025), linear_quantile(means, 0.975)
    assert lo == pytest.approx(0.65 / 30)
    assert hi == pytest.approx(0.5 / 3 + 0.35 * (0.2 - 0.5 / 3))
    ci = paired_difference(a, b)
    assert ci.n == 3
    assert ci.mean == pytest.approx(0.1)
    assert ci.lo == pytest.approx(lo) and ci.hi == pytest.approx(hi)
    assert ci.excludes(0.0)
    assert ci.format_bounds() == "[+2.17, +17.83]"
    # enumeration is exact: the seed does not matter
    assert paired_difference(a, b, seed=123) == ci


def test_paired_many_seeds_draws_reproducibly() -> None:
    rng = np.random.default_rng(7)
    a, b = rng.uniform(0.4, 0.6, size=8), rng.uniform(0.3, 0.5, size=8)  # 8**8 > 10_000
    ci = paired_difference(a, b, seed=1)
    assert ci == paired_difference(a, b, seed=1)
    assert ci.mean == pytest.approx(float(np.mean(a - b)))
    assert min(a - b) <= ci.lo <= ci.mean <= ci.hi <= max(a - b)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-1e3, 1e3), min_size=2, max_size=12))
def test_mean_ci_contains_mean_and_widens_with_confidence(values: list[float]) -> None:
    ci95, ci99 = mean_ci(values, 0.95), mean_ci(values, 0.99)
    assert ci95.lo <= ci95.mean <= ci95.hi
    assert ci99.lo <= ci95.lo and ci95.hi <= ci99.hi
    assert ci99.half_width >= ci95.half_width


def test_mean_ci_strictly_wider_at_099() -> None:
    values = [0.40, 0.42, 0.44]
    assert mean_ci(values, 0.99).half_width > mean_ci(values, 0.95).half_width


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(0.0, 1.0), st.floats(0.0, 1.0)),
        min_size=2,
        max_size=5,
    )
)
def test_paired_interval_within_the_differences(pairs: list[tuple[float, float]]) -> None:
    a, b = [p[0] for p in pairs], [p[1] for p in pairs]
    d = np.subtract(a, b)
    ci = paired_difference(a, b)
    eps = 1e-12
    assert d.min() - eps <= ci.lo <= ci.hi <= d.max() + eps
    assert ci.lo - eps <= ci.mean <= ci.hi + eps


def test_interval_is_frozen() -> None:
    ci = Interval(0.5, 0.4, 0.6, 3)
    with pytest.raises(AttributeError):
        ci.mean = 0.1  # type: ignore[misc]


def test_equal_pairs_are_identical_not_a_difference() -> None:
    """Two cells that computed the same numbers (up to float rounding: 0.1 + 0.2 is
    0.30000000000000004) are identical; before, the interval [+5.6e-18, +4.2e-17] of the
    rounding error 'excluded 0'."""
    ci = paired_difference([0.1 + 0.2, 0.5], [0.3, 0.5])
    assert ci.identical and (ci.mean, ci.lo, ci.hi, ci.n) == (0.0, 0.0, 0.0, 2)
    assert not ci.excludes(0.0)
    assert ci.format_bounds() == "[+0.00, +0.00]"
    real = paired_difference([0.31, 0.5], [0.3, 0.5])  # a real difference of 1 point
    assert not real.identical and real.excludes(0.0)


def test_a_rounded_zero_has_no_sign() -> None:
    assert Interval(-1e-17, -2e-17, -1e-18, 2).format_bounds() == "[+0.00, +0.00]"
    assert Interval(-1e-17, -2e-17, 0.0, 2).format(signed=True) == "+0.00 ± 0.00"
    assert Interval(-0.004, -0.005, -0.003, 2).format_bounds() == "[-0.50, -0.30]"


def test_bounded_interval_is_cut_at_the_range() -> None:
    # [0, 0, 0.03]: mean 0.01, s = sqrt((1e-4 + 1e-4 + 4e-4) / 2) = 0.017321,
    # half-width 4.302653 * 0.017321 / sqrt(3) = 0.043027: the t interval is
    # [-0.033027, 0.053027]; a vIoU below 0 does not exist, so it is cut at 0.
    t = mean_ci([0.0, 0.0, 0.03])
    assert t.lo == pytest.approx(-0.033027, abs=1e-6) and not t.clipped
    cut = mean_ci([0.0, 0.0, 0.03], bounds=(0.0, 1.0))
    assert cut.clipped and cut.lo == 0.0 and cut.hi == pytest.approx(0.053027, abs=1e-6)
    assert cut.mean == pytest.approx(0.01)
    assert cut.format() == "1.00 [0.00, 5.30]"
    top = mean_ci([1.0, 1.0, 0.97], bounds=(0.0, 1.0))
    assert top.clipped and top.hi == 1.0 and top.lo == pytest.approx(0.99 - 0.043027, abs=1e-6)
    inside = mean_ci([0.40, 0.42, 0.44], bounds=(0.0, 1.0))
    assert not inside.clipped and inside.format() == "42.00 ± 4.97"
    with pytest.raises(ValueError, match=r"values\[1\] is 1\.5, outside the metric's range"):
        mean_ci([0.5, 1.5], bounds=(0.0, 1.0))
