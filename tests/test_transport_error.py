"""WINDERR / ZIERR transport errors (fortran/stilt_transport_error.f90, docs/physics.md §8)."""

from __future__ import annotations

import numpy as np

from stilt import _core

Z = np.array([10.0, 75.0, 200.0, 385.0, 630.0, 935.0, 1300.0, 1725.0])


def _series(m=4000, nsteps=30, dt=-1.0, sig_uv=2.0, tl_uv=60.0, zcor=500.0, horcor=40.0,
            dist=0.5, sig_zi=20.0, tl_zi=90.0, horcor_zi=30.0, seed=3):
    return _core.transport_error_series(Z, nsteps, m, dt, sig_uv, tl_uv, zcor, horcor, dist,
                                        sig_zi, tl_zi, horcor_zi, seed)


def test_errors_are_stationary_with_the_requested_spread() -> None:
    eu, ev, eps = _series()
    m = eu.shape[2]
    se = 5 * np.sqrt(2.0 / m)  # 5 standard errors of a variance ratio
    for e in (eu, ev):
        var = e.var(axis=2)  # (level, time)
        assert np.all(np.abs(var / 4.0 - 1.0) < se)
        assert np.all(np.abs(e.mean(axis=2)) < 5 * 2.0 / np.sqrt(m))
    assert np.all(np.abs(eps.var(axis=1) / 400.0 - 1.0) < se)


def test_vertical_correlation_follows_the_correlation_length() -> None:
    eu, ev, _ = _series(nsteps=3)
    for e in (eu, ev):
        x = e[:, -1, :]
        c = np.corrcoef(x)
        for i, j in [(0, 1), (0, 3), (2, 6), (1, 7)]:
            expected = np.exp(-(Z[j] - Z[i]) / 500.0)
            assert abs(c[i, j] - expected) < 5 / np.sqrt(x.shape[1])
    # u and v errors are independent
    assert abs(np.corrcoef(eu[3, -1], ev[3, -1])[0, 1]) < 5 / np.sqrt(eu.shape[2])


def test_time_and_path_correlation() -> None:
    eu, _, eps = _series(nsteps=10)
    m = eu.shape[2]
    # one step of 1 min moving 0.5 km: r = exp(-1/TL) exp(-d/horcor)
    r_wind = np.exp(-1.0 / 60.0) * np.exp(-0.5 / 40.0)
    r_zi = np.exp(-1.0 / 90.0) * np.exp(-0.5 / 30.0)
    lag1 = np.mean([np.corrcoef(eu[4, t], eu[4, t + 1])[0, 1] for t in range(10)])
    assert abs(lag1 - r_wind) < 3 * (1 - r_wind**2) / np.sqrt(m) + 2e-3
    lag10 = np.corrcoef(eps[0], eps[10])[0, 1]
    assert abs(lag10 - r_zi**10) < 5 * (1 - r_zi**20) / np.sqrt(m) + 5e-3
    # no motion and an infinite time scale: the error is frozen
    eu, ev, eps = _series(m=50, tl_uv=1e30, tl_zi=1e30, dist=0.0)
    assert np.allclose(eu[:, -1], eu[:, 0]) and np.allclose(eps[-1], eps[0])


def test_errors_are_reproducible_per_particle() -> None:
    a = _series(m=20, nsteps=5)
    b = _series(m=40, nsteps=5)
    for x, y in zip(a, b):
        assert np.array_equal(x, y[..., :20])
