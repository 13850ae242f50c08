"""Footprints: the kernel-smoothed surface influence grid of a particle ensemble.

The algorithm is R-STILT's ``calc_footprint`` (and PYSTILT's port of it), docs/physics.md §10:
hyper-near-field plume dilution of ``foot`` (§10.2), longitude wrapping (§10.3), near-field time
densification (§10.4), Gaussian kernels whose bandwidth grows with particle spread and time
(§10.6), binning on a buffered grid, hourly layers and division by the particle count (§10.7).
The loops over particles and times run in the Fortran core (``stilt_footprint``); this module
validates inputs, builds the small per-time tables and the CF output.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from stilt._checks import finite_float
from stilt._io import atomic_path
from stilt.errors import ConfigError, FootprintError, raise_for_status
from stilt.footprint_grid import DEFAULT_CELL_BUDGET, Grid, GridExtent
from stilt.receptors import release_points
from stilt.transport import FOOT_UNITS, Release, receptor_attrs, release_of

__all__ = ["Grid", "calc_footprint", "calc_footprints", "write_footprint", "HNF_VARIABLES",
           "GRID_MAPPING"]

#: Variables the hyper-near-field correction reads (besides long, lati, foot).
HNF_VARIABLES = ("samt", "sigw", "tlgr", "dens", "mlht")


@dataclass(frozen=True)
class _Receptor:
    time: np.datetime64
    latitude: float
    longitude: float
    altitude: float
    altitude_top: float | None = None  # column receptors: altitude is the bottom
    altitude_ref: str = "agl"
    release: Any = None  # stilt.transport.Release: every release point (multi-point receptors)


@dataclass(frozen=True)
class _Settings:
    """The footprint settings shared by every grid of one call (checked on creation)."""

    smooth_factor: float
    time_integrate: bool
    hnf_plume: bool
    veght: float
    max_cells: int

    def __post_init__(self) -> None:
        """Check the values."""
        sf, veght, cells = self.smooth_factor, self.veght, self.max_cells
        if not (math.isfinite(sf) and sf >= 0):
            raise ConfigError(f"smooth_factor = {sf} must be a finite number >= 0")
        if not (math.isfinite(veght) and veght > 0):
            raise ConfigError(
                f"veght = {veght} must be > 0 (a fraction of the mixed-layer height when <= 9, "
                "else metres)"
            )
        if int(cells) < 1:
            raise ConfigError(f"max_cells = {cells} must be >= 1")


def _receptor(receptor: Any) -> _Receptor:
    """Read the receptor: a mapping or object with time, latitude, longitude, altitude and
    optional altitude_ref, a list of them (multi-point), or a stilt.receptors receptor; checked
    by :func:`stilt.receptors.release_points`, as everywhere."""
    points = release_points(receptor)
    first = points[0]
    return _Receptor(time=np.datetime64(first.time, "ns"), latitude=first.latitude,
                     longitude=first.longitude, altitude=first.bottom,
                     altitude_top=first.top if first.top != first.bottom else None,
                     altitude_ref=first.altitude_ref, release=release_of(points))


# ---- particles -----------------------------------------------------------------------------


@dataclass
class _Particles:
    """Particle fields in the dense layout, numpy shape (nt, np), NaN where no row."""

    time: np.ndarray  # (nt,) minutes since release
    indx: np.ndarray  # (np,)
    lon: np.ndarray
    lat: np.ndarray
    foot: np.ndarray
    rows: np.ndarray  # (nt,) number of particles with a row at each time
    first_abs: np.ndarray  # (np,) smallest |time| of each particle's rows, inf without rows
    hnf: str  # who applied the plume dilution to foot: "transport", "footprint" (to do), "none"

    @property
    def present(self) -> np.ndarray:
        """(nt, np) True where a particle has a row (made on demand: few paths need it)."""
        return ~np.isnan(self.lon)


def _field(ds: xr.Dataset, name: str, single: bool = False) -> np.ndarray:
    """A (time, indx) variable as a C-ordered float64 array (float32 kept when ``single``);
    no copy when it is stored so."""
    var = ds.variables[name]
    if var.dims != ("time", "indx"):
        if set(var.dims) != {"time", "indx"}:
            raise FootprintError(
                f"particle variable {name!r} has dims {var.dims}, expected ('time', 'indx')"
            )
        var = var.transpose("time", "indx")
    dtype = np.float32 if single and var.dtype == np.float32 else np.float64
    return np.ascontiguousarray(var.values, dtype=dtype)


def _first_bad(mask: np.ndarray, ds: xr.Dataset) -> str:
    it, ip = np.argwhere(mask)[0]
    return f"indx={ds['indx'].values[ip]}, time={ds['time'].values[it]}"


def _raise_bad_rows(ds: xr.Dataset, lon: np.ndarray, lat: np.ndarray,
                    foot: np.ndarray) -> None:
    """Name the first problem of rows that failed :func:`_scan`: every long NaN, lati or foot
    NaN where long is not (or the reverse), an infinite value, a latitude beyond ±90."""
    present = ~np.isnan(lon)
    if not present.any():
        raise FootprintError("the particle set is empty: every long value is NaN")
    for name, arr in (("lati", lat), ("foot", foot)):
        bad = np.isnan(arr) != ~present
        if bad.any():
            raise FootprintError(
                f"particle row {_first_bad(bad, ds)}: {name} and long disagree on NaN "
                "(a row is either complete or absent)"
            )
    for name, arr in (("long", lon), ("lati", lat), ("foot", foot)):
        bad = np.isinf(arr)
        if bad.any():
            raise FootprintError(f"particle row {_first_bad(bad, ds)}: {name} is infinite")
    bad = present & (np.abs(lat) > 90)
    raise FootprintError(
        f"particle row {_first_bad(bad, ds)}: lati = {lat[bad][0]} outside [-90, 90]"
    )


def _scan(time: np.ndarray, lon: np.ndarray, lat: np.ndarray, foot: np.ndarray
          ) -> tuple[np.ndarray, np.ndarray, bool]:
    """Rows per time, each particle's smallest |time| (inf without rows), and whether every
    row is complete or absent, finite and at |lat| <= 90 (one pass in the core)."""
    from stilt import _core

    rows, first_abs, status = _core.footprint_scan(time, lon.T, lat.T, foot.T)
    return rows, first_abs, status == 0 and bool(rows.any())


def _check_dataset(ds: Any) -> None:
    """Refuse what is not a (time, indx) particle Dataset with long, lati, foot."""
    if not isinstance(ds, xr.Dataset):
        raise FootprintError(
            f"particles must be an xarray.Dataset with dims (time, indx), got {type(ds).__name__}"
        )
    missing = [v for v in ("long", "lati", "foot") if v not in ds]
    if missing or "time" not in ds.dims or "indx" not in ds.dims:
        raise FootprintError(
            f"particles need variables long, lati, foot on dims (time, indx); missing "
            f"{missing or 'the dims'}"
        )
    if ds.sizes["time"] == 0 or ds.sizes["indx"] == 0:
        raise FootprintError("the particle set is empty (no time or no particle)")


def _minutes(ds: xr.Dataset) -> np.ndarray:
    """The time coordinate in minutes since release (float64)."""
    time = ds["time"].values
    if np.issubdtype(time.dtype, np.timedelta64):
        time = time / np.timedelta64(1, "m")
    time = np.asarray(time, dtype=np.float64)
    if not np.all(np.isfinite(time)):
        raise FootprintError("particle time coordinate holds NaN or infinite values")
    return time


def _foot_source(ds: xr.Dataset, hnf_plume: bool) -> tuple[str, str]:
    """Who dilutes foot ("transport": done, "footprint": to do here, "none") and the
    variable to read. R-STILT's trajectory layout keeps foot after the plume dilution and the
    raw value beside it (foot_no_hnf_dilution)."""
    if "foot_no_hnf_dilution" in ds or bool(ds.attrs.get("hnf_plume_applied", 0)):
        raw = "foot" if hnf_plume or "foot_no_hnf_dilution" not in ds else "foot_no_hnf_dilution"
        return ("transport" if hnf_plume else "none"), raw
    return ("footprint" if hnf_plume else "none"), "foot"


def _particles(ds: xr.Dataset, hnf_plume: bool) -> _Particles:
    """Read and check the particle rows."""
    _check_dataset(ds)
    time = _minutes(ds)
    hnf, raw_name = _foot_source(ds, hnf_plume)
    lon, lat, foot = (_field(ds, v) for v in ("long", "lati", raw_name))
    rows, first_abs, ok = _scan(time, lon, lat, foot)
    if not ok:
        _raise_bad_rows(ds, lon, lat, foot)
    return _Particles(time, ds["indx"].values, lon, lat, foot, rows, first_abs, hnf)


def _hnf_fields(ds: xr.Dataset, parts: _Particles, rec: _Receptor) -> dict[str, np.ndarray]:
    """The fields the plume dilution reads (float32 kept) and the release heights z0."""
    missing = [v for v in HNF_VARIABLES if v not in ds]
    if missing:
        raise FootprintError(
            f"hnf_plume=True needs the particle variables {', '.join(HNF_VARIABLES)}; "
            f"missing {', '.join(missing)} (or pass hnf_plume=False)"
        )
    extra = {v: _field(ds, v, single=True) for v in HNF_VARIABLES}
    for name in ("xhgt", "release_height"):
        if name in ds and ds[name].dims == ("indx",):
            extra["z0"] = np.asarray(ds[name].values, dtype=np.float64)
            break
    else:
        extra["z0"] = _release_heights(ds, parts, rec)
    return extra


def _release_heights(ds: xr.Dataset, parts: _Particles, rec: _Receptor) -> np.ndarray:
    """Release height above ground of each particle, for files without ``xhgt``.

    The transport's release (docs/physics.md §4.5): particles split over the release points in
    consecutive blocks, heights linear in the index between a column's bottom and top, with
    numpar = max(indx) as R-STILT computes ``xhgt``. MSL heights become heights above ground
    with the terrain (``zsfc``) under each particle's first row.
    """
    indx = np.asarray(ds["indx"].values, dtype=np.int64)
    _, heights = rec.release.particle_points(int(indx.max()))
    z0 = heights[indx - 1]
    if rec.altitude_ref == "msl":
        if "zsfc" not in ds:
            raise FootprintError(
                "hnf_plume=True with an MSL receptor needs the release height above ground: "
                "the particles carry neither xhgt nor zsfc (terrain height), so it is unknown "
                "(rerun the transport, add zsfc to varsiwant, or pass hnf_plume=False)"
            )
        zsfc = _field(ds, "zsfc")
        first = np.argmax(parts.present, axis=0)
        ground = zsfc[first, np.arange(zsfc.shape[1])]
        z0 = np.where(np.isfinite(ground), np.maximum(z0 - ground, 0.0), z0)
    return z0


def _apply_hnf(parts: _Particles, extra: Mapping[str, np.ndarray], veght: float) -> np.ndarray:
    """foot after the hyper-near-field plume dilution (docs/physics.md §10.2)."""
    from stilt import _core

    abs_t = np.abs(parts.time)
    order = (np.argsort(abs_t, kind="stable") + 1).astype(np.int32)
    fields = [extra[v] for v in HNF_VARIABLES]
    if all(f.dtype == np.float32 for f in fields):  # as files store them: no widened copies
        return _core.footprint_hnf_sp(order, abs_t, parts.foot.T, *(f.T for f in fields),
                                      extra["z0"], float(veght)).T
    out, _ = _core.footprint_hnf(order, abs_t, parts.foot.T,
                                 *(np.asarray(f, dtype=np.float64).T for f in fields),
                                 extra["z0"], float(veght), np.zeros(parts.foot.shape[1]))
    return out.T


def _time_sign(time: np.ndarray, rows: np.ndarray) -> int:
    """sign(median(time)) over all rows, from the number of rows at each time."""
    order = np.argsort(time, kind="stable")
    cum = np.cumsum(rows[order])
    n = int(cum[-1])
    lo = time[order][np.searchsorted(cum, (n - 1) // 2, side="right")]
    hi = time[order][np.searchsorted(cum, n // 2, side="right")]
    return int(np.sign(0.5 * (lo + hi)))


def _interpolation_times(sign: int) -> np.ndarray:
    """Return the 311 near-field target times of docs/physics.md §10.4, in minutes."""
    return (
        np.concatenate(
            [
                np.arange(0, 101, dtype=float) / 10,
                np.arange(102, 201, 2, dtype=float) / 10,
                np.arange(205, 1001, 5, dtype=float) / 10,
            ]
        )
        * sign
    )


def _densify(
    time: np.ndarray, lon: np.ndarray, lat: np.ndarray, foot: np.ndarray, sign: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The rows on the near-field time axis (docs/physics.md §10.4): time (rounded to 0.1
    min), lon, lat, foot."""
    from stilt import _core

    targets = _interpolation_times(sign)
    time2 = np.union1d(time, targets)
    order0 = np.argsort(time, kind="stable")
    pos = np.clip(np.searchsorted(time[order0], time2), 0, time.size - 1)
    src = np.where(time[order0][pos] == time2, order0[pos] + 1, 0).astype(np.int32)
    target = np.isin(time2, targets).astype(np.int32)
    rounded = np.round(time2, 1)
    lon2, lat2, foot2, _ = _core.footprint_densify(
        (order0 + 1).astype(np.int32), time, lon.T, lat.T, foot.T, time2, src, target, rounded
    )
    return rounded, lon2.T, lat2.T, foot2.T


