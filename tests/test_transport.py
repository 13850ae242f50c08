"""run_trajectories: analytic trajectories, release options, errors, reproducibility, layout."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from stilt.errors import ConfigError, MetError
from stilt.met.projection import ArlGrid
from stilt.transport import run_trajectories

R_EARTH = 6371.2e3
SIGMA = np.array([0.995, 0.98, 0.96, 0.93, 0.9, 0.85, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2])
T0 = np.datetime64("2021-07-01T00:00", "ns")

Field = Callable[[np.ndarray, np.ndarray, float], np.ndarray]


def make_met(grid: ArlGrid, hours: int, u: float | Field, v: float | Field, *,
             w: float = 0.0, shgt: float = 0.0, start: np.datetime64 = T0,
             gap_after: int | None = None) -> xr.Dataset:
    """Met Dataset in the read_arl layout: sigma levels, hourly, grid-relative winds.

    u, v: m/s, constants or functions of (x, y, hours) on 1-based grid positions; the same
    wind at every level and as the 10-m wind. w: DZDT in m/s. gap_after: drop the time at
    that hour index (to make a met gap).
    """
    nx, ny, nz = grid.nx, grid.ny, SIGMA.size
    xx, yy = np.meshgrid(np.arange(1, nx + 1, dtype=float), np.arange(1, ny + 1, dtype=float))
    idx = [h for h in range(hours + 1) if h != gap_after]
    times = start + np.array(idx, dtype="timedelta64[h]").astype("timedelta64[ns]")
    nt = len(idx)

    def field(f: float | Field, h: float) -> np.ndarray:
        return np.broadcast_to(f(xx, yy, h) if callable(f) else np.full((ny, nx), f), (ny, nx))

    u3 = np.stack([np.broadcast_to(field(u, h), (nz, ny, nx)) for h in idx]).astype("f4")
    v3 = np.stack([np.broadcast_to(field(v, h), (nz, ny, nx)) for h in idx]).astype("f4")
    prss = 1000.0
    temp = np.empty((nt, nz, ny, nx), "f4")
    z = -8000.0 * np.log(SIGMA)
    temp[:] = (290.0 - 0.0065 * z)[None, :, None, None]
    lat, lon = grid.latlon_mesh()
    sfc = {
        "PRSS": np.full((nt, ny, nx), prss, "f4"),
        "SHGT": np.full((nt, ny, nx), shgt, "f4"),
        "T02M": np.full((nt, ny, nx), 290.0, "f4"),
        "U10M": u3[:, 0].copy(),
        "V10M": v3[:, 0].copy(),
        "USTR": np.full((nt, ny, nx), 0.3, "f4"),
        "SHTF": np.full((nt, ny, nx), 50.0, "f4"),
    }
    data = {k: (("time", "y", "x"), a, {}) for k, a in sfc.items()}
    data["UWND"] = (("time", "level", "y", "x"), u3, {"units": "m s-1"})
    data["VWND"] = (("time", "level", "y", "x"), v3, {"units": "m s-1"})
    data["TEMP"] = (("time", "level", "y", "x"), temp, {"units": "K"})
    data["DZDT"] = (("time", "level", "y", "x"), np.full_like(temp, w), {"units": "m s-1"})
    coords = {
        "time": times,
        "level": np.arange(1, nz + 1, dtype="int32"),
        "y": np.arange(1, ny + 1, dtype="int32"),
        "x": np.arange(1, nx + 1, dtype="int32"),
        "level_value": ("level", SIGMA.astype(float)),
        "lat": (("y", "x"), lat),
        "lon": (("y", "x"), lon),
        "forecast_hour": ("time", np.zeros(nt, "int32")),
    }
    attrs = dict(grid.to_attrs(), source="TEST", vertical_system=1,
                 vertical_system_name="sigma", surface_level_value=1.0, arl_files=[])
    return xr.Dataset(data, coords=coords, attrs=attrs)


def great_circle(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray,
                 lon2: np.ndarray) -> np.ndarray:
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dl = np.radians(lon2 - lon1)
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * R_EARTH * np.arcsin(np.sqrt(a))


LATLON = ArlGrid.latlon(lat0=35.0, lon0=-110.0, dlat=0.25, dlon=0.25, nx=41, ny=41)
GRIDS = {
    "latlon": LATLON,
    "lambert": ArlGrid.lambert(tang_lat=40.0, ref_lon=-100.0, grid_size_km=20.0, nx=45, ny=45,
                               center_lat=40.0, center_lon=-100.0),
    "polar": ArlGrid.polar_stereographic(true_lat=60.0, ref_lon=-100.0, grid_size_km=25.0,
                                         nx=45, ny=45, center_lat=55.0, center_lon=-100.0),
    "mercator": ArlGrid.mercator(true_lat=20.0, ref_lon=-100.0, grid_size_km=25.0, nx=45,
                                 ny=45, center_lat=20.0, center_lon=-100.0),
}
#: the height of a particle released at 500 m under the default 25 km top, its sigma in float32
SIGMA32_500M = (1.0 - float(np.float32(1.0 - 500.0 / 25000.0))) * 25000.0
RECEPTOR = {"time": "2021-07-01T06:00", "latitude": 40.0, "longitude": -104.0,
            "altitude": 500.0}


@pytest.mark.parametrize("name", sorted(GRIDS))
def test_uniform_wind_travels_great_circle_distance(name: str) -> None:
    grid = GRIDS[name]
    # far enough from the south edge for 216 km of travel: particles stop at y = 2
    lat0, lon0 = grid.to_latlon(np.array([(grid.nx + 1) / 2]), np.array([14.0]))
    if name == "latlon":
        lat0, lon0 = np.array([37.5]), np.array([-105.0])
    met = make_met(grid, 7, 0.0, 10.0)
    receptor = {"time": "2021-07-01T06:00", "latitude": float(lat0[0]),
                "longitude": float(lon0[0]), "altitude": 500.0}
    ds = run_trajectories(receptor, met, n_hours=-6, numpar=2, seed=1, nturb=1)
    assert ds.sizes["time"] == 360 and ds.time.values[0] == -1 and ds.time.values[-1] == -360
    for t in (-60.0, -360.0):
        end = ds.sel(time=t, indx=1)
        d = great_circle(lat0[0], lon0[0], float(end.lati), float(end.long))
        # northward wind run backward: the particle goes south, 10 m/s along the meridian
        assert float(end.lati) < lat0[0]
        assert d == pytest.approx(10.0 * abs(t) * 60.0, rel=2e-4)
        # sigma is single precision, as in the binary (its particle released at 2000 m prints
        # 1999.9996): 500 m is 499.99952 m; the output table is float32 (3e-5 m here)
        assert float(end.zagl) == pytest.approx(SIGMA32_500M, abs=3e-5)


def test_uniform_eastward_wind_on_latlon_grid_is_exact() -> None:
    met = make_met(LATLON, 4, 10.0, 0.0)
    rec = {"time": "2021-07-01T00:00", "latitude": 40.0, "longitude": -105.0, "altitude": 500.0}
    ds = run_trajectories(rec, met, n_hours=3, numpar=1, seed=1, nturb=1)
    end = ds.isel(time=-1, indx=0)
    # lat/lon grid: dx = dlon * pi R / 180 * cos(lat), latitude unchanged
    dlon = 10.0 * 180 * 60.0 * 180.0 / (np.pi * R_EARTH * np.cos(np.radians(40.0)))
    assert float(ds.time[-1]) == 180.0
    assert float(end.long) == pytest.approx(-105.0 + dlon, abs=1e-7)
    assert float(end.lati) == pytest.approx(40.0, abs=1e-9)


def test_solid_body_rotation_closes_the_circle() -> None:
    grid = GRIDS["lambert"]
    xc, yc, radius = 23.0, 23.0, 6.0
    period_min = 12 * 60.0
    omega = 2 * np.pi / period_min  # per minute
    xs = np.arange(1, grid.nx + 1, dtype=float)
    ys = np.arange(1, grid.ny + 1, dtype=float)
    gx, gy = np.meshgrid(xs, ys)
    dx, dy = grid.grid_spacing_m(gx.ravel(), gy.ravel())
    dx = np.asarray(dx).reshape(gx.shape)
    dy = np.asarray(dy).reshape(gx.shape)
    met = make_met(grid, 13, lambda x, y, h: -omega * (y - yc) * dx / 60.0,
                   lambda x, y, h: omega * (x - xc) * dy / 60.0)
    lat0, lon0 = grid.to_latlon(np.array([xc + radius]), np.array([yc]))
    rec = {"time": "2021-07-01T00:00", "latitude": float(lat0[0]),
           "longitude": float(lon0[0]), "altitude": 1000.0}
    ds = run_trajectories(rec, met, n_hours=12, numpar=1, seed=1, nturb=1, outdt=180)
    assert list(ds.time.values) == [180.0, 360.0, 540.0, 720.0]
    x, y = grid.to_grid(ds.lati.values[:, 0], ds.long.values[:, 0])
    angle = omega * ds.time.values
    np.testing.assert_allclose(x, xc + radius * np.cos(angle), atol=2e-3)
    np.testing.assert_allclose(y, yc + radius * np.sin(angle), atol=2e-3)


def test_layout_attrs_and_columns() -> None:
    met = make_met(LATLON, 7, 3.0, 2.0)
    cols = ["time", "indx", "long", "lati", "zagl", "foot", "mlht", "pres", "dens", "samt",
            "sigw", "tlgr", "temp", "shtf", "zsfc", "wout"]
    ds = run_trajectories(RECEPTOR | {"latitude": 38.0, "longitude": -106.0}, met,
                          n_hours=-2, numpar=3, seed=5, nturb=1, varsiwant=cols)
    assert list(ds.dims) == ["time", "indx"]
    assert set(ds.data_vars) == set(cols) - {"time", "indx"} | {"xhgt", "status"}
    assert ds.xhgt.dims == ("indx",) and ds.xhgt.values.tolist() == [500.0] * 3
    assert ds.indx.values.tolist() == [1, 2, 3]
    assert ds.time.attrs["units"] == "min"
    for name, var in ds.data_vars.items():
        assert var.attrs.get("units") or var.attrs.get("flag_meanings"), name  # CF flags
        assert var.attrs.get("long_name"), name
    assert ds.long.dtype == np.float64 and ds.zagl.dtype == np.float32
    assert ds.attrs["param_numpar"] == 3 and ds.attrs["param_nturb"] == 1
    assert ds.attrs["param_kmix0"] == 150 and ds.attrs["seed"] == 5
    assert "stilt_version" in ds.attrs
    # no turbulence: foot, samt, sigw are 0; pressure falls with height sensibly
    assert float(np.abs(ds.foot).max()) == 0.0 and float(np.abs(ds.sigw).max()) == 0.0
    assert 940.0 < float(ds.pres.isel(time=0, indx=0)) < 960.0


def test_outdt_sums_foot_and_samt() -> None:
    met = make_met(LATLON, 4, 3.0, 2.0)
    rec = RECEPTOR | {"latitude": 38.0, "longitude": -106.0, "altitude": 5.0,
                      "time": "2021-07-01T03:00"}
    every = run_trajectories(rec, met, n_hours=-1, numpar=20, seed=3,
                             varsiwant=["time", "indx", "foot", "samt", "zagl"])
    five = run_trajectories(rec, met, n_hours=-1, numpar=20, seed=3, outdt=5,
                            varsiwant=["time", "indx", "foot", "samt", "zagl"])
    assert five.time.values.tolist() == list(np.arange(-5.0, -61.0, -5.0))
    summed = every.foot.coarsen(time=5).sum()
    np.testing.assert_allclose(five.foot.values, summed.values, rtol=1e-12)
    np.testing.assert_allclose(five.zagl.values, every.zagl.values[4::5], rtol=0)
    assert float(every.samt.max()) == pytest.approx(1.0)
    assert float(every.foot.sum()) > 0


def test_fixed_seed_is_bit_identical_and_seeds_differ() -> None:
    met = make_met(LATLON, 4, 3.0, 2.0)
    rec = RECEPTOR | {"latitude": 38.0, "longitude": -106.0, "altitude": 10.0,
                      "time": "2021-07-01T03:00"}
    a = run_trajectories(rec, met, n_hours=-2, numpar=30, seed=11)
    b = run_trajectories(rec, met, n_hours=-2, numpar=30, seed=11)
    c = run_trajectories(rec, met, n_hours=-2, numpar=30, seed=12)
    for name in a.data_vars:
        np.testing.assert_array_equal(a[name].values, b[name].values)
    assert not np.array_equal(a.zagl.values, c.zagl.values)
    # particle streams depend on the particle number only: the first 10 of a 30-particle
    # run are the 10 particles of a 10-particle run
    d = run_trajectories(rec, met, n_hours=-2, numpar=10, seed=11)
    for name in ("long", "lati", "zagl", "foot"):
        np.testing.assert_array_equal(a[name].values[:, :10], d[name].values)


def test_column_receptor_spreads_heights_linearly() -> None:
    met = make_met(LATLON, 3, 0.0, 0.0)
    rec = RECEPTOR | {"latitude": 38.0, "longitude": -106.0, "altitude": [100.0, 500.0],
                      "time": "2021-07-01T02:00"}
    ds = run_trajectories(rec, met, n_hours=-1, numpar=4, seed=1, nturb=1)
    # R-STILT: (indx - 0.5) * (top - bottom) / numpar + bottom; no wind, no w -> stays,
    # at the height of its single-precision sigma (as in the binary, docs/physics.md §4.3)
    heights = np.array([150.0, 250.0, 350.0, 450.0])
    sigma32 = (1.0 - heights / 25000.0).astype(np.float32).astype(float)
    np.testing.assert_allclose(ds.zagl.isel(time=0).values, (1.0 - sigma32) * 25000.0,
                               atol=3e-5)


def test_multipoint_msl_receptor() -> None:
    met = make_met(LATLON, 3, 0.0, 0.0, shgt=1200.0)
    pts = [{"time": "2021-07-01T02:00", "latitude": 38.0, "longitude": -106.0,
            "altitude": 1300.0, "altitude_ref": "msl"},
           {"time": "2021-07-01T02:00", "latitude": 39.0, "longitude": -105.0,
            "altitude": 1500.0, "altitude_ref": "msl"}]
    ds = run_trajectories(pts, met, n_hours=-1, numpar=4, seed=1, nturb=1)
    first = ds.isel(time=0)
    np.testing.assert_allclose(first.zagl.values, [100.0, 100.0, 300.0, 300.0], atol=1e-3)
    np.testing.assert_allclose(first.lati.values, [38.0, 38.0, 39.0, 39.0], atol=1e-9)
    with pytest.raises(ConfigError, match="below the model ground"):
        run_trajectories(pts[0] | {"altitude": 1000.0}, met, n_hours=-1, numpar=2, nturb=1)


def test_kmsl_given_must_agree_with_the_receptor_height_reference() -> None:
    """kmsl is HYSPLIT's switch for what altitude_ref says per receptor: a contradiction is
    refused (as PYSTILT does), an agreeing or absent kmsl runs."""
    met = make_met(LATLON, 7, 0.0, 0.0, shgt=1200.0)
    msl = RECEPTOR | {"altitude": 1300.0, "altitude_ref": "msl"}
    with pytest.raises(ConfigError, match=r"kmsl = 1 .* altitude_ref is 'agl'"):
        run_trajectories(RECEPTOR, met, n_hours=-1, numpar=2, seed=1, nturb=1, kmsl=1)
    with pytest.raises(ConfigError, match=r"kmsl = 0 .* altitude_ref is 'msl'"):
        run_trajectories(msl, met, n_hours=-1, numpar=2, seed=1, nturb=1, kmsl=0)
    given = run_trajectories(msl, met, n_hours=-1, numpar=2, seed=1, nturb=1, kmsl=1)
    left_out = run_trajectories(msl, met, n_hours=-1, numpar=2, seed=1, nturb=1)
    np.testing.assert_array_equal(given.zagl.values, left_out.zagl.values)
    np.testing.assert_allclose(given.zagl.isel(time=0).values, 100.0, atol=1e-3)


def test_particles_leaving_the_grid_become_nan() -> None:
    met = make_met(LATLON, 7, 0.0, 40.0)
    rec = RECEPTOR | {"latitude": 36.0, "longitude": -105.0}
    ds = run_trajectories(rec, met, n_hours=-6, numpar=2, seed=1, nturb=1)
    alive = ds.lati.notnull().values[:, 0]
    assert alive[0] and not alive[-1]
    first_dead = int(np.argmin(alive))
    assert not alive[first_dead:].any()
    # 40 m/s southward from 36N: particles stop one cell inside the grid edge, as the binary
    # (35.25N, 83 km away -> ~35 min; the edge itself, 35N, would be ~46 min)
    assert 32 <= first_dead <= 38
    assert np.isnan(ds.zagl.values[first_dead:, 0]).all()
    assert ds.attrs["particles_left_grid"] == 2
    stay = run_trajectories(rec | {"latitude": 37.0}, met, n_hours=-1, numpar=2, seed=1, nturb=1)
    assert stay.attrs["particles_left_grid"] == 0


def test_errors_before_anything_moves() -> None:
    met = make_met(LATLON, 7, 3.0, 0.0)
    with pytest.raises(MetError, match="outside the met grid"):
        run_trajectories(RECEPTOR | {"latitude": 10.0}, met, nturb=1)
    # on the last column: inside the grid, but where the transport stops particles
    with pytest.raises(MetError, match=r"edge band of the met grid .* 2 <= x <= 39"):
        run_trajectories(RECEPTOR | {"longitude": -100.0}, met, n_hours=-1, nturb=1)
    with pytest.raises(MetError, match="met covers"):
        run_trajectories(RECEPTOR, met, n_hours=-24, nturb=1)
    with pytest.raises(ConfigError, match="latitude: nan is not a finite number"):
        run_trajectories(RECEPTOR | {"latitude": float("nan")}, met, nturb=1)
    with pytest.raises(ConfigError, match="longitude: 'west' is not a number"):
        run_trajectories(RECEPTOR | {"longitude": "west"}, met, nturb=1)
    with pytest.raises(ConfigError, match="no time, altitude"):
        run_trajectories({"latitude": 40.0, "longitude": -100.0}, met)
    with pytest.raises(ConfigError, match="did you mean 'numpar'"):
        run_trajectories(RECEPTOR, met, n_hours=-2, numparr=10)
    gap = make_met(LATLON, 7, 3.0, 0.0, gap_after=3)
    with pytest.raises(MetError, match="met gap"):
        run_trajectories(RECEPTOR, gap, n_hours=-6, nturb=1)
    bad = met.copy(deep=True)
    bad["TEMP"][2, 0, 20, 39] = np.nan  # 4 h before release, away from the particles
    with pytest.raises(MetError, match=r"met dataset: TEMP is not finite \(time "
                                       r"2021-07-01T02:00, level 1, y 21, x 40\)"):
        run_trajectories(RECEPTOR, bad, n_hours=-6, nturb=1)


def test_non_finite_met_file_is_refused_before_anything_moves(tmp_path) -> None:
    """A record whose label holds a NaN first value unpacks to NaN everywhere: the run stops
    before the first step, naming file, record, variable, level and time."""
    from stilt.met.arl import arl_inventory, write_arl
    from stilt.met.discovery import MetConfig

    met = make_met(LATLON, 7, 3.0, 0.0)
    path = tmp_path / "met.arl"
    write_arl(met, path)
    inv = arl_inventory(path)
    r = next(k for k, (lev, name) in enumerate(inv.data_records) if name == "TEMP" and lev == 2)
    recno = inv.record_number(5, r)  # the last period a 6-h backward run reads (its start)
    with open(path, "r+b") as f:
        f.seek((recno - 1) * inv.record_length + 36)
        f.write(f"{'NaN':>14}".encode())
    cfg = MetConfig(tmp_path, "met.arl")
    stamp = str(inv.times[5])[:16]
    with pytest.raises(MetError, match=rf"met.arl: record {recno} \(TEMP at level 2, "
                                       rf"{stamp}\) holds values that are not finite"):
        run_trajectories(RECEPTOR, cfg, n_hours=-1, nturb=1, numpar=2)
    # a run that does not need that period is not affected
    ds = run_trajectories(RECEPTOR | {"time": str(inv.times[3])[:16], "longitude": -105.0},
                          cfg, n_hours=-1, nturb=1, numpar=2)
    assert np.isfinite(ds.long.values).all()


def _returned_names(fn: Callable) -> list[str]:
    """Names of an f2py wrapper's outputs, from its signature line ``a,b,... = name(args)``."""
    import re

    head = re.search(r"^(.*?)\s*=\s*\w+\(", fn.__doc__, re.M).group(1)
    return [n.strip() for n in head.split(",")]


