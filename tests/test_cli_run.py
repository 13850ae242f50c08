"""The project commands of the CLI: init, check, run, register, pull, status, index rebuild.

Runs in subprocesses: through tests/orch_fakes.py (the CLI with instrumented science
functions) where the orchestration alone is checked, and end to end on the real transport and
footprints with a small synthetic met set (the checks of issue 5).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import orch_fakes
from stilt.cli import main

FAKES = str(Path(orch_fakes.__file__))


def fake_cli(log: Path, *args: str, fail_lat: str = "-") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, FAKES, str(log), "0", fail_lat, *args],
                          capture_output=True, text=True, timeout=120)


small_project = orch_fakes.small_project


def test_init_writes_a_starter_and_never_overwrites(tmp_path, capsys) -> None:
    assert main(["init", str(tmp_path / "p")]) == 0
    config = (tmp_path / "p" / "config.yaml").read_text()
    assert "# stilt project configuration" in config and "mets:" in config
    before = config
    assert main(["init", str(tmp_path / "p")]) == 1
    assert "never overwrites" in capsys.readouterr().err
    assert (tmp_path / "p" / "config.yaml").read_text() == before
    # the starter's met folder does not exist: check says so, runs nothing
    assert main(["check", str(tmp_path / "p")]) == 1
    out = capsys.readouterr().out
    assert "1 receptor(s) x 1 met(s) (hrrr) = 1 simulation(s)" in out
    assert ("problem: hrrr_202307151800_-111.85_40.77_5: met directory /path/to/arl/met "
            "does not exist") in out
    assert not (tmp_path / "p" / "out").exists()


@pytest.mark.parametrize("command", [["status"], ["check"], ["plot"], ["run"],
                                     ["index", "rebuild"]])
def test_a_mistyped_project_path_is_named_and_not_created(tmp_path, capsys,
                                                          command: list[str]) -> None:
    typo = tmp_path / "cse"
    assert main([*command, str(typo)]) == 1
    err = capsys.readouterr().err
    assert err == f"stilt: error: project folder {typo} does not exist\n"
    assert not typo.exists()


@pytest.mark.slow
def test_run_status_rebuild_and_exit_codes(tmp_path) -> None:
    project = small_project(tmp_path / "p")
    log = tmp_path / "calls.log"
    res = fake_cli(log, "run", str(project), "--n-workers", "2", fail_lat="39.2")
    assert res.returncode == 1, res.stderr
    assert "7 complete, 1 failed" in res.stdout and "MET_COVERAGE" in res.stdout
    res = fake_cli(log, "status", str(project))
    assert res.returncode == 0
    assert "1 failed" in res.stdout and "failed MET_COVERAGE: 1" in res.stdout
    res = fake_cli(log, "run", str(project), "--retry-failed")
    assert res.returncode == 0 and "8 complete" in res.stdout
    assert len(orch_fakes.calls(log)) == 8
    (project / "out" / "index.sqlite").unlink()
    for suffix in ("-wal", "-shm"):
        (project / "out" / f"index.sqlite{suffix}").unlink(missing_ok=True)
    res = fake_cli(log, "index", "rebuild", str(project))
    assert res.returncode == 0 and "index rebuilt with 8 simulation(s) from disk" in res.stdout
    res = fake_cli(log, "run", str(project))
    assert res.returncode == 0 and "0 transport runs" in res.stdout
    assert len(orch_fakes.calls(log)) == 8
    # the user's files are never rewritten
    assert "seed: 1" in (project / "config.yaml").read_text()


def test_register_then_pull(tmp_path) -> None:
    project = small_project(tmp_path / "p", n=3)
    log = tmp_path / "calls.log"
    res = fake_cli(log, "register", str(project), "--scene-id", "tower-1")
    assert res.returncode == 0 and "3 simulation(s) registered" in res.stdout
    assert orch_fakes.calls(log) == []
    res = fake_cli(log, "pull", str(project), "--n-workers", "2")
    assert res.returncode == 0 and "3 complete" in res.stdout, res.stdout + res.stderr
    res = fake_cli(log, "status", str(project), "--scene-id", "tower-1")
    assert res.stdout.startswith("0 pending, 0 running, 3 complete, 0 failed")


@pytest.mark.slow
def test_bad_inputs_give_one_clear_message_and_keep_outputs(tmp_path) -> None:
    project = small_project(tmp_path / "p", n=2)
    log = tmp_path / "calls.log"
    assert fake_cli(log, "run", str(project)).returncode == 0
    outputs = {p: p.read_bytes() for p in (project / "out").rglob("*.nc") if not p.is_symlink()}
    cases = [
        ("config.yaml", lambda t: t + "numpr: 5\n", "unknown key 'numpr'; did you mean 'numpar'?"),
        ("config.yaml", lambda t: t.replace("default:", "'a/../../b':"),
         "footprint name 'a/../../b' is not allowed"),
        ("config.yaml", lambda t: t.replace("xres: 0.5, yres: 0.5", "xres: 0.0001, yres: 0.0001"),
         "exceeds the budget"),
        ("receptors.csv", lambda t: t + "2023-07-15 18:00,nan,40,5\n",
         "line 4 longitude: 'nan' is not a finite number"),
    ]
    for name, edit, message in cases:
        path = project / name
        original = path.read_text()
        path.write_text(edit(original))
        res = fake_cli(log, "run", str(project))
        path.write_text(original)
        assert res.returncode == 1
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("stilt: error:") and message in lines[0]
    assert {p: p.read_bytes() for p in outputs} == outputs
    assert len(orch_fakes.calls(log)) == 2
    res = fake_cli(log, "run", str(project), "--n-workers", "zero")
    assert res.returncode == 2 and "--n-workers must be a whole number" in res.stderr


# -- end to end on the real transport and footprints, small synthetic met ------------------

MET_FILE = "20230715_12-19_synt.arl"


@pytest.fixture(scope="module")
def synth_met(tmp_path_factory) -> Path:
    from stilt.met.synthetic import generate_synthetic_met

    folder = tmp_path_factory.mktemp("met")
    generate_synthetic_met(folder, start="2023-07-15T12:00", hours=8, file_hours=8, nx=40, ny=34)
    assert (folder / MET_FILE).is_file()
    return folder


def real_project(path: Path, met: Path, n: int = 8, numpar: int = 50) -> Path:
    path.mkdir(parents=True)
    (path / "config.yaml").write_text(
        f"n_hours: -3\nnumpar: {numpar}\nseed: 3\n"
        f"mets:\n  synth: {{directory: {met}, file_format: {MET_FILE}}}\n"
        "footprints:\n  default:\n    grid: {xmin: -104, xmax: -99, ymin: 38, ymax: 42, "
        "xres: 0.1, yres: 0.1}\n"
        "execution: {n_workers: 1}\n")
    rows = ["time,longitude,latitude,altitude"]
    rows += [f"2023-07-15 {17 + k % 2}:00,{-101.9 + 0.1 * k:.2f},{39.7 + 0.08 * k:.2f},"
             f"{5 + 20 * (k % 3)}" for k in range(n)]
    (path / "receptors.csv").write_text("\n".join(rows) + "\n")
    return path


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "stilt", *args], capture_output=True,
                          text=True, timeout=600)


def outputs(project: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in (project / "out").rglob("*.nc")
            if not p.is_symlink()}


def check_all_open(project: Path, n: int = 8) -> None:
    import xarray as xr

    trajs = sorted((project / "out" / "simulations" / "by-id").glob("*/*_traj.nc"))
    feet = sorted((project / "out" / "simulations" / "by-id").glob("*/*_default_foot.nc"))
    assert len(trajs) == n and len(feet) == n
    for path in trajs + feet:
        with xr.open_dataset(path) as ds:
            assert ds.sizes["time"] > 0
    assert [p for p in project.rglob("*") if p.name.endswith(".tmp")] == []


def transport_runs(stdout: str) -> int:
    return int(stdout.split(" transport runs")[0].rsplit(" ", 1)[-1])


@pytest.mark.slow
def test_end_to_end_rerun_resume_and_config_change(tmp_path, synth_met) -> None:
    project = real_project(tmp_path / "p", synth_met)
    res = cli("run", str(project), "--n-workers", "2")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "8 complete" in res.stdout and transport_runs(res.stdout) == 8
    check_all_open(project)
    before = outputs(project)
    res = cli("run", str(project), "--n-workers", "2")
    assert res.returncode == 0 and transport_runs(res.stdout) == 0
    assert outputs(project) == before
    by_id = sorted((project / "out" / "simulations" / "by-id").iterdir())
    for folder in by_id[1:4]:
        for path in folder.glob("*.nc"):
            path.unlink()
    res = cli("run", str(project), "--n-workers", "2")
    assert res.returncode == 0 and transport_runs(res.stdout) == 3
    after = outputs(project)
    changed = {k for k in after if after[k] != before.get(k)}
    assert {k.split("_traj")[0] for k in changed if k.endswith("_traj.nc")} == {
        f.name for f in by_id[1:4]}
    config = project / "config.yaml"
    config.write_text(config.read_text().replace("numpar: 50", "numpar: 60"))
    res = cli("run", str(project), "--n-workers", "2")
    assert res.returncode == 0 and transport_runs(res.stdout) == 8
    check_all_open(project)


@pytest.mark.slow
def test_end_to_end_kill_worker_and_parent_then_rerun(tmp_path, synth_met) -> None:
    from stilt.index import SimulationIndex

    project = real_project(tmp_path / "p", synth_met, numpar=150)
    run = subprocess.Popen([sys.executable, "-m", "stilt", "run", str(project),
                            "--n-workers", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
    index_path = project / "out" / "index.sqlite"
    killed_worker = False
    deadline = time.time() + 120
    while time.time() < deadline:
        if index_path.exists():
            rows = SimulationIndex(index_path).rows()
            running = [r for r in rows if r["state"] == "running" and r["pid"] != run.pid]
            done = sum(r["state"] == "complete" for r in rows)
            if running and not killed_worker:
                os.kill(running[0]["pid"], signal.SIGKILL)
                killed_worker = True
            elif killed_worker and done >= 2:
                break
        time.sleep(0.05)
    run.send_signal(signal.SIGKILL)
    run.communicate(timeout=60)
    assert killed_worker
    time.sleep(0.5)
    res = cli("run", str(project), "--n-workers", "2")
    assert res.returncode == 0, res.stdout + res.stderr
    check_all_open(project)


@pytest.mark.slow
def test_end_to_end_two_concurrent_runs(tmp_path, synth_met) -> None:
    project = real_project(tmp_path / "p", synth_met)
    runs = [subprocess.Popen([sys.executable, "-m", "stilt", "run", str(project),
                              "--n-workers", "2"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [r.communicate(timeout=600) for r in runs]
    assert [r.returncode for r in runs] == [0, 0], outs
    assert sum(transport_runs(out) for out, _ in outs) == 8
    check_all_open(project)


@pytest.mark.slow
def test_end_to_end_bad_receptors_and_met(tmp_path, synth_met) -> None:
    project = real_project(tmp_path / "p", synth_met, n=2)
    assert cli("run", str(project)).returncode == 0
    before = outputs(project)
    with open(project / "receptors.csv", "a") as handle:
        handle.write("2023-07-15 18:00,-80.0,40.0,5\n")     # outside the met grid
        handle.write("2023-07-16 18:00,-101.5,40.0,5\n")    # outside the met time coverage
    res = cli("run", str(project))
    assert res.returncode == 1
    assert "2 complete, 2 failed" in res.stdout
    assert "synth_202307151800_-80_40_5: MET" in res.stdout
    assert "synth_202307161800_-101.5_40_5: MET" in res.stdout
    assert outputs(project) == before
    res = cli("check", str(project))
    assert res.returncode == 1
    assert "synth_202307151800_-80_40_5: receptor at latitude 40.0, longitude -80.0 is " \
           "outside the met grid" in res.stdout
    assert "synth_202307161800_-101.5_40_5: met files do not reach forward" in res.stdout \
        or "synth_202307161800_-101.5_40_5: no met file found" in res.stdout, res.stdout
    config = project / "config.yaml"
    config.write_text(config.read_text().replace(MET_FILE, "missing_%Y%m%d.arl"))
    res = cli("check", str(project))
    assert res.returncode == 1 and "no met file found" in res.stdout
    assert outputs(project) == before


def test_check_met_reads_every_record_and_names_a_garbled_one(tmp_path, synth_met,
                                                              capsys) -> None:
    """``stilt check --met`` reads the met files whole: a record whose data bytes were
    changed (its label intact, so the plain check and the label check pass) is named by
    file, record, time, level and variable, before any simulation runs."""
    import shutil

    from stilt.cli import main
    from stilt.met.arl import arl_inventory

    met = tmp_path / "met"
    met.mkdir()
    shutil.copy(synth_met / MET_FILE, met / MET_FILE)
    project = real_project(tmp_path / "p", met, n=2)
    assert main(["check", str(project), "--met"]) == 0
    out, err = capsys.readouterr()
    assert "met files read whole and checked: 1" in out and out.rstrip().endswith("ok")
    assert f"checking met file 1/1: {met / MET_FILE}" in err
    inv = arl_inventory(met / MET_FILE)
    level, name = inv.data_records[7]
    recno = 3 * inv.records_per_period + inv.nindex + 7  # 0-based: the 4th period
    with open(met / MET_FILE, "r+b") as handle:
        handle.seek(recno * inv.record_length + 50 + 200)  # past the 50-byte label
        data = handle.read(3)
        handle.seek(recno * inv.record_length + 50 + 200)
        handle.write(bytes((b + 11) % 256 for b in data))
    assert main(["check", str(project)]) == 0  # the labels and the index are intact
    capsys.readouterr()
    assert main(["check", str(project), "--met"]) == 1
    out = capsys.readouterr().out
    when = str(inv.times[3].astype("datetime64[m]"))
    assert (f"problem: met synth: {met / MET_FILE}: checksum mismatch in record {recno + 1} "
            f"(time {when}, level {level}, variable {name})") in out, out
    assert not (project / "out").exists() or not any((project / "out").rglob("*.nc"))


@pytest.mark.slow
def test_the_reference_page_snippet_runs_on_archive_named_met(tmp_path, monkeypatch,
                                                               capsys) -> None:
    """The PYSTILT reference page's example (issue 14), on 6-hour files named like NOAA's HRRR
    archive (``20230714_18-23_synt.arl``) that 'stilt met synth' writes, found with
    ``file_format="%Y%m%d_%H"`` and hourly steps; then the command line continues it."""
    import xarray as xr

    import stilt

    monkeypatch.chdir(tmp_path)
    assert main(["met", "synth", "hrrr", "--start", "2023-07-14T18:00", "--hours", "25",
                 "--nx", "60", "--ny", "50"]) == 0
    assert "hrrr/20230714_18-23_synt.arl" in capsys.readouterr().out
    met_dir = str(tmp_path / "hrrr")
    model = stilt.Model(project="./case",
        receptors=[stilt.PointReceptor(time="2023-07-15 18:00:00", longitude=-101.5, latitude=40.0, altitude=5.0)],  # noqa: E501
        config=stilt.ModelConfig(mets={"hrrr": stilt.MetConfig(directory=met_dir, file_format="%Y%m%d_%H", file_tres="1h")}))  # noqa: E501
    report = model.run()
    assert report.ok, report.summary()
    ids = model.simulations.ids(); incomplete = model.simulations.incomplete()  # noqa: E702
    trajectory_paths = model.trajectories.paths()
    footprints = model.footprints["default"].load()
    assert ids == ["hrrr_202307151800_-101.5_40_5"] and incomplete == []
    assert footprints == {}  # none configured: an empty collection, as in PYSTILT
    assert len(trajectory_paths) == 1
    with xr.open_dataset(trajectory_paths[0]) as particles:
        files = str(particles.attrs["met_files"])
    assert "20230714_18-23_synt.arl" in files and "20230715_18-18_synt.arl" in files
    sim_ids = model.register_pending(scene_id="tower-20230715")
    assert sim_ids == ids
    model.push_simulations(); model.pull_simulations()  # noqa: E702
    model.close()
    capsys.readouterr()
    assert main(["run", "./case", "--backend", "local", "--n-workers", "4"]) == 0
    assert "1 complete, 0 failed" in capsys.readouterr().out
    assert main(["status", "./case"]) == 0
    assert "0 pending, 0 running, 1 complete, 0 failed" in capsys.readouterr().out


@pytest.mark.slow
def test_error_parameters_write_rstilt_s_second_error_trajectory(tmp_path, synth_met) -> None:
    """As R-STILT's simulation_step: with wind-error parameters set (no winderrtf), the
    transport runs without errors (_traj.nc, R-STILT's particle) and again with them
    (_traj_error.nc, particle_error); the footprint comes from the run without errors."""
    import json

    import numpy as np
    import xarray as xr

    import stilt
    from stilt.trajectory_file import read_trajectories

    plain = real_project(tmp_path / "plain", synth_met, n=1)
    errs = real_project(tmp_path / "errs", synth_met, n=1)
    config = errs / "config.yaml"
    config.write_text(config.read_text() + "siguverr: 3.0\ntluverr: 60\nzcoruverr: 500\n"
                      "horcoruverr: 100\n")
    for project in (plain, errs):
        res = cli("run", str(project))
        assert res.returncode == 0, res.stdout + res.stderr
    model = stilt.Model(errs)
    (sim_id,) = model.simulations.ids(state="complete")
    paths = [p.name for p in model.trajectories.paths()]
    assert paths == [f"{sim_id}_traj.nc"]
    assert [p.name for p in model.trajectories.paths(error=True)] == [f"{sim_id}_traj_error.nc"]
    assert model.trajectories.errors.missing() == []
    main = model.trajectories.load(sim_id)
    error = model.trajectories.load(sim_id, error=True)
    assert int(main.attrs["param_winderrtf"]) == 0 and int(error.attrs["param_winderrtf"]) == 1
    ref = read_trajectories(next((plain / "out").rglob("*_traj.nc")))  # table on (time, indx)
    assert np.array_equal(ref["lati"].values, main["lati"].values, equal_nan=True)
    assert not np.array_equal(main["lati"].values, error["lati"].values, equal_nan=True)
    with xr.open_dataset(next((plain / "out").rglob("*_default_foot.nc"))) as ref:
        assert np.array_equal(ref["foot"].values,
                              model.footprints["default"].load(sim_id)["foot"].values)
    assert (errs / "out" / "simulations" / "particles" / f"{sim_id}_traj_error.nc").exists()
    status = json.loads((errs / "out" / "simulations" / "by-id" / sim_id / "status.json")
                        .read_text())
    assert f"{sim_id}_traj_error.nc" in status["outputs"]
    model.close()
    # complete means both files: the error run lost is redone, the run without errors kept
    (errs / "out" / "simulations" / "by-id" / sim_id / f"{sim_id}_traj_error.nc").unlink()
    res = cli("run", str(errs))
    assert res.returncode == 0 and transport_runs(res.stdout) == 1
    # removing the error parameters removes the error run
    config.write_text(config.read_text().split("siguverr")[0])
    assert cli("run", str(errs)).returncode == 0
    assert not list((errs / "out").rglob("*_traj_error.nc"))


def test_the_command_line_loads_numpy_without_blas_threads() -> None:
    """stilt makes no BLAS calls: the command line keeps numpy's OpenBLAS from starting (and
    spinning) a thread per core, in its process and the processes it starts, unless the user
    set OPENBLAS_NUM_THREADS."""
    code = ("import os, stilt.cli; stilt.cli.main(['--version']); import numpy; "
            "print(os.environ['OPENBLAS_NUM_THREADS'], len(os.listdir('/proc/self/task')))")
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, timeout=120, check=True).stdout.split()
    assert out[-2:] == ["1", "1"]  # one thread in the process: numpy's OpenBLAS started none
    env["OPENBLAS_NUM_THREADS"] = "2"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, timeout=120, check=True).stdout.split()
    assert out[-2] == "2"  # the user's choice is kept
