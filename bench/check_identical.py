"""Check that a change to the core leaves the particles bit-identical.

Usage:
    check_identical.py save DIR [--case NAME...]
    check_identical.py compare DIR [--case NAME...]
    check_identical.py list

Options:
    --case NAME  run only these cases (default: all)

``save`` runs every case with ``stilt.run_trajectories`` and writes each full output Dataset
to ``DIR/<case>.nc``; ``compare`` runs them again and compares each variable, coordinate and
attribute (except the package version) with the saved one, bit for bit (NaN where NaN). Run
``save`` before a change meant to keep the results and ``compare`` after it; ``compare`` prints
the largest |difference| of each variable that differs and exits with status 1 if any does.

The cases cover the real NGM file of the oracle (../shared/met/oct1618.BIN, with and without
turbulence, with transport errors, a column receptor with the plume dilution, two threads) and
synthetic met of several vertical systems and field sets, with other receptors, and particles
leaving a small grid.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from docopt import docopt

SHARED = Path(os.environ.get("STILT_SHARED", Path(__file__).resolve().parents[1].parent
                             / "shared"))
COLS = ["time", "indx", "long", "lati", "zagl", "foot", "mlht", "pres", "dens", "samt", "sigw",
        "tlgr", "temp", "shtf", "zsfc", "wout", "zloc", "dmas", "sphu", "rhfr", "temz", "tcld",
        "dswf", "whtf", "rain", "crai", "lcld", "solw", "icdx", "zcfx"]
NGM = {"time": "1995-10-17T18:00", "latitude": 40.0, "longitude": -90.0, "altitude": 10.0}
ERRORS = {"winderrtf": 3, "siguverr": 1.5, "tluverr": 60.0, "zcoruverr": 500.0,
          "horcoruverr": 40.0, "sigzierr": 20.0, "tlzierr": 60.0, "horcorzierr": 40.0}


def _ngm() -> Any:
    import stilt

    return stilt.MetConfig(SHARED / "met", "oct1618.BIN")


def _synth(vertical: str, surface: str, nx: int = 60, ny: int = 60) -> xr.Dataset:
    from stilt.met.synthetic import synthetic_met

    return synthetic_met("2023-07-15T12:00", hours=8, nx=nx, ny=ny, vertical=vertical,
                         surface=surface)


SYNTH_REC = {"time": "2023-07-15T19:00", "latitude": 40.3, "longitude": -101.2,
             "altitude": 50.0}
#: name -> (met factory, receptor, run_trajectories keyword arguments)
CASES: dict[str, tuple[Any, Any, dict[str, Any]]] = {
    "ngm_turb": (_ngm, NGM, {"n_hours": -6, "numpar": 200, "seed": 42}),
    "ngm_noturb": (_ngm, NGM, {"n_hours": -12, "numpar": 20, "seed": 42, "nturb": 1}),
    "ngm_errors": (_ngm, dict(NGM, latitude=42.5, longitude=-95.0),
                   dict({"n_hours": -6, "numpar": 100, "seed": 3}, **ERRORS)),
    "ngm_column_hnf": (_ngm, dict(NGM, altitude=[0.0, 800.0]),
                       {"n_hours": -4, "numpar": 100, "seed": 5, "hnf_plume": True,
                        "outdt": 10}),
    "ngm_threads2": (_ngm, NGM, {"n_hours": -3, "numpar": 150, "seed": 9, "threads": 2}),
    "synth_sigma_hrrr": (lambda: _synth("sigma", "hrrr"), SYNTH_REC,
                         {"n_hours": -6, "numpar": 150, "seed": 1}),
    "synth_pressure_gdas": (lambda: _synth("pressure", "gdas"),
                            dict(SYNTH_REC, latitude=39.6, altitude=300.0),
                            {"n_hours": -6, "numpar": 150, "seed": 2}),
    "synth_wrf_wrf": (lambda: _synth("wrf", "wrf"), SYNTH_REC,
                      {"n_hours": -5, "numpar": 100, "seed": 4, "delt": 0, "tratio": 0.5}),
    "synth_height_nam": (lambda: _synth("height", "nam"),
                         [dict(SYNTH_REC, altitude=20.0), dict(SYNTH_REC, latitude=40.6,
                                                               altitude=600.0)],
                         {"n_hours": -5, "numpar": 100, "seed": 6}),
    "synth_small_grid_leaving": (lambda: _synth("sigma", "gdas", nx=14, ny=14),
                                 dict(SYNTH_REC, latitude=40.0, longitude=-101.5),
                                 {"n_hours": -7, "numpar": 100, "seed": 10, "outdt": 15}),
    "synth_hybrid_ngm_forward": (lambda: _synth("hybrid", "ngm"),
                                 dict(SYNTH_REC, time="2023-07-15T13:00"),
                                 {"n_hours": 5, "numpar": 100, "seed": 8, "nturb": 1}),
}


def run_case(name: str) -> xr.Dataset:
    """Run one case and return its output Dataset."""
    import stilt

    met, rec, kw = CASES[name]
    return stilt.run_trajectories(rec, met(), varsiwant=COLS, **kw)


def differences(new: xr.Dataset, old: xr.Dataset) -> list[str]:
    """What differs between two output Datasets (empty when bit-identical)."""
    out = []
    for name in sorted(set(new.variables) | set(old.variables)):
        if name not in new.variables or name not in old.variables:
            out.append(f"{name}: only in one of them")
            continue
        a, b = new[name].values, old[name].values
        if a.shape != b.shape or a.dtype != b.dtype:
            out.append(f"{name}: shape/dtype {a.shape} {a.dtype} vs {b.shape} {b.dtype}")
        elif not np.array_equal(a, b, equal_nan=a.dtype.kind == "f"):
            d = np.abs(a.astype(float) - b.astype(float))
            both = np.isfinite(d)
            nan_moved = int(np.count_nonzero(np.isnan(a) != np.isnan(b)))
            out.append(f"{name}: max |diff| {np.max(d[both]) if both.any() else 0:.3g}, "
                       f"{int(np.count_nonzero(d[both]))} values differ, {nan_moved} NaN moved")
    for key in sorted(set(new.attrs) | set(old.attrs)):
        a, b = (np.atleast_1d(d.attrs.get(key, "")).tolist() for d in (new, old))
        if key != "stilt_version" and a != b:
            out.append(f"attribute {key}: {new.attrs.get(key)!r} vs {old.attrs.get(key)!r}")
    return out


def main() -> None:
    """Save or compare the cases."""
    args = docopt(__doc__)
    if args["list"]:
        print("\n".join(CASES))
        return
    names = args["--case"] or list(CASES)
    folder = Path(args["DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    bad = False
    for name in names:
        ds = run_case(name)
        path = folder / f"{name}.nc"
        if args["save"]:
            ds.to_netcdf(path)
            print(f"{name}: saved {ds.sizes['time']} x {ds.sizes['indx']}")
            continue
        with xr.open_dataset(path) as old:
            diff = differences(ds, old.load())
        print(f"{name}: " + ("bit-identical" if not diff else "DIFFERS"))
        for line in diff:
            print(f"    {line}")
        bad = bad or bool(diff)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
