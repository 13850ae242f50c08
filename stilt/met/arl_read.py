"""ARL packed files: reading a window of records into the met Dataset layout.

Records are unpacked by the Fortran core (``fortran/stilt_arl.f90``) in single precision in
HYSPLIT's order, so decoded values are bit-identical to HYSPLIT's. Only the records and rows a
window needs are read and decoded.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np

from stilt.errors import MetCoverageError, MetError
from stilt.met.arl_format import (
    LABEL_LEN,
    VERTICAL_SYSTEMS,
    PathLike,
    as_datetime64,
    dif_parent_names,
    missing_records,
    parse_label_block,
    time_text,
    variable_attrs,
)
from stilt.met.arl_index import ArlInventory, arl_inventory, open_arl

if TYPE_CHECKING:  # pragma: no cover
    import xarray as xr

# bytes of raw records plus decoded floats handled by one call into the core
_BATCH_BYTES = 32 * 2**20


# ---- reading -------------------------------------------------------------------------------

def _index_range(sel: Any, n: int, name: str) -> tuple[int, int]:
    """Return a 1-based inclusive (lo, hi) from None, an int, a (lo, hi) pair or a slice."""
    if sel is None:
        lo, hi = 1, n
    elif isinstance(sel, slice):
        if sel.step not in (None, 1):
            raise MetError(f"{name} window {sel!r}: steps are not supported")
        lo = 1 if sel.start is None else int(sel.start)
        hi = n if sel.stop is None else int(sel.stop)
    elif isinstance(sel, (int, np.integer)):
        lo = hi = int(sel)
    else:
        try:
            lo, hi = (int(v) for v in sel)
        except (TypeError, ValueError):
            raise MetError(f"{name} window {sel!r}: expected None, an index, a (first, last) "
                           "pair of 1-based indices or a slice") from None
    if not 1 <= lo <= hi <= n:
        raise MetCoverageError(f"{name} window {sel!r} gives {lo}..{hi}, outside the file's "
                               f"1..{n} (1-based, inclusive)")
    return lo, hi


def _level_selection(sel: Any, nlev: int) -> list[int]:
    """Upper level numbers (1-based) from None, an int, a (lo, hi) pair, a slice or a list."""
    if sel is None:
        return list(range(1, nlev + 1))
    if isinstance(sel, (list, np.ndarray)):
        out = sorted({int(v) for v in sel})
        bad = [v for v in out if not 1 <= v <= nlev]
        if bad:
            raise MetError(f"levels {bad} are not upper levels of the file (1..{nlev})")
        return out
    if nlev == 0:
        raise MetError(f"levels {sel!r} requested but the file has no upper levels")
    lo, hi = _index_range(sel, nlev, "level")
    return list(range(lo, hi + 1))



def _time_bounds(sel: Any) -> tuple[np.datetime64 | None, np.datetime64 | None]:
    if sel is None:
        return None, None
    if isinstance(sel, slice):
        lo, hi = sel.start, sel.stop
    elif isinstance(sel, (str, _dt.datetime, np.datetime64)):
        lo = hi = sel
    else:
        try:
            lo, hi = sel
        except (TypeError, ValueError):
            raise MetError(f"time window {sel!r}: expected a (start, end) pair, a slice or "
                           "one time") from None
    return (None if lo is None else as_datetime64(lo),
            None if hi is None else as_datetime64(hi))


@dataclasses.dataclass
class _Plan:
    """Which data records of each period are decoded, and where their values go."""

    records: list[int]                  # data-record indices (file order)
    target: dict[int, tuple[str, int]]  # record -> (output variable, level slot or -1)
    dif_parent: dict[int, int]          # DIF record -> parent record


def _variable_names(inv: ArlInventory) -> tuple[dict[str, str], dict[str, str]]:
    """Output names of surface and upper variables: ARL name -> Dataset name."""
    surface = {n: n for n in inv.level_names[0] if dif_parent_names(n, 0) is None}
    upper: dict[str, str] = {}
    for lev, names in enumerate(inv.level_names[1:], start=1):
        for n in names:
            if dif_parent_names(n, lev) is None and n not in upper:
                upper[n] = n if n not in surface else f"{n}_upper"
    return surface, upper


def _arl_of(out_name: str, names: dict[str, str]) -> str:
    """ARL name of an output variable name."""
    return next(k for k, v in names.items() if v == out_name)


def _make_plan(inv: ArlInventory, levels: list[int], wanted: set[str] | None) -> _Plan:
    surface, upper = _variable_names(inv)
    level_slot = {lev: k for k, lev in enumerate(levels)}
    plan = _Plan(records=[], target={}, dif_parent={})
    r = 0
    for lev, names in enumerate(inv.level_names):
        last_parent: dict[str, int] = {}
        for name in names:
            parents = dif_parent_names(name, lev)
            use_level = lev == 0 or lev in level_slot
            if parents is None:
                out = surface[name] if lev == 0 else upper[name]
                last_parent[name] = r
                if use_level and (wanted is None or out in wanted or name in wanted):
                    plan.records.append(r)
                    plan.target[r] = (out, -1 if lev == 0 else level_slot[lev])
            elif use_level and parents:
                match = [rp for n, rp in last_parent.items()
                         if (n in parents if lev > 0 else n[:3] in parents)]
                if match:
                    parent = max(match)
                    if parent in plan.target:
                        plan.records.append(r)
                        plan.dif_parent[r] = parent
            r += 1
    return plan


def _runs(indices: Sequence[int]) -> Iterator[tuple[int, int]]:
    """Consecutive runs (first, count) of sorted indices."""
    start = prev = None
    for i in indices:
        if start is None:
            start = prev = i
        elif i == prev + 1:
            prev = i
        else:
            yield start, prev - start + 1
            start = prev = i
    if start is not None:
        yield start, prev - start + 1


def _decode_file(inv: ArlInventory, f: BinaryIO, periods: np.ndarray, plan: _Plan,
                 window: tuple[int, int, int, int], out: dict[str, np.ndarray], t0: int,
                 check: bool) -> None:
    """Decode the planned records of the given periods into ``out`` (time slots from t0)."""
    from stilt import _core

    i0, i1, j0, j1 = window
    # without checksums only the bytes up to the window's last point are needed
    need = inv.record_length if check else LABEL_LEN + (j1 - 1) * inv.nx + i1
    max_recs = max(1, _BATCH_BYTES // (need + 4 * (i1 - i0 + 1) * (j1 - j0 + 1)))
    # (time slot, period, data record) in file order, in batches of contiguous reads
    jobs = [(t0 + k, int(p), r) for k, p in enumerate(periods) for r in plan.records]
    per_period = inv.records_per_period  # a sum over the levels: computed once
    for b0 in range(0, len(jobs), max_recs):
        batch = jobs[b0:b0 + max_recs]
        recnos = [p * per_period + inv.nindex + r for _, p, r in batch]  # 0-based
        buf = _read_records(inv, f, recnos, need)
        present, nexp, prec, var1 = _present_records(inv, buf, batch, recnos)
        if not len(present):
            continue
        recs = buf[present] if len(present) != len(batch) else buf
        values, sums, status = _core.arl_unpack_records(
            recs.view(np.int8).T, nexp, prec, var1, inv.nx, i0, i1, j0, j1, 1 if check else 0)
        if status != 0:
            raise MetError(f"{inv.path}: the core refused to unpack window x {i0}..{i1}, "
                           f"y {j0}..{j1} of {inv.nx} x {inv.ny} records (status {status})")
        for m, k in enumerate(present.tolist()):
            slot, p, r = batch[k]
            stored = int(inv.checksums[p, r])
            if check and stored != 0 and int(sums[m]) != stored:
                lev, name = inv.data_records[r]
                raise MetError(
                    f"{inv.path}: checksum mismatch in record {recnos[k] + 1} (time "
                    f"{time_text(inv.times[p])}, level {lev}, variable {name}): computed "
                    f"{int(sums[m])}, index record says {stored}")
            _store_field(plan, r, slot, values[:, :, m].T, out)


def _read_records(inv: ArlInventory, f: BinaryIO, recnos: list[int], need: int) -> np.ndarray:
    """The first ``need`` bytes of the given records (0-based numbers), (n, need) uint8."""
    lrec = inv.record_length
    buf = np.empty((len(recnos), need), dtype=np.uint8)
    pos = 0
    for first, count in _runs(recnos):
        if need == lrec:  # whole records: one read per run
            f.seek(first * lrec)
            got = f.readinto(memoryview(buf[pos:pos + count]).cast("B"))  # type: ignore
            if got != count * lrec:
                raise MetError(f"{inv.path}: truncated while reading record "
                               f"{first + (got or 0) // lrec + 1}")
        else:
            for k in range(count):
                f.seek((first + k) * lrec)
                got = f.readinto(memoryview(buf[pos + k]))  # type: ignore[attr-defined]
                if got != need:
                    raise MetError(f"{inv.path}: truncated while reading record "
                                   f"{first + k + 1}")
        pos += count
    return buf


def _present_records(inv: ArlInventory, buf: np.ndarray, batch: list[tuple[int, int, int]],
                     recnos: list[int]) -> tuple[np.ndarray, ...]:
    """Check each label against the index; (rows not missing, their nexp, prec, var1)."""
    names = inv.data_records
    fc, level, name_col, nexp, prec, var1 = parse_label_block(
        buf[:, :LABEL_LEN], inv.path, [k + 1 for k in recnos])
    missing = missing_records(fc, name_col)
    want_name = np.array([names[r][1] for _, _, r in batch])
    want_lev = np.array([names[r][0] for _, _, r in batch])
    wrong = ~missing & ((name_col != want_name) | (level != want_lev))
    if wrong.any():
        k = int(np.argmax(wrong))
        raise MetError(
            f"{inv.path}: record {recnos[k] + 1} is labelled {str(name_col[k])!r} level "
            f"{int(level[k])}, but the index of time {time_text(inv.times[batch[k][1]])} lists "
            f"{str(want_name[k])!r} level {int(want_lev[k])} there (label "
            f"{buf[k, :LABEL_LEN].tobytes()!r})")
    present = np.flatnonzero(~missing)
    return present, nexp[present], prec[present], var1[present]


def _store_field(plan: _Plan, r: int, slot: int, field: np.ndarray,
                 out: dict[str, np.ndarray]) -> None:
    """Put a decoded record in its output slot, or add a DIF record to its parent."""
    if r in plan.dif_parent:
        var, lslot = plan.target[plan.dif_parent[r]]
        dest = out[var][slot] if lslot < 0 else out[var][slot, lslot]
        dest += field  # NaN parent (missing) stays NaN
    else:
        var, lslot = plan.target[r]
        if lslot < 0:
            out[var][slot] = field
        else:
            out[var][slot, lslot] = field


def _same_grid(a: ArlInventory, b: ArlInventory) -> None:
    fields = ("nx", "ny", "vertical_system", "grid_params", "level_values", "level_names")
    diff = [k for k in fields if getattr(a, k) != getattr(b, k)]
    if diff:
        raise MetError(f"ARL files {a.path} and {b.path} cannot be read as one sequence: their "
                       f"{', '.join(diff)} differ")


def read_arl(path: PathLike | Sequence[PathLike], x: Any = None, y: Any = None,
             levels: Any = None, time: Any = None, variables: Sequence[str] | None = None,
             *, check_checksums: bool = True) -> xr.Dataset:
    """Read (a window of) one or several ARL packed meteorology files.

    Parameters
    ----------
    path : str, path-like, or sequence of them
        ARL file(s), plain or gzip-compressed; several files of the same grid and levels are
        read as one time sequence (a time present in several files is taken from the first).
    x, y : optional
        Window along x / y as 1-based inclusive indices into the full grid: a ``(first,
        last)`` pair, a ``slice(first, last)`` (inclusive, like ``Dataset.sel``), or one index.
        Default: the whole grid.
    levels : optional
        Upper levels to read (1..NZ-1): a ``(first, last)`` pair or slice (inclusive), one
        level, or a list of level numbers; ``[]`` reads surface fields only. Default: all.
    time : optional
        ``(start, end)`` pair (inclusive; datetimes, numpy datetime64 or ISO strings, either
        may be None) or one time. Default: every period.
    variables : sequence of str, optional
        ARL names to read (surface and upper); default all. DIF records are applied to their
        parents (docs/physics.md §2.1) and never returned as variables.
    check_checksums : bool, optional
        Verify every decoded record against the checksum stored in its index record (stored
        0 means "not recorded" and is skipped). Default True.

    Returns
    -------
    xarray.Dataset
        The met Dataset layout (``docs/met.md``): surface fields ``NAME(time, y, x)``, upper
        fields ``NAME(time, level, y, x)`` as float32, NaN for missing records and for levels
        that do not carry a variable; coordinates ``time``, ``level``, ``level_value``, ``x``,
        ``y``, ``lat``, ``lon``, ``forecast_hour``; grid and vertical system in ``attrs``.

    Raises
    ------
    MetError
        Unreadable, truncated or corrupt files (bad label, checksum mismatch), windows outside
        the grid, unknown variables, or files that do not share one grid.
    """
    arrays = read_arl_arrays(path, x, y, levels, time, variables,
                             check_checksums=check_checksums)
    return _window_dataset(arrays)


@dataclasses.dataclass(frozen=True)
class ArlArrays:
    """A decoded window of ARL records as plain arrays (:func:`read_arl_arrays`).

    Attributes
    ----------
    data : dict of str to numpy.ndarray
        float32 fields named as in :func:`read_arl`'s Dataset, surface ones first, each in
        record order: surface ``(time, y, x)``, upper ``(time, level, y, x)``; NaN for
        missing records and for levels that do not carry a variable.
    times : numpy.ndarray
        Valid times of the ``time`` axis (datetime64[m]).
    levels : list of int
        ARL level numbers (1 = lowest upper level) of the ``level`` axis.
    window : tuple of int
        First and last 1-based x and y indices read: ``(i0, i1, j0, j1)``.
    inventories : tuple of ArlInventory
        The scanned files; ``chosen`` says which file and period each time came from.
    chosen : tuple of (numpy.datetime64, int, int)
        (time, file index, period index) of each time.
    arl_names : dict of str to str
        The ARL record name of each field of ``data``.
    """

    data: dict[str, np.ndarray]
    times: np.ndarray
    levels: list[int]
    window: tuple[int, int, int, int]
    inventories: tuple[ArlInventory, ...]
    chosen: tuple[tuple[np.datetime64, int, int], ...]
    arl_names: dict[str, str]


def read_arl_arrays(path: PathLike | Sequence[PathLike], x: Any = None, y: Any = None,
                    levels: Any = None, time: Any = None, variables: Sequence[str] | None = None,
                    *, check_checksums: bool = True) -> ArlArrays:
    """Read (a window of) ARL files into plain arrays: :func:`read_arl` without the Dataset.

    For callers that only need the decoded fields (the transport reads one window per met
    time this way): no coordinates, latitudes or CF attributes are built. The arguments, the
    checks and the decoded values are those of :func:`read_arl`.

    Returns
    -------
    ArlArrays
        The decoded fields, their times, levels and window.

    Raises
    ------
    MetError
        As :func:`read_arl`.
    """
    paths = [Path(path)] if isinstance(path, (str, os.PathLike)) else [Path(p) for p in path]
    if not paths:
        raise MetError("read_arl needs at least one file")
    handles = []
    try:
        invs = []
        for p in paths:
            invs.append(arl_inventory(p))
            handles.append(open_arl(p))
        inv0 = invs[0]
        for other in invs[1:]:
            _same_grid(inv0, other)
        i0, i1 = _index_range(x, inv0.nx, "x")
        j0, j1 = _index_range(y, inv0.ny, "y")
        lev_sel = _level_selection(levels, inv0.nz - 1)
        surface, upper = _variable_names(inv0)
        wanted = _wanted_variables(inv0, variables, surface, upper)
        plan = _make_plan(inv0, lev_sel, wanted)
        chosen = _choose_periods(invs, time)
        out_vars = [(v, -1) for v in surface.values()
                    if wanted is None or v in wanted or _arl_of(v, surface) in wanted]
        out_vars += [(v, 0) for v in upper.values()
                     if wanted is None or v in wanted or _arl_of(v, upper) in wanted]
        out: dict[str, np.ndarray] = {}
        for v, kind in out_vars:
            shape = ((len(chosen), j1 - j0 + 1, i1 - i0 + 1) if kind < 0 else
                     (len(chosen), len(lev_sel), j1 - j0 + 1, i1 - i0 + 1))
            out[v] = np.full(shape, np.nan, dtype=np.float32)
        _decode_chosen(invs, handles, chosen, plan, (i0, i1, j0, j1), out, check_checksums)
    finally:
        for f in handles:
            f.close()
    arl_of = {v: k for k, v in surface.items()} | {v: k for k, v in upper.items()}
    return ArlArrays(out, np.array([c[0] for c in chosen], dtype="datetime64[m]"), lev_sel,
                     (i0, i1, j0, j1), tuple(invs), tuple(chosen),
                     {v: arl_of.get(v, v) for v in out})


def _wanted_variables(inv0: ArlInventory, variables: Sequence[str] | None,
                      surface: dict[str, str], upper: dict[str, str]) -> set[str] | None:
    """The ARL or output names asked for (None: all), each checked to be in the file."""
    if variables is None:
        return None
    wanted = {str(v).strip() for v in ([variables] if isinstance(variables, str)
                                       else variables)}
    known = set(surface) | set(upper) | set(surface.values()) | set(upper.values())
    unknown = sorted(wanted - known)
    if unknown:
        raise MetError(f"{inv0.path}: variables {unknown} are not in the file (it has "
                       f"surface {sorted(surface)}, upper {sorted(upper)})")
    return wanted


def _choose_periods(invs: Sequence[ArlInventory], time: Any
                    ) -> list[tuple[np.datetime64, int, int]]:
    """(time, file, period) to read, in time order; the first file wins on duplicates."""
    tlo, thi = _time_bounds(time)
    chosen: list[tuple[np.datetime64, int, int]] = []
    seen: set[np.datetime64] = set()
    for fi, inv in enumerate(invs):
        for p, t in enumerate(inv.times):
            if (tlo is not None and t < tlo) or (thi is not None and t > thi) or t in seen:
                continue
            seen.add(t)
            chosen.append((t, fi, p))
    chosen.sort(key=lambda c: c[0])
    if not chosen:
        span = ", ".join(f"{inv.path}: {time_text(inv.times[0])}..{time_text(inv.times[-1])}"
                         for inv in invs)
        raise MetError(f"no time period in the window {time!r} ({span})")
    return chosen


def _decode_chosen(invs: Sequence[ArlInventory], handles: Sequence[BinaryIO],
                   chosen: list[tuple[np.datetime64, int, int]], plan: _Plan,
                   window: tuple[int, int, int, int], out: dict[str, np.ndarray],
                   check: bool) -> None:
    """Decode the chosen periods, consecutive time slots from one file in one call."""
    nt = len(chosen)
    slot = 0
    while slot < nt:
        fi = chosen[slot][1]
        end = slot
        while end < nt and chosen[end][1] == fi:
            end += 1
        periods = np.array([c[2] for c in chosen[slot:end]])
        _decode_file(invs[fi], handles[fi], periods, plan, window, out, slot, check)
        slot = end


def _window_dataset(arrays: ArlArrays) -> xr.Dataset:
    """The met Dataset of a decoded window: coordinates, CF and grid attributes around the
    data."""
    import xarray as xr

    from stilt.met.projection import ArlGrid

    invs, chosen, lev_sel = arrays.inventories, arrays.chosen, arrays.levels
    inv0 = invs[0]
    grid = ArlGrid.from_attrs(inv0.grid_attrs)
    data_vars = {
        v: xr.Variable(("time", "y", "x") if a.ndim == 3 else ("time", "level", "y", "x"), a,
                       attrs=variable_attrs(arrays.arl_names[v], grid.kind == "latlon"))
        for v, a in arrays.data.items()}
    i0, i1, j0, j1 = arrays.window
    xs = np.arange(i0, i1 + 1, dtype=np.int32)
    ys = np.arange(j0, j1 + 1, dtype=np.int32)
    lat, lon = grid.latlon_mesh(xs, ys)
    ksys = inv0.vertical_system
    level_units = {1: "1", 2: "hPa", 3: "m", 4: "1", 5: "1"}[ksys]
    coords = {
        "time": ("time", arrays.times.astype("datetime64[ns]"),
                 {"long_name": "valid time", "standard_name": "time"}),
        "level": ("level", np.array(lev_sel, dtype=np.int32),
                  {"long_name": "ARL level number (1 = lowest upper level)"}),
        "level_value": ("level", np.array([inv0.level_values[k] for k in lev_sel],
                                          dtype=np.float64),
                        {"long_name": f"stored {VERTICAL_SYSTEMS[ksys]} level value",
                         "units": level_units}),
        "y": ("y", ys, {"long_name": "1-based grid index along y (south to north)"}),
        "x": ("x", xs, {"long_name": "1-based grid index along x (west to east)"}),
        "lat": (("y", "x"), lat, {"units": "degrees_north", "standard_name": "latitude"}),
        "lon": (("y", "x"), lon, {"units": "degrees_east", "standard_name": "longitude"}),
        "forecast_hour": ("time", np.array([invs[c[1]].forecast_hours[c[2]] for c in chosen],
                                           dtype=np.int32),
                          {"long_name": "forecast hour of the time period", "units": "h"}),
    }
    attrs: dict[str, Any] = {
        "source": inv0.source,
        "vertical_system": int(ksys),
        "vertical_system_name": VERTICAL_SYSTEMS[ksys],
        "surface_level_value": float(inv0.level_values[0]),
        **inv0.grid_attrs,
        "arl_files": [str(inv.path) for inv in invs],
    }
    return xr.Dataset(data_vars, coords=coords, attrs=attrs)
