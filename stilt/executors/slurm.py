"""The Slurm executor: one ``sbatch`` job array per run, submitted from the login node.

On the login node :func:`execute_slurm` only writes the run's inputs and calls ``sbatch`` once;
no simulation work happens there. A run lives in ``<output>/slurm/<run_id>/``::

    run.json       the simulations of the run and how to run them (immutable)
    config.yaml    the config snapshot the tasks use (immutable)
    job.sbatch     the batch script (every value validated and shell-quoted)
    submit.json    job id, array spec, submission time
    claims/        claim files of the workers (stilt.claims)
    records/       per-simulation status records published by the workers
    logs/          one log per array task, ``%A_%a.out``
    folded.json    written once the array was terminal and its results were folded into the index

The array tasks (:mod:`stilt.executors.slurm_task`) read no SQLite. The login node folds the
records and the scheduler's terminal states (``sacct``; ``squeue``/``scontrol`` where
accounting is off) into the index: complete outputs -> complete, a published failure -> failed
with its reason, an unfinished simulation of an array whose task ended in anything but
COMPLETED -> failed with that state (FAILED, TIMEOUT, OUT_OF_MEMORY, NODE_FAIL, PREEMPTED,
CANCELLED ...). A run folder is never deleted by stilt.
"""

from __future__ import annotations

import json
import math
import re
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from stilt import claims
from stilt._paths import inside
from stilt.config import (SBATCH_KEY, SlurmConfig, check_sbatch_value, save_config,
                          write_text_atomic)
from stilt.errors import ConfigError, StiltError
from stilt.executors.base import ProjectModel, RunReport
from stilt.simulation import SimulationPaths, needed_work
from stilt.states import State

__all__ = ["SlurmError", "SlurmRun", "SlurmExecutor", "execute_slurm", "render_script",
           "parse_sacct", "parse_squeue", "parse_scontrol", "job_states", "wait_for", "fold_runs",
           "live_runs", "TERMINAL_STATES", "FIRST_POLL"]

#: Slurm job states after which a job never runs again
TERMINAL_STATES = frozenset({"COMPLETED", "FAILED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL",
                             "PREEMPTED", "CANCELLED", "BOOT_FAIL", "DEADLINE", "REVOKED",
                             "SPECIAL_EXIT"})
_CMD_TIMEOUT = 60.0  # seconds one scheduler command may take before it counts as a time-out
#: seconds before the first look at a submitted array (:func:`wait_for` doubles it up to
#: ``execution.slurm.poll_seconds``)
FIRST_POLL = 1.0


class SlurmError(StiltError):
    """sbatch refused the job, or Slurm's commands are missing."""


@dataclass
class SlurmRun:
    """A submitted run: its folder, job id and array size."""

    folder: Path
    job_id: str
    n_tasks: int
    sim_ids: list[str] = field(default_factory=list)


def _run_cmd(argv: list[str], timeout: float | None = None
             ) -> subprocess.CompletedProcess | None:
    """Run a scheduler command; None when it is missing or timed out (tolerated by callers)."""
    try:
        return subprocess.run(argv, capture_output=True, text=True,
                              timeout=_CMD_TIMEOUT if timeout is None else timeout)
    except (FileNotFoundError, subprocess.TimeoutExpired, OSError):
        return None


# -- submission ------------------------------------------------------------------------------
def _max_array_size() -> int:
    """``MaxArraySize`` of the cluster (``scontrol show config``); 1001 when unknown."""
    res = _run_cmd(["scontrol", "show", "config"], timeout=30)
    if res is not None and res.returncode == 0:
        m = re.search(r"^MaxArraySize\s*=\s*(\d+)", res.stdout, re.M)
        if m:
            return int(m.group(1))
    return 1001


