"""The Slurm backend against fake sbatch/squeue/sacct/scontrol on PATH, and its array tasks on
the instrumented science functions: the states and failures a single-node cluster cannot
produce (OUT_OF_MEMORY, NODE_FAIL, PREEMPTED, controller time-outs), script hygiene, SIGTERM
and SIGKILL of array tasks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import orch_fakes
from stilt import claims
from stilt.config import SlurmConfig
from stilt.errors import ConfigError
from stilt.executors import slurm as slurm_module
from stilt.executors.slurm import parse_sacct, parse_scontrol, parse_squeue, render_script
from stilt.model import Model
from stilt.simulation import run_simulation

FAKES = str(Path(orch_fakes.__file__))

_FAKE = """#!/bin/bash
# fake {name}: answers from $FAKE_SLURM/{name}.out; $FAKE_SLURM/{name}.fail holds how many
# calls fail first with a controller time-out; $FAKE_SLURM/{name}.hang makes a call hang
d="$FAKE_SLURM"
echo "$@" >> "$d/{name}.calls"
if [ -f "$d/{name}.hang" ]; then exec sleep 30; fi
if [ -f "$d/{name}.fail" ]; then
  n=$(cat "$d/{name}.fail")
  if [ "$n" -gt 0 ]; then
    echo $((n - 1)) > "$d/{name}.fail"
    echo "{name}: error: Socket timed out on send/recv operation" >&2; exit 1
  fi
