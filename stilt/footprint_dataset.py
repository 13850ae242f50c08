"""Many footprints as one lazily loaded xarray Dataset, and the aggregations users ask for.

:func:`open_footprints` stacks the footprint files of one name along a ``simulation``
dimension without opening them: the receptor coordinates come from the index rows, the grid
and attributes from the first file, and the values are read from a file only when that
simulation's slice is indexed (an xarray lazily indexed backend array, as xarray's own
backends use). Opening 10 000 footprints costs one index query and one file header.

Layout (``docs/outputs.md``, "Footprints as one dataset")::

    foot(simulation, lag, lat, lon)      hourly footprints; lag = hours from the receptor
                                         time to the start of the layer (-1 .. -24 backward)
    foot(simulation, lat, lon)           time-integrated footprints
    time(simulation, lag)                start of each layer (hourly footprints)
    simulation, receptor_time, receptor_latitude, receptor_longitude, receptor_altitude,
    met, scene, location_id              on the simulation dimension

Hours without a particle, absent from a file, are zero. Without dask, xarray's own reductions
load the values they reduce; :func:`sum_footprints`, :func:`sum_by_hour_of_day` and
:func:`cell_matrix` stream over the simulations a block of files at a time instead.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from xarray.backends import BackendArray
from xarray.core import indexing

from stilt._verify import OutputError, check_output
from stilt.errors import ConfigError

__all__ = ["open_footprints", "sum_footprints", "sum_by_hour_of_day", "cell_matrix",
           "footprint_lags"]

#: attributes of one footprint file that describe its own simulation, not the collection
_PER_SIMULATION = ("simulation_id", "receptor", "foot_total", "foot_in_grid",
                   "foot_outside_grid", "rows_outside_domain", "met_files", "seed",
                   "time_created", "stilt_transport_hash", "stilt_footprint_hash", "empty",
                   "empty_reason", "nearfield_densified", "hnf_plume_applied",
                   "trajectory_stilt_version")
#: memory the streaming aggregations use for one block of footprint values
_BLOCK_BYTES = 256 * 2**20


def footprint_lags(n_hours: int) -> np.ndarray:
    """Hour layers (hours from the receptor time to the layer start) a run of ``n_hours`` can
    fill: ``-|n| .. -1`` backward, ``0 .. n`` forward."""
    n = abs(int(n_hours))
    return np.arange(-n, 0) if n_hours < 0 else np.arange(0, n + 1)


def _receptor_point(receptor: dict[str, Any]) -> tuple[float, float, float]:
    """Longitude, latitude and (lowest) release height of a receptor's first point."""
    def first(*names: str) -> float:
        for name in names:
            value = receptor.get(name)
            if value is not None:
                return float(value[0] if isinstance(value, (list, tuple)) else value)
        return float("nan")

    return (first("longitude", "longitudes"), first("latitude", "latitudes"),
            first("altitude", "bottom", "altitudes"))


