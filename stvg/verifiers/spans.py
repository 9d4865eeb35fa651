"""The one check of a frame span: an inclusive ``(first, last)`` pair of native frames.

Every verifier input that carries a span (a ground truth's ``gt_span``, a prediction's
``pred_span``, :class:`~stvg.verifiers.rewards.RewardInput`, :class:`~stvg.verifiers.
predictions.Prediction`) goes through :func:`check_span`, so one rule and one exception
type (:class:`ValueError`) hold everywhere.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from stvg.limits import MAX_FRAME_INDEX, short_repr


def check_span(span: Any, what: str) -> tuple[int, int]:
    """``span`` as a checked ``(first, last)`` tuple of Python ints.

    Args:
        span: a pair of integer-valued numbers (tuple, list, numpy array; Python or numpy
            ints, or floats equal to an int), 0-based inclusive native frames.
        what: where the span comes from, for the message (``"sample 'v7': pred_span"``).

    Returns:
        ``(first, last)`` as ints, ``0 <= first <= last <= MAX_FRAME_INDEX``
        (:mod:`stvg.limits`: no video has more frames, and the span arithmetic of the
        metrics stays exact in int64).

    Raises:
        ValueError: not a pair, a non-integer or boolean value, ``first > last``,
            ``first < 0`` or ``last > MAX_FRAME_INDEX``; the message names ``what`` and
            shows ``span``.

    >>> check_span([3.0, 7], "pred_span")
    (3, 7)
    >>> check_span((7, 3), "pred_span")
    Traceback (most recent call last):
    ...
    ValueError: pred_span must satisfy 0 <= first <= last (0-based inclusive native frames), got (7, 3)
    """
    try:
        n = len(span)
        first, last = int(span[0]), int(span[1])
    except (TypeError, ValueError, IndexError, OverflowError) as exc:
        raise ValueError(
            f"{what} must be a (first, last) pair of integer frame indices, got {short_repr(span)}"
        ) from exc
    if (
        n != 2
        or isinstance(span[0], (bool, np.bool_))
        or isinstance(span[1], (bool, np.bool_))
        or first != span[0]
        or last != span[1]
    ):
        raise ValueError(
            f"{what} must be a (first, last) pair of integer frame indices, got {short_repr(span)}"
        )
    if first < 0 or first > last:
        raise ValueError(
            f"{what} must satisfy 0 <= first <= last (0-based inclusive native frames), got {short_repr(span)}"
        )
    if last > MAX_FRAME_INDEX:
        raise ValueError(
            f"{what} ends at frame {last}, past the largest frame index accepted "
            f"({MAX_FRAME_INDEX}: no video has more than {MAX_FRAME_INDEX + 1} frames), got {short_repr(span)}"
        )
    return first, last
