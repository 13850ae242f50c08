"""Benchmark: one simulation's wall time with 1 and with N OpenMP threads, in one run.

Usage:
    bench_threads.py [--numpar N] [--hours H] [--threads T] [--repeat R]

Options:
    --numpar N   particles [default: 2000]
    --hours H    hours backward [default: 6]
    --threads T  threads to compare with one [default: 2]
    --repeat R   pairs of runs [default: 9]

Runs ``stilt.run_trajectories`` on the synthetic HRRR-like met (60 x 60 cells, 8 hours, in
memory) in R pairs, 1 thread then T threads, and prints the best wall time of each, their
ratio (the issue's goal: >= 1.8x on 2 cores) and the median and quartiles of the R pairs'
ratios: on a shared virtual machine whose speed drifts by 20 % from one minute to the next,
a pair's two runs see about the same machine, and the quartiles show how far one figure can
be trusted. The particles are identical for any thread count (tests/test_transport.py). Run
it on an otherwise idle machine.

Then where each thread count's wall time goes (medians over the R runs): inside the core's
calls (``_core.transport_advance``: the particle loop, on all threads, while the output rows
of the call before are made on one more thread), in the met remaps (``MetSource.remap``:
reading the window's fields and the core's remap, which runs on the threads but is preceded
by serial Python), and the rest (the release, the rows not yet made when the run ends, the
Dataset); and the speed-up Amdahl's law allows with the met remaps as they are and the core
scaling perfectly.
"""

from __future__ import annotations

import time

import numpy as np
from _clocks import FunctionClocks
from docopt import docopt


#: where a run's wall time goes: the core's calls, the met remaps
PARTS = (("stilt._core", "transport_advance", "core"),
         ("stilt.met.window", "MetSource.remap", "met"))


def main() -> None:
    """Time both thread counts and print the speed-up."""
    import stilt
    from stilt.met.synthetic import synthetic_met

    args = docopt(__doc__)
    numpar, hours = int(args["--numpar"]), int(args["--hours"])
    threads, repeat = int(args["--threads"]), int(args["--repeat"])
    met = synthetic_met("2023-07-15T12:00", hours=hours + 2, nx=60, ny=60)
    rec = {"time": f"2023-07-15T{12 + hours + 1:02d}:00", "latitude": 40.0,
           "longitude": -101.5, "altitude": 10.0}
    walls: dict[int, list[float]] = {1: [], threads: []}
    parts: dict[int, list[dict[str, float]]] = {1: [], threads: []}
    clocks = FunctionClocks(PARTS, time.perf_counter)
    try:
        for _ in range(repeat):
            for n, runs in walls.items():
                clocks.take()
                t0 = time.perf_counter()
                stilt.run_trajectories(rec, met, n_hours=-hours, numpar=numpar, seed=1,
                                       threads=n)
                runs.append(time.perf_counter() - t0)
                parts[n].append(clocks.take())
    finally:
        clocks.close()
    best = {n: min(runs) for n, runs in walls.items()}
    pairs = np.array(walls[1]) / np.array(walls[threads])
    q1, median, q3 = np.percentile(pairs, [25, 50, 75])
    print(f"{numpar} particles x {hours} h: 1 thread {best[1]:.2f} s, {threads} threads "
          f"{best[threads]:.2f} s (best of {repeat}); speed-up {best[1] / best[threads]:.2f}x; "
          f"pairs: median {median:.2f}x (quartiles {q1:.2f}-{q3:.2f}x)")
    med = {n: {k: float(np.median([p[k] for p in parts[n]])) for k in ("core", "met")}
           | {"wall": float(np.median(walls[n]))} for n in walls}
    for n, m in med.items():
        rest = m["wall"] - m["core"] - m["met"]
        print(f"  {n} thread{'s' if n > 1 else ''}, medians: wall {m['wall']:.3f} s = core calls "
              f"{m['core']:.3f} + met remaps {m['met']:.3f} + rest {rest:.3f}")
    one, many = med[1], med[threads]
    allowed = one["wall"] / ((one["wall"] - one["met"]) / threads + many["met"])
    print(f"  all but the met remaps scaling perfectly would give {allowed:.2f}x; the core calls "
          f"alone {one['core'] / many['core']:.2f}x (the rows made beside them)")

if __name__ == "__main__":
    main()
