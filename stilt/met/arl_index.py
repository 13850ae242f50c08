"""ARL packed files: the index records of a file, read once into an :class:`ArlInventory`.

Only the index records (label and extended header of each time period) are read; the
inventory says where every data record is, which variables each level holds and the stored
checksums. It is cached per file (path, inode, times and size).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import functools
import gzip
import io
import os
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from stilt.errors import MetError, MetMissingError
from stilt.met.cache import file_key
from stilt.met.arl_format import (
    FIXED_HEADER_LEN,
    GRID_PARAMETERS,
    LABEL_LEN,
    VERTICAL_SYSTEMS,
    Label,
    PathLike,
    blank_int,
    fortran_float,
    is_16bit_source,
    label_time,
    parse_label,
    thousands,
    time_text,
)


def _open_error(path: Path, exc: OSError) -> MetError:
    """The error for an ARL file that cannot be opened: MET_MISSING when it is not there (a
    file found earlier and removed before it was read), MET otherwise."""
    cls = MetMissingError if isinstance(exc, FileNotFoundError) else MetError
    return cls(f"cannot open ARL file {path}: {exc.strerror or exc}")


def open_arl(path: Path) -> BinaryIO:
    """Open an ARL file, plain or gzip-compressed (decompressed as it is read)."""
    try:
        raw = open(path, "rb")  # noqa: SIM115 - closed by the caller
    except OSError as exc:
        raise _open_error(path, exc) from None
    magic = raw.read(2)
    raw.seek(0)
    if magic != b"\x1f\x8b":
        return raw
    raw.close()
    return gzip.open(path, "rb")  # type: ignore[return-value]


def _size(f: BinaryIO, path: Path) -> int:
    """Size of an open ARL file in bytes (uncompressed: a .gz is decompressed once)."""
    if not isinstance(f, gzip.GzipFile):
        return os.fstat(f.fileno()).st_size
    try:
        size = f.seek(0, io.SEEK_END)
        f.seek(0)
    except (OSError, EOFError) as exc:
        raise MetError(f"{path}: damaged gzip stream ({exc})") from None
    return size



def read_at(f: BinaryIO, offset: int, n: int) -> bytes:
    f.seek(offset)
    return f.read(n)




@dataclasses.dataclass(frozen=True)
class _Header:
    source: str
    forecast: int
    minutes: int
    params: tuple[float, ...]
    nx_mod: int
    ny_mod: int
    nz: int
    ksys: int
    lenh: int
    levels: tuple[tuple[float, tuple[str, ...]], ...]
    checksums: tuple[int, ...]   # data records in file order
    entries: tuple[int, ...]     # header position of each variable entry (name, checksum)


def _parse_fixed_header(text: str, path: Path, recno: int) -> tuple:
    try:
        source = text[0:4]
        fc = blank_int(text[4:7])
        mn = blank_int(text[7:9])
        params = tuple(fortran_float(text[9 + 7 * k:16 + 7 * k]) for k in range(12))
        nx, ny, nz = (blank_int(text[93:96]), blank_int(text[96:99]), blank_int(text[99:102]))
        ksys = blank_int(text[102:104])
        lenh = blank_int(text[104:108])
    except ValueError as exc:
        raise MetError(f"{path}: record {recno}: the index header {text[:108]!r} is not an ARL "
                       f"header ({exc})") from None
    if nz < 1 or lenh < FIXED_HEADER_LEN + 8 * nz:
        raise MetError(f"{path}: record {recno}: index header gives NZ={nz}, LENH={lenh}, "
                       "which cannot describe any level list")
    return source, fc, mn, params, nx, ny, nz, ksys, lenh


def _parse_header(text: str, path: Path, recno: int) -> _Header:
    source, fc, mn, params, nx, ny, nz, ksys, lenh = _parse_fixed_header(text, path, recno)
    if len(text) < lenh:
        raise MetError(f"{path}: record {recno}: index header is {len(text)} characters, "
                       f"its LENH says {lenh}")
    levels = []
    checksums: list[int] = []
    entries: list[int] = []
    pos = FIXED_HEADER_LEN
    try:
        for _ in range(nz):
            height = fortran_float(text[pos:pos + 6])
            nvar = blank_int(text[pos + 6:pos + 8])
            if nvar < 0 or pos + 8 + 8 * nvar > lenh:
                raise ValueError(f"{nvar} variables overrun the header length {lenh}")
            pos += 8
            names = []
            for _v in range(nvar):
                names.append(text[pos:pos + 4].strip())
                checksums.append(blank_int(text[pos + 4:pos + 7]))
                entries.append(pos)
                pos += 8
            levels.append((height, tuple(names)))
    except ValueError as exc:
        raise MetError(f"{path}: record {recno}: bad level list in the index header at "
                       f"character {pos} ({exc})") from None
    return _Header(source=source, forecast=fc, minutes=mn, params=params, nx_mod=nx,
                   ny_mod=ny, nz=nz, ksys=ksys, lenh=lenh, levels=tuple(levels),
                   checksums=tuple(checksums), entries=tuple(entries))




# ---- inventory -----------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class ArlInventory:
    """What an ARL file holds, read from its index records only (no data decoded).

    Attributes
    ----------
    path : pathlib.Path
        The file.
    size : int
        Size in bytes (uncompressed).
    source : str
        4-character data source id.
    nx, ny, nz : int
        Full grid size; ``nz`` counts the surface level.
    vertical_system : int
        KSYS (1 sigma, 2 pressure, 3 terrain, 4 hybrid, 5 WRF hybrid).
    grid_params : tuple of float
        The 12 projection parameters in file order (names in ``GRID_PARAMETERS``).
    level_values : tuple of float
        Stored height of every level, surface first.
    level_names : tuple of tuple of str
        Variables of every level in file order (DIF records included).
    nindex : int
        Index records per time period.
    record_length : int
        Bytes per record.
    times : numpy.ndarray
        Valid times (datetime64[ns]) of the time periods.
    forecast_hours : numpy.ndarray
        Forecast hour (int32) of each period from its index header.
    checksums : numpy.ndarray
        Stored checksums, int32 of shape (periods, data records); 0 = not recorded.
    """

    path: Path
    size: int
    source: str
    nx: int
    ny: int
    nz: int
    vertical_system: int
    grid_params: tuple[float, ...]
    level_values: tuple[float, ...]
    level_names: tuple[tuple[str, ...], ...]
    nindex: int
    record_length: int
    times: np.ndarray
    forecast_hours: np.ndarray
    checksums: np.ndarray

    @property
    def records_per_period(self) -> int:
        """Index records plus data records of one time period."""
        return self.nindex + sum(len(n) for n in self.level_names)

    @property
    def data_records(self) -> list[tuple[int, str]]:
        """(level, name) of each data record of a period, in file order."""
        return [(lev, name) for lev, names in enumerate(self.level_names) for name in names]

    def record_number(self, period: int | np.ndarray,
                      data_record: int | np.ndarray) -> int | np.ndarray:
        """1-based record number in the file of a data record (0-based period and index;
        integer arrays broadcast)."""
        return period * self.records_per_period + self.nindex + data_record + 1

    @property
    def grid_attrs(self) -> dict[str, Any]:
        """The 12 grid parameters and ``nx``, ``ny`` as Dataset attributes."""
        out: dict[str, Any] = dict(zip(GRID_PARAMETERS, map(float, self.grid_params), strict=True))
        out["nx"] = self.nx
        out["ny"] = self.ny
        return out


def _read_header_text(f: BinaryIO, offset: int, lrec: int, nndx: int, lenh: int) -> bytes:
    """Read the extended header of a period, joined over its index records."""
    per = lrec - LABEL_LEN
    parts = []
    for k in range(nndx):
        want = min(per, lenh - k * per)
        if want <= 0:
            break
        parts.append(read_at(f, offset + k * lrec + LABEL_LEN, want))
    return b"".join(parts)


def _scan(f: BinaryIO, size: int, path: Path) -> ArlInventory:
    """Read the index records of an open file into its inventory, checking their layout."""
    nx, ny, ksys, lenh = _geometry(f, size, path)
    lrec = LABEL_LEN + nx * ny
    nndx = lenh // (nx * ny) + 1
    lab0, text0 = _index_text(f, 0, 1, (lrec, nndx, lenh), path)
    hdr0 = _parse_header(text0, path, 1)
    if ksys not in VERTICAL_SYSTEMS:
        raise MetError(f"{path}: record 1: vertical system flag {ksys} is not one of "
                       f"{sorted(VERTICAL_SYSTEMS)}")
    nrec = nndx + sum(len(names) for _, names in hdr0.levels)
    period_bytes = nrec * lrec
    nper, rem = divmod(size, period_bytes)
    if rem or nper == 0:
        complete = size // lrec
        raise MetError(
            f"{path}: truncated ARL file: {size} bytes is not a whole number of time periods "
            f"({nrec} records x {lrec} bytes = {period_bytes} bytes each); record "
            f"{complete + 1} is incomplete ({size - complete * lrec} of {lrec} bytes)")
    times, fcst, sums = _period_headers(f, path, nper, (lab0, text0, hdr0),
                                        (lrec, nndx, lenh), nrec)
    if nper > 1 and not np.all(np.diff(times) > np.timedelta64(0)):
        bad = int(np.argmax(np.diff(times) <= np.timedelta64(0))) + 1
        raise MetError(f"{path}: time periods are not in increasing time order: period "
                       f"{bad + 1} ({time_text(times[bad])}) follows {time_text(times[bad - 1])}")
    return ArlInventory(
        path=path, size=size, source=hdr0.source.strip() or hdr0.source, nx=nx, ny=ny,
        nz=hdr0.nz, vertical_system=ksys, grid_params=hdr0.params,
        level_values=tuple(v for v, _ in hdr0.levels),
        level_names=tuple(n for _, n in hdr0.levels), nindex=nndx, record_length=lrec,
        times=times, forecast_hours=fcst, checksums=sums)


def _geometry(f: BinaryIO, size: int, path: Path) -> tuple[int, int, int, int]:
    """NX, NY, KSYS and LENH from the first index record, each checked."""
    head = read_at(f, 0, LABEL_LEN + FIXED_HEADER_LEN)
    if len(head) < LABEL_LEN + FIXED_HEADER_LEN:
        raise MetError(f"{path}: not an ARL file: only {size} bytes, shorter than one index "
                       "record label and header")
    label = parse_label(head[:LABEL_LEN], path, 1)
    if label.name != "INDX":
        raise MetError(f"{path}: not an ARL file: record 1 is {label.name!r}, expected an "
                       f"index record 'INDX' (label {head[:LABEL_LEN]!r})")
    try:
        fixed = head[LABEL_LEN:].decode("ascii")
    except UnicodeDecodeError:
        raise MetError(f"{path}: record 1: index header is not ASCII text") from None
    source, _, _, _, nx_mod, ny_mod, nz, ksys, lenh = _parse_fixed_header(fixed, path, 1)
    if is_16bit_source(source):
        raise MetError(f"{path}: source {source!r} marks a 16-bit ARL file (2 bytes per point), "
                       "which stilt does not read (docs/physics.md §2.1)")
    nx = nx_mod + thousands(label.grid[0])
    ny = ny_mod + thousands(label.grid[1])
    if nx < 1 or ny < 1 or nx * ny < FIXED_HEADER_LEN:
        raise MetError(f"{path}: record 1: grid {nx} x {ny} from the index header is not "
                       f"valid (need NX*NY >= {FIXED_HEADER_LEN})")
    return nx, ny, ksys, lenh


def _index_text(f: BinaryIO, period_offset: int, recno: int, layout: tuple[int, int, int],
                path: Path) -> tuple[Label, str]:
    """Label and extended header text of the index record(s) of a period.

    ``layout`` is (record length, index records per period, header length LENH).
    """
    lrec, nndx, lenh = layout
    raw = _read_header_text(f, period_offset, lrec, nndx, lenh)
    lab = parse_label(read_at(f, period_offset, LABEL_LEN), path, recno)
    if lab.name != "INDX":
        raise MetError(f"{path}: record {recno} should be the index record of a time period "
                       f"but is labelled {lab.name!r}")
    try:
        return lab, raw.decode("ascii")
    except UnicodeDecodeError:
        raise MetError(f"{path}: record {recno}: index header is not ASCII text") from None


def _period_headers(f: BinaryIO, path: Path, nper: int, first: tuple[Label, str, _Header],
                    layout: tuple[int, int, int], nrec: int
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Valid times, forecast hours and stored checksums of every period.

    ``first`` is the label, header text and parsed header of period 0; the others must hold
    the same variables, so their entries are read at the same places.
    """
    lab0, text0, hdr0 = first
    lrec, nndx, lenh = layout
    names0 = [text0[q:q + 4] for q in hdr0.entries]
    times = np.empty(nper, dtype="datetime64[ns]")
    fcst = np.empty(nper, dtype=np.int32)
    sums = np.empty((nper, nrec - nndx), dtype=np.int32)
    for p in range(nper):
        recno = p * nrec + 1
        if p == 0:
            lab, fc, mn, sums[p] = lab0, hdr0.forecast, hdr0.minutes, hdr0.checksums
        else:  # same layout as period 0: read the entries at the same places
            lab, text = _index_text(f, p * nrec * lrec, recno, layout, path)
            _, fc, mn, _, _, _, _, _, lenh_p = _parse_fixed_header(text, path, recno)
            if lenh_p != lenh or [text[q:q + 4] for q in hdr0.entries] != names0:
                raise MetError(f"{path}: record {recno}: the variable list of time period "
                               f"{p + 1} differs from the first period's (every period must "
                               "hold the same records)")
            try:
                sums[p] = [blank_int(text[q + 4:q + 7]) for q in hdr0.entries]
            except ValueError:
                raise MetError(f"{path}: record {recno}: a checksum in the index header is "
                               "not a number") from None
        t = label_time(lab.date, path, recno) + _dt.timedelta(minutes=mn)
        times[p] = np.datetime64(t, "ns")
        fcst[p] = fc
    return times, fcst, sums


