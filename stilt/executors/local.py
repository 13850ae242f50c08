"""The local executor: run claimed simulations inline or in a process pool on this machine.

``n_workers == 1`` runs each simulation in the calling process. ``n_workers > 1`` starts a
pool of N worker processes (:mod:`multiprocessing`, one pipe each rather than
:class:`multiprocessing.Pool`, whose shared task queue deadlocks when a worker is killed while
holding its lock); each simulation is one task, its result comes back to this (parent)
process, which alone updates the index. Workers are started by the ``forkserver`` method
(``spawn`` where there is none): a worker never inherits the parent's threads, locks or OpenMP
runtime (GNU OpenMP is not fork-safe), so it can run the core on several threads whatever the
parent did before. The server starts with the first pool of a process and imports stilt once
(``set_forkserver_preload``); each worker it forks then has stilt loaded and imports only the
program's main module (so a script must start a pool under ``if __name__ == "__main__":``;
a worker that ends before it is ready raises :class:`~stilt.errors.WorkerStartError`). Every
simulation is claimed in the index before it runs (so two runs on one project never run it
twice) and its lease is renewed while it runs.

- A per-simulation ``timeout`` raises inside the simulation; a worker that does not stop within
  a grace period is killed, and the simulation is recorded as failed (TIMEOUT).
- A worker that dies (``kill -9``, out of memory) is detected; its simulation goes back to
  pending (WORKER_DIED) until ``max_attempts`` is reached. Workers die with their parent.
- SIGINT/SIGTERM stop taking new work; simulations in flight are abandoned, their temporary
  files removed and their claims released, and the run reports ``interrupted``.
- One failing simulation never stops the others.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from stilt.errors import WorkerStartError
from stilt.executors._stop import StopSignals
from stilt.executors.base import ProjectModel, RunReport
from stilt.index import SimulationIndex
from stilt.simulation import (SimulationPaths, cleanup_temp, read_status, run_simulation,
                              write_status)
from stilt.states import State

if TYPE_CHECKING:  # pragma: no cover
    from stilt.config import ModelConfig

__all__ = ["LocalExecutor", "execute_local"]

_GRACE = 5.0  # seconds past the timeout before a worker is killed
#: what the forkserver imports once, so that a worker it forks has what a simulation imports
#: loaded already (not ``__main__``: each worker imports the program's main module itself)
_PRELOAD = ["stilt.executors.local", "stilt.transport", "stilt.footprint", "stilt.met.window",
            "stilt.trajectory_file", "netCDF4"]
#: a worker's first message: started, initializer run, waiting for work
_READY = "ready"


class _Progress:
    """A single updating progress line on a terminal; silent otherwise."""

    def __init__(self, total: int, stream: TextIO | None) -> None:
        self.total = total
        self.stream = stream
        self.t0 = time.time()
        self.last = 0.0

    def update(self, done: int, failed: int, force: bool = False) -> None:
        if self.stream is None or (not force and time.time() - self.last < 0.5):
            return
        self.last = time.time()
        elapsed = self.last - self.t0
        finished = done + failed
        rate = finished / elapsed * 60 if elapsed > 0 else 0.0
        remaining = max(self.total - finished, 0) if self.total else 0
        eta = f"{remaining / (rate / 60):.0f} s" if rate > 0 and self.total else "?"
        total = f"/{self.total}" if self.total else ""
        self.stream.write(f"\r{done}{total} done, {failed} failed, {remaining} remaining, "
                          f"{rate:.1f}/min, ETA {eta}   ")
        self.stream.flush()

    def close(self) -> None:
        if self.stream is not None:
            self.stream.write("\n")
            self.stream.flush()


class _Heartbeat(threading.Thread):
    """Renews the leases of the claims in flight every ``lease/3`` seconds."""

    def __init__(self, index_path: Path, owner: str, lease: float,
                 ids: Callable[[], list[str]]) -> None:
        super().__init__(daemon=True)
        self.index_path, self.owner, self.lease, self.ids = index_path, owner, lease, ids
        self.done = threading.Event()

    def run(self) -> None:
        index = None
        try:
            while not self.done.wait(self.lease / 3):
                if index is None:
                    index = SimulationIndex(self.index_path)
                index.renew(self.owner, self.ids(), self.lease)
        except Exception:  # the claims then expire and are retried: never crash the run
            pass
        finally:
            if index is not None:
                index.close()


# -- worker side ---------------------------------------------------------------------------
_WORKER: dict[str, Any] = {}


def _init_worker(index_path: str) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _WORKER["index_path"] = index_path
    if sys.platform.startswith("linux"):  # die with the forkserver, which dies with the parent
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
            if os.getppid() == 1:
                os._exit(1)
        except (OSError, AttributeError):
            pass


def _task(payload: dict[str, Any]) -> dict[str, Any]:
    index = _WORKER.get("index")
    if index is None:
        index = _WORKER["index"] = SimulationIndex(_WORKER["index_path"])
    index.set_worker(payload["sim_id"], payload["owner"], os.getpid())
    args = {k: v for k, v in payload.items() if k != "owner"}
    try:
        return run_simulation(**args)
    except Exception as exc:  # run_simulation records its own failures; this is a last resort
        return {"sim_id": payload["sim_id"], "state": State.FAILED, "reason": "ERROR",
                "message": f"{type(exc).__name__}: {exc}", "ran_transport": False,
                "footprints_run": [], "outputs": [], "duration": None,
                "transport_seconds": 0.0}


# -- parent side ---------------------------------------------------------------------------
@dataclass
class _Run:
    """What one :func:`execute_local` call shares with its inline or pool loop: who claims,
    which simulations, the report being filled and the claims in flight."""

    model: ProjectModel
    index: SimulationIndex
    config: ModelConfig
    owner: str
    wanted: frozenset[str] | None
    scene_id: str | None
    timeout: float | None
    report: RunReport
    bar: _Progress
    inflight: dict[str, dict[str, Any]] = field(default_factory=dict)

    def payload(self, row: dict[str, Any]) -> dict[str, Any]:
        """The keyword arguments of :func:`run_simulation` for ``row``, plus its owner."""
        return {"root": self.model.output, "project": self.model.project,
                "sim_id": row["sim_id"], "met": row["met"], "receptor": row["receptor"],
                "config": self.config, "attempt": row["attempts"],
                "scene_id": row["scene_id"], "timeout": self.timeout, "owner": self.owner}

    def record(self, row: dict[str, Any], res: dict[str, Any]) -> None:
        """Write a simulation's result to the index and the report."""
        sim_id = row["sim_id"]
        report = self.report
        report.transport_runs += int(bool(res.get("ran_transport")))
        report.footprint_runs += len(res.get("footprints_run") or [])
        report.transport_seconds += float(res.get("transport_seconds") or 0.0)
        report.footprint_seconds += float(res.get("footprint_seconds") or 0.0)
        if res["state"] == State.COMPLETE:
            self.index.complete(sim_id, self.owner, res.get("outputs") or [],
                                res.get("duration"), res.get("transport_hash"))
            report.completed.append(sim_id)
        else:
            state = self.index.fail(sim_id, self.owner, res.get("reason") or "ERROR",
                                    res.get("message") or "",
                                    self.config.execution.max_attempts, res.get("duration"))
            if state == State.FAILED:
                report.failed.append(sim_id)
                report.reasons[sim_id] = f"{res.get('reason')}: {res.get('message')}"
        self.bar.update(len(report.completed), len(report.failed))

    def claim(self, n: int) -> list[dict[str, Any]]:
        """Claim up to ``n`` runnable simulations in the index."""
        if n <= 0:
            return []
        execution = self.config.execution
        return self.index.claim(self.owner, execution.lease_seconds, limit=n,
                                sim_ids=self.wanted, scene_id=self.scene_id,
                                max_attempts=execution.max_attempts)

    def others_running(self) -> bool:
        """Whether another process is running one of the wanted simulations."""
        if self.wanted is None:
            return False
        return any(s in self.wanted for s in self.index.ids(State.RUNNING, self.scene_id))

    def abandon(self, sim_id: str, reason: str, message: str) -> None:
        """Record a simulation whose worker is gone, and remove its temporary files."""
        paths = SimulationPaths.of(self.model.output, sim_id)
        cleanup_temp(paths.folder)
        state = self.index.fail(sim_id, self.owner, reason, message,
                                self.config.execution.max_attempts)
        status = read_status(paths)
        if status is not None:
            status.update(state=state or State.FAILED, reason=reason, message=message,
                          finished_at=time.time())
            write_status(paths, status)
        if state == State.FAILED:
            self.report.failed.append(sim_id)
            self.report.reasons[sim_id] = f"{reason}: {message}"


