"""Benchmark: one simulation's wall time with 1 and with N OpenMP threads, in one run.

Usage:
    bench_threads.py [--numpar N] [--hours H] [--threads T] [--repeat R]

Options:
    --numpar N   particles [default: 2000]
    --hours H    hours backward [default: 6]
    --threads T  threads to compare with one [default: 2]
    --repeat R   runs of each, best taken [default: 3]

Runs ``stilt.run_trajectories`` on the synthetic HRRR-like met (60 x 60 cells, 8 hours, in
memory) alternately with 1 and T threads, and prints the best wall time of each and their
ratio (the issue's goal: >= 1.8x on 2 cores). The particles are identical for any thread
count (tests/test_transport.py). Run it on an otherwise idle machine.
"""

from __future__ import annotations

import time

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
    best = {1: float("inf"), threads: float("inf")}
    for _ in range(repeat):
        for n in best:
            t0 = time.perf_counter()
            stilt.run_trajectories(rec, met, n_hours=-hours, numpar=numpar, seed=1, threads=n)
            best[n] = min(best[n], time.perf_counter() - t0)
    print(f"{numpar} particles x {hours} h: 1 thread {best[1]:.2f} s, {threads} threads "
          f"{best[threads]:.2f} s (best of {repeat}); speed-up {best[1] / best[threads]:.2f}x")


if __name__ == "__main__":
    main()
