"""The output index: which simulations exist and their state, in SQLite.

Only this module speaks SQL. The database (stdlib :mod:`sqlite3`, WAL journal, a busy timeout)
lives under the output folder as ``index.sqlite``. One row per registered simulation holds its
receptor, met, scene id, transport config hash, state (``pending``, ``running``, ``complete``,
``failed``), failure reason class and message, attempt count, timings, the claiming host/pid
and a lease expiry.

Rows are small (a point receptor is stored as ``[time, longitude, latitude, altitude]``), so
a million registered simulations take about 200 MB. Claims are atomic (``BEGIN IMMEDIATE``),
take pending rows in registration order (stepping through them lazily, at the same cost for
ten or a million) and carry a lease: a running simulation whose lease has expired, or whose
claiming process on this host no longer exists, can be claimed again; a simulation attempted
``max_attempts`` times is marked failed instead. The files on disk are the truth:
:meth:`SimulationIndex.rebuild` replaces every row from the status records of the simulations
that ran and the stored receptors of those that did not (:mod:`stilt.registration`), so a
lost or corrupt index loses nothing.

SQLite locking is unreliable on network file systems. On nfs, lustre, gpfs, cifs (and the like)
the index is used from one host only: the first host to open it is recorded beside it
(``index.sqlite.host``, created with ``O_CREAT | O_EXCL``), the rollback journal replaces WAL
(whose shared memory does not work across hosts), and any other host is refused with what to
do. Slurm array tasks never open the index: they publish status records the login node folds
in (:mod:`stilt.claims`). On a local disk the index is the embedded default, shared by any
number of processes of that machine.
"""

from __future__ import annotations

import json
import math
import os
import socket
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from stilt._io import publish
from stilt._paths import inside
from stilt._verify import disk_full, notice
from stilt.errors import ConfigError, StiltError
from stilt.states import STATES, State

__all__ = ["SimulationIndex", "SimulationIndexError", "IndexMissing", "STATES",
           "RETRYABLE_REASONS", "pid_alive", "open_index", "rebuild_index", "live_claims",
           "claim_is_live", "pack_receptor", "unpack_receptor", "REGISTER_CHUNK"]

#: failure reasons that put a simulation back to pending while attempts remain
RETRYABLE_REASONS = ("WORKER_DIED", "LEASE_EXPIRED", "INTERRUPTED")
_NETWORK_FS = ("nfs", "nfs4", "lustre", "gpfs", "cifs", "smbfs", "smb3", "fuse.sshfs",
               "beegfs", "panfs")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS simulations (
    sim_id        TEXT PRIMARY KEY,
    met           TEXT NOT NULL,
    receptor      TEXT NOT NULL,
    scene_id      TEXT,
    config_hash   TEXT,
    state         TEXT NOT NULL DEFAULT 'pending'
                  CHECK (state IN ('pending', 'running', 'complete', 'failed')),
    reason        TEXT,
    message       TEXT,
    attempts      INTEGER NOT NULL DEFAULT 0,
    registered_at REAL,
    started_at    REAL,
    finished_at   REAL,
    duration      REAL,
    host          TEXT,
    pid           INTEGER,
    owner         TEXT,
    lease_expires REAL,
    outputs       TEXT
);
CREATE INDEX IF NOT EXISTS simulations_state ON simulations (state);
CREATE INDEX IF NOT EXISTS simulations_scene ON simulations (scene_id)
    WHERE scene_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
