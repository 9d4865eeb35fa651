"""Upper bounds on what an annotation file, a predictions file or a config may ask for.

Every bound is far above any real video or model, and low enough that the arithmetic it
feeds stays exact in int64/float64 and the allocations it sizes fit in memory. A value
outside a bound is refused up front with a message naming it and the bound (a
:class:`~stvg.data.errors.DataError` for a file, a :class:`~stvg.config.ConfigError` for a
config), never a wrapped number or an allocation that fails late.

==========================  =====================  =======================================
bound                       value                  what it limits
==========================  =====================  =======================================
``MAX_VIDEO_FRAMES``        10,000,000             frames of one video (``img_num``,
                                                   ``frame_count``): 92 h at 30 fps
``MAX_FRAME_INDEX``         9,999,999              a frame index anywhere (``st_frame``,
                                                   ``ed_frame``, spans)
``MIN_NATIVE_FPS``          0.01                   a video's frame rate (one frame per
``MAX_NATIVE_FPS``          1000                   100 s up to 1000 frames per second)
``MAX_VIDEO_SIDE``          16384                  a video's width or height, pixels
``MAX_SAMPLING_FPS``        1000                   frames sampled per second (``fps``)
``MAX_FRAME_BUFFER_BYTES``  4 GiB                  one episode's frames observation
                                                   (``max_frames * max_side**2 * 3``)
``MAX_SEED``                2**63 - 1              a seed (torch takes 64-bit seeds)
``MAX_CONFIG_VALUES``       100,000                values in one YAML document, aliases
                                                   expanded (an alias bomb is refused)
``MAX_CONFIG_DEPTH``        64                     nesting of one YAML document
``MAX_REPR_CHARS``          200                    characters of a value quoted in an
                                                   error message (:func:`short_repr`)
==========================  =====================  =======================================
"""

from __future__ import annotations

import reprlib
from typing import Any

MAX_VIDEO_FRAMES = 10_000_000
MAX_FRAME_INDEX = MAX_VIDEO_FRAMES - 1
MIN_NATIVE_FPS = 0.01
MAX_NATIVE_FPS = 1000.0
MAX_VIDEO_SIDE = 16384
MAX_SAMPLING_FPS = 1000.0
MAX_FRAME_BUFFER_BYTES = 4 * 2**30
MAX_SEED = 2**63 - 1
MAX_CONFIG_VALUES = 100_000
MAX_CONFIG_DEPTH = 64
MAX_REPR_CHARS = 200


class _ShortRepr(reprlib.Repr):
    """``reprlib.Repr`` whose cost is bounded too: a huge integer is described, not
    converted (Python refuses ints of more than 4,300 digits, and converting is quadratic)."""

    def repr_int(self, x: int, level: int) -> str:
        if x.bit_length() > 128:
            return f"<an integer of {x.bit_length()} bits>"
        return super().repr_int(x, level)


_REPR = _ShortRepr()
_REPR.maxlevel = 4
_REPR.maxlist = _REPR.maxtuple = _REPR.maxset = _REPR.maxdict = 8
_REPR.maxstring = _REPR.maxother = 80


def short_repr(value: Any, limit: int = MAX_REPR_CHARS) -> str:
    """``repr(value)`` cut to at most ``limit`` characters, for error messages.

    The work is bounded whatever ``value`` is (a million-item list, an alias bomb whose
    full repr would take gigabytes, a list that contains itself): at most 8 items per
    container and 4 levels are looked at, the rest is ``...``.

    >>> short_repr(list(range(100)))
    '[0, 1, 2, 3, 4, 5, 6, 7, ...]'
    >>> short_repr("x" * 1000, limit=20)
    "'xxxxxxxxxxxxxxxx..."
    """
    text = _REPR.repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


__all__ = [
    "MAX_CONFIG_DEPTH",
    "MAX_CONFIG_VALUES",
    "MAX_FRAME_BUFFER_BYTES",
    "MAX_FRAME_INDEX",
    "MAX_NATIVE_FPS",
    "MAX_SAMPLING_FPS",
    "MAX_SEED",
    "MAX_VIDEO_FRAMES",
    "MAX_VIDEO_SIDE",
    "MAX_REPR_CHARS",
    "MIN_NATIVE_FPS",
    "short_repr",
]