def arl_inventory(path: PathLike) -> ArlInventory:
    """Read the index records of an ARL file (no data is decoded).

    Parameters
    ----------
    path : str or path-like
        ARL file, plain or gzip-compressed.

    Returns
    -------
    ArlInventory
        Grid, levels, variables, times and stored checksums.

    Raises
    ------
    MetError
        When the file cannot be opened, is not an ARL file, or is truncated.
    """
    p = Path(path)
    try:
        stamp = file_key(p)[1:]  # inode, times, size: the met cache's identity of the file
    except OSError as exc:
        raise _open_error(p, exc) from None
    return cached_inventory(str(p), stamp)


@functools.lru_cache(maxsize=128)
def cached_inventory(path: str, stamp: tuple[int, ...]) -> ArlInventory:
    """Scan a file once per (path, inode, times, size); the arrays are read-only."""
    p = Path(path)
    with open_arl(p) as f:
        inv = _scan(f, _size(f, p), p)
    for arr in (inv.times, inv.forecast_hours, inv.checksums):
        arr.setflags(write=False)
    return inv


def arl_times(path: PathLike) -> np.ndarray:
    """Return the valid times of the periods of an ARL file, without decoding any data.

    Parameters
    ----------
    path : str or path-like
        ARL file, plain or gzip-compressed.

    Returns
    -------
    numpy.ndarray
        datetime64[ns] valid times (label time plus index minutes), increasing.
    """
    return arl_inventory(path).times

