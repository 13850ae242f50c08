"""Surface roughness length z0 per met grid node, where the met files carry no ``RGHS``.

HYSPLIT-STILT reads z0 from a gridded table described by ``ASCDATA.CFG`` (docs/physics.md §2.7):

.. code-block:: text

    -90.0  -180.0   lat/lon of the lower-left corner
    1.0     1.0     lat/lon spacing (degrees)
    180     360     number of lat/lon points
    2               default land-use category
    0.2             default roughness length (m)
    './'            folder holding ROUGLEN.ASC (relative to ASCDATA.CFG)

``ROUGLEN.ASC`` holds one text line per latitude row, northernmost first, each with one
4-character field per longitude (roughness in cm), starting at the western edge. A met grid node
takes the cell it falls in (floor indexing: a node on a cell boundary takes the cell to its
east / north); nodes outside the table get the default. Each particle then uses the z0 of its
nearest node, for the turbulence profiles and, on files without 10-m winds, for the neutral
log-law wind below the first data level (:mod:`stilt.met.window`).

z0 is a surface input like the met itself. stilt ships HYSPLIT's global 1-degree table (the
``bdyfiles`` that HYSPLIT installs, R-STILT's ``exe/`` folder and PYSTILT carry; copied byte
for byte from the PYSTILT wheel into ``stilt/met/bdyfiles``, provenance in its ``README.md``)
and uses it by default, as the reference binary does: :class:`stilt.MetConfig` ``roughness``
unset (None) means :func:`shipped_roughness`. Point ``roughness`` at another ``ASCDATA.CFG`` or
``ROUGLEN.ASC`` for another surface, or give a number for one constant z0 in m (``0.2``, the
``ASCDATA.CFG`` default, was stilt's default before it shipped the table).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from stilt.errors import ConfigError

__all__ = ["DEFAULT_Z0", "SHIPPED_NAME", "RoughnessTable", "read_roughness", "roughness_source",
           "shipped_roughness"]

#: roughness length (m) where nothing else is known (ASCDATA.CFG default, docs/physics.md §2.7)
DEFAULT_Z0 = 0.2

#: the layout HYSPLIT assumes when ROUGLEN.ASC is given without an ASCDATA.CFG
_GLOBAL_1DEG = (-90.0, -180.0, 1.0, 1.0, 180, 360)

#: how runs on the shipped table name it (attribute ``roughness``), before its sha256 prefix
SHIPPED_NAME = "stilt bdyfiles ROUGLEN.ASC (HYSPLIT global 1-degree)"

#: the package folder (under ``stilt.met``) holding the shipped tables
_BDYFILES = "bdyfiles"


@dataclass(frozen=True)
class RoughnessTable:
    """A lat/lon table of roughness lengths (m), rows from south to north.

    Parameters
    ----------
    lat0, lon0 : float
        South-west corner of the table (degrees).
    dlat, dlon : float
        Cell size (degrees).
    z0 : numpy.ndarray
        Roughness length in m, shape (nlat, nlon), row 0 the southernmost.
    default : float
        z0 (m) outside the table and where a cell holds no positive value.
    path : str
        Where the table came from, for provenance: the file that was read, or for the shipped
        table :data:`SHIPPED_NAME` and the first 12 hex digits of its sha256.
    """

    lat0: float
    lon0: float
    dlat: float
    dlon: float
    z0: np.ndarray
    default: float = DEFAULT_Z0
    path: str = ""

    def sample(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        """z0 (m) of the cells holding the points (floor indexing), default outside.

        Parameters
        ----------
        lat, lon : numpy.ndarray
            Positions in degrees (any longitude convention).

        Returns
        -------
        numpy.ndarray
            Roughness length in m, same shape as ``lat``.
        """
        lat = np.asarray(lat, dtype=float)
        lon = np.asarray(lon, dtype=float)
        nlat, nlon = self.z0.shape
        row = np.floor((lat - self.lat0) / self.dlat + 1e-6)
        east = np.mod(lon - self.lon0, 360.0)
        col = np.floor(east / self.dlon + 1e-6)
        ok = np.isfinite(row) & np.isfinite(col) & (row >= 0) & (row < nlat) & (col >= 0) \
            & (col < nlon)
        out = np.full(lat.shape, float(self.default))
        values = self.z0[row[ok].astype(int), col[ok].astype(int)]
        out[ok] = np.where(values > 0, values, self.default)
        return out


def _read_ascdata(path: Path) -> tuple[tuple[float, float, float, float, int, int], float, Path]:
    layout, default, folder = _parse_ascdata(path.read_text(), str(path))
    folder_path = Path(folder)
    if not folder_path.is_absolute():
        folder_path = path.parent / folder_path
    return layout, default, folder_path


def _parse_ascdata(text: str, where: str) -> tuple[tuple[float, float, float, float, int, int],
                                                   float, str]:
    """Layout, default z0 and data folder of an ASCDATA.CFG's text (``where`` names it)."""
    lines = [ln.split() for ln in text.splitlines() if ln.strip()]
    try:
        lat0, lon0 = float(lines[0][0]), float(lines[0][1])
        dlat, dlon = float(lines[1][0]), float(lines[1][1])
        nlat, nlon = int(lines[2][0]), int(lines[2][1])
        default = float(lines[4][0])
        folder = lines[5][0].strip("'\"") if len(lines) > 5 else "./"
    except (IndexError, ValueError):
        raise ConfigError(
            f"{where}: not an ASCDATA.CFG (expected 6 lines: lower-left lat lon, spacing "
            "dlat dlon, counts nlat nlon, default land use, default roughness in m, data "
            "folder)") from None
    if dlat <= 0 or dlon <= 0 or nlat < 1 or nlon < 1 or default <= 0:
        raise ConfigError(f"{where}: spacing {dlat} {dlon}, counts {nlat} {nlon} and default "
                          f"roughness {default} must all be positive")
    return (lat0, lon0, dlat, dlon, nlat, nlon), default, folder


