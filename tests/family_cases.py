"""Met families on spatially varying synthetic met, for the ensemble comparisons with the binary.

Each entry of :data:`FAMILIES` is one ARL vertical system with the field set of one archive
family (``stilt.met.synthetic.synthetic_met``), a receptor 10 m above ground and a release
time; every run goes :data:`HOURS` back, so each crosses a day and a night. The grid
(:data:`NX` x :data:`NY` points, 15 km, centred on 40N 101.5W) is large enough that no
particle of the 24-hour runs leaves it: the receptors sit in its east (x 94-97 of 120), and the
westerlies of the boundary layer and above carry the particles 600-1000 km west in a day (on a
60 x 50 grid 40-60 % of them had left by hour 18). ``bench/binary_family_ensembles.py`` runs
the binary on them (tests/data/binary_families), ``tests/test_family_ensembles.py`` runs stilt
and compares; both read this module, in worker processes too (``pythonpath = ["tests"]``).
"""

from __future__ import annotations

import itertools
import multiprocessing
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

import stilt
from oracle_ensembles import (Summary, foot_ratio, footprint_agreement, hourly_scores,
                              hourly_statistics, pool, summarize_ensemble)
from stilt.footprint import Grid
from stilt.met.roughness import SHIPPED_NAME
from stilt.met.synthetic_fields import SURFACE_SETS

NX, NY = 120, 80
#: seed of the synthetic weather (terrain hills, the low's track)
MET_SEED = 1
HOURS = -24
#: met from 25 h before the release to 1 h after it
MET_LEAD_HOURS, MET_HOURS = 25, 27
#: particles of each run, ours and the binary's
NUMPAR = 1000
#: the binary's seeds (SEED = -(seed + 1) in its namelist) and ours, pooled on each side
BINARY_SEEDS = (42, 43, 44)
OUR_SEEDS = (1, 2, 3, 4)
#: columns our runs keep: those of the summaries and of the footprint's plume correction
SUMMARY_VARS = ["time", "indx", "long", "lati", "zagl", "foot", "mlht", "samt", "sigw", "tlgr",
                "dens"]
#: time-integrated footprint grid (lon min, lon max, lat min, lat max, resolution, degrees)
FOOTPRINT_GRID = (-110.0, -93.0, 34.0, 44.0, 0.1)


@dataclass(frozen=True)
class Family:
    """One met family: what ``synthetic_met`` writes, and the receptor."""

    vertical: str
    surface: str
    time: str
    lat: float
    lon: float
    sea_east_of: float | None = None


FAMILIES: dict[str, Family] = {
    # GDAS 1 degree: pressure levels with HGTS, TMPS, UMOF/VMOF, RELH; the receptor over the
    # sea 1 degree east of the coast, early afternoon
    "gdas_pressure": Family("pressure", "gdas", "2023-07-16T20:00", 41.0, -95.0,
                            sea_east_of=-96.0),
    # GFS 0.25 degree on hybrid sigma-pressure levels, GDAS surface fields; evening
    "gfs_hybrid": Family("hybrid", "gdas", "2023-07-17T02:00", 41.5, -95.5),
    # NAM 12 km: pressure levels, USTR and RGHS; around local midnight
    "nam_pressure": Family("pressure", "nam", "2023-07-16T06:00", 41.5, -95.0),
    # NGM-like sigma: no PRES, no T02M, no 10-m wind, EXCO/HFLX, SPHU; early morning
    "ngm_sigma": Family("sigma", "ngm", "2023-07-16T12:00", 41.0, -95.5),
    # WRF through arw2arl: WRF-hybrid levels with PRES, USTR/TSTR, DZDT; late afternoon
    "wrf_hybrid": Family("wrf", "wrf", "2023-07-17T00:00", 41.0, -95.0),
    # terrain-following heights (KSYS 3) with the HRRR field set, over the plains and, upwind,
    # the terrain step and ridge; without HGTS, as HRRR archives (with HGTS on sigma or height
    # levels the binary's mixed layer stays at its minimum, 150 m, at every hour: see
    # docs/validation.md, "Met families: ensembles")
    "height_terrain": Family("height", "hrrr", "2023-07-16T20:00", 41.0, -95.0),
}


def receptor(name: str) -> dict[str, Any]:
    """The family's receptor, 10 m above ground."""
    f = FAMILIES[name]
    return {"time": f.time, "latitude": f.lat, "longitude": f.lon, "altitude": 10.0}


def family_met(name: str) -> xr.Dataset:
    """The family's met, in memory (hourly, :data:`MET_HOURS` times from
    :data:`MET_LEAD_HOURS` before the release)."""
    from stilt.met.synthetic import synthetic_met

    f = FAMILIES[name]
    start = np.datetime64(f.time, "h") - np.timedelta64(MET_LEAD_HOURS, "h")
    return synthetic_met(start, MET_HOURS, NX, NY, MET_SEED, vertical=f.vertical,
                         surface=f.surface, sea_east_of=f.sea_east_of)


def write_family_met(name: str, folder: Path) -> stilt.MetConfig:
    """Write the family's met as one ARL file in ``folder`` (as the binary reads it) and
    return the met configuration of our runs (default settings)."""
    from stilt.met import write_arl

    folder.mkdir(parents=True, exist_ok=True)
    write_arl(family_met(name), folder / f"{name}.arl")
    return stilt.MetConfig(folder, f"{name}.arl")


