"""How long a local pool takes to start its first simulation, on a 4-receptor project.

Usage:
    bench_pool_start.py [--workers N] [--numpar N]

Options:
    --workers N  worker processes [default: 2]
    --numpar N   particles per simulation [default: 200]

Prints, for two runs in this process (the first starts the pool's forkserver, the second
finds it running): seconds from ``Model.run`` to the first simulation started in a worker
(the index's ``started_at``), the whole run, and each simulation's duration (the first ones
in a fresh worker include what it imports and reads first). Run it in a fresh process: the cold figure
includes the forkserver's start and its import of stilt.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from bench_executor import project  # the same project and met as bench_executor, 4 receptors


def first_start(root: Path, workers: int) -> tuple[float, float, list[float]]:
    """Seconds to the first simulation started in a worker, to the end of the run, and
    each simulation's duration."""
    import stilt

    model = stilt.Model(root)
    model.register_pending()
    t0 = time.time()
    report = model.run(n_workers=workers)
    wall = time.time() - t0
    rows = model.index.rows()
    first = min(r["started_at"] for r in rows)
    model.close()
    assert report.ok and report.transport_runs == 4, report.summary()
    return first - t0, wall, sorted(r["duration"] for r in rows)


def main() -> None:
    from docopt import docopt

    args = docopt(__doc__)
    workers, numpar = int(args["--workers"]), int(args["--numpar"])
    import stilt  # noqa: F401  (the import of the parent is not the pool's start)
    from stilt.met.synthetic import generate_synthetic_met

    tmp = Path(tempfile.mkdtemp(prefix="stilt-bench-pool-"))
    try:
        met = tmp / "met"
        generate_synthetic_met(met, start="2023-07-15T12:00", hours=8, file_hours=8,
                               nx=60, ny=50)
        for label in ("cold", "warm"):
            first, wall, took = first_start(project(tmp / label, met, numpar, n=4, n_hours=-2),
                                           workers)
            print(f"{label}: first simulation started after {first:.3f} s, run {wall:.2f} s, "
                  f"simulations {' '.join(f'{t:.2f}' for t in took)} s "
                  f"({workers} workers, 4 receptors, {numpar} particles)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
