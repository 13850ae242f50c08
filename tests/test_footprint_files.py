"""Footprint files as R-STILT's and PYSTILT's readers open them, and the facts they record.

R is not installed here: the R-STILT tests check, with netCDF4 directly (the C library that
R's ncdf4 wraps), the conventions R-STILT's readers rely on (``raster::brick(file)`` and
``ncdf4``, as R-STILT's write_footprint.r documents its files for): the footprint is the only
three-dimensional variable, CDL dims ``(time, lat, lon)`` (R's ``lon, lat, time``), ascending
regular cell-centre axes named ``lon``/``lat`` (``x``/``y`` on projected grids, with the
grid mapping in a variable called ``projection``), the global ``crs`` PROJ.4 string with
``crs_format = "PROJ.4"``, R-STILT's units spelling and ``_FillValue`` -1, time in seconds
since 1970. PYSTILT's public readers (``stilt.read_footprint`` of PyPI pystilt 0.1.0a25 and
``Footprint.from_netcdf`` of 0.1.0a4, the release whose API stilt implements) run in their own
venvs, in subprocesses.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import netCDF4
import numpy as np
import pytest
import xarray as xr

import stilt.transport
from stilt.config import ModelConfig
from stilt.footprint import Grid, calc_footprint, write_footprint
from stilt.receptors import ColumnReceptor, PointReceptor
from stilt.simulation import SimulationPaths, run_simulation
from stilt.transport import FOOT_UNITS, normalize_receptor, receptor_attrs, receptor_from_attrs
from stilt.transport import run_trajectories
from test_footprint import GRID, RECEPTOR, _random_walk
from test_transport import LATLON, make_met

REPO = Path(__file__).resolve().parents[1]
HOUR = 3600.0


def _write(tmp_path: Path, grid: Grid = GRID, **kw: object) -> tuple[xr.Dataset, Path]:
    out = calc_footprint(_random_walk(), RECEPTOR, grid, hnf_plume=False, **kw)
    return out, write_footprint(out, tmp_path / "foot.nc")


# ---- R-STILT's conventions ---------------------------------------------------------------


def test_lonlat_file_has_the_layout_r_stilt_readers_rely_on(tmp_path: Path) -> None:
    out, path = _write(tmp_path)
    with netCDF4.Dataset(path) as nc:
        assert nc.getncattr("crs") == "+proj=longlat"
        assert nc.getncattr("crs_format") == "PROJ.4"
        three_d = [name for name, var in nc.variables.items() if var.ndim == 3]
        assert three_d == ["foot"]  # raster::brick reads the variable with the most dims
        foot = nc["foot"]
        assert foot.dimensions == ("time", "lat", "lon")  # R (column-major): lon, lat, time
        assert foot.getncattr("units") == "ppm (umol-1 m2 s)" == FOOT_UNITS
        assert foot.getncattr("_FillValue") == -1.0
        assert foot.getncattr("grid_mapping") == "projection"
        for axis, lo, res in (("lon", GRID.xmin, GRID.xres), ("lat", GRID.ymin, GRID.yres)):
            values = nc[axis][:]
            assert nc[axis].dimensions == (axis,)
            np.testing.assert_allclose(np.diff(values), res, rtol=1e-9)
            assert values[0] == pytest.approx(lo + res / 2)
        units = nc["time"].getncattr("units")
        assert units.startswith("seconds since 1970-01-01")
        stamps = np.asarray(nc["time"][:])
        expect = (out["time"].values - np.datetime64("1970-01-01")) / np.timedelta64(1, "s")
        np.testing.assert_array_equal(stamps, expect)
        # the cell values R reads: foot[lon, lat, time] is our foot[time, lat, lon]
        np.testing.assert_allclose(foot[:], out["foot"].values, rtol=1e-6, atol=1e-12)


def test_projected_file_names_its_grid_mapping_projection(tmp_path: Path) -> None:
    pytest.importorskip("pyproj", reason="pyproj is not installed (optional extra "
                        "stilt[proj]; the test extra installs it, so CI runs this)")
    proj = "+proj=lcc +lat_1=33 +lat_2=45 +lat_0=40 +lon_0=-100 +ellps=WGS84 +units=m"
    _, path = _write(tmp_path, Grid(-102, -98, 38, 42, 4000, 4000, projection=proj),
                     time_integrate=True)
    with netCDF4.Dataset(path) as nc:
        assert nc.getncattr("crs") == proj and nc.getncattr("crs_format") == "PROJ.4"
        assert "crs" not in nc.variables
        assert nc["foot"].dimensions == ("time", "y", "x")
        assert nc["foot"].getncattr("grid_mapping") == "projection"
        mapping = nc["projection"]
        assert mapping.ndim == 0
        assert mapping.getncattr("grid_mapping_name") == "lambert_conformal_conic"
        np.testing.assert_allclose(mapping.getncattr("standard_parallel"), [33.0, 45.0])
        assert mapping.getncattr("latitude_of_projection_origin") == 40.0
        assert mapping.getncattr("longitude_of_central_meridian") == -100.0
        assert nc["x"].getncattr("standard_name") == "projection_x_coordinate"
        assert nc["y"].getncattr("units") == "m"


def test_epsg_code_becomes_a_proj4_crs(tmp_path: Path) -> None:
    out = calc_footprint(_random_walk(), RECEPTOR,
                         Grid(-102, -98, 38, 42, 0.05, 0.05, projection="EPSG:4326"),
                         hnf_plume=False)
    assert out.attrs["crs"].startswith("+proj=longlat")
    assert out.attrs["crs_format"] == "PROJ.4"


# ---- CF time bounds and coordinates ------------------------------------------------------


def test_hourly_layers_have_cf_time_bounds_of_the_hour_summed(tmp_path: Path) -> None:
    out, path = _write(tmp_path)
    with netCDF4.Dataset(path) as nc:
        assert nc["time"].getncattr("bounds") == "time_bnds"
        assert nc["foot"].getncattr("cell_methods") == "time: sum"
        bnds = np.asarray(nc["time_bnds"][:])
        assert nc["time_bnds"].dimensions == ("time", "nv")
        # CF: bounds take the units of their coordinate (xarray writes none on them)
        assert nc["time_bnds"].__dict__.get("units", nc["time"].units) == nc["time"].units
        np.testing.assert_array_equal(bnds[:, 0], nc["time"][:])
        np.testing.assert_array_equal(bnds[:, 1] - bnds[:, 0], HOUR)
        # no NaN fill value on any coordinate (nor on the bounds)
        for name in ("time", "time_bnds", "lat", "lon"):
            assert "_FillValue" not in nc[name].ncattrs(), name
    # 180 backward minutes from 12:00: layers 09:00, 10:00, 11:00
    assert [str(t)[11:16] for t in out["time"].values] == ["09:00", "10:00", "11:00"]


def test_time_integrated_bounds_span_every_hour_summed(tmp_path: Path) -> None:
    out, path = _write(tmp_path, time_integrate=True)
    hourly = calc_footprint(_random_walk(), RECEPTOR, GRID, hnf_plume=False)
    receptor = np.datetime64("2020-06-01T12:00", "ns")
    np.testing.assert_array_equal(out["time"].values, [receptor])
    np.testing.assert_array_equal(out["time_bnds"].values[0],
                                  [hourly["time_bnds"].values[0, 0], receptor])
    with xr.open_dataset(path) as back:
        np.testing.assert_array_equal(back["time_bnds"].values, out["time_bnds"].values)


# ---- provenance and the receptor, in trajectory and footprint files ----------------------


def _small_project(numpar: int, seed: int) -> tuple[Any, ModelConfig]:
    """Real transport on uniform synthetic met (in place of reading files) and a 1-hour
    project config with one footprint grid."""
    met = make_met(LATLON, 4, 3.0, 2.0)

    def transport(receptor, met_source, **kw):
        return run_trajectories(receptor, met, **kw)

    grid = {"xmin": -110.0, "xmax": -102.0, "ymin": 34.0, "ymax": 42.0, "xres": 0.1,
            "yres": 0.1}
    cfg = ModelConfig(mets={"synth": {"directory": "met", "file_format": "x.arl"}},
                      n_hours=-1, numpar=numpar, seed=seed,
                      footprints={"default": {"grid": grid}})
    return transport, cfg


@pytest.fixture(scope="module")
def project_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, ModelConfig]:
    """One simulation of a project, real transport on synthetic met."""
    root = tmp_path_factory.mktemp("files")
    transport, cfg = _small_project(numpar=20, seed=7)
    rec = PointReceptor("2021-07-01 03:00", -106.0, 38.0, 10.0)
    sim_id = "synth_202107010300_-106_38_10"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(stilt.transport, "run_trajectories", transport)
        res = run_simulation(root / "out", root, sim_id, "synth", rec, cfg)
    assert res["state"] == "complete", res
    return root / "out", sim_id, cfg


def test_footprint_records_where_its_particles_came_from(project_run) -> None:
    out, sim_id, cfg = project_run
    paths = SimulationPaths.of(out, sim_id)
    status = json.loads(paths.status.read_text())
    with xr.open_dataset(paths.trajectory) as traj, \
            xr.open_dataset(paths.footprint("default")) as foot:
        assert foot.attrs["stilt_transport_hash"] == status["transport_hash"]
        assert foot.attrs["stilt_transport_hash"] == cfg.transport_hash("synth")
        assert foot.attrs["n_hours"] == -1 and foot.attrs["numpar"] == 20
        assert foot.attrs["seed"] == traj.attrs["seed"]
        assert foot.attrs["roughness"] == traj.attrs["roughness"]
        assert foot.attrs["trajectory_stilt_version"] == traj.attrs["stilt_version"]
        assert foot.attrs["stilt_version"]
        # one units spelling for foot in both files
        assert traj["foot"].attrs["units"] == traj["foot_no_hnf_dilution"].attrs["units"]
        assert traj["foot"].attrs["units"] == foot["foot"].attrs["units"] == FOOT_UNITS


def test_trajectory_and_footprint_name_the_receptor_alike(project_run) -> None:
    out, sim_id, _ = project_run
    paths = SimulationPaths.of(out, sim_id)
    with xr.open_dataset(paths.trajectory) as traj, \
            xr.open_dataset(paths.footprint("default")) as foot:
        names = {k for k in traj.attrs if k.startswith("receptor_")}
        assert names == {"receptor_run_time", "receptor_lati", "receptor_long",
                         "receptor_zagl", "receptor_altitude_ref"}
        assert names <= set(foot.attrs)
        for name in names:
            assert traj.attrs[name] == foot.attrs[name], name
        assert foot.attrs["receptor_run_time"] == "2021-07-01T03:00:00Z"
        assert foot.attrs["receptor_zagl"] == 10.0
        for attrs in (traj.attrs, foot.attrs):
            release = receptor_from_attrs(attrs)
            assert release is not None
            assert (release.latitude.tolist(), release.longitude.tolist()) == ([38.0], [-106.0])


@pytest.mark.parametrize("receptor", [
    {"time": "2021-07-01T03:00", "latitude": 38.0, "longitude": -106.0, "altitude": 10.0},
    {"time": "2021-07-01T03:00", "latitude": 38.0, "longitude": -106.0,
     "altitude": [0.0, 500.0]},
    {"time": "2021-07-01T03:00", "latitude": 38.0, "longitude": -106.0, "altitude": 1900.0,
     "altitude_ref": "msl"},
    [{"time": "2021-07-01T03:00", "latitude": 38.0 + k, "longitude": -106.0, "altitude": a}
     for k, a in ((0, 10.0), (1, 50.0), (2, 90.0))],
    [{"time": "2021-07-01T03:00", "latitude": 38.0, "longitude": -106.0, "altitude": 10.0},
     {"time": "2021-07-01T03:00", "latitude": 39.0, "longitude": -106.0,
      "altitude": [0.0, 100.0]}],
], ids=["point", "column", "msl", "multipoint", "multipoint-column"])
def test_receptor_attributes_round_trip_through_a_file(tmp_path: Path, receptor) -> None:
    release = normalize_receptor(receptor)
    attrs = receptor_attrs(release)
    xr.Dataset(attrs=attrs).to_netcdf(tmp_path / "r.nc", engine="netcdf4")
    with xr.open_dataset(tmp_path / "r.nc") as ds:
        back = receptor_from_attrs(ds.attrs)
    assert back is not None
    assert back.time == release.time and back.msl == release.msl
    for field in ("latitude", "longitude", "bottom", "top"):
        np.testing.assert_array_equal(getattr(back, field), getattr(release, field))
    assert ("receptor_zmsl" in attrs) == release.msl
    assert ("receptor_zagl" in attrs) == (not release.msl)


def test_receptor_read_from_the_earlier_attribute_names() -> None:
    old_foot = {"receptor_time": "2020-06-01T12:00:00Z", "receptor_latitude": 40.0,
                "receptor_longitude": -100.0, "receptor_altitude": 0.0,
                "receptor_altitude_top": 200.0, "receptor_altitude_ref": "agl"}
    old_traj = {"receptor_time": "2020-06-01T12:00", "receptor_latitude": [40.0, 41.0],
                "receptor_longitude": [-100.0, -100.0], "receptor_altitude_bottom": [5.0, 5.0],
                "receptor_altitude_top": [5.0, 5.0], "receptor_altitude_ref": "msl"}
    column = receptor_from_attrs(old_foot)
    assert column is not None and column.top.tolist() == [200.0]
    assert column.bottom.tolist() == [0.0] and not column.msl
    multi = receptor_from_attrs(old_traj)
    assert multi is not None and multi.latitude.tolist() == [40.0, 41.0] and multi.msl
    assert receptor_from_attrs({"title": "no receptor"}) is None


# ---- old files still load ----------------------------------------------------------------


def _make_old(path: Path) -> None:
    """Rewrite a footprint file in the layout written before these attributes existed."""
    with xr.open_dataset(path) as ds:
        ds = ds.load()
    ds = ds.drop_vars("time_bnds").rename_vars({"projection": "crs"})
    ds["foot"].attrs.update(units="ppm (umol m-2 s-1)-1", grid_mapping="crs")
    del ds["foot"].attrs["cell_methods"]
    del ds["time"].attrs["bounds"]
    for name in [k for k in ds.attrs if k.startswith("receptor_")] + [
            "crs", "crs_format", "n_hours", "numpar", "seed", "met_files",
            "stilt_transport_hash", "trajectory_stilt_version"]:
        ds.attrs.pop(name, None)
    ds.attrs.update(receptor_time="2021-07-01T03:00:00Z", receptor_latitude=38.0,
                    receptor_longitude=-106.0, receptor_altitude=10.0,
                    receptor_altitude_ref="agl")
    ds.to_netcdf(path, engine="netcdf4")


def test_old_footprint_files_still_load_in_the_collections(tmp_path: Path) -> None:
    import stilt
    from stilt.plot import receptor_of

    transport, cfg = _small_project(numpar=10, seed=3)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(stilt.transport, "run_trajectories", transport)
        model = stilt.Model(tmp_path / "p", [PointReceptor("2021-07-01 03:00", -106.0, 38.0,
                                                           10.0)], cfg)
        try:
            assert model.run(n_workers=1).ok
            (path,) = model.footprints["default"].paths()
            new = model.footprints["default"].load()
            _make_old(path)
            (sim_id,) = model.simulations.ids()
            old = model.footprints["default"].load(sim_id)
        finally:
            model.close()
    assert "time_bnds" not in old and "crs" in old
    np.testing.assert_array_equal(old["foot"].values, new[sim_id]["foot"].values)
    assert receptor_of(old) == receptor_of(new[sim_id]) == (-106.0, 38.0)


# ---- PYSTILT's reader --------------------------------------------------------------------


def _reference_python(venv: str, spec: str) -> Path:
    """The interpreter of a PYSTILT venv (bench/_reference.py), made from PyPI when absent.

    ``venv`` and ``spec`` name the constants of bench/_reference.py. Without CI and without a
    way to install it, the calling test skips saying so; under CI it fails.
    """
    sys.path.insert(0, str(REPO / "bench"))
    try:
        import _reference
    finally:
        sys.path.remove(str(REPO / "bench"))
    try:
        return _reference.ensure_reference_venv(getattr(_reference, venv),
                                                spec=getattr(_reference, spec))
    except (OSError, subprocess.CalledProcessError, RuntimeError) as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"the PYSTILT reference venv could not be made (needs PyPI): {exc}")


PYSTILT_READER = """
import sys, json
import numpy as np
import stilt
foot = stilt.read_footprint(sys.argv[1])
print(json.dumps({"dims": list(foot.dims), "shape": list(foot.shape),
                  "sum": float(np.nansum(foot.values)), "units": foot.attrs.get("units"),
                  "lon0": float(foot["lon"][0]), "lat0": float(foot["lat"][0]),
                  "times": [str(t) for t in foot["time"].values]}))
