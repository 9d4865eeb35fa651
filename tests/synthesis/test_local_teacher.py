"""The ``local`` teacher: the tiny random Qwen2.5-VL through the ``vlm`` policy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stvg.data.synthetic import generate_split
from stvg.synthesis import load_synthesis_config, synthesize

pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from stvg.policies.vlm.tiny import build_tiny_checkpoint

    return build_tiny_checkpoint("qwen2.5-vl", tmp_path_factory.mktemp("tiny") / "ckpt", seed=0)


def test_random_tiny_model_output_is_counted_not_a_crash(tiny_checkpoint, tmp_path):
    root = tmp_path / "data"
    generate_split(root, "train", 2, 0, duration_s=4.0, fps=5.0, size=64)
    config = load_synthesis_config(
        {
            "teacher": {
                "name": "local",
                "local": {"model_path": str(tiny_checkpoint), "max_new_tokens": 8, "device": "cpu"},
            },
            "env": {"root": str(root), "split": "train"},
            "out": str(tmp_path / "out"),
            "progress": False,
        }
    )
    result = synthesize(config)
    manifest = result.manifest
    assert manifest["teacher"]["teacher"] == "local"
    # the contract's geometry comes from the tiny model's processor
    assert manifest["contract"]["geometry"]["family"] == "qwen2.5-vl"
    counts = manifest["counts"]
    assert counts["written"] == 2 and counts["kept"] == 0
    assert sum(counts["failed"].values()) == 2
    records = [json.loads(line) for line in (tmp_path / "out" / "records.jsonl").open()]
    assert all(r["target"] is None and r["drop_reason"] for r in records)
    assert manifest["teacher_metrics"]["over_all"]["m_vIoU"] == 0.0
