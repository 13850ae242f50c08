"""Model and local executor: reruns do only missing work, crash and concurrency safety.

Transport and footprints are the instrumented stand-ins of tests/orch_fakes.py (they log each
call, from any process), so these tests count exactly which simulations did transport work.
The same properties on the real transport are in test_cli_run.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import orch_fakes
import stilt
from stilt.errors import ConfigError
from stilt.simulation import SimulationPaths

GRID = {"xmin": -104.0, "xmax": -99.0, "ymin": 38.0, "ymax": 42.0, "xres": 0.5, "yres": 0.5}
FAKES = str(Path(orch_fakes.__file__))


def receptors(n: int = 8) -> list[stilt.PointReceptor]:
    return [stilt.PointReceptor("2023-07-15 18:00", -102.5, 39.0 + 0.1 * k, 5.0)
            for k in range(n)]


def config(**kw: object) -> stilt.ModelConfig:
    base: dict = {"mets": {"synth": {"directory": "met", "file_format": "x.arl"}},
                  "n_hours": -2, "numpar": 10, "footprints": {"default": {"grid": GRID}}}
    base.update(kw)
    return stilt.ModelConfig(**base)


def leftovers(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.endswith(".tmp")]


def write_project(path: Path, n: int = 8, **kw: object) -> None:
    from stilt.config import save_config

    path.mkdir(parents=True, exist_ok=True)
    save_config(config(**kw), path / "config.yaml")
    lines = ["time,longitude,latitude,altitude"]
    lines += [f"2023-07-15 18:00,-102.5,{39.0 + 0.1 * k:.1f},5" for k in range(n)]
    (path / "receptors.csv").write_text("\n".join(lines) + "\n")


def test_run_rerun_delete_k_and_config_changes(tmp_path, monkeypatch) -> None:
    log = tmp_path / "calls.log"
    orch_fakes.install(monkeypatch, log)
    model = stilt.Model(tmp_path / "p", receptors=receptors(), config=config())
    report = model.run(n_workers=2)
    assert report.ok and report.transport_runs == 8 and len(orch_fakes.calls(log)) == 8
    assert len(model.trajectories.paths()) == 8 and len(model.footprints["default"].paths()) == 8
    assert model.simulations.incomplete() == [] and len(model.simulations) == 8
    assert set(model.footprints["default"].load()) == set(model.simulations.ids())
    mtimes = {p: p.stat().st_mtime_ns for p in model.trajectories.paths()}
    # rerun: no transport work, files untouched
    report = model.run(n_workers=2)
    assert report.ok and report.transport_runs == 0 and len(orch_fakes.calls(log)) == 8
    assert {p: p.stat().st_mtime_ns for p in model.trajectories.paths()} == mtimes
    # delete the outputs of 3 simulations: exactly those 3 rerun
    gone = model.simulations.ids()[2:5]
    for sim_id in gone:
        SimulationPaths.of(model.output, sim_id).trajectory.unlink()
    report = model.run(n_workers=2)
    assert report.ok and sorted(report.completed) == sorted(gone) and report.transport_runs == 3
    # footprint-only change: footprints again, no transport
    smoother = stilt.Model(tmp_path / "p", receptors=receptors(), config=config(
        footprints={"default": {"grid": GRID, "smooth_factor": 1.5}}), overwrite_config=True)
    report = smoother.run()
    assert report.ok and report.transport_runs == 0 and report.footprint_runs == 8
    # numpar changes: everything reruns
    report = stilt.Model(tmp_path / "p", receptors(), config(numpar=20),
                         overwrite_config=True).run(n_workers=2)
    assert report.ok and report.transport_runs == 8 and len(orch_fakes.calls(log)) == 19
    assert leftovers(tmp_path) == []
    # the project's files hold what the last run used: the model without arguments continues
    again = stilt.Model(tmp_path / "p")
    assert again.config == config(numpar=20) and again.receptors == receptors()
    assert again.run().transport_runs == 0


def test_one_failure_never_stops_the_others(tmp_path, monkeypatch) -> None:
    log = tmp_path / "calls.log"
    orch_fakes.install(monkeypatch, log, fail_lat=39.3)
    model = stilt.Model(tmp_path / "p", receptors=receptors(), config=config())
    report = model.run(n_workers=2)
    assert not report.ok and len(report.completed) == 7 and len(report.failed) == 1
    assert "MET_COVERAGE" in report.summary() and "outside the met grid" in report.summary()
    assert model.status().failures == {"MET_COVERAGE": tuple(report.failed)}
    # a rerun does not retry the failure unless asked
    assert model.run().transport_runs == 0
    orch_fakes.install(monkeypatch, log)
    report = model.run(retry_failed=True)
    assert report.ok and report.completed == report.failed + report.completed[:1] or report.ok
    assert model.simulations.incomplete() == []


def test_register_then_pull(tmp_path, monkeypatch) -> None:
    log = tmp_path / "calls.log"
    orch_fakes.install(monkeypatch, log)
    model = stilt.Model(tmp_path / "p", receptors=receptors(4), config=config())
    ids = model.register_pending(scene_id="tower-20230715")
    assert len(ids) == 4 and model.simulations.ids(state="pending") == sorted(ids)
    assert model.simulations.ids(scene_id="tower-20230715") == sorted(ids)
    with pytest.raises(ConfigError, match="scene id"):
        model.register_pending(scene_id="../x")
    report = model.pull_simulations(n_workers=2)
    assert len(report.completed) == 4 and report.counts["complete"] == 4
    assert len(orch_fakes.calls(log)) == 4


def test_killed_worker_is_retried_and_nothing_partial_remains(tmp_path, monkeypatch) -> None:
    log = tmp_path / "calls.log"
    orch_fakes.install(monkeypatch, log, sleep=0.6)
    model = stilt.Model(tmp_path / "p", receptors=receptors(), config=config())
    model.register_pending()
    killed: list[int] = []

    def killer() -> None:
        from stilt.index import SimulationIndex

        idx = SimulationIndex(model.index_path)
        deadline = time.time() + 20
        while time.time() < deadline and not killed:
            for row in idx.rows("running"):
                if row["pid"] and row["pid"] != os.getpid():
                    os.kill(row["pid"], signal.SIGKILL)
                    killed.append(row["pid"])
                    break
            time.sleep(0.02)

    thread = threading.Thread(target=killer)
    thread.start()
    report = model.run(n_workers=2)
    thread.join()
    assert killed and report.ok and model.simulations.incomplete() == []
    assert len(model.trajectories.paths()) == 8 and leftovers(tmp_path) == []
    assert len(orch_fakes.calls(log)) >= 8


def test_pool_timeout(tmp_path, monkeypatch) -> None:
    orch_fakes.install(monkeypatch, tmp_path / "calls.log", sleep=3.0)
    model = stilt.Model(tmp_path / "p", receptors=receptors(2), config=config())
    report = model.run(n_workers=2, timeout=0.3)
    assert not report.ok and len(report.failed) == 2
    assert all(r.startswith("TIMEOUT") for r in report.reasons.values())
    assert report.elapsed < 3.0 and leftovers(tmp_path) == []


UNGUARDED = """
import sys

