"""Horizontally uniform met columns in every ARL vertical system, for the binary comparisons.

Each case of :data:`CASES` is one met family as real archives write it (vertical system,
surface and upper field sets), reduced to one column repeated over a small lat/lon grid, so
that every printed column of the reference binary is a deterministic function of the particle
height. ``bench/binary_columns.py`` runs hycs_std on them (tests/data/binary_columns);
``tests/test_met_families.py`` runs stilt and compares.

The column: surface pressure ``ps`` at terrain ``zg``, a dry-adiabatic mixed layer of depth
``zml`` above the ground (temperature from ``t2``), 5 K/km above it (at least 200 K), 6.5 K/km
extrapolated below the ground (pressure levels under the terrain, as GDAS writes them); at
night (``inversion`` > 0) the lowest ``zml`` warms linearly by ``inversion`` K instead,
hydrostatic pressure; relative humidity ``rh`` in the mixed layer (less ``rh_lapse`` % per
metre above the ground) and 40 % above; winds growing from the 10-m wind to twice it at 300 m.
The ``*_humid`` cases are hot (303-305 K) and humid (20-25 g/kg near the ground): there the
humidity the binary's stability and heights take is seen at its print precision
(docs/physics.md §2.6).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import xarray as xr

from stilt.met.arl import met_dataset
from stilt.met.projection import ArlGrid

RD, GRAV = 287.05, 9.80665
PLEV = (1000, 975, 950, 925, 900, 850, 800, 750, 700, 650, 600, 550, 500, 450, 400, 350, 300,
        250, 200, 150, 100, 50, 20)
SIGMA = (0.995, 0.985, 0.97, 0.95, 0.925, 0.895, 0.86, 0.82, 0.78, 0.735, 0.69, 0.64, 0.59,
         0.54, 0.49, 0.44, 0.39, 0.34, 0.29, 0.24, 0.195, 0.15, 0.11, 0.075, 0.05)
#: the same without the lowest level: the first data level (about 120 m) lies above internal
#: level 2 (75 m), where the heat flux is turned into theta* (docs/physics.md §5.1)
SIGMA_HIGH = SIGMA[1:]
HEIGHTS = (10, 50, 100, 200, 350, 500, 750, 1000, 1500, 2000, 3000, 4000, 5000, 7000, 9000,
           12000, 15000)
#: GFS-like hybrid levels: offset (hPa) + sigma, as ARL stores them in one number
HYBRID = (0.995, 0.985, 0.97, 0.95, 3.92, 8.88, 14.83, 20.77, 27.7, 34.62, 40.53, 45.44,
          48.35, 49.26, 48.18, 44.11, 38.05, 30.01, 20.0, 10.0, 5.0)
PTOP = 50.0


@dataclass(frozen=True)
class Case:
    """One met family: vertical system, field sets and the column's parameters."""

    ksys: int
    surface: tuple[str, ...]
    upper: tuple[str, ...]
    lat: float
    lon: float
    time: str = "2023-07-16T01:00"
    ps: float = 1012.0
    zg: float = 0.0
    t2: float = 299.5
    tmps: float = 300.5
    zml: float = 600.0
    rh: float = 80.0
    u10: float = -6.0
    v10: float = -2.0
    inversion: float = 0.0   #: K of warming through the lowest zml (night); 0: mixed layer
    extra: dict[str, float] = field(default_factory=dict)
    levels: tuple[float, ...] | None = None   #: level values instead of the system's default
    rh_lapse: float = 0.0    #: decrease of the mixed layer's relative humidity, % per metre


GDAS_SFC = ("PRSS", "MSLP", "TPP6", "UMOF", "VMOF", "SHTF", "LHTF", "DSWF", "RH2M", "U10M",
            "V10M", "T02M", "TCLD", "SHGT", "PBLH", "TMPS")