def test_core_layout_matches_python() -> None:
    from stilt import _core
    from stilt._transport_loop import DC, NDIAG
    from stilt.met import window

    assert tuple(_core.met_layout()) == (window.NPROF, window.NSFC)
    slots = dict(zip(_returned_names(_core.transport_diag_slots), _core.transport_diag_slots(),
                     strict=True))
    assert slots.pop("ndiag_out") == NDIAG
    assert slots == {name: k + 1 for name, k in DC.items()}  # dc_* by name, 1-based


def test_packed_option_and_state_slots_agree_with_the_core() -> None:
    """Python packs a distinct value per slot name; the core's unpacking (the one
    transport_advance uses) returns each under the same name."""
    from stilt import _core
    from stilt._transport_loop import (ERROR_SLOTS, STATE_SLOTS, STEP_SLOTS, TURB_SLOTS,
                                       WINDOW_SLOTS, ParticleStatus, pack)

    groups = (WINDOW_SLOTS, TURB_SLOTS, STEP_SLOTS, ERROR_SLOTS)
    names = [name for group in groups for name in group]
    values = {name: float(k + 3) for k, name in enumerate(names)}  # integers: int slots too
    values["wrap_x"] = 1.0  # a flag
    out = _core.transport_unpack_options(*(pack(group, values) for group in groups))
    got = dict(zip(_returned_names(_core.transport_unpack_options), out, strict=True))
    assert got.pop("status") == 0
    assert got == values
    # a packed array of the wrong size is refused, never read past
    for short in range(len(groups)):
        packed = [pack(group[:-1] if k == short else group, values)
                  for k, group in enumerate(groups)]
        assert _core.transport_unpack_options(*packed)[-1] == 1
    state = np.asfortranarray(np.arange(2 * len(STATE_SLOTS), dtype=float).reshape(2, -1))
    cols = _core.transport_unpack_state(state)
    got = dict(zip(_returned_names(_core.transport_unpack_state), cols, strict=True))
    assert got.pop("status") == 0
    assert set(got) == set(STATE_SLOTS)
    for k, name in enumerate(STATE_SLOTS):
        np.testing.assert_array_equal(got[name], state[:, k])
    assert list(_core.transport_particle_status()) == [
        ParticleStatus.ALIVE, ParticleStatus.LEFT_GRID, ParticleStatus.WINDOW,
        ParticleStatus.NOT_STARTED]


