"""A project of many receptors: registration, status, check and the start of a run.

Usage:
    bench_receptors.py [--receptors N] [--numpar N] [--watch S] [--keep DIR]

Options:
    --receptors N  receptors in the project [default: 1000000]
    --numpar N     particles per simulation of the run [default: 200]
    --watch S      seconds the run is watched once its first simulation started [default: 30]
    --keep DIR     build the project in DIR and keep it (default: a temporary folder)

Runs the command line on one project of N point receptors on a small synthetic met set (the
met files are shared, as in a tower network or a satellite track), each command in its own
process, and prints, in one run:
- ``stilt register``: wall and CPU time, and the disk it leaves (output folder, and the project
  with receptors.csv; goal for 1e6: < 60 s and < 300 MB);
- ``stilt status`` and ``stilt check``: wall time (goals for 1e6: < 2 s and < 60 s);
- ``stilt run`` with 2 workers: seconds from the start of the command until the first
  simulation folder appears (goal < 10 s), then, over ``--watch`` seconds, the CPU of the
  parent process as a share of one core (goal < 10 %) next to that of the processes below it
  (the workers, grandchildren through the pool's fork server), and the
  simulations done; the run is then stopped with SIGINT (its claims are given back).
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

MET_FILE = "20230715_12-19_synt.arl"


def build(root: Path, n: int, numpar: int) -> None:
    """The project: config.yaml, receptors.csv (n distinct points), synthetic met."""
    from stilt.met.synthetic import generate_synthetic_met

    root.mkdir(parents=True, exist_ok=True)
    generate_synthetic_met(root / "met", start="2023-07-15T12:00", hours=8, file_hours=8,
                           nx=60, ny=50)
    (root / "config.yaml").write_text(
        f"n_hours: -6\nnumpar: {numpar}\nseed: 1\n"
        f"mets:\n  synth: {{directory: met, file_format: {MET_FILE}}}\n"
        "footprints:\n  default:\n    grid: {xmin: -106, xmax: -97, ymin: 36, ymax: 44, "
        "xres: 0.1, yres: 0.1}\n"
        "execution: {n_workers: 2}\n")
    with open(root / "receptors.csv", "w") as handle:
        handle.write("time,longitude,latitude,altitude\n")
        for k in range(n):
            handle.write(f"2023-07-15 {18 + k % 2}:00,{-102.5 + (k % 2000) * 0.001:.3f},"
                         f"{39.3 + (k // 2000) * 0.0028:.4f},10\n")


def disk(path: Path) -> int:
    """Bytes the files under ``path`` occupy (allocated blocks, as du counts them)."""
    total = 0
    for folder, dirs, files in os.walk(path):
        for name in dirs + files:
            try:
                total += os.lstat(os.path.join(folder, name)).st_blocks * 512
            except FileNotFoundError:
                pass
    return total


def stilt(*args: str) -> tuple[float, float, subprocess.CompletedProcess]:
    """Run the stilt command line; its wall and CPU seconds (with its children)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "stilt", *args], capture_output=True,
                         text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if res.returncode not in (0, 1):
        raise SystemExit(f"stilt {' '.join(args)} failed:\n{res.stdout}\n{res.stderr}")
    return wall, cpu, res


def cpu_of(pid: int) -> float:
    """CPU seconds (user + system) of one process so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    """The child processes of ``pid`` (Linux)."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(x) for x in text.split()]


def descendants(pid: int) -> list[int]:
    """The processes below ``pid``, children first (the pool's workers are forked by its
    fork server, a child of the parent, so they are its grandchildren)."""
    found = children(pid)
    for child in list(found):
        found.extend(descendants(child))
    return found


def watch_run(root: Path, watch: float) -> dict[str, float]:
    """Start ``stilt run``; time its first simulation, then its parent's share of a core."""
    by_id = root / "out" / "simulations" / "by-id"
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "stilt", "run", str(root)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = None
    while proc.poll() is None and time.perf_counter() - t0 < 600:
        if by_id.is_dir() and any(True for _ in os.scandir(by_id)):
            first = time.perf_counter() - t0
            first_cpu = cpu_of(proc.pid)
            break
        time.sleep(0.02)
    if first is None:
        out, err = proc.communicate()
        raise SystemExit(f"no simulation started:\n{out}\n{err}")
    time.sleep(2.0)  # the pool is up and both workers busy
    workers = descendants(proc.pid)
    w0, p0 = time.perf_counter(), cpu_of(proc.pid)
    c0 = {w: cpu_of(w) for w in workers}
    done0 = sum(1 for _ in os.scandir(by_id))
    time.sleep(watch)
    c1 = {}
    for w in workers:  # a process that ended meanwhile is left out
        try:
            c1[w] = cpu_of(w)
        except OSError:
            pass
    w1, p1 = time.perf_counter(), cpu_of(proc.pid)
    done1 = sum(1 for _ in os.scandir(by_id))
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=120)
    span = w1 - w0
    return {"first": first, "first_cpu": first_cpu, "parent": (p1 - p0) / span,
            "workers": sum(c1[w] - c0[w] for w in c1) / span, "n_below": len(c1),
            "started": (done1 - done0) / span}


def main() -> None:
    from docopt import docopt

    opts = docopt(__doc__)
    args = SimpleNamespace(n=int(opts["--receptors"]), numpar=int(opts["--numpar"]),
                           watch=float(opts["--watch"]), keep=opts["--keep"])
    tmp = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="stilt-bench-rec-"))
    root = tmp / "project"
    try:
        t = time.perf_counter()
        build(root, args.n, args.numpar)
        print(f"{args.n} point receptors x 1 met, built in {time.perf_counter() - t:.1f} s "
              f"(receptors.csv {(root / 'receptors.csv').stat().st_size / 1e6:.1f} MB); "
              f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (wall times "
              "grow with it, CPU times do not)")
        wall, cpu, res = stilt("register", str(root))
        out_mb = disk(root / "out") / 1e6
        project_mb = (disk(root) - disk(root / "met")) / 1e6
        print(f"stilt register: {wall:6.1f} s wall, {cpu:6.1f} s CPU (goal < 60 s); "
              f"{res.stdout.strip()}")
        print(f"  on disk: output folder {out_mb:.0f} MB, project with receptors.csv "
              f"{project_mb:.0f} MB (goal < 300 MB): {project_mb * 1e6 / args.n:.0f} bytes "
              "a simulation")
        wall, cpu, res = stilt("status", str(root))
        print(f"stilt status:   {wall:6.2f} s wall, {cpu:6.2f} s CPU (goal < 2 s): "
              f"{res.stdout.strip()}")
        wall, cpu, res = stilt("check", str(root))
        print(f"stilt check:    {wall:6.1f} s wall, {cpu:6.1f} s CPU (goal < 60 s): "
              f"{res.stdout.strip().splitlines()[-1]}")
        run = watch_run(root, args.watch)
        print(f"stilt run, 2 workers: first simulation started "
              f"{run['first']:.1f} s after the command (goal < 10 s), the parent had used "
              f"{run['first_cpu']:.1f} s CPU by then")
        print(f"  over {args.watch:g} s: parent {100 * run['parent']:.1f} % of a core (goal "
              f"< 10 %), the {run['n_below']} processes below it (the pool's workers and its "
              f"helpers) {100 * run['workers']:.0f} % together, "
              f"{run['started']:.2f} simulations started a second")
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
