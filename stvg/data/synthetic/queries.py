"""Queries that pick out the target: attributes first, a spatial relation when needed."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from stvg.data.synthetic.scene import RELATION_PHRASES, Event, Query, Relation, SceneObject

# Attribute sets tried in order; the shape noun is always named.
_ATTRIBUTE_SETS: tuple[tuple[str, ...], ...] = (("colour", "shape"), ("size", "colour", "shape"))
_ALL_ATTRIBUTES = ("size", "colour", "shape")


def noun_phrase(obj: SceneObject, attributes: Sequence[str]) -> str:
    """``"the"`` + the named attributes in English order, e.g. ``"the small red circle"``."""
    words = [getattr(obj, a) for a in _ALL_ATTRIBUTES if a in attributes]
    return "the " + " ".join(words)


def _matches(obj: SceneObject, ref: SceneObject, attributes: Sequence[str]) -> bool:
    return all(getattr(obj, a) == getattr(ref, a) for a in attributes)


def unique_attributes(obj: SceneObject, objects: Sequence[SceneObject]) -> tuple[str, ...] | None:
    """The shortest attribute set (colour+shape, then size+colour+shape) naming only ``obj``.

    Returns ``None`` when another object has the same size, colour and shape.
    """
    others = [o for o in objects if o.object_id != obj.object_id]
    for attributes in _ATTRIBUTE_SETS:
        if not any(_matches(o, obj, attributes) for o in others):
            return attributes
    return None


def relation_holds(kind: str, obj: SceneObject, anchor: SceneObject, frame_idx: int) -> bool:
    """Whether ``obj`` is ``kind`` (left_of/right_of/above/below) ``anchor`` on a frame.

    Boxes must be strictly apart along the relation's axis (e.g. ``left_of``: the object's
    ``x2`` < the anchor's ``x1``); an object not visible on the frame satisfies nothing.
    """
    if kind not in RELATION_PHRASES:
        raise ValueError(f"unknown relation {kind!r}; choose one of {tuple(RELATION_PHRASES)}")
    for o in (obj, anchor):
        if not o.visible[0] <= frame_idx <= o.visible[1]:
            return False
    a = obj.boxes_xyxy([frame_idx])[0]
    b = anchor.boxes_xyxy([frame_idx])[0]
    if kind == "left_of":
        return bool(a[2] < b[0])
    if kind == "right_of":
        return bool(a[0] > b[2])
    if kind == "above":
        return bool(a[3] < b[1])
    return bool(a[1] > b[3])


def build_query(
    objects: Sequence[SceneObject],
    target_id: int,
    event: Event,
    rng: np.random.Generator | None = None,
) -> Query | None:
    """A query naming the target unambiguously among ``objects`` and fixing ``event``.

    The target is named by colour and shape, plus size if needed; when a look-alike shares
    all three attributes, a spatial relation to a uniquely named anchor, true for the
    target and false for every look-alike on the event's first frame, is added (chosen by
    ``rng`` among the valid ones, else the first). Returns ``None`` when no relation works.
    """
    target = next(o for o in objects if o.object_id == target_id)
    attributes = unique_attributes(target, objects)
    relation = None
    if attributes is None:
        attributes = _ALL_ATTRIBUTES
        relation = _find_relation(objects, target, event.first_frame, rng)
        if relation is None:
            return None
    attribute_phrase = noun_phrase(target, attributes)
    if relation is not None:
        attribute_phrase = f"{attribute_phrase} {relation.phrase}"
    text = f"{attribute_phrase[0].upper()}{attribute_phrase[1:]} {event.phrase}."
    return Query(
        text=text,
        attribute_phrase=attribute_phrase,
        event_phrase=event.phrase,
        attributes=tuple(a for a in _ALL_ATTRIBUTES if a in attributes),
        relation=relation,
    )


def _find_relation(
    objects: Sequence[SceneObject],
    target: SceneObject,
    frame_idx: int,
    rng: np.random.Generator | None,
) -> Relation | None:
    twins = [
        o
        for o in objects
        if o.object_id != target.object_id and _matches(o, target, _ALL_ATTRIBUTES)
    ]
    options = []
    for anchor in objects:
        if anchor.object_id == target.object_id or anchor in twins:
            continue
        anchor_attributes = unique_attributes(anchor, objects)
        if anchor_attributes is None:
            continue
        for kind in RELATION_PHRASES:
            if relation_holds(kind, target, anchor, frame_idx) and not any(
                relation_holds(kind, t, anchor, frame_idx) for t in twins
            ):
                phrase = noun_phrase(anchor, anchor_attributes)
                options.append(Relation(kind, anchor.object_id, frame_idx, phrase))
    if not options:
        return None
    pick = 0 if rng is None else int(rng.integers(len(options)))
    return options[pick]
