"""Cross-second smoothing: a second-level answer becomes a box on every native frame.

Rules (one place, used by the envs, the verifiers and the evaluation):

* **Span.** The tube covers every native frame of
  ``stvg.data.timing.span_seconds_to_frames(answer.span_s, native_fps, num_frames, fps=fps,
  end_extension=end_extension)``; ``end_extension`` (a fraction of the sampling interval
  ``1 / fps``) lets the last box stand for part of the interval after it.
* **Samples.** Box time ``t`` sits on native frame ``stvg.data.timing.frame_of_time(t)``.
  Boxes whose times fall on the same native frame are averaged. Boxes outside the span
  still shape the curve (they are samples) but only frames of the span are returned.
  Seconds missing inside the span are simply absent samples: the method fills them.
* **Methods**: the interpolation methods of :data:`DENSIFY_METHODS`, which need nothing
  but the boxes: ``hold`` (nearest sample, ties to the earlier), ``linear`` (default),
  ``pchip``, ``savgol`` (params ``window``, ``polyorder``) and ``kalman`` (params
  ``measurement_std``, ``accel_std``); see :mod:`stvg.tubes.smoothing` and
  :mod:`stvg.tubes.kalman`. And the method of :data:`FRAME_METHODS`, which reads the
  video: ``track`` (:mod:`stvg.tubes.track`: a tracker run forward and backward between
  consecutive samples, falling back to linear interpolation where it loses the target);
  it needs a :class:`~stvg.tubes.frames.FrameProvider` per answer (``frames=``) and is an
  error without one. Every method holds the end box constant before the first and after
  the last sample (``track`` with ``ends: 1`` tracks there instead).
* **Output.** Boxes are clipped to the frame ``[0, width] x [0, height]``; a coordinate
  pair that a smoother crossed (``x1 > x2``) collapses to its midpoint (a zero-area box).
* **No boxes.** An answer without boxes gives an **empty** :class:`~stvg.data.types.Tube`:
  a span without boxes cannot score vIoU, and the verifier reads the temporal span from
  the answer itself.

**Many answers at once.** :func:`densify_batch` densifies a whole batch of answers laid end
to end in flat arrays (what :class:`~stvg.verifiers.verifier.Verifier` scores) and returns a
:class:`TubeBatch`; :func:`densify` is its batch of one, so there is one implementation.
Times become frames, same-frame boxes are averaged and the boxes are tidied with array code
over all answers' boxes; ``hold`` and ``linear`` are interpolated for all answers in one
pass (``linear`` repeats ``numpy.interp``'s arithmetic, its special cases included);
``pchip``, ``savgol`` and ``kalman`` call their smoother once per answer, ``track`` its
tracker once per answer (and the batch's :class:`DensifyStats` say per answer what it
cost and where it fell back).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from stvg.data.timing import span_seconds_to_frames
from stvg.data.types import Sample, SecondLevelAnswer, Tube
from stvg.tubes.frames import FrameProvider
from stvg.tubes.kalman import kalman_boxes
from stvg.tubes.smoothing import hold_boxes, linear_boxes, pchip_boxes, savgol_boxes
from stvg.tubes.track import (
    TRACK_DEFAULTS,
    TRACK_INTEGER_PARAMS,
    TRACK_POSITIVE_PARAMS,
    TrackResult,
    track_boxes,
)

DensifyMethodName = Literal["hold", "linear", "pchip", "savgol", "kalman", "track"]


@dataclass(frozen=True)
class DensifyMethod:
    """One registered densify method.

    Attributes:
        name: the name used in configs (``method: savgol``).
        defaults: every accepted parameter with its default value.
        integer_params: the parameters that must be whole numbers (e.g. a window length).
        positive_params: the parameters that must be > 0 (others must be >= 0).
        function: ``(sample_frames, sample_boxes, query_frames, native_fps, **params)`` ->
            float64 ``[N, 4]`` boxes; for a method that ``needs_frames``,
            ``(sample_frames, sample_boxes, query_frames, frames, **params)`` ->
            :class:`~stvg.tubes.track.TrackResult` (``frames``: a
            :class:`~stvg.tubes.frames.FrameProvider`).
        needs_frames: the method reads the video's frames (:data:`FRAME_METHODS`).
    """

    name: str
    defaults: Mapping[str, float]
    integer_params: frozenset[str]
    positive_params: frozenset[str]
    function: Callable[..., np.ndarray] | Callable[..., TrackResult]
    needs_frames: bool = False


def _no_fps(fn: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    """Adapt a method that does not need ``native_fps`` to the registry signature."""

    def wrapped(
        frames: np.ndarray,
        boxes: np.ndarray,
        queries: np.ndarray,
        native_fps: float,
        **params: float,
    ) -> np.ndarray:
        del native_fps
        return fn(frames, boxes, queries, **params)

    return wrapped


def _kalman(
    frames: np.ndarray, boxes: np.ndarray, queries: np.ndarray, native_fps: float, **params: float
) -> np.ndarray:
    return kalman_boxes(frames, boxes, queries, native_fps=native_fps, **params)


DENSIFY_METHODS: dict[str, DensifyMethod] = {
    "hold": DensifyMethod("hold", {}, frozenset(), frozenset(), _no_fps(hold_boxes)),
    "linear": DensifyMethod("linear", {}, frozenset(), frozenset(), _no_fps(linear_boxes)),
    "pchip": DensifyMethod("pchip", {}, frozenset(), frozenset(), _no_fps(pchip_boxes)),
    "savgol": DensifyMethod(
        "savgol",
        {"window": 5, "polyorder": 2},
        frozenset({"window", "polyorder"}),
        frozenset({"window"}),
        _no_fps(savgol_boxes),
    ),
    "kalman": DensifyMethod(
        "kalman",
        {"measurement_std": 10.0, "accel_std": 20.0},
        frozenset(),
        frozenset({"measurement_std", "accel_std"}),
        _kalman,
    ),
}

#: The densify methods that read the video's frames (they need a ``FrameProvider``).
FRAME_METHODS: dict[str, DensifyMethod] = {
    "track": DensifyMethod(
        "track",
        TRACK_DEFAULTS,
        TRACK_INTEGER_PARAMS,
        TRACK_POSITIVE_PARAMS,
        track_boxes,
        needs_frames=True,
    ),
}


def method_names() -> list[str]:
    """Every densify method: the interpolation methods, then those that read frames."""
    return [*DENSIFY_METHODS, *FRAME_METHODS]


def method_spec(method: str) -> DensifyMethod:
    """The registered method ``method``.

    Raises:
        ValueError: an unknown method (the message lists the known ones).
    """
    spec = DENSIFY_METHODS.get(method) or FRAME_METHODS.get(method)
    if spec is None:
        raise ValueError(
            f"unknown densify method {method!r}; choose one of {sorted(method_names())}"
        )
    return spec


def needs_frames(method: str) -> bool:
    """Whether densify ``method`` reads the video's frames (``track``)."""
    return method_spec(method).needs_frames


