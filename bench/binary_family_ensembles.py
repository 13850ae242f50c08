"""The reference binary's ensembles on the met families (tests/family_cases.py), for the tests.

Usage:
    binary_family_ensembles.py [--families LIST] [--workers N] [--out DIR]

Options:
    --families LIST  comma-separated family names (default: every family of
                     tests/family_cases.py)
    --workers N      runs at a time [default: 2]
    --out DIR        where the files go [default: tests/data/binary_families]

For each family (one ARL vertical system with the field set of one archive family, on
spatially varying synthetic met, a receptor 10 m above ground) this runs hycs_std (PyPI
``pystilt`` in bench/.venv-pystilt, bench/_reference.py; R-STILT defaults and its global
roughness table, bench/_hycs_run.py) with each seed of ``BINARY_SEEDS``, ``NUMPAR`` particles,
24 h backward, and keeps per seed:

- long, lati, zagl, mlht at the 24 hourly rows and foot summed over the minutes of each hour
  (bench/binary_seeds.py, ``hourly_rows``), on ``(seed, indx, time)``;
- the time-integrated footprint on the family grid (``footprint``, on ``(seed, lat, lon)``),
  made from every minute of the run by ``stilt.calc_footprint`` (R-STILT's algorithm, as the
  oracle's footprints): the hourly rows alone cannot give it.

To keep each file under 500 kB the rows are stored packed, coarser than the binary prints
them: positions to 0.01 degree, zagl and mlht to 0.1 m, the hourly foot sums and the
footprints with 3 and 4 significant digits (netCDF quantization). Against the unrounded rows
(printed per family when the files are written) this moved the hourly mean positions by at
most 0.036 km, mean heights by 0.0034 m, the fractions below mlht and 0.5 mlht by at most
0.002 (two particles in a thousand, at mlht itself) and the hourly foot by 7.5e-4 of itself,
far inside the binary's seed-to-seed noise. Writes ``<family>.nc`` (430-480 kB each; test
input only, tests/test_family_ensembles.py). Each run takes about 90 s on a free core (28 min
of CPU for the 18 runs: about 15 min on 2 free cores).
"""

from __future__ import annotations

import multiprocessing
import sys
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
from _hycs_run import run_hycs  # noqa: E402
from binary_seeds import hourly_rows  # noqa: E402
from family_cases import (BINARY_SEEDS, FAMILIES, HOURS, NUMPAR,  # noqa: E402
                          family_met, footprint_grid, receptor)
from oracle_ensembles import hourly_statistics, summarize_ensemble  # noqa: E402

#: columns of the summaries and of the footprint's plume-dilution correction
COLUMNS = ("time", "indx", "long", "lati", "zagl", "foot", "mlht", "samt", "sigw", "tlgr",
           "dens")
#: netCDF packing (int32 with this scale factor): coarser than PARTICLE_STILT.DAT prints
#: (1e-4 degree and m, mlht 0.01 m), to fit the files in 500 kB (module docstring)
PACKING = {"long": 0.01, "lati": 0.01, "zagl": 0.1, "mlht": 0.1}
#: significant digits kept of the float variables (netCDF4 granular bit rounding)
SIGNIFICANT_DIGITS = {"foot": 3, "footprint": 4}


def particles(columns: dict[str, np.ndarray]) -> xr.Dataset:
    """The binary's rows as a ``(time, indx)`` Dataset, NaN where a particle has no row (the
    layout ``stilt.calc_footprint`` reads)."""
    minutes = np.unique(columns["time"])[::-1]  # -1, -2, ...
    n = int(columns["indx"].max())
    it = np.searchsorted(-minutes, -columns["time"])
    ip = columns["indx"].astype(int) - 1
    data = {}
    for name in COLUMNS[2:]:
        arr = np.full((minutes.size, n), np.nan)
        arr[it, ip] = columns[name]
        data[name] = (("time", "indx"), arr)
    return xr.Dataset(data, coords={"time": minutes, "indx": np.arange(1, n + 1)})


def run_seed(name: str, seed: int) -> tuple[xr.Dataset, xr.DataArray, float]:
    """One binary run of a family: its hourly rows, its footprint and the seconds it took."""
    import stilt

    rec = receptor(name)
    t0 = time.perf_counter()
    cols = run_hycs(family_met(name), rec["time"], rec["latitude"], rec["longitude"],
                    rec["altitude"], HOURS, NUMPAR, seed=seed, columns=COLUMNS)
    seconds = time.perf_counter() - t0
    foot = stilt.calc_footprint(particles(cols), rec, footprint_grid(),
                                time_integrate=True).foot.squeeze(drop=True)
    return hourly_rows(cols), foot.fillna(0.0).astype(np.float32), seconds


