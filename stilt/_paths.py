"""The one "stays inside" check for every path stilt writes under a project's output folder.

:func:`inside` resolves the folders of a path (following any symbolic links on the way) and
refuses the path when they lead out of the output folder, or when the path itself is a
symbolic link, dangling or not: SQLite, ``open`` and ``mkdir`` would otherwise write at the
link's target, outside the project. The index and its side files, the plots folder and the
Slurm run folders go through it; simulation folders go through :func:`stilt.ids.safe_path`
and publish by renaming over the final name, which replaces a link instead of following it.
"""

from __future__ import annotations

import os
from pathlib import Path

from stilt.errors import ConfigError

__all__ = ["inside", "checked_if_inside", "UnsafePathError"]


class UnsafePathError(ConfigError):
    """A path stilt would write leads out of the output folder (a symbolic link)."""


def inside(root: str | Path, *parts: str | Path, what: str = "path") -> Path:
    """``root / parts...``, checked to stay inside ``root``.

    Parameters
    ----------
    root : str or Path
        The output folder (itself may be reached through links).
    *parts : str or Path
        The path below it.
    what : str, optional
        What the path is, for the message (e.g. ``"index"``).

    Returns
    -------
    Path
        The path, with its folders resolved.

    Raises
    ------
    UnsafePathError
        A folder on the way leads out of ``root``, or the path itself is a symbolic link.
    """
    base = Path(root).resolve()
    path = Path(root).joinpath(*parts)
    if path.is_symlink():
        raise UnsafePathError(
            f"{what} {path} is a symbolic link (to {os.readlink(path)}); stilt writes under "
            f"the output folder only to real files and folders: remove the link")
    folder = path.parent.resolve()
    full = folder / path.name
    if not (full == base or folder == base or folder.is_relative_to(base)):
        raise UnsafePathError(
            f"{what} {path}: its folder leads out of the output folder {base} (to {folder}, "
            "through a symbolic link); stilt writes only inside it: remove the link")
    return full


def checked_if_inside(root: str | Path, path: str | Path, what: str = "path") -> Path:
    """``path`` (a user's choice, anywhere), checked with :func:`inside` when it goes through
    ``root``: a path that enters the output folder must not leave it again by a link."""
    base = Path(root).resolve()
    full = Path(os.path.abspath(path))
    for folder in (full.parent, *full.parent.parents):
        real = folder.resolve()
        if real == base or real.is_relative_to(base):
            return inside(base, real.relative_to(base), full.relative_to(folder), what=what)
    return full  # outside the project: the user's own choice
