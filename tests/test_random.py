"""Per-particle random streams of the core (fortran/stilt_random.f90, docs/physics.md §9)."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest

from stilt import _core

REPO = Path(__file__).resolve().parents[1]


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
    # the four xoshiro128** words per particle
    assert _core.random_state_size() == 4


def _normal_cdf(x: np.ndarray) -> np.ndarray:
    return 0.5 * np.vectorize(math.erfc)(-np.asarray(x, dtype=float) / math.sqrt(2.0))


def test_ziggurat_table_follows_its_construction() -> None:
    spec = importlib.util.spec_from_file_location("ziggurat_table",
                                                  REPO / "scripts" / "ziggurat_table.py")
    zt = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(zt)
    r, x = _core.random_ziggurat_edges()
    assert x.shape == (129,) and x[1] == r and x[128] == 0.0
    v = zt.layer_area(r)
    f = np.exp(-0.5 * x * x)
    # the base strip: width v / f(r); every other layer has area v; the top ends at f = 1
    assert x[0] == pytest.approx(v / f[1], rel=1e-14)
    np.testing.assert_allclose(x[1:128] * (f[2:] - f[1:128]), v, rtol=1e-11)
    np.testing.assert_allclose(x, zt.edges(zt.solve_r())[0] + [0.0], rtol=1e-15, atol=0)


def test_gaussian_distribution_ks_and_layers() -> None:
    x = _normals(31, range(1, 101), 4000).ravel()   # 400 000 deviates
    n = x.size
    # Kolmogorov-Smirnov against N(0,1): D below the 0.1 % critical value 1.95 / sqrt(n)
    sample = np.sort(x[:100_000])
    cdf = _normal_cdf(sample)
    k = np.arange(1, sample.size + 1)
    d = max(np.max(k / sample.size - cdf), np.max(cdf - (k - 1) / sample.size))
    assert d < 1.95 / np.sqrt(sample.size)
    # chi-square over bins cut at the ziggurat's own layer edges (both signs, tail apart):
    # each layer, wedge and the tail carry their exact probability
    r, edges = _core.random_ziggurat_edges()
    cuts = np.unique(np.concatenate([-edges[1:], edges[1:], [-np.inf, np.inf]]))
    counts, _ = np.histogram(x, bins=cuts)
    expected = n * np.diff(_normal_cdf(cuts))
    chi2 = np.sum((counts - expected) ** 2 / expected)
    dof = counts.size - 1                            # 255
    assert chi2 < dof + 5 * math.sqrt(2 * dof)


def test_gaussian_tail_beyond_the_base_strip() -> None:
    x = np.abs(_normals(77, range(1, 201), 10_000).ravel())   # 2 000 000 deviates
    n = x.size
    r, _ = _core.random_ziggurat_edges()
    for cut in (r, 4.0, 4.5):
        p = math.erfc(cut / math.sqrt(2.0))
        assert abs(np.mean(x > cut) - p) < 5 * math.sqrt(p * (1 - p) / n), cut
    # the excess over r of the tail deviates has the tail's mean phi(r) / Q(r) - r
    tail = x[x > r] - r
    phi, q = math.exp(-0.5 * r * r) / math.sqrt(2 * math.pi), 0.5 * math.erfc(r / math.sqrt(2))
    mean = phi / q - r
    assert abs(tail.mean() - mean) < 5 * tail.std() / math.sqrt(tail.size)
