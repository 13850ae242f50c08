"""The validation receptors beyond the 10-m oracle cases (a 300 m tall tower, a 0-2000 m column,
a 60-hour run; tests/validation_cases.py) against the reference binary's four seeds x 500
particles (tests/data/binary_receptors, bench/binary_receptors.py), at equal particle counts:
two of our seeds against two of the binary's, beside the binary's two seeds against its other
two (docs/validation.md, where the same statistics are tabulated for every case).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from oracle_ensembles import foot_hour_bound, foot_ratio, hourly_scores, pool, score_bounds
from validation_cases import (BINARY_DATA, BINARY_SEEDS, CASES, NOISE_FACTOR, NUMPAR,
                              OUR_SEEDS, binary_pool, binary_runs, compare_case, our_run,
                              within)
import stilt

#: the statistics asserted within the binary's seed-to-seed range, and which way is better
CHECKED = {"pos_km": "low", "height_m": "low", "below": "low", "shift_km": "low",
           "r": "high", "r_after_h1": "high", "total": "one"}


def _our_runs(name: str, shared_dir: Path) -> list[dict]:
    """Our four seeds of a case, reduced as the binary's are."""
    met = stilt.MetConfig(shared_dir / "met", "oct1618.BIN")
    return [our_run(name, seed, met) for seed in OUR_SEEDS]


def _comparison(name: str, shared_dir: Path,
                ours: list[dict] | None = None) -> tuple[list[dict], list[dict]]:
    """Our four seeds against the binary's, as docs/validation.md tabulates them: pairs of
    our seeds against pairs of the binary's (12), and the binary's three splits into pairs."""
    ours = _our_runs(name, shared_dir) if ours is None else ours
    result = compare_case(name, ours, binary_runs(name))
    return result["ours"], result["binary"]


def _check(mine: list[dict], theirs: list[dict], skip: tuple[str, ...] = ()) -> None:
    """Each statistic of ``CHECKED`` but ``skip``: our median over the 12 pairs within
    ``NOISE_FACTOR`` times the binary's worst split (validation_cases.within)."""
    for key, sense in CHECKED.items():
        if key in skip:
            continue
        ours = float(np.median([s[key] for s in mine]))
        noise = [s[key] for s in theirs]
        assert within(ours, noise, sense, NOISE_FACTOR), (key, ours, noise)


def test_binary_receptor_files_are_the_cases() -> None:
    """The stored runs are the cases: four seeds x 500 particles alive at every hour of the
    run, every seed a different realisation; the column's particles start spread over
    0-2000 m (the binary's vertical line source), the tower's near 300 m."""
    for name in ("ngm_tower300", "ngm_column", "ngm_multiday"):
        with xr.open_dataset(BINARY_DATA / f"{name}.nc") as ds:
            assert list(ds.seed.values) == list(BINARY_SEEDS)
            assert ds.sizes["indx"] == NUMPAR and ds.sizes["time"] == CASES[name].hours
            assert bool(ds.zagl.notnull().all())
            last = ds.zagl.isel(time=-1).mean("indx").values
            assert np.unique(last).size == len(BINARY_SEEDS)
            first = ds.zagl_first.values
        if name == "ngm_column":
            assert np.all(first.min(axis=1) < 50.0) and np.all(first.max(axis=1) > 1950.0)
            assert np.all(np.abs(np.median(first, axis=1) - 1000.0) < 60.0)
        elif name == "ngm_tower300":
            assert np.all(np.abs(np.median(first, axis=1) - 300.0) < 10.0)


#: our seeds for the column's first-minute deciles, and the bound on their difference from
#: the binary's in standard errors: the two-sided t quantile (15 degrees of freedom) of 1e-4,
#: so that one of the 9 deciles fails by chance with probability about 1e-3
COLUMN_SEEDS = tuple(range(142, 158))
COLUMN_T_BOUND = 5.24


def test_column_release_heights_match_binary(shared_dir: Path) -> None:
    """Our column releases particle i at (i - 0.5) 2000 / 500 m, as R-STILT; after the first
    minute of turbulence the deciles of their heights are the binary's: the mean over 16 of
    our seeds against the mean over the binary's 4, within ``COLUMN_T_BOUND`` standard errors
    of the difference, with each decile's seed-to-seed spread measured on our 16 seeds (the
    binary's 4 spread as much: their variance over ours, summed over the deciles, within the
    1 %-99 % range of an F(27, 135) draw, 0.45-1.9). One of our seeds against a fixed 25 m,
    as before, fails by chance for a few seeds in a hundred: the lower deciles move 8-9 m
    from seed to seed."""
    met = stilt.MetConfig(shared_dir / "met", "oct1618.BIN")
    case = CASES["ngm_column"]
    q = np.linspace(0.1, 0.9, 9)
    mine = []
    for seed in COLUMN_SEEDS:
        ours = stilt.run_trajectories(case.receptor(), met, n_hours=-1, numpar=NUMPAR,
                                      seed=seed, varsiwant=["time", "indx", "zagl"])
        np.testing.assert_allclose(ours.xhgt.values, (np.arange(1, NUMPAR + 1) - 0.5) * 4.0)
        mine.append(np.quantile(ours.zagl.sel(time=-1.0).values, q))
    with xr.open_dataset(BINARY_DATA / "ngm_column.nc") as ds:
        runs = np.array([np.quantile(z, q) for z in ds.zagl_first.values])
    mine_arr = np.array(mine)
    spread = mine_arr.std(axis=0, ddof=1)
    se = spread * np.sqrt(1.0 / len(mine) + 1.0 / len(runs))
    t = (mine_arr.mean(axis=0) - runs.mean(axis=0)) / se
    ratio = float(runs.var(axis=0, ddof=1).sum() / (spread**2).sum())
    print("deciles ours - binary (m):", np.round(mine_arr.mean(axis=0) - runs.mean(axis=0), 1),
          "in standard errors:", np.round(t, 2), "variance ratio", round(ratio, 2))
    assert np.all(np.abs(t) <= COLUMN_T_BOUND), t
    assert 0.45 <= ratio <= 1.9, ratio