def task_plan(slurm: SlurmConfig, threads: int = 1) -> tuple[int, int]:
    """How an array task uses its ``cpus_per_task``: (worker processes, threads per worker).

    Each worker runs its simulations with ``threads`` core threads
    (``execution.threads_per_worker``); the task starts ``processes_per_task`` workers, or by
    default as many as fit, ``cpus_per_task // threads`` (at least 1). So ``cpus_per_task: 8``
    runs 8 single-threaded workers, and with ``threads_per_worker: 4`` 2 workers of 4 threads.

    Raises
    ------
    ConfigError
        When one worker's threads are more than the task's CPUs.
    """
    if threads > slurm.cpus_per_task:
        raise ConfigError(f"execution threads_per_worker {threads} is more than execution "
                          f"slurm cpus_per_task {slurm.cpus_per_task}: each task's workers "
                          "share its CPUs (raise cpus_per_task or lower threads_per_worker)")
    processes = slurm.processes_per_task or max(slurm.cpus_per_task // threads, 1)
    return processes, threads


def render_script(slurm: SlurmConfig, run_dir: Path, n_tasks: int, job_name: str,
                  python: str | None = None, threads: int = 1) -> str:
    """The batch script of a run.

    Every ``#SBATCH`` key is validated (``^[a-z][a-z0-9-]*$``) and every value is refused when
    it holds a newline, carriage return or NUL, then shell-quoted; so are the paths of the
    command line. Nothing secret goes into it (the environment is inherited by sbatch).
    ``OMP_NUM_THREADS`` is set to ``threads``, the threads of one worker, and
    ``OPENBLAS_NUM_THREADS`` to 1 unless the environment sets it (stilt makes no BLAS calls).
    """
    options: list[tuple[str, str]] = [("job-name", job_name)]
    spec = f"0-{n_tasks - 1}" + (f"%{slurm.max_parallel}" if slurm.max_parallel else "")
    options.append(("array", spec))
    options.append(("cpus-per-task", str(slurm.cpus_per_task)))
    options.append(("output", str(run_dir / "logs" / "%A_%a.out")))
    if slurm.signal_seconds:
        options.append(("signal", f"B:TERM@{slurm.signal_seconds}"))
    for key in ("account", "partition", "time", "mem", "qos"):
        value = getattr(slurm, key)
        if value is not None:
            options.append((key, value))
    options.extend(slurm.extra.items())
    lines = ["#!/bin/bash", "# written by stilt: one array task runs python -m "
             "stilt.executors.slurm_task on this run's folder"]
    for key, value in options:
        if not SBATCH_KEY.fullmatch(key):
            raise SlurmError(f"sbatch option {key!r}: expected a name matching ^[a-z][a-z0-9-]*$")
        lines.append(f"#SBATCH --{key}={shlex.quote(check_sbatch_value(key, value))}")
    lines.append("set -eu")
    lines.extend(slurm.setup)
    lines.append(f"export OMP_NUM_THREADS={int(threads)}")  # the threads of one worker
    # stilt makes no BLAS calls: numpy's OpenBLAS need not start (and spin) a thread per core
    lines.append("export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}")
    lines.append(f"exec {shlex.quote(python or sys.executable)} -m stilt.executors.slurm_task "
                 f"{shlex.quote(str(run_dir))}")
    return "\n".join(lines) + "\n"


def _todo(model: ProjectModel, sim_ids: list[str]) -> list[dict[str, Any]]:
    rows = {r["sim_id"]: r for r in model.index.rows()}
    busy = {s for run in live_runs(model.output) for s in run.sim_ids}
    out = []
    for sim_id in sim_ids:
        row = rows.get(sim_id)
        if row is None or row["state"] in (State.COMPLETE, State.FAILED):
            continue
        if sim_id in busy:  # still queued or running in an earlier, live array
            continue
        out.append({"sim_id": sim_id, "met": row["met"], "receptor": row["receptor"],
                    "scene_id": row["scene_id"]})
    return out


def submit(model: ProjectModel, sims: list[dict[str, Any]], slurm: SlurmConfig,
           timeout: float | None = None) -> SlurmRun:
    """Write a run folder for ``sims`` and submit its array with one ``sbatch`` call."""
    if shutil.which("sbatch") is None:
        raise SlurmError("execution backend 'slurm': the sbatch command is not on PATH (run "
                         "this on a Slurm login node, or use backend 'local')")
    ex = model.config.execution
    processes, threads = task_plan(slurm, ex.threads_per_worker)
    per_task = slurm.sims_per_task
    n_tasks = max(1, math.ceil(len(sims) / per_task))
    n_tasks = min(n_tasks, _max_array_size())
    run_id = time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + "-" + uuid.uuid4().hex[:6]
    run_dir = inside(model.output, "slurm", run_id, what="Slurm run folder")
    for sub in ("claims", "records", "logs"):
        (run_dir / sub).mkdir(parents=True, exist_ok=True)
    run = {"run_id": run_id, "project": str(model.project), "output": str(model.output),
           "simulations": sims, "n_tasks": n_tasks, "processes": processes,
           "threads": threads,
           "lease_seconds": ex.lease_seconds, "max_attempts": ex.max_attempts,
           "timeout": timeout if timeout is not None else ex.timeout}
    save_config(model.config, run_dir / "config.yaml")
    write_text_atomic(run_dir / "run.json", json.dumps(run, indent=1))
    script = render_script(slurm, run_dir, n_tasks, f"stilt-{model.project.name}"[:60],
                           threads=threads)
    write_text_atomic(run_dir / "job.sbatch", script)
    res = _run_cmd(["sbatch", "--parsable", str(run_dir / "job.sbatch")], timeout=120)
    if res is None:
        raise SlurmError("sbatch did not answer within 120 s (the run folder "
                         f"{run_dir} is kept; check squeue before submitting again)")
    if res.returncode != 0:
        raise SlurmError(f"sbatch refused the job: {res.stderr.strip() or res.stdout.strip()}")
    job_id = res.stdout.strip().split(";")[0].strip()
    if not job_id.isdigit():
        raise SlurmError(f"sbatch answered {res.stdout.strip()!r}: expected a job id")
    write_text_atomic(run_dir / "submit.json", json.dumps(
        {"job_id": job_id, "n_tasks": n_tasks, "submitted_at": time.time(),
         "sim_ids": [s["sim_id"] for s in sims]}, indent=1))
    return SlurmRun(run_dir, job_id, n_tasks, [s["sim_id"] for s in sims])


# -- scheduler states ------------------------------------------------------------------------
def _norm_state(text: str) -> str:
    """``CANCELLED by 0`` -> ``CANCELLED``; ``OUT_OF_ME+`` (narrow columns) -> ``OUT_OF_MEMORY``."""
    state = text.strip().split(" ")[0].rstrip("+").upper()
    if state.startswith("OUT_OF_ME"):
        return "OUT_OF_MEMORY"
    return state


def _expand(job_id: str, key: str, n_tasks: int) -> list[int]:
    """Array task ids of a sacct/squeue id (``123_4``, ``123_[5-7,9%2]``; ``123``: all)."""
    if key == job_id:
        return list(range(n_tasks))
    if not key.startswith(f"{job_id}_"):
        return []
    tail = key[len(job_id) + 1:]
    if tail.isdigit():
        return [int(tail)]
    tail = tail.strip("[]").split("%")[0]
    out: list[int] = []
    for part in tail.split(","):
        if "-" in part:
            lo, hi = part.split("-", 1)
            if lo.isdigit() and hi.isdigit():
                out.extend(range(int(lo), int(hi) + 1))
        elif part.isdigit():
            out.append(int(part))
    return out


def parse_sacct(text: str, job_id: str, n_tasks: int) -> dict[int, str]:
    """States of the array tasks from ``sacct -j JOB --format=JobID,State,ExitCode
    --parsable2 --noheader`` (job steps such as ``123_4.batch`` are ignored)."""
    out: dict[int, str] = {}
    for line in text.splitlines():
        parts = line.strip().split("|")
        if len(parts) < 2 or "." in parts[0]:
            continue
        for task in _expand(job_id, parts[0].strip(), n_tasks):
            out[task] = _norm_state(parts[1])
    return out


def parse_squeue(text: str, job_id: str, n_tasks: int) -> dict[int, str]:
    """States from ``squeue -j JOB -h -r -o '%i %T'`` (one line per array task)."""
    out: dict[int, str] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2:
            for task in _expand(job_id, parts[0], n_tasks):
                out[task] = _norm_state(parts[1])
    return out


def parse_scontrol(text: str, job_id: str, n_tasks: int) -> dict[int, str]:
    """States from ``scontrol -o show job JOB`` (one line per array task record)."""
    out: dict[int, str] = {}
    for line in text.splitlines():
        fields = dict(re.findall(r"(\w+)=(\S*)", line))
        if fields.get("ArrayJobId") != job_id or "JobState" not in fields:
            continue
        for task in _expand(job_id, f"{job_id}_{fields.get('ArrayTaskId', '')}", n_tasks):
            out[task] = _norm_state(fields["JobState"])
    return out


def job_states(job_id: str, n_tasks: int) -> dict[int, str] | None:
    """The state of every array task, or None when the controller did not answer.

    ``sacct`` first (what a production cluster with accounting has); tasks it does not know
    are looked up with ``squeue`` (live tasks) and ``scontrol`` (recently finished ones, on
    clusters without accounting). A task no command knows is left out.
    """
    states: dict[int, str] = {}
    answered = False
    res = _run_cmd(["sacct", "-j", job_id, "--format=JobID,State,ExitCode", "--parsable2",
                    "--noheader"])
    if res is not None and res.returncode == 0:
        answered = True
        states.update(parse_sacct(res.stdout, job_id, n_tasks))
    if len(states) < n_tasks or any(s not in TERMINAL_STATES for s in states.values()):
        res = _run_cmd(["squeue", "-j", job_id, "-h", "-r", "-o", "%i %T"])
        if res is not None and (res.returncode == 0 or "Invalid job id" in res.stderr):
            answered = True
            states.update(parse_squeue(res.stdout, job_id, n_tasks))
        missing = [t for t in range(n_tasks) if t not in states]
        if missing:
            res = _run_cmd(["scontrol", "-o", "show", "job", job_id])
            if res is not None and (res.returncode == 0 or "Invalid job id" in res.stderr):
                answered = True
                for task, state in parse_scontrol(res.stdout, job_id, n_tasks).items():
                    states.setdefault(task, state)
    return states if answered else None


def wait_for(job_id: str, n_tasks: int, poll: float, progress: TextIO | None = None,
             max_unknown: int = 3) -> dict[int, str]:
    """Poll until every array task is in a terminal state; returns the states.

    The first look is after ``FIRST_POLL`` seconds, each later one twice as long after the
    previous, up to ``poll`` (a short array is seen ending soon; a long one costs the
    controller one query per ``poll`` seconds). Controller time-outs and errors are tolerated
    (polling goes on). A task that no command knows any more for ``max_unknown`` polls in a
    row (purged from a cluster without accounting) is reported as ``UNKNOWN``.
    """
    unknown = 0
    delay = min(FIRST_POLL, poll)
    while True:
        states = job_states(job_id, n_tasks)
        if states is not None:
            missing = [t for t in range(n_tasks) if t not in states]
            if missing:
                unknown += 1
            else:
                unknown = 0
            if missing and unknown >= max_unknown:
                for t in missing:
                    states[t] = "UNKNOWN"
                missing = []
            if not missing and all(s in TERMINAL_STATES or s == "UNKNOWN"
                                   for s in states.values()):
                return states
            if progress is not None:
                summary: dict[str, int] = {}
                for s in states.values():
                    summary[s] = summary.get(s, 0) + 1
                progress.write(f"job {job_id}: " + ", ".join(
                    f"{n} {s}" for s, n in sorted(summary.items())) + "\n")
                progress.flush()
        elif progress is not None:
            progress.write(f"job {job_id}: the controller did not answer; polling on\n")
            progress.flush()
        time.sleep(delay)
        delay = min(2.0 * delay, poll)


# -- folding into the index ------------------------------------------------------------------
def _runs(output: Path) -> list[Path]:
    base = Path(output) / "slurm"
    if not base.is_dir():
        return []
    return sorted(p for p in base.iterdir() if p.name != PULL_FOLDER
                  and (p / "submit.json").is_file())


def _submission(run_dir: Path) -> dict[str, Any]:
    return json.loads((run_dir / "submit.json").read_text(encoding="utf-8"))


def live_runs(output: Path) -> list[SlurmRun]:
    """Submitted runs not yet folded (their arrays may still be queued or running)."""
    out = []
    for run_dir in _runs(output):
        if (run_dir / "folded.json").exists():
            continue
        sub = _submission(run_dir)
        out.append(SlurmRun(run_dir, sub["job_id"], int(sub["n_tasks"]), list(sub["sim_ids"])))
    return out


#: the claims and records of file-based pull workers (``stilt pull``/``serve`` in Slurm jobs)
PULL_FOLDER = "pull"


def fold_records(model: ProjectModel, folder: Path) -> dict[str, dict[str, Any]]:
    """Fold the published status records in ``folder`` into the index; returns them.

    A complete record counts only when the outputs on disk are complete for the current
    config; a failed record marks a pending row failed with its reason.
    """
    index, config = model.index, model.config
    records = claims.read_records(folder)
    if not records:
        return records
    states = index.states()  # light: a million rows are not decoded at each fold
    for sim_id, rec in records.items():
        state = states.get(sim_id)
        if state is None or state == State.RUNNING:
            continue
        if rec.get("state") == State.COMPLETE and state != State.COMPLETE:
            paths = SimulationPaths.of(model.output, sim_id)
            if needed_work(paths, config, index.get(sim_id)["met"]) == (False, []):
                index.complete(sim_id, None, rec.get("outputs") or [], rec.get("duration"),
                               rec.get("transport_hash"))
        elif rec.get("state") == State.FAILED and state == State.PENDING:
            index.fail(sim_id, None, rec.get("reason") or "ERROR",
                       f"{rec.get('message') or ''} (job {rec.get('job_id')}_"
                       f"{rec.get('task_id')})", 0)
    return records


def fold_runs(model: ProjectModel, states: dict[str, dict[int, str]] | None = None,
              query: bool = True) -> dict[str, Any]:
    """Fold the records of every unfolded run into the index.

    Published records are folded at once. When a run's array is terminal (``states`` given
    for its job id, or read from the scheduler when ``query``), its unfinished simulations are
    marked failed with the terminal state of the task that held them (or the array's first
    non-COMPLETED state), and the run is marked folded.

    Returns
    -------
    dict
        ``live``: job ids still queued or running; ``folded``: job ids folded now.
    """
    index = model.index
    config = model.config
    summary: dict[str, Any] = {"live": [], "folded": []}
    fold_records(model, Path(model.output) / "slurm" / PULL_FOLDER / "records")
    for run in live_runs(model.output):
        records = fold_records(model, run.folder / "records")
        task_states = (states or {}).get(run.job_id)
        if task_states is None and query:
            found = job_states(run.job_id, run.n_tasks)
            if found is not None and len(found) == run.n_tasks and all(
                    s in TERMINAL_STATES for s in found.values()):
                task_states = found
        if task_states is None:
            summary["live"].append(run.job_id)
            continue
        bad = sorted({s for s in task_states.values() if s != "COMPLETED"})
        states = index.states()
        for sim_id in run.sim_ids:
            if states.get(sim_id) != State.PENDING or sim_id in records:
                continue
            paths = SimulationPaths.of(model.output, sim_id)
            if needed_work(paths, config, index.get(sim_id)["met"]) == (False, []):
                index.mark_complete([sim_id])
                continue
            last = claims.latest_claim(run.folder / "claims", sim_id) or {}
            task = last.get("task_id")
            state = task_states.get(int(task)) if task is not None and str(task).isdigit() \
                else None
            if state is None or state == "COMPLETED":
                state = bad[0] if bad else "MISSING"
            where = (f"array task {run.job_id}_{task}" if task is not None
                     else f"job {run.job_id} (never started)")
            index.fail(sim_id, None, state,
                       f"unfinished when {where} ended {state}; rerun with "
                       "'stilt run DIR --retry-failed' (optionally --mem/--time)", 0)
        write_text_atomic(run.folder / "folded.json", json.dumps(
            {"folded_at": time.time(), "states": {str(k): v for k, v in task_states.items()}}))
        summary["folded"].append(run.job_id)
    return summary


# -- the executor ----------------------------------------------------------------------------
@dataclass(frozen=True)
class SlurmExecutor:
    """The slurm backend (:class:`~stilt.executors.base.Executor`): :func:`execute_slurm`.

    Parameters
    ----------
    slurm : SlurmConfig, optional
        Overrides ``config.execution.slurm`` (``--mem``/``--time`` of the CLI).
    wait : bool
        Wait for the array to end and fold its results before returning.
    """

    slurm: SlurmConfig | None = None
    wait: bool = False
    name = "slurm"

    def execute(self, model: ProjectModel, sim_ids: Sequence[str] | None = None, *,
                scene_id: str | None = None, n_workers: int = 1,
                timeout: float | None = None, follow: bool = False, poll: float = 2.0,
                progress: TextIO | None = None) -> RunReport:
        """Submit the simulations still to do as one job array (see :func:`execute_slurm`)."""
        return execute_slurm(model, None if sim_ids is None else list(sim_ids),
                             scene_id=scene_id, n_workers=n_workers, timeout=timeout,
                             follow=follow, poll=poll, progress=progress, wait=self.wait,
                             slurm=self.slurm)


def execute_slurm(model: ProjectModel, sim_ids: list[str] | None = None,
                  scene_id: str | None = None, n_workers: int = 1,
                  timeout: float | None = None, follow: bool = False, poll: float = 2.0,
                  progress: TextIO | None = None, wait: bool = False,
                  slurm: SlurmConfig | None = None) -> RunReport:
    """Submit the simulations still to do as one job array; return at once unless ``wait``.

    Parameters
    ----------
    model : stilt.Model
    sim_ids : list of str
        The simulations the run is about (complete, failed and already-submitted ones are
        left out of the array).
    wait : bool
        Poll the scheduler (every ``slurm.poll_seconds``) until the array is terminal, then
        fold the results into the index.
    slurm : SlurmConfig, optional
        Overrides ``config.execution.slurm`` (``--mem``/``--time`` of the CLI).

    Returns
    -------
    RunReport
        With ``job_id`` set when an array was submitted.
    """
    if sim_ids is None:
        raise SlurmError("the slurm backend runs the simulations of a run; for a long-lived "
                         "worker submit 'stilt serve DIR' as a Slurm job (docs/hpc.md)")
    slurm = slurm or model.config.execution.slurm
    fold_runs(model)
    t0 = time.time()
    report = RunReport(requested=list(sim_ids))
    sims = _todo(model, list(sim_ids))
    if sims:
        run = submit(model, sims, slurm, timeout)
        report.job_id, report.run_dir = run.job_id, run.folder
        report.submitted = [s["sim_id"] for s in sims]
        if wait:
            states = wait_for(run.job_id, run.n_tasks, slurm.poll_seconds, progress)
            fold_runs(model, {run.job_id: states}, query=False)
            report.task_states = states
            for rec in claims.read_records(run.folder / "records").values():
                report.transport_runs += int(bool(rec.get("ran_transport")))
                report.footprint_runs += len(rec.get("footprints_run") or [])
    elif wait:
        for run in live_runs(model.output):
            if set(run.sim_ids) & set(sim_ids):
                states = wait_for(run.job_id, run.n_tasks, slurm.poll_seconds, progress)
                fold_runs(model, {run.job_id: states}, query=False)
    rows = {r["sim_id"]: r for r in model.index.rows()}
    report.count_states({s: r["state"] for s, r in rows.items()}, sim_ids)
    for sim_id in sim_ids:
        row = rows.get(sim_id)
        if row is not None and row["state"] == State.FAILED:
            report.failed.append(sim_id)
            report.reasons[sim_id] = f"{row['reason']}: {row['message']}"
        elif row is not None and row["state"] == State.COMPLETE:
            report.completed.append(sim_id)
    report.elapsed = time.time() - t0
    return report
