"""Runs of the reference binary reduced to one small pool file of ensemble sums.

Usage:
    binary_pool.py --out FILE RUN...

Options:
    --out FILE  the pool file (netCDF, one row of sums per seed)

Each RUN is a file of one run's hourly rows as bench/binary_seeds.py writes them (``long``,
``lati``, ``zagl``, ``mlht`` at the hourly rows and ``foot`` summed over each hour, on
``(time, indx)``, with the run's ``seed`` attribute). The pool keeps, per seed and hour, the
sums an ensemble summary holds (tests/oracle_ensembles.py ``Summary``, ``hourly_sums``:
particles alive, sums and squares of latitude, longitude and height, counts below mlht and
0.5 mlht) and the hour's foot summed over the particles with its sum of squares, so that the
tests pool the binary's seeds as they pool ours, at a few kB per seed instead of the rows'
0.6 MB per 2000 particles. Test input only.

The oracle pools of tests/data/binary_seeds (seeds 60-67 x 2000 particles) were made so, for
``ngm`` and ``synth`` (each 2000-particle run took 3-6 minutes, two at a time)::

    python bench/binary_seeds.py --case synth --seeds 60,61,62,63,64,65,66,67 \
        --numpar 2000 --out /tmp/pool/synth
    python bench/binary_pool.py --out tests/data/binary_seeds/synth_hrrrlike_pool.nc \
        /tmp/pool/synth/synth_hrrrlike_seed6*.nc
"""

from __future__ import annotations

import sys
from pathlib import Path

import xarray as xr
from docopt import docopt

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent / "tests"))
from _files import write_test_data  # noqa: E402
from oracle_ensembles import hourly_sums  # noqa: E402


def summary_sums(hourly: xr.Dataset) -> xr.Dataset:
    """The sums of an ensemble Summary of one run's hourly rows, on ``time``."""
    sums = hourly_sums(*(hourly[v].transpose("time", "indx").values
                         for v in ("lati", "long", "zagl", "mlht")))
    foot = hourly.foot.transpose("time", "indx").values
    out = {k: ("time", v) for k, v in sums.items()}
    out |= {"foot_hour": ("time", foot.sum(1)), "foot_hour_sq": ("time", (foot**2).sum(1))}
    return xr.Dataset(out, coords={"time": hourly.time})


def pool_dataset(runs: dict[int, xr.Dataset], numpar: int, **attrs: object) -> xr.Dataset:
    """The sums of each seed's run (hourly rows by seed) in one Dataset on ``(seed, time)``."""
    seeds = sorted(runs)
    ds = xr.concat([summary_sums(runs[s]) for s in seeds],
                   dim=xr.DataArray(seeds, dims="seed", name="seed"))
    ds.attrs.update(numpar=numpar, krand=2, namelist_seed="SEED = -(seed + 1)",
                    comment="per seed and hourly row, the sums of an ensemble summary "
                            "(bench/binary_pool.py)", **attrs)
    return ds


def main() -> None:
    """Reduce the run files named on the command line into one pool file."""
    args = docopt(__doc__)
    runs, sources, sizes = {}, set(), set()
    for name in args["RUN"]:
        with xr.open_dataset(name) as ds:
            runs[int(ds.attrs["seed"])] = ds.load()
            sources.add(str(ds.attrs.get("oracle_case", "")))
            sizes.add(ds.sizes["indx"])
    if len(sizes) != 1 or len(sources) != 1:
        raise SystemExit(f"runs of one case and particle count expected, got {sources} {sizes}")
    out = pool_dataset(runs, sizes.pop(), oracle_case=sources.pop(),
                       source="hycs_std (PyPI pystilt 0.1.0a25), bench/binary_seeds.py")
    write_test_data(out, Path(args["--out"]))


if __name__ == "__main__":
    main()
