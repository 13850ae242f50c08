"""Benchmark: output sizes and costs at project scale (issue 18).

Usage:
    bench_outputs.py [--numpar N] [--hours H] [--footprints N] [--dir DIR]

Options:
    --numpar N       particles [default: 1000]
    --hours H        hours backward [default: 6]
    --footprints N   footprint files to open as one dataset [default: 10000]
    --dir DIR        where to write the files (e.g. a scratch file system; default a
                     temporary folder)

1. Trajectories: one run on the ngm oct1618 met (``$STILT_SHARED/met``) at the default
   settings (outdt 0, the default columns), written as before (float64 positions and foot,
   uncompressed, through xarray), compact on ``(time, indx)`` (packed positions, rounded
   float32, zlib + shuffle: the first compact layout) and as a project simulation writes it
   now (the same compact columns on ``(indx, time)``, ``write_trajectories``: netCDF4 lays
   out the file, ISA-L deflates the chunks; also through xarray's ``to_netcdf``, the same
   file with HDF5's zlib). Prints bytes
   per particle-minute of each (goal: new <= 16), then the goal's comparison, best of three
   of each, CPU (process time, both threads) and wall, with the file's data on disk (fsync):
   - the write alone (compact: rounding and converting included), and with
     ``trajectories: thin`` (thinning to 10 min included: the file a project then writes);
   - a project simulation after its transport, which is what the write costs it: old, the
     write then the footprint; new, the write in a thread while the footprint is computed
     (as ``stilt.simulation`` does). Goal: new wall <= old wall.
   ``--dir`` puts the files on the file system that matters (e.g. the cluster's scratch,
   where the 4x smaller file also takes 4x less I/O; on a local disk compression dominates).
   Then the same compact file as a project writes it, through xarray (HDF5's zlib) and with
   other HDF5 filters than zlib (zstd, blosc lz4, blosc zstd, none), which netCDF-C reads
   only with its filter plugins: bytes per particle-minute and write CPU against the old
   file's, for the choice between the write-time goal and
   the readers (docs/outputs.md, "Trajectory storage").
2. Footprints as one dataset: a project folder with N hourly footprint files (24 layers on a
   100 x 80 grid; one file written and hard-linked N times, so the set is made quickly) and
   its index; prints the seconds ``model.footprints[name].open_dataset()`` takes, and the
   seconds to read one simulation's values from it.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from docopt import docopt

BENCH = Path(__file__).resolve().parent
SHARED = Path(os.environ.get("STILT_SHARED", BENCH.parent.parent / "shared"))


def _synced(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)


def _best(fn, n: int = 3) -> tuple[float, float]:
    """(CPU s, wall s), each the best of ``n`` calls."""
    cpu = wall = float("inf")
    for _ in range(n):
        c, w = time.process_time(), time.perf_counter()
        fn()
        cpu, wall = min(cpu, time.process_time() - c), min(wall, time.perf_counter() - w)
    return cpu, wall


def trajectories(numpar: int, hours: int, folder: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    import stilt
    from stilt.trajectory_file import (compact_trajectories, file_layout, thin_trajectories,
                                       trajectory_encoding, write_trajectories)

    met = stilt.MetConfig(SHARED / "met", "oct1618.BIN", "1 day")
    rec = {"time": "1995-10-17T18:00", "latitude": 40.0, "longitude": -90.0, "altitude": 10}
    t = time.perf_counter()
    ds = stilt.run_trajectories(rec, met, n_hours=-hours, numpar=numpar, seed=42,
                                hnf_plume=True)
    run = time.perf_counter() - t
    grid = stilt.Grid(xmin=-100.0, xmax=-85.0, ymin=33.0, ymax=43.0, xres=0.1, yres=0.1)
    old_path, new_path = folder / "old.nc", folder / "new.nc"

    def old_write() -> None:
        old_path.unlink(missing_ok=True)
        ds.to_netcdf(old_path, engine="netcdf4")
        _synced(old_path)

    def xarray_write(particles, layout=file_layout) -> None:
        new_path.unlink(missing_ok=True)
        particles = layout(particles)
        particles.to_netcdf(new_path, engine="netcdf4",
                            encoding=trajectory_encoding(particles))
        _synced(new_path)

    def write(particles) -> None:  # as a project simulation writes it
        new_path.unlink(missing_ok=True)
        write_trajectories(particles, new_path)
        _synced(new_path)

    def new_write() -> None:
        write(compact_trajectories(ds))

    def new_xarray_write() -> None:  # the same file through xarray's to_netcdf
        xarray_write(compact_trajectories(ds))

    def thin_write() -> None:  # trajectories: thin, written thinned at once
        write(thin_trajectories(compact_trajectories(ds), 10))

    def rows_write() -> None:  # the first compact layout: the table on (time, indx)
        xarray_write(compact_trajectories(ds), layout=lambda particles: particles)

    def footprint(particles) -> None:
        stilt.calc_footprint(particles, rec, grid)

    def old_simulation() -> None:
        old_write()
        footprint(ds)

    def new_simulation() -> None:
        compact = compact_trajectories(ds)
        with ThreadPoolExecutor(1) as pool:
            job = pool.submit(write, compact)
            footprint(compact)
            job.result()

    pm = ds.sizes["time"] * ds.sizes["indx"]
    old, rows = _best(old_write), _best(rows_write)
    size_old, size_rows = old_path.stat().st_size / pm, new_path.stat().st_size / pm
    thin = _best(thin_write)
    via_xarray = _best(new_xarray_write)
    new = _best(new_write)
    size_new = new_path.stat().st_size / pm
    foot = _best(lambda: footprint(ds))
    sim_old, sim_new = _best(old_simulation), _best(new_simulation)
    print(f"trajectories: {numpar} particles x {hours} h every minute = {pm} particle-minutes "
          f"(transport {run:.1f} s)")
    print(f"  bytes per particle-minute: old {size_old:.1f}, compact on (time, indx) "
          f"{size_rows:.1f}, new on (indx, time) {size_new:.1f} "
          f"({size_old / size_new:.1f}x smaller; goal <= 16: "
          f"{'met' if size_new <= 16 else 'NOT met'})")
    print(f"  write + fsync, best of 3:  old CPU {old[0]:.3f} s wall {old[1]:.3f} s;  "
          f"compact on (time, indx) CPU {rows[0]:.3f} s wall {rows[1]:.3f} s;  "
          f"new through xarray CPU {via_xarray[0]:.3f} s wall {via_xarray[1]:.3f} s;  "
          f"new CPU {new[0]:.3f} s wall {new[1]:.3f} s  (new/old CPU {new[0] / old[0]:.1f}x, "
          f"wall {new[1] / old[1]:.2f}x; new/(time, indx) CPU {new[0] / rows[0]:.2f}x; "
          f"new/through xarray CPU {new[0] / via_xarray[0]:.2f}x)")
    print(f"  trajectories: thin (10 min), thinning + write + fsync: CPU {thin[0]:.3f} s wall "
          f"{thin[1]:.3f} s (CPU {thin[0] / old[0]:.2f}x the old full write); "
          f"trajectories: drop writes nothing")
    print(f"  the footprint alone (0.1-degree grid, hourly): CPU {foot[0]:.3f} s "
          f"wall {foot[1]:.3f} s")
    print(f"  after the transport (write + footprint): old CPU {sim_old[0]:.3f} s wall "
          f"{sim_old[1]:.3f} s;  new, overlapped, CPU {sim_new[0]:.3f} s wall "
          f"{sim_new[1]:.3f} s  (wall new/old {sim_new[1] / sim_old[1]:.2f}x; goal <= 1: "
          f"{'met' if sim_new[1] <= sim_old[1] else 'NOT met'}); per simulation "
          f"{sim_old[1] + run:.2f} s old, {sim_new[1] + run:.2f} s new with the transport")
    other_filters(ds, folder)


#: HDF5 filters beside zlib, for the record (issue 18's write-time goal); netCDF-C reads them
#: only with its filter plugins, which the netCDF4 wheels carry and many R/netCDF installs
#: do not. Settings per table column in place of zlib's; the types and chunks stay.
OTHER_FILTERS = {
    "zlib 1 + shuffle (HDF5's zlib)": None,
    "zstd 1 + shuffle": {"compression": "zstd", "complevel": 1, "shuffle": True},
    "blosc lz4 1, byte shuffle": {"compression": "blosc_lz4", "complevel": 1,
                                  "blosc_shuffle": 1, "shuffle": False},
    "blosc zstd 1, byte shuffle": {"compression": "blosc_zstd", "complevel": 1,
                                   "blosc_shuffle": 1, "shuffle": False},
    "none (types only)": {"zlib": False, "shuffle": False},
}


def other_filters(ds, folder: Path) -> None:
    """Bytes per particle-minute and write CPU (best of 5) of the compact file with each of
    :data:`OTHER_FILTERS`, written through xarray from ``trajectory_encoding``; and the old
    file's write CPU in the same run."""
    import netCDF4

    from stilt.trajectory_file import (compact_trajectories, file_layout, trajectory_encoding,
                                       write_trajectories)

    particles = file_layout(compact_trajectories(ds))
    path = folder / "filter.nc"
    pm = ds.sizes["time"] * ds.sizes["indx"]
    plugins = {"zstd": netCDF4.__has_zstandard_support__, "blosc": netCDF4.__has_blosc_support__}

    def write(encoding) -> None:
        path.unlink(missing_ok=True)
        particles.to_netcdf(path, engine="netcdf4", encoding=encoding)

    def old_write() -> None:
        path.unlink(missing_ok=True)
        ds.to_netcdf(path, engine="netcdf4")

    def write_direct() -> None:
        path.unlink(missing_ok=True)
        write_trajectories(particles, path)

    old = _best(old_write, 5)[0]
    print(f"  other HDF5 filters (write through xarray, no fsync, best of 5; the old file "
          f"{old:.3f} s CPU):")
    cpu = _best(lambda: write_direct(), 5)[0]
    print(f"    zlib 1 + shuffle, deflated by ISA-L (what a project writes, "
          f"write_trajectories): {path.stat().st_size / pm:.1f} bytes per particle-minute, "
          f"write CPU {cpu:.3f} s ({cpu / old:.2f}x the old file's)")
    for label, settings in OTHER_FILTERS.items():
        kind = (settings or {}).get("compression") or ""
        if kind and not plugins[kind.split("_")[0]]:
            print(f"    {label}: this netCDF4 has no {kind} filter")
            continue
        encoding = trajectory_encoding(particles)
        for enc in encoding.values():
            if settings is not None:
                for key in ("zlib", "complevel", "shuffle"):
                    enc.pop(key, None)
                enc.update(settings)
        cpu = _best(lambda: write(encoding), 5)[0]
        print(f"    {label}: {path.stat().st_size / pm:.1f} bytes per particle-minute, write "
              f"CPU {cpu:.3f} s ({cpu / old:.2f}x the old file's)")


