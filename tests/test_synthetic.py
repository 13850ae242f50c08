"""The synthetic HRRR-like met: layout, determinism and physical consistency."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from stilt.errors import ConfigError
from stilt.met.projection import ArlGrid
from stilt.met.synthetic import (
    PTOP_HPA,
    SURFACE_VARIABLES,
    UPPER_VARIABLES,
    synthetic_file_name,
    synthetic_met,
    synthetic_met_files,
)

RD, G, OMEGA = 287.05, 9.80665, 7.292115e-5
NX, NY = 60, 50


@pytest.fixture(scope="module")
def met() -> xr.Dataset:
    """30 hours, hourly, on a 60 x 50 grid (900 x 750 km)."""
    return synthetic_met(start="2023-07-15T00:00", hours=30, nx=NX, ny=NY, seed=2)


def _heights(ds: xr.Dataset, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hypsometric heights (m above sea level) of every level at time i (physics.md 1.8)."""
    ps = ds.PRSS[i].values.astype(float)
    p = ds.PRES[i].values.astype(float)
    q = ds.SPHU[i].values.astype(float)
    tv = ds.TEMP[i].values.astype(float) * (1 + 0.61 * q)
    tv0 = ds.T02M[i].values.astype(float) * (1 + 0.61 * q[0])
    pp = np.concatenate([ps[None], p])
    tt = np.concatenate([tv0[None], tv])
    z = np.zeros_like(pp)
    for k in range(1, pp.shape[0]):
        z[k] = z[k - 1] + RD / G * 0.5 * (tt[k - 1] + tt[k]) * np.log(pp[k - 1] / pp[k])
    return z[1:] + ds.SHGT[i].values.astype(float), tv, p


