"""Trajectory files on disk: compact storage, the values they hold, and thinning.

A trajectory file is the particle table of :func:`stilt.run_trajectories` as netCDF-4, stored
particle by particle on ``(indx, time)`` (CF's ``(trajectory, obs)`` order: each particle's
series is smooth in time, so it compresses far better than the rows of one minute), chunked
in whole particles and compressed (zlib level 1, after the byte shuffle but for the columns of
:data:`NO_SHUFFLE`), each column stored with the precision the science needs (docs/outputs.md,
"Trajectory storage"):

- ``long``, ``lati``: int32 packed with ``scale_factor`` 1e-5 degrees (a position error of at
  most 0.56 m in latitude, less in longitude);
- ``zagl``: int32 packed with ``scale_factor`` 0.1 m;
- ``foot``, ``foot_no_hnf_dilution``: float32 with the mantissa rounded to 20 bits (relative
  error at most 2**-21, 4.8e-7);
- every other float column: float32 rounded to 12 mantissa bits (relative error at most 1.2e-4,
  about four significant digits: they are diagnostics a footprint of these files never reads).

:func:`compact_trajectories` rounds a Dataset in memory exactly as the file will hold it, so a
footprint computed from the particles just made equals one computed later from the file;
:func:`write_trajectories` writes it: the same file as ``Dataset.to_netcdf`` with
:func:`trajectory_encoding` (the same filters, chunks and values), for a third of the CPU:
netCDF4 lays out the file, then each chunk is shuffled and deflated by ISA-L (``isal``, a
sixth of zlib's CPU for the same size) and written as it is (h5py's direct chunk write).
ISA-L's deflate makes standard zlib streams, which every netCDF-4 reader inflates.
In memory the table is on ``(time, indx)``, as :func:`stilt.run_trajectories` returns it:
:func:`file_layout` turns it to the file's order before writing, :func:`memory_layout` back
after reading (a transposed view, no copy), and :func:`read_trajectories` reads a file of
either order, so every reader in stilt sees ``(time, indx)``. Files written before this
layout (``(time, indx)``, float64, uncompressed) read as they are.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

__all__ = ["PACKED", "FOOT_BITS", "DIAGNOSTIC_BITS", "COMPRESSION", "compact_trajectories",
           "trajectory_encoding", "round_mantissa", "thin_trajectories", "SUMMED_COLUMNS",
           "TABLE_DIMS", "FILE_DIMS", "file_layout", "memory_layout", "read_trajectories",
           "NO_SHUFFLE", "write_trajectories", "ISAL_LEVEL"]

#: columns stored as packed int32: scale factor in the column's units
PACKED: dict[str, float] = {"long": 1e-5, "lati": 1e-5, "zagl": 0.1}
#: mantissa bits kept for the footprint columns (relative error <= 2**-(bits + 1))
FOOT_BITS = 20
#: mantissa bits kept for the other float columns
DIAGNOSTIC_BITS = 12
_FOOT_COLUMNS = ("foot", "foot_no_hnf_dilution")
#: columns summed over an output interval (the rest are values at its end)
SUMMED_COLUMNS = ("foot", "foot_no_hnf_dilution", "samt")
#: dims of the particle table in memory (:func:`stilt.run_trajectories`, every reader)
TABLE_DIMS = ("time", "indx")
#: dims of the particle table in a file written now (CF's (trajectory, obs) order)
FILE_DIMS = ("indx", "time")
#: zlib settings of every table variable (the shuffle left out for :data:`NO_SHUFFLE`)
COMPRESSION = {"zlib": True, "complevel": 1, "shuffle": True}
#: table columns compressed without the byte shuffle: mostly zeros and whole minutes, they
#: come out smaller and cheaper without it (measured, docs/outputs.md)
NO_SHUFFLE = ("samt",)
#: ISA-L's deflate level (of 0-3) for the chunks :func:`write_trajectories` compresses:
#: level 1 gives about the size of zlib's level 1 for a sixth of its CPU (docs/outputs.md)
ISAL_LEVEL = 1
_INT_FILL = np.int32(-(2**31))
_VALUES_PER_CHUNK = 1_000_000  # at most, per chunk: about 4 MB of float32


def round_mantissa(values: Any, bits: int) -> np.ndarray:
    """Float32 values with the mantissa rounded to ``bits`` bits (round half away from zero
    on the bit pattern, as netCDF's BitRound); NaN and infinities are kept.

    Parameters
    ----------
    values : array_like
    bits : int
        Mantissa bits kept, 1..23.

    Returns
    -------
    numpy.ndarray
        float32, the same shape.
    """
    out = np.array(values, dtype=np.float32, copy=True)
    if bits >= 23:
        return out
    drop = 23 - int(bits)
    raw = out.view(np.uint32)
    finite = np.isfinite(out)
    half = np.uint32(1 << (drop - 1))
    mask = np.uint32((0xFFFFFFFF << drop) & 0xFFFFFFFF)
    np.add(raw, half, out=raw, where=finite)
    np.bitwise_and(raw, mask, out=raw, where=finite)
    return out


def _is_table(var: xr.DataArray | xr.Variable) -> bool:
    return var.ndim == 2 and set(var.dims) == set(TABLE_DIMS) and var.dtype.kind == "f"


def file_layout(ds: xr.Dataset) -> xr.Dataset:
    """The Dataset with every particle-table variable on :data:`FILE_DIMS` (a view).

    Parameters
    ----------
    ds : xarray.Dataset
        Particles on ``(time, indx)`` or already on ``(indx, time)``.

    Returns
    -------
    xarray.Dataset
    """
    return ds.transpose(*FILE_DIMS, ..., missing_dims="ignore")


def memory_layout(ds: xr.Dataset) -> xr.Dataset:
    """The Dataset with every particle-table variable on :data:`TABLE_DIMS` (a view), the
    order of :func:`stilt.run_trajectories` and of files written before the ``(indx, time)``
    layout.

    Parameters
    ----------
    ds : xarray.Dataset
        Particles in either order.

    Returns
    -------
    xarray.Dataset
    """
    return ds.transpose(*TABLE_DIMS, ..., missing_dims="ignore")


def read_trajectories(path: str | Path) -> xr.Dataset:
    """A trajectory file loaded into memory (file closed), table on ``(time, indx)``.

    Reads files of either layout: ``(indx, time)`` compact files and the ``(time, indx)``
    files written before them (compact or float64 uncompressed).

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    xarray.Dataset
    """
    with xr.open_dataset(path, engine="netcdf4") as ds:
        return memory_layout(ds.load())


def _compact_values(name: str, values: Any) -> np.ndarray:
    """One column rounded as the file holds it (float64 multiples of the scale factor for the
    packed columns, rounded float32 for the others)."""
    if name in PACKED:
        scale = PACKED[name]
        return np.round(np.asarray(values, dtype=np.float64) / scale) * scale
    return round_mantissa(values, FOOT_BITS if name in _FOOT_COLUMNS else DIAGNOSTIC_BITS)


def compact_trajectories(ds: xr.Dataset) -> xr.Dataset:
    """The particle table rounded exactly as a trajectory file stores it.

    Packed columns become float64 multiples of their scale factor (what a reader decodes),
    the others float32 with the mantissa rounded. Coordinates and per-particle variables are
    kept as they are.

    Parameters
    ----------
    ds : xarray.Dataset
        Particles on ``(time, indx)`` (:func:`stilt.run_trajectories`).

    Returns
    -------
    xarray.Dataset
        A new Dataset (``ds`` is not changed); attributes kept.
    """
    out = ds.copy(deep=False)  # new Variable objects sharing the data: replaced one by one
    for name, var in out.variables.items():
        if name in ds.data_vars and _is_table(ds[name]):
            var.data = _compact_values(str(name), var.values)
    return out


def _chunk_shape(ds: xr.Dataset) -> dict[str, int]:
    """Chunk length along each table dim: whole particles, at most about a million values per
    chunk, the chunks as equal as whole particles allow."""
    nt, npart = ds.sizes.get("time", 0), ds.sizes.get("indx", 0)
    n_chunks = -(-nt * npart // _VALUES_PER_CHUNK)
    return {"time": nt, "indx": -(-npart // max(n_chunks, 1))}


def _storage(name: str) -> dict[str, Any]:
    """How one table column is stored: type, fill value, filters (and the scale factor of a
    packed column), as netCDF encoding keys."""
    enc: dict[str, Any] = dict(COMPRESSION, shuffle=name not in NO_SHUFFLE)
    if name in PACKED:
        enc.update(dtype="int32", scale_factor=PACKED[name], add_offset=0.0,
                   _FillValue=_INT_FILL)
    else:
        enc.update(dtype="float32", _FillValue=np.float32(np.nan))
    return enc


def trajectory_encoding(ds: xr.Dataset) -> dict[str, dict[str, Any]]:
    """The netCDF encoding of every variable of a trajectory file.

    Table columns are chunked in whole particles (at most about a million values per chunk,
    the chunks of one column as equal as whole particles allow) and compressed
    (:data:`COMPRESSION`, :data:`NO_SHUFFLE`); packed columns get their int32 type, scale
    factor and fill value. Chunk shapes follow each variable's own dims order.
    :func:`write_trajectories` writes the same file for less CPU.

    Parameters
    ----------
    ds : xarray.Dataset
        Particles, normally in :func:`file_layout` order.

    Returns
    -------
    dict
        For ``Dataset.to_netcdf(encoding=...)``.
    """
    chunk = _chunk_shape(ds)
    out: dict[str, dict[str, Any]] = {}
    for name, var in ds.data_vars.items():
        if not _is_table(var):
            continue
        enc = _storage(str(name))
        if chunk["time"] and chunk["indx"]:
            enc["chunksizes"] = tuple(chunk[str(d)] for d in var.dims)
        out[str(name)] = enc
    return out


def _stored_values(name: str, values: np.ndarray) -> np.ndarray:
    """A table column as the file stores it: the packed integers (fill value for NaN), or
    float32 (the values as given: :func:`compact_trajectories` rounds them)."""
    if name not in PACKED:
        return np.ascontiguousarray(values, dtype=np.float32)
    scaled = np.divide(values, PACKED[name], dtype=np.float64)  # a new array, as xarray
    missing = np.isnan(scaled)
    np.rint(scaled, out=scaled)
    scaled[missing] = _INT_FILL
    return scaled.astype(np.int32)


def write_trajectories(ds: xr.Dataset, path: str | Path) -> None:
    """Write a trajectory file: table on :data:`FILE_DIMS`, stored as
    :func:`trajectory_encoding` says.

    The file is the one ``file_layout(ds).to_netcdf(path, encoding=trajectory_encoding(...))``
    writes (the same types, values, attributes, chunks and filters; tested), for less CPU:
    netCDF4 lays out the file (dimensions, variables, attributes, the values outside the
    table), then each chunk of the table, converted once straight to its stored type in the
    file's order, is shuffled and deflated here by ISA-L (:data:`ISAL_LEVEL`) and written as
    it is with h5py, past HDF5's own (zlib) filter. Float variables outside the table get a
    NaN fill value, as xarray gives them. The caller makes the write atomic
    (``stilt._io.atomic_path``).

    Parameters
    ----------
    ds : xarray.Dataset
        Particles on ``(time, indx)`` or ``(indx, time)``, normally rounded by
        :func:`compact_trajectories`; index coordinates only.
    path : str or Path
    """
    import netCDF4

    extra = set(ds.coords) - set(ds.dims)
    if extra:
        raise ValueError(f"trajectory file {path}: coordinates {sorted(extra)} are not on a "
                         "dimension of their own; expected the index coordinates only")
    chunk = _chunk_shape(ds)
    chunked = bool(chunk["time"] and chunk["indx"])
    variables = ds.variables  # Variables: no DataArray built per name
    table = [str(n) for n in ds.data_vars if _is_table(variables[n])]
    with netCDF4.Dataset(path, "w", format="NETCDF4") as nc:
        # every variable defined before any value is written: netCDF-C leaves define mode
        # (laying out the variables defined so far) at each write, and every switch costs
        values = [_define_variable(nc, str(name), variables[name],
                                   chunk if name in ds.data_vars else None)
                  for name in [*ds.data_vars, *ds.coords]]
        nc.setncatts(dict(ds.attrs))
        for out, data in values:
            if out is not None:
                out[...] = data
    if chunked and table:
        _write_chunks(path, ds, table, chunk["indx"])


def _define_variable(nc: Any, name: str, var: xr.Variable,
                     chunk: dict[str, int] | None) -> tuple[Any, np.ndarray | None]:
    """Define one variable in an open netCDF4 Dataset (its dims made when first used, as
    xarray does); table columns (``chunk`` given) stored as :func:`_storage` says, their values
    left to :func:`_write_chunks` (but for an empty table). Returns the netCDF4 variable and
    the values the caller writes into it as they are, or ``(None, None)``."""
    table = chunk is not None and _is_table(var)
    for dim in FILE_DIMS if table else var.dims:
        if dim not in nc.dimensions:
            nc.createDimension(dim, var.sizes[dim])
    if table and chunk is not None:
        enc = _storage(name)
        sizes = (chunk["indx"], chunk["time"]) if chunk["time"] and chunk["indx"] else None
        out = nc.createVariable(name, enc["dtype"], FILE_DIMS, zlib=enc["zlib"],
                                complevel=enc["complevel"], shuffle=enc["shuffle"],
                                chunksizes=sizes, fill_value=enc["_FillValue"])
        attrs = dict(var.attrs)
        if name in PACKED:
            attrs.update(add_offset=enc["add_offset"], scale_factor=enc["scale_factor"])
        out.set_auto_maskandscale(False)
        out.setncatts(attrs)
        if sizes is None:  # no rows or no particles: nothing to compress
            return out, _stored_values(name, var.transpose(*FILE_DIMS).values)
        return None, None
    values = np.asarray(var.values)
    if values.dtype.kind not in "iuf":
        raise TypeError(f"trajectory variable {name!r} has type {values.dtype}, expected "
                        "numbers")
    out = nc.createVariable(name, values.dtype, var.dims,
                            fill_value=np.nan if values.dtype.kind == "f" else None)
    out.set_auto_maskandscale(False)  # the values are already as stored
    out.setncatts(dict(var.attrs))
    return out, values


def _write_chunks(path: str | Path, ds: xr.Dataset, names: list[str], rows: int) -> None:
    """The table columns ``names`` of ``ds`` into the file netCDF4 laid out at ``path``, chunk
    by chunk (``rows`` particles each, every time), each chunk compressed by
    :func:`_deflated` and written with h5py's direct chunk write."""
    import h5py

    with h5py.File(path, "r+") as f:
        for name in names:
            values = _stored_values(name, ds.variables[name].transpose(*FILE_DIMS).values)
            dset = f[name]
            if dset.chunks != (rows, values.shape[1]):
                raise RuntimeError(f"trajectory file {path}: {name} has chunks {dset.chunks}, "
                                   f"expected {(rows, values.shape[1])}")
            enc = _storage(name)
            for start in range(0, values.shape[0], rows):
                dset.id.write_direct_chunk((start, 0), _deflated(
                    values[start:start + rows], rows, enc["_FillValue"], enc["shuffle"]))


def _deflated(block: np.ndarray, rows: int, fill: Any, shuffle: bool) -> bytes:
    """One chunk as HDF5's shuffle and deflate filters store it: ``block`` (at most ``rows``
    particles; the last chunk of a column padded with its ``fill`` value) with its bytes
    regrouped by their place in the value (the shuffle) when ``shuffle``, then deflated by
    ISA-L into a zlib stream."""
    from isal import isal_zlib

    if block.shape[0] < rows:
        padded = np.full((rows, block.shape[1]), fill, dtype=block.dtype)
        padded[:block.shape[0]] = block
        block = padded
    data = np.ascontiguousarray(block).view(np.uint8).reshape(-1, block.dtype.itemsize)
    if shuffle:
        data = np.ascontiguousarray(data.T)
    return isal_zlib.compress(data, ISAL_LEVEL)


def _sums_by_bin(values: np.ndarray, bins: np.ndarray) -> np.ndarray:
    """The rows of ``values`` summed by ``bins`` (0..n-1, every bin present), each sum adding
    its rows in row order to 0, as ``np.add.at`` does (the same floating-point sums: an
    accumulate is sequential, where ``np.add.reduceat`` and ``sum`` may add pairwise), for a
    fraction of its time."""
    order = np.argsort(bins, kind="stable")
    ordered = values if np.array_equal(order, np.arange(order.size)) else values[order]
    ranked = bins[order]
    starts = np.flatnonzero(np.concatenate([[True], np.diff(ranked) != 0]))
    ends = np.append(starts[1:], ranked.size)
    out = np.empty((starts.size,) + values.shape[1:])
    for k, (a, b) in enumerate(zip(starts, ends)):
        out[k] = np.add.accumulate(ordered[a:b], axis=0)[-1]
    return out + 0.0  # 0 + the first row: a lone -0.0 sums to 0.0


def thin_trajectories(ds: xr.Dataset, minutes: int) -> xr.Dataset:
    """Keep one row every ``minutes`` of each particle, as a run with ``outdt = minutes`` does.

    Rows are grouped by ``ceil(|time| / minutes)``; each group keeps its last row (largest
    ``|time|``), with :data:`SUMMED_COLUMNS` summed over the group's rows (a particle without
    a value at the kept row has none). Per-particle variables and attributes are kept;
    ``thinned_minutes`` records the interval.

    Parameters
    ----------
    ds : xarray.Dataset
        Particles on ``(time, indx)`` (or a file's ``(indx, time)``), ``time`` in minutes
        since release.
    minutes : int
        Interval, >= 1.

    Returns
    -------
    xarray.Dataset
        On ``(time, indx)``.
    """
    if minutes < 1:
        raise ValueError(f"thinning interval {minutes!r} must be at least 1 minute")
    ds = memory_layout(ds)
    t = np.asarray(ds["time"].values, dtype=np.float64)
    group = np.ceil(np.abs(t) / minutes)
    order = np.argsort(np.abs(t), kind="stable")
    keep = [int(order[np.nonzero(group[order] == g)[0][-1]]) for g in np.unique(group)]
    out = ds.isel(time=keep)
    bins = np.searchsorted(np.unique(group), group)
    for name in SUMMED_COLUMNS:
        if name not in ds or ds[name].dims != TABLE_DIMS:
            continue
        values = np.nan_to_num(np.asarray(ds[name].values, dtype=np.float64))
        sums = _sums_by_bin(values, bins)
        kept = np.asarray(out[name].values)
        out[name] = out[name].copy(data=np.where(np.isnan(kept), np.nan, sums)
                                   .astype(ds[name].dtype))
    out.attrs["thinned_minutes"] = int(minutes)
    return out
