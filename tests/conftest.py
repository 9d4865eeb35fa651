"""Shared pytest fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_FIXTURES = REPO_ROOT.parent / "shared" / "fixtures"


@pytest.fixture(scope="session")
def shared_fixtures() -> Path:
    """``../shared/fixtures`` beside the checkout; skips the test when it is absent."""
    if not SHARED_FIXTURES.is_dir():
        pytest.skip(
            f"shared fixtures not found at {SHARED_FIXTURES}: clone the project next to its "
            "shared/ folder to run this test"
        )
    return SHARED_FIXTURES