def resolve_params(method: str, params: Mapping[str, float]) -> dict[str, float | int]:
    """Validate ``params`` for ``method`` and fill in the defaults.

    Raises:
        ValueError: unknown method, unknown parameter, non-finite, negative (or zero where
            it must be positive) or non-integer (where it must be whole) values, a
            ``polyorder`` not below ``window``, a ``track.min_confidence`` or
            ``track.min_agreement`` above 1, a ``track.ends`` other than 0 and 1, or a
            ``track.min_points`` above ``track.max_points``.
    """
    if method not in DENSIFY_METHODS and method not in FRAME_METHODS:
        raise ValueError(
            f"unknown densify method {method!r}; choose one of {sorted(method_names())}"
        )
    spec = method_spec(method)
    unknown = sorted(set(params) - set(spec.defaults))
    if unknown:
        raise ValueError(
            f"unknown parameter(s) {unknown} for densify method {method!r}; "
            f"valid parameters: {sorted(spec.defaults) or 'none'}"
        )
    resolved: dict[str, float | int] = dict(spec.defaults)
    for name, value in params.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"densify {method}.{name} must be a number, got {value!r}")
        value = float(value)
        if not math.isfinite(value):
            raise ValueError(f"densify {method}.{name} must be finite, got {value}")
        if name in spec.positive_params and value <= 0:
            raise ValueError(f"densify {method}.{name} must be > 0, got {value}")
        if value < 0:
            raise ValueError(f"densify {method}.{name} must be >= 0, got {value}")
        if name in spec.integer_params:
            if value != int(value):
                raise ValueError(f"densify {method}.{name} must be a whole number, got {value}")
            resolved[name] = int(value)
        else:
            resolved[name] = value
    if method == "savgol" and resolved["polyorder"] >= resolved["window"]:
        raise ValueError(
            f"densify savgol.polyorder ({resolved['polyorder']}) must be below "
            f"savgol.window ({resolved['window']}): lower polyorder or widen the window"
        )
    if method == "track":
        if resolved["min_confidence"] > 1:
            raise ValueError(
                f"densify track.min_confidence is a share of points (0..1), got "
                f"{resolved['min_confidence']}"
            )
        if resolved["ends"] not in (0, 1):
            raise ValueError(
                f"densify track.ends is 0 (hold the end boxes) or 1 (track beyond them), "
                f"got {resolved['ends']}"
            )
        if resolved["min_agreement"] > 1:
            raise ValueError(
                f"densify track.min_agreement is an IoU (0..1), got {resolved['min_agreement']}"
            )
        if resolved["min_points"] > resolved["max_points"]:
            raise ValueError(
                f"densify track.min_points ({resolved['min_points']}) must not exceed "
                f"track.max_points ({resolved['max_points']}): lower min_points or raise "
                "max_points"
            )
    return resolved


