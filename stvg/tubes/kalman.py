"""Constant-velocity Kalman filter with a Rauch-Tung-Striebel (RTS) smoother for boxes.

Each box coordinate (``x1, y1, x2, y2``) is an independent 1-D constant-velocity system
with state ``[position (px), velocity (px/s)]``:

* process model: ``x_{k+1} = F x_k + w``, ``F = [[1, dt], [0, 1]]``, ``w ~ N(0, Q)`` with
  the continuous white-noise-acceleration covariance
  ``Q = accel_std**2 * [[dt**3/3, dt**2/2], [dt**2/2, dt]]`` (``dt`` in seconds, so
  ``accel_std`` is in px/s**2 per sqrt(s));
* measurement model: ``z_k = position + v``, ``v ~ N(0, measurement_std**2)`` (px).

The filter runs forward over the sample times (irregular ``dt`` allowed: missing seconds
are simply absent), the RTS pass runs backward, and between samples the smoothed tube is
the cubic Hermite curve through the smoothed positions with the smoothed velocities as
slopes (``scipy.interpolate.CubicHermiteSpline``; for this model the smoothed mean between
measurements is exactly such a cubic). Beyond the first and the last sample the end box is
held constant. The four coordinates share ``F``, ``Q``, ``H`` and the measurement times, so
they share one 2x2 covariance and one gain: the state is stored as ``[2, 4]``.

Reference: Rauch, Tung & Striebel, "Maximum likelihood estimates of linear dynamic
systems", AIAA Journal 3(8), 1965; Bar-Shalom et al., *Estimation with Applications to
Tracking and Navigation*, section 6.3.2 (white-noise acceleration model).
"""

from __future__ import annotations

import numpy as np
from scipy.interpolate import CubicHermiteSpline

# Prior variance of the first state, relative to the measurement variance (diffuse prior).
_DIFFUSE_SCALE = 1e6


def rts_smooth(
    times_s: np.ndarray,
    values: np.ndarray,
    *,
    measurement_std: float,
    accel_std: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Smoothed positions and velocities of constant-velocity tracks at their sample times.

    Args:
        times_s: float64 ``[K]`` strictly increasing sample times in seconds.
        values: float64 ``[K, D]`` measured positions (pixels), one column per track.
        measurement_std: standard deviation of the measurement noise, pixels (> 0).
        accel_std: white-noise acceleration intensity, px/s**2 per sqrt(s) (> 0).

    Returns:
        ``(positions, velocities)``: float64 ``[K, D]`` pixels and ``[K, D]`` px/s.
    """
    count, dims = values.shape
    r = float(measurement_std) ** 2
    q = float(accel_std) ** 2
    x_filt = np.zeros((count, 2, dims))
    p_filt = np.zeros((count, 2, 2))
    x_pred = np.zeros((count, 2, dims))
    p_pred = np.zeros((count, 2, 2))
    transitions = np.zeros((count, 2, 2))
    x_pred[0, 0] = values[0]
    p_pred[0] = np.eye(2) * _DIFFUSE_SCALE * r
    for k in range(count):
        if k > 0:
            dt = float(times_s[k] - times_s[k - 1])
            f = np.array([[1.0, dt], [0.0, 1.0]])
            noise = q * np.array([[dt**3 / 3.0, dt**2 / 2.0], [dt**2 / 2.0, dt]])
            transitions[k] = f
            x_pred[k] = f @ x_filt[k - 1]
            p_pred[k] = f @ p_filt[k - 1] @ f.T + noise
        gain = p_pred[k, :, 0] / (p_pred[k, 0, 0] + r)
        x_filt[k] = x_pred[k] + gain[:, None] * (values[k] - x_pred[k, 0])[None, :]
        p_filt[k] = p_pred[k] - np.outer(gain, p_pred[k, 0, :])
    x_smooth = x_filt.copy()
    for k in range(count - 2, -1, -1):
        f = transitions[k + 1]
        smoother_gain = np.linalg.solve(p_pred[k + 1].T, (p_filt[k] @ f.T).T).T
        x_smooth[k] = x_filt[k] + smoother_gain @ (x_smooth[k + 1] - x_pred[k + 1])
    return x_smooth[:, 0, :], x_smooth[:, 1, :]


def kalman_boxes(
    sample_frames: np.ndarray,
    sample_boxes: np.ndarray,
    query_frames: np.ndarray,
    *,
    native_fps: float,
    measurement_std: float = 10.0,
    accel_std: float = 20.0,
) -> np.ndarray:
    """RTS-smoothed constant-velocity boxes at ``query_frames`` (see the module docstring).

    Args:
        sample_frames: float64 ``[K]`` strictly increasing native frame positions.
        sample_boxes: float64 ``[K, 4]`` xyxy pixel boxes.
        query_frames: float64 ``[N]`` native frame positions to fill.
        native_fps: frames per second of the video (frames -> seconds).
        measurement_std: per-coordinate box noise of the policy, pixels (> 0).
        accel_std: how fast the target may change speed, px/s**2 per sqrt(s) (> 0);
            smaller values give straighter, smoother tubes.

    Returns:
        float64 ``[N, 4]`` boxes.
    """
    if sample_frames.size < 2:
        return np.repeat(sample_boxes[:1], query_frames.size, axis=0)
    times = sample_frames / float(native_fps)
    positions, velocities = rts_smooth(
        times, sample_boxes, measurement_std=measurement_std, accel_std=accel_std
    )
    clipped = np.clip(query_frames, sample_frames[0], sample_frames[-1]) / float(native_fps)
    return CubicHermiteSpline(times, positions, velocities, axis=0)(clipped)


__all__ = ["kalman_boxes", "rts_smooth"]