def footprint_grid() -> Grid:
    """The grid of the time-integrated footprints (0.1 degree)."""
    xmin, xmax, ymin, ymax, res = FOOTPRINT_GRID
    return Grid(xmin, xmax, ymin, ymax, res, res)


def summary_run(name: str, met: stilt.MetConfig, seed: int) -> Summary:
    """One of our runs of a family reduced to its summary (runs in a worker process)."""
    ours = stilt.run_trajectories(receptor(name), met, n_hours=HOURS, numpar=NUMPAR,
                                  seed=seed, varsiwant=SUMMARY_VARS)
    # default settings: the met's own z0 where it has one (NAM's RGHS), else the binary's table
    surface = "RGHS" if "RGHS" in SURFACE_SETS[FAMILIES[name].surface] else SHIPPED_NAME
    assert ours.attrs["roughness"].startswith(surface), ours.attrs["roughness"]
    return summarize_ensemble(ours, receptor(name), footprint_grid())


DATA = Path(__file__).parent / "data" / "binary_families"
#: the hourly statistics compared (tests/oracle_ensembles.py, ``hourly_statistics``)
HOURLY_KEYS = ("pos_km", "height_m", "below", "below_half")


def binary_summaries(name: str, folder: Path = DATA) -> dict[int, Summary]:
    """The binary's runs of a family by seed (bench/binary_family_ensembles.py): hourly rows,
    hourly foot sums and the footprint."""
    ds = xr.open_dataset(folder / f"{name}.nc").load()
    out = {}
    for seed in ds.seed.values:
        one = ds.sel(seed=seed)
        run = summarize_ensemble(one)
        run.footprint = one.footprint.drop_vars("seed") * run.n
        out[int(seed)] = run
    return out


def binary_noise(runs: dict[int, Summary], lat: float) -> dict[str, float]:
    """The binary's own seed-to-seed noise: for each hourly statistic the largest difference
    between two of its single runs (every pair of seeds, every hour), and the largest
    distance between the centroids of two seeds' footprints (km); ``pearson`` is the lowest
    footprint correlation between two seeds."""
    noise = {k: 0.0 for k in (*HOURLY_KEYS, "shift_km")}
    noise["pearson"] = 1.0
    for a, b in itertools.combinations(sorted(runs), 2):
        for k, v in hourly_statistics(runs[a], runs[b], lat).items():
            noise[k] = max(noise[k], float(np.max(v)))
        assert runs[a].footprint is not None and runs[b].footprint is not None
        r, shift = footprint_agreement(runs[a].footprint / runs[a].n,
                                       runs[b].footprint / runs[b].n)
        noise["shift_km"] = max(noise["shift_km"], shift)
        noise["pearson"] = min(noise["pearson"], r)
    return noise


def compare(name: str, ours: Summary, runs: dict[int, Summary]) -> dict[str, Any]:
    """Our pooled ensemble against the binary's pooled seeds.

    Returns the hourly statistics (arrays over the 24 hours, ``hourly``) and their
    differences in standard errors (``scores``, :func:`oracle_ensembles.hourly_scores`),
    the largest score between two of the binary's seeds (``seed_scores``), the foot per hour
    as our per-particle mean over the binary's with the standard error of that ratio from both
    ensembles' particle-to-particle spread (``foot_hourly``, ``foot_hourly_se``), the total
    foot ratio (``foot_total``), the footprints' Pearson r and centroid distance (km), and the
    binary's seed-to-seed ``noise`` (:func:`binary_noise`)."""
    ref = pool(runs.values())
    assert ours.footprint is not None and ref.footprint is not None
    np.testing.assert_allclose(ours.footprint.lat, ref.footprint.lat)
    np.testing.assert_allclose(ours.footprint.lon, ref.footprint.lon)
    (mo, so), (mb, sb) = ours.foot_mean_and_error(), ref.foot_mean_and_error()
    ratio, ratio_se = foot_ratio(mo, so, mb, sb)
    r, shift = footprint_agreement(ours.footprint / ours.n, ref.footprint / ref.n)
    seed_scores = {k: 0.0 for k in HOURLY_KEYS}
    for a, b in itertools.combinations(sorted(runs), 2):
        for k, v in hourly_scores(runs[a], runs[b]).items():
            seed_scores[k] = max(seed_scores[k], float(v.max()))
    return {"hourly": hourly_statistics(ours, ref, FAMILIES[name].lat),
            "scores": hourly_scores(ours, ref), "seed_scores": seed_scores,
            "foot_hourly": ratio, "foot_hourly_se": ratio_se,
            "foot_total": mo.sum() / mb.sum(), "pearson": r, "shift_km": shift,
            "noise": binary_noise(runs, FAMILIES[name].lat),
            "alive": (float(ours.hourly["alive"].min()) / ours.n,
                      float(ref.hourly["alive"].min()) / ref.n)}


def run_ours(names: Iterable[str], folder: Path, workers: int = 2) -> dict[str, Summary]:
    """Our runs of each family (:data:`OUR_SEEDS` pooled), in spawned worker processes:
    the met of each family is written to ``folder`` first, in the workers too."""
    names = list(names)
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool_:
        mets = dict(zip(names, pool_.map(write_family_met, names,
                                         [folder / n for n in names])))
        jobs = [(n, s) for n in names for s in OUR_SEEDS]
        done = list(pool_.map(summary_run, [n for n, _ in jobs], [mets[n] for n, _ in jobs],
                              [s for _, s in jobs]))
    return {n: pool(r for (m, _), r in zip(jobs, done) if m == n) for n in names}