def frames_of_times(
    times_s: np.ndarray, native_fps: np.ndarray | float, num_frames: np.ndarray | int
) -> np.ndarray:
    """Native frame of each time: :func:`stvg.data.timing.frame_of_time`, element-wise.

    Args:
        times_s: float64 ``[N]`` times, seconds.
        native_fps: frames per second of each time's video (``[N]`` or one number).
        num_frames: native frames of each time's video (``[N]`` or one number).

    Returns:
        int64 ``[N]``: ``round_half_up(t * native_fps)`` clipped to ``[0, num_frames - 1]``
        (the same floating-point operations as ``frame_of_time``).

    Raises:
        OverflowError: a ``t * native_fps`` that is not finite (no frame index exists).
    """
    frames = np.multiply(times_s, native_fps)
    frames += 0.5
    np.floor(frames, out=frames)
    if not np.all(np.isfinite(frames)):
        bad = float(np.asarray(times_s).reshape(-1)[np.flatnonzero(~np.isfinite(frames))[0]])
        raise OverflowError(f"time {bad!r} s has no native frame index (t * native_fps overflows)")
    np.clip(frames, 0.0, np.subtract(num_frames, 1), out=frames)
    return frames.astype(np.int64)


@dataclass(frozen=True, eq=False)
class DensifyStats:
    """What a method that reads frames did for each answer of a batch (``[A]`` arrays;
    0 for answers without boxes). See :class:`~stvg.tubes.track.TrackResult`.

    Attributes:
        seconds: float64, wall time of reading the frames and tracking, seconds.
        tracked_frames: int64, frames whose box the tracker gave.
        fallback_frames: int64, frames that fell back to linear interpolation (to the end
            box beyond the answered seconds, ``ends: 1``).
        segments: int64, stretches tracked (pairs of consecutive boxes with frames
            between them; with ``ends: 1`` also the frames beyond the end boxes).
        fallback_segments: int64, of those, the stretches with a fallback frame.
    """

    seconds: np.ndarray
    tracked_frames: np.ndarray
    fallback_frames: np.ndarray
    segments: np.ndarray
    fallback_segments: np.ndarray

    @classmethod
    def zeros(cls, n_answers: int) -> DensifyStats:
        """Stats of ``n_answers`` answers, all zero."""
        ints = [np.zeros(n_answers, dtype=np.int64) for _ in range(4)]
        return cls(np.zeros(n_answers), *ints)

    def record(self, i: int, result: TrackResult) -> None:
        """Store ``result``'s figures as answer ``i``'s."""
        self.seconds[i] = result.seconds
        self.tracked_frames[i] = result.tracked_frames
        self.fallback_frames[i] = result.fallback_frames
        self.segments[i] = result.segments
        self.fallback_segments[i] = result.fallback_segments

    def of(self, i: int) -> dict[str, float]:
        """Answer ``i``'s figures as ``info`` entries: ``cost/densify_seconds`` and
        ``densify/<figure>`` (``tracked_frames``, ``fallback_frames``, ``segments``,
        ``fallback_segments``)."""
        return {
            "cost/densify_seconds": float(self.seconds[i]),
            "densify/tracked_frames": int(self.tracked_frames[i]),
            "densify/fallback_frames": int(self.fallback_frames[i]),
            "densify/segments": int(self.segments[i]),
            "densify/fallback_segments": int(self.fallback_segments[i]),
        }


