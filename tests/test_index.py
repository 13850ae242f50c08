"""The SQLite index: registration, atomic claims, leases, attempts, rebuild and repair."""

from __future__ import annotations

import multiprocessing
import os
import time

import pytest

import stilt.index as index_module
from stilt.index import SimulationIndex, SimulationIndexError, open_index, pid_alive
from stilt.states import STATES, State


def rows(n: int, prefix: str = "m_202307151200_") -> list[dict]:
    return [{"sim_id": f"{prefix}{k:03d}", "met": "m", "receptor": {"k": k},
             "config_hash": "h"} for k in range(n)]


def test_register_keeps_existing_state(tmp_path) -> None:
    idx = SimulationIndex(tmp_path / "index.sqlite")
    assert idx.register(rows(3), scene_id="s1") == [r["sim_id"] for r in rows(3)]
    claimed = idx.claim("A", 60)
    assert idx.complete(claimed[0]["sim_id"], "A", ["x_traj.nc"], 1.5)
    idx.register(rows(3), scene_id=None)
    assert idx.counts() == {"pending": 2, "running": 0, "complete": 1, "failed": 0}
    assert idx.counts("s1")["complete"] == 1 and idx.get(claimed[0]["sim_id"])["outputs"] == [
        "x_traj.nc"]
    assert idx._con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert idx._con.execute("PRAGMA busy_timeout").fetchone()[0] > 0


def test_a_full_disk_is_one_line_and_the_index_stays_usable(tmp_path) -> None:
    """SQLite's "database or disk is full" (here its page limit, as a full file system gives
    it) is a SimulationIndexError of one line; the failed transaction is rolled back and the
    index goes on once there is room."""
    idx = SimulationIndex(tmp_path / "index.sqlite")
    idx.register(rows(2, prefix="m_202307151100_"))
    pages = idx._con.execute("PRAGMA page_count").fetchone()[0]
    idx._con.execute(f"PRAGMA max_page_count = {pages}")  # no room for another page
    with pytest.raises(SimulationIndexError) as err:
        idx.register(rows(2000))
    message = str(err.value)
    assert "no space left on device (database or disk is full)" in message
    assert str(tmp_path / "index.sqlite") in message and "\n" not in message
    assert not err.value.damaged and not idx._con.in_transaction
    assert idx.counts()["pending"] == 2  # what was there before
    idx._con.execute("PRAGMA max_page_count = 1073741823")
    assert len(idx.register(rows(2000))) == 2000
    assert idx.counts()["pending"] == 2002


def test_a_disk_io_error_is_a_full_disk_only_when_the_file_system_is_full(
        tmp_path, monkeypatch) -> None:
    """SQLite says "disk I/O error" when it cannot grow its shared-memory or WAL file on a
    full file system (measured on a full tmpfs at the start of a run)."""
    import sqlite3

    path = tmp_path / "index.sqlite"
    for full, words in ((True, "no space left on device (disk I/O error)"),
                        (False, "index " + str(path) + ": disk I/O error")):
        monkeypatch.setattr(index_module, "disk_full", lambda p, full=full: full)
        err = index_module._classify(path, sqlite3.OperationalError("disk I/O error"))
        assert words in str(err) and not err.damaged
        assert ("no space" in str(err)) is full


def test_a_full_disk_still_lets_status_read_the_index(tmp_path, monkeypatch) -> None:
    """On a full disk SQLite cannot make the shared-memory file a reader of a WAL index
    needs ("disk I/O error", measured on a full tmpfs): with no write-ahead log to replay
    the index is read as an immutable file, and the counts are those on disk; with a log
    to replay the error is reported (one line), never counts without it."""
    import sqlite3
    from pathlib import Path

    import stilt.index as index_module

    path = tmp_path / "index.sqlite"
    with SimulationIndex(path) as idx:
        idx.register(rows(3, prefix="m_202307151100_"))
    connect = SimulationIndex._connect_readonly
    modes = []

    def full_disk(self: SimulationIndex, busy_timeout: float, immutable: bool) -> None:
        modes.append(immutable)
        if not immutable:
            raise sqlite3.OperationalError("disk I/O error")
        connect(self, busy_timeout, immutable)

    monkeypatch.setattr(SimulationIndex, "_connect_readonly", full_disk)
    monkeypatch.setattr(index_module, "disk_full", lambda p: True)
    Path(f"{path}-wal").write_bytes(b"")  # an empty log: nothing to replay
    with SimulationIndex(path, readonly=True) as idx:
        assert idx.counts()["pending"] == 3
    assert modes == [False, True]
    Path(f"{path}-wal").write_bytes(b"\0" * 4096)  # a log to replay: not read without it
    with pytest.raises(SimulationIndexError) as err:
        SimulationIndex(path, readonly=True)
    assert "no space left on device (disk I/O error)" in str(err.value)
    assert "\n" not in str(err.value) and modes[2:] == [False]


