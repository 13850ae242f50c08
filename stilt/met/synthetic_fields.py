"""One hour of the synthetic met: the closed-form weather as the fields of a met family.

:func:`hour_fields` evaluates the weather of :mod:`stilt.met.synthetic_weather` on the grid at
the pressures of a vertical coordinate (:mod:`stilt.met.synthetic_levels`) and returns the
fields a family's files carry (:data:`SURFACE_SETS`, :data:`UPPER_SETS`), each derived from the
same state so that the families describe the same weather:

* ``RELH``/``RH2M`` from the specific humidity, temperature and pressure
  (``RH = 100 q p / (0.622 es(T))``, ``es = exp(21.4 - 5351/T)`` hPa, docs/physics.md §2.6);
* ``UMOF``/``VMOF`` = ``rho u*^2`` along the 10-m wind (grid-relative), ``EXCO`` =
  ``rho u*^2 / |U10|``, ``TSTR`` = ``-SHTF / (rho cp u*)`` with the surface air density;
* ``DZDT`` the geometric vertical velocity (m/s, positive up) of which ``WWND`` is the
  pressure form ``-rho g w``;
* ``TMPS`` the skin temperature: ``T02M + 0.012 SHTF`` over land (warmer by day, slightly
  cooler at night), the sea-surface temperature over the sea;
* ``TPP1/TPP3/TPP6/TPPT`` the precipitation of the last 1, 3, 6 and 1 hours (m).

Over the sea (:meth:`Weather.is_sea`) the boundary layer is marine: PBLH 400-700 m from the
wind, roughness 0.2 mm, bulk sensible and latent heat fluxes from the sea-surface temperature,
no convective gust factor on u*.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from stilt.met.synthetic_levels import VerticalLevels
from stilt.met.synthetic_weather import (
    G,
    OMEGA,
    RD,
    Weather,
    column_state,
    ekman,
    geostrophic,
    gradients,
    solar_sine,
)

__all__ = ["SURFACE_SETS", "UPPER_SETS", "family_variables", "hour_fields", "surface_state",
           "upper_state"]

#: Surface fields each family writes, in file order.
SURFACE_SETS: dict[str, tuple[str, ...]] = {
    "hrrr": ("PRSS", "SHGT", "T02M", "U10M", "V10M", "PBLH", "SHTF", "LHTF", "USTR", "DSWF",
             "TPP1"),
    "gdas": ("PRSS", "MSLP", "TPP6", "UMOF", "VMOF", "SHTF", "LHTF", "DSWF", "RH2M", "U10M",
             "V10M", "T02M", "TCLD", "SHGT", "PBLH", "TMPS"),
    "nam": ("SHGT", "MSLP", "TPP3", "T02M", "RH2M", "U10M", "V10M", "PRSS", "LHTF", "SHTF",
            "USTR", "RGHS", "DSWF"),
    "ngm": ("PRSS", "MSLP", "SHGT", "TPPT", "EXCO", "HFLX"),
    "wrf": ("PRSS", "SHGT", "T02M", "U10M", "V10M", "USTR", "TSTR", "PBLH", "SHTF", "LHTF",
            "TPP1"),
}
#: Upper fields each family writes, in file order (before the vertical coordinate's needs).
UPPER_SETS: dict[str, tuple[str, ...]] = {
    "hrrr": ("PRES", "UWND", "VWND", "WWND", "TEMP", "SPHU"),
    "gdas": ("HGTS", "TEMP", "UWND", "VWND", "WWND", "RELH"),
    "nam": ("UWND", "VWND", "HGTS", "TEMP", "WWND", "RELH"),
    "ngm": ("UWND", "VWND", "WWND", "TEMP", "SPHU"),
    "wrf": ("PRES", "UWND", "VWND", "DZDT", "TEMP", "SPHU"),
}

CP = 1005.0                 # J/(kg K), as docs/physics.md §1.2
LV = 2.5e6                  # J/kg
BULK_CH = 1.2e-3            # bulk transfer coefficient over the sea
Z0_SEA_M = 2.0e-4
SKIN_K_PER_WM2 = 0.012      # land skin minus 2-m temperature per W/m2 of sensible heat


def family_variables(vertical: VerticalLevels,
                     surface: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Surface and upper variables of a family on a vertical coordinate.

    The family's own sets, plus ``PRES`` first where the coordinate needs it (height and
    WRF levels) and ``HGTS`` last on pressure levels.

    Parameters
    ----------
    vertical : VerticalLevels
        The vertical coordinate.
    surface : str
        Key of :data:`SURFACE_SETS`.

    Returns
    -------
    surface_names, upper_names : tuple of str
        ARL names in file order.
    """
    upper = UPPER_SETS[surface]
    if vertical.name in ("height", "wrf") and "PRES" not in upper:
        upper = ("PRES", *upper)
    if vertical.name == "pressure" and "HGTS" not in upper:
        upper = (*upper, "HGTS")
    return SURFACE_SETS[surface], upper


