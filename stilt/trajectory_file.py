"""Trajectory files on disk: compact storage, the values they hold, and thinning.

A trajectory file is the particle table of :func:`stilt.run_trajectories` as netCDF-4, chunked
and compressed (zlib level 1 after the byte shuffle), each column stored with the precision the
science needs (docs/outputs.md, "Trajectory storage"):

- ``long``, ``lati``: int32 packed with ``scale_factor`` 1e-5 degrees (a position error of at
  most 0.56 m in latitude, less in longitude);
- ``zagl``: int32 packed with ``scale_factor`` 0.1 m;
- ``foot``, ``foot_no_hnf_dilution``: float32 with the mantissa rounded to 20 bits (relative
  error at most 2**-21, 4.8e-7);
- every other float column: float32 rounded to 12 mantissa bits (relative error at most 1.2e-4,
  about four significant digits: they are diagnostics a footprint of these files never reads).

:func:`compact_trajectories` rounds a Dataset in memory exactly as the file will hold it, so a
footprint computed from the particles just made equals one computed later from the file;
:func:`trajectory_encoding` is the encoding that writes it (``Dataset.to_netcdf``).
Files written before this layout (float64, uncompressed) read as they are.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

__all__ = ["PACKED", "FOOT_BITS", "DIAGNOSTIC_BITS", "COMPRESSION", "compact_trajectories",
           "trajectory_encoding", "round_mantissa", "thin_trajectories", "SUMMED_COLUMNS"]

#: columns stored as packed int32: scale factor in the column's units
PACKED: dict[str, float] = {"long": 1e-5, "lati": 1e-5, "zagl": 0.1}
#: mantissa bits kept for the footprint columns (relative error <= 2**-(bits + 1))
FOOT_BITS = 20
#: mantissa bits kept for the other float columns
DIAGNOSTIC_BITS = 12
_FOOT_COLUMNS = ("foot", "foot_no_hnf_dilution")
#: columns summed over an output interval (the rest are values at its end)
SUMMED_COLUMNS = ("foot", "foot_no_hnf_dilution", "samt")
#: zlib settings of every variable on (time, indx)
COMPRESSION = {"zlib": True, "complevel": 1, "shuffle": True}
_INT_FILL = np.int32(-(2**31))
_ROWS_PER_CHUNK = 1_000_000  # values per chunk: about 4 MB of float32


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


def _is_table(var: xr.DataArray) -> bool:
    return var.dims == ("time", "indx") and var.dtype.kind == "f"


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


def trajectory_encoding(ds: xr.Dataset) -> dict[str, dict[str, Any]]:
    """The netCDF encoding of every variable of a trajectory file.

    Table columns are chunked as whole particle rows (at most about a million values per
    chunk) and compressed (:data:`COMPRESSION`); packed columns get their int32 type, scale
    factor and fill value.

    Parameters
    ----------
    ds : xarray.Dataset

    Returns
    -------
    dict
        For ``Dataset.to_netcdf(encoding=...)``.
    """
    nt, npart = ds.sizes.get("time", 0), ds.sizes.get("indx", 0)
    rows = max(1, min(nt, _ROWS_PER_CHUNK // max(npart, 1)))
    out: dict[str, dict[str, Any]] = {}
    for name, var in ds.data_vars.items():
        if not _is_table(var):
            continue
        enc: dict[str, Any] = dict(COMPRESSION)
        if nt and npart:
            enc["chunksizes"] = (rows, npart)
        if name in PACKED:
            enc.update(dtype="int32", scale_factor=PACKED[name], add_offset=0.0,
                       _FillValue=_INT_FILL)
        else:
            enc.update(dtype="float32", _FillValue=np.float32(np.nan))
        out[str(name)] = enc
    return out


def thin_trajectories(ds: xr.Dataset, minutes: int) -> xr.Dataset:
    """Keep one row every ``minutes`` of each particle, as a run with ``outdt = minutes`` does.

    Rows are grouped by ``ceil(|time| / minutes)``; each group keeps its last row (largest
    ``|time|``), with :data:`SUMMED_COLUMNS` summed over the group's rows (a particle without
    a value at the kept row has none). Per-particle variables and attributes are kept;
    ``thinned_minutes`` records the interval.

    Parameters
    ----------
    ds : xarray.Dataset
        Particles on ``(time, indx)``, ``time`` in minutes since release.
    minutes : int
        Interval, >= 1.

    Returns
    -------
    xarray.Dataset
    """
    if minutes < 1:
        raise ValueError(f"thinning interval {minutes!r} must be at least 1 minute")
    t = np.asarray(ds["time"].values, dtype=np.float64)
    group = np.ceil(np.abs(t) / minutes)
    order = np.argsort(np.abs(t), kind="stable")
    keep = [int(order[np.nonzero(group[order] == g)[0][-1]]) for g in np.unique(group)]
    out = ds.isel(time=keep)
    bins = np.searchsorted(np.unique(group), group)
    for name in SUMMED_COLUMNS:
        if name not in ds or ds[name].dims != ("time", "indx"):
            continue
        values = np.nan_to_num(np.asarray(ds[name].values, dtype=np.float64))
        sums = np.zeros((len(keep), values.shape[1]))
        np.add.at(sums, bins, values)
        kept = np.asarray(out[name].values)
        out[name] = out[name].copy(data=np.where(np.isnan(kept), np.nan, sums)
                                   .astype(ds[name].dtype))
    out.attrs["thinned_minutes"] = int(minutes)
    return out
