"""ARL packed files: writing a met Dataset, and building one from fields.

Records are packed by the Fortran core (``fortran/stilt_arl.f90``) in HYSPLIT's order, so a
decoded record packs back to the same bytes. The file is written atomically.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np

from stilt._io import atomic_path
from stilt._verify import writing
from stilt.errors import MetError
from stilt.met.arl_format import (
    FIXED_HEADER_LEN,
    GRID_PARAMETERS,
    LABEL_LEN,
    VERTICAL_SYSTEMS,
    PathLike,
    as_datetime64,
    fmt_e,
    fmt_f6,
    fmt_f7,
    is_16bit_source,
    thousands_char,
    time_text,
    variable_attrs,
)

if TYPE_CHECKING:  # pragma: no cover
    import xarray as xr

    from stilt.met.projection import ArlGrid


# ---- writing -------------------------------------------------------------------------------

def _label_text(t: _dt.datetime, forecast: int, level: int, grid: str, name: str, nexp: int,
                prec: float, var1: float) -> str:
    text = (f"{t.year % 100:2d}{t.month:2d}{t.day:2d}{t.hour:2d}{forecast:2d}{level:2d}{grid}"
            f"{name:<4s}{nexp:4d}{fmt_e(prec, 14, 7)}{fmt_e(var1, 14, 7)}")
    if len(text) != LABEL_LEN:  # pragma: no cover - guarded by the checks in write_arl
        raise MetError(f"label {text!r} is not {LABEL_LEN} characters")
    return text


def _field_problem(field: np.ndarray) -> str | None:
    """Why a field cannot be packed (None if it can)."""
    finite = np.isfinite(field)
    if finite.all():
        return None
    nan = np.isnan(field)
    if nan.all():
        return None  # written as a missing record
    if nan.any():
        return f"{int(nan.sum())} NaN values"
    return f"{int((~finite).sum())} infinite values"


def write_arl(ds: xr.Dataset, path: PathLike) -> Path:
    """Write a met Dataset as an ARL packed file (atomically: temporary file, then rename).

    Parameters
    ----------
    ds : xarray.Dataset
        The layout :func:`read_arl` returns, covering the full grid: attributes ``nx``,
        ``ny``, the 12 grid parameters, ``vertical_system`` (and optionally ``source``,
        ``surface_level_value``); coordinates ``time`` and, when there are upper fields,
        ``level_value(level)``; optional ``forecast_hour(time)`` (default 0). Surface fields
        are ``NAME(time, y, x)``, upper fields ``NAME(time, level, y, x)`` with 4-character
        ARL names (or an ``arl_name`` attribute). An upper variable that is NaN everywhere on
        a level is not written on that level (levels may carry fewer variables); a field that
        is NaN everywhere at one time is written as a missing record.
    path : str or path-like
        Output file; replaced if it exists.

    Returns
    -------
    pathlib.Path
        The written file.

    Raises
    ------
    MetError
        When the Dataset does not describe a writable ARL file: missing attributes, a
        window instead of the full grid, times not increasing, fields with some NaN or
        infinite values (naming variable, time and level), names or numbers that do not fit
        the ARL fields.
    """
    out_path = Path(path)
    grid = _full_grid(ds, out_path)
    ksys, source, surface_value = _identity(ds, out_path)
    times, fcst = _times(ds, out_path)
    nlev = ds.sizes.get("level", 0)
    level_values = (np.asarray(ds["level_value"].values, dtype=np.float64)
                    if nlev and "level_value" in ds.coords else None)
    level_vars, arrays = _level_variables(ds, out_path, nlev, level_values is not None)
    heights = [surface_value] + ([float(v) for v in level_values] if nlev else [])
    lenh = FIXED_HEADER_LEN + sum(8 + 8 * len(v) for v in level_vars)
    if lenh > 9999:
        raise MetError(f"cannot write {out_path}: the index header would be {lenh} characters, "
                       "more than the 9999 its I4 length field allows")
    nx, ny = grid.nx, grid.ny
    layout = _Layout(
        path=out_path, nx=nx, ny=ny, ksys=ksys, source=source, lenh=lenh,
        gridc="99" if nx < 1000 and ny < 1000 else thousands_char(nx) + thousands_char(ny),
        params="".join(fmt_f7(getattr(grid, k)) for k in GRID_PARAMETERS),
        levels_text=[fmt_f6(h) for h in heights], level_vars=level_vars)

    # a failed write (a full disk) is one line naming the file; the temporary file goes
    with writing(out_path), atomic_path(out_path) as tmp, open(tmp, "xb") as out:
        for it, t64 in enumerate(times):
            _write_period(out, layout, arrays, t64, int(fcst[it]), it)
    return out_path


@dataclasses.dataclass(frozen=True)
class _Layout:
    """What every period of a file being written shares: grid, header fields, variables."""

    path: Path
    nx: int
    ny: int
    ksys: int
    source: str
    lenh: int
    gridc: str                                  # the label's grid characters
    params: str                                 # the 12 grid parameters, F7 each
    levels_text: list[str]                      # level heights, F6 each
    level_vars: list[list[tuple[str, str]]]     # per level: (ARL name, Dataset variable)

    @property
    def npts(self) -> int:
        """Points per record."""
        return self.nx * self.ny

    @property
    def nindex(self) -> int:
        """Index records per period."""
        return self.lenh // self.npts + 1


def _full_grid(ds: xr.Dataset, out_path: Path) -> ArlGrid:
    """The Dataset's ArlGrid, checked to be writable and covered by the whole Dataset."""
    from stilt.met.projection import ArlGrid  # noqa: F811 - at run time, not only for typing

    grid = ArlGrid.from_attrs(ds.attrs)
    nx, ny = grid.nx, grid.ny
    if nx * ny < FIXED_HEADER_LEN:
        raise MetError(f"cannot write {out_path}: grid {nx} x {ny} has fewer than "
                       f"{FIXED_HEADER_LEN} points (HYSPLIT's limit)")
    if nx > 26999 or ny > 26999:
        raise MetError(f"cannot write {out_path}: grid {nx} x {ny} exceeds 26999 points a side")
    for dim, n in (("x", nx), ("y", ny)):
        if dim in ds.coords and not np.array_equal(np.asarray(ds[dim]), np.arange(1, n + 1)):
            raise MetError(f"cannot write {out_path}: coordinate {dim} is not the full grid "
                           f"1..{n} (write_arl needs the whole grid, not a window)")
        if ds.sizes.get(dim, n) != n:
            raise MetError(f"cannot write {out_path}: dimension {dim} has {ds.sizes[dim]} "
                           f"points, the grid attributes say {n}")
    return grid


