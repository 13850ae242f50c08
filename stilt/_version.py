"""The installed package version (one source of truth: ``project(version:)`` in meson.build)."""

from __future__ import annotations

import functools


@functools.cache
def get_version() -> str:
    """Return the installed version of stilt (read once per process: every output file
    records it).

    Returns
    -------
    str
        The version recorded by meson-python at build time, or ``"0+unknown"`` when stilt is
        imported from a source tree that was never installed.
    """
    from importlib.metadata import PackageNotFoundError, version  # email, zipfile...: on use

    try:
        return version("stilt")
    except PackageNotFoundError:  # pragma: no cover - only for uninstalled source trees
        return "0+unknown"
