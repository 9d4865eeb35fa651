"""Data layer: core types, loaders, video reading and sampling, synthetic benchmark."""

from stvg.data.errors import DataError, VideoError
from stvg.data.timing import (
    frame_of_time,
    round_half_up,
    sample_frame_indices,
    span_seconds_to_frames,
    time_of_frame,
)
from stvg.data.types import Sample, SecondLevelAnswer, Tube

__all__ = [
    "DataError",
    "Sample",
    "SecondLevelAnswer",
    "Tube",
    "VideoError",
    "frame_of_time",
    "round_half_up",
    "sample_frame_indices",
    "span_seconds_to_frames",
    "time_of_frame",
]
