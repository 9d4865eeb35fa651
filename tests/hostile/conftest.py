"""Fixtures of the hostile-input suite: one tiny synthetic split (3 videos of 64x64 at 5 fps,
4 s) built once per session, and the valid files the tests mutate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stvg.data import load_dataset


@pytest.fixture(scope="session")
def synth_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic split ``test`` under a session folder (videos, annotations, scenes)."""
    from stvg.data.synthetic import generate_split

    root = tmp_path_factory.mktemp("hostile_synth")
    generate_split(root, "test", 3, 0, duration_s=4.0, fps=5.0, size=64)
    return root


@pytest.fixture(scope="session")
def synth_annotations(synth_root: Path) -> dict:
    """The split's annotation file as Python data (HC-STVG v2 entries plus ``fps``)."""
    return json.loads((synth_root / "test.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def synth_samples(synth_root: Path) -> list:
    """The split's samples."""
    return list(load_dataset("synthetic", root=synth_root, split="test"))


@pytest.fixture(scope="session", autouse=True)
def warm_imports(synth_root: Path) -> None:
    """Run each entry point once on valid input, so that the memory bounds of the tests
    measure the input's allocations, not a library's first import."""
    from hostile_kit import run_cli

    pred = synth_root / "warm_predictions.json"
    pred.write_text(json.dumps({"test_0000.mp4": {"st_frame": 5, "ed_frame": 6, "bbox": {}}}))
    run_cli(
        [
            "evaluate",
            "--annotations",
            str(synth_root / "test.json"),
            "--format",
            "synthetic",
            "--predictions",
            str(pred),
            "--protocol",
            "all",
        ]
    )
    run_cli(["data", "inspect", str(synth_root), "--format", "synthetic", "--split", "test"])