def _footprint_project(folder: Path, n: int):
    """A project folder with ``n`` complete simulations sharing one footprint file."""
    from stilt.config import ModelConfig
    from stilt.footprint import write_footprint
    from stilt.index import SimulationIndex
    from stilt.simulation import SimulationPaths

    grid = {"xmin": -100.0, "xmax": -90.0, "ymin": 35.0, "ymax": 43.0, "xres": 0.1,
            "yres": 0.1}
    cfg = ModelConfig(mets={"m": {"directory": "met", "file_format": "x"}}, n_hours=-24,
                      footprints={"f": {"grid": grid}})
    times = np.datetime64("2023-07-15T00:00") + np.arange(n) * np.timedelta64(1, "h")
    rng = np.random.default_rng(1)
    lat = np.arange(35.05, 43.0, 0.1)
    lon = np.arange(-99.95, -90.0, 0.1)
    template = folder / "template_foot.nc"
    layer = times[0] - np.arange(24, 0, -1) * np.timedelta64(1, "h")
    import xarray as xr

    ds = xr.Dataset({"foot": (("time", "lat", "lon"),
                              rng.random((24, lat.size, lon.size)).astype(np.float32),
                              {"units": "ppm (umol-1 m2 s)"})},
                    coords={"time": layer.astype("datetime64[ns]"), "lat": lat, "lon": lon},
                    attrs={"n_hours": -24, "time_integrate": 0})
    write_footprint(ds, template)
    rows = []
    for k, when in enumerate(times):
        stamp = str(when).replace("-", "").replace("T", "").replace(":", "")[:12]
        sim_id = f"m_{stamp}_-95_39_{k}"
        paths = SimulationPaths.of(folder / "out", sim_id)
        paths.folder.mkdir(parents=True)
        os.link(template, paths.footprint("f"))
        rows.append({"sim_id": sim_id, "met": "m", "config_hash": "h",
                     "receptor": {"kind": "point", "time": str(when), "longitude": -95.0,
                                  "latitude": 39.0, "altitude": float(k),
                                  "altitude_ref": "agl"}})
    with SimulationIndex(folder / "out" / "index.sqlite") as index:
        index.register(rows)
        for r in rows:
            index.complete(r["sim_id"], None, outputs=[f"{r['sim_id']}_f_foot.nc"])
    return cfg, rows, times


def footprints(n: int, folder: Path) -> None:
    import stilt

    cfg, rows, times = _footprint_project(folder, n)
    model = stilt.Model(folder, [], cfg)
    try:
        t = time.perf_counter()
        ds = model.footprints["f"].open_dataset()
        opened = time.perf_counter() - t
        # the template's layers are stamped for the first receptor: read that one
        t = time.perf_counter()
        total = float(ds.foot.isel(simulation=0).sum())
        one = time.perf_counter() - t
    finally:
        model.close()
    print(f"footprints: {ds.sizes['simulation']} files ({dict(ds.foot.sizes)}) opened as one "
          f"dataset in {opened:.2f} s; one simulation's values read in {one:.3f} s "
          f"(sum {total:.1f})")


def main(argv: list[str] | None = None) -> int:
    args = docopt(__doc__, argv=argv)
    where = args["--dir"]
    with tempfile.TemporaryDirectory(dir=where) as tmp:
        trajectories(int(args["--numpar"]), int(args["--hours"]), Path(tmp))
    with tempfile.TemporaryDirectory(dir=where) as tmp:
        footprints(int(args["--footprints"]), Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