"""
_SCHEMA_VERSION = "1"
#: rows per registration transaction, and the page cache (KiB) registration and rebuild use
REGISTER_CHUNK = 100_000
_REGISTER_CACHE_KB = 65_536
#: at most this many wanted ids go into a claim query as an IN list; more are filtered
_IN_LIST = 500
_COLUMNS = ("sim_id", "met", "receptor", "scene_id", "config_hash", "state", "reason",
            "message", "attempts", "registered_at", "started_at", "finished_at", "duration",
            "host", "pid", "owner", "lease_expires", "outputs")


class SimulationIndexError(StiltError):
    """The index database cannot be used (corrupt, locked too long, on a network file system).

    ``damaged`` is True when the file itself is not a sound SQLite database (moving it aside
    and rebuilding from disk is the remedy), False for locks, permissions and file systems.
    """

    damaged = False
    reason = ""


class IndexMissing(SimulationIndexError):
    """There is no index (no file, or an empty one): ``stilt index rebuild`` makes one."""


def _rebuild_hint(path: Path, project: Any = None) -> str:
    where = project if project is not None else path.parent.parent
    return f"run `stilt index rebuild {where}`"


def _check_integrity(con: sqlite3.Connection) -> None:
    """Raise sqlite3.DatabaseError unless SQLite's quick check of every page passes (a damaged
    table page can hide behind intact index b-trees that still give plausible counts)."""
    rows = con.execute("PRAGMA quick_check").fetchall()
    if rows != [("ok",)]:
        raise sqlite3.DatabaseError("; ".join(str(r[0]) for r in rows[:3]))


def _classify(path: Path, exc: sqlite3.Error) -> SimulationIndexError:
    """The SimulationIndexError for an SQLite error: damaged file, or a permission/lock problem."""
    text = str(exc)
    if isinstance(exc, sqlite3.OperationalError):
        lowered = text.lower()
        if "disk is full" in lowered or ("disk i/o error" in lowered and disk_full(path)):
            return SimulationIndexError(f"index {path}: no space left on device ({text})")
        if "readonly" in lowered or "read-only" in lowered or "unable to open" in lowered:
            return SimulationIndexError(f"index {path}: cannot be written (permission denied: "
                                        f"{text}); commands that only look (status, plot) "
                                        "still work")
        return SimulationIndexError(f"index {path}: {text}")
    err = SimulationIndexError(f"index {path}: not a usable SQLite database ({text})")
    err.damaged, err.reason = True, text
    return err


def _wal_empty(path: Path) -> bool:
    """Whether the index has no write-ahead log to replay (none, or an empty one)."""
    try:
        return Path(f"{path}-wal").stat().st_size == 0
    except FileNotFoundError:
        return True


def _rollback(con: sqlite3.Connection) -> None:
    """Roll back the open transaction, if SQLite left one open (it ends some on error)."""
    if con.in_transaction:
        con.execute("ROLLBACK")


def pid_alive(pid: int | None) -> bool:
    """Whether a process with this id exists on this host."""
    if not pid:
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a killed child not yet reaped by its parent is a zombie: count it as gone
        stat = Path(f"/proc/{int(pid)}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")


def _owner_pid(owner: str | None) -> tuple[str | None, int | None]:
    """Host and process id of a local run's owner string ``host:pid:token``."""
    parts = (owner or "").split(":")
    if len(parts) >= 3 and parts[-2].isdigit():
        return ":".join(parts[:-2]), int(parts[-2])
    return None, None


def claim_is_live(row: Mapping[str, Any], host: str | None = None,
                  now: float | None = None) -> bool:
    """Whether the claim of a running row is still held.

    On this host: its worker process or the run that claimed it still exists. On another
    host (where processes cannot be seen): its lease has not expired.
    """
    host = socket.gethostname() if host is None else host
    now = time.time() if now is None else now
    if row.get("host") == host:
        owner_host, owner_pid = _owner_pid(row.get("owner"))
        return pid_alive(row.get("pid")) or (owner_host == host and pid_alive(owner_pid))
    return (row.get("lease_expires") or 0) > now


def _fs_type(path: Path) -> str:
    """File system type of the mount holding ``path`` (Linux /proc/mounts; '' elsewhere)."""
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return ""
    best, kind = "", ""
    target = str(path.resolve())
    for line in mounts:
        parts = line.split()
        if len(parts) < 3:
            continue
        mnt = parts[1].replace("\\040", " ")
        if (target == mnt or target.startswith(mnt.rstrip("/") + "/")) and len(mnt) >= len(best):
            best, kind = mnt, parts[2]
    return kind


def _claim_single_host(path: Path, fs: str, host: str) -> None:
    """Record (or check) the one host allowed to use an index on a network file system."""
    marker = path.with_name(path.name + ".host")
    try:
        fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        try:
            owner = marker.read_text(encoding="utf-8").strip()
        except OSError:
            owner = ""
        if owner and owner != host:
            raise SimulationIndexError(
                f"index {path}: the folder is on a {fs} file system, where SQLite locking "
                f"does not work across hosts, and the index is in use from host {owner!r} "
                f"(this is {host!r}). Run stilt commands on this project from {owner!r} (the "
                "login node that submitted the Slurm arrays; array tasks never open the "
                f"index), or, when {owner!r} no longer uses it, delete {marker.name} and "
                "rebuild the index here with 'stilt index rebuild DIR' (the files on disk "
                "are the truth). STILT_ALLOW_NETWORK_FS=1 skips this check.") from None
        return
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(host + "\n")


