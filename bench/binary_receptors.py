"""The reference binary on the validation receptors (tests/validation_cases.py), for the docs.

Usage:
    binary_receptors.py [--cases LIST] [--workers N] [--raw DIR] [--out DIR]

Options:
    --cases LIST  comma-separated case names (default: every case of tests/validation_cases.py)
    --workers N   runs at a time [default: 2]
    --raw DIR     where each run's particle rows are kept (reused when present)
                  [default: /tmp/binary_receptors_raw]
    --out DIR     where the reduced files go [default: tests/data/binary_receptors]

For each case (the two oracle cases, a 300 m tall tower, a 0-2000 m column released as the
binary's vertical line source, two CONTROL starting points at one place, and a 60-hour run, all
with the oracle's CONTROL and SETUP.CFG, i.e. R-STILT defaults) this runs hycs_std (PyPI
``pystilt`` in bench/.venv-pystilt, bench/_reference.py) with each seed of ``BINARY_SEEDS``
x ``NUMPAR`` particles (SEED = -(seed + 1), KRAND = 2, as the oracle) and keeps per seed:

- long, lati, zagl, mlht at the hourly rows and foot summed over the minutes of each hour
  (bench/binary_seeds.py ``hourly_rows``), on ``(seed, indx, time)``;
- each particle's first-minute height (``zagl_first``: the column's release heights);
- the footprint on the case grid by ``stilt.calc_footprint`` (R-STILT's algorithm, the same
  code that makes ours) from every minute of the run: time-integrated (``footprint``), without
  the first hour (``footprint_after_h1``) and for the hours of ``MAP_HOURS``
  (``footprint_hourly``); every hour on a grid coarsened to 0.5 degree (1 degree for the
  60-hour run; ``footprint_hourly_coarse``), for the hour-by-hour spatial correlation
  (tests/validation_cases.py ``footprints``).

Rows are packed and the foot and footprints quantized as bench/binary_family_ensembles.py
does (positions 0.01 degree, heights 0.1 m, 3 and 4 significant digits). Writes
``<case>.nc`` (2.7 MB for the five cases). The 500-particle, 24-hour runs took 200-500 s
each, the 60-hour ones 480-680 s, two at a time on a loaded 2-core machine (about 50 minutes
for the 20 runs).
"""

from __future__ import annotations

import multiprocessing
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import xarray as xr
from docopt import docopt

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent / "tests"))
from _files import write_test_data  # noqa: E402
from binary_family_ensembles import PACKING, particles  # noqa: E402
from binary_seeds import hourly_rows  # noqa: E402
from validation_cases import BINARY_SEEDS, CASES, NUMPAR, Case, footprints  # noqa: E402

#: columns of the summaries and of the footprint's plume-dilution correction
COLUMNS = ("time", "indx", "long", "lati", "zagl", "foot", "mlht", "samt", "sigw", "tlgr",
           "dens")
SIGNIFICANT_DIGITS = {"foot": 3, "footprint": 4, "footprint_after_h1": 4,
                      "footprint_hourly": 4, "footprint_hourly_coarse": 4}
ORACLE = {"ngm": "ngm_oct1618", "synth": "synth_hrrrlike"}


def control_text(case: Case, met_dir: Path) -> str:
    """The oracle CONTROL of the case's met with the case's time, starting point(s) (a column
    is two points at one place: the binary's vertical line source) and run length."""
    from bench_transport import SHARED

    lines = (SHARED / "oracle" / ORACLE[case.met] / "CONTROL").read_text().splitlines()
    lines = [str(met_dir) + "/" if ln.strip().startswith("../shared/") else ln
             for ln in lines]
    t = np.datetime64(case.time, "m").astype(object)
    heights = case.altitude if isinstance(case.altitude, tuple) else (case.altitude,)
    head = [f"{t.year % 100:02d} {t.month:02d} {t.day:02d} {t.hour:02d} {t.minute:02d}",
            str(len(heights))] + [f"{case.lat} {case.lon} {z}" for z in heights]
    return "\n".join(head + [f"-{case.hours}"] + lines[4:]) + "\n"


def setup_text(case: Case, seed: int) -> str:
    """The oracle SETUP.CFG with NUMPAR particles and the seed."""
    from bench_transport import SHARED

    setup = (SHARED / "oracle" / ORACLE[case.met] / "SETUP.CFG").read_text()
    for old, new in (("NUMPAR=500", f"NUMPAR={NUMPAR}"), ("MAXPAR=500", f"MAXPAR={NUMPAR}"),
                     ("SEED=-43,", f"SEED={-(seed + 1)},")):
        if old not in setup:
            raise ValueError(f"oracle SETUP.CFG of {case.met}: expected {old}")
        setup = setup.replace(old, new)
    cols = ", ".join(f"'{c}'" for c in COLUMNS)
    setup = "\n".join(f"VARSIWANT={cols}," if ln.startswith("VARSIWANT") else ln
                      for ln in setup.splitlines())
    return setup.replace("IVMAX=16", f"IVMAX={len(COLUMNS)}") + "\n"


