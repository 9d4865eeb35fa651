"""Random scenes for each difficulty: target, event, look-alike distractors, crossings.

Every trajectory is built so that the target's event happens exactly once and its span,
read back from the trajectory by :func:`derive_event_span`, equals the intended span.
Motion is axis-aligned and at least :data:`MIN_SPEED` pixels per frame, so "moves right"
and "stands still" are unambiguous on every frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from stvg.data.synthetic.queries import build_query
from stvg.data.synthetic.scene import (
    COLOURS_BGR,
    MOVE_DIRECTIONS,
    SHAPES,
    SIZE_CLASSES,
    Background,
    Event,
    Scene,
    SceneObject,
    derive_event_span,
    quantise,
    radius_for,
)
from stvg.data.timing import round_half_up

MIN_SPEED = 0.6  # pixels per frame: slowest motion that still counts as moving
MAX_SPEED_FRACTION = 0.06  # fastest motion, as a fraction of the frame side per frame
MIN_DISTANCE_FRACTION = 0.15  # shortest move, as a fraction of the free range on its axis
MARGIN = 1.0  # pixels kept between a shape's box and the frame border
MAX_ATTEMPTS = 200  # scene resamples before giving up (each uses the same rng stream)

# Target event categories and their probabilities; a move picks one of four directions.
_EVENT_CATEGORY_WEIGHTS: dict[str, float] = {
    "move": 0.4,
    "pause": 0.15,
    "stop": 0.15,
    "start": 0.1,
    "appear": 0.1,
    "disappear": 0.1,
}
_ATTRIBUTE_VALUES: dict[str, tuple[str, ...]] = {
    "shape": SHAPES,
    "colour": tuple(COLOURS_BGR),
    "size": SIZE_CLASSES,
}
_ATTRIBUTES = ("size", "colour", "shape")


@dataclass(frozen=True)
class DifficultySpec:
    """How hard a generated scene is.

    Attributes:
        distractors: inclusive ``(min, max)`` number of distractors.
        shared: inclusive ``(min, max)`` number of attributes (of size, colour, shape) each
            distractor shares with the target.
        event_fraction: ``(min, max)`` event length as a fraction of the video.
        twin: add a distractor with all three attributes of the target, so the query needs
            a spatial relation ("... to the left of the blue square").
        same_event: one distractor performs the target's event kind (at its own time).
        crossing: probability that a distractor crosses the target mid-event.
        crossing_on_top: the crossing distractor is drawn over the target (occlusion).
        target_on_top: the target is drawn above every distractor.
        texture: probability of a textured (not plain) background.
    """

    distractors: tuple[int, int]
    shared: tuple[int, int]
    event_fraction: tuple[float, float]
    twin: bool
    same_event: bool
    crossing: float
    crossing_on_top: bool
    target_on_top: bool
    texture: float


DIFFICULTIES: dict[str, DifficultySpec] = {
    "easy": DifficultySpec((1, 2), (0, 1), (0.35, 0.6), False, False, 0.0, False, True, 0.3),
    "medium": DifficultySpec((2, 4), (1, 2), (0.2, 0.4), False, True, 0.5, False, False, 0.5),
    "hard": DifficultySpec((4, 6), (1, 2), (0.1, 0.25), True, True, 1.0, True, False, 0.7),
}


class _Retry(Exception):
    """The random draw cannot satisfy a constraint; draw the scene again."""


@dataclass(frozen=True)
class _Bounds:
    """Where a shape's centre may go: ``[lo, hi]`` per axis (pixels)."""

    lo: np.ndarray  # [2] x, y
    hi: np.ndarray  # [2]

    @classmethod
    def of(cls, radius: float, width: int, height: int) -> _Bounds:
        lo = np.array([radius + MARGIN, radius + MARGIN])
        hi = np.array([width - radius - MARGIN, height - radius - MARGIN])
        return cls(lo, hi)

    def point(self, rng: np.random.Generator) -> np.ndarray:
        return quantise(rng.uniform(self.lo, self.hi))


