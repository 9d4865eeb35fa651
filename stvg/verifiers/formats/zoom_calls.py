"""The zoom call of :class:`~stvg.envs.zoom.ZoomGroundingEnv`: its text form, parser and
structured form, in one place.

A turn of the zoom env is either a **zoom** (show me the frames of ``[start, end]`` seconds
at ``fps`` frames per second) or the **answer** (the usual answer block of the answer
contract). As text, a zoom is one block::

    <zoom>{"span": [4.0, 9.0], "fps": 1}</zoom>

``span`` is ``[start, end]`` in seconds of the video (the times the frames are labelled
with); ``fps`` is optional (default: the env's finest rate). Any text with a ``<zoom>``
block is a zoom call (what else it says is ignored, an answer block included); any other
text is read as the answer. :func:`render_zoom_call` writes the block that
:func:`parse_zoom_text` reads back (SFT targets and prompts use it), and
:func:`read_struct_action` reads the structured action of the native policy.

Nothing here raises on what a policy produced: a malformed call is a
:class:`ZoomCall`-less result with a reason.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from stvg.limits import short_repr
from stvg.verifiers.formats.numbers import float_array

#: The tag of a zoom call in text.
ZOOM_TAG = "zoom"
_OPEN = "<zoom>"
_CLOSE = "</zoom>"
#: Keys of a zoom call's JSON object.
ZOOM_KEYS = ("span", "fps")
#: The kinds of a structured action: ``kind = 0`` zooms, ``kind = 1`` answers.
ACTION_KINDS = ("zoom", "answer")
#: Keys a structured zoom needs (besides ``kind``).
STRUCT_ZOOM_KEYS = ("window", "zoom_fps")


@dataclass(frozen=True)
class ZoomCall:
    """A request for more frames: the window ``[start_s, end_s]`` (seconds of the video,
    as given: the env clips it) at ``fps`` frames per second (``None`` = the env's finest
    rate)."""

    start_s: float
    end_s: float
    fps: float | None = None


def render_zoom_call(call: ZoomCall) -> str:
    """The text of ``call``, as :func:`parse_zoom_text` reads it.

    >>> render_zoom_call(ZoomCall(4.0, 9.5, 1.0))
    '<zoom>{"span": [4.0, 9.5], "fps": 1.0}</zoom>'
    >>> parse_zoom_text(render_zoom_call(ZoomCall(4.0, 9.5)))
    (ZoomCall(start_s=4.0, end_s=9.5, fps=None), None)
    """
    body: dict[str, Any] = {"span": [float(call.start_s), float(call.end_s)]}
    if call.fps is not None:
        body["fps"] = float(call.fps)
    return f"<{ZOOM_TAG}>{json.dumps(body)}</{ZOOM_TAG}>"


def is_zoom_text(text: str) -> bool:
    """Whether ``text`` is a zoom call (holds a ``<zoom>`` opening tag)."""
    return _OPEN in text


def parse_zoom_text(text: str) -> tuple[ZoomCall | None, str | None]:
    """The zoom call in ``text``: ``(call, None)``, or ``(None, reason)`` when the block is
    malformed (not closed, not a JSON object, unknown keys, ``span`` not two finite numbers,
    ``fps`` not a positive finite number).

    >>> parse_zoom_text('I need a closer look. <zoom>{"span": [2, 5], "fps": 2}</zoom>')
    (ZoomCall(start_s=2.0, end_s=5.0, fps=2.0), None)
    >>> parse_zoom_text('<zoom>{"span": [2]}</zoom>')[1]
    'invalid zoom call: "span" must be [start, end] in seconds, got [2]'
    """
    start = text.find(_OPEN)  # str.find, not a regex: linear on any text
    end = text.find(_CLOSE, start + len(_OPEN)) if start >= 0 else -1
    if start < 0 or end < 0:
        return None, "invalid zoom call: <zoom> is not closed by </zoom>"
    try:
        body = json.loads(text[start + len(_OPEN) : end])
    except (ValueError, RecursionError) as exc:
        return None, f"invalid zoom call: not JSON ({short_repr(str(exc), 80)})"
    return read_zoom_mapping(body)


def read_zoom_mapping(body: Any) -> tuple[ZoomCall | None, str | None]:
    """A zoom call from its JSON object ``{"span": [s, e], "fps": n}`` (``fps`` optional)."""
    if not isinstance(body, Mapping):
        return None, f"invalid zoom call: expected a JSON object, got {type(body).__name__}"
    unknown = sorted(str(k) for k in body if k not in ZOOM_KEYS)
    if unknown:
        return None, f"invalid zoom call: unknown key(s) {unknown}; it takes {list(ZOOM_KEYS)}"
    span = body.get("span")
    values = float_array(span)
    if values is None or values.shape != (2,) or not np.all(np.isfinite(values)):
        return (
            None,
            f'invalid zoom call: "span" must be [start, end] in seconds, got {short_repr(span, 60)}',
        )
    fps = body.get("fps")
    if fps is not None:
        rate = float_array(fps)
        if rate is None or rate.shape != () or not (math.isfinite(float(rate)) and rate > 0):
            return (
                None,
                f'invalid zoom call: "fps" must be a positive number, got {short_repr(fps, 60)}',
            )
        fps = float(rate)
    return ZoomCall(float(values[0]), float(values[1]), fps), None


def read_struct_action(
    action: Any,
) -> tuple[Literal["zoom", "answer"] | None, ZoomCall | None, str | None]:
    """The kind of a structured action and, for a zoom, its call.

    A structured action is a mapping with ``kind`` (0 = zoom, 1 = answer; an integer, a
    bool or a float equal to one of them). A zoom also has ``window`` (``[start, end]``
    seconds) and ``zoom_fps`` (a rate; ``0`` = the env's finest); an answer has the keys of
    the grounding env's ``struct`` action (``span``, ``boxes``, ``box_mask``), read by
    :func:`stvg.envs.answers.struct_to_parse`.

    Returns:
        ``(kind, call, reason)``: ``("zoom", call, None)``, ``("answer", None, None)``, or
        ``(kind_or_None, None, reason)`` when malformed.
    """
    if not isinstance(action, Mapping) or "kind" not in action:
        return (
            None,
            None,
            (
                "invalid zoom-env action: expected a mapping with 'kind' (0 = zoom, 1 = answer), "
                f"got {short_repr(action, 60)}"
            ),
        )
    kind = float_array(action["kind"])
    if kind is None or kind.size != 1 or float(kind.reshape(-1)[0]) not in (0.0, 1.0):
        return (
            None,
            None,
            (
                f"invalid zoom-env action: 'kind' must be 0 (zoom) or 1 (answer), got "
                f"{short_repr(action['kind'], 60)}"
            ),
        )
    if float(kind.reshape(-1)[0]) == 1.0:
        return "answer", None, None
    missing = [key for key in STRUCT_ZOOM_KEYS if key not in action]
    if missing:
        return "zoom", None, f"invalid zoom action: missing key(s) {missing}"
    rate = float_array(action["zoom_fps"])
    if rate is None or rate.size != 1:
        return (
            "zoom",
            None,
            f"invalid zoom action: 'zoom_fps' must be a number, got {short_repr(action['zoom_fps'], 60)}",
        )
    value = float(rate.reshape(-1)[0])
    call, reason = read_zoom_mapping(
        {"span": _plain(action["window"]), **({"fps": value} if value != 0.0 else {})}
    )
    return "zoom", call, reason


def _plain(value: Any) -> Any:
    array = float_array(value)
    return array.tolist() if array is not None else value


__all__ = [
    "ACTION_KINDS",
    "STRUCT_ZOOM_KEYS",
    "ZOOM_KEYS",
    "ZOOM_TAG",
    "ZoomCall",
    "is_zoom_text",
    "parse_zoom_text",
    "read_struct_action",
    "read_zoom_mapping",
    "render_zoom_call",
]
