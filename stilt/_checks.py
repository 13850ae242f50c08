"""Small input checks shared by the user-facing constructors (receptors, grids, config)."""

from __future__ import annotations

import math
from typing import Any

from stilt.errors import ConfigError


def finite_float(value: Any, what: str) -> float:
    """Convert ``value`` to a finite float or raise a ConfigError naming it.

    Parameters
    ----------
    value : Any
        The value given by the user (number or numeric string).
    what : str
        What the value is, as the message should name it (e.g. ``"line 3 longitude"``).

    Returns
    -------
    float
        The value as a finite float.

    Raises
    ------
    ConfigError
        ``"<what>: <value> is not a number"`` or ``"... is not a finite number"``.
    """
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{what}: {value!r} is not a number") from None
    if not math.isfinite(out):
        raise ConfigError(f"{what}: {value!r} is not a finite number")
    return out
