"""Quick-look maps of footprints: one simulation, or the mean over a project.

This module draws Datasets and files; it knows nothing of projects. A project's maps are drawn
by its collections (:meth:`stilt.collections.FootprintCollection.plot`,
:meth:`stilt.collections.Simulation.plot`), which load the files and call these functions.

Needs the optional dependency matplotlib (``pip install 'stilt[plot]'``). Figures are drawn
with the Agg renderer on :class:`matplotlib.figure.Figure` objects, never through pyplot, so
importing or using this module changes no global matplotlib state. No map tiles or coastlines
are downloaded: the background is the met terrain when one is given.
"""

from __future__ import annotations

import io
from pathlib import Path
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from stilt._io import write_atomic
from stilt._verify import writing
from stilt._version import get_version
from stilt.errors import ConfigError, MissingDependencyError

if TYPE_CHECKING:  # pragma: no cover
    import xarray as xr
    from matplotlib.figure import Figure

__all__ = ["footprint_field", "mean_footprint", "plot_footprint", "plot_mean",
           "met_terrain", "receptor_of"]

#: Largest number of particle paths drawn (a random-free, evenly spaced subset).
MAX_PARTICLE_PATHS = 100
#: Lower end of the colour scale, relative to the maximum, when values span more than this.
LOG_RANGE = 1e-6


def _matplotlib() -> Any:
    """Import matplotlib (Figure and colors), or name the extra to install."""
    try:
        import matplotlib.colors as colors
        from matplotlib.figure import Figure
    except ImportError as err:
        raise MissingDependencyError(
            "plotting needs the optional dependency matplotlib "
            "(pip install 'stilt[plot]')") from err
    return Figure, colors


def _open(ds_or_path: Any, what: str) -> xr.Dataset:
    import xarray as xr

    if isinstance(ds_or_path, xr.Dataset):
        return ds_or_path
    path = Path(ds_or_path)
    if not path.is_file():
        raise ConfigError(f"{what} {path}: no such file")
    with xr.open_dataset(path) as ds:
        return ds.load()


def footprint_field(ds: xr.Dataset) -> xr.DataArray:
    """The ``foot`` variable of a footprint Dataset as a 2-D (lat, lon) field.

    Parameters
    ----------
    ds : xarray.Dataset
        A footprint as written by stilt (``foot`` on ``lat``/``lon``, optionally ``time``).

    Returns
    -------
    xarray.DataArray
        ``foot`` summed over ``time`` when present (attributes kept).
    """
    if "foot" not in ds:
        raise ConfigError(f"footprint dataset has no 'foot' variable (variables: "
                          f"{', '.join(map(str, ds.data_vars)) or 'none'})")
    foot = ds["foot"]
    if "time" in foot.dims:
        foot = foot.sum("time", keep_attrs=True)
    if set(foot.dims) != {"lat", "lon"}:
        raise ConfigError(f"footprint 'foot' has dims {foot.dims}; expected (lat, lon) "
                          "after summing over time")
    return foot.transpose("lat", "lon")


def receptor_of(ds: xr.Dataset) -> tuple[float, float] | None:
    """The (lon, lat) of the (first point of the) receptor a stilt output file records.

    Parameters
    ----------
    ds : xarray.Dataset
        A footprint or trajectory Dataset (``receptor_long``/``receptor_lati`` attributes).

    Returns
    -------
    (float, float) or None
        None when the file records no receptor.
    """
    from stilt.transport import receptor_from_attrs

    release = receptor_from_attrs(ds.attrs)  # receptor_long/_lati, or the earlier names
    if release is None:
        return None
    return float(release.longitude[0]), float(release.latitude[0])


