"""Footprints: parity with the reference footprints of the oracle runs, physics, bad input."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from stilt import _core
from stilt.errors import ConfigError, FootprintError, MissingDependencyError
from stilt.footprint import Grid, calc_footprint, calc_footprints, write_footprint

ORACLE = {
    "ngm_oct1618": (
        Grid(-100, -80, 30, 45, 0.1, 0.1),
        {"time": "1995-10-17T18:00", "latitude": 40.0, "longitude": -90.0, "altitude": 10.0},
    ),
    "synth_hrrrlike": (
        Grid(-116, -96, 35, 45, 0.05, 0.05),
        {"time": "2023-07-16T20:00", "latitude": 40.0, "longitude": -101.5, "altitude": 10.0},
    ),
}
RECEPTOR = {"time": "2020-06-01T12:00", "latitude": 40.0, "longitude": -100.0, "altitude": 10.0}


def _particles(time, lon, lat, foot) -> xr.Dataset:
    """Build a (time, indx) particle Dataset from (nt, np) arrays."""
    lon, lat, foot = (np.asarray(a, dtype=float) for a in (lon, lat, foot))
    return xr.Dataset(
        {
            name: (("time", "indx"), arr)
            for name, arr in (("long", lon), ("lati", lat), ("foot", foot))
        },
        coords={"time": np.asarray(time, dtype=float), "indx": np.arange(1, lon.shape[1] + 1)},
    )


def _random_walk(n_particles=40, minutes=180, seed=1, step=0.01) -> xr.Dataset:
    rng = np.random.default_rng(seed)
    time = -np.arange(1, minutes + 1, dtype=float)
    lon = -100 + np.cumsum(rng.normal(-0.004, step, (minutes, n_particles)), axis=0)
    lat = 40 + np.cumsum(rng.normal(0.001, step, (minutes, n_particles)), axis=0)
    foot = np.where(
        rng.random((minutes, n_particles)) < 0.6, rng.random((minutes, n_particles)) * 0.01, 0.0
    )
    return _particles(time, lon, lat, foot)


GRID = Grid(-102, -98, 38, 42, 0.05, 0.05)


# ---- parity with the reference footprints --------------------------------------------------


@pytest.mark.parametrize("case", sorted(ORACLE))
def test_oracle_parity(shared_dir: Path, case: str) -> None:
    folder = shared_dir / "oracle" / case
    grid, receptor = ORACLE[case]
    particles = xr.open_dataset(folder / "particles_full.nc").load()
    for integrate, ref_name in ((False, "footprint.nc"), (True, "footprint_int.nc")):
        ours = calc_footprint(particles, receptor, grid, time_integrate=integrate)
        with xr.open_dataset(folder / ref_name) as ref:
            a, b = ours["foot"].values, ref["foot"].values
            assert a.shape == b.shape
            np.testing.assert_array_equal(ours["time"].values, ref["time"].values)
            np.testing.assert_allclose(ours["lat"].values, ref["lat"].values, rtol=0, atol=1e-9)
            np.testing.assert_allclose(ours["lon"].values, ref["lon"].values, rtol=0, atol=1e-9)
        big = b > 1e-6 * b.max()
        assert np.max(np.abs(a[big] - b[big]) / b[big]) < 1e-5, ref_name
        assert abs(a.sum() - b.sum()) / b.sum() < 1e-6, ref_name
        np.testing.assert_array_equal(a > 0, b > 0)


# ---- physics -------------------------------------------------------------------------------


def test_single_particle_lands_whole_in_its_cell() -> None:
    # one particle: no spread, so every kernel is the 1x1 delta and the cell gets all of foot
    ds = _particles(
        [-1, -2, -61],
        [[-99.97], [-99.97], [-99.96]],
        [[40.02], [40.02], [40.07]],
        [[0.5], [0.0], [0.25]],
    )
    out = calc_footprint(ds, RECEPTOR, GRID, hnf_plume=False)
    foot = out["foot"]
    assert foot.sizes["time"] == 2  # hours [-60, 0) and [-120, -60)
    np.testing.assert_array_equal(
        out["time"].values,
        np.array(["2020-06-01T10:00", "2020-06-01T11:00"], dtype="datetime64[ns]"),
    )
    assert foot.sel(time="2020-06-01T11:00", lon=-99.975, lat=40.025).item() == 0.5
    assert foot.sel(time="2020-06-01T10:00", lon=-99.975, lat=40.075).item() == 0.25
    assert out.attrs["nearfield_densified"] == 0
    assert np.count_nonzero(foot.values) == 2


@pytest.mark.parametrize("yres", [0.02, 0.01])
def test_kernel_integral_equals_foot_and_has_gaussian_shape(yres: float) -> None:
    # three particles, all at the receptor at t = -1; at t = -601 spread apart, only the first
    # carries foot. Its kernel integrates to foot / 3, has the bandwidth of docs/physics.md
    # §10.6 and its nodes are xres apart along x and yres apart along y (geometric
    # orientation, §10.7).
    lon = np.array([[-100.0, -100.0, -100.0], [-99.995, -101.0, -99.0]])
    lat = np.array([[40.0, 40.0, 40.0], [40.003, 40.5, 39.5]])
    foot = np.array([[0.0, 0.0, 0.0], [0.3, 0.0, 0.0]])
    grid = Grid(-103, -97, 37, 43, 0.02, yres)
    out = calc_footprint(_particles([-1, -601], lon, lat, foot), RECEPTOR, grid, hnf_plume=False)
    f = out["foot"].values[0]
    assert f.sum() == pytest.approx(0.3 / 3, rel=1e-12)
    w = (
        0.06
        * (np.var(lon[1], ddof=1) + np.var(lat[1], ddof=1)) ** 0.25
        * (600 / 1440) ** 0.5
        / np.cos(np.deg2rad(lat[1].mean()))
    )
    j, i = np.unravel_index(np.argmax(f), f.shape)
    assert out["lon"].values[i] == pytest.approx(-99.99)
    assert out["lat"].values[j] == pytest.approx(40 + yres / 2)
    assert np.count_nonzero(f[j]) == 2 * int(np.floor(3 * w / 0.02)) + 1
    assert np.count_nonzero(f[:, i]) == 2 * int(np.floor(3 * w / yres)) + 1
    assert f[j, i + 1] / f[j, i] == pytest.approx(np.exp(-(0.02**2) / (2 * w**2)), rel=1e-12)
    assert f[j + 2, i] / f[j, i] == pytest.approx(np.exp(-4 * yres**2 / (2 * w**2)), rel=1e-12)


def test_mass_outside_grid_is_reported() -> None:
    ds = _random_walk(step=0.03)
    total = float(np.nansum(ds["foot"].values)) / ds.sizes["indx"]
    inner = calc_footprint(
        ds, RECEPTOR, Grid(-100.3, -99.6, 39.8, 40.4, 0.02, 0.02), hnf_plume=False
    )
    wide = calc_footprint(ds, RECEPTOR, Grid(-110, -90, 30, 50, 0.02, 0.02), hnf_plume=False)
    for out in (inner, wide):
        assert out.attrs["foot_total"] == pytest.approx(total, rel=1e-12)
        assert out.attrs["foot_in_grid"] == pytest.approx(float(out["foot"].sum()), rel=1e-12)
        assert out.attrs["foot_in_grid"] + out.attrs["foot_outside_grid"] == pytest.approx(total)
    assert wide.attrs["foot_outside_grid"] == pytest.approx(0, abs=1e-12 * total)
    assert wide.attrs["rows_outside_domain"] == 0
    assert inner.attrs["foot_outside_grid"] > 0.05 * total
    assert inner.attrs["rows_outside_domain"] > 0


def test_time_integrated_is_sum_of_hourly_layers() -> None:
    ds = _random_walk()
    hourly = calc_footprint(ds, RECEPTOR, GRID, hnf_plume=False)
    integ = calc_footprint(ds, RECEPTOR, GRID, time_integrate=True, hnf_plume=False)
    assert hourly.sizes["time"] == 3 and integ.sizes["time"] == 1
    assert integ["time"].values[0] == np.datetime64("2020-06-01T12:00")
    np.testing.assert_allclose(
        integ["foot"].values[0], hourly["foot"].sum("time").values, rtol=1e-12, atol=1e-18
    )


def test_result_does_not_depend_on_particle_order() -> None:
    ds = _random_walk()
    perm = np.random.default_rng(7).permutation(ds.sizes["indx"])
    shuffled = ds.isel(indx=perm).assign_coords(indx=np.arange(1, ds.sizes["indx"] + 1))
    a = calc_footprint(ds, RECEPTOR, GRID, hnf_plume=False)["foot"].values
    b = calc_footprint(shuffled, RECEPTOR, GRID, hnf_plume=False)["foot"].values
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-18)


def test_hnf_plume_dilution_follows_the_coded_formula() -> None:
    time = -np.arange(1.0, 6.0)
    n = time.size
    samt = np.ones((n, 1))
    sigw = np.full((n, 1), 0.4)
    tlgr = np.full((n, 1), 5.0)
    dens = np.full((n, 1), 1.1)
    mlht = np.full((n, 1), 40.0)
    foot = np.full((n, 1), 0.01)
    tl2 = tlgr[0, 0] ** 2
    ts = np.abs(time) * 60
    sigma = np.sqrt(2) * 0.4 * np.sqrt(5.0 * ts + tl2 * np.exp(-ts / 5.0) - 1)
    plume = 10.0 + np.cumsum(sigma)
    expect = np.where(plume < 0.5 * 40.0, 0.02897 / (plume * 1.1) * 60, 0.01)
    out, _ = _core.footprint_hnf(
        np.arange(1, n + 1, dtype=np.int32),
        np.abs(time),
        foot.T,
        samt.T,
        sigw.T,
        tlgr.T,
        dens.T,
        mlht.T,
        np.array([10.0]),
        0.5,
        np.zeros(1),
    )
    np.testing.assert_allclose(out[0], expect, rtol=1e-14)
    assert (out[0] != 0.01).sum() >= 1 and (out[0] == 0.01).sum() >= 1  # both branches


def test_hnf_on_single_precision_fields_equals_the_widened_fields() -> None:
    """footprint_hnf_sp (the fields as trajectory files store them) gives bit for bit what
    footprint_hnf gives on the fields widened to double, through every branch: absent rows,
    samt = 0, early rows where exp(-t/T_L) counts, late rows where it does not, T_L <= 0, NaN
    sigw, both veght rules."""
    rng = np.random.default_rng(11)
    nt, n = 300, 64
    time = -np.arange(1, nt + 1, dtype=float) / 4  # down to 15 s steps: t / T_L from 0.03
    fields = {"samt": np.where(rng.random((nt, n)) < 0.5, 0.0, rng.uniform(0.1, 1, (nt, n))),
              "sigw": rng.uniform(0.05, 1.5, (nt, n)), "tlgr": rng.uniform(-1, 600, (nt, n)),
              "dens": rng.uniform(0.8, 1.2, (nt, n)), "mlht": rng.uniform(50, 2000, (nt, n))}
    fields["sigw"][rng.random((nt, n)) < 0.02] = np.nan
    single = {k: v.astype(np.float32) for k, v in fields.items()}
    foot = rng.uniform(0, 0.05, (nt, n))
    foot[rng.random((nt, n)) < 0.1] = np.nan
    for v in single.values():
        v[np.isnan(foot)] = np.nan
    order = np.arange(1, nt + 1, dtype=np.int32)
    z0 = rng.uniform(5, 100, n)
    for veght in (0.5, 60.0):
        wide, _ = _core.footprint_hnf(order, np.abs(time), foot.T,
                                      *(single[k].astype(float).T for k in fields), z0, veght,
                                      np.zeros(n))
        got = _core.footprint_hnf_sp(order, np.abs(time), foot.T,
                                     *(single[k].T for k in fields), z0, veght)
        assert np.array_equal(got, wide, equal_nan=True)
        assert np.count_nonzero((got != foot.T) & ~np.isnan(foot.T)) > 20  # diluted rows


def test_step_medians_are_numpy_medians() -> None:
    """The densification test's medians (per particle over its steps with |time| < 100 min,
    then over particles), with odd and even counts, ties and absent rows, equal numpy's."""
    rng = np.random.default_rng(5)
    nt, n = 140, 57
    time = -np.arange(1, nt + 1, dtype=float)
    lon = np.round(rng.normal(-90, 0.05, (nt, n)).cumsum(axis=0), 3)  # rounded: ties
    lat = rng.normal(40, 0.05, (nt, n)).cumsum(axis=0)
    lon[rng.random((nt, n)) < 0.3] = np.nan
    lon[:, 3] = np.nan  # a particle without rows
    lon[1:, 4] = np.nan  # one without steps
    lat[np.isnan(lon)] = np.nan
    near = np.abs(time) < 100
    per, steps = [], set()
    for i in range(n):
        rows = near & ~np.isnan(lon[:, i])
        if rows.sum() >= 2:
            steps.add(int(rows.sum() - 1) % 2)
            per.append((np.median(np.abs(np.diff(lon[rows, i]))),
                        np.median(np.abs(np.diff(lat[rows, i])))))
    expect = np.median(np.array(per), axis=0)
    order = (np.argsort(time, kind="stable") + 1).astype(np.int32)
    got = _core.footprint_step_medians(order, time, lon.T, lat.T)
    assert np.array_equal(got, expect)
    assert steps == {0, 1} and len(per) == n - 2  # odd and even step counts were met


