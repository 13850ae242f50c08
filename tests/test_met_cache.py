"""The per-worker met cache: invisible in results, bounded in bytes, each met period checked once."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from stilt.errors import MetError
from stilt.met.cache import TILE, MetCache, MetTile, met_cache
from stilt.met.discovery import MetConfig
from stilt.met.window import MetSource, Window

START = "2023-07-15T12:00"
NX, NY = 40, 34  # not a multiple of TILE: partial tiles at the far edges


@pytest.fixture(scope="module")
def met_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from stilt.met.synthetic import generate_synthetic_met

    folder = tmp_path_factory.mktemp("met")
    generate_synthetic_met(folder, start=START, hours=4, file_hours=2, nx=NX, ny=NY)
    return folder


@pytest.fixture(autouse=True)
def fresh_cache() -> None:
    cache = met_cache()
    budget = cache.max_bytes
    cache.clear()
    yield
    cache.resize(budget)
    cache.clear()


def _source(met_dir: Path) -> MetSource:
    paths = sorted(met_dir.glob("*.arl"))
    return MetSource(paths)


def _zsg() -> tuple[np.ndarray, float]:
    from stilt import _core

    nlvl, aa, bb, cc = _core.met_internal_grid(25000.0, 15000.0, 25)
    return _core.met_internal_sigma(int(nlvl), aa, bb, cc, 25000.0), 25000.0


def test_windows_cut_from_tiles_are_bit_identical(met_dir: Path) -> None:
    src = _source(met_dir)
    src.set_roughness(0.3)
    rng = np.random.default_rng(3)
    windows = [Window(0, 0, NX, NY), Window(NX - 5, NY - 3, 5, 3), Window(15, 15, 2, 2)]
    for _ in range(12):
        i0, j0 = int(rng.integers(0, NX - 2)), int(rng.integers(0, NY - 2))
        windows.append(Window(i0, j0, int(rng.integers(2, NX - i0 + 1)),
                              int(rng.integers(2, NY - j0 + 1))))
    for time in src.times[:3]:
        for win in windows:
            direct = src._read_window(time, win, 1)
            cached = src._read_cached(time, win, 1)
            for a, b in zip(direct, cached, strict=True):
                assert a.shape == b.shape
                assert np.array_equal(a, b, equal_nan=True), win
    cache = met_cache()
    assert cache.hits > 0
    # every tile of the grid was remapped once per time: as many entries as tiles x times
    n_tiles = -(-NX // TILE) * -(-NY // TILE)
    assert len(cache) == 3 * n_tiles


def test_cache_keys_hold_roughness_but_not_the_vertical_grid(met_dir: Path) -> None:
    """Tiles hold the met as read (the core remaps it onto each run's levels): a new
    roughness is a new entry, a new model top or set of levels reuses the tiles."""
    src = _source(met_dir)
    zsg, z_top = _zsg()
    win, time = Window(4, 4, 20, 20), src.times[1]
    rghs = 19  # slot of the roughness in the surface fields (stilt_met sv_rghs)
    src.set_roughness(0.05)
    smooth = src._read_cached(time, win, 0)
    src.set_roughness(1.5)
    rough = src._read_cached(time, win, 0)
    assert np.all(smooth[1][rghs] == 0.05) and np.all(rough[1][rghs] == 1.5)
    for a, b in zip(rough, src._read_window(time, win, 0), strict=True):
        assert np.array_equal(a, b, equal_nan=True)
    cache = met_cache()
    entries, hits = len(cache), cache.hits
    low = src.remap(time, win, zsg, 20000.0, {"ziscale": 1.0}, 0)
    high = src.remap(time, win, zsg, z_top, {"ziscale": 1.0}, 0)
    assert len(cache) == entries and cache.hits > hits
    # the same columns, remapped onto each top's levels
    assert np.array_equal(low.raw, rough[0]) and np.array_equal(high.raw, rough[0])
    assert not np.array_equal(low.profiles(), high.profiles())


def test_lru_stays_within_budget() -> None:
    def tile(n: int) -> MetTile:
        return MetTile(np.zeros((10, 2, n, n)), np.zeros((20, n, n)), np.zeros((n, n)))

    one = tile(4).nbytes
    cache = MetCache(3 * one)
    for k in range(3):
        cache.put(k, tile(4))
    assert cache.get(0) is not None  # 0 is now the most recently used
    cache.put(3, tile(4))
    assert cache.get(1) is None and cache.get(0) is not None and len(cache) == 3
    assert cache.nbytes == 3 * one <= cache.max_bytes
    cache.put("big", tile(8))  # more than the whole budget: not kept
    assert cache.get("big") is None and cache.nbytes == 3 * one
    cache.resize(one)
    assert len(cache) == 1 and cache.nbytes == one
    cache.resize(0)
    cache.put(5, tile(4))
    assert len(cache) == 0 and not cache.enabled


def test_a_failing_tile_region_falls_back_to_the_window(met_dir: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    src = _source(met_dir)
    win = Window(3, 3, 6, 6)
    plain = MetSource._read_window

    def only_the_window(self: MetSource, time: np.datetime64, window: Window, *a: object):
        if window != win:  # as if a node outside the window were not finite
            raise MetError("not finite outside the window")
        return plain(self, time, window, *a)

    monkeypatch.setattr(MetSource, "_read_window", only_the_window)
    got = src._read_cached(src.times[0], win, 1)
    assert np.array_equal(got[0], plain(src, src.times[0], win, 1)[0])
    assert len(met_cache()) == 0  # nothing kept from the failed region


def test_met_checked_once_per_process(met_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import stilt.met.arl as arl

    calls: list[tuple[str, int]] = []
    check = arl.check_arl_values

    def counted(path: object, times: np.ndarray) -> None:
        calls.append((Path(str(path)).name, len(times)))
        check(path, times)

    monkeypatch.setattr(arl, "check_arl_values", counted)
    src = _source(met_dir)
    src.check_values(src.times[:3])
    first = list(calls)
    assert sum(n for _, n in first) == 3
    src.check_values(src.times[:3])
    _source(met_dir).check_values(src.times[1:4])  # another run: only the new period
    assert calls[len(first):] == [(calls[-1][0], 1)]
    met_cache(0)
    src.check_values(src.times[:1])  # no cache: checked every time
    assert len(calls) == len(first) + 2


def test_trajectories_identical_with_and_without_cache(met_dir: Path) -> None:
    from stilt import run_trajectories

    met = MetConfig(directory=met_dir, file_format="%Y%m%d_%H", file_tres="1h")
    receptors = [{"time": "2023-07-15T15:00", "latitude": 39.5 + 0.2 * k,
                  "longitude": -102.0 + 0.3 * k, "altitude": 10.0} for k in range(3)]
    kw = dict(n_hours=-3, numpar=40, seed=5, hnf_plume=True)
    cached = [run_trajectories(r, met, **kw) for r in receptors]
    assert met_cache().hits > 0  # the later receptors used the first one's met
    met_cache(0)
    for r, ds in zip(receptors, cached, strict=True):
        plain = run_trajectories(r, met, **kw)
        assert plain.identical(ds)


def test_file_header_read_once_per_process(met_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import stilt.met.arl as arl

    first = _source(met_dir)
    calls: list[object] = []
    read = arl.read_arl
    monkeypatch.setattr(arl, "read_arl", lambda *a, **k: calls.append(a) or read(*a, **k))
    second = _source(met_dir)
    assert calls == []  # the header came from the cache
    assert second.attrs == first.attrs and second.variables == first.variables
    assert np.array_equal(second.level_values, first.level_values)
    met_cache(0)
    third = _source(met_dir)
    assert len(calls) == 1 and third.attrs == first.attrs