fi
{body}
"""
_SBATCH_BODY = """n=$(cat "$d/next_id" 2>/dev/null || echo 500); echo $((n + 1)) > "$d/next_id"
cp "${@: -1}" "$d/last.sbatch"; echo "$n" """
_OUT_BODY = """[ -f "$d/{name}.out" ] && cat "$d/{name}.out"; exit 0"""


@pytest.fixture
def fake_slurm(tmp_path, monkeypatch) -> Path:
    d = tmp_path / "fake-slurm"
    d.mkdir()
    for name in ("sbatch", "sacct", "squeue", "scontrol"):
        body = _SBATCH_BODY if name == "sbatch" else _OUT_BODY.format(name=name)
        (d / name).write_text(_FAKE.format(name=name, body=body))
        (d / name).chmod(0o755)
    monkeypatch.setenv("FAKE_SLURM", str(d))
    monkeypatch.setenv("PATH", f"{d}{os.pathsep}{os.environ['PATH']}")
    return d


def fake_project(path: Path, n: int = 6, per_task: int = 2, lease: float = 300) -> Path:
    path.mkdir(parents=True)
    (path / "config.yaml").write_text(
        "n_hours: -2\nnumpar: 10\nseed: 1\n"
        "mets:\n  synth: {directory: met, file_format: x.arl}\n"
        "footprints:\n  default:\n    grid: {xmin: -104, xmax: -99, ymin: 38, ymax: 42, "
        "xres: 0.5, yres: 0.5}\n"
        f"execution:\n  backend: slurm\n  lease_seconds: {lease}\n"
        f"  slurm: {{sims_per_task: {per_task}, account: geo lab, partition: short}}\n")
    rows = ["time,lon,lat,zagl"] + [f"2023-07-15 18:00,-102.5,{39 + 0.1 * k:.1f},5"
                                    for k in range(n)]
    (path / "receptors.csv").write_text("\n".join(rows) + "\n")
    return path


# -- script hygiene --------------------------------------------------------------------------
def test_sbatch_script_quotes_values_and_refuses_injection(tmp_path) -> None:
    cfg = SlurmConfig(account="geo lab", time="01:00:00", mem="4G", max_parallel=5,
                      extra={"constraint": "cpu&$(touch /tmp/x)", "mail-type": "END"},
                      setup=["module load netcdf"])
    text = render_script(cfg, tmp_path / "run dir", 4, "stilt-p", python="/opt/py thon")
    assert "#SBATCH --array=0-3%5\n" in text
    assert "#SBATCH --account='geo lab'\n" in text
    assert "#SBATCH --constraint='cpu&$(touch /tmp/x)'\n" in text
    assert "#SBATCH --signal=B:TERM@120\n" in text
    assert f"#SBATCH --output='{tmp_path}/run dir/logs/%A_%a.out'\n" in text
    assert text.rstrip().endswith(f"exec '/opt/py thon' -m stilt.executors.slurm_task "
                                  f"'{tmp_path}/run dir'")
    assert "module load netcdf\n" in text
    for bad, match in (({"account": "a\n#SBATCH --wrap=rm"}, "account.*no newline"),
                       ({"mem": "4G\x00"}, "mem.*NUL"),
                       ({"extra": {"Bad_Key": "1"}}, "extra key 'Bad_Key'.*a-z"),
                       ({"extra": {"qos\n": "1"}}, "extra key"),
                       ({"extra": {"constraint": "x\ry"}}, "extra constraint.*carriage"),
                       ({"extra": {"array": "0-99"}}, "extra key 'array'.*stilt sets"),
                       ({"extra": {"x": ["a"]}}, "string or a number"),
                       ({"setup": "module load x"}, "list of shell lines"),
                       ({"poll_seconds": 5}, "poll_seconds.*>= 30"),
                       ({"cpus_per_task": 0}, "cpus_per_task.*1..4096")):
        with pytest.raises(ConfigError, match=match):
            SlurmConfig(**bad)


def test_unknown_slurm_key_is_named(tmp_path) -> None:
    from stilt.config import ModelConfig

    with pytest.raises(ConfigError, match="memory"):
        ModelConfig.from_dict({"mets": {}, "execution": {"backend": "slurm",
                                                         "slurm": {"memory": "4G"}}})


# -- state parsing ---------------------------------------------------------------------------
def test_parse_production_sacct_squeue_and_scontrol() -> None:
    sacct = ("123_0|COMPLETED|0:0\n123_0.batch|COMPLETED|0:0\n123_0.extern|COMPLETED|0:0\n"
             "123_1|CANCELLED by 0|0:15\n123_2|OUT_OF_ME+|0:125\n123_3|NODE_FAIL|1:0\n"
             "123_[4-6%2]|PENDING|0:0\n99_1|FAILED|1:0\n")
    assert parse_sacct(sacct, "123", 8) == {0: "COMPLETED", 1: "CANCELLED", 2: "OUT_OF_MEMORY",
                                            3: "NODE_FAIL", 4: "PENDING", 5: "PENDING",
                                            6: "PENDING"}
    assert parse_sacct("123|PENDING|0:0\n", "123", 3) == {0: "PENDING", 1: "PENDING",
                                                          2: "PENDING"}
    assert parse_squeue("123_7 RUNNING\n123_[8-9] PENDING\n", "123", 10) == {
        7: "RUNNING", 8: "PENDING", 9: "PENDING"}
    scontrol = ("JobId=130 ArrayJobId=123 ArrayTaskId=2 JobName=x JobState=PREEMPTED Reason=x\n"
                "JobId=131 ArrayJobId=123 ArrayTaskId=5-7 JobState=PENDING\n")
    assert parse_scontrol(scontrol, "123", 8) == {2: "PREEMPTED", 5: "PENDING", 6: "PENDING",
                                                  7: "PENDING"}


# -- terminal states folded into the index ---------------------------------------------------
@pytest.mark.parametrize("bad", ["OUT_OF_MEMORY", "NODE_FAIL", "PREEMPTED", "TIMEOUT",
                                 "CANCELLED by 4242", "FAILED"])
def test_terminal_states_mark_unfinished_simulations_failed_then_retry(
        tmp_path, fake_slurm, monkeypatch, bad) -> None:
    orch_fakes.install(monkeypatch, tmp_path / "calls.log")
    project = fake_project(tmp_path / "p")
    model = Model(project)
    report = model.run()
    assert report.job_id == "500" and len(report.submitted) == 6 and report.counts["pending"] == 6
    run_dir = report.run_dir
    script = (fake_slurm / "last.sbatch").read_text()
    assert "#SBATCH --array=0-2\n" in script and "#SBATCH --account='geo lab'\n" in script
    run = json.loads((run_dir / "run.json").read_text())
    ids = [s["sim_id"] for s in run["simulations"]]
    # task 0 completed ids[0]; task 1 held ids[1] when the scheduler ended it; ids[2:] never ran
    sim = run["simulations"][0]
    res = run_simulation(model.output, project, sim["sim_id"], sim["met"], sim["receptor"],
                         model.config)
    claims.write_record(run_dir / "records", ids[0], {"state": "complete", "job_id": "500",
                                                      "task_id": "0", **res})
    claims.claim(run_dir / "claims", ids[1], 300, 3, {"job_id": "500", "task_id": "1"})
    (fake_slurm / "squeue.out").write_text("500_1 RUNNING\n500_2 RUNNING\n")
    (fake_slurm / "sacct.out").write_text("500_0|COMPLETED|0:0\n500_1|RUNNING|0:0\n"
                                          "500_2|RUNNING|0:0\n")
    status = model.status()
    assert status.slurm_jobs == ("500",)  # live: only the published record is folded
    assert status.counts == {"pending": 5, "running": 0, "complete": 1, "failed": 0}
    (fake_slurm / "squeue.out").write_text("")
    (fake_slurm / "sacct.out").write_text(
        f"500_0|COMPLETED|0:0\n500_0.batch|COMPLETED|0:0\n500_1|{bad}|0:9\n"
        f"500_1.batch|{bad.split()[0]}|0:9\n500_2|COMPLETED|0:0\n")
    status = model.status()
    state = bad.split()[0]
    assert status.slurm_jobs == ()
    assert status.counts == {"pending": 0, "running": 0, "complete": 1, "failed": 5}
    assert status.failures == {state: tuple(ids[1:])}
    row = model.index.get(ids[1])
    assert f"array task 500_1 ended {state}" in row["message"]
    assert (run_dir / "run.json").is_file() and (run_dir / "folded.json").is_file()
    # retry only the failed ones, with more memory and time
    model.close()
    model = Model(project)
    again = model.run(retry_failed=True, slurm={"mem": "8G", "time": "02:00:00"})
    assert again.job_id == "501"
    assert sorted(again.submitted) == sorted(ids[1:])
    script = (fake_slurm / "last.sbatch").read_text()
    assert "#SBATCH --mem=8G\n" in script and "#SBATCH --time=02:00:00\n" in script
    assert "#SBATCH --array=0-2\n" in script  # 5 simulations, 2 per task
    assert "mem: null" in (project / "config.yaml").read_text() or \
        "8G" not in (project / "config.yaml").read_text()  # config.yaml untouched


def test_a_live_array_is_not_submitted_twice(tmp_path, fake_slurm, monkeypatch) -> None:
    orch_fakes.install(monkeypatch, tmp_path / "calls.log")
    model = Model(fake_project(tmp_path / "p"))
    first = model.run()
    (fake_slurm / "squeue.out").write_text("500_0 PENDING\n500_1 PENDING\n500_2 PENDING\n")
    second = model.run()
    assert first.job_id == "500" and getattr(second, "job_id", None) is None
    assert len((fake_slurm / "sbatch.calls").read_text().splitlines()) == 1


def test_controller_time_outs_are_tolerated_and_inputs_kept(tmp_path, fake_slurm,
                                                            monkeypatch) -> None:
    orch_fakes.install(monkeypatch, tmp_path / "calls.log")
    model = Model(fake_project(tmp_path / "p"))
    report = model.run()
    run_dir = report.run_dir
    for name in ("sacct", "squeue", "scontrol"):
        (fake_slurm / f"{name}.fail").write_text("1")
    # while the controller does not answer, nothing is decided and nothing is deleted
    assert model.status().slurm_jobs == ("500",)
    monkeypatch.setattr(slurm_module, "_CMD_TIMEOUT", 0.5)
    (fake_slurm / "sacct.hang").write_text("")
    t = time.time()
    assert slurm_module.job_states("500", 3) is not None  # squeue/scontrol still answered
    assert time.time() - t < 10
    (fake_slurm / "squeue.hang").write_text("")
    (fake_slurm / "scontrol.hang").write_text("")
    assert slurm_module.job_states("500", 3) is None  # nobody answered: unknown, not terminal
    assert model.status().slurm_jobs == ("500",)
    for path in ("run.json", "config.yaml", "job.sbatch", "submit.json", "claims", "records"):
        assert (run_dir / path).exists()
    for name in ("sacct", "squeue", "scontrol"):
        (fake_slurm / f"{name}.hang").unlink()
    (fake_slurm / "sacct.fail").write_text("3")
    (fake_slurm / "squeue.fail").write_text("3")
    (fake_slurm / "scontrol.fail").write_text("3")
    (fake_slurm / "sacct.out").write_text("500_0|COMPLETED|0:0\n500_1|COMPLETED|0:0\n"
                                          "500_2|PREEMPTED|0:0\n")
    states = slurm_module.wait_for("500", 3, poll=0.01)
    assert states == {0: "COMPLETED", 1: "COMPLETED", 2: "PREEMPTED"}
    assert len((fake_slurm / "sacct.calls").read_text().splitlines()) >= 4


def test_every_backend_is_an_executor() -> None:
    from stilt.executors import get_executor
    from stilt.executors.base import Executor
    from stilt.executors.local import LocalExecutor

    local, slurm = get_executor("local"), get_executor("slurm", wait=True)
    assert isinstance(local, Executor) and isinstance(slurm, Executor)
    assert isinstance(local, LocalExecutor) and (slurm.name, slurm.wait) == ("slurm", True)
    with pytest.raises(ConfigError, match=r"backend 'pbs' is not available \(available: "
                                          r"local, slurm\)"):
        get_executor("pbs")


def test_wait_looks_soon_then_backs_off_to_poll_seconds(monkeypatch) -> None:
    answers = iter([{0: "PENDING"}] * 7 + [{0: "COMPLETED"}])
    slept: list[float] = []
    monkeypatch.setattr(slurm_module, "job_states", lambda job, n: next(answers))
    monkeypatch.setattr(slurm_module.time, "sleep", slept.append)
    assert slurm_module.wait_for("500", 1, poll=30.0) == {0: "COMPLETED"}
    assert slept == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]  # FIRST_POLL, doubled, capped


# -- array tasks on the instrumented science functions ---------------------------------------
def _task(log: Path, run_dir: Path, task: int, sleep: float, processes: int = 1
          ) -> subprocess.Popen:
    env = {**os.environ, "SLURM_ARRAY_JOB_ID": "500", "SLURM_ARRAY_TASK_ID": str(task),
           "STILT_TASK_PROCESSES": str(processes)}
    return subprocess.Popen([sys.executable, FAKES, str(log), str(sleep), "-", "--slurm-task",
                             str(run_dir)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)


def _wait_for_claim(run_dir: Path, timeout: float = 30) -> dict:
    t = time.time()
    while time.time() - t < timeout:
        found = [p for p in (run_dir / "claims").iterdir() if "@" in p.name
                 and not p.name.endswith(".released")]
        if found:
            time.sleep(0.3)
            return json.loads(found[0].read_text())
        time.sleep(0.05)
    raise AssertionError("no claim appeared")


def test_sigterm_stops_a_task_cleanly(tmp_path, fake_slurm, monkeypatch) -> None:
    orch_fakes.install(monkeypatch, tmp_path / "calls.log")
    model = Model(fake_project(tmp_path / "p"))
    run_dir = model.run().run_dir
    proc = _task(tmp_path / "calls.log", run_dir, 0, sleep=3.0, processes=2)
    held = _wait_for_claim(run_dir)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 143, out
    assert "interrupted, claim given back" in out
    assert [p for p in (run_dir / "claims").iterdir() if p.name.endswith(".released")]
    assert claims.read_record(run_dir / "records", held["sim_id"]) is None
    assert [p for p in (tmp_path / "p").rglob("*") if p.name.endswith(".tmp")] == []
    assert not list((tmp_path / "p" / "out").rglob(f"{held['sim_id']}_traj.nc"))
    # the next task takes the given-back simulations at once and completes everything
    proc = _task(tmp_path / "calls.log", run_dir, 1, sleep=0.0)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, out
    assert len(claims.read_records(run_dir / "records")) == 6


def test_a_sigkilled_task_leaves_a_claim_that_expires_and_is_taken_over(
        tmp_path, fake_slurm, monkeypatch) -> None:
    orch_fakes.install(monkeypatch, tmp_path / "calls.log")
    model = Model(fake_project(tmp_path / "p", lease=3))
    run_dir = model.run().run_dir
    killed = _task(tmp_path / "calls.log", run_dir, 0, sleep=5.0)
    held = _wait_for_claim(run_dir)
    os.killpg(killed.pid, signal.SIGKILL)
    killed.communicate(timeout=30)
    t0 = time.time()
    other = _task(tmp_path / "calls.log", run_dir, 1, sleep=0.2)
    out, _ = other.communicate(timeout=120)
    assert other.returncode == 0, out
    assert f"claim 2 of {held['sim_id']}: running" in out  # taken over, as attempt 2
    assert time.time() - t0 >= 1.0  # not before its lease expired
    records = claims.read_records(run_dir / "records")
    run = json.loads((run_dir / "run.json").read_text())
    assert sorted(records) == sorted(s["sim_id"] for s in run["simulations"])
    assert all(r["state"] == "complete" for r in records.values())
    lats = orch_fakes.calls(tmp_path / "calls.log")
    assert len(lats) == 7 and len(set(lats)) == 6  # the killed one ran twice, no other
    (fake_slurm / "sacct.out").write_text("500_0|FAILED|0:9\n500_1|COMPLETED|0:0\n"
                                          "500_2|COMPLETED|0:0\n")
    status = model.status()
    assert status.counts["complete"] == 6 and status.slurm_jobs == ()


def test_file_based_pull_workers_drain_registrations_without_the_index(tmp_path,
                                                                       monkeypatch) -> None:
    """``stilt pull --files`` / ``serve`` as long-lived Slurm jobs: several workers drain the
    registered simulations through claim files (each runs once), a follower picks up new
    registrations, and ``stilt status`` folds their records into the index."""
    project = fake_project(tmp_path / "p", n=6)
    log = tmp_path / "calls.log"
    model = Model(project)
    model.register_pending()
    env = {**os.environ, "SLURM_JOB_ID": "900"}  # inside a Slurm job: files by default
    cmd = [sys.executable, FAKES, str(log), "0.2", "-"]
    follower = subprocess.Popen(cmd + ["serve", str(project), "--poll=0.2"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    other = subprocess.run(cmd + ["pull", str(project)], env=env, capture_output=True,
                           text=True, timeout=120)
    assert other.returncode == 0, other.stdout + other.stderr
    assert model.index.counts()["pending"] == 6  # the workers never wrote the index
    extra = tmp_path / "more.csv"
    extra.write_text("time,lon,lat,zagl\n2023-07-15 18:00,-102.5,41.5,5\n")
    model.register_pending(receptors=extra)
    t = time.time()
    records = project / "out" / "slurm" / "pull" / "records"
    while len(claims.read_records(records)) < 7 and time.time() - t < 60:
        time.sleep(0.1)
    follower.send_signal(signal.SIGTERM)
    out, _ = follower.communicate(timeout=60)
    lats = orch_fakes.calls(log)
    assert sorted(lats) == sorted(set(lats)) and len(lats) == 7, (lats, out)
    status = model.status()
    assert status.counts["complete"] == 7, status
    assert claims.read_records(project / "out" / "slurm" / "pull" / "records").keys() == {
        r["sim_id"] for r in model.index.rows()}


def test_clear_errors_without_sbatch_and_for_slurm_options_on_local(tmp_path, monkeypatch,
                                                                    capsys) -> None:
    from stilt.cli import main

    project = fake_project(tmp_path / "p")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert main(["run", str(project)]) == 1
    assert "the sbatch command is not on PATH" in capsys.readouterr().err
    assert not (project / "out" / "slurm").exists() or not list(
        (project / "out" / "slurm").glob("*/submit.json"))
    assert main(["run", str(project), "--backend", "local", "--mem", "8G"]) == 2
    assert "--wait, --mem and --time apply to the slurm backend" in capsys.readouterr().err


def test_wait_reports_the_footprints_the_array_computed(tmp_path, fake_slurm,
                                                        monkeypatch) -> None:
    """'stilt run --backend slurm --wait' used to end with '0 footprints' although every
    footprint was written: the task records now carry the footprints they computed."""
    log = tmp_path / "calls.log"
    orch_fakes.install(monkeypatch, log)
    model = Model(fake_project(tmp_path / "p"))

    def run_tasks(job_id: str, n_tasks: int, poll: float, progress: object) -> dict:
        run_dir = next((model.output / "slurm").glob("*/submit.json")).parent
        for task in range(n_tasks):
            _task(log, run_dir, task, 0.0).communicate(timeout=120)
        return dict.fromkeys(range(n_tasks), "COMPLETED")

    monkeypatch.setattr(slurm_module, "wait_for", run_tasks)
    report = model.run(wait=True)
    assert report.ok and report.counts["complete"] == 6
    assert report.transport_runs == 6 and report.footprint_runs == 6
    assert "6 transport runs, 6 footprints" in report.summary()


def test_cpus_per_task_split_into_workers_and_threads(tmp_path, fake_slurm, monkeypatch) -> None:
    from stilt.config import load_config
    from stilt.executors.slurm import task_plan

    assert task_plan(SlurmConfig(cpus_per_task=8)) == (8, 1)
    assert task_plan(SlurmConfig(cpus_per_task=8), threads=4) == (2, 4)
    assert task_plan(SlurmConfig(cpus_per_task=6), threads=4) == (1, 4)
    assert task_plan(SlurmConfig(cpus_per_task=8, processes_per_task=3), threads=2) == (3, 2)
    with pytest.raises(ConfigError, match="threads_per_worker 4 is more than.*cpus_per_task 2"):
        task_plan(SlurmConfig(cpus_per_task=2), threads=4)
    text = render_script(SlurmConfig(cpus_per_task=8), tmp_path, 2, "stilt-p", threads=4)
    assert "#SBATCH --cpus-per-task=8\n" in text and "export OMP_NUM_THREADS=4" in text
    # numpy's OpenBLAS on one thread in the task (stilt makes no BLAS calls), unless the
    # environment sbatch passes on chose otherwise
    exports = "\n".join(ln for ln in text.splitlines() if ln.startswith("export "))
    for given, expected in ((None, "1"), ("3", "3")):
        env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
        env.update({} if given is None else {"OPENBLAS_NUM_THREADS": given})
        shell = subprocess.run(["bash", "-euc", exports + '\necho "$OPENBLAS_NUM_THREADS"'],
                               env=env, capture_output=True, text=True, check=True)
        assert shell.stdout.strip() == expected
    # a submitted run: the plan reaches run.json and the script
    orch_fakes.install(monkeypatch, tmp_path / "calls.log")
    project = fake_project(tmp_path / "p", n=4)
    path = project / "config.yaml"
    path.write_text(path.read_text().replace("{sims_per_task: 2,", "{sims_per_task: 2, "
                                             "cpus_per_task: 8,").replace(
        "backend: slurm\n", "backend: slurm\n  threads_per_worker: 4\n"))
    model = Model(project)
    run_dir = model.run().run_dir
    run = json.loads((run_dir / "run.json").read_text())
    assert (run["processes"], run["threads"]) == (2, 4)
    script = (run_dir / "job.sbatch").read_text()
    assert "#SBATCH --cpus-per-task=8\n" in script and "export OMP_NUM_THREADS=4\n" in script
    path.write_text(path.read_text().replace("threads_per_worker: 4", "threads_per_worker: 16"))
    with pytest.raises(ConfigError, match="threads_per_worker 16 is more than"):
        load_config(path)