def test_bandwidths_of_one_start_time_by_column_equal_the_general_pass() -> None:
    # one start class: each rtime group is one time column, summed column by column; a second
    # (unused) class takes the general two-pass path over all rows: the same bits
    rng = np.random.default_rng(5)
    nt, n = 90, 33
    lon = rng.normal(-90, 0.3, (nt, n)).cumsum(axis=0)
    lat = rng.normal(40, 0.2, (nt, n)).cumsum(axis=0)
    lon[rng.random((nt, n)) < 0.2] = np.nan
    lon[:, 2] = np.nan
    lat[np.isnan(lon)] = np.nan
    rtime = -np.arange(1.0, nt + 1)
    gid = np.arange(1, nt + 1, dtype=np.int32)[None, :]
    mclass = np.ones(n, dtype=np.int32)
    by_column = _core.footprint_bandwidths(lon.T, lat.T, mclass, np.asfortranarray(gid),
                                           rtime, 1.0, 1)
    general = _core.footprint_bandwidths(lon.T, lat.T, mclass, np.asfortranarray(
        np.vstack([gid, gid])), rtime, 1.0, 1)
    assert np.array_equal(by_column[0], general[0], equal_nan=True)
    assert np.array_equal(by_column[1], general[1])
    present = ~np.isnan(lon)
    k = 7
    x, y = lon[k, present[k]], lat[k, present[k]]
    expect = 0.06 * (x.var(ddof=1) + y.var(ddof=1)) ** 0.25 * (abs(rtime[k]) / 1440) ** 0.5
    assert by_column[0][k] == pytest.approx(expect / np.cos(np.radians(y.mean())), rel=1e-12)


