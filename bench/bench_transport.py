"""Benchmark: stilt.run_trajectories against the reference binary (hycs_std), side by side.

Usage:
    bench_transport.py [--case NAME] [--numpar N] [--hours H] [--no-reference]

Options:
    --case NAME     ngm or synth [default: ngm]
    --numpar N      particles [default: 500]
    --hours H       hours backward [default: 24]
    --no-reference  run stilt only

Both run the same receptor, met, roughness table (the one the binary ships, stilt's default)
and R-STILT parameters as the oracle case in
``../shared/oracle/<case>`` (500 particles, 24 h backward, 1-minute output as R-STILT writes by
default), each in its own process so that CPU time and peak memory are those of one run with
its output written: the binary writes PARTICLE_STILT.DAT; stilt writes the particle table to
netCDF. The reference comes from PyPI ``pystilt`` (which bundles hycs_std) in a separate venv
made by ``bench/_reference.py``; it is never a dependency of stilt.
Prints CPU seconds of each, their ratio (target >= 20, issue 16) and peak resident memory.
stilt's CPU is the whole process: interpreter start, the one-time imports (numpy, xarray,
pandas, netCDF4 and stilt's modules), the run and the write, in the environment stilt's command
line gives its processes (numpy's OpenBLAS on one thread unless OPENBLAS_NUM_THREADS is set:
``stilt.cli.one_blas_thread``). The ratio is printed with all of it
(the headline) and without the interpreter start and imports, which a worker pays once for all
its simulations; both labelled. Run it with the interpreter of a regular install (``pip install
.``) for the imports a user pays: an editable install compiles stilt's modules from source in
every process (meson-python's loader writes no bytecode), about 0.07 s more, and says so.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
SHARED = Path(os.environ.get("STILT_SHARED", REPO.parent / "shared"))

CASES = {
    "ngm": {"oracle": "ngm_oct1618", "time": "1995-10-17T18:00", "lat": 40.0, "lon": -90.0},
    "synth": {"oracle": "synth_hrrrlike", "time": "2023-07-16T20:00", "lat": 40.0,
              "lon": -101.5},
}

OURS = r"""
import json, os, resource, sys, time
t0 = time.process_time()  # the interpreter's start, before any import
import stilt
from stilt.cli import one_blas_thread
one_blas_thread()  # as stilt's command line starts its processes, before numpy loads
# the modules the run imports on first use, imported here so that "import" holds every
# one-time cost of a fresh process and "run" the simulation alone
import cftime, netCDF4, pandas, xarray
import stilt.met.arl, stilt.met.projection, stilt.met.roughness, stilt.met.window
from stilt import _core  # as the package loads it (stilt/_load_core.py)
import stilt.transport, stilt._transport_loop
import stilt.errors
# an editable install (meson-python's loader never writes bytecode) or PYTHONDONTWRITEBYTECODE
# compiles stilt's modules from source in every process; an installed wheel does not
compiled = os.path.exists(stilt.errors.__cached__ or "")
args = json.loads(sys.argv[1])
met = stilt.MetConfig(args["directory"], args["file_format"], args["file_tres"])
rec = {"time": args["time"], "latitude": args["lat"], "longitude": args["lon"], "altitude": 10.0}
t1 = time.process_time()
ds = stilt.run_trajectories(rec, met, n_hours=-args["hours"], numpar=args["numpar"], seed=42,
                            varsiwant=args["varsiwant"])
t2 = time.process_time()
tmp = args["out"] + ".tmp"
ds.to_netcdf(tmp)
os.replace(tmp, args["out"])
t3 = time.process_time()
print(json.dumps({"cpu_total": t3, "cpu_start": t0, "cpu_import": t1 - t0, "cpu_run": t2 - t1,
                  "cpu_write": t3 - t2,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
                  "rows": int(ds.lati.notnull().sum()), "bytecode": compiled}))
