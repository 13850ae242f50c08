"""stilt against the reference binary on idealised, horizontally uniform met with a collapsing
mixed layer (tests/idealised_met.py): the vertical distribution of the particles and the
mixed-layer height, hour by hour, with no geography in the way.

The binary's rows (4000 particles, seed -12) come from bench/binary_idealised.py; these tests
need no ../shared data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from idealised_met import CASES, N_HOURS, RECEPTOR, SAMPLE_TIMES, idealised_met
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


@pytest.mark.slow
def test_vertical_distribution_within_sampling_noise(pair) -> None:
    """Mean height and the fractions of particles in bands of z / zi agree with the binary's
    within 3.5 standard errors of the difference (4000 particles each), at every sample time
    from 10 min to 5 h, while the mixed layer collapses from 800 to 150 m."""
    case, ours, ref = pair
    for t in SAMPLE_TIMES:
        a, b = ours.sel(time=float(t)), ref.sel(time=float(t))
        za, zb = a.zagl.values, b.zagl.values
        se = np.hypot(za.std() / np.sqrt(za.size), zb.std() / np.sqrt(zb.size))
        assert abs(za.mean() - zb.mean()) <= 3.5 * se, (case, t, za.mean(), zb.mean())
        fa = np.histogram(za / a.mlht.values, BINS)[0] / za.size
        fb = np.histogram(zb / b.mlht.values, BINS)[0] / zb.size
        p = 0.5 * (fa + fb)
        se_f = np.sqrt(p * (1 - p) * (1 / za.size + 1 / zb.size))
        assert np.all(np.abs(fa - fb) <= 3.5 * se_f + 1e-9), (case, t, fa, fb)
