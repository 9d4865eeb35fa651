"""Synthetic STVG benchmark: coloured shapes, events, queries, analytic ground truth."""

from stvg.data.synthetic.annotation import scene_annotation
from stvg.data.synthetic.generate import (
    SyntheticConfig,
    ensure_synthetic_split,
    generate_split,
    make_scene,
    sample_key,
    sample_rng,
)
from stvg.data.synthetic.queries import build_query, relation_holds
from stvg.data.synthetic.render import background_image, render_frame, render_scene
from stvg.data.synthetic.sampler import DIFFICULTIES, DifficultySpec, sample_scene
from stvg.data.synthetic.scene import (
    COLOURS_BGR,
    EVENT_KINDS,
    EVENT_PHRASES,
    SHAPES,
    SIZE_CLASSES,
    Background,
    Event,
    Query,
    Relation,
    Scene,
    SceneObject,
    derive_event_span,
    radius_for,
    scene_from_dict,
    scene_to_dict,
)

__all__ = [
    "COLOURS_BGR",
    "DIFFICULTIES",
    "EVENT_KINDS",
    "EVENT_PHRASES",
    "SHAPES",
    "SIZE_CLASSES",
    "Background",
    "DifficultySpec",
    "Event",
    "Query",
    "Relation",
    "Scene",
    "SceneObject",
    "SyntheticConfig",
    "background_image",
    "build_query",
    "derive_event_span",
    "ensure_synthetic_split",
    "generate_split",
    "make_scene",
    "radius_for",
    "relation_holds",
    "render_frame",
    "render_scene",
    "sample_key",
    "sample_rng",
    "sample_scene",
    "scene_annotation",
    "scene_from_dict",
    "scene_to_dict",
]
