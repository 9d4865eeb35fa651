"""Draw synthetic scenes with cv2 primitives and write them as mp4 (fourcc ``mp4v``).

Shapes are drawn with sub-pixel precision (``shift=4``, 1/16 pixel) and anti-aliased
edges. cv2 puts integer coordinates at pixel *centres*, while the scene uses continuous
coordinates where pixel ``i`` spans ``[i, i + 1)``, so every vertex is shifted by half a
pixel: a shape covers exactly the pixels whose centres lie inside its analytic outline.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from stvg.data.errors import VideoError
from stvg.data.synthetic.scene import COLOURS_BGR, SUBPIXEL, Background, Scene, SceneObject

_SHIFT = 4  # cv2 fractional bits; 2 ** _SHIFT == SUBPIXEL
if 2**_SHIFT != SUBPIXEL:
    raise RuntimeError("render._SHIFT must match scene.SUBPIXEL")


def background_image(background: Background, width: int, height: int) -> np.ndarray:
    """The background as a uint8 BGR image ``[height, width, 3]`` (vectorised numpy)."""
    base = np.asarray(background.colour_bgr, dtype=np.float32).reshape(1, 1, 3)
    image = np.broadcast_to(base, (height, width, 3)).astype(np.float32)
    if background.amplitude:
        fx, fy = background.freq
        px, py = background.phase
        x = np.arange(width, dtype=np.float32) + 0.5
        y = np.arange(height, dtype=np.float32) + 0.5
        wave = np.outer(np.sin(2 * np.pi * (fy * y + py)), np.sin(2 * np.pi * (fx * x + px)))
        image = image + np.float32(background.amplitude) * wave[:, :, None]
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def draw_object(image: np.ndarray, obj: SceneObject, centre: tuple[float, float]) -> None:
    """Draw ``obj`` centred at ``centre`` (continuous pixels) onto ``image`` in place."""
    colour = COLOURS_BGR[obj.colour]
    cx = int(round((centre[0] - 0.5) * SUBPIXEL))
    cy = int(round((centre[1] - 0.5) * SUBPIXEL))
    r = int(round(obj.radius * SUBPIXEL))
    if obj.shape == "circle":
        cv2.circle(image, (cx, cy), r, colour, -1, cv2.LINE_AA, _SHIFT)
        return
    if obj.shape == "square":
        corners = [(cx - r, cy - r), (cx + r, cy - r), (cx + r, cy + r), (cx - r, cy + r)]
    else:  # triangle: apex up, base at the bottom of the box
        corners = [(cx, cy - r), (cx + r, cy + r), (cx - r, cy + r)]
    cv2.fillPoly(image, [np.array(corners, dtype=np.int32)], colour, cv2.LINE_AA, _SHIFT)


class _SceneRenderer:
    """Precomputes a scene's background, draw order and centres; renders any frame."""

    def __init__(self, scene: Scene) -> None:
        self.scene = scene
        self.background = background_image(scene.background, scene.width, scene.height)
        frames = np.arange(scene.num_frames)
        self.order = sorted(scene.objects, key=lambda o: (o.z, o.object_id))
        self.centres = [o.centres(frames) for o in self.order]
        self.visible = [o.visible_mask(scene.num_frames) for o in self.order]

    def frame(self, frame_idx: int) -> np.ndarray:
        image = self.background.copy()
        for obj, centres, visible in zip(self.order, self.centres, self.visible, strict=True):
            if visible[frame_idx]:
                draw_object(
                    image, obj, (float(centres[frame_idx, 0]), float(centres[frame_idx, 1]))
                )
        return image


def render_frame(scene: Scene, frame_idx: int) -> np.ndarray:
    """Frame ``frame_idx`` (0-based) of ``scene`` as a uint8 BGR image ``[H, W, 3]``."""
    if not 0 <= frame_idx < scene.num_frames:
        raise ValueError(
            f"Scene {scene.scene_id!r}: frame_idx {frame_idx} outside [0, {scene.num_frames - 1}]"
        )
    return _SceneRenderer(scene).frame(frame_idx)


def render_scene(scene: Scene, path: str | Path) -> Path:
    """Write every frame of ``scene`` to an mp4 file (fourcc ``mp4v``) at ``scene.fps``.

    Returns the path written. Raises :class:`VideoError` when cv2 cannot open a writer.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(
        str(path), cv2.VideoWriter_fourcc(*"mp4v"), float(scene.fps), (scene.width, scene.height)
    )
    if not writer.isOpened():
        raise VideoError(
            "cv2.VideoWriter could not open an mp4v writer",
            path=str(path),
            sample_id=scene.scene_id,
            hint="check that the folder is writable and that opencv was built with FFmpeg",
        )
    try:
        renderer = _SceneRenderer(scene)
        for frame_idx in range(scene.num_frames):
            writer.write(renderer.frame(frame_idx))
    finally:
        writer.release()
    if not path.is_file() or path.stat().st_size == 0:
        raise VideoError(
            "cv2.VideoWriter wrote no data",
            path=str(path),
            sample_id=scene.scene_id,
            hint="check free disk space and opencv's FFmpeg support",
        )
    return path
