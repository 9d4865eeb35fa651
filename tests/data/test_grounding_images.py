"""Single-frame grounding images: the target's box, its query, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from stvg.data.synthetic import COLOURS_BGR, SyntheticConfig, make_scene, relation_holds
from stvg.data.synthetic.images import grounding_image


def _colour_mask(image: np.ndarray, colour: str) -> np.ndarray:
    """Pixels within 12 grey levels of ``colour`` (anti-aliased edges excluded)."""
    rgb = np.array(COLOURS_BGR[colour][::-1], dtype=np.int16)
    return np.all(np.abs(image.astype(np.int16) - rgb) <= 12, axis=-1)


@pytest.mark.parametrize("index", range(6))
def test_a_lone_target_fills_exactly_its_box(index):
    item = grounding_image(index, seed=3, single_object=True)
    (obj,) = item.objects
    assert obj.is_target and np.array_equal(obj.box_xyxy, item.box_xyxy)
    ys, xs = np.nonzero(_colour_mask(item.image, obj.colour))
    # pixel (i, j) covers [i, i + 1) x [j, j + 1): the painted pixels span the box to within
    # the one anti-aliased pixel of each edge
    x1, y1, x2, y2 = item.box_xyxy
    assert xs.min() == pytest.approx(x1, abs=1.0) and xs.max() + 1 == pytest.approx(x2, abs=1.0)
    assert ys.min() == pytest.approx(y1, abs=1.0) and ys.max() + 1 == pytest.approx(y2, abs=1.0)
    # the query names the lone object by its attributes
    assert item.query.split()[-1] == obj.shape and obj.colour in item.query


def test_hand_checked_first_image():
    item = grounding_image(0, seed=0)
    assert item.image.shape == (224, 224, 3) and item.image.dtype == np.uint8
    assert item.query == "the orange circle"
    # a circle of radius 20.1875 px centred at (26.6875, 173.25): its tight box
    assert item.box_xyxy.tolist() == [6.5, 153.0625, 46.875, 193.4375]
    centre = item.image[173, 26]
    assert centre.tolist() == list(COLOURS_BGR["orange"][::-1])  # RGB of the orange shape
    assert sum(o.is_target for o in item.objects) == 1 and len(item.objects) == 2


def test_images_are_deterministic_and_differ_by_index_and_seed():
    a, b = grounding_image(7, seed=1), grounding_image(7, seed=1)
    assert np.array_equal(a.image, b.image) and a.query == b.query
    assert not np.array_equal(a.image, grounding_image(8, seed=1).image)
    assert not np.array_equal(a.image, grounding_image(7, seed=2).image)


def test_every_query_without_a_relation_names_exactly_one_drawn_object():
    checked = 0
    for index in range(60):
        item = grounding_image(index, seed=5, difficulty="medium")
        words = set(item.query.split(" ")[1:])
        if words & {"of", "above", "below"}:  # a relation tells the look-alikes apart
            continue
        matching = [o for o in item.objects if words <= {o.size, o.colour, o.shape}]
        assert [o.is_target for o in matching] == [True], (index, item.query)
        checked += 1
    assert checked >= 40


def test_relation_queries_hold_on_the_image_frame():
    seen = 0
    for index in range(40):
        item = grounding_image(index, seed=0, difficulty="hard")
        scene = make_scene(SyntheticConfig("images", index + 1, 0, "hard"), index)
        relation = scene.query.relation
        if relation is None or item.query != scene.query.attribute_phrase:
            continue
        seen += 1
        anchor = scene.object(relation.anchor_id)
        assert item.frame_idx == relation.frame_idx
        assert relation_holds(relation.kind, scene.target, anchor, item.frame_idx)
    assert seen >= 5
