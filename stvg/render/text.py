"""Text on images with OpenCV's Hershey font: size, drawing and wrapping.

OpenCV's built-in font has ASCII glyphs only. :func:`draw_text` draws the em dash ``—``
(used for "no IoU") as a horizontal stroke of its own, and any other non-ASCII character as
``?``, so that a query in any script still renders without an error. Sizes are pixels;
``scale`` is OpenCV's ``fontScale`` (1.0 is about 22 pixels from baseline to cap height).
"""

from __future__ import annotations

import cv2
import numpy as np

FONT = cv2.FONT_HERSHEY_SIMPLEX
EM_DASH = "\u2014"
ELLIPSIS = "..."
_DASH_WIDTH_OF = "M"  # the em dash is as wide as this glyph


def _runs(text: str) -> list[str]:
    """``text`` split into runs of ASCII text and single em dashes (other non-ASCII: ``?``)."""
    runs: list[str] = []
    current: list[str] = []
    for char in text:
        if char == EM_DASH:
            if current:
                runs.append("".join(current))
                current = []
            runs.append(EM_DASH)
        else:
            current.append(char if char.isascii() and char.isprintable() else "?")
    if current:
        runs.append("".join(current))
    return runs


def _run_width(run: str, scale: float, thickness: int) -> int:
    glyphs = _DASH_WIDTH_OF if run == EM_DASH else run
    return int(cv2.getTextSize(glyphs, FONT, scale, thickness)[0][0])


def text_width(text: str, scale: float, thickness: int = 1) -> int:
    """Width in pixels of ``text`` as :func:`draw_text` draws it."""
    return sum(_run_width(run, scale, thickness) for run in _runs(text))


def line_height(scale: float, thickness: int = 1) -> int:
    """Pixels from one baseline to the next for a line of text at ``scale`` (glyph height
    with descenders, plus 40 % spacing)."""
    (_, height), baseline = cv2.getTextSize("Mg", FONT, scale, thickness)
    return int(round((height + baseline) * 1.4))


def draw_text(
    image: np.ndarray,
    text: str,
    origin_xy: tuple[int, int],
    colour: tuple[int, int, int],
    *,
    scale: float,
    thickness: int = 1,
) -> int:
    """Draw ``text`` on ``image`` in place.

    Args:
        image: uint8 ``[H, W, 3]`` image (any channel order; ``colour`` is in that order).
        text: the text; ``—`` is drawn as a stroke, other non-ASCII characters as ``?``.
        origin_xy: ``(x, y)`` pixels of the left end of the baseline.
        colour: the text colour.
        scale: OpenCV font scale.
        thickness: stroke thickness in pixels.

    Returns:
        The x pixel just after the drawn text.
    """
    x, y = int(origin_xy[0]), int(origin_xy[1])
    (_, cap_height), _ = cv2.getTextSize("M", FONT, scale, thickness)
    for run in _runs(text):
        width = _run_width(run, scale, thickness)
        if run == EM_DASH:
            mid = y - cap_height // 2
            cv2.line(image, (x + 1, mid), (x + width - 2, mid), colour, max(1, thickness))
        else:
            cv2.putText(image, run, (x, y), FONT, scale, colour, thickness, cv2.LINE_AA)
        x += width
    return x


def fit_text(text: str, max_width: int, scale: float, thickness: int = 1) -> str:
    """``text`` cut so that it fits in ``max_width`` pixels, ending in ``...`` when cut."""
    if text_width(text, scale, thickness) <= max_width:
        return text
    kept = text
    while kept and text_width(kept + ELLIPSIS, scale, thickness) > max_width:
        kept = kept[:-1]
    return kept.rstrip() + ELLIPSIS if kept else ""


def wrap_text(
    text: str, max_width: int, scale: float, *, max_lines: int, thickness: int = 1
) -> list[str]:
    """Break ``text`` at spaces into at most ``max_lines`` lines of at most ``max_width``
    pixels; a word longer than a line is cut, and text that does not fit ends in ``...``.

    >>> wrap_text("a b c", 10_000, 0.5, max_lines=2)
    ['a b c']
    """
    if max_lines < 1:
        raise ValueError(f"max_lines must be >= 1, got {max_lines}")
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = word if not current else f"{current} {word}"
        if current and text_width(candidate, scale, thickness) > max_width:
            lines.append(current)
            current = word
        else:
            current = candidate
    if current:
        lines.append(current)
    if len(lines) > max_lines:
        lines = [*lines[: max_lines - 1], " ".join(lines[max_lines - 1 :])]
    return [fit_text(line, max_width, scale, thickness) for line in lines]


__all__ = [
    "EM_DASH",
    "FONT",
    "draw_text",
    "fit_text",
    "line_height",
    "text_width",
    "wrap_text",
]
