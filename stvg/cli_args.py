"""``argparse`` types shared by every subcommand (``--fps``, counts).

Top level (beside :mod:`stvg.config`) so that each layer's ``commands`` module can use them
without importing a layer above it.
"""

from __future__ import annotations

import argparse
import math


def parse_fps(text: str) -> float | None:
    """``--fps`` value: a positive finite number, or ``native``/``none`` for every frame."""
    if text.strip().lower() in ("native", "none", "null"):
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--fps must be a positive number or 'native', got {text!r}"
        ) from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"--fps must be a positive number, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """An argparse type: an integer >= 1.

    >>> positive_int("3")
    3
    """
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value


def non_negative_int(text: str) -> int:
    """An argparse type: an integer >= 0 (e.g. a seed).

    >>> non_negative_int("0")
    0
    """
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {value}")
    return value


__all__ = ["non_negative_int", "parse_fps", "positive_int"]
