"""stilt against the reference binary on idealised, horizontally uniform met with a collapsing
mixed layer (tests/idealised_met.py): the vertical distribution of the particles and the
mixed-layer height, hour by hour, with no geography in the way.

The binary's rows (4000 particles, seed -12) come from bench/binary_idealised.py; these tests
need no ../shared data.
"""

from __future__ import annotations

from pathlib import Path
from statistics import NormalDist

import numpy as np
import pytest
import xarray as xr

from idealised_met import (CASES, N_HOURS, RECEPTOR, SAMPLE_TIMES, SPREAD_RECEPTOR,
                           SPREAD_TIMES, idealised_met, spread_met)
from oracle_ensembles import FALSE_FAIL
from stilt.transport import run_trajectories

DATA = Path(__file__).parent / "data" / "binary_idealised"
BINS = np.array([0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0, np.inf])  # z / zi


@pytest.fixture(scope="module", params=sorted(CASES))
def pair(request: pytest.FixtureRequest) -> tuple[str, xr.Dataset, xr.Dataset]:
    case = request.param
    ours = run_trajectories(RECEPTOR, idealised_met(case), n_hours=N_HOURS, numpar=4000,
                            seed=7, kmixd=CASES[case]["kmixd"],
                            varsiwant=["time", "indx", "zagl", "mlht"])
    ref = xr.open_dataset(DATA / f"{case}.nc")
    return case, ours.sel(time=list(map(float, SAMPLE_TIMES))), ref


@pytest.mark.slow
def test_mixed_layer_height_as_the_binary(pair) -> None:
    """zi from PBLH (collapse) or the Richardson number (shear), linear in time and printed as
    the step mean: the binary's values within 0.3 %."""
    case, ours, ref = pair
    for t in SAMPLE_TIMES:
        a = float(np.median(ours.mlht.sel(time=float(t))))
        b = float(np.median(ref.mlht.sel(time=float(t))))
        assert a == pytest.approx(b, rel=3e-3), (case, t)


#: statistics compared at each sample time: the mean height and the fraction in each band
N_COMPARED = len(SAMPLE_TIMES) * (1 + (BINS.size - 1))
#: the bound on every standard score: one of the comparisons of a case exceeds it by chance
#: with probability FALSE_FAIL (2.5e-4) for independent Gaussian scores, as the oracle
#: tests' bounds (tests/oracle_ensembles.py); 4.64. The 3.5 used before failed the binary
#: against itself (random halves of its 4000 particles) in 2-3 % of halves per case.
SCORE_LIMIT = NormalDist().inv_cdf(1.0 - FALSE_FAIL / (2.0 * N_COMPARED))


def worst_score(za: np.ndarray, ma: np.ndarray, zb: np.ndarray, mb: np.ndarray) -> float:
    """The largest standard score of two sets of particles at one time (heights and mlht):
    the difference of their mean heights, and of their fractions in each band of z / mlht
    (binomial error of the two sets' mean fraction), each over its standard error."""
    se = np.hypot(za.std() / np.sqrt(za.size), zb.std() / np.sqrt(zb.size))
    fa = np.histogram(za / ma, BINS)[0] / za.size
    fb = np.histogram(zb / mb, BINS)[0] / zb.size
    p = 0.5 * (fa + fb)
    se_f = np.sqrt(p * (1 - p) * (1 / za.size + 1 / zb.size))
    bands = np.abs(fa - fb)[se_f > 0] / se_f[se_f > 0]
    return float(max(abs(za.mean() - zb.mean()) / se, bands.max(initial=0.0)))


@pytest.mark.slow
def test_vertical_distribution_within_sampling_noise(pair) -> None:
    """Mean height and the fractions of particles in bands of z / zi agree with the binary's
    within ``SCORE_LIMIT`` standard errors of the difference (4000 particles each), at every
    sample time from 10 min to 5 h, while the mixed layer collapses from 800 to 150 m.
    Measured (seed 7): worst scores 3.41 (collapse) and 2.25 (shear)."""
    case, ours, ref = pair
    scores = []
    for t in SAMPLE_TIMES:
        a, b = ours.sel(time=float(t)), ref.sel(time=float(t))
        scores.append(worst_score(a.zagl.values, a.mlht.values, b.zagl.values, b.mlht.values))
    print(case, "worst score", round(max(scores), 2))
    assert max(scores) <= SCORE_LIMIT, (case, np.round(scores, 2))


@pytest.mark.parametrize("case", sorted(CASES))
def test_score_limit_describes_the_binarys_own_noise(case: str) -> None:
    """Random halves of the binary's own 4000 particles (400 draws, fixed) pass
    ``SCORE_LIMIT`` but in at most 1 % of draws (measured: none; the largest 4.11 and 4.63),
    where the 3.5 used before failed 2.5-3 %: the bound is about what chance gives."""
    ref = xr.open_dataset(DATA / f"{case}.nc").load()
    samples = [(r.zagl.values, r.mlht.values) for r in (ref.sel(time=float(t))
                                                        for t in SAMPLE_TIMES)]
    rng = np.random.default_rng(11)
    worst = []
    for _ in range(400):
        perm = rng.permutation(ref.sizes["indx"])
        a, b = perm[: perm.size // 2], perm[perm.size // 2:]
        worst.append(max(worst_score(z[a], m[a], z[b], m[b]) for z, m in samples))
    worst_arr = np.array(worst)
    assert (worst_arr > SCORE_LIMIT).mean() <= 0.01
    assert (worst_arr > 3.5).mean() >= 0.01


@pytest.mark.slow
def test_first_minutes_spread_is_the_binarys_at_its_print_precision() -> None:
    """The horizontal spread of the first minutes (20000 particles a side, 10 m release;
    about 20 s):
    the binary prints positions to 1e-4 degree, which adds 1e-4 / sqrt(12) degree (3.2 m in
    latitude) to its spread, 3 % after one minute, when the spread is 12 m; compared at that
    precision our spread in latitude (horizontal turbulence only) and longitude (with the
    shear of the sub-steps) is the binary's within three standard errors at 1, 2 and 5
    minutes, and so is the mean displacement. (Compared at full precision ours looked 4-5 %
    narrower after one minute: docs/validation.md.)"""
    ref = xr.open_dataset(DATA / "spread.nc").load()
    n = ref.sizes["indx"]
    ours = run_trajectories(SPREAD_RECEPTOR, spread_met(), n_hours=-1,
                            numpar=n, seed=5, varsiwant=["time", "indx", "long", "lati"])
    se_ratio = np.sqrt(1.0 / n)   # of the ratio of two spreads of n particles
    for name, origin in (("long", SPREAD_RECEPTOR["longitude"]),
                         ("lati", SPREAD_RECEPTOR["latitude"])):
        for t in SPREAD_TIMES:
            theirs = ref[name].sel(time=float(t)).values.astype(float)
            full = (ours[name].sel(time=float(t)).values - origin) * 1e4
            printed = np.rint(full)
            ratio = printed.std() / theirs.std()
            assert abs(ratio - 1.0) < 3 * se_ratio, (name, t, ratio)
            se_mean = np.hypot(printed.std(), theirs.std()) / np.sqrt(n)
            assert abs(printed.mean() - theirs.mean()) < 3 * se_mean, (name, t)
        if name == "lati":
            # the print unit alone makes the difference after one minute
            t1 = float(SPREAD_TIMES[0])
            full = (ours[name].sel(time=t1).values - origin) * 1e4
            assert full.std() / ref[name].sel(time=t1).values.std() < 1.0 - 3 * se_ratio
