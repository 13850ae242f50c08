"""Is a difference between our pooled NGM oracle ensemble and the binary's pooled seeds ours, or
a draw of the binary's own pool? Fresh binary runs on the same case decide.

Usage:
    oracle_pool_check.py binary [--seeds LIST] [--numpar N] [--out DIR]
    oracle_pool_check.py ours [--seeds LIST] [--out DIR]
    oracle_pool_check.py compare [--out DIR]

Options:
    --seeds LIST  comma-separated seeds, or FIRST-LAST [default: 300-301]
    --numpar N    particles per binary run [default: 8000]
    --out DIR     where the runs are kept (not test data) [default: /tmp/oracle_pool_check]

``binary`` runs hycs_std (bench/.venv-pystilt) on the NGM oracle case's CONTROL / SETUP.CFG
(../shared/oracle/ngm_oct1618, SEED = -(seed + 1)) with OUTDT = 60, so that it prints only the
hourly rows, and keeps long, lati, zagl and mlht per hour (``binary_<seed>.npz``). ``ours``
runs stilt on the same case (2000 particles per seed, as tests/oracle_ensembles.py) and keeps
the same (``ours_<seed>.npz``). ``compare`` prints the hourly standard scores of
tests/oracle_ensembles.hourly_scores, signed, for ours against the oracle's pooled seeds
(8500 particles, tests/test_transport_oracle.binary_summaries), ours against the fresh binary
runs, and the oracle's pool against the fresh runs. Measured (issue 13): docs/validation.md,
"Larger ensembles on the oracle cases".
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from docopt import docopt

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent / "tests"))
SHARED = Path(os.environ.get("STILT_SHARED", BENCH.parent.parent / "shared"))
ORACLE = SHARED / "oracle" / "ngm_oct1618"
COLUMNS = ("time", "indx", "long", "lati", "zagl", "mlht")
KEPT = COLUMNS[2:]
HOURS = 24


def _seeds(text: str) -> list[int]:
    if "-" in text:
        first, last = (int(s) for s in text.split("-"))
        return list(range(first, last + 1))
    return [int(s) for s in text.split(",")]


def _setup(numpar: int, seed: int) -> str:
    """The oracle's SETUP.CFG with NUMPAR, SEED, OUTDT = 60 and the kept columns."""
    text = (ORACLE / "SETUP.CFG").read_text()
    text = text.replace("NUMPAR=500", f"NUMPAR={numpar}").replace("MAXPAR=500",
                                                                   f"MAXPAR={numpar}")
    text = text.replace("SEED=-43", f"SEED={-(seed + 1)}").replace("OUTDT=0", "OUTDT=60")
    text = text.replace("IVMAX=16", f"IVMAX={len(COLUMNS)}")
    lines = [("VARSIWANT=" + ", ".join(f"'{c}'" for c in COLUMNS) + ",")
             if ln.startswith("VARSIWANT") else ln for ln in text.splitlines()]
    return "\n".join(lines) + "\n"


def run_binary(numpar: int, seed: int) -> dict[str, np.ndarray]:
    """Hourly rows of one binary run: KEPT columns as (HOURS, numpar) arrays."""
    from _reference import reference_hycs_std

    exe = reference_hycs_std()
    with tempfile.TemporaryDirectory(prefix="hycs_") as tmp:
        run = Path(tmp)
        for aux in (exe.parent.parent.parent / "data").glob("*"):
            shutil.copy(aux, run / aux.name)
        control = [f"{SHARED / 'met'}/" if ln.strip().startswith("../shared/") else ln
                   for ln in (ORACLE / "CONTROL").read_text().splitlines()]
        (run / "CONTROL").write_text("\n".join(control) + "\n")
        (run / "SETUP.CFG").write_text(_setup(numpar, seed))
        subprocess.run([str(exe)], cwd=run, capture_output=True, text=True, check=True)
        rows = np.loadtxt(run / "PARTICLE_STILT.DAT", skiprows=1)
    minutes = np.rint(-rows[:, 0]).astype(int)
    hourly = minutes % 60 == 0
    hour, indx = minutes[hourly] // 60 - 1, rows[hourly, 1].astype(int) - 1
    out = {}
    for k, name in enumerate(KEPT, start=2):
        arr = np.full((HOURS, numpar), np.nan)
        arr[hour, indx] = rows[hourly, k]
        out[name] = arr
    return out


