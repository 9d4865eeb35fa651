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
``MAX_BOX_COORD``           1,000,000              a box coordinate in a file, pixels, in
                                                   absolute value (areas stay finite)
``MAX_FRAME_BUFFER_BYTES``  4 GiB                  one episode's frames observation
                                                   (``max_frames * max_side**2 * 3``), the
                                                   frames a contact sheet decodes
``MAX_SHEET_PIXELS``        100,000,000            pixels of one contact sheet (tiles x
                                                   tile area: 300 MB of RGB)
``MAX_SEED``                2**63 - 1              a seed (torch takes 64-bit seeds)
``MAX_BATCH``               65,536                 items of one batch or group
``MAX_TOKENS``              1,048,576              tokens a model may generate
``MAX_TEXT_CHARS``          10,000,000             characters of a query or an answer
``MAX_MODEL_WIDTH``         65,536                 units of one layer of a small model
``MAX_SAMPLES``             10,000,000             videos or samples asked for
``MAX_WORKERS``             1,024                  parallel workers or requests
``MAX_TRACK_CANDIDATES``    1,024                  track candidates of one observation
                                                   (``tracks.max_candidates``)
``MAX_CONFIG_VALUES``       100,000                values in one YAML document, aliases
                                                   expanded (an alias bomb is refused)
``MAX_CONFIG_DEPTH``        64                     nesting of one YAML document
``MAX_REPR_CHARS``          200                    characters of a value quoted in an
                                                   error message (:func:`short_repr`)
``MAX_MESSAGE_CHARS``       2,000                  characters of an error message, one
                                                   line (:func:`one_line`)
==========================  =====================  =======================================

