"""Confidence intervals across seeds: a Student-t interval of a mean and a paired bootstrap
interval of a mean difference.

Values are whatever the caller measures (fractions such as ``m_vIoU`` in [0, 1], seconds,
tokens); an :class:`Interval` carries the same unit, and :meth:`Interval.format` scales it
for display (``scale=100`` shows fractions as percent or points).

Non-finite inputs (NaN, inf) are an error, never silently dropped: a NaN metric means a
broken trial, and leaving it out would make the interval look better than the sweep was.

A metric with a range (a fraction such as ``m_vIoU`` lies in [0, 1]) gets its interval cut
at the range (``mean_ci(values, bounds=(0, 1))``): the true mean lies in the range, so the
cut interval covers it whenever the uncut one does, and a bar never reaches below 0 %. A
cut interval says so (``clipped``) and is shown as ``mean [lo, hi]``. Paired differences
that are all zero (to ``IDENTICAL_ATOL``, far below any shown digit: two cells that
computed the same numbers) are ``identical``: their interval is exactly ``[0, 0]``, and it
excludes nothing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

DEFAULT_CONFIDENCE = 0.95  # two-sided coverage of every interval unless told otherwise
#: Paired differences within this of 0 are float rounding of equal numbers, not a difference.
IDENTICAL_ATOL = 1e-9


def _fixed(value: float, digits: int, sign: str = "") -> str:
    """``value`` with ``digits`` decimals; a value that rounds to zero shows no minus sign
    (``-0.00`` would claim a direction the number does not have)."""
    rounded = round(value, digits) + 0.0  # + 0.0 turns -0.0 into 0.0
    return f"{rounded:{sign}.{digits}f}"


@dataclass(frozen=True)
class Interval:
    """A point estimate with a two-sided confidence interval, in the unit of the data.

    Attributes:
        mean: the point estimate (the sample mean, or the mean paired difference).
        lo: lower bound of the interval (``== mean`` when ``n == 1``; NaN when ``n == 0``).
        hi: upper bound of the interval (``== mean`` when ``n == 1``; NaN when ``n == 0``).
        n: number of values (seeds, or seed pairs) the estimate is computed from.
        clipped: the interval was cut at the metric's range (see the module doc).
        identical: a paired difference whose every pair is equal (see the module doc).
    """

    mean: float
    lo: float
    hi: float
    n: int
    clipped: bool = False
    identical: bool = False

    @property
    def half_width(self) -> float:
        """``(hi - lo) / 2`` in the unit of the data (0 when ``n == 1``, NaN when ``n == 0``);
        for an asymmetric bootstrap interval this is half its length, not a ``±`` bound."""
        return (self.hi - self.lo) / 2.0

    def excludes(self, value: float = 0.0) -> bool:
        """Whether ``value`` lies strictly outside ``[lo, hi]`` (False for ``n < 2``: a
        single value has no spread to exclude anything with; False for ``identical``
        differences: equal cells exclude nothing)."""
        if self.n < 2 or self.identical or not (math.isfinite(self.lo) and math.isfinite(self.hi)):
            return False
        return value < self.lo or value > self.hi

    def format(self, scale: float = 100.0, digits: int = 2, *, signed: bool = False) -> str:
        """``"48.90 ± 1.23"``: ``mean`` and ``half_width`` times ``scale`` (100 shows fractions
        as percent); ``"48.90 (n=1)"`` for one value, ``"n/a (n=0)"`` for none, and
        ``"1.20 [0.00, 3.50]"`` (the bounds) for a ``clipped`` interval, whose two sides
        differ.

        Args:
            scale: factor applied to every number (1 keeps the data's unit).
            digits: decimals shown.
            signed: show ``+`` on non-negative means (for differences).

        >>> Interval(0.489, 0.4767, 0.5013, 3).format()
        '48.90 ± 1.23'
        >>> Interval(0.05, 0.05, 0.05, 1).format(signed=True)
        '+5.00 (n=1)'
        >>> Interval(0.012, 0.0, 0.035, 2, clipped=True).format()
        '1.20 [0.00, 3.50]'
        """
        if self.n == 0 or not math.isfinite(self.mean):
            return f"n/a (n={self.n})"
        sign = "+" if signed else ""
        mean = _fixed(self.mean * scale, digits, sign)
        if self.n == 1:
            return f"{mean} (n=1)"
        if self.clipped:
            lo, hi = (_fixed(v * scale, digits, sign) for v in (self.lo, self.hi))
            return f"{mean} [{lo}, {hi}]"
        return f"{mean} ± {_fixed(self.half_width * scale, digits)}"

    def format_bounds(self, scale: float = 100.0, digits: int = 2) -> str:
        """``"[+0.50, +2.00]"``: the signed bounds times ``scale`` (``"n/a"`` when ``n == 0``).

        >>> Interval(0.01, 0.005, 0.02, 3).format_bounds()
        '[+0.50, +2.00]'
        >>> Interval(-1e-17, -2e-17, 0.0, 2).format_bounds()
        '[+0.00, +0.00]'
        """
        if self.n == 0 or not (math.isfinite(self.lo) and math.isfinite(self.hi)):
            return "n/a"
        return f"[{_fixed(self.lo * scale, digits, '+')}, {_fixed(self.hi * scale, digits, '+')}]"


def _finite_array(values: Sequence[float], name: str) -> np.ndarray:
    """``values`` as a 1-D float64 array; a non-finite entry is a ValueError naming it."""
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"{name} must be a 1-D sequence of numbers, got shape {x.shape}")
    bad = np.flatnonzero(~np.isfinite(x))
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"{name}[{i}] is {x[i]!r}: every value must be finite (non-finite values are "
            f"not dropped; fix or leave out the trial); non-finite at indices {bad.tolist()}"
        )
    return x


def _check_confidence(confidence: float) -> None:
    if not (0.0 < confidence < 1.0):
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")


def _nan_interval() -> Interval:
    return Interval(math.nan, math.nan, math.nan, 0)


def mean_ci(
    values: Sequence[float],
    confidence: float = DEFAULT_CONFIDENCE,
    bounds: tuple[float, float] | None = None,
) -> Interval:
    """The mean of ``values`` (one per seed) with a two-sided Student-t interval.

    ``mean ± t_{(1 + confidence) / 2, n - 1} * s / sqrt(n)`` with ``s`` the sample standard
    deviation (``ddof=1``). One value gives ``lo == hi == mean``; none gives NaNs. The unit
    is the unit of ``values``. With ``bounds = (low, high)``, the metric's range, the
    interval is cut at it (``clipped`` when it had to be; see the module doc).

    Raises:
        ValueError: a non-finite value (naming its index), ``confidence`` not in (0, 1),
            or, with ``bounds``, a value outside them (a fraction above 1 is a bug
            upstream, not a number to average).

    >>> ci = mean_ci([0.0, 0.0, 0.03], bounds=(0.0, 1.0))
    >>> round(ci.mean, 4), ci.lo, round(ci.hi, 4), ci.clipped
    (0.01, 0.0, 0.053, True)

    >>> ci = mean_ci([1.0, 2.0, 3.0, 4.0])
    >>> round(ci.mean, 4), round(ci.half_width, 4), ci.n
    (2.5, 2.0543, 4)
    """
    _check_confidence(confidence)
    x = _finite_array(values, "values")
    n = int(x.size)
    if n == 0:
        return _nan_interval()
    mean = float(np.mean(x))
    if n == 1:
        return Interval(mean, mean, mean, 1)
    from scipy import stats as scipy_stats

    t = float(scipy_stats.t.ppf((1.0 + confidence) / 2.0, n - 1))
    half = t * float(np.std(x, ddof=1)) / math.sqrt(n)
    lo, hi = mean - half, mean + half
    if bounds is None:
        return Interval(mean, lo, hi, n)
    low, high = bounds
    outside = np.flatnonzero((x < low) | (x > high))
    if outside.size:
        i = int(outside[0])
        raise ValueError(
            f"values[{i}] is {float(x[i])!r}, outside the metric's range [{low}, {high}]"
        )
    clipped = lo < low or hi > high
    return Interval(mean, max(lo, low), min(hi, high), n, clipped=clipped)


def _enumerated_resample_means(d: np.ndarray) -> np.ndarray:
    """The means of all ``n**n`` resamples with replacement of ``d`` (each equally likely),
    resample ``k`` taking ``d[digit_j(k)]`` for the ``n`` base-``n`` digits of ``k``."""
    n = d.size
    index = np.arange(n**n, dtype=np.int64)
    total = np.zeros(n**n, dtype=np.float64)
    for j in range(n):
        total += d[(index // n**j) % n]
    return total / n


def paired_difference(
    a: Sequence[float],
    b: Sequence[float],
    confidence: float = DEFAULT_CONFIDENCE,
    n_resamples: int = 10_000,
    seed: int = 0,
) -> Interval:
    """The mean of the paired differences ``d_i = a_i - b_i`` (``a`` and ``b`` paired by
    seed, in the unit of the data) with a bootstrap percentile interval.

    The bootstrap distribution is the mean of ``n`` differences drawn with replacement
    from ``d``:

    * when ``n**n <= n_resamples``, every one of the ``n**n`` ordered resamples is
      enumerated once (each equally likely, so the distribution is exact and the result is
      deterministic: 3 seeds give 27 resample means);
    * otherwise ``n_resamples`` resamples are drawn with ``numpy.random.default_rng(seed)``.

    Percentile rule: with ``M`` the resulting resample means (duplicates kept) and
    ``alpha = 1 - confidence``, ``lo = numpy.quantile(M, alpha / 2, method="linear")`` and
    ``hi = numpy.quantile(M, 1 - alpha / 2, method="linear")``; i.e. for the sorted means
    ``m_0 <= ... <= m_{N-1}`` and ``h = (N - 1) * q``, the ``q``-quantile is
    ``m_floor(h) + (h - floor(h)) * (m_ceil(h) - m_floor(h))``.

    One pair gives ``lo == hi == mean``; none gives NaNs. Differences all within
    ``IDENTICAL_ATOL`` of 0 give the ``identical`` interval ``0 [0, 0]``.

    Raises:
        ValueError: ``a`` and ``b`` differ in length, a non-finite value, ``confidence``
            not in (0, 1) or ``n_resamples < 1``.

    >>> ci = paired_difference([0.5, 0.6, 0.7], [0.4, 0.5, 0.5])
    >>> round(ci.mean, 4), round(ci.lo, 4), round(ci.hi, 4), ci.n
    (0.1333, 0.1, 0.1783, 3)
    """
    _check_confidence(confidence)
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples}")
    x_a, x_b = _finite_array(a, "a"), _finite_array(b, "b")
    if x_a.size != x_b.size:
        raise ValueError(
            f"a and b must be paired (same length), got len(a)={x_a.size}, len(b)={x_b.size}"
        )
    d = x_a - x_b
    n = int(d.size)
    if n == 0:
        return _nan_interval()
    if bool(np.all(np.abs(d) <= IDENTICAL_ATOL)):
        return Interval(0.0, 0.0, 0.0, n, identical=True)
    mean = float(np.mean(d))
    if n == 1:
        return Interval(mean, mean, mean, 1)
    if n**n <= n_resamples:
        means = _enumerated_resample_means(d)
    else:
        rng = np.random.default_rng(seed)
        means = d[rng.integers(0, n, size=(n_resamples, n))].mean(axis=1)
    alpha = 1.0 - confidence
    lo, hi = np.quantile(means, [alpha / 2.0, 1.0 - alpha / 2.0], method="linear")
    return Interval(mean, float(lo), float(hi), n)