def run_ours(seed: int) -> dict[str, np.ndarray]:
    """Hourly rows of one of our runs as tests/oracle_ensembles.summary_run makes it."""
    import stilt
    from oracle_ensembles import OUR_NUMPAR, receptor

    met = stilt.MetConfig(SHARED / "met", "oct1618.BIN")
    ds = stilt.run_trajectories(receptor("ngm_oct1618"), met, n_hours=-HOURS,
                                numpar=OUR_NUMPAR, seed=seed, varsiwant=list(COLUMNS))
    ds = ds.sel(time=-60.0 * np.arange(1, HOURS + 1))
    return {name: ds[name].values.astype(float) for name in KEPT}


def summary(rows: dict[str, np.ndarray]):
    """tests/oracle_ensembles.Summary of hourly rows (its foot left at 0: not compared)."""
    from oracle_ensembles import Summary

    z, m = rows["zagl"], rows["mlht"]
    alive = ~np.isnan(z)
    lat, lon, zz = (np.where(alive, rows[k], 0.0) for k in ("lati", "long", "zagl"))
    hourly = {"lat": lat.sum(1), "lon": lon.sum(1), "z": zz.sum(1), "lat2": (lat**2).sum(1),
              "lon2": (lon**2).sum(1), "latlon": (lat * lon).sum(1), "z2": (zz**2).sum(1),
              "alive": alive.sum(1).astype(float),
              "below": (alive & (z < m)).sum(1).astype(float),
              "below_half": (alive & (z < 0.5 * m)).sum(1).astype(float)}
    return Summary(z.shape[1], hourly, np.zeros(HOURS), np.zeros(HOURS))


def compare(out: Path) -> None:
    """Print the signed hourly scores of the three pairs (module docstring)."""
    from oracle_ensembles import hourly_scores, pool
    from test_transport_oracle import binary_summaries

    def load(prefix: str):
        files = sorted(out.glob(f"{prefix}_*.npz"))
        return pool(summary(dict(np.load(f))) for f in files)

    ours, fresh = load("ours"), load("binary")
    oracle = pool(binary_summaries(SHARED, "ngm_oct1618").values())
    np.set_printoptions(precision=1, suppress=True, linewidth=200)
    print(f"particles: ours {ours.n}, oracle pool {oracle.n}, fresh binary {fresh.n}")
    for name, (a, b) in {"ours - oracle pool": (ours, oracle),
                         "ours - fresh binary": (ours, fresh),
                         "oracle pool - fresh binary": (oracle, fresh)}.items():
        scores = hourly_scores(a, b)
        ha, hb = a.hourly, b.hourly
        sign = {"below": np.sign(ha["below"] / ha["alive"] - hb["below"] / hb["alive"]),
                "height_m": np.sign(ha["z"] / ha["alive"] - hb["z"] / hb["alive"])}
        print(name, "(worst hour:", {k: round(float(v.max()), 2) for k, v in scores.items()},
              ")")
        for key in ("below", "height_m"):
            print(f"  {key:9s}", scores[key] * sign[key])
    for name, s in (("ours", ours), ("oracle", oracle), ("fresh", fresh)):
        print(f"below mlht {name:7s}", np.round(s.hourly["below"] / s.hourly["alive"], 3))


def main() -> None:
    """Run the binary or stilt for the seeds, or compare what was run."""
    args = docopt(__doc__)
    out = Path(args["--out"])
    out.mkdir(parents=True, exist_ok=True)
    if args["compare"]:
        compare(out)
        return
    for seed in _seeds(args["--seeds"]):
        if args["binary"]:
            rows = run_binary(int(args["--numpar"]), seed)
            target = out / f"binary_{seed}.npz"
        else:
            rows = run_ours(seed)
            target = out / f"ours_{seed}.npz"
        np.savez_compressed(target, **rows)
        print("wrote", target, flush=True)


if __name__ == "__main__":
    main()