def test_scan_counts_rows_and_finds_each_particles_smallest_abs_time() -> None:
    rng = np.random.default_rng(2)
    time = rng.permutation(np.concatenate([-np.arange(1.0, 60.0), np.arange(0.0, 40.0)]))
    present = rng.random((time.size, 30)) < 0.3
    present[:, 4] = False  # a particle without rows: inf
    lon = np.where(present, rng.uniform(-100, -80, present.shape), np.nan)
    lat = np.where(present, rng.uniform(30, 45, present.shape), np.nan)
    foot = np.where(present, rng.uniform(0, 1, present.shape), np.nan)
    rows, first_abs, status = _core.footprint_scan(time, lon.T, lat.T, foot.T)
    expect = np.where(present, np.abs(time)[:, None], np.inf).min(axis=0)
    assert status == 0 and np.isinf(expect[4])
    assert np.array_equal(first_abs, expect) and np.array_equal(rows, present.sum(axis=1))
    for bad in ("lat_nan", "foot_present", "lon_inf", "lat_range"):
        la, fo, lo = lat.copy(), foot.copy(), lon.copy()
        it, ip = np.argwhere(present)[7]
        if bad == "lat_nan":
            la[it, ip] = np.nan
        elif bad == "foot_present":
            fo[np.argwhere(~present)[3][0], np.argwhere(~present)[3][1]] = 0.0
        elif bad == "lon_inf":
            lo[it, ip] = np.inf
        else:
            la[it, ip] = 90.5
        assert _core.footprint_scan(time, lo.T, la.T, fo.T)[2] != 0, bad


