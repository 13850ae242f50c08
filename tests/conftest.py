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


#: The roughness table the reference binary read for every oracle run (its bundled 1-degree
#: ROUGLEN.ASC, cut to 20-60 N, 130-60 W by bench/make_roughness_fixture.py): the oracle tests
#: give it to stilt as MetConfig(roughness=...) so that both run on the same surface.
ORACLE_ROUGHNESS = Path(__file__).resolve().parent / "data" / "roughness" / "ASCDATA.CFG"


@pytest.fixture(scope="session")
def oracle_roughness() -> Path:
    """Path of the roughness table (ASCDATA.CFG) of the oracle runs."""
    return ORACLE_ROUGHNESS
