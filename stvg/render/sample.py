"""Pictures of one sample's grounding result, decoded from its video: a contact sheet
(PNG) or an mp4 of every frame with both tubes drawn.

Which frames a sheet shows follows :func:`stvg.data.timing.sample_frame_indices` on the
*sample's* frame rate and frame count (the numbers the metrics use), as the envs do; the
sample's tIoU and vIoU come from :func:`stvg.verifiers.metrics.score_sample` (official
protocol on native frames), so the header shows the numbers ``stvg evaluate`` reports.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from stvg.config import ConfigError
from stvg.data.errors import VideoError
from stvg.data.timing import sample_frame_indices, time_of_frame
from stvg.data.types import Sample
from stvg.data.video import SampledFrames, VideoReader, decode_sample_frames
from stvg.limits import MAX_FRAME_BUFFER_BYTES
from stvg.render.draw import draw_tubes
from stvg.render.mp4 import Mp4Writer
from stvg.render.overlay import TubePair
from stvg.render.sheet import (
    SheetHeader,
    SheetLayout,
    contact_sheet,
    sheet_geometry,
    tile_label,
)
from stvg.render.text import draw_text, fit_text, line_height, text_width
from stvg.verifiers.metrics import score_sample
from stvg.verifiers.predictions import Prediction

SHEET_SUFFIX = ".png"
VIDEO_SUFFIX = ".mp4"
OUT_SUFFIXES: tuple[str, ...] = (SHEET_SUFFIX, VIDEO_SUFFIX)
CHUNK_FRAMES = 64  # native frames decoded at a time while writing a video
MIN_TAGGED_SIDE = 128  # pixels; smaller video frames get boxes without GT/pred tags
_CAPTION_BACKGROUND = (0, 0, 0)  # RGB
_CAPTION_TEXT = (255, 255, 255)  # RGB


def sample_header(sample: Sample, prediction: Prediction | None) -> SheetHeader:
    """The sheet header of ``sample``: id, query, and the tIoU and vIoU of ``prediction``
    (official protocol; a missing prediction scores 0 on both and says so)."""
    if prediction is None:
        return SheetHeader(sample.sample_id, sample.query, 0.0, 0.0, note="no prediction")
    score = score_sample(sample, prediction.span, prediction.tube)
    return SheetHeader(sample.sample_id, sample.query, score.t_iou, score.v_iou)


def _open_video(sample: Sample) -> VideoReader:
    _check_video(sample)
    return VideoReader(sample.video_path)


def _check_video(sample: Sample) -> None:
    """A missing video is an error naming the sample and the ``--video-dir`` fix."""
    if not Path(sample.video_path).is_file():
        raise VideoError(
            "video file not found",
            path=str(sample.video_path),
            sample_id=sample.sample_id,
            hint="pass the folder of the videos with --video-dir (default: videos/ beside "
            "the annotation file)",
        )


def read_sample_frames(
    sample: Sample,
    fps: float | None = 1.0,
    *,
    max_frames: int | None = None,
    max_side: int | None = None,
) -> SampledFrames:
    """The frames of ``sample``'s video sampled at ``fps`` frames per second.

    Args:
        sample: the sample (its ``video_path``, ``native_fps`` and ``num_frames``).
        fps: frames per second to take (``None`` = every native frame).
        max_frames: keep at most this many, evenly spread (first and last kept).
        max_side: shrink the frames so the longer side is at most this many pixels.

    Returns:
        RGB uint8 frames with their native frame indices and timestamps in seconds
        (``frame_idx / sample.native_fps``).

    Raises:
        VideoError: the video is missing or unreadable (the message names the sample).
    """
    _check_video(sample)
    sampled = decode_sample_frames(sample, fps, max_frames, max_side)
    timestamps = np.asarray(time_of_frame(sampled.frame_idx, sample.native_fps), dtype=np.float64)
    return SampledFrames(
        frames=sampled.frames,
        frame_idx=sampled.frame_idx,
        timestamps_s=timestamps,
        shown_size=sampled.shown_size,
        original_size=(sample.width, sample.height),
        native_fps=sample.native_fps,
    )


def sample_sheet(
    sample: Sample,
    prediction: Prediction | None = None,
    *,
    fps: float | None = 1.0,
    max_frames: int | None = None,
    layout: SheetLayout | None = None,
    note: str | None = None,
) -> np.ndarray:
    """The contact sheet of ``sample`` and ``prediction`` (``None``: ground truth only).

    Args:
        sample: the sample, with a readable video.
        prediction: the predicted span and boxes, e.g. from
            :func:`stvg.verifiers.predictions.read_predictions`.
        fps: frames per second shown as tiles (default one per second; ``None`` = all).
        max_frames: at most this many tiles, evenly spread.
        layout: the sheet layout (:class:`~stvg.render.sheet.SheetLayout`).
        note: the header's note instead of the default (``no prediction`` without one),
            e.g. why the answer could not be used.

    Returns:
        uint8 ``[H, W, 3]`` RGB image.

    Raises:
        VideoError: the video is missing or unreadable.
        ConfigError: the sheet would be larger than :data:`~stvg.limits.MAX_SHEET_PIXELS`
            pixels, or its frames more than :data:`~stvg.limits.MAX_FRAME_BUFFER_BYTES`
            (checked before any frame is decoded).
    """
    layout = layout or SheetLayout()
    size = (sample.width, sample.height)
    tiles = len(sample_frame_indices(sample.native_fps, sample.num_frames, fps, max_frames))
    nbytes = tiles * sample.width * sample.height * 3
    if nbytes > MAX_FRAME_BUFFER_BYTES:
        raise ConfigError(
            f"the contact sheet's {tiles:,} frames of {sample.width}x{sample.height} pixels "
            f"would take {nbytes / 2**30:,.1f} GiB, more than the "
            f"{MAX_FRAME_BUFFER_BYTES / 2**30:g} GiB allowed; lower the number of tiles "
            "(--max-frames) or the frames per second (--fps)"
        )
    sheet_geometry(tiles, size, size, layout)  # its size bound, before any decode
    frames = read_sample_frames(sample, fps, max_frames=max_frames, max_side=None)
    tubes = TubePair.from_sample(sample, prediction)
    header = sample_header(sample, prediction)
    if note is not None:
        header = replace(header, note=note)
    return contact_sheet(frames, tubes, header, layout)


def write_image(path: str | Path, image_rgb: np.ndarray) -> Path:
    """Write a uint8 RGB image to ``path`` (format from the suffix, e.g. ``.png``).

    Raises:
        OSError: OpenCV could not write the file (the message names it).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), cv2.cvtColor(np.asarray(image_rgb), cv2.COLOR_RGB2BGR)):
        raise OSError(f"cannot write the image {path}: check the folder and the suffix")
    return path


