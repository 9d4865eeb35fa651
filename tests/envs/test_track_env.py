"""``densify: {method: track}`` in the envs: the episode's native frames reach the verifier
from the env's frame source (decoded once per sample, cached), and the step's ``info``
carries the tracker's cost and fallbacks.

The video is an mp4 written here: a 24-pixel textured square going round a half circle per
second (centre ``cx = 80 - 40 cos(pi t / 10)``, ``cy = 60 - 35 sin(pi t / 10)``, native
frame ``t``) on a blurred-noise background, 160x120, 10 fps, 3 s; the ground truth is the
square's box on frames 0..20.
"""

from __future__ import annotations

import cv2
import gymnasium as gym
import numpy as np
import pytest

import stvg  # noqa: F401  (registers the env ids)
from stvg.data.types import Sample
from stvg.envs import GroundingEnv
from stvg.envs.tracking import TrackingEnv

WIDTH, HEIGHT, SIDE, FPS, FRAMES = 160, 120, 24, 10.0, 30


def _box(t: int) -> list[float]:
    angle = np.pi * t / 10.0
    cx, cy = 80 - 40 * np.cos(angle), 60 - 35 * np.sin(angle)
    x0, y0 = round(cx - SIDE / 2), round(cy - SIDE / 2)
    return [float(x0), float(y0), float(x0 + SIDE), float(y0 + SIDE)]


@pytest.fixture(scope="module")
def curve_sample(tmp_path_factory: pytest.TempPathFactory) -> Sample:
    path = tmp_path_factory.mktemp("curve") / "curve.mp4"
    rng = np.random.default_rng(0)
    background = cv2.GaussianBlur(rng.integers(0, 80, (HEIGHT, WIDTH)).astype(np.uint8), (5, 5), 0)
    yy, xx = np.mgrid[0:SIDE, 0:SIDE]
    texture = (170 + 60 * np.sin(xx / 2.5) * np.cos(yy / 3.0)).astype(np.uint8)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (WIDTH, HEIGHT))
    for t in range(FRAMES):
        frame = background.copy()
        x0, y0, x1, y1 = (int(v) for v in _box(t))
        frame[y0:y1, x0:x1] = texture
        writer.write(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))
    writer.release()
    gt = {t: _box(t) for t in range(21)}
    return Sample("curve", str(path), "the square", FPS, FRAMES, WIDTH, HEIGHT, (0, 20), gt)


def _answer() -> str:
    boxes = ", ".join(f'"{s}": {[int(v) for v in _box(10 * s)]}' for s in (0, 1, 2))
    return f'<answer>{{"span": [0, 2], "boxes": {{{boxes}}}}}</answer>'


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    w = np.clip(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0, None)
    h = np.clip(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0, None)
    area = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]) + (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return w * h / (area - w * h)


def test_grounding_env_scores_track_through_gymnasium(curve_sample: Sample) -> None:
    # Span [0, 2] s = frames 0..20 = the GT span: tIoU 1 and vIoU = mean IoU over 21 frames.
    truth = np.array([_box(t) for t in range(21)])
    shown = np.array([0, 10, 20])
    chord = np.stack(
        [np.interp(np.arange(21), shown, truth[shown, c]) for c in range(4)], axis=1
    )  # linear interpolation by hand
    want_linear = float(_iou(chord, truth).mean())
    scores = {}
    for method in ("linear", "track"):
        env = gym.make(
            "stvg/Grounding-v0",
            samples=[curve_sample],
            fps=1.0,
            max_side=160,
            densify={"method": method},
        )
        env.reset(seed=0)
        _, reward, terminated, _, info = env.step(_answer())
        assert terminated and info["parse_error"] is None and info["t_iou"] == 1.0
        scores[method] = info
        env.close()
    assert scores["linear"]["v_iou"] == pytest.approx(want_linear, abs=1e-9)
    assert want_linear == pytest.approx(0.1997, abs=1e-4)  # the chord misses the arc
    assert scores["track"]["v_iou"] > 0.97  # every tracked box within a pixel of the truth
    track = scores["track"]
    assert track["densify/tracked_frames"] == 18 and track["densify/fallback_frames"] == 0
    assert track["densify/segments"] == 2 and track["densify/fallback_segments"] == 0
    assert track["cost/densify_seconds"] > 0
    assert "cost/densify_seconds" not in scores["linear"]  # interpolation reads no frames
    assert not any(k.startswith("densify/") for k in scores["linear"])


def test_the_video_is_decoded_once_per_sample_and_cached(curve_sample: Sample) -> None:
    env = GroundingEnv(samples=[curve_sample], fps=1.0, max_side=64, densify={"method": "track"})
    env.reset(seed=0)  # the shown frames: miss 1
    assert env.frame_source.stats.misses == 1
    first = env.score_group([_answer()] * 4)  # the native frames, once for the group: miss 2
    assert (env.frame_source.stats.misses, env.frame_source.stats.hits) == (2, 0)
    env.reset()  # shown frames from the cache
    again = env.score_group([_answer()])  # native frames from the cache
    assert (env.frame_source.stats.misses, env.frame_source.stats.hits) == (2, 2)
    rewards = {reward for reward, _ in first} | {again[0][0]}
    assert len(rewards) == 1  # the same answer scores the same, cached or not
    uncached = GroundingEnv(
        samples=[curve_sample], fps=1.0, max_side=64, densify={"method": "track"}, frame_cache_mb=0
    )
    uncached.reset(seed=0)
    assert uncached.score_group([_answer()] * 3)[0][0] == again[0][0]


def test_tracking_env_passes_its_frames_too(curve_sample: Sample) -> None:
    env = TrackingEnv(samples=[curve_sample], fps=1.0, max_side=160, densify={"method": "track"})
    env.reset(seed=0)
    done, info = False, {}
    for t in range(3):  # present with the true box on the shown frames 0, 10, 20
        x0, y0, x1, y1 = _box(10 * t)
        box = np.array([x0 / WIDTH, y0 / HEIGHT, x1 / WIDTH, y1 / HEIGHT], dtype=np.float32)
        _, _, done, _, info = env.step({"present": 1, "box": box})
    assert done and info["densify/tracked_frames"] == 18 and info["v_iou"] > 0.9
