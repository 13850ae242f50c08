"""ARL horizontal grids: grid index <-> latitude/longitude, map factors, grid spacing.

An :class:`ArlGrid` holds the 12 projection parameters of an ARL index record
(docs/physics.md §2.1, §2.2, in file order) and the grid size. The arithmetic runs in the
Fortran core (``fortran/stilt_grid.f90``), the same code the transport uses, so that Python
and the core always agree.

Grid coordinates are 1-based real indices: ``x`` along NX (west to east), ``y`` along NY
(south to north); point (1, 1) is the first value of a record.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from stilt.errors import MetError, raise_for_status

#: The 12 ARL grid parameters, in index-record order (attribute names of the met Dataset).
GRID_PARAMETERS: tuple[str, ...] = (
    "pole_lat", "pole_lon", "ref_lat", "ref_lon", "grid_size_km", "orient", "tang_lat",
    "sync_xp", "sync_yp", "sync_lat", "sync_lon", "reserved",
)

_KINDS = {1: "latlon", 2: "polar_stereographic", 3: "lambert", 4: "mercator"}
_WRAPS = {0: "", 1: "global", 2: "north", 3: "south"}


def f7_round(value: float) -> float:
    """Round a grid parameter to what HYSPLIT's F7 header field keeps.

    The writer picks the decimals from the magnitude (docs/physics.md §2.1): F7.2 from
    1000, F7.3 from 100, F7.4 from 10, F7.5 from 1, F7.6 from 0, and one digit fewer for
    negative values.

    Parameters
    ----------
    value : float
        The parameter.

    Returns
    -------
    float
        The value a reader gets back from the ARL header.
    """
    v = float(value)
    if v >= 1000 or v <= -1000:
        decimals = 2 if -1000 < v else 1
    elif v >= 100:
        decimals = 3
    elif v >= 10:
        decimals = 4
    elif v >= 1:
        decimals = 5
    elif v >= 0:
        decimals = 6
    elif v > -1:
        decimals = 5
    elif v > -10:
        decimals = 4
    elif v > -100:
        decimals = 3
    else:
        decimals = 2
    return float(round(v, decimals)) + 0.0


def _as_float_array(a: npt.ArrayLike) -> np.ndarray:
    return np.asarray(a, dtype=np.float64)


@dataclasses.dataclass(frozen=True, kw_only=True)
class ArlGrid:
    """An ARL horizontal grid: the 12 index-record parameters plus NX and NY.

    Conformal grids (``grid_size_km > 0``) are on a sphere of radius 6371.2 km;
    ``tang_lat`` alone selects the projection (+-90 polar stereographic, 0 Mercator,
    otherwise Lambert conformal tangent at ``tang_lat``), the scale is true at ``ref_lat``,
    ``ref_lon`` is the meridian parallel to the grid's y axis (when ``orient`` = 0),
    ``orient`` turns the grid y axis that many degrees east of north, and the grid point
    (``sync_xp``, ``sync_yp``) lies at (``sync_lat``, ``sync_lon``).

    On lat-lon grids (``grid_size_km`` = 0), (``sync_lat``, ``sync_lon``) is point (1, 1),
    ``ref_lat``/``ref_lon`` the spacing in degrees and (``pole_lat``, ``pole_lon``) the last
    point; geographic to grid follows HYSPLIT's GBL2XY rules exactly (see
    ``docs/met.md``, section "Map projections").

    Construct with the readable class methods :meth:`lambert`, :meth:`polar_stereographic`,
    :meth:`mercator`, :meth:`latlon`, or from Dataset attributes with :meth:`from_attrs`.
    """

    pole_lat: float
    pole_lon: float
    ref_lat: float
    ref_lon: float
    grid_size_km: float
    orient: float
    tang_lat: float
    sync_xp: float
    sync_yp: float
    sync_lat: float
    sync_lon: float
    reserved: float = 0.0
    nx: int
    ny: int

    def __post_init__(self) -> None:
        """Normalise the types and check the parameters in the core."""
        for name in GRID_PARAMETERS:
            object.__setattr__(self, name, float(getattr(self, name)))
        object.__setattr__(self, "nx", int(self.nx))
        object.__setattr__(self, "ny", int(self.ny))
        status = self._info()[3]
        if status != 0:
            raise MetError(
                f"ARL grid parameters do not describe a grid: {self.to_attrs()} "
                "(expected SIZE >= 0; positive lat-lon spacing when SIZE = 0; |TANG_LAT| <= 90 "
                "and a reference latitude with a finite scale when SIZE > 0; NX, NY >= 1)")

    # ---- construction --------------------------------------------------------------------
    @classmethod
    def from_attrs(cls, attrs: Mapping[str, Any]) -> ArlGrid:
        """Build a grid from a mapping holding the 12 parameter names plus ``nx`` and ``ny``.

        Parameters
        ----------
        attrs : mapping
            For instance the ``attrs`` of a Dataset returned by :func:`stilt.met.read_arl`.

        Returns
        -------
        ArlGrid
            The grid.

        Raises
        ------
        MetError
            When a parameter is missing.
        """
        missing = [k for k in (*GRID_PARAMETERS, "nx", "ny") if k not in attrs]
        if missing:
            raise MetError(f"grid attributes {missing} are missing (have {sorted(attrs)})")
        return cls(**{k: attrs[k] for k in (*GRID_PARAMETERS, "nx", "ny")})

    def to_attrs(self) -> dict[str, Any]:
        """Return the 12 parameters as floats and ``nx``, ``ny`` as ints (Dataset attrs)."""
        out: dict[str, Any] = {k: float(getattr(self, k)) for k in GRID_PARAMETERS}
        out["nx"] = int(self.nx)
        out["ny"] = int(self.ny)
        return out

    @property
    def params(self) -> np.ndarray:
        """The 12 parameters in index-record order, float64."""
        return np.array([getattr(self, k) for k in GRID_PARAMETERS], dtype=np.float64)

    @classmethod
    def _conformal(cls, *, tang_lat: float, ref_lat: float, ref_lon: float,
                   grid_size_km: float, nx: int, ny: int, center_lat: float | None,
                   center_lon: float | None, sync_xp: float | None, sync_yp: float | None,
                   orient: float, pole_lat: float, pole_lon: float) -> ArlGrid:
        if grid_size_km <= 0:
            raise MetError(f"grid_size_km must be positive, got {grid_size_km}")
        clat = ref_lat if center_lat is None else center_lat
        clon = ref_lon if center_lon is None else center_lon
        xp = (nx + 1) / 2.0 if sync_xp is None else sync_xp
        yp = (ny + 1) / 2.0 if sync_yp is None else sync_yp
        values = {
            "pole_lat": pole_lat, "pole_lon": _lon180(pole_lon), "ref_lat": ref_lat,
            "ref_lon": _lon180(ref_lon), "grid_size_km": grid_size_km, "orient": orient,
            "tang_lat": tang_lat, "sync_xp": xp, "sync_yp": yp, "sync_lat": clat,
            "sync_lon": _lon180(clon), "reserved": 0.0,
        }
        return cls(**{k: f7_round(v) for k, v in values.items()}, nx=nx, ny=ny)

    @classmethod
    def lambert(cls, *, tang_lat: float, ref_lon: float, grid_size_km: float, nx: int,
                ny: int, ref_lat: float | None = None, center_lat: float | None = None,
                center_lon: float | None = None, sync_xp: float | None = None,
                sync_yp: float | None = None, orient: float = 0.0) -> ArlGrid:
        """Lambert conformal grid tangent at ``tang_lat``.

        Parameters
        ----------
        tang_lat : float
            Latitude where the cone touches the sphere (degrees, not 0 or +-90).
        ref_lon : float
            Meridian parallel to the grid y axis (degrees).
        grid_size_km : float
            Grid spacing at ``ref_lat`` (km).
        nx, ny : int
            Grid size.
        ref_lat : float, optional
            Latitude of true scale; ``tang_lat`` by default.
        center_lat, center_lon : float, optional
            Earth position of grid point (``sync_xp``, ``sync_yp``); the reference point by
            default.
        sync_xp, sync_yp : float, optional
            Grid position tied to (``center_lat``, ``center_lon``); the grid centre by default.
        orient : float, optional
            Rotation of the grid y axis east of north (degrees).

        Returns
        -------
        ArlGrid
            The grid, parameters rounded as the ARL header stores them.
        """
        if abs(tang_lat) < 1e-6 or abs(abs(tang_lat) - 90) < 1e-6:
            raise MetError(f"a Lambert grid needs 0 < |tang_lat| < 90, got {tang_lat}")
        return cls._conformal(
            tang_lat=tang_lat, ref_lat=tang_lat if ref_lat is None else ref_lat,
            ref_lon=ref_lon, grid_size_km=grid_size_km, nx=nx, ny=ny, center_lat=center_lat,
            center_lon=center_lon, sync_xp=sync_xp, sync_yp=sync_yp, orient=orient,
            pole_lat=tang_lat, pole_lon=ref_lon)

    @classmethod
    def polar_stereographic(cls, *, true_lat: float, ref_lon: float, grid_size_km: float,
                            nx: int, ny: int, center_lat: float | None = None,
                            center_lon: float | None = None, sync_xp: float | None = None,
                            sync_yp: float | None = None, orient: float = 0.0) -> ArlGrid:
        """Polar stereographic grid about the pole on the side of ``true_lat``.

        Parameters
        ----------
        true_lat : float
            Latitude where ``grid_size_km`` is true (its sign picks the pole).
        ref_lon : float
            Meridian parallel to the grid y axis (degrees).
        grid_size_km : float
            Grid spacing at ``true_lat`` (km).
        nx, ny : int
            Grid size.
        center_lat, center_lon : float, optional
            Earth position of grid point (``sync_xp``, ``sync_yp``); (``true_lat``,
            ``ref_lon``) by default.
        sync_xp, sync_yp : float, optional
            Grid position tied to the centre point; the grid centre by default.
        orient : float, optional
            Rotation of the grid y axis east of north (degrees).

        Returns
        -------
        ArlGrid
            The grid, parameters rounded as the ARL header stores them.
        """
        if true_lat == 0:
            raise MetError("a polar stereographic grid needs a non-zero true_lat")
        pole = math.copysign(90.0, true_lat)
        return cls._conformal(
            tang_lat=pole, ref_lat=true_lat, ref_lon=ref_lon, grid_size_km=grid_size_km,
            nx=nx, ny=ny, center_lat=center_lat, center_lon=center_lon, sync_xp=sync_xp,
            sync_yp=sync_yp, orient=orient, pole_lat=pole, pole_lon=0.0)

    @classmethod
    def mercator(cls, *, true_lat: float, ref_lon: float, grid_size_km: float, nx: int,
                 ny: int, center_lat: float | None = None, center_lon: float | None = None,
                 sync_xp: float | None = None, sync_yp: float | None = None) -> ArlGrid:
        """Mercator grid with true scale at ``true_lat``.

        Parameters
        ----------
        true_lat : float
            Latitude where ``grid_size_km`` is true (|true_lat| < 90).
        ref_lon : float
            Central meridian (degrees); the cut of the projection is at ``ref_lon`` + 180.
        grid_size_km : float
            Grid spacing at ``true_lat`` (km).
        nx, ny : int
            Grid size.
        center_lat, center_lon : float, optional
            Earth position of grid point (``sync_xp``, ``sync_yp``); (``true_lat``,
            ``ref_lon``) by default.
        sync_xp, sync_yp : float, optional
            Grid position tied to the centre point; the grid centre by default.

        Returns
        -------
        ArlGrid
            The grid, parameters rounded as the ARL header stores them.
        """
        return cls._conformal(
            tang_lat=0.0, ref_lat=true_lat, ref_lon=ref_lon, grid_size_km=grid_size_km,
            nx=nx, ny=ny, center_lat=center_lat, center_lon=center_lon, sync_xp=sync_xp,
            sync_yp=sync_yp, orient=0.0, pole_lat=0.0, pole_lon=ref_lon)

    @classmethod
    def latlon(cls, *, lat0: float, lon0: float, dlat: float, dlon: float, nx: int,
               ny: int) -> ArlGrid:
        """Regular latitude-longitude grid whose point (1, 1) is at (``lat0``, ``lon0``).

        Longitudes are stored the way HYSPLIT reads them correctly (docs/physics.md §2.2):
        in 0..360 unless the grid straddles Greenwich, in which case ``sync_lon`` < 0 and
        ``pole_lon`` >= 0 (HYSPLIT's PRIME case).

        Parameters
        ----------
        lat0, lon0 : float
            Position of point (1, 1) (degrees).
        dlat, dlon : float
            Spacing (degrees, positive).
        nx, ny : int
            Grid size.

        Returns
        -------
        ArlGrid
            The grid.
        """
        if dlat <= 0 or dlon <= 0:
            raise MetError(f"lat-lon grid spacing must be positive, got dlat={dlat}, dlon={dlon}")
        west = _lon180(lon0)
        span = (nx - 1) * dlon
        east = west + span
        if west < 0 <= east and span < 360 - dlon / 2:
            sync_lon, pole_lon = west, east          # straddles Greenwich: PRIME
        else:
            sync_lon = west % 360.0
            pole_lon = sync_lon + span
            if pole_lon >= 360.0:
                pole_lon -= 360.0
        values = {
            "pole_lat": lat0 + (ny - 1) * dlat, "pole_lon": pole_lon, "ref_lat": dlat,
            "ref_lon": dlon, "grid_size_km": 0.0, "orient": 0.0, "tang_lat": 0.0,
            "sync_xp": 1.0, "sync_yp": 1.0, "sync_lat": lat0, "sync_lon": sync_lon,
            "reserved": 0.0,
        }
        return cls(**{k: f7_round(v) for k, v in values.items()}, nx=nx, ny=ny)

    # ---- properties ----------------------------------------------------------------------
    def _info(self) -> tuple[int, int, int, int]:
        from stilt import _core

        kind, wrap, prime, status = _core.grid_info(self.params, self.nx, self.ny)
        return int(kind), int(wrap), int(prime), int(status)

    @property
    def kind(self) -> str:
        """``"latlon"``, ``"polar_stereographic"``, ``"lambert"`` or ``"mercator"``."""
        return _KINDS[self._info()[0]]

    @property
    def global_wrap(self) -> str:
        """HYSPLIT GBLSET wrap of a lat-lon grid: ``"global"``, ``"north"``, ``"south"`` or ``""``."""
        return _WRAPS[self._info()[1]]

    @property
    def is_global(self) -> bool:
        """True for lat-lon grids that are cyclic in longitude (any GBLSET wrap type)."""
        return self._info()[1] != 0

    @property
    def prime(self) -> bool:
        """Lat-lon grids: HYSPLIT's PRIME flag (``pole_lon >= 0`` and ``sync_lon < 0``)."""
        return bool(self._info()[2])

    # ---- conversions ---------------------------------------------------------------------
    def _call(self, name: str, a: npt.ArrayLike, b: npt.ArrayLike) -> tuple[np.ndarray, ...]:
        from stilt import _core

        a_arr, b_arr = np.broadcast_arrays(_as_float_array(a), _as_float_array(b))
        shape = a_arr.shape
        *outs, status = getattr(_core, name)(
            self.params, self.nx, self.ny, np.ravel(a_arr), np.ravel(b_arr))
        raise_for_status(status, f"stilt_grid.{name} on grid {self.to_attrs()}", MetError)
        return tuple(np.reshape(o, shape) for o in outs)

    def to_latlon(self, x: npt.ArrayLike, y: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """Grid coordinates to latitude and longitude.

        Parameters
        ----------
        x, y : array_like
            1-based grid coordinates (broadcast together).

        Returns
        -------
        lat, lon : numpy.ndarray
            Degrees north and east, ``lon`` in [-180, 180).
        """
        lat, lon = self._call("grid_to_latlon", x, y)
        return lat, lon

    def to_grid(self, lat: npt.ArrayLike, lon: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """Latitude and longitude to 1-based grid coordinates (HYSPLIT's rules).

        Parameters
        ----------
        lat, lon : array_like
            Degrees north and east (longitudes in any range; broadcast together).

        Returns
        -------
        x, y : numpy.ndarray
            Grid coordinates; NaN where a point has no image (the far pole of a conic grid,
            the poles of a Mercator grid).
        """
        x, y = self._call("grid_to_xy", lat, lon)
        return x, y

    def map_factor(self, x: npt.ArrayLike, y: npt.ArrayLike) -> np.ndarray:
        """Map scale factor at grid coordinates (1 at ``ref_lat`` on conformal grids).

        On lat-lon grids this is the east-west factor 1/cos(lat); use
        :meth:`grid_spacing_m` there.

        Parameters
        ----------
        x, y : array_like
            1-based grid coordinates.

        Returns
        -------
        numpy.ndarray
            Grid length per true length, relative to the reference point.
        """
        return self._call("grid_metrics", x, y)[0]

    def grid_spacing_m(self, x: npt.ArrayLike, y: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """Return the true length (m) of one grid step in x and in y at grid coordinates.

        Parameters
        ----------
        x, y : array_like
            1-based grid coordinates.

        Returns
        -------
        dx_m, dy_m : numpy.ndarray
            ``grid_size_km * 1000 / map_factor`` on conformal grids; on lat-lon grids
            ``dlon * pi R / 180 * cos(lat)`` and ``dlat * pi R / 180`` (R = 6371.2 km).
        """
        out = self._call("grid_metrics", x, y)
        return out[1], out[2]

    def rotation(self, x: npt.ArrayLike, y: npt.ArrayLike) -> np.ndarray:
        """Angle (radians, counter-clockwise) from earth-relative to grid-relative vectors.

        Parameters
        ----------
        x, y : array_like
            1-based grid coordinates.

        Returns
        -------
        numpy.ndarray
            ``sin(tang_lat) * (lon - ref_lon) + orient`` in radians (0 on lat-lon grids).
        """
        return self._call("grid_metrics", x, y)[3]

    def winds_to_grid(self, u: npt.ArrayLike, v: npt.ArrayLike, x: npt.ArrayLike,
                      y: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """Turn earth-relative (east, north) wind components into grid-relative ones.

        Parameters
        ----------
        u, v : array_like
            Eastward and northward components.
        x, y : array_like
            Grid coordinates of the winds (broadcast against ``u``).

        Returns
        -------
        u_grid, v_grid : numpy.ndarray
            Components along the grid x and y axes (what ARL files on conformal grids store).
        """
        a = self.rotation(x, y)
        c, s = np.cos(a), np.sin(a)
        u, v = _as_float_array(u), _as_float_array(v)
        return u * c - v * s, u * s + v * c

    def winds_to_earth(self, u_grid: npt.ArrayLike, v_grid: npt.ArrayLike, x: npt.ArrayLike,
                       y: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """Turn grid-relative wind components into earth-relative (east, north) ones.

        Parameters
        ----------
        u_grid, v_grid : array_like
            Components along the grid x and y axes.
        x, y : array_like
            Grid coordinates of the winds.

        Returns
        -------
        u, v : numpy.ndarray
            Eastward and northward components.
        """
        a = self.rotation(x, y)
        c, s = np.cos(a), np.sin(a)
        ug, vg = _as_float_array(u_grid), _as_float_array(v_grid)
        return ug * c + vg * s, -ug * s + vg * c

    def wrap(self, x: npt.ArrayLike, y: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """Bring positions that left a global lat-lon grid back onto it (HYSPLIT GBLSET).

        Parameters
        ----------
        x, y : array_like
            1-based grid coordinates.

        Returns
        -------
        x, y : numpy.ndarray
            ``x`` cyclic with period NX, ``y`` reflected over the pole row; unchanged on
            grids that are not global.
        """
        x2, y2 = self._call("grid_wrap_xy", x, y)
        return x2, y2

    def latlon_mesh(self, x: npt.ArrayLike | None = None,
                    y: npt.ArrayLike | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Latitude and longitude of every point of a (sub-)grid.

        Parameters
        ----------
        x, y : array_like of int or float, optional
            1-D grid index vectors; the full grid ``1..nx`` and ``1..ny`` by default.

        Returns
        -------
        lat2d, lon2d : numpy.ndarray
            Arrays of shape ``(len(y), len(x))``.
        """
        xv = np.arange(1, self.nx + 1, dtype=np.float64) if x is None else _as_float_array(x)
        yv = np.arange(1, self.ny + 1, dtype=np.float64) if y is None else _as_float_array(y)
        if xv.ndim != 1 or yv.ndim != 1:
            raise MetError(f"latlon_mesh needs 1-D index vectors, got shapes {xv.shape}, {yv.shape}")
        xx, yy = np.meshgrid(xv, yv)
        return self.to_latlon(xx, yy)


def _lon180(lon: float) -> float:
    """Longitude folded into [-180, 180)."""
    return (float(lon) + 180.0) % 360.0 - 180.0
