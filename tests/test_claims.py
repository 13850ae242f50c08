"""Claim files and status records (stilt.claims): exclusive creation, leases, takeover, races."""

from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path

from stilt import claims


def test_claim_is_exclusive_until_the_lease_expires(tmp_path) -> None:
    folder = tmp_path / "claims"
    first = claims.claim(folder, "s1", lease_seconds=0.6, max_attempts=2, info={"task_id": "3"})
    assert isinstance(first, claims.Claim) and first.number == 1
    assert claims.claim(folder, "s1", 0.6, 2) is None  # live: refused
    time.sleep(0.35)
    assert claims.renew(first)  # heartbeat: the lease starts again
    time.sleep(0.35)
    assert claims.claim(folder, "s1", 0.6, 2) is None  # not before the lease is over
    assert claims.latest_claim(folder, "s1")["task_id"] == "3"
    time.sleep(0.7)
    second = claims.claim(folder, "s1", 0.6, 2)  # expired: taken over, attempt 2
    assert isinstance(second, claims.Claim) and second.number == 2
    assert claims.attempts(folder, "s1") == 2
    time.sleep(0.7)
    assert claims.claim(folder, "s1", 0.6, 2) == claims.EXHAUSTED  # max_attempts reached


def test_a_released_claim_is_free_at_once_and_not_an_attempt(tmp_path) -> None:
    folder = tmp_path / "claims"
    held = claims.claim(folder, "s1", 300, 1)
    assert isinstance(held, claims.Claim)
    claims.release(held)
    again = claims.claim(folder, "s1", 300, 1)
    assert isinstance(again, claims.Claim) and again.number == 2
    assert claims.attempts(folder, "s1") == 1


def test_records_are_published_atomically(tmp_path) -> None:
    folder = tmp_path / "records"
    claims.write_record(folder, "s1", {"state": "complete", "job_id": "12"})
    claims.write_record(folder, "s1", {"state": "failed", "reason": "CORE"})
    assert claims.read_record(folder, "s1") == {"sim_id": "s1", "state": "failed",
                                                "reason": "CORE"}
    assert list(claims.read_records(folder)) == ["s1"]
    assert [p.name for p in folder.iterdir()] == ["s1.json"]  # no temporary file left


def _racer(folder: str, log: str, ids: list[str], start: float, lease: float) -> None:
    while time.time() < start:
        time.sleep(0.001)
    records = Path(folder) / "records"
    for sim_id in ids:
        if claims.read_record(records, sim_id) is not None:
            continue
        held = claims.claim(Path(folder) / "claims", sim_id, lease, 3)
        if not isinstance(held, claims.Claim):
            continue
        if claims.read_record(records, sim_id) is not None:  # finished while we claimed
            continue
        with open(log, "a") as handle:  # "run" the simulation
            handle.write(f"{sim_id} {os.getpid()}\n")
        time.sleep(0.002)
        claims.write_record(records, sim_id, {"state": "complete"})


def test_many_processes_racing_run_every_simulation_exactly_once(tmp_path) -> None:
    ids = [f"sim{k:03d}" for k in range(60)]
    log = tmp_path / "runs.log"
    ctx = multiprocessing.get_context("fork")
    start = time.time() + 0.5
    procs = []
    for k in range(12):  # each process walks the list from another place, some backwards
        order = ids[k * 5:] + ids[:k * 5]
        if k % 2:
            order = order[::-1]
        procs.append(ctx.Process(target=_racer, args=(str(tmp_path), str(log), order, start,
                                                      60.0)))
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    ran = [line.split()[0] for line in log.read_text().splitlines()]
    assert sorted(ran) == ids  # every simulation exactly once
    assert len({line.split()[1] for line in log.read_text().splitlines()}) > 1
    assert sorted(claims.read_records(tmp_path / "records")) == ids
