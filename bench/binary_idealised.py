"""The reference binary on the idealised collapsing-mixed-layer cases, reduced for the tests.

Usage:
    binary_idealised.py [--numpar N] [--out DIR]

Options:
    --numpar N  particles of the binary [default: 4000]
    --out DIR   where the files go [default: tests/data/binary_idealised]

For each case of tests/idealised_met.py (``collapse``, ``shear``) this writes the met with
stilt's ARL writer, runs hycs_std (PyPI ``pystilt`` in bench/.venv-pystilt) on it with R-STILT
settings (KMIXD of the case, KRAND = 2, SEED = -12, roughness 0.2 m everywhere) and keeps the
particle heights and mixed-layer heights at the sample times: ``<case>.nc`` with ``zagl``
and ``mlht`` on (time, indx). Test input only.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import xarray as xr
from docopt import docopt

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent / "tests"))
from _files import write_test_data  # noqa: E402
from _reference import reference_hycs_std  # noqa: E402
from idealised_met import CASES, N_HOURS, RECEPTOR, SAMPLE_TIMES, idealised_met  # noqa: E402

from stilt.met import write_arl  # noqa: E402

VARS = ["time", "indx", "long", "lati", "zagl", "sigw", "tlgr", "mlht", "foot"]
CONTROL = """21 07 01 06 00
1
{lat} {lon} {alt}
{hours}
0
25000.0
1
./
met1.arl
1
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
SETUP = """$SETUP
CAPEMIN=-1, CMASS=0, CONAGE=48, CPACK=1, DELT=1, DXF=1, DYF=1, DZF=0.01, EFILE=, FRHMAX=3,
FRHS=1, FRME=0.1, FRMR=0, FRTS=0.1, FRVS=0.01, HSCALE=10800, ICHEM=8, IDSP=2, INITD=0,
IVMAX={ivmax}, K10M=1, KAGL=1, KBLS=1, KBLT=5, KDEF=0, KHINP=0, KHMAX=9999, KMIX0=150,
KMIXD={kmixd}, KMSL=0, KPUFF=0, KRAND=2, KRND=6, KSPL=1, KWET=1, KZMIX=0, MAXDIM=1,
MAXPAR={n}, MGMIN=10, MHRS=9999, NBPTYP=1, NCYCL=0, NDUMP=0, NINIT=1, NSTR=0, NTURB=0,
NUMPAR={n}, NVER=0, OUTDT=0, P10F=1, PINBC=, PINPF=, POUTF=, QCYCLE=0, RHB=80, RHT=60,
SPLITF=1, TKERD=0.18, TKERN=0.18, TLFRAC=0.1, TOUT=0, TRATIO=0.75, TVMIX=1,
VARSIWANT={vars}, VEGHT=0.5, VSCALE=200, VSCALEU=200, VSCALES=-1, WBBH=0, WBWF=0, WBWR=0,
WVERT=FALSE, WINDERRTF=0, ZICONTROLTF=0, SEED=-12,
$END
"""


def main() -> None:
    """Run the binary on each case and write the reduced files."""
    args = docopt(__doc__)
    n, out = int(args["--numpar"]), Path(args["--out"])
    out.mkdir(parents=True, exist_ok=True)
    exe = reference_hycs_std()
    for case, opts in CASES.items():
        with tempfile.TemporaryDirectory() as tmp:
            run = Path(tmp)
            write_arl(idealised_met(case), run / "met1.arl")
            (run / "CONTROL").write_text(CONTROL.format(
                lat=RECEPTOR["latitude"], lon=RECEPTOR["longitude"], alt=int(RECEPTOR["altitude"]),
                hours=N_HOURS))
            (run / "SETUP.CFG").write_text(SETUP.format(
                ivmax=len(VARS), kmixd=opts["kmixd"], n=n,
                vars=", ".join(f"'{v}'" for v in VARS)))
            (run / "ASCDATA.CFG").write_text(
                "-90.0 -180.0\n1.0 1.0\n180 360\n2\n0.2\n'./'\n")
            (run / "ROUGLEN.ASC").write_text(("  20" * 360 + "\n") * 180)
            shutil.copy(exe.parent.parent.parent / "data" / "LANDUSE.ASC", run)
            subprocess.run([str(exe)], cwd=run, check=True, stdout=subprocess.DEVNULL)
            rows = np.loadtxt(run / "PARTICLE_STILT.DAT", skiprows=1)
        col = {v: k for k, v in enumerate(VARS)}
        data = {}
        for name in ("zagl", "mlht"):
            arr = np.full((len(SAMPLE_TIMES), n), np.nan, np.float32)
            for i, t in enumerate(SAMPLE_TIMES):
                sel = rows[:, col["time"]] == t
                arr[i, rows[sel, col["indx"]].astype(int) - 1] = rows[sel, col[name]]
            data[name] = (("time", "indx"), arr, {"units": "m"})
        ds = xr.Dataset(data, coords={"time": ("time", np.array(SAMPLE_TIMES, float),
                                               {"units": "min"}),
                                      "indx": np.arange(1, n + 1)},
                        attrs={"source": "hycs_std (PyPI pystilt 0.1.0a25), "
                                         "bench/binary_idealised.py", "case": case,
                               "kmixd": opts["kmixd"], "namelist_seed": -12})
        write_test_data(ds, out / f"{case}.nc")


if __name__ == "__main__":
    main()
