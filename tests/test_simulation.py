"""One simulation: atomic outputs, status record, log, links, failure classes, partial reruns.

The science functions are replaced by small instrumented stand-ins (tests/orch_fakes.py) so
these tests check the orchestration alone; test_model.py and test_cli_run.py run the real
transport.
"""

from __future__ import annotations

import json
import os
import threading

import pytest

import orch_fakes
import stilt.footprint
from stilt.config import ModelConfig
from stilt._verify import OutputError
from stilt.errors import ConfigError, CoreError, MetCoverageError, MetError, MetMissingError
from stilt.met.arl_index import open_arl
from stilt.receptors import PointReceptor
from stilt.simulation import (SimulationPaths, classify_failure, collect_records, needed_work,
                              read_status, run_simulation)

GRID = {"xmin": -104.0, "xmax": -99.0, "ymin": 38.0, "ymax": 42.0, "xres": 0.5, "yres": 0.5}
REC = PointReceptor("2023-07-15 18:00", -102.5, 39.6, 5.0)
SIM = "synth_202307151800_-102.5_39.6_5"


def config(**kw: object) -> ModelConfig:
    base: dict = {"mets": {"synth": {"directory": "met", "file_format": "x.arl"}},
                  "n_hours": -2, "numpar": 10,
                  "footprints": {"default": {"grid": GRID}, "coarse": {"grid": GRID}}}
    base.update(kw)
    return ModelConfig(**base)


def temp_files(root) -> list:
    return [p for p in root.rglob("*") if p.name.endswith(".tmp")]


def test_outputs_status_log_and_links(tmp_path, monkeypatch) -> None:
    log = tmp_path / "calls.log"
    orch_fakes.install(monkeypatch, log)
    root = tmp_path / "out"
    res = run_simulation(root, tmp_path, SIM, "synth", REC, config())
    assert res["state"] == "complete" and res["ran_transport"]
    assert res["footprints_run"] == ["default", "coarse"]
    paths = SimulationPaths.of(root, SIM)
    status = json.loads(paths.status.read_text())
    assert status["state"] == "complete" and status["transport_hash"] == config().transport_hash(
        "synth")
    assert set(status["footprints"]) == {"default", "coarse"}
    assert sorted(status["outputs"]) == sorted([f"{SIM}_traj.nc", f"{SIM}_default_foot.nc",
                                                f"{SIM}_coarse_foot.nc"])
    link = root / "simulations" / "particles" / f"{SIM}_traj.nc"
    assert link.is_symlink() and not os.path.isabs(os.readlink(link))
    assert link.resolve() == paths.trajectory
    assert (root / "simulations" / "footprints" / f"{SIM}_coarse_foot.nc").resolve().is_file()
    assert "complete in" in paths.log.read_text()
    assert temp_files(root) == [] and needed_work(paths, config(), "synth") == (False, [])
    # nothing to do the second time
    res = run_simulation(root, tmp_path, SIM, "synth", REC, config())
    assert not res["ran_transport"] and res["footprints_run"] == []
    assert len(orch_fakes.calls(log)) == 1


def test_footprint_only_change_keeps_trajectories(tmp_path, monkeypatch) -> None:
    log = tmp_path / "calls.log"
    orch_fakes.install(monkeypatch, log)
    root = tmp_path / "out"
    run_simulation(root, tmp_path, SIM, "synth", REC, config())
    traj = SimulationPaths.of(root, SIM).trajectory
    mtime = traj.stat().st_mtime_ns
    changed = config(footprints={"default": {"grid": GRID, "smooth_factor": 2.0},
                                 "coarse": {"grid": GRID}})
    assert needed_work(SimulationPaths.of(root, SIM), changed, "synth") == (False, ["default"])
    res = run_simulation(root, tmp_path, SIM, "synth", REC, changed)
    assert not res["ran_transport"] and res["footprints_run"] == ["default"]
    assert traj.stat().st_mtime_ns == mtime
    assert needed_work(SimulationPaths.of(root, SIM), config(numpar=20), "synth") == (
        True, ["default", "coarse"])


def test_a_failed_footprint_keeps_the_trajectories_written_beside_it(tmp_path,
                                                                     monkeypatch) -> None:
    """The trajectory file is written in a thread while the footprint is computed: when the
    footprint fails, the file is still published and recorded, so the retry only computes
    the footprint."""
    log = tmp_path / "calls.log"
    orch_fakes.install(monkeypatch, log)
    monkeypatch.setattr(stilt.footprint, "calc_footprint", lambda *a, **k: 1 / 0)
    root = tmp_path / "out"
    res = run_simulation(root, tmp_path, SIM, "synth", REC, config())
    assert res["state"] == "failed" and "ZeroDivisionError" in res["message"]
    paths = SimulationPaths.of(root, SIM)
    assert paths.trajectory.is_file() and not paths.footprint("default").exists()
    assert read_status(paths)["trajectories"] == "full"
    assert needed_work(paths, config(), "synth") == (False, list(config().footprints))
    orch_fakes.install(monkeypatch, log)
    res = run_simulation(root, tmp_path, SIM, "synth", REC, config(), attempt=2)
    assert res["state"] == "complete" and not res["ran_transport"]
    assert len(orch_fakes.calls(log)) == 1


def test_failure_is_recorded_and_earlier_outputs_stay(tmp_path, monkeypatch) -> None:
    log = tmp_path / "calls.log"
    orch_fakes.install(monkeypatch, log)
    root = tmp_path / "out"
    run_simulation(root, tmp_path, SIM, "synth", REC, config())
    paths = SimulationPaths.of(root, SIM)
    before = paths.trajectory.read_bytes()
    orch_fakes.install(monkeypatch, log, fail_lat=39.6)
    res = run_simulation(root, tmp_path, SIM, "synth", REC, config(numpar=20))
    assert res["state"] == "failed" and res["reason"] == "MET_COVERAGE"
    assert "outside the met grid" in res["message"]
    assert paths.trajectory.read_bytes() == before
    status = json.loads(paths.status.read_text())
    assert status["state"] == "failed" and status["reason"] == "MET_COVERAGE"
    assert "failed (MET_COVERAGE)" in paths.log.read_text()
    assert temp_files(root) == []