# ---- the footprint -------------------------------------------------------------------------


def _map_units_per_degree(
    transformer: Any,
    x: np.ndarray,
    y: np.ndarray,
    present: np.ndarray,
    mclass: np.ndarray,
    gid: np.ndarray,
    ngroups: int,
) -> np.ndarray:
    """Map units per degree of latitude at the mean projected position of each rtime group.

    The kernel bandwidth of 5.7 is a length in degrees; R-STILT evaluates the same formula on
    projected coordinates, which makes it a number of metres far too small to smooth
    anything. Here the width in degrees of latitude is converted to the grid's own units by
    the local map distance of 0.01 degree of latitude (this includes the map scale factor and
    the grid's units, e.g. km).
    """
    groups = gid[mclass - 1, :].T[present] - 1  # (time, indx) rows -> 0-based group
    n = np.bincount(groups, minlength=ngroups).astype(float)
    n[n == 0] = np.nan
    mx = np.bincount(groups, weights=x[present], minlength=ngroups) / n
    my = np.bincount(groups, weights=y[present], minlength=ngroups) / n
    ok = np.isfinite(mx) & np.isfinite(my)
    scale = np.full(ngroups, np.nan)
    if ok.any():
        glon, glat = transformer.transform(mx[ok], my[ok], direction="INVERSE")
        glat = np.clip(np.asarray(glat, dtype=float), -89.99, 89.99)
        x0, y0 = transformer.transform(glon, glat - 0.005)
        x1, y1 = transformer.transform(glon, glat + 0.005)
        scale[ok] = np.hypot(np.subtract(x1, x0), np.subtract(y1, y0)) / 0.01
    return scale


