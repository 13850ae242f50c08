"""Finding the ARL met files a simulation needs (R-STILT / PYSTILT file naming).

A :class:`MetConfig` names a directory and a file-name pattern: an ``strftime`` pattern
(``"%Y%m%d_%H"``, ``"hysplit.%Y%m%d.%Hz.hrrra"``) stepped every ``file_tres`` through the run,
or a fixed name (``"oct1618.BIN"``). Each formatted pattern is matched against the names of
the files anywhere under the directory (docs/orchestration.md, "How met files are found"):

* a pattern with ``*``, ``?`` or ``[...]`` is a glob matched against the whole name;
* otherwise a file of exactly that name is taken, or else every file whose name starts with
  it, so ``%Y%m%d_%H`` at 18:00 finds the archive file ``20230715_18-23_hrrr``;
* a pattern containing ``/`` is matched against the path below the directory instead;
* hidden names (``.x``) and lock, backup and partial files (``*.lock``, ``*~``, ``*.part``,
  ``*.partial``, ``*.tmp``, ``*.download``, ``*.crdownload``) are ignored, and links to
  the same file count once.

:meth:`MetConfig.find_files` then reads the times inside the files and returns those that
cover ``[t + n_hours, t]`` (or ``[t, t + n_hours]`` forward), in time order, or raises
:class:`~stilt.errors.MetError` naming the missing names or times.
"""

from __future__ import annotations

import bisect
import fnmatch
import math
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from stilt.errors import ConfigError, MetError, MetMissingError

__all__ = ["MetConfig", "MetFile", "parse_tres", "IGNORED_SUFFIXES"]

_TRES = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]+)\s*$")
_UNITS = {"min": 1, "mins": 1, "minute": 1, "minutes": 1, "m": 1, "h": 60, "hr": 60,
          "hrs": 60, "hour": 60, "hours": 60, "d": 1440, "day": 1440, "days": 1440,
          "w": 10080, "week": 10080, "weeks": 10080}
_MONTHS = ("mo", "mon", "month", "months")

#: name endings of files that are never met: locks, editor backups, partial downloads
IGNORED_SUFFIXES = (".lock", "~", ".part", ".partial", ".tmp", ".download", ".crdownload")
_GLOB = re.compile(r"[*?\[]")
_EPOCH_M = np.datetime64("1970-01-01T00:00", "m")
_EPOCH_MONTH = np.datetime64("1970-01", "M")
#: how far past the run the search for a file holding the bracketing times may step
_REACH = np.timedelta64(7 * 1440, "m")


def parse_tres(tres: str | int | float | np.timedelta64) -> np.timedelta64:
    """Parse a file time resolution.

    ``"6 hours"``, ``"6h"``, ``"30min"``, ``"1d"``, ``"1 week"``, ``"1 month"`` (also
    ``"1 months"``, ``"1mo"``), a number of minutes, or a ``numpy.timedelta64``.

    Returns
    -------
    numpy.timedelta64
        In minutes (``[m]``), or in calendar months (``[M]``) for month steps.

    Raises
    ------
    ConfigError
        Unknown unit, a non-positive or fractional-month span, and ``"1M"``: upper-case M is
        month in some tools and minute in others (pandas), so it is refused; write
        ``"1 month"`` or ``"1min"``.
    """
    if isinstance(tres, np.timedelta64):
        unit = np.datetime_data(tres.dtype)[0]
        out = tres.astype("timedelta64[M]") if unit in ("M", "Y") else tres.astype(
            "timedelta64[m]")
    elif isinstance(tres, (int, float)) and not isinstance(tres, bool):
        out = np.timedelta64(int(tres), "m")
    else:
        m = _TRES.match(str(tres))
        unit = m.group(2) if m else ""
        if unit == "M":
            raise ConfigError(f"met file_tres {tres!r} is ambiguous (month or minute?): "
                              "write '1 month' or '1min'")
        if m and unit.lower() in _MONTHS:
            count = float(m.group(1))
            if count != int(count):
                raise ConfigError(f"met file_tres {tres!r}: months must be whole")
            out = np.timedelta64(int(count), "M")
        elif m and unit.lower() in _UNITS:
            out = np.timedelta64(int(float(m.group(1)) * _UNITS[unit.lower()]), "m")
        else:
            raise ConfigError(f"met file_tres {tres!r}: expected e.g. '6 hours', '1h', "
                              "'30min', '1d', '1 month'")
    if out.astype(int) <= 0:
        raise ConfigError(f"met file_tres {tres!r}: must be positive")
    return out


