"""ARL packed meteorology files (the format HYSPLIT and STILT read): read, write, describe.

Layout, packing and naming: docs/physics.md §2.1-§2.4. Records are unpacked and packed by the
Fortran core (``fortran/stilt_arl.f90``) in single precision in HYSPLIT's order, so decoded
values are bit-identical to HYSPLIT's and a decoded record packs back to the same bytes.

:func:`read_arl` returns the met Dataset layout shared by the whole package (dims ``time``,
``level``, ``y``, ``x``; see ``docs/met.md``); :func:`write_arl` writes such a Dataset back.
Only the records and rows a window needs are read and decoded.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import functools
import gzip
import io
import os
import re
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np

from stilt.errors import MetError

if TYPE_CHECKING:  # pragma: no cover
    import xarray as xr

__all__ = ["ArlInventory", "arl_inventory", "arl_times", "describe_arl", "met_dataset", "read_arl",
           "write_arl"]

PathLike = str | os.PathLike[str]

LABEL_LEN = 50
#: Length of the fixed part of the index-record extended header.
FIXED_HEADER_LEN = 108

VERTICAL_SYSTEMS: dict[int, str] = {
    1: "sigma", 2: "pressure", 3: "terrain", 4: "hybrid", 5: "wrf_hybrid",
}

GRID_PARAMETERS: tuple[str, ...] = (
    "pole_lat", "pole_lon", "ref_lat", "ref_lon", "grid_size_km", "orient", "tang_lat",
    "sync_xp", "sync_yp", "sync_lat", "sync_lon", "reserved",
)

# bytes of raw records plus decoded floats handled by one call into the core
_BATCH_BYTES = 32 * 2**20


# ---- variable metadata (docs/physics.md §2.3) ----------------------------------------------

# name or 3-letter prefix -> (units, long_name, CF standard_name or "")
_VAR_META: dict[str, tuple[str, str, str]] = {
    "PRSS": ("hPa", "surface pressure", "surface_air_pressure"),
    "MSLP": ("hPa", "mean sea level pressure", "air_pressure_at_mean_sea_level"),
    "SHGT": ("m", "terrain height", "surface_altitude"),
    "TERR": ("m", "terrain height", "surface_altitude"),
    "T02M": ("K", "2 m temperature", "air_temperature"),
    "TMPS": ("K", "surface temperature", "surface_temperature"),
    "U10M": ("m s-1", "10 m wind, x component", ""),
    "V10M": ("m s-1", "10 m wind, y component", ""),
    "RH2M": ("%", "2 m relative humidity", "relative_humidity"),
    "PBL": ("m", "mixed layer depth", "atmosphere_boundary_layer_thickness"),
    "HPB": ("m", "mixed layer depth", "atmosphere_boundary_layer_thickness"),
    "MXH": ("m", "mixed layer depth", "atmosphere_boundary_layer_thickness"),
    "SHT": ("W m-2", "sensible heat flux, positive upward", "surface_upward_sensible_heat_flux"),
    "HFL": ("W m-2", "sensible heat flux, positive upward", "surface_upward_sensible_heat_flux"),
    "LHT": ("W m-2", "latent heat flux, positive upward", "surface_upward_latent_heat_flux"),
    "WFL": ("W m-2", "latent heat flux, positive upward", "surface_upward_latent_heat_flux"),
    "UST": ("m s-1", "friction velocity", ""),
    "UMO": ("N m-2", "momentum flux, x component", ""),
    "VMO": ("N m-2", "momentum flux, y component", ""),
    "EXC": ("kg m-2 s-1", "exchange coefficient", ""),
    "TST": ("K", "friction temperature", ""),
    "DSW": ("W m-2", "downward short-wave flux", "surface_downwelling_shortwave_flux_in_air"),
    "TPP": ("m", "accumulated total precipitation", "lwe_thickness_of_precipitation_amount"),
    "PRT": ("m", "accumulated total precipitation", "lwe_thickness_of_precipitation_amount"),
    "CPP": ("m", "accumulated convective precipitation",
            "lwe_thickness_of_convective_precipitation_amount"),
    "CPR": ("m", "accumulated convective precipitation",
            "lwe_thickness_of_convective_precipitation_amount"),
    "TCLD": ("%", "total cloud cover", "cloud_area_fraction"),
    "LCLD": ("%", "low cloud cover", "low_type_cloud_area_fraction"),
    "RGHS": ("m", "surface roughness length", "surface_roughness_length"),
    "CAPE": ("J kg-1", "convective available potential energy", ""),
    "UWND": ("m s-1", "wind, x component", ""),
    "VWND": ("m s-1", "wind, y component", ""),
    "WWND": ("hPa s-1", "pressure vertical velocity (negative upward)",
             "lagrangian_tendency_of_air_pressure"),
    "DZDT": ("m s-1", "vertical velocity (positive upward)", "upward_air_velocity"),
    "TEMP": ("K", "temperature", "air_temperature"),
    "THET": ("K", "potential temperature", "air_potential_temperature"),
    "SPHU": ("kg kg-1", "specific humidity", "specific_humidity"),
    "RELH": ("%", "relative humidity", "relative_humidity"),
    "HGTS": ("m", "geopotential height", "geopotential_height"),
    "PRES": ("hPa", "pressure", "air_pressure"),
    "TKEN": ("J kg-1", "turbulent kinetic energy", "specific_turbulent_kinetic_energy_of_air"),
    "TKEU": ("J kg-1", "turbulent kinetic energy", "specific_turbulent_kinetic_energy_of_air"),
    "UVAR": ("m2 s-2", "variance of the x wind component", ""),
    "VVAR": ("m2 s-2", "variance of the y wind component", ""),
    "WVAR": ("m2 s-2", "variance of the vertical velocity", ""),
}

# 3-letter prefixes that HYSPLIT's name dispatch accepts for any 4th letter (docs/physics.md §2.3)
_PREFIXES = ("PBL", "HPB", "MXH", "SHT", "HFL", "LHT", "WFL", "UST", "UMO", "VMO", "EXC",
             "TST", "DSW", "TPP", "PRT", "CPP", "CPR")


def variable_attrs(name: str, latlon_grid: bool) -> dict[str, str]:
    """CF-style attributes of an ARL variable (units per docs/physics.md §2.3).

    Parameters
    ----------
    name : str
        4-character ARL variable name (prefix families such as ``SHT*`` are recognised).
    latlon_grid : bool
        Whether winds are earth-relative (lat-lon grid) rather than grid-relative.

    Returns
    -------
    dict of str to str
        ``arl_name``, ``units``, ``long_name`` and, where one exists, ``standard_name``.
    """
    meta = _VAR_META.get(name)
    if meta is None and name[:3] in _PREFIXES:
        meta = _VAR_META[name[:3]]
    attrs = {"arl_name": name}
    if meta is None:
        attrs["long_name"] = f"ARL variable {name}"
        return attrs
    units, long_name, standard = meta
    if name in ("U10M", "UWND", "V10M", "VWND"):
        east = name[0] == "U"
        if latlon_grid:
            long_name = long_name.replace("x component", "eastward").replace(
                "y component", "northward")
            standard = "eastward_wind" if east else "northward_wind"
        else:
            long_name += " (grid-relative)"
            standard = "x_wind" if east else "y_wind"
    attrs.update(units=units, long_name=long_name)
    if standard:
        attrs["standard_name"] = standard
    return attrs


def _dif_parent_names(name: str, level: int) -> tuple[str, ...] | None:
    """Which parent names a DIF record corrects (docs/physics.md §2.1); None if not a DIF name."""
    if not name.startswith("DIF"):
        return None
    if level == 0:
        return ("TPP", "PRT")  # prefixes
    if name == "DIFW":
        return ("WWND", "DZDT")
    if name == "DIFT":
        return ("TKEN", "TKEU")
    return ()


# ---- Fortran-style field formatting and parsing --------------------------------------------

def _blank_int(text: str) -> int:
    """Fortran I-format read: blanks are zero."""
    t = text.strip()
    return int(t) if t else 0


_EXP_NO_E = re.compile(r"^([+-]?[0-9.]+)([+-][0-9]+)$")


def _fortran_float(text: str) -> float:
    """Fortran F/E-format read: blanks are zero, leading zero optional, 'D' exponents."""
    t = text.strip().replace("D", "E").replace("d", "E")
    if not t:
        return 0.0
    try:
        return float(t)
    except ValueError:
        m = _EXP_NO_E.match(t)  # 0.1234567+100: exponent without its letter
        if m is None:
            raise
        return float(f"{m.group(1)}E{m.group(2)}")


def _fmt_f(value: float, width: int, decimals: int) -> str:
    """Fortran Fw.d: drops the leading zero when the field would overflow; '.' kept for d=0."""
    text = f"{value:.{decimals}f}"
    if decimals == 0:
        text += "."
    if len(text) > width:
        if text.startswith("0."):
            text = text[1:]
        elif text.startswith("-0."):
            text = "-" + text[2:]
    if len(text) > width:
        raise MetError(f"value {value!r} does not fit a Fortran F{width}.{decimals} field")
    return text.rjust(width)


def _fmt_e(value: float, width: int, decimals: int) -> str:
    """Fortran Ew.d (``0.ddddE+ee``), leading zero dropped if the field would overflow."""
    v = float(value)
    if v == 0.0 or not np.isfinite(v):
        mant, exp = "0." + "0" * decimals, 0
        if not np.isfinite(v):
            raise MetError(f"cannot write the non-finite value {v} in an ARL label")
    else:
        digits, e10 = f"{abs(v):.{decimals - 1}E}".split("E")
        mant, exp = "0." + digits.replace(".", ""), int(e10) + 1
    text = f"{'-' if v < 0 else ''}{mant}E{'+' if exp >= 0 else '-'}{abs(exp):02d}"
    if len(text) > width:
        text = text.replace("0.", ".", 1)
    if len(text) > width:
        raise MetError(f"value {value!r} does not fit a Fortran E{width}.{decimals} field")
    return text.rjust(width)


def _fmt_f7(value: float) -> str:
    """Format a grid parameter with HYSPLIT's F7 field-width rules (docs/physics.md §2.1)."""
    v = float(value)
    for bound, d in ((1000, 2), (100, 3), (10, 4), (1, 5), (0, 6)):
        if v >= bound:
            return _fmt_f_fit(v, 7, d)
    for bound, d in ((-1, 5), (-10, 4), (-100, 3), (-1000, 2)):
        if v > bound:
            return _fmt_f_fit(v, 7, d)
    return _fmt_e(v, 7, 1)