def _nearest_kernel(rt: np.ndarray, krt: np.ndarray) -> np.ndarray:
    """Index of the nearest kernel-table rtime for each rtime (ties to the lower one)."""
    pos = np.searchsorted(krt, rt)
    lo = np.clip(pos - 1, 0, krt.size - 1)
    hi = np.clip(pos, 0, krt.size - 1)
    return np.where(np.abs(krt[lo] - rt) <= np.abs(krt[hi] - rt), lo, hi)



@dataclass
class _Rows:
    """The particle rows one footprint bins: longitudes on the grid's convention (0..360
    on a wrapped grid), densified near the release when the test asks for it, projected on a
    projected grid (after the bandwidths, which are taken in degrees)."""

    time: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    foot: np.ndarray
    rows: np.ndarray
    first_abs: np.ndarray
    densified: bool


def _footprint_rows(parts: _Particles, foot: np.ndarray, grid: Grid,
                    extent: GridExtent) -> _Rows:
    """The rows on the grid's longitudes, densified in time near the release when the
    median step exceeds a cell (docs/physics.md §10.4, decided in degrees on any grid)."""
    from stilt import _core

    time, lon, lat = parts.time, parts.lon, parts.lat
    if extent.wrapped:
        lon = ((lon % 360) + 360) % 360
    order = (np.argsort(time, kind="stable") + 1).astype(np.int32)
    dx_med, dy_med = _core.footprint_step_medians(order, time, lon.T, lat.T)
    if not (dx_med > grid.xres or dy_med > grid.yres):
        return _Rows(time, lon, lat, foot, parts.rows, parts.first_abs, False)
    time, lon, lat, foot = _densify(time, lon, lat, foot, _time_sign(time, parts.rows))
    rows, first_abs, _ = _scan(time, lon, lat, foot)
    return _Rows(time, lon, lat, foot, rows, first_abs, True)


