"""Figures and numbers of docs/validation.md: stilt against the reference binary, at equal
particle counts, every statistic beside the binary's own seed-to-seed value.

Usage:
    python docs/scripts/make_validation.py [--shared PATH] [--no-families]

Run from a checkout with the reference data (``shared/``) beside it (or ``--shared PATH`` /
``STILT_SHARED``). For each receptor of tests/validation_cases.py (the two oracle cases, a
300 m tall tower, a 0-2000 m column and a 60-hour run) it runs stilt with four seeds x 500
particles and compares them with the binary's four seeds x 500 (bench/binary_receptors.py,
kept in tests/data/binary_receptors): every comparison is two seeds (1000 particles) against
two seeds. The binary against itself: its seeds split into two pairs, three ways (three
values); stilt against the binary: a pair of our seeds against a pair of the binary's, for
each half of each split (twelve values). It writes into ``docs/_static/validation/``:

- ``numbers.md``: the table that docs/validation.md includes (also printed);
- ``<case>_maps.png``: footprints of single hours and time-integrated, ours and the binary's
  (1000 particles each), ours minus the binary's, and the binary minus itself (its other
  1000 particles);
- ``<case>_hourly_r.png``: spatial Pearson r of each hour's footprint;
- ``<case>_foot_per_hour.png`` and ``<case>_height.png``: foot per hour and ensemble-mean
  height, all four seeds pooled on each side, with each of the binary's seeds;

and, unless ``--no-families``, runs docs/scripts/make_family_table.py and
make_family_ensembles_table.py (the met-family tables). Our 20 runs took 11 minutes on a
loaded 2-core machine, the comparisons and figures 2 more (the families about 5 more).
Needs matplotlib (the ``plot`` extra).
"""

from __future__ import annotations

import gzip
import io
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))
from oracle_ensembles import hourly_scores, pool, score_bounds  # noqa: E402
from validation_cases import (CASES, MAP_HOURS, NUMPAR, OUR_SEEDS,  # noqa: E402
                              NOISE_FACTOR, SPLITS, binary_pool, binary_runs, compare_case, group,
                              our_run, within)

OUT = REPO / "docs" / "_static" / "validation"


def met_config(shared: Path, met: str, tmp: Path) -> Any:
    """The NGM file, or the oracle's HRRR-like files gunzipped under strftime names."""
    import stilt

    if met == "ngm":
        return stilt.MetConfig(shared / "met", "oct1618.BIN")
    for gz in sorted((shared / "oracle" / "synth_hrrrlike" / "met").glob("*.gz")):
        target = tmp / f"{gz.name[:11]}_synt"  # 20230716_18-23_synt.gz -> 20230716_18_synt
        if not target.exists():
            with gzip.open(gz) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst)
    return stilt.MetConfig(tmp, "%Y%m%d_%H_synt", "6 hours")


#: the table's statistics: key, label, format, "high" if larger is better, "low" if
#: smaller is better, "one" if closeness to 1 is better
STATS = (("total", "total foot ratio", "{:.3f}", "one"),
         ("r", "footprint r", "{:.3f}", "high"),
         ("r_after_h1", "r without hour 1", "{:.3f}", "high"),
         ("hour_r_median", "hourly r, median over hours", "{:.2f}", "high"),
         ("hour_r_min", "hourly r, lowest hour", "{:.2f}", "high"),
         ("fine_r_median", "hourly r at the grid's resolution, median of the map hours",
          "{:.2f}", "high"),
         ("fine_r_min", "hourly r at the grid's resolution, lowest map hour", "{:.2f}",
          "high"),
         ("shift_km", "centroid shift (km)", "{:.1f}", "low"),
         ("pos_km", "mean position, worst hour (km)", "{:.1f}", "low"),
         ("height_m", "mean height, worst hour (m)", "{:.0f}", "low"),
         ("below", "fraction below mlht, worst hour", "{:.3f}", "low"),
         ("foot_hour_dev", "foot per hour, worst hour: distance of the ratio from 1", "{:.2f}",
          "low"))


