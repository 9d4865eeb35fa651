"""Track overlays: each track's box and ID drawn onto the shown frames (STVG-R1).

:func:`draw_tracks` is the one function that draws them; the grounding env calls it on
the frames of every observation (``tracks: {draw: true}``), so ``stvg evaluate`` (which
plays the env) and the verl/TRL exports (which write the env's observation frames) show
the model byte-identical frames.

On each shown frame, every track with a box on that native frame gets:

* its box, scaled from original-video pixels to the shown size and rounded to whole
  pixels, as a 1-pixel outline in the track's colour (:func:`track_colour`);
* its ID in black on a filled label of the track's colour, :data:`LABEL_HEIGHT` pixels
  tall, whose bottom-left corner is the box's top-left corner (the label sits just above
  the box); when there is no room above, it sits just inside the box's top edge.

Drawing uses OpenCV without anti-aliasing (``LINE_8``), so every label pixel that is not
text has exactly the track's colour.
"""

from __future__ import annotations

import numpy as np

from stvg.data.tracks import VideoTracks

#: Height of an ID label, pixels of the shown frame.
LABEL_HEIGHT = 11
_FONT_SCALE = 0.35  # cv2.FONT_HERSHEY_SIMPLEX scale: digits about 7 pixels tall
_PAD = 2  # pixels left of and below the text inside a label


def track_colour(track_id: int) -> tuple[int, int, int]:
    """The RGB colour of track ``track_id``: a fixed hue per ID (golden-ratio steps),
    full saturation and value, so nearby IDs differ."""
    import colorsys

    hue = (int(track_id) * 0.618033988749895) % 1.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.9, 1.0)
    return round(r * 255), round(g * 255), round(b * 255)


def shown_box(
    box_xyxy: np.ndarray, original_size: tuple[int, int], shown_size: tuple[int, int]
) -> tuple[int, int, int, int]:
    """``box_xyxy`` (original pixels) in whole pixels of the shown frame, inside it."""
    sx = shown_size[0] / original_size[0]
    sy = shown_size[1] / original_size[1]
    x1, y1, x2, y2 = (float(v) for v in box_xyxy)
    w, h = shown_size
    return (
        int(np.clip(round(x1 * sx), 0, w - 1)),
        int(np.clip(round(y1 * sy), 0, h - 1)),
        int(np.clip(round(x2 * sx) - 1, 0, w - 1)),
        int(np.clip(round(y2 * sy) - 1, 0, h - 1)),
    )


def label_rect(
    box: tuple[int, int, int, int], text_width: int, shown_size: tuple[int, int]
) -> tuple[int, int, int, int]:
    """The ID label's ``(x1, y1, x2, y2)`` (inclusive pixels) for a shown ``box``."""
    x1, y1, _, _ = box
    w, h = shown_size
    width = text_width + 2 * _PAD
    left = int(min(x1, max(w - width, 0)))
    top = y1 - LABEL_HEIGHT if y1 - LABEL_HEIGHT >= 0 else y1
    bottom = min(top + LABEL_HEIGHT - 1, h - 1)
    return left, top, min(left + width - 1, w - 1), bottom


def draw_tracks(
    frames: np.ndarray,
    frame_idx: np.ndarray,
    tracks: VideoTracks,
    original_size: tuple[int, int],
) -> np.ndarray:
    """A copy of ``frames`` with the tracks drawn (module doc).

    Args:
        frames: uint8 ``[T, H, W, 3]`` RGB shown frames.
        frame_idx: int ``[T]`` their native frames.
        tracks: the video's tracks (native frames, original-video pixels).
        original_size: ``(width, height)`` of the original video, pixels.

    Returns:
        uint8 ``[T, H, W, 3]``, a new array.
    """
    import cv2

    out = np.ascontiguousarray(frames, dtype=np.uint8).copy()
    height, width = out.shape[1:3]
    shown = (width, height)
    font = cv2.FONT_HERSHEY_SIMPLEX
    for t, frame in enumerate(np.asarray(frame_idx).reshape(-1).tolist()):
        image = out[t]
        for track_id, box in tracks.boxes_at(int(frame)):
            colour = track_colour(track_id)
            x1, y1, x2, y2 = shown_box(box, original_size, shown)
            cv2.rectangle(image, (x1, y1), (x2, y2), colour, 1, cv2.LINE_8)
            text = str(track_id)
            (text_w, _), _ = cv2.getTextSize(text, font, _FONT_SCALE, 1)
            lx1, ly1, lx2, ly2 = label_rect((x1, y1, x2, y2), text_w, shown)
            cv2.rectangle(image, (lx1, ly1), (lx2, ly2), colour, -1, cv2.LINE_8)
            cv2.putText(
                image, text, (lx1 + _PAD, ly2 - _PAD), font, _FONT_SCALE, (0, 0, 0), 1, cv2.LINE_8
            )
    return out


__all__ = ["LABEL_HEIGHT", "draw_tracks", "label_rect", "shown_box", "track_colour"]