CASES: dict[str, Case] = {
    # GDAS 1 degree over the tropical Pacific, late afternoon: pressure levels with HGTS,
    # T02M then TMPS (the binary's ground temperature is the later record), UMOF/VMOF, RELH
    "gdas_ocean": Case(2, GDAS_SFC, ("HGTS", "TEMP", "UWND", "VWND", "WWND", "RELH"),
                       10.0, -140.0),
    # the same with the TMPS record before T02M
    "gdas_tmps_first": Case(2, ("PRSS", "MSLP", "TPP6", "UMOF", "VMOF", "SHTF", "LHTF", "DSWF",
                                "RH2M", "U10M", "V10M", "TMPS", "TCLD", "SHGT", "PBLH", "T02M"),
                            ("HGTS", "TEMP", "UWND", "VWND", "WWND", "RELH"), 10.0, -140.0),
    # GDAS over 1500 m terrain: 1000-875 hPa lie below the ground
    "gdas_terrain": Case(2, GDAS_SFC, ("HGTS", "TEMP", "UWND", "VWND", "WWND", "RELH"),
                         38.5, -105.5, time="2023-07-15T22:00", ps=850.0, zg=1500.0),
    # GDAS over land at night: a 4 K inversion through the lowest 200 m, skin colder than
    # the air, downward heat flux, light wind
    "gdas_night": Case(2, GDAS_SFC, ("HGTS", "TEMP", "UWND", "VWND", "WWND", "RELH"),
                       38.0, -97.0, time="2023-07-16T09:00", ps=965.0, zg=400.0, t2=291.0,
                       tmps=289.5, zml=200.0, rh=85.0, u10=2.0, v10=1.0, inversion=4.0,
                       extra={"SHTF": -25.0, "UMOF": 0.01, "VMOF": 0.005, "PBLH": 120.0}),
    # NAM 12 km: pressure levels, USTR and RGHS at the surface, T02M only
    "nam_land": Case(2, ("SHGT", "MSLP", "TPP3", "T02M", "RH2M", "U10M", "V10M", "PRSS", "LHTF",
                         "SHTF", "USTR", "RGHS", "DSWF"),
                     ("UWND", "VWND", "HGTS", "TEMP", "WWND", "RELH"), 40.0, -98.0,
                     time="2023-07-15T21:00", ps=960.0, zg=450.0, rh=50.0,
                     extra={"RGHS": 0.05, "USTR": 0.35, "SHTF": 180.0}),
    # NGM-like sigma file: no PRES, no 10-m wind, no T02M, EXCO / HFLX, SPHU
    "sigma_ngm": Case(1, ("PRSS", "MSLP", "SHGT", "TPPT", "EXCO", "HFLX"),
                      ("UWND", "VWND", "WWND", "TEMP", "SPHU"), 40.0, -90.0, ps=990.0, zg=200.0,
                      extra={"EXCO": 0.02, "HFLX": 120.0}),
    # the same with PRES and then HGTS records: the binary reads HGTS into the level pressure
    # (docs/physics.md §2.4)
    "sigma_hgts": Case(1, ("PRSS", "MSLP", "SHGT", "TPPT", "EXCO", "HFLX"),
                       ("PRES", "UWND", "VWND", "WWND", "TEMP", "SPHU", "HGTS"), 40.0, -90.0,
                       ps=990.0, zg=200.0, extra={"EXCO": 0.02, "HFLX": 120.0}),
    # the NGM-like column with its first sigma level at 0.991, 75.4 m above the ground, just
    # above internal level 2 (74.4 m): the surface layer's reference level for the EXCO u* is
    # level 3, as the binary takes it from the column's own first data level (a standard
    # atmosphere puts that level at 68.6 m, below level 2; docs/physics.md sec. 5.1)
    "sigma_first_75m": Case(1, ("PRSS", "MSLP", "SHGT", "TPPT", "EXCO", "HFLX"),
                            ("UWND", "VWND", "WWND", "TEMP", "SPHU"), 40.0, -90.0, ps=990.0,
                            zg=200.0, extra={"EXCO": 0.05, "HFLX": 120.0},
                            levels=(0.991,) + SIGMA[1:]),
    # GFS 0.25 degree on hybrid sigma-pressure levels
    "hybrid_gfs": Case(4, GDAS_SFC, ("TEMP", "UWND", "VWND", "WWND", "RELH"), 35.0, -100.0,
                       time="2023-07-15T21:00", ps=930.0, zg=700.0, rh=40.0),
    # terrain-following heights with PRES (KSYS 3)
    "height_pres": Case(3, ("PRSS", "SHGT", "T02M", "U10M", "V10M", "USTR", "SHTF", "PBLH"),
                        ("PRES", "TEMP", "UWND", "VWND", "DZDT", "SPHU"), 45.0, 10.0,
                        time="2023-07-15T14:00", ps=950.0, zg=500.0,
                        extra={"USTR": 0.3, "SHTF": 150.0}),
    # the same with an HGTS record after PRES: the binary reads it into the level pressure
    # (docs/physics.md §2.4), so its mixed layer collapses to KMIX0
    "height_hgts": Case(3, ("PRSS", "SHGT", "T02M", "U10M", "V10M", "USTR", "SHTF", "PBLH"),
                        ("PRES", "TEMP", "UWND", "VWND", "DZDT", "SPHU", "HGTS"), 45.0, 10.0,
                        time="2023-07-15T14:00", ps=950.0, zg=500.0,
                        extra={"USTR": 0.3, "SHTF": 150.0}),
    # WRF through arw2arl: WRF-hybrid levels with PRES, USTR/TSTR, DZDT
    "wrf_hybrid": Case(5, ("PRSS", "SHGT", "T02M", "U10M", "V10M", "USTR", "TSTR", "SHTF",
                           "LHTF", "PBLH"),
                       ("PRES", "TEMP", "UWND", "VWND", "DZDT", "SPHU"), 40.0, -105.0,
                       time="2023-07-15T20:00", ps=840.0, zg=1600.0, rh=30.0,
                       extra={"USTR": 0.4, "TSTR": -0.5, "SHTF": 250.0}),
    # hot and humid NGM-like sigma columns (SPHU 25 g/kg at the ground, drying upward), the
    # first data level above internal level 2: by day (HFLX > 0, the heat flux's density)
    # and at night (HFLX < 0, the exchange coefficient's density)
    "sigma_ngm_humid": Case(1, ("PRSS", "MSLP", "SHGT", "TPPT", "EXCO", "HFLX"),
                            ("UWND", "VWND", "WWND", "TEMP", "SPHU"), 40.0, -90.0, ps=990.0,
                            zg=200.0, t2=305.0, rh=95.0, rh_lapse=0.1, levels=SIGMA_HIGH,
                            extra={"EXCO": 0.02, "HFLX": 120.0}),
    "sigma_ngm_humid_night": Case(1, ("PRSS", "MSLP", "SHGT", "TPPT", "EXCO", "HFLX"),
                                  ("UWND", "VWND", "WWND", "TEMP", "SPHU"), 40.0, -90.0,
                                  ps=990.0, zg=200.0, t2=305.0, rh=95.0, rh_lapse=0.1,
                                  levels=SIGMA_HIGH, extra={"EXCO": 0.02, "HFLX": -20.0}),
    # the same column with RELH: hypsometric heights from RELH's specific humidity
    "sigma_relh_humid": Case(1, ("PRSS", "MSLP", "SHGT", "TPPT", "EXCO", "HFLX"),
                             ("UWND", "VWND", "WWND", "TEMP", "RELH"), 40.0, -90.0, ps=990.0,
                             zg=200.0, t2=305.0, rh=90.0, levels=SIGMA_HIGH,
                             extra={"EXCO": 0.02, "HFLX": 120.0}),
    # hot and humid GDAS night (UMOF / VMOF, RELH, ground below the first level above it)
    # and NAM afternoon (USTR, SHTF)
    "gdas_night_humid": Case(2, GDAS_SFC, ("HGTS", "TEMP", "UWND", "VWND", "WWND", "RELH"),
                             38.0, -97.0, time="2023-07-16T09:00", ps=965.0, zg=400.0,
                             t2=303.0, tmps=301.5, zml=200.0, rh=90.0, u10=2.0, v10=1.0,
                             inversion=4.0,
                             extra={"SHTF": -25.0, "UMOF": 0.01, "VMOF": 0.005, "PBLH": 120.0}),
    "nam_land_humid": Case(2, ("SHGT", "MSLP", "TPP3", "T02M", "RH2M", "U10M", "V10M", "PRSS",
                               "LHTF", "SHTF", "USTR", "RGHS", "DSWF"),
                           ("UWND", "VWND", "HGTS", "TEMP", "WWND", "RELH"), 40.0, -98.0,
                           time="2023-07-15T21:00", ps=960.0, zg=450.0, t2=305.0, rh=80.0,
                           extra={"RGHS": 0.05, "USTR": 0.35, "SHTF": 180.0}),
}
#: the hot humid cases (docs/physics.md §2.6)
HUMID = tuple(name for name in CASES if name.endswith("_humid") or name.endswith("_humid_night"))
#: stilt run settings of each comparison (the binary's: R-STILT defaults, bench/_hycs_run.py)
NOTURB_HOURS = -24
TURB_NUMPAR, TURB_HOURS, TURB_ROWS = 200, -1, 30