def test_met_column_and_remap_slots_agree_with_the_core() -> None:
    """The data-level slots a window's columns are packed in (RAW_SLOTS) are the core's rv_*
    by name, and the remap options (REMAP_SLOTS) come back from the core's unpacking under
    their names; an rpar of the wrong size is refused."""
    from stilt import _core
    from stilt.met.window import RAW_SLOTS, REMAP_SLOTS

    slots = dict(zip(_returned_names(_core.met_raw_slots), _core.met_raw_slots(), strict=True))
    assert slots.pop("nraw_out") == len(RAW_SLOTS)
    assert slots == {name: k + 1 for k, name in enumerate(RAW_SLOTS)}
    values = {"ksys": 3.0, "ptop": 50.0, "w_kind": 2.0, "humidity": 1.0, "have_pres": 1.0,
              "have_hgts": 0.0}
    rpar = np.array([values[name] for name in REMAP_SLOTS])
    got = dict(zip(_returned_names(_core.met_unpack_remap), _core.met_unpack_remap(rpar),
                   strict=True))
    assert got.pop("status") == 0
    assert got == values
    assert _core.met_unpack_remap(rpar[:-1])[-1] == 1


def test_output_rows_are_gathered_as_numpy_indexes_them() -> None:
    """transport_rows(out, steps, cols)[:, r, c] is out[cols[c] - 1, :, steps[r] - 1]: any
    steps (repeated, out of order) and columns, bit for bit; indices outside out refused."""
    from stilt import _core

    rng = np.random.default_rng(5)
    out = np.asfortranarray(rng.normal(size=(28, 37, 11)))
    out[3, 5, 2] = np.nan
    steps = np.array([3, 1, 11, 3], dtype=np.int32)
    cols = np.array([1, 2, 4, 28, 4], dtype=np.int32)
    block, status = _core.transport_rows(out, steps, cols)
    assert status == 0 and block.shape == (37, 4, 5)
    want = out[cols[None, :] - 1, :, steps[:, None] - 1]  # (rows, cols, particles)
    np.testing.assert_array_equal(block, want.transpose(2, 0, 1))
    # an index outside the buffer is refused, never read
    for bad_steps, bad_cols in ((np.array([12], np.int32), cols), (steps, np.array([0], np.int32))):
        block, status = _core.transport_rows(out, bad_steps, bad_cols)
        assert status == 1 and not block.any()


