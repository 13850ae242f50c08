"""The reference implementation, for benchmarks only: PyPI ``pystilt`` in its own venv.

Never imported by the package. ``ensure_reference_venv()`` creates ``bench/.venv-pystilt``
(gitignored) on first use and installs the pinned pre-release of ``pystilt`` into it, so the
reference can be run side by side with stilt in one benchmark. The wheel bundles the
HYSPLIT-STILT binary ``hycs_std``; :func:`reference_hycs_std` returns where it landed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PYSTILT_SPEC = "pystilt==0.1.0a25"
BENCH_DIR = Path(__file__).resolve().parent
VENV = BENCH_DIR / ".venv-pystilt"
#: the PYSTILT release whose documented API stilt implements (its reader is tested, no binary)
PYSTILT_A4_SPEC = "pystilt==0.1.0a4"
VENV_A4 = BENCH_DIR / ".venv-pystilt-a4"


def reference_python(venv: Path = VENV) -> Path:
    """Path of the interpreter of the reference venv (it may not exist yet)."""
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _has_pystilt(python: Path, spec: str = PYSTILT_SPEC) -> bool:
    if not python.exists():
        return False
    probe = subprocess.run(
        [str(python), "-c", "import stilt, importlib.metadata as m; print(m.version('pystilt'))"],
        capture_output=True,
        text=True,
    )
    return probe.returncode == 0 and probe.stdout.strip() == spec.split("==")[1]


def ensure_reference_venv(venv: Path = VENV, quiet: bool = True,
                          spec: str = PYSTILT_SPEC) -> Path:
    """Create (once) the venv holding PyPI ``pystilt`` and return its Python interpreter.

    Parameters
    ----------
    venv : Path, optional
        Where the venv lives (default ``bench/.venv-pystilt``).
    quiet : bool, optional
        Hide pip's output.
    spec : str, optional
        The pinned ``pystilt`` release (default the one carrying ``hycs_std``;
        ``PYSTILT_A4_SPEC`` with ``VENV_A4`` for the release whose API stilt implements).

    Returns
    -------
    Path
        The venv's ``python``; run reference code with it in a subprocess (its ``stilt``
        package is PYSTILT's, which must never be imported into our process).
    """
    python = reference_python(venv)
    if _has_pystilt(python, spec):
        return python
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check"]
    if quiet:
        pip.append("-q")
    subprocess.run([*pip, "--pre", spec], check=True)
    if not _has_pystilt(python, spec):
        raise RuntimeError(f"{spec} did not install into {venv}")
    return python


def _wheel_file(name: str, venv: Path) -> Path:
    python = ensure_reference_venv(venv)
    out = subprocess.run(
        [
            str(python),
            "-c",
            "import importlib.metadata as m\n"
            "d = m.distribution('pystilt')\n"
            "for f in d.files or []:\n"
            f"    if f.name == {name!r}: print(d.locate_file(f))\n",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    paths = [Path(p) for p in out.stdout.split()]
    if not paths:
        raise FileNotFoundError(f"no {name} in the {PYSTILT_SPEC} wheel installed in {venv}")
    return paths[0].resolve()


def reference_hycs_std(venv: Path = VENV) -> Path:
    """Path of the ``hycs_std`` binary that the ``pystilt`` wheel ships, in the reference venv.

    Returns
    -------
    Path
        The executable (installing the venv first if needed).

    Raises
    ------
    FileNotFoundError
        When the wheel holds no ``hycs_std``.
    """
    return _wheel_file("hycs_std", venv)


def reference_ascdata(venv: Path = VENV) -> Path:
    """Path of the ``ASCDATA.CFG`` (with its ``ROUGLEN.ASC`` beside it) the wheel ships.

    That roughness table is what ``hycs_std`` read for the oracle runs. stilt ships the same
    files byte for byte (``stilt/met/bdyfiles``) and uses them by default, so benchmarks run
    both on the same surface without giving stilt this path.
    """
    return _wheel_file("ASCDATA.CFG", venv)


if __name__ == "__main__":
    print("python:", ensure_reference_venv(quiet=False))
    print("hycs_std:", reference_hycs_std())
    print("ASCDATA.CFG:", reference_ascdata())