def numbers_markdown(results: dict[str, dict[str, Any]]) -> str:
    """The table of docs/validation.md: one row per statistic, one column per case."""
    import stilt

    names = list(results)
    lines = [
        f"Made by `docs/scripts/make_validation.py` with stilt {stilt.__version__}. Every "
        f"entry compares {2 * NUMPAR} particles with {2 * NUMPAR}: stilt, the median of 12 "
        "pairs (two of our seeds against two of the binary's), and in brackets the binary "
        "against itself, the lowest and highest of its 3 splits into two pairs. Italic: our "
        "median is worse than the binary's worst split (by chance about one statistic in "
        "eight); bold: worse by half as much again (its distance from 1 for ratios and "
        f"correlations, x {NOISE_FACTOR})."
        " Hourly r: spatial Pearson r of "
        "each hour's footprint at 0.5 degree (1 degree for the 60-hour run), and at the "
        "grid's resolution for the hours of the maps.",
        "",
        "| statistic | " + " | ".join(f"{n} ({CASES[n].title})" for n in names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for key, label, fmt, sense in STATS:
        cells = []
        for n in names:
            ours = [s[key] for s in results[n]["ours"]]
            noise = [s[key] for s in results[n]["binary"]]
            mine = fmt.format(float(np.median(ours)))
            if not within(float(np.median(ours)), noise, sense, NOISE_FACTOR):
                mine = f"**{mine}**"
            elif not within(float(np.median(ours)), noise, sense):
                mine = f"*{mine}*"
            cells.append(f"{mine} [{fmt.format(min(noise))}-{fmt.format(max(noise))}]")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


#: the hourly statistics scored in standard errors: key of hourly_scores, label
SCORED = (("pos_km", "mean position"), ("height_m", "mean height"),
          ("below", "fraction below mlht"), ("below_half", "fraction below 0.5 mlht"))


def scores_markdown(ours: dict[str, list[dict[str, Any]]]) -> str:
    """All seeds pooled on each side (the binary's: its pool of 20 seeds where a case has one,
    tests/validation_cases.py ``binary_pool``): the worst hour of each hourly statistic in
    standard errors of the difference (tests/oracle_ensembles.py ``hourly_scores``), bold
    beyond the bound the tests use for the case's hours."""
    names = list(ours)
    refs = {n: binary_pool(n) for n in names}
    scores = {n: hourly_scores(pool(r["summary"] for r in ours[n]), refs[n]) for n in names}
    n_ours = len(OUR_SEEDS) * NUMPAR
    extra = "".join(f" ({refs[n].n} for {n}: twenty seeds, bench/binary_multiday_pool.py)"
                    for n in names if refs[n].n > n_ours)
    b24, b60 = score_bounds(24), score_bounds(60)
    lines = [
        "",
        f"All seeds pooled ({n_ours} of our particles against the binary's "
        f"{n_ours}{extra}): the worst hour of each hourly statistic, in standard errors of the "
        "difference from the particles' own spread (`hourly_scores` of "
        "tests/oracle_ensembles.py, the criterion of the oracle tests), and the hour. Bold: "
        f"beyond the tests' bound ({b24['pos_km']:.2f} for the position, "
        f"{b24['height_m']:.2f} for the others over 24 hours; {b60['pos_km']:.2f} and "
        f"{b60['height_m']:.2f} over 60 hours: an identical model exceeds it by chance with "
        "probability 2.5e-4 per statistic).",
        "",
        "| worst hour, standard errors | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for key, label in SCORED:
        cells = []
        for n in names:
            values = np.nan_to_num(scores[n][key], posinf=np.inf)
            hour = int(np.argmax(values))
            text = f"{values[hour]:.1f} (hour {hour + 1})"
            bound = score_bounds(CASES[n].hours)[key]
            cells.append(f"**{text}**" if values[hour] > bound else text)
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def algorithm_parity(shared: Path) -> dict[str, tuple[float, float]]:
    """stilt.calc_footprint on the oracle's particles against the oracle's footprints (made
    by R-STILT's algorithm in PYSTILT), hourly and time-integrated: the largest relative
    difference of a cell above 1e-6 of the largest, and that of the total."""
    import stilt
    from stilt.footprint import Grid

    out = {}
    for name in ("ngm_oct1618", "synth_hrrrlike"):
        case, folder = CASES[name], shared / "oracle" / name
        xmin, xmax, ymin, ymax, res = case.grid
        with xr.open_dataset(folder / "particles_full.nc") as ds:
            parts = ds.load()
        for integrate, ref_name in ((False, "footprint.nc"), (True, "footprint_int.nc")):
            ours = stilt.calc_footprint(parts, case.receptor(), Grid(xmin, xmax, ymin, ymax,
                                                                     res, res),
                                        time_integrate=integrate).foot.fillna(0.0).values
            with xr.open_dataset(folder / ref_name) as ref:
                b = ref.foot.fillna(0.0).values
            big = b > 1e-6 * b.max()
            cell = float(np.max(np.abs(ours[big] - b[big]) / b[big]))
            total = float(abs(ours.sum() - b.sum()) / b.sum())
            key = f"{name}, {'time-integrated' if integrate else 'hourly'}"
            out[key] = (cell, total)
    return out


def parity_markdown(parity: dict[str, tuple[float, float]]) -> str:
    """The footprint algorithm's agreement with the oracle's footprints, as a sentence."""
    cells = max(v[0] for v in parity.values())
    totals = max(v[1] for v in parity.values())
    return (f"\nFootprint algorithm: `stilt.calc_footprint` on the binary's own particles "
            "(the oracle's seed 42) against the oracle's footprints (R-STILT's algorithm, "
            "run by PYSTILT), hourly and time-integrated, both cases: largest relative "
            f"difference of a cell (cells above 1e-6 of the largest) {cells:.1e}, of the "
            f"total {totals:.1e}.\n")


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=90)


def _save(fig: Any, path: Path) -> None:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    path.write_bytes(buffer.getvalue())


def _extent(fields: list[xr.DataArray], margin: float) -> tuple[float, float, float, float]:
    """The box (lon and lat limits) around the non-zero cells of the fields."""
    some = sum(abs(f) for f in fields) > 0
    lon, lat = some.lon.values[some.any("lat").values], some.lat.values[some.any("lon").values]
    if lon.size == 0:
        return (float(some.lon[0]), float(some.lon[-1]), float(some.lat[0]), float(some.lat[-1]))
    return lon.min() - margin, lon.max() + margin, lat.min() - margin, lat.max() + margin


def maps_png(name: str, ours: dict[str, Any], ref: dict[str, Any], other: dict[str, Any],
             path: Path) -> None:
    """Rows: single hours and the time-integrated footprint (each zoomed to where it is
    non-zero); columns: ours, the binary's (log scale), ours minus the binary's and the
    binary's other particles minus the binary's (one symmetric log scale per row, linear
    within 1e-3 of its largest value)."""
    import matplotlib.colors as colors

    case = CASES[name]
    hours = MAP_HOURS[case.hours]
    shown = [hours[0], hours[len(hours) // 3], hours[2 * len(hours) // 3], hours[-1]]
    rows = [(f"hour {h}", [d["footprint_hourly"].sel(map_hour=h) for d in (ours, ref, other)])
            for h in shown]
    rows.append(("time-integrated", [d["footprint"] for d in (ours, ref, other)]))
    fig = _figure(14.0, 2.9 * len(rows))
    axes = fig.subplots(len(rows), 4, squeeze=False)
    titles = ("stilt", "binary", "stilt - binary", "binary' - binary (its own noise)")
    for i, (label, (o, b, x)) in enumerate(rows):
        vmax = float(max(o.max(), b.max())) or 1.0
        dmax = float(max(abs(o - b).max(), abs(x - b).max())) or 1.0
        norms = [colors.LogNorm(vmin=vmax * 1e-4, vmax=vmax)] * 2 + [
            colors.SymLogNorm(linthresh=dmax * 1e-3, vmin=-dmax, vmax=dmax)] * 2
        box = _extent([o, b, x], 2.0 * float(case.grid[4]))
        for j, (ax, field) in enumerate(zip(axes[i], (o, b, o - b, x - b), strict=True)):
            values = field.values if j >= 2 else np.ma.masked_where(~(field.values > 0),
                                                                    field.values)
            mesh = ax.pcolormesh(field.lon, field.lat, values, shading="nearest",
                                 norm=norms[j], cmap="viridis" if j < 2 else "RdBu_r")
            ax.plot(case.lon, case.lat, marker="*", ms=8, color="red", mec="k", ls="none")
            ax.set_xlim(box[0], box[1])
            ax.set_ylim(box[2], box[3])
            ax.tick_params(labelsize=7)
            if i == 0:
                ax.set_title(titles[j], fontsize=9)
            if j in (1, 3):
                fig.colorbar(mesh, ax=list(axes[i, j - 1:j + 1]), fraction=0.04, pad=0.02)
        axes[i, 0].set_ylabel(label, fontsize=9)
    fig.suptitle(f"{case.title}: footprints of {2 * NUMPAR} particles each "
                 "[ppm (umol m-2 s-1)-1]", fontsize=10)
    _save(fig, path)


def lines_png(x: np.ndarray, series: list[tuple[str, np.ndarray, str]], ylabel: str,
              title: str, path: Path, log: bool = False) -> None:
    """A line plot against the hour back."""
    fig = _figure(7.0, 4.0)
    ax = fig.add_subplot()
    for label, y, style in series:
        ax.plot(x, y, style, label=label, lw=1.0 if label.startswith("_") else 1.6)
    ax.set_xlabel("hours before the receptor time")
    ax.set_ylabel(ylabel)
    if log:
        ax.set_yscale("log")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    _save(fig, path)


def case_figures(name: str, ours: list[dict[str, Any]], binary: list[dict[str, Any]],
                 result: dict[str, Any]) -> None:
    """The four figures of one case."""
    case = CASES[name]
    (first, second) = SPLITS[0]
    maps_png(name, group(ours, first), group(binary, first), group(binary, second),
             OUT / f"{name}_maps.png")
    hours = np.arange(1, case.hours + 1)
    r_ours = np.array([s["hour_r"] for s in result["ours"]])
    r_bin = np.array([s["hour_r"] for s in result["binary"]])
    lines_png(hours, [("stilt vs binary, median of 12 pairs", np.nanmedian(r_ours, 0), "C0-o"),
                      ("stilt vs binary, lowest pair", np.nanmin(r_ours, 0), "C0:"),
                      ("binary vs binary, 3 splits", r_bin[0], "k-s")]
              + [("_", r, "k-s") for r in r_bin[1:]],
              "spatial Pearson r of the hour's footprint", f"{case.title}: {2 * NUMPAR} "
              f"particles against {2 * NUMPAR}", OUT / f"{name}_hourly_r.png")
    all_ours, all_bin = (pool(r["summary"] for r in runs) for runs in (ours, binary))
    singles = [(f"binary, each seed ({NUMPAR})" if i == 0 else "_", r["summary"].foot_hour
                / r["summary"].n, "C7-") for i, r in enumerate(binary)]
    lines_png(hours, [(f"stilt, 4 seeds pooled ({all_ours.n})", all_ours.foot_hour
                       / all_ours.n, "C0-o"),
                      (f"binary, 4 seeds pooled ({all_bin.n})", all_bin.foot_hour / all_bin.n,
                       "k-s")] + singles,
              "foot per particle and hour [ppm (umol m-2 s-1)-1]", case.title,
              OUT / f"{name}_foot_per_hour.png", log=True)
    height = [(f"binary, each seed ({NUMPAR})" if i == 0 else "_",
               r["summary"].hourly["z"] / r["summary"].hourly["alive"], "C7-")
              for i, r in enumerate(binary)]
    lines_png(hours, [(f"stilt, 4 seeds pooled ({all_ours.n})",
                       all_ours.hourly["z"] / all_ours.hourly["alive"], "C0-o"),
                      (f"binary, 4 seeds pooled ({all_bin.n})",
                       all_bin.hourly["z"] / all_bin.hourly["alive"], "k-s")] + height,
              "ensemble-mean height [m AGL]", case.title, OUT / f"{name}_height.png")


def run_ours(shared: Path, tmp: Path, workers: int) -> dict[str, list[dict[str, Any]]]:
    """Our runs of every case, in a process pool."""
    mets = {m: met_config(shared, m, tmp) for m in ("ngm", "synth")}
    jobs = [(n, s) for n in CASES for s in OUR_SEEDS]
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as ex:
        done = list(ex.map(our_run, [n for n, _ in jobs], [s for _, s in jobs],
                           [mets[CASES[n].met] for n, _ in jobs]))
    return {n: [d for (m, _), d in zip(jobs, done) if m == n] for n in CASES}


def main(argv: list[str]) -> int:
    """Run every case, write the figures and numbers.md, then the family tables."""
    shared = Path(os.environ.get("STILT_SHARED", REPO.parent / "shared"))
    families = "--no-families" not in argv
    argv = [a for a in argv if a != "--no-families"]
    if len(argv) == 2 and argv[0] == "--shared":
        shared = Path(argv[1])
    elif argv:
        print(__doc__, file=sys.stderr)
        return 2
    if not (shared / "met" / "oct1618.BIN").is_file():
        print(f"reference data not found under {shared} (pass --shared PATH)", file=sys.stderr)
        return 1
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        ours = run_ours(shared, Path(tmp), workers=2)
    write_outputs(shared, ours)
    if families:
        env = dict(os.environ, STILT_SHARED=str(shared))
        for script in ("make_family_table.py", "make_family_ensembles_table.py"):
            subprocess.run([sys.executable, str(Path(__file__).parent / script)], check=True,
                           env=env)
    print(f"figures and tables in {OUT}")
    return 0


def write_outputs(shared: Path, ours: dict[str, list[dict[str, Any]]]) -> None:
    """Compare our runs (:func:`run_ours`) with the binary's; write the figures and
    numbers.md."""
    results = {}
    for name in CASES:
        binary = binary_runs(name)
        results[name] = compare_case(name, ours[name], binary)
        case_figures(name, ours[name], binary, results[name])
    text = (numbers_markdown(results) + scores_markdown(ours)
            + parity_markdown(algorithm_parity(shared)))
    (OUT / "numbers.md").write_text(text)
    print(text)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
