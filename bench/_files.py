"""Writing the reduced reference runs that bench scripts leave for the tests."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import xarray as xr


def write_test_data(ds: xr.Dataset, target: Path,
                    encoding: Mapping[str, Mapping[str, object]] | None = None) -> None:
    """Write ``ds`` to ``target`` (netCDF, zlib level 9) through a temporary file and a rename,
    and say so; ``encoding`` adds to the compression of named variables (e.g. packing)."""
    enc = {v: {"zlib": True, "complevel": 9} for v in ds.data_vars}
    for name, extra in (encoding or {}).items():
        enc[name] = {**enc[name], **extra}
    tmp = target.with_suffix(".tmp")
    ds.to_netcdf(tmp, encoding=enc)
    tmp.replace(target)
    print("wrote", target, flush=True)