def test_hnf_threshold_from_veght_attribute_and_metres() -> None:
    # veght <= 1 is a fraction of mlht, > 1 metres; the run's param_veght is the default
    ds = _particles([-1.0], [[-100.0]], [[40.0]], [[0.01]])
    for name, value in (
        ("samt", 1.0),
        ("sigw", 0.3),
        ("tlgr", 10.0),
        ("dens", 1.2),
        ("mlht", 100.0),
    ):
        ds[name] = (("time", "indx"), np.full((1, 1), value))
    plume = 10.0 + np.sqrt(2) * 0.3 * np.sqrt(10 * 60 + 100 * np.exp(-6) - 1)  # about 20.4 m
    corrected = 0.02897 / (plume * 1.2) * 60

    def total(**kw):
        return calc_footprint(ds, RECEPTOR, GRID, time_integrate=True, **kw).attrs["foot_total"]

    assert total() == pytest.approx(corrected, rel=1e-13)  # 20.4 < 0.5 * 100
    assert total(veght=0.1) == 0.01  # 20.4 >= 10
    assert total(veght=25.0) == pytest.approx(corrected, rel=1e-13)  # 20.4 < 25 m
    ds.attrs["param_veght"] = 0.1
    assert total() == 0.01


def _one_row_hnf_particles(n: int = 1, **values: float) -> xr.Dataset:
    """n particles with one row each at -1 min, at (-100, 40), foot 0.01, HNF fields given."""
    ds = _particles([-1.0], [[-100.0] * n], [[40.0] * n], [[0.01] * n])
    fields = {"samt": 1.0, "sigw": 0.3, "tlgr": 10.0, "dens": 1.2, "mlht": 100.0} | values
    for name, value in fields.items():
        ds[name] = (("time", "indx"), np.full((1, n), value))
    return ds


#: plume depth of _one_row_hnf_particles above its release height: about 10.4 m
_SIG_ONE_ROW = np.sqrt(2) * 0.3 * np.sqrt(10 * 60 + 100 * np.exp(-6) - 1)


def test_hnf_veght_up_to_9_is_a_fraction_of_mlht_as_in_the_transport() -> None:
    # the transport's foot height is veght * zi for veght <= 9 (docs/physics.md §7.1): veght = 2
    # means twice the mixed layer in the plume correction too, not 2 m
    ds = _one_row_hnf_particles(mlht=100.0)
    corrected = 0.02897 / ((10.0 + _SIG_ONE_ROW) * 1.2) * 60

    def total(veght: float) -> float:
        return calc_footprint(ds, RECEPTOR, GRID, time_integrate=True, veght=veght).attrs[
            "foot_total"
        ]

    assert total(2.0) == pytest.approx(corrected, rel=1e-13)  # 20.4 m < 2 * 100 m
    assert total(9.0) == pytest.approx(corrected, rel=1e-13)  # 20.4 m < 9 * 100 m
    assert total(0.1) == 0.01  # 20.4 m >= 0.1 * 100 m
    assert total(15.0) == 0.01  # metres: 20.4 m >= 15 m


def test_hnf_msl_receptor_starts_the_plume_above_the_ground() -> None:
    # a file without xhgt: the release height above ground is the MSL altitude minus the
    # terrain under the particle's first row
    ds = _one_row_hnf_particles(mlht=1000.0)
    ds["zsfc"] = (("time", "indx"), np.full((1, 1), 1200.0))
    agl = calc_footprint(ds, RECEPTOR, GRID, time_integrate=True)
    msl = calc_footprint(
        ds, dict(RECEPTOR, altitude=1210.0, altitude_ref="msl"), GRID, time_integrate=True
    )
    expect = 0.02897 / ((10.0 + _SIG_ONE_ROW) * 1.2) * 60
    assert agl.attrs["foot_total"] == pytest.approx(expect, rel=1e-13)
    assert msl.attrs["foot_total"] == agl.attrs["foot_total"]
    np.testing.assert_array_equal(msl["foot"].values, agl["foot"].values)
    assert msl.attrs["receptor_altitude_ref"] == "msl"
    with pytest.raises(FootprintError, match="zsfc"):
        calc_footprint(
            ds.drop_vars("zsfc"), dict(RECEPTOR, altitude=1210.0, altitude_ref="msl"), GRID
        )


