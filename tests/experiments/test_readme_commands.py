"""README's command blocks, run in order on a tiny budget: after ``make demo`` every command
works as written on its outputs (evaluate its checkpoints, render its samples, train more
from it), except the blocks marked ``<!-- readme-test: skip (why) -->`` (a real dataset, a
GPU, a server, a cluster, hours of sweeps).

The commands run as a user types them, in a scratch folder holding the checkout's ``stvg``
and ``examples`` folders: ``source .venv/bin/activate`` puts an ``stvg`` (this checkout's
``python -m stvg.cli``) and a ``make`` on PATH. The budget is cut in one visible place,
:data:`TINY` (``--set`` overrides appended to the commands that read a config) and
:data:`REWRITES` (the demo's data folder is named after its sizes, and so on); nothing else
of a command changes.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SKIP = re.compile(r"<!-- readme-test: skip \((.+?)\) -->\s*$")
MODEL = "{frame_size: 16, channels: [4, 4, 8], word_dim: 8, query_dim: 8, hidden: 8}"
#: ``--set`` overrides of each config, appended to the commands that read it.
TINY = {
    "quickstart.yaml": (
        "data.n_train=8 data.n_test=4 data.val_size=2 sft.epochs=2 sft.batch_size=4 "
        f"'sft.model={MODEL}' rl.iterations=1 rl.batch_size=2 rl.grpo.group_size=2 "
        "rl.rollout.num_workers=0 eval.batch_size=4"
    ),
    "zoom_native.yaml": (
        "data.n_train=6 data.n_test=3 data.val_size=2 sft.epochs=1 sft.patience=1 "
        "sft.model.frame_size=16 sft.model.channels=[4,4,8] sft.model.word_dim=8 "
        "sft.model.query_dim=8 sft.model.hidden=8 rl.iterations=1 rl.batch_size=2 "
        "rl.grpo.group_size=2 eval.batch_size=4"
    ),
    "vlm_tiny_quickstart.yaml": (
        "data.n_train=4 data.n_test=2 sft.epochs=1 rl.iterations=1 rl.batch_size=2 "
        "rl.grpo.group_size=2 rl.rollout.num_workers=0 policy.config.max_new_tokens=16 "
        "eval.batch_size=2"
    ),
    "grpo_native.yaml": (
        "iterations=2 batch_size=2 grpo.group_size=2 rollout.num_workers=0 checkpoint_every=1 "
        "env.root=data_cache/synthetic-easy-train8-test4-seed0"
    ),
    "sft_native.yaml": (
        "data.n_train=6 data.n_eval=4 data.val_size=2 epochs=1 batch_size=4 "
        "model.frame_size=16 model.channels=[4,4,8] model.word_dim=8 model.query_dim=8 "
        "model.hidden=8"
    ),
    "sft_vlm_tiny.yaml": (
        "epochs=1 data.limit_train=2 data.limit_eval=2 policy.config.max_new_tokens=16"
    ),
    "sft_vlm_small.yaml": (
        "epochs=1 batch_size=2 micro_batch_size=2 data.n_train=2 data.n_eval=2 "
        "policy.config.max_new_tokens=16 warmup.tower_steps=1 warmup.grounding_steps=1 "
        "warmup.batch_size=2 warmup.eval_images=2 warmup.eval_every=1"
    ),
    "eval_vlm_small.yaml": "limit=2 policy.config.max_new_tokens=16",
    "eval_native.yaml": "limit=2",
    "eval_zoom.yaml": "limit=2",
    "eval_vlm_tiny.yaml": "limit=2 policy.config.max_new_tokens=16",
    "synth_scene.yaml": "limit=2",
}
#: Text rewrites: the demo's data folder is named after its sizes; fewer iterations.
REWRITES = [
    ("train600-test100", "train8-test4"),
    ("--iterations 120", "--iterations 4"),
    ("iter_000120", "iter_000004"),
    ("--n 200", "--n 4"),
]
#: What `make` does here: the demo targets run their config (with TINY); the test suite is
#: this test's own suite.
MAKE = """#!/bin/sh
case "$1" in
  demo) exec stvg run stvg/experiments/configs/quickstart.yaml --no-progress --set {quickstart} ;;
  demo-vlm) exec stvg run stvg/experiments/configs/vlm_tiny_quickstart.yaml --no-progress --set {vlm} ;;
  test|test-all) echo "make $1: the suite this test is part of" ;;
  *) echo "make $1: not a README target" >&2; exit 2 ;;
