"""Outputs at project scale (issue 18): compact CF trajectory files, keep / thin / drop, and
a named footprint collection as one lazily loaded dataset with streamed aggregations."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import netCDF4
import numpy as np
import pytest
import xarray as xr

import orch_fakes
import stilt
import stilt.simulation as sim
import stilt.transport
from stilt.config import ModelConfig
from stilt.errors import ConfigError
from stilt.footprint_dataset import cell_matrix, sum_by_hour_of_day, sum_footprints
from stilt.receptors import PointReceptor
from stilt.simulation import SimulationPaths, needed_work, read_status, write_status
from stilt.trajectory_file import (compact_trajectories, file_layout, memory_layout,
                                   read_trajectories, thin_trajectories, trajectory_encoding,
                                   write_trajectories)
from stilt.transport import run_trajectories
from test_transport import LATLON, make_met

GRID = {"xmin": -110.0, "xmax": -102.0, "ymin": 34.0, "ymax": 42.0, "xres": 0.1, "yres": 0.1}
MET = {"synth": {"directory": "met", "file_format": "x.arl"}}
M_PER_DEG = 111_320.0


@pytest.fixture(scope="module")
def particles() -> xr.Dataset:
    """100 particles, 2 h backward, every minute, real transport on synthetic met."""
    met = make_met(LATLON, 4, 3.0, 2.0)
    rec = {"time": "2021-07-01T03:00", "latitude": 38.0, "longitude": -106.0, "altitude": 10}
    return run_trajectories(rec, met, n_hours=-2, numpar=100, seed=3, hnf_plume=True)


def test_compact_file_keeps_positions_to_1_m_and_foot_to_1e_6(particles, tmp_path) -> None:
    raw = tmp_path / "raw.nc"
    new = tmp_path / "new.nc"
    particles.to_netcdf(raw, engine="netcdf4")  # the layout before: float64, uncompressed
    foot = particles.foot.values.copy()
    compact = compact_trajectories(particles)  # as a project run publishes them
    np.testing.assert_array_equal(particles.foot.values, foot)  # its input left as it was
    assert particles.foot.dtype == np.float64 and compact.foot.dtype == np.float32
    sim._publish_trajectory(compact, new)  # as a project run writes it: on (indx, time)
    back = read_trajectories(new)
    assert back.foot.dims == back.long.dims == ("time", "indx")  # as in memory
    with xr.open_dataset(raw) as ds:
        old = ds.load()
    # positions better than 1 m
    lat_err = np.nanmax(np.abs(back.lati.values - old.lati.values)) * M_PER_DEG
    lon_err = np.nanmax(np.abs(back.long.values - old.long.values) * M_PER_DEG
                        * np.cos(np.radians(old.lati.values)))
    assert lat_err <= 0.56 and lon_err <= 0.56
    assert np.nanmax(np.abs(back.zagl.values - old.zagl.values)) <= 0.05 + 1e-9
    # foot to 1e-6 relative, the diagnostics to about four digits
    for name, bound in (("foot", 1e-6), ("foot_no_hnf_dilution", 1e-6), ("mlht", 1.3e-4),
                        ("dens", 1.3e-4), ("sigw", 1.3e-4)):
        a, b = old[name].values.astype(float), back[name].values.astype(float)
        assert np.array_equal(np.isnan(a), np.isnan(b)), name
        ok = np.isfinite(a) & (a != 0)
        assert np.max(np.abs(b[ok] - a[ok]) / np.abs(a[ok])) <= bound, name
    # the file holds exactly what compact_trajectories rounds to in memory
    for name in particles.data_vars:
        np.testing.assert_array_equal(back[name].values, compact[name].values, err_msg=name)
    # compressed and chunked, and much smaller than the layout before
    with netCDF4.Dataset(new) as nc:
        filters = nc["foot"].filters()
        assert filters["zlib"] and filters["shuffle"] and nc["long"].dtype == np.int32
    assert new.stat().st_size < raw.stat().st_size / 3


def test_trajectory_files_carry_the_cf_trajectory_identity(particles, tmp_path) -> None:
    path = tmp_path / "t.nc"
    sim._publish_trajectory(compact_trajectories(particles), path)
    table = [n for n, v in particles.data_vars.items() if v.dims == ("time", "indx")]
    assert {"long", "lati", "zagl", "foot", "foot_no_hnf_dilution", "samt"} <= set(table)
    with netCDF4.Dataset(path) as nc:
        # every table variable on CF's (trajectory, obs) order, chunked in whole particles
        for name in table:
            assert nc[name].dimensions == ("indx", "time"), name
            assert nc[name].chunking() == [100, particles.sizes["time"]], name
        assert nc["indx"].dimensions == ("indx",) and nc["time"].dimensions == ("time",)
        assert nc.getncattr("Conventions") == "CF-1.8"
        assert nc.getncattr("featureType") == "trajectory"
        assert nc["indx"].getncattr("cf_role") == "trajectory_id"
        status = nc["status"]
        assert status.dimensions == ("indx",) and status.dtype == np.int8
        assert list(status.getncattr("flag_values")) == [0, 1]
        assert status.getncattr("flag_meanings") == "ran_to_end left_met_grid"
        assert set(np.unique(status[:])) <= {0, 1}


def _same_attr(a, b) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.asarray(a).dtype == np.asarray(b).dtype and np.array_equal(a, b)
    return type(a) is type(b) and (a == b or (a != a and b != b))  # NaN fill values


@pytest.mark.parametrize("thinned", [False, True])
def test_the_direct_writer_writes_the_file_xarray_writes(particles, tmp_path,
                                                         thinned) -> None:
    """write_trajectories (netCDF4 directly, what a project uses) and to_netcdf with
    trajectory_encoding give the same file: types, values, attributes, chunks, filters."""
    ds = compact_trajectories(particles)
    for name, var in ds.data_vars.items():  # particle 2 left the grid 10 rows before the end
        if var.dims == ("time", "indx"):
            ds[name] = var.copy(data=var.values.copy())
            ds[name].values[-10:, 1] = np.nan
    if thinned:
        ds = thin_trajectories(ds, 7)
    via_xarray, direct = tmp_path / "x.nc", tmp_path / "d.nc"
    table = file_layout(ds)
    table.to_netcdf(via_xarray, engine="netcdf4", encoding=trajectory_encoding(table))
    write_trajectories(ds, direct)
    with xr.open_dataset(via_xarray) as a, xr.open_dataset(direct) as b:
        assert a.load().identical(b.load())
    with netCDF4.Dataset(via_xarray) as a, netCDF4.Dataset(direct) as b:
        assert list(a.dimensions) == list(b.dimensions) == ["indx", "time"]
        assert a.ncattrs() == b.ncattrs()
        assert all(_same_attr(a.getncattr(k), b.getncattr(k)) for k in a.ncattrs())
        assert sorted(a.variables) == sorted(b.variables)
        for name, va in a.variables.items():
            vb = b[name]
            assert (va.dtype, va.dimensions, va.chunking(), va.filters()) == \
                   (vb.dtype, vb.dimensions, vb.chunking(), vb.filters()), name
            assert sorted(va.ncattrs()) == sorted(vb.ncattrs()), name
            assert all(_same_attr(va.getncattr(k), vb.getncattr(k)) for k in va.ncattrs())
            va.set_auto_maskandscale(False)
            vb.set_auto_maskandscale(False)
            np.testing.assert_array_equal(va[:], vb[:], err_msg=name)  # the stored values
        # samt (mostly zeros and whole minutes) without the shuffle, the rest with it
        assert not b["samt"].filters()["shuffle"] and b["foot"].filters()["shuffle"]
        missing = np.isnan(file_layout(ds).long.values)  # stored as the fill value
        assert missing.any() and np.array_equal(b["long"][:] == -(2**31), missing)


def test_the_direct_writer_pads_the_last_chunk_and_any_reader_inflates_it(tmp_path) -> None:
    """Over a million values per column the table is split into chunks of whole particles;
    the last one, shorter, is padded with the fill value as HDF5 pads it. The chunks the
    writer deflates itself (ISA-L) read back through netCDF-C exactly as xarray's file, and
    each is a zlib stream the standard library inflates to the shuffled stored bytes."""
    import zlib

    import h5py

    rng = np.random.default_rng(5)
    nt, npart = 1001, 1001  # two chunks: 501 particles and 500 (padded)
    long = np.cumsum(rng.normal(0, 0.01, (nt, npart)), axis=0) - 100.0
    foot = rng.random((nt, npart)) * 1e-3
    long[-5:, -1] = np.nan  # the last particle left the grid
    ds = compact_trajectories(xr.Dataset(
        {"long": (("time", "indx"), long), "foot": (("time", "indx"), foot)},
        coords={"time": -np.arange(1.0, nt + 1), "indx": np.arange(1, npart + 1)}))
    table = file_layout(ds)
    via_xarray, direct = tmp_path / "x.nc", tmp_path / "d.nc"
    table.to_netcdf(via_xarray, engine="netcdf4", encoding=trajectory_encoding(table))
    write_trajectories(ds, direct)
    with netCDF4.Dataset(via_xarray) as a, netCDF4.Dataset(direct) as b:
        for name in ("long", "foot"):
            assert a[name].chunking() == b[name].chunking() == [501, nt]
            a[name].set_auto_maskandscale(False)
            b[name].set_auto_maskandscale(False)
            np.testing.assert_array_equal(a[name][:], b[name][:], err_msg=name)
    with h5py.File(direct, "r") as f:
        dset = f["long"]
        assert dset.id.get_num_chunks() == 2
        raw = zlib.decompress(dset.id.read_direct_chunk((501, 0))[1])
    stored = np.full((501, nt), -(2**31), dtype=np.int32)  # the padded last chunk
    stored[:500] = np.where(np.isnan(table.long.values[501:]), -(2**31),
                            np.rint(table.long.values[501:] / 1e-5)).astype(np.int32)
    shuffled = stored.view(np.uint8).reshape(-1, 4).T.tobytes()
    assert raw == shuffled


def test_thinning_sums_as_a_row_by_row_sum_in_any_row_order() -> None:
    """The summed columns of a thinned file are the sums a row-by-row accumulation gives
    (np.add.at, in row order, from 0), bit for bit, whether the rows come in time order or
    not, with missing values counted as 0 and a lone -0.0 summed to 0.0."""
    rng = np.random.default_rng(11)
    nt, npart = 37, 5
    foot = rng.random((nt, npart)) * 1e-3
    foot[rng.random((nt, npart)) < 0.1] = np.nan
    foot[0, 0] = -0.0
    times = -np.arange(1.0, nt + 1)
    for order in (np.arange(nt), rng.permutation(nt)):
        ds = xr.Dataset({"foot": (("time", "indx"), foot[order])},
                        coords={"time": times[order], "indx": np.arange(1, npart + 1)})
        thin = thin_trajectories(ds, 10)
        group = np.ceil(np.abs(times[order]) / 10)
        expected = np.zeros((np.unique(group).size, npart))
        np.add.at(expected, np.searchsorted(np.unique(group), group),
                  np.nan_to_num(foot[order]))
        kept = ~np.isnan(thin.foot.values)
        assert kept.any()
        np.testing.assert_array_equal(thin.foot.values.view(np.uint64)[kept],
                                      expected.view(np.uint64)[kept])


def test_the_direct_writer_refuses_what_it_cannot_store(particles, tmp_path) -> None:
    ds = compact_trajectories(particles)
    with pytest.raises(ValueError, match="coordinates \\['site'\\]"):
        write_trajectories(ds.assign_coords(site=("indx", np.zeros(ds.sizes["indx"]))),
                           tmp_path / "a.nc")
    with pytest.raises(TypeError, match="'name' has type"):
        write_trajectories(ds.assign(name=("indx", np.array(["a"] * ds.sizes["indx"]))),
                           tmp_path / "b.nc")


def test_the_write_thread_finishes_before_an_error_is_raised() -> None:
    """The trajectory write overlapping the footprints: its error surfaces once the footprints
    are done; a footprint error wins, raised only after the write has finished (its temporary
    file is closed before anyone removes it)."""
    done = []

    def slow_write() -> None:
        time.sleep(0.2)
        done.append("write")

    def failing_write() -> None:
        raise OSError("disk full")

    def failing_footprint() -> None:
        raise ValueError("bad grid")

    assert sim._overlapped(slow_write, lambda: "foot") == "foot" and done == ["write"]
    with pytest.raises(OSError, match="disk full"):
        sim._overlapped(failing_write, lambda: done.append("foot"))
    assert done[-1] == "foot"
    done.clear()
    with pytest.raises(ValueError, match="bad grid"):
        sim._overlapped(slow_write, failing_footprint)
    assert done == ["write"]


def test_particles_leaving_the_grid_are_flagged() -> None:
    met = make_met(LATLON, 4, 30.0, 0.0)  # 30 m/s east: the particles leave at the west edge
    rec = {"time": "2021-07-01T03:00", "latitude": 40.0, "longitude": -108.5, "altitude": 10}
    ds = run_trajectories(rec, met, n_hours=-2, numpar=20, seed=1)
    ended = np.isnan(ds.long.values[-1])
    assert ended.any()
    np.testing.assert_array_equal(ds.status.values == 1, ended)


def test_thinning_is_a_run_with_that_output_interval(particles) -> None:
    met = make_met(LATLON, 4, 3.0, 2.0)
    rec = {"time": "2021-07-01T03:00", "latitude": 38.0, "longitude": -106.0, "altitude": 10}
    every10 = run_trajectories(rec, met, n_hours=-2, numpar=100, seed=3, hnf_plume=True,
                               outdt=10)
    thin = thin_trajectories(particles, 10)
    assert thin.attrs["thinned_minutes"] == 10
    # a file's (indx, time) table thins to the same (time, indx) result
    xr.testing.assert_identical(thin_trajectories(file_layout(particles), 10), thin)
    np.testing.assert_array_equal(thin.time.values, every10.time.values)
    np.testing.assert_array_equal(thin.long.values, every10.long.values)
    for name in ("foot", "foot_no_hnf_dilution", "samt"):  # samt: float32 in the run itself
        rtol = 1e-12 if every10[name].dtype == np.float64 else 3e-7
        np.testing.assert_allclose(thin[name].values, every10[name].values, rtol=rtol,
                                   atol=1e-300, err_msg=name)


# ---- keep / thin / drop in a project ------------------------------------------------------


def _project(tmp_path: Path, n: int = 2, **config) -> tuple[stilt.Model, list]:
    met = make_met(LATLON, 4, 3.0, 2.0)
    log = tmp_path / "transport.log"

    def transport(receptor, met_source, **kw):
        with open(log, "a") as handle:
            handle.write("run\n")
        return run_trajectories(receptor, met, **kw)

    footprints = config.pop("footprints", {"default": {"grid": GRID}})
    cfg = ModelConfig(mets=MET, n_hours=-1, numpar=20, seed=7, footprints=footprints,
                      **config)
    recs = [PointReceptor(f"2021-07-01 0{1 + k}:00", -106.0, 38.0 + 0.2 * k, 10.0)
            for k in range(n)]
    stilt.transport.run_trajectories = transport  # restored by the science fixture
    return stilt.Model(tmp_path / "p", recs, cfg), log


@pytest.fixture
def science():
    saved = stilt.transport.run_trajectories
    yield
    stilt.transport.run_trajectories = saved


def _runs(log: Path) -> int:
    return len(log.read_text().splitlines()) if log.exists() else 0


def test_dropped_trajectories_stay_complete_until_a_new_footprint_needs_them(
        tmp_path, science) -> None:
    model, log = _project(tmp_path, trajectories="drop")
    try:
        assert model.run(n_workers=1).ok and _runs(log) == 2
        ids = model.simulations.ids()
        paths = [SimulationPaths.of(model.output, i) for i in ids]
        assert not any(p.trajectory.exists() for p in paths)
        assert all(p.footprint("default").is_file() for p in paths)
        assert all(read_status(p)["trajectories"] == "dropped" for p in paths)
        assert model.trajectories.missing() == [] and model.trajectories.ids() == []
        assert model.run(n_workers=1).ok and _runs(log) == 2  # complete: nothing runs
        model.rebuild_index()
        assert model.simulations.counts()["complete"] == 2
        before = paths[0].footprint("default").stat().st_mtime_ns
        # a second footprint needs the particles again: transport reruns, default is kept
        cfg = model.config.with_overrides(footprints={
            "default": {"grid": GRID}, "coarse": {"grid": dict(GRID, xres=0.5, yres=0.5)}})
        assert needed_work(paths[0], cfg, "synth") == (True, ["coarse"])
        model.config = cfg
        assert model.run(n_workers=1).ok and _runs(log) == 4
        assert paths[0].footprint("coarse").is_file() and not paths[0].trajectory.exists()
        assert paths[0].footprint("default").stat().st_mtime_ns == before
    finally:
        model.close()


def test_thinned_trajectories_keep_the_footprint_and_the_foot_sum(tmp_path, science) -> None:
    model, log = _project(tmp_path, n=1, trajectories="thin", thin_minutes=15)
    try:
        assert model.run(n_workers=1).ok
        (sim_id,) = model.simulations.ids()
        paths = SimulationPaths.of(model.output, sim_id)
        traj = model.trajectories.load(sim_id)
        foot = model.footprints["default"].load(sim_id)
        assert traj.attrs["thinned_minutes"] == 15
        np.testing.assert_array_equal(traj.time.values, [-15.0, -30.0, -45.0, -60.0])
        assert float(np.nansum(traj.foot.values, dtype=np.float64)) / 20 == pytest.approx(
            float(foot.attrs["foot_total"]), rel=1e-6)
        assert read_status(paths)["trajectories"] == "thinned"
        assert needed_work(paths, model.config, "synth") == (False, [])
        # keeping them again brings the full trajectories back
        keep = model.config.with_overrides(trajectories="keep")
        assert needed_work(paths, keep, "synth") == (True, [])
    finally:
        model.close()


def test_the_crash_windows_of_thinning_and_dropping(tmp_path, science) -> None:
    """kill -9 between the steps: the files decide, never a status record alone."""
    model, log = _project(tmp_path, n=1)
    try:
        assert model.run(n_workers=1).ok
        (sim_id,) = model.simulations.ids()
        paths = SimulationPaths.of(model.output, sim_id)
        status = read_status(paths)
        drop = model.config.with_overrides(trajectories="drop")
        thin = model.config.with_overrides(trajectories="thin")
        # killed after the trajectories were published, before status.json recorded them:
        # the file's own transport hash keeps them, the footprints are computed again
        write_status(paths, {k: v for k, v in status.items()
                             if k not in ("transport_hash", "footprints")})
        assert needed_work(paths, model.config, "synth") == (False, ["default"])
        # ... but not a file of another transport
        assert needed_work(paths, model.config.with_overrides(numpar=7), "synth") == (
            True, ["default"])
        (plan,) = model.plan()
        out = sim.run_simulation(model.output, model.project, sim_id, "synth", plan["receptor"],
                                 model.config)
        assert out["state"] == "complete" and _runs(log) == 1  # the footprint only
        assert read_status(paths)["transport_hash"] == status["transport_hash"]
        assert read_status(paths)["trajectories"] == "full"
        assert needed_work(paths, model.config, "synth") == (False, [])
        # status says dropped, the file was not removed yet: complete, the file still valid
        write_status(paths, dict(status, trajectories="dropped"))
        assert needed_work(paths, drop, "synth") == (False, [])
        # the file was thinned, the status not written yet: the file says so itself
        with xr.open_dataset(paths.trajectory) as ds:
            thinned = thin_trajectories(ds.load(), 10)
        thinned.to_netcdf(paths.trajectory, engine="netcdf4")
        write_status(paths, status)  # still "full"
        assert needed_work(paths, thin, "synth") == (False, [])
        more = thin.with_overrides(footprints={"default": {"grid": GRID},
                                               "b": {"grid": GRID, "smooth_factor": 2.0}})
        assert needed_work(paths, more, "synth") == (True, ["b"])
        # a trajectory file lost without a drop: everything again, as before
        paths.trajectory.unlink()
        assert needed_work(paths, model.config, "synth") == (True, ["default"])
    finally:
        model.close()


@pytest.mark.parametrize("setting", ["drop", "thin"])
def test_a_rerun_finishes_the_thinning_or_dropping_a_kill_left_owed(
        tmp_path, science, setting: str) -> None:
    """Killed after the last footprint (or after recording ``dropped``) but before the files
    were thinned or removed: the rerun, with nothing else to do, finishes that step alone."""
    model, log = _project(tmp_path, n=1)
    try:
        assert model.run(n_workers=1).ok and _runs(log) == 1
        (sim_id,) = model.simulations.ids()
        paths = SimulationPaths.of(model.output, sim_id)
        cfg = model.config.with_overrides(trajectories=setting)
        if setting == "drop":
            write_status(paths, dict(read_status(paths), trajectories="dropped"))
        assert needed_work(paths, cfg, "synth") == (False, [])
        (plan,) = model.plan()
        out = sim.run_simulation(model.output, model.project, sim_id, "synth", plan["receptor"],
                                 cfg)
        assert out["state"] == "complete" and _runs(log) == 1  # no transport again
        status = read_status(paths)
        if setting == "drop":
            assert not paths.trajectory.exists() and status["trajectories"] == "dropped"
        else:
            with xr.open_dataset(paths.trajectory) as ds:
                assert ds.attrs["thinned_minutes"] == cfg.thin_minutes
            assert status["trajectories"] == "thinned"
        assert paths.footprint("default").is_file()
    finally:
        model.close()


@pytest.mark.parametrize("layout", ["float64", "compact"])
def test_old_time_indx_trajectories_give_the_same_footprints(tmp_path, science,
                                                             layout: str) -> None:
    """Files written before the (indx, time) layout, on (time, indx): float64 uncompressed
    (before compact files) or compact. A footprint added later reads them to the same
    footprint, to the bit, as from the file written now, and users see the same Dataset."""
    model, log = _project(tmp_path, n=1, footprints={
        "default": {"grid": GRID}, "b": {"grid": GRID, "smooth_factor": 2.0}})
    try:
        assert model.run(n_workers=1).ok and _runs(log) == 1
        (sim_id,) = model.simulations.ids()
        paths = SimulationPaths.of(model.output, sim_id)
        new = model.trajectories.load(sim_id)
        assert new.foot.dims == ("time", "indx")
        paths.footprint("b").unlink()  # computed again from the new file
        assert model.run(n_workers=1).ok and _runs(log) == 1  # read back, not recomputed
        from_new = model.footprints["b"].load(sim_id)
        with xr.open_dataset(paths.trajectory) as ds:
            assert ds.foot.dims == ("indx", "time")
            old = memory_layout(ds.load())  # written the old way, on (time, indx)
        if layout == "float64":  # before compact files: float64, uncompressed, no flags
            old = old.drop_vars("status")
            for name in ("long", "lati", "foot", "foot_no_hnf_dilution"):
                old[name] = old[name].astype(np.float64)
            old.to_netcdf(paths.trajectory, engine="netcdf4")
        else:
            old.to_netcdf(paths.trajectory, engine="netcdf4",
                          encoding=trajectory_encoding(old))
        with netCDF4.Dataset(paths.trajectory) as nc:
            assert nc["foot"].dimensions == ("time", "indx")
            assert (nc["long"].dtype == np.float64) == (layout == "float64")
        paths.footprint("b").unlink()
        assert model.run(n_workers=1).ok and _runs(log) == 1  # read back, not recomputed
        from_old = model.footprints["b"].load(sim_id)
        np.testing.assert_array_equal(from_old.foot.values, from_new.foot.values)
        assert from_old.foot.sum() > 0
        back = model.trajectories.load(sim_id)
        assert back.foot.dims == ("time", "indx")
        assert (back.long.dtype == np.float64) and (back.foot.dtype == (
            np.float64 if layout == "float64" else np.float32))
        for name in ("long", "lati", "zagl", "foot", "foot_no_hnf_dilution"):
            np.testing.assert_array_equal(back[name].values, new[name].values, err_msg=name)
        # thinning an old file gives the same file as thinning a new one
        thin = model.config.with_overrides(trajectories="thin")
        sim._store_trajectories(paths, thin, read_status(paths), {})
        thinned = read_trajectories(paths.trajectory)
        np.testing.assert_array_equal(thinned.long.values,
                                      thin_trajectories(new, thin.thin_minutes).long.values)
    finally:
        model.close()


@pytest.mark.parametrize("setting", ["drop", "thin"])
def test_drop_writes_no_trajectory_file_and_thin_writes_it_thinned_at_once(
        tmp_path, science, monkeypatch, setting: str) -> None:
    """New particles with ``trajectories: drop`` are never written (the footprints come from
    memory); with ``thin`` the one file written is the thinned one, the same as thinning the
    full file afterwards, and the footprints are those of the full particles."""
    written = []
    publish = sim._publish_trajectory
    monkeypatch.setattr(sim, "_publish_trajectory",
                        lambda ds, path: (written.append(dict(ds.sizes)), publish(ds, path)))
    keep, _ = _project(tmp_path / "keep", n=1)
    assert keep.run(n_workers=1).ok and len(written) == 1
    written.clear()
    model, log = _project(tmp_path / "set", n=1, trajectories=setting, thin_minutes=10)
    try:
        assert model.run(n_workers=1).ok and _runs(log) == 1
        (sim_id,) = model.simulations.ids()
        paths = SimulationPaths.of(model.output, sim_id)
        assert [w["time"] for w in written] == ([6] if setting == "thin" else [])
        full = keep.trajectories.load(sim_id)
        np.testing.assert_array_equal(model.footprints["default"].load(sim_id).foot.values,
                                      keep.footprints["default"].load(sim_id).foot.values)
        assert read_status(paths)["trajectories"] == {"drop": "dropped",
                                                      "thin": "thinned"}[setting]
        if setting == "drop":
            assert not paths.trajectory.exists()
        else:
            xr.testing.assert_identical(
                model.trajectories.load(sim_id).drop_attrs(),
                thin_trajectories(full, 10).drop_attrs())
        assert needed_work(paths, model.config, "synth") == (False, [])
        assert model.run(n_workers=1).ok and _runs(log) == 1
    finally:
        model.close()
        keep.close()


def test_the_crash_windows_of_dropping_new_particles(tmp_path, science, monkeypatch) -> None:
    """Switching to drop with changed transport settings: the earlier (kept) file goes before
    the status records the new transport as dropped; a kill on either side of that record
    never lets the earlier file stand for the new particles."""
    model, log = _project(tmp_path, n=1)
    try:
        assert model.run(n_workers=1).ok and _runs(log) == 1
        (sim_id,) = model.simulations.ids()
        paths = SimulationPaths.of(model.output, sim_id)
        (plan,) = model.plan()
        old_hash = read_status(paths)["transport_hash"]
        drop = model.config.with_overrides(trajectories="drop", seed=8)
        # killed after the earlier file went, before the status record (SystemExit: no
        # status is written on the way out, as after kill -9)
        monkeypatch.setattr(sim, "write_status", _fail_once(sim.write_status, 1))
        with pytest.raises(SystemExit):
            sim.run_simulation(model.output, model.project, sim_id, "synth", plan["receptor"],
                               drop)
        assert not paths.trajectory.exists() and _runs(log) == 2
        assert read_status(paths)["transport_hash"] == old_hash
        assert needed_work(paths, drop, "synth") == (True, ["default"])
        # killed after the record, before the footprint was published
        monkeypatch.undo()
        monkeypatch.setattr(sim, "_publish_footprint", _raise)
        with pytest.raises(SystemExit):
            sim.run_simulation(model.output, model.project, sim_id, "synth", plan["receptor"],
                               drop)
        status = read_status(paths)
        assert status["trajectories"] == "dropped" and status["footprints"] == {}
        assert status["transport_hash"] == drop.transport_hash("synth") != old_hash
        assert needed_work(paths, drop, "synth") == (True, ["default"])
        monkeypatch.undo()
        out = sim.run_simulation(model.output, model.project, sim_id, "synth",
                                 plan["receptor"], drop)
        assert out["state"] == "complete" and _runs(log) == 4
        assert needed_work(paths, drop, "synth") == (False, [])
        assert not paths.trajectory.exists()
    finally:
        model.close()


def _fail_once(fn, call: int):
    """``fn`` whose ``call``-th call is killed instead (later calls go through)."""
    count = [0]

    def wrapped(*args, **kw):
        count[0] += 1
        if count[0] == call:
            raise SystemExit("killed")
        return fn(*args, **kw)
    return wrapped


def _raise(*args, **kw):
    raise SystemExit("killed")


def test_drop_without_footprints_is_refused() -> None:
    with pytest.raises(ConfigError, match="trajectories: drop needs footprints"):
        ModelConfig(mets=MET, trajectories="drop")
    with pytest.raises(ConfigError, match="trajectories: 'kept' must be one of"):
        ModelConfig(mets=MET, trajectories="kept")
    assert ModelConfig(mets=MET, footprints={"d": {"grid": GRID}}, trajectories="thin",
                       thin_minutes=5).to_dict()["thin_minutes"] == 5


def test_kill_9_during_a_run_that_drops_trajectories(tmp_path) -> None:
    project = orch_fakes.small_project(tmp_path / "p", n=4, extra="trajectories: drop\n")
    log = tmp_path / "calls.log"
    run = subprocess.Popen([sys.executable, orch_fakes.__file__, str(log), "0.5", "-", "run",
                            str(project), "--n-workers", "1"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while time.time() < deadline and len(orch_fakes.calls(log, "footprint")) < 2:
        time.sleep(0.02)
    run.send_signal(signal.SIGKILL)
    run.communicate(timeout=60)
    res = subprocess.run([sys.executable, orch_fakes.__file__, str(log), "0", "-", "run",
                          str(project), "--n-workers", "1"], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    by_id = project / "out" / "simulations" / "by-id"
    folders = sorted(by_id.iterdir())
    assert len(folders) == 4
    for folder in folders:
        assert not list(folder.glob("*_traj.nc")) and list(folder.glob("*_foot.nc"))
    assert len(orch_fakes.calls(log)) <= 5  # the one killed mid-way at most runs again
    model = stilt.Model(project)
    try:
        assert model.rebuild_index() == 4
        assert model.simulations.counts()["complete"] == 4
    finally:
        model.close()


# ---- footprints as one dataset -------------------------------------------------------------


def test_footprints_open_as_one_lazy_dataset(tmp_path, science) -> None:
    model, log = _project(tmp_path, n=3)
    try:
        assert model.run(n_workers=1).ok
        ds = model.footprints["default"].open_dataset()
        ids = model.simulations.ids()
        assert list(ds.simulation.values) == ids
        assert ds.foot.dims == ("simulation", "lag", "lat", "lon")
        assert list(ds.lag.values) == [-1]
        assert ds.attrs["footprint_name"] == "default"  # the collection's, not one file's
        assert not {"receptor", "receptor_run_time", "foot_total", "simulation_id"} & set(ds.attrs)
        np.testing.assert_allclose(ds.receptor_latitude.values, [38.0, 38.2, 38.4])
        assert str(ds.time.values[1, 0])[:16] == "2021-07-01T01:00"  # 02:00 receptor, lag -1
        files = {i: model.footprints["default"].load(i) for i in ids}
        for k, i in enumerate(ids):
            np.testing.assert_array_equal(ds.foot.isel(simulation=k).values,
                                          files[i].foot.values)
        # aggregations on the dataset, streamed a block of files at a time
        dense = np.stack([files[i].foot.values for i in ids]).astype(float)
        mean = sum_footprints(ds, mean=True, block=2)
        np.testing.assert_allclose(mean.values, dense.mean(axis=0), rtol=1e-12)
        by = sum_by_hour_of_day(ds, block=1)
        assert by.dims == ("hour", "lat", "lon")
        for k, hour in enumerate((0, 1, 2)):  # each layer starts an hour before its receptor
            np.testing.assert_allclose(by.sel(hour=hour).values, dense[k, 0], rtol=1e-12)
        assert float(by.sum()) == pytest.approx(float(dense.sum()), rel=1e-12)
        sub = ds.foot.isel(simulation=[0, 2], lag=0, lat=slice(30, 50), lon=[3, 40, 41])
        np.testing.assert_array_equal(sub.values, dense[[0, 2], 0, 30:50][:, :, [3, 40, 41]])
        m = cell_matrix(ds, block=2)
        rebuilt = np.zeros(m.attrs["shape"])
        rebuilt[m.row.values, m.col.values] = m.value.values
        np.testing.assert_array_equal(rebuilt, dense.reshape(3, -1))
        assert m.sizes["entry"] == np.count_nonzero(dense)
        # by location, after a rebuild of the index (status records are the truth)
        model.rebuild_index()
        again = model.footprints["default"].open_dataset()
        per = sum_footprints(again, by="location_id", block=1)
        assert per.sizes["location_id"] == 3
        np.testing.assert_allclose(per.sum("location_id").values, dense.sum(axis=0),
                                   rtol=1e-12)
        # an empty footprint (one zero layer stamped with the receptor time) reads as zeros
        path = model.footprints["default"].paths()[1]
        with xr.open_dataset(path) as f:
            empty = f.load()
        empty = empty.drop_vars("time_bnds")
        empty = empty.assign_coords(time=empty.time + np.timedelta64(1, "h"))
        empty["foot"] = empty.foot * 0
        empty.attrs["empty"] = 1
        empty.to_netcdf(path, engine="netcdf4")
        assert float(np.abs(again.foot.isel(simulation=1)).sum()) == 0.0
    finally:
        model.close()


def test_opening_reads_no_file_but_the_first(tmp_path, science) -> None:
    model, log = _project(tmp_path, n=3, footprints={
        "total": {"grid": GRID, "time_integrate": True}})
    try:
        assert model.run(n_workers=1).ok
        ids = model.simulations.ids()
        gone = SimulationPaths.of(model.output, ids[2]).footprint("total")
        gone.unlink()
        ds = model.footprints["total"].open_dataset()  # the index still lists it
        assert ds.foot.dims == ("simulation", "lat", "lon") and ds.sizes["simulation"] == 3
        assert float(ds.foot.isel(simulation=0).sum()) > 0
        with pytest.raises(OSError, match=str(gone.name)):
            ds.foot.isel(simulation=2).values
        sub = model.footprints["total"].open_dataset(location_ids=ids[0].split("_", 2)[2])
        assert list(sub.simulation.values) == ids[:1]
    finally:
        model.close()
