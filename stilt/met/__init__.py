"""Meteorology: ARL packed files, map projections, and the synthetic met generator."""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "read_arl": "stilt.met.arl",
    "read_arl_arrays": "stilt.met.arl",
    "write_arl": "stilt.met.arl",
    "arl_times": "stilt.met.arl",
    "arl_inventory": "stilt.met.arl",
    "describe_arl": "stilt.met.arl",
    "check_arl_values": "stilt.met.arl",
    "met_dataset": "stilt.met.arl",
    "ArlGrid": "stilt.met.projection",
    "read_roughness": "stilt.met.roughness",
    "shipped_roughness": "stilt.met.roughness",
    "generate_synthetic_met": "stilt.met.synthetic",
    "synthetic_met": "stilt.met.synthetic",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'stilt.met' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
