"""Atomic file writes: a temporary name in the destination folder, fsync, then a rename.

Every file stilt publishes (simulation outputs, status records, configs, receptor tables, ARL
files, plots) is written through :func:`atomic_path` or :func:`write_atomic`, so a reader or a
crash sees either the old file or the whole new one, never a part. The temporary name is
``.<name>.<host>.<pid>.<random>.tmp`` in the same folder (same file system, so the rename is
atomic); names starting with ``.`` and ending in :data:`TEMP_SUFFIX` are what
``stilt.simulation.cleanup_temp`` removes and what readers of output folders skip.

The data are flushed to disk (``fsync``) before the rename, and the folder after it where the
platform can (POSIX), so a power loss cannot leave an empty file under the final name.
"""

from __future__ import annotations

import errno
import os
import secrets
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["TEMP_SUFFIX", "atomic_path", "is_temp_name", "publish", "temp_path", "write_atomic"]

TEMP_SUFFIX = ".tmp"

# folder fsync is refused by some file systems (and all of Windows): nothing to flush there
_NO_DIR_SYNC = {errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EBADF, errno.EACCES,
                errno.EISDIR, errno.EPERM}


def temp_path(final: str | os.PathLike[str]) -> Path:
    """A fresh temporary name beside ``final`` (the file itself is not created).

    Parameters
    ----------
    final : str or path-like
        The file the temporary one will become.

    Returns
    -------
    pathlib.Path
        ``.<name>.<host>.<pid>.<random>.tmp`` in the folder of ``final``: unique across
        hosts sharing the folder, processes and threads.
    """
    final = Path(final)
    host = socket.gethostname().replace(os.sep, "_") or "host"
    return final.with_name(f".{final.name}.{host}.{os.getpid()}.{secrets.token_hex(4)}"
                           f"{TEMP_SUFFIX}")


def is_temp_name(name: str) -> bool:
    """Whether a file name is one of :func:`temp_path`'s (or an older stilt temporary file)."""
    return name.startswith(".") and name.endswith(TEMP_SUFFIX)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDWR | getattr(os, "O_BINARY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_folder(folder: Path) -> None:
    """Flush a folder's entries (the rename) to disk where the platform allows it."""
    if os.name != "posix":
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError as exc:
        if exc.errno in _NO_DIR_SYNC:
            return
        raise
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in _NO_DIR_SYNC:
            raise
    finally:
        os.close(fd)


def publish(tmp: str | os.PathLike[str], final: str | os.PathLike[str]) -> None:
    """Flush a finished temporary file to disk, rename it to ``final``, flush the folder.

    Parameters
    ----------
    tmp : str or path-like
        The written file, in the folder of ``final``.
    final : str or path-like
        Its name once published (replaced if it exists).
    """
    _fsync_file(Path(tmp))
    os.replace(tmp, final)
    _fsync_folder(Path(final).parent)


@contextmanager
def atomic_path(final: str | os.PathLike[str]) -> Iterator[Path]:
    """Write ``final`` atomically: yield a temporary path to write (and check), then publish.

    The folder is created if needed. When the ``with`` body returns, the temporary file is
    flushed to disk and renamed to ``final`` (replacing it), and the folder is flushed. When
    the body raises, the temporary file is removed and ``final`` is left as it was.

    Parameters
    ----------
    final : str or path-like
        The file to write.

    Yields
    ------
    pathlib.Path
        The temporary path; the body must create the file there (e.g. ``to_netcdf(tmp)``).

    Examples
    --------
    >>> with atomic_path("out/run_traj.nc") as tmp:  # doctest: +SKIP
    ...     ds.to_netcdf(tmp)
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(final)
    try:
        yield tmp
        publish(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)


def write_atomic(final: str | os.PathLike[str], data: bytes | str) -> Path:
    """Write bytes (or text, as UTF-8) to ``final`` atomically (see :func:`atomic_path`).

    Parameters
    ----------
    final : str or path-like
        The file to write; replaced if it exists.
    data : bytes or str
        The whole content; text is encoded as UTF-8 with its line ends as given.

    Returns
    -------
    pathlib.Path
        ``final``.
    """
    payload = data.encode("utf-8") if isinstance(data, str) else data
    with atomic_path(final) as tmp, open(tmp, "xb") as handle:
        handle.write(payload)
    return Path(final)
