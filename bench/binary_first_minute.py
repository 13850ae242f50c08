"""The first minutes of the NGM 60-hour receptor, stilt against the reference binary.

Usage:
    binary_first_minute.py [--variant NAME] [--numpar N]

Options:
    --variant NAME  keep, w0, steady or uniform [default: keep]
    --numpar N      particles on each side [default: 10000]

The NGM file (../shared/met/oct1618.BIN, ``STILT_SHARED``) is read, cut to 14-20 UTC on
1995-10-18 and written again with stilt's ARL writer (``keep``); ``w0`` sets WWND to 0,
``steady`` holds every field at its 18 UTC value, ``uniform`` repeats the column of the
receptor's nearest node (x 20, y 12) over the grid. stilt runs on the variant as written
to ARL and read back, which is what the binary reads (a horizontally uniform field packs
to 0 away from the first grid column when its values are under the packing precision:
the uniform variant's WWND). hycs_std (bench/_hycs_run.py, R-STILT settings) and stilt
release the particles at 10 m, 40N 90W, 18 UTC, one hour backward; this
prints, at minutes 1-60, the mean height and the mean longitude and latitude displacements
(1e-4 degree) on both sides and their difference in standard errors (docs/validation.md,
"60 hours"). Measurement only: it writes nothing.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import xarray as xr
from docopt import docopt

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from _hycs_run import run_hycs  # noqa: E402

RECEPTOR = {"time": "1995-10-18T18:00", "latitude": 40.0, "longitude": -90.0, "altitude": 10.0}
TIMES = (-1, -2, -5, -10, -30, -60)
COLUMNS = ("time", "indx", "long", "lati", "zagl")


def variant_met(name: str) -> xr.Dataset:
    """The NGM met of the variant (module docstring)."""
    import stilt

    shared = Path(os.environ.get("STILT_SHARED", BENCH.parent.parent / "shared"))
    ds = stilt.read_arl(shared / "met" / "oct1618.BIN", time=None)
    ds = ds.sel(time=slice("1995-10-18T14:00", "1995-10-18T20:00")).load()
    for name_v in ds.data_vars:
        values = ds[name_v].values
        if name == "w0" and name_v == "WWND":
            values[:] = 0.0
        elif name == "steady" and "time" in ds[name_v].dims:
            values[:] = ds[name_v].sel(time="1995-10-18T18:00").values[None]
        elif name == "uniform" and "x" in ds[name_v].dims:
            values[:] = ds[name_v].isel(x=20, y=12).values[..., None, None]
    return ds


def main() -> None:
    """Run both sides on the variant and print the comparison."""
    import stilt

    args = docopt(__doc__)
    n = int(args["--numpar"])
    met = variant_met(args["--variant"])
    with tempfile.TemporaryDirectory() as tmp:
        stilt.write_arl(met, Path(tmp) / "met.arl")
        met = stilt.read_arl(Path(tmp) / "met.arl", time=None).load()
    r = RECEPTOR
    b = run_hycs(met, r["time"], r["latitude"], r["longitude"], r["altitude"], -1, n, seed=5,
                 columns=COLUMNS)
    o = stilt.run_trajectories(r, met, n_hours=-1, numpar=n, seed=9, varsiwant=list(COLUMNS))
    for t in TIMES:
        sel = b["time"] == t
        line = f"minute {-t:3d}: zagl {float(o.zagl.sel(time=float(t)).mean()):6.2f} / " \
               f"{b['zagl'][sel].mean():6.2f}"
        for col, origin in (("long", r["longitude"]), ("lati", r["latitude"])):
            theirs = (b[col][sel] - origin) * 1e4
            ours = (o[col].sel(time=float(t)).values - origin) * 1e4
            se = np.hypot(theirs.std() / np.sqrt(theirs.size), ours.std() / np.sqrt(ours.size))
            line += (f" | {col} {ours.mean():9.3f} / {theirs.mean():9.3f} "
                     f"({(ours.mean() - theirs.mean()) / se:5.1f} se)")
        print(line, flush=True)


if __name__ == "__main__":
    main()
