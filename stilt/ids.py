"""Simulation ids, safe names and paths kept inside the project.

Ids are ``{met}_{YYYYMMDDHHMM}_{location}``. Every id and name that becomes part of a path
(met names, footprint names, scene ids) must match ``^[A-Za-z0-9][A-Za-z0-9._-]*$`` without
``..``, and every path built from them is resolved and checked to stay inside its root.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

from stilt.errors import ConfigError

__all__ = ["check_name", "simulation_id", "safe_path", "NAME_PATTERN"]

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_MAX_NAME = 200


def check_name(name: Any, what: str, allow_underscore: bool = True) -> str:
    """Return ``name`` when it is safe to use in a file name, else raise.

    Parameters
    ----------
    name : str
    what : str
        What the name is (for the message), e.g. ``"footprint name"``.
    allow_underscore : bool, optional
        Met names may not contain ``_`` (it separates the parts of a simulation id).

    Raises
    ------
    ConfigError
        Empty, too long, a separator, ``..``, a leading dot or another character outside
        ``A-Z a-z 0-9 . _ -``.
    """
    text = str(name) if name is not None else ""
    bad = (not NAME_PATTERN.match(text) or ".." in text or len(text) > _MAX_NAME
           or (not allow_underscore and "_" in text))
    if bad:
        allowed = "letters, digits, '.', '-'" + (", '_'" if allow_underscore else "")
        raise ConfigError(f"{what} {name!r} is not allowed: use {allowed}, start with a letter "
                          f"or digit, no '..', no path separators, at most {_MAX_NAME} "
                          "characters")
    return text


def simulation_id(met: str, receptor: Any) -> str:
    """The id of one receptor run on one met: ``{met}_{YYYYMMDDHHMM}_{location}``.

    Parameters
    ----------
    met : str
        Met name (a key of ``ModelConfig.mets``).
    receptor : PointReceptor, ColumnReceptor or MultiPointReceptor

    Returns
    -------
    str
    """
    met = (_met_name(met) if isinstance(met, str)
           else check_name(met, "met name", allow_underscore=False))
    t = receptor.time
    sim_id = (f"{met}_{t.year:04d}{t.month:02d}{t.day:02d}{t.hour:02d}{t.minute:02d}_"
              f"{receptor.location_id}")
    return check_name(sim_id, "simulation id")


@functools.lru_cache(maxsize=256)
def _met_name(met: str) -> str:
    """A met name checked once (a million simulation ids share a few met names)."""
    return check_name(met, "met name", allow_underscore=False)


def safe_path(root: str | Path, *parts: str) -> Path:
    """``root / parts...`` resolved, refusing anything that leaves ``root``.

    Raises
    ------
    ConfigError
        The resolved path is not inside the resolved root (``..``, absolute parts, symlinks
        pointing out).
    """
    base = Path(root).resolve()
    path = base.joinpath(*parts).resolve()
    if path != base and not path.is_relative_to(base):
        raise ConfigError(f"path {'/'.join(parts)!r} leaves the folder {base}")
    return path
