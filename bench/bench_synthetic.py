"""Time the synthetic met generator at its CLI defaults (48 h, 120 x 100, 25 levels).

Run: .venv/bin/python bench/bench_synthetic.py [--write]
Prints the in-memory generation time (and per met time, per grid value) and, with --write, the
time to write the ARL files too (and MB/s).
"""

from __future__ import annotations

import sys
import tempfile
import time


def main() -> None:
    import xarray  # noqa: F401  (import time is not generation time)

    from stilt.met.synthetic import generate_synthetic_met, synthetic_met_files

    t0 = time.perf_counter()
    n = sum(1 for _ in synthetic_met_files(hours=48, file_hours=6, nx=120, ny=100, seed=1))
    t1 = time.perf_counter()
    values = 49 * 120 * 100 * 25  # met times x cells x levels, per upper variable
    print(f"synthetic met, 48 h x 120 x 100 x 25 levels in {n} files: "
          f"{t1 - t0:.2f} s to generate in memory = {1e3 * (t1 - t0) / 49:.1f} ms per met "
          f"time, {1e9 * (t1 - t0) / values:.0f} ns per grid value of one variable")
    if "--write" in sys.argv:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            paths = generate_synthetic_met(tmp)
            t1 = time.perf_counter()
            size = sum(p.stat().st_size for p in paths) / 1e6
            print(f"generate + write_arl: {t1 - t0:.2f} s, {len(paths)} files, {size:.0f} MB "
                  f"= {size / (t1 - t0):.0f} MB/s")


if __name__ == "__main__":
    main()