def hour_fields(w: Weather, geom: dict[str, np.ndarray], t: float, vertical: VerticalLevels,
                names: Sequence[str]) -> dict[str, np.ndarray]:
    """Evaluate the fields ``names`` at one time: surface ``(y, x)``, upper ``(level, y, x)``.

    Parameters
    ----------
    w : Weather
        The weather.
    geom : dict of str to numpy.ndarray
        ``lat``, ``lon``, ``rot`` (grid rotation, radians) and ``h_stencil`` (terrain on the
        gradient stencil).
    t : float
        Hours since the first time.
    vertical : VerticalLevels
        The vertical coordinate.
    names : sequence of str
        ARL names wanted (keys of the derivations of the families).

    Returns
    -------
    dict of str to numpy.ndarray
        One array per name.
    """
    s = surface_state(w, geom, t)
    up = upper_state(w, s, vertical)
    _near_surface(w, s, up)
    return {name: _FIELDS[name](s, up) for name in names}


def surface_state(w: Weather, geom: dict[str, np.ndarray], t: float) -> dict[str, Any]:
    """2-D state at one time (float64): columns, 10-m wind, boundary layer, land fluxes.

    Parameters
    ----------
    w : Weather
        The weather.
    geom : dict of str to numpy.ndarray
        As :func:`hour_fields`.
    t : float
        Hours since the first time.

    Returns
    -------
    dict of str to Any
        Column fields ``c`` and gradients ``ge``/``gn``, ``f``, ``cloud``, ``dry``, ``sea``,
        ``TV_S``, ``PBLH``, ``ek_depth``, earth-relative ``u10``/``v10``, ``wind10`` and the
        land surface fluxes, plus the inputs ``w``, ``t``, ``lat``, ``lon``, ``rot``.
    """
    lat, lon = geom["lat"], geom["lon"]
    c, ge, gn = gradients(w, lat, lon, t, geom["h_stencil"])
    f = 2.0 * OMEGA * np.sin(np.radians(lat))
    s: dict[str, Any] = {"w": w, "t": t, "lat": lat, "lon": lon, "rot": geom["rot"], "c": c,
                         "ge": ge, "gn": gn, "f": f, "cloud": w.cloud(lat, lon, t),
                         "dry": w.dry_share(lon), "sea": w.is_sea(lon)}
    # surface wind first (the boundary layer depth depends on it at night)
    sfc = column_state(c["PS"], c)
    s["TV_S"] = sfc["TV"]
    ug_s, vg_s = geostrophic(sfc, ge, gn, f)
    s["PBLH"] = _pblh(s, np.hypot(ug_s, vg_s))
    s["ek_depth"] = 150.0 + 0.15 * s["PBLH"]
    s["u10"], s["v10"] = ekman(ug_s, vg_s, np.full_like(c["H"], 10.0), s["ek_depth"])
    s["wind10"] = np.hypot(s["u10"], s["v10"])
    s.update(_land_fluxes(s))
    return s


def _pblh(s: dict[str, Any], speed_g: np.ndarray) -> np.ndarray:
    """Mixed-layer depth (m).

    Over land in local solar time: grows from 07, peaks near 15, collapses at 19, and is
    wind-driven at night; over the sea 400-700 m from the wind.
    """
    lst = s["w"].local_solar_hour(s["lon"], s["t"])
    tau = np.clip((lst - 7.0) / 12.0, 0.0, 1.0)
    growth = np.sin(np.pi * tau**1.5)
    night = 150.0 + 12.0 * speed_g
    land = np.maximum(night, 200.0 + 1900.0 * growth * (1.0 - 0.4 * s["cloud"])
                      * (0.85 + 0.3 * s["dry"]))
    return np.where(s["sea"], np.clip(400.0 + 12.0 * speed_g, 400.0, 700.0), land)