"""


@pytest.mark.slow
def test_pystilt_read_footprint_opens_our_file(tmp_path: Path) -> None:
    """PyPI pystilt 0.1.0a25's public ``read_footprint`` loads our file with our values.

    It runs in the reference venv that the benchmarks make (bench/_reference.py,
    ``ensure_reference_venv()``, which installs it from PyPI when absent, as in CI);
    PYSTILT's package is also called ``stilt``, so it runs in a subprocess and never enters
    this process. Without CI and without a way to install it, the test skips saying so.
    """
    python = _reference_python("VENV", "PYSTILT_SPEC")
    out, path = _write(tmp_path)
    run = subprocess.run([str(python), "-c", PYSTILT_READER, str(path)], capture_output=True,
                         text=True, cwd=tmp_path, check=False)
    assert run.returncode == 0, run.stderr
    got = json.loads(run.stdout.strip().splitlines()[-1])
    assert got["dims"] == ["time", "lat", "lon"]
    assert got["shape"] == list(out["foot"].shape)
    assert got["units"] == FOOT_UNITS
    assert got["sum"] == pytest.approx(float(out["foot"].sum()), rel=1e-6)
    assert (got["lon0"], got["lat0"]) == (float(out["lon"][0]), float(out["lat"][0]))
    assert got["times"] == [str(t) for t in out["time"].values]


PYSTILT_A4_READER = """
import sys, json
import numpy as np
from stilt.footprint import Footprint
fp = Footprint.from_netcdf(sys.argv[1])
grid = fp.grid
print(json.dumps({"receptor": fp.receptor.to_dict(), "name": fp.name,
                  "grid": [grid.xmin, grid.xmax, grid.ymin, grid.ymax, grid.xres, grid.yres,
                           grid.projection],
                  "dims": list(fp.data.dims), "sum": float(np.nansum(fp.data.values)),
                  "empty": fp.is_empty}))
