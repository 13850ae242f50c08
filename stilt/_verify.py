"""A cheap check that a published output file is whole: it opens and its variables have the
expected dimensions.

Outputs are checked when they are published (the file just written reads back) and whenever
they are counted complete (a file truncated or damaged later is not complete: its simulation is
run again). Opening a netCDF-4 file reads its HDF5 superblock, which records the end of the
file as written, so a truncated file fails here without reading any data.
"""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from stilt.errors import StiltError

__all__ = ["output_problem", "OutputError", "check_output", "notice", "writing", "WriteError"]

#: the variable each output must hold, and the dimensions it ends with
# the variable each kind must have and the trailing dims it may have (trajectory files: the
# (indx, time) layout, or (time, indx) as written before it)
_EXPECTED = {"trajectory": ("foot", (("indx", "time"), ("time", "indx"))),
             "footprint": ("foot", (("lat", "lon"),))}


class OutputError(StiltError, OSError):
    """An output file cannot be read (truncated, damaged, or not what stilt writes). Failure
    class ``IO``."""

    failure = "IO"


def notice(message: str) -> None:
    """One line for the user on stderr: something stilt handled on its own (skipped, repaired)."""
    print(f"stilt: {message}", file=sys.stderr)


def output_problem(path: str | Path, kind: str,
                   attrs: dict[str, Any] | None = None) -> str | None:
    """What is wrong with an output file, or None when it is whole.

    Parameters
    ----------
    path : str or Path
    kind : {"trajectory", "footprint"}
    attrs : dict, optional
        Filled with the file's global attributes while it is open (one open for both).

    Returns
    -------
    str or None
        One line (e.g. ``"cannot be opened (NetCDF: HDF error)"``), or None.
    """
    import netCDF4

    name, layouts = _EXPECTED[kind]
    try:
        with netCDF4.Dataset(path) as ds:
            var = ds.variables.get(name)
            if var is None:
                return f"has no variable {name!r}"
            if not any(tuple(var.dimensions[-len(d):]) == d for d in layouts):
                return f"variable {name!r} has dimensions {var.dimensions}, expected " + \
                       " or ".join(f"(..., {', '.join(d)})" for d in layouts)
            sizes = {d: len(ds.dimensions[d]) for d in var.dimensions}
            for other in ds.variables.values():  # every variable on these dims agrees
                for d, n in zip(other.dimensions, other.shape):
                    if d in sizes and n != sizes[d]:
                        return f"variable {other.name!r} has {n} {d}, {name!r} has {sizes[d]}"
            if var.size:
                var[tuple(n - 1 for n in var.shape)]  # the last value reads back
            if attrs is not None:
                attrs.update({k: ds.getncattr(k) for k in ds.ncattrs()})
    except FileNotFoundError:
        return "is missing"
    except (OSError, RuntimeError, ValueError, IndexError, KeyError) as exc:
        text = (exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc))
        return f"cannot be read ({text or type(exc).__name__}: truncated or damaged)"
    return None


def check_output(path: str | Path, kind: str) -> None:
    """Raise :class:`OutputError` naming the file when it is not whole."""
    problem = output_problem(path, kind)
    if problem is not None:
        raise OutputError(f"{kind} file {path} {problem}")


class WriteError(StiltError, OSError):
    """Writing an output failed for a reason of the file system (full, quota, permissions);
    the message names the path. Failure class ``IO``."""

    failure = "IO"


_WHY = {errno.ENOSPC: "no space left on device", errno.EDQUOT: "disk quota exceeded",
        errno.EACCES: "permission denied", errno.EPERM: "permission denied",
        errno.EROFS: "permission denied (read-only file system)"}


def filesystem_reason(exc: OSError) -> str | None:
    """The words for an OSError the file system raised (no space, quota, permission,
    read-only file system), or None for any other error."""
    return _WHY.get(exc.errno or 0)


def os_error_detail(exc: OSError) -> str:
    """The library's words of a failed write on one short line: its first line, cut before
    the first parenthesis when that line is long (HDF5 appends the time, the descriptor and
    the buffer)."""
    lines = (exc.strerror or str(exc)).strip().splitlines()
    text = lines[0] if lines else type(exc).__name__
    if len(text) > 80 and " (" in text:
        text = text.split(" (", 1)[0]
    return text


def disk_full(path: Path) -> bool:
    """Whether the file system holding ``path`` has (almost) no space left for this user
    (less than 1 MiB, or no inode)."""
    folder = Path(path).parent
    try:
        st = os.statvfs(folder)
    except OSError:
        return False
    return st.f_bavail * st.f_frsize < 1024 * 1024 or st.f_favail == 0


@contextmanager
def writing(path: str | Path) -> Iterator[None]:
    """Turn a failed write of ``path`` into a :class:`WriteError` that says why and where.

    An OSError with a file-system errno (no space, quota, permission, read-only) is named as
    such. The netCDF library reports a full disk as ``RuntimeError: NetCDF: HDF error`` while
    writing and as "Permission denied" when it cannot create the file, so a RuntimeError, a
    permission error or an OSError without an errno while the file system is full is
    reported as no space left. The library's detail (HDF5's may run over several lines) is
    cut to its first clause.
    """
    try:
        yield
    except WriteError:
        raise
    except OSError as exc:
        code = exc.errno or 0
        if code in (0, errno.EACCES, errno.EPERM) and disk_full(Path(path)):
            code = errno.ENOSPC
        why = _WHY.get(code)
        if why is None:
            raise
        err = WriteError(f"{why}: cannot write {path} ({os_error_detail(exc)})")
        err.errno = code
        raise err from exc
    except RuntimeError as exc:
        if not disk_full(Path(path)):
            raise
        err = WriteError(f"no space left on device: cannot write {path} ({exc})")
        err.errno = errno.ENOSPC
        raise err from exc
