"""Cut the reference binary's roughness table to the oracle region, for the tests.

Usage:
    make_roughness_fixture.py [--out DIR]

Options:
    --out DIR  Where to write ASCDATA.CFG and ROUGLEN.ASC [default: tests/data/roughness].

``hycs_std`` reads z0 per met grid node from the 1-degree ROUGLEN.ASC that PyPI ``pystilt``
bundles (physics.md 3.2). The oracle runs in ../shared/oracle were made with it, so the oracle
tests give stilt the same surface: this script takes the table from the reference venv
(bench/_reference.py), keeps 20-60 N, 130-60 W (every cell the oracle particles can reach) and
writes it in the same layout with its own ASCDATA.CFG. Test input only; never installed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from docopt import docopt

from _reference import reference_ascdata
from stilt.met.roughness import read_roughness

LAT0, LAT1, LON0, LON1 = 20, 60, -130, -60


def main() -> None:
    args = docopt(__doc__)
    out = Path(args["--out"])
    table = read_roughness(reference_ascdata())
    rows = np.arange(LAT0, LAT1) - int(table.lat0)
    cols = np.arange(LON0, LON1) - int(table.lon0)
    cm = np.rint(table.z0[np.ix_(rows, cols)] * 100.0).astype(int)
    out.mkdir(parents=True, exist_ok=True)
    (out / "ASCDATA.CFG").write_text(
        f"{LAT0:.1f}  {LON0:.1f}  lat/lon of lower left corner\n"
        "1.0     1.0     lat/lon spacing in degrees between data points\n"
        f"{LAT1 - LAT0}      {LON1 - LON0}      lat/lon number of data points\n"
        "2               default land use category\n"
        f"{table.default:g}             default roughness length (meters)\n"
        "'./'            directory location of data files\n")
    (out / "ROUGLEN.ASC").write_text(
        "".join("".join(f"{v:4d}" for v in row) + "\n" for row in cm[::-1]))
    print("wrote", out / "ASCDATA.CFG", out / "ROUGLEN.ASC", cm.shape)


if __name__ == "__main__":
    main()