@dataclass
class _Groups:
    """Relative-time groups (docs/physics.md §10.5): particles share a start class (mclass,
    1-based; 1 for particles without rows), rtime = time - sign start; gid(class, time) is
    the group of a row, rtimes the groups' rtime ascending."""

    mclass: np.ndarray
    gid: np.ndarray
    rtimes: np.ndarray
    n_particles: int


def _rtime_groups(rows: _Rows, sign: int) -> _Groups:
    """The rtime groups of the rows."""
    alive = np.isfinite(rows.first_abs)
    starts, mgroup = np.unique(rows.first_abs[alive], return_inverse=True)
    mclass = np.ones(rows.first_abs.size, dtype=np.int32)
    mclass[alive] = mgroup + 1
    rt_table = rows.time[None, :] - sign * starts[:, None]
    rtimes, inverse = np.unique(rt_table, return_inverse=True)
    gid = np.asfortranarray(inverse.reshape(rt_table.shape) + 1, dtype=np.int32)
    return _Groups(mclass, gid, rtimes, int(alive.sum()))


def _bandwidths(rows: _Rows, groups: _Groups, extent: GridExtent,
                smooth_factor: float) -> tuple[np.ndarray, np.ndarray]:
    """Kernel bandwidth of each rtime group (docs/physics.md §10.6) and its row count.

    On lon/lat grids with the cos(latitude) factor; on projected grids in degrees of latitude
    (no cos), from longitudes on 0..360 for a cloud across the antimeridian; the caller
    converts those to map units.
    """
    from stilt import _core

    lon, longlat = rows.lon, 1
    if extent.transformer is not None:
        longlat = 0
        if np.nanmax(lon) - np.nanmin(lon) > 180.0:  # a cloud across the antimeridian
            lon = lon % 360.0
    return _core.footprint_bandwidths(lon.T, rows.lat.T, groups.mclass, groups.gid,
                                      groups.rtimes, float(smooth_factor), longlat)


def _project(rows: _Rows, groups: _Groups, extent: GridExtent, w: np.ndarray) -> np.ndarray:
    """Move the rows onto the projected grid (docs/physics.md §10.5) and return the
    bandwidths w in map units."""
    present = ~np.isnan(rows.lon)
    px, py = extent.transformer.transform(rows.lon[present], rows.lat[present])
    rows.lon = np.full_like(rows.lon, np.nan)
    rows.lat = np.full_like(rows.lat, np.nan)
    rows.lon[present], rows.lat[present] = px, py
    return w * _map_units_per_degree(extent.transformer, rows.lon, rows.lat, present,
                                     groups.mclass, groups.gid, w.size)


def _kernel_sigma(w: np.ndarray, counts: np.ndarray, rtimes: np.ndarray
                  ) -> tuple[np.ndarray, float]:
    """The bandwidth each group uses (that of the nearest rtime with one, §10.7) and the
    widest; zeros (1 x 1 kernels) when no group has a spread (a single particle)."""
    table = (counts >= 2) & np.isfinite(w)
    if not table.any():
        return np.zeros(rtimes.size), 0.0
    return w[table][_nearest_kernel(rtimes, rtimes[table])], float(np.max(w[table]))


def _layer_range(time: np.ndarray, rows: np.ndarray, time_integrate: bool) -> tuple[int, int]:
    """First hour layer (floor(time / 60) of the earliest row) and the number of layers."""
    if time_integrate:
        return 0, 1
    tp = time[rows > 0]
    layer0 = int(np.floor(tp.min() / 60))
    return layer0, int(np.floor(tp.max() / 60)) - layer0 + 1


