"""Figures and numbers of docs/validation.md: our core against the reference binary's runs.

Run from the repository root, with the reference data (``shared/``) beside the repository:

    python docs/scripts/make_validation_figures.py            # or --shared PATH

It runs stilt's transport for the two ensemble cases of ``shared/oracle`` (seeds 42-49 x 2000
particles pooled, as tests/test_transport_oracle.py does, against the binary's seed 42 and
all its seeds pooled; 24 h backward, the reference's settings; stilt's default roughness
table is the binary's), computes footprints on the reference grids, and writes into
``docs/_static/validation/``:

- ``<case>_footprints.png``: time-integrated footprints side by side (same log colour scale);
- ``<case>_height.png``: hourly ensemble-mean particle height, ours and the binary (seeds 42
  and 43 of the oracle, 44-49 of bench/binary_seeds.py, and all of them pooled);
- ``<case>_foot_per_hour.png``: footprint summed over the grid per hour, ours and the binary;
- ``numbers.md``: the table that docs/validation.md includes (also printed).

Takes about six minutes on one core. Needs matplotlib (the ``plot`` extra).
"""

from __future__ import annotations

import gzip
import io
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

import stilt
from stilt.footprint import Grid

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "docs" / "_static" / "validation"
R_KM = 6371.2
CASES: dict[str, dict[str, Any]] = {
    "ngm_oct1618": {"title": "NGM oct1618.BIN (real met, 2-hourly, 183 km)",
                    "time": "1995-10-17T18:00", "lat": 40.0, "lon": -90.0,
                    "grid": (-100.0, -80.0, 30.0, 45.0, 0.1)},
    "synth_hrrrlike": {"title": "HRRR-like synthetic met (hourly, 15 km)",
                       "time": "2023-07-16T20:00", "lat": 40.0, "lon": -101.5,
                       "grid": (-116.0, -96.0, 35.0, 45.0, 0.05)},
}
NUMPAR = 2000  # ours per run; the binary's runs have 500
SEEDS = tuple(range(42, 50))  # ours, pooled as in tests/test_transport_oracle.py
VARS = ["time", "indx", "long", "lati", "zagl", "foot", "mlht", "dens", "samt", "sigw", "tlgr"]
#: the binary's extra seeds (tests/data, see bench/)
BINARY_SEEDS = REPO / "tests" / "data" / "binary_seeds"


def _met(shared: Path, case: str, tmp: Path) -> stilt.MetConfig:
    if case == "ngm_oct1618":
        return stilt.MetConfig(shared / "met", "oct1618.BIN")
    for gz in sorted((shared / "oracle" / case / "met").glob("*.gz")):
        target = tmp / f"{gz.name[:11]}_synt"  # 20230716_18-23_synt.gz -> 20230716_18_synt
        with gzip.open(gz) as src, open(target, "wb") as dst:
            shutil.copyfileobj(src, dst)
    return stilt.MetConfig(tmp, "%Y%m%d_%H_synt", "6 hours")


def _centroid(foot: xr.DataArray) -> tuple[float, float]:
    f = foot.fillna(0.0)
    w = float(f.sum())
    return float((f * f.lat).sum()) / w, float((f * f.lon).sum()) / w


def _compare_maps(a: xr.DataArray, b: xr.DataArray) -> dict[str, float]:
    va, vb = a.fillna(0.0).values.ravel(), b.fillna(0.0).values.ravel()
    (la, lo), (lb, lob) = _centroid(a), _centroid(b)
    shift = R_KM * np.radians(np.hypot(la - lb, (lo - lob) * np.cos(np.radians(la))))
    return {"total": float(va.sum() / vb.sum()), "pearson": float(np.corrcoef(va, vb)[0, 1]),
            "shift_km": float(shift)}


def _hourly_means(ds: xr.Dataset, lat0: float) -> dict[str, np.ndarray]:
    hours = np.arange(1, 25)
    sel = ds.sel(time=-60.0 * hours)
    return {"hours": hours, "zagl": sel.zagl.mean("indx").values,
            "lat": sel.lati.mean("indx").values, "lon": sel.long.mean("indx").values,
            "n": sel.zagl.notnull().sum("indx").values}