esac
"""


def readme_blocks() -> list[tuple[str, str | None]]:
    """The README's bash blocks in order, each with its skip reason (``None``: run)."""
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    blocks, i = [], 0
    while i < len(lines):
        if lines[i].strip() == "```bash":
            reason = None
            j = i - 1
            while j >= 0 and not lines[j].strip():
                j -= 1
            if j >= 0 and SKIP.search(lines[j]):
                reason = SKIP.search(lines[j]).group(1)
            end = lines.index("```", i + 1)
            blocks.append(("\n".join(lines[i + 1 : end]), reason))
            i = end
        i += 1
    return blocks


def commands(block: str) -> list[str]:
    """The block's commands: continuation lines joined, comments and blank lines gone."""
    out, current = [], ""
    for line in block.splitlines():
        line = re.sub(r"(^|\s)#.*$", "", line).rstrip()
        if line.endswith("\\"):
            current += line[:-1].strip() + " "
            continue
        current += line.strip()
        if current.strip():
            out.append(current.strip())
        current = ""
    return out


def tiny(command: str) -> str:
    """``command`` on the tiny budget (see the module docstring)."""
    for old, new in REWRITES:
        command = command.replace(old, new)
    for name, overrides in TINY.items():
        if re.search(rf"configs/{re.escape(name)}\b", command):
            command += f" --set {overrides}"
            break
    if command.startswith("stvg ") and " --no-progress" not in command:
        words = command.split()
        if len(words) > 1 and words[1] in ("train", "train-sft", "synth-cot", "run"):
            command += " --no-progress"
    return command


def test_the_readme_blocks_are_read() -> None:
    blocks = readme_blocks()
    run = [b for b, why in blocks if why is None]
    assert any("stvg train stvg/experiments/configs/grpo_native.yaml" in b for b in run)
    assert all(why for b, why in blocks if "valv2.json" in b or "ray start" in b)
    assert commands("a \\\n  b  # c\n# d\ne") == ["a b", "e"]
    assert tiny("stvg train stvg/experiments/configs/grpo_native.yaml").endswith(
        "env.root=data_cache/synthetic-easy-train8-test4-seed0 --no-progress"
    )


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_readme_commands_run_in_order_after_make_demo(tmp_path: Path) -> None:
    work = tmp_path / "clone"
    (work / "bin").mkdir(parents=True)
    (work / "stvg").symlink_to(ROOT / "stvg")
    (work / "examples").symlink_to(ROOT / "examples")
    (work / ".venv" / "bin").mkdir(parents=True)
    (work / ".venv" / "bin" / "activate").write_text(f'export PATH="{work / "bin"}:$PATH"\n')
    stvg = work / "bin" / "stvg"
    stvg.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m stvg.cli "$@"\n')
    make = work / "bin" / "make"
    make.write_text(
        MAKE.format(quickstart=TINY["quickstart.yaml"], vlm=TINY["vlm_tiny_quickstart.yaml"])
    )
    for tool in (stvg, make):
        tool.chmod(0o755)
    script = ["set -euo pipefail", f'export PATH="{work / "bin"}:$PATH"']
    ran, skipped = 0, []
    for block, reason in readme_blocks():
        if reason is not None:
            skipped.append(reason)
            continue
        for command in commands(block):
            script += [f"echo '>>> {command.replace(chr(39), '')}'", tiny(command)]
            ran += 1
    env = {**os.environ, "PYTHONPATH": str(ROOT), "STVG_PROGRESS": "off"}
    env.pop("STVG_CACHE", None)
    result = subprocess.run(
        ["bash", "-c", "\n".join(script)],
        cwd=work,
        env={**env, "STVG_CACHE": str(tmp_path / "cache")},
        capture_output=True,
        text=True,
        timeout=1700,
    )
    shown = (result.stdout + result.stderr)[-6000:]
    assert result.returncode == 0, shown
    assert ran >= 15 and len(skipped) >= 5, (ran, skipped)
    # the chain really used make demo's files
    assert (work / "runs" / "quickstart" / "report.md").is_file()
    assert (work / "sheet.png").stat().st_size > 1000
    assert (work / "runs" / "grpo_native" / "checkpoints" / "iter_000004" / "policy.pt").is_file()
    assert (work / "runs" / "eval_quickstart_sft" / "controls.json").is_file()
