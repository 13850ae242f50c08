"""One Slurm array task: ``python -m stilt.executors.slurm_task RUN_DIR``.

The task reads the immutable run description written at submission (``run.json`` and the
config snapshot ``config.yaml``), starts ``processes`` worker processes, each running its
simulations with ``execution.threads_per_worker`` core threads (``task_plan`` in
:mod:`stilt.executors.slurm` splits ``cpus_per_task`` so), and each worker goes through the
run's simulations (starting at an offset of its own so workers rarely collide):

1. a simulation with a published status record, or complete on disk, is skipped (the login
   node folds complete outputs without a record as complete);
2. otherwise the worker creates a claim file (:mod:`stilt.claims`); a live claim of another
   worker is left alone, an expired one is taken over;
3. with the claim held (touched every ``lease/3`` s) it checks the outputs again, runs the
   simulation and publishes its status record.

Workers keep passing over the list while other workers hold live claims, so a claim left by
a killed worker is taken over once its lease expires. It reads and writes no SQLite.

SIGTERM (``--signal=B:TERM@120``, ``scancel``, preemption) stops taking work; a simulation in
flight is abandoned: its temporary files are removed (:func:`stilt.simulation.run_simulation`
does that) and its claim is given back. Finished outputs are never touched.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from stilt import claims
from stilt._paths import inside
from stilt.config import ModelConfig, load_config
from stilt.executors._stop import StopSignals
from stilt.executors.base import ProjectModel, RunReport
from stilt.executors.slurm import PULL_FOLDER
from stilt.simulation import SimulationPaths, needed_work, run_simulation
from stilt.states import State

__all__ = ["run_task", "main"]


def _ids() -> dict[str, Any]:
    env = os.environ
    return {"job_id": env.get("SLURM_ARRAY_JOB_ID") or env.get("SLURM_JOB_ID"),
            "task_id": env.get("SLURM_ARRAY_TASK_ID"), "slurm_job_id": env.get("SLURM_JOB_ID")}


def _say(text: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} pid {os.getpid()}: {text}", flush=True)


def _done_on_disk(root: Path, sim: dict[str, Any], config: ModelConfig) -> bool:
    paths = SimulationPaths.of(root, sim["sim_id"])
    need_traj, feet = needed_work(paths, config, sim["met"])
    return not need_traj and not feet


class _Visit(Enum):
    """What looking at one simulation in :func:`drain` came to."""

    NEXT = "next"  # done, skipped or failed here: go on to the next one
    HELD_ELSEWHERE = "held elsewhere"  # another worker holds a live claim on it
    INTERRUPTED = "interrupted"  # stopped while running it: the pass ends


@dataclass
class _Worker:
    """One worker of :func:`drain`: where the run's files are and what it has done so far."""

    root: Path
    project: Path
    config: ModelConfig
    claim_dir: Path
    record_dir: Path
    lease: float
    max_attempts: int
    timeout: float | None
    base: dict[str, Any]
    stop: StopSignals
    beat: claims.Heartbeat
    counts: dict[str, int] = field(default_factory=lambda: {
        "ran": 0, "skipped": 0, "failed": 0, "interrupted": 0})

    def visit(self, sim: dict[str, Any]) -> _Visit:
        """Skip ``sim`` if it is done, else claim it and run it (steps 1-3 of the module
        docstring)."""
        sim_id = sim["sim_id"]
        if claims.read_record(self.record_dir, sim_id) is not None:
            return _Visit.NEXT
        if _done_on_disk(self.root, sim, self.config):  # done (its worker may be publishing
            self.counts["skipped"] += 1                  # the record now): leave it alone
            return _Visit.NEXT
        held = claims.claim(self.claim_dir, sim_id, self.lease, self.max_attempts, self.base)
        if held is None:
            return _Visit.HELD_ELSEWHERE
        if held == claims.EXHAUSTED:
            self.give_up(sim_id)
            return _Visit.NEXT
        assert isinstance(held, claims.Claim)
        self.beat.held[sim_id] = held
        try:
            return self.run_held(sim, held)
        finally:
            self.beat.held.pop(sim_id, None)

    def give_up(self, sim_id: str) -> None:
        """Publish ``sim_id`` as failed: claimed ``max_attempts`` times, never reported."""
        last = claims.latest_claim(self.claim_dir, sim_id) or {}
        claims.write_record(self.record_dir, sim_id, {
            **self.base, "state": State.FAILED, "reason": "LEASE_EXPIRED",
            "message": f"claimed {self.max_attempts} time(s); the last holder (job "
                       f"{last.get('job_id')} task {last.get('task_id')}, host "
                       f"{last.get('host')} pid {last.get('pid')}) stopped without "
                       "reporting", "finished_at": time.time()})
        self.counts["failed"] += 1

    def run_held(self, sim: dict[str, Any], held: claims.Claim) -> _Visit:
        """With the claim ``held``: check the outputs again, run ``sim``, publish its record."""
        sim_id = sim["sim_id"]
        if claims.read_record(self.record_dir, sim_id) is not None:
            return _Visit.NEXT
        if _done_on_disk(self.root, sim, self.config):
            claims.write_record(self.record_dir, sim_id, {
                **self.base, "state": State.COMPLETE, "ran": False,
                "finished_at": time.time()})
            self.counts["skipped"] += 1
            return _Visit.NEXT
        _say(f"claim {held.number} of {sim_id}: running")
        try:
            with self.stop.interrupting():
                res = run_simulation(self.root, self.project, sim_id, sim["met"],
                                     sim["receptor"], self.config, attempt=held.number,
                                     scene_id=sim.get("scene_id"), timeout=self.timeout)
        except KeyboardInterrupt:
            claims.release(held)
            self.counts["interrupted"] += 1
            _say(f"{sim_id}: interrupted, claim given back, no record published")
            return _Visit.INTERRUPTED
        self.publish(sim_id, held, res)
        return _Visit.NEXT

    def publish(self, sim_id: str, held: claims.Claim, res: dict[str, Any]) -> None:
        """Write the status record of a simulation this worker ran, count it and say so."""
        claims.write_record(self.record_dir, sim_id, {
            **self.base, "state": res["state"], "reason": res.get("reason"),
            "message": res.get("message"), "attempt": held.number, "ran": True,
            "outputs": res.get("outputs") or [], "duration": res.get("duration"),
            "transport_hash": res.get("transport_hash"),
            "ran_transport": bool(res.get("ran_transport")),
            "footprints_run": list(res.get("footprints_run") or []),
            "finished_at": time.time()})
        self.counts["ran" if res["state"] == State.COMPLETE else "failed"] += 1
        _say(f"{sim_id}: {res['state']}"
             + (f" ({res.get('reason')}: {res.get('message')})"
                if res["state"] != State.COMPLETE else ""))