def _endpoint(
    rng: np.random.Generator,
    p: np.ndarray,
    n_frames: int,
    bounds: _Bounds,
    side: float,
    directions: tuple[str, ...],
    backward: bool,
) -> np.ndarray:
    """Other end of an axis-aligned move of ``n_frames`` frames that ends (or starts) at ``p``.

    ``backward``: the move *ends* at ``p`` (returns its start). Raises :class:`_Retry` when
    no direction leaves room for a move of at least ``MIN_SPEED`` px/frame.
    """
    options = []
    for name in directions:
        d = np.array(MOVE_DIRECTIONS[name], dtype=np.float64) * (-1 if backward else 1)
        axis = 0 if d[0] else 1
        room = (bounds.hi[axis] - p[axis]) if d[axis] > 0 else (p[axis] - bounds.lo[axis])
        need = max(
            MIN_DISTANCE_FRACTION * (bounds.hi[axis] - bounds.lo[axis]), MIN_SPEED * n_frames
        )
        most = min(room, MAX_SPEED_FRACTION * side * n_frames)
        if most >= need:
            options.append((d, need, most))
    if not options:
        raise _Retry
    d, need, most = options[int(rng.integers(len(options)))]
    return quantise(p + d * rng.uniform(need, most))


def _event_length(rng: np.random.Generator, spec: DifficultySpec, num_frames: int) -> int:
    fraction = rng.uniform(*spec.event_fraction)
    return int(np.clip(round_half_up(fraction * num_frames), 3, num_frames - 5))


def _pick_event_kind(rng: np.random.Generator) -> str:
    names = list(_EVENT_CATEGORY_WEIGHTS)
    weights = np.array(list(_EVENT_CATEGORY_WEIGHTS.values()))
    category = names[int(rng.choice(len(names), p=weights / weights.sum()))]
    if category == "move":
        return list(MOVE_DIRECTIONS)[int(rng.integers(4))]
    return category


def _trajectory(
    rng: np.random.Generator,
    kind: str,
    length: int,
    bounds: _Bounds,
    side: float,
    num_frames: int,
) -> tuple[list[tuple[int, float, float]], tuple[int, int], tuple[int, int]]:
    """Keyframes, visible span and event span of a shape performing ``kind`` once."""
    last = num_frames - 1
    all_dirs = tuple(MOVE_DIRECTIONS)
    keys: list[tuple[int, np.ndarray]] = []
    visible = (0, last)
    if kind in MOVE_DIRECTIONS:
        s = int(rng.integers(0, num_frames - length + 1))
        e = s + length - 1
        d = np.array(MOVE_DIRECTIONS[kind], dtype=np.float64)
        axis = 0 if d[0] else 1
        span_range = bounds.hi[axis] - bounds.lo[axis]
        need = max(MIN_DISTANCE_FRACTION * span_range, MIN_SPEED * (e - s))
        most = min(0.85 * span_range, MAX_SPEED_FRACTION * side * (e - s))
        if need > most:
            raise _Retry
        dist = rng.uniform(need, most)
        p_s = bounds.point(rng)
        lo = bounds.lo[axis] + (dist if d[axis] < 0 else 0.0)
        hi = bounds.hi[axis] - (dist if d[axis] > 0 else 0.0)
        p_s[axis] = quantise(rng.uniform(lo, hi))
        p_e = quantise(p_s + d * dist)
        across = tuple(n for n in all_dirs if (MOVE_DIRECTIONS[n][axis] == 0))
        # Before and after the event: still, or a perpendicular move when there is room.
        if s >= 3 and rng.random() < 0.5:
            a = int(rng.integers(0, s - 1))
            try:
                keys.append((a, _endpoint(rng, p_s, s - a, bounds, side, across, backward=True)))
            except _Retry:
                pass
        keys += [(s, p_s), (e, p_e)]
        if last - e >= 3 and rng.random() < 0.5:
            b = int(rng.integers(e + 2, num_frames))
            try:
                keys.append((b, _endpoint(rng, p_e, b - e, bounds, side, across, backward=False)))
            except _Retry:
                pass
        span = (s, e)
    elif kind in ("pause", "stop", "start"):
        if kind == "pause":
            s = int(rng.integers(2, num_frames - length - 1))
        else:
            s = num_frames - length if kind == "stop" else 0
        e = s + length - 1
        p = bounds.point(rng)
        if s > 0:
            keys.append((0, _endpoint(rng, p, s, bounds, side, all_dirs, backward=True)))
        keys += [(s, p), (e, p)]
        if e < last:
            keys.append((last, _endpoint(rng, p, last - e, bounds, side, all_dirs, backward=False)))
        span = (s, e)
    else:  # appear / disappear
        span = (num_frames - length, last) if kind == "appear" else (0, length - 1)
        visible = span
        p = bounds.point(rng)
        keys.append((span[0], p))
        if rng.random() < 0.5:
            try:
                q = _endpoint(rng, p, span[1] - span[0], bounds, side, all_dirs, backward=False)
                keys.append((span[1], q))
            except _Retry:
                pass  # no room to move: the shape stays still while visible
    keyframes = [(f, float(c[0]), float(c[1])) for f, c in keys]
    return keyframes, visible, span


