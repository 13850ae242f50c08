"""The reference binary's sub-step advection under a weak wind, reduced for the tests.

Usage:
    binary_substeps.py [--numpar N] [--out FILE]

Options:
    --numpar N  particles of the binary [default: 4000]
    --out FILE  where the file goes [default: tests/data/binary_substeps/weak_u.nc]

The binary adds each turbulent sub-step's mean-wind displacement (a fraction TLFRAC of T_L,
0.37 s near the ground here) to a single-precision grid position, so a displacement under
half a float32 step of the position is lost (docs/physics.md sec. 6.5). The case: the
``sigma_ngm`` column of tests/column_met.py (``WEAK_U``, EXCO / HFLX, no 10-m wind) with a 0.3 m/s
x-wind and a 3 m/s y-wind at 10 m, on an 81 x 81 one-degree grid whose receptor node is
x = y = 41 (float32 step 3.8e-6 grid units, 0.3-0.4 m). hycs_std (R-STILT settings, SEED = -4)
releases the particles at 10 m, one hour backward; this keeps, at minutes 1, 2, 5 and 10,
the mean and standard deviation of the printed longitude and latitude displacements (1e-4
degree) and the mean height. Test input only.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import xarray as xr
from docopt import docopt

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent / "tests"))
import column_met  # noqa: E402
from _files import write_test_data  # noqa: E402
from _hycs_run import run_hycs  # noqa: E402

TIMES = (-1, -2, -5, -10)
SEED = 3  # namelist SEED = -4


def main() -> None:
    """Run the binary and write the reduced file."""
    args = docopt(__doc__)
    n = int(args["--numpar"])
    r = column_met.receptor(column_met.WEAK_U["case"])
    with tempfile.TemporaryDirectory() as tmp:
        met = column_met.weak_u_met_as_read(Path(tmp)).load()
    rows = run_hycs(met, r["time"], r["latitude"], r["longitude"], int(r["altitude"]),
                    -1, n, seed=SEED, columns=("time", "indx", "long", "lati", "zagl"))
    data: dict[str, tuple] = {}
    for col, origin in (("long", r["longitude"]), ("lati", r["latitude"])):
        d = [(rows[col][rows["time"] == t] - origin) * 1e4 for t in TIMES]
        units = {"units": "1e-4 degree from the receptor"}
        data[f"{col}_mean"] = ("time", np.array([a.mean() for a in d]), units)
        data[f"{col}_std"] = ("time", np.array([a.std() for a in d]), units)
    data["zagl_mean"] = ("time", np.array([rows["zagl"][rows["time"] == t].mean() for t in TIMES]),
                         {"units": "m"})
    ds = xr.Dataset(data, coords={"time": ("time", np.array(TIMES, float), {"units": "min"})},
                    attrs={"source": "hycs_std (PyPI pystilt 0.1.0a25), bench/binary_substeps.py",
                           "numpar": n, "namelist_seed": -(SEED + 1)})
    write_test_data(ds, Path(args["--out"]))


if __name__ == "__main__":
    main()
