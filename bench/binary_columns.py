"""The reference binary on the met-family columns of tests/column_met.py, reduced for the tests.

Usage:
    binary_columns.py [--cases LIST] [--out DIR]

Options:
    --cases LIST  comma-separated case names (default: every case of tests/column_met.py)
    --out DIR     where the files go [default: tests/data/binary_columns]

For each case (one ARL vertical system and the field set of one archive family, horizontally
uniform) this runs hycs_std (PyPI ``pystilt`` in bench/.venv-pystilt, bench/_reference.py) with
R-STILT defaults and its global roughness table (bench/_hycs_run.py) twice:
- without turbulence (NTURB = 1), 5 particles, 24 h backward: particle 1 at minutes -1, -60,
  -720 and -1440 (long, lati, zagl, temp, pres, dens, mlht, zsfc);
- with turbulence, 200 particles, 1 h backward: every row of the first 30 minutes
  (zagl, sigw, tlgr, temp, pres, dens, mlht, foot), so that each printed column can be
  compared as a function of the particle height.
Writes ``<case>.nc`` (about 160 kB each). The cases ``global_0`` and ``global_-180``: 5
particles without turbulence on global 2-degree grids starting at 0 and 180W, across the
antimeridian (hourly positions). ``subsidence``: one particle brought down from 2000 m to the
ground by uniform vertical motion, every minute, on each case of ``SUBSIDENCE``. ``edges``: the last row of a particle
driven to each side of the grid, and with turbulence the last minute and place of each of
``EDGE_NUMPAR`` particles. Test input only (tests/test_met_families.py).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import xarray as xr
from docopt import docopt

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent / "tests"))
from _files import write_test_data  # noqa: E402
from _hycs_run import run_hycs  # noqa: E402
from column_met import (CASES, EDGE_NUMPAR, EDGE_WINDS, GLOBAL_LON0,  # noqa: E402
                        GLOBAL_RECEPTOR, NOTURB_HOURS, SUBSIDENCE, SUBSIDENCE_ALTITUDE,
                        SUBSIDENCE_HOURS, TURB_HOURS, TURB_NUMPAR, TURB_ROWS, column_met,
                        edge_met_as_read, global_met_as_read, receptor,
                        subsidence_met_as_read)

NOTURB_TIMES = (-1, -60, -720, -1440)
NOTURB_COLS = ("long", "lati", "zagl", "temp", "pres", "dens", "mlht", "zsfc")
TURB_COLS = ("zagl", "sigw", "tlgr", "temp", "pres", "dens", "mlht", "foot")


def reduce_case(name: str) -> xr.Dataset:
    """Run both binary runs of one case and keep what the tests compare."""
    ds, rec = column_met(name), receptor(name)
    args = (rec["time"], rec["latitude"], rec["longitude"], rec["altitude"])
    cols = ("time", "indx") + tuple(sorted(set(NOTURB_COLS + TURB_COLS)))
    still = run_hycs(ds, *args, NOTURB_HOURS, 5, columns=cols, NTURB=1)
    turb = run_hycs(ds, *args, TURB_HOURS, TURB_NUMPAR, columns=cols)
    data = {}
    first = still["indx"] == 1
    for c in NOTURB_COLS:
        data[f"noturb_{c}"] = ("noturb_time", np.array(
            [still[c][first & (still["time"] == t)][0] for t in NOTURB_TIMES]))
    keep = turb["time"] >= -TURB_ROWS
    for c in TURB_COLS:
        data[c] = ("row", turb[c][keep].astype(np.float64))
    data["time"] = ("row", turb["time"][keep].astype(np.int16))
    return xr.Dataset(data, coords={"noturb_time": list(NOTURB_TIMES)},
                      attrs={"source": "hycs_std (PyPI pystilt 0.1.0a25), "
                                       "bench/binary_columns.py", "case": name,
                             "namelist_seed": -43})


def reduce_global(lon0: float) -> xr.Dataset:
    """No-turbulence positions of 5 particles across the antimeridian on a global grid."""
    import tempfile

    rec = GLOBAL_RECEPTOR
    with tempfile.TemporaryDirectory() as tmp:
        met = global_met_as_read(lon0, Path(tmp))
        rows = run_hycs(met, rec["time"], rec["latitude"], rec["longitude"], rec["altitude"],
                        NOTURB_HOURS, 5, columns=("time", "indx", "long", "lati", "zagl"),
                        NTURB=1)
    hours = np.arange(1, 25)
    data = {}
    for c in ("long", "lati", "zagl"):
        arr = np.full((hours.size, 5), np.nan)
        for h in hours:
            sel = rows["time"] == -60 * h
            arr[h - 1, rows["indx"][sel].astype(int) - 1] = rows[c][sel]
        data[c] = (("hour", "indx"), arr)
    return xr.Dataset(data, coords={"hour": hours, "indx": np.arange(1, 6)},
                      attrs={"source": "hycs_std (PyPI pystilt 0.1.0a25), "
                                       "bench/binary_columns.py", "grid_lon0": lon0})


def reduce_subsidence() -> xr.Dataset:
    """Height every minute of a particle that vertical motion brings down to the ground, on
    each subsidence case."""
    import tempfile

    minutes = np.arange(-1, 60 * SUBSIDENCE_HOURS - 1, -1)
    zagl = np.full((len(SUBSIDENCE), minutes.size), np.nan)
    for i, name in enumerate(SUBSIDENCE):
        rec = receptor(str(SUBSIDENCE[name]["case"]))
        with tempfile.TemporaryDirectory() as tmp:
            met = subsidence_met_as_read(name, Path(tmp))
            rows = run_hycs(met, rec["time"], rec["latitude"], rec["longitude"],
                            SUBSIDENCE_ALTITUDE, SUBSIDENCE_HOURS, 2,
                            columns=("time", "indx", "zagl"), NTURB=1)
        first = rows["indx"] == 1
        zagl[i] = [rows["zagl"][first & (rows["time"] == m)][0] for m in minutes]
    return xr.Dataset({"zagl": (("case", "minute"), zagl, {"units": "m"})},
                      coords={"case": list(SUBSIDENCE), "minute": minutes},
                      attrs={"source": "hycs_std (PyPI pystilt 0.1.0a25), "
                                       "bench/binary_columns.py",
                             "altitude": SUBSIDENCE_ALTITUDE, "hours": SUBSIDENCE_HOURS})


def _last_rows(rows: dict[str, np.ndarray], n: int) -> np.ndarray:
    """Minute, longitude and latitude of each particle's last row, on ``(3, n)``."""
    last = np.full((3, n), np.nan)
    for i in range(n):
        mine = np.flatnonzero(rows["indx"] == i + 1)
        k = mine[np.argmin(rows["time"][mine])]
        last[:, i] = rows["time"][k], rows["long"][k], rows["lati"][k]
    return last


