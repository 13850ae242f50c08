"""Local executor scaling and orchestration overhead, on 8 real simulations of synthetic met.

Usage:
    bench_executor.py [--numpar N]

Options:
    --numpar N  particles per simulation [default: 1000]

Prints, in one run:
- wall time of 8 simulations with 1 worker (inline) and with 2 workers, and the speed-up
  (target: at least 1.8x on 2 idle cores);
- the orchestration overhead per simulation (registration, index updates, planning, writing
  trajectories/footprints/status/links: wall time minus transport and footprint computing) next
  to the transport time per simulation (target: under 5 % of it).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

MET_FILE = "20230715_12-19_synt.arl"


def project(root: Path, met: Path, numpar: int, n: int = 8, n_hours: int = -6) -> Path:
    """A project of ``n`` receptors on the synthetic met file in ``met``."""
    root.mkdir(parents=True)
    (root / "config.yaml").write_text(
        f"n_hours: {n_hours}\nnumpar: {numpar}\nseed: 1\n"
        f"mets:\n  synth: {{directory: {met}, file_format: {MET_FILE}}}\n"
        "footprints:\n  default:\n    grid: {xmin: -106, xmax: -97, ymin: 36, ymax: 44, "
        "xres: 0.1, yres: 0.1}\n")
    rows = ["time,longitude,latitude,altitude"]
    rows += [f"2023-07-15 19:00,{-102.2 + 0.2 * k:.2f},{39.6 + 0.1 * k:.2f},10"
             for k in range(n)]
    (root / "receptors.csv").write_text("\n".join(rows) + "\n")
    return root


def run(root: Path, n_workers: int) -> tuple[float, object]:
    import stilt

    t0 = time.perf_counter()
    model = stilt.Model(root)
    report = model.run(n_workers=n_workers)
    wall = time.perf_counter() - t0
    report.durations = [r["duration"] for r in model.index.rows()]  # type: ignore[attr-defined]
    model.close()
    assert report.ok and report.transport_runs == 8, report.summary()
    return wall, report


def main() -> None:
    from docopt import docopt

    args = SimpleNamespace(numpar=int(docopt(__doc__)["--numpar"]))

    import stilt  # noqa: F401  (import time is not run time)
    from stilt.met.synthetic import generate_synthetic_met

    tmp = Path(tempfile.mkdtemp(prefix="stilt-bench-executor-"))
    try:
        met = tmp / "met"
        generate_synthetic_met(met, start="2023-07-15T12:00", hours=8, file_hours=8,
                               nx=60, ny=50)
        # warm-up (imports, first-call costs, the pool's forkserver: bench_pool_start.py
        # times that) outside the timings
        run(project(tmp / "warm", met, 50), 2)
        wall1, rep1 = run(project(tmp / "one", met, args.numpar), 1)
        wall2, rep2 = run(project(tmp / "two", met, args.numpar), 2)
        n = 8
        transport = rep1.transport_seconds / n
        footprint = rep1.footprint_seconds / n
        overhead = (wall1 - rep1.transport_seconds - rep1.footprint_seconds) / n
        print(f"8 simulations, {args.numpar} particles, 6 h back, 60 x 50 synthetic met")
        print(f"1 worker : {wall1:6.2f} s")
        print(f"2 workers: {wall2:6.2f} s   speed-up {wall1 / wall2:.2f}x (target >= 1.8x)")
        d1, d2 = rep1.durations, rep2.durations
        print(f"simulation durations: 1 worker {min(d1):.2f}..{max(d1):.2f} s (sum {sum(d1):.1f}),"
              f" 2 workers {min(d2):.2f}..{max(d2):.2f} s (sum {sum(d2):.1f}: "
              f"{sum(d2) / sum(d1):.2f}x from running two at once on shared cores/caches)")
        print(f"ideal 2-worker wall with that slow-down: {sum(d2) / 2:.2f} s "
              f"(the rest is the last simulation's tail and worker start-up)")
        print(f"per simulation: transport {transport:.3f} s, footprint {footprint:.3f} s, "
              f"orchestration overhead {overhead * 1000:.1f} ms = "
              f"{100 * overhead / transport:.1f} % of transport (target < 5 %)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
