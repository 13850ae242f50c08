"""Synthetic meteorology in the ARL families real users bring (HRRR-like by default).

The generator builds a multi-day hourly Lambert-conformal set (15 km, centred on 40N
101.5W by default, cone tangent 1.5 degrees south of the centre like HRRR) from closed-form,
physically consistent fields (:mod:`stilt.met.synthetic_weather`):

* terrain rising westward to a north-south ridge, plus seeded hills; optionally a sea east of
  a coast longitude (flat, constant sea-surface temperature, marine boundary layer);
* a moving surface low with a cold core over a warm-south / cold-north background;
* a hydrostatic atmosphere: virtual temperature falls at 6.5 K/km up to a 215 K tropopause,
  plus a diurnal boundary-layer anomaly, so heights come in closed form at any pressure;
* geostrophic winds from those heights on pressure surfaces (shear with height through the
  thermal wind), turned and slowed towards the surface in an Ekman layer whose depth follows
  the boundary layer, then rotated to the grid (ARL winds are grid-relative);
* a diurnal boundary layer in local solar time (PBLH, SHTF, LHTF, USTR, DSWF), T02M,
  U10M/V10M, PRSS from the terrain, precipitation near the low, vertical motion from
  orographic lifting and ascent ahead of the low.

The same weather is written on one of five vertical coordinates (``vertical``: sigma,
pressure, height, hybrid, wrf; :mod:`stilt.met.synthetic_levels`) with the field set of one
of five families (``surface``: hrrr, gdas, nam, ngm, wrf; :mod:`stilt.met.synthetic_fields`).
The defaults (sigma, hrrr, centre 40N 101.5W, no sea) give the HRRR-like set: sigma levels
(ARL vertical system 1, PTOP = 50 hPa in the RESERVED field) with a PRES field on every level.

See ``docs/met.md`` (section "Synthetic meteorology").
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
from stilt.met.arl import VERTICAL_SYSTEMS, variable_attrs
from stilt.met.projection import ArlGrid
from stilt.met.synthetic_fields import SURFACE_SETS, UPPER_SETS, family_variables, hour_fields
from stilt.met.synthetic_levels import PTOP_HPA, SIGMA_LEVELS, VERTICALS
from stilt.met.synthetic_weather import (
    CENTER_LAT,
    CENTER_LON,
    Weather,
    sea_surface_temperature,
    stencil,
)

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["FAMILIES", "PTOP_HPA", "SIGMA_LEVELS", "SOURCE", "SURFACE_VARIABLES",
           "UPPER_VARIABLES", "VERTICAL_NAMES", "generate_synthetic_met",
           "sea_surface_temperature", "synthetic_file_name", "synthetic_grid", "synthetic_met",
           "synthetic_met_files"]

#: 4-character data source id written in the index records.
SOURCE = "SYNT"
#: Field sets (``surface=``) and vertical coordinates (``vertical=``) the generator writes.
FAMILIES: tuple[str, ...] = tuple(SURFACE_SETS)
VERTICAL_NAMES: tuple[str, ...] = tuple(VERTICALS)
#: Variables of the default (HRRR-like) family.
SURFACE_VARIABLES: tuple[str, ...] = SURFACE_SETS["hrrr"]
UPPER_VARIABLES: tuple[str, ...] = UPPER_SETS["hrrr"]
#: Range of centre latitudes the weather is meant for (northern mid-latitudes).
CENTER_LAT_RANGE = (25.0, 65.0)


def synthetic_grid(nx: int = 120, ny: int = 100, center_lat: float = CENTER_LAT,
                   center_lon: float = CENTER_LON, reserved: float = PTOP_HPA) -> ArlGrid:
    """Return the generator's grid: Lambert conformal, 15 km, centred on the given point.

    The cone is tangent 1.5 degrees south of the centre and its reference meridian 4 degrees
    east of it (38.5N and 97.5W for the default centre 40N 101.5W, the HRRR projection).

    Parameters
    ----------
    nx, ny : int
        Grid size.
    center_lat, center_lon : float
        Grid centre (degrees).
    reserved : float
        The RESERVED grid parameter (PTOP = 50 hPa of the sigma levels by default).

    Returns
    -------
    ArlGrid
        The grid.
    """
    grid = ArlGrid.lambert(tang_lat=center_lat - 1.5, ref_lon=center_lon + 4.0,
                           grid_size_km=15.0, nx=nx, ny=ny, center_lat=center_lat,
                           center_lon=center_lon)
    return dataclasses.replace(grid, reserved=reserved)


@dataclasses.dataclass(frozen=True)
class _Family:
    """What to write: vertical coordinate, field set, where the weather is, the coast."""

    vertical: str = "sigma"
    surface: str = "hrrr"
    center_lat: float = CENTER_LAT
    center_lon: float = CENTER_LON
    sea_east_of: float | None = None


def _family(vertical: str, surface: str, center_lat: float, center_lon: float,
            sea_east_of: float | None) -> _Family:
    """Check the family arguments and bundle them."""
    if vertical not in VERTICALS:
        raise ConfigError(f"vertical {vertical!r} is not one of {', '.join(VERTICALS)}")
    if surface not in SURFACE_SETS:
        raise ConfigError(f"surface {surface!r} is not one of {', '.join(SURFACE_SETS)}")
    lo, hi = CENTER_LAT_RANGE
    if not lo <= center_lat <= hi:
        raise ConfigError(f"center_lat {center_lat} is outside {lo:g}..{hi:g}: the synthetic "
                          "weather is laid out for the northern mid-latitudes")
    if not -180.0 <= center_lon <= 180.0:
        raise ConfigError(f"center_lon {center_lon} is outside -180..180")
    if sea_east_of is not None and not math.isfinite(sea_east_of):
        raise ConfigError(f"sea_east_of {sea_east_of} is not a longitude")
    return _Family(vertical, surface, float(center_lat), float(center_lon),
                   None if sea_east_of is None else float(sea_east_of))


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
                  nx: int = 120, ny: int = 100, seed: int = 1, *, vertical: str = "sigma",
                  surface: str = "hrrr", center_lat: float = CENTER_LAT,
                  center_lon: float = CENTER_LON,
                  sea_east_of: float | None = None) -> xr.Dataset:
    """Generate the synthetic met in memory, in the met Dataset layout of ``read_arl``.

    Parameters
    ----------
    start : str or numpy.datetime64
        First valid time (UTC, on the hour).
    hours : int
        Number of hourly times.
    nx, ny : int
        Grid size (15 km spacing).
    seed : int
        Seed of the terrain hills and of the low's track, speed and depth.
    vertical : str, optional
        Vertical coordinate (ARL vertical system): ``sigma`` (1, the default), ``pressure``
        (2, GDAS levels with geopotential heights, also below the ground), ``height`` (3,
        terrain-following heights in metres with a PRES field), ``hybrid`` (4, offset +
        sigma packed in the level value) or ``wrf`` (5, WRF eta with P_TOP in RESERVED and a
        PRES field).
    surface : str, optional
        Field set of a met family: ``hrrr`` (the default), ``gdas``, ``nam``, ``ngm`` or
        ``wrf`` (see ``stilt.met.synthetic_fields.SURFACE_SETS`` and ``UPPER_SETS``).
    center_lat, center_lon : float, optional
        Grid centre (degrees, latitude 25..65); the weather moves with it.
    sea_east_of : float, optional
        Longitude (degrees east) of a north-south coast: sea east of it (terrain 0, constant
        sea-surface temperature, marine boundary layer). No sea by default.

    Returns
    -------
    xarray.Dataset
        Surface fields ``(time, y, x)`` and upper fields ``(time, level, y, x)`` as float32,
        with the coordinates and attributes of the met Dataset contract (``arl_files`` empty).

    Raises
    ------
    ConfigError
        For a bad start time, size, or family argument.
    """
    t0 = _parse_start(start)
    fam = _family(vertical, surface, center_lat, center_lon, sea_east_of)
    if hours < 1 or nx < 3 or ny < 3:
        raise ConfigError(f"synthetic met needs hours >= 1 and nx, ny >= 3; got hours={hours}, "
                          f"nx={nx}, ny={ny}")
    return _build(t0, 0, hours, nx, ny, seed, fam)


def _build(t0: np.datetime64, first: int, count: int, nx: int, ny: int, seed: int,
           fam: _Family) -> xr.Dataset:
    """Hours ``first .. first+count-1`` after ``t0`` as a Dataset (the seed fixes the weather)."""
    import xarray as xr

    vertical = VERTICALS[fam.vertical]
    grid = synthetic_grid(nx, ny, fam.center_lat, fam.center_lon, vertical.reserved)
    w = Weather.from_seed(seed, t0, fam.center_lat, fam.center_lon, fam.sea_east_of)
    lat, lon = grid.latlon_mesh()
    if np.ptp(lon) > 180.0:
        raise ConfigError(f"the synthetic grid centred on {fam.center_lat}, {fam.center_lon} "
                          "crosses the date line; move the centre")
    xi = np.arange(1, nx + 1, dtype=np.float64)
    yi = np.arange(1, ny + 1, dtype=np.float64)
    geom = {"lat": lat, "lon": lon, "rot": grid.rotation(xi[None, :], yi[:, None]),
            "h_stencil": w.terrain(*stencil(lat, lon))}
    surf_names, upper_names = family_variables(vertical, fam.surface)
    nz = len(vertical.values)
    data = {k: np.empty((count, ny, nx), np.float32) for k in surf_names}
    data.update({k: np.empty((count, nz, ny, nx), np.float32) for k in upper_names})
    for i in range(count):
        fields = hour_fields(w, geom, float(first + i), vertical, list(data))
        for k, arr in data.items():
            arr[i] = fields[k]

    times = t0 + np.arange(first, first + count).astype("timedelta64[h]")
    coords: dict[str, Any] = {
        "time": ("time", times.astype("datetime64[ns]")),
        "level": ("level", np.arange(1, nz + 1, dtype=np.int32)),
        "y": ("y", np.arange(1, ny + 1, dtype=np.int32)),
        "x": ("x", np.arange(1, nx + 1, dtype=np.int32)),
        "level_value": ("level", np.asarray(vertical.values, dtype=np.float64),
                        {"long_name": vertical.long_name, "units": vertical.units}),
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
        "vertical_system": vertical.ksys,
        "vertical_system_name": VERTICAL_SYSTEMS[vertical.ksys],
        "surface_level_value": vertical.surface_value,
        **grid.to_attrs(),
        "arl_files": [],
        "title": _title(fam, seed),
    }
    return xr.Dataset(variables, coords=coords, attrs=attrs)


def _title(fam: _Family, seed: int) -> str:
    """Dataset title: ``stilt synthetic HRRR-like met (seed 1)`` for the defaults."""
    where = "" if fam.vertical == "sigma" else f", {fam.vertical} levels"
    if (fam.center_lat, fam.center_lon) != (CENTER_LAT, CENTER_LON):
        where += f", centred on {fam.center_lat:g}, {fam.center_lon:g}"
    if fam.sea_east_of is not None:
        where += f", sea east of {fam.sea_east_of:g}"
    return f"stilt synthetic {fam.surface.upper()}-like met (seed {seed}{where})"


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
                        file_hours: int = 6, nx: int = 120, ny: int = 100, seed: int = 1, *,
                        vertical: str = "sigma", surface: str = "hrrr",
                        center_lat: float = CENTER_LAT, center_lon: float = CENTER_LON,
                        sea_east_of: float | None = None) -> list[tuple[str, xr.Dataset]]:
    """Split the synthetic set into archive files, in memory: ``[(file name, Dataset), ...]``.

    Parameters
    ----------
    start, hours, nx, ny, seed
        As :func:`synthetic_met`.
    file_hours : int
        Hours per file (HRRR archive files hold 6); the last file may hold fewer.
    vertical, surface, center_lat, center_lon, sea_east_of
        As :func:`synthetic_met`.

    Returns
    -------
    list of (str, xarray.Dataset)
        One entry per file, in time order.
    """
    fam = _family(vertical, surface, center_lat, center_lon, sea_east_of)
    return list(_iter_files(start, hours, file_hours, nx, ny, seed, fam))


def _iter_files(start: str | np.datetime64, hours: int, file_hours: int, nx: int, ny: int,
                seed: int, fam: _Family) -> Iterator[tuple[str, xr.Dataset]]:
    t0 = _parse_start(start)
    if hours < 1 or file_hours < 1 or nx < 3 or ny < 3:
        raise ConfigError(f"synthetic met needs hours, file_hours >= 1 and nx, ny >= 3; got "
                          f"hours={hours}, file_hours={file_hours}, nx={nx}, ny={ny}")
    for first in range(0, hours, file_hours):
        count = min(file_hours, hours - first)
        ds = _build(t0, first, count, nx, ny, seed, fam)
        name = synthetic_file_name(ds["time"].values[0], ds["time"].values[-1])
        yield name, ds


def generate_synthetic_met(directory: str | os.PathLike[str],
                           start: str = "2023-07-15T00:00", hours: int = 48,
                           file_hours: int = 6, nx: int = 120, ny: int = 100,
                           seed: int = 1, *, vertical: str = "sigma", surface: str = "hrrr",
                           center_lat: float = CENTER_LAT, center_lon: float = CENTER_LON,
                           sea_east_of: float | None = None) -> list[Path]:
    """Write the synthetic met as ARL files into ``directory``.

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
    vertical, surface, center_lat, center_lon, sea_east_of
        As :func:`synthetic_met`.

    Returns
    -------
    list of pathlib.Path
        The files written, in time order.
    """
    from stilt.met.arl import write_arl

    fam = _family(vertical, surface, center_lat, center_lon, sea_east_of)
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for name, ds in _iter_files(start, hours, file_hours, nx, ny, seed, fam):
        final = out / name
        write_arl(ds, final)                      # atomic: temporary name, then rename
        paths.append(final)
    return paths
