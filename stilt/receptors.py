"""Receptors: where and when particles are released.

Three kinds mirror PYSTILT: :class:`PointReceptor` (one height), :class:`ColumnReceptor` (a
vertical line between two heights, particles spread linearly) and :class:`MultiPointReceptor`
(several points released together, e.g. a slant column). Each exposes ``time``, ``latitude``,
``longitude``, ``altitude`` and ``altitude_ref`` so that :func:`stilt.run_trajectories` and
:func:`stilt.calc_footprint` accept it through :meth:`transport_input`.

:func:`read_receptors` reads a ``receptors.csv`` table (columns time, longitude, latitude,
altitude with the aliases lon/long, lat/lati, zagl/zmsl; optional altitude_ref and r_idx), and
:func:`write_receptors` writes one that reads back to the same receptors.
"""

from __future__ import annotations

import csv
import datetime as dt
import difflib
import hashlib
import io
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

from stilt._checks import finite_float
from stilt._io import atomic_path
from stilt.errors import ConfigError, not_utf8, short_repr

__all__ = [
    "PointReceptor",
    "ColumnReceptor",
    "MultiPointReceptor",
    "Receptor",
    "read_receptors",
    "write_receptors",
    "receptor_from_dict",
    "parse_time",
    "as_receptor",
    "as_receptor_list",
    "release_point",
    "release_points",
    "ReleasePoint",
]

_ALIASES = {
    "time": "time", "run_time": "time",
    "longitude": "longitude", "lon": "longitude", "long": "longitude",
    "latitude": "latitude", "lat": "latitude", "lati": "latitude",
    "altitude": "altitude", "zagl": "altitude", "zmsl": "altitude",
    "altitude_ref": "altitude_ref",
    "r_idx": "r_idx",
}
_REFS = ("agl", "msl")


#: R-STILT's compact times: YYYYMMDDHHMM (simulation ids) and YYYYMMDDHH (its run folders)
_COMPACT = re.compile(r"\d{12}|\d{10}")


def parse_time(value: Any, what: str = "time") -> dt.datetime:
    """Convert a date-time (string, datetime, numpy or pandas) to a naive UTC datetime.

    Parameters
    ----------
    value : str, datetime, numpy.datetime64 or pandas.Timestamp
        ISO 8601 text such as ``"2023-01-01 12:00"`` (``Z`` or an offset is converted to UTC),
        or R-STILT's compact text ``"202301011200"`` (YYYYMMDDHHMM) or ``"2023010112"``
        (YYYYMMDDHH). Numbers are refused (``202301011200`` as an int is ambiguous).
    what : str, optional
        Name used in the error message.

    Returns
    -------
    datetime.datetime
        Naive, UTC, truncated to the minute.

    Raises
    ------
    ConfigError
        The value is not a date-time.
    """
    if type(value) is str and len(value) >= 16 and value[4] == "-":  # ISO text: most tables
        try:
            when = dt.datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            if when.tzinfo is None:
                return when.replace(second=0, microsecond=0) if when.second or \
                    when.microsecond else when
    if hasattr(value, "to_pydatetime"):
        value = value.to_pydatetime()
    if type(value).__name__ == "datetime64":
        import numpy as np

        if np.isnat(value):
            raise ConfigError(f"{what}: {value!r} is not a date-time")
        value = value.astype("datetime64[m]").item()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        raise ConfigError(f"{what}: {value!r} is a number, not a date-time (write R-STILT's "
                          f"compact form as text: '{value}' for YYYYMMDDHHMM or YYYYMMDDHH)")
    if isinstance(value, str) and _COMPACT.fullmatch(value.strip()):
        text = value.strip()
        try:
            return dt.datetime.strptime(text, "%Y%m%d%H%M" if len(text) == 12 else "%Y%m%d%H")
        except ValueError:
            raise ConfigError(f"{what}: {value!r} is not a date-time (read as "
                              f"{'YYYYMMDDHHMM' if len(text) == 12 else 'YYYYMMDDHH'})") from None
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        elif text.upper().endswith(" UTC"):
            text = text[:-4]
        try:
            value = dt.datetime.fromisoformat(text)
        except ValueError:
            raise ConfigError(
                f"{what}: {value!r} is not a date-time (expected e.g. '2023-07-15 12:00')"
            ) from None
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day)
    if not isinstance(value, dt.datetime):
        raise ConfigError(f"{what}: {value!r} is not a date-time")
    if value.tzinfo is not None:
        value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value.replace(second=0, microsecond=0)