def _accumulate(rows: _Rows, groups: _Groups, sigma: np.ndarray, wmax: float, grid: Grid,
                extent: GridExtent, time_integrate: bool, layers: tuple[int, int]
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bin and smooth the rows onto (nx, ny, layers) cells (docs/physics.md §10.7): the grid
    buffered by the widest kernel, R/PYSTILT's edge arithmetic. Returns the grid (not yet
    divided by the particle count), the layers hit, and the mass bookkeeping (foot > 0 total,
    kept total, rows kept, rows with foot > 0)."""
    from stilt import _core

    bx = 1 + 2 * int(_core.footprint_kernel_half_width(np.array([wmax]), grid.xres)[0])
    by = 1 + 2 * int(_core.footprint_kernel_half_width(np.array([wmax]), grid.yres)[0])
    bxh, byh = (bx - 1) // 2, (by - 1) // 2
    xedges = extent.xmin - bx * grid.xres + np.arange(extent.nx + 2 * bx) * grid.xres
    yedges = extent.ymin - by * grid.yres + np.arange(extent.ny + 2 * by) * grid.yres
    bounds = np.array([extent.xmin - bxh * grid.xres, extent.xmax + bxh * grid.xres,
                       extent.ymin - byh * grid.yres, extent.ymax + byh * grid.yres])
    arr, hit, mass, status = _core.footprint_accumulate_grid(
        rows.lon.T, rows.lat.T, rows.foot.T, rows.time, groups.mclass, groups.gid, sigma,
        grid.xres, grid.yres, bounds, xedges, yedges, bx, by, extent.nx, extent.ny,
        int(time_integrate), layers[0], layers[1])
    raise_for_status(status, f"footprint accumulation on {grid}")
    return arr, hit, mass


def _kept_layers(arr: np.ndarray, hit: np.ndarray, layer0: int, n_particles: int,
                 mass: np.ndarray) -> tuple[np.ndarray, np.ndarray, str]:
    """The (layer, y, x) values of the layers that received a row, divided by the particle
    count, their hour indices, and the reason when there is none (one zero layer then)."""
    keep = hit == 1
    if not keep.any():
        reason = ("no particle row has foot > 0: no particle was ever in the surface layer"
                  if mass[0] == 0
                  else "no particle row with foot > 0 lies inside the grid (buffered by the "
                  "kernel)")
        ny, nx = arr.shape[1], arr.shape[0]
        return np.zeros((1, ny, nx)), np.zeros(1, dtype=int), reason
    values = arr.T  # (layer, y, x), C-ordered: no copy
    layers = np.arange(layer0, layer0 + hit.size)
    if keep.all():
        values /= n_particles  # in place: the same quotients as values / n
        return values, layers, ""
    return values[keep] / n_particles, layers[keep], ""


def _cell_centres(grid: Grid, extent: GridExtent, values: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cell-centre coordinates in the grid's own longitude convention (the values reordered
    along x for a global grid asked from xmin != -180)."""
    xc = np.round(extent.xmin + np.arange(extent.nx) * grid.xres + grid.xres / 2, 10)
    yc = np.round(extent.ymin + np.arange(extent.ny) * grid.yres + grid.yres / 2, 10)
    if extent.wrapped:  # computed on 0..360: back to the grid's own convention, contiguous
        xc = np.round(xc + (grid.xmin - extent.xmin), 10)
    elif grid.is_longlat and extent.xmin != grid.xmin:  # a global grid asked from xmin != -180
        mapped = (xc - grid.xmin) % 360.0 + grid.xmin
        xorder = np.argsort(mapped, kind="stable")
        xc = np.round(mapped[xorder], 10)
        values = values[:, :, xorder]
    return xc, yc, values


def _layer_times(rec: _Receptor, parts: _Particles, layers: np.ndarray,
                 one_layer: bool) -> tuple[np.ndarray, np.ndarray]:
    """Time stamps of the layers and the hours each sums (``time_bnds``): hour layers start
    at receptor time + k h; one layer (time-integrated or empty) is stamped with the receptor
    time and spans the hours of every particle row (before densification)."""
    hour = np.timedelta64(3600, "s").astype("timedelta64[ns]")
    if one_layer:
        tp = parts.time[parts.rows > 0]
        first, last = int(np.floor(tp.min() / 60)), int(np.floor(tp.max() / 60)) + 1
        return np.array([rec.time]), rec.time + np.array([[first, last]]) * hour
    times = rec.time + layers * hour
    return times, np.stack([times, times + hour], axis=1)


def _footprint(parts: _Particles, foot: np.ndarray, rec: _Receptor, grid: Grid, name: str,
               cfg: _Settings) -> xr.Dataset:
    """One footprint of the (plume-diluted) particle rows on ``grid`` (docs/physics.md §10)."""
    extent = grid.extent()
    grid.check_budget(1, cfg.max_cells, "max_cells", extent)
    rows = _footprint_rows(parts, foot, grid, extent)
    groups = _rtime_groups(rows, _time_sign(parts.time, parts.rows))
    w, counts = _bandwidths(rows, groups, extent, cfg.smooth_factor)
    if extent.transformer is not None:
        w = _project(rows, groups, extent, w)
    sigma, wmax = _kernel_sigma(w, counts, groups.rtimes)
    layers = _layer_range(rows.time, rows.rows, cfg.time_integrate)
    grid.check_budget(layers[1], cfg.max_cells, "max_cells", extent)
    arr, hit, mass = _accumulate(rows, groups, sigma, wmax, grid, extent, cfg.time_integrate,
                                 layers)
    values, hours, empty_reason = _kept_layers(arr, hit, layers[0], groups.n_particles, mass)
    xc, yc, values = _cell_centres(grid, extent, values)
    times, bounds = _layer_times(rec, parts, hours, cfg.time_integrate or bool(empty_reason))
    foot_total = float(mass[0]) / groups.n_particles
    foot_in_grid = float(values.sum())
    info = {
        "n_particles": groups.n_particles,
        "hnf_plume_applied": parts.hnf,
        "nearfield_densified": int(rows.densified),
        "foot_total": foot_total,
        "foot_in_grid": foot_in_grid,
        "foot_outside_grid": foot_total - foot_in_grid,
        "rows_outside_domain": int(mass[3]) - int(mass[2]),
    }
    return _dataset(_Layers(values, times, bounds, xc, yc), rec, grid, name, cfg, info,
                    empty_reason)


