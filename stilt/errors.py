"""One exception family for stilt; each exception names its cause.

The Fortran core never stops the process: it returns integer status codes, and
:func:`raise_for_status` turns them into these exceptions with the context the caller knows
(file, record, receptor, ...).
"""

from __future__ import annotations

from typing import Any, ClassVar

# Status codes of fortran/stilt_kinds.f90 (tests/test_packaging.py,
# test_core_status_codes_match_python, checks they agree with the core).
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


def short_repr(value: Any, limit: int = 80) -> str:
    """``repr(value)`` cut to about ``limit`` characters, without building a huge string.

    Containers are summarised by type and length, so a value expanded from aliases (or any
    other large value) never makes an error message grow with it.
    """
    if isinstance(value, (list, tuple, set, frozenset, dict)):
        text = f"<{type(value).__name__} of {len(value)} item(s)>"
        if len(value) <= 8:
            parts = []
            for item in value.items() if isinstance(value, dict) else value:
                parts.append(f"{short_repr(item[0], 20)}: {short_repr(item[1], 20)}"
                             if isinstance(value, dict) else short_repr(item, 20))
                if sum(len(p) for p in parts) > limit:
                    return text
            inner = ", ".join(parts)
            return {"list": f"[{inner}]", "tuple": f"({inner})",
                    "dict": "{" + inner + "}"}.get(type(value).__name__, text)
        return text
    if isinstance(value, str) and len(value) > limit:
        return repr(value[:limit]) + f"... ({len(value)} characters)"
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def not_utf8(path: Any, where: str) -> ConfigError:
    """The error for a text file that is not UTF-8: the line and the first bad byte."""
    from pathlib import Path

    try:
        data = Path(path).read_bytes()
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        return ConfigError(f"{where} line {line}: byte 0x{data[exc.start]:02x} is not UTF-8 "
                           "text (save the file as UTF-8)")
    except OSError as exc:
        return ConfigError(f"{where}: cannot be read ({exc.strerror})")
    return ConfigError(f"{where}: is not UTF-8 text (save the file as UTF-8)")


class StiltError(Exception):
    """Base class of every error stilt raises on purpose.

    ``failure`` is the reason class a simulation that fails with this error is recorded
    under (the index's ``reason``, ``stilt status``): each subclass names its own, so the
    class of a failure is decided by the exception type, never by its message.
    """

    failure: ClassVar[str] = "ERROR"


class ConfigError(StiltError, ValueError):
    """A configuration value, parameter name or receptor is invalid."""

    failure = "CONFIG"


class MetError(StiltError):
    """Meteorology cannot be used: missing, truncated, corrupt or not covering what is needed."""

    failure = "MET"


class MetMissingError(MetError):
    """The met files a run needs are not there: no file name matches, the files found
    leave part of the run uncovered (a file missing from the series), or a file found was
    removed before it was read. Failure class ``MET_MISSING``."""

    failure = "MET_MISSING"


class MetCoverageError(MetError):
    """The met there does not cover the run: the receptor is outside the met grid (or in its
    edge band), or outside the met times, or a read asks for records outside a file. Failure
    class ``MET_COVERAGE``."""

    failure = "MET_COVERAGE"


class FootprintError(StiltError, ValueError):
    """Particles cannot make a footprint: empty, malformed, or with NaN/infinite positions."""


class MissingDependencyError(StiltError, ImportError):
    """An optional dependency needed for this request (e.g. pyproj) is not installed."""


class CoreError(StiltError, RuntimeError):
    """The Fortran core returned a non-zero status."""

    failure = "CORE"


class WorkerStartError(StiltError, RuntimeError):
    """A worker process of the local pool ended before it was ready for work (its main
    module or its initializer failed): no simulation is recorded against it."""


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
