"""Run PYSTILT's calc_footprint on a particles_full.nc file (executed by the reference venv).

Usage: python _pystilt_footprint.py SPEC_JSON OUT_NC
SPEC_JSON holds particles, receptor (time, latitude, longitude, altitude), grid (xmin, xmax,
ymin, ymax, xres, yres, crs), time_integrate, repeat, r_columns (reduce the table to R-STILT's
five columns before calc_footprint). Prints one JSON line with the best time
of the near-field correction plus calc_footprint (seconds) and of calc_footprint alone.
This file imports PYSTILT's ``stilt`` package: never run it with stilt's own interpreter.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np
import xarray as xr
from stilt import PointReceptor
from stilt.footprint.gridding import calc_footprint
from stilt.particles.table import correct_near_field
from stilt.spatial import Grid

COLUMNS = {
    "long": "lon",
    "lati": "lat",
    "foot": "foot",
    "dens": "dens",
    "samt": "samt",
    "sigw": "sigw",
    "tlgr": "tlgr",
    "mlht": "mlht",
    "zagl": "zagl",
}


def particle_table(path: str):
    """Read the (time, indx) file as PYSTILT's long table: present rows, time then particle."""
    import pandas as pd

    ds = xr.open_dataset(path).load()
    lon = ds["long"].values
    present = ~np.isnan(lon)
    it, ip = np.nonzero(present)
    table = {
        "particle": ds["indx"].values[ip].astype(np.int32),
        "age": ds["time"].values[it].astype(np.int32),
    }
    for src, dst in COLUMNS.items():
        table[dst] = ds[src].values[present].astype(np.float64)
    return pd.DataFrame(table)


def main() -> None:
    spec = json.loads(open(sys.argv[1]).read())
    out_path = sys.argv[2]
    particles = particle_table(spec["particles"])
    receptor = PointReceptor(**spec["receptor"])
    grid = Grid(**spec["grid"])
    if spec.get("r_columns"):
        import stilt.footprint.gridding as gridding

        gridding.check_particles = lambda *args, **kwargs: None  # it insists on zagl
    best_all = best_foot = best_cpu = float("inf")
    for _ in range(int(spec.get("repeat", 1))):
        c0 = time.process_time()
        t0 = time.perf_counter()
        corrected = correct_near_field(particles, receptor, 0.5)
        if spec.get("r_columns"):
            # R-STILT's simulation_step keeps only these columns before calc_footprint, so the
            # rows the near-field densification inserts survive na.omit (with more columns,
            # as PYSTILT passes them, they are all dropped)
            corrected = corrected[["particle", "age", "lon", "lat", "foot"]]
        t1 = time.perf_counter()
        foot = calc_footprint(
            corrected, receptor, grid, time_integrate=bool(spec["time_integrate"])
        )
        t2 = time.perf_counter()
        best_cpu = min(best_cpu, time.process_time() - c0)
        best_all = min(best_all, t2 - t0)
        best_foot = min(best_foot, t2 - t1)
    foot.to_dataset(name="foot").drop_vars("receptor", errors="ignore").to_netcdf(out_path)
    print(
        json.dumps(
            {"seconds": best_all, "seconds_calc_footprint": best_foot, "cpu_seconds": best_cpu,
             "rows": len(particles)}
        )
    )


if __name__ == "__main__":
    main()