class SimulationIndex:
    """The SQLite index of one project's output folder.

    Parameters
    ----------
    path : str or Path
        Database file (created with its folder when missing).
    busy_timeout : float, optional
        Seconds to wait for another process's write lock.

    Raises
    ------
    SimulationIndexError
        The file is not a usable SQLite database, or it sits on a network file system.
    """

    def __init__(self, path: str | Path, busy_timeout: float = 60.0, *,
                 readonly: bool = False, project: Any = None) -> None:
        self.path = Path(path)
        self.host = socket.gethostname()
        self.readonly = readonly
        for suffix in ("", "-wal", "-shm", "-journal", ".host"):  # SQLite writes beside it
            inside(self.path.parent, self.path.name + suffix, what="index")
        if readonly:
            self._open_readonly(busy_timeout, project)
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fs = _fs_type(self.path.parent)
        self.network_fs = fs in _NETWORK_FS
        if self.network_fs and not os.environ.get("STILT_ALLOW_NETWORK_FS"):
            _claim_single_host(self.path, fs, self.host)
        deadline = time.monotonic() + busy_timeout
        while True:
            try:
                self._connect(busy_timeout)
                return
            except sqlite3.OperationalError as exc:
                # two processes creating the index at once: switching a new file to WAL
                # reports "locked" at once, without waiting in the busy handler
                self._drop()
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise _classify(self.path, exc) from None
                time.sleep(0.05)
            except sqlite3.Error as exc:
                self._drop()
                raise _classify(self.path, exc) from None

    def _drop(self) -> None:
        """Close a connection that failed while being set up (if it was made)."""
        con = self.__dict__.pop("_con", None)
        if con is not None:
            con.close()

    def _connect(self, busy_timeout: float) -> None:
        self._con = sqlite3.connect(self.path, timeout=busy_timeout, isolation_level=None)
        self._con.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        self._con.execute("PRAGMA journal_mode = " + ("DELETE" if self.network_fs else "WAL"))
        self._con.execute("PRAGMA synchronous = NORMAL")
        self._con.executescript(_SCHEMA)
        self._con.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)",
                          (_SCHEMA_VERSION,))
        self._con.execute("SELECT count(*) FROM simulations").fetchone()

    def _open_readonly(self, busy_timeout: float, project: Any) -> None:
        """Open an existing index without writing anything (no schema, no journal change);
        as an immutable file on a folder this user cannot write, and on a full disk when
        there is no write-ahead log to replay."""
        self.network_fs = False
        try:
            empty = self.path.stat().st_size == 0
        except FileNotFoundError:
            empty = None
        if empty is not False:
            raise IndexMissing(f"no index at {self.path}"
                               + (" (the file is empty)" if empty else "")
                               + f": {_rebuild_hint(self.path, project)}")
        writable = os.access(self.path.parent, os.W_OK) and os.access(self.path, os.W_OK)
        try:
            self._connect_readonly(busy_timeout, immutable=not writable)
        except sqlite3.Error as exc:
            err = _classify(self.path, exc)
            if writable and disk_full(self.path) and _wal_empty(self.path):
                # a full disk: SQLite cannot make the shared-memory file a reader of a WAL
                # index needs; with no write-ahead log to replay, the file alone is the index
                self._drop()
                try:
                    self._connect_readonly(busy_timeout, immutable=True)
                    return
                except sqlite3.Error as again:
                    exc, err = again, _classify(self.path, again)
            if err.damaged:
                err = SimulationIndexError(f"index {self.path} is damaged ({exc}); it was left "
                                           f"as it is: {_rebuild_hint(self.path, project)}")
                err.damaged = True
            self._drop()
            raise err from None

    def _connect_readonly(self, busy_timeout: float, immutable: bool) -> None:
        """Connect read-only (as an immutable file: no locks, no shared memory, the
        write-ahead log ignored) and check that every page reads back."""
        from urllib.parse import quote

        uri = (f"file:{quote(str(self.path.resolve()))}?mode=ro"
               + ("&immutable=1" if immutable else ""))
        self._con = sqlite3.connect(uri, uri=True, timeout=busy_timeout, isolation_level=None)
        self._con.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        self._con.execute("SELECT count(*) FROM simulations").fetchone()
        _check_integrity(self._con)

    def check_integrity(self) -> None:
        """Raise :class:`SimulationIndexError` (``damaged``) unless every page of the file
        reads back."""
        try:
            _check_integrity(self._con)
        except sqlite3.DatabaseError as exc:
            raise _classify(self.path, exc) from None

    # -- plumbing -----------------------------------------------------------------------------
    def close(self) -> None:
        """Close the connection."""
        self._con.close()

    def __enter__(self) -> SimulationIndex:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taking the database write lock at its start.

        A transaction that fails (in its statements or at the commit) is rolled back; SQLite's
        operational errors (a full disk, a lock held too long, a read-only file) come out as
        one-line :class:`SimulationIndexError`.
        """
        con = self._con
        try:
            con.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise _classify(self.path, exc) from None
        try:
            yield con
            con.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            _rollback(con)
            raise _classify(self.path, exc) from None
        except BaseException:
            _rollback(con)
            raise

    @staticmethod
    def _row(row: Sequence[Any]) -> dict[str, Any]:
        out = dict(zip(_COLUMNS, row))
        out["receptor"] = unpack_receptor(out["receptor"]) if out["receptor"] else None
        out["outputs"] = json.loads(out["outputs"]) if out["outputs"] else []
        return out

    def meta(self, key: str) -> str | None:
        """A value of the index's ``meta`` table (None when absent)."""
        row = self._con.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def set_meta(self, key: str, value: str) -> None:
        """Set a value of the ``meta`` table."""
        with self._write() as con:
            con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    # -- registration -------------------------------------------------------------------------
    def register(self, rows: Iterable[Mapping[str, Any]], scene_id: str | None = None,
                 meta: Mapping[str, str] | None = None) -> list[str]:
        """Add simulations as pending; existing ids keep their state (scene_id is filled in).

        Rows go in by id order, in transactions of :data:`REGISTER_CHUNK` rows (another
        process waits for at most one of them); ``meta`` is written with the last one, so
        it is there only when every row is.

        Parameters
        ----------
        rows : iterable of mappings
            Each with ``sim_id``, ``met``, ``receptor`` (a JSON-ready mapping, or its
            :func:`pack_receptor` text) and optionally ``config_hash``.
        scene_id : str, optional
        meta : mapping of str to str, optional
            ``meta`` table entries written once every row is in.

        Returns
        -------
        list of str
            The ids, in the order given.
        """
        now = time.time()
        items = [(r["sim_id"], r["met"], r["receptor"] if isinstance(r["receptor"], str)
                  else pack_receptor(r["receptor"]), scene_id, r.get("config_hash"), now)
                 for r in rows]
        ids = [item[0] for item in items]
        items.sort()
        sql = ("INSERT INTO simulations (sim_id, met, receptor, scene_id, config_hash, state, "
               "registered_at) VALUES (?, ?, ?, ?, ?, 'pending', ?) ")
        sql += ("ON CONFLICT (sim_id) DO UPDATE SET scene_id = excluded.scene_id"
                if scene_id is not None else "ON CONFLICT (sim_id) DO NOTHING")
        self._con.execute(f"PRAGMA cache_size = {-_REGISTER_CACHE_KB}")
        for k in range(0, max(len(items), 1), REGISTER_CHUNK):
            with self._write() as con:
                con.executemany(sql, items[k:k + REGISTER_CHUNK])
                if meta and k + REGISTER_CHUNK >= len(items):
                    con.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                                    list(meta.items()))
        return ids

    def states(self, but_pending: bool = False) -> dict[str, str]:
        """The state of every simulation by id (``but_pending``: of those not pending): a
        light query for a million rows (no receptor decoded)."""
        where = " WHERE state IN ('running', 'complete', 'failed')" if but_pending else ""
        return dict(self._con.execute(f"SELECT sim_id, state FROM simulations{where}"))

    # -- claims -------------------------------------------------------------------------------
    def claim(self, owner: str, lease_seconds: float, limit: int = 1,
              sim_ids: Sequence[str] | None = None, scene_id: str | None = None,
              max_attempts: int = 3, pid: int | None = None) -> list[dict[str, Any]]:
        """Atomically claim up to ``limit`` simulations for ``owner``.

        Claimable: pending rows, and running rows whose lease expired or whose claiming
        process on this host is gone. A running row reclaimed after ``max_attempts`` attempts
        is marked failed (LEASE_EXPIRED or WORKER_DIED) instead.

        Returns
        -------
        list of dict
            The claimed rows (state ``running``, attempts incremented).
        """
        now = time.time()
        pid = os.getpid() if pid is None else pid
        claimed: list[dict[str, Any]] = []
        with self._write() as con:
            where, args = ["1"], []
            if scene_id is not None:
                where.append("scene_id = ?")
                args.append(scene_id)
            stale = con.execute(
                f"SELECT sim_id, host, pid, lease_expires, attempts, owner FROM simulations "
                f"WHERE state = 'running' AND {' AND '.join(where)}", args).fetchall()
            wanted = (None if sim_ids is None else sim_ids
                      if isinstance(sim_ids, (set, frozenset)) else set(sim_ids))
            for sim_id, host, wpid, lease, attempts, holder in stale:
                if wanted is not None and sim_id not in wanted:
                    continue
                expired = lease is not None and lease < now
                dead = host == self.host and not pid_alive(wpid)
                if not (expired or dead):
                    continue
                owner_host, owner_pid = _owner_pid(holder)
                if owner_host == self.host and not pid_alive(owner_pid):
                    # the run that claimed it is gone too (killed, or its machine rebooted):
                    # the simulation did nothing wrong, so the attempt is not counted
                    con.execute(
                        "UPDATE simulations SET state = 'pending', reason = 'INTERRUPTED', "
                        "attempts = max(attempts - 1, 0), message = ?, owner = NULL, "
                        "lease_expires = NULL WHERE sim_id = ?",
                        (f"the run that held it (pid {owner_pid} on {owner_host}) stopped "
                         "before it finished; not counted as an attempt", sim_id))
                    continue
                reason = "WORKER_DIED" if dead else "LEASE_EXPIRED"
                if attempts >= max_attempts:
                    con.execute(
                        "UPDATE simulations SET state = 'failed', reason = ?, message = ?, "
                        "finished_at = ?, owner = NULL, lease_expires = NULL WHERE sim_id = ?",
                        (reason, f"claim lost after {attempts} attempt(s) (worker pid {wpid} on "
                         f"{host} stopped without reporting)", now, sim_id))
                else:
                    con.execute(
                        "UPDATE simulations SET state = 'pending', reason = ?, message = ?, "
                        "owner = NULL, lease_expires = NULL WHERE sim_id = ?",
                        (reason, f"worker pid {wpid} on {host} stopped without reporting",
                         sim_id))
            for sim_id in self._pending(con, where, args, wanted, limit):
                con.execute(
                    "UPDATE simulations SET state = 'running', owner = ?, host = ?, pid = ?, "
                    "attempts = attempts + 1, started_at = ?, finished_at = NULL, "
                    "lease_expires = ? WHERE sim_id = ? AND state = 'pending'",
                    (owner, self.host, pid, now, now + lease_seconds, sim_id))
                row = con.execute(f"SELECT {', '.join(_COLUMNS)} FROM simulations "
                                  "WHERE sim_id = ?", (sim_id,)).fetchone()
                claimed.append(self._row(row))
        return claimed

    @staticmethod
    def _pending(con: sqlite3.Connection, where: list[str], args: list[Any],
                 wanted: set[str] | frozenset[str] | None, limit: int) -> list[str]:
        """Up to ``limit`` pending ids (of ``wanted``), in registration order. The rows are
        stepped through lazily, so a claim costs the same for ten or a million pending."""
        if limit <= 0:
            return []
        query = ("SELECT sim_id FROM simulations WHERE state = 'pending' AND "
                 + " AND ".join(where))
        if wanted is not None and len(wanted) <= _IN_LIST:
            few = sorted(wanted)
            query += f" AND sim_id IN ({', '.join('?' for _ in few)})"
            args = [*args, *few]
        out = []
        for (sim_id,) in con.execute(query + " ORDER BY rowid", args):
            if wanted is None or sim_id in wanted:
                out.append(sim_id)
                if len(out) >= limit:
                    break
        return out

    def set_worker(self, sim_id: str, owner: str, pid: int) -> None:
        """Record the process that actually runs a claimed simulation, and its start time."""
        with self._write() as con:
            con.execute("UPDATE simulations SET pid = ?, started_at = ? WHERE sim_id = ? "
                        "AND owner = ? AND state = 'running'",
                        (pid, time.time(), sim_id, owner))

    def renew(self, owner: str, sim_ids: Sequence[str], lease_seconds: float) -> int:
        """Extend the leases of ``owner``'s running claims; returns how many were renewed."""
        if not sim_ids:
            return 0
        expires = time.time() + lease_seconds
        n = 0
        with self._write() as con:
            for sim_id in sim_ids:
                n += con.execute("UPDATE simulations SET lease_expires = ? WHERE sim_id = ? "
                                 "AND owner = ? AND state = 'running'",
                                 (expires, sim_id, owner)).rowcount
        return n

    def complete(self, sim_id: str, owner: str | None, outputs: Sequence[str] = (),
                 duration: float | None = None, config_hash: str | None = None) -> bool:
        """Mark a claim complete (only while ``owner`` still holds it; None: unconditionally)."""
        now = time.time()
        cond, args = ("AND owner = ? AND state = 'running'", [owner]) if owner else ("", [])
        with self._write() as con:
            n = con.execute(
                "UPDATE simulations SET state = 'complete', reason = NULL, message = NULL, "
                "finished_at = ?, duration = ?, outputs = ?, owner = NULL, lease_expires = NULL, "
                f"config_hash = coalesce(?, config_hash) WHERE sim_id = ? {cond}",
                (now, duration, json.dumps(list(outputs)), config_hash, sim_id, *args)).rowcount
        return n > 0

    def fail(self, sim_id: str, owner: str | None, reason: str, message: str,
             max_attempts: int = 3, duration: float | None = None) -> str | None:
        """Record a failure of ``owner``'s claim.

        Retryable reasons (:data:`RETRYABLE_REASONS`) put the row back to pending while
        attempts remain. Returns the new state, or None when ``owner`` no longer held it.
        """
        now = time.time()
        with self._write() as con:
            cond, args = ("AND owner = ? AND state = 'running'", [owner]) if owner else ("", [])
            row = con.execute(f"SELECT attempts FROM simulations WHERE sim_id = ? {cond}",
                              (sim_id, *args)).fetchone()
            if row is None:
                return None
            state = (State.PENDING if reason in RETRYABLE_REASONS and row[0] < max_attempts
                     else State.FAILED)
            con.execute(
                "UPDATE simulations SET state = ?, reason = ?, message = ?, finished_at = ?, "
                "duration = ?, owner = NULL, lease_expires = NULL WHERE sim_id = ?",
                (state, reason, message[:4000], now, duration, sim_id))
        return state

    def release(self, sim_id: str, owner: str) -> bool:
        """Give a claim back without counting the attempt (the run was interrupted)."""
        with self._write() as con:
            n = con.execute(
                "UPDATE simulations SET state = 'pending', attempts = max(attempts - 1, 0), "
                "owner = NULL, lease_expires = NULL, reason = 'INTERRUPTED', "
                "message = 'run interrupted before this simulation finished' "
                "WHERE sim_id = ? AND owner = ? AND state = 'running'", (sim_id, owner)).rowcount
        return n > 0

    def reset(self, sim_ids: Sequence[str], from_states: Sequence[str],
              config_hash: str | None = None, attempts: bool = False) -> int:
        """Put rows back to pending, only if they are still in one of ``from_states``.

        Conditional on the observed state so that a concurrent run's progress is never undone.
        """
        if not sim_ids:
            return 0
        marks = ", ".join("?" for _ in from_states)
        n = 0
        with self._write() as con:
            for sim_id in sim_ids:
                n += con.execute(
                    "UPDATE simulations SET state = 'pending', reason = NULL, message = NULL, "
                    "config_hash = coalesce(?, config_hash), "
                    f"attempts = CASE WHEN ? THEN 0 ELSE attempts END "
                    f"WHERE sim_id = ? AND state IN ({marks})",
                    (config_hash, int(attempts), sim_id, *from_states)).rowcount
        return n

    def mark_complete(self, sim_ids: Sequence[str], config_hash: str | None = None) -> int:
        """Record simulations found complete on disk (pending or failed rows only)."""
        n = 0
        now = time.time()
        with self._write() as con:
            for sim_id in sim_ids:
                n += con.execute(
                    "UPDATE simulations SET state = 'complete', reason = NULL, message = NULL, "
                    "finished_at = coalesce(finished_at, ?), "
                    "config_hash = coalesce(?, config_hash) "
                    "WHERE sim_id = ? AND state IN ('pending', 'failed')",
                    (now, config_hash, sim_id)).rowcount
        return n

    # -- queries ------------------------------------------------------------------------------
    def get(self, sim_id: str) -> dict[str, Any] | None:
        """One row as a dict, or None."""
        row = self._con.execute(f"SELECT {', '.join(_COLUMNS)} FROM simulations "
                                "WHERE sim_id = ?", (sim_id,)).fetchone()
        return None if row is None else self._row(row)

    def rows(self, state: str | Sequence[str] | None = None,
             scene_id: str | None = None) -> list[dict[str, Any]]:
        """Rows, optionally filtered by state(s) and scene id, ordered by id."""
        where, args = _filters(state, scene_id)
        cur = self._con.execute(f"SELECT {', '.join(_COLUMNS)} FROM simulations WHERE "
                                f"{where} ORDER BY sim_id", args)
        return [self._row(r) for r in cur]

    def ids(self, state: str | Sequence[str] | None = None, scene_id: str | None = None,
            met: str | Sequence[str] | None = None) -> list[str]:
        """Simulation ids, optionally filtered by state(s), scene id and met(s), ordered."""
        where, args = _filters(state, scene_id)
        if met is not None:
            mets = [met] if isinstance(met, str) else list(met)
            where += f" AND met IN ({', '.join('?' for _ in mets)})"
            args.extend(mets)
        cur = self._con.execute(f"SELECT sim_id FROM simulations WHERE {where} "
                                "ORDER BY sim_id", args)
        return [r[0] for r in cur]

    def counts(self, scene_id: str | None = None) -> dict[str, int]:
        """Number of simulations in each state (every state present, zero when none)."""
        where, args = ("WHERE scene_id = ?", [scene_id]) if scene_id is not None else ("", [])
        out = dict.fromkeys(STATES, 0)
        for state, n in self._con.execute(
                f"SELECT state, count(*) FROM simulations {where} GROUP BY state", args):
            out[state] = n
        return out

    def failures(self, scene_id: str | None = None) -> dict[str, list[dict[str, Any]]]:
        """Failed rows grouped by reason class."""
        out: dict[str, list[dict[str, Any]]] = {}
        for row in self.rows(State.FAILED, scene_id):
            out.setdefault(row["reason"] or "UNKNOWN", []).append(row)
        return out

    # -- rebuild ------------------------------------------------------------------------------
    def rebuild(self, records: Iterable[Mapping[str, Any]], replace: bool = True) -> int:
        """Replace every row with ``records`` (status records read from the output tree).

        Each record needs ``sim_id``, ``met``, ``receptor`` and ``state``; running states are
        stored as pending (nobody holds a claim after a rebuild). ``replace=False`` only adds
        the simulations not in the index yet (rows another process wrote are kept).
        """
        verb = "INSERT OR REPLACE" if replace else "INSERT OR IGNORE"
        items = sorted(_rebuild_item(rec) for rec in records)
        self._con.execute(f"PRAGMA cache_size = {-_REGISTER_CACHE_KB}")
        with self._write() as con:
            if replace:
                con.execute("DELETE FROM simulations")
            con.executemany(
                f"{verb} INTO simulations (sim_id, met, receptor, scene_id, "
                "config_hash, state, reason, message, attempts, registered_at, started_at, "
                "finished_at, duration, host, pid, outputs) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", items)
        return len(items)