def _parse_rouglen(text: str, nlat: int, nlon: int, where: str) -> np.ndarray:
    """z0 (m), row 0 the southernmost, of a ROUGLEN.ASC's text (``where`` names it)."""
    rows = [ln.rstrip("\r\n") for ln in text.splitlines()]
    rows = [r for r in rows if r.strip()][:nlat]
    if len(rows) < nlat:
        raise ConfigError(f"{where}: {len(rows)} rows, expected {nlat} (one per latitude "
                          "row, northernmost first)")
    for n, row in enumerate(rows):
        if len(row) < 4 * nlon:
            raise ConfigError(f"{where}, line {n + 1}: {len(row)} characters, expected "
                              f"{nlon} fields of 4 characters (roughness in cm)")
    try:  # every field at once; the first row that does not parse is named below
        fields = "".join(r[:4 * nlon] for r in rows).encode("ascii")
        cm = np.frombuffer(fields, dtype="S4").astype(float).reshape(nlat, nlon)
    except (ValueError, UnicodeEncodeError):
        bad = next(n for n, row in enumerate(rows) if not _numeric_fields(row, nlon))
        raise ConfigError(f"{where}, line {bad + 1}: a field is not a number (expected "
                          f"{nlon} roughness values in cm, 4 characters each)") from None
    return cm[::-1] / 100.0


def _numeric_fields(row: str, nlon: int) -> bool:
    """Whether the first ``nlon`` 4-character fields of a row are ASCII numbers."""
    try:
        np.frombuffer(row[:4 * nlon].encode("ascii"), dtype="S4").astype(float)
    except (ValueError, UnicodeEncodeError):
        return False
    return True


