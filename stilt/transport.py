"""Backward (or forward) STILT particle ensembles: :func:`run_trajectories`.

The Python side validates everything before any particle moves (receptor, met coverage,
parameters), then walks through the met intervals one at a time: read the two bracketing met
times on a window around the particles (:mod:`stilt.met.window`), remap them onto the internal
levels and advance every particle through the interval in the Fortran core
(``stilt._core.transport_advance``). No Python code runs per model step. The loop itself, with
the particle state and the output rows it carries, is the private ``stilt._transport_loop``.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from stilt._transport_loop import TURB_SLOTS, ParticleStatus, Particles, Rows, Run, run_intervals
from stilt.errors import ConfigError, CoreError, MetCoverageError, MetError
from stilt.met.roughness import DEFAULT_Z0, roughness_source
from stilt.params import check_kmsl, resolve_params
from stilt.receptors import ReleasePoint, release_points

__all__ = ["run_trajectories", "core_threads", "Release", "normalize_receptor", "release_of",
           "COLUMN_ATTRS", "FOOT_UNITS", "receptor_attrs", "receptor_from_attrs"]

#: the process that last set the core to several threads. GNU OpenMP is not fork-safe: a
#: process forked after its parent ran a parallel region of 2+ threads hangs in its own first
#: parallel region of 2+ threads (measured: workers of a multiprocessing "fork" pool never
#: return), so such a child runs the core on one thread. stilt's own pool does not fork (its
#: workers start from a forkserver); this guards pools that user code forks.
_MULTITHREADED_PID: list[int] = []

#: Units of ``foot`` in trajectory and footprint files: ppm per (umol m-2 s-1), spelled as
#: R-STILT's write_footprint writes them
FOOT_UNITS = "ppm (umol-1 m2 s)"

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
STATUS_ATTRS = {"long_name": "how the particle's run ended",
                "flag_values": np.array([ParticleStatus.ALIVE, ParticleStatus.LEFT_GRID],
                                        dtype=np.int8),
                "flag_meanings": "ran_to_end left_met_grid"}


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
    if threads > 1:
        threads = _fork_safe_threads(int(threads))
    return int(_core.transport_threads(int(threads)))


def _fork_safe_threads(threads: int) -> int:
    """``threads``, or 1 in a process forked from one that ran the core on several threads
    (see ``_MULTITHREADED_PID``), with a warning saying why."""
    pid = os.getpid()
    if _MULTITHREADED_PID and _MULTITHREADED_PID[0] != pid:
        warnings.warn(f"stilt: this process was forked from one that ran the core on several "
                      f"threads; GNU OpenMP would hang here, so the core runs on 1 thread "
                      f"instead of {threads} (start worker processes before running "
                      "multi-threaded, or with the 'forkserver' or 'spawn' method)",
                      RuntimeWarning, stacklevel=3)
        return 1
    _MULTITHREADED_PID[:] = [pid]
    return threads


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

    p = resolve_params(params, n_hours=n_hours, numpar=numpar)
    release = normalize_receptor(receptor)
    check_kmsl({k.lower(): v for k, v in params.items()}, ["msl" if release.msl else "agl"])
    if float(p["n_hours"]) == 0:
        raise ConfigError("n_hours must not be 0")
    if seed is None:
        seed = int(np.random.SeedSequence().entropy % (2**31 - 1))
    source, met_files = _met_source(met, release, float(p["n_hours"]))
    roughness_used = source.set_roughness(roughness_source(getattr(met, "roughness", None)))
    run, x, y, span = _prepare_run(_core, p, release, source, met, met_files)
    parts = _release_particles(run, x, y, seed, threads)
    cols = [c for c in p["varsiwant"] if c not in ("time", "indx")]
    hnf = bool(hnf_plume) and "foot" in cols
    if hnf:
        cols.insert(cols.index("foot") + 1, "foot_no_hnf_dilution")
    rows = Rows.for_run(cols, x.size, run.total, int(p["outdt"]), p["delt"], run.grid, hnf)
    parts = run_intervals(run, parts, rows, span)
    return _trajectory_dataset(run, parts, rows, {"seed": int(seed), "met_files": met_files,
                                                  "roughness": roughness_used})


def _prepare_run(core: Any, p: dict[str, Any], release: Release, source: Any, met: Any,
                 met_files: list[str]) -> tuple[Run, np.ndarray, np.ndarray, np.ndarray]:
    """Check the receptor and the met coverage and set up the internal levels; returns the
    run, the particles' full-grid start positions and the met times the run crosses."""
    from stilt.met.projection import ArlGrid

    grid = ArlGrid.from_attrs(source.attrs)
    name = (f"receptor ({release.time}, lat {release.latitude.tolist()}, "
            f"lon {release.longitude.tolist()})")
    rx, ry = _grid_position(grid, source, release, name, met_files)
    n_hours = float(p["n_hours"])
    span = _met_span(source, release, n_hours, name, met_files, isinstance(met, xr.Dataset))
    # internal vertical grid (docs/physics.md §3.1)
    z_top = float(p["z_top"])
    lev = source.level_values
    z_data_top = _approx_top_height(source.ksys, lev, source.attrs)
    nlvl, aa, bb, cc = core.met_internal_grid(z_top, z_data_top, lev.size)
    zsg = core.met_internal_sigma(int(nlvl), aa, bb, cc, z_top)
    turb = {key: p[key] for key in TURB_SLOTS[:TURB_SLOTS.index("ziscale1")]}  # namelist
    turb.update(ks=2, z0=DEFAULT_Z0)
    point, heights = release.particle_points(int(p["numpar"]))
    x, y = rx[point], ry[point]
    gx0, gy0 = grid.grid_spacing_m(np.array([x.mean()]), np.array([y.mean()]))
    run = Run(core=core, source=source, grid=grid, zsg=zsg, levels=(aa, bb, cc), z_top=z_top,
              params=p, turb=turb, t0=release.time, sign=-1 if n_hours < 0 else 1,
              total=int(round(abs(n_hours) * 60)), name=name, release=release,
              heights=heights, dx_ref=float(min(np.min(gx0), np.min(gy0))))
    return run, x, y, span


