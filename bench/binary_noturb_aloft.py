"""The reference binary's NGM no-turbulence trajectory released at several heights, for the tests.

Usage:
    binary_noturb_aloft.py [--out FILE]

Options:
    --out FILE  where the file goes [default: tests/data/binary_noturb_aloft.nc]

The no-turbulence oracle (../shared/oracle/ngm_oct1618/noturb) releases its particles at 10 m,
where they sink to the ground within hours: it tests the winds near the surface only. This
runs hycs_std (PyPI ``pystilt`` in bench/.venv-pystilt) with that CONTROL / SETUP.CFG and the
release at 150 .. 3000 m AGL, and keeps particle 1's hourly positions and heights:
``lati``, ``long``, ``zagl`` on (release height, hour). Test input only.
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
from _files import write_test_data  # noqa: E402
from _reference import reference_ascdata, reference_hycs_std  # noqa: E402
from bench_transport import SHARED  # noqa: E402

HEIGHTS = (150, 500, 800, 1000, 1500, 3000)


def main() -> None:
    """Run the binary once per release height and write the hourly rows of particle 1."""
    out = Path(docopt(__doc__)["--out"])
    exe, ascdata = reference_hycs_std(), reference_ascdata()
    oracle = SHARED / "oracle" / "ngm_oct1618" / "noturb"
    hours = np.arange(1, 25)
    data = {k: np.full((len(HEIGHTS), hours.size), np.nan) for k in ("lati", "long", "zagl")}
    for i, height in enumerate(HEIGHTS):
        with tempfile.TemporaryDirectory() as tmp:
            run = Path(tmp)
            for name in ("ASCDATA.CFG", "ROUGLEN.ASC", "LANDUSE.ASC"):
                shutil.copy(ascdata.parent / name, run / name)
            lines = (oracle / "CONTROL").read_text().splitlines()
            lines[2] = f"40.0 -90.0 {height}"
            lines = [str(SHARED / "met") + "/" if ln.startswith("../shared/met") else ln
                     for ln in lines]
            (run / "CONTROL").write_text("\n".join(lines) + "\n")
            shutil.copy(oracle / "SETUP.CFG", run / "SETUP.CFG")
            subprocess.run([str(exe)], cwd=run, check=True, stdout=subprocess.DEVNULL)
            rows = np.loadtxt(run / "PARTICLE_STILT.DAT", skiprows=1)
        rows = rows[rows[:, 1] == 1]
        for j, h in enumerate(hours):
            r = rows[rows[:, 0] == -60.0 * h][0]
            data["lati"][i, j], data["long"][i, j], data["zagl"][i, j] = r[3], r[2], r[4]
    ds = xr.Dataset({k: (("height", "hour"), v) for k, v in data.items()},
                    coords={"height": ("height", np.array(HEIGHTS, float), {"units": "m"}),
                            "hour": ("hour", hours, {"units": "h before release"})},
                    attrs={"source": "hycs_std (PyPI pystilt 0.1.0a25), "
                                     "bench/binary_noturb_aloft.py",
                           "case": "ngm_oct1618/noturb, released at other heights"})
    write_test_data(ds, out)


if __name__ == "__main__":
    main()
