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
* **Methods** (:data:`DENSIFY_METHODS`): ``hold`` (nearest sample, ties to the earlier),
  ``linear`` (default), ``pchip``, ``savgol`` (params ``window``, ``polyorder``) and
  ``kalman`` (params ``measurement_std``, ``accel_std``); see
  :mod:`stvg.tubes.smoothing` and :mod:`stvg.tubes.kalman`. Every method holds the end box
  constant before the first and after the last sample.
* **Output.** Boxes are clipped to the frame ``[0, width] x [0, height]``; a coordinate
  pair that a smoother crossed (``x1 > x2``) collapses to its midpoint (a zero-area box).
* **No boxes.** An answer without boxes gives an **empty** :class:`~stvg.data.types.Tube`:
  a span without boxes cannot score vIoU, and the verifier reads the temporal span from
  the answer itself.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from stvg.data.timing import frame_of_time, span_seconds_to_frames
from stvg.data.types import Sample, SecondLevelAnswer, Tube
from stvg.tubes.kalman import kalman_boxes
from stvg.tubes.smoothing import hold_boxes, linear_boxes, pchip_boxes, savgol_boxes

DensifyMethodName = Literal["hold", "linear", "pchip", "savgol", "kalman"]


@dataclass(frozen=True)
class DensifyMethod:
    """One registered densify method.

    Attributes:
        name: the name used in configs (``method: savgol``).
        defaults: every accepted parameter with its default value.
        integer_params: the parameters that must be whole numbers (e.g. a window length).
        positive_params: the parameters that must be > 0 (others must be >= 0).
        function: ``(sample_frames, sample_boxes, query_frames, native_fps, **params)`` ->
            float64 ``[N, 4]`` boxes.
    """

    name: str
    defaults: Mapping[str, float]
    integer_params: frozenset[str]
    positive_params: frozenset[str]
    function: Callable[..., np.ndarray]


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


def resolve_params(method: str, params: Mapping[str, float]) -> dict[str, float | int]:
    """Validate ``params`` for ``method`` and fill in the defaults.

    Raises:
        ValueError: unknown method, unknown parameter, non-finite, negative (or zero where
            it must be positive) or non-integer (where it must be whole) values, or a
            ``polyorder`` not below ``window``.
    """
    if method not in DENSIFY_METHODS:
        raise ValueError(
            f"unknown densify method {method!r}; choose one of {sorted(DENSIFY_METHODS)}"
        )
    spec = DENSIFY_METHODS[method]
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
    return resolved


def densify(
    answer: SecondLevelAnswer,
    sample: Sample,
    method: str = "linear",
    *,
    fps: float | None = None,
    end_extension: float = 0.0,
    **params: float,
) -> Tube:
    """A box on every native frame of the answer's span (see the module rules).

    Args:
        answer: span (seconds) and boxes (original-video pixels) at sampled times.
        sample: the video (``native_fps``, ``num_frames``, ``width``, ``height``).
        method: a name in :data:`DENSIFY_METHODS`.
        fps: the sampling rate the policy saw (needed when ``end_extension`` is non-zero).
        end_extension: fraction of the sampling interval added to the span end (>= 0).
        **params: method parameters (see :data:`DENSIFY_METHODS` for names and defaults).

    Returns:
        A :class:`Tube` with consecutive frames ``first..last`` of the span, or an empty
        tube when the answer has no boxes.

    Raises:
        ValueError: unknown method or bad parameters, or a negative/non-finite
            ``end_extension``.
    """
    resolved = resolve_params(method, params)
    if not math.isfinite(end_extension) or end_extension < 0:
        raise ValueError(f"end_extension must be a finite number >= 0, got {end_extension}")
    if answer.times_s.size == 0:
        return Tube.empty()
    first, last = span_seconds_to_frames(
        answer.span_s, sample.native_fps, sample.num_frames, fps=fps, end_extension=end_extension
    )
    sample_frames = np.array(
        [frame_of_time(t, sample.native_fps, sample.num_frames) for t in answer.times_s],
        dtype=np.int64,
    )
    unique_frames, inverse = np.unique(sample_frames, return_inverse=True)
    sums = np.zeros((unique_frames.size, 4))
    np.add.at(sums, inverse, answer.boxes_xyxy)
    sample_boxes = sums / np.bincount(inverse, minlength=unique_frames.size)[:, None]
    frames = np.arange(first, last + 1, dtype=np.int64)
    boxes = DENSIFY_METHODS[method].function(
        unique_frames.astype(np.float64),
        sample_boxes,
        frames.astype(np.float64),
        float(sample.native_fps),
        **resolved,
    )
    return Tube(frames, _tidy_boxes(boxes, sample.width, sample.height))


def _tidy_boxes(boxes: np.ndarray, width: float, height: float) -> np.ndarray:
    """Clip xyxy boxes to the frame and collapse crossed coordinate pairs to midpoints."""
    out = np.array(boxes, dtype=np.float64)
    out[:, 0::2] = np.clip(out[:, 0::2], 0.0, float(width))
    out[:, 1::2] = np.clip(out[:, 1::2], 0.0, float(height))
    for lo, hi in ((0, 2), (1, 3)):
        crossed = out[:, lo] > out[:, hi]
        mid = 0.5 * (out[crossed, lo] + out[crossed, hi])
        out[crossed, lo] = mid
        out[crossed, hi] = mid
    return out


@dataclass
class DensifyConfig:
    """How per-second boxes become a frame-level tube (YAML: ``densify:``).

    Attributes:
        method: ``hold`` (nearest second), ``linear`` (the paper's interpolation, default),
            ``pchip`` (shape-preserving cubic), ``savgol`` (Savitzky-Golay smoothing, then
            linear) or ``kalman`` (constant-velocity Kalman + RTS smoother).
        end_extension: fraction of the sampling interval ``1 / fps`` added to the end of
            the span, for policies whose last box stands for the interval after it.
        params: method parameters, e.g. ``{window: 5, polyorder: 2}`` for ``savgol`` or
            ``{measurement_std: 10, accel_std: 20}`` for ``kalman``; unknown names are an
            error.
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
    config: DensifyConfig, answer: SecondLevelAnswer, sample: Sample, fps: float | None
) -> Tube:
    """:func:`densify` with the method, end extension and parameters of ``config``."""
    return densify(
        answer,
        sample,
        config.method,
        fps=fps,
        end_extension=config.end_extension,
        **config.params,
    )


__all__ = [
    "DENSIFY_METHODS",
    "DensifyConfig",
    "DensifyMethod",
    "densify",
    "densify_with",
    "resolve_params",
]