def read_roughness(path: str | Path) -> RoughnessTable:
    """Read a HYSPLIT roughness table: an ``ASCDATA.CFG`` or a ``ROUGLEN.ASC``.

    Parameters
    ----------
    path : str or Path
        ``ASCDATA.CFG`` (its ``ROUGLEN.ASC`` is read from the folder its last line names), or a
        ``ROUGLEN.ASC`` (global 1-degree layout, or the layout of an ``ASCDATA.CFG`` beside it).

    Returns
    -------
    RoughnessTable

    Raises
    ------
    ConfigError
        Missing file, wrong layout (line, field and what was expected) or non-numeric values.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"roughness: {path} does not exist (expected an ASCDATA.CFG or a "
                          "ROUGLEN.ASC)")
    default = DEFAULT_Z0
    if path.name.upper() == "ROUGLEN.ASC" or path.suffix.upper() == ".ASC":
        table = path
        cfg = next((p for p in (path.parent / "ASCDATA.CFG", path.parent / "ascdata.cfg")
                    if p.is_file()), None)
        layout = _GLOBAL_1DEG
        if cfg is not None:
            layout, default, _ = _read_ascdata(cfg)
    else:
        layout, default, folder = _read_ascdata(path)
        table = folder / "ROUGLEN.ASC"
        if not table.is_file():
            raise ConfigError(f"roughness: {path} points to {table}, which does not exist")
    lat0, lon0, dlat, dlon, nlat, nlon = layout
    z0 = _parse_rouglen(table.read_text(), nlat, nlon, str(table))
    return RoughnessTable(lat0, lon0, dlat, dlon, z0, default, str(path))


@lru_cache(maxsize=1)
def shipped_roughness() -> RoughnessTable:
    """HYSPLIT's global 1-degree roughness table, as stilt ships it (the default surface).

    The package's ``stilt/met/bdyfiles`` holds ``ASCDATA.CFG`` and ``ROUGLEN.ASC`` as HYSPLIT
    distributes them (provenance, licence and checksums in the ``README.md`` beside them); they
    are read on the first call, never at import.

    Returns
    -------
    RoughnessTable
        z0 on 1-degree cells from 90 S, 180 W; ``path`` is :data:`SHIPPED_NAME` with the first
        12 hex digits of the table's sha256. The same read-only object on every call.

    Raises
    ------
    ConfigError
        The tables are missing from the installed package (a broken install).
    """
    folder = resources.files("stilt.met").joinpath(_BDYFILES)
    try:
        cfg_text = folder.joinpath("ASCDATA.CFG").read_text()
        data = folder.joinpath("ROUGLEN.ASC").read_bytes()
    except OSError as exc:
        raise ConfigError(f"the roughness table stilt ships is missing from the install "
                          f"(stilt/met/{_BDYFILES}: {exc}); reinstall stilt, or give "
                          "MetConfig(roughness=...) a table or a constant") from None
    (lat0, lon0, dlat, dlon, nlat, nlon), default, _ = _parse_ascdata(
        cfg_text, f"stilt/met/{_BDYFILES}/ASCDATA.CFG")
    z0 = _parse_rouglen(data.decode("ascii"), nlat, nlon, f"stilt/met/{_BDYFILES}/ROUGLEN.ASC")
    z0.flags.writeable = False
    name = f"{SHIPPED_NAME}, sha256 {hashlib.sha256(data).hexdigest()[:12]}"
    return RoughnessTable(lat0, lon0, dlat, dlon, z0, default, name)


def roughness_source(value: float | str | Path | None) -> float | RoughnessTable:
    """What ``MetConfig.roughness`` names: a constant z0 (m) or a table read from a file.

    Parameters
    ----------
    value : float, str, Path or None
        A positive number (m), a path (see :func:`read_roughness`), or None for the table
        stilt ships (:func:`shipped_roughness`).

    Returns
    -------
    float or RoughnessTable

    Raises
    ------
    ConfigError
        A non-positive number or an unreadable file.
    """
    if value is None:
        return shipped_roughness()
    if isinstance(value, (int, float, np.floating)) and not isinstance(value, bool):
        z0 = float(value)
        if not (np.isfinite(z0) and z0 > 0):
            raise ConfigError(f"roughness={value!r}: expected a positive length in m or the "
                              "path of an ASCDATA.CFG / ROUGLEN.ASC")
        return z0
    try:
        return roughness_source(float(str(value)))
    except ValueError:
        return read_roughness(value)