def _identity(ds: xr.Dataset, out_path: Path) -> tuple[int, str, float]:
    """Vertical system, source id and surface level value from the attributes, checked."""
    try:
        ksys = int(ds.attrs["vertical_system"])
    except (KeyError, TypeError, ValueError):
        raise MetError(f"cannot write {out_path}: attribute vertical_system (1..5) is missing "
                       "or not an integer") from None
    if ksys not in VERTICAL_SYSTEMS:
        raise MetError(f"cannot write {out_path}: vertical_system {ksys} is not one of "
                       f"{sorted(VERTICAL_SYSTEMS)}")
    source = str(ds.attrs.get("source", "STLT"))
    if len(source) > 4 or not source.isascii() or not source.isprintable():
        raise MetError(f"cannot write {out_path}: source {source!r} is not a 4-character id")
    if is_16bit_source(f"{source:<4s}"):
        raise MetError(f"cannot write {out_path}: source id {source!r} would make HYSPLIT read "
                       "the file as 16-bit ARL; choose another id")
    surface_value = float(ds.attrs.get("surface_level_value",
                                       1.0 if ksys in (1, 4, 5) else 0.0))
    return ksys, source, surface_value


def _times(ds: xr.Dataset, out_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Valid times (strictly increasing) and forecast hours (default 0)."""
    if "time" not in ds.coords or ds.sizes.get("time", 0) == 0:
        raise MetError(f"cannot write {out_path}: the Dataset has no time coordinate")
    times = np.asarray(ds["time"].values).astype("datetime64[ns]")
    if len(times) > 1 and not np.all(np.diff(times) > np.timedelta64(0)):
        raise MetError(f"cannot write {out_path}: times are not strictly increasing")
    fcst = (np.asarray(ds["forecast_hour"].values, dtype=np.int64)
            if "forecast_hour" in ds.coords else np.zeros(len(times), dtype=np.int64))
    return times, fcst


def _level_variables(ds: xr.Dataset, out_path: Path, nlev: int, has_levels: bool
                     ) -> tuple[list[list[tuple[str, str]]], dict[str, np.ndarray]]:
    """Variables of each level in Dataset order, (ARL name, variable); and float32 arrays.

    An upper variable NaN everywhere on a level is not carried by that level.
    """
    surf: list[tuple[str, str]] = []     # (arl name, dataset variable)
    up: list[tuple[str, str]] = []
    for var, da in ds.data_vars.items():
        name = str(da.attrs.get("arl_name", var))
        if not (1 <= len(name) <= 4 and name.isascii() and name.strip() == name
                and name.isprintable()):
            raise MetError(f"cannot write {out_path}: variable {var!r} needs a 1-4 character "
                           "ARL name (set attribute arl_name)")
        if da.dims == ("time", "y", "x"):
            surf.append((name, str(var)))
        elif da.dims == ("time", "level", "y", "x"):
            up.append((name, str(var)))
        else:
            raise MetError(f"cannot write {out_path}: variable {var!r} has dims {da.dims}, "
                           "expected (time, y, x) or (time, level, y, x)")
    for group in (surf, up):
        dup = sorted({n for n, _ in group if [m for m, _ in group].count(n) > 1})
        if dup:
            raise MetError(f"cannot write {out_path}: ARL names {dup} appear twice on a level")
    if up and not has_levels:
        raise MetError(f"cannot write {out_path}: upper-level fields need the level_value "
                       "coordinate")
    if nlev + 1 > 99:
        raise MetError(f"cannot write {out_path}: {nlev + 1} levels exceed the 99 of the "
                       "ARL label")
    arrays = {var: np.asarray(ds[var].values, dtype=np.float32) for _, var in surf + up}
    level_vars: list[list[tuple[str, str]]] = [surf]
    for k in range(nlev):
        carried = [(n, v) for n, v in up if not np.isnan(arrays[v][:, k]).all()]
        level_vars.append(carried)
    if any(len(v) > 99 for v in level_vars):
        raise MetError(f"cannot write {out_path}: more than 99 variables on one level")
    return level_vars, arrays


def _label_hour(layout: _Layout, t64: np.datetime64, fc: int) -> tuple[_dt.datetime, int]:
    """The label's hour and the index record's minutes of a valid time, checked."""
    t = _dt.datetime.fromisoformat(str(t64.astype("datetime64[s]")))
    hour = t.replace(minute=0, second=0)
    minutes = int((t - hour).total_seconds() // 60)
    if t.second or (t - hour).total_seconds() % 60:
        raise MetError(f"cannot write {layout.path}: time {t64} is not a whole minute")
    if not 1940 <= t.year <= 2039:
        raise MetError(f"cannot write {layout.path}: year {t.year} outside 1940..2039 "
                       "(2-digit label years)")
    if not 0 <= fc <= 99:
        raise MetError(f"cannot write {layout.path}: forecast hour {fc} at {t64} "
                       "does not fit the I2 label field (0..99)")
    return hour, minutes


def _period_fields(layout: _Layout, arrays: dict[str, np.ndarray], it: int,
                   t64: np.datetime64) -> tuple[list[np.ndarray], list[tuple[int, str]]]:
    """The fields of one period in record order, and (level, ARL name) of each."""
    fields: list[np.ndarray] = []
    meta: list[tuple[int, str]] = []
    for lev, vars_ in enumerate(layout.level_vars):
        for name, var in vars_:
            field = arrays[var][it] if lev == 0 else arrays[var][it, lev - 1]
            problem = _field_problem(field)
            if problem:
                where = "surface" if lev == 0 else f"level {lev}"
                raise MetError(f"cannot write {layout.path}: variable {var} at time "
                               f"{time_text(t64)}, {where} has {problem} (ARL cannot store "
                               "them; a field entirely NaN is a missing record)")
            fields.append(field)
            meta.append((lev, name))
    return fields, meta


def _index_header(layout: _Layout, fc: int, minutes: int, checks: list[int]) -> str:
    """The extended header of a period, padded to fill its index records."""
    header = [f"{layout.source:<4s}{min(fc, 999):3d}{minutes:2d}{layout.params}"
              f"{layout.nx % 1000:3d}{layout.ny % 1000:3d}{len(layout.level_vars):3d}"
              f"{layout.ksys:2d}{layout.lenh:4d}"]
    k = 0
    for lev, vars_ in enumerate(layout.level_vars):
        header.append(f"{layout.levels_text[lev]}{len(vars_):2d}")
        for name, _ in vars_:
            header.append(f"{name:<4s}{checks[k]:3d} ")
            k += 1
    htext = "".join(header)
    if len(htext) != layout.lenh:  # pragma: no cover - formats are fixed width
        raise MetError(f"internal error: header length {len(htext)} != {layout.lenh}")
    return htext.ljust(layout.nindex * layout.npts)


def _write_period(out: BinaryIO, layout: _Layout, arrays: dict[str, np.ndarray],
                  t64: np.datetime64, fc: int, it: int) -> None:
    """Pack and write the index record(s) and data records of one time period."""
    from stilt import _core

    hour, minutes = _label_hour(layout, t64, fc)
    fields, meta = _period_fields(layout, arrays, it, t64)
    present = [k for k, fld in enumerate(fields) if not np.isnan(fld[0, 0])]
    packed = nexp = prec = var1 = sums = None
    if present:
        stack = np.stack([fields[k] for k in present])  # (n, ny, nx)
        packed, nexp, prec, var1, sums, status = _core.arl_pack_records(stack.T)
        if np.any(status != 0):  # pragma: no cover - checked above
            raise MetError(f"cannot write {layout.path}: the core refused a field")
    slot = {k: m for m, k in enumerate(present)}
    checks = [int(sums[slot[k]]) if k in slot else 0 for k in range(len(fields))]
    htext = _index_header(layout, fc, minutes, checks)
    npts = layout.npts
    ilabel = _label_text(hour, fc, 0, layout.gridc, "INDX", 0, 0.0, 0.0).encode("ascii")
    for n in range(layout.nindex):
        out.write(ilabel)
        out.write(htext[n * npts:(n + 1) * npts].encode("ascii"))
    for k, (lev, name) in enumerate(meta):
        if k in slot:
            m = slot[k]
            label = _label_text(hour, fc, lev, layout.gridc, name, int(nexp[m]),
                                float(prec[m]), float(var1[m]))
            out.write(label.encode("ascii"))
            out.write(packed[:, m].tobytes())
        else:  # missing record: forecast -1, neutral bytes
            label = _label_text(hour, -1, lev, layout.gridc, name, 0, 0.0, 0.0)
            out.write(label.encode("ascii"))
            out.write(b"\x7f" * npts)


def _vertical_system(value: int | str) -> int:
    """The ARL vertical system (KSYS) given by number or name."""
    if isinstance(value, str):
        by_name = {v: k for k, v in VERTICAL_SYSTEMS.items()}
        if value not in by_name:
            raise MetError(f"vertical_system {value!r} is not one of {sorted(by_name)}")
        return by_name[value]
    ksys = int(value)
    if ksys not in VERTICAL_SYSTEMS:
        raise MetError(f"vertical_system {ksys} is not one of {sorted(VERTICAL_SYSTEMS)}")
    return ksys


def _valid_times(times: Any) -> np.ndarray:
    """Valid times (datetime64, datetime or text, one or several) as datetime64[ns]."""
    tarr = np.atleast_1d(np.asarray(times))
    if np.issubdtype(tarr.dtype, np.datetime64):
        return tarr.astype("datetime64[ns]")
    return np.array([as_datetime64(v) for v in tarr.astype(object)], dtype="datetime64[ns]")


def met_dataset(grid: Any, times: Any, *, vertical_system: int | str,
                level_values: Sequence[float] = (),
                surface: Mapping[str, Any] | None = None,
                upper: Mapping[str, Any] | None = None, source: str = "STLT",
                surface_level_value: float | None = None,
                forecast_hours: Any = None) -> xr.Dataset:
    """Build a met Dataset in the layout of :func:`read_arl` (what :func:`write_arl` takes).

    Parameters
    ----------
    grid : stilt.met.ArlGrid
        The horizontal grid (full grid: ``x`` = 1..nx, ``y`` = 1..ny).
    times : array_like of datetime64, datetime or str
        Valid times, increasing.
    vertical_system : int or str
        KSYS 1..5 or its name (``"sigma"``, ``"pressure"``, ``"terrain"``, ``"hybrid"``,
        ``"wrf_hybrid"``).
    level_values : sequence of float, optional
        Stored value of each upper level (sigma, hPa, m AGL, or offset+sigma).
    surface, upper : mapping of str to array_like, optional
        Fields by 4-character ARL name, broadcast to ``(time, y, x)`` and
        ``(time, level, y, x)`` (so a scalar gives a uniform field); NaN on a whole level
        means the level does not carry the variable.
    source : str, optional
        4-character data source id.
    surface_level_value : float, optional
        Stored value of the surface level (1.0 for sigma-type systems, 0 otherwise).
    forecast_hours : array_like of int, optional
        Forecast hour of each time (0 by default).

    Returns
    -------
    xarray.Dataset
        float32 fields with units attributes, coordinates and grid attributes.
    """
    import xarray as xr

    ksys = _vertical_system(vertical_system)
    t = _valid_times(times)
    nt, nlev = len(t), len(level_values)
    nx, ny = grid.nx, grid.ny
    xs = np.arange(1, nx + 1, dtype=np.int32)
    ys = np.arange(1, ny + 1, dtype=np.int32)
    lat, lon = grid.latlon_mesh(xs, ys)
    latlon_grid = grid.kind == "latlon"
    data_vars = {}
    for fields, dims, shape in ((surface or {}, ("time", "y", "x"), (nt, ny, nx)),
                                (upper or {}, ("time", "level", "y", "x"), (nt, nlev, ny, nx))):
        for name, values in fields.items():
            try:
                arr = np.broadcast_to(np.asarray(values, dtype=np.float32), shape).copy()
            except ValueError:
                raise MetError(f"field {name} of shape {np.shape(values)} does not broadcast "
                               f"to {dims} = {shape}") from None
            data_vars[name] = xr.Variable(dims, arr, attrs=variable_attrs(name, latlon_grid))
    fh = np.zeros(nt, dtype=np.int32) if forecast_hours is None else np.asarray(
        forecast_hours, dtype=np.int32)
    coords = {
        "time": ("time", t), "level": ("level", np.arange(1, nlev + 1, dtype=np.int32)),
        "level_value": ("level", np.asarray(level_values, dtype=np.float64)),
        "y": ("y", ys), "x": ("x", xs),
        "lat": (("y", "x"), lat, {"units": "degrees_north", "standard_name": "latitude"}),
        "lon": (("y", "x"), lon, {"units": "degrees_east", "standard_name": "longitude"}),
        "forecast_hour": ("time", fh, {"units": "h"}),
    }
    slv = (1.0 if ksys in (1, 4, 5) else 0.0) if surface_level_value is None else float(
        surface_level_value)
    attrs = {"source": source, "vertical_system": ksys,
             "vertical_system_name": VERTICAL_SYSTEMS[ksys], "surface_level_value": slv,
             **grid.to_attrs(), "arl_files": []}
    return xr.Dataset(data_vars, coords=coords, attrs=attrs)