@pytest.mark.slow
@pytest.mark.parametrize("name", ["ngm_tower300", "ngm_column"])
def test_receptor_within_binary_noise(name: str, shared_dir: Path) -> None:
    """Tall tower and column, 24 h (about a minute each: four of our runs): worst-hour mean
    position, mean height and fraction below mlht, the footprint's centroid, its r with and
    without the first hour, and the total foot, pairs of our seeds against pairs of the
    binary's, within the binary's own split range (x NOISE_FACTOR)."""
    _check(*_comparison(name, shared_dir))


def test_binary_multiday_pool_holds_the_stored_seeds() -> None:
    """The 60-hour pool is the binary's runs of the case: 20 seeds x 500 particles, all alive
    at every hour but one particle of four seeds that leaves the grid after hour 55; its
    seeds of ``BINARY_SEEDS`` sum to the hourly statistics of the stored particles of
    ``ngm_multiday.nc``, and its seed means scatter as independent particles' would (median
    over the hours 0.88 times std / sqrt(500); the four stored seeds alone 0.42-0.72 at hours
    1, 12, ..., 60, by chance)."""
    with xr.open_dataset(BINARY_DATA / "ngm_multiday_pool.nc") as ds:
        assert ds.sizes["seed"] == 20 and set(BINARY_SEEDS) <= set(ds.seed.values.tolist())
        assert int(ds.alive.min()) == NUMPAR - 1 and int((ds.alive < NUMPAR).sum()) == 12
        stored = binary_runs("ngm_multiday")
        for seed, run in zip(BINARY_SEEDS, stored):
            # the stored file packs heights to 0.1 m and positions to 0.01 degree
            for key, unit in (("z", 0.1), ("lat", 0.01), ("lon", 0.01)):
                np.testing.assert_allclose(ds[key].sel(seed=seed).values / NUMPAR,
                                           run["summary"].hourly[key] / NUMPAR, atol=unit / 2)
            below = np.abs(ds.below.sel(seed=seed).values - run["summary"].hourly["below"])
            assert float(below.max()) <= 2.0, below
        means = (ds.z / ds.alive).values
        total = binary_pool("ngm_multiday").hourly
        std = np.sqrt(total["z2"] / total["alive"] - (total["z"] / total["alive"]) ** 2)
        ratio = means.std(axis=0, ddof=1) / (std / np.sqrt(NUMPAR))
    assert float(np.median(ratio)) == pytest.approx(0.9, abs=0.15), np.round(ratio, 2)


@pytest.mark.slow
def test_multiday_within_binary_noise(shared_dir: Path) -> None:
    """The 60-hour run. The footprint (r with and without the first hour, centroid) in pairs of
    our seeds against pairs of the binary's, within its split range; everything hourly against
    the binary's pool of 20 seeds (10000 particles, bench/binary_multiday_pool.py), with the
    criteria of the oracle tests: the mean position, mean height and fractions below mlht and
    0.5 mlht hour by hour within ``score_bounds`` for 60 hours (4.98 standard errors for the
    position, 4.60 for the others), the total foot within 5 % and the foot per hour within
    ``foot_hour_bound``. The binary's four stored seeds agree by chance far better than
    independent particles do from hour 24 on (docs/validation.md): their splits understate the
    noise of every mean (the pairs' total foot moved from 0.99 to 1.03 with the 1-4 %
    change of w near the ground of docs/physics.md §4.3, the pool's 16000 of ours from 0.998
    to 0.989, 1.2 of its standard errors). Measured with 16000 of ours (32 seeds) against the
    pool: at most 2.2 standard errors in position, 2.6 in mean height, 3.1 below mlht, 2.6
    below 0.5 mlht; the binary's 2000 stored particles against its 8000 others: 2.2, 2.5, 3.0
    and 2.5."""
    ours = _our_runs("ngm_multiday", shared_dir)
    mine, theirs = _comparison("ngm_multiday", shared_dir, ours)
    _check(mine, theirs, skip=("pos_km", "height_m", "below", "total"))
    ensemble, binary = pool(r["summary"] for r in ours), binary_pool("ngm_multiday")
    scores = hourly_scores(ensemble, binary)
    bounds = score_bounds(CASES["ngm_multiday"].hours)
    ratio, se = foot_ratio(*ensemble.foot_mean_and_error(), *binary.foot_mean_and_error())
    total = float(ensemble.foot_hour.sum() / ensemble.n / (binary.foot_hour.sum() / binary.n))
    print("largest hourly scores against the pool:",
          {k: round(float(v.max()), 2) for k, v in scores.items()},
          "total foot", round(total, 3), "hourly", round(float(ratio.min()), 3),
          round(float(ratio.max()), 3))
    for key, value in scores.items():
        assert float(value.max()) <= bounds[key], (key, float(value.max()), bounds[key])
    assert abs(total - 1.0) <= 0.05
    assert np.all(np.abs(ratio - 1.0) <= foot_hour_bound(se)), ratio
