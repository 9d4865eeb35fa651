"""The package's own metadata builds without a warning (setuptools deprecated the license
table: ``license = {text = ...}`` warned at every install)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

BUILD = """
import os, sys, warnings
from setuptools import build_meta
os.chdir(sys.argv[1])
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    name = build_meta.prepare_metadata_for_build_wheel(sys.argv[2])
for w in caught:
    print("WARNING:", w.category.__name__, str(w.message).splitlines()[0])
print("DIST:", name)
"""


def test_metadata_builds_without_warnings_and_with_an_spdx_license(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-W", "always", "-c", BUILD, str(ROOT), str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    text = out.stdout + out.stderr
    warnings = [line for line in text.splitlines() if "Warning" in line or "WARNING" in line]
    assert not warnings, text[-3000:]
    dist = next(
        line.split(": ", 1)[1] for line in out.stdout.splitlines() if line.startswith("DIST")
    )
    metadata = (tmp_path / dist / "METADATA").read_text(encoding="utf-8")
    assert "License-Expression: Apache-2.0" in metadata


def test_a_local_ray_instance_starts_without_the_token_auth_warning() -> None:
    """stvg's local Ray instance keeps Ray's default (token authentication) without Ray's
    line saying so at every start."""
    import os

    code = (
        "import os; from stvg.training.config import RayConfig; "
        "from stvg.training.workers import init_ray; import ray; "
        "init_ray(RayConfig(num_cpus=1)); print('MODE', os.environ.get('RAY_AUTH_MODE')); "
        "ray.shutdown()"
    )
    env = {k: v for k, v in os.environ.items() if k != "RAY_AUTH_MODE"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "MODE token" in out.stdout
    assert "Token authentication" not in out.stderr, out.stderr[-3000:]