def _fine_column(c: Case) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Height ASL, pressure and temperature every 5 m from 2 km below the ground to 30 km."""
    z = np.arange(-2000.0, 30000.0, 5.0) + c.zg
    i0 = int(np.argmin(abs(z - c.zg)))
    theta0 = c.t2 * (1000.0 / c.ps) ** 0.286
    p, t = np.empty_like(z), np.empty_like(z)
    p[i0], t[i0] = c.ps, c.t2
    t_ml = c.t2
    for i in range(i0 + 1, z.size):
        dz = z[i] - c.zg
        if dz <= c.zml and c.inversion:
            t[i] = c.t2 + c.inversion * dz / c.zml
            t_ml = t[i]
        elif dz <= c.zml:
            t[i] = theta0 * (p[i - 1] / 1000.0) ** 0.286
            t_ml = t[i]
        else:
            t[i] = max(t_ml - 5.0e-3 * (dz - c.zml), 200.0)
        p[i] = p[i - 1] * np.exp(-GRAV / RD * 5.0 / (0.5 * (t[i] + t[i - 1])))
    for i in range(i0 - 1, -1, -1):
        t[i] = t[i + 1] + 6.5e-3 * 5.0
        p[i] = p[i + 1] * np.exp(GRAV / RD * 5.0 / (0.5 * (t[i] + t[i + 1])))
    return z, p, t


def _level_pressures(c: Case) -> tuple[np.ndarray, np.ndarray]:
    """Stored level values and the pressure of each level (hPa)."""
    if c.ksys == 1:
        lev = np.array(c.levels or SIGMA)
        return lev, PTOP + (c.ps - PTOP) * lev
    if c.ksys == 2:
        lev = np.array(PLEV, float)
        return lev, lev
    if c.ksys == 4:
        lev = np.array(HYBRID)
        return lev, c.ps * (lev - np.floor(lev)) + np.floor(lev)
    if c.ksys == 5:
        lev = np.array(SIGMA)
        return lev, PTOP + (c.ps - PTOP) * lev
    z, p, _ = _fine_column(c)
    lev = np.array(HEIGHTS, float)
    return lev, np.exp(np.interp(lev + c.zg, z, np.log(p)))


def column_met(name: str, hours: int = 30, half_width: int = 10) -> xr.Dataset:
    """The met Dataset of one case: 3-hourly, one-degree grid of (2 half_width + 1) nodes a
    side around the receptor (21 x 21 by default)."""
    c = CASES[name]
    z, p, t = _fine_column(c)
    lev, plev = _level_pressures(c)
    lnp = np.log(p)[::-1]
    zl = np.interp(np.log(plev), lnp, z[::-1])
    tl = np.interp(np.log(plev), lnp, t[::-1])
    agl = zl - c.zg
    rh = np.where(agl < c.zml, np.maximum(c.rh - c.rh_lapse * np.maximum(agl, 0.0), 5.0), 40.0)
    q = 0.622 * rh / 100.0 * np.exp(21.4 - 5351.0 / tl) / plev
    grow = np.minimum(1.0 + np.maximum(agl, 0.0) / 300.0, 2.0)
    upper_all = {"HGTS": zl, "TEMP": tl, "UWND": c.u10 * grow, "VWND": c.v10 * grow,
                 "WWND": 0.0 * tl, "DZDT": 0.0 * tl, "RELH": rh, "SPHU": q, "PRES": plev}
    sfc_all = {"PRSS": c.ps, "MSLP": 1013.0, "TPP6": 0.0, "TPP3": 0.0, "TPPT": 0.0,
               "UMOF": -0.06, "VMOF": -0.02, "SHTF": 10.0, "HFLX": 10.0, "LHTF": 120.0,
               "DSWF": 300.0, "RH2M": c.rh, "U10M": c.u10, "V10M": c.v10, "T02M": c.t2,
               "TCLD": 20.0, "SHGT": c.zg, "PBLH": 555.0, "TMPS": c.tmps, **c.extra}
    grid = ArlGrid.latlon(lat0=c.lat - half_width, lon0=c.lon - half_width, dlat=1.0,
                          dlon=1.0, nx=2 * half_width + 1, ny=2 * half_width + 1)
    if c.ksys in (1, 5):
        grid = dataclasses.replace(grid, reserved=PTOP)
    t0 = np.datetime64(c.time, "h") - np.timedelta64(27, "h")
    times = t0 + np.arange(0, hours + 1, 3).astype("timedelta64[h]")
    return met_dataset(grid, times, vertical_system=c.ksys, level_values=lev,
                       surface={n: sfc_all[n] for n in c.surface},
                       upper={n: np.asarray(upper_all[n])[:, None, None] for n in c.upper},
                       source="GDAS" if name.startswith("gdas") else "TEST")


def column_met_as_read(name: str, folder: Path, half_width: int = 10) -> xr.Dataset:
    """The case's met as the binary sees it: written to ``folder`` as ARL and read back.

    ARL packing is lossy in ways that matter on uniform columns: a constant field has a
    packing precision of 2/254, and values below it are read as 0 away from the first grid
    column (a uniform specific humidity under 0.0079 kg/kg becomes dry air).
    """
    from stilt.met import read_arl, write_arl

    path = Path(folder) / f"{name}.arl"
    write_arl(column_met(name, half_width=half_width), path)
    return read_arl(path)


#: the subsidence cases: one particle released at 2000 m and followed 6 h backward without
#: turbulence under a uniform vertical motion that brings it to the ground (backward in time,
#: upward omega sinks it). ``ocean``: WWND on pressure levels whose first level is above the
#: ground; ``terrain``: over 1500 m terrain with 850 hPa under the ground, so that the first
#: level above it (800 hPa) is 440 m up; ``overshoot``: a subsidence strong enough for the
#: predictor step to go below the ground; ``height_dzdt``: DZDT on terrain-following height
#: levels, which the binary converts as hPa/s (docs/physics.md sec. 4.3)
SUBSIDENCE: dict[str, dict[str, object]] = {
    "ocean": {"case": "gdas_ocean", "omega": -0.02},
    "terrain": {"case": "gdas_terrain", "omega": -0.02, "ps": 845.0},
    "overshoot": {"case": "gdas_ocean", "omega": -0.5},
    "height_dzdt": {"case": "height_pres", "dzdt": -0.02},
}
SUBSIDENCE_ALTITUDE, SUBSIDENCE_HOURS = 2000.0, -6


def _uniform_motion_met(spec: dict[str, object], path: Path) -> xr.Dataset:
    """A case's column (``spec["case"]``, other keys but the motion replacing its fields)
    with a uniform ``omega`` (WWND) or ``dzdt`` (DZDT), written to ``path`` and read back."""
    from stilt.met import read_arl, write_arl

    spec = {k: v for k, v in spec.items() if k != "releases"}
    case = CASES[str(spec.pop("case"))]
    field, value = next((k, spec.pop(k)) for k in ("omega", "dzdt") if k in spec)
    CASES["_uniform_motion"] = dataclasses.replace(case, **spec)
    try:
        ds = column_met("_uniform_motion")
    finally:
        del CASES["_uniform_motion"]
    ds[{"omega": "WWND", "dzdt": "DZDT"}[field]].values[:] = value
    write_arl(ds, path)
    return read_arl(path)


def subsidence_met_as_read(name: str, folder: Path) -> xr.Dataset:
    """The met of one subsidence case (:data:`SUBSIDENCE`), written and read back."""
    return _uniform_motion_met(dict(SUBSIDENCE[name]), Path(folder) / f"subsidence_{name}.arl")


#: uniform vertical motion through and above the highest data level (14.6 km above the ground
#: on ``height_pres``, about 16.6 km on ``sigma_ngm``): particles released at ``releases`` (m
#: above the ground), one minute without turbulence (bench/binary_above_top.py)
ABOVE_TOP: dict[str, dict[str, object]] = {
    "height": {"case": "height_pres", "dzdt": -0.02,
               "releases": tuple(float(z) for z in range(12000, 16301, 100))},
    "sigma": {"case": "sigma_ngm", "omega": -0.01,
              "releases": tuple(float(z) for z in range(15000, 19751, 250))},
}


def above_top_met_as_read(name: str, folder: Path) -> xr.Dataset:
    """The met of one :data:`ABOVE_TOP` case, written and read back."""
    return _uniform_motion_met(dict(ABOVE_TOP[name]), Path(folder) / f"above_top_{name}.arl")


#: the edge case: nam_land with a 15 m/s 10-m wind (30 m/s aloft) towards each side in turn,
#: so that the no-turbulence particle reaches the edge of the 21 x 21 grid within a day
EDGE_WINDS = ((-15.0, 0.0), (15.0, 0.0), (0.0, -15.0), (0.0, 15.0))
#: particles of the binary's runs with turbulence towards each edge
EDGE_NUMPAR = 1000


def edge_met_as_read(u10: float, v10: float, folder: Path) -> xr.Dataset:
    """The nam_land column with another 10-m wind, written and read back."""
    CASES["_edge"] = dataclasses.replace(CASES["nam_land"], u10=u10, v10=v10)
    try:
        return column_met_as_read("_edge", folder)
    finally:
        del CASES["_edge"]


def receptor(name: str) -> dict[str, object]:
    """The receptor of a case: 10 m above the ground at the column's position and time."""
    c = CASES[name]
    return {"time": c.time, "latitude": c.lat, "longitude": c.lon, "altitude": 10.0}