def _rebuild_item(rec: Mapping[str, Any]) -> tuple[Any, ...]:
    """The row values of one status record (running stored as pending)."""
    state = rec.get("state", State.PENDING)
    if state not in STATES or state == State.RUNNING:
        state = State.PENDING
    outputs = rec.get("outputs")
    return (rec["sim_id"], rec["met"], pack_receptor(rec["receptor"]), rec.get("scene_id"),
            rec.get("transport_hash"), state, rec.get("reason"), rec.get("message"),
            int(rec.get("attempts") or 0), rec.get("registered_at"), rec.get("started_at"),
            rec.get("finished_at"), rec.get("duration"), rec.get("host"), rec.get("pid"),
            json.dumps(outputs) if outputs else None)


_POINT_KEYS = ("time", "longitude", "latitude", "altitude")


def pack_receptor(receptor: Mapping[str, Any]) -> str:
    """The text the index stores for a receptor's ``to_dict()``: a point receptor as the
    JSON list ``[time, longitude, latitude, altitude]`` (``"msl"`` appended for heights
    above sea level), any other receptor as compact JSON. About 40 bytes a point instead
    of 130, which keeps a million registered simulations small."""
    if receptor.get("kind", "point") == "point" and set(receptor) <= {
            "kind", "altitude_ref", *_POINT_KEYS}:
        values = [receptor.get(k) for k in _POINT_KEYS]
        ref = receptor.get("altitude_ref", "agl")
        if ref == "agl" and type(values[0]) is str and values[0].isprintable() \
                and '"' not in values[0] and "\\" not in values[0] \
                and all(type(v) is float and math.isfinite(v) for v in values[1:]):
            return f'["{values[0]}",{values[1]!r},{values[2]!r},{values[3]!r}]'  # json's text
        return json.dumps(values if ref == "agl" else [*values, ref], separators=(",", ":"))
    return json.dumps(dict(receptor), separators=(",", ":"))


