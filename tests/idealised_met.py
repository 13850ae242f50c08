"""Horizontally uniform met with a collapsing mixed layer, for the idealised comparisons with
the reference binary (bench/binary_idealised.py runs hycs_std on it; tests/test_transport_
idealised.py runs stilt).

Backward from the release at 06 UTC: PBLH 800, 600, 300, 150 m at 06, 05, 04, 03 UTC (and
150 m before), the heat flux 150, 80, 10, -20 W/m2 (-20 before), u* 0.3 m/s; temperature
6.5 K/km, no vertical motion. ``collapse``: 3 m/s at every level and 10 m, zi from PBLH
(KMIXD = 0). ``shear``: the wind grows from 2 m/s at the ground to 14 m/s at sigma 0.9 (v half
of u), 10-m wind (1.5, 0.7) m/s, zi from the Richardson number (KMIXD = 3).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from test_transport import LATLON, SIGMA, make_met

CASES = {"collapse": {"kmixd": 0}, "shear": {"kmixd": 3}}
RECEPTOR = {"time": "2021-07-01T06:00", "latitude": 38.0, "longitude": -106.0,
            "altitude": 10.0}
N_HOURS = -5
#: rows kept from the binary's runs (minutes since release)
SAMPLE_TIMES = (-10, -30, -60, -90, -120, -150, -180, -240, -300)
PBLH = np.array([150, 150, 150, 150, 300, 600, 800], "f4")    # 00 .. 06 UTC
SHTF = np.array([-20, -20, -20, -20, 10, 80, 150], "f4")


def idealised_met(case: str) -> xr.Dataset:
    """The met Dataset of one case (read_arl layout, 00-06 UTC hourly)."""
    ds = make_met(LATLON, 6, 3.0, 0.0)
    ds["SHTF"].values[:] = SHTF[:, None, None]
    ds["PBLH"] = ds["SHTF"] * 0 + PBLH[:, None, None]
    if case == "shear":
        prof = np.minimum(2.0 + 10.0 * (1 - SIGMA) / 0.1, 14.0).astype("f4")
        ds["UWND"].values[:] = prof[None, :, None, None]
        ds["VWND"].values[:] = (0.5 * prof)[None, :, None, None]
        ds["U10M"].values[:] = 1.5
        ds["V10M"].values[:] = 0.7
    return ds


#: the horizontal-spread case: a uniform 6 m/s westerly over the make_met column (u* 0.3 m/s,
#: 50 W/m2), 10 m release; rows kept at these minutes (bench/binary_idealised.py)
SPREAD_TIMES = (-1, -2, -5)
SPREAD_RECEPTOR = {"time": "2021-07-01T06:00", "latitude": 40.0, "longitude": -105.0,
                   "altitude": 10.0}


def spread_met() -> xr.Dataset:
    """The met Dataset of the horizontal-spread case (read_arl layout, 00-06 UTC hourly)."""
    return make_met(LATLON, 6, 6.0, 0.0)