"""


@pytest.mark.slow
@pytest.mark.parametrize("receptor, expected", [
    (PointReceptor("2020-06-01T12:00", -100.0, 40.0, 10.0),
     {"type": "PointReceptor", "longitude": -100.0, "latitude": 40.0, "altitude": 10.0}),
    (ColumnReceptor("2020-06-01T12:00", -100.0, 40.0, 0.0, 2000.0),
     {"type": "ColumnReceptor", "longitude": -100.0, "latitude": 40.0, "bottom": 0.0,
      "top": 2000.0}),
])
def test_pystilt_a4_footprint_from_netcdf_opens_our_file(
        tmp_path: Path, receptor: Any, expected: dict[str, Any]) -> None:
    """PYSTILT 0.1.0a4 (the API stilt implements) rebuilds grid, name and receptor from our file.

    Its ``Footprint.from_netcdf`` reads the global ``receptor`` JSON, ``xmin`` ... ``yres``,
    ``projection`` and ``name``; it runs in its own venv (``bench/.venv-pystilt-a4``, made
    from PyPI when absent, as for the 0.1.0a25 reader above).
    """
    python = _reference_python("VENV_A4", "PYSTILT_A4_SPEC")
    out = calc_footprint(_random_walk(), receptor, GRID, hnf_plume=False)
    path = write_footprint(out, tmp_path / "foot.nc")
    run = subprocess.run([str(python), "-c", PYSTILT_A4_READER, str(path)], capture_output=True,
                         text=True, cwd=tmp_path, check=False)
    assert run.returncode == 0, run.stderr
    got = json.loads(run.stdout.strip().splitlines()[-1])
    assert got["receptor"] == {**expected, "time": "2020-06-01T12:00:00", "altitude_ref": "agl"}
    assert got["name"] == "foot" and got["empty"] is False
    assert got["grid"] == [GRID.xmin, GRID.xmax, GRID.ymin, GRID.ymax, GRID.xres, GRID.yres,
                           GRID.projection]
    assert got["dims"] == ["time", "lat", "lon"]
    assert got["sum"] == pytest.approx(float(out["foot"].sum()), rel=1e-6)
