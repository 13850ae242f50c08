"""How stilt's cost grows with particles, hours, receptors, threads and workers.

Usage:
    scaling.py [--quick] [--plot PNG]

Options:
    --quick     fewer and smaller runs (a smoke test of the script)
    --plot PNG  also draw the figure of docs/performance.md into PNG (needs matplotlib)

Everything runs on the example project's met (``stilt init --example``: synthetic HRRR-like,
60 x 50 cells, 6-hour files) and prints per-unit costs and ratios, measured in one run:

* particles and hours: CPU microseconds per particle-minute of one simulation
  (``run_trajectories``, one thread; minutes of particles still on the 60 x 50 grid: many
  leave it after 6 h), and the share of it spent in the core's particle loop;
* receptors: CPU seconds per simulation of a project of N receptors run by one worker
  (200 particles x 6 h each, footprints and writing included), and the share in the core's
  particle loop (the rest: met, footprints, writing, bookkeeping); for the largest project,
  where that rest goes (thread CPU time of each part, timed around its calls: the
  trajectory file is written in its own thread);
* threads: wall time of one 2000-particle simulation with 1 and 2 threads, and the ratio;
* workers: wall time of a 16-receptor project with 1 and 2 worker processes, and the ratio.

CPU times are process times, so they hold on a shared machine; wall-time ratios (threads,
workers) need idle cores and say so when the load average is high.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from _clocks import FunctionClocks
from docopt import docopt

RECEPTOR = {"time": "2023-07-15T18:00", "latitude": 39.6, "longitude": -102.2, "altitude": 10}


#: the core's particle loop, timed in process CPU time around its calls
CORE = (("stilt._core", "transport_advance", "core"),)


#: parts of a project simulation outside the core loop, timed in the largest project:
#: (module, function or Class.method, label)
OUTSIDE = (
    ("stilt.simulation", "_publish_trajectory", "writing the trajectory file"),
    ("stilt.met.window", "MetSource.remap", "met windows (MetSource.remap)"),
    ("stilt._transport_loop", "Rows.add", "output rows (Rows.add)"),
    ("stilt.simulation", "_compute_trajectories", "transport (run_trajectories)"),
    ("stilt.footprint", "write_footprint", "writing the footprint file"),
    ("stilt.simulation", "_compute_footprints", "computing the footprint"),
    ("stilt.trajectory_file", "compact_trajectories", "rounding the particles"),
)


def one_simulation(met: Any, numpar: int, hours: float,
                   threads: int = 1) -> tuple[float, float, float, float]:
    """(CPU s, wall s, core CPU s, particle-minutes of particles still on the grid) of one
    run_trajectories."""
    import numpy as np

    import stilt

    clock = FunctionClocks(CORE, time.process_time)
    try:
        c0, w0 = time.process_time(), time.perf_counter()
        ds = stilt.run_trajectories(RECEPTOR, met, n_hours=-hours, numpar=numpar, seed=1,
                                    hnf_plume=True, threads=threads)
        cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    finally:
        clock.close()
    minutes = np.abs(np.diff(np.concatenate([[0.0], ds["time"].values])))  # per output row
    live = ds["long"].notnull().sum("indx").values
    return cpu, wall, clock.seconds["core"], float(np.sum(live * minutes))


def make_project(root: Path, met_dir: Path, n: int, n_workers: int = 1) -> Path:
    """A project of ``n`` receptors on the example met, 200 particles x 6 h."""
    root.mkdir(parents=True)
    (root / "config.yaml").write_text(
        "n_hours: -6\nnumpar: 200\nseed: 42\nhnf_plume: true\n"
        f"mets:\n  synth: {{directory: {met_dir}, file_format: '%Y%m%d_%H', file_tres: 1h}}\n"
        "footprints:\n  default:\n    grid: {xmin: -106.0, xmax: -101.0, ymin: 37.5, "
        "ymax: 40.5, xres: 0.1, yres: 0.1}\n"
        f"execution: {{n_workers: {n_workers}}}\n")
    rows = ["time,longitude,latitude,altitude"]
    rows += [f"2023-07-15 {16 + k % 4:02d}:00:00,{-102.5 + 0.1 * (k % 8):.2f},"
             f"{39.4 + 0.1 * ((k // 8) % 8):.2f},{5 + 45 * (k % 2)}" for k in range(n)]
    (root / "receptors.csv").write_text("\n".join(rows) + "\n")
    return root


def project_run(root: Path, n_workers: int) -> tuple[float, float, float, int]:
    """(CPU s of this process, wall s, core CPU s, simulations) of one project run."""
    import stilt

    clock = FunctionClocks(CORE, time.process_time)
    try:
        model = stilt.Model(root)
        c0, w0 = time.process_time(), time.perf_counter()
        report = model.run(n_workers=n_workers)
        wall = time.perf_counter() - w0
        cpu = time.process_time() - c0
        model.close()
    finally:
        clock.close()
    assert report.ok, report.summary()
    return cpu, wall, clock.seconds["core"], report.transport_runs


def measure(quick: bool) -> dict[str, list[dict[str, Any]]]:
    """Run every series; returns the rows of each table."""
    from stilt.met.cache import met_cache
    from stilt.met.discovery import MetConfig
    from stilt.met.synthetic import generate_synthetic_met
    from stilt.project import EXAMPLE_MET

    tmp = Path(tempfile.mkdtemp(prefix="stilt-scaling-"))
    out: dict[str, list[dict[str, Any]]] = {}
    try:
        met_dir = tmp / "met"
        generate_synthetic_met(met_dir, **EXAMPLE_MET)
        met = MetConfig(directory=met_dir, file_format="%Y%m%d_%H", file_tres="1h")
        one_simulation(met, 200, 17)  # warm-up: imports, and the worker's met cache filled
        out["particles"] = []
        for numpar in ((100, 400) if quick else (100, 200, 400, 800, 1600)):
            cpu, _, core, pmin = one_simulation(met, numpar, 6)
            out["particles"].append({"numpar": numpar, "hours": 6, "cpu_s": cpu,
                                     "live": pmin / (numpar * 360),
                                     "us_per_pmin": 1e6 * cpu / pmin, "core_share": core / cpu})
        out["hours"] = []
        for hours in ((2, 6) if quick else (1, 3, 6, 12, 17)):
            cpu, _, core, pmin = one_simulation(met, 200, hours)
            out["hours"].append({"numpar": 200, "hours": hours, "cpu_s": cpu,
                                 "live": pmin / (200 * hours * 60),
                                 "us_per_pmin": 1e6 * cpu / pmin, "core_share": core / cpu})
        out["receptors"] = []
        sizes = (1, 4) if quick else (1, 4, 16, 64)
        for n in sizes:
            met_cache().clear()  # each project starts with a cold worker
            parts = FunctionClocks(OUTSIDE, time.thread_time) if n == sizes[-1] else None
            try:
                cpu, _, core, runs = project_run(make_project(tmp / f"r{n}", met_dir, n), 1)
            finally:
                if parts is not None:
                    parts.close()
            out["receptors"].append({"receptors": n, "cpu_s": cpu, "cpu_per_sim": cpu / runs,
                                     "core_share": core / cpu})
            if parts is not None:
                out["outside"] = _outside_rows(parts.seconds, cpu, core, runs)
        out["threads"] = []
        numpar = 400 if quick else 2000
        walls = {k: min(one_simulation(met, numpar, 3, k)[1] for _ in range(3)) for k in (1, 2)}
        for k, wall in walls.items():
            out["threads"].append({"threads": k, "numpar": numpar, "hours": 3, "wall_s": wall,
                                   "speedup": walls[1] / wall})
        out["workers"] = []
        n = 4 if quick else 16
        walls = {}
        for k in (1, 2):
            walls[k] = project_run(make_project(tmp / f"w{k}", met_dir, n, k), k)[1]
            out["workers"].append({"workers": k, "receptors": n, "wall_s": walls[k],
                                   "speedup": walls[1] / walls[k]})
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def _outside_rows(seconds: dict[str, float], cpu: float, core: float,
                  runs: int) -> list[dict[str, Any]]:
    """The parts outside the core loop, each with its CPU per simulation and share of ``cpu``:
    the transport's own part is what remains of run_trajectories after the core, the met
    windows and the output rows; "the rest" what no part accounts for."""
    s = dict(seconds)
    transport = s.pop("transport (run_trajectories)")
    s["transport: release, plume dilution, Dataset"] = (
        transport - core - s["met windows (MetSource.remap)"] - s["output rows (Rows.add)"])
    s["the rest: status records, logs, links, planning"] = cpu - core - sum(s.values())
    return [{"part": k, "ms_per_sim": 1e3 * v / runs, "share": v / cpu} for k, v in s.items()]


def print_tables(out: dict[str, list[dict[str, Any]]]) -> None:
    """The tables of docs/performance.md, in Markdown."""
    print("| particles | hours | CPU s | on the grid | us per particle-minute | "
          "in the core loop |")
    print("|---:|---:|---:|---:|---:|---:|")
    for r in out["particles"] + out["hours"]:
        print(f"| {r['numpar']} | {r['hours']} | {r['cpu_s']:.2f} | {100 * r['live']:.0f} % | "
              f"{r['us_per_pmin']:.2f} | {100 * r['core_share']:.0f} % |")
    print("\n| receptors (200 particles x 6 h) | CPU s | CPU s per simulation | "
          "in the core loop |")
    print("|---:|---:|---:|---:|")
    for r in out["receptors"]:
        print(f"| {r['receptors']} | {r['cpu_s']:.2f} | {r['cpu_per_sim']:.3f} | "
              f"{100 * r['core_share']:.0f} % |")
    last = out["receptors"][-1]
    outside = 100 * (1 - last["core_share"])
    print(f"\noutside the core loop at {last['receptors']} receptors: {outside:.0f} % of the CPU "
          f"(goal <= 15 %: {'met' if outside <= 15 else 'NOT met'})")
    print("\n| outside the core loop | CPU ms per simulation | share of all |")
    print("|---|---:|---:|")
    for r in out.get("outside", []):
        print(f"| {r['part']} | {r['ms_per_sim']:.1f} | {100 * r['share']:.1f} % |")
    print("\n| threads | particles x hours | wall s | speed-up over 1 |")
    print("|---:|---:|---:|---:|")
    for r in out["threads"]:
        print(f"| {r['threads']} | {r['numpar']} x {r['hours']} | {r['wall_s']:.2f} | "
              f"{r['speedup']:.2f}x |")
    print("\n| workers | receptors | wall s | speed-up over 1 |")
    print("|---:|---:|---:|---:|")
    for r in out["workers"]:
        print(f"| {r['workers']} | {r['receptors']} | {r['wall_s']:.2f} | {r['speedup']:.2f}x |")


def plot(out: dict[str, list[dict[str, Any]]], path: str) -> None:
    """Four panels: cost per particle-minute against particles and hours, CPU per simulation
    against receptors, speed-up against threads and workers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 4, figsize=(13, 3.2))
    for a, key, x, label in ((ax[0], "particles", "numpar", "particles (6 h)"),
                             (ax[1], "hours", "hours", "hours (200 particles)")):
        a.plot([r[x] for r in out[key]], [r["us_per_pmin"] for r in out[key]], "o-")
        a.set_xlabel(label)
        a.set_ylabel("CPU us per particle-minute")
        a.set_ylim(bottom=0)
    ax[0].set_xscale("log")
    rows = out["receptors"]
    ax[2].plot([r["receptors"] for r in rows], [r["cpu_per_sim"] for r in rows], "o-")
    ax[2].set_xscale("log")
    ax[2].set_xlabel("receptors (one worker)")
    ax[2].set_ylabel("CPU s per simulation")
    ax[2].set_ylim(bottom=0)
    for key, marker in (("threads", "o-"), ("workers", "s-")):
        ax[3].plot([r[key] for r in out[key]], [r["speedup"] for r in out[key]], marker,
                   label=key)
    ax[3].plot([1, 2], [1, 2], ":", color="grey", label="ideal")
    ax[3].set_xlabel("threads or workers")
    ax[3].set_ylabel("wall-time speed-up")
    ax[3].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    """Measure, print the tables, and draw the figure when asked."""
    args = docopt(__doc__)
    load = os.getloadavg()[0]
    print(f"{os.cpu_count()} cores, load average {load:.1f} at the start"
          + (" (busy: wall-time ratios understate the speed-ups)" if load > 1 else ""))
    out = measure(bool(args["--quick"]))
    print_tables(out)
    if args["--plot"]:
        plot(out, args["--plot"])
        print(f"figure: {args['--plot']}")


if __name__ == "__main__":
    main()
