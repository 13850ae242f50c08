"""run_trajectories against the reference binary (hycs_std) on real and synthetic met.

The oracle runs live in ../shared/oracle (README there): no-turbulence trajectories, and the
500-particle ensembles with the binary's own seed-to-seed noise floor.
"""

from __future__ import annotations

import gzip
import multiprocessing
import shutil
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xarray as xr

import stilt
from oracle_ensembles import (CASES, OUR_SEEDS, SCORE_BOUND, Summary, foot_hour_bound,
                              foot_ratio, footprint_agreement, hourly_scores,
                              hourly_statistics, pool, pool_file_summaries, receptor,
                              summarize, summary_run)
from stilt.met.projection import ArlGrid

VARS = ["time", "indx", "long", "lati", "zagl", "foot", "mlht", "pres", "dens", "samt", "sigw",
        "tlgr", "temp", "shtf", "zsfc", "wout"]


def met_config(shared: Path, case: str, tmp: Path) -> stilt.MetConfig:
    """The case's met with default settings (the roughness table the binary read for the
    oracle runs is stilt's default; its z0 per node sets the log-law wind below the first
    NGM level): the NGM file, or the synthetic files gunzipped under strftime names."""
    if case == "ngm_oct1618":
        return stilt.MetConfig(shared / "met", "oct1618.BIN")
    for gz in sorted((shared / "oracle" / case / "met").glob("*.gz")):
        target = tmp / f"{gz.name[:11]}_synt"  # 20230716_18-23_synt.gz -> 20230716_18_synt
        if not target.exists():
            with gzip.open(gz) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst)
    return stilt.MetConfig(tmp, "%Y%m%d_%H_synt", "6 hours")


def read_particle_stilt(path: Path) -> np.ndarray:
    with gzip.open(path, "rt") as f:
        return np.loadtxt(f, skiprows=1)


