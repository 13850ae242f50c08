"""Backward (or forward) STILT particle ensembles: :func:`run_trajectories`.

The Python side validates everything before any particle moves (receptor, met coverage,
parameters), then walks through the met intervals one at a time: read the two bracketing met
times on a window around the particles (:mod:`stilt.met.window`), remap them onto the internal
levels and advance every particle through the interval in the Fortran core
(``stilt._core.transport_advance``). No Python code runs per model step.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from stilt.errors import ConfigError, CoreError, MetCoverageError, MetError
from stilt.met.roughness import DEFAULT_Z0, roughness_source
from stilt.params import check_kmsl, resolve_params
from stilt.receptors import ReleasePoint, release_points

__all__ = ["run_trajectories", "core_threads", "Release", "normalize_receptor", "release_of",
           "COLUMN_ATTRS", "FOOT_UNITS", "receptor_attrs", "receptor_from_attrs"]

#: Units of ``foot`` in trajectory and footprint files: ppm per (umol m-2 s-1), spelled as
#: R-STILT's write_footprint writes them
FOOT_UNITS = "ppm (umol-1 m2 s)"

#: diagnostic columns of the core (stilt_transport dc_*), 0-based
_DC = {name: i for i, name in enumerate(
    ["x", "y", "zagl", "zsfc", "temp", "pres", "dens", "temz", "wout", "shtf", "whtf", "dswf",
     "tcld", "lcld", "rain", "crai", "sphu", "rhfr", "solw", "sigw", "tlgr", "mlht", "samt",
     "foot", "dmas", "icdx", "zloc", "zcfx"])}
NDIAG = len(_DC)
_SUMMED = ("foot", "samt")  # summed over the output interval; the rest are end-of-step values

#: CF attributes of every output column (docs/physics.md §7.4)
COLUMN_ATTRS: dict[str, dict[str, str]] = {
    "long": {"long_name": "particle longitude", "units": "degrees_east",
             "standard_name": "longitude"},
    "lati": {"long_name": "particle latitude", "units": "degrees_north",
             "standard_name": "latitude"},
    "zagl": {"long_name": "particle height above model ground", "units": "m",
             "standard_name": "height"},
    "sigw": {"long_name": "standard deviation of vertical velocity (last turbulence sub-step)",
             "units": "m s-1"},
    "tlgr": {"long_name": "Lagrangian time scale (last turbulence sub-step)", "units": "s"},
    "zsfc": {"long_name": "terrain height at particle", "units": "m",
             "standard_name": "surface_altitude"},
    "icdx": {"long_name": "cloud index (1 updraft, 2 environment, 3 downdraft)", "units": "1"},
    "temp": {"long_name": "air temperature at the lowest internal level", "units": "K",
             "standard_name": "air_temperature"},
    "samt": {"long_name": "time spent below the footprint height since the previous row",
             "units": "min"},
    "foot": {"long_name": "footprint (sensitivity) accumulated since the previous row",
             "units": FOOT_UNITS},
    "foot_no_hnf_dilution": {
        "long_name": "footprint accumulated since the previous row, before the "
                     "hyper-near-field plume dilution", "units": FOOT_UNITS},
    "shtf": {"long_name": "surface sensible heat flux", "units": "W m-2",
             "standard_name": "surface_upward_sensible_heat_flux"},
    "whtf": {"long_name": "surface latent heat flux", "units": "W m-2",
             "standard_name": "surface_upward_latent_heat_flux"},
    "tcld": {"long_name": "total cloud cover", "units": "%"},
    "dmas": {"long_name": "mass-violation weight", "units": "1"},
    "dens": {"long_name": "dry-air density at particle", "units": "kg m-3",
             "standard_name": "air_density"},
    "rhfr": {"long_name": "relative humidity fraction", "units": "1",
             "standard_name": "relative_humidity"},
    "sphu": {"long_name": "specific humidity", "units": "kg kg-1",
             "standard_name": "specific_humidity"},
    "solw": {"long_name": "soil moisture", "units": "1"},
    "lcld": {"long_name": "low cloud cover", "units": "%"},
    "zloc": {"long_name": "limit of convection height (-999: off)", "units": "m"},
    "dswf": {"long_name": "downward short-wave radiation", "units": "W m-2",
             "standard_name": "surface_downwelling_shortwave_flux_in_air"},
    "wout": {"long_name": "mean vertical velocity at particle (positive downward, as "
                          "the reference binary prints it)", "units": "m s-1"},
    "mlht": {"long_name": "mixed-layer height (mean over the step)", "units": "m",
             "standard_name": "atmosphere_boundary_layer_thickness"},
    "rain": {"long_name": "total precipitation rate", "units": "m min-1"},
    "crai": {"long_name": "convective precipitation rate", "units": "m min-1"},
    "pres": {"long_name": "pressure at particle", "units": "hPa",
             "standard_name": "air_pressure"},
    "temz": {"long_name": "air temperature at particle", "units": "K",
             "standard_name": "air_temperature"},
    "zcfx": {"long_name": "cumulative vertical displacement by convective fluxes", "units": "m"},
}
#: foot after the plume dilution (run_trajectories(hnf_plume=True))
FOOT_HNF_ATTRS = {"long_name": "footprint (sensitivity) accumulated since the previous row, "
                               "after the hyper-near-field plume dilution applied on every "
                               "model step", "units": FOOT_UNITS}
#: release height of each particle
XHGT_ATTRS = {"long_name": "release height of the particle above ground", "units": "m"}
#: how each particle's run ended (CF flags; the core's ps_alive and ps_left_grid)
STATUS_ATTRS = {"long_name": "how the particle's run ended", "flag_values": np.array([0, 1],
                dtype=np.int8), "flag_meanings": "ran_to_end left_met_grid"}
_DOUBLE = ("long", "lati", "foot", "foot_no_hnf_dilution")
#: doubles in the core's per-call output buffer (NDIAG x particles x steps): 16 MB
_OUT_BUDGET = 2_000_000


@dataclass(frozen=True)
class Release:
    """Where each particle starts: one row per release point."""

    time: np.datetime64
    latitude: np.ndarray
    longitude: np.ndarray
    bottom: np.ndarray   #: lowest release height of each point, m
    top: np.ndarray      #: highest release height (= bottom for a point), m
    msl: bool            #: heights above sea level (True) or ground (False)

    def particle_points(self, numpar: int) -> tuple[np.ndarray, np.ndarray]:
        """Point index and release height of each particle 1..numpar.

        Particles are split over the points in consecutive blocks; within a point spanning two
        heights the height is linear in the particle index, R-STILT's
        ``(indx - 0.5) * (top - bottom) / n + bottom`` (docs/physics.md §4.5).
        """
        npts = self.latitude.size
        indx = np.arange(numpar)
        point = (indx * npts) // numpar
        heights = np.empty(numpar)
        for k in range(npts):
            sel = np.nonzero(point == k)[0]
            n = sel.size
            rank = np.arange(n) + 0.5
            heights[sel] = self.bottom[k] + rank * (self.top[k] - self.bottom[k]) / max(n, 1)
        return point, heights


def normalize_receptor(receptor: Any) -> Release:
    """Turn a receptor description into a :class:`Release`.

    Accepted: a mapping or object with ``time``, ``latitude``, ``longitude``, ``altitude``
    (scalar, or two values ``[bottom, top]`` for a column) and optional ``altitude_ref``
    (``"agl"`` default, or ``"msl"``); or a list of those (multi-point / slant receptor, one
    time). Short names ``lat``/``lon``/``zagl`` are accepted too. The fields are checked by
    :func:`stilt.receptors.release_points`, the rules of every receptor stilt takes (latitude
    in [-90, 90], longitude in [-180, 360] with 180..360 moved to -180..0, a time of
    1940..2039, heights above ground not negative).
    """
    return release_of(release_points(receptor))  # the one receptor check (stilt.receptors)


def release_of(points: Sequence[ReleasePoint]) -> Release:
    """The :class:`Release` of checked release points (:func:`stilt.receptors.release_points`)."""
    return Release(np.datetime64(points[0].time, "m"),
                   np.array([p.latitude for p in points]),
                   np.array([p.longitude for p in points]),
                   np.array([p.bottom for p in points]), np.array([p.top for p in points]),
                   points[0].altitude_ref == "msl")


#: Names of the receptor attributes before trajectory and footprint files shared R-STILT's
#: (still read by :func:`receptor_from_attrs`)
_OLD_RECEPTOR_ATTRS = ("receptor_time", "receptor_latitude", "receptor_longitude",
                       "receptor_altitude", "receptor_altitude_bottom", "receptor_altitude_top")


def receptor_attrs(release: Release) -> dict[str, Any]:
    """The receptor as attributes of trajectory and footprint files.

    R-STILT's receptor names (its trajectory files hold ``run_time``, ``lati``, ``long``,
    ``zagl``) with a ``receptor_`` prefix: ``receptor_run_time`` (ISO 8601, UTC),
    ``receptor_lati``, ``receptor_long``, and the release height ``receptor_zagl`` (m above
    ground) or, for heights above sea level, ``receptor_zmsl``; ``receptor_altitude_ref``
    (``"agl"`` or ``"msl"``) says which. A column is one point with the height pair
    ``[bottom, top]``; a multi-point receptor has one value per point (and
    ``receptor_zagl_top`` / ``receptor_zmsl_top`` when a point spans heights).
    """
    def value(arr: np.ndarray) -> Any:
        return arr.tolist() if arr.size > 1 else float(arr[0])

    zname = "receptor_zmsl" if release.msl else "receptor_zagl"
    when = np.datetime_as_string(np.datetime64(release.time, "s"), unit="s") + "Z"
    attrs: dict[str, Any] = {"receptor_run_time": when,
                             "receptor_lati": value(release.latitude),
                             "receptor_long": value(release.longitude)}
    if release.latitude.size == 1 and release.top[0] != release.bottom[0]:
        attrs[zname] = [float(release.bottom[0]), float(release.top[0])]
    else:
        attrs[zname] = value(release.bottom)
        if np.any(release.top != release.bottom):
            attrs[f"{zname}_top"] = release.top.tolist()
    attrs["receptor_altitude_ref"] = "msl" if release.msl else "agl"
    return attrs


def receptor_from_attrs(attrs: Mapping[str, Any]) -> Release | None:
    """The receptor recorded in a trajectory or footprint file's attributes.

    Reads the names of :func:`receptor_attrs` and the earlier ones (``receptor_time``,
    ``receptor_latitude``, ``receptor_longitude``, ``receptor_altitude`` or
    ``receptor_altitude_bottom``, ``receptor_altitude_top``). None when the file records no
    receptor.

    Raises
    ------
    ConfigError
        When the attributes are there but do not describe a receptor.
    """
    def listed(value: Any) -> list[Any]:
        return np.atleast_1d(np.asarray(value)).tolist()

    ref = str(attrs.get("receptor_altitude_ref", "agl")).lower()
    if "receptor_run_time" in attrs:
        zname = "receptor_zmsl" if ref == "msl" else "receptor_zagl"
        when, lat, lon = (attrs.get(k) for k in ("receptor_run_time", "receptor_lati",
                                                 "receptor_long"))
        bottom, top = attrs.get(zname), attrs.get(f"{zname}_top")
    elif "receptor_time" in attrs:
        when, lat, lon = (attrs.get(k) for k in _OLD_RECEPTOR_ATTRS[:3])
        bottom = attrs.get("receptor_altitude", attrs.get("receptor_altitude_bottom"))
        top = attrs.get("receptor_altitude_top")
    else:
        return None
    if lat is None or lon is None or bottom is None:
        raise ConfigError("the file's receptor attributes are incomplete (latitude, longitude "
                          "or height missing)")
    when = str(when).removesuffix("Z")
    lats, lons, bots = listed(lat), listed(lon), listed(bottom)
    tops = listed(top) if top is not None else list(bots)
    if len(lats) == 1 and len(bots) == 2 and top is None:  # a column as [bottom, top]
        bots, tops = bots[:1], bots[1:]
    if not len(lats) == len(lons) == len(bots) == len(tops):
        raise ConfigError(f"the file's receptor attributes disagree on the number of points: "
                          f"{len(lats)} latitudes, {len(lons)} longitudes, {len(bots)} heights")
    points = [{"time": when, "latitude": la, "longitude": lo,
               "altitude": b if b == t else [b, t], "altitude_ref": ref}
              for la, lo, b, t in zip(lats, lons, bots, tops)]
    return normalize_receptor(points)


def _met_source(met: Any, release: Release, n_hours: float) -> tuple[Any, list[str]]:
    from stilt.met.discovery import MetConfig
    from stilt.met.window import MetSource

    if isinstance(met, xr.Dataset):
        return MetSource(met), [str(p) for p in met.attrs.get("arl_files", [])]
    if isinstance(met, MetConfig):
        files = met.find_files(release.time, n_hours)
        return (MetSource([f.path for f in files], file_times=[f.times for f in files]),
                [str(f.path) for f in files])
    raise ConfigError(f"met must be a stilt.MetConfig or an xarray.Dataset, got {type(met)}")


def _choose_dt(delt: float, vmax_cells_per_min: float, tratio: float) -> int:
    """Model step in minutes (docs/physics.md §4.2): fixed delt, or from tratio when delt <= 0."""
    if delt > 0:
        return int(delt)
    divisors = [d for d in range(60, 0, -1) if 60 % d == 0]
    lo = int(abs(delt)) if delt < 0 else 1
    for d in divisors:
        if d >= lo and vmax_cells_per_min * d <= tratio:
            return d
    return max(lo, 1)


def core_threads(threads: int = 0) -> int:
    """Set (``threads`` > 0) or query (0) the threads the core's particle loop uses.

    Parameters
    ----------
    threads : int, optional
        Number of threads for the following runs in this process; 0 leaves it as it is.

    Returns
    -------
    int
        The number in force: 1 when the core was built without OpenMP
        (``-Csetup-args=-Dopenmp=disabled``).

    Raises
    ------
    ConfigError
        When ``threads`` is negative or not an integer.
    """
    from stilt import _core

    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 0:
        raise ConfigError(f"threads must be a whole number >= 1, got {threads!r}")
    return int(_core.transport_threads(int(threads)))


def run_trajectories(receptor: Any, met: Any, n_hours: float = -24, numpar: int = 1000,
                     seed: int | None = None, *, hnf_plume: bool = False,
                     threads: int | None = None, **params: Any) -> xr.Dataset:
    """Run a STILT particle ensemble from a receptor through ARL meteorology.

    Parameters
    ----------
    receptor : mapping, object or list of them
        ``time``, ``latitude``, ``longitude``, ``altitude`` (m; ``[bottom, top]`` for a column),
        optional ``altitude_ref`` ``"agl"`` (default) or ``"msl"``; a list for multi-point or
        slant receptors (see :func:`normalize_receptor`).
    met : stilt.MetConfig or xarray.Dataset
        Where the met files are (found with :meth:`MetConfig.find_files`), or met already in
        the layout of :func:`stilt.met.read_arl`.
    n_hours : float, optional
        Run duration in hours, negative backward (default -24).
    numpar : int, optional
        Number of particles (default 1000).
    seed : int, optional
        Random seed; the same seed gives bit-identical results. None draws one.
    hnf_plume : bool, optional
        Store R-STILT's trajectory layout: ``foot`` after the hyper-near-field plume dilution
        (docs/physics.md §10.2), applied on every model step before the output thinning (so it does
        not depend on ``outdt``), and the raw value as ``foot_no_hnf_dilution``. Default
        False: ``foot`` is the raw value, as the HYSPLIT-STILT binary prints it.
    threads : int, optional
        Threads that share the particles in the core (OpenMP builds; see
        :func:`core_threads`). Each particle has its own random stream, so the result is the
        same for any number of threads. Default 1 (a process pool of workers is the usual
        way to use several cores).
    **params
        HYSPLIT-STILT namelist parameters in lower case (:data:`stilt.params.PARAMETERS`).

    Returns
    -------
    xarray.Dataset
        One variable per requested output column (``varsiwant``) on dims ``time`` (minutes
        since release, negative backward, no row at 0) x ``indx`` (particle 1..numpar), NaN
        once a particle has left the met grid; ``xhgt`` on ``indx``, each particle's release
        height above ground; attributes record every parameter, the met files and the
        package version.

    Raises
    ------
    ConfigError
        Invalid receptor or parameter.
    MetError
        Missing met files, a met gap, the receptor outside the met grid or time coverage.
    """
    from stilt import _core
    from stilt._version import get_version
    from stilt.met.projection import ArlGrid
    from stilt.met.window import window_around

    p = resolve_params(params, n_hours=n_hours, numpar=numpar)
    release = normalize_receptor(receptor)
    check_kmsl({k.lower(): v for k, v in params.items()}, ["msl" if release.msl else "agl"])
    n_hours = float(p["n_hours"])
    numpar = int(p["numpar"])
    if n_hours == 0:
        raise ConfigError("n_hours must not be 0")
    if seed is None:
        seed = int(np.random.SeedSequence().entropy % (2**31 - 1))
    source, met_files = _met_source(met, release, n_hours)
    roughness_used = source.set_roughness(roughness_source(getattr(met, "roughness", None)))
    grid = ArlGrid.from_attrs(source.attrs)
    rname = (f"receptor ({release.time}, lat {release.latitude.tolist()}, "
             f"lon {release.longitude.tolist()})")

    # where the receptor sits in the grid and the met time coverage, before anything moves
    rx, ry = grid.to_grid(release.latitude, release.longitude)
    rx, ry = np.asarray(rx, float), np.asarray(ry, float)
    x_max = float(source.nx)
    if grid.is_global:  # cyclic in x: between the last column and the first is inside
        rx = np.mod(rx - 1.0, source.nx) + 1.0
        x_max = source.nx + 1.0 - 1e-9
    if not (np.all(np.isfinite(rx)) and np.all((rx >= 1) & (rx <= x_max))
            and np.all((ry >= 1) & (ry <= source.ny))):
        raise MetCoverageError(f"{rname} is outside the met grid ({source.nx} x {source.ny}, "
                               f"files {met_files or 'dataset'}): grid position x={rx}, y={ry}")
    if not grid.is_global and not (np.all((rx >= 2) & (rx <= source.nx - 2))
                                   and np.all((ry >= 2) & (ry <= source.ny - 2))):
        raise MetCoverageError(
            f"{rname} is in the edge band of the met grid where particles stop "
            f"({source.nx} x {source.ny}, files {met_files or 'dataset'}): grid "
            f"position x={rx}, y={ry}; the transport (as hycs_std) needs "
            f"2 <= x <= {source.nx - 2} and 2 <= y <= {source.ny - 2}")
    t0 = release.time
    t_end = t0 + np.timedelta64(int(round(n_hours * 60)), "m")
    lo, hi = min(t0, t_end), max(t0, t_end)
    times = source.times
    if times.size < 2 or times[0] > lo or times[-1] < hi:
        raise MetCoverageError(f"{rname}: met covers {times[0]} .. {times[-1]} "
                               f"({', '.join(met_files) or 'dataset'}), the run needs "
                               f"{lo} .. {hi}")
    inside = times[(times >= lo) & (times <= hi)]
    span = np.concatenate([times[times < lo][-1:], inside, times[times > hi][:1]])
    if span.size > 2 and isinstance(met, xr.Dataset):  # MetConfig.find_files checked files
        from stilt.met.discovery import MetFile, check_gaps

        check_gaps(span, [MetFile(Path("<met Dataset>"), times)])
    source.check_values(span)  # NaN / inf met: refused before any particle moves

    # internal vertical grid (docs/physics.md §3.1)
    z_top = float(p["z_top"])
    lev = source.level_values
    z_data_top = _approx_top_height(source.ksys, lev, source.attrs)
    nlvl, aa, bb, cc = _core.met_internal_grid(z_top, z_data_top, lev.size)
    zsg = _core.met_internal_sigma(int(nlvl), aa, bb, cc, z_top)

    # particles and their persistent state
    point, heights = release.particle_points(numpar)
    x = np.ascontiguousarray(rx[point], dtype=float)
    y = np.ascontiguousarray(ry[point], dtype=float)
    s = np.empty(numpar)
    pstat = np.zeros(numpar, dtype=np.int32)
    wnorm = np.zeros(numpar)
    up = np.zeros(numpar)
    vp = np.zeros(numpar)
    dmas = np.ones(numpar)
    # where each particle's start-of-step columns come from: its mean-advected position of
    # the step before (the release position at first)
    xc = x.copy()
    yc = y.copy()
    if threads is not None and not isinstance(threads, bool) and threads == 0:
        raise ConfigError("threads must be a whole number >= 1, got 0")  # 0 would only query
    core_threads(1 if threads is None else threads)  # checks the type and the sign
    rng, rstatus = _core.transport_init_rng(np.int64(seed), int(_core.random_state_size()),
                                            np.arange(1, numpar + 1, dtype=np.int64))
    if rstatus != 0:
        raise CoreError("random state size mismatch between stilt_random and the wrapper")
    rng = np.asfortranarray(rng)
    errpar = np.array([p["winderrtf"]] + [p[k] or 0.0 for k in (
        "siguverr", "tluverr", "zcoruverr", "horcoruverr", "sigzierr", "tlzierr",
        "horcorzierr")], dtype=float)
    eu, ev, eps = _core.transport_init_errors(zsg, z_top, errpar, rng)
    eu, ev = np.asfortranarray(eu), np.asfortranarray(ev)
    turb = {name: p[name] for name in ("kbls", "kmixd", "kmix0", "kzmix", "tvmix", "tkerd",
                                       "tkern")}
    turb.update(ks=2, kdat=_first_level_above(lev, source.ksys, source.attrs, aa, bb, cc),
                z0=DEFAULT_Z0)

    def ziscale(t: np.datetime64) -> float:
        if not p["zicontroltf"]:
            return 1.0
        hour = int(abs(to_min(t)) // 60)
        return p["ziscale"][hour] if hour < len(p["ziscale"]) else 1.0

    sign = -1 if n_hours < 0 else 1
    total = int(round(abs(n_hours) * 60))
    outdt = int(p["outdt"])
    cols = [c for c in p["varsiwant"] if c not in ("time", "indx")]
    hnf = bool(hnf_plume) and "foot" in cols
    if hnf:
        cols.insert(cols.index("foot") + 1, "foot_no_hnf_dilution")
    z_release = np.array(heights, dtype=float)  # above ground (set at the release for MSL)
    depth = np.zeros(numpar)  # summed plume-depth increments of the plume dilution
    step_times: list[int] = []
    # output arrays, preallocated for the most rows the run can write (trimmed at the end)
    min_step = int(p["delt"]) if p["delt"] > 0 else 1
    cap = 0 if outdt < 0 else total // max(min_step, outdt if outdt > 0 else 1) + 2
    store = {c: np.full((cap, numpar), np.nan, dtype=np.float64 if c in _DOUBLE
                        else np.float32) for c in set(cols) | {"long", "lati"}}
    acc = {c: np.zeros(numpar) for c in _SUMMED + (("foot_no_hnf_dilution",) if hnf else ())}
    since_out = 0
    chunk = max(1, _OUT_BUDGET // (NDIAG * numpar))  # model steps per core call

    def to_min(t: np.datetime64) -> float:
        return float((np.datetime64(t, "m") - t0) / np.timedelta64(1, "m"))

    wrap_x = bool(grid.is_global)
    gx0, gy0 = grid.grid_spacing_m(np.array([x.mean()]), np.array([y.mean()]))
    dx_ref = float(min(np.min(gx0), np.min(gy0)))
    reach: float | None = None  # fastest particle of the last interval, cells per minute
    last = None  # the remapped met of the previous interval's end time
    spacing = None  # grid spacing of the current window
    t_now = 0  # minutes since release
    started = False
    seq = span if sign > 0 else span[::-1]  # met times in the run direction
    for k in range(seq.size - 1):
        ta, tb = seq[k], seq[k + 1]
        a_min, b_min = to_min(ta), to_min(tb)
        end_min = b_min if sign * b_min < total else sign * total
        if sign * end_min <= sign * t_now:
            continue
        margin_factor = 1.0
        saved = [a.copy(order="K") for a in (x, y, s, pstat, wnorm, up, vp, dmas, rng, eu, ev,
                                             eps, xc, yc)]
        n_out0, since0 = len(step_times), since_out
        acc0 = {c: a.copy() for c, a in acc.items()}
        depth0 = depth.copy()
        while True:
            alive = pstat == 0
            # margin: twice the largest particle displacement of the previous interval (scaled
            # to this interval's length), or 30 m/s before the first; a particle that still
            # reaches the edge makes the interval run again with a doubled margin
            if reach is None:
                margin = 30.0 * abs(b_min - a_min) * 60.0 / dx_ref
            else:
                margin = 2.0 * reach * abs(b_min - a_min) + 3
            margin = margin_factor * margin + 2
            need = window_around(x[alive], y[alive], margin, source.nx, source.ny,
                                 int(p["mgmin"]), wrap_x)
            if last is not None and last.window.contains(need):
                win = last.window  # keep the window: the met of time ta is already remapped
            else:  # a little room to spare, so that the next interval may keep it
                win = window_around(x[alive], y[alive], margin + 3, source.nx, source.ny,
                                    int(p["mgmin"]), wrap_x)
            if last is not None and last.window == win and last.time == np.datetime64(ta, "m"):
                m1 = last
            else:
                m1 = source.remap(ta, win, zsg, z_top, dict(turb, ziscale=ziscale(ta)),
                                  p["k10m"])
            m2 = source.remap(tb, win, zsg, z_top, dict(turb, ziscale=ziscale(tb)), p["k10m"])
            last = m2
            if spacing is None or spacing[0] != win:
                gxx, gyy = np.meshgrid(np.arange(win.i0 + 1, win.i0 + win.nx + 1, dtype=float),
                                       np.arange(win.j0 + 1, win.j0 + win.ny + 1, dtype=float),
                                       indexing="ij")
                gx_, gy_ = grid.grid_spacing_m(gxx.ravel(), gyy.ravel())
                spacing = (win, np.asfortranarray(np.asarray(gx_, float).reshape(win.nx, win.ny)),
                           np.asfortranarray(np.asarray(gy_, float).reshape(win.nx, win.ny)))
            gdx, gdy = spacing[1], spacing[2]
            if not started:
                s[:], z_release[:] = _release_sigma(_core, m1, m2, a_min, b_min, x, y, win,
                                                    heights, release, z_top, zsg, rname)
            vcell = max(m1.vmax, m2.vmax) * 60.0 / dx_ref
            dt = _choose_dt(float(p["delt"]), vcell, float(p["tratio"])) * sign
            nsteps = int(math.ceil(abs(end_min - t_now) / abs(dt)))
            xl = np.array(x, dtype=float)  # full-grid positions, advanced in place
            yl = np.array(y, dtype=float)
            topt = np.array([turb["kbls"], turb["kmixd"], turb["kmix0"], turb["kzmix"],
                             turb["tvmix"], turb["tkerd"], turb["tkern"], m1.ziscale,
                             m2.ziscale, turb["ks"], turb["kdat"]], dtype=float)
            # the output bookkeeping as it was at the start of the interval (for a redo)
            del step_times[n_out0:]
            acc = {c: a.copy() for c, a in acc0.items()}
            depth = depth0.copy()
            since_out = since0
            t_cur, done_steps, redo = t_now, 0, False
            while done_steps < nsteps:  # chunks bound the size of the core's output buffer
                k = min(chunk, nsteps - done_steps)
                out, status, tstatus = _core.transport_advance(
                    win.i0, win.j0, source.nx, source.ny, int(wrap_x), z_top, a_min, b_min,
                    zsg, aa, bb, cc, m1.prof, m2.prof, m1.sfc, m2.sfc, m1.turb, m2.turb,
                    m1.zi, m2.zi, m1.done, m2.done, topt, float(turb["z0"]), gdx, gdy, xl, yl,
                    s, pstat, wnorm, up, vp, dmas, xc, yc, rng, float(t_cur), float(dt), k,
                    float(p["tratio"]), int(p["nturb"]), float(p["tlfrac"]),
                    float(p["veght"]), float(p["hscale"]), errpar, eu, ev, eps)
                if tstatus != 0:
                    raise MetError(f"{rname}: stability / mixed-layer height could not be "
                                   f"evaluated from the met at {ta} or {tb} (core status "
                                   f"{int(tstatus)}): non-finite or invalid surface fluxes or "
                                   "profiles")
                if status != 0:
                    raise CoreError(f"{rname}: dispersion failed between {ta} and {tb} "
                                    f"(core status {int(status)})")
                if np.any(pstat == 2):
                    redo = True
                    break
                foot_hnf = None
                if hnf:  # plume dilution on the model steps, before the output thinning
                    abs_t = np.abs(t_cur + dt * np.arange(1, k + 1, dtype=float))
                    foot_hnf, depth = _core.footprint_hnf(
                        np.arange(1, k + 1, dtype=np.int32), abs_t,
                        *(out[_DC[c], :, :k] for c in ("foot", "samt", "sigw", "tlgr", "dens",
                                                        "mlht")),
                        z_release, float(p["veght"]), depth)
                since_out = _emit_rows(out, k, t_cur, dt, total, outdt, since_out, acc, cols,
                                       store, step_times, grid, foot_hnf)
                t_cur += k * dt
                done_steps += k
            if redo:
                if win.nx == source.nx and win.ny == source.ny:
                    raise CoreError("particles reported at a window edge on the full grid")
                margin_factor *= 2.0
                x, y, s, pstat, wnorm, up, vp, dmas, rng, eu, ev, eps, xc, yc = (
                    a.copy(order="K") for a in saved)
                continue
            moved = np.hypot(xl - saved[0], yl - saved[1])
            moved = moved[np.isfinite(moved) & (pstat == 0)]
            reach = float(moved.max()) / abs(b_min - a_min) if moved.size else reach
            x, y = xl, yl
            break
        started = True
        t_now = int(t_now + nsteps * dt)
        if abs(t_now) >= total or not np.any(pstat == 0):
            break

    # assemble the Dataset
    ntime = len(step_times)
    data_vars = {c: (("time", "indx"), store[c][:ntime],
                     FOOT_HNF_ATTRS if hnf and c == "foot" else COLUMN_ATTRS[c]) for c in cols}
    data_vars["xhgt"] = (("indx",), z_release, XHGT_ATTRS)
    data_vars["status"] = (("indx",), np.where(pstat == 1, 1, 0).astype(np.int8), STATUS_ATTRS)
    coords = {
        "time": ("time", np.asarray(step_times, dtype=float),
                 {"long_name": "minutes since release (negative: backward)", "units": "min"}),
        "indx": ("indx", np.arange(1, numpar + 1, dtype=np.int64),
                 {"long_name": "particle index", "units": "1", "cf_role": "trajectory_id"}),
    }
    attrs: dict[str, Any] = {
        "title": "stilt particle ensemble (HYSPLIT-STILT compatible)",
        "Conventions": "CF-1.8",
        "featureType": "trajectory",
        "stilt_version": get_version(),
        **receptor_attrs(release),
        "seed": int(seed),
        "met_files": list(met_files),
        "roughness": roughness_used,
        "internal_levels": int(nlvl),
        "missing": "NaN where a particle has left the met grid",
        "particles_left_grid": int(np.count_nonzero(pstat == 1)),
    }
    for name, value in p.items():
        attrs[f"param_{name}"] = _attr_value(value)
    return xr.Dataset(data_vars, coords=coords, attrs=attrs)


def _attr_value(value: Any) -> Any:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, tuple):
        return [str(v) for v in value] if value and isinstance(value[0], str) else list(value) \
            if value else ""
    return value


def _emit_rows(out: np.ndarray, nsteps: int, t_start: int, dt: int, total: int, outdt: int,
               since_out: int, acc: dict[str, np.ndarray], cols: list[str],
               store: dict[str, np.ndarray], step_times: list[int], grid: Any,
               foot_hnf: np.ndarray | None = None) -> int:
    """Turn the core's per-step diagnostics into output rows.

    OUTDT sampling, foot and samt summed over the output interval; returns the minutes
    accumulated since the last row. With ``foot_hnf`` (particles x steps, the plume-diluted
    foot) ``foot`` sums it and ``foot_no_hnf_dilution`` the raw foot. The rows of all the
    steps are made at once; the sums add the steps one by one, in order, as a running sum.
    """
    rows: list[int] = []  # the steps that make a row
    for n in range(nsteps):
        since_out += abs(dt)
        if outdt >= 0 and (outdt == 0 or since_out >= outdt
                           or abs(t_start + (n + 1) * dt) >= total):
            rows.append(n)
            since_out = 0
    names = list(acc)
    values = np.nan_to_num(np.stack(
        [foot_hnf[:, :nsteps] if c == "foot" and foot_hnf is not None
         else out[_DC["foot" if c == "foot_no_hnf_dilution" else c], :, :nsteps]
         for c in names]))  # (summed columns, particles, steps)
    running = np.stack([acc[c] for c in names])
    sums = np.empty(values.shape[:2] + (len(rows),))
    k = 0
    for n in range(nsteps):
        running = running + values[:, :, n]
        if k < len(rows) and rows[k] == n:
            sums[:, :, k] = running
            running = np.zeros_like(running)
            k += 1
    for j, c in enumerate(names):
        acc[c][:] = running[j]
    if rows:
        _store_rows(out[:, :, rows], [t_start + (n + 1) * dt for n in rows],
                    dict(zip(names, sums, strict=True)), cols, store, step_times, grid)
    return since_out


def _store_rows(sel: np.ndarray, times: list[int], sums: dict[str, np.ndarray],
                cols: list[str], store: dict[str, np.ndarray], step_times: list[int],
                grid: Any) -> None:
    """Write output rows: ``sel`` the core's diagnostics (columns x particles x rows),
    ``sums`` the summed columns at those rows (particles x rows)."""
    k0 = len(step_times)
    rows = slice(k0, k0 + len(times))
    step_times.extend(times)
    live = ~np.isnan(sel[_DC["x"]].T)  # (rows, particles)
    for c in ("lati", "long"):
        store[c][rows] = np.nan
    if live.any():
        la, lo = grid.to_latlon(sel[_DC["x"]].T[live], sel[_DC["y"]].T[live])
        store["lati"][rows][live] = la
        store["long"][rows][live] = lo
    for c in cols:
        if c in ("long", "lati"):
            continue
        if c in sums:
            store[c][rows] = np.where(live, sums[c].T, np.nan)
        elif c == "wout":
            store[c][rows] = -sel[_DC[c]].T  # the reference binary prints w positive downward
        else:
            store[c][rows] = sel[_DC[c]].T


def _release_sigma(core: Any, m1: Any, m2: Any, a_min: float, b_min: float, x: np.ndarray,
                   y: np.ndarray, win: Any, heights: np.ndarray, release: Release, z_top: float,
                   zsg: np.ndarray, rname: str) -> tuple[np.ndarray, np.ndarray]:
    """Return the internal sigma and the height above ground of the release heights (AGL, or
    MSL minus the ground)."""
    tf = (0.0 - a_min) / (b_min - a_min)
    zg = ((1.0 - tf) * core.transport_surface_at(m1.sfc, x - win.i0, y - win.j0, 1)
          + tf * core.transport_surface_at(m2.sfc, x - win.i0, y - win.j0, 1))
    zagl = heights - zg if release.msl else heights
    if np.any(zagl < 0):
        bad = int(np.argmax(zagl < 0))
        raise ConfigError(f"{rname}: release height {heights[bad]} m above sea level is "
                          f"below the model ground {zg[bad]:.1f} m")
    s = 1.0 - zagl / (z_top - zg)
    if np.any(s < zsg[-1]):
        raise ConfigError(f"{rname}: release height above the model top {z_top} m")
    return s, zagl


def _first_level_above(lev: np.ndarray, ksys: int, attrs: Mapping[str, Any], aa: float,
                       bb: float, cc: float) -> int:
    """First internal level at or above the lowest data level (rough standard atmosphere)."""
    z1 = _approx_top_height(ksys, lev[:1], attrs)
    k = 1
    while aa * k * k + bb * k + cc < z1 and k < 1000:
        k += 1
    return k


def _approx_top_height(ksys: int, lev: np.ndarray, attrs: Mapping[str, Any]) -> float:
    """Rough height of the top data level, only used to choose the internal level set."""
    if lev.size == 0:
        return 0.0
    top = float(lev[-1])
    if ksys == 1:
        ptop = float(attrs.get("reserved", 0.0))
        p = ptop + (1013.25 - ptop) * top
    elif ksys == 2:
        p = top
    elif ksys == 3:
        return top
    elif ksys == 4:
        p = 1013.25 * (top - math.floor(top)) + math.floor(top)
    else:
        p = 1013.25 * top
    return -7990.0 * math.log(max(p, 1e-3) / 1013.25)