def unpack_receptor(text: str) -> dict[str, Any]:
    """The receptor mapping of :func:`pack_receptor` text (or of full JSON)."""
    data = json.loads(text)
    if isinstance(data, list):
        return {"kind": "point", **dict(zip(_POINT_KEYS, data)),
                "altitude_ref": data[4] if len(data) > 4 else "agl"}
    return data


def _move_aside(path: Path, tag: str) -> Path:
    """Rename the index file (and its -wal/-shm) to ``<name>.<tag>-<time>``; the new name."""
    aside = path.with_name(f"{path.name}.{tag}-{int(time.time())}")
    for suffix in ("", "-wal", "-shm"):
        src = Path(str(path) + suffix)
        if src.exists():
            os.replace(src, Path(str(aside) + suffix))
    return aside


def open_index(path: str | Path, rebuild_from: Any = None,
               notify: Callable[[str], None] | None = None) -> SimulationIndex:
    """Open the index for a command that writes (run, register, pull); repair it if needed.

    A damaged file (SQLite's quick check fails) is moved aside to
    ``index.sqlite.corrupt-<time>`` and a new index is rebuilt with ``rebuild_from()``; a
    missing or empty file is rebuilt the same way. Each repair is reported through
    ``notify`` (default: one line on stderr) naming what was done and where the old file went.
    Permission and lock problems are raised, never repaired.

    Parameters
    ----------
    path : str or Path
    rebuild_from : callable returning an iterable of status records, optional
        Called when the file had to be replaced or created; without it, a damaged file is
        raised as :class:`SimulationIndexError`.
    notify : callable, optional
        Receives the one-line report of a repair.
    """
    path = Path(path)
    notify = notify or notice
    missing = not path.exists() or (path.is_file() and path.stat().st_size == 0)
    index = None
    try:
        index = SimulationIndex(path)
        index.check_integrity()
    except SimulationIndexError as exc:
        if index is not None:
            index.close()
        if not exc.damaged or rebuild_from is None:
            raise
        why = getattr(exc, "reason", str(exc))
    else:
        if not missing or rebuild_from is None:
            return index
        records = list(rebuild_from())
        n = index.rebuild(records, replace=False)  # another process may be filling it too
        if any(r.get("state", State.PENDING) != State.PENDING
               for r in records):  # not a new project
            notify(f"no index at {path} (missing or empty): rebuilt it with {n} simulation(s) "
                   "from disk")
        return index
    aside = _move_aside(path, "corrupt")
    index = SimulationIndex(path)
    n = index.rebuild(rebuild_from())
    notify(f"index {path} was damaged ({why}): moved it to {aside.name} and rebuilt the "
           f"index with {n} simulation(s) from disk")
    return index