def execute_local(model: ProjectModel, sim_ids: Sequence[str] | None = None,
                  scene_id: str | None = None, n_workers: int = 1,
                  timeout: float | None = None, follow: bool = False, poll: float = 2.0,
                  progress: TextIO | None = None,
                  initializer: Callable[..., object] | None = None,
                  initargs: tuple[Any, ...] = ()) -> RunReport:
    """Claim and run simulations of ``model`` until none is left (or until stopped).

    Parameters
    ----------
    model : stilt.Model
    sim_ids : sequence of str, optional
        Only these (a run); None: any registered simulation (a pull worker).
    scene_id : str, optional
        Only simulations of this scene.
    n_workers : int
        1 runs inline; more uses a process pool.
    timeout : float, optional
        Seconds per simulation.
    follow : bool
        Keep waiting for new registrations (a long-lived worker) until SIGINT/SIGTERM.
    poll : float
        Seconds between looks at the index while waiting.
    progress : text stream, optional
        Where to draw the progress line (None: quiet).
    initializer, initargs : optional
        Run once in each worker process (see :class:`LocalExecutor`).

    Returns
    -------
    RunReport

    Raises
    ------
    WorkerStartError
        A worker process ended before it was ready (its simulation goes back to pending).
    """
    index: SimulationIndex = model.index
    cfg = model.config
    owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    report = RunReport(requested=list(sim_ids or []))
    wanted = None if sim_ids is None else frozenset(sim_ids)  # one set for every claim
    total = len(report.requested) if wanted is not None else 0
    run = _Run(model, index, cfg, owner, wanted, scene_id, timeout, report,
               _Progress(total, progress))
    t0 = time.time()
    beat = _Heartbeat(index.path, owner, cfg.execution.lease_seconds, lambda: list(run.inflight))
    beat.start()
    try:
        if n_workers <= 1:
            _run_inline(run, follow, poll)
        else:
            _run_pool(run, _Pool(n_workers, str(index.path), initializer, initargs),
                      follow, poll)
    finally:
        beat.done.set()
        run.bar.update(len(report.completed), len(report.failed), force=True)
        run.bar.close()
    report.elapsed = time.time() - t0
    if wanted is not None:
        report.count_states(index.states(), list(wanted))
    else:
        report.counts = index.counts(scene_id)
    return report


