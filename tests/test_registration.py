"""Lazy simulation folders (issue 16): registration writes index rows only, a folder and its
status.json appear when the simulation runs, and the index stays rebuildable from the stored
receptors, the config and the status records of the simulations that ran."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import orch_fakes
import stilt
from stilt.cli import main
from stilt.index import SimulationIndex, pack_receptor, unpack_receptor



def by_id(project: Path) -> list[str]:
    folder = project / "out" / "simulations" / "by-id"
    return sorted(os.listdir(folder)) if folder.is_dir() else []


def counts(project: Path) -> dict[str, int]:
    with SimulationIndex(project / "out" / "index.sqlite") as index:
        return index.counts()


def test_registration_writes_index_rows_only_and_rebuild_restores_them(tmp_path,
                                                                        capsys) -> None:
    project = orch_fakes.small_project(tmp_path / "p", n=6)
    assert main(["register", str(project), "--scene-id", "tower-1"]) == 0
    assert "6 simulation(s) registered" in capsys.readouterr().out
    assert by_id(project) == [] and counts(project)["pending"] == 6
    assert (project / "out" / "scenes" / "tower-1.txt").read_text().count("\n") == 6
    # the index is lost: the stored receptors and config give the pending simulations back,
    # with their scene
    (project / "out" / "index.sqlite").unlink()
    assert main(["index", "rebuild", str(project)]) == 0
    assert "index rebuilt with 6 simulation(s) from disk: 6 pending" in capsys.readouterr().out
    model = stilt.Model(project)
    assert len(model.simulations.ids(scene_id="tower-1")) == 6
    assert sorted(model.simulations.ids()) == sorted(p["sim_id"] for p in model.plan())


def test_a_run_makes_folders_for_what_ran_and_resumes_after_a_lost_index(tmp_path,
                                                                          monkeypatch) -> None:
    log = tmp_path / "calls.log"
    orch_fakes.install(monkeypatch, log)
    project = orch_fakes.small_project(tmp_path / "p", n=3)
    assert stilt.Model(project).run().ok
    assert len(by_id(project)) == 3
    assert all((project / "out" / "simulations" / "by-id" / s / "status.json").is_file()
               for s in by_id(project))
    # two more receptors are registered, the index is lost before they run
    with open(project / "receptors.csv", "a") as handle:
        handle.write("2023-07-15 18:00,-101.5,39.0,5\n2023-07-15 18:00,-101.5,39.1,5\n")
    stilt.Model(project).register_pending()
    assert len(by_id(project)) == 3 and counts(project) == {
        "pending": 2, "running": 0, "complete": 3, "failed": 0}
    (project / "out" / "index.sqlite").unlink()
    report = stilt.Model(project).run()
    assert report.ok and report.transport_runs == 2 and len(orch_fakes.calls(log)) == 5
    assert len(by_id(project)) == 5


def test_a_registration_of_an_unchanged_receptors_csv_is_not_done_again(tmp_path,
                                                                        monkeypatch) -> None:
    project = orch_fakes.small_project(tmp_path / "p", n=4)
    ids = stilt.Model(project).register_pending()

    def refuse(*args, **kwargs):
        raise AssertionError("receptors.csv read again")

    model = stilt.Model(project)
    monkeypatch.setattr("stilt.model.read_receptors", refuse)
    assert sorted(model.register_pending()) == sorted(ids)
    monkeypatch.undo()
    # a changed file (or another met) is registered again
    with open(project / "receptors.csv", "a") as handle:
        handle.write("2023-07-15 18:00,-101.5,39.0,5\n")
    assert len(stilt.Model(project).register_pending()) == 5 and counts(project)["pending"] == 5


def test_kill_9_during_registration_leaves_a_sound_index_that_a_new_one_completes(
        tmp_path, monkeypatch) -> None:
    project = orch_fakes.small_project(tmp_path / "p", n=10)
    script = textwrap.dedent(f"""
        import os, signal
        import stilt.index as index
        index.REGISTER_CHUNK = 3
        commits = []
        original = index.SimulationIndex._write

        def killing(self):
            commits.append(1)
            if len(commits) == 3:  # the new index filled from disk and one chunk are in: kill -9
                os.kill(os.getpid(), signal.SIGKILL)
            return original(self)

        index.SimulationIndex._write = killing
        from stilt.cli import main
        main(["register", {str(project)!r}])
    """)
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == -9, res.stderr
    with SimulationIndex(project / "out" / "index.sqlite") as index:
        index.check_integrity()
        assert index.counts()["pending"] == 3 and index.meta("registration") is None
    assert by_id(project) == []
    log = tmp_path / "calls.log"
    orch_fakes.install(monkeypatch, log)
    report = stilt.Model(project).run()
    assert report.ok and len(report.requested) == 10 and len(orch_fakes.calls(log)) == 10


def test_claims_take_pending_rows_in_registration_order_from_few_or_many_wanted(
        tmp_path) -> None:
    index = SimulationIndex(tmp_path / "index.sqlite")
    rows = [{"sim_id": f"m_2023_{k:04d}", "met": "m", "receptor": {}} for k in range(700)]
    index.register(rows[::-1])  # given in any order: stored in id order
    many = frozenset(r["sim_id"] for r in rows[100:])
    got = [r["sim_id"] for r in index.claim("A", 60, limit=3, sim_ids=many)]
    assert got == ["m_2023_0100", "m_2023_0101", "m_2023_0102"]
    few = ["m_2023_0650", "m_2023_0005", "m_2023_0002"]
    got = [r["sim_id"] for r in index.claim("A", 60, limit=5, sim_ids=few)]
    assert got == ["m_2023_0002", "m_2023_0005", "m_2023_0650"]
    assert index.counts()["running"] == 6


@pytest.mark.parametrize("receptor", [
    stilt.PointReceptor("2023-07-15 18:00", -102.123456, 39.5, 5.0),
    stilt.PointReceptor("2023-07-15 18:00", -102.0, 39.5, 1500.0, altitude_ref="msl"),
    stilt.ColumnReceptor("2023-07-15 18:00", -102.0, 39.5, 5.0, 100.0),
    stilt.MultiPointReceptor("2023-07-15 18:00", (-102.1, -102.2), (39.4, 39.45), (5.0, 50.0)),
])
def test_receptors_are_stored_packed_and_read_back_whole(receptor) -> None:
    text = pack_receptor(receptor.to_dict())
    assert unpack_receptor(text) == receptor.to_dict()
    assert stilt.receptors.receptor_from_dict(unpack_receptor(text)) == receptor
    if receptor.kind == "point":
        assert len(text) < 60


def test_a_file_based_pull_worker_takes_a_scene_from_the_scene_files(tmp_path,
                                                                     monkeypatch) -> None:
    log = tmp_path / "calls.log"
    orch_fakes.install(monkeypatch, log)
    project = orch_fakes.small_project(tmp_path / "p", n=3)
    model = stilt.Model(project)
    model.register_pending()
    extra = tmp_path / "orbit.csv"
    extra.write_text("time,lon,lat,zagl\n2023-07-15 18:00,-101.0,39.0,5\n"
                     "2023-07-15 18:00,-101.0,39.2,5\n")
    model.register_pending(receptors=extra, scene_id="orbit-1")
    assert by_id(project) == []
    report = model.pull_simulations(files=True, scene_id="orbit-1")
    assert sorted(orch_fakes.calls(log)) == ["39.0000", "39.2000"]
    assert len(by_id(project)) == 2 and not report.failed