def test_states_are_the_strings_on_disk(tmp_path) -> None:
    import json

    assert [str(s) for s in STATES] == ["pending", "running", "complete", "failed"]
    assert f"{State.FAILED}" == "failed" and State("complete") is State.COMPLETE
    assert json.dumps({"state": State.FAILED}) == '{"state": "failed"}'
    idx = SimulationIndex(tmp_path / "index.sqlite")
    idx.register(rows(2))
    idx.complete(idx.claim("A", 60)[0]["sim_id"], "A", [], 1.0)
    stored = dict(idx._con.execute("SELECT state, count(*) FROM simulations GROUP BY state"))
    assert stored == {"complete": 1, "pending": 1}  # plain text in the file, as before
    assert idx.rows(State.COMPLETE) == idx.rows("complete")  # names and strings alike
    assert {r["state"] for r in idx.rows()} == {State.COMPLETE, State.PENDING}


def _claim_all(path: str, owner: str, out: multiprocessing.Queue) -> None:
    idx = SimulationIndex(path)
    got = []
    while True:
        c = idx.claim(owner, 60, limit=1)
        if not c:
            break
        got.append(c[0]["sim_id"])
        assert idx.complete(c[0]["sim_id"], owner)
    out.put(got)


def _register_some(path: str, start: int) -> None:
    idx = SimulationIndex(path)
    for k in range(start, start + 10):
        idx.register([{"sim_id": f"m_x_{k:03d}", "met": "m", "receptor": {}, "config_hash": None}])


def test_concurrent_claims_never_hand_out_one_simulation_twice(tmp_path) -> None:
    path = str(tmp_path / "index.sqlite")
    SimulationIndex(path).register(rows(60))
    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue()
    procs = [ctx.Process(target=_claim_all, args=(path, f"w{k}", q)) for k in range(3)]
    for p in procs:
        p.start()
    got = [q.get(timeout=60) for _ in procs]
    for p in procs:
        p.join()
    flat = [s for g in got for s in g]
    assert len(flat) == 60 and len(set(flat)) == 60
    assert SimulationIndex(path).counts()["complete"] == 60


def test_fifty_concurrent_registrations_all_land(tmp_path) -> None:
    path = str(tmp_path / "index.sqlite")
    SimulationIndex(path)
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_register_some, args=(path, 10 * k)) for k in range(5)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    assert all(p.exitcode == 0 for p in procs)
    assert SimulationIndex(path).counts()["pending"] == 50


def test_lease_expires_and_not_before(tmp_path) -> None:
    idx = SimulationIndex(tmp_path / "index.sqlite")
    idx.register(rows(1))
    first = idx.claim("A", lease_seconds=0.6)  # this process: alive
    assert len(first) == 1
    assert idx.claim("B", 60) == []
    idx.renew("A", [first[0]["sim_id"]], 0.6)
    assert idx.claim("B", 60) == []
    time.sleep(0.7)
    second = idx.claim("B", 60)
    assert [r["sim_id"] for r in second] == [first[0]["sim_id"]]
    assert second[0]["attempts"] == 2 and second[0]["owner"] == "B"
    # the old owner can no longer complete it
    assert not idx.complete(first[0]["sim_id"], "A")
    assert idx.get(first[0]["sim_id"])["state"] == "running"


def test_claim_of_a_dead_local_process_is_free_at_once(tmp_path) -> None:
    idx = SimulationIndex(tmp_path / "index.sqlite")
    idx.register(rows(1))
    ctx = multiprocessing.get_context("fork")
    p = ctx.Process(target=os._exit, args=(0,))
    p.start()
    p.join()
    assert not pid_alive(p.pid)
    idx.claim("A", lease_seconds=3600, pid=p.pid)
    again = idx.claim("B", 3600)
    assert len(again) == 1 and again[0]["attempts"] == 2