def test_hnf_multipoint_receptor_gives_each_particle_its_point_height() -> None:
    # four particles over two points (consecutive blocks, as the transport releases them)
    from stilt.receptors import MultiPointReceptor

    ds = _one_row_hnf_particles(n=4, mlht=1000.0)
    points = [dict(RECEPTOR, altitude=z) for z in (10.0, 100.0)]
    z0 = np.array([10.0, 10.0, 100.0, 100.0])
    expect = (0.02897 / ((z0 + _SIG_ONE_ROW) * 1.2) * 60).sum() / 4
    out = calc_footprint(ds, points, GRID, time_integrate=True)
    assert out.attrs["foot_total"] == pytest.approx(expect, rel=1e-13)
    rec = MultiPointReceptor(
        time=RECEPTOR["time"], longitudes=(-100.0, -100.5), latitudes=(40.0, 40.5),
        altitudes=(10.0, 100.0),
    )
    assert calc_footprint(ds, rec, GRID, time_integrate=True).attrs[
        "foot_total"
    ] == pytest.approx(expect, rel=1e-13)
    # an xhgt variable (the trajectory file's release heights) takes precedence
    ds["xhgt"] = ("indx", np.array([50.0, 50.0, 50.0, 50.0]))
    with_xhgt = calc_footprint(ds, points, GRID, time_integrate=True)
    assert with_xhgt.attrs["foot_total"] == pytest.approx(
        0.02897 / ((50.0 + _SIG_ONE_ROW) * 1.2) * 60, rel=1e-13
    )


def test_corrected_trajectories_are_not_corrected_twice() -> None:
    # R-STILT's trajectory layout: foot after the plume correction, the raw value beside it
    ds = _random_walk()
    raw = ds["foot"].values.copy()
    ds["foot_no_hnf_dilution"] = (("time", "indx"), raw)
    ds["foot"] = (("time", "indx"), raw * 3.0)
    n = ds.sizes["indx"]
    on = calc_footprint(ds, RECEPTOR, GRID, time_integrate=True)
    off = calc_footprint(ds, RECEPTOR, GRID, time_integrate=True, hnf_plume=False)
    assert on.attrs["foot_total"] == pytest.approx(3.0 * raw.sum() / n, rel=1e-12)
    assert off.attrs["foot_total"] == pytest.approx(raw.sum() / n, rel=1e-12)
    assert on.attrs["hnf_plume_applied"] == "transport"
    assert off.attrs["hnf_plume_applied"] == "none"
    # an old file with the raw foot only: the footprint applies the correction itself
    old = _one_row_hnf_particles()
    assert calc_footprint(old, RECEPTOR, GRID).attrs["hnf_plume_applied"] == "footprint"


def test_hnf_nan_sigma_leaves_row_and_skips_in_sum() -> None:
    # T_L = 0 gives a NaN sigma: that row keeps its foot and adds nothing to the plume depth
    n = 3
    tlgr = np.array([[5.0, 0.0, 5.0]])
    ones = np.ones((1, n))
    out, _ = _core.footprint_hnf(
        np.arange(1, n + 1, dtype=np.int32),
        np.array([1.0, 2.0, 3.0]),
        ones * 0.01,
        ones,
        ones * 0.1,
        tlgr,
        ones * 1.2,
        ones * 1e4,
        np.array([5.0]),
        0.5,
        np.zeros(1),
    )
    ts = np.array([60.0, 180.0])
    sig = np.sqrt(2) * 0.1 * np.sqrt(5 * ts + 25 * np.exp(-ts / 5) - 1)
    plume = 5.0 + np.cumsum(sig)
    np.testing.assert_allclose(out[0, [0, 2]], 0.02897 / (plume * 1.2) * 60, rtol=1e-14)
    assert out[0, 1] == 0.01


def test_column_receptor_release_heights_enter_the_plume_correction() -> None:
    # two particles, one row each: the plume starts at the particle's xhgt (§10.2, §4.5)
    ds = _particles([-1.0], [[-100.0, -100.0]], [[40.0, 40.0]], [[0.01, 0.01]])
    for name, value in (
        ("samt", 1.0),
        ("sigw", 0.3),
        ("tlgr", 10.0),
        ("dens", 1.2),
        ("mlht", 800.0),
    ):
        ds[name] = (("time", "indx"), np.full((1, 2), value))
    column = dict(RECEPTOR, altitude=(0.0, 200.0))
    out = calc_footprint(ds, column, GRID, time_integrate=True)
    sig = np.sqrt(2) * 0.3 * np.sqrt(10 * 60 + 100 * np.exp(-6) - 1)
    z0 = np.array([50.0, 150.0])  # (indx - 0.5) * 200 / 2
    expect = (0.02897 / ((z0 + sig) * 1.2) * 60).sum() / 2
    assert out.attrs["foot_total"] == pytest.approx(expect, rel=1e-13)
    assert out.attrs["receptor_zagl"] == [0.0, 200.0]