@dataclass(frozen=True, eq=False)
class TubeBatch:
    """The tubes of many answers, laid end to end.

    Attributes:
        frame_idx: int64 ``[Q]`` native frames of every tube, tube after tube (each tube's
            frames are consecutive, ``first..last`` of its span).
        boxes_xyxy: float64 ``[Q, 4]`` the boxes of those frames, original-video pixels
            (a view of a coordinate-major ``[4, Q]`` array: ``boxes_xyxy.T`` is contiguous).
        offsets: int64 ``[A + 1]``: tube ``i`` is rows ``offsets[i]:offsets[i + 1]`` (no
            rows for an answer without boxes).
        answer: int64 ``[Q]`` the answer (tube) of each row.
        stats: per answer, what a method that reads frames did (``None`` for the
            interpolation methods).
    """

    frame_idx: np.ndarray
    boxes_xyxy: np.ndarray
    offsets: np.ndarray
    answer: np.ndarray
    stats: DensifyStats | None = None

    def __len__(self) -> int:
        return int(self.offsets.shape[0] - 1)

    @property
    def lengths(self) -> np.ndarray:
        """int64 ``[A]`` frames of each tube."""
        return np.diff(self.offsets)

    def tube(self, i: int) -> Tube:
        """Tube ``i`` as a :class:`~stvg.data.types.Tube` (views of the batch arrays)."""
        lo, hi = int(self.offsets[i]), int(self.offsets[i + 1])
        return _view_tube(self.frame_idx[lo:hi], self.boxes_xyxy[lo:hi])

    def tubes(self) -> list[Tube]:
        """Every tube, in answer order (views of the batch arrays)."""
        offsets = self.offsets.tolist()
        frames, boxes = self.frame_idx, self.boxes_xyxy
        return [
            _view_tube(frames[lo:hi], boxes[lo:hi])
            for lo, hi in zip(offsets[:-1], offsets[1:], strict=True)
        ]


def _view_tube(frame_idx: np.ndarray, boxes_xyxy: np.ndarray) -> Tube:
    """A :class:`Tube` of batch views, without re-checking what holds by construction.

    A batch's frames are int64 and consecutive (strictly increasing) and its boxes float64
    ``[n, 4]``, so ``Tube.__post_init__``'s conversions and checks would change nothing;
    skipping them keeps building thousands of tubes cheap.
    """
    tube = object.__new__(Tube)
    object.__setattr__(tube, "frame_idx", frame_idx)
    object.__setattr__(tube, "boxes_xyxy", boxes_xyxy)
    return tube