"""

# runs the binary in a fresh process so that its rusage (CPU, peak RSS) is its own
REF = r"""
import json, resource, subprocess, sys
subprocess.run([sys.argv[1]], cwd=sys.argv[2], check=True, stdout=subprocess.DEVNULL,
               stderr=subprocess.DEVNULL)
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"cpu_total": ru.ru_utime + ru.ru_stime, "peak_rss_mb": ru.ru_maxrss / 1024.0}))
"""


def _met_folder(case: str, work: Path) -> tuple[Path, str, str]:
    """Return folder, file_format and file_tres of the case's met.

    The synthetic files are gunzipped and linked under strftime-friendly names.
    """
    if case == "ngm":
        return SHARED / "met", "oct1618.BIN", "1 day"
    folder = work / "met"
    folder.mkdir(parents=True, exist_ok=True)
    for gz in sorted((SHARED / "oracle" / "synth_hrrrlike" / "met").glob("*.gz")):
        name = gz.name[:-3]                          # 20230716_18-23_synt
        target = folder / name
        if not target.exists():
            with gzip.open(gz) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst)
        link = folder / f"{name[:11]}_synt"          # 20230716_18_synt
        if not link.exists():
            link.symlink_to(target.name)
    return folder, "%Y%m%d_%H_synt", "6 hours"


def _varsiwant(setup: str) -> list[str]:
    line = next(ln for ln in setup.splitlines() if ln.upper().startswith("VARSIWANT"))
    return [v.strip().strip("'\"").lower() for v in line.split("=", 1)[1].split(",")
            if v.strip().strip("'\"")]


def run_reference(case: str, work: Path, numpar: int, hours: int, met_dir: Path,
                  seed: int = 42) -> dict:
    """Run hycs_std on the oracle case's CONTROL/SETUP.CFG; return CPU, peak RSS, rows.

    The oracle's random-number setting is kept (KRAND = 2, SEED = -(seed + 1)); the run
    folder ``work/reference`` keeps PARTICLE_STILT.DAT.
    """
    sys.path.insert(0, str(BENCH))
    from _reference import reference_hycs_std  # noqa: PLC0415 (bench-only helper)

    exe = reference_hycs_std()
    oracle = SHARED / "oracle" / CASES[case]["oracle"]
    run = work / "reference"
    run.mkdir(parents=True, exist_ok=True)
    for aux in (exe.parent.parent.parent / "data").glob("*"):
        shutil.copy(aux, run / aux.name)
    control = (oracle / "CONTROL").read_text().splitlines()
    out = []
    for line in control:
        if line.strip().startswith("../shared/"):
            line = str(met_dir) + "/"
        out.append(line)
    out[3] = f"-{hours}"
    (run / "CONTROL").write_text("\n".join(out) + "\n")
    if case == "synth":  # the original names (the binary reads them directly)
        for line in out:
            if line.endswith("_synt") and not (met_dir / line).exists():
                raise FileNotFoundError(met_dir / line)
    setup = (oracle / "SETUP.CFG").read_text()
    setup = setup.replace("NUMPAR=500", f"NUMPAR={numpar}").replace("MAXPAR=500",
                                                                      f"MAXPAR={numpar}")
    if "SEED=-43," not in setup:
        raise ValueError(f"{oracle / 'SETUP.CFG'}: expected SEED=-43 (seed 42)")
    setup = setup.replace("SEED=-43,", f"SEED={-(seed + 1)},")
    (run / "SETUP.CFG").write_text(setup)
    proc = subprocess.run([sys.executable, "-c", REF, str(exe), str(run)], check=True,
                          capture_output=True, text=True)
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    with open(run / "PARTICLE_STILT.DAT") as f:
        result["rows"] = sum(1 for _ in f) - 1
    return result


def run_ours(case: str, work: Path, numpar: int, hours: int, met_dir: Path, fmt: str,
             tres: str) -> dict:
    """Run stilt.run_trajectories in a fresh process; return CPU, peak RSS, rows."""
    setup = (SHARED / "oracle" / CASES[case]["oracle"] / "SETUP.CFG").read_text()
    args = dict(CASES[case], directory=str(met_dir), file_format=fmt, file_tres=tres,
                hours=hours, numpar=numpar, varsiwant=_varsiwant(setup),
                out=str(work / "stilt_particles.nc"))
    # run in the work folder: from the source tree, "-c" would import its stilt/ (no core)
    proc = subprocess.run([sys.executable, "-c", OURS, json.dumps(args)], check=True,
                          capture_output=True, text=True, cwd=work)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    """Parse the arguments, run both sides and print the comparison."""
    from docopt import docopt

    opts = docopt(__doc__)
    if opts["--case"] not in CASES:
        sys.exit(f"--case must be one of {', '.join(sorted(CASES))}, not {opts['--case']!r}")
    a = SimpleNamespace(case=opts["--case"], numpar=int(opts["--numpar"]),
                      hours=int(opts["--hours"]), no_reference=bool(opts["--no-reference"]))
    if not (SHARED / "met" / "oct1618.BIN").is_file():
        sys.exit(f"reference data folder {SHARED} is absent")
    with tempfile.TemporaryDirectory(prefix="bench_transport_") as tmp:
        work = Path(tmp)
        met_dir, fmt, tres = _met_folder(a.case, work)
        pmin = a.numpar * a.hours * 60
        ours = run_ours(a.case, work, a.numpar, a.hours, met_dir, fmt, tres)
        print(f"case {a.case}: {a.numpar} particles x {a.hours} h, 1-min output "
              f"({pmin} particle-minutes)")
        print(f"  stilt      CPU {ours['cpu_total']:7.2f} s (interpreter start "
              f"{ours['cpu_start']:.2f}, imports {ours['cpu_import']:.2f}, run "
              f"{ours['cpu_run']:.2f}, write {ours['cpu_write']:.2f}) = "
              f"{ours['cpu_run'] / pmin * 1e6:.2f} us/particle-minute in the run; "
              f"peak RSS {ours['peak_rss_mb']:.0f} MB; rows {ours['rows']}")
        if not ours["bytecode"]:
            print("  (stilt's modules were compiled from source in this process: an editable "
                  "install or PYTHONDONTWRITEBYTECODE; its imports cost about 0.07 s more than "
                  "an installed wheel's)")
        if a.no_reference:
            return
        ref = run_reference(a.case, work, a.numpar, a.hours, met_dir)
        print(f"  hycs_std   CPU {ref['cpu_total']:7.2f} s = "
              f"{ref['cpu_total'] / pmin * 1e6:.2f} us/particle-minute; "
              f"peak RSS {ref['peak_rss_mb']:.0f} MB; rows {ref['rows']}")
        once = ours["cpu_start"] + ours["cpu_import"]
        print(f"  speed-up (reference CPU / stilt CPU, both with output written): "
              f"{ref['cpu_total'] / ours['cpu_total']:.1f}x with stilt's interpreter start and "
              f"imports (target >= 20x); {ref['cpu_total'] / (ours['cpu_total'] - once):.1f}x "
              f"without them ({once:.2f} s once per process, shared by a worker's runs)")

if __name__ == "__main__":
    main()