def test_particles_released_at_different_times() -> None:
    # a particle whose first row is later gets its own rtime origin (§10.5); mass is kept
    ds = _random_walk(n_particles=30)
    late = ds.copy(deep=True)
    for var in ("long", "lati", "foot"):
        late[var][:10, :5] = np.nan
    out = calc_footprint(late, RECEPTOR, GRID, hnf_plume=False, time_integrate=True)
    total = float(np.nansum(late["foot"].values)) / 30
    assert out.attrs["n_particles"] == 30
    assert out.attrs["foot_in_grid"] + out.attrs["foot_outside_grid"] == pytest.approx(total)
    assert out.attrs["foot_outside_grid"] == pytest.approx(0, abs=1e-12)


def test_nearfield_densification_keeps_window_totals() -> None:
    # particles crossing more than a cell per minute near the receptor trigger densification
    rng = np.random.default_rng(3)
    minutes, n = 150, 20
    time = -np.arange(1.0, minutes + 1)
    lon = -100 - 0.03 * np.arange(1, minutes + 1)[:, None] + rng.normal(0, 0.01, (minutes, n))
    lat = 40 + rng.normal(0, 0.01, (minutes, n)) + np.zeros((minutes, 1))
    foot = rng.random((minutes, n)) * 0.01
    ds = _particles(time, lon, lat, foot)
    out = calc_footprint(
        ds, RECEPTOR, Grid(-106, -98, 38, 42, 0.02, 0.02), hnf_plume=False, time_integrate=True
    )
    assert out.attrs["nearfield_densified"] == 1
    assert out.attrs["foot_total"] == pytest.approx(foot.sum() / n, rel=1e-12)
    assert out.attrs["foot_outside_grid"] == pytest.approx(0, abs=1e-12)
    coarse = calc_footprint(
        ds, RECEPTOR, Grid(-106, -98, 38, 42, 0.1, 0.1), hnf_plume=False, time_integrate=True
    )
    assert coarse.attrs["nearfield_densified"] == 0


def test_densify_interpolates_linearly_between_own_rows() -> None:
    time = np.array([-1.0, -2.0, -3.0])
    lon = np.array([[0.0, np.nan], [1.0, 5.0], [3.0, 6.0]])
    foot = np.array([[1.0, np.nan], [2.0, 1.0], [4.0, 1.0]])
    time2 = np.array([-3.0, -2.5, -2.0, -1.5, -1.0, -0.5])
    src = np.array([3, 0, 2, 0, 1, 0], dtype=np.int32)
    target = np.array([1, 1, 1, 1, 1, 1], dtype=np.int32)
    order = np.array([3, 2, 1], dtype=np.int32)
    lon2, lat2, foot2, factors = _core.footprint_densify(
        order, time, lon.T, lon.T, foot.T, time2, src, target, time2
    )
    np.testing.assert_array_equal(lon2[0], [3.0, 2.0, 1.0, 0.5, 0.0, np.nan])
    np.testing.assert_array_equal(lon2[1], [6.0, 5.5, 5.0, np.nan, np.nan, np.nan])
    # all |t| <= 10: one window, its original total (9) kept
    assert np.nansum(foot2) == pytest.approx(9.0, rel=1e-14)
    assert factors[0] == pytest.approx(9.0 / (4 + 3 + 2 + 1.5 + 1 + 1 + 1 + 1), rel=1e-14)
    assert factors[1] == factors[2] == 1.0


@pytest.mark.parametrize(
    ("xmin", "xmax", "first", "last"),
    [
        (260.0, 280.0, 260.05, 279.95),  # 0-360 convention kept
        (170.0, 190.0, 170.05, 189.95),  # across the antimeridian, written with xmax > 180
        (170.0, -170.0, 170.05, 189.95),  # the same, written in -180..180: contiguous axis
        (-190.0, -170.0, -189.95, -170.05),  # the same, written with xmin < -180
    ],
)
def test_longitude_axis_keeps_the_grid_convention_and_is_contiguous(
    xmin: float, xmax: float, first: float, last: float
) -> None:
    # particles near -100, or on both sides of the antimeridian (the transport writes
    # longitudes in -180..180)
    lon0 = -100.0 if xmin == 260.0 else 179.97
    east = 360.0 if lon0 > 0 else 0.0
    ds = _particles(
        [-1, -2],
        [[lon0, lon0 + 0.16 - east], [lon0 + 0.01, lon0 + 0.17 - east]],
        [[10.01, 10.01], [10.03, 10.03]],
        [[0.2, 0.0], [0.0, 0.4]],
    )
    out = calc_footprint(
        ds, RECEPTOR, Grid(xmin, xmax, 0, 20, 0.1, 0.1), hnf_plume=False, time_integrate=True
    )
    lon = out["lon"].values
    assert lon[0] == pytest.approx(first) and lon[-1] == pytest.approx(last)
    np.testing.assert_allclose(np.diff(lon), 0.1, rtol=1e-9)
    assert out["foot"].sum().item() == pytest.approx(0.3)
    # each particle lands at its longitude written in the grid's convention (foot / 2 particles)
    conv = lambda x: (x - xmin) % 360 + xmin  # noqa: E731
    for x_particle, mass in ((lon0, 0.1), (lon0 + 0.17 - east, 0.2)):
        cell = np.floor(conv(x_particle) * 10) / 10 + 0.05
        assert out["foot"].sel(lon=cell, lat=10.05, method="nearest").item() == pytest.approx(
            mass
        )


