"""One exception family for stilt; each exception names its cause.

The Fortran core never stops the process: it returns integer status codes, and
:func:`raise_for_status` turns them into these exceptions with the context the caller knows
(file, record, receptor, ...).
"""

from __future__ import annotations

# Status codes of fortran/stilt_kinds.f90 (tests/test_core.py checks they agree with the core).
STATUS_OK = 0
STATUS_BAD_ARGUMENT = 1
STATUS_BAD_CHECKSUM = 2
STATUS_OUT_OF_RANGE = 3
STATUS_NOT_FINITE = 4

_STATUS_TEXT = {
    STATUS_BAD_ARGUMENT: "invalid argument passed to the core",
    STATUS_BAD_CHECKSUM: "checksum mismatch",
    STATUS_OUT_OF_RANGE: "value out of range",
    STATUS_NOT_FINITE: "NaN or infinite value",
}


class StiltError(Exception):
    """Base class of every error stilt raises on purpose."""


class ConfigError(StiltError, ValueError):
    """A configuration value, parameter name or receptor is invalid."""


class MetError(StiltError):
    """Meteorology cannot be used: missing, truncated, corrupt or not covering what is needed."""


class FootprintError(StiltError, ValueError):
    """Particles cannot make a footprint: empty, malformed, or with NaN/infinite positions."""


class MissingDependencyError(StiltError, ImportError):
    """An optional dependency needed for this request (e.g. pyproj) is not installed."""


class CoreError(StiltError, RuntimeError):
    """The Fortran core returned a non-zero status."""


def raise_for_status(status: int, context: str, exc: type[StiltError] = CoreError) -> None:
    """Raise ``exc`` when a core status code is not zero.

    Parameters
    ----------
    status : int
        Status code returned by a ``stilt._core`` routine.
    context : str
        What was being done, naming the file, record or object involved.
    exc : type of StiltError, optional
        Exception class to raise.

    Raises
    ------
    StiltError
        The given class, with the context and the meaning of the code.
    """
    if int(status) != STATUS_OK:
        text = _STATUS_TEXT.get(int(status), f"unknown core status {int(status)}")
        raise exc(f"{context}: {text}")