@pytest.fixture(scope="module")
def synth_met(shared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> stilt.MetConfig:
    return met_config(shared_dir, "synth_hrrrlike", tmp_path_factory.mktemp("synth_met"))


def _met(case: str, shared_dir: Path, synth_met: stilt.MetConfig) -> stilt.MetConfig:
    return synth_met if case == "synth_hrrrlike" else met_config(shared_dir, case, Path("."))


@pytest.mark.parametrize("case, tol_cells", [
    ("ngm_oct1618", 0.01),
    # 0.0016 cell now; 0.027 with omega converted to w with the dry-air density
    ("synth_hrrrlike", 0.01),
])
def test_no_turbulence_trajectory_matches_binary(case: str, tol_cells: float, shared_dir: Path,
                                                 synth_met: stilt.MetConfig) -> None:
    folder = shared_dir / "oracle" / case / "noturb"
    rows = read_particle_stilt(folder / "PARTICLE_STILT.DAT.gz")
    rows = rows[rows[:, 1] == 1]
    met = _met(case, shared_dir, synth_met)
    ds = stilt.run_trajectories(receptor(case), met, n_hours=-24, numpar=5, seed=1, nturb=1,
                                varsiwant=VARS)
    # every particle of a no-turbulence run follows the same path
    same = ds.long.values == ds.long.values[:, :1]
    assert same.all()
    files = ds.attrs["met_files"]
    grid = ArlGrid.from_attrs(stilt.read_arl(files[0], x=(1, 1), y=(1, 1)).attrs)
    hours = rows[(rows[:, 0] % 60) == 0]
    assert hours.shape[0] == 24
    ours = ds.sel(time=hours[:, 0], indx=1)
    x_ref, y_ref = grid.to_grid(hours[:, 3], hours[:, 2])
    x, y = grid.to_grid(ours.lati.values, ours.long.values)
    print(case, "max |dx|, |dy| (cells):", np.max(np.abs(x - x_ref)), np.max(np.abs(y - y_ref)))
    assert np.max(np.abs(x - x_ref)) < tol_cells
    assert np.max(np.abs(y - y_ref)) < tol_cells
    assert np.all(np.abs(ours.zagl.values - hours[:, 4]) <= 1.0 + 0.01 * hours[:, 4])
    # met diagnostics at the particle
    np.testing.assert_allclose(ours.pres.values, hours[:, 7], atol=0.6)
    np.testing.assert_allclose(ours.temp.values, hours[:, 12], atol=0.25)
    np.testing.assert_allclose(ours.dens.values, hours[:, 8], rtol=2e-3)
    assert float(np.abs(ds.foot).max()) == 0.0 and float(np.abs(ds.sigw).max()) == 0.0
    first = ds.sel(time=-1.0, indx=1)
    np.testing.assert_allclose(float(first.zsfc), rows[0, 14], atol=0.02)
    np.testing.assert_allclose(float(first.wout), rows[0, 15], atol=2e-5)


def ensemble_metrics(ours: Summary, ref: Summary, case: str) -> dict[str, Any]:
    """Hourly ensemble statistics and the time-integrated footprint, ours against the binary
    (either ensemble may have any number of particles: foot is compared per particle)."""
    out: dict[str, Any] = dict(hourly_statistics(ours, ref, CASES[case]["lat"]))
    out["foot_hourly"] = (ours.foot_hour / ours.n) / (ref.foot_hour / ref.n)
    out["foot_total"] = (ours.foot_hour.sum() / ours.n) / (ref.foot_hour.sum() / ref.n)
    assert ours.footprint is not None and ref.footprint is not None
    out["pearson"], out["shift_km"] = footprint_agreement(ours.footprint / ours.n,
                                                          ref.footprint / ref.n)
    return out


def binary_noise(shared_dir: Path, case: str) -> dict[str, float]:
    """The binary's own seed-to-seed differences (seed 42 against 43) for the hourly
    statistics, from the oracle files; the first two hours' foot, which the seed-43 file
    has minute by minute; and the footprint centroid shift of the oracle README."""
    folder = shared_dir / "oracle" / case
    r42 = summarize(xr.open_dataset(folder / "particles_full.nc"), case, footprint=False)
    r43 = summarize(xr.open_dataset(folder / "particles_seed43_sampled.nc"), case,
                    footprint=False)
    stats = hourly_statistics(r43, r42, CASES[case]["lat"])
    noise = {k: float(v.max()) for k, v in stats.items()}
    for hour in (1, 2):
        noise[f"foot_h{hour}"] = abs((r43.foot_hour[hour - 1] / r43.n)
                                     / (r42.foot_hour[hour - 1] / r42.n) - 1.0)
    noise["shift_km"] = CASES[case]["noise"]["shift"]
    return noise


def test_binary_noise_floor_is_the_oracle_readme(shared_dir: Path) -> None:
    """The noise computed from the two seeds of the binary is the README's table."""
    for case, c in CASES.items():
        noise = binary_noise(shared_dir, case)
        assert noise["pos_km"] == pytest.approx(c["noise"]["pos"], abs=0.5)
        assert noise["height_m"] == pytest.approx(c["noise"]["height"], abs=1.0)
        assert noise["below"] == pytest.approx(c["noise"]["below"], abs=0.001)


#: more seeds of the binary on the oracle cases (bench/binary_seeds.py), beside the oracle's
#: full seed 42 and sampled seed 43: hourly rows and hourly foot sums of seeds 44-46 (500
#: particles, like the oracle) and 47-49 (2000 particles), and the sums of seeds 60-67 (2000
#: particles each, ``<case>_pool.nc``, bench/binary_pool.py), 24500 particles in all
BINARY_SEEDS_DIR = Path(__file__).parent / "data" / "binary_seeds"
EXTRA_BINARY_SEEDS = {44: 500, 45: 500, 46: 500, 47: 2000, 48: 2000, 49: 2000}
POOL_BINARY_SEEDS = dict.fromkeys(range(60, 68), 2000)


def binary_summaries(shared_dir: Path, case: str) -> dict[int, Summary]:
    """The binary's ensembles by seed: 42 (with its footprint), 43 (hourly rows; foot only
    in hours 1-2), the extra seeds (hourly rows and hourly foot) and the pool's seeds (their
    sums)."""
    folder = shared_dir / "oracle" / case
    out = {42: summarize(xr.open_dataset(folder / "particles_full.nc"), case),
           43: summarize(xr.open_dataset(folder / "particles_seed43_sampled.nc"), case,
                         footprint=False)}
    for seed in EXTRA_BINARY_SEEDS:
        out[seed] = summarize(xr.open_dataset(BINARY_SEEDS_DIR / f"{case}_seed{seed}.nc"),
                              case, footprint=False)
    return out | pool_file_summaries(BINARY_SEEDS_DIR / f"{case}_pool.nc")


def test_extra_binary_seeds_are_runs_of_the_oracle_case(shared_dir: Path) -> None:
    """The extra seeds are the oracle case with other random numbers: their particle count,
    hour-1 ensemble within the oracle's own seed-to-seed noise of seed 42, a different
    realisation (no two seeds alike), and every hourly statistic of every seed within
    ``SCORE_BOUND`` standard errors of seed 42 (the criterion our ensembles meet)."""
    for case in CASES:
        runs = binary_summaries(shared_dir, case)
        noise = binary_noise(shared_dir, case)
        assert {s: runs[s].n for s in runs.keys() - {42, 43}} == (EXTRA_BINARY_SEEDS
                                                                  | POOL_BINARY_SEEDS)
        for seed in EXTRA_BINARY_SEEDS.keys() | POOL_BINARY_SEEDS.keys():
            stats = hourly_statistics(runs[seed], runs[42], CASES[case]["lat"])
            assert stats["pos_km"][0] <= 2 * noise["pos_km"]
            assert 0 < stats["height_m"][0] <= 2 * noise["height_m"]
        for seed in runs.keys() - {42}:
            for key, value in hourly_scores(runs[seed], runs[42]).items():
                assert float(value.max()) <= SCORE_BOUND[key], (case, seed, key)


@pytest.fixture(scope="module")
def ensembles(shared_dir: Path, synth_met: stilt.MetConfig) -> dict[str, dict[str, Any]]:
    mets = {case: _met(case, shared_dir, synth_met) for case in CASES}
    jobs = [(case, seed) for case in sorted(CASES) for seed in OUR_SEEDS]
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=2, mp_context=ctx) as workers:
        done = list(workers.map(summary_run, [c for c, _ in jobs], [mets[c] for c, _ in jobs],
                                [s for _, s in jobs]))
    runs = {}
    for case in sorted(CASES):
        ours = pool([r for (c, _), r in zip(jobs, done) if c == case])
        binary = binary_summaries(shared_dir, case)
        m = ensemble_metrics(ours, binary[42], case)
        binary_pool = pool(binary.values())
        hourly_mean = hourly_statistics(ours, binary_pool, CASES[case]["lat"])
        scores = {"pooled": hourly_scores(ours, binary_pool),
                  "42": hourly_scores(ours, binary[42])}
        # the foot against every seed that has it minute by minute (all but 43), by hour with
        # the standard error of the ratio from both ensembles' particle-to-particle spread
        ref_foot = pool([r for s, r in binary.items() if s != 43])
        (mo, so), (mb, sb) = ours.foot_mean_and_error(), ref_foot.foot_mean_and_error()
        m["foot_hourly_mean"], m["foot_hourly_se"] = foot_ratio(mo, so, mb, sb)
        m["foot_total_mean"] = mo.sum() / mb.sum()
        print(case, {k: (np.round(v, 3) if isinstance(v, (float, np.ndarray)) else v)
                     for k, v in m.items()})
        print(case, "against the binary's mean:", {k: round(float(v.max()), 3)
                                                   for k, v in hourly_mean.items()})
        for ref, sc in scores.items():
            print(case, f"scores against {ref}:", {k: round(float(v.max()), 2)
                                                   for k, v in sc.items()})
        runs[case] = {"metrics": m, "noise": binary_noise(shared_dir, case),
                      "hourly_mean": hourly_mean, "scores": scores}
    return runs


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(CASES))
def test_ensemble_footprint_and_foot_agree_with_binary(case: str, ensembles) -> None:
    """Issue criteria: time-integrated footprint Pearson r >= 0.97 and centroid shift <= 2x
    the binary's seed-to-seed shift (against the oracle's seed 42 footprint); total foot
    within 5 % of the binary's seeds pooled (24000 particles with the hourly foot);
    foot per hour within 5 % of them, or within ``FOOT_SCORE_BOUND`` standard errors of the
    ratio where the two ensembles cannot resolve 5 % (night hours carried by a few particles;
    HRRR-like hours 8-18: the binary's own 500-particle seeds differ there by 20-40 %; the bound
    is checked on the binary's own particles in tests/test_family_ensembles.py); and, in the
    first two hours, within 5 % of seed 42 alone."""
    m, noise = ensembles[case]["metrics"], ensembles[case]["noise"]
    assert m["pearson"] >= 0.97
    assert m["shift_km"] <= 2.0 * noise["shift_km"]
    assert abs(m["foot_total_mean"] - 1.0) <= 0.05
    bound = foot_hour_bound(m["foot_hourly_se"])
    assert np.all(np.abs(m["foot_hourly_mean"] - 1.0) <= bound), m["foot_hourly_mean"]
    for hour in (1, 2):
        assert abs(m["foot_hourly"][hour - 1] - 1.0) <= 0.05
        assert m["foot_hourly_se"][hour - 1] < 0.02  # these hours do resolve 5 %


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(CASES))
def test_ensemble_statistics_within_binary_noise(case: str, ensembles) -> None:
    """Every hourly statistic (mean position, mean height, fraction below mlht and below
    0.5 mlht) within the binary's seed-to-seed noise of the oracle README (seed 42 against
    43), measured against the binary's own expectation (all its seeds pooled, 24500
    particles); and at every hour within ``SCORE_BOUND`` standard errors of the difference
    (from the particles' spread, tests/oracle_ensembles.py) of the binary's pooled seeds and
    of its seed 42 alone. (The seed-42 criterion was the largest distance of the binary's
    other seeds from it: a draw of a few seeds, which our own pools of 8 seeds straddled.)"""
    noise = ensembles[case]["noise"]
    for key, value in ensembles[case]["hourly_mean"].items():
        assert value.max() <= noise[key], key
    for ref, scores in ensembles[case]["scores"].items():
        for key, value in scores.items():
            assert float(value.max()) <= SCORE_BOUND[key], (ref, key, float(value.max()))


