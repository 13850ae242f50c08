"""Synthetic, HRRR-like ARL meteorology: what the shipped example and most tests run on.

The generator builds a multi-day hourly Lambert-conformal set (15 km, centred on 40N
101.5W, cone tangent at 38.5N like HRRR) from closed-form, physically consistent fields:

* terrain rising westward to a north-south ridge, plus seeded hills;
* a moving surface low with a cold core over a warm-south / cold-north background;
* a hydrostatic atmosphere: virtual temperature falls at 6.5 K/km up to a 215 K tropopause,
  plus a diurnal boundary-layer anomaly, so heights come in closed form;
* geostrophic winds from those heights on pressure surfaces (shear with height through the
  thermal wind), turned and slowed towards the surface in an Ekman layer whose depth follows
  the boundary layer, then rotated to the grid (ARL winds are grid-relative);
* a diurnal boundary layer in local solar time (PBLH, SHTF, LHTF, USTR, DSWF), T02M,
  U10M/V10M, PRSS from the terrain, precipitation near the low;
* sigma levels (ARL vertical system 1, PTOP = 50 hPa in the RESERVED field) with a PRES
  field on every level; WWND from orographic lifting and ascent ahead of the low.

See ``docs/met.md`` (section "Synthetic HRRR-like meteorology").
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from stilt.errors import ConfigError
from stilt.met.arl import variable_attrs
from stilt.met.projection import ArlGrid

if TYPE_CHECKING:
    import xarray as xr

#: 4-character data source id written in the index records.
SOURCE = "SYNT"
#: Sigma values of the upper levels (bottom up); pressure = PTOP + (PRSS - PTOP) * sigma.
SIGMA_LEVELS: tuple[float, ...] = (
    0.995, 0.985, 0.97, 0.95, 0.925, 0.895, 0.86, 0.82, 0.78, 0.735, 0.69, 0.64, 0.59,
    0.54, 0.49, 0.44, 0.39, 0.34, 0.29, 0.24, 0.195, 0.15, 0.11, 0.075, 0.05,
)
#: Pressure at sigma = 0 (hPa), stored in the RESERVED grid parameter.
PTOP_HPA = 50.0
SURFACE_VARIABLES: tuple[str, ...] = (
    "PRSS", "SHGT", "T02M", "U10M", "V10M", "PBLH", "SHTF", "LHTF", "USTR", "DSWF", "TPP1",
)
UPPER_VARIABLES: tuple[str, ...] = ("PRES", "UWND", "VWND", "WWND", "TEMP", "SPHU", "HGTS")

# physical constants (as the hypsometric recipe of physics.md 1.8)
_RD = 287.05
_G = 9.80665
_OMEGA = 7.292115e-5
_R_EARTH_M = 6371.2e3
_LAPSE = 6.5e-3                 # K/m
_T_TROP = 215.0                 # K
_KAPPA = _RD * _LAPSE / _G      # exponent of p in the constant-lapse-rate atmosphere
_DIURNAL_C = 0.07               # e-folding of the boundary-layer anomaly in ln p (~600 m)
_GRAD_STEP_DEG = 0.005          # finite-difference step of horizontal gradients


def synthetic_grid(nx: int = 120, ny: int = 100) -> ArlGrid:
    """Return the generator's grid: Lambert conformal, 15 km, tangent at 38.5N, centred 40N 101.5W.

    Parameters
    ----------
    nx, ny : int
        Grid size.

    Returns
    -------
    ArlGrid
        The grid (RESERVED holds PTOP = 50 hPa of the sigma levels).
    """
    grid = ArlGrid.lambert(tang_lat=38.5, ref_lon=-97.5, grid_size_km=15.0, nx=nx, ny=ny,
                           center_lat=40.0, center_lon=-101.5)
    return dataclasses.replace(grid, reserved=PTOP_HPA)


@dataclasses.dataclass(frozen=True)
class _Weather:
    """Seeded parameters of the closed-form weather; methods are functions of (lat, lon, t)."""

    hills: np.ndarray          # (n, 4): lat, lon, amplitude (m), width (deg)
    low_lat0: float
    low_lon0: float
    low_dlat: float            # deg per hour
    low_dlon: float            # deg per hour
    low_depth: float           # hPa
    start_doy: float           # day of year of the first time
    start_hour: float          # UTC hour of the first time

    @classmethod
    def from_seed(cls, seed: int, start: np.datetime64) -> _Weather:
        rng = np.random.default_rng(seed)
        n = 14
        hills = np.column_stack([
            rng.uniform(32.0, 48.0, n), rng.uniform(-115.0, -92.0, n),
            rng.uniform(80.0, 600.0, n), rng.uniform(0.3, 1.1, n),
        ])
        # hills are higher in the west
        hills[:, 2] *= 0.4 + 0.6 * (hills[:, 1] < -102.0)
        day = start.astype("datetime64[D]")
        year = start.astype("datetime64[Y]")
        return cls(
            hills=hills,
            low_lat0=43.5 + rng.uniform(-1.0, 1.0),
            low_lon0=-112.0 + rng.uniform(-1.0, 1.0),
            low_dlat=-0.06 * rng.uniform(0.8, 1.2),
            low_dlon=0.40 * rng.uniform(0.9, 1.1),
            low_depth=9.0 * rng.uniform(0.85, 1.15),
            start_doy=float((day - year).astype(int)) + 1.0,
            start_hour=float((start - day) / np.timedelta64(1, "h")),
        )

    # ---- static ----
    def terrain(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        """Terrain height (m): plains rising westward, a north-south ridge, seeded hills."""
        west = 0.5 * (1.0 + np.tanh((-103.0 - lon) / 3.0))
        ridge_lon = -107.5 + 0.3 * (lat - 40.0)
        h = 250.0 + 1400.0 * west + 1100.0 * np.exp(-(((lon - ridge_lon) / 1.3) ** 2))
        for hlat, hlon, amp, width in self.hills:
            h = h + amp * np.exp(-((lat - hlat) ** 2 + ((lon - hlon) * 0.77) ** 2)
                                 / (2.0 * width**2))
        return h

    # ---- the low ----
    def low_distance_km(self, lat: np.ndarray, lon: np.ndarray, t: float,
                        lag_deg: float = 0.0) -> np.ndarray:
        """Great-circle distance (km) from the low centre (shifted west by ``lag_deg``)."""
        clat = self.low_lat0 + self.low_dlat * t
        clon = self.low_lon0 + self.low_dlon * t - lag_deg
        p1, p2 = np.radians(lat), math.radians(clat)
        dl = np.radians(lon - clon)
        hav = np.sin((p1 - p2) / 2) ** 2 + np.cos(p1) * math.cos(p2) * np.sin(dl / 2) ** 2
        return 2.0 * _R_EARTH_M / 1000.0 * np.arcsin(np.sqrt(np.clip(hav, 0.0, 1.0)))

    def cloud(self, lat: np.ndarray, lon: np.ndarray, t: float) -> np.ndarray:
        """Cloud fraction 0..1 around and ahead of the low."""
        r = self.low_distance_km(lat, lon, t, lag_deg=-1.5)
        return np.exp(-0.5 * (r / 550.0) ** 2)

    # ---- large scale ----
    def sea_level_pressure(self, lat: np.ndarray, lon: np.ndarray, t: float) -> np.ndarray:
        """Sea-level pressure (hPa)."""
        r = self.low_distance_km(lat, lon, t)
        depth = self.low_depth * (0.8 + 0.2 * math.sin(math.pi * t / 48.0))
        return 1013.5 - 0.45 * (lat - 40.0) + 0.15 * (lon + 100.0) - depth * np.exp(
            -0.5 * (r / 450.0) ** 2)

    def sea_level_tv(self, lat: np.ndarray, lon: np.ndarray, t: float) -> np.ndarray:
        """Large-scale virtual temperature extrapolated to sea level (K): cold core west of the low."""
        r = self.low_distance_km(lat, lon, t, lag_deg=1.5)
        return 301.0 - 0.55 * (lat - 40.0) - 0.02 * (lon + 100.0) - 3.0 * np.exp(
            -0.5 * (r / 650.0) ** 2)

    def local_solar_hour(self, lon: np.ndarray, t: float) -> np.ndarray:
        """Local solar time (h, 0..24)."""
        return np.mod(self.start_hour + t + lon / 15.0, 24.0)

    def diurnal_anomaly(self, lat: np.ndarray, lon: np.ndarray, t: float) -> np.ndarray:
        """Surface virtual temperature anomaly of the boundary layer (K), max at 15 LST."""
        dry = 0.5 * (1.0 + np.tanh((-103.0 - lon) / 3.0))
        amp = (5.0 + 2.5 * dry) * (1.0 - 0.6 * self.cloud(lat, lon, t))
        return amp * np.cos(2.0 * np.pi * (self.local_solar_hour(lon, t) - 15.0) / 24.0)

    def columns(self, lat: np.ndarray, lon: np.ndarray, h: np.ndarray,
                t: float) -> dict[str, np.ndarray]:
        """Return the 2-D fields that fix every column: P0, TS, D and surface pressure PS."""
        p0 = self.sea_level_pressure(lat, lon, t)
        ts = self.sea_level_tv(lat, lon, t)
        d = self.diurnal_anomaly(lat, lon, t)
        ps = p0 * (1.0 - _LAPSE * h / ts) ** (1.0 / _KAPPA)
        return {"P0": p0, "TS": ts, "D": d, "PS": ps}


def _stencil(lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points and their north, south, east, west neighbours, stacked on a new first axis."""
    d = _GRAD_STEP_DEG
    return (np.stack([lat, lat + d, lat - d, lat, lat]),
            np.stack([lon, lon, lon, lon + d, lon - d]))


