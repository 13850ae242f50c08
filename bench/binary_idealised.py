"""The reference binary on the idealised collapsing-mixed-layer cases, reduced for the tests.

Usage:
    binary_idealised.py [--numpar N] [--spread-numpar N] [--out DIR]

Options:
    --numpar N         particles of the binary [default: 4000]
    --spread-numpar N  particles of the horizontal-spread case [default: 20000]
    --out DIR          where the files go [default: tests/data/binary_idealised]

For each case of tests/idealised_met.py (``collapse``, ``shear``) this writes the met with
stilt's ARL writer, runs hycs_std (PyPI ``pystilt`` in bench/.venv-pystilt) on it with R-STILT
settings (KMIXD of the case, KRAND = 2, SEED = -12, roughness 0.2 m everywhere) and keeps the
particle heights and mixed-layer heights at the sample times: ``<case>.nc`` with ``zagl``
and ``mlht`` on (time, indx). ``spread.nc``: the horizontal-spread case (``spread_met``, the
same settings, SEED = -9), each particle's printed longitude and latitude at the minutes
``SPREAD_TIMES`` as integers in the binary's print unit, 1e-4 degree, from the receptor.
Test input only.
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
from idealised_met import (CASES, N_HOURS, RECEPTOR, SAMPLE_TIMES, SPREAD_RECEPTOR,  # noqa: E402
                           SPREAD_TIMES, idealised_met, spread_met)

VARS = ("time", "indx", "long", "lati", "zagl", "sigw", "tlgr", "mlht", "foot")
SEED = 11  # namelist SEED = -12


def reduce_spread(n: int) -> xr.Dataset:
    """The binary's printed positions in the horizontal-spread case (module docstring)."""
    r = SPREAD_RECEPTOR
    rows = run_hycs(spread_met(), r["time"], r["latitude"], r["longitude"], int(r["altitude"]),
                    -1, n, seed=8, columns=("time", "indx", "long", "lati"), roughness_cm=20.0)
    data = {}
    for name, origin in (("long", r["longitude"]), ("lati", r["latitude"])):
        arr = np.zeros((len(SPREAD_TIMES), n), np.int32)
        for i, t in enumerate(SPREAD_TIMES):
            sel = rows["time"] == t
            arr[i, rows["indx"][sel].astype(int) - 1] = np.rint((rows[name][sel] - origin) * 1e4)
        data[name] = (("time", "indx"), arr, {"units": "1e-4 degree from the receptor"})
    return xr.Dataset(data, coords={"time": ("time", np.array(SPREAD_TIMES, float),
                                             {"units": "min"}), "indx": np.arange(1, n + 1)},
                      attrs={"source": "hycs_std (PyPI pystilt 0.1.0a25), "
                                       "bench/binary_idealised.py", "namelist_seed": -9})


def main() -> None:
    """Run the binary on each case and write the reduced files."""
    args = docopt(__doc__)
    n, out = int(args["--numpar"]), Path(args["--out"])
    out.mkdir(parents=True, exist_ok=True)
    write_test_data(reduce_spread(int(args["--spread-numpar"])), out / "spread.nc")
    for case, opts in CASES.items():
        rows = run_hycs(idealised_met(case), RECEPTOR["time"], RECEPTOR["latitude"],
                        RECEPTOR["longitude"], int(RECEPTOR["altitude"]), N_HOURS, n,
                        seed=SEED, columns=VARS, roughness_cm=20.0, KMIXD=opts["kmixd"])
        data = {}
        for name in ("zagl", "mlht"):
            arr = np.full((len(SAMPLE_TIMES), n), np.nan, np.float32)
            for i, t in enumerate(SAMPLE_TIMES):
                sel = rows["time"] == t
                arr[i, rows["indx"][sel].astype(int) - 1] = rows[name][sel]
            data[name] = (("time", "indx"), arr, {"units": "m"})
        ds = xr.Dataset(data, coords={"time": ("time", np.array(SAMPLE_TIMES, float),
                                               {"units": "min"}),
                                      "indx": np.arange(1, n + 1)},
                        attrs={"source": "hycs_std (PyPI pystilt 0.1.0a25), "
                                         "bench/binary_idealised.py", "case": case,
                               "kmixd": opts["kmixd"], "namelist_seed": -(SEED + 1)})
        write_test_data(ds, out / f"{case}.nc")


if __name__ == "__main__":
    main()
