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
"""

from __future__ import annotations

import time

import numpy as np
from docopt import docopt


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
    for _ in range(repeat):
        for n, runs in walls.items():
            t0 = time.perf_counter()
            stilt.run_trajectories(rec, met, n_hours=-hours, numpar=numpar, seed=1, threads=n)
            runs.append(time.perf_counter() - t0)
    best = {n: min(runs) for n, runs in walls.items()}
    pairs = np.array(walls[1]) / np.array(walls[threads])
    q1, median, q3 = np.percentile(pairs, [25, 50, 75])
    print(f"{numpar} particles x {hours} h: 1 thread {best[1]:.2f} s, {threads} threads "
          f"{best[threads]:.2f} s (best of {repeat}); speed-up {best[1] / best[threads]:.2f}x; "
          f"pairs: median {median:.2f}x (quartiles {q1:.2f}-{q3:.2f}x)")


if __name__ == "__main__":
    main()
