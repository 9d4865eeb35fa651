"""The synthetic scene model: shapes with piecewise-linear trajectories, an event, a query.

Coordinates are **continuous pixel coordinates**: pixel ``(i, j)`` (column, row) covers
``[i, i + 1) x [j, j + 1)``, so a box ``[0, 0, W, H]`` is the whole frame (the library's
box convention). Every shape has a *radius* ``r`` and a centre ``(cx, cy)`` and its tight
box is exactly ``[cx - r, cy - r, cx + r, cy + r]``: a circle of radius ``r``, an
axis-aligned square of side ``2r``, or a triangle with apex ``(cx, cy - r)`` and base
corners ``(cx -/+ r, cy + r)``.

Centres move linearly between integer-frame keyframes and hold still before the first and
after the last keyframe. Centres are quantised to :data:`SUBPIXEL` (1/16 pixel), which is
cv2's sub-pixel drawing precision (``shift=4``), so the drawn shape sits exactly where the
annotation says and every box coordinate is an exact binary float.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

SUBPIXEL = 16  # positions are multiples of 1 / SUBPIXEL pixels

Shape = Literal["circle", "square", "triangle"]
SizeClass = Literal["small", "large"]
EventKind = Literal[
    "move_right",
    "move_left",
    "move_up",
    "move_down",
    "pause",
    "stop",
    "start",
    "appear",
    "disappear",
]
RelationKind = Literal["left_of", "right_of", "above", "below"]

SHAPES: tuple[str, ...] = ("circle", "square", "triangle")
SIZE_CLASSES: tuple[str, ...] = ("small", "large")
# Saturated colours, BGR (cv2 order), far from the low-saturation backgrounds.
COLOURS_BGR: dict[str, tuple[int, int, int]] = {
    "red": (40, 40, 220),
    "green": (60, 190, 40),
    "blue": (220, 90, 30),
    "yellow": (30, 220, 235),
    "purple": (190, 50, 160),
    "orange": (20, 130, 250),
}
# Shape radius as a fraction of the frame side, per size class.
RADIUS_FRACTION: dict[str, float] = {"small": 0.05, "large": 0.09}

MOVE_DIRECTIONS: dict[str, tuple[int, int]] = {
    "move_right": (1, 0),
    "move_left": (-1, 0),
    "move_up": (0, -1),
    "move_down": (0, 1),
}
EVENT_PHRASES: dict[str, str] = {
    "move_right": "while it moves right",
    "move_left": "while it moves left",
    "move_up": "while it moves up",
    "move_down": "while it moves down",
    "pause": "while it stands still",
    "stop": "after it stops",
    "start": "before it starts moving",
    "appear": "after it appears",
    "disappear": "before it disappears",
}
EVENT_KINDS: tuple[str, ...] = tuple(EVENT_PHRASES)
RELATION_PHRASES: dict[str, str] = {
    "left_of": "to the left of",
    "right_of": "to the right of",
    "above": "above",
    "below": "below",
}


def quantise(value: float | np.ndarray) -> float | np.ndarray:
    """Round pixel coordinates to the nearest multiple of ``1 / SUBPIXEL`` pixels."""
    if isinstance(value, np.ndarray):
        return np.round(value * SUBPIXEL) / SUBPIXEL
    return float(np.round(float(value) * SUBPIXEL) / SUBPIXEL)


def radius_for(size_class: str, frame_side: int) -> float:
    """Shape radius (pixels, quantised) of ``size_class`` in a frame ``frame_side`` wide."""
    if size_class not in RADIUS_FRACTION:
        raise ValueError(f"unknown size class {size_class!r}; choose one of {SIZE_CLASSES}")
    return float(quantise(RADIUS_FRACTION[size_class] * frame_side))


@dataclass(frozen=True)
class Background:
    """A deterministic background: a flat colour plus an optional mild sine texture.

    Pixel value (per channel) = ``colour_bgr + amplitude * sin(2 pi (fx x + px)) *
    sin(2 pi (fy y + py))`` with ``x, y`` in pixels, clipped to ``[0, 255]``.

    Attributes:
        colour_bgr: base colour, BGR 0-255.
        amplitude: texture amplitude in grey levels (0 = plain).
        freq: ``(fx, fy)`` texture frequencies in cycles per pixel.
        phase: ``(px, py)`` texture phases in cycles.
    """

    colour_bgr: tuple[int, int, int] = (128, 128, 128)
    amplitude: float = 0.0
    freq: tuple[float, float] = (0.0, 0.0)
    phase: tuple[float, float] = (0.0, 0.0)

    @property
    def kind(self) -> str:
        """``"plain"`` or ``"texture"``."""
        return "plain" if self.amplitude == 0 else "texture"


@dataclass(frozen=True)
class SceneObject:
    """One coloured shape with a piecewise-linear trajectory.

    Attributes:
        object_id: id unique within the scene.
        shape: ``circle``, ``square`` or ``triangle``.
        colour: a key of :data:`COLOURS_BGR`.
        size: ``small`` or ``large`` (the words used in queries).
        radius: half the box side in pixels.
        keyframes: ``((frame_idx, cx, cy), ...)`` with strictly increasing 0-based frame
            indices and centres in continuous pixel coordinates.
        visible: inclusive ``(first, last)`` frames on which the shape is drawn.
        z: drawing order; higher is drawn later (on top).
    """

    object_id: int
    shape: str
    colour: str
    size: str
    radius: float
    keyframes: tuple[tuple[int, float, float], ...]
    visible: tuple[int, int]
    z: int = 0

    def __post_init__(self) -> None:
        where = f"SceneObject {self.object_id}"
        if self.shape not in SHAPES:
            raise ValueError(f"{where}: shape {self.shape!r} is not one of {SHAPES}")
        if self.colour not in COLOURS_BGR:
            raise ValueError(f"{where}: colour {self.colour!r} is not one of {tuple(COLOURS_BGR)}")
        if self.size not in SIZE_CLASSES:
            raise ValueError(f"{where}: size {self.size!r} is not one of {SIZE_CLASSES}")
        if not self.radius > 0:
            raise ValueError(f"{where}: radius must be positive, got {self.radius}")
        keyframes = tuple((int(f), float(x), float(y)) for f, x, y in self.keyframes)
        if not keyframes:
            raise ValueError(f"{where}: needs at least one keyframe")
        frames = [k[0] for k in keyframes]
        if any(b <= a for a, b in itertools.pairwise(frames)):
            raise ValueError(f"{where}: keyframe frames must be strictly increasing, got {frames}")
        first, last = int(self.visible[0]), int(self.visible[1])
        if first > last:
            raise ValueError(f"{where}: visible span ({first}, {last}) has first > last")
        object.__setattr__(self, "keyframes", keyframes)
        object.__setattr__(self, "visible", (first, last))

    @property
    def description(self) -> str:
        """All three attributes as words, e.g. ``"small red circle"``."""
        return f"{self.size} {self.colour} {self.shape}"

    def centres(self, frame_idx: np.ndarray | list[int]) -> np.ndarray:
        """Centres ``[N, 2]`` (cx, cy; pixels, quantised) at the given native frames."""
        frames = np.asarray(frame_idx, dtype=np.float64).reshape(-1)
        kf = np.asarray(self.keyframes, dtype=np.float64)
        cx = np.interp(frames, kf[:, 0], kf[:, 1])
        cy = np.interp(frames, kf[:, 0], kf[:, 2])
        return quantise(np.stack([cx, cy], axis=1))

    def boxes_xyxy(self, frame_idx: np.ndarray | list[int]) -> np.ndarray:
        """Tight boxes ``[N, 4]`` ``[x1, y1, x2, y2]`` (pixels) at the given frames."""
        c = self.centres(frame_idx)
        r = self.radius
        return np.stack([c[:, 0] - r, c[:, 1] - r, c[:, 0] + r, c[:, 1] + r], axis=1)

    def visible_mask(self, num_frames: int) -> np.ndarray:
        """Boolean ``[num_frames]``: whether the shape is drawn on each frame."""
        frames = np.arange(num_frames)
        return (frames >= self.visible[0]) & (frames <= self.visible[1])


@dataclass(frozen=True)
class Event:
    """What the target does during the ground-truth span.

    Attributes:
        kind: one of :data:`EVENT_KINDS`.
        first_frame, last_frame: inclusive 0-based native frames of the event.
    """

    kind: str
    first_frame: int
    last_frame: int

    def __post_init__(self) -> None:
        if self.kind not in EVENT_PHRASES:
            raise ValueError(f"Event kind {self.kind!r} is not one of {EVENT_KINDS}")
        if not 0 <= self.first_frame <= self.last_frame:
            raise ValueError(
                f"Event span ({self.first_frame}, {self.last_frame}) must satisfy "
                "0 <= first_frame <= last_frame"
            )

    @property
    def phrase(self) -> str:
        """The query words for this event, e.g. ``"while it moves right"``."""
        return EVENT_PHRASES[self.kind]

    @property
    def span(self) -> tuple[int, int]:
        """Inclusive ``(first_frame, last_frame)``."""
        return self.first_frame, self.last_frame


@dataclass(frozen=True)
class Relation:
    """A spatial relation of the target to an anchor object, true on ``frame_idx``.

    Attributes:
        kind: ``left_of``, ``right_of``, ``above`` or ``below`` (boxes strictly apart).
        anchor_id: object id of the anchor.
        frame_idx: the frame (the event's first frame) on which the relation holds.
        anchor_phrase: the words naming the anchor, e.g. ``"the blue triangle"``.
    """

    kind: str
    anchor_id: int
    frame_idx: int
    anchor_phrase: str

    @property
    def phrase(self) -> str:
        """E.g. ``"to the left of the blue triangle"``."""
        return f"{RELATION_PHRASES[self.kind]} {self.anchor_phrase}"


@dataclass(frozen=True)
class Query:
    """The query and its parts.

    Attributes:
        text: the full query, e.g. ``"The small red circle while it moves right."``.
        attribute_phrase: the words that pick the target, e.g. ``"the small red circle"``
            (including the relation phrase when there is one).
        event_phrase: the words that fix the span, e.g. ``"while it moves right"``.
        attributes: the target attributes the query names (subset of shape/colour/size).
        relation: the spatial relation used to tell the target from look-alikes, if any.
    """

    text: str
    attribute_phrase: str
    event_phrase: str
    attributes: tuple[str, ...] = ()
    relation: Relation | None = None


@dataclass(frozen=True)
class Scene:
    """A full synthetic video: frame size and rate, background, objects, target, query.

    Attributes:
        scene_id: the annotation key and video file name (e.g. ``"train_0003.mp4"``).
        width, height: frame size in pixels (even numbers: mp4v needs them).
        fps: native frame rate.
        num_frames: number of frames.
        background: the :class:`Background`.
        objects: the shapes; object ids unique.
        target_id: id of the queried object.
        event: the target's event; its span is the ground-truth span.
        query: the :class:`Query`.
        difficulty: the generator preset (``easy``/``medium``/``hard``) or ``"custom"``.
        meta: extras (e.g. occluded frames, seed), JSON friendly.
    """

    scene_id: str
    width: int
    height: int
    fps: float
    num_frames: int
    background: Background
    objects: tuple[SceneObject, ...]
    target_id: int
    event: Event
    query: Query
    difficulty: str = "custom"
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        where = f"Scene {self.scene_id!r}"
        if self.width <= 0 or self.height <= 0 or self.width % 2 or self.height % 2:
            raise ValueError(
                f"{where}: width and height must be positive even numbers (mp4v needs them), "
                f"got {self.width}x{self.height}"
            )
        if not self.fps > 0:
            raise ValueError(f"{where}: fps must be positive, got {self.fps}")
        if self.num_frames <= 0:
            raise ValueError(f"{where}: num_frames must be positive, got {self.num_frames}")
        object.__setattr__(self, "objects", tuple(self.objects))
        ids = [o.object_id for o in self.objects]
        if len(set(ids)) != len(ids):
            raise ValueError(f"{where}: object ids must be unique, got {ids}")
        if self.target_id not in ids:
            raise ValueError(f"{where}: target_id {self.target_id} is not among objects {ids}")
        first, last = self.event.span
        if last >= self.num_frames:
            raise ValueError(
                f"{where}: event span ({first}, {last}) ends after the last frame "
                f"{self.num_frames - 1}"
            )
        target = self.object(self.target_id)
        if first < target.visible[0] or last > target.visible[1]:
            raise ValueError(
                f"{where}: the target (object {self.target_id}) must be visible on every "
                f"event frame ({first}, {last}), but is visible on {target.visible}"
            )
        for obj in self.objects:
            boxes = obj.boxes_xyxy([k[0] for k in obj.keyframes])
            outside = (
                (boxes[:, 0] < 0)
                | (boxes[:, 1] < 0)
                | (boxes[:, 2] > self.width)
                | (boxes[:, 3] > self.height)
            )
            if np.any(outside):
                raise ValueError(
                    f"{where}: object {obj.object_id} leaves the {self.width}x{self.height} "
                    f"frame at keyframe {obj.keyframes[int(np.argmax(outside))]}; keep centres "
                    f"at least radius={obj.radius} px inside the frame"
                )

    def object(self, object_id: int) -> SceneObject:
        """The object with ``object_id``."""
        for obj in self.objects:
            if obj.object_id == object_id:
                return obj
        raise KeyError(f"Scene {self.scene_id!r} has no object {object_id}")

    @property
    def target(self) -> SceneObject:
        """The queried object."""
        return self.object(self.target_id)

    @property
    def distractor_ids(self) -> tuple[int, ...]:
        """Ids of every object except the target."""
        return tuple(o.object_id for o in self.objects if o.object_id != self.target_id)

    def gt_frames(self) -> np.ndarray:
        """0-based native frames of the ground-truth span (int64 ``[L]``)."""
        first, last = self.event.span
        return np.arange(first, last + 1, dtype=np.int64)

    def gt_boxes_xyxy(self) -> np.ndarray:
        """Target boxes ``[L, 4]`` (xyxy pixels) on :meth:`gt_frames`."""
        return self.target.boxes_xyxy(self.gt_frames())


def derive_event_span(obj: SceneObject, kind: str, num_frames: int) -> tuple[int, int] | None:
    """The span on which ``obj`` performs event ``kind``, read off its trajectory.

    Returns the inclusive ``(first, last)`` frames when the event happens exactly once
    (one contiguous run), else ``None``. Frame ``f`` to ``f + 1`` is a *step*; a move
    event is a run of steps along that axis direction only, spanning the frames at both
    ends of the run; ``pause`` is a run of still steps with moving steps on both sides,
    ``stop`` a still run reaching the last frame after motion, ``start`` a still run from
    frame 0 followed by motion; ``appear``/``disappear`` are the visible frames when the
    shape is absent at the end/start only.
    """
    if kind not in EVENT_PHRASES:
        raise ValueError(f"unknown event kind {kind!r}; choose one of {EVENT_KINDS}")
    first_vis, last_vis = obj.visible
    if kind == "appear":
        ok = first_vis > 0 and last_vis >= num_frames - 1
        return (first_vis, num_frames - 1) if ok else None
    if kind == "disappear":
        ok = first_vis <= 0 and last_vis < num_frames - 1
        return (0, last_vis) if ok else None
    if first_vis > 0 or last_vis < num_frames - 1:
        return None  # motion events are defined for shapes visible all video long
    steps = np.diff(obj.centres(np.arange(num_frames)), axis=0)  # [N - 1, 2]
    if kind in MOVE_DIRECTIONS:
        dx, dy = MOVE_DIRECTIONS[kind]
        along = steps[:, 0] * dx + steps[:, 1] * dy
        across = steps[:, 1] * dx - steps[:, 0] * dy
        hits = (along > 0) & (across == 0)
        runs = _runs(hits)
        return (runs[0][0], runs[0][1] + 1) if len(runs) == 1 else None
    still = np.all(steps == 0, axis=1)
    runs = _runs(still)
    if len(runs) != 1:
        return None
    first_step, last_step = runs[0]
    starts_at_0 = first_step == 0
    ends_at_end = last_step == num_frames - 2
    span = (first_step, last_step + 1)
    if kind == "pause":
        return span if not starts_at_0 and not ends_at_end else None
    if kind == "stop":
        return span if ends_at_end and not starts_at_0 else None
    return span if starts_at_0 and not ends_at_end else None  # start


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Inclusive ``(first, last)`` index runs where ``mask`` is true."""
    padded = np.concatenate([[False], mask.astype(bool), [False]])
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    return [(int(a), int(b) - 1) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def scene_to_dict(scene: Scene) -> dict[str, Any]:
    """The scene as plain JSON-friendly data (inverse of :func:`scene_from_dict`)."""
    target = scene.target
    query = scene.query
    relation = query.relation
    return {
        "scene_id": scene.scene_id,
        "width": scene.width,
        "height": scene.height,
        "fps": scene.fps,
        "num_frames": scene.num_frames,
        "difficulty": scene.difficulty,
        "background": {
            "kind": scene.background.kind,
            "colour_bgr": list(scene.background.colour_bgr),
            "amplitude": scene.background.amplitude,
            "freq": list(scene.background.freq),
            "phase": list(scene.background.phase),
        },
        "objects": [
            {
                "object_id": o.object_id,
                "shape": o.shape,
                "colour": o.colour,
                "size": o.size,
                "radius": o.radius,
                "keyframes": [list(k) for k in o.keyframes],
                "visible": list(o.visible),
                "z": o.z,
            }
            for o in scene.objects
        ],
        "target_id": scene.target_id,
        "target": target.description,
        "distractor_ids": list(scene.distractor_ids),
        "event": {
            "kind": scene.event.kind,
            "first_frame": scene.event.first_frame,
            "last_frame": scene.event.last_frame,
            "phrase": scene.event.phrase,
        },
        "query": {
            "text": query.text,
            "attribute_phrase": query.attribute_phrase,
            "event_phrase": query.event_phrase,
            "attributes": list(query.attributes),
            "relation": None
            if relation is None
            else {
                "kind": relation.kind,
                "anchor_id": relation.anchor_id,
                "frame_idx": relation.frame_idx,
                "anchor_phrase": relation.anchor_phrase,
            },
        },
        "meta": scene.meta,
    }


def scene_from_dict(data: dict[str, Any]) -> Scene:
    """Rebuild a :class:`Scene` from :func:`scene_to_dict` output (e.g. ``<split>_scenes.json``)."""
    bg = data["background"]
    q = data["query"]
    rel = q.get("relation")
    return Scene(
        scene_id=data["scene_id"],
        width=int(data["width"]),
        height=int(data["height"]),
        fps=float(data["fps"]),
        num_frames=int(data["num_frames"]),
        background=Background(
            colour_bgr=tuple(int(c) for c in bg["colour_bgr"]),
            amplitude=float(bg["amplitude"]),
            freq=tuple(float(v) for v in bg["freq"]),
            phase=tuple(float(v) for v in bg["phase"]),
        ),
        objects=tuple(
            SceneObject(
                object_id=int(o["object_id"]),
                shape=o["shape"],
                colour=o["colour"],
                size=o["size"],
                radius=float(o["radius"]),
                keyframes=tuple((int(k[0]), float(k[1]), float(k[2])) for k in o["keyframes"]),
                visible=(int(o["visible"][0]), int(o["visible"][1])),
                z=int(o["z"]),
            )
            for o in data["objects"]
        ),
        target_id=int(data["target_id"]),
        event=Event(
            data["event"]["kind"],
            int(data["event"]["first_frame"]),
            int(data["event"]["last_frame"]),
        ),
        query=Query(
            text=q["text"],
            attribute_phrase=q["attribute_phrase"],
            event_phrase=q["event_phrase"],
            attributes=tuple(q.get("attributes", ())),
            relation=None
            if rel is None
            else Relation(
                rel["kind"], int(rel["anchor_id"]), int(rel["frame_idx"]), rel["anchor_phrase"]
            ),
        ),
        difficulty=data.get("difficulty", "custom"),
        meta=dict(data.get("meta", {})),
    )