def _worker_order(run: dict[str, Any], worker: int, task: int) -> list[dict[str, Any]]:
    """The run's simulations starting at this worker's own offset (so workers rarely collide)."""
    sims = run["simulations"]
    slots = max(int(run["n_tasks"]) * int(run["processes"]), 1)
    start = ((task * int(run["processes"]) + worker) * len(sims)) // slots
    return sims[start:] + sims[:start]


def drain(run_dir: Path, run: dict[str, Any], config: ModelConfig, worker: int,
          stop: StopSignals) -> dict[str, int]:
    """One worker's loop over the run's simulations (see the module docstring).

    Returns
    -------
    dict
        Counts: ``ran``, ``skipped``, ``failed``, ``interrupted``.
    """
    lease = float(run["lease_seconds"])
    ids = _ids()
    order = _worker_order(run, worker, int(ids["task_id"] or 0))
    me = _Worker(Path(run["output"]), Path(run["project"]), config, run_dir / "claims",
                 run_dir / "records", lease, int(run["max_attempts"]), run.get("timeout"),
                 {**ids, "worker": worker}, stop, claims.Heartbeat(lease / 3))
    me.beat.start()
    try:
        while not stop.flag:
            others = False
            for sim in order:
                if stop.flag:
                    break
                visit = me.visit(sim)
                if visit == _Visit.INTERRUPTED:
                    break
                others = others or visit == _Visit.HELD_ELSEWHERE
            if not others or stop.flag:
                break
            time.sleep(min(max(lease / 4, 0.2), 5.0))  # live claims of others: look again
    finally:
        me.beat.stop()
    return me.counts


def _worker_main(run_dir: Path, run: dict[str, Any], worker: int) -> int:
    with StopSignals(raise_in_main=True) as stop:
        config = load_config(run_dir / "config.yaml")
        counts = drain(run_dir, run, config, worker, stop)
        _say(f"worker {worker} done: {counts}")
        return 143 if counts["interrupted"] or stop.flag else 0


