"""Single-frame grounding images from synthetic scenes: the data of the VLM vision warm-up.

Real VLMs learn to ground on images before videos. :func:`grounding_image` gives the same
kind of example for the synthetic benchmark, cheaply and deterministically: one frame of a
generated scene (the scene of ``(seed, split, index)``, drawn in memory, no video file), a
query that names one object by its attributes ("the large red square", a spatial relation
when a look-alike needs one, never event words), the object's box, and every object drawn on
the frame with its attributes (what a dense vision objective needs).

Conventions are the library's: boxes ``[x1, y1, x2, y2]`` in the image's pixels (the scene
size, 224 by default), images uint8 RGB ``[H, W, 3]``.

>>> item = grounding_image(0, seed=0)
>>> item.image.shape, item.query, [int(v) for v in item.box_xyxy]
((224, 224, 3), 'the orange circle', [6, 153, 46, 193])
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from stvg.data.synthetic.generate import SyntheticConfig, make_scene, sample_rng
from stvg.data.synthetic.queries import noun_phrase, unique_attributes
from stvg.data.synthetic.render import render_frame
from stvg.data.synthetic.scene import Scene, SceneObject

#: The split name images are drawn from (its own seed stream: never a video split's scenes).
IMAGE_SPLIT = "images"


@dataclass(frozen=True)
class DrawnObject:
    """An object drawn on a grounding image.

    Attributes:
        box_xyxy: float64 ``[4]`` tight box in image pixels.
        colour, shape, size: its attributes (the query words).
        is_target: whether the query names it.
        z: drawing order (higher is drawn later, on top).
    """

    box_xyxy: np.ndarray
    colour: str
    shape: str
    size: str
    is_target: bool
    z: int


@dataclass(frozen=True)
class GroundingImage:
    """One frame, one query, one box.

    Attributes:
        image_id: ``images_<index>`` (with the seed and options, the image is reproducible).
        image: uint8 RGB ``[H, W, 3]``.
        query: the noun phrase naming the target, e.g. ``"the small red circle"``.
        box_xyxy: float64 ``[4]`` the target's box in image pixels.
        objects: every object drawn on the image, in drawing order.
        frame_idx: the frame of the scene the image is.
    """

    image_id: str
    image: np.ndarray
    query: str
    box_xyxy: np.ndarray
    objects: tuple[DrawnObject, ...]
    frame_idx: int

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)`` of the image, pixels."""
        return int(self.image.shape[1]), int(self.image.shape[0])


def _visible(obj: SceneObject, frame_idx: int) -> bool:
    return obj.visible[0] <= frame_idx <= obj.visible[1]


def _query(scene: Scene, objects: tuple[SceneObject, ...], frame_idx: int) -> str:
    """The scene's own attribute phrase when its relation holds on ``frame_idx`` (or it has
    none and still names the target alone), else the shortest unique attributes."""
    target = scene.target
    relation = scene.query.relation
    if len(objects) == len(scene.objects) and (relation is None or relation.frame_idx == frame_idx):
        return scene.query.attribute_phrase
    attributes = unique_attributes(target, objects)
    return noun_phrase(target, attributes or ("size", "colour", "shape"))


def grounding_image(
    index: int,
    *,
    seed: int = 0,
    difficulty: Literal["easy", "medium", "hard"] = "easy",
    single_object: bool = False,
    size: int = 224,
) -> GroundingImage:
    """Grounding image ``index`` of the stream ``(seed, difficulty, single_object)``.

    The scene is the generator's scene ``index`` of the split :data:`IMAGE_SPLIT`; the frame
    is drawn at random (from the same seed) among the frames where the target is visible,
    or is the frame on which the scene's spatial relation holds when the query needs one.
    ``single_object`` keeps the target alone on the frame (a first, easier stage).

    Args:
        index: image number (>= 0).
        seed: stream seed.
        difficulty: the generator preset of the scenes (distractors, look-alikes).
        single_object: draw the target only.
        size: image side, pixels (even, >= 64).
    """
    config = SyntheticConfig(
        split=IMAGE_SPLIT, n=index + 1, seed=seed, difficulty=difficulty, size=size
    )
    scene = make_scene(config, index)
    rng = sample_rng(seed, f"{IMAGE_SPLIT}-frame", index)
    relation = scene.query.relation
    if relation is not None and not single_object:
        frame_idx = relation.frame_idx
    else:
        first, last = scene.target.visible
        frame_idx = int(rng.integers(first, last + 1))
    objects = tuple(
        o
        for o in scene.objects
        if _visible(o, frame_idx) and (not single_object or o.object_id == scene.target_id)
    )
    if len(objects) != len(scene.objects):
        scene = dataclasses.replace(scene, objects=objects, query=scene.query)
    image = cv2.cvtColor(render_frame(scene, frame_idx), cv2.COLOR_BGR2RGB)
    drawn = tuple(
        DrawnObject(
            box_xyxy=o.boxes_xyxy([frame_idx])[0],
            colour=o.colour,
            shape=o.shape,
            size=o.size,
            is_target=o.object_id == scene.target_id,
            z=o.z,
        )
        for o in sorted(objects, key=lambda o: (o.z, o.object_id))
    )
    return GroundingImage(
        image_id=f"{IMAGE_SPLIT}_{index:06d}",
        image=image,
        query=_query(scene, objects, frame_idx),
        box_xyxy=scene.target.boxes_xyxy([frame_idx])[0],
        objects=drawn,
        frame_idx=frame_idx,
    )


__all__ = ["IMAGE_SPLIT", "DrawnObject", "GroundingImage", "grounding_image"]
