"""Benchmark: one simulation on a larger grid, where the met windows are large.

Usage:
    bench_met_window.py [--size N] [--numpar P] [--hours H]

Options:
    --size N    grid points each way of the synthetic HRRR-like met [default: 240]
    --numpar P  particles [default: 1000]
    --hours H   hours backward [default: 12]

Writes the synthetic met (files of 6 hours) to a temporary folder, then runs one simulation
in a fresh process and prints its CPU time, its peak resident memory, the met windows it
read and how many of their node-times the core remapped (it remaps a node only when a
particle first reads it, docs/transport.md, "Met window"). Both are child processes of this
one, which imports nothing heavy: on Linux a child's peak memory starts from its parent's
at the fork, so the figure is the simulation's own (plus the interpreter and imports).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile

from docopt import docopt

GENERATE = r"""
import json, sys
from stilt.met.synthetic import generate_synthetic_met

args = json.loads(sys.argv[1])
generate_synthetic_met(args["met"], start="2023-07-15T06:00", hours=args["hours"] + 6,
                       file_hours=6, nx=args["size"], ny=args["size"])
"""

RUN = r"""
import json, resource, sys, time
import stilt
from stilt.met import window

args = json.loads(sys.argv[1])
kept = []  # (window, done flags) of each window read; not the windows' met itself
remap = window.MetSource.remap

def keeping(self, *a, **k):
    met = remap(self, *a, **k)
    kept.append((met.window, met.done))
    return met

window.MetSource.remap = keeping
met = stilt.MetConfig(args["met"], "%Y%m%d_%H", "1h")
rec = {"time": "2023-07-15T20:00", "latitude": 40.0, "longitude": -101.5, "altitude": 10.0}
t0 = time.process_time()
stilt.run_trajectories(rec, met, n_hours=-args["hours"], numpar=args["numpar"], seed=1,
                       varsiwant=["time", "indx", "long", "lati", "zagl", "foot"])
print(json.dumps({
    "cpu": time.process_time() - t0,
    "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    "reads": len(kept),
    "largest": max((w.nx * w.ny, w.nx, w.ny) for w, _ in kept)[1:],
    "remapped": int(sum((done >= 1).sum() for _, done in kept)),
    "node_times": int(sum(done.size for _, done in kept))}))
"""


def main() -> None:
    """Write the met, run once in a fresh process, print the figures."""
    args = docopt(__doc__)
    size, numpar, hours = int(args["--size"]), int(args["--numpar"]), int(args["--hours"])
    with tempfile.TemporaryDirectory(prefix="stilt-bench-met-") as tmp:
        job = json.dumps({"met": tmp, "numpar": numpar, "hours": hours, "size": size})
        subprocess.run([sys.executable, "-c", GENERATE, job], check=True)
        out = subprocess.run([sys.executable, "-c", RUN, job], check=True,
                             capture_output=True, text=True).stdout
    r = json.loads(out.strip().splitlines()[-1])
    print(f"{numpar} particles x {hours} h on a {size} x {size} grid: CPU {r['cpu']:.2f} s, "
          f"peak RSS {r['rss_mb']:.0f} MB; {r['reads']} met windows read (largest "
          f"{r['largest'][0]} x {r['largest'][1]} nodes); the core remapped "
          f"{r['remapped']} of their {r['node_times']} node-times "
          f"({100 * r['remapped'] / r['node_times']:.1f} %)")


if __name__ == "__main__":
    main()