#: Name of the grid-mapping variable (R-STILT's ``write_footprint`` calls it ``projection``)
GRID_MAPPING = "projection"
#: Provenance copied from the particles' attributes into the footprint: (particle name, name)
_PROVENANCE = (
    ("met_files", "met_files"),
    ("param_n_hours", "n_hours"),
    ("param_numpar", "numpar"),
    ("seed", "seed"),
    ("roughness", "roughness"),
    ("stilt_transport_hash", "stilt_transport_hash"),
    ("stilt_version", "trajectory_stilt_version"),
)


def _proj4(grid: Grid) -> str:
    """The grid's projection as a PROJ.4 string (R-STILT's global ``crs`` attribute)."""
    proj = grid.projection.strip()
    if proj.startswith("+"):
        return proj
    if grid.is_longlat:
        return "+proj=longlat +datum=WGS84 +no_defs"
    from pyproj import CRS  # a projected grid: pyproj was needed to compute it

    return str(CRS.from_user_input(proj).to_proj4())


def _crs_attrs(grid: Grid) -> dict[str, Any]:
    """CF grid-mapping attributes of the ``projection`` variable."""
    if grid.is_longlat:
        attrs: dict[str, Any] = {
            "grid_mapping_name": "latitude_longitude",
            "longitude_of_prime_meridian": 0.0,
            "semi_major_axis": 6378137.0,
            "inverse_flattening": 298.257223563,
        }
    else:
        from pyproj import CRS

        crs = CRS.from_user_input(grid.projection)
        attrs = {k: v for k, v in crs.to_cf().items() if v is not None}
        attrs = {k: (list(v) if isinstance(v, tuple) else v) for k, v in attrs.items()}
    attrs["proj4_params"] = grid.projection
    return attrs


def _pystilt_attrs(release: Release, grid: Grid, name: str) -> dict[str, Any]:
    """The global attributes PYSTILT's footprint reader rebuilds its objects from.

    PYSTILT 0.1.0a4's ``Footprint.from_netcdf`` takes the grid from ``xmin`` ... ``yres`` and
    ``projection`` (a PROJ string), the name from ``name`` and the receptor from ``receptor``,
    a JSON object whose ``type`` is ``PointReceptor``, ``ColumnReceptor`` or
    ``MultiPointReceptor`` (docs/outputs.md). A multi-point receptor whose points span heights
    has no such type: its file has no ``receptor`` attribute (the ``receptor_*`` ones hold it).
    """
    attrs: dict[str, Any] = {**asdict(grid), "name": name}
    when = np.datetime_as_string(np.datetime64(release.time, "s"), unit="s")
    ref = "msl" if release.msl else "agl"
    lon, lat = release.longitude.tolist(), release.latitude.tolist()
    if len(lon) == 1 and release.top[0] == release.bottom[0]:
        kind: dict[str, Any] = {"type": "PointReceptor", "longitude": lon[0],
                                "latitude": lat[0], "altitude": float(release.bottom[0])}
    elif len(lon) == 1:
        kind = {"type": "ColumnReceptor", "longitude": lon[0], "latitude": lat[0],
                "bottom": float(release.bottom[0]), "top": float(release.top[0])}
    elif np.array_equal(release.top, release.bottom):
        kind = {"type": "MultiPointReceptor", "longitudes": lon, "latitudes": lat,
                "altitudes": release.bottom.tolist()}
    else:
        return attrs
    kind.update(time=when, altitude_ref=ref)
    attrs["receptor"] = json.dumps(kind)
    return attrs


@dataclass
class _Layers:
    """A footprint's values (layer, y, x) and coordinates: layer times and hours summed
    (time_bnds), cell centres."""

    values: np.ndarray
    times: np.ndarray
    time_bounds: np.ndarray
    xc: np.ndarray
    yc: np.ndarray


def _axes(grid: Grid) -> tuple[tuple[str, dict[str, str]], tuple[str, dict[str, str]]]:
    """The (name, attributes) of the y and x axes: lat/lon, or y/x on projected grids."""
    if grid.is_longlat:
        return (("lat", {"units": "degrees_north", "standard_name": "latitude",
                         "long_name": "latitude at cell centre", "axis": "Y"}),
                ("lon", {"units": "degrees_east", "standard_name": "longitude",
                         "long_name": "longitude at cell centre", "axis": "X"}))
    return (("y", {"units": "m", "standard_name": "projection_y_coordinate",
                   "long_name": "y coordinate of projection at cell centre", "axis": "Y"}),
            ("x", {"units": "m", "standard_name": "projection_x_coordinate",
                   "long_name": "x coordinate of projection at cell centre", "axis": "X"}))


