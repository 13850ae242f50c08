"""stilt: an open HYSPLIT-STILT-compatible Lagrangian transport core with Python orchestration.

Public names are imported lazily (PEP 562), so ``import stilt`` does no work and pulls in no
heavy dependency until a name is used.
"""

from __future__ import annotations

import importlib
from typing import Any

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "read_arl": "stilt.met.arl",
    "write_arl": "stilt.met.arl",
    "MetError": "stilt.errors",
    "StiltError": "stilt.errors",
    "run_trajectories": "stilt.transport",
    "MetConfig": "stilt.met.discovery",
    "calc_footprint": "stilt.footprint",
    "calc_footprints": "stilt.footprint",
    "write_footprint": "stilt.footprint",
    "Grid": "stilt.footprint",
    "ConfigError": "stilt.errors",
    "Model": "stilt.model",
    "ModelConfig": "stilt.config",
    "FootprintConfig": "stilt.config",
    "ExecutionConfig": "stilt.config",
    "PointReceptor": "stilt.receptors",
    "ColumnReceptor": "stilt.receptors",
    "MultiPointReceptor": "stilt.receptors",
    "read_receptors": "stilt.receptors",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from stilt._version import get_version

        return get_version()
    if name == "_core":  # ``from stilt import _core`` asks here before it imports
        from stilt._load_core import load_core

        return load_core()
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'stilt' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
