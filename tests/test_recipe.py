"""The conda recipe stays in sync with the build metadata (one source of truth for versions)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from conftest import REPO

# PyPI name -> conda-forge name, where they differ
CONDA_NAMES = {"netcdf4": "netcdf4", "docopt-ng": "docopt-ng", "pyyaml": "pyyaml",
               "isal": "python-isal"}


def _meson_version() -> str:
    text = (REPO / "meson.build").read_text()
    match = re.search(r"project\(\s*'stilt'.*?version:\s*'([^']+)'", text, re.S)
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

    run = dict(_split(r) for r in recipe["requirements"]["run"] if r.split()[0] != "python")
    wanted = dict(_split(r) for r in pyproject["project"]["dependencies"])
    assert run == wanted
    python_floor = pyproject["project"]["requires-python"].removeprefix(">=")
    assert recipe["context"]["python_min"] == python_floor
    host = [_split(r)[0] for r in recipe["requirements"]["host"]]
    assert "numpy" in host and dict(_split(r) for r in recipe["requirements"]["host"])["numpy"] == ""
    build = " ".join(recipe["requirements"]["build"][:3])
    assert "compiler('c')" in build and "stdlib('c')" in build and "compiler('fortran')" in build
    assert "noarch" not in recipe.get("build", {})
    assert "ninja" in recipe["requirements"]["build"]
    assert "meson-python" in host and "pip" in host and "python" in host
    tests = recipe["tests"]
    imports = [t["python"] for t in tests if "python" in t]
    assert imports and {"stilt", "stilt._core"} <= set(imports[0]["imports"])
    assert imports[0]["pip_check"] is True
    script = [line for t in tests if "script" in t for line in t["script"]]
    assert "stilt --help" in script
    assert any(line.startswith("stilt run ") for line in script), "no tiny simulation"


# conda package names -> PyPI names, for the fresh-venv rehearsal of the recipe
PYPI_NAMES = {"netcdf4": "netCDF4", "python-isal": "isal"}


def _pip_requirement(conda_req: str) -> str:
    name, spec = _split(conda_req)
    return PYPI_NAMES.get(name, name) + spec


def _tracked_copy(dest: Path) -> Path:
    """The repository's tracked files (working-tree contents), like the recipe's source."""
    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True,
                           check=True).stdout.decode().split("\0")
    for name in filter(None, files):
        src = REPO / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    return dest


@pytest.mark.slow
def test_recipe_build_script_and_tests_in_a_fresh_venv(tmp_path: Path) -> None:
    """Rehearse the recipe without conda: its build script, then exactly its test commands.

    No conda channel is reachable here, so the host/build/run requirements come from PyPI
    into a new virtual environment (the compilers are the system's gcc/gfortran).
    """
    recipe = yaml.safe_load((REPO / "recipe" / "recipe.yaml").read_text())
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    py = venv / "bin" / "python"
    env = {**os.environ, "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}",
           "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env.pop("PYTHONPATH", None)
    reqs = recipe["requirements"]
    wanted = [r for r in reqs["host"] + reqs["build"] + reqs["run"]
              if isinstance(r, str) and "${{" not in r and r.split()[0] != "python"]
    pip = subprocess.run([str(py), "-m", "pip", "install", "-q",
                          *sorted({_pip_requirement(r) for r in wanted})],
                         env=env, capture_output=True, text=True, timeout=900)
    assert pip.returncode == 0, pip.stderr[-3000:]

    src = _tracked_copy(tmp_path / "src")
    script = recipe["build"]["script"].replace("${{ PYTHON }}", str(py))
    build = subprocess.run(script, shell=True, cwd=src, env=env, capture_output=True,
                           text=True, timeout=1200)
    assert build.returncode == 0, (build.stdout + build.stderr)[-4000:]

    work = tmp_path / "test"
    work.mkdir()
    # the wheel pip built holds the roughness tables stilt ships (its default surface)
    code = ("from importlib import resources; from stilt.met.roughness import shipped_roughness; "
            "f = resources.files('stilt.met').joinpath('bdyfiles').joinpath('ROUGLEN.ASC'); "
            "print(f); print(shipped_roughness().path)")
    run = subprocess.run([str(py), "-c", code], cwd=work, env=env, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    where, label = run.stdout.strip().splitlines()
    assert where.startswith(str(venv)) and "sha256 a8503953877b" in label, run.stdout
    for test in recipe["tests"]:
        if "python" in test:
            for module in test["python"]["imports"]:
                code = f"import {module}; print({module}.__file__)"
                run = subprocess.run([str(py), "-c", code], cwd=work, env=env,
                                     capture_output=True, text=True, timeout=120)
                assert run.returncode == 0, run.stderr
                assert str(venv) in run.stdout, f"{module} not imported from the new install"
            if test["python"].get("pip_check"):
                check = subprocess.run([str(py), "-m", "pip", "check"], cwd=work, env=env,
                                       capture_output=True, text=True, timeout=120)
                assert check.returncode == 0, check.stdout + check.stderr
        for line in test.get("script", []):
            run = subprocess.run(["bash", "-euo", "pipefail", "-c", line], cwd=work, env=env,
                                 capture_output=True, text=True, timeout=600)
            assert run.returncode == 0, f"{line}: {run.stdout[-2000:]} {run.stderr[-2000:]}"
            if line == "stilt --version":
                assert run.stdout.strip().endswith(recipe["context"]["version"])
    assert (work / "tiny" / "out" / "simulations" / "footprints").is_dir()
