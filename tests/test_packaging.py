"""The package installs every module it has, imports without side effects, and exposes its CLI."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys

import numpy as np

from conftest import REPO


def _listed_sources() -> set[str]:
    text = (REPO / "stilt" / "meson.build").read_text()
    listed: set[str] = set()
    for block in re.finditer(r"install_sources\(\s*\[(.*?)\]\s*,\s*subdir:\s*'([^']+)'", text, re.S):
        subdir = block.group(2).removeprefix("stilt").strip("/")
        for name in re.findall(r"'([^']+)'", block.group(1)):
            # meson installs each listed file under `subdir` by its base name
            listed.add(f"{subdir}/{name.rsplit('/', 1)[-1]}".lstrip("/"))
    return listed


def test_every_python_module_is_installed() -> None:
    on_disk = {
        str(p.relative_to(REPO / "stilt"))
        for p in (REPO / "stilt").rglob("*")
        if p.suffix in {".py", ".pyi"} or p.name == "py.typed"
    }
    on_disk = {p for p in on_disk if "__pycache__" not in p}
    missing = on_disk - _listed_sources()
    assert not missing, f"add these to stilt/meson.build install lists: {sorted(missing)}"


def test_shipped_tables_are_installed() -> None:
    """Every file of stilt/met/bdyfiles (the default roughness table) is in the install lists,
    and the installed package serves it unchanged (the editable install's loader serves only
    what meson installs; tests/test_recipe.py checks a built wheel)."""
    from importlib import resources

    folder = REPO / "stilt" / "met" / "bdyfiles"
    names = sorted(p.name for p in folder.iterdir() if p.is_file())
    assert {"ASCDATA.CFG", "ROUGLEN.ASC", "LANDUSE.ASC", "README.md"} <= set(names)
    missing = {f"met/bdyfiles/{n}" for n in names} - _listed_sources()
    assert not missing, f"add these to stilt/meson.build install lists: {sorted(missing)}"
    installed = resources.files("stilt.met").joinpath("bdyfiles")
    for name in names:
        assert installed.joinpath(name).read_bytes() == (folder / name).read_bytes(), name


def test_every_module_imports() -> None:
    for path in sorted((REPO / "stilt").rglob("*.py")):
        rel = path.relative_to(REPO).with_suffix("")
        name = ".".join(rel.parts).removesuffix(".__init__")
        if name == "stilt.__main__":
            continue
        importlib.import_module(name)


def test_import_does_no_heavy_work() -> None:
    code = "import sys, stilt; print(int('xarray' in sys.modules), int('stilt._core' in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["0", "0"]


def test_core_status_codes_match_python() -> None:
    from stilt import _core, errors

    codes = _core.core_status_codes()
    assert codes.dtype == np.int32
    assert list(codes) == [errors.STATUS_OK, errors.STATUS_BAD_ARGUMENT,
                           errors.STATUS_BAD_CHECKSUM, errors.STATUS_OUT_OF_RANGE,
                           errors.STATUS_NOT_FINITE]


def test_cli_help_and_version() -> None:
    for args in (["--help"], ["--version"], ["met", "--help"]):
        out = subprocess.run([sys.executable, "-m", "stilt", *args], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip()
    from stilt import __version__

    out = subprocess.run([sys.executable, "-m", "stilt", "--version"], capture_output=True, text=True)
    assert out.stdout.strip() == __version__
    bad = subprocess.run([sys.executable, "-m", "stilt", "frobnicate"], capture_output=True, text=True)
    assert bad.returncode == 2 and "unknown command 'frobnicate'" in bad.stderr


def _wrappers(name: str) -> set[str]:
    text = (REPO / "fortran" / name).read_text()
    return set(re.findall(r"^subroutine (\w+)\(", text, re.M))


def test_test_only_core_wrappers_are_never_called_by_the_package() -> None:
    """fortran/_core_checks_wrap.f90 holds what only tests call; each wrapper has a stub."""
    from stilt import _core

    production, checks = _wrappers("_core_wrap.f90"), _wrappers("_core_checks_wrap.f90")
    assert production and checks and not production & checks
    package = "\n".join(p.read_text() for p in (REPO / "stilt").rglob("*.py"))
    called = set(re.findall(r"\b_core\.(\w+)", package))
    assert called
    assert called & checks == set()
    assert called <= production
    stubs = set(re.findall(r"^def (\w+)\(", (REPO / "stilt" / "_core.pyi").read_text(), re.M))
    assert stubs == production | checks
    assert all(callable(getattr(_core, n)) for n in production | checks)