def densify(
    answer: SecondLevelAnswer,
    sample: Sample,
    method: str = "linear",
    *,
    fps: float | None = None,
    end_extension: float = 0.0,
    frames: FrameProvider | None = None,
    **params: float,
) -> Tube:
    """A box on every native frame of the answer's span (see the module rules).

    The batch of one of :func:`densify_batch`.

    Args:
        answer: span (seconds) and boxes (original-video pixels) at sampled times.
        sample: the video (``native_fps``, ``num_frames``, ``width``, ``height``).
        method: a name in :data:`DENSIFY_METHODS`.
        fps: the sampling rate the policy saw (needed when ``end_extension`` is non-zero).
        end_extension: fraction of the sampling interval added to the span end (>= 0).
        frames: the video's native frames, for a method that reads them (``track``).
        **params: method parameters (see :data:`DENSIFY_METHODS` and
            :data:`FRAME_METHODS` for names and defaults).

    Returns:
        A :class:`Tube` with consecutive frames ``first..last`` of the span, or an empty
        tube when the answer has no boxes.

    Raises:
        ValueError: unknown method or bad parameters, a negative/non-finite
            ``end_extension``, or ``track`` without ``frames``.
    """
    resolved = resolve_params(method, params)
    if not math.isfinite(end_extension) or end_extension < 0:
        raise ValueError(f"end_extension must be a finite number >= 0, got {end_extension}")
    if answer.times_s.size == 0:
        return Tube.empty()
    first, last = span_seconds_to_frames(
        answer.span_s, sample.native_fps, sample.num_frames, fps=fps, end_extension=end_extension
    )
    batch = densify_batch(
        method,
        resolved,
        first=np.array([first], dtype=np.int64),
        last=np.array([last], dtype=np.int64),
        box_offsets=np.array([0, answer.times_s.size], dtype=np.int64),
        times_s=answer.times_s,
        boxes_xyxy=answer.boxes_xyxy,
        native_fps=np.array([float(sample.native_fps)]),
        num_frames=np.array([int(sample.num_frames)], dtype=np.int64),
        width=np.array([float(sample.width)]),
        height=np.array([float(sample.height)]),
        frames=[frames],
    )
    return Tube(batch.frame_idx, np.ascontiguousarray(batch.boxes_xyxy))


