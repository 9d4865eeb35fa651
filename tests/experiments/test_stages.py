"""The stage store: a stage builds once per distinct input, and a half-built stage is built
again from scratch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stvg.experiments.stages import RunFolderStages, StageStore, stage_key


def test_key_ignores_key_order_and_tells_inputs_apart() -> None:
    assert stage_key({"a": 1, "b": {"c": 2.5}}) == stage_key({"b": {"c": 2.5}, "a": 1})
    assert stage_key({"a": 1}) != stage_key({"a": 2})
    assert len(stage_key({})) == 12


def test_a_stage_builds_once_per_input(tmp_path: Path) -> None:
    store = StageStore(tmp_path / "stages")
    calls: list[Path] = []

    def build(folder: Path) -> dict:
        calls.append(folder)
        (folder / "weights.txt").write_text("w", encoding="utf-8")
        return {"checkpoint": str(folder / "weights.txt")}

    first = store.run("sft", {"lr": 0.1}, build)
    again = StageStore(tmp_path / "stages").run("sft", {"lr": 0.1}, build)
    other = store.run("sft", {"lr": 0.2}, build)
    assert len(calls) == 2 and not first.reused and again.reused and not other.reused
    assert again.folder == first.folder and again.record["checkpoint"] == first.record["checkpoint"]
    assert other.folder != first.folder and first.folder.name == f"sft-{stage_key({'lr': 0.1})}"
    inputs = json.loads((first.folder / "inputs.json").read_text(encoding="utf-8"))
    assert inputs == {"stage": "sft", "inputs": {"lr": 0.1}}


def test_an_interrupted_stage_is_rebuilt_from_scratch(tmp_path: Path) -> None:
    store = StageStore(tmp_path)

    def crash(folder: Path) -> dict:
        (folder / "partial.bin").write_bytes(b"half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        store.run("rl", {"seed": 0}, crash)
    out = store.run(
        "rl", {"seed": 0}, lambda folder: {"files": sorted(p.name for p in folder.iterdir())}
    )
    assert not out.reused and out.record["files"] == ["inputs.json"]  # partial.bin is gone


def test_run_folder_stages_build_every_time(tmp_path: Path) -> None:
    stages = RunFolderStages(tmp_path)
    n = []
    for _ in range(2):
        out = stages.run("sft", {"x": 1}, lambda folder: {"n": n.append(1) or len(n)})
    assert out.folder == tmp_path / "sft" and out.record == {"n": 2} and not out.reused