def run_task(run_dir: str | Path) -> int:
    """Run one array task of the run in ``run_dir``; returns the process exit code.

    One worker runs in this process; with ``processes > 1`` the others are forked children.
    SIGTERM is passed on to the children. The exit code is 0 when every worker finished,
    143 when stopped by a signal, 1 when a worker died.
    """
    run_dir = Path(run_dir)
    run = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    n = int(os.environ.get("STILT_TASK_PROCESSES") or run["processes"])
    ids = _ids()
    _say(f"stilt array task {ids['job_id']}_{ids['task_id']} on {os.uname().nodename}: "
         f"{n} worker process(es) x {int(run.get('threads', 1))} thread(s), "
         f"{len(run['simulations'])} simulation(s) in the run")
    if n <= 1:
        return _worker_main(run_dir, run, 0)
    children: list[int] = []
    for worker in range(n):
        pid = os.fork()
        if pid == 0:  # child
            code = 1
            try:
                code = _worker_main(run_dir, run, worker)
            finally:
                sys.stdout.flush()
                os._exit(code)
        children.append(pid)

    def forward(signum: int, frame: Any) -> None:
        for pid in children:
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    worst = 0
    for pid in children:
        while True:
            try:
                _, status = os.waitpid(pid, 0)
                break
            except InterruptedError:
                continue
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            _say(f"worker pid {pid} ended with {code}")
            worst = max(worst, 143 if code == 143 else 1)
    return worst


def _registered(model: ProjectModel, scene_id: str | None) -> list[dict[str, Any]]:
    """Registered simulations not yet complete, read without the index: the stored receptors
    x the config's mets, less those whose status record on disk is complete or failed."""
    out = []
    for rec in model.records_on_disk(fresh=True):
        if rec.get("state") in (State.COMPLETE, State.FAILED):
            continue
        if scene_id is not None and rec.get("scene_id") != scene_id:
            continue
        out.append({"sim_id": rec["sim_id"], "met": rec["met"], "receptor": rec["receptor"],
                    "scene_id": rec.get("scene_id")})
    return out


def pull_registered(model: ProjectModel, follow: bool = False, poll: float = 2.0,
                    n_workers: int = 1, timeout: float | None = None,
                    scene_id: str | None = None) -> RunReport:
    """A pull worker that needs no index: ``stilt pull``/``serve`` inside a Slurm job.

    It takes the registered simulations from the stored receptors and config, less those
    whose status record on disk is complete or failed (:mod:`stilt.registration`),
    coordinates with every other such worker through claim
    files in ``<output>/slurm/pull/`` and publishes status records there, which ``stilt
    status`` on the login node folds into the index. With ``follow`` it looks for new
    registrations every ``poll`` seconds until SIGTERM/SIGINT (``scancel``, the time limit's
    ``--signal``).

    Returns
    -------
    RunReport
    """
    run_dir = inside(model.output, "slurm", PULL_FOLDER, what="Slurm pull folder")
    ex = model.config.execution
    report = RunReport()
    t0 = time.time()
    with StopSignals(raise_in_main=True) as stop:
        while not stop.flag:
            sims = _registered(model, scene_id)
            run = {"output": str(model.output), "project": str(model.project),
                   "simulations": sims, "n_tasks": 1, "processes": max(n_workers, 1),
                   "lease_seconds": ex.lease_seconds, "max_attempts": ex.max_attempts,
                   "timeout": timeout}
            counts = drain(run_dir, run, model.config, 0, stop) if sims else {}
            report.transport_runs += counts.get("ran", 0)
            for state, key in ((State.COMPLETE, "ran"), (State.FAILED, "failed")):
                report.counts[state] = report.counts.get(state, 0) + counts.get(key, 0)
            if counts.get("failed"):
                report.failed.append(f"{counts['failed']} simulation(s)")
            if not follow:
                break
            end = time.time() + poll
            while time.time() < end and not stop.flag:
                time.sleep(min(0.2, poll))
    report.interrupted = stop.flag
    report.elapsed = time.time() - t0
    return report


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m stilt.executors.slurm_task RUN_DIR``."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m stilt.executors.slurm_task RUN_DIR", file=sys.stderr)
        return 2
    return run_task(argv[0])


if __name__ == "__main__":
    sys.exit(main())