#: receptor years stilt runs: those an ARL met file can label (two-digit years, 1940..2039)
RECEPTOR_YEARS = (1940, 2039)


def _receptor_time(value: Any, what: str) -> dt.datetime:
    """:func:`parse_time`, refusing years no met file covers (ARL labels 1940..2039)."""
    when = parse_time(value, what)
    lo, hi = RECEPTOR_YEARS
    if not lo <= when.year <= hi:
        raise ConfigError(f"{what}: year {when.year} is outside {lo}..{hi}, the years ARL "
                          f"met files can label (no met covers {when.isoformat(' ', 'minutes')})")
    return when


def _check_point(lat: Any, lon: Any, what: str) -> tuple[float, float]:
    flat = finite_float(lat, f"{what} latitude")
    flon = finite_float(lon, f"{what} longitude")
    if not -90.0 <= flat <= 90.0:
        raise ConfigError(f"{what} latitude: {flat} is outside [-90, 90]")
    if not -180.0 <= flon <= 360.0:
        raise ConfigError(f"{what} longitude: {flon} is outside [-180, 360]")
    if flon >= 180.0:
        flon -= 360.0
    return flat, flon


def _check_ref(ref: Any, what: str) -> str:
    out = str(ref).strip().lower()
    if out not in _REFS:
        raise ConfigError(f"{what} altitude_ref: {ref!r} must be 'agl' or 'msl'")
    return out


def _check_height(z: Any, ref: str, what: str) -> float:
    out = finite_float(z, f"{what} altitude")
    if ref == "agl" and out < 0:
        raise ConfigError(f"{what} altitude: {out} m above ground is negative")
    return out


def _check_location(receptor: Any, what: str) -> str:
    """Validate and normalise time, latitude, longitude, altitude_ref of a frozen receptor."""
    ref = _check_ref(receptor.altitude_ref, what)
    lat, lon = _check_point(receptor.latitude, receptor.longitude, what)
    object.__setattr__(receptor, "time", _receptor_time(
        receptor.time, f"{what} at longitude {lon:g}, latitude {lat:g}: time"))
    object.__setattr__(receptor, "latitude", lat)
    object.__setattr__(receptor, "longitude", lon)
    object.__setattr__(receptor, "altitude_ref", ref)
    return ref


def _fmt(x: float) -> str:
    """Short, exact-enough text for a coordinate in an id (up to 6 decimals, no trailing 0)."""
    text = f"{x:.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


