"""The conda recipe stays in sync with the build metadata (one source of truth for versions)."""

from __future__ import annotations

import re
import tomllib

import yaml

from conftest import REPO

# PyPI name -> conda-forge name, where they differ
CONDA_NAMES = {"netcdf4": "netcdf4", "docopt-ng": "docopt-ng", "pyyaml": "pyyaml"}


def _meson_version() -> str:
    match = re.search(r"project\(\s*'stilt'.*?version:\s*'([^']+)'", (REPO / "meson.build").read_text(), re.S)
    assert match, "meson.build has no project(version:)"
    return match.group(1)


def _split(req: str) -> tuple[str, str]:
    name, spec = re.match(r"([A-Za-z0-9_.\-]+)\s*(.*)", req.strip()).groups()
    return CONDA_NAMES.get(name.lower(), name.lower()), spec.replace(" ", "")


def test_recipe_matches_pyproject_and_meson() -> None:
    recipe = yaml.safe_load((REPO / "recipe" / "recipe.yaml").read_text())
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert recipe["context"]["version"] == _meson_version()
    assert pyproject["project"]["dynamic"] == ["version"], "the version must come from meson only"
    from stilt import __version__

    assert __version__ == _meson_version(), "installed build is stale: reinstall"

    run = dict(_split(r) for r in recipe["requirements"]["run"] if not r.startswith("python"))
    wanted = dict(_split(r) for r in pyproject["project"]["dependencies"])
    assert run == wanted
    python_floor = pyproject["project"]["requires-python"].removeprefix(">=")
    assert recipe["context"]["python_min"] == python_floor
    host = [_split(r)[0] for r in recipe["requirements"]["host"]]
    assert "numpy" in host and dict(_split(r) for r in recipe["requirements"]["host"])["numpy"] == ""
    build = " ".join(recipe["requirements"]["build"][:3])
    assert "compiler('c')" in build and "stdlib('c')" in build and "compiler('fortran')" in build
    assert "noarch" not in recipe.get("build", {})