def _video_font_scale(width: int, height: int) -> float:
    """Font scale of the tags and captions of a video frame of ``width x height`` pixels."""
    return max(0.3, min(1.0, min(width, height) / 600.0))


def _caption(image: np.ndarray, text: str, scale: float) -> None:
    """Draw ``text`` at the bottom-left corner of ``image`` on a black strip, in place."""
    height, width = image.shape[:2]
    text = fit_text(text, width - 6, scale)
    text_h = line_height(scale)
    strip_w = min(width, text_width(text, scale) + 6)
    top = max(0, height - text_h)
    cv2.rectangle(image, (0, top), (strip_w - 1, height - 1), _CAPTION_BACKGROUND, cv2.FILLED)
    draw_text(image, text, (3, height - max(3, text_h // 4)), _CAPTION_TEXT, scale=scale)


def write_sample_video(
    sample: Sample,
    prediction: Prediction | None,
    path: str | Path,
    *,
    max_side: int | None = None,
    captions: bool = True,
) -> int:
    """Write every frame of ``sample``'s video with both tubes drawn to the mp4 ``path``.

    Args:
        sample: the sample, with a readable video.
        prediction: the predicted span and boxes (``None``: ground truth only).
        path: the ``.mp4`` file to write (mp4v, at the video's frame rate).
        max_side: shrink frames so the longer side is at most this many pixels.
        captions: write ``t=<seconds>s IoU <frame IoU>`` in the bottom-left corner.

    Boxes are drawn with the ``GT`` / ``pred`` tags when the frame's shorter side is at least
    :data:`MIN_TAGGED_SIDE` pixels (on smaller frames the tags would hide the boxes).

    Returns:
        The number of frames written: the sample's ``num_frames``, or fewer when the file
        turns out to hold fewer decodable frames (see :class:`stvg.data.VideoReader`).

    Raises:
        VideoError: the video is missing or unreadable, or the mp4 cannot be written.
    """
    tubes = TubePair.from_sample(sample, prediction)
    with _open_video(sample) as reader:
        total = min(sample.num_frames, reader.num_frames)
        writer: Mp4Writer | None = None
        try:
            for lo in range(0, total, CHUNK_FRAMES):
                chunk = reader.read_frames(
                    np.arange(lo, min(lo + CHUNK_FRAMES, total)), max_side=max_side
                )
                if writer is None:
                    writer = Mp4Writer(path, sample.native_fps, chunk.shown_size)
                scale = (chunk.shown_size[0] / sample.width, chunk.shown_size[1] / sample.height)
                thickness = max(2, int(round(min(chunk.shown_size) / 180)))
                font_scale = _video_font_scale(*chunk.shown_size)
                tags = min(chunk.shown_size) >= MIN_TAGGED_SIDE
                for image, frame in zip(chunk.frames, chunk.frame_idx.tolist(), strict=True):
                    drawn = draw_tubes(
                        image,
                        tubes,
                        frame,
                        scale=scale,
                        thickness=thickness,
                        labels=tags,
                        font_scale=font_scale,
                    )
                    if captions:
                        time_s = float(time_of_frame(frame, sample.native_fps))
                        _caption(drawn, tile_label(time_s, tubes.frame_iou(frame)), font_scale)
                    writer.write(drawn)
                if len(chunk) < CHUNK_FRAMES and lo + len(chunk) < total:
                    break  # the video is shorter than its container says
        finally:
            if writer is not None:
                writer.close()
    return 0 if writer is None else writer.frames_written


def check_out_suffix(out: str | Path) -> str:
    """The suffix of ``out`` (``.png`` or ``.mp4``, lower case).

    Raises:
        ConfigError: any other suffix (the message names the path and the choices).
    """
    suffix = Path(out).suffix.lower()
    if suffix not in OUT_SUFFIXES:
        raise ConfigError(
            f"output {str(out)!r} has the suffix {suffix or '(none)'!r}; use .png for a "
            "contact sheet or .mp4 for a video of every frame"
        )
    return suffix


def render_sample(
    sample: Sample,
    prediction: Prediction | None,
    out: str | Path,
    *,
    fps: float | None = 1.0,
    max_frames: int | None = None,
    layout: SheetLayout | None = None,
    max_side: int | None = None,
) -> Path:
    """Write the picture of ``sample`` and ``prediction`` chosen by ``out``'s suffix:
    ``.png`` a contact sheet (:func:`sample_sheet` with ``fps``, ``max_frames``,
    ``layout``), ``.mp4`` a video of every frame (:func:`write_sample_video` with
    ``max_side``).

    Returns:
        ``out`` as a path.

    Raises:
        ConfigError: ``out`` ends in neither ``.png`` nor ``.mp4``.
        VideoError: the video is missing or unreadable, or the mp4 cannot be written.
        OSError: the PNG cannot be written.
    """
    suffix = check_out_suffix(out)
    if suffix == SHEET_SUFFIX:
        return write_image(
            out, sample_sheet(sample, prediction, fps=fps, max_frames=max_frames, layout=layout)
        )
    write_sample_video(sample, prediction, out, max_side=max_side)
    return Path(out)


__all__ = [
    "OUT_SUFFIXES",
    "check_out_suffix",
    "read_sample_frames",
    "render_sample",
    "sample_header",
    "sample_sheet",
    "write_image",
    "write_sample_video",
]
