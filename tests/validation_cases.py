"""The receptors of the validation against the reference binary (docs/validation.md): the two
oracle cases and three more receptors on the NGM file, shared by bench/binary_receptors.py
(the binary's runs), docs/scripts/make_validation.py (figures and numbers) and
tests/test_validation_receptors.py.

Every case is run by the binary with the seeds ``BINARY_SEEDS`` x ``NUMPAR`` particles, and by
stilt with as many runs of as many particles, so that every comparison is at equal particle
counts and the binary's own seed-to-seed spread is known.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from oracle_ensembles import (R_KM, Summary, centroid, hourly_statistics, pool,
                              pool_file_summaries, summarize_ensemble)

#: seeds of the binary's runs (SEED = -(seed + 1) in its namelist, KRAND = 2) and of ours
BINARY_SEEDS = (42, 43, 44, 45)
OUR_SEEDS = (142, 143, 144, 145)
#: particles per run, on both sides (the oracle's 500)
NUMPAR = 500


@dataclass(frozen=True)
class Case:
    """One validation receptor: met (``ngm``: oct1618.BIN; ``synth``: the oracle's HRRR-like
    files), release time (UTC), point, height (m AGL; ``(bottom, top)`` for a column), run
    length (h, backward), the footprint grid (xmin, xmax, ymin, ymax, resolution, degrees)
    and the factor by which the hourly footprints are coarsened for their hour-by-hour
    comparison (to 0.5 degree, 1 degree for the 60-hour run)."""

    met: str
    time: str
    lat: float
    lon: float
    altitude: float | tuple[float, float]
    hours: int
    grid: tuple[float, float, float, float, float]
    coarsen: int
    title: str

    def receptor(self) -> dict[str, Any]:
        """The receptor as :func:`stilt.run_trajectories` takes it."""
        alt = list(self.altitude) if isinstance(self.altitude, tuple) else self.altitude
        return {"time": self.time, "latitude": self.lat, "longitude": self.lon,
                "altitude": alt}


CASES: dict[str, Case] = {
    "ngm_oct1618": Case("ngm", "1995-10-17T18:00", 40.0, -90.0, 10.0, 24,
                        (-100.0, -80.0, 30.0, 45.0, 0.1), 5,
                        "NGM oct1618.BIN, 10 m, 24 h"),
    "synth_hrrrlike": Case("synth", "2023-07-16T20:00", 40.0, -101.5, 10.0, 24,
                           (-116.0, -96.0, 35.0, 45.0, 0.05), 10,
                           "HRRR-like synthetic met, 10 m, 24 h"),
    "ngm_tower300": Case("ngm", "1995-10-17T18:00", 40.0, -90.0, 300.0, 24,
                         (-100.0, -80.0, 30.0, 45.0, 0.1), 5,
                         "NGM, tall tower 300 m, 24 h"),
    "ngm_column": Case("ngm", "1995-10-17T18:00", 40.0, -90.0, (0.0, 2000.0), 24,
                       (-100.0, -80.0, 30.0, 45.0, 0.1), 5,
                       "NGM, column 0-2000 m, 24 h"),
    "ngm_multiday": Case("ngm", "1995-10-18T18:00", 40.0, -90.0, 10.0, 60,
                         (-135.0, -60.0, 20.0, 60.0, 0.2), 5,
                         "NGM, 10 m, 60 h"),
}
#: the binary's runs reduced (bench/binary_receptors.py)
BINARY_DATA = Path(__file__).parent / "data" / "binary_receptors"
#: columns our runs print (those of the summaries and of the plume-dilution correction)
VARS = ["time", "indx", "long", "lati", "zagl", "foot", "mlht", "samt", "sigw", "tlgr", "dens"]
#: four seeds split into two pairs, three ways (indices into the seeds)
SPLITS = (((0, 1), (2, 3)), ((0, 2), (1, 3)), ((0, 3), (1, 2)))
FOOTPRINTS = ("footprint", "footprint_after_h1", "footprint_hourly", "footprint_hourly_coarse")
#: the hours whose footprints are kept per seed (maps), by run length
MAP_HOURS = {24: (1, 3, 6, 12, 18, 24), 60: (1, 6, 12, 24, 36, 48, 60)}


def footprints(case: Case, parts: xr.Dataset) -> dict[str, xr.DataArray]:
    """The footprints of one run that the validation compares, from its particle table
    (``stilt.calc_footprint``, R-STILT's algorithm with the plume-dilution correction, for the
    binary's runs and ours alike).

    Parameters
    ----------
    case : Case
    parts : xarray.Dataset
        Rows minute by minute on ``(time, indx)`` with ``long``, ``lati``, ``zagl``, ``foot``
        and the columns of the plume-dilution correction (``samt``, ``sigw``, ``tlgr``,
        ``dens``, ``mlht``).

    Returns
    -------
    dict
        ``footprint`` (time-integrated), ``footprint_after_h1`` (without the first hour),
        ``footprint_hourly`` (the hours of ``MAP_HOURS`` on ``map_hour``) on the case grid,
        and ``footprint_hourly_coarse`` (every hour on ``hour``, 1 = the hour before the
        receptor time, coarsened by ``case.coarsen``: cell means, on ``lat_coarse``,
        ``lon_coarse``).
    """
    import stilt
    from stilt.footprint import Grid

    xmin, xmax, ymin, ymax, res = case.grid
    grid = Grid(xmin, xmax, ymin, ymax, res, res)
    hourly = stilt.calc_footprint(parts, case.receptor(), grid).foot.fillna(0.0)
    lag = np.rint((np.datetime64(case.time, "ns") - hourly.time.values)
                  / np.timedelta64(1, "h")).astype(int)  # hour 1: receptor time - 1 h
    hourly = (hourly.assign_coords(hour=("time", lag)).swap_dims(time="hour")
              .drop_vars("time").reindex(hour=np.arange(1, case.hours + 1), fill_value=0.0))
    coarse = (hourly.coarsen(lat=case.coarsen, lon=case.coarsen, boundary="trim").mean()
              .rename(lat="lat_coarse", lon="lon_coarse"))
    return {"footprint": hourly.sum("hour"),
            "footprint_after_h1": hourly.sel(hour=hourly.hour > 1).sum("hour"),
            "footprint_hourly": hourly.sel(hour=list(MAP_HOURS[case.hours]))
            .rename(hour="map_hour"),
            "footprint_hourly_coarse": coarse}


def our_run(name: str, seed: int, met: Any) -> dict[str, Any]:
    """One of our runs of a case reduced as the binary's are (runs in a worker process)."""
    import stilt

    case = CASES[name]
    start = time.perf_counter()
    ours = stilt.run_trajectories(case.receptor(), met, n_hours=-case.hours, numpar=NUMPAR,
                                  seed=seed, varsiwant=VARS)
    seconds = time.perf_counter() - start
    out = {k: v.astype(np.float32) for k, v in footprints(case, ours).items()}
    return out | {"summary": summarize_ensemble(ours), "seconds": seconds,
                  "zagl_first": ours.zagl.sel(time=-1.0).values}


def binary_runs(name: str) -> list[dict[str, Any]]:
    """The binary's runs of a case, by seed, in the layout of :func:`our_run`."""
    with xr.open_dataset(BINARY_DATA / f"{name}.nc") as ds:
        ds = ds.load()
    return [{k: ds[k].sel(seed=s, drop=True) for k in FOOTPRINTS}
            | {"summary": summarize_ensemble(ds.sel(seed=s)),
               "zagl_first": ds.zagl_first.sel(seed=s).values} for s in BINARY_SEEDS]


def binary_pool(name: str) -> Summary:
    """The binary's pool of a case: every seed's hourly sums in ``<name>_pool.nc``
    (bench/binary_multiday_pool.py) pooled into one ensemble summary, or, for a case without
    that file, its stored seeds pooled."""
    if not (BINARY_DATA / f"{name}_pool.nc").exists():
        return pool(r["summary"] for r in binary_runs(name))
    return pool(pool_file_summaries(BINARY_DATA / f"{name}_pool.nc").values())


def group(runs: list[dict[str, Any]], members: tuple[int, ...]) -> dict[str, Any]:
    """Several runs as one ensemble: summaries added, footprints averaged (equal counts)."""
    picked = [runs[i] for i in members]
    out = {k: sum(r[k] for r in picked) / len(picked) for k in FOOTPRINTS}
    return out | {"summary": pool(r["summary"] for r in picked)}


def pearson(a: xr.DataArray, b: xr.DataArray) -> float:
    """Pearson r of two fields cell by cell."""
    return float(np.corrcoef(np.ravel(a.values), np.ravel(b.values))[0, 1])


def statistics(a: dict[str, Any], b: dict[str, Any], lat: float) -> dict[str, Any]:
    """Ensemble ``a`` against ``b``: scalar statistics and the hour-by-hour arrays."""
    sa, sb = a["summary"], b["summary"]
    hourly = hourly_statistics(sa, sb, lat)
    (la, lo), (lb, lob) = centroid(a["footprint"]), centroid(b["footprint"])
    ca, cb = a["footprint_hourly_coarse"], b["footprint_hourly_coarse"]
    hour_r = np.array([pearson(ca.sel(hour=h), cb.sel(hour=h)) if float(cb.sel(hour=h).sum())
                       > 0 else np.nan for h in ca.hour.values])
    fa, fb = a["footprint_hourly"], b["footprint_hourly"]
    fine_r = np.array([pearson(fa.sel(map_hour=h), fb.sel(map_hour=h))
                       if float(fb.sel(map_hour=h).sum()) > 0 else np.nan
                       for h in fa.map_hour.values])
    foot_a, foot_b = sa.foot_hour / sa.n, sb.foot_hour / sb.n
    return {"total": float(foot_a.sum() / foot_b.sum()),
            "r": pearson(a["footprint"], b["footprint"]),
            "r_after_h1": pearson(a["footprint_after_h1"], b["footprint_after_h1"]),
            "shift_km": float(R_KM * np.radians(np.hypot(la - lb, (lo - lob)
                                                         * np.cos(np.radians(la))))),
            "pos_km": float(hourly["pos_km"].max()), "height_m": float(hourly["height_m"].max()),
            "below": float(hourly["below"].max()),
            "hour_r_median": float(np.nanmedian(hour_r)), "hour_r_min": float(np.nanmin(hour_r)),
            "fine_r_median": float(np.nanmedian(fine_r)), "fine_r_min": float(np.nanmin(fine_r)),
            "foot_hour_dev": float(np.nanmax(np.abs(foot_a / np.where(foot_b > 0, foot_b, np.nan)
                                                    - 1.0))),
            "hour_r": hour_r, "fine_r": fine_r}


def compare_case(name: str, ours: list[dict[str, Any]],
                 binary: list[dict[str, Any]]) -> dict[str, Any]:
    """Binary against binary (3 splits) and ours against the binary (12 pairs of halves)."""
    lat = CASES[name].lat
    self_stats, our_stats = [], []
    for first, second in SPLITS:
        self_stats.append(statistics(group(binary, first), group(binary, second), lat))
        for mine, theirs in itertools.product((first, second), repeat=2):
            our_stats.append(statistics(group(ours, mine), group(binary, theirs), lat))
    return {"binary": self_stats, "ours": our_stats}


#: how far beyond the binary's worst split our median may be before it counts as outside the
#: noise: the worst of three splits is exceeded by chance by the median of an identical model
#: in about one statistic in eight (each split below the median with probability 1/2), half as
#: far again only rarely
NOISE_FACTOR = 1.5


def within(value: float, noise: list[float], sense: str, factor: float = 1.0) -> bool:
    """Whether ``value`` (ours: the median over pairs) is within ``factor`` times the
    binary's worst split: its distance from 1 for ``sense`` ``"one"`` (ratios) and ``"high"``
    (correlations), the value itself for ``"low"`` (distances)."""
    if sense == "high":
        return 1.0 - value <= factor * max(1.0 - v for v in noise)
    if sense == "low":
        return value <= factor * max(noise)
    return abs(value - 1.0) <= factor * max(abs(v - 1.0) for v in noise)