#: global 2-degree lat-lon grids (GDAS/ERA5-like, cyclic in x) starting at these longitudes;
#: a receptor at 179E whose backward trajectory crosses the antimeridian (and, when the grid
#: starts at 180W, the seam between the last and first columns)
GLOBAL_LON0 = (0.0, -180.0)
GLOBAL_RECEPTOR = {"time": "2023-07-16T03:00", "latitude": 10.0, "longitude": 179.0,
                   "altitude": 10.0}


def global_met(lon0: float) -> xr.Dataset:
    """A global pressure-level met set, 6-hourly, with winds that vary in longitude and latitude.

    The gdas_ocean column everywhere, with an easterly of 9-21 m/s and a meridional wind of
    +-4 m/s, so that trajectories cross the antimeridian within a day.
    """
    c = CASES["gdas_ocean"]
    z, p, t = _fine_column(c)
    lev = np.array(PLEV, float)
    lnp = np.log(p)[::-1]
    zl = np.interp(np.log(lev), lnp, z[::-1])
    tl = np.interp(np.log(lev), lnp, t[::-1])
    grid = ArlGrid.latlon(lat0=-90.0, lon0=lon0, dlat=2.0, dlon=2.0, nx=180, ny=91)
    lat, lon = grid.latlon_mesh()
    coslat = np.cos(np.radians(lat))
    u = -15.0 + 6.0 * np.sin(np.radians(lon)) * coslat
    v = 4.0 * np.cos(np.radians(2.0 * lon)) * coslat
    grow = np.minimum(1.0 + np.maximum(zl, 0.0) / 300.0, 2.0)[:, None, None]
    upper = {"HGTS": zl[:, None, None] + 0.0 * u, "TEMP": tl[:, None, None] + 0.0 * u,
             "UWND": u * grow, "VWND": v * grow, "WWND": 0.0, "RELH": 70.0}
    surface = {"PRSS": c.ps, "SHGT": 0.0, "T02M": c.t2, "U10M": u, "V10M": v, "UMOF": -0.06,
               "VMOF": -0.02, "SHTF": 10.0, "LHTF": 100.0, "PBLH": 500.0, "TMPS": c.tmps}
    times = np.datetime64("2023-07-15T00:00") + np.arange(0, 31, 6).astype("timedelta64[h]")
    return met_dataset(grid, times, vertical_system=2, level_values=lev, surface=surface,
                       upper=upper, source="GDAS")


