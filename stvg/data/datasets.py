"""Grounding datasets: the sample container, the loader registry and ``load_dataset``.

A loader is a function registered under a dataset name with :func:`register_dataset`; it
takes the keyword arguments of :func:`load_dataset` (``split``, ``root``, ``annotations``,
``video_dir``, ``vidor_root``) and returns a :class:`GroundingDataset`. The built-in loaders
live in :mod:`stvg.data.loaders` (``hcstvg``, ``hcstvg2``, ``vidstg``, ``synthetic``) and
are registered the first time a dataset is looked up.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, overload

from stvg.config import ConfigError
from stvg.data.errors import DataError
from stvg.data.types import Sample

_BUILTIN_LOADERS = "stvg.data.loaders"


class GroundingDataset(Sequence[Sample]):
    """An ordered, read-only collection of :class:`~stvg.data.types.Sample` from one file.

    Args:
        name: registered dataset name (``"hcstvg"``, ``"vidstg"``, ...).
        split: split name (``"train"``, ``"val"``, ``"test"``, ...).
        source: the annotation file the samples came from.
        samples: the samples, in annotation order; ids must be unique.
        repairs: how many times each repair was applied while loading, e.g.
            ``{"box_outside_frame": 3, "span_clipped_to_video": 1}`` (boxes and samples
            respectively; see the loader's docstring).

    Raises:
        DataError: two samples share an id.
    """

    def __init__(
        self,
        name: str,
        split: str,
        source: str | Path,
        samples: Iterable[Sample],
        repairs: dict[str, int] | None = None,
    ) -> None:
        self.name = name
        self.split = split
        self.source = str(source)
        self._samples: list[Sample] = list(samples)
        self.repairs: dict[str, int] = dict(repairs or {})
        self._index: dict[str, int] = {}
        for position, sample in enumerate(self._samples):
            if sample.sample_id in self._index:
                raise DataError(
                    f"duplicate sample id in dataset {name!r} split {split!r}",
                    path=self.source,
                    sample_id=sample.sample_id,
                    hint="sample ids must be unique within a split",
                )
            self._index[sample.sample_id] = position

    @overload
    def __getitem__(self, index: int) -> Sample: ...

    @overload
    def __getitem__(self, index: slice) -> list[Sample]: ...

    def __getitem__(self, index: int | slice) -> Sample | list[Sample]:
        return self._samples[index]

    def __len__(self) -> int:
        return len(self._samples)

    def __iter__(self) -> Iterator[Sample]:
        return iter(self._samples)

    def __repr__(self) -> str:
        return (
            f"GroundingDataset(name={self.name!r}, split={self.split!r}, "
            f"samples={len(self)}, source={self.source!r})"
        )

    @property
    def ids(self) -> list[str]:
        """Sample ids in dataset order."""
        return [sample.sample_id for sample in self._samples]

    def get(self, sample_id: str) -> Sample:
        """The sample with id ``sample_id``.

        Raises:
            KeyError: no such id in this dataset (the message names the id and the dataset).
        """
        position = self._index.get(sample_id)
        if position is None:
            raise KeyError(
                f"sample id {sample_id!r} is not in dataset {self.name!r} split "
                f"{self.split!r} ({len(self)} samples from {self.source})"
            )
        return self._samples[position]

    def summary(self) -> dict[str, Any]:
        """A short description: name, split, source, sample and video counts, repairs.

        For full statistics (durations, spans, boxes) see :func:`stvg.data.inspect.inspect_dataset`.
        """
        return {
            "name": self.name,
            "split": self.split,
            "source": self.source,
            "num_samples": len(self),
            "num_videos": len({sample.video_path for sample in self._samples}),
            "repairs": dict(sorted(self.repairs.items())),
        }


class DatasetLoader(Protocol):
    """What :func:`register_dataset` accepts: a function building one dataset split."""

    def __call__(
        self,
        *,
        split: str | None,
        root: Path | None,
        annotations: Path | None,
        video_dir: Path | None,
        vidor_root: Path | None,
    ) -> GroundingDataset: ...


_REGISTRY: dict[str, DatasetLoader] = {}


def register_dataset(name: str) -> Callable[[DatasetLoader], DatasetLoader]:
    """Decorator registering a loader function under ``name`` for :func:`load_dataset`.

    Raises:
        ValueError: ``name`` is already registered to another function.
    """

    def decorate(loader: DatasetLoader) -> DatasetLoader:
        existing = _REGISTRY.get(name)
        if existing is not None and _qualified(existing) != _qualified(loader):
            raise ValueError(
                f"dataset name {name!r} is already registered to "
                f"{_qualified(existing)}; choose another name"
            )
        _REGISTRY[name] = loader
        return loader

    return decorate


def dataset_names() -> list[str]:
    """Names accepted by :func:`load_dataset`, sorted."""
    importlib.import_module(_BUILTIN_LOADERS)
    return sorted(_REGISTRY)


def load_dataset(
    name: str,
    *,
    split: str | None = None,
    root: str | Path | None = None,
    annotations: str | Path | None = None,
    video_dir: str | Path | None = None,
    vidor_root: str | Path | None = None,
) -> GroundingDataset:
    """Load one split of a registered dataset.

    Args:
        name: ``"hcstvg"``, ``"hcstvg2"``, ``"vidstg"``, ``"synthetic"`` or a name added
            with :func:`register_dataset`.
        split: split name; when ``None`` it is read from the annotation file name, or the
            loader's default split is used.
        root: dataset folder holding the annotation files (``root/<split>.json``, other
            names per loader) and ``root/videos/``.
        annotations: an explicit annotation file (takes precedence over ``root``).
        video_dir: folder of the videos; default ``root/videos`` or, without ``root``, the
            ``videos`` folder beside the annotation file. Videos need not exist to load.
        vidor_root: VidSTG only: the VidOR annotation folder holding the per-video box files.

    Raises:
        ValueError: unknown dataset name (the message lists the known ones).
        DataError: a missing or malformed annotation file or entry.
    """
    known = dataset_names()
    if name not in _REGISTRY:
        raise ConfigError(f"unknown dataset {name!r}; known datasets: {', '.join(known)}")
    return _REGISTRY[name](
        split=split,
        root=_as_path(root),
        annotations=_as_path(annotations),
        video_dir=_as_path(video_dir),
        vidor_root=_as_path(vidor_root),
    )


@dataclass
class DatasetConfig:
    """Which dataset split to load: the config section behind :func:`load_dataset`.

    Build it from YAML with :func:`stvg.config.from_dict` / :func:`stvg.config.from_yaml`.
    """

    name: str
    """Registered dataset name: hcstvg, hcstvg2, vidstg, synthetic."""
    split: str | None = None
    """Split name; None = from the annotation file name or the loader's default."""
    root: str | None = None
    """Dataset folder with <split>.json (per-loader names) and videos/."""
    annotations: str | None = None
    """Explicit annotation file; overrides root for the annotations."""
    video_dir: str | None = None
    """Folder of the videos; default root/videos or videos/ beside the annotation file."""
    vidor_root: str | None = None
    """VidSTG only: VidOR annotation folder with the per-video box files."""

    def load(self) -> GroundingDataset:
        """Load the configured split with :func:`load_dataset`."""
        return load_dataset(
            self.name,
            split=self.split,
            root=self.root,
            annotations=self.annotations,
            video_dir=self.video_dir,
            vidor_root=self.vidor_root,
        )


def _qualified(function: object) -> str:
    module = getattr(function, "__module__", "?")
    return f"{module}.{getattr(function, '__qualname__', repr(function))}"


def _as_path(value: str | Path | None) -> Path | None:
    return None if value is None else Path(value)