def reduce_edges() -> xr.Dataset:
    """Last row (minute, longitude, latitude) of a particle driven to each edge of the grid
    without turbulence, and of each of ``EDGE_NUMPAR`` particles with turbulence (seed 1)."""
    import tempfile

    rec = receptor("nam_land")
    cols = ("time", "indx", "long", "lati")
    single, ensemble = [], []
    for u10, v10 in EDGE_WINDS:
        with tempfile.TemporaryDirectory() as tmp:
            met = edge_met_as_read(u10, v10, Path(tmp))
            args = (met, rec["time"], rec["latitude"], rec["longitude"], rec["altitude"],
                    NOTURB_HOURS)
            single.append(_last_rows(run_hycs(*args, 2, columns=cols, NTURB=1), 1)[:, 0])
            ensemble.append(_last_rows(run_hycs(*args, EDGE_NUMPAR, seed=1, columns=cols),
                                       EDGE_NUMPAR))
    single_a, ens = np.array(single), np.array(ensemble, dtype=np.float32)
    data = {k: ("wind", single_a[:, i]) for i, k in enumerate(("minute", "long", "lati"))}
    data |= {f"turb_{k}": (("wind", "particle"), ens[:, i])
             for i, k in enumerate(("minute", "long", "lati"))}
    return xr.Dataset(data, coords={"u10": ("wind", [w[0] for w in EDGE_WINDS]),
                                    "v10": ("wind", [w[1] for w in EDGE_WINDS])},
                      attrs={"source": "hycs_std (PyPI pystilt 0.1.0a25), "
                                       "bench/binary_columns.py",
                             "turb": f"{EDGE_NUMPAR} particles with turbulence, SEED = -2"})


def main() -> None:
    """Run the binary on each case and write the reduced files."""
    args = docopt(__doc__)
    names = (args["--cases"].split(",") if args["--cases"]
             else list(CASES) + [f"global_{int(g)}" for g in GLOBAL_LON0]
             + ["subsidence", "edges"])
    out = Path(args["--out"])
    out.mkdir(parents=True, exist_ok=True)
    for name in names:
        print(f"{name} ...", flush=True)
        if name == "edges":
            write_test_data(reduce_edges(), out / "edges.nc")
        elif name == "subsidence":
            write_test_data(reduce_subsidence(), out / "subsidence.nc")
        elif name.startswith("global_"):
            write_test_data(reduce_global(float(name.split("_")[1])), out / f"{name}.nc")
        else:
            write_test_data(reduce_case(name), out / f"{name}.nc")


if __name__ == "__main__":
    main()
