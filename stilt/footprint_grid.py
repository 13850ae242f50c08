"""The footprint grid: one type for the config (``footprints.<name>.grid``) and the footprints.

:class:`Grid` holds what the user writes (bounds in degrees, resolution in projection units,
projection) and checks it; :meth:`Grid.extent` resolves it into the cells a footprint has
(longitudes wrapped across the antimeridian, projected corners, PYSTILT's cell count,
docs/physics.md §10.7), which is also what the cell budget counts.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from typing import Any

from stilt._checks import finite_float
from stilt.errors import ConfigError, MissingDependencyError

__all__ = ["Grid", "GridExtent", "DEFAULT_CELL_BUDGET", "GRID_KEYS"]

#: largest footprint (cells x hourly layers) accepted without raising the budget
DEFAULT_CELL_BUDGET = 50_000_000
#: the fields of a grid, as config.yaml and the footprint files' attributes name them
GRID_KEYS = ("xmin", "xmax", "ymin", "ymax", "xres", "yres", "projection")
_LONGLAT_ALIASES = {"EPSG:4326", "WGS84", "OGC:CRS84"}


@dataclass(frozen=True)
class Grid:
    """A footprint grid: bounds, resolution and projection.

    Parameters
    ----------
    xmin, xmax, ymin, ymax : float
        Bounds in longitude/latitude degrees, also for projected grids (their corners are
        projected, as R-STILT does). Longitudes may be in -180..180 or 0..360; the output
        axis keeps the convention of ``xmin``. A grid crossing the antimeridian is written
        with ``xmax > 180`` (170 to 190), ``xmin < -180`` (-190 to -170) or, on lon/lat
        grids, ``xmin >= 0 > xmax`` (170 to -170); its longitude axis is contiguous from
        ``xmin``.
    xres, yres : float
        Cell size in projection units (degrees for lon/lat grids, usually metres otherwise).
    projection : str, optional
        PROJ string or ``EPSG:`` code; anything but lon/lat needs the optional ``pyproj``.

    Raises
    ------
    ConfigError
        When a value is not finite, a resolution is not positive, or a minimum is not below
        its maximum.
    """

    xmin: float
    xmax: float
    ymin: float
    ymax: float
    xres: float
    yres: float
    projection: str = "+proj=longlat"

    def __post_init__(self) -> None:
        """Check and normalise the fields (floats, finite, ordered bounds)."""
        for field in GRID_KEYS[:6]:
            value = finite_float(getattr(self, field), f"Grid {field}")
            object.__setattr__(self, field, value)
        for field in ("xres", "yres"):
            if getattr(self, field) <= 0:
                raise ConfigError(f"Grid {field} = {getattr(self, field)} must be > 0")
        if not isinstance(self.projection, str) or not self.projection.strip():
            raise ConfigError(f"Grid projection {self.projection!r} is not a PROJ string or code")
        across = self.is_longlat and self.xmax < 0.0 <= self.xmin  # e.g. 170 to -170
        if not (self.xmin < self.xmax or across):
            raise ConfigError(
                f"Grid needs xmin < xmax, got xmin = {self.xmin}, xmax = {self.xmax} (write a "
                "grid that crosses the antimeridian as 170..190, -190..-170 or 170..-170)"
            )
        if not self.ymin < self.ymax:
            raise ConfigError(f"Grid needs ymin < ymax, got ymin = {self.ymin}, "
                              f"ymax = {self.ymax}")

    @classmethod
    def from_any(cls, grid: Any, where: str = "grid") -> Grid:
        """A Grid from a Grid, a mapping of :data:`GRID_KEYS` or an object with those fields.

        Raises
        ------
        ConfigError
            An unknown or missing key (naming ``where``), or a bad value.
        """
        if isinstance(grid, Grid):
            return grid
        if not hasattr(grid, "keys"):
            grid = {k: getattr(grid, k) for k in GRID_KEYS if hasattr(grid, k)}
        unknown = [k for k in grid if k not in GRID_KEYS]
        if unknown:
            raise ConfigError(f"{where}: unknown key {unknown[0]!r} (a grid has "
                              f"{', '.join(GRID_KEYS)})")
        missing = [k for k in GRID_KEYS[:6] if k not in grid]
        if missing:
            raise ConfigError(f"{where}: missing {missing[0]!r} (needs xmin, xmax, ymin, ymax, "
                              "xres, yres)")
        return cls(**grid)

    @property
    def is_longlat(self) -> bool:
        """Whether the grid is in longitude/latitude degrees (``+proj=longlat`` or EPSG:4326)."""
        proj = self.projection.strip()
        return "+proj=longlat" in proj or proj.upper() in _LONGLAT_ALIASES

    @property
    def shape(self) -> tuple[int, int]:
        """(ny, nx): the cells of a footprint on this grid (projected grids need pyproj)."""
        extent = self.extent()
        return extent.ny, extent.nx

    def extent(self) -> GridExtent:
        """The grid resolved into cells (docs/physics.md §10.7).

        Raises
        ------
        ConfigError
            Longitudes spanning 360 degrees or more, corners that do not project to a box,
            or no whole cell.
        MissingDependencyError
            A projected grid without ``pyproj``.
        """
        xmin, xmax, ymin, ymax = self.xmin, self.xmax, self.ymin, self.ymax
        wrapped, transformer = False, None
        if self.is_longlat:
            xmin, xmax, wrapped = _longitudes(self)
        else:
            transformer = _transformer(self.projection)
            cx, cy = transformer.transform([xmin, xmax], [ymin, ymax])
            xmin, xmax = float(min(cx)), float(max(cx))
            ymin, ymax = float(min(cy)), float(max(cy))
            if not (all(map(math.isfinite, (xmin, xmax, ymin, ymax))) and xmin < xmax
                    and ymin < ymax):
                raise ConfigError(f"Grid corners do not project to a box in {self.projection!r}")
        nx = _cell_count(xmin, xmax, self.xres)
        ny = _cell_count(ymin, ymax, self.yres)
        if nx < 1 or ny < 1:
            raise ConfigError(
                f"Grid {self} holds no whole cell ({nx} x {ny}): resolution larger than the "
                "extent"
            )
        return GridExtent(xmin, xmax, ymin, ymax, nx, ny, wrapped, transformer)

    def check_budget(self, layers: int, budget: int, knob: str,
                     extent: GridExtent | None = None) -> None:
        """Refuse a footprint of ``layers`` layers on this grid above ``budget`` cells.

        Parameters
        ----------
        layers : int
            Time layers of the footprint (1 when time-integrated).
        budget : int
            Largest number of cells (x layers) allowed.
        knob : str
            The setting that raises the budget, named in the message.
        extent : GridExtent, optional
            The grid's :meth:`extent`, when already resolved.

        Raises
        ------
        ConfigError
            ``grid of NX x NY cells x L layers = N cells exceeds the budget of B ...``.
        """
        extent = extent or self.extent()
        cells = extent.nx * extent.ny * layers
        if cells > budget:
            raise ConfigError(
                f"grid of {extent.nx} x {extent.ny} cells x {layers} layers = {cells:,} cells "
                f"exceeds the budget of {budget:,} (the cell budget; check that xres/yres are "
                f"in the grid's units, e.g. degrees, coarsen them, time-integrate or raise "
                f"{knob})"
            )


@dataclass(frozen=True)
class GridExtent:
    """A grid resolved into cells: bounds in projection units (longitudes on 0..360 when
    ``wrapped``), cell counts, and the lon/lat -> projection transformer (None on lon/lat)."""

    xmin: float
    xmax: float
    ymin: float
    ymax: float
    nx: int
    ny: int
    wrapped: bool
    transformer: Any


def _longitudes(grid: Grid) -> tuple[float, float, bool]:
    """Longitude bounds of a lon/lat grid: -180..180 for a global one, 0..360 (wrapped) for
    one across the antimeridian, else as given."""
    xmin, xmax = grid.xmin, grid.xmax
    if ((180 - xmin) - (-180 - xmax)) % 360 == 0:
        return -180.0, 180.0, False
    if xmax < xmin or xmax > 180 or xmin < -180:
        xmin = ((xmin % 360) + 360) % 360
        xmax = ((xmax % 360) + 360) % 360
        if not xmin < xmax:
            raise ConfigError(f"Grid longitudes {grid.xmin}..{grid.xmax} span 360 degrees or more")
        return xmin, xmax, True
    return xmin, xmax, False


def _cell_count(lo: float, hi: float, res: float) -> int:
    """Count the whole cells from lo to hi (PYSTILT's tolerance on the quotient, §10.7)."""
    quotient = (hi - lo) / res
    scale = max(abs(lo), abs(hi), abs(hi - lo))
    return math.floor(quotient + 16 * sys.float_info.epsilon * scale / res)


def _transformer(projection: str) -> Any:
    """A lon/lat -> ``projection`` pyproj Transformer."""
    try:
        from pyproj import Transformer
    except ImportError:
        raise MissingDependencyError(
            f"the footprint grid projection {projection!r} is not lon/lat: projected grids "
            "need the optional dependency pyproj (pip install 'stilt[proj]')"
        ) from None
    try:
        return Transformer.from_crs("EPSG:4326", projection, always_xy=True)
    except Exception as err:  # pyproj.exceptions.CRSError and friends
        raise ConfigError(
            f"Grid projection {projection!r} is not understood by PROJ: {err}"
        ) from None