def run_seed(name: str, seed: int, raw: Path) -> float:
    """Run the binary once and keep its rows as ``<raw>/<name>_seed<seed>.npy`` (float32,
    columns ``COLUMNS``); returns the seconds it took (0 when the file was there)."""
    import shutil
    import subprocess

    from _reference import reference_hycs_std
    from bench_transport import _met_folder

    target = raw / f"{name}_seed{seed}.npy"
    if target.exists():
        return 0.0
    case = CASES[name]
    exe = reference_hycs_std()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="hycs_") as tmp:
        run = Path(tmp)
        for aux in (exe.parent.parent.parent / "data").glob("*"):
            shutil.copy(aux, run / aux.name)
        met_dir, _, _ = _met_folder(case.met, run)
        (run / "CONTROL").write_text(control_text(case, met_dir))
        (run / "SETUP.CFG").write_text(setup_text(case, seed))
        proc = subprocess.run([str(exe)], cwd=run, capture_output=True, text=True)
        out = run / "PARTICLE_STILT.DAT"
        if proc.returncode != 0 or not out.exists():
            raise RuntimeError(f"hycs_std failed on {name} seed {seed}: {proc.stdout[-2000:]}")
        rows = np.loadtxt(out, skiprows=1, ndmin=2).astype(np.float32)
    np.save(target.with_suffix(".tmp.npy"), rows)
    target.with_suffix(".tmp.npy").replace(target)
    return time.perf_counter() - start


def reduce_seed(case: Case, rows: np.ndarray) -> xr.Dataset:
    """Hourly rows, first-minute heights and footprints of one run (module docstring)."""
    cols = {c: rows[:, k].astype(np.float64) for k, c in enumerate(COLUMNS)}
    ds = hourly_rows(cols, hours=case.hours)
    parts = particles(cols)
    ds["zagl_first"] = parts.zagl.sel(time=-1.0)
    for name, foot in footprints(case, parts).items():
        ds[name] = foot.astype(np.float32)
    return ds


def case_dataset(name: str, raw: Path) -> xr.Dataset:
    """The seeds of one case in one Dataset."""
    case = CASES[name]
    runs = [reduce_seed(case, np.load(raw / f"{name}_seed{s}.npy")) for s in BINARY_SEEDS]
    ds = xr.concat(runs, dim=xr.DataArray(list(BINARY_SEEDS), dims="seed", name="seed"))
    ds["foot"] = ds.foot.astype(np.float32)
    ds = ds.transpose("seed", "indx", "time", ...)
    ds["footprint"].attrs.update(
        units="ppm / (umol m-2 s-1)",
        long_name="time-integrated footprint of the seed's run (stilt.calc_footprint with "
                  "the plume-dilution correction, R-STILT's algorithm)")
    ds["footprint_after_h1"].attrs.update(units="ppm / (umol m-2 s-1)",
                                          long_name="the same without the first hour")
    ds["footprint_hourly"].attrs.update(
        units="ppm / (umol m-2 s-1)",
        long_name="footprint of hour map_hour before the receptor time (1: the first)")
    ds["footprint_hourly_coarse"].attrs.update(
        units="ppm / (umol m-2 s-1)",
        long_name=f"footprint of each hour, cell means over {case.coarsen} x {case.coarsen} "
                  "cells of the case grid")
    ds.attrs.update(source="hycs_std (PyPI pystilt 0.1.0a25), bench/binary_receptors.py",
                    case=name, receptor=f"{case.time} {case.lat} {case.lon} "
                    f"{case.altitude} m AGL, {case.hours} h backward", numpar=NUMPAR,
                    krand=2, namelist_seed="SEED = -(seed + 1)")
    return ds


def encoding(ds: xr.Dataset) -> dict[str, dict[str, object]]:
    """Packing of the rows (int32, NaN as the fill value) and quantization of the floats."""
    enc: dict[str, dict[str, object]] = {
        name: {"dtype": "int32", "scale_factor": scale, "_FillValue": -2**31}
        for name, scale in {**PACKING, "zagl_first": 0.1}.items()}
    enc.update({name: {"significant_digits": digits, "quantize_mode": "GranularBitRound"}
                for name, digits in SIGNIFICANT_DIGITS.items()})
    return enc


def main() -> None:
    """Run the binary for each case and seed (missing runs only) and write the files."""
    args = docopt(__doc__)
    names = args["--cases"].split(",") if args["--cases"] else list(CASES)
    raw, out = Path(args["--raw"]), Path(args["--out"])
    raw.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    # the long runs first, so that the two workers finish together
    jobs = sorted(((n, s) for n in names for s in BINARY_SEEDS), key=lambda j: -CASES[j[0]].hours)
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=int(args["--workers"]), mp_context=ctx) as pool:
        futures = {pool.submit(run_seed, n, s, raw): (n, s) for n, s in jobs}
        for fut, (n, s) in futures.items():
            print(f"{n} seed {s}: {fut.result():.0f} s", flush=True)
    for name in names:
        ds = case_dataset(name, raw)
        path = out / f"{name}.nc"
        write_test_data(ds, path, encoding(ds))
        print(f"{name}: {path.stat().st_size / 1e3:.0f} kB", flush=True)


if __name__ == "__main__":
    main()
