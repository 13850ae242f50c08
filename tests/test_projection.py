"""Map projections of ARL grids (docs/physics.md §2.2): known points, round trips, map factors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from stilt.errors import MetError
from stilt.met.projection import GRID_PARAMETERS, ArlGrid, f7_round

R_KM = 6371.2


def _header_grid(path) -> ArlGrid:
    """Parse the grid of an ARL file straight from its index record (docs/physics.md §2.1)."""
    with open(path, "rb") as fh:
        head = fh.read(200).decode("ascii")
    ext = head[50:]
    values = [float(ext[9 + 7 * i: 16 + 7 * i]) for i in range(12)]
    nx, ny = int(ext[93:96]), int(ext[96:99])
    return ArlGrid(**dict(zip(GRID_PARAMETERS, values, strict=True)), nx=nx, ny=ny)


def _grids() -> dict[str, ArlGrid]:
    return {
        "polar_north": ArlGrid.polar_stereographic(
            true_lat=60, ref_lon=-105, grid_size_km=50, nx=80, ny=70, center_lat=50,
            center_lon=-100),
        "polar_south": ArlGrid.polar_stereographic(
            true_lat=-71, ref_lon=0, grid_size_km=25, nx=90, ny=90, center_lat=-90,
            center_lon=0),
        "polar_oriented": ArlGrid.polar_stereographic(
            true_lat=60, ref_lon=10, grid_size_km=20, nx=60, ny=50, center_lat=62,
            center_lon=20, orient=12.5),
        "lambert_hrrr": ArlGrid.lambert(
            tang_lat=38.5, ref_lon=-97.5, grid_size_km=3, nx=300, ny=200, center_lat=40,
            center_lon=-101.5),
        "lambert_ref_off_tangent": ArlGrid.lambert(
            tang_lat=25, ref_lat=35, ref_lon=-95, grid_size_km=12, nx=100, ny=80),
        "lambert_south": ArlGrid.lambert(
            tang_lat=-35, ref_lon=135, grid_size_km=10, nx=120, ny=90, center_lat=-30,
            center_lon=140),
        "lambert_antimeridian": ArlGrid.lambert(
            tang_lat=55, ref_lon=-175, grid_size_km=20, nx=150, ny=60, center_lat=55,
            center_lon=179),
        "lambert_oriented": ArlGrid.lambert(
            tang_lat=45, ref_lon=10, grid_size_km=15, nx=80, ny=60, orient=-8),
        "mercator": ArlGrid.mercator(
            true_lat=20, ref_lon=-60, grid_size_km=30, nx=100, ny=80, center_lat=15,
            center_lon=-55),
        "mercator_antimeridian": ArlGrid.mercator(
            true_lat=0, ref_lon=180, grid_size_km=50, nx=120, ny=60, center_lat=-5,
            center_lon=178),
        "latlon_global_0_360": ArlGrid.latlon(lat0=-90, lon0=0, dlat=0.5, dlon=0.5, nx=720,
                                              ny=361),
        "latlon_west_regional": ArlGrid.latlon(lat0=39, lon0=-114, dlat=0.05, dlon=0.05,
                                               nx=81, ny=61),
        "latlon_antimeridian": ArlGrid.latlon(lat0=30, lon0=150, dlat=0.25, dlon=0.25,
                                              nx=400, ny=100),
        "latlon_greenwich": ArlGrid.latlon(lat0=35, lon0=-12, dlat=0.1, dlon=0.1, nx=300,
                                           ny=200),
    }


GRIDS = _grids()
CONFORMAL = [k for k, g in GRIDS.items() if g.kind != "latlon"]


def _interior(g: ArlGrid, n: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.uniform(1, g.nx, n)
    y = rng.uniform(1, g.ny, n)
    return x, y


def _lon_diff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a - b + 180.0) % 360.0 - 180.0


def test_oct1618_grid_corners(shared_dir) -> None:
    g = _header_grid(shared_dir / "met" / "oct1618.BIN")
    assert (g.nx, g.ny, g.kind) == (33, 28, "polar_stereographic")
    lat, lon = g.latlon_mesh()
    # /work/shared/met/README.md: covers lon -144.7..-51.8, lat 19.2..64.4
    assert lat.min() == pytest.approx(19.2, abs=0.05)
    assert lat.max() == pytest.approx(64.4, abs=0.05)
    assert lon.min() == pytest.approx(-144.7, abs=0.05)
    assert lon.max() == pytest.approx(-51.8, abs=0.05)
    # the sync point (the north pole) sits at (SYNC_XP, SYNC_YP), the y axis along -105
    x, y = g.to_grid([90.0, 40.0], [0.0, -105.0])
    np.testing.assert_allclose([x[0], y[0]], [13.25, 42.75], atol=1e-9)
    assert x[1] == pytest.approx(13.25, abs=1e-9)
    # 182.9 km is true at 60N
    assert g.map_factor(*g.to_grid(60.0, -90.0)) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("name", list(GRIDS))
def test_round_trips(name: str) -> None:
    g = GRIDS[name]
    x, y = _interior(g)
    lat, lon = g.to_latlon(x, y)
    assert np.all(lon >= -180) and np.all(lon < 180)
    x2, y2 = g.to_grid(lat, lon)
    np.testing.assert_allclose(x2, x, rtol=0, atol=1e-9)
    np.testing.assert_allclose(y2, y, rtol=0, atol=1e-9)
    # the other way round, with longitudes given in 0..360
    lat3, lon3 = g.to_latlon(*g.to_grid(lat, lon % 360.0))
    np.testing.assert_allclose(lat3, lat, rtol=0, atol=1e-9)
    np.testing.assert_allclose(_lon_diff(lon3, lon), 0.0, atol=1e-9)


def test_antimeridian_grids_cross_it() -> None:
    for name in ("lambert_antimeridian", "mercator_antimeridian", "latlon_antimeridian"):
        lat, lon = GRIDS[name].latlon_mesh()
        assert lon.max() > 170 and lon.min() < -170, name
        # neighbouring points stay neighbours across the date line
        step = np.abs(_lon_diff(lon[:, 1:], lon[:, :-1]))
        assert step.max() < 1.0, name


def _analytic_k(g: ArlGrid, lat: np.ndarray) -> np.ndarray:
    """Point scale of the tangent projection (unscaled), written independently of the core."""
    phi = np.radians(lat) * math.copysign(1.0, g.tang_lat or 1.0)
    if g.kind == "mercator":
        return 1 / np.cos(phi)
    if g.kind == "polar_stereographic":
        return 2 / (1 + np.sin(phi))
    pc = math.radians(abs(g.tang_lat))
    n = math.sin(pc)
    t = np.tan(np.pi / 4 - phi / 2)
    tc = math.tan(math.pi / 4 - pc / 2)
    return math.cos(pc) / np.cos(phi) * (t / tc) ** n


@pytest.mark.parametrize("name", CONFORMAL)
def test_map_factor(name: str) -> None:
    g = GRIDS[name]
    # 1 along the whole reference parallel
    lons = g.ref_lon + np.array([-3.0, 0.0, 2.0])
    m_ref = g.map_factor(*g.to_grid(np.full(3, g.ref_lat), lons))
    np.testing.assert_allclose(m_ref, 1.0, atol=1e-12)
    # analytic elsewhere
    x, y = _interior(g)
    lat, _ = g.to_latlon(x, y)
    expect = _analytic_k(g, lat) / _analytic_k(g, np.array(g.ref_lat))
    np.testing.assert_allclose(g.map_factor(x, y), expect, rtol=1e-10)
    # spacing x map factor = SIZE, in both directions
    dx, dy = g.grid_spacing_m(x, y)
    np.testing.assert_allclose(dx * g.map_factor(x, y), g.grid_size_km * 1000, rtol=1e-12)
    np.testing.assert_array_equal(dx, dy)


def _great_circle_m(lat1, lon1, lat2, lon2) -> np.ndarray:
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dl = np.radians(lon2 - lon1)
    h = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * R_KM * 1000 * np.arcsin(np.sqrt(h))


@pytest.mark.parametrize("name", list(GRIDS))
def test_spacing_matches_great_circle_distance(name: str) -> None:
    g = GRIDS[name]
    x, y = _interior(g, 100, seed=3)
    x = np.clip(x, 1.5, g.nx - 0.5)
    y = np.clip(y, 1.5, g.ny - 0.5)
    lat_w, lon_w = g.to_latlon(x - 0.5, y)
    lat_e, lon_e = g.to_latlon(x + 0.5, y)
    lat_s, lon_s = g.to_latlon(x, y - 0.5)
    lat_n, lon_n = g.to_latlon(x, y + 0.5)
    dx, dy = g.grid_spacing_m(x, y)
    # a one-cell chord vs the local spacing: equal to second order in the cell size
    rel = 2e-4 if g.kind != "latlon" else 1e-4
    np.testing.assert_allclose(_great_circle_m(lat_w, lon_w, lat_e, lon_e), dx, rtol=rel)
    np.testing.assert_allclose(_great_circle_m(lat_s, lon_s, lat_n, lon_n), dy, rtol=rel)


def test_latlon_spacing_formula() -> None:
    g = GRIDS["latlon_west_regional"]
    dx, dy = g.grid_spacing_m(np.array([1.0, 41.0]), np.array([1.0, 21.0]))
    deg = math.pi * R_KM * 1000 / 180
    np.testing.assert_allclose(dy, 0.05 * deg, rtol=1e-14)
    np.testing.assert_allclose(dx, 0.05 * deg * np.cos(np.radians([39.0, 40.0])), rtol=1e-12)


@pytest.mark.parametrize("name", CONFORMAL)
def test_winds_rotate_like_displacements(name: str) -> None:
    """A northward (eastward) earth vector turns the way a small step north (east) moves."""
    g = GRIDS[name]
    x, y = _interior(g, 50, seed=5)
    lat, lon = g.to_latlon(x, y)
    eps = 1e-5
    xn, yn = g.to_grid(lat + eps, lon)
    xs, ys = g.to_grid(lat - eps, lon)
    dlon = eps / np.cos(np.radians(lat))
    xe, ye = g.to_grid(lat, lon + dlon)
    xw, yw = g.to_grid(lat, lon - dlon)
    ug, vg = g.winds_to_grid(np.zeros_like(x), np.ones_like(x), x, y)
    np.testing.assert_allclose(np.arctan2(xn - xs, yn - ys), np.arctan2(ug, vg), atol=1e-7)
    ug, vg = g.winds_to_grid(np.ones_like(x), np.zeros_like(x), x, y)
    np.testing.assert_allclose(np.arctan2(ye - yw, xe - xw), np.arctan2(vg, ug), atol=1e-7)
    # and back
    u, v = g.winds_to_earth(*g.winds_to_grid(3.0, -4.0, x, y), x, y)
    np.testing.assert_allclose(u, 3.0, atol=1e-12)
    np.testing.assert_allclose(v, -4.0, atol=1e-12)


def test_hysplit_western_hemisphere_pitfall() -> None:
    """SYNC_LON -114, POLE_LON -110: HYSPLIT puts lon -112 at x = 7241 (docs/physics.md §2.2)."""
    bad = ArlGrid(pole_lat=42, pole_lon=-110, ref_lat=0.05, ref_lon=0.05, grid_size_km=0,
                  orient=0, tang_lat=0, sync_xp=1, sync_yp=1, sync_lat=39, sync_lon=-114,
                  nx=81, ny=61)
    assert not bad.prime
    x, y = bad.to_grid(40.0, -112.0)
    assert float(x) == pytest.approx(7241.0, abs=1e-6)
    assert float(y) == pytest.approx(21.0, abs=1e-9)
    # the same grid written in 0..360, as our writer does, puts it where it belongs
    good = ArlGrid.latlon(lat0=39, lon0=-114, dlat=0.05, dlon=0.05, nx=81, ny=61)
    assert (good.sync_lon, good.pole_lon) == (246.0, 250.0)
    x, y = good.to_grid(40.0, -112.0)
    assert (float(x), float(y)) == pytest.approx((41.0, 21.0), abs=1e-9)


def test_prime_grid_straddling_greenwich() -> None:
    g = GRIDS["latlon_greenwich"]
    assert g.prime and g.sync_lon == -12.0 and g.pole_lon >= 0
    x, _ = g.to_grid([45.0, 45.0, 45.0], [-12.0, -2.0, 7.0])
    np.testing.assert_allclose(x, [1.0, 101.0, 191.0], atol=1e-9)


def test_latlon_latitude_fold_and_global_wrap() -> None:
    g = GRIDS["latlon_global_0_360"]
    assert g.is_global and g.global_wrap == "global"
    assert not GRIDS["latlon_antimeridian"].is_global
    # GBL2XY folds latitudes beyond the pole without shifting the longitude
    _, y = g.to_grid([95.0, -93.0], [10.0, 10.0])
    np.testing.assert_allclose(y, [1 + (85 + 90) / 0.5, 1 + (-87 + 90) / 0.5])
    # negative longitudes land east of 180 on a 0..360 grid
    x, _ = g.to_grid(0.0, -0.25)
    assert float(x) == pytest.approx(720.5)
    x, y = g.wrap([721.5, 0.5, 10.0, 10.0], [10.0, 10.0, 362.0, 0.0])
    np.testing.assert_allclose(x, [1.5, 720.5, 10.0, 10.0])
    np.testing.assert_allclose(y, [10.0, 10.0, 360.0, 2.0])
    # northern-hemisphere and regional grids
    nh = ArlGrid.latlon(lat0=0, lon0=0, dlat=0.5, dlon=0.5, nx=720, ny=181)
    assert nh.global_wrap == "north"
    x, y = nh.wrap([0.0], [183.0])
    assert (float(x[0]), float(y[0])) == (720.0, 179.0)
    reg = GRIDS["latlon_west_regional"]
    x, y = reg.wrap([-5.0], [500.0])
    assert (float(x[0]), float(y[0])) == (-5.0, 500.0)


def test_points_without_image_are_nan() -> None:
    x, y = GRIDS["lambert_hrrr"].to_grid([-90.0, 40.0, np.nan], [0.0, -100.0, 0.0])
    assert np.isnan(x[0]) and np.isnan(y[0]) and np.isfinite(x[1]) and np.isnan(x[2])
    x, _ = GRIDS["mercator"].to_grid([90.0], [0.0])
    assert np.isnan(x[0])


def test_attrs_round_trip_and_broadcasting() -> None:
    g = GRIDS["lambert_hrrr"]
    attrs = g.to_attrs()
    assert set(attrs) == {*GRID_PARAMETERS, "nx", "ny"}
    assert ArlGrid.from_attrs(attrs) == g
    lat, lon = g.to_latlon(np.arange(1.0, 4.0)[None, :], np.array([[1.0], [2.0]]))
    assert lat.shape == lon.shape == (2, 3)
    lat2d, lon2d = g.latlon_mesh(x=[1, 2, 3], y=[1, 2])
    np.testing.assert_array_equal(lat2d, lat)
    assert g.latlon_mesh()[0].shape == (g.ny, g.nx)


def test_invalid_parameters_raise() -> None:
    base = GRIDS["lambert_hrrr"].to_attrs()
    with pytest.raises(MetError, match="do not describe a grid"):
        ArlGrid.from_attrs({**base, "grid_size_km": -3.0})
    with pytest.raises(MetError, match="do not describe a grid"):
        ArlGrid.from_attrs({**base, "tang_lat": 120.0})
    with pytest.raises(MetError, match="do not describe a grid"):
        ArlGrid.from_attrs({**base, "grid_size_km": 0.0, "ref_lat": 0.0})
    with pytest.raises(MetError, match="missing"):
        ArlGrid.from_attrs({k: v for k, v in base.items() if k != "sync_lat"})
    with pytest.raises(MetError):
        ArlGrid.lambert(tang_lat=90, ref_lon=0, grid_size_km=10, nx=10, ny=10)


def test_f7_round_keeps_header_precision() -> None:
    assert f7_round(-101.123456) == -101.12
    assert f7_round(38.123456) == 38.1235
    assert f7_round(0.0123456) == 0.012346
    assert f7_round(1234.5678) == 1234.57
    assert f7_round(-0.5) == -0.5


def _proj_string(g: ArlGrid) -> str:
    if g.kind == "lambert":
        k0 = 1 / _analytic_k(g, np.array(g.ref_lat))
        return (f"+proj=lcc +lat_1={g.tang_lat} +lat_0={g.tang_lat} +lon_0={g.ref_lon} "
                f"+k_0={float(k0)!r} +R={R_KM * 1000} +units=m +no_defs")
    if g.kind == "polar_stereographic":
        return (f"+proj=stere +lat_0={math.copysign(90, g.tang_lat)} +lat_ts={g.ref_lat} "
                f"+lon_0={g.ref_lon} +R={R_KM * 1000} +units=m +no_defs")
    return f"+proj=merc +lat_ts={g.ref_lat} +lon_0={g.ref_lon} +R={R_KM * 1000} +units=m +no_defs"


@pytest.mark.parametrize("name", [n for n in CONFORMAL if GRIDS[n].orient == 0])
def test_matches_pyproj(name: str) -> None:
    pyproj = pytest.importorskip("pyproj", reason="pyproj is not installed (optional test extra)")
    g = GRIDS[name]
    tr = pyproj.Transformer.from_crs("EPSG:4326", pyproj.CRS.from_proj4(_proj_string(g)),
                                     always_xy=True)
    x, y = _interior(g, 200, seed=7)
    lat, lon = g.to_latlon(x, y)
    e, n = tr.transform(lon, lat)
    e0, n0 = tr.transform(g.sync_lon, g.sync_lat)
    size_m = g.grid_size_km * 1000
    np.testing.assert_allclose((e - e0) / size_m + g.sync_xp, x, rtol=0, atol=1e-6)
    np.testing.assert_allclose((n - n0) / size_m + g.sync_yp, y, rtol=0, atol=1e-6)
