"""ARL packed files: describing a file, checking its values from the record labels alone and
verifying every record against its checksum."""

from __future__ import annotations

import io
import os
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from stilt.errors import MetError
from stilt.met.arl_format import (
    GRID_PARAMETERS,
    LABEL_LEN,
    VERTICAL_SYSTEMS,
    Label,
    PathLike,
    missing_records,
    parse_label,
    parse_label_block,
    time_text,
)
from stilt.met.arl_index import ArlInventory, arl_inventory, open_arl, read_at


# ---- description ---------------------------------------------------------------------------

def _span(values: Sequence[float]) -> str:
    return f"{min(values):.1f}..{max(values):.1f}"


def describe_arl(path: PathLike, records: bool = False) -> str:
    """Describe an ARL file readably: grid, projection, levels, times, variables.

    Parameters
    ----------
    path : str or path-like
        ARL file, plain or gzip-compressed.
    records : bool, optional
        Also list every data record (time, level, variable, stored checksum, packing
        exponent, precision, first value; missing records marked).

    Returns
    -------
    str
        The description, several lines.
    """
    from stilt.met.projection import ArlGrid

    inv = arl_inventory(path)
    lines = [f"{inv.path}: ARL packed meteorology, {inv.size} bytes"]
    grid = ArlGrid.from_attrs(inv.grid_attrs)
    step = max(1, int(np.sqrt(inv.nx * inv.ny / 250_000)))  # extent from <= ~250k points
    xs = np.unique(np.r_[np.arange(1, inv.nx + 1, step), inv.nx])
    ys = np.unique(np.r_[np.arange(1, inv.ny + 1, step), inv.ny])
    lat, lon = grid.latlon_mesh(xs, ys)
    box = f"lat {_span(lat.ravel())}, lon {_span(lon.ravel())}"
    head = (f"  source {inv.source}; grid {inv.nx} x {inv.ny} {grid.kind}"
            f"{' (global)' if grid.is_global else ''}")
    if grid.kind == "latlon" or grid.is_global:
        lines.append(f"{head}; covers {box}")
    else:  # projected: the lat/lon box is larger than the grid, so give the outline too
        clat, clon = grid.latlon_mesh(np.array([1, inv.nx]), np.array([1, inv.ny]))
        corners = "; ".join(f"{name} {clat[j, i]:.2f}, {clon[j, i]:.2f}" for name, j, i in
                            (("SW", 0, 0), ("SE", 0, 1), ("NE", 1, 1), ("NW", 1, 0)))
        lines.append(f"{head}; corners (lat, lon) {corners}")
        lines.append(f"  lat/lon box around it: {box} (the box also holds points outside "
                     "the grid; stilt check tests each receptor against the grid itself)")
    lines.append("  grid parameters: " + ", ".join(
        f"{k}={v:g}" for k, v in zip(GRID_PARAMETERS, inv.grid_params, strict=True)))
    lines.append(f"  vertical: {VERTICAL_SYSTEMS[inv.vertical_system]} (KSYS "
                 f"{inv.vertical_system}), {inv.nz} levels including the surface; values "
                 + " ".join(f"{v:g}" for v in inv.level_values))
    t = inv.times
    step = ""
    if len(t) > 1:
        d = np.unique(np.diff(t).astype("timedelta64[m]").astype(np.int64))
        step = ", every " + "/".join(f"{m // 60} h" if m % 60 == 0 else f"{m} min" for m in d)
    fh = inv.forecast_hours
    lines.append(f"  times: {len(t)} periods {str(t[0])[:16]} .. {str(t[-1])[:16]}{step}; "
                 f"forecast hours {fh.min()}..{fh.max()}")
    lines.append(f"  records: {inv.records_per_period} per period ({inv.nindex} index + "
                 f"{inv.records_per_period - inv.nindex} data), {inv.record_length} bytes each")
    # group consecutive levels with the same variables
    lev = 0
    while lev < inv.nz:
        end = lev
        while end + 1 < inv.nz and inv.level_names[end + 1] == inv.level_names[lev] and lev > 0:
            end += 1
        which = f"level {lev}" if end == lev else f"levels {lev}..{end}"
        lines.append(f"  {which}: {' '.join(inv.level_names[lev]) or '(no variables)'}")
        lev = end + 1
    if records:
        for p, r, recno, lv, name, lab in data_labels(inv, range(len(t))):
            state = ("missing" if is_missing(lab) else
                     f"nexp {lab.nexp:3d} prec {float(lab.prec):.4g} var1 {float(lab.var1):.7g}")
            lines.append(f"    record {recno:6d} {str(t[p])[:16]} fc {lab.forecast:3d} "
                         f"level {lv:2d} {name:4s} checksum "
                         f"{int(inv.checksums[p, r]):3d} {state}")
    return "\n".join(lines)


