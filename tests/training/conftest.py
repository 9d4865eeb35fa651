"""Shared fixtures of the RL trainer tests (GRPO, RLOO, PPO, checkpoints, resume, ...)."""

from __future__ import annotations

from pathlib import Path

import pytest
from rl_helpers import make_native_checkpoint, make_split


@pytest.fixture(scope="session")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The trainer tests' data: a 4-video synthetic train split (``rl_helpers.make_split``)
    and a fresh tiny native policy checkpoint of its vocabulary, as ``(root, init.pt)``.
    Read-only for the tests (a test that corrupts data makes its own split)."""
    root = make_split(tmp_path_factory.mktemp("rl_data"))
    return root, make_native_checkpoint(root, root / "init.pt")