def _land_fluxes(s: dict[str, Any]) -> dict[str, np.ndarray]:
    """DSWF, SHTF, LHTF (land formulas; the sea's follow in :func:`_near_surface`), z0, u*."""
    dry, sea = s["dry"], s["sea"]
    sin_e = np.maximum(solar_sine(s["w"], s["lat"], s["lon"], s["t"]), 0.0)
    dswf = 1361.0 * 0.78 * sin_e**1.1 * (1.0 - 0.65 * s["cloud"])
    daylight = np.minimum(dswf / 100.0, 1.0)
    shtf = 0.30 * (0.7 + 0.6 * dry) * dswf - 20.0 * (1.0 - daylight)
    lhtf = 0.45 * (1.0 - 0.7 * dry) * dswf + 5.0
    z0 = np.where(sea, Z0_SEA_M, 0.03 + 0.12 * np.clip((s["c"]["H"] - 1000.0) / 2000.0,
                                                       0.0, 1.0))
    gust = np.where(sea, 1.0, 1.0 + 0.15 * daylight)
    ustr = np.maximum(0.4 * s["wind10"] / np.log(10.0 / z0), 0.03) * gust
    return {"DSWF": dswf, "SHTF": shtf, "LHTF": lhtf, "RGHS": z0, "USTR": ustr}


def upper_state(w: Weather, s: dict[str, Any], vertical: VerticalLevels) -> dict[str, Any]:
    """Level state (float32, ``(level, y, x)``): pressure, height, winds, humidity, ascent.

    Parameters
    ----------
    w : Weather
        The weather.
    s : dict of str to Any
        :func:`surface_state` at the same time.
    vertical : VerticalLevels
        The vertical coordinate.

    Returns
    -------
    dict of str to Any
        ``p`` (hPa), ``Z`` (m ASL), ``TV``, earth-relative ``u``/``v``, ``q`` (kg/kg),
        ``temp`` (K), ``w`` (m/s, positive up) and ``ps4`` (float32 surface pressure).
    """
    # 2-D inputs cast once so the 3-D arithmetic is not promoted back to float64
    f4 = np.float32
    c4 = {k: v.astype(f4) for k, v in s["c"].items()}
    ge4 = {k: v.astype(f4) for k, v in s["ge"].items()}
    gn4 = {k: v.astype(f4) for k, v in s["gn"].items()}
    p = vertical.pressures(s["c"], c4)
    st = column_state(p, c4)
    z_agl = st["Z"] - c4["H"]
    ug, vg = geostrophic(st, ge4, gn4, s["f"].astype(f4))
    u, v = ekman(ug, vg, z_agl, s["ek_depth"].astype(f4))
    q_s = ((0.004 + 0.008 * (1.0 - s["dry"])) * (1.0 + 0.3 * s["cloud"])).astype(f4)
    q = q_s * (p / c4["PS"]) ** 3
    es = np.exp(21.4 - 5351.0 / st["TV"])                 # hPa, docs/physics.md §2.6
    q = np.minimum(q, 0.8 * 0.622 * es / p)
    return {"p": p, "Z": st["Z"], "TV": st["TV"], "u": u, "v": v, "q": q,
            "temp": st["TV"] / (1.0 + 0.61 * q), "ps4": c4["PS"],
            "w": _vertical_motion(w, s, vertical, p, c4["PS"], z_agl)}


def _vertical_motion(w: Weather, s: dict[str, Any], vertical: VerticalLevels, p: np.ndarray,
                     ps4: np.ndarray, z_agl: np.ndarray) -> np.ndarray:
    """Vertical velocity (m/s, positive up).

    Orographic lifting of the surface flow, plus ascent ahead of the low and subsidence
    behind it.
    """
    f4 = np.float32
    lat, lon, t = s["lat"], s["lon"], s["t"]
    lift = (s["u10"] * s["ge"]["H"] + s["v10"] * s["gn"]["H"]).astype(f4)
    w_oro = lift * np.exp(-np.maximum(z_agl, 0.0) / 1500.0)
    shape = vertical.ascent_shape(p, ps4)
    r_low = w.low_distance_km(lat, lon, t, lag_deg=-1.0)
    w_low = 0.06 * np.exp(-0.5 * (r_low / 400.0) ** 2)
    w_sub = -0.02 * np.exp(-0.5 * (w.low_distance_km(lat, lon, t, lag_deg=7.0) / 500.0) ** 2)
    return w_oro + (w_low + w_sub).astype(f4) * shape


def _near_surface(w: Weather, s: dict[str, Any], up: dict[str, Any]) -> None:
    """Add T02M, the near-surface humidity, the air density and the sea's fluxes to ``s``.

    The near-surface humidity is that of the lowest level above the ground.
    """
    above = up["p"] <= up["ps4"]
    k0 = np.argmax(above, axis=0)[None]
    q_near = np.take_along_axis(up["q"], k0, axis=0)[0]
    ps, sea = s["c"]["PS"], s["sea"]
    t2m = s["TV_S"] / (1.0 + 0.61 * q_near)
    s.update(q_near=q_near, T02M=t2m, rho=ps * 100.0 / (RD * s["TV_S"]))
    sst = w.sst(s["lat"])
    bulk = s["rho"] * BULK_CH * s["wind10"]
    s["SHTF"] = np.where(sea, bulk * CP * (sst - t2m), s["SHTF"])
    q_sea = 0.622 * _es_hpa(sst) / ps
    s["LHTF"] = np.where(sea, bulk * LV * np.maximum(q_sea - q_near, 0.0), s["LHTF"])
    s["TMPS"] = np.where(sea, sst, t2m + SKIN_K_PER_WM2 * s["SHTF"])


