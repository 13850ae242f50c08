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
from stilt.errors import ConfigError, FootprintError, MissingDependencyError, raise_for_status
from stilt.receptors import release_points
from stilt.transport import FOOT_UNITS, Release, receptor_attrs, release_of

#: Default limit on the number of output cells (lon x lat x layers) one footprint may have.
DEFAULT_MAX_CELLS = 50_000_000
#: Variables the hyper-near-field correction reads (besides long, lati, foot).
HNF_VARIABLES = ("samt", "sigw", "tlgr", "dens", "mlht")
_LONGLAT_ALIASES = {"EPSG:4326", "WGS84", "OGC:CRS84"}


@dataclass(frozen=True)
class Grid:
    """A footprint grid: bounds, resolution and projection.

    Parameters
    ----------
    xmin, xmax, ymin, ymax : float
        Bounds in longitude/latitude degrees, also for projected grids (their corners are
        projected, as R-STILT does). Longitudes may be in -180..180 or 0..360; the output
        axis keeps the convention of ``xmin``. A grid crossing the antimeridian is written
        with ``xmax > 180`` (170 to 190), ``xmin < -180`` (-190 to -170) or, on lon/lat
        grids, ``xmin >= 0 > xmax`` (170 to -170); its longitude axis is contiguous from
        ``xmin``.
    xres, yres : float
        Cell size in projection units (degrees for lon/lat grids, usually metres otherwise).
    projection : str, optional
        PROJ string or ``EPSG:`` code; anything but lon/lat needs the optional ``pyproj``.

    Raises
    ------
    ConfigError
        When a value is not finite, a resolution is not positive, or a minimum is not below
        its maximum.
    """

    xmin: float
    xmax: float
    ymin: float
    ymax: float
    xres: float
    yres: float
    projection: str = "+proj=longlat"

    def __post_init__(self) -> None:
        """Check and normalise the fields (floats, finite, ordered bounds)."""
        for field in ("xmin", "xmax", "ymin", "ymax", "xres", "yres"):
            value = finite_float(getattr(self, field), f"Grid {field}")
            object.__setattr__(self, field, value)
        for field in ("xres", "yres"):
            if getattr(self, field) <= 0:
                raise ConfigError(f"Grid {field} = {getattr(self, field)} must be > 0")
        if not isinstance(self.projection, str) or not self.projection.strip():
            raise ConfigError(f"Grid projection {self.projection!r} is not a PROJ string or code")
        across = self.is_longlat and self.xmax < 0.0 <= self.xmin  # e.g. 170 to -170
        if not (self.xmin < self.xmax or across):
            raise ConfigError(
                f"Grid xmin = {self.xmin} must be < xmax = {self.xmax} (write a grid that "
                "crosses the antimeridian as 170..190, -190..-170 or 170..-170)"
            )
        if not self.ymin < self.ymax:
            raise ConfigError(f"Grid ymin = {self.ymin} must be < ymax = {self.ymax}")

    @property
    def is_longlat(self) -> bool:
        """Whether the grid is in longitude/latitude degrees (``+proj=longlat`` or EPSG:4326)."""
        proj = self.projection.strip()
        return "+proj=longlat" in proj or proj.upper() in _LONGLAT_ALIASES


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
    present: np.ndarray  # (nt, np) bool
    hnf: str  # who applied the plume dilution to foot: "transport", "footprint" (to do), "none"


def _field(ds: xr.Dataset, name: str, single: bool = False) -> np.ndarray:
    """A (time, indx) variable as a C-ordered float64 array (float32 kept when ``single``)."""
    var = ds[name]
    if set(var.dims) != {"time", "indx"}:
        raise FootprintError(
            f"particle variable {name!r} has dims {var.dims}, expected ('time', 'indx')"
        )
    dtype = np.float32 if single and var.dtype == np.float32 else np.float64
    return np.ascontiguousarray(var.transpose("time", "indx").values, dtype=dtype)


def _first_bad(mask: np.ndarray, ds: xr.Dataset) -> str:
    it, ip = np.argwhere(mask)[0]
    return f"indx={ds['indx'].values[ip]}, time={ds['time'].values[it]}"