def _longest_pause_during(call: Callable[[], object]) -> tuple[float, float]:
    """Run ``call`` on another thread while this one loops; returns the call's duration and
    the longest this thread went without running while it lasted (seconds)."""
    import threading
    import time

    span: list[float] = []

    def worker() -> None:
        span.append(time.perf_counter())
        call()
        span.append(time.perf_counter())

    thread = threading.Thread(target=worker)
    ticks = [time.perf_counter()]
    thread.start()
    while thread.is_alive():
        ticks.append(time.perf_counter())
    thread.join()
    inside = np.array([span[0], *(t for t in ticks if span[0] <= t <= span[1]), span[1]])
    return span[1] - span[0], float(np.diff(inside).max())


@pytest.mark.parametrize("which", ["transport_rows", "grid_to_latlon"])
def test_the_rows_core_calls_let_the_interpreter_run(which: str) -> None:
    """The core calls the output rows' thread makes (gathering the rows, positions to
    latitude and longitude) release the interpreter lock while they run, as the particle loop
    does: the main thread reads the next met meanwhile instead of waiting for them (the met
    reads took 0.05 s instead of 0.03 s on 2 threads; docs/performance.md)."""
    import sys

    from stilt import _core
    from stilt.met.projection import ArlGrid

    if which == "transport_rows":
        # the core's 28 diagnostics, two columns read, each step four times: the gather
        # reads far more than the block f2py allocates and zero-fills with the lock held
        # before the call (every column of every step made that about half of the call, too
        # close to the bound below to tell; a block over 32 MB is fresh memory every call)
        out = np.ones((28, 1000, 300), order="F")
        steps = np.tile(np.arange(1, 301, dtype=np.int32), 4)
        cols = np.array([1, 15], dtype=np.int32)

        def call() -> object:
            return _core.transport_rows(out, steps, cols)
    else:
        grid = ArlGrid.lambert(tang_lat=38.5, ref_lon=-97.5, grid_size_km=3.0, nx=1799,
                               ny=1059)
        xy = np.random.default_rng(2).uniform(1.0, 1000.0, size=(2, 1_500_000))
        _core.transport_threads(1)

        def call() -> object:
            return grid.to_latlon(xy[0], xy[1])
    switch = sys.getswitchinterval()
    sys.setswitchinterval(0.001)  # a thread holding the lock is asked to drop it each ms
    try:  # holding the lock, a call stops this thread for all of it, every time
        timings = [_longest_pause_during(call) for _ in range(3)]
    finally:
        sys.setswitchinterval(switch)
    assert min(duration for duration, _ in timings) > 0.005, timings  # long enough to tell
    assert min(pause / duration for duration, pause in timings) < 0.5, timings