def _segments(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(offsets [A + 1], owner [sum(counts)])`` of segments of the given lengths."""
    offsets = np.zeros(counts.shape[0] + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return offsets, np.repeat(np.arange(counts.shape[0], dtype=np.int64), counts)


def densify_batch(
    method: str,
    params: Mapping[str, float | int],
    *,
    first: np.ndarray,
    last: np.ndarray,
    box_offsets: np.ndarray,
    times_s: np.ndarray,
    boxes_xyxy: np.ndarray,
    native_fps: np.ndarray,
    num_frames: np.ndarray,
    width: np.ndarray,
    height: np.ndarray,
    frames: Sequence[FrameProvider | None] | None = None,
) -> TubeBatch:
    """Densify ``A`` answers at once (see the module rules; :func:`densify` is one answer).

    Args:
        method: a name in :data:`DENSIFY_METHODS`.
        params: the method's resolved parameters (:func:`resolve_params`).
        first, last: int64 ``[A]`` inclusive span of each answer in native frames
            (:func:`stvg.data.timing.span_seconds_to_frames`; ignored without boxes).
        box_offsets: int64 ``[A + 1]``: answer ``i``'s boxes are rows
            ``box_offsets[i]:box_offsets[i + 1]`` of ``times_s`` and ``boxes_xyxy``.
        times_s: float64 ``[B]`` box times, seconds, strictly increasing within an answer.
        boxes_xyxy: float64 ``[B, 4]`` boxes, original-video pixels.
        native_fps, num_frames, width, height: ``[A]`` each answer's video.
        frames: per answer, its video's frames (``None`` = none); read only by a method
            that needs them (``track``), which fills the batch's ``stats``.

    Returns:
        A :class:`TubeBatch` (an empty tube for each answer without boxes).

    Raises:
        ValueError: a method that reads frames, and an answer with boxes has none.
    """
    spec = method_spec(method)
    providers = frames  # `frames` names the answers' sample frames below
    n_answers = int(first.shape[0])
    counts = np.diff(box_offsets)
    has = counts > 0
    _, box_answer = _segments(counts)
    boxes = np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4)
    frames = frames_of_times(
        np.asarray(times_s, dtype=np.float64), native_fps[box_answer], num_frames[box_answer]
    )
    # Average the boxes that fall on one frame: frames are non-decreasing within an answer.
    n_boxes = frames.shape[0]
    new = np.ones(n_boxes, dtype=bool)
    np.not_equal(frames[1:], frames[:-1], out=new[1:])
    new[1:] |= box_answer[1:] != box_answer[:-1]
    starts = np.flatnonzero(new)
    unique_frames, unique_answer = frames[starts], box_answer[starts]
    if n_boxes:
        per_frame = np.diff(np.append(starts, n_boxes))
        unique_boxes = np.add.reduceat(boxes, starts, axis=0) / per_frame[:, None]
    else:
        unique_boxes = np.zeros((0, 4))
    unique_offsets, _ = _segments(np.bincount(unique_answer, minlength=n_answers))
    # Query frames: first..last of every answer with boxes.
    lengths = np.where(has, last - first + 1, 0)
    offsets, query_answer = _segments(lengths)
    queries = np.arange(offsets[-1], dtype=np.int64)
    queries += np.repeat(first - offsets[:-1], lengths)
    stats = None
    if spec.needs_frames:
        stats = DensifyStats.zeros(n_answers)
        out = np.empty((4, queries.shape[0]), dtype=np.float64)
        for i in np.flatnonzero(has).tolist():
            provider = None if providers is None else providers[i]
            if provider is None:
                raise ValueError(missing_frames_message(method, f"answer {i} of the batch"))
            lo, hi = unique_offsets[i], unique_offsets[i + 1]
            result = spec.function(
                unique_frames[lo:hi].astype(np.float64),
                unique_boxes[lo:hi],
                queries[offsets[i] : offsets[i + 1]].astype(np.float64),
                provider,
                **params,
            )
            out[:, offsets[i] : offsets[i + 1]] = result.boxes.T
            stats.record(i, result)
    elif method in ("hold", "linear"):
        out = _interpolate_all(
            method, unique_frames, unique_answer, unique_boxes, unique_offsets,
            first, queries, offsets, query_answer, int(num_frames.max(initial=0)) + 1,
        )  # fmt: skip
    else:
        out = np.empty((4, queries.shape[0]), dtype=np.float64)
        for i in np.flatnonzero(has).tolist():
            lo, hi = unique_offsets[i], unique_offsets[i + 1]
            out[:, offsets[i] : offsets[i + 1]] = spec.function(
                unique_frames[lo:hi].astype(np.float64),
                unique_boxes[lo:hi],
                queries[offsets[i] : offsets[i + 1]].astype(np.float64),
                float(native_fps[i]),
                **params,
            ).T
    _tidy_columns(out, width[query_answer], height[query_answer])
    return TubeBatch(queries, out.T, offsets, query_answer, stats)


def missing_frames_message(method: str, where: str) -> str:
    """The error of a densify method that reads frames asked to densify without them."""
    return (
        f"densify method {method!r} reads the video's frames between the answered seconds, "
        f"and {where} has none: it runs where the frames are at hand (an env's scoring, "
        f"stvg evaluate --predictions with --fill {method} and the videos on disk). Set "
        f"verifier.densify.method (env.densify.method, eval.densify.method, --fill) to an "
        f"interpolation method ({', '.join(DENSIFY_METHODS)}), or pass the frames "
        "(frames=...)"
    )


def _interpolate_all(
    method: str,
    frames: np.ndarray,
    answer: np.ndarray,
    boxes: np.ndarray,
    offsets: np.ndarray,
    first: np.ndarray,
    queries: np.ndarray,
    query_offsets: np.ndarray,
    query_answer: np.ndarray,
    stride: int,
) -> np.ndarray:
    """``hold`` or ``linear`` boxes of every query, all answers in one pass: float64 ``[4, Q]``.

    ``frames``/``boxes`` are each answer's unique sample frames (increasing) and boxes,
    answer after answer (``offsets``); each answer's queries are its frames
    ``first..last`` (``query_offsets``). The sample at or before each query (``j``) is a
    running maximum over the queries, where each sample marks its own frame. ``linear``
    repeats ``numpy.interp``: ends held, ``slope_j * (q - x_j) + y_j`` between samples, with
    the slopes ``(y_{j+1} - y_j) / (x_{j+1} - x_j)`` computed once per segment as numpy
    does (and, when a box is not finite, numpy's special cases). ``hold`` takes the nearer
    of ``j`` and ``j + 1`` (ties to ``j``).
    """
    n_queries = queries.shape[0]
    q_lo, q_hi = offsets[query_answer], offsets[query_answer + 1] - 1
    # j: the last sample of the query's answer at or before the query (< q_lo: none)
    marks = np.full(n_queries, -1, dtype=np.int64)
    sample_first = first[answer]
    pos = frames - sample_first
    in_span = (pos >= 0) & (pos < np.diff(query_offsets)[answer])
    marks[(query_offsets[:-1][answer] + pos)[in_span]] = np.flatnonzero(in_span)
    has = np.flatnonzero(np.diff(query_offsets) > 0)
    keys = answer * stride + frames
    before = np.searchsorted(keys, has * stride + first[has], side="right") - 1
    starts = query_offsets[has]
    marks[starts] = np.maximum(marks[starts], before)
    j = np.maximum.accumulate(marks) if n_queries else marks
    x = frames.astype(np.float64)
    q = queries.astype(np.float64)
    cols = np.ascontiguousarray(boxes.T)  # [4, U]
    if method == "hold":
        np.clip(j, q_lo, q_hi, out=j)
        step = (j < q_hi) & (x[j] != q)
        rows = np.flatnonzero(step)
        j0 = j[rows]
        farther = np.abs(q[rows] - x[j0]) > np.abs(x[j0 + 1] - q[rows])
        j[rows[farther]] += 1
        return cols.take(j, axis=1)
    # slope of the segment after each sample (0 after an answer's last sample)
    n_unique = frames.shape[0]
    slope = np.zeros((4, n_unique), dtype=np.float64)
    if n_unique > 1:
        seg = np.flatnonzero(answer[1:] == answer[:-1])
        slope[:, seg] = (cols[:, seg + 1] - cols[:, seg]) / (x[seg + 1] - x[seg])
    if not (np.isfinite(slope).all() and np.isfinite(cols).all()):
        return _interpolate_nonfinite(j, q_lo, q_hi, x, q, cols, slope)
    np.clip(j, q_lo, q_hi, out=j)
    t = np.maximum(q, x[q_lo])  # before the first sample: t = 0, the first box
    t -= x[j]
    out = slope.take(j, axis=1)
    out *= t
    out += cols.take(j, axis=1)
    return out


def _interpolate_nonfinite(
    j: np.ndarray,
    q_lo: np.ndarray,
    q_hi: np.ndarray,
    x: np.ndarray,
    q: np.ndarray,
    cols: np.ndarray,
    slope: np.ndarray,
) -> np.ndarray:
    """``numpy.interp``'s case analysis, for boxes that are not all finite: ``[4, Q]``."""
    inside = (j >= q_lo) & (j < q_hi)
    np.clip(j, q_lo, q_hi, out=j)
    out = cols.take(j, axis=1)
    inside &= x[j] != q
    rows = np.flatnonzero(inside)
    if rows.size:
        j0 = j[rows]
        x1, xq = x[j0 + 1], q[rows]
        y0, y1, s = cols[:, j0], cols[:, j0 + 1], slope[:, j0]
        value = s * (xq - x[j0]) + y0
        nan = np.isnan(value)
        other = s * (xq - x1) + y1  # numpy.interp: try from the other end
        value = np.where(nan, other, value)
        value = np.where(np.isnan(value) & (y0 == y1), y0, value)  # then a flat segment
        out[:, rows] = value
    return out


def _tidy_columns(out: np.ndarray, width: np.ndarray, height: np.ndarray) -> None:
    """Clip ``[4, N]`` xyxy boxes to the frame, collapse crossed pairs to midpoints, in place.

    ``width``/``height`` are per box (``[N]``) or one number.
    """
    for row, size in ((0, width), (1, height), (2, width), (3, height)):
        np.clip(out[row], 0.0, size, out=out[row])
    for lo, hi in ((0, 2), (1, 3)):
        crossed = np.flatnonzero(out[lo] > out[hi])
        if crossed.size:
            mid = 0.5 * (out[lo, crossed] + out[hi, crossed])
            out[lo, crossed] = mid
            out[hi, crossed] = mid


@dataclass
class DensifyConfig:
    """How per-second boxes become a frame-level tube (YAML: ``densify:``).

    Attributes:
        method: ``hold`` (nearest second), ``linear`` (the paper's interpolation, default),
            ``pchip`` (shape-preserving cubic), ``savgol`` (Savitzky-Golay smoothing, then
            linear), ``kalman`` (constant-velocity Kalman + RTS smoother) or ``track``
            (a Lucas-Kanade tracker between the seconds, on the video's frames; linear
            where it loses the target; only where frames are at hand, see
            :mod:`stvg.tubes.track`).
        end_extension: fraction of the sampling interval ``1 / fps`` added to the end of
            the span, for policies whose last box stands for the interval after it.
        params: method parameters, e.g. ``{window: 5, polyorder: 2}`` for ``savgol``,
            ``{measurement_std: 10, accel_std: 20}`` for ``kalman`` or ``{max_side: 320,
            min_confidence: 0.3}`` for ``track``; unknown names are an error.
    """

    method: DensifyMethodName = "linear"
    end_extension: float = 0.0
    params: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        resolve_params(self.method, self.params)
        if not math.isfinite(self.end_extension) or self.end_extension < 0:
            raise ValueError(
                f"densify.end_extension must be a finite number >= 0, got {self.end_extension}"
            )


def densify_with(
    config: DensifyConfig,
    answer: SecondLevelAnswer,
    sample: Sample,
    fps: float | None,
    frames: FrameProvider | None = None,
) -> Tube:
    """:func:`densify` with the method, end extension and parameters of ``config``
    (``frames``: the video's frames, for ``track``)."""
    return densify(
        answer,
        sample,
        config.method,
        fps=fps,
        end_extension=config.end_extension,
        frames=frames,
        **config.params,
    )


__all__ = [
    "DENSIFY_METHODS",
    "FRAME_METHODS",
    "DensifyConfig",
    "DensifyMethod",
    "DensifyStats",
    "TubeBatch",
    "densify",
    "densify_batch",
    "densify_with",
    "frames_of_times",
    "method_names",
    "method_spec",
    "missing_frames_message",
    "needs_frames",
    "resolve_params",
]