def _is_months(tres: np.timedelta64) -> bool:
    return np.datetime_data(tres.dtype)[0] == "M"


def _floor(t: np.datetime64, tres: np.timedelta64) -> np.datetime64:
    """``t`` rounded down to a whole number of ``tres`` since 1970-01-01 00 UTC."""
    if _is_months(tres):
        n = int(tres.astype(int))
        months = int((t.astype("datetime64[M]") - _EPOCH_MONTH).astype(int))
        return (_EPOCH_MONTH + np.timedelta64(months // n * n, "M")).astype("datetime64[m]")
    return _EPOCH_M + ((t - _EPOCH_M) // tres) * tres


def _shift(t: np.datetime64, tres: np.timedelta64, k: int) -> np.datetime64:
    """``t`` moved by ``k`` steps of ``tres`` (calendar months for month steps)."""
    if _is_months(tres):
        return (t.astype("datetime64[M]") + k * tres).astype("datetime64[m]")
    return t + k * tres


def _ignored(name: str) -> bool:
    return name.startswith(".") or name.endswith(IGNORED_SUFFIXES)


class _Listing:
    """The candidate met files under a folder: recursive, following folder links once,
    without hidden, lock, backup and partial files. Matches by name or by relative path."""

    def __init__(self, root: Path) -> None:
        self.root = root
        rels: list[str] = []
        seen_dirs: set[str] = set()
        for here, dirs, files in os.walk(root, followlinks=True):
            real = os.path.realpath(here)
            if real in seen_dirs:  # a folder link back up the tree
                dirs[:] = []
                continue
            seen_dirs.add(real)
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            rel_here = os.path.relpath(here, root)
            for name in files:
                if _ignored(name) or not os.path.isfile(os.path.join(here, name)):
                    continue
                rels.append(name if rel_here == "." else f"{rel_here}/{name}".replace(
                    os.sep, "/"))
        self.by_path = sorted(rels)
        self.by_name = sorted((r.rsplit("/", 1)[-1], r) for r in rels)
        self._cache: dict[str, list[str]] = {}

    def match(self, pattern: str) -> list[str]:
        """Relative paths of the files the formatted ``pattern`` names (module docstring)."""
        if pattern in self._cache:
            return self._cache[pattern]
        in_path = "/" in pattern
        keyed = [(r, r) for r in self.by_path] if in_path else self.by_name
        if _GLOB.search(pattern):
            out = [r for key, r in keyed if fnmatch.fnmatchcase(key, pattern)]
        else:
            keys = [key for key, _ in keyed]
            i = bisect.bisect_left(keys, pattern)
            prefix: list[str] = []
            exact: list[str] = []
            while i < len(keys) and keys[i].startswith(pattern):
                (exact if keys[i] == pattern else prefix).append(keyed[i][1])
                i += 1
            out = exact or prefix
        self._cache[pattern] = sorted(out)
        return self._cache[pattern]


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
        Folder holding the files, searched with its sub-folders (stored as a Path).
    file_format : str
        ``strftime`` pattern of the file names (R-STILT ``met_file_format``), or a fixed
        name. The formatted text is matched as the start of a file name (an exact name wins),
        or as a glob when it has ``*``, ``?`` or ``[...]``; with a ``/`` it is matched
        against the path below ``directory``. So ``"%Y%m%d_%H"`` finds HRRR archive files
        ``20230715_18-23_hrrr``.
    file_tres : str, optional
        Step at which ``file_format`` is formatted through the run (R-STILT
        ``met_file_tres``, default ``"6 hours"``): ``"1h"``, ``"6 hours"``, ``"1d"``,
        ``"1 month"``... A step shorter than the files is fine (``"1h"`` with 6-hour files);
        ``"1M"`` is refused as ambiguous. Unused for a fixed name.
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
        object.__setattr__(self, "directory", Path(self.directory))
        fmt = str(self.file_format)
        if not fmt.strip():
            raise ConfigError("MetConfig.file_format is empty")
        if fmt.startswith("/") or os.path.isabs(fmt):
            raise ConfigError(f"MetConfig.file_format {fmt!r}: must be relative to "
                              "directory (put the folder in directory)")
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

    def name_at(self, t: np.datetime64) -> str:
        """``file_format`` formatted for time ``t`` (UTC)."""
        return np.datetime64(t, "s").item().strftime(str(self.file_format))

    def _steps(self, lo: np.datetime64, hi: np.datetime64) -> Iterator[np.datetime64]:
        """Step times from one step before ``lo`` (rounded down) to one step after ``hi``."""
        if not self.is_pattern:
            yield lo
            return
        tres = parse_tres(self.file_tres)
        t = _shift(_floor(lo, tres), tres, -1)
        end = _shift(hi, tres, 1)
        while t <= end:
            yield t
            t = _shift(t, tres, 1)

    def patterns(self, t_start: np.datetime64, t_end: np.datetime64) -> list[str]:
        """The formatted names looked for between t_start and t_end (either order), each once.

        The period is widened by one ``file_tres`` step on each side so that the bracketing
        met times are included.
        """
        lo = np.datetime64(min(t_start, t_end), "m")
        hi = np.datetime64(max(t_start, t_end), "m")
        return list(dict.fromkeys(self.name_at(t) for t in self._steps(lo, hi)))

    def matching_files(self, t_start: np.datetime64, t_end: np.datetime64) -> list[Path]:
        """Existing files whose names match the pattern at some step of the period, each
        real file once (in name order of the patterns)."""
        listing = self._listing()
        out: dict[str, Path] = {}
        for pattern in self.patterns(t_start, t_end):
            for rel in listing.match(pattern):
                path = self.directory / rel
                out.setdefault(os.path.realpath(path), path)
        return list(out.values())

    def _listing(self) -> _Listing:
        directory = Path(self.directory)
        if not directory.is_dir():
            raise MetMissingError(f"met directory {directory} does not exist (or is not a "
                                  "folder)")
        return _Listing(directory)

    def find_files(self, t_receptor: np.datetime64, n_hours: float) -> list[MetFile]:
        """Find the met files covering the run, in time order.

        The pattern is formatted at every ``file_tres`` step of the run (one step more on
        each side) and matched against the files under ``directory``; when the files found do
        not yet hold a time at or before the start (after the end) of the run, the search
        steps further out, up to a week (two steps for month files), so a short step still
        finds the file whose name gives an earlier start. Which files are used is then
        decided from the times they hold.

        Parameters
        ----------
        t_receptor : datetime64
            Release (receptor) time.
        n_hours : float
            Run duration, negative backward.

        Returns
        -------
        list of MetFile
            Existing files (links to the same file counted once) that hold the times
            bracketing every moment of ``[t_receptor + n_hours, t_receptor]``.

        Raises
        ------
        MetMissingError
            No matching file, files that do not reach back or forward to the run's ends,
            fewer than ``n_min`` files, or a gap in the series (a file missing), naming the
            names looked for and the times.
        MetError
            A matched file holds no valid time or cannot be read.
        """
        t0 = np.datetime64(t_receptor, "m")
        t1 = t0 + np.timedelta64(int(round(n_hours * 60)), "m")
        lo, hi = min(t0, t1), max(t0, t1)
        found, looked = self._gather(lo, hi)
        return self._select(lo, hi, found, looked)

    def _gather(self, lo: np.datetime64,
                hi: np.datetime64) -> tuple[dict[str, MetFile], list[str]]:
        """The files whose names match at the steps of ``[lo, hi]``, reaching further out
        until they hold a time at or before ``lo`` and at or after ``hi`` (see
        :meth:`find_files`), each real file once with its times; and the names looked for
        at the run's own steps that matched no file."""
        lister = self.time_lister or _default_lister
        listing = self._listing()
        found: dict[str, MetFile] = {}
        looked: list[str] = []

        def take(t: np.datetime64, record: bool = True) -> None:
            pattern = self.name_at(t)
            rels = listing.match(pattern)
            if record and not rels and pattern not in looked:
                looked.append(pattern)
            for rel in rels:
                path = self.directory / rel
                real = os.path.realpath(path)
                if real in found:
                    continue
                times = np.sort(np.asarray(lister(path), dtype="datetime64[m]"))
                if times.size == 0:
                    raise MetError(f"met file {path} holds no valid time")
                found[real] = MetFile(path, times)

        steps = list(self._steps(lo, hi))
        for t in steps:
            take(t)
        if self.is_pattern:
            tres = parse_tres(self.file_tres)
            limit = 2 if _is_months(tres) else max(2, math.ceil(_REACH / tres))
            first, last = steps[0], steps[-1]
            for _ in range(limit):  # reach back for the file holding the time before lo
                if any(f.times[0] <= lo for f in found.values()):
                    break
                first = _shift(first, tres, -1)
                take(first, record=False)
            for _ in range(limit):  # and forward for the one holding the time after hi
                if any(f.times[-1] >= hi for f in found.values()):
                    break
                last = _shift(last, tres, 1)
                take(last, record=False)
        return found, looked

    def _select(self, lo: np.datetime64, hi: np.datetime64, found: dict[str, MetFile],
                looked: list[str]) -> list[MetFile]:
        """The files of ``found`` holding the times that bracket ``[lo, hi]``, in time order,
        checked for reach, ``n_min`` and gaps (the errors of :meth:`find_files`)."""
        what = (f"under {self.directory} with file_format {str(self.file_format)!r}"
                + (f", file_tres {self.file_tres!r}" if self.is_pattern else ""))
        names = ", ".join(looked[:6]) + (" ..." if len(looked) > 6 else "")
        if not found:
            raise MetMissingError(
                f"no met file found for {lo} .. {hi} {what} (no file name matches: {names})")
        files = sorted(found.values(), key=lambda f: (f.times[0], str(f.path)))
        all_times = np.unique(np.concatenate([f.times for f in files]))
        before = all_times[all_times <= lo]
        after = all_times[all_times >= hi]
        hint = f" No file name matches: {names}." if names else ""
        if before.size == 0:
            raise MetMissingError(
                f"met files do not reach back to {lo}: the earliest time is {all_times[0]} "
                f"in {files[0].path} ({what}); is the file for {lo} missing?{hint}")
        if after.size == 0:
            raise MetMissingError(
                f"met files do not reach forward to {hi}: the latest time is "
                f"{all_times[-1]} in {files[-1].path} ({what}); is the file for {hi} "
                f"missing?{hint}")
        t_first, t_last = before[-1], after[0]
        used = [f for f in files if f.times[-1] >= t_first and f.times[0] <= t_last]
        if len(used) < self.n_min:
            raise MetMissingError(f"only {len(used)} met file(s) cover {lo} .. {hi}, "
                                  f"n_min = {self.n_min}: "
                                  f"{', '.join(str(f.path) for f in used)}")
        window = all_times[(all_times >= t_first) & (all_times <= t_last)]
        check_gaps(window, used)
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

        raise MetMissingError(f"met gap: no data between {a} ({owner(a)}) and {b} ({owner(b)}); "
                       f"the files are {usual.astype(int)} min apart otherwise")