def _pooled(means: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Hourly means of several ensembles as one (weighted by their particles alive)."""
    n = sum(m["n"] for m in means)
    out = {k: sum(m[k] * m["n"] for m in means) / n for k in ("zagl", "lat", "lon")}
    return out | {"hours": means[0]["hours"], "n": n}


def _max_distance_km(a: dict[str, np.ndarray], b: dict[str, np.ndarray], lat0: float) -> float:
    dlat = a["lat"] - b["lat"]
    dlon = (a["lon"] - b["lon"]) * np.cos(np.radians(lat0))
    return float(np.max(R_KM * np.radians(np.hypot(dlat, dlon))))


def _figure(width: float = 7.0, height: float = 4.0) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100)


def _save(fig: Any, path: Path) -> None:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    path.write_bytes(buffer.getvalue())


def _maps_png(case: str, ours: xr.DataArray, ref: xr.DataArray, path: Path) -> None:
    import matplotlib.colors as colors

    c = CASES[case]
    vmax = float(max(ours.max(), ref.max()))
    norm = colors.LogNorm(vmin=vmax * 1e-5, vmax=vmax)
    fig = _figure(11.0, 4.2)
    axes = fig.subplots(1, 2, sharey=True)
    for ax, field, name in zip(axes, (ours, ref), ("stilt (seed 42)", "reference binary (seed 42)"),
                               strict=True):
        values = np.ma.masked_where(~(field.values > 0), field.values)
        mesh = ax.pcolormesh(field.lon, field.lat, values, norm=norm, cmap="viridis",
                             shading="nearest")
        ax.plot(c["lon"], c["lat"], marker="*", ms=12, color="red", mec="black", ls="none")
        ax.set_title(f"{name}", fontsize=10)
        ax.set_xlabel("longitude [degrees_east]")
    axes[0].set_ylabel("latitude [degrees_north]")
    bar = fig.colorbar(mesh, ax=list(axes))
    bar.set_label("time-integrated footprint [ppm (umol m-2 s-1)-1]")
    fig.suptitle(f"{c['title']}: 24 h backward (stilt {NUMPAR} particles, binary 500)",
                 fontsize=10)
    _save(fig, path)


def _lines_png(x: np.ndarray, series: list[tuple[str, np.ndarray, str]], ylabel: str,
               title: str, path: Path, log: bool = False) -> None:
    fig = _figure()
    ax = fig.add_subplot()
    for label, y, style in series:
        ax.plot(x, y, style, label=label)
    ax.set_xlabel("hours before the receptor time")
    ax.set_ylabel(ylabel)
    if log:
        ax.set_yscale("log")
    ax.set_title(title, fontsize=10)
    ax.legend()
    ax.grid(alpha=0.3)
    _save(fig, path)


def _run_pooled(shared: Path, case: str, tmp: Path) -> tuple[dict[str, Any], float]:
    """Our SEEDS x NUMPAR particles, run by run: time-integrated and hourly footprints and
    hourly mean height / position over all particles (footprints are per-particle averages,
    so the runs' footprints average to the pooled one)."""
    c = CASES[case]
    rec = {"time": c["time"], "latitude": c["lat"], "longitude": c["lon"], "altitude": 10.0}
    xmin, xmax, ymin, ymax, res = c["grid"]
    grid = Grid(xmin, xmax, ymin, ymax, res, res)
    met = _met(shared, case, tmp)
    acc: dict[str, Any] = {}
    seconds = 0.0
    for seed in SEEDS:
        start = time.perf_counter()
        ours = stilt.run_trajectories(rec, met, n_hours=-24, numpar=NUMPAR, seed=seed,
                                      varsiwant=VARS)
        seconds += time.perf_counter() - start
        part = {"foot_int": stilt.calc_footprint(ours, rec, grid, time_integrate=True)
                .foot.squeeze("time").fillna(0.0),
                "foot_hourly": stilt.calc_footprint(ours, rec, grid).foot.fillna(0.0)}
        part.update({k: v for k, v in _hourly_means(ours, c["lat"]).items() if k != "hours"})
        for k, v in part.items():
            acc[k] = v / len(SEEDS) if k not in acc else acc[k] + v / len(SEEDS)
        del ours
    acc["hours"] = np.arange(1, 25)
    return acc, seconds / len(SEEDS)


def run_case(shared: Path, case: str, tmp: Path) -> dict[str, Any]:
    """Run one case and draw its three figures; returns its numbers."""
    c = CASES[case]
    folder = shared / "oracle" / case
    mo, seconds = _run_pooled(shared, case, tmp)
    foot_int, foot_hourly = mo["foot_int"], mo["foot_hourly"]
    with xr.open_dataset(folder / "footprint_int.nc") as ds:
        ref_int = ds.foot.squeeze("time").load()
    with xr.open_dataset(folder / "footprint_int_seed43.nc") as ds:
        ref43_int = ds.foot.squeeze("time").load()
    with xr.open_dataset(folder / "footprint.nc") as ds:
        ref_hourly = ds.foot.load()
    with xr.open_dataset(folder / "particles_full.nc") as ds:
        mr = _hourly_means(ds.load(), c["lat"])
    with xr.open_dataset(folder / "particles_seed43_sampled.nc") as ds:
        m43 = _hourly_means(ds.load(), c["lat"])
    extra = []
    for path in sorted(BINARY_SEEDS.glob(f"{case}_seed*.nc")):
        with xr.open_dataset(path) as ds:
            extra.append(_hourly_means(ds.load(), c["lat"]))
    hours = mo["hours"]

    def per_hour(foot: xr.DataArray, t0: np.datetime64) -> np.ndarray:
        lag = np.rint((t0 - foot.time.values) / np.timedelta64(1, "h")).astype(int)
        sums = foot.fillna(0.0).sum(("lat", "lon")).values
        return np.array([sums[lag == h].sum() for h in hours])

    t0 = np.datetime64(c["time"], "ns")
    fo, fr = per_hour(foot_hourly, t0), per_hour(ref_hourly, t0)
    label = f"stilt ({len(SEEDS)} x {NUMPAR})"

    OUT.mkdir(parents=True, exist_ok=True)
    _maps_png(case, foot_int, ref_int, OUT / f"{case}_footprints.png")
    pooled = _pooled([mr, m43, *extra])
    _lines_png(hours, [(label, mo["zagl"], "C0-"),
                       (f"binary, all seeds pooled ({int(pooled['n'][0])})", pooled["zagl"],
                        "k-"),
                       ("binary (seed 42)", mr["zagl"], "k--"),
                       ("binary (seed 43)", m43["zagl"], "k:")]
               + [("binary (seeds 44-49)" if i == 0 else "_nolegend_", m["zagl"], "C7-")
                  for i, m in enumerate(extra)],
               "ensemble-mean height [m AGL]", c["title"], OUT / f"{case}_height.png")
    _lines_png(hours, [(label, fo, "C0-o"), ("binary (seed 42)", fr, "k--s")],
               "footprint summed over the grid per hour", c["title"],
               OUT / f"{case}_foot_per_hour.png")
    ours_vs = _compare_maps(foot_int, ref_int)
    noise = _compare_maps(ref43_int, ref_int)
    hour_ratio = fo / np.where(fr > 0, fr, np.nan)
    return {
        "case": case, "seconds": seconds, "ours": ours_vs, "noise": noise,
        "pos_km": _max_distance_km(mo, mr, c["lat"]),
        "pos_km_noise": _max_distance_km(m43, mr, c["lat"]),
        "height_m": float(np.max(np.abs(mo["zagl"] - mr["zagl"]))),
        "height_m_noise": float(np.max(np.abs(m43["zagl"] - mr["zagl"]))),
        "pos_km_pooled": _max_distance_km(mo, pooled, c["lat"]),
        "height_m_pooled": float(np.max(np.abs(mo["zagl"] - pooled["zagl"]))),
        "hour_ratio_min": float(np.nanmin(hour_ratio)),
        "hour_ratio_max": float(np.nanmax(hour_ratio)),
    }


def numbers_markdown(results: list[dict[str, Any]]) -> str:
    """The table of docs/validation.md (ours vs binary seed 42; binary 43 vs 42 in brackets)."""
    lines = [
        f"Made by `docs/scripts/make_validation_figures.py` with stilt {stilt.__version__}. "
        f"Each entry: stilt (seeds {SEEDS[0]}-{SEEDS[-1]} x {NUMPAR} particles pooled) against "
        "the binary's seed 42, and in brackets the binary's seed 43 against its seed 42 (its "
        "own noise); the position and height also against all the binary's seeds pooled "
        "(42-49, 8500 particles: its expectation); transport time per run.",
        "",
        "| case | footprint total ratio | footprint Pearson r | footprint centroid shift (km) "
        "| max hourly mean-position distance (km) | max hourly mean-height difference (m) "
        "| the same two against all the binary's seeds pooled "
        "| foot per hour, ratio range | transport time (s) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        o, n = r["ours"], r["noise"]
        lines.append(
            f"| {r['case']} | {o['total']:.3f} [{n['total']:.3f}] "
            f"| {o['pearson']:.3f} [{n['pearson']:.3f}] "
            f"| {o['shift_km']:.1f} [{n['shift_km']:.1f}] "
            f"| {r['pos_km']:.1f} [{r['pos_km_noise']:.1f}] "
            f"| {r['height_m']:.0f} [{r['height_m_noise']:.0f}] "
            f"| {r['pos_km_pooled']:.1f} km, {r['height_m_pooled']:.0f} m "
            f"| {r['hour_ratio_min']:.2f} .. {r['hour_ratio_max']:.2f} "
            f"| {r['seconds']:.1f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    """Run both cases, write the figures and numbers.md, print the table."""
    shared = Path(os.environ.get("STILT_SHARED", REPO.parent / "shared"))
    if len(argv) == 2 and argv[0] == "--shared":
        shared = Path(argv[1])
    elif argv:
        print(__doc__, file=sys.stderr)
        return 2
    if not (shared / "oracle" / "ngm_oct1618" / "particles_full.nc").is_file():
        print(f"reference data not found under {shared} (pass --shared PATH)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        results = [run_case(shared, case, Path(tmp)) for case in CASES]
    text = numbers_markdown(results)
    (OUT / "numbers.md").write_text(text)
    print(text)
    print(f"figures in {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
