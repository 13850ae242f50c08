"""Finding the ARL met files a simulation needs (R-STILT / PYSTILT file naming).

A :class:`MetConfig` names a directory and a file-name pattern: either an ``strftime`` pattern
(``"%Y%m%d.%Hz.hrrra"``) with the time resolution of the files (``file_tres="6h"``), or a fixed
name (``"oct1618.BIN"``). :meth:`MetConfig.find_files` returns the files covering the period
``[t + n_hours, t]`` (or ``[t, t + n_hours]`` forward), in time order, with the times each holds,
and raises :class:`~stilt.errors.MetError` naming the missing file or time otherwise.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from stilt.errors import ConfigError, MetError

__all__ = ["MetConfig", "MetFile", "parse_tres"]

_TRES = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]+)\s*$")
_UNITS = {"min": 1, "mins": 1, "minute": 1, "minutes": 1, "m": 1, "h": 60, "hr": 60,
          "hrs": 60, "hour": 60, "hours": 60, "d": 1440, "day": 1440, "days": 1440}


def parse_tres(tres: str | int | float | np.timedelta64) -> np.timedelta64:
    """Parse a file time resolution (``"6 hours"``, ``"1h"``, ``360`` minutes, timedelta64)."""
    if isinstance(tres, np.timedelta64):
        out = tres.astype("timedelta64[m]")
    elif isinstance(tres, (int, float)) and not isinstance(tres, bool):
        out = np.timedelta64(int(tres), "m")
    else:
        m = _TRES.match(str(tres))
        if not m or m.group(2).lower() not in _UNITS:
            raise ConfigError(f"met file_tres {tres!r}: expected e.g. '6 hours', '1h', '30min'")
        out = np.timedelta64(int(float(m.group(1)) * _UNITS[m.group(2).lower()]), "m")
    if out <= np.timedelta64(0, "m"):
        raise ConfigError(f"met file_tres {tres!r}: must be positive")
    return out


@dataclass(frozen=True)
class MetFile:
    """One met file and the valid times it holds."""

    path: Path
    times: np.ndarray  #: datetime64[m], increasing


def _default_lister(path: Path) -> np.ndarray:
    from stilt.met import arl

    return np.asarray(arl.arl_times(path), dtype="datetime64[m]")


@dataclass(frozen=True)
class MetConfig:
    """Where the met files are and how they are named.

    Parameters
    ----------
    directory : str or Path
        Folder holding the files.
    file_format : str
        ``strftime`` pattern of the file names (R-STILT ``met_file_format``), or a fixed name.
    file_tres : str, optional
        Time span between consecutive files (R-STILT ``met_file_tres``, default ``"6 hours"``);
        unused for a fixed name.
    n_min : int, optional
        Minimum number of files required (R-STILT ``n_met_min``).
    subgrid_buffer : float, optional
        Extra fraction of the particle extent added around the met window.
    roughness : float, str or Path, optional
        Surface roughness length z0 where the files carry no ``RGHS``: a constant in m, or a
        HYSPLIT ``ASCDATA.CFG`` / ``ROUGLEN.ASC`` table sampled at every met grid node
        (:mod:`stilt.met.roughness`; relative paths are relative to the project). Default
        None: the global 1-degree table stilt ships (HYSPLIT's ``bdyfiles`` ``ROUGLEN.ASC``,
        the table the reference binary reads), so runs have the surface of HYSPLIT-STILT
        runs. ``0.2`` gives one constant 0.2 m everywhere (stilt's default before it shipped
        the table; it changes the stable mixed-layer height by up to ~10 % on files without
        10-m winds).
    """

    directory: str | Path
    file_format: str
    file_tres: str | int | float | np.timedelta64 = "6 hours"
    n_min: int = 1
    subgrid_buffer: float = 0.2
    roughness: float | str | Path | None = None
    time_lister: Callable[[Path], np.ndarray] | None = field(default=None, repr=False,
                                                             compare=False)

    def __post_init__(self) -> None:
        """Check the file pattern, time resolution and minimum file count."""
        if not str(self.file_format).strip():
            raise ConfigError("MetConfig.file_format is empty")
        if self.is_pattern:
            parse_tres(self.file_tres)
        if self.n_min < 1:
            raise ConfigError(f"MetConfig.n_min={self.n_min}: must be >= 1")
        if isinstance(self.roughness, (int, float)) and not isinstance(self.roughness, bool):
            from stilt.met.roughness import roughness_source

            roughness_source(self.roughness)  # a table path is read when the run needs it

    @property
    def is_pattern(self) -> bool:
        """Whether file_format is a strftime pattern (contains ``%``)."""
        return "%" in str(self.file_format)

    def candidate_paths(self, t_start: np.datetime64, t_end: np.datetime64) -> list[Path]:
        """File names that may hold times between t_start and t_end (either order).

        The period is widened by one file step on each side so that the bracketing met times
        (and R-STILT's extra file at a boundary) are included; duplicates are removed.
        """
        directory = Path(self.directory)
        if not self.is_pattern:
            return [directory / str(self.file_format)]
        tres = parse_tres(self.file_tres)
        lo = np.datetime64(min(t_start, t_end), "m")
        hi = np.datetime64(max(t_start, t_end), "m")
        epoch = np.datetime64("1970-01-01T00:00", "m")
        first = epoch + ((lo - epoch) // tres) * tres - tres
        names: list[Path] = []
        t = first
        while t <= hi + tres:
            name = t.astype("datetime64[s]").item().strftime(str(self.file_format))
            path = directory / name
            if path not in names:
                names.append(path)
            t = t + tres
        return names

    def find_files(self, t_receptor: np.datetime64, n_hours: float) -> list[MetFile]:
        """Find the met files covering the run, in time order.

        Parameters
        ----------
        t_receptor : datetime64
            Release (receptor) time.
        n_hours : float
            Run duration, negative backward.

        Returns
        -------
        list of MetFile
            Existing files (symlinks to the same file counted once) that hold the times
            bracketing every moment of ``[t_receptor + n_hours, t_receptor]``.

        Raises
        ------
        MetError
            No file at all, fewer than ``n_min`` files, or a period not covered (first/last
            time missing, or a gap between consecutive met times larger than the usual spacing),
            naming the files and times.
        """
        t0 = np.datetime64(t_receptor, "m")
        t1 = t0 + np.timedelta64(int(round(n_hours * 60)), "m")
        lo, hi = min(t0, t1), max(t0, t1)
        lister = self.time_lister or _default_lister
        found: list[MetFile] = []
        seen: set[str] = set()
        missing: list[Path] = []
        for path in self.candidate_paths(t0, t1):
            if not path.is_file():
                missing.append(path)
                continue
            real = os.path.realpath(path)
            if real in seen:
                continue
            seen.add(real)
            times = np.sort(np.asarray(lister(path), dtype="datetime64[m]"))
            if times.size == 0:
                raise MetError(f"met file {path} holds no valid time")
            found.append(MetFile(path, times))
        if not found:
            raise MetError(
                f"no met file found for {lo} .. {hi} in {self.directory} with file_format "
                f"{self.file_format!r} (looked for: {', '.join(p.name for p in missing)})"
            )
        found.sort(key=lambda f: f.times[0])
        # keep the files that hold a time inside the period or the ones bracketing it
        all_times = np.unique(np.concatenate([f.times for f in found]))
        before = all_times[all_times <= lo]
        after = all_times[all_times >= hi]
        if before.size == 0:
            raise MetError(
                f"met files do not reach back to {lo} (earliest time {all_times[0]} in "
                f"{found[0].path}); missing file for that time? looked for "
                f"{', '.join(str(p) for p in missing) or 'no other candidates'}"
            )
        if after.size == 0:
            raise MetError(
                f"met files do not reach forward to {hi} (latest time {all_times[-1]} in "
                f"{found[-1].path}); missing file for that time? looked for "
                f"{', '.join(str(p) for p in missing) or 'no other candidates'}"
            )
        t_first, t_last = before[-1], after[0]
        used = [f for f in found if f.times[-1] >= t_first and f.times[0] <= t_last]
        if len(used) < self.n_min:
            raise MetError(f"only {len(used)} met file(s) cover {lo} .. {hi}, "
                           f"n_min = {self.n_min}: {', '.join(str(f.path) for f in used)}")
        window = all_times[(all_times >= t_first) & (all_times <= t_last)]
        check_gaps(window, [f for f in used])
        return used


def check_gaps(times: np.ndarray, files: Sequence[MetFile]) -> None:
    """Raise MetError when consecutive met times are further apart than the usual spacing.

    The usual spacing is the most common difference between consecutive times of the files;
    a gap (e.g. a missing file in a series) names the times on both sides and their files.
    """
    if times.size < 2:
        return
    steps = np.concatenate([np.diff(f.times) for f in files if f.times.size > 1]
                           or [np.diff(times)])
    if steps.size == 0:
        steps = np.diff(times)
    values, counts = np.unique(steps, return_counts=True)
    usual = values[np.argmax(counts)]
    gaps = np.nonzero(np.diff(times) > usual)[0]
    if gaps.size:
        a, b = times[gaps[0]], times[gaps[0] + 1]

        def owner(t: np.datetime64) -> str:
            return next((str(f.path) for f in files if t in f.times), "?")

        raise MetError(f"met gap: no data between {a} ({owner(a)}) and {b} ({owner(b)}); "
                       f"the files are {usual.astype(int)} min apart otherwise")
