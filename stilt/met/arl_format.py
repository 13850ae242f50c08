"""ARL packed files: the byte layout shared by reading and writing.

Record labels, index-header fields written in Fortran formats, the vertical systems, the grid
parameter names and the units of the variables (docs/physics.md §2.1-§2.4). No file access here:
:mod:`stilt.met.arl_index` reads index records, :mod:`stilt.met.arl_read` and
:mod:`stilt.met.arl_write` the data records.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from stilt.errors import MetError

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


def dif_parent_names(name: str, level: int) -> tuple[str, ...] | None:
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

def blank_int(text: str) -> int:
    """Fortran I-format read: blanks are zero."""
    t = text.strip()
    return int(t) if t else 0


_EXP_NO_E = re.compile(r"^([+-]?[0-9.]+)([+-][0-9]+)$")


def fortran_float(text: str) -> float:
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


def fmt_e(value: float, width: int, decimals: int) -> str:
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


def fmt_f7(value: float) -> str:
    """Format a grid parameter with HYSPLIT's F7 field-width rules (docs/physics.md §2.1)."""
    v = float(value)
    for bound, d in ((1000, 2), (100, 3), (10, 4), (1, 5), (0, 6)):
        if v >= bound:
            return _fmt_f_fit(v, 7, d)
    for bound, d in ((-1, 5), (-10, 4), (-100, 3), (-1000, 2)):
        if v > bound:
            return _fmt_f_fit(v, 7, d)
    return fmt_e(v, 7, 1)


def _fmt_f_fit(value: float, width: int, decimals: int) -> str:
    """Fw.d, one decimal fewer when rounding carries into a new digit (9.999995 in F7.5)."""
    try:
        return _fmt_f(value, width, decimals)
    except MetError:
        if decimals == 0:
            raise
        return _fmt_f(value, width, decimals - 1)


def fmt_f6(value: float) -> str:
    """Format a level height with HYSPLIT's F6 field-width rules (docs/physics.md §2.1)."""
    v = float(value)
    for bound, d in ((10000, 0), (1000, 1), (100, 2), (10, 3), (1, 4)):
        if v >= bound:
            return _fmt_f_fit(v, 6, d)
    return _fmt_f_fit(v, 6, 5)


def _label_float32(text: str) -> np.float32:
    """Parse a label's E14.7 number to the float32 a reader gets (docs/physics.md §2.1)."""
    return np.float32(fortran_float(text))


def is_16bit_source(source: str) -> bool:
    """HYSPLIT reads files from these sources with 2 bytes per point (docs/physics.md §2.1)."""
    return source in ("RAMS", "DWRF") or source.startswith("ECX")


def thousands(char: str) -> int:
    """Label grid character -> thousands of NX or NY ('@' and digits 0, 'A' 1000, ...)."""
    code = ord(char)
    return (code - 64) * 1000 if code > 64 else 0


def thousands_char(n: int) -> str:
    return chr(64 + n // 1000)



def time_text(t: np.datetime64) -> str:
    """Format a valid time for messages: 1995-10-16T02:00."""
    return str(np.datetime64(t, "m"))


def as_datetime64(value: Any) -> np.datetime64:
    if isinstance(value, _dt.datetime) and value.tzinfo is not None:
        value = value.astimezone(_dt.timezone.utc).replace(tzinfo=None)
    try:
        out = np.datetime64(value, "ns")
    except (TypeError, ValueError):
        raise MetError(f"time bound {value!r} is not a date/time") from None
    if np.isnat(out):
        raise MetError(f"time bound {value!r} is not a date/time")
    return out


# ---- labels and index records --------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Label:
    date: tuple[int, int, int, int]   # yy, mm, dd, hh as written
    forecast: int
    level: int
    grid: str
    name: str
    nexp: int
    prec: np.float32
    var1: np.float32


def parse_label(raw: bytes, path: Path, recno: int) -> Label:
    """Parse the 50-byte label of record ``recno`` (1-based), or raise a MetError saying why."""
    try:
        text = raw.decode("ascii")
        if len(text) != LABEL_LEN:
            raise ValueError(f"only {len(text)} bytes")
        return Label(
            date=(blank_int(text[0:2]), blank_int(text[2:4]), blank_int(text[4:6]),
                  blank_int(text[6:8])),
            forecast=blank_int(text[8:10]), level=blank_int(text[10:12]), grid=text[12:14],
            name=text[14:18].strip(), nexp=blank_int(text[18:22]),
            prec=_label_float32(text[22:36]), var1=_label_float32(text[36:50]))
    except (UnicodeDecodeError, ValueError) as exc:
        raise MetError(f"{path}: record {recno} has a bad label {raw[:LABEL_LEN]!r} "
                       f"(expected the 50-character ARL label (7I2,A4,I4,2E14.7): {exc})") from None


def label_time(date: tuple[int, int, int, int], path: Path, recno: int) -> _dt.datetime:
    yy, mm, dd, hh = date
    year = 2000 + yy if yy < 40 else 1900 + yy
    try:
        return _dt.datetime(year, mm, dd, hh)
    except ValueError as exc:
        raise MetError(f"{path}: record {recno}: label date {date} is not a valid time "
                       f"({exc})") from None


def missing_records(forecast: Any, name: Any) -> Any:
    """Which labels mark a record without data: a blank pre-filled record (forecast -1) or a
    NULL record. Element-wise on arrays (as :func:`parse_label_block` returns them) or on
    one label's values."""
    return (np.asarray(forecast) < 0) | (np.asarray(name) == "NULL")


def parse_label_block(block: np.ndarray, path: Path, recnos: Sequence[int]
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
        labs = [parse_label(block[k].tobytes(), path, recnos[k]) for k in range(len(block))]
        fc = np.array([lab.forecast for lab in labs], np.int32)
        level = np.array([lab.level for lab in labs], np.int32)
        nexp = np.array([lab.nexp for lab in labs], np.int32)
        prec = np.array([lab.prec for lab in labs], np.float32)
        var1 = np.array([lab.var1 for lab in labs], np.float32)
        names = np.array([lab.name for lab in labs], dtype="U4")
    return fc, level, names, nexp, prec, var1