def _es_hpa(temp: np.ndarray) -> np.ndarray:
    """Saturation vapour pressure (hPa) as HYSPLIT computes it (docs/physics.md §2.6)."""
    return np.exp(21.4 - 5351.0 / temp)


def _to_grid(u: np.ndarray, v: np.ndarray, rot: np.ndarray,
             dtype: type = np.float64) -> tuple[np.ndarray, np.ndarray]:
    """Earth-relative to grid-relative wind components (ARL conformal grids)."""
    cos_r, sin_r = np.cos(rot).astype(dtype), np.sin(rot).astype(dtype)
    return u * cos_r - v * sin_r, u * sin_r + v * cos_r


def _precip(s: dict[str, Any], hours: int) -> np.ndarray:
    """Precipitation (m) over the ``hours`` hours ending at the valid time."""
    total = s["w"].hourly_precip(s["lat"], s["lon"], s["t"])
    for k in range(1, hours):
        total = total + s["w"].hourly_precip(s["lat"], s["lon"], s["t"] - k)
    return total


def _stress(s: dict[str, Any]) -> np.ndarray:
    """Surface stress magnitude rho u*^2 (N/m2)."""
    return s["rho"] * s["USTR"] ** 2


def _momentum_flux(s: dict[str, Any], component: int) -> np.ndarray:
    """UMOF/VMOF: rho u*^2 along the grid-relative 10-m wind (positive with the wind)."""
    wind = _to_grid(s["u10"], s["v10"], s["rot"])[component]
    return _stress(s) * wind / np.maximum(s["wind10"], 1e-6)


_Field = Callable[[dict[str, Any], dict[str, Any]], np.ndarray]

_FIELDS: dict[str, _Field] = {
    # surface
    "PRSS": lambda s, up: s["c"]["PS"],
    "SHGT": lambda s, up: s["c"]["H"],
    "MSLP": lambda s, up: s["c"]["P0"],
    "T02M": lambda s, up: s["T02M"],
    "TMPS": lambda s, up: s["TMPS"],
    "RH2M": lambda s, up: 100.0 * s["q_near"] * s["c"]["PS"] / (0.622 * _es_hpa(s["T02M"])),
    "U10M": lambda s, up: _to_grid(s["u10"], s["v10"], s["rot"])[0],
    "V10M": lambda s, up: _to_grid(s["u10"], s["v10"], s["rot"])[1],
    "PBLH": lambda s, up: s["PBLH"],
    "SHTF": lambda s, up: s["SHTF"],
    "HFLX": lambda s, up: s["SHTF"],
    "LHTF": lambda s, up: s["LHTF"],
    "USTR": lambda s, up: s["USTR"],
    "TSTR": lambda s, up: -s["SHTF"] / (s["rho"] * CP * s["USTR"]),
    "UMOF": lambda s, up: _momentum_flux(s, 0),
    "VMOF": lambda s, up: _momentum_flux(s, 1),
    "EXCO": lambda s, up: _stress(s) / np.maximum(s["wind10"], 0.1),
    "RGHS": lambda s, up: s["RGHS"],
    "DSWF": lambda s, up: s["DSWF"],
    "TCLD": lambda s, up: 100.0 * s["cloud"],
    "TPP1": lambda s, up: _precip(s, 1),
    "TPPT": lambda s, up: _precip(s, 1),
    "TPP3": lambda s, up: _precip(s, 3),
    "TPP6": lambda s, up: _precip(s, 6),
    # upper
    "PRES": lambda s, up: up["p"],
    "HGTS": lambda s, up: up["Z"],
    "UWND": lambda s, up: _to_grid(up["u"], up["v"], s["rot"], np.float32)[0],
    "VWND": lambda s, up: _to_grid(up["u"], up["v"], s["rot"], np.float32)[1],
    "WWND": lambda s, up: -(up["p"] * 100.0 / (RD * up["TV"])) * G * up["w"] / 100.0,
    "DZDT": lambda s, up: up["w"],
    "TEMP": lambda s, up: up["temp"],
    "SPHU": lambda s, up: up["q"],
    "RELH": lambda s, up: 100.0 * up["q"] * up["p"] / (0.622 * _es_hpa(up["temp"])),
}
