"""Numbers from what a policy produced: one reading for every numeric action."""

from __future__ import annotations

from typing import Any

import numpy as np


def float_array(value: Any) -> np.ndarray | None:
    """``value`` as a float64 array, or ``None`` when it is not numbers (bools, integers
    and floats): a string or a list holding one (``["0", "1"]`` is not read as numbers), a
    ragged or too deeply nested list, ``None``, an integer past int64 (``10**400``).

    >>> float_array([1, 2.5]).tolist(), float_array("1"), float_array(None)
    ([1.0, 2.5], None, None)
    """
    try:
        array = np.asarray(value)
    except (TypeError, ValueError, OverflowError, RecursionError):
        return None
    if array.dtype.kind not in "biuf":
        return None
    return array.astype(np.float64)


__all__ = ["float_array"]
