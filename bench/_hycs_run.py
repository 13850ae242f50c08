"""Run the reference binary (hycs_std) on any met Dataset, for benchmarks and test data only.

Never imported by the package. :func:`run_hycs` writes the met with stilt's ARL writer, a
CONTROL and a SETUP.CFG with R-STILT's ``run_stilt.r`` defaults (the oracle cases' namelist in
``../shared/oracle``) and HYSPLIT's bdyfiles from the ``pystilt`` wheel
(:mod:`_reference`), runs the binary and returns the columns of PARTICLE_STILT.DAT.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from _reference import reference_hycs_std

#: R-STILT run_stilt.r defaults as the oracle runs used them (SEED and NUMPAR are filled in)
SETUP_DEFAULTS: dict[str, object] = {
    "CAPEMIN": -1, "CMASS": 0, "CONAGE": 48, "CPACK": 1, "DELT": 1, "DXF": 1, "DYF": 1,
    "DZF": 0.01, "FRHMAX": 3, "FRHS": 1, "FRME": 0.1, "FRMR": 0, "FRTS": 0.1, "FRVS": 0.01,
    "HSCALE": 10800, "ICHEM": 8, "IDSP": 2, "INITD": 0, "K10M": 1, "KAGL": 1, "KBLS": 1,
    "KBLT": 5, "KDEF": 0, "KHINP": 0, "KHMAX": 9999, "KMIX0": 150, "KMIXD": 3, "KPUFF": 0,
    "KRAND": 2, "KRND": 6, "KSPL": 1, "KWET": 1, "KZMIX": 0, "MAXDIM": 1, "MGMIN": 10,
    "MHRS": 9999, "NBPTYP": 1, "NCYCL": 0, "NDUMP": 0, "NINIT": 1, "NSTR": 0, "NTURB": 0,
    "NVER": 0, "OUTDT": 0, "P10F": 1, "QCYCLE": 0, "RHB": 80, "RHT": 60, "SPLITF": 1,
    "TKERD": 0.18, "TKERN": 0.18, "TLFRAC": 0.1, "TOUT": 0, "TRATIO": 0.75, "TVMIX": 1,
    "VEGHT": 0.5, "VSCALE": 200, "VSCALEU": 200, "VSCALES": -1, "WBBH": 0, "WBWF": 0,
    "WBWR": 0, "ZICONTROLTF": 0, "KMSL": 0, "WINDERRTF": 0,
}
#: every column the binary can print that the comparisons use
COLUMNS = ("time", "indx", "long", "lati", "zagl", "foot", "mlht", "pres", "dens", "samt",
           "sigw", "tlgr", "temp", "shtf", "zsfc", "wout")

CONTROL = """{yy:02d} {mm:02d} {dd:02d} {hh:02d} {mi:02d}
1
{lat} {lon} {alt}
{hours}
0
25000.0
{nfiles}
{files}1
test
1
0.01
00 00 00 00 00
1
0.0 0.0
0.5 0.5
30.0 30.0
./
cdump
1
100
00 00 00 00 00
00 00 00 00 00
00 2 00
1
0.0 0.0 0.0
0.0 0.0 0.0 0.0 0.0
0.0 0.0 0.0
0.0
0.0
"""


def _setup_text(numpar: int, seed: int, columns: Sequence[str],
                overrides: Mapping[str, object]) -> str:
    values = dict(SETUP_DEFAULTS)
    values.update({k.upper(): v for k, v in overrides.items()})
    values.update(NUMPAR=numpar, MAXPAR=numpar, IVMAX=len(columns), SEED=-(seed + 1))
    body = ", ".join(f"{k}={v}" for k, v in values.items())
    cols = ", ".join(f"'{c}'" for c in columns)
    return f"$SETUP\nVARSIWANT={cols},\n{body},\n$END\n"


def _control_text(time: str, lat: float, lon: float, alt: float, hours: int,
                  files: Sequence[str]) -> str:
    t = np.datetime64(time, "m").astype(object)
    listed = "".join(f"./\n{name}\n" for name in files)
    return CONTROL.format(yy=t.year % 100, mm=t.month, dd=t.day, hh=t.hour, mi=t.minute,
                          lat=lat, lon=lon, alt=alt, hours=hours, nfiles=len(files),
                          files=listed)


def run_hycs(met: object, time: str, lat: float, lon: float, alt: float, hours: int,
             numpar: int, seed: int = 42, columns: Sequence[str] = COLUMNS,
             roughness_cm: float | None = None, keep: Path | None = None,
             **setup: object) -> dict[str, np.ndarray]:
    """Run hycs_std once and return PARTICLE_STILT.DAT as arrays named like its columns.

    Parameters
    ----------
    met : xarray.Dataset or sequence of xarray.Dataset
        Met in the layout of ``stilt.read_arl``; each Dataset becomes one ARL file.
    time, lat, lon, alt : receptor (UTC ISO time, degrees, m AGL)
    hours : int
        Run length, negative backward.
    numpar, seed : particles and the random seed (SEED = -(seed + 1), KRAND = 2)
    columns : output columns (VARSIWANT)
    roughness_cm : float, optional
        A constant ROUGLEN.ASC (cm) instead of the wheel's global table.
    keep : Path, optional
        Copy the run folder there (CONTROL, SETUP.CFG, MESSAGE, output).
    **setup
        SETUP.CFG overrides (e.g. ``NTURB=1``, ``KMIXD=0``).
    """
    from stilt.met import write_arl

    exe = reference_hycs_std()
    mets = [met] if hasattr(met, "data_vars") else list(met)
    with tempfile.TemporaryDirectory(prefix="hycs_") as tmp:
        run = Path(tmp)
        for aux in (exe.parent.parent.parent / "data").glob("*"):
            shutil.copy(aux, run / aux.name)
        if roughness_cm is not None:
            (run / "ROUGLEN.ASC").write_text((f"{int(round(roughness_cm)):4d}" * 360 + "\n")
                                             * 180)
        names = [f"met{i + 1}.arl" for i in range(len(mets))]
        for ds, name in zip(mets, names):
            write_arl(ds, run / name)
        (run / "CONTROL").write_text(_control_text(time, lat, lon, alt, hours, names))
        (run / "SETUP.CFG").write_text(_setup_text(numpar, seed, columns, setup))
        proc = subprocess.run([str(exe)], cwd=run, capture_output=True, text=True)
        if keep is not None:
            shutil.copytree(run, keep, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("*.ASC", "*.arl"))
        out = run / "PARTICLE_STILT.DAT"
        if proc.returncode != 0 or not out.exists():
            msg = (run / "MESSAGE").read_text() if (run / "MESSAGE").exists() else ""
            raise RuntimeError(f"hycs_std failed ({proc.returncode}): {proc.stdout[-2000:]}"
                               f"\n{msg[-2000:]}")
        rows = np.loadtxt(out, skiprows=1, ndmin=2)
    return {name: rows[:, k] for k, name in enumerate(columns)}