import stilt

stilt.Model(sys.argv[1]).run(n_workers=2)  # no 'if __name__ == "__main__":'
"""


def test_a_script_without_a_main_guard_is_told_and_loses_nothing(tmp_path) -> None:
    """Pool workers start from a forkserver and import the script again: a script that runs
    a pool at import time would start one in every worker. The run stops with one error
    saying what to do, and the simulations stay pending (no attempt counted)."""
    project = tmp_path / "p"
    write_project(project, n=2)
    script = tmp_path / "unguarded.py"
    script.write_text(UNGUARDED)
    res = subprocess.run([sys.executable, str(script), str(project)], capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 1
    last = res.stderr.strip().splitlines()[-1]
    assert last.startswith("stilt.errors.WorkerStartError: a worker process ended before it "
                           "was ready") and 'if __name__ == "__main__":' in last, res.stderr
    rows = stilt.Model(project).index.rows()
    assert [(r["state"], r["attempts"]) for r in rows] == [("pending", 0)] * 2


def test_workers_inherit_no_lock_the_caller_holds(tmp_path, monkeypatch) -> None:
    """A forked worker inherits every lock held in the parent at that moment, held for ever:
    a SQLite, HDF5 or OpenMP mutex held by another thread of the caller (a test's watcher
    thread querying the index, a notebook's background work) hangs the worker at its first
    use. Pool workers start from a forkserver, so a lock the caller holds does not reach
    them (with fork this run times out)."""
    orch_fakes.install(monkeypatch, tmp_path / "calls.log")
    model = stilt.Model(tmp_path / "p", receptors=receptors(2), config=config())
    with orch_fakes.LOCK:  # the fake transport takes it
        report = model.run(n_workers=2, timeout=20)
    assert report.ok and report.transport_runs == 2, report.summary()


def test_workers_see_the_callers_environment_of_the_run(tmp_path, monkeypatch) -> None:
    """The forkserver keeps the environment it started with; each worker takes the caller's
    environment at the run instead (as a forked worker had it)."""
    from stilt.executors.local import LocalExecutor

    log = tmp_path / "calls.log"
    orch_fakes.install(monkeypatch, log)
    model = stilt.Model(tmp_path / "p", receptors=receptors(1), config=config())
    assert model.run(n_workers=2).ok  # the forkserver runs from here on
    ids = stilt.Model(tmp_path / "q", receptors=receptors(1), config=config()).register_pending()
    monkeypatch.setenv("STILT_PROBE", "set-after-the-server-started")
    pool = LocalExecutor(initializer=orch_fakes.setup_and_note_env,
                         initargs=(str(log), "STILT_PROBE"))
    assert pool.execute(stilt.Model(tmp_path / "q"), ids, n_workers=2).ok
    assert orch_fakes.calls(log, "env") == ["STILT_PROBE=set-after-the-server-started"] * 2


def _cli(log: Path, sleep: float, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, FAKES, str(log), str(sleep), "-", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_two_concurrent_runs_never_duplicate_work(tmp_path) -> None:
    project = tmp_path / "p"
    write_project(project)
    log = tmp_path / "calls.log"
    runs = [_cli(log, 0.3, "run", str(project), "--n-workers", "2") for _ in range(2)]
    outs = [r.communicate(timeout=120) for r in runs]
    assert [r.returncode for r in runs] == [0, 0], outs
    calls = orch_fakes.calls(log)
    assert len(calls) == 8 and len(set(calls)) == 8
    assert leftovers(tmp_path) == []


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_parent_killed_or_stopped_then_rerun_completes(tmp_path, sig: int) -> None:
    project = tmp_path / "p"
    write_project(project)
    log = tmp_path / "calls.log"
    run = _cli(log, 0.5, "run", str(project), "--n-workers", "2")
    deadline = time.time() + 30
    while len(orch_fakes.calls(log)) < 3 and time.time() < deadline:
        time.sleep(0.05)
    run.send_signal(sig)
    out, err = run.communicate(timeout=60)
    assert run.returncode != 0
    if sig == signal.SIGTERM:
        assert run.returncode == 130 and "interrupted" in out
    time.sleep(0.3)  # workers die with their parent
    done_before = {p.name: p.stat().st_mtime_ns
                   for p in (project / "out").rglob("*_traj.nc") if not p.is_symlink()}
    rerun = _cli(log, 0.0, "run", str(project), "--n-workers", "2")
    out, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, out + err
    assert "8 complete" in out
    assert leftovers(tmp_path) == []
    after = {p.name: p.stat().st_mtime_ns for p in (project / "out").rglob("*_traj.nc")
             if not p.is_symlink()}
    assert len(after) == 8 and all(after[k] == v for k, v in done_before.items())


def test_corrupt_index_is_rebuilt_from_the_outputs(tmp_path, monkeypatch) -> None:
    orch_fakes.install(monkeypatch, tmp_path / "calls.log")
    model = stilt.Model(tmp_path / "p", receptors=receptors(3), config=config())
    model.run()
    ids = model.simulations.ids()
    model.close()
    for suffix in ("", "-wal", "-shm"):
        Path(str(model.index_path) + suffix).unlink(missing_ok=True)
    model.index_path.write_bytes(b"garbage" * 500)
    again = stilt.Model(tmp_path / "p", receptors=receptors(3))
    assert again.simulations.ids(state="complete") == ids
    assert again.run().transport_runs == 0


@pytest.mark.slow
def test_sigterm_inline_run_releases_its_claim(tmp_path) -> None:
    project = tmp_path / "p"
    write_project(project, n=4)
    log = tmp_path / "calls.log"
    run = _cli(log, 1.0, "run", str(project), "--n-workers", "1")
    deadline = time.time() + 30
    while len(orch_fakes.calls(log)) < 2 and time.time() < deadline:
        time.sleep(0.05)
    run.send_signal(signal.SIGTERM)
    out, err = run.communicate(timeout=60)
    assert run.returncode == 130 and "interrupted" in out, out + err
    from stilt.index import SimulationIndex

    counts = SimulationIndex(project / "out" / "index.sqlite").counts()
    assert counts["running"] == 0 and counts["complete"] == 1 and counts["pending"] == 3
    assert leftovers(tmp_path) == []


@pytest.mark.slow
def test_serve_follows_new_registrations_until_stopped(tmp_path) -> None:
    project = tmp_path / "p"
    write_project(project, n=3)
    log = tmp_path / "calls.log"
    serve = subprocess.Popen([sys.executable, FAKES, str(log), "0", "-", "serve", str(project),
                              "--poll", "0.2"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1.0)
        assert orch_fakes.calls(log) == []
        reg = subprocess.run([sys.executable, FAKES, str(log), "0", "-", "register",
                              str(project)], capture_output=True, text=True, timeout=60)
        assert reg.returncode == 0, reg.stderr
        # wait for the index to record all three as complete (a transport call alone is not
        # completion: a SIGTERM before the footprint is published rightly interrupts it)
        from stilt.index import SimulationIndex

        deadline = time.time() + 30
        complete = 0
        while complete < 3 and time.time() < deadline:
            time.sleep(0.1)
            with SimulationIndex(stilt.Model(project).index_path) as idx:
                complete = idx.counts()["complete"]
        assert complete == 3 and len(orch_fakes.calls(log)) == 3
    finally:
        serve.send_signal(signal.SIGTERM)
        out, err = serve.communicate(timeout=60)
    assert serve.returncode == 0, out + err
    assert "3 complete" in out


def test_leases_are_renewed_while_a_simulation_runs(tmp_path, monkeypatch) -> None:
    from stilt.index import SimulationIndex

    orch_fakes.install(monkeypatch, tmp_path / "calls.log", sleep=2.0)
    model = stilt.Model(tmp_path / "p", receptors=receptors(1),
                        config=config(execution={"lease_seconds": 1.0}))
    model.register_pending()
    stolen: list[list] = []

    def thief() -> None:
        idx = SimulationIndex(model.index_path)
        deadline = time.time() + 10
        while not idx.rows("running") and time.time() < deadline:
            time.sleep(0.02)
        time.sleep(1.5)  # past the first lease: only a renewal keeps the claim
        stolen.append(idx.claim("thief", 60))

    thread = threading.Thread(target=thief)
    thread.start()
    report = model.run()
    thread.join()
    assert stolen == [[]] and report.ok and len(orch_fakes.calls(tmp_path / "calls.log")) == 1


def test_a_config_in_code_must_equal_config_yaml_unless_overwritten(tmp_path) -> None:
    project = tmp_path / "p"
    stilt.Model(project, receptors(2), config())
    text = (project / "config.yaml").read_text()
    with pytest.raises(ConfigError) as err:
        stilt.Model(project, receptors(2), config(numpar=20, footprints={
            "default": {"grid": {**GRID, "xres": 0.25}}}))
    message = str(err.value)
    assert "numpar (10 -> 20)" in message and "footprints.default.grid.xres (0.5 -> 0.25)" in message
    assert "overwrite_config=True" in message and "\n" not in message
    assert (project / "config.yaml").read_text() == text  # untouched
    stilt.Model(project, receptors(2), config())  # the same config: fine, nothing written
    model = stilt.Model(project, receptors(2), config(numpar=20), overwrite_config=True)
    assert stilt.Model(project).config == config(numpar=20) == model.config
    assert not [p for p in project.iterdir() if p.name.endswith(".tmp")]
    # a broken config.yaml is reported, and replaced only when asked
    (project / "config.yaml").write_text("numpar: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        stilt.Model(project, config=config())
    stilt.Model(project, config=config(), overwrite_config=True)
    assert stilt.Model(project).config == config()


def test_receptors_given_in_code_are_stored_for_the_command_line(tmp_path, monkeypatch) -> None:
    from stilt.cli import main

    log = tmp_path / "calls.log"
    orch_fakes.install(monkeypatch, log)
    project = tmp_path / "p"
    column = stilt.ColumnReceptor("2023-07-15 18:00", -102.0, 39.5, 5.0, 100.0)
    slant = stilt.MultiPointReceptor("2023-07-15 18:00", (-102.1, -102.2), (39.4, 39.45),
                                     (5.0, 50.0), altitude_ref="msl")
    model = stilt.Model(project, receptors=[*receptors(2), column, slant], config=config())
    assert not (project / "receptors.csv").exists()  # written when they are registered
    ids = model.register_pending(scene_id="tower-20230715")
    assert stilt.read_receptors(project / "receptors.csv") == [*receptors(2), column, slant]
    # the command line sees the same project: same receptors, same simulation ids
    assert stilt.Model(project).plan() == model.plan() and len(ids) == 4
    assert main(["run", str(project)]) == 0
    assert len(orch_fakes.calls(log)) == 4
    # a later registration adds only the new receptors, in order; the known ones stay
    more = receptors(4)
    model.register_pending(more)
    assert stilt.read_receptors(project / "receptors.csv") == [
        *receptors(2), column, slant, *more[2:]]
    # and the reverse: receptors added to the file are run by the Python model
    with open(project / "receptors.csv", "a") as handle:
        handle.write("2023-07-15 18:00:00,-102.9,39.9,5.0,agl,99\n")
    report = stilt.Model(project).run()
    assert report.ok and len(report.requested) == 7


def test_kmsl_contradicting_the_receptors_is_refused_before_registering(tmp_path) -> None:
    model = stilt.Model(tmp_path / "p", config=config(kmsl=1), receptors=receptors(2))
    try:
        with pytest.raises(ConfigError, match=r"kmsl = 1 .* a receptor's altitude_ref is 'agl'"):
            model.register_pending()
    finally:
        model.close()
    written = sorted(str(f.relative_to(tmp_path / "p")) for f in (tmp_path / "p").rglob("*"))
    assert "receptors.csv" not in written and not [f for f in written if "index" in f], written


def test_a_mistyped_project_is_an_error_and_is_not_created(tmp_path) -> None:
    with pytest.raises(ConfigError, match=r"project folder .*cse does not exist"):
        stilt.Model(tmp_path / "cse")
    assert not (tmp_path / "cse").exists()
