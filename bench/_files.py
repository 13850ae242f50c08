"""Writing the reduced reference runs that bench scripts leave for the tests."""

from __future__ import annotations

from pathlib import Path

import xarray as xr


def write_test_data(ds: xr.Dataset, target: Path) -> None:
    """Write ``ds`` to ``target`` (netCDF, zlib level 9) through a temporary file and a rename,
    and say so."""
    tmp = target.with_suffix(".tmp")
    ds.to_netcdf(tmp, encoding={v: {"zlib": True, "complevel": 9} for v in ds.data_vars})
    tmp.replace(target)
    print("wrote", target, flush=True)
