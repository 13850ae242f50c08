"""The Slurm backend on a real single-node Slurm cluster (scripts/slurm_cluster.sh), with the
real transport and footprints on a small synthetic met set.

``bash scripts/dev.sh test`` starts the cluster when run as root. These tests skip only when
Slurm cannot be had (not root and not running); under CI they fail instead.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from test_cli_run import check_all_open, real_project, synth_met  # noqa: F401 - fixture

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def _node_idle() -> bool:
    if shutil.which("sinfo") is None:
        return False
    try:
        res = subprocess.run(["sinfo", "-h", "-N", "-o", "%t"], capture_output=True, text=True,
                             timeout=20)
    except subprocess.TimeoutExpired:
        return False
    return res.returncode == 0 and res.stdout.split()[:1] in (["idle"], ["mix"], ["alloc"])


@pytest.fixture(scope="module")
def slurm_cluster() -> None:
    if _node_idle():
        return
    if os.geteuid() == 0:
        res = subprocess.run(["bash", str(REPO / "scripts" / "slurm_cluster.sh"), "start"],
                             capture_output=True, text=True, timeout=900)
        if res.returncode != 0 or not _node_idle():
            pytest.fail(f"the single-node Slurm cluster did not start:\n{res.stderr[-3000:]}")
        return
    reason = ("Slurm is not running here and this is not root, so scripts/slurm_cluster.sh "
              "cannot install or start it")
    if os.environ.get("CI"):
        pytest.fail(reason + " (CI must run the Slurm tests)")
    pytest.skip(reason)


def slurm_project(path: Path, met: Path, n: int = 8, numpar: int = 50, per_task: int = 3,
                  lease: float = 300, processes: int | None = 1, cpus: int = 1,
                  threads: int = 1) -> Path:
    project = real_project(path, met, n=n, numpar=numpar)
    text = (project / "config.yaml").read_text().replace(
        "execution: {n_workers: 1}\n",
        f"execution:\n  backend: slurm\n  lease_seconds: {lease}\n"
        f"  threads_per_worker: {threads}\n"
        f"  slurm: {{sims_per_task: {per_task}, cpus_per_task: {cpus}, "
        + (f"processes_per_task: {processes}, " if processes else "")
        + "time: '00:10:00', signal_seconds: 30}\n")
    (project / "config.yaml").write_text(text)
    return project


def stilt(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "stilt", *args], capture_output=True,
                          text=True, timeout=timeout)


def run_dirs(project: Path) -> list[Path]:
    return sorted((project / "out" / "slurm").iterdir())


def claim_files(run_dir: Path) -> list[str]:
    return sorted(p.name for p in (run_dir / "claims").iterdir())


def running_claim(run_dir: Path, timeout: float = 180) -> dict:
    """Wait until some array task holds a claim; its content (sim id, task id, pid)."""
    t = time.time()
    while time.time() - t < timeout:
        for path in sorted((run_dir / "claims").glob("*@*")):
            if path.name.endswith(".released"):
                continue
            sim_id = path.name.split("@")[0]
            if not (run_dir / "records" / f"{sim_id}.json").exists():
                return json.loads(path.read_text())
        time.sleep(0.2)
    raise AssertionError(f"no array task claimed anything in {timeout} s")


def one_output_each(project: Path, n: int = 8) -> None:
    """Every simulation has exactly one trajectory and one footprint, complete and readable."""
    check_all_open(project, n)
    for folder in (project / "out" / "simulations" / "by-id").iterdir():
        names = sorted(p.name for p in folder.iterdir() if p.suffix == ".nc")
        assert names == [f"{folder.name}_default_foot.nc", f"{folder.name}_traj.nc"], names


def test_slurm_run_wait_completes_every_simulation(tmp_path, synth_met, slurm_cluster) -> None:
    project = slurm_project(tmp_path / "p", synth_met, processes=2)
    res = stilt("run", str(project), "--wait")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "task 0 COMPLETED, task 1 COMPLETED, task 2 COMPLETED" in res.stdout
    assert "8 complete, 0 failed" in res.stdout
    assert "8 transport runs, 8 footprints" in res.stdout  # not "0 footprints"
    one_output_each(project)
    (run_dir,) = run_dirs(project)
    script = (run_dir / "job.sbatch").read_text()
    assert "#SBATCH --array=0-2\n" in script and "#SBATCH --signal=B:TERM@30\n" in script
    job_id = json.loads((run_dir / "submit.json").read_text())["job_id"]
    assert sorted(p.name for p in (run_dir / "logs").iterdir()) == [
        f"{job_id}_{k}.out" for k in range(3)]
    records = json.loads(json.dumps({p.stem: json.loads(p.read_text())
                                     for p in (run_dir / "records").glob("*.json")}))
    assert len(records) == 8 and all(r["state"] == "complete" and r.get("ran_transport")
                                     for r in records.values()), records
    assert all(name.endswith("@1") for name in claim_files(run_dir))  # each claimed once
    assert len(claim_files(run_dir)) == 8
    status = stilt("status", str(project))
    assert status.stdout.startswith("0 pending, 0 running, 8 complete, 0 failed"), status.stdout
    again = stilt("run", str(project))  # complete: nothing is submitted
    assert again.returncode == 0 and "nothing to submit" in again.stdout, again.stdout
    assert len(run_dirs(project)) == 1


def test_a_task_runs_its_cpus_as_threads(tmp_path, synth_met, slurm_cluster) -> None:
    """cpus_per_task 2 with threads_per_worker 2: one worker whose simulations use 2 threads,
    and the same particles as a local run on one thread."""
    project = slurm_project(tmp_path / "p", synth_met, n=3, per_task=3, processes=None, cpus=2,
                            threads=2)
    res = stilt("run", str(project), "--wait")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "3 complete, 0 failed" in res.stdout
    (run_dir,) = run_dirs(project)
    run = json.loads((run_dir / "run.json").read_text())
    assert (run["processes"], run["threads"]) == (1, 2)
    (log,) = (run_dir / "logs").iterdir()
    assert "1 worker process(es) x 2 thread(s)" in log.read_text()
    local = real_project(tmp_path / "local", synth_met, n=3)
    assert stilt("run", str(local)).returncode == 0
    import xarray as xr

    for traj in sorted((local / "out" / "simulations" / "by-id").glob("*/*_traj.nc")):
        other = project / "out" / "simulations" / "by-id" / traj.parent.name / traj.name
        with xr.open_dataset(traj) as a, xr.open_dataset(other) as b:
            assert np.array_equal(a["long"].values, b["long"].values, equal_nan=True)
            assert np.array_equal(a["foot"].values, b["foot"].values, equal_nan=True)


def test_scancel_one_task_then_retry_failed(tmp_path, synth_met, slurm_cluster) -> None:
    project = slurm_project(tmp_path / "p", synth_met, numpar=400, per_task=3)
    res = stilt("run", str(project))
    assert res.returncode == 0 and "submitted job array" in res.stdout, res.stdout + res.stderr
    (run_dir,) = run_dirs(project)
    job_id = json.loads((run_dir / "submit.json").read_text())["job_id"]
    held = running_claim(run_dir)
    victim = f"{job_id}_{held['task_id']}"
    subprocess.run(["scancel", victim], check=True, timeout=60)
    res = stilt("run", str(project), "--wait")  # nothing new to submit: waits for the array
    states = json.loads((run_dir / "folded.json").read_text())["states"]
    assert states[str(held["task_id"])] == "CANCELLED", states
    log = (run_dir / "logs" / f"{victim}.out").read_text()
    assert "interrupted, claim given back, no record published" in log, log
    assert [p for p in project.rglob("*") if p.name.endswith(".tmp")] == []
    status = stilt("status", str(project)).stdout
    failed = int(status.split(" complete, ")[1].split(" failed")[0])
    for line in status.splitlines()[1:]:  # every failure is the cancelled task's
        assert line.startswith(("failed CANCELLED", "  ")), status
    before = {p.name: p.stat().st_mtime_ns for p in (project / "out").rglob("*.nc")
              if not p.is_symlink()}
    res = stilt("run", str(project), "--retry-failed", "--wait", "--mem", "500M")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "8 complete, 0 failed" in res.stdout
    one_output_each(project)
    after = {p.name: p.stat().st_mtime_ns for p in (project / "out").rglob("*.nc")
             if not p.is_symlink()}
    assert {k: v for k, v in after.items() if k in before} == before  # finished: never touched
    runs = run_dirs(project)
    if failed:
        assert len(runs) == 2
        retried = json.loads((runs[1] / "run.json").read_text())["simulations"]
        assert len(retried) == failed  # only the failed ones were resubmitted
        assert "#SBATCH --mem=500M\n" in (runs[1] / "job.sbatch").read_text()
    else:  # the other tasks took over what the cancelled one gave back
        assert len(runs) == 1


def test_scancel_a_one_task_array_then_retry_failed(tmp_path, synth_met,
                                                    slurm_cluster) -> None:
    """With no other task left to take over, the cancelled task's unfinished simulations are
    failed CANCELLED, and --retry-failed resubmits exactly those."""
    project = slurm_project(tmp_path / "p", synth_met, numpar=400, per_task=8)
    assert stilt("run", str(project)).returncode == 0
    (run_dir,) = run_dirs(project)
    job_id = json.loads((run_dir / "submit.json").read_text())["job_id"]
    t = time.time()  # let it finish at least one simulation first
    while not list((run_dir / "records").glob("*.json")) and time.time() - t < 180:
        time.sleep(0.2)
    running_claim(run_dir)
    subprocess.run(["scancel", f"{job_id}_0"], check=True, timeout=60)
    res = stilt("run", str(project), "--wait")
    assert res.returncode == 1, res.stdout + res.stderr
    done = sorted(p.stem for p in (run_dir / "records").glob("*.json"))
    assert 1 <= len(done) < 8
    status = stilt("status", str(project)).stdout
    assert f"{len(done)} complete, {8 - len(done)} failed" in status, status
    assert f"failed CANCELLED: {8 - len(done)}" in status, status
    assert f"unfinished when array task {job_id}_0 ended CANCELLED" in status \
        or f"unfinished when job {job_id} (never started) ended CANCELLED" in status, status
    assert [p for p in project.rglob("*") if p.name.endswith(".tmp")] == []
    by_id = project / "out" / "simulations" / "by-id"
    # a task stopped between publishing a trajectory file and its record leaves that whole
    # file, made by this transport: the retry adopts it instead of running the transport again
    kept = [p for p in by_id.iterdir() if p.name not in done
            and (p / f"{p.name}_traj.nc").exists()]
    res = stilt("run", str(project), "--retry-failed", "--wait", "--time", "00:05:00")
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"{8 - len(done) - len(kept)} transport runs, {8 - len(done)} footprints" \
        in res.stdout, res.stdout
    one_output_each(project)
    retry = run_dirs(project)[1]
    assert sorted(s["sim_id"] for s in json.loads((retry / "run.json").read_text())[
        "simulations"]) == sorted(set(p.name for p in (project / "out" / "simulations" /
                                                       "by-id").iterdir()) - set(done))
    assert "#SBATCH --time=00:05:00\n" in (retry / "job.sbatch").read_text()


def test_sigkilled_task_claim_expires_and_is_taken_over(tmp_path, synth_met,
                                                        slurm_cluster) -> None:
    project = slurm_project(tmp_path / "p", synth_met, numpar=300, per_task=4, lease=8)
    res = stilt("run", str(project))
    assert res.returncode == 0, res.stdout + res.stderr
    (run_dir,) = run_dirs(project)
    held = running_claim(run_dir)
    os.kill(int(held["pid"]), 9)  # the array task's process (the batch shell exec'd python)
    killed_at = time.time()
    res = stilt("run", str(project), "--wait")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "8 complete, 0 failed" in res.stdout
    one_output_each(project)
    names = claim_files(run_dir)
    assert f"{held['sim_id']}@2" in names  # taken over after its lease expired
    record = json.loads((run_dir / "records" / f"{held['sim_id']}.json").read_text())
    assert record["attempt"] == 2 and record["task_id"] != held["task_id"]
    assert record["finished_at"] - killed_at >= 8 - 1  # not before the lease ran out
    states = json.loads((run_dir / "folded.json").read_text())["states"]
    assert states[str(held["task_id"])] in ("FAILED", "CANCELLED"), states