def test_contract_layout(met: xr.Dataset) -> None:
    ds = met
    assert dict(ds.sizes) == {"time": 30, "level": 25, "y": NY, "x": NX}
    for name in SURFACE_VARIABLES:
        assert ds[name].dims == ("time", "y", "x") and ds[name].dtype == np.float32, name
        assert ds[name].attrs["units"]
    for name in UPPER_VARIABLES:
        assert ds[name].dims == ("time", "level", "y", "x") and ds[name].dtype == np.float32
    assert ds.x.dtype == np.int32 and ds.x.values[0] == 1 and ds.y.values[-1] == NY
    assert ds.level.dtype == np.int32 and ds.level_value.dtype == np.float64
    assert ds.time.dtype == np.dtype("datetime64[ns]")
    assert np.all(np.diff(ds.time.values) == np.timedelta64(1, "h"))
    assert ds.forecast_hour.dtype == np.int32
    assert ds.attrs["source"] == "SYNT" and len(ds.attrs["source"]) == 4
    assert ds.attrs["vertical_system"] == 1 and ds.attrs["vertical_system_name"] == "sigma"
    assert ds.attrs["surface_level_value"] == 1.0 and ds.attrs["reserved"] == PTOP_HPA
    grid = ArlGrid.from_attrs(ds.attrs)
    assert grid.kind == "lambert" and grid.grid_size_km == 15.0
    lat, lon = grid.latlon_mesh()
    np.testing.assert_array_equal(ds.lat.values, lat)
    np.testing.assert_array_equal(ds.lon.values, lon)
    # centred near 40N 101.5W
    assert float(lat[NY // 2, NX // 2]) == pytest.approx(40.0, abs=0.2)
    assert float(lon[NY // 2, NX // 2]) == pytest.approx(-101.5, abs=0.2)
    for name in ds.data_vars:
        assert np.isfinite(ds[name].values).all(), name


def test_determinism_and_seed() -> None:
    a = synthetic_met(hours=2, nx=30, ny=25, seed=7)
    b = synthetic_met(hours=2, nx=30, ny=25, seed=7)
    c = synthetic_met(hours=2, nx=30, ny=25, seed=8)
    for name in a.data_vars:
        np.testing.assert_array_equal(a[name].values, b[name].values)
    assert not np.array_equal(a.SHGT.values, c.SHGT.values)


def test_files_split_like_hrrr_archives() -> None:
    files = synthetic_met_files(start="2023-07-15T20:00", hours=8, file_hours=6, nx=30, ny=25,
                                seed=3)
    assert [n for n, _ in files] == ["20230715_20-01_synt.arl", "20230716_02-03_synt.arl"]
    assert [ds.sizes["time"] for _, ds in files] == [6, 2]
    whole = synthetic_met(start="2023-07-15T20:00", hours=8, nx=30, ny=25, seed=3)
    joined = xr.concat([ds for _, ds in files], dim="time")
    for name in whole.data_vars:
        np.testing.assert_array_equal(joined[name].values, whole[name].values)
    assert synthetic_file_name(np.datetime64("2024-01-02T06"), np.datetime64("2024-01-02T11")) \
        == "20240102_06-11_synt.arl"


def test_bad_arguments() -> None:
    with pytest.raises(ConfigError, match="start time"):
        synthetic_met(start="yesterday")
    with pytest.raises(ConfigError, match="on the hour"):
        synthetic_met(start="2023-07-15T00:30")
    with pytest.raises(ConfigError, match="hours"):
        synthetic_met(hours=0)


def test_sigma_levels_and_pressure(met: xr.Dataset) -> None:
    sigma = met.level_value.values
    assert sigma[0] < 1.0 and np.all(np.diff(sigma) < 0)
    assert 20 <= sigma.size <= 30
    ps = met.PRSS.values.astype(float)
    expect = PTOP_HPA + (ps[:, None] - PTOP_HPA) * sigma[None, :, None, None]
    np.testing.assert_allclose(met.PRES.values, expect, rtol=0, atol=2e-3)
    assert np.all(np.diff(met.PRES.values, axis=1) < 0)
    # the model top is near 100 hPa
    assert 70 < met.PRES.values[:, -1].min() and met.PRES.values[:, -1].max() < 110


def test_surface_pressure_falls_with_terrain(met: xr.Dataset) -> None:
    h = met.SHGT.values[0].ravel().astype(float)
    ps = met.PRSS.values[0].ravel().astype(float)
    assert h.max() - h.min() > 1000          # mountains in the west, plains in the east
    assert np.corrcoef(h, ps)[0, 1] < -0.97
    slope = np.polyfit(h, ps, 1)[0]
    assert -0.12 < slope < -0.08             # about -rho g: 0.1 hPa per metre
    # terrain is static
    np.testing.assert_array_equal(met.SHGT.values[0], met.SHGT.values[-1])


def test_hydrostatic_heights(met: xr.Dataset) -> None:
    """Hypsometric heights from PRSS/PRES/TEMP/SPHU/T02M match the stored geopotential heights."""
    for i in (0, 15, 29):
        z, _, p = _heights(met, i)
        err = np.abs(z - met.HGTS[i].values)
        assert err[p > 250].max() < 1.0        # troposphere: trapezoid error only
        assert err.max() < 15.0                # across the tropopause kink
        # and the thickness of the whole column is large and physical
        assert 15000 < float(np.min(z[-1])) < 19000


def test_geostrophic_winds_aloft(met: xr.Dataset) -> None:
    """Winds on pressure surfaces aloft equal the geostrophic wind of the height field."""
    grid = ArlGrid.from_attrs(met.attrs)
    xx, yy = np.meshgrid(np.arange(1.0, NX + 1), np.arange(1.0, NY + 1))
    dx, dy = grid.grid_spacing_m(xx, yy)
    f = 2 * OMEGA * np.sin(np.radians(met.lat.values))
    for i in (6, 27):
        z, tv, p = _heights(met, i)
        u_all = met.UWND[i].values.astype(float)
        v_all = met.VWND[i].values.astype(float)
        for pstar in (500.0, 300.0):
            # hypsometric interpolation to the pressure surface
            k = (p >= pstar).sum(0) - 1
            jj, ii = np.indices(k.shape)
            lk, lk1 = np.log(p[k, jj, ii]), np.log(p[k + 1, jj, ii])
            w = (lk - np.log(pstar)) / (lk - lk1)
            tvs = tv[k, jj, ii] + w * (tv[k + 1, jj, ii] - tv[k, jj, ii])
            zs = z[k, jj, ii] + RD / G * 0.5 * (tv[k, jj, ii] + tvs) * (lk - np.log(pstar))
            u = u_all[k, jj, ii] + w * (u_all[k + 1, jj, ii] - u_all[k, jj, ii])
            v = v_all[k, jj, ii] + w * (v_all[k + 1, jj, ii] - v_all[k, jj, ii])
            # geostrophic wind along the grid axes (grid-relative, like UWND/VWND)
            s = np.s_[1:-1, 1:-1]
            ug = -G / f[s] * (zs[2:, 1:-1] - zs[:-2, 1:-1]) / (2 * dy[s])
            vg = G / f[s] * (zs[1:-1, 2:] - zs[1:-1, :-2]) / (2 * dx[s])
            diff = np.hypot(ug - u[s], vg - v[s])
            speed = np.hypot(u[s], v[s])
            assert speed.mean() > 10                         # a real upper-level flow
            assert diff.max() < 0.3 and np.sqrt(np.mean(diff**2)) < 0.1, (i, pstar)
            # the check can tell grid-relative from earth-relative winds
            ue, ve = grid.winds_to_earth(u, v, xx, yy)
            assert np.sqrt(np.mean((ug - ue[s]) ** 2 + (vg - ve[s]) ** 2)) > 0.5


def test_shear_and_ekman_turn(met: xr.Dataset) -> None:
    """Westerlies strengthen with height; near the ground the wind is slower and backed."""
    grid = ArlGrid.from_attrs(met.attrs)
    xx, yy = np.meshgrid(np.arange(1.0, NX + 1), np.arange(1.0, NY + 1))
    i = 20
    u, v = grid.winds_to_earth(met.UWND[i].values, met.VWND[i].values, xx, yy)
    assert u[-1].mean() > u[10].mean() + 10          # thermal wind: stronger aloft
    z, _, _ = _heights(met, i)
    z_agl = z - met.SHGT[i].values
    # level closest to 1.5 km AGL in each column, above the Ekman layer
    k = np.abs(z_agl - 1500.0).argmin(axis=0)
    jj, ii = np.indices(k.shape)
    u_up, v_up = u[k, jj, ii], v[k, jj, ii]
    u10, v10 = grid.winds_to_earth(met.U10M[i].values, met.V10M[i].values, xx, yy)
    turn = np.degrees(np.angle((u10 + 1j * v10) / (u_up + 1j * v_up)))
    ratio = np.hypot(u10, v10) / np.hypot(u_up, v_up)
    assert 15 < np.median(turn) < 40                  # backed (counter-clockwise) near the ground
    assert 0.3 < np.median(ratio) < 0.6


def test_boundary_layer_diurnal_cycle(met: xr.Dataset) -> None:
    """PBLH peaks in the afternoon and collapses at night, in local solar time; fluxes follow the sun."""
    j, i = NY // 2, NX // 2
    lon = float(met.lon.values[j, i])
    utc = (met.time.values - met.time.values[0]) / np.timedelta64(1, "h")
    lst = (utc + lon / 15.0) % 24
    pblh = met.PBLH.values[:, j, i]
    day1 = slice(0, 24)
    peak_lst = lst[day1][np.argmax(pblh[day1])]
    assert 12.5 <= peak_lst <= 17.0
    assert pblh.max() > 1200 and pblh.min() < 400
    night = (lst >= 0) & (lst < 5)
    assert np.all(pblh[night] < 600)
    dswf = met.DSWF.values[:, j, i]
    assert np.all(dswf[night] == 0) and dswf.max() > 300
    assert met.DSWF.values.max() > 800          # clear-sky July noon away from the low
    shtf = met.SHTF.values[:, j, i]
    assert np.all(shtf[night] < 0) and shtf.max() > 100
    assert np.all(met.USTR.values > 0) and np.all(met.LHTF.values > 0)
    t2 = met.T02M.values[:, j, i]
    assert 4 < t2.max() - t2.min() < 25
    assert 12 <= lst[day1][np.argmax(t2[day1])] <= 18


def test_vertical_velocity_from_orography(met: xr.Dataset) -> None:
    """Upslope flow rises: WWND on the lowest level follows -rho g (V10 . grad h) / 100."""
    grid = ArlGrid.from_attrs(met.attrs)
    xx, yy = np.meshgrid(np.arange(1.0, NX + 1), np.arange(1.0, NY + 1))
    dx, dy = grid.grid_spacing_m(xx, yy)
    i = 12
    h = met.SHGT[i].values.astype(float)
    dhdx = (h[1:-1, 2:] - h[1:-1, :-2]) / (2 * dx[1:-1, 1:-1])
    dhdy = (h[2:, 1:-1] - h[:-2, 1:-1]) / (2 * dy[1:-1, 1:-1])
    lift = met.U10M[i].values[1:-1, 1:-1] * dhdx + met.V10M[i].values[1:-1, 1:-1] * dhdy
    omega = met.WWND[i, 0].values[1:-1, 1:-1].astype(float)
    assert np.corrcoef(lift.ravel(), omega.ravel())[0, 1] < -0.9
    # pressure vertical velocity of synoptic size (hPa/s)
    assert np.abs(met.WWND.values).max() < 0.05


def _packing_step(field: np.ndarray) -> tuple[float, float]:
    """Byte step of ARL difference packing for a 2-D field, and the largest difference."""
    f = field.astype(np.float64)
    rmax = max(np.abs(np.diff(f, axis=1)).max(), np.abs(np.diff(f[:, 0])).max())
    if rmax == 0:
        return 2.0 ** (1 - 7), 0.0
    sexp = np.log2(rmax)
    nexp = int(sexp)                         # PAKOUT: truncation, +1 unless below 1
    if sexp >= 0 or sexp == nexp:
        nexp += 1
    return 2.0 ** (nexp - 7), float(rmax)


def test_written_files_read_back(tmp_path) -> None:
    from stilt.met.arl import read_arl
    from stilt.met.synthetic import generate_synthetic_met

    paths = generate_synthetic_met(tmp_path, start="2023-07-15T22:00", hours=3, file_hours=2,
                                   nx=NX, ny=NY, seed=5)
    assert [p.name for p in paths] == ["20230715_22-23_synt.arl", "20230716_00-00_synt.arl"]
    assert not [p for p in tmp_path.iterdir() if p not in paths]     # no temporary left
    mem = synthetic_met(start="2023-07-15T22:00", hours=3, nx=NX, ny=NY, seed=5)
    back = read_arl(paths)
    np.testing.assert_array_equal(back.time.values, mem.time.values)
    np.testing.assert_allclose(back.level_value.values, mem.level_value.values, atol=1e-6)
    assert ArlGrid.from_attrs(back.attrs) == ArlGrid.from_attrs(mem.attrs)
    assert back.attrs["source"] == "SYNT" and back.attrs["vertical_system"] == 1
    for name in (*SURFACE_VARIABLES, *UPPER_VARIABLES):
        a = mem[name].values
        b = back[name].values
        assert b.shape == a.shape, name
        recs_a = a.reshape(-1, NY, NX)
        recs_b = b.reshape(-1, NY, NX)
        for ra, rb in zip(recs_a, recs_b, strict=True):
            step, rmax = _packing_step(ra)
            prec = step * 128 / 254                  # PREC = 2^NEXP / 254
            # half a byte step; plus what PAKOUT's exponent choice cannot reach (a difference
            # just above 127 steps saturates); near zero the reader zeroes |v| < PREC
            tol = 0.51 * step + max(0.0, rmax + 0.5 * step - 127 * step)
            tol = tol + np.where(np.abs(ra) < prec + step, prec, 0.0)
            # VAR1 is stored with 7 significant digits: the whole field inherits its rounding
            var1 = abs(float(ra[0, 0]))
            if var1 > 0:
                tol = tol + 0.5 * 10.0 ** (np.floor(np.log10(var1)) - 6)
            tol = tol + 2 * np.finfo(np.float32).eps * np.abs(ra).max()
            assert np.all(np.abs(rb.astype(float) - ra) <= tol), name


def test_cli_writes_the_set(tmp_path, capsys) -> None:
    from stilt.cli import main

    assert main(["met", "synth", str(tmp_path / "met"), "--hours=2", "--file-hours=1",
                 f"--nx={NX}", f"--ny={NY}", "--seed=3"]) == 0
    printed = capsys.readouterr().out.split()
    assert [p.rsplit("/", 1)[-1] for p in printed] == ["20230715_00-00_synt.arl",
                                                       "20230715_01-01_synt.arl"]
    nz = len(UPPER_VARIABLES) * 25 + len(SURFACE_VARIABLES)
    for p in printed:
        # one time period: the index record(s) + one record per variable and level
        size = (tmp_path / "met" / p.rsplit("/", 1)[-1]).stat().st_size
        assert size == (1 + nz) * (50 + NX * NY)