def _coords(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Coordinates on the simulation dimension, from index rows."""
    ids = [r["sim_id"] for r in rows]
    points = np.array([_receptor_point(r["receptor"]) for r in rows], dtype=float).reshape(-1, 3)
    times = np.array([np.datetime64(r["receptor"]["time"], "ns") for r in rows],
                     dtype="datetime64[ns]")
    return {
        "simulation": ("simulation", np.array(ids, dtype=object), {"long_name": "simulation id"}),
        "receptor_time": ("simulation", times, {"long_name": "receptor time (UTC)"}),
        "receptor_longitude": ("simulation", points[:, 0],
                               {"long_name": "receptor longitude", "units": "degrees_east"}),
        "receptor_latitude": ("simulation", points[:, 1],
                              {"long_name": "receptor latitude", "units": "degrees_north"}),
        "receptor_altitude": ("simulation", points[:, 2],
                              {"long_name": "receptor release height (lowest)", "units": "m"}),
        "met": ("simulation", np.array([r["met"] for r in rows], dtype=object)),
        "scene": ("simulation", np.array([r.get("scene_id") or "" for r in rows],
                                         dtype=object)),
        "location_id": ("simulation", np.array([i.split("_", 2)[-1] for i in ids],
                                               dtype=object)),
    }


class _FootprintStack(BackendArray):
    """The footprint values of many files as one (simulation, [lag,] y, x) array, read per
    file on indexing."""

    def __init__(self, paths: Sequence[Path], receptor_times: np.ndarray,
                 lags: np.ndarray | None, grid_shape: tuple[int, int], dtype: Any) -> None:
        self.paths = list(paths)
        self.receptor_s = receptor_times.astype("datetime64[s]").astype(np.int64)
        self.lags = lags
        lead = (len(self.paths),) if lags is None else (len(self.paths), lags.size)
        self.shape = (*lead, *grid_shape)
        self.dtype = np.dtype(dtype)
        self.lock = threading.Lock()

    def __getitem__(self, key: indexing.ExplicitIndexer) -> np.ndarray:
        return indexing.explicit_indexing_adapter(key, self.shape,
                                                  indexing.IndexingSupport.OUTER, self._read)

    def _read(self, key: tuple[Any, ...]) -> np.ndarray:
        sims = np.arange(self.shape[0])[key[0]]
        rest = key[1:]
        parts = [self._one(int(i), rest) for i in np.atleast_1d(sims)]
        out = np.stack(parts) if parts else np.zeros((0, *self._rest_shape(rest)), self.dtype)
        return out[0] if np.ndim(sims) == 0 else out

    def _rest_shape(self, rest: tuple[Any, ...]) -> tuple[int, ...]:
        return tuple(np.arange(n)[k].size for n, k in zip(self.shape[1:], rest)
                     if not isinstance(k, (int, np.integer)))

    def _one(self, i: int, rest: tuple[Any, ...]) -> np.ndarray:
        """One simulation's values at the outer index ``rest``."""
        import netCDF4

        path = self.paths[i]
        try:
            with self.lock, netCDF4.Dataset(path) as nc:
                var = nc.variables["foot"]
                if self.lags is None:
                    values = np.ma.filled(var[(0, *rest) if var.ndim == 3 else rest], np.nan)
                    return np.asarray(values, dtype=self.dtype)
                values = np.ma.filled(var[(slice(None), *rest[1:])], np.nan)
                full = np.zeros((self.lags.size, *values.shape[1:]), dtype=self.dtype)
                if "empty" in nc.ncattrs() and int(nc.getncattr("empty")):
                    return full[rest[0]]  # one all-zero layer, stamped with the receptor
                tvar = nc.variables["time"]
                when = netCDF4.num2date(np.atleast_1d(tvar[:]), tvar.units,
                                        only_use_cftime_datetimes=False,
                                        only_use_python_datetimes=True)
                layer_s = np.array(when, dtype="datetime64[s]").astype(np.int64)
                lag = (layer_s - self.receptor_s[i]) // 3600
                pos = np.searchsorted(self.lags, lag)
                if np.any(pos >= self.lags.size) or np.any(self.lags[np.minimum(
                        pos, self.lags.size - 1)] != lag):
                    raise OutputError(f"footprint file {path}: layers at {lag.tolist()} h from "
                                      f"the receptor time, expected within "
                                      f"{int(self.lags[0])}..{int(self.lags[-1])}")
                full[pos] = values
        except (OSError, RuntimeError, KeyError) as exc:
            if not isinstance(exc, OutputError):
                check_output(path, "footprint")  # names what is wrong with it
                raise OutputError(f"footprint file {path} cannot be read ({exc})") from None
            raise
        return full[rest[0]]


def open_footprints(paths: Sequence[str | Path], rows: Sequence[dict[str, Any]],
                    n_hours: int | None = None) -> xr.Dataset:
    """Footprint files of one name as one lazily loaded Dataset on a ``simulation`` dimension.

    Parameters
    ----------
    paths : sequence of path
        One footprint file per simulation (all on the same grid, as a project's footprints of
        one name are).
    rows : sequence of dict
        The index rows of those simulations, in the same order (``sim_id``, ``met``,
        ``receptor``, ``scene_id``): they give the coordinates without opening the files.
    n_hours : int, optional
        Run duration of the simulations, for the ``lag`` axis of hourly footprints
        (default: the first file's ``n_hours`` attribute).

    Returns
    -------
    xarray.Dataset
        ``foot`` (lazily read), ``time`` for hourly footprints, the simulation coordinates,
        the grid and the attributes of the first file (``footprint_name``, grid, kernel).

    Raises
    ------
    ConfigError
        No footprints, or ``paths`` and ``rows`` differ in length.
    OutputError
        The first file cannot be read (others: when their values are read).
    """
    paths = [Path(p) for p in paths]
    if len(paths) != len(rows):
        raise ConfigError(f"open_footprints: {len(paths)} files but {len(rows)} index rows")
    if not paths:
        raise ConfigError("open_footprints: no footprint files to open")
    first = _first_file(paths[0])
    grid, dims, var_attrs = first["grid"], first["dims"], first["var_attrs"]
    coords = _coords(rows)
    lags = None
    if not first["integrated"]:
        hours = n_hours if n_hours is not None else first["n_hours"]
        if hours is None:
            raise ConfigError(f"open_footprints: {paths[0]} records no n_hours; give n_hours")
        lags = footprint_lags(int(hours))
    stack = _FootprintStack(paths, coords["receptor_time"][1], lags,
                            tuple(grid[d].size for d in dims), first["dtype"])
    data = indexing.LazilyIndexedArray(stack)
    var_attrs.pop("_FillValue", None)
    if lags is None:
        foot = xr.Variable(("simulation", *dims), data, var_attrs)
        coords_all = dict(coords)
    else:
        foot = xr.Variable(("simulation", "lag", *dims), data, var_attrs)
        layer = (coords["receptor_time"][1][:, None]
                 + lags[None, :].astype("timedelta64[h]")).astype("datetime64[ns]")
        coords_all = dict(coords, lag=("lag", lags, {"long_name": "hours from the receptor "
                                                     "time to the start of the layer",
                                                     "units": "h"}),
                          time=(("simulation", "lag"), layer,
                                {"long_name": "start of the hour summed"}))
    return xr.Dataset({"foot": foot, **first["extra"]}, coords={**coords_all, **grid},
                      attrs=first["attrs"])


def _first_file(path: Path) -> dict[str, Any]:
    """What :func:`open_footprints` takes from the first file: the grid coordinates and
    dims, the collection's attributes, foot's attributes and dtype, whether it is
    time-integrated, its n_hours, and the grid-mapping variables."""
    try:
        with xr.open_dataset(path, engine="netcdf4") as first:
            template = first.isel(time=0, drop=True) if "time" in first.foot.dims else first
            return {
                "grid": {k: template[k].load() for k in template.foot.dims},
                "dims": tuple(str(d) for d in template.foot.dims),
                "attrs": {k: v for k, v in first.attrs.items()
                          if not k.startswith("receptor_") and k not in _PER_SIMULATION},
                "var_attrs": dict(first.foot.attrs),
                "integrated": (bool(int(first.attrs.get("time_integrate", 0)))
                               or "time" not in first.foot.dims),
                "n_hours": first.attrs.get("n_hours"),
                "dtype": first.foot.dtype,
                "extra": {k: first[k].load() for k in ("projection", "crs")
                          if k in first.variables},
            }
    except (OSError, RuntimeError, ValueError, KeyError):
        check_output(path, "footprint")
        raise


def _blocks(foot: xr.DataArray, block: int | None) -> Any:
    """Slices of the simulation dimension holding about :data:`_BLOCK_BYTES` of values."""
    n = foot.sizes["simulation"]
    # float32 read plus its float64 copy
    per = int(np.prod([s for d, s in foot.sizes.items() if d != "simulation"])) * 12
    step = block or max(1, _BLOCK_BYTES // max(per, 1))
    for start in range(0, n, step):
        yield slice(start, min(n, start + step))


def sum_footprints(ds: xr.Dataset, by: Hashable | xr.DataArray | None = None,
                   mean: bool = False, block: int | None = None) -> xr.DataArray:
    """Sum (or mean) of the footprints over simulations, optionally per group, streamed.

    Parameters
    ----------
    ds : xarray.Dataset
        From :func:`open_footprints` (or a selection of it, e.g.
        ``ds.isel(simulation=(ds.scene == "s1").values)``).
    by : str or DataArray, optional
        A coordinate on ``simulation`` (``"scene"``, ``"met"``, ``"location_id"``...) or a
        DataArray on it: one result per distinct value.
    mean : bool, optional
        Divide by the number of simulations (of each group).
    block : int, optional
        Simulations read at once (default: as many as fit in about 256 MB).

    Returns
    -------
    xarray.DataArray
        ``foot`` without the simulation dimension (with ``by``: a leading dimension named
        after it).
    """
    foot = ds["foot"]
    rest = [d for d in foot.dims if d != "simulation"]
    shape = [foot.sizes[d] for d in rest]
    if by is None:
        keys = np.zeros(foot.sizes["simulation"], dtype=np.int64)
        labels: np.ndarray = np.array([0])
    else:
        values = np.asarray((ds[by] if isinstance(by, Hashable) else by).values)
        labels, keys = np.unique(values, return_inverse=True)
    total = np.zeros((labels.size, *shape))
    for part in _blocks(foot, block):
        values = np.nan_to_num(np.asarray(foot.isel(simulation=part).values, dtype=np.float64))
        for k in np.unique(keys[part]):
            total[k] += values[keys[part] == k].sum(axis=0)
    if mean:
        counts = np.bincount(keys, minlength=labels.size).astype(float)
        total /= counts.reshape(-1, *([1] * len(shape)))
    coords = {d: foot[d] for d in rest if d in foot.coords}
    if by is None:
        return xr.DataArray(total[0], dims=rest, coords=coords, attrs=dict(foot.attrs))
    name = by if isinstance(by, Hashable) and not isinstance(by, xr.DataArray) else (
        by.name or "group")
    return xr.DataArray(total, dims=[str(name), *rest], coords={str(name): labels, **coords},
                        attrs=dict(foot.attrs))


def sum_by_hour_of_day(ds: xr.Dataset, block: int | None = None) -> xr.DataArray:
    """The footprints summed over simulations by the hour of day (UTC) of each layer.

    Hourly footprints are binned by the hour of each layer's ``time``; time-integrated ones
    by the hour of the receptor time. Streamed a block of files at a time.

    Returns
    -------
    xarray.DataArray
        ``(hour, lat, lon)``, hour 0..23.
    """
    foot = ds["foot"]
    grid = [d for d in foot.dims if d not in ("simulation", "lag")]
    hours_all = np.asarray((ds["time"] if "lag" in foot.dims else ds["receptor_time"])
                           .dt.hour.values)
    total = np.zeros((24, *[foot.sizes[d] for d in grid]))
    for part in _blocks(foot, block):
        values = np.nan_to_num(np.asarray(foot.isel(simulation=part).values, dtype=np.float64))
        hours = hours_all[part]
        values = values.reshape(-1, *values.shape[values.ndim - len(grid):])
        hours = hours.reshape(-1)
        for h in np.unique(hours):
            total[h] += values[hours == h].sum(axis=0)
    return xr.DataArray(total, dims=["hour", *grid],
                        coords={"hour": np.arange(24), **{d: foot[d] for d in grid}},
                        attrs=dict(foot.attrs))


def cell_matrix(ds: xr.Dataset, block: int | None = None) -> xr.Dataset:
    """The receptor x cell sensitivity matrix in coordinate (COO) form, streamed.

    Rows are the simulations (receptors) in ``ds`` order; columns the cells of one
    simulation's footprint flattened in C order (``lag, lat, lon`` or ``lat, lon``). Only
    non-zero values are kept. ``scipy.sparse.coo_array((m.value, (m.row, m.col)),
    shape=m.attrs["shape"])`` makes a SciPy matrix of it (SciPy is not needed here).

    Returns
    -------
    xarray.Dataset
        ``row``, ``col`` (int64) and ``value`` (float64) on ``entry``; attributes ``shape``
        and ``cell_dims``; the ``simulation`` coordinate.
    """
    foot = ds["foot"]
    ncell = int(np.prod([foot.sizes[d] for d in foot.dims if d != "simulation"]))
    rows, cols, vals = [], [], []
    for part in _blocks(foot, block):
        values = np.nan_to_num(np.asarray(foot.isel(simulation=part).values, dtype=np.float64))
        values = values.reshape(values.shape[0], -1)
        r, c = np.nonzero(values)
        rows.append(r + part.start)
        cols.append(c)
        vals.append(values[r, c])
    cat = (lambda parts, t: np.concatenate(parts).astype(t) if parts else np.zeros(0, t))
    out = xr.Dataset({"row": ("entry", cat(rows, np.int64)), "col": ("entry", cat(cols, np.int64)),
                      "value": ("entry", cat(vals, np.float64))},
                     coords={"simulation": ds["simulation"].values})
    out.attrs.update(shape=[foot.sizes["simulation"], ncell],
                     cell_dims=[str(d) for d in foot.dims if d != "simulation"],
                     units=str(foot.attrs.get("units", "")))
    return out