@dataclass(frozen=True)
class PointReceptor:
    """A release at one point and height.

    Parameters
    ----------
    time : str or datetime
        Release time (UTC).
    longitude, latitude : float
        Degrees; longitudes in [180, 360] are moved to [-180, 0).
    altitude : float
        Release height in m (above ground, or above sea level with ``altitude_ref="msl"``).
    altitude_ref : {"agl", "msl"}, optional
    """

    time: dt.datetime
    longitude: float
    latitude: float
    altitude: float
    altitude_ref: str = "agl"

    kind = "point"

    def __post_init__(self) -> None:
        ref = _check_location(self, "receptor")
        object.__setattr__(self, "altitude", _check_height(self.altitude, ref, "receptor"))

    @property
    def location_id(self) -> str:
        """``{lon}_{lat}_{height}`` (R-STILT/PYSTILT style)."""
        z = _fmt(self.altitude) + ("msl" if self.altitude_ref == "msl" else "")
        return f"{_fmt(self.longitude)}_{_fmt(self.latitude)}_{z}"

    def transport_input(self) -> Any:
        """What :func:`stilt.run_trajectories` and :func:`stilt.calc_footprint` take."""
        return self

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description (inverse of :func:`receptor_from_dict`)."""
        return {"kind": self.kind, "time": self.time.isoformat(timespec="minutes"),
                "longitude": self.longitude, "latitude": self.latitude,
                "altitude": self.altitude, "altitude_ref": self.altitude_ref}


@dataclass(frozen=True)
class ColumnReceptor:
    """A vertical column: particles released linearly between two heights at one point.

    Parameters
    ----------
    time : str or datetime
    longitude, latitude : float
    bottom, top : float
        Lowest and highest release heights, m.
    altitude_ref : {"agl", "msl"}, optional
    """

    time: dt.datetime
    longitude: float
    latitude: float
    bottom: float
    top: float
    altitude_ref: str = "agl"

    kind = "column"

    def __post_init__(self) -> None:
        ref = _check_location(self, "column receptor")
        bottom = _check_height(self.bottom, ref, "column receptor bottom")
        top = _check_height(self.top, ref, "column receptor top")
        if top <= bottom:
            raise ConfigError(f"column receptor: top {top} m must be above bottom {bottom} m")
        object.__setattr__(self, "bottom", bottom)
        object.__setattr__(self, "top", top)

    @property
    def altitude(self) -> list[float]:
        """``[bottom, top]``, the form the transport takes for a column."""
        return [self.bottom, self.top]

    @property
    def location_id(self) -> str:
        """``{lon}_{lat}_{bottom}-{top}``."""
        z = f"{_fmt(self.bottom)}-{_fmt(self.top)}" + ("msl" if self.altitude_ref == "msl" else "")
        return f"{_fmt(self.longitude)}_{_fmt(self.latitude)}_{z}"

    def transport_input(self) -> Any:
        """What :func:`stilt.run_trajectories` and :func:`stilt.calc_footprint` take."""
        return self

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description (inverse of :func:`receptor_from_dict`)."""
        return {"kind": self.kind, "time": self.time.isoformat(timespec="minutes"),
                "longitude": self.longitude, "latitude": self.latitude,
                "bottom": self.bottom, "top": self.top, "altitude_ref": self.altitude_ref}


