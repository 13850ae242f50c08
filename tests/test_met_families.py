"""Every ARL vertical system and archive field set against the reference binary, column by column.

The cases (tests/column_met.py) are horizontally uniform columns written the way GDAS, NAM,
GFS, NGM, WRF (arw2arl) and terrain-following-height files are; tests/data/binary_columns holds
hycs_std's printed rows on them (bench/binary_columns.py). Without turbulence the printed
columns of one particle must agree to the binary's print precision; with turbulence every
printed column is a function of the particle height, so ours, interpolated to the binary's
particle heights, must agree row by row. Where a case is still off, its bound is the measured
current state, named in ``OPEN`` and in docs/validation.md ("Met families").
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import stilt
from column_met import (ABOVE_TOP, CASES, EDGE_WINDS, GLOBAL_LON0, GLOBAL_RECEPTOR, HUMID,
                        NOTURB_HOURS, SUBSIDENCE, SUBSIDENCE_ALTITUDE, SUBSIDENCE_HOURS, TURB_HOURS,
                        TURB_NUMPAR, TURB_ROWS, column_met_as_read,
                        above_top_met_as_read, edge_met_as_read, global_met_as_read,
                        receptor, subsidence_met_as_read)

DATA = Path(__file__).parent / "data" / "binary_columns"
COLS = ["time", "indx", "long", "lati", "zagl", "foot", "mlht", "pres", "dens", "samt", "sigw",
        "tlgr", "temp", "shtf", "zsfc", "wout"]
#: no-turbulence tolerances: half a printed digit plus our rounding (long/lati in degrees,
#: temp K, pres hPa, dens kg/m3, zsfc m) and mlht relative
NOTURB_TOL = {"long": 0.002, "lati": 0.002, "temp": 0.006, "pres": 0.006, "dens": 0.0011,
              "zsfc": 0.01, "mlht": 1e-4}
#: turbulence columns: largest |relative difference| of the 95th percentile of rows, beyond
#: half a print unit of the binary's column (TURB_HALF_UNIT)
TURB_TOL = {"sigw": 1e-4, "tlgr": 0.002, "dens": 0.0011, "pres": 1e-4, "temp": 1e-4}
#: half a print unit (absolute): the binary prints sigw with 3 decimals, 0.4-0.8 % of the
#: 0.06-0.12 m/s of a stable night, where tlgr (5 significant digits) pins sigw to 1e-5
#: (T_L = 0.1 zi h^0.8 / sigma_w there)
TURB_HALF_UNIT = {"sigw": 5e-4}
#: foot of particles below 8 m: ratio to the binary's within this (humid and dry columns agree
#: to 1e-4 since the foot uses the binary's two half-step densities, stilt_met.foot_density)
FOOT_TOL = 0.0005
#: findings still open (measured bounds, docs/validation.md "Met families"; keys ``turb_*``
#: are the turbulence-run columns): none
OPEN: dict[str, dict[str, float]] = {}


def _binary(name: str) -> xr.Dataset:
    return xr.open_dataset(DATA / f"{name}.nc").load()


def _tol(name: str, column: str, default: float) -> float:
    return OPEN.get(name, {}).get(column, default)


@pytest.mark.parametrize("name", sorted(CASES))
def test_noturb_columns_at_print_precision(name: str, tmp_path: Path) -> None:
    ref = _binary(name)
    ours = stilt.run_trajectories(receptor(name), column_met_as_read(name, tmp_path),
                                  n_hours=NOTURB_HOURS, numpar=5, seed=42, varsiwant=COLS,
                                  nturb=1)
    for k, t in enumerate(ref["noturb_time"].values):
        row = ours.sel(time=float(t), indx=1)
        for col, tol in NOTURB_TOL.items():
            b, o = float(ref[f"noturb_{col}"][k]), float(row[col])
            if col == "mlht":
                assert abs(o / b - 1.0) <= _tol(name, col, tol), (name, t, col, o, b)
            else:
                assert abs(o - b) <= _tol(name, col, tol), (name, t, col, o, b)


@pytest.mark.parametrize("name", sorted(CASES))
def test_turbulence_columns_by_height(name: str, tmp_path: Path) -> None:
    ref = _binary(name)
    ours = stilt.run_trajectories(receptor(name), column_met_as_read(name, tmp_path),
                                  n_hours=TURB_HOURS, numpar=TURB_NUMPAR, seed=42,
                                  varsiwant=COLS)
    ours = ours.isel(time=slice(0, TURB_ROWS))
    z = ours["zagl"].values.ravel()
    ok = np.isfinite(z)
    order = np.argsort(z[ok])
    zs = z[ok][order]
    bz = ref["zagl"].values
    # compare only where one of our particles is within 1 m of the binary's
    near = np.abs(np.interp(bz, zs, zs) - bz) < 1.0
    assert near.mean() > 0.95
    for col, tol in TURB_TOL.items():
        pred = np.interp(bz, zs, ours[col].values.ravel()[ok][order])[near]
        b = ref[col].values[near]
        off = np.maximum(np.abs(pred - b) - TURB_HALF_UNIT.get(col, 0.0), 0.0)
        rel = off / np.maximum(np.abs(b), 1e-9)
        assert np.percentile(rel, 95) <= _tol(name, f"turb_{col}", tol), (name, col)
    assert float(ours["mlht"].median()) / float(ref["mlht"].median()) == pytest.approx(
        1.0, abs=max(_tol(name, "mlht", 1e-4), 1e-4))
    low_b = ref["foot"].values[bz < 8.0].mean()
    low_o = np.nanmean(ours["foot"].values.ravel()[z < 8.0])
    assert low_o / low_b == pytest.approx(1.0, abs=_tol(name, "foot", FOOT_TOL)), name


#: nominal heights of the internal levels 1-5 (docs/physics.md §3.1), compressed over terrain
NOMINAL_LEVELS = np.array([10.0, 75.0, 200.0, 385.0, 630.0])
#: T_L of the layers below zi (relative, beyond half the print unit): measured within 1.4e-5
TL_HUMID = 2e-5


def _layer_values(ds: xr.Dataset | dict, z: np.ndarray, zi: float) -> list[tuple]:
    """(sigw, tlgr) of each step-function layer whose level is below zi (docs/physics.md §6.2):
    the median of the rows more than 0.5 m inside it, None where fewer than 3 rows are."""
    zp, sw, tl = (np.asarray(ds[c]).ravel() for c in ("zagl", "sigw", "tlgr"))
    out = []
    for k in range(z.size - 1):
        lo = z[k] + 0.5 if k else 0.0
        sel = np.isfinite(zp) & (zp > lo) & (zp < z[k + 1] - 0.5)
        if z[k] >= zi or sel.sum() < 3:
            out.append(None)
            continue
        out.append((float(np.median(sw[sel])), float(np.median(tl[sel]))))
    return out


@pytest.mark.parametrize("name", HUMID)
def test_humid_columns_take_the_binarys_specific_humidity(name: str, tmp_path: Path) -> None:
    """Hot humid columns (20-25 g/kg): the stability's moist density and the data-level heights
    take the binary's specific humidity (SPHU interpolated in height; RELH as 0.622 rh es(T)/p,
    with its ground value at the ground's temperature and pressure), seen where print precision
    resolves it: T_L of layers 1-4 within 2e-5 relative (the density from the interpolated
    relative humidity left them 0.5e-4 to 5e-4 off; layer 1 in unstable air also needs the
    binary's cube root, the power 0.3333, §5.3), the per-minute foot of particles below
    the foot height all minute within 2e-5 (4.6e-5 to 9.5e-5 off), mlht within 0.02 m (sigma
    RELH heights from 0.622 e / (p - e): 0.13-0.29 m high); sigw to half its print unit."""
    ref = _binary(name)
    ours = stilt.run_trajectories(receptor(name), column_met_as_read(name, tmp_path),
                                  n_hours=TURB_HOURS, numpar=TURB_NUMPAR, seed=42,
                                  varsiwant=["time", "indx", "zagl", "sigw", "tlgr", "mlht",
                                             "foot", "samt"])
    ours = ours.isel(time=slice(0, TURB_ROWS))
    zi = float(ref["mlht"].median())
    assert float(ours["mlht"].median()) == pytest.approx(zi, abs=0.02)
    z = NOMINAL_LEVELS * (25000.0 - CASES[name].zg) / 25000.0
    compared = 0
    for k, (a, b) in enumerate(zip(_layer_values(ours, z, zi), _layer_values(ref, z, zi))):
        if a is None or b is None:
            continue
        compared += 1
        assert abs(a[0] - b[0]) <= 5e-4 + 1e-6, (name, k + 1, "sigw", a[0], b[0])
        assert abs(a[1] - b[1]) <= 0.5e-4 + TL_HUMID * b[1], (name, k + 1, "tlgr", a[1], b[1])
    # every layer below a day's zi; at night (zi 150 m) few of ours reach layer 2
    assert compared >= (4 if zi > 600.0 else 1)
    # foot of a whole minute below the foot height: one value (the binary prints 7 decimals)
    values, counts = np.unique(ref["foot"].values[ref["foot"].values > 0], return_counts=True)
    foot_b = values[np.argmax(counts)]
    full = ours["samt"].values >= 1.0 - 1e-6
    foot_o = float(np.median(ours["foot"].values[full]))
    assert abs(foot_o - foot_b) <= 0.5e-7 + 2e-5 * foot_b, (name, foot_o, foot_b)


def test_the_cases_cover_every_vertical_system_and_archive_field_set() -> None:
    assert {c.ksys for c in CASES.values()} == {1, 2, 3, 4, 5}
    fields = set().union(*(c.surface for c in CASES.values()))
    assert {"TMPS", "T02M", "UMOF", "USTR", "RGHS", "EXCO", "HFLX", "TSTR", "PBLH"} <= fields


@pytest.mark.parametrize("lon0", GLOBAL_LON0)
def test_global_grid_across_the_antimeridian(lon0: float, tmp_path: Path) -> None:
    """A receptor at 179E on global grids starting at 0 and at 180W (where 179E lies between
    the last and the first column): the no-turbulence path crosses the antimeridian as the
    binary's does, within 0.001 degree (0.0005 grid cell) every hour."""
    ref = xr.open_dataset(DATA / f"global_{int(lon0)}.nc").load()
    ours = stilt.run_trajectories(GLOBAL_RECEPTOR, global_met_as_read(lon0, tmp_path),
                                  n_hours=NOTURB_HOURS, numpar=5, seed=42,
                                  varsiwant=["time", "indx", "long", "lati", "zagl"], nturb=1)
    hourly = ours.sel(time=-60.0 * ref["hour"].values)
    dlon = (hourly["long"].values - ref["long"].values + 180.0) % 360.0 - 180.0
    assert np.all(np.abs(dlon) <= 0.001)
    assert np.all(np.abs(hourly["lati"].values - ref["lati"].values) <= 0.001)
    assert ref["long"].values[-1, 0] > -175.0  # the path did cross 180


@pytest.mark.parametrize("name", list(ABOVE_TOP))
def test_vertical_motion_above_the_data_top_as_the_binary(name: str, tmp_path: Path) -> None:
    """Above the highest data level each internal level's w is half that of the level below
    (docs/physics.md sec. 4.3): one minute from releases through and above the data top, the
    height and ``wout`` are the binary's to its print unit (0.01 m, 1e-4 m/s). With w
    converted from the constant omega there instead, ours went 2-5x as fast above the top
    (1.28 m/s against the binary's 0.27 at 16 km on ``height``)."""
    ref = xr.open_dataset(Path(__file__).parent / "data" / "binary_above_top.nc")
    ref = ref.sel(case=name).dropna("release")
    met = above_top_met_as_read(name, tmp_path)
    rec = receptor(str(ABOVE_TOP[name]["case"]))
    for alt, zb, wb in zip(ref.release.values, ref.zagl.values, ref.wout.values):
        ours = stilt.run_trajectories(rec | {"altitude": float(alt)}, met, n_hours=-1, numpar=1,
                                      seed=1, nturb=1, varsiwant=["time", "indx", "zagl", "wout"])
        row = ours.sel(time=-1.0, indx=1)
        assert float(row.zagl) == pytest.approx(zb, abs=0.0051), (alt, float(row.zagl), zb)
        assert float(row.wout) == pytest.approx(wb, abs=5.1e-5), (alt, float(row.wout), wb)


@pytest.mark.parametrize("name", list(SUBSIDENCE))
def test_subsidence_to_the_ground_as_the_binary(name: str, tmp_path: Path) -> None:
    """A particle brought down 2000 m to the ground by vertical motion, minute by minute as
    the binary's (docs/physics.md sec. 4.3): within 5 cm all the way (measured 2.6-4.2 cm;
    with WWND converted on the data levels: 0.41 m on ``ocean``, 2.6 m on ``terrain``, 0.74 m
    on ``overshoot``, 0.81 m on ``height_dzdt``), within three float32 steps of sigma below
    1 m (measured two), and
    resting where the binary's rests, to its print unit (before: 1.47 cm against 1.19 cm on
    ``ocean``, from dropping moves under one float32 step of sigma)."""
    ref = xr.open_dataset(DATA / "subsidence.nc").load().sel(case=name)
    spec = SUBSIDENCE[name]
    rec = dict(receptor(str(spec["case"])), altitude=SUBSIDENCE_ALTITUDE)
    ours = stilt.run_trajectories(rec, subsidence_met_as_read(name, tmp_path),
                                  n_hours=SUBSIDENCE_HOURS, numpar=1, seed=42,
                                  varsiwant=["time", "indx", "zagl"], nturb=1)
    z = ours["zagl"].sel(indx=1, time=ref["minute"].values.astype(float)).values
    zb = ref["zagl"].values
    assert np.all(np.abs(z - zb) <= 0.05)
    zg = float(spec.get("zg", CASES[str(spec["case"])].zg))
    step = 2.0**-24 * (25000.0 - zg)   # one float32 step of sigma near the ground, in m
    low = zb < 1.0
    assert np.all(np.abs(z[low] - zb[low]) <= 3.0 * step)
    if zb[-1] < 1.0:
        assert abs(z[-1] - zb[-1]) <= 1e-4


@pytest.mark.parametrize("wind", range(len(EDGE_WINDS)))
def test_particles_stop_where_the_binary_stops_them(wind: int, tmp_path: Path) -> None:
    """Driven to each side of a 21 x 21 grid, the particle's last row is the binary's: the same
    minute and place (it stops once it has passed x or y = 2 or nx - 2, ny - 2; before, stilt
    kept it up to the last row or column, 1-3 hours longer)."""
    ref = xr.open_dataset(DATA / "edges.nc").load().isel(wind=wind)
    ours = stilt.run_trajectories(receptor("nam_land"), edge_met_as_read(*EDGE_WINDS[wind],
                                                                          tmp_path),
                                  n_hours=NOTURB_HOURS, numpar=2, seed=42,
                                  varsiwant=["time", "indx", "long", "lati"], nturb=1)
    one = ours.sel(indx=1)
    alive = np.isfinite(one["long"].values)
    assert one["time"].values[alive].min() == float(ref["minute"])
    assert float(one["long"].values[alive][-1]) == pytest.approx(float(ref["long"]), abs=0.002)
    assert float(one["lati"].values[alive][-1]) == pytest.approx(float(ref["lati"]), abs=0.002)


def test_hgts_is_the_level_pressure_where_the_binary_reads_it_so() -> None:
    """The binary reads HGTS into the level pressure on terrain-following height levels and,
    when PRES is present, on sigma levels (the later of PRES and HGTS wins; the height_hgts
    and sigma_hgts cases above check the collapsed mixed layer against it); on other
    systems HGTS is never a pressure."""
    from stilt.met.window import pressure_field

    assert pressure_field(("TEMP", "PRES", "HGTS"), 3) == "HGTS"
    assert pressure_field(("HGTS", "PRES", "TEMP"), 3) == "PRES"
    assert pressure_field(("HGTS", "TEMP"), 3) == "HGTS"
    assert pressure_field(("PRES", "HGTS"), 1) == "HGTS"
    assert pressure_field(("HGTS", "PRES"), 1) == "PRES"
    assert pressure_field(("TEMP", "HGTS"), 1) is None
    assert pressure_field(("HGTS", "TEMP"), 2) is None


#: our particles per edge run with turbulence (the binary's: column_met.EDGE_NUMPAR)
EDGE_OUR_NUMPAR = 500


@pytest.mark.parametrize("wind", range(len(EDGE_WINDS)))
def test_turbulent_particles_leave_the_grid_as_the_binarys_do(wind: int,
                                                              tmp_path: Path) -> None:
    """With turbulence, driven to each side of the grid: the particles alive at each hour
    agree with the binary's within four binomial standard errors (per 1000, ours against the
    binary's: 592 and 580 at hour 7 at the east side, 602 and 627 at hour 9 at the south side;
    stopping at the grid edge itself kept them one or two cells, 1-2 h, longer), and every
    particle stops where the binary's do, between x or y = 2 (nx - 2, ny - 2) and one step
    beyond (binary: 1.978-2.000 and 19.000-19.022)."""
    ref = xr.open_dataset(DATA / "edges.nc").load().isel(wind=wind)
    ours = stilt.run_trajectories(receptor("nam_land"), edge_met_as_read(*EDGE_WINDS[wind],
                                                                          tmp_path),
                                  n_hours=NOTURB_HOURS, numpar=EDGE_OUR_NUMPAR, seed=7,
                                  varsiwant=["time", "indx", "long", "lati"])
    alive = np.isfinite(ours["long"].values)                     # (time, indx)
    assert not alive[-1].any()                                   # all have left
    last = np.argmax(np.cumsum(alive, axis=0), axis=0)           # index of each last row
    idx = np.arange(alive.shape[1])
    minute = -ours["time"].values[last]
    theirs = -ref["turb_minute"].values
    hours = np.arange(1, int(np.ceil(max(minute.max(), theirs.max()) / 60)) + 1)
    n_o, n_b = minute.size, theirs.size
    k_o = (minute[None, :] >= 60 * hours[:, None]).sum(1)
    k_b = (theirs[None, :] >= 60 * hours[:, None]).sum(1)
    p = (k_o + k_b) / (n_o + n_b)
    se = np.sqrt(p * (1 - p) * (1 / n_o + 1 / n_b))
    assert np.all(np.abs(k_o / n_o - k_b / n_b) <= 4 * se), (k_o, k_b)
    # along the wind, where the particles stop (degrees: 1-degree cells)
    along = "long" if EDGE_WINDS[wind][0] != 0 else "lati"
    mine = ours[along].values[last, idx]
    band = ref[f"turb_{along}"].values
    assert band.max() - band.min() < 0.05
    assert band.min() - 0.01 <= mine.min() and mine.max() <= band.max() + 0.01