def _global_attrs(rec: _Receptor, grid: Grid, name: str, cfg: _Settings,
                  info: Mapping[str, Any], empty_reason: str) -> dict[str, Any]:
    """The footprint's global attributes: conventions, provenance, receptor, grid, settings,
    mass bookkeeping."""
    from stilt._version import get_version

    attrs: dict[str, Any] = {
        "Conventions": "CF-1.8",
        "title": "STILT Footprint",
        "crs": _proj4(grid),
        "crs_format": "PROJ.4",
        "source": f"stilt {get_version()} calc_footprint (R-STILT calc_footprint algorithm)",
        "stilt_version": get_version(),
        "time_created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "footprint_name": name,
        **receptor_attrs(rec.release),
        **_pystilt_attrs(rec.release, grid, name),
        "smooth_factor": float(cfg.smooth_factor),
        "time_integrate": int(cfg.time_integrate),
        "hnf_plume": int(cfg.hnf_plume),
        "veght": float(cfg.veght),
        **info,
        "empty": int(bool(empty_reason)),
    }
    if empty_reason:
        attrs["empty_reason"] = empty_reason
    return attrs


def _dataset(layers: _Layers, rec: _Receptor, grid: Grid, name: str, cfg: _Settings,
             info: Mapping[str, Any], empty_reason: str) -> xr.Dataset:
    """The footprint as a CF-1.8 Dataset (docs/footprints.md, "Output")."""
    (ydim, yattrs), (xdim, xattrs) = _axes(grid)
    tattrs = {
        "standard_name": "time",
        "axis": "T",
        "long_name": (
            "receptor time (time-integrated footprint; time_bnds gives the hours summed)"
            if cfg.time_integrate
            else "start of the hour (UTC) whose particle rows form the layer"
        ),
        "bounds": "time_bnds",
    }
    foot = xr.Variable(("time", ydim, xdim), layers.values,
                       {"units": FOOT_UNITS, "long_name": "STILT surface influence footprint",
                        "cell_methods": "time: sum", "grid_mapping": GRID_MAPPING})
    bounds = xr.Variable(("time", "nv"), layers.time_bounds,
                         {"long_name": "start and end of the hours summed in the layer"})
    return xr.Dataset(
        {"foot": foot, "time_bnds": bounds,
         GRID_MAPPING: xr.Variable((), np.int32(0), _crs_attrs(grid))},
        coords={"time": ("time", layers.times, tattrs), ydim: (ydim, layers.yc, yattrs),
                xdim: (xdim, layers.xc, xattrs)},
        attrs=_global_attrs(rec, grid, name, cfg, info, empty_reason),
    )


def calc_footprints(
    particles: xr.Dataset,
    receptor: Any,
    grids: Mapping[str, Grid],
    *,
    smooth_factor: float = 1.0,
    time_integrate: bool = False,
    hnf_plume: bool = True,
    veght: float | None = None,
    max_cells: int = DEFAULT_CELL_BUDGET,
) -> dict[str, xr.Dataset]:
    """Several named footprints of one trajectory, each on its own grid.

    The particles are validated and the plume-dilution correction is applied once. Parameters
    are those of :func:`calc_footprint`; ``grids`` maps a footprint name to its grid.

    Returns
    -------
    dict of str to xarray.Dataset
        One footprint per name, as :func:`calc_footprint` returns it.
    """
    if veght is None:  # the run's own setting (stilt.run_trajectories records it), else 0.5
        veght = float(getattr(particles, "attrs", {}).get("param_veght", 0.5))
    cfg = _Settings(
        float(smooth_factor), bool(time_integrate), bool(hnf_plume), float(veght), int(max_cells)
    )
    grids = {name: Grid.from_any(g, f"grid {name!r}") for name, g in grids.items()}
    rec = _receptor(receptor)
    parts = _particles(particles, cfg.hnf_plume)
    foot = parts.foot
    if parts.hnf == "footprint":
        foot = _apply_hnf(parts, _hnf_fields(particles, parts, rec), cfg.veght)
    feet = {name: _footprint(parts, foot, rec, grid, name, cfg) for name, grid in grids.items()}
    # where the particles came from (stilt.run_trajectories and project runs record it)
    given = getattr(particles, "attrs", {})
    provenance = {new: given[old] for old, new in _PROVENANCE
                  if given.get(old) is not None and np.size(given[old]) > 0}
    for ds in feet.values():
        ds.attrs.update(provenance)
    return feet


