"""Claim files and status records: coordination of workers through a shared folder, no database.

For a shared (network) file system where SQLite locking cannot be trusted, workers coordinate
with plain files in one folder, using only operations that are atomic on NFS, Lustre and GPFS:

``claims/<sim_id>@<n>``
    Claim number ``n`` of a simulation, created with ``O_CREAT | O_EXCL`` (exactly one creator
    wins). It holds who claimed it (host, pid, Slurm job and task). The claim with the highest
    ``n`` is the live one; its holder renews the lease by touching it (mtime), and a claim
    whose mtime is older than the lease has expired: the next worker takes the simulation over
    by creating claim ``n + 1`` (again exactly one wins). ``n`` counts the attempts.
``claims/<sim_id>@<n>.released``
    The holder gave claim ``n`` back without finishing (SIGTERM): it is expired at once and
    does not count as an attempt.
``records/<sim_id>.json``
    The per-simulation status record a worker publishes when it is done with a simulation
    (complete or failed, with reason, host, job and task), written to a temporary name in the
    same folder and renamed.

Completion itself is always re-derived from the outputs (by the worker, before and after
claiming), so a duplicated, requeued or preempted worker does no harm.
"""

from __future__ import annotations

import json
import os
import re
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stilt._io import write_atomic

__all__ = ["Claim", "EXHAUSTED", "claim", "release", "renew", "attempts", "latest_claim",
           "read_record", "write_record", "read_records", "Heartbeat"]

#: returned by :func:`claim` when a simulation has used up its attempts
EXHAUSTED = "exhausted"
_CLAIM = re.compile(r"^(?P<sim>[A-Za-z0-9][A-Za-z0-9._-]*)@(?P<n>[0-9]+)$")


@dataclass(frozen=True)
class Claim:
    """A claim this worker holds: its file and attempt number."""

    path: Path
    sim_id: str
    number: int


def _claims_of(folder: Path, sim_id: str) -> tuple[list[int], set[int]]:
    """Claim numbers of a simulation (ascending) and the numbers released."""
    numbers, released = [], set()
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return [], set()
    prefix = f"{sim_id}@"
    for name in names:
        if not name.startswith(prefix):
            continue
        if name.endswith(".released"):
            tail = name[len(prefix):-len(".released")]
            if tail.isdigit():
                released.add(int(tail))
            continue
        m = _CLAIM.match(name)
        if m and m["sim"] == sim_id:
            numbers.append(int(m["n"]))
    return sorted(numbers), released


def attempts(folder: str | Path, sim_id: str) -> int:
    """Attempts made on a simulation: its claims that were not given back."""
    numbers, released = _claims_of(Path(folder), sim_id)
    return len([n for n in numbers if n not in released])


def latest_claim(folder: str | Path, sim_id: str) -> dict[str, Any] | None:
    """The content of the newest claim of a simulation (with ``number``, ``age``,
    ``released``), or None when it was never claimed."""
    folder = Path(folder)
    numbers, released = _claims_of(folder, sim_id)
    if not numbers:
        return None
    n = numbers[-1]
    path = folder / f"{sim_id}@{n}"
    try:
        info = json.loads(path.read_text(encoding="utf-8") or "{}")
        age = time.time() - path.stat().st_mtime
    except (OSError, ValueError):
        info, age = {}, float("inf")
    if not isinstance(info, dict):
        info = {}
    info.update(number=n, age=age, released=n in released)
    return info


def claim(folder: str | Path, sim_id: str, lease_seconds: float, max_attempts: int,
          info: Mapping[str, Any] | None = None) -> Claim | str | None:
    """Try to claim a simulation.

    Parameters
    ----------
    folder : str or Path
        The claims folder (shared by every worker of a run).
    sim_id : str
    lease_seconds : float
        A claim untouched this long has expired and may be taken over.
    max_attempts : int
        Claims (not given back) allowed per simulation.
    info : mapping, optional
        Written into the claim file (host, pid, job and task ids), for status and takeovers.

    Returns
    -------
    Claim, EXHAUSTED or None
        The claim won; :data:`EXHAUSTED` when the newest claim expired but the simulation has
        already been attempted ``max_attempts`` times; None when another worker holds a live
        claim or won the race.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    numbers, released = _claims_of(folder, sim_id)
    if numbers:
        top = numbers[-1]
        if top not in released:
            try:
                age = time.time() - (folder / f"{sim_id}@{top}").stat().st_mtime
            except FileNotFoundError:
                age = float("inf")
            if age < lease_seconds:
                return None
        if len([n for n in numbers if n not in released]) >= max_attempts:
            return EXHAUSTED
        number = top + 1
    else:
        number = 1
    path = folder / f"{sim_id}@{number}"
    record = {"sim_id": sim_id, "host": socket.gethostname(), "pid": os.getpid(),
              "claimed_at": time.time(), **dict(info or {})}
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return None
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(json.dumps(record, sort_keys=True))
    return Claim(path, sim_id, number)


def renew(held: Claim) -> bool:
    """Heartbeat: touch the claim file (False when it is gone)."""
    try:
        os.utime(held.path)
    except FileNotFoundError:
        return False
    return True


def release(held: Claim) -> None:
    """Give a claim back unfinished: it expires at once and does not count as an attempt."""
    marker = held.path.with_name(held.path.name + ".released")
    try:
        os.close(os.open(marker, os.O_WRONLY | os.O_CREAT, 0o644))
    except OSError:  # the claim then simply expires with its lease
        pass


class Heartbeat(threading.Thread):
    """Touches the claims in ``held`` every ``interval`` seconds until stopped."""

    def __init__(self, interval: float) -> None:
        super().__init__(daemon=True)
        self.interval = max(float(interval), 0.05)
        self.held: dict[str, Claim] = {}
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(self.interval):
            for held in list(self.held.values()):
                renew(held)

    def stop(self) -> None:
        """Stop touching (the claims then expire with their lease)."""
        self.done.set()


# -- status records ------------------------------------------------------------------------
def write_record(folder: str | Path, sim_id: str, record: Mapping[str, Any]) -> Path:
    """Publish the status record of a simulation atomically (temporary file, then rename)."""
    return write_atomic(Path(folder) / f"{sim_id}.json",
                        json.dumps({"sim_id": sim_id, **dict(record)}, sort_keys=True))


def read_record(folder: str | Path, sim_id: str) -> dict[str, Any] | None:
    """The published status record of a simulation, or None."""
    try:
        data = json.loads((Path(folder) / f"{sim_id}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def read_records(folder: str | Path) -> dict[str, dict[str, Any]]:
    """Every published status record in a folder, by simulation id."""
    out: dict[str, dict[str, Any]] = {}
    try:
        names = sorted(os.listdir(folder))
    except FileNotFoundError:
        return out
    for name in names:
        if name.endswith(".json") and not name.startswith("."):
            rec = read_record(folder, name[:-5])
            if rec is not None:
                out[name[:-5]] = rec
    return out