:data:`FIELD_BOUNDS` applies them to config fields **by name**, wherever the field appears
(``max_frames`` of the env, of SFT and of synthesis alike): :func:`stvg.config.from_dict`
refuses a value outside its field's bounds naming the key path, the value and the bound.
Every ``int`` field of any config must also fit in 64 bits.
"""

from __future__ import annotations

import math
import reprlib
from collections.abc import Sequence
from typing import Any

MAX_VIDEO_FRAMES = 10_000_000
MAX_FRAME_INDEX = MAX_VIDEO_FRAMES - 1
MIN_NATIVE_FPS = 0.01
MAX_NATIVE_FPS = 1000.0
MAX_VIDEO_SIDE = 16384
MAX_SAMPLING_FPS = 1000.0
MAX_BOX_COORD = 1_000_000.0
MAX_FRAME_BUFFER_BYTES = 4 * 2**30
MAX_SHEET_PIXELS = 100_000_000
MAX_SEED = 2**63 - 1
MAX_BATCH = 65_536
MAX_TOKENS = 1_048_576
MAX_TEXT_CHARS = 10_000_000
MAX_MODEL_WIDTH = 65_536
MAX_SAMPLES = 10_000_000
MAX_WORKERS = 1_024
MAX_TRACK_CANDIDATES = 1_024
MAX_CONFIG_VALUES = 100_000
MAX_CONFIG_DEPTH = 64
MAX_REPR_CHARS = 200
MAX_MESSAGE_CHARS = 2000


#: Config fields bounded by name: ``{name: (minimum or None, maximum, what it counts)}``. A
#: list value (``channels: [16, 32]``) is bounded item by item.
FIELD_BOUNDS: dict[str, tuple[float | None, float, str]] = {
    "seed": (0, MAX_SEED, "a seed"),
    "search_seed": (0, MAX_SEED, "a seed"),
    "fps": (None, MAX_SAMPLING_FPS, "frames per second"),
    "max_frames": (None, MAX_VIDEO_FRAMES, "frames of one video"),
    "max_side": (None, MAX_VIDEO_SIDE, "pixels of a frame side"),
    "frame_size": (None, MAX_VIDEO_SIDE, "pixels of a frame side"),
    "min_pixels": (None, MAX_VIDEO_SIDE**2, "pixels of a frame"),
    "max_pixels": (None, MAX_VIDEO_SIDE**2, "pixels of a frame"),
    "batch_size": (None, MAX_BATCH, "items of a batch"),
    "micro_batch_size": (None, MAX_BATCH, "items of a batch"),
    "eval_batch_size": (None, MAX_BATCH, "items of a batch"),
    "train_batch_size": (None, MAX_BATCH, "items of a batch"),
    "minibatch_size": (None, MAX_BATCH, "items of a batch"),
    "group_size": (None, MAX_BATCH, "answers of a group"),
    "task_size": (None, MAX_BATCH, "episodes of a task"),
    "max_new_tokens": (None, MAX_TOKENS, "generated tokens"),
    "max_tokens": (None, MAX_TOKENS, "generated tokens"),
    "max_query_length": (None, MAX_TEXT_CHARS, "characters"),
    "max_query_len": (None, MAX_TEXT_CHARS, "characters"),
    "max_text_length": (None, MAX_TEXT_CHARS, "characters"),
    "word_dim": (None, MAX_MODEL_WIDTH, "units of a layer"),
    "query_dim": (None, MAX_MODEL_WIDTH, "units of a layer"),
    "hidden": (None, MAX_MODEL_WIDTH, "units of a layer"),
    "channels": (None, MAX_MODEL_WIDTH, "channels of a layer"),
    "fcnet_hiddens": (None, MAX_MODEL_WIDTH, "units of a layer"),
    "n": (None, MAX_SAMPLES, "videos"),
    "n_train": (None, MAX_SAMPLES, "videos"),
    "n_eval": (None, MAX_SAMPLES, "videos"),
    "num_workers": (None, MAX_WORKERS, "workers"),
    "max_concurrency": (None, MAX_WORKERS, "parallel requests"),
    "max_candidates": (None, MAX_TRACK_CANDIDATES, "track candidates"),
}


def bound_problem(name: str, value: object) -> str | None:
    """What is wrong with config field ``name`` holding ``value`` under
    :data:`FIELD_BOUNDS` (``None`` when it is within them, or not a bounded name).

    >>> bound_problem("max_frames", 100_000_000)
    'must be at most 10,000,000 (frames of one video), got 100000000'
    >>> bound_problem("seed", -1), bound_problem("max_frames", 16), bound_problem("lr", 1e9)
    ('must be at least 0 (a seed), got -1', None, None)
    """
    bounds = FIELD_BOUNDS.get(name)
    if bounds is None:
        return None
    minimum, maximum, what = bounds
    values = value if isinstance(value, (list, tuple)) else [value]
    for item in values:
        if isinstance(item, bool) or not isinstance(item, (int, float)):
            continue
        if item > maximum:
            return f"must be at most {plain_number(maximum)} ({what}), got {short_repr(item)}"
        if minimum is not None and item < minimum:
            return f"must be at least {plain_number(minimum)} ({what}), got {short_repr(item)}"
    return None


def plain_number(value: float) -> str:
    """A bound as a message shows it: ``10,000,000`` for a whole number, ``0.01`` otherwise.

    >>> plain_number(1e7), plain_number(0.01)
    ('10,000,000', '0.01')
    """
    return f"{int(value):,}" if float(value).is_integer() else f"{value:g}"


def video_problem(native_fps: float, num_frames: int, width: int, height: int) -> str | None:
    """What is wrong with a video's annotated frame rate, frame count and size under the
    bounds above (``None`` when nothing is).

    >>> video_problem(30.0, 600, 640, 360) is None, video_problem(1e-300, 600, 64, 64)
    (True, 'native_fps 1e-300 is outside [0.01, 1000] frames per second')
    """
    if not MIN_NATIVE_FPS <= native_fps <= MAX_NATIVE_FPS:  # NaN fails too
        return (
            f"native_fps {native_fps:g} is outside [{MIN_NATIVE_FPS:g}, {MAX_NATIVE_FPS:g}] "
            "frames per second"
        )
    if not 1 <= num_frames <= MAX_VIDEO_FRAMES:
        return f"num_frames {num_frames} is outside [1, {MAX_VIDEO_FRAMES:,}]"
    for name, side in (("width", width), ("height", height)):
        if not 1 <= side <= MAX_VIDEO_SIDE:
            return f"{name} {side} is outside [1, {MAX_VIDEO_SIDE:,}] pixels"
    return None


def is_finite(value: float) -> bool:
    """Whether the number ``value`` is finite and within the float range: ``False`` for NaN,
    the infinities and an integer too large for a float (``10**400``, which a JSON or YAML
    file can hold and ``math.isfinite`` refuses with ``OverflowError``).

    >>> is_finite(1.5), is_finite(float("nan")), is_finite(10**400)
    (True, False, False)
    """
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def box_problem(box: Sequence[float]) -> str | None:
    """What is wrong with the coordinates of a box ``[x1, y1, x2, y2]`` read from a file
    (annotations, predictions, ground-truth records): ``None`` when each is a finite
    number of at most :data:`MAX_BOX_COORD` pixels in absolute value.

    The bound keeps box arithmetic exact enough and finite: with ``1e308`` a width
    overflows to ``inf`` and ``inf * 0`` makes an IoU of NaN.

    >>> box_problem([0, 0, 10, 10]) is None, box_problem([-1e308, 0, 1e308, 0])
    (True, 'coordinate -1e+308 is past 1,000,000 pixels from the origin')
    """
    for value in box:
        if not is_finite(value):
            return f"coordinate {short_repr(value)} is not a finite number"
        if abs(value) > MAX_BOX_COORD:
            return f"coordinate {value:g} is past {MAX_BOX_COORD:,.0f} pixels from the origin"
    return None


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


def one_line(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """``text`` with every line break (``str.splitlines``'s, with the indentation after it)
    turned into one space, and its middle cut to `` ... `` past ``limit`` characters (the
    start says what was wrong, the end how to fix it): an error message is printed as one
    line of bounded length, whatever a value, a path or a library put in it.

    >>> one_line("malformed YAML\\n  in line 1\\n    ^")
    'malformed YAML in line 1 ^'
    >>> one_line("bad value " + "x" * 100 + ". Fix: y", limit=30)
    'bad value xx ... xxxxx. Fix: y'
    """
    lines = text.splitlines()  # "\n", "\r" and the other breaks (U+0085, U+2028...)
    if len(lines) > 1 or text != text.rstrip("\n\r"):
        text = " ".join(part.strip() for part in lines if part.strip())
    if len(text) <= limit:
        return text
    head = (limit - 5) // 2
    return f"{text[:head]} ... {text[len(text) - (limit - 5 - head) :]}"


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
    "FIELD_BOUNDS",
    "MAX_BATCH",
    "MAX_BOX_COORD",
    "MAX_CONFIG_DEPTH",
    "MAX_CONFIG_VALUES",
    "MAX_FRAME_BUFFER_BYTES",
    "MAX_FRAME_INDEX",
    "MAX_MODEL_WIDTH",
    "MAX_NATIVE_FPS",
    "MAX_SAMPLING_FPS",
    "MAX_SEED",
    "MAX_SHEET_PIXELS",
    "MAX_TEXT_CHARS",
    "MAX_TOKENS",
    "MAX_VIDEO_FRAMES",
    "MAX_VIDEO_SIDE",
    "MAX_MESSAGE_CHARS",
    "MAX_REPR_CHARS",
    "MAX_SAMPLES",
    "MAX_TRACK_CANDIDATES",
    "MAX_WORKERS",
    "MIN_NATIVE_FPS",
    "bound_problem",
    "box_problem",
    "is_finite",
    "plain_number",
    "one_line",
    "short_repr",
    "video_problem",
]
