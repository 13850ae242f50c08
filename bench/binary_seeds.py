"""More seeds of the reference binary on the oracle cases, reduced for the tests.

Usage:
    binary_seeds.py [--case NAME] [--seeds LIST] [--numpar N] [--out DIR]

Options:
    --case NAME   ngm, synth or both [default: both]
    --seeds LIST  comma-separated seeds [default: 44,45,46]
    --numpar N    particles per run [default: 500]
    --out DIR     where the files go [default: tests/data/binary_seeds]

../shared/oracle holds the binary's seed 42 in full and seed 43 sampled: one pair, so one
estimate of its seed-to-seed noise. Its README asks for more seeds to see the spread; this
script runs hycs_std (PyPI ``pystilt`` in bench/.venv-pystilt, bench/_reference.py) on the
oracle's CONTROL / SETUP.CFG with other seeds (SEED = -(seed + 1), as the oracle) and keeps,
per seed, what the ensemble tests compare: ``<oracle case>_seed<N>.nc`` with long, lati, zagl
and mlht at the 24 hourly rows (-60, ..., -1440 min) and, at each hourly row, ``foot`` summed
over the minutes of that hour (-60 h + 59 .. -60 h). About 200 kB per 500-particle seed,
700 kB per 2000; test input only.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import xarray as xr
from docopt import docopt

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _files import write_test_data  # noqa: E402
from bench_transport import CASES, _met_folder, run_reference  # noqa: E402

COLUMNS = ("long", "lati", "zagl", "foot", "mlht")


def hourly_rows(columns: Mapping[str, np.ndarray], hours: int = 24) -> xr.Dataset:
    """Particle rows of one run (PARTICLE_STILT.DAT's columns by name, ``time`` and ``indx``
    among them) reduced to what the ensemble tests compare.

    Returns ``long``, ``lati``, ``zagl``, ``mlht`` (float32) at the hourly rows -60 h min,
    h = 1 .. ``hours`` (NaN where a particle has no row), and ``foot`` (float64) at each
    hourly row summed over the minutes of that hour (-60 h + 59 .. -60 h), on
    ``(time, indx)``.
    """
    time, indx = np.asarray(columns["time"]), np.asarray(columns["indx"]).astype(int)
    n = int(indx.max())
    hour_numbers = np.arange(1, hours + 1)
    out = {}
    for name in COLUMNS:
        arr = np.full((hour_numbers.size, n), np.nan, dtype=np.float64)
        values = np.asarray(columns[name])
        if name == "foot":
            hour = np.ceil(-time / 60.0 - 1e-9).astype(int)  # -1 .. -60 min -> hour 1
            ok = (hour >= 1) & (hour <= hours)
            arr[:] = 0.0
            np.add.at(arr, (hour[ok] - 1, indx[ok] - 1), values[ok])
        else:
            for h in hour_numbers:
                sel = time == -60.0 * h
                arr[h - 1, indx[sel] - 1] = values[sel]
        out[name] = (("time", "indx"), arr.astype(np.float32 if name != "foot" else np.float64))
    ds = xr.Dataset(out, coords={"time": -60.0 * hour_numbers, "indx": np.arange(1, n + 1)})
    ds["time"].attrs.update(units="min", long_name="minutes since release (hourly rows)")
    ds["foot"].attrs.update(
        units="ppm / (umol m-2 s-1)",
        long_name="foot summed over the minutes of the hour ending at this row "
                  "(-60 h + 59 .. -60 h), raw binary values")
    return ds


def reduce_particle_stilt(path: Path, setup_varsiwant: list[str], seed: int,
                          case: str) -> xr.Dataset:
    """PARTICLE_STILT.DAT of one run reduced to the hourly rows and hourly foot sums."""
    rows = np.loadtxt(path, skiprows=1)
    ds = hourly_rows({name: rows[:, k] for k, name in enumerate(setup_varsiwant)})
    ds.attrs.update(source="hycs_std (PyPI pystilt 0.1.0a25), bench/binary_seeds.py",
                    oracle_case=case, seed=seed, krand=2, namelist_seed=-(seed + 1))
    return ds


def main() -> None:
    """Run the binary for each case and seed and write the reduced files."""
    args = docopt(__doc__)
    cases = ["ngm", "synth"] if args["--case"] == "both" else [args["--case"]]
    seeds = [int(s) for s in args["--seeds"].split(",")]
    numpar = int(args["--numpar"])
    out = Path(args["--out"])
    out.mkdir(parents=True, exist_ok=True)
    from bench_transport import SHARED, _varsiwant

    for case in cases:
        oracle = CASES[case]["oracle"]
        varsiwant = _varsiwant((SHARED / "oracle" / oracle / "SETUP.CFG").read_text())
        for seed in seeds:
            with tempfile.TemporaryDirectory() as tmp:
                work = Path(tmp)
                met_dir, _, _ = _met_folder(case, work)
                run_reference(case, work, numpar, 24, met_dir, seed=seed)
                ds = reduce_particle_stilt(work / "reference" / "PARTICLE_STILT.DAT",
                                           varsiwant, seed, oracle)
            write_test_data(ds, out / f"{oracle}_seed{seed}.nc")


if __name__ == "__main__":
    main()
