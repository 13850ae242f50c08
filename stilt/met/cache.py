"""The met a worker process has already read, remapped and checked, shared by its simulations.

Simulations of a project mostly run on the same met files, at the same met times, over
overlapping sub-grids. Each worker process keeps:

- met **tiles**: one met time of one file on a block of ``TILE`` x ``TILE`` grid cells, as
  :meth:`MetSource.remap <stilt.met.window.MetSource.remap>` gives them to the core (each
  node's data-level columns, surface fields and fastest wind; the core remaps the nodes the
  particles visit). A window is assembled from the tiles it touches; the missing ones are read
  together, in one read of their bounding box. Every value is a node's own, so a window cut
  from tiles is bit-identical to one read on its own (``tests/test_met_cache.py``);
- the met periods whose values have been checked (:func:`stilt.met.arl.check_arl_values`), so
  each file is checked once per worker, and the header (grid, levels, variables) of each file.

Entries are keyed by the file (path, inode, size and times of change), the met time, whether
the 10-m winds are used and the roughness, and evicted least recently used first once their
bytes pass the budget (``execution.met_cache_mb`` in a project, :data:`DEFAULT_MB` by
default; 0 turns the cache off). The cache lives in the process: nothing is shared between
workers or written.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["MetCache", "MetTile", "met_cache", "file_key", "DEFAULT_MB", "TILE"]

#: default budget of a worker's met cache, MB
DEFAULT_MB = 256  # execution.met_cache_mb
#: tile edge in grid cells
TILE = 16
#: file headers kept
MAX_HEADERS = 1024


@dataclass(frozen=True)
class MetTile:
    """One met time on one block of grid cells, as the core takes it (Fortran order)."""

    raw: np.ndarray    #: (nd, len(RAW_SLOTS), tx, ty) data-level columns, float32
    sfc: np.ndarray    #: (NSFC, tx, ty)
    speed: np.ndarray  #: (tx, ty) fastest horizontal wind of each node's column, m/s

    @property
    def nbytes(self) -> int:
        """Bytes held by the arrays."""
        return int(self.raw.nbytes + self.sfc.nbytes + self.speed.nbytes)


class MetCache:
    """Least-recently-used store of met tiles, bounded in bytes, and the checked met periods.

    Parameters
    ----------
    max_bytes : int
        Budget of the tiles; 0 keeps nothing (every window is read and remapped again).
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = int(max_bytes)
        self.nbytes = 0
        self.hits = 0
        self.misses = 0
        self._tiles: OrderedDict[Hashable, MetTile] = OrderedDict()
        self._checked: set[Hashable] = set()
        self._headers: dict[Hashable, Any] = {}
        self._lock = threading.Lock()  # runs in threads of one process may share it

    @property
    def enabled(self) -> bool:
        """Whether anything is kept."""
        return self.max_bytes > 0

    def __len__(self) -> int:
        return len(self._tiles)

    def get(self, key: Hashable) -> MetTile | None:
        """The tile stored under ``key`` (then the most recently used), or None."""
        with self._lock:
            tile = self._tiles.get(key)
            if tile is None:
                self.misses += 1
                return None
            self._tiles.move_to_end(key)
            self.hits += 1
            return tile

    def put(self, key: Hashable, tile: MetTile) -> None:
        """Store a tile, evicting the least recently used ones beyond the budget."""
        if not self.enabled or tile.nbytes > self.max_bytes:
            return
        with self._lock:
            old = self._tiles.pop(key, None)
            if old is not None:
                self.nbytes -= old.nbytes
            self._tiles[key] = tile
            self.nbytes += tile.nbytes
            self._evict()

    def resize(self, max_bytes: int) -> None:
        """A new budget: what no longer fits is evicted, 0 empties the cache."""
        self.max_bytes = int(max_bytes)
        if not self.enabled:
            self.clear()
        with self._lock:
            self._evict()

    def _evict(self) -> None:
        while self.nbytes > self.max_bytes and self._tiles:
            _, dropped = self._tiles.popitem(last=False)
            self.nbytes -= dropped.nbytes

    def checked(self, key: Hashable) -> bool:
        """Whether the met period ``key`` has been checked in this process."""
        return self.enabled and key in self._checked

    def mark_checked(self, key: Hashable) -> None:
        """Remember that the met period ``key`` passed its check."""
        if self.enabled:
            self._checked.add(key)

    def header(self, key: Hashable) -> Any:
        """The file header stored under ``key`` (None when absent or the cache is off)."""
        return self._headers.get(key) if self.enabled else None

    def keep_header(self, key: Hashable, header: Any) -> None:
        """Store a file header (attributes, levels, variables: a few kB; at most
        :data:`MAX_HEADERS`, the oldest dropped first)."""
        if self.enabled:
            with self._lock:
                self._headers[key] = header
                while len(self._headers) > MAX_HEADERS:
                    self._headers.pop(next(iter(self._headers)))

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._tiles.clear()
            self._checked.clear()
            self._headers.clear()
            self.nbytes = 0


_CACHE = MetCache(DEFAULT_MB * 2**20)


def met_cache(max_mb: float | None = None) -> MetCache:
    """This process's met cache; with ``max_mb``, its new budget in MB (0: off).

    Lowering the budget evicts what no longer fits; 0 empties the cache.
    """
    if max_mb is not None:
        _CACHE.resize(int(float(max_mb) * 2**20))
    return _CACHE


def file_key(path: str | Path) -> tuple[str, int, int, int, int]:
    """Identity of a met file's content as the cache sees it: path, inode, times, size."""
    st = os.stat(path)
    return (str(Path(path).resolve()), st.st_ino, st.st_mtime_ns, st.st_ctime_ns, st.st_size)
