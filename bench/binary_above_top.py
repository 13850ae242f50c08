"""The reference binary's vertical velocity above the highest data level, for the tests.

Usage:
    binary_above_top.py [--out FILE]

Options:
    --out FILE  the reduced file [default: tests/data/binary_above_top.nc]

Two columns of tests/column_met.py with a uniform vertical motion: ``height_pres``
(terrain-following heights, data top 14.6 km above the ground, DZDT -0.02 read by the binary
as hPa/s) and ``sigma_ngm`` (sigma, WWND -0.01 hPa/s, data top about 16.6 km). For each, one
particle without turbulence is released at heights through and above the data top and run
one minute backward by hycs_std (bench/_hycs_run.py, R-STILT defaults); its printed height
and ``wout`` after that minute are kept, on ``(case, release)``, NaN where the binary refuses
the release (above its extrapolation limit: "Start height in the data extrapolation
region"). Test input only (tests/test_met_families.py).
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
from _files import write_test_data  # noqa: E402
from _hycs_run import run_hycs  # noqa: E402
from column_met import ABOVE_TOP, above_top_met_as_read, receptor  # noqa: E402


def binary_minute(met: xr.Dataset, rec: dict, alt: float) -> tuple[float, float]:
    """The binary's height and wout one minute after a release at ``alt`` (NaN if refused)."""
    try:
        rows = run_hycs(met, rec["time"], rec["latitude"], rec["longitude"], alt, -1, 1,
                        columns=("time", "indx", "zagl", "wout"), NTURB=1)
    except RuntimeError:
        return np.nan, np.nan
    i = int(np.argmax(rows["time"] == -1))
    return float(rows["zagl"][i]), float(rows["wout"][i])


def main() -> None:
    """Run every release of every case and write the file."""
    args = docopt(__doc__)
    out = []
    for name, spec in ABOVE_TOP.items():
        with tempfile.TemporaryDirectory() as tmp:
            met = above_top_met_as_read(name, Path(tmp))
        rec = receptor(str(spec["case"]))
        rows = np.array([binary_minute(met, rec, float(a)) for a in spec["releases"]])
        out.append(xr.Dataset({"zagl": ("release", rows[:, 0]), "wout": ("release", rows[:, 1])},
                              coords={"release": np.asarray(spec["releases"], float)}))
        print(name, np.isnan(rows[:, 0]).sum(), "refused", flush=True)
    ds = xr.concat(out, dim=xr.DataArray(list(ABOVE_TOP), dims="case", name="case"),
                   join="outer")
    ds.attrs.update(source="hycs_std (PyPI pystilt 0.1.0a25), bench/binary_above_top.py",
                    comment="one particle without turbulence, one minute backward")
    write_test_data(ds, Path(args["--out"]))


if __name__ == "__main__":
    main()