def _gradients(w: _Weather, lat: np.ndarray, lon: np.ndarray, t: float,
               h_stencil: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray],
                                               dict[str, np.ndarray]]:
    """Column fields at the points and their eastward/northward gradients (per metre)."""
    cols = w.columns(*_stencil(lat, lon), h_stencil, t)
    cols["H"] = h_stencil
    dn = 2.0 * math.radians(_GRAD_STEP_DEG) * _R_EARTH_M
    de = dn * np.cos(np.radians(lat))
    here = {k: v[0] for k, v in cols.items()}
    grad_n = {k: (v[1] - v[2]) / dn for k, v in cols.items()}
    grad_e = {k: (v[3] - v[4]) / de for k, v in cols.items()}
    return here, grad_e, grad_n


def _column_state(p: np.ndarray, c: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Heights (m ASL), virtual temperature and dZ/d(P0, TS, D, PS) at pressures ``p`` (hPa)."""
    p0, ts, d, ps = c["P0"], c["TS"], c["D"], c["PS"]
    lnp = np.log(p)
    rk = np.exp(_KAPPA * (lnp - np.log(p0)))
    tv_ls = ts * rk
    strat = tv_ls < _T_TROP
    h_strat = _RD * _T_TROP / _G
    # ln(p_trop) = ln(P0) + ln(T_trop/TS)/kappa ; z_trop = (TS - T_trop)/lapse
    ln_ptrop = np.log(p0) + np.log(_T_TROP / ts) / _KAPPA
    z_ls = np.where(strat, (ts - _T_TROP) / _LAPSE + h_strat * (ln_ptrop - lnp),
                    ts / _LAPSE * (1.0 - rk))
    e = np.exp((lnp - np.log(ps)) / _DIURNAL_C)
    return {
        "Z": z_ls + (_RD / _G * _DIURNAL_C) * d * (1.0 - e),
        "TV": np.maximum(tv_ls, _T_TROP) + d * e,
        "dZ_dTS": np.where(strat, (1.0 - _T_TROP / ts) / _LAPSE, (1.0 - rk) / _LAPSE),
        "dZ_dP0": np.where(strat, h_strat / p0, (_KAPPA / _LAPSE) * tv_ls / p0),
        "dZ_dD": (_RD / _G * _DIURNAL_C) * (1.0 - e),
        "dZ_dPS": (_RD / _G) * d * e / ps,
    }


def _geostrophic(state: dict[str, np.ndarray], ge: dict[str, np.ndarray],
                 gn: dict[str, np.ndarray], f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Earth-relative geostrophic wind from the gradient of Z on the pressure surface."""
    keys = (("dZ_dTS", "TS"), ("dZ_dP0", "P0"), ("dZ_dD", "D"), ("dZ_dPS", "PS"))
    dz_e = sum(state[a] * ge[b] for a, b in keys)
    dz_n = sum(state[a] * gn[b] for a, b in keys)
    return -_G / f * dz_n, _G / f * dz_e


def _ekman(u: np.ndarray, v: np.ndarray, z: np.ndarray,
           depth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Slow and back (turn counter-clockwise, towards low pressure) the wind near the ground."""
    decay = np.exp(-np.maximum(z, 0.0) / depth)
    angle = math.radians(30.0) * decay
    speed = 1.0 - 0.6 * decay
    c, s = np.cos(angle), np.sin(angle)
    return speed * (u * c - v * s), speed * (u * s + v * c)


def _solar_sine(w: _Weather, lat: np.ndarray, lon: np.ndarray, t: float) -> np.ndarray:
    """Sine of the solar elevation."""
    doy = w.start_doy + (w.start_hour + t) / 24.0
    decl = math.radians(23.44) * math.sin(2.0 * math.pi * (doy - 81.0) / 365.0)
    hour_angle = np.radians((w.local_solar_hour(lon, t) - 12.0) * 15.0)
    phi = np.radians(lat)
    return np.sin(phi) * math.sin(decl) + np.cos(phi) * math.cos(decl) * np.cos(hour_angle)


def _hour_fields(w: _Weather, grid_geom: dict[str, np.ndarray], t: float,
                 sigma: np.ndarray) -> dict[str, np.ndarray]:
    """Every ARL field at one time, float64; upper fields shaped (level, y, x)."""
    lat, lon, rot = grid_geom["lat"], grid_geom["lon"], grid_geom["rot"]
    c, ge, gn = _gradients(w, lat, lon, t, grid_geom["h_stencil"])
    h, ps = c["H"], c["PS"]
    f = 2.0 * _OMEGA * np.sin(np.radians(lat))
    cloud = w.cloud(lat, lon, t)
    dry = 0.5 * (1.0 + np.tanh((-103.0 - lon) / 3.0))

    # surface wind first (the boundary layer depth depends on it at night)
    sfc = _column_state(ps, c)
    ug_s, vg_s = _geostrophic(sfc, ge, gn, f)
    speed_g = np.hypot(ug_s, vg_s)

    # boundary layer in local solar time: grows from 07, peaks near 15, collapses at 19
    lst = w.local_solar_hour(lon, t)
    tau = np.clip((lst - 7.0) / 12.0, 0.0, 1.0)
    growth = np.sin(np.pi * tau**1.5)
    night = 150.0 + 12.0 * speed_g
    pblh = np.maximum(night, 200.0 + 1900.0 * growth * (1.0 - 0.4 * cloud) * (0.85 + 0.3 * dry))
    ek_depth = 150.0 + 0.15 * pblh
    u10, v10 = _ekman(ug_s, vg_s, np.full_like(h, 10.0), ek_depth)
    wind10 = np.hypot(u10, v10)

    sin_e = np.maximum(_solar_sine(w, lat, lon, t), 0.0)
    dswf = 1361.0 * 0.78 * sin_e**1.1 * (1.0 - 0.65 * cloud)
    daylight = np.minimum(dswf / 100.0, 1.0)
    shtf = 0.30 * (0.7 + 0.6 * dry) * dswf - 20.0 * (1.0 - daylight)
    lhtf = 0.45 * (1.0 - 0.7 * dry) * dswf + 5.0
    z0 = 0.03 + 0.12 * np.clip((h - 1000.0) / 2000.0, 0.0, 1.0)
    ustr = np.maximum(0.4 * wind10 / np.log(10.0 / z0), 0.03) * (1.0 + 0.15 * daylight)
    r_low = w.low_distance_km(lat, lon, t, lag_deg=-1.0)
    tpp1 = 0.002 * np.exp(-0.5 * (r_low / 250.0) ** 2)

    # upper levels, in float32 (what the Dataset stores): 2-D inputs cast once so the 3-D
    # arithmetic is not promoted back to float64
    f4 = np.float32
    c4 = {k: v.astype(f4) for k, v in c.items()}
    ge4 = {k: v.astype(f4) for k, v in ge.items()}
    gn4 = {k: v.astype(f4) for k, v in gn.items()}
    p = (PTOP_HPA + (ps - PTOP_HPA) * sigma[:, None, None]).astype(f4)
    st = _column_state(p, c4)
    z_agl = st["Z"] - c4["H"]
    ug, vg = _geostrophic(st, ge4, gn4, f.astype(f4))
    u, v = _ekman(ug, vg, z_agl, ek_depth.astype(f4))

    q_s = ((0.004 + 0.008 * (1.0 - dry)) * (1.0 + 0.3 * cloud)).astype(f4)
    q = q_s * (p / c4["PS"]) ** 3
    es = np.exp(21.4 - 5351.0 / st["TV"])                 # hPa, physics.md 1.8
    q = np.minimum(q, 0.8 * 0.622 * es / p)
    temp = st["TV"] / (1.0 + 0.61 * q)
    t2m = sfc["TV"] / (1.0 + 0.61 * q[0])

    # vertical motion: orographic lifting of the surface flow + ascent ahead of the low
    lift = (u10 * ge["H"] + v10 * gn["H"]).astype(f4)
    w_oro = lift * np.exp(-np.maximum(z_agl, 0.0) / 1500.0)
    shape = np.sin(np.pi * (1.0 - sigma) / (1.0 - sigma[-1])).astype(f4)[:, None, None]
    w_low = 0.06 * np.exp(-0.5 * (r_low / 400.0) ** 2)
    w_sub = -0.02 * np.exp(-0.5 * (w.low_distance_km(lat, lon, t, lag_deg=7.0) / 500.0) ** 2)
    w_m = w_oro + (w_low + w_sub).astype(f4) * shape
    rho = p * 100.0 / (_RD * st["TV"])
    omega = -rho * _G * w_m / 100.0                        # hPa/s

    cos_r, sin_r = np.cos(rot), np.sin(rot)
    cos4, sin4 = cos_r.astype(f4), sin_r.astype(f4)
    return {
        "PRSS": ps, "SHGT": h, "T02M": t2m,
        "U10M": u10 * cos_r - v10 * sin_r, "V10M": u10 * sin_r + v10 * cos_r,
        "PBLH": pblh, "SHTF": shtf, "LHTF": lhtf, "USTR": ustr, "DSWF": dswf, "TPP1": tpp1,
        "PRES": p, "UWND": u * cos4 - v * sin4, "VWND": u * sin4 + v * cos4,
        "WWND": omega, "TEMP": temp, "SPHU": q, "HGTS": st["Z"],
    }


def _parse_start(start: str | np.datetime64) -> np.datetime64:
    try:
        t0 = np.datetime64(start, "m")
    except ValueError:
        raise ConfigError(f"start time {start!r} is not an ISO date-time such as "
                          "'2023-07-15T00:00'") from None
    if t0 != t0.astype("datetime64[h]"):
        raise ConfigError(f"start time {start!r} must be on the hour")
    return t0.astype("datetime64[h]")


def synthetic_met(start: str | np.datetime64 = "2023-07-15T00:00", hours: int = 48,
                  nx: int = 120, ny: int = 100, seed: int = 1) -> xr.Dataset:
    """Generate the synthetic met in memory, in the met Dataset layout of ``read_arl``.

    Parameters
    ----------
    start : str or numpy.datetime64
        First valid time (UTC, on the hour).
    hours : int
        Number of hourly times.
    nx, ny : int
        Grid size (15 km spacing, centred on 40N 101.5W).
    seed : int
        Seed of the terrain hills and of the low's track, speed and depth.

    Returns
    -------
    xarray.Dataset
        Surface fields ``(time, y, x)`` and upper fields ``(time, level, y, x)`` as float32,
        with the coordinates and attributes of the met Dataset contract (``arl_files`` empty).
    """
    t0 = _parse_start(start)
    if hours < 1 or nx < 3 or ny < 3:
        raise ConfigError(f"synthetic met needs hours >= 1 and nx, ny >= 3; got hours={hours}, "
                          f"nx={nx}, ny={ny}")
    return _build(t0, 0, hours, nx, ny, seed)


def _build(t0: np.datetime64, first: int, count: int, nx: int, ny: int,
           seed: int) -> xr.Dataset:
    """Hours ``first .. first+count-1`` after ``t0`` as a Dataset (the seed fixes the weather)."""
    import xarray as xr

    grid = synthetic_grid(nx, ny)
    w = _Weather.from_seed(seed, t0)
    lat, lon = grid.latlon_mesh()
    xi = np.arange(1, nx + 1, dtype=np.float64)
    yi = np.arange(1, ny + 1, dtype=np.float64)
    rot = grid.rotation(xi[None, :], yi[:, None])
    geom = {"lat": lat, "lon": lon, "rot": rot, "h_stencil": w.terrain(*_stencil(lat, lon))}
    sigma = np.asarray(SIGMA_LEVELS, dtype=np.float64)
    nz = sigma.size

    data = {k: np.empty((count, ny, nx), np.float32) for k in SURFACE_VARIABLES}
    data.update({k: np.empty((count, nz, ny, nx), np.float32) for k in UPPER_VARIABLES})
    for i in range(count):
        fields = _hour_fields(w, geom, float(first + i), sigma)
        for k, arr in data.items():
            arr[i] = fields[k]

    times = t0 + np.arange(first, first + count).astype("timedelta64[h]")
    coords: dict[str, Any] = {
        "time": ("time", times.astype("datetime64[ns]")),
        "level": ("level", np.arange(1, nz + 1, dtype=np.int32)),
        "y": ("y", np.arange(1, ny + 1, dtype=np.int32)),
        "x": ("x", np.arange(1, nx + 1, dtype=np.int32)),
        "level_value": ("level", sigma, {"long_name": "sigma of the level",
                                         "units": "1"}),
        "lat": (("y", "x"), lat, {"units": "degrees_north", "standard_name": "latitude"}),
        "lon": (("y", "x"), lon, {"units": "degrees_east", "standard_name": "longitude"}),
        "forecast_hour": ("time", np.zeros(count, np.int32), {"units": "h"}),
    }
    variables = {}
    for k, arr in data.items():
        dims = ("time", "y", "x") if arr.ndim == 3 else ("time", "level", "y", "x")
        variables[k] = (dims, arr, variable_attrs(k, latlon_grid=False))
    attrs: dict[str, Any] = {
        "source": SOURCE,
        "vertical_system": 1,
        "vertical_system_name": "sigma",
        "surface_level_value": 1.0,
        **grid.to_attrs(),
        "arl_files": [],
        "title": f"stilt synthetic HRRR-like met (seed {seed})",
    }
    return xr.Dataset(variables, coords=coords, attrs=attrs)


def synthetic_file_name(first: np.datetime64, last: np.datetime64) -> str:
    """File name of an archive file, HRRR-archive style: ``YYYYMMDD_HH-HH_synt.arl``.

    Parameters
    ----------
    first, last : numpy.datetime64
        First and last valid time in the file.

    Returns
    -------
    str
        E.g. ``20230715_00-05_synt.arl`` for 00 to 05 UTC on 15 July 2023.
    """
    day = str(np.datetime64(first, "D")).replace("-", "")
    h0 = int((np.datetime64(first, "h") - np.datetime64(first, "D")) / np.timedelta64(1, "h"))
    h1 = int((np.datetime64(last, "h") - np.datetime64(last, "D")) / np.timedelta64(1, "h"))
    return f"{day}_{h0:02d}-{h1:02d}_synt.arl"


def synthetic_met_files(start: str | np.datetime64 = "2023-07-15T00:00", hours: int = 48,
                        file_hours: int = 6, nx: int = 120, ny: int = 100,
                        seed: int = 1) -> list[tuple[str, xr.Dataset]]:
    """Split the synthetic set into archive files, in memory: ``[(file name, Dataset), ...]``.

    Parameters
    ----------
    start, hours, nx, ny, seed
        As :func:`synthetic_met`.
    file_hours : int
        Hours per file (HRRR archive files hold 6); the last file may hold fewer.

    Returns
    -------
    list of (str, xarray.Dataset)
        One entry per file, in time order.
    """
    return list(_iter_files(start, hours, file_hours, nx, ny, seed))


def _iter_files(start: str | np.datetime64, hours: int, file_hours: int, nx: int, ny: int,
                seed: int) -> Iterator[tuple[str, xr.Dataset]]:
    t0 = _parse_start(start)
    if hours < 1 or file_hours < 1 or nx < 3 or ny < 3:
        raise ConfigError(f"synthetic met needs hours, file_hours >= 1 and nx, ny >= 3; got "
                          f"hours={hours}, file_hours={file_hours}, nx={nx}, ny={ny}")
    for first in range(0, hours, file_hours):
        count = min(file_hours, hours - first)
        ds = _build(t0, first, count, nx, ny, seed)
        name = synthetic_file_name(ds["time"].values[0], ds["time"].values[-1])
        yield name, ds


def generate_synthetic_met(directory: str | os.PathLike[str],
                           start: str = "2023-07-15T00:00", hours: int = 48,
                           file_hours: int = 6, nx: int = 120, ny: int = 100,
                           seed: int = 1) -> list[Path]:
    """Write the synthetic HRRR-like met as ARL files into ``directory``.

    Each file is built and written in turn (memory stays at one file's worth) with
    :func:`stilt.met.write_arl`, which writes a temporary name in the same folder and renames
    it when complete.

    Parameters
    ----------
    directory : path-like
        Output folder (created if missing).
    start : str
        First valid time (UTC, on the hour), e.g. ``"2023-07-15T00:00"``.
    hours : int
        Number of hourly times.
    file_hours : int
        Hours per file; files are named ``YYYYMMDD_HH-HH_synt.arl``.
    nx, ny : int
        Grid size (15 km spacing).
    seed : int
        Seed of the terrain hills and of the low.

    Returns
    -------
    list of pathlib.Path
        The files written, in time order.
    """
    from stilt.met.arl import write_arl

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for name, ds in _iter_files(start, hours, file_hours, nx, ny, seed):
        final = out / name
        write_arl(ds, final)                      # atomic: temporary name, then rename
        paths.append(final)
    return paths
