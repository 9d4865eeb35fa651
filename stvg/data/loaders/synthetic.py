"""Loader of the synthetic benchmark written by ``stvg data synth`` (``synthetic``).

Files (see :func:`stvg.data.synthetic.generate_split`): ``root/<split>.json`` holds HC-STVG
v2 entries with an explicit ``fps`` (parsed exactly like ``hcstvg2``, see
:mod:`stvg.data.loaders.hcstvg`), videos are ``root/videos/<key>``, and
``root/<split>_scenes.json`` (the full scene description, keyed like the annotations) is
attached to each sample as ``meta["scene"]`` when that file exists. With an explicit
``annotations=<dir>/<name>.json`` the scene file is ``<dir>/<name>_scenes.json`` and the
videos ``<dir>/videos``. ``meta["dataset"]`` is ``"synthetic"``; default split ``test``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stvg.data.datasets import GroundingDataset, register_dataset
from stvg.data.errors import DataError
from stvg.data.loaders.common import (
    check_unique_keys,
    default_video_dir,
    is_file,
    read_json,
    resolve_annotation_file,
)
from stvg.data.loaders.hcstvg import load_hcstvg_file, reject_vidor_root


def scenes_file_for(annotation_file: Path) -> Path:
    """The scene file beside an annotation file: ``<dir>/<stem>_scenes.json``."""
    return annotation_file.with_name(f"{annotation_file.stem}_scenes.json")


@register_dataset("synthetic")
def load_synthetic(
    *,
    split: str | None,
    root: Path | None,
    annotations: Path | None,
    video_dir: Path | None,
    vidor_root: Path | None,
) -> GroundingDataset:
    """Load a synthetic split (HC-STVG v2 entries + ``fps``, scenes in ``meta["scene"]``)."""
    reject_vidor_root("synthetic", vidor_root)
    annotation_file, split = resolve_annotation_file(
        "synthetic",
        split=split,
        root=root,
        annotations=annotations,
        patterns=("{split}.json",),
        default_split="test",
    )
    extra_meta = _scene_meta(annotation_file)
    dataset = load_hcstvg_file(
        "synthetic",
        version=2,
        annotation_file=annotation_file,
        split=split,
        video_dir=default_video_dir(root, annotation_file, video_dir),
        extra_meta=extra_meta,
    )
    if extra_meta is not None:
        missing = [sample_id for sample_id in dataset.ids if sample_id not in extra_meta]
        if missing:
            raise DataError(
                f"scene file has no entry for {len(missing)} annotated sample(s)",
                path=str(scenes_file_for(annotation_file)),
                sample_id=missing[0],
                hint="regenerate the split with `stvg data synth` so both files match",
            )
    return dataset


def _scene_meta(annotation_file: Path) -> dict[str, dict[str, Any]] | None:
    scenes_file = scenes_file_for(annotation_file)
    if not is_file(scenes_file):
        return None
    scenes = read_json(scenes_file)
    if not isinstance(scenes, dict):
        raise DataError(
            f"expected a JSON object keyed like the annotations, got {type(scenes).__name__}",
            path=str(scenes_file),
        )
    check_unique_keys(scenes, scenes_file)
    return {key: {"scene": scene} for key, scene in scenes.items()}
