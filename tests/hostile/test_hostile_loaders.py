"""Annotation files built to break the loaders (HC-STVG v1 and v2, VidSTG with its VidOR box
files, the synthetic benchmark's annotations and scenes): a valid file with one or two
places replaced by a hostile value (huge, negative or non-finite numbers, wrong types, deep
nesting, a key given twice, very long or odd strings), or a key removed.

Each must load into samples that keep every invariant (:func:`hostile_kit.check_sample`)
or be refused with one :class:`DataError` naming the file, in bounded time and memory;
``stvg data inspect`` on the same file exits 0 or 2 with one line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hostile_kit import (
    MAX_MESSAGE_CHARS,
    Raw,
    bounded_memory,
    bounded_time,
    check_outcome,
    check_sample,
    deep,
    hostile_settings,
    mutated,
    plausible,
    run_cli,
    write_json,
)
from hypothesis import event, example, given

from stvg.data import load_dataset
from stvg.data.errors import DataError

SETTINGS = hostile_settings(40)

HCSTVG1 = {
    "v1.mp4": {
        "caption": "the man walks to the door",
        "width": 64,
        "height": 48,
        "img_num": 40,
        "st_frame": 3,
        "st_time": 0.1,
        "ed_time": 0.3,
        "bbox": [[1, 2, 10, 12], [2, 2, 10, 12], [3, 2, 10, 12]],
    },
    "v2.mp4": {
        "caption": "a woman sits",
        "width": 64,
        "height": 48,
        "img_num": 20,
        "st_frame": 1,
        "bbox": [[0, 0, 64, 48]],
    },
}
HCSTVG2 = {
    key: {
        "English": entry["caption"],
        "img_size": [entry["height"], entry["width"]],
        **{k: v for k, v in entry.items() if k not in ("caption", "width", "height")},
    }
    for key, entry in HCSTVG1.items()
}
VIDSTG = [
    {
        "vid": "1001",
        "fps": 30.0,
        "frame_count": 60,
        "width": 64,
        "height": 48,
        "temporal_gt": {"begin_fid": 2, "end_fid": 5},
        "used_segment": {"begin_fid": 0, "end_fid": 59},
        "captions": [{"description": "the dog runs", "type": "object", "target_id": 0}],
        "questions": [{"description": "what runs?", "type": "object", "target_id": 1}],
    }
]
VIDOR = {
    "video_path": "0000/1001.mp4",
    "trajectories": [
        [
            {"tid": 0, "bbox": {"xmin": 1, "ymin": 2, "xmax": 20, "ymax": 30}},
            {"tid": 1, "bbox": {"xmin": 5, "ymin": 5, "xmax": 9, "ymax": 9}},
        ]
    ]
    * 7,
}


def _load(name: str, **kwargs: Any) -> list:
    return list(load_dataset(name, **kwargs))


def check_load(name: str, path: Path, **kwargs: Any) -> None:
    """Load; every sample keeps the invariants, or one DataError names the file."""
    try:
        with bounded_memory(what=f"load_dataset({name!r})"), bounded_time(20, name):
            samples = _load(name, **kwargs)
    except DataError as exc:
        event(f"{name}: DataError")
        message = str(exc)
        assert str(path.parent) in message or str(path) in message, message
        assert "\n" not in message and len(message) <= MAX_MESSAGE_CHARS, message[:500]
        return
    event(f"{name}: loaded")
    for sample in samples:
        check_sample(sample)


def check_inspect(path: Path, name: str, *extra: str) -> None:
    argv = ["data", "inspect", str(path), "--format", name, *extra]
    check_outcome(argv, *run_cli(argv))


@SETTINGS
@given(data=mutated(HCSTVG1) | mutated(HCSTVG2) | mutated(HCSTVG2, 3, plausible))
@example(data={"v.mp4": {**HCSTVG2["v1.mp4"], "st_frame": Raw("1" * 5000)}})
@example(data={"v.mp4": {**HCSTVG2["v1.mp4"], "bbox": [[1e308, 1e308, 1e308, 1e308]]}})
@example(data={"v.mp4": {**HCSTVG2["v1.mp4"], "bbox": [[-1e308, 0, 1e308, 0]]}})
@example(data={"v.mp4": {**HCSTVG2["v1.mp4"], "English": deep(100_000)}})
def test_hcstvg_files(data: Any, tmp_path: Path) -> None:
    for version, name in ((1, "hcstvg"), (2, "hcstvg2")):
        path = write_json(tmp_path / f"v{version}.json", data)
        check_load(name, path, annotations=path)
    check_inspect(path, "hcstvg2")


@SETTINGS
@given(
    entries=mutated(VIDSTG) | mutated(VIDSTG, 3, plausible),
    vidor=mutated(VIDOR) | mutated(VIDOR, 3, plausible),
)
@example(entries=[{**VIDSTG[0], "vid": Raw("9" * 5000)}], vidor=VIDOR)
def test_vidstg_files(entries: Any, vidor: Any, tmp_path: Path) -> None:
    path = write_json(tmp_path / "test_annotations.json", entries)
    (tmp_path / "vidor" / "0000").mkdir(parents=True, exist_ok=True)
    write_json(tmp_path / "vidor" / "0000" / "1001.json", vidor)
    check_load("vidstg", path, annotations=path)
    check_load("vidstg", path, annotations=path, vidor_root=tmp_path / "vidor")
    check_inspect(path, "vidstg", "--vidor-root", str(tmp_path / "vidor"))


@pytest.fixture
def synth_copy(synth_root: Path, synth_annotations: dict, tmp_path: Path) -> tuple[Path, dict]:
    """The synthetic split's first annotation entry and its scene, to be mutated."""
    key = next(iter(synth_annotations))
    scenes = json.loads((synth_root / "test_scenes.json").read_text(encoding="utf-8"))
    return tmp_path, {"ann": {key: synth_annotations[key]}, "scenes": {key: scenes[key]}}


@SETTINGS
@given(data=mutated({"ann": HCSTVG2, "scenes": {}}, max_changes=1))
def test_synthetic_files(data: Any, synth_copy: tuple[Path, dict]) -> None:
    folder, real = synth_copy
    ann = data.get("ann", real["ann"]) if isinstance(data, dict) else data
    scenes = data.get("scenes", real["scenes"]) if isinstance(data, dict) else real["scenes"]
    root = folder / "split"
    root.mkdir(exist_ok=True)
    path = write_json(root / "test.json", ann)
    if scenes:
        write_json(root / "test_scenes.json", scenes)
    else:
        (root / "test_scenes.json").unlink(missing_ok=True)
    check_load("synthetic", path, root=root, split="test")
    check_inspect(root, "synthetic", "--split", "test")