def family_dataset(name: str, runs: list[tuple[xr.Dataset, xr.DataArray, float]]) -> xr.Dataset:
    """The seeds of one family in one Dataset."""
    seeds = list(BINARY_SEEDS)
    ds = xr.concat([r[0] for r in runs], dim=xr.DataArray(seeds, dims="seed", name="seed"))
    ds["foot"] = ds.foot.astype(np.float32)
    ds = ds.transpose("seed", "indx", "time")  # a particle's hours together: smaller files
    ds["footprint"] = xr.concat([r[1] for r in runs], dim="seed").assign_coords(seed=seeds)
    ds["footprint"].attrs.update(
        units="ppm / (umol m-2 s-1)",
        long_name="time-integrated footprint of the seed's run (stilt.calc_footprint with "
                  "the plume-dilution correction, R-STILT's algorithm)")
    f = FAMILIES[name]
    ds.attrs.update(source="hycs_std (PyPI pystilt 0.1.0a25), bench/binary_family_ensembles.py",
                    family=name, vertical=f.vertical, surface=f.surface,
                    sea_east_of=str(f.sea_east_of),
                    receptor=f"{f.time} {f.lat} {f.lon} 10 m AGL", numpar=NUMPAR,
                    krand=2, namelist_seed="SEED = -(seed + 1)",
                    run_seconds=" ".join(f"{r[2]:.0f}" for r in runs))
    return ds


def encoding(ds: xr.Dataset) -> dict[str, dict[str, object]]:
    """Packing of the hourly rows (int32, NaN as the fill value) and quantization of the
    foot and the footprints."""
    enc: dict[str, dict[str, object]] = {
        name: {"dtype": "int32", "scale_factor": scale, "_FillValue": -2**31}
        for name, scale in PACKING.items()}
    enc.update({name: {"significant_digits": digits, "quantize_mode": "GranularBitRound"}
                for name, digits in SIGNIFICANT_DIGITS.items()})
    return enc


def rounding_effect(name: str, exact: xr.Dataset, path: Path) -> dict[str, float]:
    """Largest change the stored precision makes to what the tests compare, over the seeds
    and hours: hourly statistics (km, m, fractions) and the hourly foot (relative)."""
    stored = xr.open_dataset(path).load()
    worst: dict[str, float] = {}
    for seed in exact.seed.values:
        a = summarize_ensemble(exact.sel(seed=seed))
        b = summarize_ensemble(stored.sel(seed=seed))
        for key, value in hourly_statistics(a, b, FAMILIES[name].lat).items():
            worst[key] = max(worst.get(key, 0.0), float(np.nanmax(value)))
        some = a.foot_hour > 0
        rel = float(np.max(np.abs(b.foot_hour[some] / a.foot_hour[some] - 1.0)))
        worst["foot"] = max(worst.get("foot", 0.0), rel)
    return worst


def main() -> None:
    """Run the binary for each family and seed and write the reduced files."""
    args = docopt(__doc__)
    names = args["--families"].split(",") if args["--families"] else list(FAMILIES)
    out = Path(args["--out"])
    out.mkdir(parents=True, exist_ok=True)
    jobs = [(name, seed) for name in names for seed in BINARY_SEEDS]
    start = time.perf_counter()
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=int(args["--workers"]), mp_context=ctx) as pool:
        done = list(pool.map(run_seed, [n for n, _ in jobs], [s for _, s in jobs]))
    for name in names:
        runs = [r for (n, _), r in zip(jobs, done) if n == name]
        print(name, "binary run seconds:", [round(r[2]) for r in runs], flush=True)
        ds = family_dataset(name, runs)
        write_test_data(ds, out / f"{name}.nc", encoding(ds))
        effect = rounding_effect(name, ds, out / f"{name}.nc")
        print(name, f"{(out / f'{name}.nc').stat().st_size / 1e3:.0f} kB; stored precision moves",
              {k: float(f"{v:.2g}") for k, v in effect.items()}, flush=True)
    print(f"{len(jobs)} runs in {time.perf_counter() - start:.0f} s wall", flush=True)


if __name__ == "__main__":
    main()