def calc_footprint(
    particles: xr.Dataset,
    receptor: Any,
    grid: Grid,
    smooth_factor: float = 1.0,
    time_integrate: bool = False,
    hnf_plume: bool = True,
    *,
    veght: float | None = None,
    max_cells: int = DEFAULT_CELL_BUDGET,
    name: str = "foot",
) -> xr.Dataset:
    """Kernel-smoothed footprint of a particle ensemble (R-STILT ``calc_footprint``).

    Parameters
    ----------
    particles : xarray.Dataset
        Trajectory output (``stilt.run_trajectories``, or a ``particles_full.nc`` file) with
        dims ``(time, indx)``: ``time`` in minutes since release (negative backward),
        variables ``long``, ``lati``, ``foot``; NaN where a particle has no row. Particles
        in R-STILT's trajectory layout (``foot`` already plume-diluted,
        ``foot_no_hnf_dilution`` beside it) are used as they are: ``foot`` with
        ``hnf_plume``, ``foot_no_hnf_dilution`` without. Particles with the raw ``foot``
        only are corrected here (docs/physics.md §10.2, on their output rows), which needs
        ``samt``, ``sigw``, ``tlgr``, ``dens``, ``mlht``; release heights come from an
        ``xhgt`` (or ``release_height``) variable on ``indx`` (m above ground), else from
        the receptor (``zsfc`` is then needed for an MSL receptor).
    receptor : mapping, object or list
        With ``time``, ``latitude``, ``longitude``, ``altitude`` and optional
        ``altitude_ref`` (``"agl"`` default or ``"msl"``); ``altitude`` a pair
        ``(bottom, top)`` for a column receptor, whose particles get R-STILT's release
        heights ``(indx - 0.5) (top - bottom) / max(indx) + bottom``; a list of points for a
        multi-point receptor (particles split over the points in consecutive blocks, as the
        transport releases them); or a :mod:`stilt.receptors` receptor.
    grid : Grid
        Output grid.
    smooth_factor : float, optional
        Factor on the kernel bandwidth (0 disables smoothing).
    time_integrate : bool, optional
        One layer summed over the whole run instead of hourly layers.
    hnf_plume : bool, optional
        Use the plume-diluted foot (hyper-near-field correction): the particles' own when
        they carry ``foot_no_hnf_dilution``, else computed here.
    veght : float, optional
        Height below which ``foot`` was accumulated, for a correction computed here: a
        fraction of the mixed-layer height when <= 9, else metres (the transport's rule,
        docs/physics.md §7.1). Default: the particles' ``param_veght`` attribute, else 0.5.
    max_cells : int, optional
        Cell budget: the largest lon x lat x layer count allowed (default 50 million).
    name : str, optional
        Footprint name recorded in the attributes.

    Returns
    -------
    xarray.Dataset
        ``foot(time, lat, lon)`` (``(time, y, x)`` on projected grids) in ppm per
        (umol m-2 s-1) (units ``ppm (umol-1 m2 s)`` as R-STILT spells them), float64;
        ``time`` is the start of each hour bin (the receptor time when time-integrated) and
        ``time_bnds`` the hours summed; cell-centre coordinates; the grid mapping in a
        ``projection`` variable and R-STILT's global ``crs``/``crs_format``; attributes
        recording receptor (the trajectory files' names), grid, settings, package version,
        mass bookkeeping (``foot_total``, ``foot_in_grid``, ``foot_outside_grid``) and the
        particles' provenance when they carry it (``met_files``, ``n_hours``, ``numpar``,
        ``seed``, ``roughness``, ``stilt_transport_hash``). An empty footprint is one zero
        layer with ``empty = 1`` and ``empty_reason``.

    Raises
    ------
    FootprintError
        Particles empty, malformed, or with inconsistent/NaN/infinite positions.
    ConfigError
        Invalid grid, settings, receptor, or a grid over the cell budget.
    MissingDependencyError
        A projected grid without ``pyproj`` installed.
    """
    grid = Grid.from_any(grid)
    return calc_footprints(
        particles,
        receptor,
        {name: grid},
        smooth_factor=smooth_factor,
        time_integrate=time_integrate,
        hnf_plume=hnf_plume,
        veght=veght,
        max_cells=max_cells,
    )[name]


def write_footprint(ds: xr.Dataset, path: str | os.PathLike[str]) -> Path:
    """Write a footprint to netCDF-4 (CF-1.8), atomically.

    ``foot`` is stored as compressed float32 with R-STILT's ``_FillValue`` -1; ``time`` and
    ``time_bnds`` as seconds since 1970-01-01 UTC; coordinates without a ``_FillValue``. The
    file is written under a temporary name in the same folder, then renamed into place.

    Parameters
    ----------
    ds : xarray.Dataset
        A footprint from :func:`calc_footprint`.
    path : path-like
        Destination file.

    Returns
    -------
    Path
        The written file.
    """
    path = Path(path)
    if "foot" not in ds:
        raise FootprintError(f"cannot write {path}: the dataset has no 'foot' variable")
    seconds = {
        "units": "seconds since 1970-01-01 00:00:00",
        "calendar": "standard",
        "dtype": "float64",
        "_FillValue": None,
    }
    encoding: dict[str, dict[str, Any]] = {
        "foot": {"dtype": "float32", "zlib": True, "complevel": 4, "_FillValue": -1.0},
        "time": seconds,
    }
    if "time_bnds" in ds:
        encoding["time_bnds"] = seconds
    for coord in ("lat", "lon", "x", "y"):
        if coord in ds.coords:
            encoding[coord] = {"_FillValue": None}
    with atomic_path(path) as tmp:
        ds.to_netcdf(tmp, engine="netcdf4", format="NETCDF4", encoding=encoding)
    return path