def test_the_core_remaps_only_the_nodes_particles_visit(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each met time's profiles are remapped node by node where particles go: a small share
    of the window, with exactly the values of the whole window remapped at once."""
    from stilt.met.synthetic import synthetic_met
    from stilt.met.window import MetSource

    kept = []
    remap = MetSource.remap

    def keeping(self: MetSource, *args: object, **kwargs: object) -> object:
        kept.append(remap(self, *args, **kwargs))
        return kept[-1]

    monkeypatch.setattr(MetSource, "remap", keeping)
    met = synthetic_met("2023-07-15T12:00", hours=4, nx=40, ny=40)
    rec = {"time": "2023-07-15T15:00", "latitude": 40.0, "longitude": -101.5, "altitude": 10.0}
    run_trajectories(rec, met, n_hours=-2, numpar=200, seed=3, threads=2)
    assert len(kept) >= 3
    for m in kept:
        remapped, turbulent = m.done >= 1, m.done == 2
        assert 0 < turbulent.sum() < remapped.sum() < 0.25 * m.done.size
        lazy = m.prof[:, :, remapped]
        np.testing.assert_array_equal(lazy, m.profiles()[:, :, remapped])
        assert np.all(m.done >= 1)


def test_internal_levels_as_hycs_std() -> None:
    from stilt import _core

    # MESSAGE of the oracle runs: "Internal grid parameters (nlvl,aa,bb,cc): 30 30 -25 5"
    nlvl, aa, bb, cc = _core.met_internal_grid(25000.0, 17000.0, 20)
    assert (nlvl, aa, bb, cc) == (30, 30.0, -25.0, 5.0)
    zsg = _core.met_internal_sigma(nlvl, aa, bb, cc, 25000.0)
    np.testing.assert_allclose((1 - zsg[:4]) * 25000.0, [10.0, 75.0, 200.0, 385.0], rtol=2e-5)
    assert np.all(zsg.astype(np.float32) == zsg)  # single precision, as hycs_std
    # the HRRR-like oracle (24 sigma levels, data top ~11.3 km) gets the same set: levels are
    # counted up to the model top, not the data top (which would give only 20 < 24 levels)
    assert tuple(_core.met_internal_grid(25000.0, 11300.0, 24)) == (30, 30.0, -25.0, 5.0)
    # more data levels than (30,-25,5) has under the top: the next set
    assert tuple(_core.met_internal_grid(25000.0, 18000.0, 31)) == (36, 20.0, -15.0, 5.0)


def test_transport_errors_widen_the_plume_and_scale_foot() -> None:
    met = make_met(LATLON, 4, 3.0, 2.0)
    rec = RECEPTOR | {"latitude": 38.0, "longitude": -106.0, "altitude": 10.0,
                      "time": "2021-07-01T03:00"}
    cols = ["time", "indx", "long", "lati", "foot"]
    base = run_trajectories(rec, met, n_hours=-2, numpar=60, seed=4, varsiwant=cols)
    wind = run_trajectories(rec, met, n_hours=-2, numpar=60, seed=4, varsiwant=cols,
                            winderrtf=1, siguverr=3.0, tluverr=60.0, zcoruverr=500.0,
                            horcoruverr=100.0)
    spread = [float(d.long.isel(time=-1).std()) for d in (base, wind)]
    assert spread[1] > 2.0 * spread[0]
    zi = run_trajectories(rec, met, n_hours=-2, numpar=60, seed=4, varsiwant=cols,
                          winderrtf=2, sigzierr=30.0, tlzierr=60.0, horcorzierr=100.0)
    # the zi error scales each particle's foot by max(0, 1 + eps/100), eps ~ N(0, 30 %)
    per_particle = zi.foot.sum("time") / base.foot.sum("time").mean()
    assert 0.15 < float(per_particle.std()) < 0.8
    assert 0.7 < float(per_particle.mean()) < 1.3


def test_results_do_not_depend_on_the_window_or_the_other_particles() -> None:
    # particles 1-10 start at P1 in both runs; in the first run particles 11-20 start 4 deg
    # away, so the met windows differ, yet particles 1-10 are bit-identical
    grid = ArlGrid.latlon(lat0=30.0, lon0=-115.0, dlat=0.1, dlon=0.1, nx=121, ny=101)
    met = make_met(grid, 4, lambda x, y, h: 8.0 + 0.05 * x, lambda x, y, h: 3.0 - 0.02 * y)
    p1 = {"time": "2021-07-01T03:00", "latitude": 35.0, "longitude": -108.0, "altitude": 10.0}
    p2 = p1 | {"latitude": 37.0, "longitude": -104.0}
    both = run_trajectories([p1, p2], met, n_hours=-3, numpar=20, seed=8)
    alone = run_trajectories(p1, met, n_hours=-3, numpar=10, seed=8)
    for name in ("long", "lati", "zagl", "foot", "mlht"):
        np.testing.assert_array_equal(both[name].values[:, :10], alone[name].values)
    assert float(both.long.isel(time=-1, indx=15)) > -106.0  # the others were elsewhere


def test_automatic_time_step_from_tratio() -> None:
    met = make_met(LATLON, 4, 10.0, 0.0)
    rec = {"time": "2021-07-01T00:00", "latitude": 40.0, "longitude": -105.0, "altitude": 500.0}
    fixed = run_trajectories(rec, met, n_hours=3, numpar=1, seed=1, nturb=1)
    auto = run_trajectories(rec, met, n_hours=3, numpar=1, seed=1, nturb=1, delt=0)
    # 10 m/s on a 0.25 deg grid is 0.028 cells/min: the largest divisor of 60 keeping a step
    # under tratio = 0.75 cell is 20 min
    assert auto.time.values.tolist() == [20.0 * k for k in range(1, 10)]
    np.testing.assert_allclose(auto.long.values[-1], fixed.long.values[-1], atol=1e-9)


def test_global_grid_wraps_across_the_antimeridian() -> None:
    grid = ArlGrid.latlon(lat0=-90.0, lon0=0.0, dlat=2.5, dlon=2.5, nx=144, ny=73)
    assert grid.is_global
    met = make_met(grid, 7, 30.0, 0.0)
    rec = {"time": "2021-07-01T00:00", "latitude": 0.0, "longitude": 178.0, "altitude": 500.0}
    ds = run_trajectories(rec, met, n_hours=6, numpar=1, seed=1, nturb=1)
    lon = ds.long.values[:, 0]
    assert np.isfinite(lon).all()
    # 30 m/s eastward at the equator for 6 h: 648 km = 5.83 deg, across 180
    total = np.degrees(30.0 * 6 * 3600 / R_EARTH)
    assert float(lon[-1]) == pytest.approx(178.0 + total - 360.0, abs=1e-6)
    steps = np.diff(lon)
    steps[steps < -180] += 360.0
    assert np.all(steps > 0)


def test_chunked_core_calls_and_window_redo_change_nothing(monkeypatch) -> None:
    import stilt._transport_loop as loop
    from stilt import _core

    grid = ArlGrid.latlon(lat0=30.0, lon0=-115.0, dlat=0.1, dlon=0.1, nx=121, ny=101)
    # 70 m/s: faster than the 30 m/s first-window guess, so the first interval is redone
    met = make_met(grid, 3, lambda x, y, h: 70.0 + 0.0 * x, lambda x, y, h: 2.0 + 0.02 * y)
    rec = {"time": "2021-07-01T02:00", "latitude": 35.0, "longitude": -105.0, "altitude": 10.0}
    calls: list[int] = []
    original = _core.transport_advance

    def counting(*args):  # noqa: ANN002, ANN202
        calls.append(args[-1])  # nsteps
        return original(*args)

    monkeypatch.setattr(_core, "transport_advance", counting)
    whole = run_trajectories(rec, met, n_hours=-2, numpar=12, seed=2)
    assert len(calls) > 2 and max(calls) == 60  # one call per hour, plus the redo
    calls.clear()
    monkeypatch.setattr(loop, "OUT_BUDGET", loop.NDIAG * 12 * 7)  # 7 steps per core call
    chunked = run_trajectories(rec, met, n_hours=-2, numpar=12, seed=2)
    assert max(calls) == 7
    for name in whole.data_vars:
        np.testing.assert_array_equal(whole[name].values, chunked[name].values)
    # one step per call: every step interpolates its start-of-step columns afresh instead of
    # taking the previous step's end-of-step ones
    monkeypatch.setattr(loop, "OUT_BUDGET", loop.NDIAG * 12)
    single = run_trajectories(rec, met, n_hours=-2, numpar=12, seed=2)
    for name in whole.data_vars:
        np.testing.assert_array_equal(whole[name].values, single[name].values)
    # 70 m/s for 2 h is 504 km, 5.54 deg of longitude at 35N, westward (backward run); less
    # for the particles that spend time below the first internal level
    assert -105.0 - 5.54 < float(whole.long.mean("indx")[-1]) < -105.0 - 4.5



def test_rows_made_on_a_second_thread_as_at_once(monkeypatch) -> None:
    """On 2 threads the rows of each core call are made on a worker thread while the core
    goes on: the same rows as on one thread through a redone interval, short core calls,
    output thinning and the plume dilution (whose sums run from call to call), and an error
    in that thread is the run's error."""
    import threading
    import time

    import stilt._transport_loop as loop

    grid = ArlGrid.latlon(lat0=30.0, lon0=-115.0, dlat=0.1, dlon=0.1, nx=121, ny=101)
    # 70 m/s: faster than the first window's guess, so the first interval is redone
    met = make_met(grid, 3, lambda x, y, h: 70.0 + 0.0 * x, lambda x, y, h: 2.0 + 0.02 * y)
    rec = {"time": "2021-07-01T02:00", "latitude": 35.0, "longitude": -105.0, "altitude": 10.0}
    made_on: set[str] = set()
    waiting: list[int] = []
    add, later = loop.Rows.add, loop.Rows.later

    def noting(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        made_on.add(threading.current_thread().name)
        time.sleep(0.002)  # slower than the core: the core waits, the queue stays bounded
        return add(self, *args, **kwargs)

    def queueing(self, *args):  # noqa: ANN001, ANN002, ANN202
        later(self, *args)
        waiting.append(len(self.queued))

    monkeypatch.setattr(loop.Rows, "later", queueing)

    monkeypatch.setattr(loop.Rows, "add", noting)
    monkeypatch.setattr(loop, "OUT_BUDGET", loop.NDIAG * 40 * 7)  # 7 steps per core call
    runs = {}
    for n in (1, 2):
        made_on.clear()
        runs[n] = run_trajectories(rec, met, n_hours=-2, numpar=40, seed=3, threads=n,
                                   outdt=5, hnf_plume=True, varsiwant=HNF_COLS)
        assert made_on == ({"MainThread"} if n == 1 else {"stilt-rows_0"})
    assert max(waiting) == loop.MAX_QUEUED
    xr.testing.assert_identical(runs[1], runs[2])
    assert runs[1].sizes["time"] == 24 and np.isfinite(runs[1].foot.values).all()

    def failing(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        raise MemoryError("no room for the rows")

    monkeypatch.setattr(loop.Rows, "add", failing)
    with pytest.raises(MemoryError, match="no room for the rows"):
        run_trajectories(rec, met, n_hours=-2, numpar=40, seed=3, threads=2)
    assert not [t for t in threading.enumerate() if t.name.startswith("stilt-rows")]


def test_mlht_is_the_mean_mixed_layer_height_over_the_step() -> None:
    """Output mlht is (zi at the start + zi at the end of the step) / 2, as the binary prints
    it (an idealised collapse run on hycs_std: zi 768 at -10 min, 602 at -60 min with PBLH
    800 -> 600 m over that hour); KMIXD = 0 takes zi from PBLH, linear in time."""
    met = make_met(LATLON, 2, 3.0, 0.0)
    met["PBLH"] = met["SHTF"] * 0 + np.array([600.0, 200.0, 800.0], "f4")[:, None, None]
    ds = run_trajectories(RECEPTOR | {"latitude": 38.0, "longitude": -106.0,
                                      "time": "2021-07-01T02:00"}, met, n_hours=-2, numpar=4,
                          seed=1, kmixd=0, varsiwant=["time", "indx", "zagl", "mlht"])
    zi = lambda t: 800.0 + 600.0 * t / 60.0 if t >= -60 else 200.0 + 400.0 * (-60 - t) / 60.0
    for t in (-1.0, -30.0, -60.0, -61.0, -120.0):
        assert np.allclose(ds.mlht.sel(time=t), 0.5 * (zi(t + 1) + zi(t)), rtol=1e-5), t


def test_mlht_takes_the_end_of_step_zi_at_the_advected_position() -> None:
    """The end-of-step columns come from the met node nearest to the mean-advected position,
    the start-of-step ones are those of the step before: in the step where a particle passes
    the midpoint between two nodes, mlht is the mean of their zi (the binary's NGM output
    does so in 1971 of 2086 such steps; in the others turbulence moves the particle across
    the midpoint). PBLH 300 + 20 x m at grid column x, a 6 m/s west wind, no turbulence (the
    advected position is the printed one): the backward particle moves from column 17 to
    about 15 in 2 h."""
    met = make_met(LATLON, 2, 6.0, 0.0)
    x_of_node = np.arange(1, LATLON.nx + 1, dtype="f4")
    met["PBLH"] = met["SHTF"] * 0 + (300.0 + 20.0 * x_of_node)[None, None, :]
    ds = run_trajectories(RECEPTOR | {"latitude": 38.0, "longitude": -106.0,
                                      "time": "2021-07-01T02:00"}, met, n_hours=-2, numpar=1,
                          seed=1, kmixd=0, nturb=1,
                          varsiwant=["time", "indx", "long", "lati", "zagl", "mlht"])
    p = ds.isel(indx=0)
    x, _ = LATLON.to_grid(p.lati.values, p.long.values)
    node_end = np.rint(x)
    node_start = np.rint(np.r_[17.0, x[:-1]])
    assert node_end[0] == 17 and node_end[-1] == 15  # two midpoints passed
    expected = 300.0 + 20.0 * 0.5 * (node_start + node_end)
    np.testing.assert_allclose(p.mlht.values, expected, rtol=1e-6)
    assert np.sum(node_start != node_end) == 2


# ---- hyper-near-field plume dilution on the model step (R-STILT trajectory layout) ----------

HNF_COLS = ["time", "indx", "long", "lati", "zagl", "zsfc", "foot", "mlht", "dens", "samt",
            "sigw", "tlgr"]
HNF_RECEPTOR = RECEPTOR | {"latitude": 38.0, "longitude": -106.0, "altitude": 10.0,
                           "time": "2021-07-01T03:00"}


def _first_hour_foot(ds: xr.Dataset, receptor, **kw) -> float:
    from stilt.footprint import Grid, calc_footprint

    fp = calc_footprint(ds, receptor, Grid(-112, -100, 32, 44, 0.05, 0.05), **kw)
    return float(fp["foot"].isel(time=-1).sum())


def test_hnf_trajectories_store_corrected_foot_raw_foot_and_xhgt() -> None:
    from stilt import _core

    met = make_met(LATLON, 4, 3.0, 2.0)
    raw = run_trajectories(HNF_RECEPTOR, met, n_hours=-1, numpar=20, seed=3, varsiwant=HNF_COLS)
    ds = run_trajectories(HNF_RECEPTOR, met, n_hours=-1, numpar=20, seed=3, varsiwant=HNF_COLS,
                          hnf_plume=True)
    assert "foot_no_hnf_dilution" not in raw and "xhgt" in raw
    np.testing.assert_array_equal(ds.foot_no_hnf_dilution.values, raw.foot.values)
    np.testing.assert_array_equal(ds.xhgt.values, np.full(20, 10.0))
    assert ds.xhgt.dims == ("indx",) and ds.xhgt.attrs["units"] == "m"
    # outdt = 0 and 1-minute steps: the rows are the model steps, so the correction equals
    # R-STILT's calc_plume_dilution applied to the raw rows (to float32 precision: the file
    # stores samt, sigw, tlgr, dens, mlht in float32, the transport uses them in double)
    f = lambda name: raw[name].values.T.astype(float)  # noqa: E731
    expect, _ = _core.footprint_hnf(np.arange(1, raw.sizes["time"] + 1, dtype=np.int32),
                                    np.abs(raw.time.values), f("foot"), f("samt"), f("sigw"),
                                    f("tlgr"), f("dens"), f("mlht"), np.full(20, 10.0), 0.5,
                                    np.zeros(20))
    np.testing.assert_allclose(ds.foot.values, expect.T, rtol=1e-6, atol=0)
    assert float((ds.foot - ds.foot_no_hnf_dilution).max()) > 0  # the correction acts
    # the footprint reads the corrected foot and does not correct it again
    assert _first_hour_foot(ds, HNF_RECEPTOR) == pytest.approx(
        _first_hour_foot(raw, HNF_RECEPTOR), rel=1e-6)


def test_hnf_msl_receptor_gives_the_footprint_of_the_same_agl_receptor() -> None:
    # terrain 1200 m: a receptor at 1210 m MSL is the receptor at 10 m AGL (the plume
    # correction used to start at 1210 m, and the first hour came out 29 % low)
    met = make_met(LATLON, 4, 3.0, 2.0, shgt=1200.0)
    msl_rec = HNF_RECEPTOR | {"altitude": 1210.0, "altitude_ref": "msl"}
    for hnf in (True, False):  # corrected in the transport, or by the footprint (old files)
        agl = run_trajectories(HNF_RECEPTOR, met, n_hours=-1, numpar=30, seed=4,
                               varsiwant=HNF_COLS, hnf_plume=hnf)
        msl = run_trajectories(msl_rec, met, n_hours=-1, numpar=30, seed=4,
                               varsiwant=HNF_COLS, hnf_plume=hnf)
        np.testing.assert_array_equal(msl.xhgt.values, agl.xhgt.values)
        if not hnf:
            msl = msl.drop_vars("xhgt")  # files of before: terrain from zsfc
        a = _first_hour_foot(agl, HNF_RECEPTOR)
        assert a > 0
        assert _first_hour_foot(msl, msl_rec) == pytest.approx(a, rel=1e-9)


def test_hnf_multipoint_receptor_uses_each_particles_own_height() -> None:
    met = make_met(LATLON, 4, 3.0, 2.0)
    pts = [HNF_RECEPTOR | {"altitude": 5.0},
           HNF_RECEPTOR | {"latitude": 38.2, "longitude": -105.8, "altitude": 60.0}]
    ds = run_trajectories(pts, met, n_hours=-1, numpar=40, seed=2, varsiwant=HNF_COLS,
                          hnf_plume=True)
    np.testing.assert_array_equal(ds.xhgt.values, np.repeat([5.0, 60.0], 20))
    # the footprint's own correction of the raw foot (old files) gives the same answer
    old = ds.drop_vars(["xhgt", "foot"]).rename(foot_no_hnf_dilution="foot")
    assert _first_hour_foot(old, pts) == pytest.approx(_first_hour_foot(ds, pts), rel=1e-6)
    column = run_trajectories(HNF_RECEPTOR | {"altitude": [0.0, 200.0]}, met, n_hours=-1,
                              numpar=4, seed=2, varsiwant=HNF_COLS, hnf_plume=True)
    np.testing.assert_allclose(column.xhgt.values, [25.0, 75.0, 125.0, 175.0], rtol=1e-14)


def test_hnf_does_not_depend_on_the_output_interval() -> None:
    # the correction runs on the model step before output thinning: the first-hour foot of
    # outdt 0, 5 and 15 is the same sum (it differed by 30 % when applied to output rows)
    met = make_met(LATLON, 4, 3.0, 2.0)
    first = {}
    for outdt in (0, 5, 15):
        ds = run_trajectories(HNF_RECEPTOR, met, n_hours=-1, numpar=40, seed=6,
                              varsiwant=HNF_COLS, outdt=outdt, hnf_plume=True)
        first[outdt] = float(ds.foot.sum())
        assert _first_hour_foot(ds, HNF_RECEPTOR) == pytest.approx(first[outdt] / 40, rel=0.02)
    assert first[5] == pytest.approx(first[0], rel=1e-12)
    assert first[15] == pytest.approx(first[0], rel=1e-12)


def test_threads_give_bit_identical_particles() -> None:
    """The particle loop shared among 2 threads (OpenMP builds) gives exactly the particles of
    one thread: every particle has its own random stream and nodes are evaluated once."""
    from stilt.met.synthetic import synthetic_met
    from stilt.transport import core_threads

    met = synthetic_met("2023-07-15T12:00", hours=4, nx=40, ny=40)
    rec = {"time": "2023-07-15T15:00", "latitude": 40.0, "longitude": -101.5, "altitude": 10.0}
    runs = []
    for n in (1, 2, 2):
        runs.append(run_trajectories(rec, met, n_hours=-3, numpar=300, seed=7, threads=n))
        assert core_threads() == n  # the default build has OpenMP (meson option openmp=auto)
    for run in runs[1:]:
        for name in runs[0].data_vars:
            np.testing.assert_array_equal(runs[0][name].values, run[name].values, err_msg=name)
    with pytest.raises(ConfigError, match="threads"):
        run_trajectories(rec, met, n_hours=-1, numpar=10, seed=7, threads=0)


@pytest.mark.parametrize("vertical, surface", [("sigma", "hrrr"), ("sigma", "ngm")])
def test_threads_give_bit_identical_remap_and_positions(vertical: str, surface: str) -> None:
    """The met remap and the grid-to-latitude/longitude conversion, shared among 2 threads
    (OpenMP builds), give exactly the values of one thread; with RELH and with SPHU (whose
    per-level relative humidity is a work array of each column)."""
    from stilt import _core
    from stilt.met.projection import ArlGrid
    from stilt.met.synthetic import synthetic_met
    from stilt.met.window import MetSource, Window
    from stilt.transport import core_threads

    met = synthetic_met("2023-07-15T12:00", hours=2, nx=40, ny=40, vertical=vertical,
                        surface=surface)
    src, grid = MetSource(met), ArlGrid.from_attrs(met.attrs)
    zsg = _core.met_internal_sigma(20, 30.0, -25.0, 5.0, 20000.0)
    rng = np.random.default_rng(3)
    x, y = rng.uniform(1, 40, 50_000), rng.uniform(1, 40, 50_000)
    got = []
    for n in (1, 2, 2, 2):  # a race between threads shows in some repeats, not all
        core_threads(n)
        m = src.remap(src.times[1], Window(2, 3, 35, 30), zsg, 20000.0, {"ziscale": 1.0})
        got.append((m.profiles(), m.sfc, m.vmax, *grid.to_latlon(x, y)))
    core_threads(1)
    assert np.isfinite(got[0][0]).all() and got[0][0].shape == (13, 20, 35, 30)
    for other in got[1:]:
        for a, b in zip(got[0], other, strict=True):
            assert np.asarray(a).tobytes() == np.asarray(b).tobytes()


WAIT_POLICY_CHILD = """
import os
from stilt import _core
print(os.environ.get("OMP_WAIT_POLICY", "unset"))
"""


@pytest.mark.parametrize("user, shown", [(None, "GOMP_SPINCOUNT = '0'"),
                                         ("ACTIVE", "OMP_WAIT_POLICY = 'ACTIVE'")])
def test_the_core_loads_openmp_with_idle_threads_asleep(user: str | None, shown: str) -> None:
    """OpenMP reads its wait policy once, when the core loads it: unless the user set one,
    the core is loaded with idle threads asleep at once (GNU OpenMP's default spins them for
    300 000 rounds first, which took a core from the rows' thread and the interpreter between
    core calls; docs/performance.md), and the process's environment is left as the user had
    it."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMP_", "GOMP_"))}
    env["OMP_DISPLAY_ENV"] = "VERBOSE"  # OpenMP prints its settings as it starts
    if user is not None:
        env["OMP_WAIT_POLICY"] = user
    res = subprocess.run([sys.executable, "-c", WAIT_POLICY_CHILD], capture_output=True,
                         text=True, env=env, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == [user or "unset"]
    assert shown in res.stderr, res.stderr


FORK_AFTER_THREADS = """
import multiprocessing, sys, warnings
import numpy as np
from stilt import run_trajectories
from stilt.met.synthetic import synthetic_met

met = synthetic_met("2023-07-15T12:00", hours=3, nx=30, ny=30)
rec = {"time": "2023-07-15T14:00", "latitude": 40.0, "longitude": -101.5, "altitude": 10.0}

def child(_):
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        ds = run_trajectories(rec, met, n_hours=-2, numpar=50, seed=7, threads=2)
    return ds.lati.values, [str(w.message) for w in seen]

if __name__ == "__main__":
    parent = run_trajectories(rec, met, n_hours=-2, numpar=50, seed=7, threads=2)
    with multiprocessing.get_context("fork").Pool(1) as pool:
        lati, seen = pool.apply_async(child, (0,)).get(timeout=120)
    assert np.array_equal(lati, parent.lati.values, equal_nan=True)
    assert any("forked from one that ran the core on several threads" in m for m in seen), seen
    print("ok")
"""


def test_a_process_forked_after_a_multithreaded_run_does_not_hang(tmp_path: Path) -> None:
    """GNU OpenMP is not fork-safe: a child forked after its parent ran the core on 2 threads
    hung in its first 2-thread region (a notebook's run_trajectories(threads=2), then a fork
    pool). Such a child now runs on 1 thread, says so, and gives the same particles."""
    import subprocess
    import sys

    script = tmp_path / "fork_after_threads.py"
    script.write_text(FORK_AFTER_THREADS)
    res = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stdout + res.stderr


POOL_AFTER_THREADS = """
import sys
from pathlib import Path

import stilt
from stilt import transport
from stilt.executors.local import LocalExecutor
from stilt.met.synthetic import generate_synthetic_met, synthetic_met


def record_threads(log):
    \"\"\"Worker initializer: log the core's thread count after each transport run.\"\"\"
    real = transport.run_trajectories

    def counted(*args, **kw):
        ds = real(*args, **kw)
        with open(log, "a") as handle:
            handle.write(f"{transport.core_threads()}\\n")
        return ds

    transport.run_trajectories = counted


if __name__ == "__main__":
    root = Path(sys.argv[1])
    rec = {"time": "2023-07-15T14:00", "latitude": 40.0, "longitude": -101.5, "altitude": 10.0}
    met = synthetic_met("2023-07-15T12:00", hours=3, nx=30, ny=30)
    transport.run_trajectories(rec, met, n_hours=-2, numpar=50, seed=7, threads=2)
    (path,) = generate_synthetic_met(root / "met", start="2023-07-15T12:00", hours=3,
                                     file_hours=3, nx=30, ny=30)
    config = stilt.ModelConfig(mets={"synth": {"directory": str(root / "met"),
                                               "file_format": path.name}},
                               n_hours=-2, numpar=50, execution={"threads_per_worker": 2})
    receptors = [stilt.PointReceptor("2023-07-15 14:00", -101.5, 40.0 + 0.1 * k, 10.0)
                 for k in range(2)]
    model = stilt.Model(root / "p", receptors=receptors, config=config)
    ids = model.register_pending()
    pool = LocalExecutor(initializer=record_threads, initargs=(str(root / "threads.log"),))
    report = pool.execute(model, ids, n_workers=2, timeout=120)
    assert report.ok, report.summary()
    print((root / "threads.log").read_text().split())
"""


def test_pool_workers_keep_their_threads_after_a_multithreaded_parent(tmp_path: Path) -> None:
    """The local pool's workers start from a forkserver, not by forking the parent: after the
    parent ran the core on 2 threads, each worker still runs it on threads_per_worker = 2 (a
    forked worker fell back to 1 thread with a warning)."""
    import subprocess
    import sys

    script = tmp_path / "pool_after_threads.py"
    script.write_text(POOL_AFTER_THREADS)
    res = subprocess.run([sys.executable, str(script), str(tmp_path)], capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.strip() == "['2', '2']" and "forked from" not in res.stderr, res.stderr