def _grid_position(grid: Any, source: Any, release: Release, name: str,
                   met_files: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Full-grid position of each release point; refused outside the grid or in its edge band."""
    rx, ry = grid.to_grid(release.latitude, release.longitude)
    rx, ry = np.asarray(rx, float), np.asarray(ry, float)
    x_max = float(source.nx)
    if grid.is_global:  # cyclic in x: between the last column and the first is inside
        rx = np.mod(rx - 1.0, source.nx) + 1.0
        x_max = source.nx + 1.0 - 1e-9
    if not (np.all(np.isfinite(rx)) and np.all((rx >= 1) & (rx <= x_max))
            and np.all((ry >= 1) & (ry <= source.ny))):
        raise MetCoverageError(f"{name} is outside the met grid ({source.nx} x {source.ny}, "
                               f"files {met_files or 'dataset'}): grid position x={rx}, y={ry}")
    if not grid.is_global and not (np.all((rx >= 2) & (rx <= source.nx - 2))
                                   and np.all((ry >= 2) & (ry <= source.ny - 2))):
        raise MetCoverageError(
            f"{name} is in the edge band of the met grid where particles stop "
            f"({source.nx} x {source.ny}, files {met_files or 'dataset'}): grid "
            f"position x={rx}, y={ry}; the transport needs "
            f"2 <= x <= {source.nx - 2} and 2 <= y <= {source.ny - 2}")
    return rx, ry


def _met_span(source: Any, release: Release, n_hours: float, name: str, met_files: list[str],
              in_memory: bool) -> np.ndarray:
    """The met times the run crosses (one each side of it), checked for gaps and non-finite
    values before any particle moves."""
    t0 = release.time
    t_end = t0 + np.timedelta64(int(round(n_hours * 60)), "m")
    lo, hi = min(t0, t_end), max(t0, t_end)
    times = source.times
    if times.size < 2 or times[0] > lo or times[-1] < hi:
        raise MetCoverageError(f"{name}: met covers {times[0]} .. {times[-1]} "
                               f"({', '.join(met_files) or 'dataset'}), the run needs "
                               f"{lo} .. {hi}")
    inside = times[(times >= lo) & (times <= hi)]
    span = np.concatenate([times[times < lo][-1:], inside, times[times > hi][:1]])
    if span.size > 2 and in_memory:  # MetConfig.find_files checked files
        from stilt.met.discovery import MetFile, check_gaps

        check_gaps(span, [MetFile(Path("<met Dataset>"), times)])
    source.check_values(span)  # NaN / inf met: refused before any particle moves
    return span


def _release_particles(run: Run, x: np.ndarray, y: np.ndarray, seed: int,
                       threads: int | None) -> Particles:
    """The particles at the release: positions, random streams, initial transport errors."""
    core = run.core
    if threads is not None and not isinstance(threads, bool) and threads == 0:
        raise ConfigError("threads must be a whole number >= 1, got 0")  # 0 would only query
    core_threads(1 if threads is None else threads)  # checks the type and the sign
    rng, rstatus = core.transport_init_rng(np.int64(seed), int(core.random_state_size()),
                                           np.arange(1, x.size + 1, dtype=np.int64))
    if rstatus != 0:
        raise CoreError("random state size mismatch between stilt_random and the wrapper")
    rng = np.asfortranarray(rng)  # advanced in place by the initial errors
    eu, ev, eps, estatus = core.transport_init_errors(run.zsg, run.z_top, run.errpar(), rng)
    if estatus != 0:
        raise CoreError("transport-error option layout mismatch between stilt_layout and "
                        "stilt._transport_loop")
    return Particles.at(x, y, run.heights, rng, eu, ev, eps)


def _trajectory_dataset(run: Run, parts: Particles, rows: Rows,
                        record: dict[str, Any]) -> xr.Dataset:
    """The particle ensemble as a Dataset: the rows, each particle's release height and how
    its run ended, the receptor, ``record`` (seed, met files, roughness) and the parameters."""
    from stilt._version import get_version

    left = parts.pstat == ParticleStatus.LEFT_GRID
    data_vars = {c: (("time", "indx"), rows.column(c),
                     FOOT_HNF_ATTRS if rows.hnf and c == "foot" else COLUMN_ATTRS[c])
                 for c in rows.cols}
    data_vars["xhgt"] = (("indx",), parts.z_release, XHGT_ATTRS)
    status = np.where(left, ParticleStatus.LEFT_GRID, ParticleStatus.ALIVE).astype(np.int8)
    data_vars["status"] = (("indx",), status, STATUS_ATTRS)
    coords = {
        "time": ("time", np.asarray(rows.times, dtype=float),
                 {"long_name": "minutes since release (negative: backward)", "units": "min"}),
        "indx": ("indx", np.arange(1, parts.pstat.size + 1, dtype=np.int64),
                 {"long_name": "particle index", "units": "1", "cf_role": "trajectory_id"}),
    }
    attrs: dict[str, Any] = {
        "title": "stilt particle ensemble (HYSPLIT-STILT compatible)",
        "Conventions": "CF-1.8",
        "featureType": "trajectory",
        "stilt_version": get_version(),
        **receptor_attrs(run.release),
        "seed": record["seed"],
        "met_files": list(record["met_files"]),
        "roughness": record["roughness"],
        "internal_levels": int(run.zsg.size),
        "missing": "NaN where a particle has left the met grid",
        "particles_left_grid": int(np.count_nonzero(left)),
    }
    for name, value in run.params.items():
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

