"""A scene's ground truth as an HC-STVG v2 annotation entry (plus an explicit ``fps``)."""

from __future__ import annotations

from typing import Any

from stvg.data.synthetic.scene import Scene


def scene_annotation(scene: Scene) -> dict[str, Any]:
    """The HC-STVG v2 entry of ``scene`` (see ``docs/design.md``, "Dataset formats").

    Keys: ``English`` (the query), ``bbox`` (``[x, y, w, h]`` float pixels, one per frame of
    the event span), ``st_frame`` (1-based index of the first box), ``st_time``/``ed_time``
    (seconds of the first/last span frame, ``frame / fps``), ``img_num`` (frame count),
    ``img_size`` (``[height, width]``) and ``fps`` (synthetic videos are not 20 s long, so
    ``img_num / 20`` would be wrong). The span is exactly ``scene.event``'s frames and every
    box is the target's tight box on that frame.
    """
    first, last = scene.event.span
    boxes = scene.gt_boxes_xyxy()
    bbox = [[float(x1), float(y1), float(x2 - x1), float(y2 - y1)] for x1, y1, x2, y2 in boxes]
    return {
        "English": scene.query.text,
        "bbox": bbox,
        "st_frame": first + 1,
        "st_time": first / scene.fps,
        "ed_time": last / scene.fps,
        "img_num": scene.num_frames,
        "img_size": [scene.height, scene.width],
        "fps": scene.fps,
    }