@dataclass(frozen=True)
class MultiPointReceptor:
    """Several points released together at one time (slant column, along-track sounding).

    Parameters
    ----------
    time : str or datetime
    longitudes, latitudes, altitudes : sequence of float
        One value per point (same length, at least two points).
    altitude_ref : {"agl", "msl"}, optional
    """

    time: dt.datetime
    longitudes: tuple[float, ...]
    latitudes: tuple[float, ...]
    altitudes: tuple[float, ...]
    altitude_ref: str = "agl"

    kind = "multipoint"

    def __post_init__(self) -> None:
        ref = _check_ref(self.altitude_ref, "multi-point receptor")
        n = len(self.longitudes)
        if n < 2 or len(self.latitudes) != n or len(self.altitudes) != n:
            raise ConfigError(
                "multi-point receptor: needs at least two points and as many latitudes, "
                f"longitudes and altitudes (got {len(self.latitudes)}, {n}, {len(self.altitudes)})")
        lats, lons, alts = [], [], []
        for k in range(n):
            what = f"multi-point receptor point {k + 1}"
            lat, lon = _check_point(self.latitudes[k], self.longitudes[k], what)
            lats.append(lat)
            lons.append(lon)
            alts.append(_check_height(self.altitudes[k], ref, what))
        object.__setattr__(self, "time", _receptor_time(
            self.time, f"multi-point receptor at longitude {lons[0]:g}, latitude {lats[0]:g}: "
            "time"))
        object.__setattr__(self, "latitudes", tuple(lats))
        object.__setattr__(self, "longitudes", tuple(lons))
        object.__setattr__(self, "altitudes", tuple(alts))
        object.__setattr__(self, "altitude_ref", ref)

    @property
    def latitude(self) -> float:
        """Latitude of the first point."""
        return self.latitudes[0]

    @property
    def longitude(self) -> float:
        """Longitude of the first point."""
        return self.longitudes[0]

    @property
    def altitude(self) -> float:
        """Height of the first point."""
        return self.altitudes[0]

    @property
    def location_id(self) -> str:
        """``multi{n}-{hash}``: a stable 10-hex-digit hash of the points."""
        text = json.dumps([self.longitudes, self.latitudes, self.altitudes, self.altitude_ref])
        digest = hashlib.sha256(text.encode()).hexdigest()[:10]
        return f"multi{len(self.longitudes)}-{digest}"

    def transport_input(self) -> Any:
        """A list of point mappings: the multi-point form of :func:`stilt.run_trajectories`."""
        return [{"time": self.time, "longitude": lon, "latitude": lat, "altitude": z,
                 "altitude_ref": self.altitude_ref}
                for lon, lat, z in zip(self.longitudes, self.latitudes, self.altitudes)]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description (inverse of :func:`receptor_from_dict`)."""
        return {"kind": self.kind, "time": self.time.isoformat(timespec="minutes"),
                "longitudes": list(self.longitudes), "latitudes": list(self.latitudes),
                "altitudes": list(self.altitudes), "altitude_ref": self.altitude_ref}


Receptor = Union[PointReceptor, ColumnReceptor, MultiPointReceptor]


def receptor_from_dict(data: Mapping[str, Any]) -> Receptor:
    """Rebuild a receptor from :meth:`to_dict` output.

    Raises
    ------
    ConfigError
        Unknown kind or invalid values.
    """
    fields = dict(data)
    kind = fields.pop("kind", "point")
    cls = {"point": PointReceptor, "column": ColumnReceptor,
           "multipoint": MultiPointReceptor}.get(kind)
    if cls is None:
        raise ConfigError(f"receptor kind {kind!r}: expected point, column or multipoint")
    try:
        return cls(**fields)
    except TypeError as exc:
        raise ConfigError(f"{kind} receptor {data!r}: {exc}") from None


def read_receptors(path: str | Path, max_rows: int = 1_000_000) -> list[Receptor]:
    """Read a ``receptors.csv`` table.

    Columns: ``time``, ``longitude`` (``lon``, ``long``), ``latitude`` (``lat``, ``lati``),
    ``altitude`` (``zagl``; ``zmsl`` means heights above sea level), optional ``altitude_ref``
    (agl/msl) and ``r_idx``. Rows sharing an ``r_idx`` form one receptor: a
    :class:`ColumnReceptor` when they are two heights at one point, otherwise a
    :class:`MultiPointReceptor`; they must share one time.

    Parameters
    ----------
    path : str or Path
    max_rows : int, optional
        Refuse larger tables (a guard against a wrong file).

    Returns
    -------
    list of receptors, in the order of first appearance.

    Raises
    ------
    ConfigError
        Unknown or missing columns, and any invalid value, naming the file, line and column.
    """
    path = Path(path)
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError(f"receptor file {path}: cannot be read ({exc.strerror})") from None
    try:
        return _read_rows(handle, path, max_rows)
    except UnicodeDecodeError:
        raise not_utf8(path, f"receptor file {path}") from None
    finally:
        handle.close()


def _read_rows(handle: Any, path: Path, max_rows: int) -> list[Receptor]:
    with handle:
        reader = csv.reader(handle)
        try:
            header = next(reader)
        except StopIteration:
            raise ConfigError(f"receptor file {path}: is empty (expected a header line "
                              "time,longitude,latitude,altitude)") from None
        columns = _map_header(header, path)
        msl_column = any(header[i].strip().lower() == "zmsl" for i in columns)
        if "r_idx" not in columns.values():  # one receptor per row: no grouping to hold
            return _read_points(reader, header, columns, path, max_rows, msl_column)
        groups: dict[str, list[tuple[int, dict[str, str]]]] = {}
        order: list[str] = []
        for lineno, row in enumerate(reader, start=2):
            if not row or all(not cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise ConfigError(f"receptor file {path} line {lineno}: {len(row)} values, "
                                  f"header has {len(header)}")
            values = {name: row[i].strip() for i, name in columns.items()}
            key = values.get("r_idx") or f"__row{lineno}"
            if key not in groups:
                if len(order) >= max_rows:
                    raise ConfigError(f"receptor file {path}: more than {max_rows} receptors; "
                                      "pass max_rows to confirm")
                groups[key] = []
                order.append(key)
            groups[key].append((lineno, values))
    if not order:
        raise ConfigError(f"receptor file {path}: has a header but no receptors")
    return [_group_receptor(groups[key], path, msl_column) for key in order]


def _read_points(reader: Any, header: Sequence[str], columns: dict[int, str], path: Path,
                 max_rows: int, msl_column: bool) -> list[Receptor]:
    """The receptors of a table without ``r_idx``: one point receptor per row, checked
    row by row as :func:`_group_receptor` does, without holding the rows."""
    out: list[Receptor] = []
    width = len(header)
    for lineno, row in enumerate(reader, start=2):
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != width:
            raise ConfigError(f"receptor file {path} line {lineno}: {len(row)} values, "
                              f"header has {width}")
        if len(out) >= max_rows:
            raise ConfigError(f"receptor file {path}: more than {max_rows} receptors; "
                              "pass max_rows to confirm")
        values = {name: row[i].strip() for i, name in columns.items()}
        out.append(_point_row(lineno, values, path, msl_column))
    if not out:
        raise ConfigError(f"receptor file {path}: has a header but no receptors")
    return out


_WRITE_HEADER = ("time", "longitude", "latitude", "altitude", "altitude_ref", "r_idx")


def _receptor_rows(receptor: Receptor, r_idx: int) -> list[list[str]]:
    """The rows of one receptor (one per point; a column is its bottom and top)."""
    when = receptor.time.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(receptor, ColumnReceptor):
        points = [(receptor.longitude, receptor.latitude, receptor.bottom),
                  (receptor.longitude, receptor.latitude, receptor.top)]
    elif isinstance(receptor, MultiPointReceptor):
        points = list(zip(receptor.longitudes, receptor.latitudes, receptor.altitudes))
    else:
        points = [(receptor.longitude, receptor.latitude, receptor.altitude)]
    return [[when, repr(float(lon)), repr(float(lat)), repr(float(z)), receptor.altitude_ref,
             str(r_idx)] for lon, lat, z in points]


def write_receptors(receptors: Iterable[Receptor], path: str | Path) -> Path:
    """Write receptors as a ``receptors.csv`` that :func:`read_receptors` reads back.

    Columns ``time, longitude, latitude, altitude, altitude_ref, r_idx``: one row per point,
    rows of one receptor sharing its ``r_idx`` (1, 2, ...). The file is written to a
    temporary name in the same folder, read back and compared, then renamed over ``path``.

    Raises
    ------
    ConfigError
        A receptor that would read back as another one (a multi-point receptor of two points
        at one place reads as a column), naming it; nothing is written then.
    """
    path = Path(path)
    receptors = as_receptor_list(list(receptors))
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(_WRITE_HEADER)
    for k, receptor in enumerate(receptors, start=1):
        writer.writerows(_receptor_rows(receptor, k))
    with atomic_path(path) as tmp:
        tmp.write_bytes(text.getvalue().encode("utf-8"))
        back = read_receptors(tmp) if receptors else []
        for k, (a, b) in enumerate(zip(receptors, back), start=1):
            if a.to_dict() != b.to_dict():
                raise ConfigError(f"receptor {k} ({a.to_dict()}) cannot be stored in "
                                  f"{path.name}: it reads back as {b.to_dict()}")
    return path


def _map_header(header: Sequence[str], path: Path) -> dict[int, str]:
    columns: dict[int, str] = {}
    for i, raw in enumerate(header):
        name = raw.strip().lower()
        canon = _ALIASES.get(name)
        if canon is None:
            hint = difflib.get_close_matches(name, _ALIASES, n=1)
            more = f"; did you mean {hint[0]!r}?" if hint else ""
            raise ConfigError(f"receptor file {path}: unknown column {raw!r}{more} (expected "
                              "time, longitude, latitude, altitude, altitude_ref, r_idx)")
        if canon in columns.values():
            raise ConfigError(f"receptor file {path}: column {canon!r} given twice ({raw!r})")
        columns[i] = canon
    missing = [c for c in ("time", "longitude", "latitude", "altitude")
               if c not in columns.values()]
    if missing:
        raise ConfigError(f"receptor file {path}: missing column(s) {', '.join(missing)}")
    return columns


def _point_row(lineno: int, values: dict[str, str], path: Path,
               msl_column: bool) -> PointReceptor:
    """The point receptor of one table row: each value checked once, as
    :class:`PointReceptor` would, naming the file and line."""
    here = f"receptor file {path} line {lineno}"
    when = _receptor_time(values["time"], f"{here} time")
    lat, lon = _check_point(values["latitude"], values["longitude"], here)
    ref = _check_ref(values.get("altitude_ref") or ("msl" if msl_column else "agl"), here)
    return _checked(PointReceptor, time=when, longitude=lon, latitude=lat,
                    altitude=_check_height(values["altitude"], ref, here), altitude_ref=ref)


def _group_receptor(rows: list[tuple[int, dict[str, str]]], path: Path,
                    msl_column: bool) -> Receptor:
    lines = ", ".join(str(n) for n, _ in rows)
    where = f"receptor file {path} line{'s' if len(rows) > 1 else ''} {lines}"
    times, lons, lats, alts, refs = [], [], [], [], []
    for lineno, values in rows:
        here = f"receptor file {path} line {lineno}"
        times.append(_receptor_time(values["time"], f"{here} time"))
        lat, lon = _check_point(values["latitude"], values["longitude"], here)
        ref = _check_ref(values.get("altitude_ref") or ("msl" if msl_column else "agl"), here)
        lats.append(lat)
        lons.append(lon)
        alts.append(_check_height(values["altitude"], ref, here))
        refs.append(ref)
    if len(set(times)) != 1:
        raise ConfigError(f"{where}: rows sharing r_idx have different times")
    if len(set(refs)) != 1:
        raise ConfigError(f"{where}: rows sharing r_idx mix agl and msl heights")
    if len(rows) == 1:  # every value checked above: built without checking them again
        return _checked(PointReceptor, time=times[0], longitude=lons[0], latitude=lats[0],
                        altitude=alts[0], altitude_ref=refs[0])
    if len(rows) == 2 and lons[0] == lons[1] and lats[0] == lats[1]:
        return ColumnReceptor(times[0], lons[0], lats[0], min(alts), max(alts), refs[0])
    return MultiPointReceptor(times[0], tuple(lons), tuple(lats), tuple(alts), refs[0])


_KINDS = (PointReceptor, ColumnReceptor, MultiPointReceptor)


def _checked(cls: type, **fields: Any) -> Any:
    """A receptor from values already checked and normalised (a table of a million rows
    is read without checking each value twice)."""
    obj = object.__new__(cls)
    obj.__dict__.update(fields)
    return obj


def _is_point_tuple(item: Any) -> bool:
    """A ``(time, longitude, latitude, altitude[, altitude_ref])`` tuple of plain values."""
    return (isinstance(item, (tuple, list)) and len(item) in (4, 5)
            and not any(isinstance(v, (Mapping, tuple, list, *_KINDS)) for v in item))


def as_receptor_list(receptors: Any) -> list[Receptor]:
    """Accept one receptor, an iterable of them, or a path to a receptors.csv.

    Items may also be mappings (:meth:`to_dict` output) and, as in PYSTILT, point tuples
    ``(time, longitude, latitude, altitude)`` with an optional fifth ``altitude_ref``; one
    such tuple on its own is one receptor.
    """
    if receptors is None:
        return []
    if isinstance(receptors, (str, Path)):
        return read_receptors(receptors)
    if isinstance(receptors, _KINDS):
        return [receptors]
    if _is_point_tuple(receptors):
        receptors = [receptors]
    if isinstance(receptors, Iterable):
        out = []
        for k, r in enumerate(receptors, start=1):
            if isinstance(r, Mapping) or _is_point_tuple(r):
                r = as_receptor(r, f"receptor {k}")
            elif isinstance(r, (tuple, list)):
                raise ConfigError(f"receptor {k} {short_repr(r)}: a tuple must be (time, "
                                  "longitude, latitude, altitude[, altitude_ref]), the order "
                                  "of PYSTILT")
            if not isinstance(r, _KINDS):
                raise ConfigError(f"receptor {short_repr(r)}: expected a PointReceptor, "
                                  "ColumnReceptor, MultiPointReceptor or a (time, longitude, "
                                  "latitude, altitude) tuple")
            out.append(r)
        return out
    raise ConfigError(f"receptors {receptors!r}: expected receptors or a receptors.csv path")


# -- the one receptor check: every receptor stilt takes goes through release_points ----------
#: accepted names of each field of a release point (mappings or objects), first the canonical
_POINT_FIELDS = {"time": ("time", "run_time"), "latitude": ("latitude", "lati", "lat"),
                 "longitude": ("longitude", "long", "lon"),
                 "altitude": ("altitude", "zagl", "height", "z")}


@dataclass(frozen=True)
class ReleasePoint:
    """One checked release point: what every receptor is made of.

    ``bottom == top`` for a point; a column releases particles linearly between them.
    Longitudes follow the receptor rule (180..360 moved to -180..0).
    """

    time: dt.datetime
    latitude: float
    longitude: float
    bottom: float
    top: float
    altitude_ref: str = "agl"


def _field(item: Any, name: str) -> Any:
    for key in _POINT_FIELDS.get(name, (name,)):
        if isinstance(item, Mapping):
            if key in item:
                return item[key]
        elif hasattr(item, key):
            return getattr(item, key)
    return None


def release_point(item: Any, what: str = "receptor") -> ReleasePoint:
    """Check one release point given as a mapping or an object.

    Fields ``time``, ``latitude`` (``lati``, ``lat``), ``longitude`` (``long``, ``lon``),
    ``altitude`` (``zagl``, ``height``, ``z``; two values ``[bottom, top]`` for a column) and
    optional ``altitude_ref`` (``agl`` default, or ``msl``), checked by the rules of
    :class:`PointReceptor` and :class:`ColumnReceptor`.

    Raises
    ------
    ConfigError
        One line naming ``what``, the field, its value and what was expected.
    """
    values = {name: _field(item, name) for name in _POINT_FIELDS}
    missing = [name for name, value in values.items() if value is None]
    if missing:
        raise ConfigError(f"{what} {short_repr(item)}: no {', '.join(missing)} (expected a "
                          "mapping or object with time, latitude, longitude and altitude)")
    ref_value = _field(item, "altitude_ref")
    ref = _check_ref("agl" if ref_value is None else ref_value, what)
    lat, lon = _check_point(values["latitude"], values["longitude"], what)
    when = _receptor_time(values["time"],
                          f"{what} at longitude {lon:g}, latitude {lat:g}: time")
    alt = values["altitude"]
    if isinstance(alt, (str, bytes)) or not hasattr(alt, "__len__"):
        z = _check_height(alt, ref, what)
        return ReleasePoint(when, lat, lon, z, z, ref)
    heights = list(alt)
    if len(heights) == 1:
        z = _check_height(heights[0], ref, what)
        return ReleasePoint(when, lat, lon, z, z, ref)
    if len(heights) != 2:
        raise ConfigError(f"{what} altitude: {short_repr(alt)} must be one height or "
                          "[bottom, top]")
    bottom = _check_height(heights[0], ref, f"{what} bottom")
    top = _check_height(heights[1], ref, f"{what} top")
    if top <= bottom:
        raise ConfigError(f"{what}: top {top} m must be above bottom {bottom} m")
    return ReleasePoint(when, lat, lon, bottom, top, ref)


def release_points(receptor: Any, what: str = "receptor") -> list[ReleasePoint]:
    """The release points of any receptor stilt takes: the one receptor check.

    Parameters
    ----------
    receptor : receptor, mapping, object or list
        A :class:`PointReceptor`, :class:`ColumnReceptor` or :class:`MultiPointReceptor`; a
        mapping or object with the fields of :func:`release_point`; or a list of those (the
        points of a multi-point receptor: one time, one ``altitude_ref``).
    what : str, optional
        Names the receptor in error messages (e.g. a file and line).

    Returns
    -------
    list of ReleasePoint

    Raises
    ------
    ConfigError
        One line naming the receptor, the field, the value and what was expected.
    """
    if isinstance(receptor, PointReceptor):  # checked when made: no second look
        r = receptor
        return [ReleasePoint(r.time, r.latitude, r.longitude, r.altitude, r.altitude,
                             r.altitude_ref)]
    if isinstance(receptor, ColumnReceptor):
        r = receptor
        return [ReleasePoint(r.time, r.latitude, r.longitude, r.bottom, r.top, r.altitude_ref)]
    if isinstance(receptor, MultiPointReceptor):
        r = receptor
        return [ReleasePoint(r.time, lat, lon, z, z, r.altitude_ref)
                for lon, lat, z in zip(r.longitudes, r.latitudes, r.altitudes)]
    items = list(receptor) if isinstance(receptor, (list, tuple)) else [receptor]
    if not items:
        raise ConfigError(f"{what}: the list of points is empty (expected at least one)")
    if len(items) == 1:
        return [release_point(items[0], what)]
    points = [release_point(item, f"{what} point {k}") for k, item in enumerate(items, 1)]
    if len({p.time for p in points}) != 1:
        raise ConfigError(f"multi-point {what}: times {sorted({str(p.time) for p in points})} "
                          "differ (expected one time for all points)")
    if len({p.altitude_ref for p in points}) != 1:
        raise ConfigError(f"multi-point {what}: altitude_ref mixes 'agl' and 'msl' (expected "
                          "one for all points)")
    return points


def as_receptor(receptor: Any, what: str = "receptor") -> Receptor:
    """One receptor object from anything :func:`release_points` takes, or a point tuple
    ``(time, longitude, latitude, altitude[, altitude_ref])``.

    Raises
    ------
    ConfigError
        Invalid fields (one line naming them), or several points of which one is a column
        (only :func:`stilt.run_trajectories` takes such a release).
    """
    if isinstance(receptor, _KINDS):
        return receptor
    if isinstance(receptor, Mapping) and "kind" in receptor:
        return receptor_from_dict(receptor)
    if _is_point_tuple(receptor):
        return PointReceptor(*receptor)
    points = release_points(receptor, what)
    p = points[0]
    if len(points) == 1:
        if p.bottom == p.top:
            return _checked(PointReceptor, time=p.time, longitude=p.longitude,
                            latitude=p.latitude, altitude=p.bottom, altitude_ref=p.altitude_ref)
        return _checked(ColumnReceptor, time=p.time, longitude=p.longitude, latitude=p.latitude,
                        bottom=p.bottom, top=p.top, altitude_ref=p.altitude_ref)
    if any(q.bottom != q.top for q in points):
        raise ConfigError(f"multi-point {what}: a point is a column [bottom, top] (expected one "
                          "height per point)")
    return _checked(MultiPointReceptor, time=p.time,
                    longitudes=tuple(q.longitude for q in points),
                    latitudes=tuple(q.latitude for q in points),
                    altitudes=tuple(q.bottom for q in points), altitude_ref=p.altitude_ref)
