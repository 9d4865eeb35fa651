"""Fixtures of the export tests: a small synthetic split and tiny Qwen checkpoints."""

from __future__ import annotations

from pathlib import Path

import pytest

from stvg.policies.vlm.config import VLMPolicyConfig
from stvg.policies.vlm.prompter import VLMPrompter
from stvg.policies.vlm.tiny import build_tiny_checkpoint

SPLIT = "test"


@pytest.fixture(scope="session")
def export_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three synthetic videos (5 fps, 4 s, 64 px; two of 4 s shown at 1 fps)."""
    from stvg.data.synthetic import generate_split

    root = tmp_path_factory.mktemp("export_split")
    generate_split(root, SPLIT, 3, 5, duration_s=4.0, fps=5.0, size=64)
    return root


@pytest.fixture(scope="session", params=["qwen2.5-vl", "qwen3-vl"])
def family(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="session")
def tiny_checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("export_tiny")
    return {
        f: build_tiny_checkpoint(f, base / f.replace(".", "")) for f in ("qwen2.5-vl", "qwen3-vl")
    }


@pytest.fixture(scope="session")
def prompter_of(tiny_checkpoints: dict[str, Path]):
    def build(family: str) -> VLMPrompter:
        return VLMPrompter(VLMPolicyConfig(model_path=str(tiny_checkpoints[family])))

    return build


@pytest.fixture(scope="session")
def env_kwargs(export_root: Path) -> dict:
    """GroundingEnv keys of the split (frames shown at most 64 pixels a side, 1 fps)."""
    return {"dataset": "synthetic", "root": str(export_root), "split": SPLIT, "max_side": 64}