def is_missing(lab: Label) -> bool:
    """A blank pre-filled record (forecast -1) or a NULL record: no data."""
    return bool(missing_records(lab.forecast, lab.name))


def data_labels(inv: ArlInventory, periods: Iterable[int]
                 ) -> Iterator[tuple[int, int, int, int, str, Label]]:
    """The labels of the data records of some periods, read one by one (no data decoded):
    (period, data record, record number, level, variable, label)."""
    with open_arl(inv.path) as f:
        for p in periods:
            for r, (lv, name) in enumerate(inv.data_records):
                recno = inv.record_number(p, r)
                lab = parse_label(read_at(f, (recno - 1) * inv.record_length, LABEL_LEN),
                                   inv.path, recno)
                yield p, r, recno, lv, name, lab


def check_arl_values(path: PathLike, times: Any = None) -> None:
    """Check from the record labels alone that the data of some periods unpack to finite values.

    An ARL record stores its first value and a precision in its label; the others are
    finite differences from them, so a field is finite exactly when both label numbers are
    (and the packing exponent is in range). Only the 50-byte labels are read.

    Parameters
    ----------
    path : str or path-like
        ARL file, plain or gzip-compressed.
    times : array_like of datetime64, optional
        Valid times to check (default: every period of the file); times the file does not
        hold are ignored.

    Raises
    ------
    MetError
        Naming the file, record, time, level and variable of the first record whose first
        value or precision is not finite or whose exponent is out of range.
    """
    inv = arl_inventory(path)
    if times is None:
        periods: Iterable[int] = range(len(inv.times))
    else:
        want = np.asarray(times, dtype="datetime64[m]")
        periods = np.flatnonzero(np.isin(inv.times.astype("datetime64[m]"), want)).tolist()
    periods = list(periods)
    if not periods or not inv.data_records:
        return
    block, recnos = _label_block(inv, periods)
    fc, _, names, nexp, prec, var1 = parse_label_block(block, inv.path, recnos)
    bad = ~missing_records(fc, names) & ~(np.isfinite(var1) & np.isfinite(prec)
                                          & (np.abs(nexp) <= 127))
    if not bad.any():
        return
    k = int(np.argmax(bad))
    p, r = divmod(k, len(inv.data_records))
    lv, name = inv.data_records[r]
    raise MetError(f"{inv.path}: record {recnos[k]} ({name} at level {lv}, "
                   f"{time_text(inv.times[periods[p]])}) holds values that are not finite "
                   f"(first value {float(var1[k])}, precision {float(prec[k])}, "
                   f"exponent {int(nexp[k])}): the field cannot be used")


def _label_block(inv: ArlInventory, periods: Sequence[int]) -> tuple[np.ndarray, list[int]]:
    """The 50-byte labels of every data record of ``periods`` as an (n, 50) uint8 block, in
    file order, and their 1-based record numbers; a file cut short raises MetError."""
    recnos = inv.record_number(np.asarray(periods, dtype=np.int64)[:, None],
                               np.arange(len(inv.data_records))).ravel()
    offsets = (recnos - 1) * inv.record_length
    with open_arl(inv.path) as f:
        size = os.fstat(f.fileno()).st_size if isinstance(f, io.BufferedReader) else -1
        if 0 < size and offsets.max() + LABEL_LEN <= size:  # a plain file: the labels alone
            data = np.memmap(f, dtype=np.uint8, mode="r")
            block = data[offsets[:, None] + np.arange(LABEL_LEN)]
            del data
        else:  # compressed, or cut short: label by label, naming a short one
            block = np.zeros((len(recnos), LABEL_LEN), dtype=np.uint8)
            for k, recno in enumerate(recnos.tolist()):
                raw = read_at(f, (recno - 1) * inv.record_length, LABEL_LEN)
                if len(raw) != LABEL_LEN:
                    parse_label(raw, inv.path, recno)  # raises, naming the record
                block[k] = np.frombuffer(raw, dtype=np.uint8)
    return block, recnos.tolist()


def verify_arl(path: PathLike) -> int:
    """Check a whole ARL file as a run would read it: every period's record labels
    (:func:`check_arl_values`), then every record read whole and its checksum compared with
    the one stored in its index record.

    Parameters
    ----------
    path : str or path-like
        ARL file, plain or gzip-compressed.

    Returns
    -------
    int
        The number of data records checked.

    Raises
    ------
    MetError
        Naming the file, record, time, level and variable of the first record that is not
        finite, is labelled otherwise than its index says, or whose checksum differs.
    """
    from stilt.met.arl_read import read_arl_arrays

    check_arl_values(path)
    # a 1 x 1 window: every record is read whole for its checksum, almost nothing decoded
    read_arl_arrays(path, x=(1, 1), y=(1, 1), check_checksums=True)
    inv = arl_inventory(path)
    return len(inv.times) * len(inv.data_records)
