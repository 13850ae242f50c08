"""Shared fixtures: where the shared reference data lives, and small helpers."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# The project's reference data (real NOAA met, oracle runs of the reference binary) lives beside
# the repository, never inside it. STILT_SHARED overrides the location.
SHARED = Path(__import__("os").environ.get("STILT_SHARED", REPO.parent / "shared"))


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The ../shared folder; tests that need it skip (with this reason) only when it is absent."""
    if not (SHARED / "met" / "oct1618.BIN").is_file():
        pytest.skip(f"reference data folder {SHARED} is absent (real met and oracle runs)")
    return SHARED