def _crossing_trajectory(
    rng: np.random.Generator,
    target_centre: np.ndarray,
    offset: float,
    frame_idx: int,
    bounds: _Bounds,
    side: float,
    num_frames: int,
) -> tuple[list[tuple[int, float, float]], str]:
    """A straight axis-aligned move that passes ``offset`` pixels beside ``target_centre``.

    On ``frame_idx`` the crossing shape is level with the target (same coordinate along its
    motion, ``offset`` apart across it), so the boxes overlap there without the target being
    hidden completely. Raises :class:`_Retry` when the path does not fit in the frame.
    """
    name = tuple(MOVE_DIRECTIONS)[int(rng.integers(len(MOVE_DIRECTIONS)))]
    d = np.array(MOVE_DIRECTIONS[name], dtype=np.float64)
    axis = 0 if d[0] else 1
    across = 1 - axis
    sides = [
        sign
        for sign in (-1.0, 1.0)
        if bounds.lo[across] <= target_centre[across] + sign * offset <= bounds.hi[across]
    ]
    if not sides or not bounds.lo[axis] <= target_centre[axis] <= bounds.hi[axis]:
        raise _Retry
    through = target_centre.copy()
    through[across] += sides[int(rng.integers(len(sides)))] * offset
    to_hi = bounds.hi[axis] - through[axis]
    to_lo = through[axis] - bounds.lo[axis]
    room_back, room_fwd = (to_lo, to_hi) if d[axis] > 0 else (to_hi, to_lo)
    speed = rng.uniform(0.007, 0.018) * side  # pixels per frame (1.6-4 px at 224 px)
    k0 = int(min(frame_idx, np.floor(room_back / speed)))
    k1 = int(min(num_frames - 1 - frame_idx, np.floor(room_fwd / speed)))
    if k0 + k1 < 3:
        raise _Retry
    start = quantise(through - d * speed * k0)
    end = quantise(through + d * speed * k1)
    keys = [(frame_idx - k0, start), (frame_idx + k1, end)]
    return [(f, float(c[0]), float(c[1])) for f, c in keys], name


def _distractor_attributes(
    rng: np.random.Generator, target: dict[str, str], n_shared: int
) -> tuple[dict[str, str], list[str]]:
    shared = sorted(_ATTRIBUTES[i] for i in rng.choice(3, size=n_shared, replace=False))
    attrs = {}
    for name in _ATTRIBUTES:
        if name in shared:
            attrs[name] = target[name]
        else:
            others = [v for v in _ATTRIBUTE_VALUES[name] if v != target[name]]
            attrs[name] = others[int(rng.integers(len(others)))]
    return attrs, shared


def _random_background(rng: np.random.Generator, texture_probability: float) -> Background:
    grey = rng.uniform(70, 190)
    colour = tuple(int(np.clip(round_half_up(grey + t), 0, 255)) for t in rng.uniform(-12, 12, 3))
    if rng.random() >= texture_probability:
        return Background(colour_bgr=colour)
    return Background(
        colour_bgr=colour,
        amplitude=round(float(rng.uniform(6, 14)), 3),
        freq=tuple(round(float(v), 4) for v in rng.uniform(0.01, 0.05, 2)),
        phase=tuple(round(float(v), 4) for v in rng.uniform(0, 1, 2)),
    )


