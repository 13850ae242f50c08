"""The turbulent sub-steps' mean-wind advection against the reference binary under a weak wind.

The binary keeps a particle's grid position in single precision and adds each sub-step's
mean-wind displacement to it, so under a weak wind and a short T_L the displacements below
half a float32 step of the position are lost (docs/physics.md sec. 6.5). The binary's rows
(4000 particles, SEED = -4) come from bench/binary_substeps.py; no ../shared data needed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from column_met import receptor, weak_u_met_as_read, WEAK_U
from stilt.transport import run_trajectories

DATA = Path(__file__).parent / "data" / "binary_substeps"


def test_weak_wind_substeps_lose_what_float32_positions_lose(tmp_path: Path) -> None:
    """0.3 m/s along x, 3 m/s along y at 10 m, receptor node x = y = 41 (float32 step 0.3-0.4
    m), sub-steps of 0.37 s near the ground: the binary's particles hardly move along x in
    the first 10 minutes (-0.01e-4 degree after one minute, where double-precision sub-steps
    move them -1.3e-4 degree, 20 standard errors) and move about 8 % less along y. Our mean
    displacements in longitude and latitude are the binary's within 3 standard errors of the
    difference at 1, 2, 5 and 10 minutes (4000 particles a side; about 5 s)."""
    ref = xr.open_dataset(DATA / "weak_u.nc").load()
    n = int(ref.attrs["numpar"])
    r = receptor(WEAK_U["case"])
    ours = run_trajectories(r, weak_u_met_as_read(tmp_path), n_hours=-1, numpar=n, seed=4,
                            varsiwant=["time", "indx", "long", "lati", "zagl"])
    for t in ref.time.values:
        for col, origin in (("long", r["longitude"]), ("lati", r["latitude"])):
            d = (ours[col].sel(time=t).values - origin) * 1e4
            b_mean = float(ref[f"{col}_mean"].sel(time=t))
            b_std = float(ref[f"{col}_std"].sel(time=t))
            se = np.hypot(d.std() / np.sqrt(d.size), b_std / np.sqrt(n))
            assert abs(d.mean() - b_mean) <= 3.0 * se, (col, t, d.mean(), b_mean, se)
