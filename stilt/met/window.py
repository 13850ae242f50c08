"""The met window a run needs: a sub-grid and two met times at a time, as the core takes them.

Strategy (documented in docs/transport.md): the particle loop goes through the met intervals
one at a time. For each interval only the two bracketing met times are read, and only on the
sub-grid spanned by the living particles plus a margin of twice the largest particle
displacement of the previous interval (30 m/s x the interval before the first one) and a few
cells, at least ``mgmin // 2`` cells (``stilt.transport`` sets it; :func:`window_around` builds
the window). A particle that still reaches the window edge makes the caller grow the window
(margin doubled) and redo the interval from the saved particle state, so the result never
depends on the window. Memory is therefore two met times of a sub-grid, whatever the files.

The window's met goes to the core as read, each node's data-level columns side by side
(:data:`RAW_SLOTS`); the core remaps a node onto its internal levels when a particle first
needs it (docs/transport.md, "Met window"), so only the nodes the particles visit are remapped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from stilt.errors import MetError
from stilt.met.cache import TILE, MetTile, file_key, met_cache

__all__ = ["Window", "MetSource", "RemappedMet", "SURFACE_VARS", "RAW_SLOTS", "REMAP_SLOTS",
           "window_around"]

#: stilt_met surface variable slots (1-based in Fortran, 0-based here) and the ARL names
#: (docs/physics.md §2.3) that fill them; prefixes as HYSPLIT's reader accepts. Where a file holds
#: several, the last record wins (:func:`_slot_variable`)
SURFACE_VARS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("zg", ("SHGT", "TERR")),
    ("prss", ("PRSS",)),
    ("shtf", ("SHTF", "SHT", "HFL")),
    ("lhtf", ("LHTF", "LHT", "WFL")),
    ("ustr", ("USTR", "UST")),
    ("pblh", ("PBLH", "PBL", "HPB", "MXH")),
    ("dswf", ("DSWF", "DSW")),
    ("t02m", ("T02M", "TMPS")),
    ("u10m", ("U10M",)),
    ("v10m", ("V10M",)),
    ("rain", ("TPP1", "TPP3", "TPP6", "TPPA", "TPPT", "TPP", "PRT")),
    ("crai", ("CPP1", "CPP3", "CPP6", "CPPT", "CPP", "CPR")),
    ("tcld", ("TCLD",)),
    ("lcld", ("LCLD",)),
    ("exco", ("EXCO", "EXC")),
    ("umof", ("UMOF", "UMO")),
    ("vmof", ("VMOF", "VMO")),
    ("tstr", ("TSTR", "TST")),
    ("solw", ("SOLW",)),
    ("rghs", ("RGHS",)),
)
NSFC = len(SURFACE_VARS)
NPROF = 13
#: a node's data-level columns as the core remaps them (stilt_met ``rv_*``, in this order),
#: in single precision as ARL stores them: temperature, the two winds, vertical motion,
#: specific humidity, relative humidity (%), the level pressure and the geopotential height
#: (zeros where the met has none)
RAW_SLOTS = ("temp", "u", "v", "w", "q", "rh", "pres", "hgts")
#: slots of rpar, how a source's data levels are remapped (stilt_layout ``ro_*``): the ARL
#: vertical system, the top pressure of sigma levels (hPa), the vertical-motion kind (0 none,
#: 1 hPa/s, 2 m/s), the humidity code (0 none, 1 SPHU, 2 RELH), whether the level pressures
#: and the geopotential heights are given
REMAP_SLOTS = ("ksys", "ptop", "w_kind", "humidity", "have_pres", "have_hgts")
_ACCUM_HOURS = {"TPP1": 1, "TPP3": 3, "TPP6": 6, "CPP1": 1, "CPP3": 3, "CPP6": 6}


@dataclass(frozen=True)
class Window:
    """A sub-grid: full-grid 1-based indices i0+1 .. i0+nx, j0+1 .. j0+ny."""

    i0: int
    j0: int
    nx: int
    ny: int

    def contains(self, other: Window) -> bool:
        """Whether ``other`` lies inside this window."""
        return (self.i0 <= other.i0 and self.j0 <= other.j0
                and other.i0 + other.nx <= self.i0 + self.nx
                and other.j0 + other.ny <= self.j0 + self.ny)


def pressure_field(variables: Sequence[str], ksys: int) -> str | None:
    """The upper variable whose values are the data levels' pressure (docs/physics.md §2.4).

    On terrain-following height levels (KSYS 3), and on sigma levels (KSYS 1) that carry
    PRES, the reference binary reads HGTS into the same level array as PRES, so the later of
    the two records in the file (``variables`` in record order) is taken for the pressure:
    HGTS whenever it follows PRES, or comes alone on height levels (then the column's
    pressure is the height in metres and the mixed layer collapses, as the binary's does).
    Sigma levels without PRES are hydrostatic; other systems use PRES.

    Parameters
    ----------
    variables : sequence of str
        The file's variable names in record order.
    ksys : int
        The ARL vertical system.

    Returns
    -------
    str or None
        ``"PRES"``, ``"HGTS"`` or None (no pressure data: hydrostatic from the levels).
    """
    names = [v for v in variables if v in ("PRES", "HGTS")]
    if ksys == 3 or (ksys == 1 and "PRES" in names):
        return names[-1] if names else None
    return "PRES" if "PRES" in names else None


def window_around(x: np.ndarray, y: np.ndarray, margin: float, nx_full: int, ny_full: int,
                  min_cells: int = 10, wrap_x: bool = False) -> Window:
    """Window holding full-grid positions (x, y) plus ``margin`` cells, clipped to the grid.

    Global grids that wrap in x always get every column.
    """
    m = int(np.ceil(margin)) + 1
    half = max(min_cells // 2, 1)
    lo_x = int(np.floor(np.nanmin(x))) - max(m, half)
    hi_x = int(np.ceil(np.nanmax(x))) + max(m, half)
    lo_y = int(np.floor(np.nanmin(y))) - max(m, half)
    hi_y = int(np.ceil(np.nanmax(y))) + max(m, half)
    if wrap_x:
        lo_x, hi_x = 1, nx_full
    lo_x, hi_x = max(lo_x, 1), min(hi_x, nx_full)
    lo_y, hi_y = max(lo_y, 1), min(hi_y, ny_full)
    return Window(lo_x - 1, lo_y - 1, max(hi_x - lo_x + 1, 2), max(hi_y - lo_y + 1, 2))


@dataclass
class RemappedMet:
    """One met time of one window as the core takes it.

    The data-level columns and surface fields are read whole; the profiles on the internal
    levels, the turbulence and the mixed-layer height are filled by the core node by node, where
    particles need them (``done`` records how far each node is). :meth:`profiles` remaps every
    node at once, for callers that want them all.
    """

    time: np.datetime64
    window: Window
    raw: np.ndarray   #: (nd, len(RAW_SLOTS), nx, ny) data-level columns, float32, Fortran order
    sfc: np.ndarray   #: (NSFC, nx, ny) Fortran order
    vmax: float       #: fastest horizontal wind in the window, m/s
    prof: np.ndarray  #: (NPROF, nl, nx, ny) internal levels, Fortran order; set where done >= 1
    turb: np.ndarray  #: (4, nl, nx, ny) sigma_w, T_L, sigma_u, sigma_v; set where done == 2
    zi: np.ndarray    #: (nx, ny) mixed-layer height per node, m; set where done == 2
    done: np.ndarray  #: (nx, ny) int32: 0 not evaluated, 1 profiles remapped, 2 turbulence too
    ziscale: float    #: ZICONTROL factor of this met time
    lev: np.ndarray   #: the data levels' values (ARL level heights)
    rpar: np.ndarray  #: how they are remapped, packed in :data:`REMAP_SLOTS` order
    zsg: np.ndarray   #: sigma of the internal levels
    z_top: float      #: model top, m

    def profiles(self) -> np.ndarray:
        """Every node's profiles on the internal levels, remapped now as the core remaps them.

        Raises
        ------
        MetError
            When a node's surface pressure, terrain or temperature is not finite.
        """
        from stilt import _core

        prof, status = _core.met_remap(self.lev, self.rpar, self.z_top, self.zsg, self.sfc,
                                       self.raw)
        if status != 0:
            raise MetError(f"met at {self.time}: the window's fields cannot be remapped (core "
                           f"status {int(status)})")
        self.prof[...] = prof
        np.maximum(self.done, 1, out=self.done)
        return self.prof


class MetSource:
    """Met times of a run, read by window: from files (read_arl) or an in-memory Dataset.

    Parameters
    ----------
    met : xarray.Dataset or sequence of paths
        A Dataset in the layout of :func:`stilt.met.read_arl`, or ARL files in time order.
    file_times : sequence of arrays of datetime64, optional
        Valid times of each file (listed from the files when not given).

    Attributes
    ----------
    roughness : float or numpy.ndarray or None
        Roughness length z0 (m) put in the ``rghs`` slot where the met has no ``RGHS``: one
        value, or one per grid node (shape (nx, ny)); None leaves the core's default.
        Set with :meth:`set_roughness`.
    """

    def __init__(self, met: xr.Dataset | Sequence[str | Path],
                 file_times: Sequence[np.ndarray] | None = None) -> None:
        if isinstance(met, xr.Dataset):
            self.dataset: xr.Dataset | None = met
            self.paths: list[Path] = [Path(p) for p in met.attrs.get("arl_files", [])]
            self.times = np.asarray(met["time"].values, dtype="datetime64[m]")
            self.attrs = dict(met.attrs)
            self.level_values = np.asarray(met["level_value"].values, dtype=float)
            self.variables = set(map(str, met.data_vars))
            order = tuple(map(str, met.data_vars))
        else:
            from stilt.met import arl

            self.dataset = None
            self.paths = [Path(p) for p in met]
            if file_times is None:
                file_times = [arl.arl_times(p) for p in self.paths]
            self.file_times = [np.asarray(t, dtype="datetime64[m]") for t in file_times]
            self.times = np.unique(np.concatenate(self.file_times))
            self.attrs, self.level_values, order = self._header()
            self.variables = set(order)
        self.nx = int(self.attrs["nx"])
        self.ny = int(self.attrs["ny"])
        self.ksys = int(self.attrs.get("vertical_system", 1))
        self.pressure_field = pressure_field(order, self.ksys)
        self.roughness = None

    def _header(self) -> tuple[dict[str, Any], np.ndarray, tuple[str, ...]]:
        """Attributes, level values and variable names (in record order) of the first met
        time's file (read once per process and file)."""
        cache = met_cache()
        key = (("header", file_key(self._file_of(self.times[0])), self.times[0])
               if cache.enabled else None)
        kept = cache.header(key) if key else None
        if kept is None:
            head = self._read(self.times[:1], None, variables=None, header_only=True)
            kept = (dict(head.attrs), np.asarray(head["level_value"].values, dtype=float),
                    tuple(map(str, head.data_vars)))
            if key:
                cache.keep_header(key, kept)
        return dict(kept[0]), kept[1].copy(), tuple(kept[2])

    @property
    def roughness(self) -> float | np.ndarray | None:
        """Roughness length z0 (m) where the met has no ``RGHS`` (see the class notes)."""
        return self._roughness

    @roughness.setter
    def roughness(self, value: float | np.ndarray | None) -> None:
        self._roughness = value
        if value is None or np.ndim(value) == 0:
            self._rough_key: tuple[str, Any] = ("z0", value)  # the roughness in cache keys
        else:
            import hashlib

            data = np.ascontiguousarray(value, dtype=float)
            self._rough_key = ("table", data.shape, hashlib.blake2b(data.tobytes()).hexdigest())

    def set_roughness(self, source: Any) -> str:
        """Use a roughness length where the met has no ``RGHS`` (docs/physics.md §2.7).

        Parameters
        ----------
        source : float or stilt.met.roughness.RoughnessTable
            One z0 in m, or a table sampled at every grid node (floor indexing).

        Returns
        -------
        str
            What was used, for provenance: ``"RGHS"`` (the met's own field), the table's path
            or the constant.
        """
        if "RGHS" in self.variables:
            return "RGHS"
        if np.ndim(source) == 0 and not hasattr(source, "sample"):
            self.roughness = float(source)
            return f"{float(source):g} m"
        from stilt.met.projection import ArlGrid

        lat, lon = ArlGrid.from_attrs(self.attrs).latlon_mesh()
        self.roughness = np.asfortranarray(source.sample(lat, lon).T)
        return str(source.path)

    def _read(self, times: np.ndarray, window: Window | None, variables: Sequence[str] | None,
              header_only: bool = False) -> xr.Dataset:
        from stilt.met import arl

        kwargs: dict[str, Any] = {}
        if window is not None:
            kwargs["x"] = (window.i0 + 1, window.i0 + window.nx)
            kwargs["y"] = (window.j0 + 1, window.j0 + window.ny)
        if variables is not None:
            kwargs["variables"] = list(variables)
        kwargs["time"] = (times.min(), times.max())
        if header_only:
            kwargs["x"] = (1, 1)
            kwargs["y"] = (1, 1)
        # read from the first file holding the (first) time: scanning one file, not all
        return arl.read_arl(str(self._file_of(times.min())), **kwargs)

    def _file_of(self, time: np.datetime64) -> Path:
        """The first file holding the met time ``time``."""
        t = np.datetime64(time, "m")
        return next((p for p, ft in zip(self.paths, self.file_times, strict=True) if t in ft),
                    self.paths[0])

    def check_values(self, times: np.ndarray) -> None:
        """Check, before a run moves any particle, that the met of ``times`` is finite.

        Files: every record label of those periods (:func:`stilt.met.arl.check_arl_values`,
        no data decoded). A Dataset: the fields the transport cannot do without (winds,
        temperature, surface pressure and terrain where present) at those times.

        Raises
        ------
        MetError
            Naming the file or variable, the time and the level.
        """
        times = np.asarray(times, dtype="datetime64[m]")
        if self.dataset is None:
            from stilt.met import arl

            cache = met_cache()
            for path, file_times in zip(self.paths, self.file_times, strict=True):
                wanted = times[np.isin(times, file_times)]
                key = file_key(path) if cache.enabled and wanted.size else None
                todo = [t for t in wanted if not cache.checked((key, t))]
                if todo:  # each period of a file checked once per process
                    arl.check_arl_values(path, np.array(todo, dtype="datetime64[m]"))
                    for t in todo:
                        cache.mark_checked((key, t))
            return
        needed = [n for n in ("UWND", "VWND", "TEMP", "PRSS", "SHGT") if n in self.dataset]
        ds = self.dataset[needed].sel(time=times.astype("datetime64[ns]"))  # copies these only
        for name in needed:
            values = np.asarray(ds[name].values)
            bad = ~np.isfinite(values if values.dtype.kind == "f" else values.astype(float))
            if bad.any():
                first = np.argwhere(bad)[0]
                at = ", ".join(
                    f"time {np.datetime64(ds.time.values[i], 'm')}" if dim == "time"
                    else f"{dim} {ds[dim].values[i]}"
                    for dim, i in zip(ds[name].dims, first, strict=True))
                raise MetError(f"met dataset: {name} is not finite ({at}); the run needs "
                               f"finite winds, temperature and surface fields")

    def read(self, time: np.datetime64, window: Window) -> xr.Dataset:
        """All variables at one met time on one window (contract layout)."""
        if self.dataset is not None:
            ds = self.dataset.sel(time=np.datetime64(time, "ns"))
            return ds.sel(x=slice(window.i0 + 1, window.i0 + window.nx),
                          y=slice(window.j0 + 1, window.j0 + window.ny))
        ds = self._read(np.array([time], dtype="datetime64[m]"), window, variables=None)
        return ds.sel(time=np.datetime64(time, "ns"))

    def fields(self, time: np.datetime64, window: Window) -> dict[str, np.ndarray]:
        """All variables at one met time on one window as arrays, in record order.

        The values of :meth:`read` without its Dataset: surface fields ``(y, x)``, upper ones
        ``(level, y, x)``. Files are decoded by :func:`stilt.met.arl.read_arl_arrays` (no
        coordinates or attributes are built for a window the core only reads).
        """
        if self.dataset is not None:
            ds = self.read(time, window)
            return {str(v): ds[v].values for v in ds.data_vars}
        from stilt.met import arl

        t = np.datetime64(time, "m")
        arrays = arl.read_arl_arrays(self._file_of(t), x=(window.i0 + 1, window.i0 + window.nx),
                                     y=(window.j0 + 1, window.j0 + window.ny), time=(t, t))
        return {name: values[0] for name, values in arrays.data.items()}

    def remap(self, time: np.datetime64, window: Window, zsg: np.ndarray, z_top: float,
              turb: Mapping[str, Any], k10m: int = 1) -> RemappedMet:
        """Read one met time on a window for the core, which remaps it onto the internal levels.

        The core remaps a node, then evaluates its stability, mixed-layer height and turbulence
        profiles, when a particle first needs it, into the ``prof``/``turb``/``zi`` arrays
        returned here; ``turb`` only provides this time's ZICONTROL factor (key ``ziscale``).
        Met from files goes through this process's met cache (:mod:`stilt.met.cache`): the same
        values, read once per worker.

        Raises
        ------
        MetError
            When a variable the transport needs is missing, or the terrain, surface pressure,
            temperature or winds are not finite on the window.
        """
        if self.dataset is None and met_cache().enabled:
            raw, sfc, speed = self._read_cached(time, window, k10m)
        else:
            raw, sfc, speed = self._read_window(time, window, k10m)
        vmax = float(np.nanmax(speed)) if speed.size else 0.0
        nl = zsg.size
        # the core fills prof, turb and zi node by node and reads a node only once its flag
        # in done says so: they need no filling here (a window's worth of zeros was 3 ms of
        # a 200-particle simulation)
        return RemappedMet(np.datetime64(time, "m"), window, raw, sfc, vmax,
                           np.empty((NPROF, nl, window.nx, window.ny), order="F"),
                           np.empty((4, nl, window.nx, window.ny), order="F"),
                           np.empty((window.nx, window.ny), order="F"),
                           np.zeros((window.nx, window.ny), dtype=np.int32, order="F"),
                           float(turb["ziscale"]), self.level_values, self.remap_options(),
                           np.asarray(zsg, dtype=float), float(z_top))

    def remap_options(self) -> np.ndarray:
        """How this source's data levels are remapped, packed in :data:`REMAP_SLOTS` order:
        what fills the slots of :meth:`_raw_variable` says it."""
        # on terrain-following height levels the binary converts DZDT as it converts WWND,
        # as hPa/s (docs/physics.md sec. 4.3): the same path to the print unit
        w_var = self._raw_variable("w")
        w_kind = 0 if w_var is None else 2 if w_var == "DZDT" and self.ksys != 3 else 1
        # humidity: SPHU as is, or from RELH (converted by the core at each level's
        # pressure); it reduces the dry-air density and makes the data-level heights virtual
        # (the binary's mixed-layer heights on the NGM and HRRR-like oracles match at every
        # node and met time only so, docs/transport.md)
        humidity = 2 if self._raw_variable("rh") else int(self._raw_variable("q") is not None)
        values = {"ksys": self.ksys, "ptop": float(self.attrs.get("reserved", 0.0)),
                  "w_kind": w_kind, "humidity": humidity,
                  "have_pres": self._raw_variable("pres") is not None,
                  "have_hgts": self._raw_variable("hgts") is not None}
        return np.array([float(values[name]) for name in REMAP_SLOTS])

    def _read_cached(self, time: np.datetime64, window: Window,
                     k10m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`_read_window` assembled from the cached tiles, the missing ones read
        together (a window whose tiles fail is read alone: the same error as without the
        cache)."""
        cache = met_cache()
        t = np.datetime64(time, "m")
        base = (file_key(self._file_of(t)), t, int(k10m), self._rough_key)
        span_x = range(window.i0 // TILE, (window.i0 + window.nx - 1) // TILE + 1)
        span_y = range(window.j0 // TILE, (window.j0 + window.ny - 1) // TILE + 1)
        tiles = {(a, b): cache.get(base + (a, b)) for a in span_x for b in span_y}
        missing = [k for k, tile in tiles.items() if tile is None]
        if missing:
            a0, a1 = min(a for a, _ in missing), max(a for a, _ in missing)
            b0, b1 = min(b for _, b in missing), max(b for _, b in missing)
            region = Window(a0 * TILE, b0 * TILE, min((a1 + 1) * TILE, self.nx) - a0 * TILE,
                            min((b1 + 1) * TILE, self.ny) - b0 * TILE)
            try:
                arrays = self._read_window(t, region, k10m)
            except MetError:
                return self._read_window(t, window, k10m)
            for a in range(a0, a1 + 1):
                for b in range(b0, b1 + 1):
                    xs = slice(a * TILE - region.i0, min((a + 1) * TILE, self.nx) - region.i0)
                    ys = slice(b * TILE - region.j0, min((b + 1) * TILE, self.ny) - region.j0)
                    tile = MetTile(np.asfortranarray(arrays[0][:, :, xs, ys]),
                                   np.asfortranarray(arrays[1][:, xs, ys]),
                                   np.array(arrays[2][xs, ys]))
                    cache.put(base + (a, b), tile)
                    if (a, b) in tiles:
                        tiles[(a, b)] = tile
        return _assemble(window, tiles, self.level_values.size)

    def _read_window(self, time: np.datetime64, window: Window,
                     k10m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Data-level columns, surface fields and fastest wind of each node on one window."""
        met = self.fields(time, window)
        name = (f"met at {np.datetime64(time, 'm')} "
                f"({', '.join(map(str, self.paths)) or 'dataset'})")
        sfc = self._surface(met, window, k10m, name)
        for needed in ("UWND", "VWND", "TEMP"):
            if needed not in self.variables:
                raise MetError(f"{name}: variable {needed} is missing (needed for transport)")
        ground = sfc[:2]  # terrain and surface pressure (slots zg, prss)
        if not np.isfinite(ground).all():
            raise MetError(f"{name}: surface fields are not finite on the window "
                           f"x={window.i0 + 1}..{window.i0 + window.nx}, "
                           f"y={window.j0 + 1}..{window.j0 + window.ny}")
        raw = self._columns(met, window, name)
        u, v = (raw[:, RAW_SLOTS.index(c)].astype(float) for c in ("u", "v"))
        speed = (np.nanmax(np.hypot(u, v), axis=0) if u.shape[0] else
                 np.zeros((window.nx, window.ny)))
        return raw, sfc, speed

    def _surface(self, met: Mapping[str, np.ndarray], window: Window, k10m: int,
                 name: str) -> np.ndarray:
        """The surface fields of one window in :data:`SURFACE_VARS` order, in the units and
        signs the core expects, with the defaults for absent terrain, pressure and roughness."""
        sfc = np.full((NSFC, window.nx, window.ny), np.nan, order="F")
        for k, (slot, names) in enumerate(SURFACE_VARS):
            if slot in ("u10m", "v10m") and not k10m:
                continue
            var = _slot_variable(met, names, self.variables)
            if var is not None:
                values = np.asarray(met[var], dtype=float).T
                if slot in ("rain", "crai"):
                    values = values / (60.0 * _ACCUM_HOURS.get(var, 1))
                sfc[k] = values
        rghs = [s for s, _ in SURFACE_VARS].index("rghs")
        if self.roughness is not None and np.isnan(sfc[rghs]).all():
            z0 = self.roughness
            sfc[rghs] = z0 if np.ndim(z0) == 0 else z0[window.i0:window.i0 + window.nx,
                                                        window.j0:window.j0 + window.ny]
        source = str(self.attrs.get("source", "")).upper()
        if source.startswith("EC") or source.strip() in ("ETA", "EDAS"):
            sfc[2] = -sfc[2]  # these sources store the sensible heat flux positive downward
        for slot in ("zg", "prss"):
            k = [s for s, _ in SURFACE_VARS].index(slot)
            if np.isnan(sfc[k]).all():
                if slot == "zg":
                    sfc[k] = 0.0
                elif self.ksys in (1, 4):
                    raise MetError(f"{name}: surface pressure PRSS is required for "
                                   f"vertical system {self.ksys}")
                else:
                    sfc[k] = 1013.25
        return sfc

    def _columns(self, met: Mapping[str, np.ndarray], window: Window, name: str) -> np.ndarray:
        """Each node's data-level columns in :data:`RAW_SLOTS` order, (nd, slots, nx, ny)
        float32 in Fortran order: temperature and winds checked finite, each slot the met does
        not fill 0 (the core zeroes a vertical motion that is not finite). Single precision
        is the precision of ARL data; a Dataset in double precision is rounded to it."""
        nd = self.level_values.size
        # (ny, nx, slot, level) in C order is (level, slot, nx, ny) in Fortran order
        cols = np.zeros((window.ny, window.nx, len(RAW_SLOTS), nd), dtype=np.float32)
        for k, slot in enumerate(RAW_SLOTS):
            var = self._raw_variable(slot)
            if var not in met:
                if slot in ("temp", "u", "v"):
                    raise MetError(f"{name}: {var} is missing (needed for transport)")
                continue
            values = np.asarray(met[var])  # (level, y, x)
            if slot in ("temp", "u", "v"):
                bad = ~np.isfinite(values)
                if bad.any():
                    k_, j, i = np.argwhere(bad)[0]
                    raise MetError(f"{name}: {var} is missing or not finite at "
                                   f"x={window.i0 + i + 1}, y={window.j0 + j + 1}, "
                                   f"level {k_ + 1}")
            elif slot == "q":
                values = np.nan_to_num(values.astype(np.float32))
            cols[:, :, k, :] = values.transpose(1, 2, 0)
        return cols.T

    def _raw_variable(self, slot: str) -> str | None:
        """The met variable that fills a :data:`RAW_SLOTS` slot, or None (zeros)."""
        if slot == "pres":
            return self.pressure_field
        if slot == "w":
            return next((v for v in ("DZDT", "WWND") if v in self.variables), None)
        if slot == "q":  # read only without RELH (remap_options)
            return "SPHU" if "SPHU" in self.variables and "RELH" not in self.variables else None
        name = {"temp": "TEMP", "u": "UWND", "v": "VWND", "rh": "RELH", "hgts": "HGTS"}[slot]
        return name if name in self.variables else None


def _assemble(window: Window, tiles: Mapping[tuple[int, int], MetTile],
              nd: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A window's data-level columns, surface fields and node speeds, cut from the tiles
    covering it."""
    raw = np.empty((nd, len(RAW_SLOTS), window.nx, window.ny), dtype=np.float32, order="F")
    sfc = np.empty((NSFC, window.nx, window.ny), order="F")
    speed = np.empty((window.nx, window.ny))
    for (a, b), tile in tiles.items():
        x0, y0 = max(window.i0, a * TILE), max(window.j0, b * TILE)
        x1 = min(window.i0 + window.nx, a * TILE + tile.speed.shape[0])
        y1 = min(window.j0 + window.ny, b * TILE + tile.speed.shape[1])
        dst = (slice(x0 - window.i0, x1 - window.i0), slice(y0 - window.j0, y1 - window.j0))
        src = (slice(x0 - a * TILE, x1 - a * TILE), slice(y0 - b * TILE, y1 - b * TILE))
        raw[:, :, dst[0], dst[1]] = tile.raw[:, :, src[0], src[1]]
        sfc[:, dst[0], dst[1]] = tile.sfc[:, src[0], src[1]]
        speed[dst] = tile.speed[src]
    return raw, sfc, speed


def _slot_variable(met: Mapping[str, np.ndarray], names: Sequence[str],
                   available: set[str]) -> str | None:
    """The variable of ``met`` (fields in record order) that fills a slot named by ``names``:
    the last in record order.

    A variable matches a 4-character name exactly, or a shorter name as a prefix (HYSPLIT's
    reader accepts e.g. any ``SHT*`` for the heat flux). When a file holds several matches,
    the one whose record comes last wins, as in the reference binary: GDAS files carry T02M
    and, later, TMPS, and the binary takes TMPS as the ground temperature (and T02M when the
    two records are swapped; docs/met.md, "Surface fields").
    """
    exact = {n for n in names if len(n) == 4}
    prefixes = tuple(n for n in names if len(n) < 4)
    hit = None
    for var in met:
        if var in available and (var in exact or (prefixes and var.startswith(prefixes))):
            hit = var
    return hit