def _draw(field: xr.DataArray, receptors: list[tuple[float, float]], particles: Any,
          terrain: Any, title: str) -> Figure:
    Figure, colors = _matplotlib()
    fig = Figure(figsize=(7.0, 5.5), dpi=100)
    ax = fig.add_subplot()
    lon = np.asarray(field["lon"], dtype=float)
    lat = np.asarray(field["lat"], dtype=float)
    values = np.asarray(field, dtype=float)
    if terrain is not None:
        shgt = _terrain_field(terrain)
        height = np.asarray(shgt, dtype=float)
        low, high = float(np.nanmin(height)), float(np.nanmax(height))
        # light greys only (the upper part of the colour map is never reached), no alpha seams
        ax.pcolormesh(np.asarray(shgt["lon"]), np.asarray(shgt["lat"]), height, cmap="Greys",
                      vmin=low, vmax=high + 2.0 * max(high - low, 1.0), shading="auto",
                      zorder=0)
    positive = values[np.isfinite(values) & (values > 0)]
    if positive.size:
        vmax = float(positive.max())
        vmin = max(float(positive.min()), vmax * LOG_RANGE)
        if vmin >= vmax:
            vmin = vmax / 10.0
        masked = np.ma.masked_where(~(np.isfinite(values) & (values > 0)), values)
        mesh = ax.pcolormesh(lon, lat, masked, shading="nearest", cmap="viridis",
                             norm=colors.LogNorm(vmin=vmin, vmax=vmax), zorder=1)
        bar = fig.colorbar(mesh, ax=ax)
        bar.set_label(f"{field.attrs.get('long_name', 'footprint')} "
                      f"[{field.attrs.get('units', 'unknown units')}]")
    else:
        ax.text(0.5, 0.5, "footprint is zero everywhere", transform=ax.transAxes,
                ha="center", va="center")
    if particles is not None:
        from stilt.trajectory_file import memory_layout

        traj = memory_layout(_open(particles, "trajectory file"))  # (time, indx)
        plon = np.asarray(traj["long"], dtype=float)
        plat = np.asarray(traj["lati"], dtype=float)
        step = max(1, plon.shape[1] // MAX_PARTICLE_PATHS)
        ax.plot(plon[:, ::step], plat[:, ::step], color="0.25", lw=0.4, alpha=0.4, zorder=2)
    label = "receptor" if len(receptors) == 1 else "receptors"
    for i, (rlon, rlat) in enumerate(receptors):
        ax.plot(rlon, rlat, marker="*", ms=12, color="red", mec="black", ls="none", zorder=3,
                label=label if i == 0 else None)
    if receptors:
        ax.legend(loc="upper right")
    half_x = abs(float(lon[1] - lon[0])) / 2 if lon.size > 1 else 0.5
    half_y = abs(float(lat[1] - lat[0])) / 2 if lat.size > 1 else 0.5
    ax.set_xlim(lon.min() - half_x, lon.max() + half_x)
    ax.set_ylim(lat.min() - half_y, lat.max() + half_y)
    ax.set_xlabel("longitude [degrees_east]")
    ax.set_ylabel("latitude [degrees_north]")
    ax.set_title(title, fontsize=9)
    return fig


def _terrain_field(terrain: Any) -> xr.DataArray:
    """Terrain height on its lat/lon mesh from a met Dataset, a SHGT DataArray or ARL file."""
    import xarray as xr

    if isinstance(terrain, (str, Path)):
        from stilt.met.arl import read_arl

        terrain = read_arl(terrain, variables=["SHGT"])
    if isinstance(terrain, xr.Dataset):
        if "SHGT" not in terrain:
            raise ConfigError("terrain: met dataset has no SHGT (terrain height) field")
        terrain = terrain["SHGT"]
    if "time" in terrain.dims:
        terrain = terrain.isel(time=0)
    if "lat" not in terrain.coords or "lon" not in terrain.coords:
        raise ConfigError("terrain: expected lat/lon coordinates (the met Dataset layout)")
    return terrain


def _output(fig: Figure, path: str | Path | None) -> Path | Figure:
    if path is None:
        return fig
    path = Path(path)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight",
                metadata={"Software": f"stilt {get_version()}"})
    with writing(path):
        write_atomic(path, buffer.getvalue())
    return path