def test_global_grid_keeps_its_convention() -> None:
    ds = _particles([-1], [[-100.02]], [[10.01]], [[0.2]])
    out = calc_footprint(
        ds, RECEPTOR, Grid(0, 360, -90, 90, 1.0, 1.0), hnf_plume=False, time_integrate=True
    )
    lon = out["lon"].values
    assert lon[0] == 0.5 and lon[-1] == 359.5 and np.all(np.diff(lon) == 1.0)
    assert out["foot"].sel(lon=259.5, lat=10.5).item() == pytest.approx(0.2)


def test_empty_footprint_has_a_reason() -> None:
    ds = _random_walk()
    ds["foot"][:] = 0.0
    out = calc_footprint(ds, RECEPTOR, GRID, hnf_plume=False)
    assert out.attrs["empty"] == 1 and "surface layer" in out.attrs["empty_reason"]
    assert out["foot"].shape == (1, 80, 80) and float(out["foot"].sum()) == 0
    far = calc_footprint(_random_walk(), RECEPTOR, Grid(0, 1, 0, 1, 0.1, 0.1), hnf_plume=False)
    assert far.attrs["empty"] == 1 and "inside the grid" in far.attrs["empty_reason"]


def test_named_footprints_share_one_trajectory() -> None:
    ds = _random_walk()
    both = calc_footprints(
        ds,
        RECEPTOR,
        {"fine": GRID, "coarse": Grid(-102, -98, 38, 42, 0.2, 0.2)},
        hnf_plume=False,
        time_integrate=True,
    )
    assert set(both) == {"fine", "coarse"}
    assert both["coarse"]["foot"].shape == (1, 20, 20)
    assert both["fine"].attrs["footprint_name"] == "fine"
    single = calc_footprint(ds, RECEPTOR, GRID, hnf_plume=False, time_integrate=True)
    np.testing.assert_array_equal(both["fine"]["foot"].values, single["foot"].values)


def test_projected_grid_conserves_mass(tmp_path: Path) -> None:
    pytest.importorskip("pyproj", reason="pyproj is not installed (optional extra stilt[proj]; the test extra installs it, so CI runs this)")
    ds = _random_walk()
    proj = "+proj=lcc +lat_1=33 +lat_2=45 +lat_0=40 +lon_0=-100 +ellps=WGS84 +units=m"
    out = calc_footprint(
        ds,
        RECEPTOR,
        Grid(-102, -98, 38, 42, 4000, 4000, projection=proj),
        hnf_plume=False,
        time_integrate=True,
    )
    assert out["foot"].dims == ("time", "y", "x")
    assert out["projection"].attrs["grid_mapping_name"] == "lambert_conformal_conic"
    assert out.attrs["foot_in_grid"] == pytest.approx(out.attrs["foot_total"], rel=1e-9)
    with xr.open_dataset(write_footprint(out, tmp_path / "lcc.nc")) as back:
        assert back["x"].attrs["standard_name"] == "projection_x_coordinate"
        assert back["projection"].attrs["proj4_params"] == proj
        np.testing.assert_allclose(back["foot"].values, out["foot"].values, rtol=1e-6, atol=1e-12)


def test_projected_grid_kernel_width_is_in_the_grid_units() -> None:
    # One particle with foot at the centre of a cloud whose spread sets the bandwidth
    # w = 0.06 (var lon + var lat)^(1/4) (|rtime|/1440)^(1/2) (§10.6), a width in degrees of
    # latitude. On an equidistant cylindrical grid in metres it is w a pi/180 metres, so the
    # footprint is the Gaussian kernel of that width on the 10 km cells.
    pytest.importorskip("pyproj", reason="pyproj is not installed (optional extra stilt[proj])")
    rng = np.random.default_rng(5)
    n = 400
    lon = np.vstack([np.full(n, 0.001), rng.normal(0.0, 1.0, n)])
    lat = np.vstack([np.full(n, 0.001), rng.normal(0.0, 1.0, n)])
    lon[1, 0], lat[1, 0] = 0.001, 0.001  # the particle with foot stays in the centre cell
    foot = np.zeros((2, n))
    foot[1, 0] = 1.0
    ds = _particles([-1.0, -1441.0], lon, lat, foot)
    w_deg = 0.06 * (np.var(lon[1], ddof=1) + np.var(lat[1], ddof=1)) ** 0.25
    sigma = w_deg * 6378137.0 * np.pi / 180  # about 7.9 km (rtime -1440: time factor 1)
    res = 2000.0
    proj = "+proj=eqc +lat_ts=0 +lon_0=0 +ellps=WGS84 +units=m"
    out = calc_footprint(
        ds, RECEPTOR, Grid(-1, 1, -1, 1, res, res, projection=proj), hnf_plume=False,
        time_integrate=True,
    )
    f = out["foot"].values[0]
    assert f.sum() == pytest.approx(1.0 / n, rel=1e-9)
    iy, ix = np.unravel_index(np.argmax(f), f.shape)
    y = (np.arange(f.shape[0]) - iy) * res
    std_y = np.sqrt((f.sum(axis=1) * y**2).sum() / f.sum())
    # the discrete kernel: nodes k res, |k| <= floor(3 sigma / res), normalised
    k = np.arange(-int(3 * sigma / res), int(3 * sigma / res) + 1) * res
    g = np.exp(-(k**2) / (2 * sigma**2))
    assert std_y == pytest.approx(np.sqrt((g * k**2).sum() / g.sum()), rel=1e-6)
    assert std_y > 2 * res  # smoothing acts (it did nothing when w was read as metres)


