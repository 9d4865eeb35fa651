"""docs/policies.md runs as written: its policy file, its config and its command."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "policies.md"


def blocks(language: str) -> list[str]:
    text = PAGE.read_text(encoding="utf-8")
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.DOTALL)


def stvg_command() -> list[str]:
    """The ``stvg`` console script beside this interpreter (as a user runs it: the working
    directory is not on its path), else ``python -m stvg.cli``."""
    script = Path(sys.executable).parent / "stvg"
    return [str(script)] if script.exists() else [sys.executable, "-m", "stvg.cli"]


@pytest.fixture(scope="module")
def page_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the page's files and a 4-video synthetic test split where the
    page's command looks for make demo's."""
    from stvg.data.synthetic import generate_split

    folder = tmp_path_factory.mktemp("policies_page")
    (policy,) = blocks("python")
    (config,) = blocks("yaml")
    assert policy.startswith("# my_policy.py\n") and config.startswith("# motion.yaml\n")
    (folder / "my_policy.py").write_text(policy, encoding="utf-8")
    (folder / "motion.yaml").write_text(config, encoding="utf-8")
    root = folder / "data_cache" / "synthetic-easy-train600-test100-seed0"
    generate_split(root, "test", 4, 0, duration_s=4.0, fps=5.0, size=64)
    return folder


def test_the_motion_policy_by_hand(page_folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Three dark 20x20 frames, the second with a bright block on rows 5..9, columns
    2..7: the median is dark, so the span is the second frame's time and its box
    [2/20, 5/20, 8/20, 10/20]."""
    monkeypatch.syspath_prepend(str(page_folder))
    from my_policy import MotionPolicy  # type: ignore[import-not-found]

    frames = np.zeros((4, 20, 20, 3), dtype=np.uint8)
    frames[1, 5:10, 2:8] = 200
    obs = {
        "frames": frames,
        "frame_mask": np.array([1, 1, 1, 0], dtype=np.int8),
        "timestamps": np.array([0.0, 1.0, 2.0, 0.0], dtype=np.float32),
        "shown_size": np.array([20, 20]),
        "query": "the block",
    }
    action = MotionPolicy().act(obs)
    assert action["span"].tolist() == [1.0, 1.0]
    assert action["box_mask"].tolist() == [0, 1, 0, 0]
    assert action["boxes"][1].tolist() == pytest.approx([0.1, 0.25, 0.4, 0.5])


def test_the_page_command_evaluates_the_policy(page_folder: Path) -> None:
    (command,) = blocks("bash")
    words = command.replace("\\\n", " ").split()
    assert words[0] == "stvg"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(ROOT)  # this checkout's stvg, not the folder of the page
    result = subprocess.run(
        [*stvg_command(), *words[1:], "--no-progress"],
        cwd=page_folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    metrics = json.loads((page_folder / "runs" / "eval_motion" / "metrics.json").read_text())
    assert metrics["n"] == 4 and metrics["cost"]["frames_shown"] == 4.0  # 4 s at 1 fps
    assert 0.0 < metrics["m_tIoU"] <= 1.0  # the moving object's seconds are found
