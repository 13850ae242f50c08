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

from oracle_ensembles import pool
from validation_cases import (BINARY_DATA, BINARY_SEEDS, CASES, NOISE_FACTOR, NUMPAR,
                              OUR_SEEDS, binary_runs, compare_case, our_run, within)
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


def _pooled_offset_in_standard_errors(name: str, ours: list[dict]) -> np.ndarray:
    """Hour by hour, our pooled mean latitude and longitude minus the binary's (all seeds on
    each side) in standard errors of that difference for independent particles: the
    particles' spread about their mean (the binary's; ours agrees within 3 % from hour 3) over the
    square root of the particle counts, ``std sqrt(1/n_ours + 1/n_binary)``; on
    ``(2, hour)``."""
    mine = pool(r["summary"] for r in ours)
    with xr.open_dataset(BINARY_DATA / f"{name}.nc") as ds:
        lat = ds.lati.stack(p=("seed", "indx"))
        lon = ds.long.stack(p=("seed", "indx"))
        n_bin = lat.sizes["p"]
        diff = np.stack([mine.hourly["lat"] / mine.hourly["alive"] - lat.mean("p").values,
                         mine.hourly["lon"] / mine.hourly["alive"] - lon.mean("p").values])
        std = np.stack([lat.std("p").values, lon.std("p").values])
    return diff / (std * np.sqrt(1.0 / mine.hourly["alive"] + 1.0 / n_bin))


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


@pytest.mark.slow
def test_multiday_within_binary_noise_but_its_mean_position(shared_dir: Path) -> None:
    """The 60-hour run: every statistic as for the 24-hour receptors but the worst-hour mean
    position of the pairs, whose reference, the binary's three splits of its four seeds, is
    far below the sampling error of a 1000-particle mean on this case (its seed means spread
    0.16-0.4 times as much as independent particles' would from hour 24 on, docs/validation.md):
    the pairs' median (35 km) is held below its current 40 km. The mean position is checked
    instead against that sampling error: pooled (2000 against 2000) our mean latitude and
    longitude are within three standard errors of the binary's at every hour (the largest is
    1.2 with seeds 142-145; 32 of our seeds, 16000 particles, come within 6 km of the
    binary's mean at every hour). Hour 1 was 2.5 standard errors west (0.0028 degree) while
    the turbulent sub-steps moved double-precision positions; with float32 positions, as the
    binary's, 0.6 (docs/validation.md)."""
    ours = _our_runs("ngm_multiday", shared_dir)
    mine, theirs = _comparison("ngm_multiday", shared_dir, ours)
    _check(mine, theirs, skip=("pos_km",))
    assert max(s["pos_km"] for s in theirs) < 20.0
    assert float(np.median([s["pos_km"] for s in mine])) < 40.0
    z = _pooled_offset_in_standard_errors("ngm_multiday", ours)
    print("pooled offset in standard errors, lat / lon by hour:", np.round(z, 1))
    assert np.all(np.abs(z) < 3.0), np.round(z, 1)