def plot_footprint(ds_or_path: Any, receptor: tuple[float, float] | None = None,
                   particles: Any = None, terrain: Any = None,
                   path: str | Path | None = None) -> Path | Figure:
    """Draw a footprint map: log colour scale, receptor, optional particles and terrain.

    Parameters
    ----------
    ds_or_path : xarray.Dataset or path
        A stilt footprint (``*_foot.nc``); a time dimension is summed.
    receptor : (lon, lat), optional
        Receptor to mark; default from the file's ``receptor_long``/``receptor_lati``.
    particles : xarray.Dataset or path, optional
        Trajectories (``*_traj.nc``): particle paths are drawn (at most 100).
    terrain : xarray.Dataset, DataArray or ARL path, optional
        Met (Dataset layout of :func:`stilt.met.read_arl`) whose ``SHGT`` is drawn in grey.
    path : path, optional
        Write a PNG there (atomically) and return the path; otherwise return the Figure.

    Returns
    -------
    pathlib.Path or matplotlib.figure.Figure

    Raises
    ------
    MissingDependencyError
        matplotlib is not installed.
    """
    ds = _open(ds_or_path, "footprint file")
    field = footprint_field(ds)
    if receptor is None:
        receptor = receptor_of(ds)
    receptors = [] if receptor is None else [(float(receptor[0]), float(receptor[1]))]
    title = (f"footprint {ds.attrs.get('footprint_name', '')} "
             f"{ds.attrs.get('simulation_id', '')}").strip()
    return _output(_draw(field, receptors, particles, terrain, title), path)


def mean_footprint(datasets: Sequence[xr.Dataset], name: str = "",
                   what: str = "footprints") -> xr.Dataset:
    """Mean footprint (each summed over time) of footprints on one grid.

    Parameters
    ----------
    datasets : sequence of xarray.Dataset
        Footprints as stilt writes them (at least one).
    name : str, optional
        The footprint name, recorded in the result.
    what : str, optional
        What the footprints are, for the error message (e.g. naming the project).

    Returns
    -------
    xarray.Dataset
        ``foot(lat, lon)`` mean, attrs ``n_simulations``, ``footprint_name`` and the
        receptors as ``receptor_longitudes``/``receptor_latitudes`` lists.

    Raises
    ------
    ConfigError
        No footprint given, or footprints on different grids.
    """
    import xarray as xr

    if not datasets:
        raise ConfigError(f"{what}: no footprint to average")
    fields = [footprint_field(ds) for ds in datasets]
    receptors = [r for r in map(receptor_of, datasets) if r is not None]
    try:
        stacked = xr.concat(fields, dim="simulation", join="exact")
    except ValueError as err:
        raise ConfigError(f"{what} are not on one grid: {err}") from None
    mean = stacked.mean("simulation", keep_attrs=True)
    return xr.Dataset({"foot": mean}, attrs={
        "footprint_name": name, "n_simulations": len(fields),
        "receptor_longitudes": [r[0] for r in receptors],
        "receptor_latitudes": [r[1] for r in receptors]})


def met_terrain(trajectory: Any) -> Path | None:
    """The first met file a simulation read, when it is still there and holds terrain.

    Parameters
    ----------
    trajectory : xarray.Dataset or path
        A trajectory file (``*_traj.nc``); its ``met_files`` attribute names the met.

    Returns
    -------
    pathlib.Path or None
        An ARL file with a ``SHGT`` (terrain height) record, or None (no background).
    """
    ds = _open(trajectory, "trajectory file")
    files = ds.attrs.get("met_files")
    if files is None:
        return None
    files = [files] if isinstance(files, str) else list(files)
    if not files or not Path(files[0]).is_file():
        return None
    from stilt.met.arl import arl_inventory

    try:
        inventory = arl_inventory(files[0])
    except Exception:  # noqa: BLE001 - not a readable ARL file: draw without terrain
        return None
    surface = inventory.level_names[0] if inventory.level_names else ()
    return Path(files[0]) if "SHGT" in surface else None


def plot_mean(mean: xr.Dataset, terrain: Any = None,
              path: str | Path | None = None) -> Path | Figure:
    """Map of a mean footprint (:func:`mean_footprint`) with all its receptors.

    Parameters
    ----------
    mean : xarray.Dataset
        What :func:`mean_footprint` returns.
    terrain : xarray.Dataset, DataArray or ARL path, optional
        Met whose ``SHGT`` is drawn in grey underneath (None: no background).
    path : path, optional
        Write a PNG there and return the path; otherwise return the Figure.

    Returns
    -------
    pathlib.Path or matplotlib.figure.Figure
    """
    receptors = list(zip(mean.attrs["receptor_longitudes"], mean.attrs["receptor_latitudes"],
                         strict=True))
    title = (f"mean footprint {mean.attrs['footprint_name']} over "
             f"{mean.attrs['n_simulations']} simulation(s)")
    return _output(_draw(mean["foot"], receptors, None, terrain, title), path)
