"""Footprint speed: stilt.calc_footprint against PYSTILT's, side by side in one run.

Usage:
    bench_footprint.py [--repeat N] [--no-reference] [--case NAME]...

Options:
    --repeat N      best of N runs on each side [default: 5]
    --no-reference  time stilt only
    --case NAME     only cases whose name contains NAME (repeatable)

Cases (the oracle particles of ../shared/oracle, 500 particles x 1440 one-minute rows =
720,000 rows, with the near-field plume correction included on both sides):
  * ngm hourly / ngm integrated: the NGM oracle grid, 0.1 deg, 200 x 150 cells (the issue's
    "720,000 rows onto a 0.1-degree 200x150 hourly grid", target: well under a second);
  * synth hourly: the HRRR-like oracle grid, 0.05 deg, 400 x 200 cells;
  * ngm densified: a 0.001-degree grid near the receptor, where the near-field time
    densification switches on (parity check of that branch; the reference is fed R-STILT's
    five columns, as stilt follows R there: PYSTILT's wider table makes its na.omit drop
    every inserted row);
  * ngm projected: a Lambert conformal grid of 10 km (parity check of the projected path);
  * ngm rectangular: 0.1 x 0.04 degree cells (kernel orientation when xres != yres);
  * ngm antimeridian / ngm forward: the same particles moved across the antimeridian, and
    with time negated (parity checks of longitude wrapping and of forward runs).
PYSTILT (PyPI pystilt, in bench/.venv-pystilt made by bench/_reference.py) runs in a
subprocess; both results are compared cell by cell. Each side's best of --repeat runs, wall
and CPU time (the CPU ratio holds on a busy machine), and our CPU cost per thousand particle
rows. Target (issue 16): ours at least 20x faster.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import xarray as xr

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
SHARED = Path(os.environ.get("STILT_SHARED", BENCH.parent.parent / "shared"))

NGM = SHARED / "oracle" / "ngm_oct1618" / "particles_full.nc"
SYNTH = SHARED / "oracle" / "synth_hrrrlike" / "particles_full.nc"
NGM_REC = {"time": "1995-10-17 18:00", "latitude": 40.0, "longitude": -90.0, "altitude": 10.0}
SYNTH_REC = {"time": "2023-07-16 20:00", "latitude": 40.0, "longitude": -101.5, "altitude": 10.0}
LCC = "+proj=lcc +lat_1=33 +lat_2=45 +lat_0=40 +lon_0=-90 +ellps=WGS84 +units=m +no_defs"

GRID_KEYS = ("xmin", "xmax", "ymin", "ymax", "xres", "yres", "crs")
LONLAT = "+proj=longlat"
ALL_CASES = [
    ("ngm hourly", NGM, NGM_REC, (-100, -80, 30, 45, 0.1, 0.1, LONLAT), False),
    ("ngm integrated", NGM, NGM_REC, (-100, -80, 30, 45, 0.1, 0.1, LONLAT), True),
    ("synth hourly", SYNTH, SYNTH_REC, (-116, -96, 35, 45, 0.05, 0.05, LONLAT), False),
    ("ngm densified", NGM, NGM_REC, (-90.3, -89.7, 39.7, 40.3, 0.001, 0.001, LONLAT), True),
    ("ngm projected", NGM, NGM_REC, (-100, -80, 30, 45, 10000.0, 10000.0, LCC), False),
    # rectangular cells: kernels with different node counts along x and y
    ("ngm rectangular", NGM, NGM_REC, (-100, -80, 30, 45, 0.1, 0.04, LONLAT), True),
    # the NGM particles moved 270 degrees east, onto a grid across the antimeridian
    (
        "ngm antimeridian",
        "shifted",
        dict(NGM_REC, longitude=180.0),
        (170, 190, 30, 45, 0.1, 0.1, LONLAT),
        False,
    ),
    # the NGM particles with time negated: a forward run
    ("ngm forward", "forward", NGM_REC, (-100, -80, 30, 45, 0.1, 0.1, LONLAT), False),
]


def derived_particles(kind: str, workdir: Path) -> Path:
    """Write the NGM particles moved across the antimeridian or turned into a forward run."""
    path = workdir / f"{kind}.nc"
    if not path.exists():
        ds = xr.open_dataset(NGM).load()
        if kind == "shifted":
            ds["long"] = ((ds["long"] + 270 + 180) % 360) - 180
        else:
            ds = ds.assign_coords(time=-ds["time"])
        ds.to_netcdf(path)
    return path


def run_ours(path: Path, rec: dict, grid: tuple, integrate: bool, repeat: int):
    """Best wall and CPU time of stilt.calc_footprint over ``repeat`` runs, and its result."""
    import stilt

    particles = xr.open_dataset(path).load()
    g = stilt.Grid(*grid[:6], projection=grid[6])
    rec = dict(rec, time=rec["time"].replace(" ", "T"))
    stilt.calc_footprint(particles, rec, g, time_integrate=integrate)  # warm (build, imports)
    best = best_cpu = float("inf")
    for _ in range(repeat):
        c0 = time.process_time()
        t0 = time.perf_counter()
        out = stilt.calc_footprint(particles, rec, g, time_integrate=integrate)
        best = min(best, time.perf_counter() - t0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    return best, best_cpu, out


def run_reference(
    python: Path, path: Path, rec: dict, grid: tuple, integrate: bool, repeat: int, workdir: Path
):
    """Run PYSTILT in its venv; return its timing record and footprint."""
    spec = {
        "particles": str(path),
        "receptor": rec,
        "time_integrate": integrate,
        "repeat": repeat,
        "r_columns": grid[4] < 0.01,
        "grid": dict(zip(GRID_KEYS, grid, strict=True)),
    }
    spec_path = workdir / "spec.json"
    spec_path.write_text(json.dumps(spec))
    out_path = workdir / "ref.nc"
    done = subprocess.run(
        [str(python), str(BENCH / "_pystilt_footprint.py"), str(spec_path), str(out_path)],
        capture_output=True,
        text=True,
        check=True,
    )
    info = json.loads(done.stdout.strip().splitlines()[-1])
    with xr.open_dataset(out_path) as ref:
        return info, ref["foot"].load()


def compare(ours: xr.Dataset, ref: xr.DataArray) -> str:
    """Summarise the cell-by-cell agreement of two footprints."""
    a = ours["foot"].values
    b = ref.values
    if a.shape != b.shape:
        return f"SHAPE DIFFERS ours {a.shape} reference {b.shape}"
    big = b > 1e-6 * b.max()
    rel = float(np.max(np.abs(a[big] - b[big]) / b[big])) if big.any() else 0.0
    total = abs(a.sum() - b.sum()) / b.sum()
    same = bool(np.array_equal(a > 0, b > 0))
    return f"max rel cell {rel:.1e}, total rel {total:.1e}, same non-zero cells {same}"


def main() -> None:
    """Time and compare every case, printing one row each."""
    from docopt import docopt

    opts = docopt(__doc__)
    args = SimpleNamespace(repeat=int(opts["--repeat"]), no_reference=opts["--no-reference"],
                           case=opts["--case"] or None)
    if not NGM.is_file():
        sys.exit(f"oracle particles not found under {SHARED}")
    python = None
    if not args.no_reference:
        from _reference import ensure_reference_venv

        python = ensure_reference_venv()
    print(f"best of {args.repeat} runs on each side; wall time, and CPU time in brackets")
    print(f"{'case':16s} {'rows':>7s} {'stilt s':>8s} {'PYSTILT s':>10s} {'ratio':>7s} "
          f"{'(CPU ratio)':>11s} {'us/krow':>8s}  parity")
    with tempfile.TemporaryDirectory() as tmp:
        for name, path, rec, grid, integrate in ALL_CASES:
            if args.case and not any(c in name for c in args.case):
                continue
            if isinstance(path, str):
                path = derived_particles(path, Path(tmp))
            ours_s, ours_cpu, ours = run_ours(path, rec, grid, integrate, args.repeat)
            rows = int(ours.attrs["n_particles"]) * 1440
            per_krow = 1e9 * ours_cpu / rows  # CPU microseconds per thousand particle rows
            if python is None:
                print(f"{name:16s} {rows:7d} {ours_s:8.3f} {'':>10s} {'':>7s} {'':>11s} "
                      f"{per_krow:8.1f}")
                continue
            info, ref = run_reference(python, path, rec, grid, integrate, args.repeat,
                                      Path(tmp))
            ratio = info["seconds"] / ours_s
            cpu_ratio = info["cpu_seconds"] / ours_cpu
            print(
                f"{name:16s} {info['rows']:7d} {ours_s:8.3f} {info['seconds']:10.3f} "
                f"{ratio:6.1f}x {f'({cpu_ratio:.1f}x)':>11s} {per_krow:8.1f}  "
                f"{compare(ours, ref)}",
                flush=True,
            )
    print(
        "target: stilt >= 20x faster than PYSTILT (reference time includes its near-field "
        "plume correction, as ours does); ngm hourly (720,000 rows, 0.1 deg 200x150, hourly) "
        "well under 1 s"
    )


if __name__ == "__main__":
    main()