def global_met_as_read(lon0: float, folder: Path) -> xr.Dataset:
    """:func:`global_met` written to ``folder`` as ARL and read back (what the binary reads)."""
    from stilt.met import read_arl, write_arl

    path = Path(folder) / f"global_{int(lon0)}.arl"
    write_arl(global_met(lon0), path)
    return read_arl(path)


#: the weak-wind case of the sub-step advection (bench/binary_substeps.py): the sigma_ngm
#: column with a 0.3 m/s x-wind and a 3 m/s y-wind at 10 m on an 81 x 81 grid, so that the
#: receptor node is x = y = 41, where a float32 grid position moves in steps of 3.8e-6 grid
#: units (0.3-0.4 m)
WEAK_U = {"case": "sigma_ngm", "u10": 0.3, "v10": 3.0, "half_width": 40}


def weak_u_met_as_read(folder: Path) -> xr.Dataset:
    """The weak-wind case's met (WEAK_U), written to ``folder`` and read back."""
    CASES["_weak_u"] = dataclasses.replace(CASES[WEAK_U["case"]], u10=WEAK_U["u10"],
                                           v10=WEAK_U["v10"])
    try:
        return column_met_as_read("_weak_u", folder, WEAK_U["half_width"])
    finally:
        del CASES["_weak_u"]
