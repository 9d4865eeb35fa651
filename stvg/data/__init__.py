"""Data layer: core types, loaders, video reading and sampling, synthetic benchmark."""

from stvg.data.datasets import (
    DatasetConfig,
    GroundingDataset,
    dataset_names,
    load_dataset,
    register_dataset,
)
from stvg.data.errors import DataError, VideoError
from stvg.data.inspect import inspect_dataset
from stvg.data.timing import (
    frame_of_time,
    round_half_up,
    sample_frame_indices,
    span_seconds_to_frames,
    time_of_frame,
)
from stvg.data.types import Sample, SecondLevelAnswer, Tube
from stvg.data.video import SampledFrames, VideoReader

__all__ = [
    "DataError",
    "DatasetConfig",
    "GroundingDataset",
    "Sample",
    "SampledFrames",
    "SecondLevelAnswer",
    "Tube",
    "VideoError",
    "VideoReader",
    "dataset_names",
    "frame_of_time",
    "inspect_dataset",
    "load_dataset",
    "register_dataset",
    "round_half_up",
    "sample_frame_indices",
    "span_seconds_to_frames",
    "time_of_frame",
]