def sample_scene(
    rng: np.random.Generator,
    scene_id: str,
    difficulty: str,
    *,
    num_frames: int,
    fps: float,
    width: int,
    height: int,
) -> Scene:
    """Draw one random scene of ``difficulty`` (a key of :data:`DIFFICULTIES`).

    All randomness comes from ``rng``, so the scene is a pure function of its state.
    Raises ``ValueError`` for an unknown difficulty or a video too short to hold events.
    """
    if difficulty not in DIFFICULTIES:
        raise ValueError(f"unknown difficulty {difficulty!r}; choose one of {tuple(DIFFICULTIES)}")
    if num_frames < 20:
        raise ValueError(
            f"a synthetic video needs at least 20 frames for its events, got {num_frames}: "
            "raise duration_s or fps"
        )
    for _ in range(MAX_ATTEMPTS):
        try:
            return _sample_scene_once(
                rng,
                scene_id,
                difficulty,
                num_frames=num_frames,
                fps=fps,
                width=width,
                height=height,
            )
        except _Retry:
            continue
    raise RuntimeError(
        f"could not draw a valid {difficulty} scene for {scene_id!r} in {MAX_ATTEMPTS} "
        f"attempts ({width}x{height}, {num_frames} frames): use a larger size or longer video"
    )


def _sample_scene_once(
    rng: np.random.Generator,
    scene_id: str,
    difficulty: str,
    *,
    num_frames: int,
    fps: float,
    width: int,
    height: int,
) -> Scene:
    spec = DIFFICULTIES[difficulty]
    side = float(min(width, height))
    background = _random_background(rng, spec.texture)
    target_attrs = {
        name: _ATTRIBUTE_VALUES[name][int(rng.integers(len(_ATTRIBUTE_VALUES[name])))]
        for name in _ATTRIBUTES
    }
    n_distractors = int(rng.integers(spec.distractors[0], spec.distractors[1] + 1))
    n_objects = n_distractors + 1
    ids = [int(i) for i in rng.permutation(n_objects)]  # ids[0] is the target's id

    # Attributes: the twin (hard) shares all three; the others share spec.shared of them.
    attrs = [target_attrs]
    shared_by_id: dict[int, list[str]] = {}
    for i in range(n_distractors):
        n_shared = (
            3 if (spec.twin and i == 0) else int(rng.integers(spec.shared[0], spec.shared[1] + 1))
        )
        a, shared = _distractor_attributes(rng, target_attrs, n_shared)
        attrs.append(a)
        shared_by_id[ids[i + 1]] = shared

    # Trajectories: the target's event, then the distractors' (one may repeat the kind).
    target_kind = _pick_event_kind(rng)
    kinds = [target_kind] + [_pick_event_kind(rng) for _ in range(n_distractors)]
    same_event_index = None
    if spec.same_event:
        same_event_index = n_distractors  # the last distractor
        kinds[same_event_index] = target_kind
    crossing_index = None  # the last-but-one distractor: never the twin (index 1 when hard)
    if n_distractors >= 2 and rng.random() < spec.crossing:
        crossing_index = n_distractors - 1
    objects_kw = []
    for k, (a, kind) in enumerate(zip(attrs, kinds, strict=True)):
        radius = radius_for(a["size"], int(side))
        bounds = _Bounds.of(radius, width, height)
        if k == crossing_index:
            continue  # built after the target, through its position
        keyframes, visible, span = _trajectory(
            rng, kind, _event_length(rng, spec, num_frames), bounds, side, num_frames
        )
        objects_kw.append(
            dict(
                index=k,
                attrs=a,
                radius=radius,
                keyframes=keyframes,
                visible=visible,
                span=span,
                kind=kind,
            )
        )

    target_kw = objects_kw[0]
    target_span = target_kw["span"]
    if crossing_index is not None:
        a = attrs[crossing_index]
        radius = radius_for(a["size"], int(side))
        middle = (target_span[0] + target_span[1]) // 2
        kf = np.asarray(target_kw["keyframes"], dtype=np.float64)
        through = quantise(
            np.array([np.interp(middle, kf[:, 0], kf[:, 1]), np.interp(middle, kf[:, 0], kf[:, 2])])
        )
        # Pass beside the target centre so that the boxes overlap but part stays visible.
        offset = rng.uniform(0.4, 0.8) * (radius + target_kw["radius"])
        bounds = _Bounds.of(radius, width, height)
        keyframes, kind = _crossing_trajectory(
            rng, through, offset, middle, bounds, side, num_frames
        )
        objects_kw.append(
            dict(
                index=crossing_index,
                attrs=a,
                radius=radius,
                keyframes=keyframes,
                visible=(0, num_frames - 1),
                span=None,
                kind=kind,
            )
        )
    objects_kw.sort(key=lambda kw: kw["index"])

    # Drawing order.
    z = [int(v) for v in rng.permutation(n_objects)]
    if spec.target_on_top:
        z = [n_objects if k == 0 else v for k, v in enumerate(z)]
    if crossing_index is not None:
        if spec.crossing_on_top and z[crossing_index] < z[0]:
            z[crossing_index], z[0] = z[0], z[crossing_index]
        if not spec.crossing_on_top and z[crossing_index] > z[0]:
            z[crossing_index], z[0] = z[0], z[crossing_index]

    objects = tuple(
        SceneObject(
            object_id=ids[kw["index"]],
            shape=kw["attrs"]["shape"],
            colour=kw["attrs"]["colour"],
            size=kw["attrs"]["size"],
            radius=kw["radius"],
            keyframes=tuple(kw["keyframes"]),
            visible=kw["visible"],
            z=z[kw["index"]],
        )
        for kw in objects_kw
    )
    target = objects[0]
    if derive_event_span(target, target_kind, num_frames) != target_span:
        raise _Retry  # a coincidence made the event ambiguous (e.g. two still runs)
    event = Event(target_kind, target_span[0], target_span[1])
    query = build_query(objects, target.object_id, event, rng)
    if query is None:
        raise _Retry
    distractor_events = {}
    for kw, obj in zip(objects_kw[1:], objects[1:], strict=True):
        span = derive_event_span(obj, kw["kind"], num_frames)
        distractor_events[str(obj.object_id)] = (
            None
            if span is None
            else {"kind": kw["kind"], "first_frame": span[0], "last_frame": span[1]}
        )
    meta = {
        "shared_attributes": {str(k): v for k, v in shared_by_id.items()},
        "twin_ids": [ids[1]] if spec.twin else [],
        "crossing_id": None if crossing_index is None else ids[crossing_index],
        "same_event_id": None if same_event_index is None else ids[same_event_index],
        "distractor_events": distractor_events,
        "occluded_frames": _occluded_runs(objects, target, event),
    }
    return Scene(
        scene_id=scene_id,
        width=width,
        height=height,
        fps=float(fps),
        num_frames=num_frames,
        background=background,
        objects=tuple(sorted(objects, key=lambda o: o.object_id)),
        target_id=target.object_id,
        event=event,
        query=query,
        difficulty=difficulty,
        meta=meta,
    )


def _occluded_runs(
    objects: tuple[SceneObject, ...], target: SceneObject, event: Event
) -> list[list[int]]:
    """Inclusive frame runs of the event on which a shape drawn above overlaps the target box."""
    frames = np.arange(event.first_frame, event.last_frame + 1)
    t = target.boxes_xyxy(frames)
    covered = np.zeros(frames.size, dtype=bool)
    for obj in objects:
        if obj.z <= target.z or obj.object_id == target.object_id:
            continue
        b = obj.boxes_xyxy(frames)
        overlap = (np.minimum(t[:, 2], b[:, 2]) > np.maximum(t[:, 0], b[:, 0])) & (
            np.minimum(t[:, 3], b[:, 3]) > np.maximum(t[:, 1], b[:, 1])
        )
        covered |= overlap & (frames >= obj.visible[0]) & (frames <= obj.visible[1])
    padded = np.concatenate([[False], covered, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return [
        [int(frames[a]), int(frames[b - 1])] for a, b in zip(edges[::2], edges[1::2], strict=True)
    ]