UNIFORM_COLUMNS = ("time indx long lati zagl sigw tlgr zsfc icdx temp samt foot shtf tcld dmas "
                   "dens rhfr sphu lcld zloc dswf wout mlht rain crai pres whtf temz zcfx").split()


@pytest.mark.parametrize("case", ["unstable", "stable", "free_troposphere", "humid"])
def test_uniform_oracle_deterministic_columns(case: str, shared_dir: Path,
                                              tmp_path: Path) -> None:
    """docs/physics.md §13.1: columns that do not depend on random numbers, end to end."""
    from stilt.params import read_control, read_setup

    folder = shared_dir / "oracle" / "uniform" / case
    with gzip.open(folder / "met.arl.gz") as src, open(tmp_path / "met.arl", "wb") as dst:
        shutil.copyfileobj(src, dst)
    control = read_control(folder / "CONTROL")
    setup = read_setup(folder / "SETUP.CFG")
    setup.pop("seed", None)
    lat, lon, z = control["points"][0]
    rec = {"time": control["time"], "latitude": lat, "longitude": lon, "altitude": z}
    # default settings: z0 from the binary's ROUGLEN.ASC, which stilt ships (docs/physics.md §2.7;
    # 0.44 m at the receptor's node, 40.5 N 112 W)
    met = stilt.MetConfig(tmp_path, "met.arl")
    ours = stilt.run_trajectories(rec, met, n_hours=control["n_hours"], seed=3, **setup)
    ref_rows = read_particle_stilt(folder / "PARTICLE_STILT.DAT.gz")
    ref = {c: ref_rows[:, i] for i, c in enumerate(UNIFORM_COLUMNS)}
    first = ref["time"][0]
    sel = ref["time"] == first
    o = ours.sel(time=first)
    assert o.zagl.notnull().all() and int(sel.sum()) == ours.sizes["indx"]
    # mixed-layer height: one value, printed with 2 decimals (KMIXD=3 residual 0.01 m)
    np.testing.assert_allclose(o.mlht.values, np.unique(ref["mlht"][sel])[0], atol=0.011)
    # below the first internal level (9.44 m here) sigma_w and T_L are the level-1 values
    z1 = 10.0 * (25000.0 - 1400.0) / 25000.0
    low, ref_low = o.zagl.values < z1, ref["zagl"][sel] < z1
    if ref_low.any():
        assert low.any()
        np.testing.assert_allclose(o.sigw.values[low], np.median(ref["sigw"][sel][ref_low]),
                                   atol=5e-4)
        # the binary's most common T_L (node at 112.00W, z0 0.44 m)
        values, counts = np.unique(ref["tlgr"][sel][ref_low], return_counts=True)
        np.testing.assert_allclose(o.tlgr.values[low], values[np.argmax(counts)], atol=1.5e-4)
    # pres, dens, temz are functions of height only here: ours on the binary's curve
    zr = ref["zagl"][sel]
    order = np.argsort(zr)
    inside = (o.zagl.values > zr.min()) & (o.zagl.values < zr.max())
    for name, tol in (("pres", 0.01), ("dens", 6e-5), ("temz", 0.006), ("temp", 0.006)):
        curve = np.interp(o.zagl.values[inside], zr[order], ref[name][sel][order])
        np.testing.assert_allclose(o[name].values[inside], curve, atol=tol, err_msg=name)
    # foot of rows below the foot height for the whole output interval: 60 dt M_air / D
    full = ref["samt"][sel] == ref["samt"][sel].max()
    ours_full = np.isclose(o.samt.values, ref["samt"][sel].max())
    if ref["foot"][sel][full].max() > 0:
        assert ours_full.any()
        # humid air too, since the moist density takes the binary's specific humidity
        # (docs/physics.md §2.6; it was 4e-4 low before)
        np.testing.assert_allclose(o.foot.values[ours_full], np.median(ref["foot"][sel][full]),
                                   rtol=3e-5)
    else:
        assert float(o.foot.max()) == 0.0


