"""Particles near a mixed layer that collapses and grows again, against the reference binary.

Usage:
    binary_zi_cycle.py run CASE (ours | binary) [--numpar N] [--seed S] [--out DIR]
    binary_zi_cycle.py compare CASE [--ours LIST] [--binary LIST] [--out DIR]

Options:
    --numpar N     particles of the run [default: 20000]
    --seed S       random seed (the binary's SEED = -(S + 1)) [default: 3]
    --ours LIST    comma-separated seeds of our runs to pool [default: 3]
    --binary LIST  comma-separated seeds of the binary's runs to pool [default: 3]
    --out DIR      where the runs are kept (not test data) [default: /tmp/zi_cycle]

The open NGM lead of docs/physics.md sec. 13.3 (night fraction below mlht) on built met.
CASE joins features with ``+``: one of the zi sequences ``regrow`` (PBLH 1500 m until 03 UTC,
800 m at 04, 200 m at 05-06: the mixed layer grows backward from a 06 UTC release, 4 h),
``shrink`` (the reverse, 4 h) or ``cycle`` (1000 m at 05-06 UTC, 200 m at 02-04, 1000 m before:
collapse, night and the previous afternoon, 5 h); optionally ``col`` (a column release
0-2500 m instead of 10 m), ``shear`` (the wind grows from 2 m/s at the ground to 14 m/s at
sigma 0.9), ``neutral`` (dry-adiabatic to 1600 m, 6.5 K/km above: with the shear,
sigma_w 0.5-1 m/s above zi), and ``sink`` or ``rise`` (DZDT -0.01 or +0.01 m/s at every
level: the mean vertical motion through the turbulent layers). The met is horizontally
uniform (tests/test_transport.py ``make_met``: 13 sigma levels, 3 m/s, u* 0.3 m/s, the
heat flux following zi: 150, 100 or 50 W/m2 by day, -20 at night), zi from PBLH
(KMIXD = 0), the binary's global roughness table on both sides. ``ngm_night`` is the NGM
oracle file itself: a 0-1500 m column at 40N 90W, 1995-10-17 04 UTC (hour 14 of the oracle
case), 5 h back through the night and the growth of the previous evening's mixed layer
(R-STILT settings, KMIXD = 3).

``run`` keeps zagl and mlht every 10 min (``<CASE>_<side>_<seed>.npz``); ``compare`` prints,
every 10 min, the difference of the fractions below mlht and 0.5 mlht, of the mean height,
and of the fractions in bands of z / mlht, each in standard errors of the difference (the
binomial error of the pooled fraction, as tests/oracle_ensembles.hourly_scores). The binary
costs about 35 us per particle-minute. Measured (issue 13): docs/validation.md, "Larger
ensembles on the oracle cases".
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import numpy as np
from docopt import docopt

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent / "tests"))
from test_transport import LATLON, SIGMA, make_met  # noqa: E402

RECEPTOR = {"time": "2021-07-01T06:00", "latitude": 38.0, "longitude": -106.0}
NGM = {"time": "1995-10-17T04:00", "latitude": 40.0, "longitude": -90.0}
#: PBLH (m) and SHTF (W/m2) at 00 .. 06 UTC, and the run length (h)
SEQUENCES = {
    "regrow": ([1500, 1500, 1500, 1500, 800, 200, 200], [150, 150, 150, 150, 50, -20, -20], 4),
    "shrink": ([200, 200, 200, 200, 800, 1500, 1500], [-20, -20, -20, -20, 50, 150, 150], 4),
    "cycle": ([1000, 1000, 200, 200, 200, 1000, 1000], [100, 100, -20, -20, -20, 100, 100], 5),
}
BANDS = np.array([0, 0.25, 0.5, 0.75, 1.0, 1.1, 1.25, 1.5, 2.0, 3.0, np.inf])  # z / mlht


def built_met(features: list[str]):
    """The horizontally uniform met of a built case (module docstring)."""
    pblh, shtf, _ = SEQUENCES[features[0]]
    ds = make_met(LATLON, 6, 3.0, 0.0)
    ds["SHTF"].values[:] = np.array(shtf, "f4")[:, None, None]
    ds["PBLH"] = ds["SHTF"] * 0 + np.array(pblh, "f4")[:, None, None]
    if "shear" in features:
        prof = np.minimum(2.0 + 10.0 * (1 - SIGMA) / 0.1, 14.0).astype("f4")
        ds["UWND"].values[:] = prof[None, :, None, None]
        ds["VWND"].values[:] = (0.5 * prof)[None, :, None, None]
        ds["U10M"].values[:] = 1.5
        ds["V10M"].values[:] = 0.7
    if "neutral" in features:
        z = -8000.0 * np.log(SIGMA)
        t = np.where(z < 1600, 290.0 - 0.0098 * z, 290.0 - 15.68 - 0.0065 * (z - 1600))
        ds["TEMP"].values[:] = t.astype("f4")[None, :, None, None]
    for name, w in (("sink", -0.01), ("rise", 0.01)):
        if name in features:
            ds["DZDT"].values[:] = w
    return ds


def ngm_met():
    """The NGM oracle file from 22 UTC on the 16th to 06 UTC on the 17th, as the binary reads
    it (written to ARL and read back)."""
    import stilt

    shared = Path(os.environ.get("STILT_SHARED", BENCH.parent.parent / "shared"))
    ds = stilt.read_arl(shared / "met" / "oct1618.BIN", time=None)
    ds = ds.sel(time=slice("1995-10-16T22:00", "1995-10-17T06:00")).load()
    with tempfile.TemporaryDirectory() as tmp:
        stilt.write_arl(ds, Path(tmp) / "met.arl")
        return stilt.read_arl(Path(tmp) / "met.arl", time=None).load()


def case_setup(case: str) -> dict:
    """Met, receptor, release heights, hours and namelist of a case."""
    if case == "ngm_night":
        return {"met": ngm_met(), "rec": NGM, "z": (0.0, 1500.0), "hours": 5, "kmixd": 3}
    features = case.split("+")
    extras = {"col", "shear", "neutral", "sink", "rise"}
    if features[0] not in SEQUENCES or not set(features[1:]) <= extras:
        raise SystemExit(f"CASE={case!r}: expected regrow, shrink or cycle with +col, +shear, "
                         "+neutral, +sink or +rise, or ngm_night")
    z = (0.0, 2500.0) if "col" in features else (10.0, 10.0)
    return {"met": built_met(features), "rec": RECEPTOR, "z": z,
            "hours": SEQUENCES[features[0]][2], "kmixd": 0}


def run_ours(setup: dict, n: int, seed: int, times: np.ndarray) -> tuple[np.ndarray, ...]:
    """zagl and mlht of our run on (time, particle)."""
    from stilt.transport import run_trajectories

    z1, z2 = setup["z"]
    rec = dict(setup["rec"], altitude=[z1, z2] if z2 > z1 else z1)
    ds = run_trajectories(rec, setup["met"], n_hours=-setup["hours"], numpar=n, seed=seed,
                          kmixd=setup["kmixd"], varsiwant=["time", "indx", "zagl", "mlht"])
    ds = ds.sel(time=times).transpose("time", "indx")
    return ds.zagl.values, ds.mlht.values


def run_binary(setup: dict, n: int, seed: int, times: np.ndarray) -> tuple[np.ndarray, ...]:
    """zagl and mlht of the binary's run on (time, particle); a column release is two
    starting locations at the receptor (R-STILT's CONTROL for z1 < z2)."""
    import _hycs_run

    z1, z2 = setup["z"]
    if z2 > z1:
        _hycs_run.CONTROL = _hycs_run.CONTROL.replace(
            "1\n{lat} {lon} {alt}\n", f"2\n{{lat}} {{lon}} {z1:g}\n{{lat}} {{lon}} {{alt}}\n")
    r = setup["rec"]
    rows = _hycs_run.run_hycs(setup["met"], r["time"], r["latitude"], r["longitude"], z2,
                              -setup["hours"], n, seed=seed,
                              columns=("time", "indx", "zagl", "mlht"), KMIXD=setup["kmixd"])
    out = [np.full((times.size, n), np.nan) for _ in range(2)]
    for i, t in enumerate(times):
        sel = rows["time"] == t
        idx = rows["indx"][sel].astype(int) - 1
        out[0][i, idx] = rows["zagl"][sel]
        out[1][i, idx] = rows["mlht"][sel]
    return tuple(out)


def score(ka: float, na: int, kb: float, nb: int) -> tuple[float, float]:
    """Difference of two fractions and its standard score (pooled binomial error)."""
    p = (ka + kb + 1.0) / (na + nb + 2.0)
    d = ka / na - kb / nb
    return d, d / np.sqrt(p * (1.0 - p) * (1.0 / na + 1.0 / nb))


def load(out: Path, case: str, side: str, seeds: str) -> tuple[np.ndarray, ...]:
    """Times, zagl and mlht of the pooled runs of one side."""
    runs = [np.load(out / f"{case}_{side}_{s}.npz") for s in seeds.split(",")]
    return (runs[0]["t"], np.concatenate([r["z"] for r in runs], 1),
            np.concatenate([r["m"] for r in runs], 1))


def compare_line(t: float, za: np.ndarray, ma: np.ndarray, zb: np.ndarray,
                 mb: np.ndarray) -> str:
    """One row of the comparison (ours a, binary b) at minute t."""
    ka, kb = ~np.isnan(za), ~np.isnan(zb)
    za, ma, zb, mb = za[ka], ma[ka], zb[kb], mb[kb]
    na, nb = za.size, zb.size
    below = score((za < ma).sum(), na, (zb < mb).sum(), nb)
    half = score((za < 0.5 * ma).sum(), na, (zb < 0.5 * mb).sum(), nb)
    se = np.hypot(za.std() / np.sqrt(na), zb.std() / np.sqrt(nb))
    ha, hb = np.histogram(za / ma, BANDS)[0], np.histogram(zb / mb, BANDS)[0]
    bands = " ".join(f"{score(a, na, b, nb)[1]:+5.1f}" for a, b in zip(ha, hb))
    return (f"{t:5.0f} {np.median(ma):6.0f} {np.median(mb):6.0f} | {below[0]:+.4f} "
            f"({below[1]:+5.1f}) | {half[0]:+.4f} ({half[1]:+5.1f}) | "
            f"{za.mean() - zb.mean():+6.1f} ({(za.mean() - zb.mean()) / se:+5.1f}) | {bands}")


def main() -> None:
    """Run one side of a case, or compare the kept runs."""
    args = docopt(__doc__)
    out, case = Path(args["--out"]), args["CASE"]
    if args["run"]:
        setup = case_setup(case)
        times = np.arange(-10.0, -60.0 * setup["hours"] - 1.0, -10.0)
        side = "ours" if args["ours"] else "binary"
        fn = run_ours if side == "ours" else run_binary
        n, seed = int(args["--numpar"]), int(args["--seed"])
        z, m = fn(setup, n, seed, times)
        out.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(out / f"{case}_{side}_{seed}.npz", t=times, z=z, m=m)
        return
    t, za, ma = load(out, case, "ours", args["--ours"])
    _, zb, mb = load(out, case, "binary", args["--binary"])
    print(f"{case}: ours {za.shape[1]}, binary {zb.shape[1]} particles; differences ours - "
          "binary (standard errors)")
    print("  min mlht_o mlht_b | below mlht      | below 0.5 mlht  | mean z (m)     | bands "
          + " ".join(f"<{b:g}" for b in BANDS[1:-1]) + " >3")
    for i, tt in enumerate(t):
        print(compare_line(tt, za[i], ma[i], zb[i], mb[i]))


if __name__ == "__main__":
    main()