def live_claims(path: str | Path, now: float | None = None) -> list[dict[str, Any]] | None:
    """Running rows of an index whose claim is still held: a process alive on this host, or
    a lease not yet expired on another host. None when the index cannot be read."""
    try:
        index = SimulationIndex(path, readonly=True)
    except SimulationIndexError:
        return None
    try:
        rows = index.rows(State.RUNNING)
    except sqlite3.Error:
        return None
    finally:
        index.close()
    host = socket.gethostname()
    return [r for r in rows if claim_is_live(r, host, now)]


def rebuild_index(path: str | Path, records: Iterable[Mapping[str, Any]],
                  notify: Callable[[str], None] | None = None) -> tuple[SimulationIndex, int]:
    """Replace the index file with one built from ``records`` (the status records on disk).

    The new index is written to a temporary file beside the old one and renamed over it, so
    this works whatever the damage to the old file; a damaged old file is kept as
    ``index.sqlite.corrupt-<time>`` (reported through ``notify``). Refused while a live run
    holds claims in the old index (its progress would be lost and its simulations run twice).

    Returns
    -------
    (SimulationIndex, int)
        The new index, open, and the number of simulations in it.

    Raises
    ------
    SimulationIndexError
        A live run holds claims; or the new file cannot be written.
    """
    path = Path(path)
    for suffix in ("", "-wal", "-shm"):  # replaced below: never through a link
        inside(path.parent, path.name + suffix, what="index")
    notify = notify or notice
    old_readable = True
    if path.exists() and path.stat().st_size > 0:
        live = live_claims(path)
        if live is None:
            old_readable = False
        elif live:
            first = live[0]
            raise SimulationIndexError(
                f"index {path}: {len(live)} simulation(s) are held by a live run (e.g. "
                f"{first['sim_id']} by pid {first['pid']} on {first['host']}); stop that run "
                "or let it finish, then rebuild")
    tmp = path.with_name(f".{path.name}.rebuild-{os.getpid()}")
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(str(tmp) + suffix).unlink(missing_ok=True)
    try:
        new = SimulationIndex(tmp)
        n = new.rebuild(records)
        new.close()  # the last connection checkpoints and removes the -wal
        if not old_readable:
            aside = _move_aside(path, "corrupt")
            notify(f"index {path} could not be read: moved it to {aside.name}")
        for suffix in ("-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        publish(tmp, path)
    finally:
        for suffix in ("", "-wal", "-shm", "-journal", ".host"):
            Path(str(tmp) + suffix).unlink(missing_ok=True)
    return SimulationIndex(path), n


def _filters(state: str | Sequence[str] | None, scene_id: str | None) -> tuple[str, list[Any]]:
    """The WHERE text and arguments selecting state(s) and a scene."""
    where, args = ["1"], []
    if state is not None:
        states = [_check_state(s) for s in ([state] if isinstance(state, str) else state)]
        where.append(f"state IN ({', '.join('?' for _ in states)})")
        args.extend(states)
    if scene_id is not None:
        where.append("scene_id = ?")
        args.append(scene_id)
    return " AND ".join(where), args


def _check_state(state: str) -> str:
    if state not in STATES:
        raise ConfigError(f"state {state!r}: expected one of {', '.join(STATES)}")
    return state