class LocalExecutor:
    """The local backend (:class:`~stilt.executors.base.Executor`): :func:`execute_local`.

    Parameters
    ----------
    initializer : callable, optional
        Called as ``initializer(*initargs)`` once in each worker process of a pool
        (``n_workers > 1``) before its first simulation, as :class:`multiprocessing.Pool`'s
        (e.g. to set up logging). It and ``initargs`` are pickled, so it must be a function
        importable by name (defined in a module, not in a notebook cell or a ``lambda``).
        Not called for ``n_workers == 1`` (no worker process). The test suite uses it to put
        instrumented science functions into the workers (``tests/orch_fakes.py``).
    initargs : tuple
        Its arguments.
    """

    name = "local"

    def __init__(self, initializer: Callable[..., object] | None = None,
                 initargs: tuple[Any, ...] = ()) -> None:
        self.initializer = initializer
        self.initargs = tuple(initargs)

    def execute(self, model: ProjectModel, sim_ids: Sequence[str] | None = None, *,
                scene_id: str | None = None, n_workers: int = 1,
                timeout: float | None = None, follow: bool = False, poll: float = 2.0,
                progress: TextIO | None = None) -> RunReport:
        """Claim and run simulations here (see :func:`execute_local`)."""
        return execute_local(model, sim_ids, scene_id=scene_id, n_workers=n_workers,
                             timeout=timeout, follow=follow, poll=poll, progress=progress,
                             initializer=self.initializer, initargs=self.initargs)