def test_interrupt_mid_write_leaves_no_temporary_file(tmp_path, monkeypatch) -> None:
    orch_fakes.install(monkeypatch, tmp_path / "calls.log")
    import stilt.footprint

    def interrupted_write(ds, path) -> None:  # killed between temporary write and rename
        path.with_name(f".{path.name}.{os.getpid()}.tmp").write_bytes(b"half a file")
        raise KeyboardInterrupt

    monkeypatch.setattr(stilt.footprint, "write_footprint", interrupted_write)
    root = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        run_simulation(root, tmp_path, SIM, "synth", REC, config())
    paths = SimulationPaths.of(root, SIM)
    assert temp_files(root) == [] and paths.trajectory.is_file()
    assert not paths.footprint("default").exists()
    assert needed_work(paths, config(), "synth") == (False, ["default", "coarse"])


def test_timeout_stops_the_simulation(tmp_path, monkeypatch) -> None:
    orch_fakes.install(monkeypatch, tmp_path / "calls.log", sleep=3.0)
    assert threading.current_thread() is threading.main_thread()
    res = run_simulation(tmp_path / "out", tmp_path, SIM, "synth", REC, config(), timeout=0.3)
    assert res["state"] == "failed" and res["reason"] == "TIMEOUT"
    assert res["duration"] < 2.0


def test_failure_classes_and_unsafe_ids(tmp_path) -> None:
    assert classify_failure(MetMissingError("no met file found for ...")) == "MET_MISSING"
    assert classify_failure(MetError("f.arl: variable UWND is missing (needed for transport)")
                            ) == "MET"
    assert classify_failure(MetCoverageError("met covers 10 .. 12 only")) == "MET_COVERAGE"
    # the exception type decides, never the words of the message
    assert classify_failure(MetError("met covers 10 .. 12, a gap, no such file")) == "MET"
    assert classify_failure(ConfigError("x")) == "CONFIG"
    assert classify_failure(CoreError("x")) == "CORE"
    assert classify_failure(OutputError("x")) == classify_failure(OSError("x")) == "IO"
    assert classify_failure(MemoryError()) == "OUT_OF_MEMORY"
    assert classify_failure(ZeroDivisionError()) == "ERROR"
    with pytest.raises(MetMissingError) as gone:  # a met file removed before it was read
        open_arl(tmp_path / "gone.arl")
    assert classify_failure(gone.value) == "MET_MISSING"
    (tmp_path / "folder.arl").mkdir()
    with pytest.raises(MetError) as unreadable:
        open_arl(tmp_path / "folder.arl")
    assert classify_failure(unreadable.value) == "MET"
    with pytest.raises(ConfigError, match="not allowed"):
        SimulationPaths.of(tmp_path, "../evil")
    with pytest.raises(ConfigError, match="not allowed"):
        SimulationPaths.of(tmp_path, "ok").footprint("a/../../b")


def test_records_for_rebuild_follow_the_files(tmp_path, monkeypatch) -> None:
    orch_fakes.install(monkeypatch, tmp_path / "calls.log")
    root = tmp_path / "out"
    run_simulation(root, tmp_path, SIM, "synth", REC, config())
    other = "synth_202307151800_-102.5_39.7_5"
    run_simulation(root, tmp_path, other, "synth", PointReceptor("2023-07-15 18:00", -102.5,
                                                                  39.7, 5.0), config())
    SimulationPaths.of(root, other).trajectory.unlink()
    recs = {r["sim_id"]: r["state"] for r in collect_records(root)}
    assert recs == {SIM: "complete", other: "pending"}


def test_threads_per_worker_reach_the_transport_and_not_the_hash(tmp_path, monkeypatch) -> None:
    import stilt.transport

    orch_fakes.install(monkeypatch, tmp_path / "calls.log")
    seen: dict = {}

    def spy(*args: object, **kwargs: object):
        seen.update(kwargs)
        return orch_fakes.fake_run_trajectories(*args, **kwargs)

    monkeypatch.setattr(stilt.transport, "run_trajectories", spy)
    two = config(execution={"threads_per_worker": 2})
    assert run_simulation(tmp_path / "out", tmp_path, SIM, "synth", REC, two)["state"] == (
        "complete")
    assert seen["threads"] == 2
    # threads do not change the particles, so they do not change what is kept
    assert two.transport_hash("synth") == config().transport_hash("synth")
    with pytest.raises(ConfigError, match="threads_per_worker"):
        config(execution={"threads_per_worker": 0})


def test_met_cache_budget_reaches_the_worker_and_not_the_hash(tmp_path, monkeypatch) -> None:
    from stilt.met.cache import met_cache

    orch_fakes.install(monkeypatch, tmp_path / "calls.log")
    budget = met_cache().max_bytes
    try:
        small = config(execution={"met_cache_mb": 3})
        assert run_simulation(tmp_path / "out", tmp_path, SIM, "synth", REC, small)["state"] == (
            "complete")
        assert met_cache().max_bytes == 3 * 2**20
        assert small.transport_hash("synth") == config().transport_hash("synth")
    finally:
        met_cache().resize(budget)
    for bad in (-1, "lots", True):
        with pytest.raises(ConfigError, match="met_cache_mb"):
            config(execution={"met_cache_mb": bad})