def _check_rows(ds: xr.Dataset, lon: np.ndarray, lat: np.ndarray,
                foot: np.ndarray) -> np.ndarray:
    """Where the particles have rows (long not NaN), after checking that lati and foot are NaN
    exactly there, nothing is infinite and every latitude is in [-90, 90]."""
    present = ~np.isnan(lon)
    if not present.any():
        raise FootprintError("the particle set is empty: every long value is NaN")
    # the usual case in few passes: NaN where long is NaN, finite elsewhere, |lat| <= 90
    if not (np.isnan(lat) == present).any() and not (np.isnan(foot) == present).any():
        lo = [np.fmin.reduce(a, axis=None) for a in (lon, lat, foot)]
        hi = [np.fmax.reduce(a, axis=None) for a in (lon, lat, foot)]
        if np.all(np.isfinite(lo + hi)) and -90 <= lo[1] and hi[1] <= 90:
            return present
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
    if bad.any():
        raise FootprintError(
            f"particle row {_first_bad(bad, ds)}: lati = {lat[bad][0]} outside [-90, 90]"
        )
    return present


def _particles(
    ds: xr.Dataset, hnf_plume: bool, rec: _Receptor
) -> tuple[_Particles, dict[str, np.ndarray]]:
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
    time = ds["time"].values
    if np.issubdtype(time.dtype, np.timedelta64):
        time = time / np.timedelta64(1, "m")
    time = np.asarray(time, dtype=np.float64)
    if not np.all(np.isfinite(time)):
        raise FootprintError("particle time coordinate holds NaN or infinite values")
    # R-STILT's trajectory layout: foot after the plume dilution, the raw value beside it
    corrected = "foot_no_hnf_dilution" in ds or bool(ds.attrs.get("hnf_plume_applied", 0))
    if corrected:
        hnf = "transport" if hnf_plume else "none"
        raw_name = "foot" if hnf_plume or "foot_no_hnf_dilution" not in ds else "foot_no_hnf_dilution"
    else:
        hnf = "footprint" if hnf_plume else "none"
        raw_name = "foot"
    lon, lat, foot = (_field(ds, v) for v in ("long", "lati", raw_name))
    present = _check_rows(ds, lon, lat, foot)
    extra: dict[str, np.ndarray] = {}
    if hnf == "footprint":
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
            extra["z0"] = _release_heights(ds, present, rec)
    parts = _Particles(time, ds["indx"].values, lon, lat, foot, present, hnf)
    return parts, extra


def _release_heights(ds: xr.Dataset, present: np.ndarray, rec: _Receptor) -> np.ndarray:
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
        first = np.argmax(present, axis=0)
        ground = zsfc[first, np.arange(zsfc.shape[1])]
        z0 = np.where(np.isfinite(ground), np.maximum(z0 - ground, 0.0), z0)
    return z0


def _apply_hnf(parts: _Particles, extra: Mapping[str, np.ndarray], veght: float) -> np.ndarray:
    from stilt import _core

    abs_t = np.abs(parts.time)
    order = (np.argsort(abs_t, kind="stable") + 1).astype(np.int32)
    fields = [extra[v] for v in HNF_VARIABLES]
    if all(f.dtype == np.float32 for f in fields):  # as files store them: no widened copies
        return _core.footprint_hnf_sp(order, abs_t, parts.foot.T, *(f.T for f in fields),
                                      extra["z0"], float(veght)).T
    out, _ = _core.footprint_hnf(
        order,
        abs_t,
        parts.foot.T,
        *(np.asarray(f, dtype=np.float64).T for f in fields),
        extra["z0"],
        float(veght),
        np.zeros(parts.foot.shape[1]),
    )
    return out.T


