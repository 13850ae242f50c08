"""Time ARL decoding: all 36 periods of oct1618.BIN, and a window of an HRRR-sized record set.

Run: .venv/bin/python bench/bench_arl.py [--hrrr]

Prints the best of several full decodes of ../shared/met/oct1618.BIN (one core) and its ratio
to the 1-second target of issue 2. With --hrrr it also writes one period of a 1799 x 1059
(HRRR CONUS size) file with 3 surface and 10 x 4 upper fields into a temporary folder and times
a full decode against a 200 x 200 window, to show that a window costs a fraction of the file.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("STILT_SHARED", REPO.parent / "shared"))
TARGET_S = 1.0


def _best(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def bench_oct1618() -> None:
    """Full decode of oct1618.BIN, best of 7, and the ratio to the 1-second target."""
    from stilt.met.arl import read_arl

    path = SHARED / "met" / "oct1618.BIN"
    if not path.is_file():
        print(f"skipped: {path} is absent")
        return
    ds = read_arl(path)  # warm up: imports, page cache
    n_rec = sum(v.size // (ds.sizes["y"] * ds.sizes["x"]) for v in ds.data_vars.values())
    from stilt.met.arl_index import cached_inventory

    def cold() -> None:  # index records scanned again, as for a file never seen before
        cached_inventory.cache_clear()
        read_arl(path)

    t = _best(cold, repeat=7)
    warm = _best(lambda: read_arl(path), repeat=7)
    print(f"oct1618.BIN full decode: {ds.sizes['time']} periods, {n_rec} records, "
          f"checksums verified: {t:.4f} s = {1e3 * t / n_rec:.3f} ms per record (best of 7; "
          f"{warm:.4f} s with the index cached: {warm / t:.2f} of it)")
    print(f"ratio to the {TARGET_S:.0f}-second target: {t / TARGET_S:.3f} "
          f"({TARGET_S / t:.0f}x faster than needed)")


def bench_hrrr_window() -> None:
    """Full decode vs a 200 x 200 window of one HRRR-sized period."""
    import numpy as np

    from stilt.met.arl import met_dataset, read_arl, write_arl
    from stilt.met.projection import ArlGrid

    nx, ny, nl = 1799, 1059, 10
    grid = ArlGrid.lambert(tang_lat=38.5, ref_lon=-97.5, grid_size_km=3.0, nx=nx, ny=ny,
                           center_lat=38.5, center_lon=-97.5)
    rng = np.random.default_rng(0)
    base = rng.normal(size=(ny, nx)).astype(np.float32).cumsum(axis=1) * 0.1
    surface = {"PRSS": 900 + base, "T02M": 290 + base, "PBLH": 1000 + 50 * base}
    upper = {n: (base[None, None] + np.arange(nl, dtype=np.float32)[None, :, None, None])
             for n in ("UWND", "VWND", "TEMP", "PRES")}
    ds = met_dataset(grid, ["2023-07-16T00"], vertical_system="sigma",
                     level_values=np.linspace(0.99, 0.5, nl), surface=surface, upper=upper)
    with tempfile.TemporaryDirectory() as tmp:
        path = write_arl(ds, Path(tmp) / "hrrr_like.arl")
        size = path.stat().st_size / 1e6
        full = _best(lambda: read_arl(path), repeat=3)
        win = _best(lambda: read_arl(path, x=(800, 999), y=(600, 799)), repeat=3)
        nochk = _best(lambda: read_arl(path, x=(800, 999), y=(600, 799),
                                       check_checksums=False), repeat=3)
    n = 3 + 4 * nl
    print(f"HRRR-sized period ({nx} x {ny}, {n} records, {size:.0f} MB "
          f"written): full decode {full:.3f} s = {1e9 * full / (n * nx * ny):.1f} ns per "
          f"value, 200 x 200 window {win:.3f} s ({win / full:.2f} of full), window without "
          f"checksums {nochk:.3f} s ({nochk / full:.2f} of full)")


def main() -> None:
    """Run the benchmarks."""
    bench_oct1618()
    if "--hrrr" in sys.argv:
        bench_hrrr_window()


if __name__ == "__main__":
    main()