def _fmt_f_fit(value: float, width: int, decimals: int) -> str:
    """Fw.d, one decimal fewer when rounding carries into a new digit (9.999995 in F7.5)."""
    try:
        return _fmt_f(value, width, decimals)
    except MetError:
        if decimals == 0:
            raise
        return _fmt_f(value, width, decimals - 1)


def _fmt_f6(value: float) -> str:
    """Format a level height with HYSPLIT's F6 field-width rules (docs/physics.md §2.1)."""
    v = float(value)
    for bound, d in ((10000, 0), (1000, 1), (100, 2), (10, 3), (1, 4)):
        if v >= bound:
            return _fmt_f_fit(v, 6, d)
    return _fmt_f_fit(v, 6, 5)


def _label_float32(text: str) -> np.float32:
    """Parse a label's E14.7 number to the float32 a reader gets (docs/physics.md §2.1)."""
    return np.float32(_fortran_float(text))


def _is_16bit_source(source: str) -> bool:
    """HYSPLIT reads files from these sources with 2 bytes per point (docs/physics.md §2.1)."""
    return source in ("RAMS", "DWRF") or source.startswith("ECX")


def _thousands(char: str) -> int:
    """Label grid character -> thousands of NX or NY ('@' and digits 0, 'A' 1000, ...)."""
    code = ord(char)
    return (code - 64) * 1000 if code > 64 else 0