def test_no_turbulence_aloft_matches_binary(shared_dir: Path) -> None:
    """The NGM no-turbulence trajectory released at 150 .. 3000 m (the binary's, from
    bench/binary_noturb_aloft.py): positions within 0.01 grid cell and heights within
    1 m + 1 % at every hour, as the issue asks of the 10-m oracle particles. Measured: at
    most 0.004 cell; with dry data-level heights (SPHU ignored in them) 500-1000 m ended
    0.009-0.022 cell south-west, the path 0.05-0.1 % longer (docs/transport.md)."""
    ref = xr.open_dataset(Path(__file__).parent / "data" / "binary_noturb_aloft.nc")
    met = met_config(shared_dir, "ngm_oct1618", Path("."))
    grid = ArlGrid.from_attrs(stilt.read_arl(shared_dir / "met" / "oct1618.BIN", x=(1, 1),
                                             y=(1, 1)).attrs)
    for height in ref.height.values:
        ours = stilt.run_trajectories(receptor("ngm_oct1618") | {"altitude": float(height)},
                                      met, n_hours=-24, numpar=1, seed=1, nturb=1,
                                      varsiwant=["time", "indx", "long", "lati", "zagl"])
        o = ours.sel(time=-60.0 * ref.hour.values).isel(indx=0)
        b = ref.sel(height=height)
        xo, yo = grid.to_grid(o.lati.values, o.long.values)
        xb, yb = grid.to_grid(b.lati.values, b.long.values)
        cells = np.hypot(np.asarray(xo) - xb, np.asarray(yo) - yb)
        assert cells.max() <= 0.01, (height, cells.max())
        assert np.all(np.abs(o.zagl.values - b.zagl.values) <= 1.0 + 0.01 * b.zagl.values)