def _first_abs_time(time: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Smallest |time| of each particle's rows (inf for a particle without rows)."""
    abs_t = np.abs(time)
    order = np.argsort(abs_t, kind="stable")
    rows = present[order]
    first = rows.argmax(axis=0)
    has = rows[first, np.arange(rows.shape[1])]
    return np.where(has, abs_t[order][first], np.inf)


def _time_sign(time: np.ndarray, present: np.ndarray) -> int:
    """sign(median(time)) over all present rows, without materialising them."""
    counts = present.sum(axis=1)
    order = np.argsort(time, kind="stable")
    cum = np.cumsum(counts[order])
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


# ---- grid geometry -------------------------------------------------------------------------


def _cell_count(lo: float, hi: float, res: float) -> int:
    """Count the whole cells from lo to hi (PYSTILT's tolerance on the quotient, §10.7)."""
    quotient = (hi - lo) / res
    scale = max(abs(lo), abs(hi), abs(hi - lo))
    return int(np.floor(quotient + 16 * np.finfo(float).eps * scale / res))


def _transformer(projection: str) -> Any:
    try:
        from pyproj import Transformer
    except ImportError:
        raise MissingDependencyError(
            f"the footprint grid projection {projection!r} is not lon/lat: projected grids "
            "need the optional dependency pyproj (pip install 'stilt[proj]')"
        ) from None
    try:
        return Transformer.from_crs("EPSG:4326", projection, always_xy=True)
    except Exception as err:  # pyproj.exceptions.CRSError and friends
        raise ConfigError(
            f"Grid projection {projection!r} is not understood by PROJ: {err}"
        ) from None


@dataclass
class _Geometry:
    xmin: float
    xmax: float
    ymin: float
    ymax: float
    nx: int
    ny: int
    wrapped: bool
    transformer: Any


def _geometry(grid: Grid, max_cells: int) -> _Geometry:
    xmin, xmax, ymin, ymax = grid.xmin, grid.xmax, grid.ymin, grid.ymax
    wrapped = False
    transformer = None
    if grid.is_longlat:
        xdist = ((180 - xmin) - (-180 - xmax)) % 360
        if xdist == 0:
            xmin, xmax = -180.0, 180.0
        elif xmax < xmin or xmax > 180 or xmin < -180:
            xmin = ((xmin % 360) + 360) % 360
            xmax = ((xmax % 360) + 360) % 360
            wrapped = True
            if not xmin < xmax:
                raise ConfigError(
                    f"Grid longitudes {grid.xmin}..{grid.xmax} span 360 degrees or more"
                )
    else:
        transformer = _transformer(grid.projection)
        cx, cy = transformer.transform([xmin, xmax], [ymin, ymax])
        xmin, xmax = float(np.min(cx)), float(np.max(cx))
        ymin, ymax = float(np.min(cy)), float(np.max(cy))
        if not (np.isfinite([xmin, xmax, ymin, ymax]).all() and xmin < xmax and ymin < ymax):
            raise ConfigError(f"Grid corners do not project to a box in {grid.projection!r}")
    nx = _cell_count(xmin, xmax, grid.xres)
    ny = _cell_count(ymin, ymax, grid.yres)
    if nx < 1 or ny < 1:
        raise ConfigError(
            f"Grid {grid} holds no whole cell ({nx} x {ny}): resolution larger than the extent"
        )
    if nx * ny > max_cells:
        raise ConfigError(
            f"Grid {grid} has {nx} x {ny} = {nx * ny} cells, more than the cell budget "
            f"max_cells = {max_cells}; coarsen the resolution or raise max_cells"
        )
    return _Geometry(xmin, xmax, ymin, ymax, nx, ny, wrapped, transformer)


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


def _footprint(
    parts: _Particles,
    foot: np.ndarray,
    rec: _Receptor,
    grid: Grid,
    name: str,
    cfg: _Settings,
) -> xr.Dataset:
    from stilt import _core

    smooth_factor, time_integrate, max_cells = cfg.smooth_factor, cfg.time_integrate, cfg.max_cells

    geo = _geometry(grid, max_cells)
    time, lon, lat = parts.time, parts.lon, parts.lat
    present = parts.present
    sign = _time_sign(time, present)
    if geo.wrapped:
        lon = ((lon % 360) + 360) % 360

    # near-field densification (§10.4): decided on degrees even for projected grids
    order = (np.argsort(time, kind="stable") + 1).astype(np.int32)
    dx_med, dy_med = _core.footprint_step_medians(order, time, lon.T, lat.T)
    densified = bool(dx_med > grid.xres or dy_med > grid.yres)
    if densified:
        time, lon, lat, foot = _densify(time, lon, lat, foot, sign)
        present = ~np.isnan(lon)

    # relative time (§10.5) as groups: particles share a start class, rtime = time - sign * start
    absmin = _first_abs_time(time, present)
    alive = np.isfinite(absmin)
    n_particles = int(alive.sum())
    starts, mgroup = np.unique(absmin[alive], return_inverse=True)
    mclass = np.ones(absmin.size, dtype=np.int32)
    mclass[alive] = mgroup + 1
    rt_table = time[None, :] - sign * starts[:, None]
    rtimes, inverse = np.unique(rt_table, return_inverse=True)
    gid = np.asfortranarray(inverse.reshape(rt_table.shape) + 1, dtype=np.int32)

    # kernel bandwidths (§10.6), in degrees from the lon/lat positions
    if geo.transformer is None:
        w, counts = _core.footprint_bandwidths(
            lon.T, lat.T, mclass, gid, rtimes, float(smooth_factor), 1
        )
    else:  # degrees of latitude (no cos), then map units (below)
        lon_deg = lon
        if np.nanmax(lon) - np.nanmin(lon) > 180.0:  # a cloud across the antimeridian
            lon_deg = lon % 360.0
        w, counts = _core.footprint_bandwidths(
            lon_deg.T, lat.T, mclass, gid, rtimes, float(smooth_factor), 0
        )

    if geo.transformer is not None:  # projection (§10.5)
        px, py = geo.transformer.transform(lon[present], lat[present])
        lon = np.full_like(lon, np.nan)
        lat = np.full_like(lat, np.nan)
        lon[present], lat[present] = px, py
        w = w * _map_units_per_degree(geo.transformer, lon, lat, present, mclass, gid, w.size)
    table = (counts >= 2) & np.isfinite(w)
    if table.any():
        sigma = w[table][_nearest_kernel(rtimes, rtimes[table])]
        wmax = float(np.max(w[table]))
    else:  # single particle: no spread, 1x1 kernels
        sigma = np.zeros(rtimes.size)
        wmax = 0.0

    # buffer and binning edges (§10.7), with R/PYSTILT's exact arithmetic
    bx = 1 + 2 * int(_core.footprint_kernel_half_width(np.array([wmax]), grid.xres)[0])
    by = 1 + 2 * int(_core.footprint_kernel_half_width(np.array([wmax]), grid.yres)[0])
    bxh, byh = (bx - 1) // 2, (by - 1) // 2
    xedges = geo.xmin - bx * grid.xres + np.arange(geo.nx + 2 * bx) * grid.xres
    yedges = geo.ymin - by * grid.yres + np.arange(geo.ny + 2 * by) * grid.yres
    bounds = np.array(
        [
            geo.xmin - bxh * grid.xres,
            geo.xmax + bxh * grid.xres,
            geo.ymin - byh * grid.yres,
            geo.ymax + byh * grid.yres,
        ]
    )

    if time_integrate:
        layer0, nl = 0, 1
    else:
        tp = time[present.any(axis=1)]
        layer0 = int(np.floor(tp.min() / 60))
        nl = int(np.floor(tp.max() / 60)) - layer0 + 1
    if geo.nx * geo.ny * nl > max_cells:
        raise ConfigError(
            f"footprint of {nl} hourly layers on {geo.nx} x {geo.ny} cells exceeds the cell "
            f"budget max_cells = {max_cells}; use time_integrate=True or raise max_cells"
        )
    arr, hit, mass, status = _core.footprint_accumulate_grid(
        lon.T,
        lat.T,
        foot.T,
        time,
        mclass,
        gid,
        sigma,
        grid.xres,
        grid.yres,
        bounds,
        xedges,
        yedges,
        bx,
        by,
        geo.nx,
        geo.ny,
        int(time_integrate),
        layer0,
        nl,
    )
    raise_for_status(status, f"footprint accumulation on {grid}")

    values = arr.T  # (layer, y, x)
    layers = np.arange(layer0, layer0 + nl)
    keep = hit == 1
    empty_reason = ""
    if not keep.any():
        empty_reason = (
            "no particle row has foot > 0: no particle was ever in the surface layer"
            if mass[0] == 0
            else "no particle row with foot > 0 lies inside the grid (buffered by the kernel)"
        )
        values = np.zeros((1, geo.ny, geo.nx))
        layers = np.zeros(1, dtype=int)
    else:
        values = values[keep] / n_particles
        layers = layers[keep]

    xc = np.round(geo.xmin + np.arange(geo.nx) * grid.xres + grid.xres / 2, 10)
    yc = np.round(geo.ymin + np.arange(geo.ny) * grid.yres + grid.yres / 2, 10)
    if geo.wrapped:  # computed on 0..360: back to the grid's own convention, contiguous
        xc = np.round(xc + (grid.xmin - geo.xmin), 10)
    elif grid.is_longlat and geo.xmin != grid.xmin:  # a global grid asked from xmin != -180
        mapped = (xc - grid.xmin) % 360.0 + grid.xmin
        xorder = np.argsort(mapped, kind="stable")
        xc = np.round(mapped[xorder], 10)
        values = values[:, :, xorder]

    hour = np.timedelta64(3600, "s").astype("timedelta64[ns]")
    if time_integrate or empty_reason:  # one layer: the hours of every particle row
        times = np.array([rec.time])
        tp = parts.time[parts.present.any(axis=1)]  # the rows before densification
        first, last = int(np.floor(tp.min() / 60)), int(np.floor(tp.max() / 60)) + 1
        bounds_t = rec.time + np.array([[first, last]]) * hour
    else:  # layer k: the rows of [k h, (k + 1) h) after the receptor time
        times = rec.time + layers * hour
        bounds_t = np.stack([times, times + hour], axis=1)
    foot_total = float(mass[0]) / n_particles
    foot_in_grid = float(values.sum())
    info = {
        "n_particles": n_particles,
        "hnf_plume_applied": parts.hnf,
        "nearfield_densified": int(densified),
        "foot_total": foot_total,
        "foot_in_grid": foot_in_grid,
        "foot_outside_grid": foot_total - foot_in_grid,
        "rows_outside_domain": int(np.count_nonzero((foot > 0) & present)) - int(mass[2]),
    }
    return _dataset(
        values,
        times,
        bounds_t,
        xc,
        yc,
        rec,
        grid,
        name,
        cfg,
        info,
        empty_reason,
    )


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


def _dataset(
    values: np.ndarray,
    times: np.ndarray,
    time_bounds: np.ndarray,
    xc: np.ndarray,
    yc: np.ndarray,
    rec: _Receptor,
    grid: Grid,
    name: str,
    cfg: _Settings,
    info: Mapping[str, Any],
    empty_reason: str,
) -> xr.Dataset:
    from stilt._version import get_version

    if grid.is_longlat:
        ydim, xdim = "lat", "lon"
        xattrs = {
            "units": "degrees_east",
            "standard_name": "longitude",
            "long_name": "longitude at cell centre",
            "axis": "X",
        }
        yattrs = {
            "units": "degrees_north",
            "standard_name": "latitude",
            "long_name": "latitude at cell centre",
            "axis": "Y",
        }
    else:
        ydim, xdim = "y", "x"
        xattrs = {
            "units": "m",
            "standard_name": "projection_x_coordinate",
            "long_name": "x coordinate of projection at cell centre",
            "axis": "X",
        }
        yattrs = {
            "units": "m",
            "standard_name": "projection_y_coordinate",
            "long_name": "y coordinate of projection at cell centre",
            "axis": "Y",
        }
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
    foot = xr.Variable(
        ("time", ydim, xdim),
        values,
        {
            "units": FOOT_UNITS,
            "long_name": "STILT surface influence footprint",
            "cell_methods": "time: sum",
            "grid_mapping": GRID_MAPPING,
        },
    )
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
    bounds = xr.Variable(("time", "nv"), time_bounds,
                         {"long_name": "start and end of the hours summed in the layer"})
    return xr.Dataset(
        {"foot": foot, "time_bnds": bounds,
         GRID_MAPPING: xr.Variable((), np.int32(0), _crs_attrs(grid))},
        coords={
            "time": ("time", times, tattrs),
            ydim: (ydim, yc, yattrs),
            xdim: (xdim, xc, xattrs),
        },
        attrs=attrs,
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
    max_cells: int = DEFAULT_MAX_CELLS,
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
    grids = {name: g if isinstance(g, Grid) else Grid(**g) for name, g in grids.items()}
    rec = _receptor(receptor)
    parts, extra = _particles(particles, cfg.hnf_plume, rec)
    foot = parts.foot
    if parts.hnf == "footprint":
        foot = _apply_hnf(parts, extra, cfg.veght)
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
    max_cells: int = DEFAULT_MAX_CELLS,
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
    grid = grid if isinstance(grid, Grid) else Grid(**grid)
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
