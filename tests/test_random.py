"""Per-particle random streams of the core (fortran/stilt_random.f90, docs/physics.md §9)."""

from __future__ import annotations

import numpy as np
import pytest

from stilt import _core


def _normals(seed: int, streams: list[int] | np.ndarray, m: int) -> np.ndarray:
    return _core.random_normals(seed, np.asarray(streams, dtype=np.int64), m)


def test_fixed_seed_is_bit_reproducible() -> None:
    a = _normals(42, range(1, 51), 200)
    b = _normals(42, range(1, 51), 200)
    assert a.shape == (200, 50)
    assert np.array_equal(a, b)


def test_streams_do_not_depend_on_how_particles_are_split() -> None:
    whole = _normals(7, range(1, 101), 64)
    first = _normals(7, range(1, 38), 64)
    rest = _normals(7, range(38, 101), 64)
    assert np.array_equal(whole, np.hstack([first, rest]))
    # a single particle asked for alone, and in reverse order, gets the same stream
    assert np.array_equal(whole[:, 76], _normals(7, [77], 64)[:, 0])
    assert np.array_equal(whole[:, ::-1], _normals(7, range(100, 0, -1), 64))


def test_seed_and_stream_both_change_the_sequence() -> None:
    base = _normals(42, [1, 2], 32)
    assert not np.array_equal(base[:, 0], base[:, 1])
    assert not np.array_equal(base, _normals(43, [1, 2], 32))
    # large and negative seeds / streams are accepted and distinct
    big = _normals(-(2**62) + 5, [2**40, 3], 32)
    assert np.isfinite(big).all() and not np.array_equal(big[:, 0], big[:, 1])


def test_gaussian_moments() -> None:
    x = _normals(2024, range(1, 201), 1000).ravel()  # 200 000 deviates
    n = x.size
    # each moment within 5 standard errors of its N(0,1) value
    assert abs(x.mean()) < 5 / np.sqrt(n)
    assert abs(x.var() - 1.0) < 5 * np.sqrt(2 / n)
    assert abs(np.mean(x**3)) < 5 * np.sqrt(15 / n)
    assert abs(np.mean(x**4) - 3.0) < 5 * np.sqrt(96 / n)
    # tail probability P(|x| > 2) = 0.0455
    p2 = np.mean(np.abs(x) > 2.0)
    assert abs(p2 - 0.0455003) < 5 * np.sqrt(0.0455 * 0.9545 / n)


def test_neighbouring_streams_are_uncorrelated() -> None:
    x = _normals(1, range(1, 401), 500)
    # lag-0 correlation between stream j and j+1, and lag-1 within each stream
    r_between = np.mean(x[:, :-1] * x[:, 1:])
    r_lag1 = np.mean(x[:-1, :] * x[1:, :])
    bound = 5 / np.sqrt(x[:, 1:].size)
    assert abs(r_between) < bound
    assert abs(r_lag1) < bound


def test_uniform_deviates_are_uniform_on_open_interval() -> None:
    u = _core.random_uniforms(99, np.arange(1, 101, dtype=np.int64), 1000).ravel()
    assert u.min() > 0.0 and u.max() < 1.0
    counts, _ = np.histogram(u, bins=20, range=(0.0, 1.0))
    expected = u.size / 20
    chi2 = np.sum((counts - expected) ** 2 / expected)
    # chi-square with 19 degrees of freedom: P(chi2 > 43.82) = 0.001
    assert chi2 < 43.82


@pytest.mark.parametrize("seed", [0, 1, 123456789])
def test_streams_never_repeat_across_particles(seed: int) -> None:
    x = _normals(seed, range(1, 2001), 4)
    # no two particles share their first four deviates
    assert np.unique(x, axis=1).shape[1] == 2000


def test_state_size_is_exposed() -> None:
    # generator words, spare flag and a cached double: 7 int32 words per particle
    assert _core.random_state_size() == 7