def test_projected_grid_without_pyproj_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyproj", None)
    with pytest.raises(MissingDependencyError, match="pyproj"):
        calc_footprint(
            _random_walk(),
            RECEPTOR,
            Grid(-102, -98, 38, 42, 4000, 4000, projection="+proj=merc"),
            hnf_plume=False,
        )


# ---- netCDF output -------------------------------------------------------------------------


def test_write_footprint_roundtrip(tmp_path: Path) -> None:
    out = calc_footprint(_random_walk(), RECEPTOR, GRID, hnf_plume=False)
    path = tmp_path / "foot.nc"
    path.write_text("old")  # replaced atomically
    write_footprint(out, path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["foot.nc"]
    with xr.open_dataset(path) as back:
        assert back["foot"].encoding["dtype"] == np.float32
        assert back["foot"].encoding["zlib"]
        assert back["foot"].attrs["units"] == "ppm (umol-1 m2 s)"
        np.testing.assert_allclose(back["foot"].values, out["foot"].values, rtol=1e-6, atol=1e-12)
        np.testing.assert_array_equal(back["time"].values, out["time"].values)
        for key in (
            "Conventions",
            "receptor_run_time",
            "xres",
            "name",
            "receptor",
            "smooth_factor",
            "stilt_version",
            "hnf_plume",
            "n_particles",
        ):
            assert back.attrs[key] == out.attrs[key]
        assert back["projection"].attrs["grid_mapping_name"] == "latitude_longitude"


# ---- bad input -----------------------------------------------------------------------------


def test_bad_grids() -> None:
    with pytest.raises(ConfigError, match="xmin"):
        Grid(-90, -100, 30, 40, 0.1, 0.1)
    with pytest.raises(ConfigError, match="ymin"):
        Grid(-100, -90, 40, 40, 0.1, 0.1)
    with pytest.raises(ConfigError, match="xres"):
        Grid(-100, -90, 30, 40, 0.0, 0.1)
    with pytest.raises(ConfigError, match="Grid xmax: nan is not a finite number"):
        Grid(-100, np.nan, 30, 40, 0.1, 0.1)
    with pytest.raises(ConfigError, match="cell budget"):
        calc_footprint(
            _random_walk(), RECEPTOR, Grid(-110, -90, 30, 45, 0.001, 0.001), hnf_plume=False
        )
    with pytest.raises(ConfigError, match="cell budget"):
        calc_footprint(_random_walk(), RECEPTOR, GRID, hnf_plume=False, max_cells=1000)


def test_bad_particles() -> None:
    good = _random_walk()
    empty = good.isel(indx=slice(0, 0))
    with pytest.raises(FootprintError, match="empty"):
        calc_footprint(empty, RECEPTOR, GRID, hnf_plume=False)
    gone = good.copy(deep=True)
    gone["long"][:] = np.nan
    gone["lati"][:] = np.nan
    gone["foot"][:] = np.nan
    with pytest.raises(FootprintError, match="empty"):
        calc_footprint(gone, RECEPTOR, GRID, hnf_plume=False)
    half = good.copy(deep=True)
    half["lati"][5, 3] = np.nan
    with pytest.raises(FootprintError, match=r"indx=4, time=-6.0.*lati"):
        calc_footprint(half, RECEPTOR, GRID, hnf_plume=False)
    inf = good.copy(deep=True)
    inf["long"][2, 1] = np.inf
    with pytest.raises(FootprintError, match="infinite"):
        calc_footprint(inf, RECEPTOR, GRID, hnf_plume=False)
    with pytest.raises(FootprintError, match="samt"):
        calc_footprint(good, RECEPTOR, GRID, hnf_plume=True)
    with pytest.raises(ConfigError, match="altitude"):
        calc_footprint(good, {"time": "2020-01-01", "latitude": 1, "longitude": 1}, GRID)


def test_bad_settings() -> None:
    good = _random_walk()
    with pytest.raises(ConfigError, match="smooth_factor"):
        calc_footprint(good, RECEPTOR, GRID, smooth_factor=-1, hnf_plume=False)
    with pytest.raises(ConfigError, match="veght"):
        calc_footprint(good, RECEPTOR, GRID, hnf_plume=False, veght=-1.0)
    with pytest.raises(ConfigError, match="top 50.0 m must be above bottom 100.0 m"):
        calc_footprint(good, dict(RECEPTOR, altitude=(100, 50)), GRID, hnf_plume=False)