def test_max_attempts_then_failed(tmp_path) -> None:
    idx = SimulationIndex(tmp_path / "index.sqlite")
    idx.register(rows(1))
    for k in range(3):
        assert len(idx.claim(f"w{k}", lease_seconds=0.01, max_attempts=3)) == 1
        time.sleep(0.02)
    assert idx.claim("w9", 60, max_attempts=3) == []
    row = idx.get(rows(1)[0]["sim_id"])
    assert row["state"] == "failed" and row["reason"] == "LEASE_EXPIRED" and row["attempts"] == 3


def test_fail_retryable_and_permanent(tmp_path) -> None:
    idx = SimulationIndex(tmp_path / "index.sqlite")
    idx.register(rows(2))
    a, b = idx.claim("A", 60, limit=2)
    assert idx.fail(a["sim_id"], "A", "WORKER_DIED", "gone", max_attempts=2) == "pending"
    assert idx.fail(b["sim_id"], "A", "MET_COVERAGE", "outside", max_attempts=2) == "failed"
    assert idx.fail(b["sim_id"], "other", "X", "y") is None
    assert set(idx.failures()) == {"MET_COVERAGE"}
    (again,) = idx.claim("A", 60)
    assert again["sim_id"] == a["sim_id"] and again["attempts"] == 2
    assert idx.fail(a["sim_id"], "A", "WORKER_DIED", "gone", max_attempts=2) == "failed"
    assert idx.reset([b["sim_id"]], ("failed",), attempts=True) == 1
    assert idx.get(b["sim_id"])["attempts"] == 0
    (c,) = idx.claim("A", 60)
    assert idx.release(c["sim_id"], "A") and idx.get(c["sim_id"])["attempts"] == 0


def test_rebuild_and_repair_of_a_corrupt_file(tmp_path) -> None:
    path = tmp_path / "index.sqlite"
    recs = [{"sim_id": "m_1", "met": "m", "receptor": {"a": 1}, "state": "complete",
             "transport_hash": "h", "outputs": ["m_1_traj.nc"]},
            {"sim_id": "m_2", "met": "m", "receptor": {"a": 2}, "state": "running"}]
    idx = SimulationIndex(path)
    assert idx.rebuild(recs) == 2
    assert idx.counts() == {"pending": 1, "running": 0, "complete": 1, "failed": 0}
    idx.close()
    for suffix in ("-wal", "-shm"):
        (tmp_path / f"index.sqlite{suffix}").unlink(missing_ok=True)
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(SimulationIndexError, match="not a usable SQLite database"):
        SimulationIndex(path)
    repaired = open_index(path, rebuild_from=lambda: recs)
    assert repaired.ids() == ["m_1", "m_2"] and repaired.get("m_1")["receptor"] == {"a": 1}
    assert list(tmp_path.glob("index.sqlite.corrupt-*"))


def test_network_file_system_index_is_single_host(tmp_path, monkeypatch) -> None:
    """On nfs/lustre/gpfs/cifs the first host owns the index (rollback journal, no WAL); a
    second host is refused with what to do; a local disk keeps the WAL default."""
    monkeypatch.delenv("STILT_ALLOW_NETWORK_FS", raising=False)
    local = SimulationIndex(tmp_path / "local" / "index.sqlite")
    assert local._con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    local.close()
    for fs in ("nfs", "lustre", "gpfs", "cifs"):
        monkeypatch.setattr(index_module, "_fs_type", lambda path, fs=fs: fs)
        path = tmp_path / fs / "index.sqlite"
        monkeypatch.setattr(index_module.socket, "gethostname", lambda: "login1")
        index = SimulationIndex(path)
        assert index._con.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        index.close()
        assert (path.parent / "index.sqlite.host").read_text().strip() == "login1"
        SimulationIndex(path).close()  # the same host again: fine
        monkeypatch.setattr(index_module.socket, "gethostname", lambda: "node7")
        with pytest.raises(SimulationIndexError, match=f"on a {fs} file system.*in use from host "
                                              "'login1'.*stilt index rebuild"):
            SimulationIndex(path)
