"""More seeds of the reference binary on the 60-hour validation run, reduced to hourly moments.

Usage:
    binary_multiday_pool.py [--seeds LIST] [--workers N] [--raw DIR] [--out FILE]

Options:
    --seeds LIST   comma-separated seeds [default: 46,47,48,49,50,51,52,53,54,55,56,57,58,59,60,61]
    --workers N    runs at a time [default: 2]
    --raw DIR      where each run's particle rows are kept (reused when present)
                   [default: /tmp/binary_receptors_raw]
    --out FILE     the reduced file
                   [default: tests/data/binary_receptors/ngm_multiday_pool.nc]

The 60-hour run of tests/validation_cases.py (``ngm_multiday``) is stored with the binary's
four seeds of ``BINARY_SEEDS``, whose seed means happened to agree far better than independent
particles' would (docs/validation.md), so their splits understate the noise of the mean
position and height. This script runs hycs_std (bench/binary_receptors.py ``run_seed``: the
oracle's CONTROL and SETUP.CFG, SEED = -(seed + 1)) with more seeds and keeps, per seed and
hourly row, the sums an ensemble summary holds (bench/binary_pool.py), so that the tests pool
seeds as they pool ours. ``BINARY_SEEDS`` are included, so that the file holds every
seed (20 seeds, 113 kB; each 60-hour run took 100-170 s, two at a time on the idle 2-core
machine); test input only.
"""

from __future__ import annotations

import multiprocessing
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import xarray as xr
from docopt import docopt

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent / "tests"))
from _files import write_test_data  # noqa: E402
from binary_receptors import COLUMNS, run_seed  # noqa: E402
from binary_pool import pool_dataset  # noqa: E402
from binary_seeds import hourly_rows  # noqa: E402
from validation_cases import BINARY_SEEDS, CASES  # noqa: E402

NAME = "ngm_multiday"


def seed_rows(seed: int, raw: Path) -> xr.Dataset:
    """The hourly rows of one stored run."""
    rows = np.load(raw / f"{NAME}_seed{seed}.npy")
    cols = {c: rows[:, k].astype(np.float64) for k, c in enumerate(COLUMNS)}
    return hourly_rows(cols, hours=CASES[NAME].hours)


def main() -> None:
    """Run the missing seeds, then reduce every seed (with ``BINARY_SEEDS``) into one file."""
    args = docopt(__doc__)
    seeds = sorted(set(BINARY_SEEDS) | {int(s) for s in args["--seeds"].split(",")})
    raw, out = Path(args["--raw"]), Path(args["--out"])
    raw.mkdir(parents=True, exist_ok=True)
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=int(args["--workers"]), mp_context=ctx) as pool:
        futures = {pool.submit(run_seed, NAME, s, raw): s for s in seeds}
        for fut, s in futures.items():
            print(f"{NAME} seed {s}: {fut.result():.0f} s", flush=True)
    ds = pool_dataset({s: seed_rows(s, raw) for s in seeds}, 500, case=NAME,
                      source="hycs_std (PyPI pystilt 0.1.0a25), bench/binary_multiday_pool.py")
    write_test_data(ds, out, {})
    print(f"{out}: {out.stat().st_size / 1e3:.0f} kB, {len(seeds)} seeds", flush=True)


if __name__ == "__main__":
    main()
