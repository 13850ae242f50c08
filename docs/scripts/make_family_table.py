"""Write docs/_static/validation/families.md: stilt against hycs_std on every met family.

Usage:
    python docs/scripts/make_family_table.py

Runs stilt on each column case of tests/column_met.py and compares with the binary's rows in
tests/data/binary_columns (written by bench/binary_columns.py): without turbulence the largest
difference of each printed column over the kept times; with turbulence the 95th percentile of
the relative difference of sigw (also beyond half its print unit, 0.0005 m/s) and tlgr at the
binary's particle heights, mlht, and the foot
of particles below 8 m. Needs no ../shared.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import xarray as xr

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))

import stilt  # noqa: E402
from column_met import (CASES, NOTURB_HOURS, TURB_HOURS, TURB_NUMPAR, TURB_ROWS,  # noqa: E402
                        column_met_as_read, receptor)

DATA = REPO / "tests" / "data" / "binary_columns"
OUT = REPO / "docs" / "_static" / "validation" / "families.md"
COLS = ["time", "indx", "zagl", "foot", "mlht", "pres", "dens", "sigw", "tlgr", "temp", "long",
        "lati", "zsfc"]
FAMILY = {1: "sigma", 2: "pressure", 3: "height", 4: "hybrid", 5: "WRF-hybrid"}
SIGW_HALF_UNIT = 5e-4  # m/s: half the binary's print unit of sigw


def _noturb(name: str, ref: xr.Dataset, met: xr.Dataset) -> dict[str, float]:
    ours = stilt.run_trajectories(receptor(name), met, n_hours=NOTURB_HOURS,
                                  numpar=5, seed=42, varsiwant=COLS, nturb=1)
    out = {}
    for col in ("temp", "pres", "dens", "mlht"):
        o = np.array([float(ours[col].sel(time=float(t), indx=1))
                      for t in ref["noturb_time"].values])
        b = ref[f"noturb_{col}"].values
        out[col] = float(np.max(np.abs(o / b - 1.0)) if col == "mlht" else np.max(np.abs(o - b)))
    return out


def _turb(name: str, ref: xr.Dataset, met: xr.Dataset) -> dict[str, float]:
    ours = stilt.run_trajectories(receptor(name), met, n_hours=TURB_HOURS,
                                  numpar=TURB_NUMPAR, seed=42, varsiwant=COLS)
    ours = ours.isel(time=slice(0, TURB_ROWS))
    z = ours["zagl"].values.ravel()
    ok = np.isfinite(z)
    order = np.argsort(z[ok])
    bz = ref["zagl"].values
    out = {}
    for col in ("sigw", "tlgr"):
        pred = np.interp(bz, z[ok][order], ours[col].values.ravel()[ok][order])
        b = ref[col].values
        out[col] = float(np.percentile(np.abs(pred - b) / np.maximum(np.abs(b), 1e-9), 95))
        if col == "sigw":  # beyond half the print unit (the binary prints 3 decimals)
            off = np.maximum(np.abs(pred - b) - SIGW_HALF_UNIT, 0.0)
            out["sigw_print"] = float(np.percentile(off / np.maximum(np.abs(b), 1e-9), 95))
    out["foot"] = float(np.nanmean(ours["foot"].values.ravel()[z < 8.0])
                        / ref["foot"].values[bz < 8.0].mean())
    return out


def main() -> None:
    """Compare every case and write the table."""
    lines = ["| case | vertical (KSYS) | surface fields | temp K | pres hPa | dens kg/m3 | "
             "mlht rel. | sigw p95 rel. (beyond half a print unit) | T_L p95 rel. | foot ratio |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for name in sorted(CASES):
        case, ref = CASES[name], xr.open_dataset(DATA / f"{name}.nc").load()
        with tempfile.TemporaryDirectory() as tmp:
            met = column_met_as_read(name, Path(tmp))   # what the binary read
            a, b = _noturb(name, ref, met), _turb(name, ref, met)
        lines.append(f"| {name} | {FAMILY[case.ksys]} ({case.ksys}) | {' '.join(case.surface)} "
                     f"| {a['temp']:.3f} | {a['pres']:.3f} | {a['dens']:.4f} | "
                     f"{a['mlht']:.1e} | {b['sigw']:.4f} ({b['sigw_print']:.4f}) | {b['tlgr']:.4f} | "
                     f"{b['foot']:.4f} |")
        print(lines[-1], flush=True)
    OUT.write_text("\n".join(lines) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