def _run_inline(run: _Run, follow: bool, poll: float) -> None:
    inflight = run.inflight
    with StopSignals(raise_in_main=True) as stop:
        try:
            while not stop.flag:
                rows = run.claim(1)
                if not rows:
                    if follow or run.others_running():
                        with stop.interrupting():
                            time.sleep(poll)
                        continue
                    break
                row = rows[0]
                inflight[row["sim_id"]] = {"row": row}
                args = {k: v for k, v in run.payload(row).items() if k != "owner"}
                with stop.interrupting():
                    res = run_simulation(**args)
                inflight.pop(row["sim_id"], None)
                run.record(row, res)
        except KeyboardInterrupt:
            run.report.interrupted = True
            for sim_id in list(inflight):
                run.index.release(sim_id, run.owner)
                inflight.pop(sim_id, None)
        if stop.flag:
            run.report.interrupted = True


class _Worker:
    """One worker process with its own pipe (no lock shared with other workers, so a worker
    killed at any moment cannot block the rest, unlike multiprocessing.Pool's task queue)."""

    def __init__(self, ctx: Any, args: tuple[Any, ...]) -> None:
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker_main, args=(child, *args, dict(os.environ)),
                                daemon=True)
        self.proc.start()
        child.close()
        self.job: dict[str, Any] | None = None
        self.start = 0.0
        self.ready = False

    def receive(self) -> dict[str, Any] | None:
        """The result the worker has sent, if any (noting its ready message on the way)."""
        try:
            while self.conn.poll():
                message = self.conn.recv()
                if message != _READY:
                    return message
                self.ready = True
        except (EOFError, OSError):
            pass
        return None

    def kill(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(5)
        self.conn.close()


def _worker_main(conn: Any, index_path: str, initializer: Callable[..., object] | None,
                 initargs: tuple[Any, ...], environ: dict[str, str]) -> None:
    os.environ.clear()  # the caller's environment now, not the forkserver's at its start
    os.environ.update(environ)
    _init_worker(index_path)
    if initializer is not None:
        initializer(*initargs)
    conn.send(_READY)
    while True:
        try:
            payload = conn.recv()
        except (EOFError, OSError):
            return
        if payload is None:
            return
        conn.send(_task(payload))


def _run_pool(run: _Run, pool: _Pool, follow: bool, poll: float) -> None:
    from multiprocessing.connection import wait

    with StopSignals(raise_in_main=False) as stop:
        try:
            while True:
                if not stop.flag:
                    pool.dispatch(run)
                busy = [w for w in pool.workers if w.job is not None]
                if not busy:
                    if not stop.flag and (follow or run.others_running()):
                        time.sleep(poll)
                        continue
                    break
                if stop.flag:
                    break
                wait([w.conn for w in busy] + [w.proc.sentinel for w in busy], timeout=0.2)
                for w in busy:
                    pool.check(run, w)
        finally:
            pool.shutdown(run)
            if stop.flag:
                run.report.interrupted = True


def _context() -> Any:
    """The ``forkserver`` start method (``spawn`` where there is none), the server preloaded
    with stilt. Never ``fork``: a forked worker inherits the parent's threads, locks and
    OpenMP runtime (a parent that ran the core on several threads leaves GNU OpenMP unusable
    in its forked children)."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(_PRELOAD)  # no effect once this process's server runs
    return ctx


class _Pool:
    """The worker processes of one :func:`_run_pool` and what it does to them."""

    def __init__(self, n_workers: int, index_path: str,
                 initializer: Callable[..., object] | None = None,
                 initargs: tuple[Any, ...] = ()) -> None:
        self.ctx = _context()
        self.args = (index_path, initializer, tuple(initargs))
        self.workers = [_Worker(self.ctx, self.args) for _ in range(n_workers)]

    def replace(self, w: _Worker) -> None:
        """Kill ``w`` and start a fresh worker in its place."""
        w.kill()
        self.workers[self.workers.index(w)] = _Worker(self.ctx, self.args)

    def dispatch(self, run: _Run) -> None:
        """Claim one simulation for every idle worker and send it."""
        idle = [w for w in self.workers if w.job is None]
        if not idle:
            return
        for w, row in zip(idle, run.claim(len(idle))):
            w.job, w.start = row, time.time()
            run.inflight[row["sim_id"]] = {"row": row}
            try:
                w.conn.send(run.payload(row))
            except OSError:  # the worker is gone: check() finds out and says why
                pass

    def check(self, run: _Run, w: _Worker) -> None:
        """Record the result of busy worker ``w`` if there is one, or replace ``w`` if it died
        or ran past its timeout.

        Raises
        ------
        WorkerStartError
            ``w`` ended before it was ready for work; its simulation is released (pending).
        """
        row = w.job
        assert row is not None
        sim_id = row["sim_id"]
        res = w.receive()
        if res is not None:
            w.job = None
            run.inflight.pop(sim_id, None)
            run.record(row, res)
        elif not w.proc.is_alive():
            w.job = None
            run.inflight.pop(sim_id, None)
            if not w.ready:
                run.index.release(sim_id, run.owner)
                raise WorkerStartError(_start_failure(w.proc.exitcode))
            run.abandon(sim_id, "WORKER_DIED",
                        f"worker process {w.proc.pid} died while running it "
                        f"(exit code {w.proc.exitcode})")
            self.replace(w)
        elif run.timeout and time.time() - w.start > run.timeout + _GRACE:
            w.job = None
            run.inflight.pop(sim_id, None)
            pid = w.proc.pid
            w.kill()
            run.abandon(sim_id, "TIMEOUT",
                        f"exceeded the timeout of {run.timeout:g} s; worker {pid} killed")
            self.replace(w)

    def shutdown(self, run: _Run) -> None:
        """Stop every worker: release the claims still in flight, remove their temporary
        files, and mark the run interrupted if there were any."""
        for w in self.workers:
            if w.job is not None:
                sim_id = w.job["sim_id"]
                w.kill()
                cleanup_temp(SimulationPaths.of(run.model.output, sim_id).folder)
                run.index.release(sim_id, run.owner)
                run.inflight.pop(sim_id, None)
                run.report.interrupted = True
            else:
                try:
                    w.conn.send(None)
                except OSError:
                    pass
        for w in self.workers:
            w.proc.join(5)
            if w.proc.is_alive():
                w.kill()


def _start_failure(exitcode: int | None) -> str:
    """Why a worker that ended before it was ready did so, and what usually fixes it."""
    return (f"a worker process ended before it was ready for work (exit code {exitcode}; its "
            "error is printed above). Worker processes import the main module of the program "
            "again: a script must start a run with several workers under "
            "'if __name__ == \"__main__\":', and a LocalExecutor initializer must be a "
            "function importable by name")