def _thousands_char(n: int) -> str:
    return chr(64 + n // 1000)


# ---- file access ---------------------------------------------------------------------------

def _open(path: Path) -> BinaryIO:
    """Open an ARL file, plain or gzip-compressed (decompressed as it is read)."""
    try:
        raw = open(path, "rb")  # noqa: SIM115 - closed by the caller
    except OSError as exc:
        raise MetError(f"cannot open ARL file {path}: {exc.strerror or exc}") from None
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


def _tstr(t: np.datetime64) -> str:
    """Format a valid time for messages: 1995-10-16T02:00."""
    return str(np.datetime64(t, "m"))


def _read_at(f: BinaryIO, offset: int, n: int) -> bytes:
    f.seek(offset)
    return f.read(n)


# ---- labels and index records --------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class _Label:
    date: tuple[int, int, int, int]   # yy, mm, dd, hh as written
    forecast: int
    level: int
    grid: str
    name: str
    nexp: int
    prec: np.float32
    var1: np.float32


def _parse_label(raw: bytes, path: Path, recno: int) -> _Label:
    """Parse the 50-byte label of record ``recno`` (1-based), or raise a MetError saying why."""
    try:
        text = raw.decode("ascii")
        if len(text) != LABEL_LEN:
            raise ValueError(f"only {len(text)} bytes")
        return _Label(
            date=(_blank_int(text[0:2]), _blank_int(text[2:4]), _blank_int(text[4:6]),
                  _blank_int(text[6:8])),
            forecast=_blank_int(text[8:10]), level=_blank_int(text[10:12]), grid=text[12:14],
            name=text[14:18].strip(), nexp=_blank_int(text[18:22]),
            prec=_label_float32(text[22:36]), var1=_label_float32(text[36:50]))
    except (UnicodeDecodeError, ValueError) as exc:
        raise MetError(f"{path}: record {recno} has a bad label {raw[:LABEL_LEN]!r} "
                       f"(expected the 50-character ARL label (7I2,A4,I4,2E14.7): {exc})") from None


def _label_time(date: tuple[int, int, int, int], path: Path, recno: int) -> _dt.datetime:
    yy, mm, dd, hh = date
    year = 2000 + yy if yy < 40 else 1900 + yy
    try:
        return _dt.datetime(year, mm, dd, hh)
    except ValueError as exc:
        raise MetError(f"{path}: record {recno}: label date {date} is not a valid time "
                       f"({exc})") from None


def _parse_label_block(block: np.ndarray, path: Path, recnos: Sequence[int]
                       ) -> tuple[np.ndarray, ...]:
    """Parse many labels at once: (forecast, level, name, nexp, prec, var1) arrays.

    ``block`` is (n, 50) uint8; ``recnos`` the 1-based record numbers (for messages).
    """
    def col(a: int, b: int) -> np.ndarray:
        return np.ascontiguousarray(block[:, a:b]).view(f"S{b - a}").ravel()

    try:
        if np.any(block > 126) or np.any(block < 32):
            raise ValueError("not printable ASCII")
        fc = col(8, 10).astype(np.int32)
        level = col(10, 12).astype(np.int32)
        nexp = col(18, 22).astype(np.int32)
        prec = col(22, 36).astype(np.float64).astype(np.float32)
        var1 = col(36, 50).astype(np.float64).astype(np.float32)
        names = np.char.strip(col(14, 18).astype("U4"))
    except ValueError:  # blank or odd fields: label by label, naming a bad one
        labs = [_parse_label(block[k].tobytes(), path, recnos[k]) for k in range(len(block))]
        fc = np.array([lab.forecast for lab in labs], np.int32)
        level = np.array([lab.level for lab in labs], np.int32)
        nexp = np.array([lab.nexp for lab in labs], np.int32)
        prec = np.array([lab.prec for lab in labs], np.float32)
        var1 = np.array([lab.var1 for lab in labs], np.float32)
        names = np.array([lab.name for lab in labs], dtype="U4")
    return fc, level, names, nexp, prec, var1


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
        fc = _blank_int(text[4:7])
        mn = _blank_int(text[7:9])
        params = tuple(_fortran_float(text[9 + 7 * k:16 + 7 * k]) for k in range(12))
        nx, ny, nz = (_blank_int(text[93:96]), _blank_int(text[96:99]), _blank_int(text[99:102]))
        ksys = _blank_int(text[102:104])
        lenh = _blank_int(text[104:108])
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
            height = _fortran_float(text[pos:pos + 6])
            nvar = _blank_int(text[pos + 6:pos + 8])
            if nvar < 0 or pos + 8 + 8 * nvar > lenh:
                raise ValueError(f"{nvar} variables overrun the header length {lenh}")
            pos += 8
            names = []
            for _v in range(nvar):
                names.append(text[pos:pos + 4].strip())
                checksums.append(_blank_int(text[pos + 4:pos + 7]))
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

    def record_number(self, period: int, data_record: int) -> int:
        """1-based record number in the file of a data record (0-based period and index)."""
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
        parts.append(_read_at(f, offset + k * lrec + LABEL_LEN, want))
    return b"".join(parts)


def _scan(f: BinaryIO, size: int, path: Path) -> ArlInventory:
    head = _read_at(f, 0, LABEL_LEN + FIXED_HEADER_LEN)
    if len(head) < LABEL_LEN + FIXED_HEADER_LEN:
        raise MetError(f"{path}: not an ARL file: only {size} bytes, shorter than one index "
                       "record label and header")
    label = _parse_label(head[:LABEL_LEN], path, 1)
    if label.name != "INDX":
        raise MetError(f"{path}: not an ARL file: record 1 is {label.name!r}, expected an "
                       f"index record 'INDX' (label {head[:LABEL_LEN]!r})")
    try:
        fixed = head[LABEL_LEN:].decode("ascii")
    except UnicodeDecodeError:
        raise MetError(f"{path}: record 1: index header is not ASCII text") from None
    source, _, _, _, nx_mod, ny_mod, nz, ksys, lenh = _parse_fixed_header(fixed, path, 1)
    if _is_16bit_source(source):
        raise MetError(f"{path}: source {source!r} marks a 16-bit ARL file (2 bytes per point), "
                       "which stilt does not read (docs/physics.md §2.1)")
    nx = nx_mod + _thousands(label.grid[0])
    ny = ny_mod + _thousands(label.grid[1])
    if nx < 1 or ny < 1 or nx * ny < FIXED_HEADER_LEN:
        raise MetError(f"{path}: record 1: grid {nx} x {ny} from the index header is not "
                       f"valid (need NX*NY >= {FIXED_HEADER_LEN})")
    lrec = LABEL_LEN + nx * ny
    nndx = lenh // (nx * ny) + 1

    def header_text(period_offset: int, recno: int) -> tuple[_Label, str]:
        raw = _read_header_text(f, period_offset, lrec, nndx, lenh)
        lab = _parse_label(_read_at(f, period_offset, LABEL_LEN), path, recno)
        if lab.name != "INDX":
            raise MetError(f"{path}: record {recno} should be the index record of a time period "
                           f"but is labelled {lab.name!r}")
        try:
            return lab, raw.decode("ascii")
        except UnicodeDecodeError:
            raise MetError(f"{path}: record {recno}: index header is not ASCII text") from None

    lab0, text0 = header_text(0, 1)
    hdr0 = _parse_header(text0, path, 1)
    names0 = [text0[q:q + 4] for q in hdr0.entries]
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

    times = np.empty(nper, dtype="datetime64[ns]")
    fcst = np.empty(nper, dtype=np.int32)
    sums = np.empty((nper, nrec - nndx), dtype=np.int32)
    for p in range(nper):
        recno = p * nrec + 1
        if p == 0:
            lab, fc, mn, sums[p] = lab0, hdr0.forecast, hdr0.minutes, hdr0.checksums
        else:  # same layout as period 0: read the entries at the same places
            lab, text = header_text(p * period_bytes, recno)
            _, fc, mn, _, _, _, _, _, lenh_p = _parse_fixed_header(text, path, recno)
            if lenh_p != lenh or [text[q:q + 4] for q in hdr0.entries] != names0:
                raise MetError(f"{path}: record {recno}: the variable list of time period "
                               f"{p + 1} differs from the first period's (every period must "
                               "hold the same records)")
            try:
                sums[p] = [_blank_int(text[q + 4:q + 7]) for q in hdr0.entries]
            except ValueError:
                raise MetError(f"{path}: record {recno}: a checksum in the index header is "
                               "not a number") from None
        t = _label_time(lab.date, path, recno) + _dt.timedelta(minutes=mn)
        times[p] = np.datetime64(t, "ns")
        fcst[p] = fc
    if nper > 1 and not np.all(np.diff(times) > np.timedelta64(0)):
        bad = int(np.argmax(np.diff(times) <= np.timedelta64(0))) + 1
        raise MetError(f"{path}: time periods are not in increasing time order: period "
                       f"{bad + 1} ({_tstr(times[bad])}) follows {_tstr(times[bad - 1])}")
    return ArlInventory(
        path=path, size=size, source=hdr0.source.strip() or hdr0.source, nx=nx, ny=ny,
        nz=hdr0.nz, vertical_system=ksys, grid_params=hdr0.params,
        level_values=tuple(v for v, _ in hdr0.levels),
        level_names=tuple(n for _, n in hdr0.levels), nindex=nndx, record_length=lrec,
        times=times, forecast_hours=fcst, checksums=sums)


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
        st = os.stat(p)
    except OSError as exc:
        raise MetError(f"cannot open ARL file {p}: {exc.strerror or exc}") from None
    return _cached_inventory(str(p), (st.st_ino, st.st_mtime_ns, st.st_ctime_ns, st.st_size))


@functools.lru_cache(maxsize=128)
def _cached_inventory(path: str, stamp: tuple[int, ...]) -> ArlInventory:
    """Scan a file once per (path, inode, times, size); the arrays are read-only."""
    p = Path(path)
    with _open(p) as f:
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
        raise MetError(f"{name} window {sel!r} gives {lo}..{hi}, outside the file's 1..{n} "
                       "(1-based, inclusive)")
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


def _as_datetime64(value: Any) -> np.datetime64:
    if isinstance(value, _dt.datetime) and value.tzinfo is not None:
        value = value.astimezone(_dt.timezone.utc).replace(tzinfo=None)
    try:
        out = np.datetime64(value, "ns")
    except (TypeError, ValueError):
        raise MetError(f"time bound {value!r} is not a date/time") from None
    if np.isnat(out):
        raise MetError(f"time bound {value!r} is not a date/time")
    return out


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
    return (None if lo is None else _as_datetime64(lo),
            None if hi is None else _as_datetime64(hi))


@dataclasses.dataclass
class _Plan:
    """Which data records of each period are decoded, and where their values go."""

    records: list[int]                  # data-record indices (file order)
    target: dict[int, tuple[str, int]]  # record -> (output variable, level slot or -1)
    dif_parent: dict[int, int]          # DIF record -> parent record


def _variable_names(inv: ArlInventory) -> tuple[dict[str, str], dict[str, str]]:
    """Output names of surface and upper variables: ARL name -> Dataset name."""
    surface = {n: n for n in inv.level_names[0] if _dif_parent_names(n, 0) is None}
    upper: dict[str, str] = {}
    for lev, names in enumerate(inv.level_names[1:], start=1):
        for n in names:
            if _dif_parent_names(n, lev) is None and n not in upper:
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
            parents = _dif_parent_names(name, lev)
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
    lrec = inv.record_length
    names = inv.data_records
    per_period = inv.records_per_period
    # without checksums only the bytes up to the window's last point are needed
    need = lrec if check else LABEL_LEN + (j1 - 1) * inv.nx + i1
    max_recs = max(1, _BATCH_BYTES // (need + 4 * (i1 - i0 + 1) * (j1 - j0 + 1)))
    # (time slot, period, data record) in file order, in batches of contiguous reads
    jobs = [(t0 + k, int(p), r) for k, p in enumerate(periods) for r in plan.records]
    for b0 in range(0, len(jobs), max_recs):
        batch = jobs[b0:b0 + max_recs]
        buf = np.empty((len(batch), need), dtype=np.uint8)
        recnos = [p * per_period + inv.nindex + r for _, p, r in batch]  # 0-based
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
        fc, level, name_col, nexp, prec, var1 = _parse_label_block(
            buf[:, :LABEL_LEN], inv.path, [k + 1 for k in recnos])
        missing = (fc < 0) | (name_col == "NULL")
        want_name = np.array([names[r][1] for _, _, r in batch])
        want_lev = np.array([names[r][0] for _, _, r in batch])
        wrong = ~missing & ((name_col != want_name) | (level != want_lev))
        if wrong.any():
            k = int(np.argmax(wrong))
            raise MetError(
                f"{inv.path}: record {recnos[k] + 1} is labelled {str(name_col[k])!r} level "
                f"{int(level[k])}, but the index of time {_tstr(inv.times[batch[k][1]])} lists "
                f"{str(want_name[k])!r} level {int(want_lev[k])} there (label "
                f"{buf[k, :LABEL_LEN].tobytes()!r})")
        present = np.flatnonzero(~missing)
        nexp, prec, var1 = nexp[present], prec[present], var1[present]
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
            lev, name = names[r]
            stored = int(inv.checksums[p, r])
            if check and stored != 0 and int(sums[m]) != stored:
                raise MetError(
                    f"{inv.path}: checksum mismatch in record {recnos[k] + 1} (time "
                    f"{_tstr(inv.times[p])}, level {lev}, variable {name}): computed "
                    f"{int(sums[m])}, index record says {stored}")
            field = values[:, :, m].T
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
    import xarray as xr

    from stilt.met.projection import ArlGrid

    paths = [Path(path)] if isinstance(path, (str, os.PathLike)) else [Path(p) for p in path]
    if not paths:
        raise MetError("read_arl needs at least one file")
    handles = []
    try:
        invs = []
        for p in paths:
            invs.append(arl_inventory(p))
            handles.append(_open(p))
        inv0 = invs[0]
        for other in invs[1:]:
            _same_grid(inv0, other)
        i0, i1 = _index_range(x, inv0.nx, "x")
        j0, j1 = _index_range(y, inv0.ny, "y")
        lev_sel = _level_selection(levels, inv0.nz - 1)
        surface, upper = _variable_names(inv0)
        wanted = None
        if variables is not None:
            wanted = {str(v).strip() for v in ([variables] if isinstance(variables, str)
                                               else variables)}
            known = set(surface) | set(upper) | set(surface.values()) | set(upper.values())
            unknown = sorted(wanted - known)
            if unknown:
                raise MetError(f"{inv0.path}: variables {unknown} are not in the file (it has "
                               f"surface {sorted(surface)}, upper {sorted(upper)})")
        plan = _make_plan(inv0, lev_sel, wanted)

        # periods to read from each file, in time order, first file wins on duplicates
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
            span = ", ".join(f"{inv.path}: {_tstr(inv.times[0])}..{_tstr(inv.times[-1])}"
                             for inv in invs)
            raise MetError(f"no time period in the window {time!r} ({span})")
        nt = len(chosen)
        wx, wy = i1 - i0 + 1, j1 - j0 + 1
        out_vars = [(v, -1) for v in surface.values()
                    if wanted is None or v in wanted or _arl_of(v, surface) in wanted]
        out_vars += [(v, 0) for v in upper.values()
                     if wanted is None or v in wanted or _arl_of(v, upper) in wanted]
        out: dict[str, np.ndarray] = {}
        for v, kind in out_vars:
            shape = (nt, wy, wx) if kind < 0 else (nt, len(lev_sel), wy, wx)
            out[v] = np.full(shape, np.nan, dtype=np.float32)

        slot = 0
        while slot < nt:  # consecutive slots from one file in one call
            fi = chosen[slot][1]
            end = slot
            while end < nt and chosen[end][1] == fi:
                end += 1
            periods = np.array([c[2] for c in chosen[slot:end]])
            _decode_file(invs[fi], handles[fi], periods, plan, (i0, i1, j0, j1), out, slot,
                         check_checksums)
            slot = end
    finally:
        for f in handles:
            f.close()

    grid = ArlGrid.from_attrs(inv0.grid_attrs)
    xs = np.arange(i0, i1 + 1, dtype=np.int32)
    ys = np.arange(j0, j1 + 1, dtype=np.int32)
    lat, lon = grid.latlon_mesh(xs, ys)
    latlon_grid = grid.kind == "latlon"
    data_vars = {}
    arl_of = {v: k for k, v in surface.items()} | {v: k for k, v in upper.items()}
    for v, kind in out_vars:
        dims = ("time", "y", "x") if kind < 0 else ("time", "level", "y", "x")
        data_vars[v] = xr.Variable(dims, out[v],
                                   attrs=variable_attrs(arl_of.get(v, v), latlon_grid))
    ksys = inv0.vertical_system
    level_units = {1: "1", 2: "hPa", 3: "m", 4: "1", 5: "1"}[ksys]
    coords = {
        "time": ("time", np.array([c[0] for c in chosen], dtype="datetime64[ns]"),
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
        "arl_files": [str(p) for p in paths],
    }
    return xr.Dataset(data_vars, coords=coords, attrs=attrs)


# ---- writing -------------------------------------------------------------------------------

def _label_text(t: _dt.datetime, forecast: int, level: int, grid: str, name: str, nexp: int,
                prec: float, var1: float) -> str:
    text = (f"{t.year % 100:2d}{t.month:2d}{t.day:2d}{t.hour:2d}{forecast:2d}{level:2d}{grid}"
            f"{name:<4s}{nexp:4d}{_fmt_e(prec, 14, 7)}{_fmt_e(var1, 14, 7)}")
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
    from stilt import _core
    from stilt.met.projection import ArlGrid

    out_path = Path(path)
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
    if _is_16bit_source(f"{source:<4s}"):
        raise MetError(f"cannot write {out_path}: source id {source!r} would make HYSPLIT read "
                       "the file as 16-bit ARL; choose another id")
    surface_value = float(ds.attrs.get("surface_level_value",
                                       1.0 if ksys in (1, 4, 5) else 0.0))
    if "time" not in ds.coords or ds.sizes.get("time", 0) == 0:
        raise MetError(f"cannot write {out_path}: the Dataset has no time coordinate")
    times = np.asarray(ds["time"].values).astype("datetime64[ns]")
    if len(times) > 1 and not np.all(np.diff(times) > np.timedelta64(0)):
        raise MetError(f"cannot write {out_path}: times are not strictly increasing")
    fcst = (np.asarray(ds["forecast_hour"].values, dtype=np.int64)
            if "forecast_hour" in ds.coords else np.zeros(len(times), dtype=np.int64))
    nlev = ds.sizes.get("level", 0)
    level_values = (np.asarray(ds["level_value"].values, dtype=np.float64)
                    if nlev and "level_value" in ds.coords else None)

    # variables per level, in Dataset order
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
    if up and level_values is None:
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

    heights = [surface_value] + ([float(v) for v in level_values] if nlev else [])
    lenh = FIXED_HEADER_LEN + sum(8 + 8 * len(v) for v in level_vars)
    if lenh > 9999:
        raise MetError(f"cannot write {out_path}: the index header would be {lenh} characters, "
                       "more than the 9999 its I4 length field allows")
    npts = nx * ny
    nndx = lenh // npts + 1
    gridc = "99" if nx < 1000 and ny < 1000 else _thousands_char(nx) + _thousands_char(ny)
    params = "".join(_fmt_f7(getattr(grid, k)) for k in GRID_PARAMETERS)
    levels_text = [_fmt_f6(h) for h in heights]

    out_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out_path.name}.", suffix=".tmp",
                                    dir=out_path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            for it, t64 in enumerate(times):
                t = _dt.datetime.fromisoformat(str(t64.astype("datetime64[s]")))
                hour = t.replace(minute=0, second=0)
                minutes = int((t - hour).total_seconds() // 60)
                if t.second or (t - hour).total_seconds() % 60:
                    raise MetError(f"cannot write {out_path}: time {t64} is not a whole minute")
                if not 1940 <= t.year <= 2039:
                    raise MetError(f"cannot write {out_path}: year {t.year} outside 1940..2039 "
                                   "(2-digit label years)")
                fc = int(fcst[it])
                if not 0 <= fc <= 99:
                    raise MetError(f"cannot write {out_path}: forecast hour {fc} at {t64} "
                                   "does not fit the I2 label field (0..99)")
                fields: list[np.ndarray] = []
                meta: list[tuple[int, str]] = []
                for lev, vars_ in enumerate(level_vars):
                    for name, var in vars_:
                        field = arrays[var][it] if lev == 0 else arrays[var][it, lev - 1]
                        problem = _field_problem(field)
                        if problem:
                            where = "surface" if lev == 0 else f"level {lev}"
                            raise MetError(f"cannot write {out_path}: variable {var} at time "
                                           f"{_tstr(t64)}, {where} has {problem} (ARL cannot store "
                                           "them; a field entirely NaN is a missing record)")
                        fields.append(field)
                        meta.append((lev, name))
                present = [k for k, fld in enumerate(fields) if not np.isnan(fld[0, 0])]
                packed = nexp = prec = var1 = sums = None
                if present:
                    stack = np.stack([fields[k] for k in present])  # (n, ny, nx)
                    packed, nexp, prec, var1, sums, status = _core.arl_pack_records(stack.T)
                    if np.any(status != 0):  # pragma: no cover - checked above
                        raise MetError(f"cannot write {out_path}: the core refused a field")
                slot = {k: m for m, k in enumerate(present)}
                checks = [int(sums[slot[k]]) if k in slot else 0 for k in range(len(fields))]
                # index record(s)
                header = [f"{source:<4s}{min(fc, 999):3d}{minutes:2d}{params}"
                          f"{nx % 1000:3d}{ny % 1000:3d}{nlev + 1:3d}{ksys:2d}{lenh:4d}"]
                k = 0
                for lev, vars_ in enumerate(level_vars):
                    header.append(f"{levels_text[lev]}{len(vars_):2d}")
                    for name, _ in vars_:
                        header.append(f"{name:<4s}{checks[k]:3d} ")
                        k += 1
                htext = "".join(header)
                if len(htext) != lenh:  # pragma: no cover - formats are fixed width
                    raise MetError(f"internal error: header length {len(htext)} != {lenh}")
                htext = htext.ljust(nndx * npts)
                ilabel = _label_text(hour, fc, 0, gridc, "INDX", 0, 0.0, 0.0).encode("ascii")
                for n in range(nndx):
                    out.write(ilabel)
                    out.write(htext[n * npts:(n + 1) * npts].encode("ascii"))
                # data records
                for k, (lev, name) in enumerate(meta):
                    if k in slot:
                        m = slot[k]
                        label = _label_text(hour, fc, lev, gridc, name, int(nexp[m]),
                                            float(prec[m]), float(var1[m]))
                        out.write(label.encode("ascii"))
                        out.write(packed[:, m].tobytes())
                    else:  # missing record: forecast -1, neutral bytes
                        label = _label_text(hour, -1, lev, gridc, name, 0, 0.0, 0.0)
                        out.write(label.encode("ascii"))
                        out.write(b"\x7f" * npts)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp_name, out_path)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except OSError:
            pass
        raise
    return out_path


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
        for p, r, recno, lv, name, lab in _data_labels(inv, range(len(t))):
            state = ("missing" if _is_missing(lab) else
                     f"nexp {lab.nexp:3d} prec {float(lab.prec):.4g} var1 {float(lab.var1):.7g}")
            lines.append(f"    record {recno:6d} {str(t[p])[:16]} fc {lab.forecast:3d} "
                         f"level {lv:2d} {name:4s} checksum "
                         f"{int(inv.checksums[p, r]):3d} {state}")
    return "\n".join(lines)


def _is_missing(lab: _Label) -> bool:
    """A blank pre-filled record (forecast -1) or a NULL record: no data."""
    return lab.forecast < 0 or lab.name == "NULL"


def _data_labels(inv: ArlInventory, periods: Iterable[int]
                 ) -> Iterator[tuple[int, int, int, int, str, _Label]]:
    """The labels of the data records of some periods, read one by one (no data decoded):
    (period, data record, record number, level, variable, label)."""
    with _open(inv.path) as f:
        for p in periods:
            for r, (lv, name) in enumerate(inv.data_records):
                recno = inv.record_number(p, r)
                lab = _parse_label(_read_at(f, (recno - 1) * inv.record_length, LABEL_LEN),
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
    for p, _, recno, lv, name, lab in _data_labels(inv, periods):
        if _is_missing(lab):
            continue
        if not (np.isfinite(lab.var1) and np.isfinite(lab.prec)) or abs(lab.nexp) > 127:
            raise MetError(f"{inv.path}: record {recno} ({name} at level {lv}, "
                           f"{_tstr(inv.times[p])}) holds values that are not finite "
                           f"(first value {float(lab.var1)}, precision {float(lab.prec)}, "
                           f"exponent {lab.nexp}): the field cannot be used")


# ---- building a met Dataset ----------------------------------------------------------------

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

    if isinstance(vertical_system, str):
        by_name = {v: k for k, v in VERTICAL_SYSTEMS.items()}
        if vertical_system not in by_name:
            raise MetError(f"vertical_system {vertical_system!r} is not one of "
                           f"{sorted(by_name)}")
        ksys = by_name[vertical_system]
    else:
        ksys = int(vertical_system)
        if ksys not in VERTICAL_SYSTEMS:
            raise MetError(f"vertical_system {ksys} is not one of {sorted(VERTICAL_SYSTEMS)}")
    tarr = np.atleast_1d(np.asarray(times))
    if np.issubdtype(tarr.dtype, np.datetime64):
        t = tarr.astype("datetime64[ns]")
    else:
        t = np.array([_as_datetime64(v) for v in tarr.astype(object)], dtype="datetime64[ns]")
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
