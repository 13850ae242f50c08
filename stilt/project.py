"""Project scaffolding and pre-run checks: ``stilt init`` and ``stilt check``.

:func:`init_project` writes a commented starter ``config.yaml`` and ``receptors.csv`` (never
over existing files); with ``example=True`` it also writes a small synthetic met set and a
configuration that runs on it as is. :func:`check_project` validates a project without
running anything and returns the plan.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from stilt.config import write_text_atomic
from stilt.errors import ConfigError, StiltError

__all__ = ["init_project", "check_project", "ProjectCheck"]

_STARTER_CONFIG = """\
# stilt project configuration. Read with yaml.safe_load; unknown keys are rejected.
# Every key is described in docs/orchestration.md.

n_hours: -24          # run duration in hours, negative = backward in time
numpar: 1000          # particles per simulation
seed: null            # null: a fixed seed derived from each simulation id

mets:                 # named met sources (names: letters, digits, '.', '-'; no '_')
  hrrr:
    directory: /path/to/arl/met            # relative paths are relative to this project
    file_format: "hysplit.%Y%m%d.%Hz.hrrra"  # strftime pattern of the file names
    file_tres: 6h                            # time span between consecutive files
    # roughness: exe/ASCDATA.CFG             # z0 where no RGHS; unset: HYSPLIT 1-deg table

footprints:           # named footprints, each with its own grid (degrees for lat/lon)
  default:
    grid: {xmin: -114.0, xmax: -111.0, ymin: 39.5, ymax: 42.0, xres: 0.01, yres: 0.01}
    smooth_factor: 1.0
    time_integrate: false

hnf_plume: true       # hyper-near-field plume dilution correction
skip_existing: true   # reruns only do what is missing or was made with other settings
output_dir: out       # inside the project
plots: false          # true: stilt run ends by drawing the mean footprint maps (stilt[plot])

execution:
  backend: local
  n_workers: 1        # 1: inline; more: a process pool
  timeout: null       # seconds per simulation
  max_attempts: 3

# Transport parameters go here, flat, by their lower-case HYSPLIT-STILT names, e.g.
# kmix0: 150
# varsiwant: [time, indx, long, lati, zagl, foot, mlht, dens, samt, sigw, tlgr]
"""

_STARTER_RECEPTORS = """\
time,longitude,latitude,altitude
2023-07-15 18:00:00,-111.85,40.77,5
"""

#: the shipped example: small synthetic met in 6-hour files named like NOAA's HRRR archive
#: (``20230715_12-17_synt.arl``), 8 receptors, 6-hour backward runs
EXAMPLE_MET = {"start": "2023-07-15T00:00", "hours": 24, "file_hours": 6, "nx": 60, "ny": 50,
               "seed": 1}


def _example_config() -> str:
    return """\
# stilt example project: 8 receptors on synthetic HRRR-like met (stilt init --example).
n_hours: -6
numpar: 200
seed: 42
mets:
  synth:
    directory: met
    file_format: "%Y%m%d_%H"  # the start of archive names: 20230715_12-17_synt.arl
    file_tres: 1h
footprints:
  default:            # holds the whole footprint of every receptor (they reach 3.5 deg west)
    grid: {xmin: -106.0, xmax: -101.0, ymin: 37.5, ymax: 40.5, xres: 0.1, yres: 0.1}
    smooth_factor: 1.0
    time_integrate: false
hnf_plume: true
skip_existing: true
output_dir: out
plots: true           # stilt run ends by drawing out/plots/summary_default.png (stilt[plot])
execution:
  backend: local
  n_workers: 2
  timeout: 600
  max_attempts: 3
"""


def _example_receptors() -> str:
    rows = ["time,longitude,latitude,altitude"]
    for k in range(8):
        lon = -102.5 + 0.3 * (k % 4)
        lat = 39.6 + 0.4 * (k // 4)
        rows.append(f"2023-07-15 {16 + k % 4:02d}:00:00,{lon:.2f},{lat:.2f},{5 + 45 * (k % 2)}")
    return "\n".join(rows) + "\n"


def init_project(directory: str | Path, example: bool = False) -> list[Path]:
    """Write a starter (or example) project; existing files are never overwritten.

    Parameters
    ----------
    directory : str or Path
    example : bool, optional
        Write the runnable example (synthetic met under ``met/``) instead of the starter.

    Returns
    -------
    list of Path
        Files written.

    Raises
    ------
    ConfigError
        ``config.yaml`` or ``receptors.csv`` already exists there.
    """
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    files = {root / "config.yaml": _example_config() if example else _STARTER_CONFIG,
             root / "receptors.csv": _example_receptors() if example else _STARTER_RECEPTORS}
    existing = [p for p in files if p.exists()]
    if existing:
        raise ConfigError(f"{', '.join(map(str, existing))} already exist(s); stilt init never "
                          "overwrites a project's files")
    written = []
    if example:
        from stilt.met.synthetic import generate_synthetic_met

        written += generate_synthetic_met(root / "met", **EXAMPLE_MET)
    for path, text in files.items():
        write_text_atomic(path, text)
        written.append(path)
    return written


@dataclass
class ProjectCheck:
    """Result of :func:`check_project`."""

    n_receptors: int = 0
    mets: list[str] = field(default_factory=list)
    footprints: dict[str, str] = field(default_factory=dict)
    roughness: dict[str, str] = field(default_factory=dict)
    simulations: int = 0
    complete: int = 0
    to_run: int = 0
    met_files: int | None = None  #: met files verified record by record (None: not asked)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No problem found."""
        return not self.problems

    def report(self) -> str:
        """Human-readable plan and problems."""
        lines = [f"{self.n_receptors} receptor(s) x {len(self.mets)} met(s) "
                 f"({', '.join(self.mets)}) = {self.simulations} simulation(s): "
                 f"{self.complete} complete, {self.to_run} to run"]
        for name, text in self.footprints.items():
            lines.append(f"footprint {name}: {text}")
        for name, text in self.roughness.items():
            lines.append(f"met {name}: roughness {text} (where the files carry no RGHS)")
        if self.met_files is not None:
            lines.append(f"met files read whole and checked: {self.met_files}")
        lines += [f"problem: {p}" for p in self.problems]
        lines.append("ok" if self.ok else f"{len(self.problems)} problem(s)")
        return "\n".join(lines)


def check_project(directory: str | Path, met: bool = False,
                  progress: Callable[[int, int, Path], None] | None = None) -> ProjectCheck:
    """Validate config, receptors and met coverage of a project; runs nothing.

    Parameters
    ----------
    directory : str or Path
        The project.
    met : bool, optional
        Also read every record of every met file the simulations still to run need and
        verify its values and checksum (:func:`stilt.met.arl.verify_arl`): each file once,
        whole (default False: only the files' indexes and the receptors' places on the grid).
    progress : callable, optional
        Called as ``progress(done, total, path)`` before each met file is verified.

    Raises
    ------
    ConfigError
        The config or receptors cannot be read at all (other problems are collected).
    """
    from stilt.model import Model
    from stilt.simulation import SimulationPaths, needed_work

    model = Model(directory)
    cfg = model.config
    out = ProjectCheck(n_receptors=len(model.receptors), mets=list(cfg.mets))
    for name, fp in cfg.footprints.items():
        g = fp.grid
        try:
            ny, nx = g.shape
        except StiltError as exc:  # e.g. a projected grid without pyproj
            out.problems.append(f"footprint {name}: {exc}")
            continue
        out.footprints[name] = (f"{nx} x {ny} cells, x {g.xmin}..{g.xmax} by {g.xres}, "
                                f"y {g.ymin}..{g.ymax} by {g.yres}, "
                                f"{'time-integrated' if fp.time_integrate else 'hourly'}")
    if not model.receptors:
        out.problems.append("no receptors (add receptors.csv)")
    from stilt.met.roughness import roughness_source
    from stilt.simulation import resolved_met

    for name in cfg.mets:
        try:
            surface = roughness_source(getattr(resolved_met(cfg, name, model.project),
                                               "roughness", None))
        except StiltError as exc:
            out.problems.append(f"met {name}: {exc}")
        else:
            out.roughness[name] = (f"{surface:g} m everywhere" if isinstance(surface, float)
                                   else surface.path)
    plan = model.plan()
    out.simulations = len(plan)
    folders = model.simulation_folders()
    todo = []
    for p in plan:
        if p["sim_id"] in folders:  # a simulation without a folder has not run
            need_traj, feet = needed_work(SimulationPaths.of(model.output, p["sim_id"]), cfg,
                                          p["met"])
            if not need_traj and not feet:
                out.complete += 1
                continue
        todo.append(p)
    out.to_run = len(todo)
    needed = {}
    for name in cfg.mets:
        mine = [p for p in todo if p["met"] == name]
        needed[name] = _needed_met_files(model, name, {p["receptor"].time for p in mine})
        out.problems += _coverage_problems(mine, needed[name])
    if met:
        out.met_files, problems = _verified_met(needed, progress)
        out.problems += problems
    model.close()
    return out


def _needed_met_files(model: Any, met: str, times: set[Any]) -> dict[Any, Any]:
    """The met files a simulation at each receptor time needs (looked up once per time): a
    list of paths, the problem that kept them from being found (text), or None when the
    met source does not list files."""
    import numpy as np

    from stilt.simulation import resolved_met

    cfg = model.config
    found: dict[Any, Any] = {}
    for when in times:
        try:
            src = resolved_met(cfg, met, model.project)
            found[when] = ([Path(f.path) for f in src.find_files(np.datetime64(when, "m"),
                                                                 cfg.n_hours)]
                           if hasattr(src, "find_files") else None)
        except StiltError as exc:
            found[when] = str(exc)
        except Exception as exc:  # noqa: BLE001 - report, never crash a check
            found[when] = f"met {cfg.mets[met]!r}: {type(exc).__name__}: {exc}"
    return found


def _verified_met(needed: dict[str, dict[Any, Any]],
                  progress: Callable[[int, int, Path], None] | None) -> tuple[int, list[str]]:
    """Verify each met file of ``needed`` (:func:`_needed_met_files` of each met) once: the
    number of files verified and one problem per file that fails."""
    from stilt.met.arl import verify_arl

    files: dict[Path, str] = {}  # file -> the met that needs it first
    for name, by_time in needed.items():
        for when in sorted(by_time):
            if isinstance(by_time[when], list):  # a problem is reported by the coverage check
                for path in by_time[when]:
                    files.setdefault(path, name)
    problems = []
    for k, (path, name) in enumerate(sorted(files.items())):
        if progress is not None:
            progress(k, len(files), path)
        try:
            verify_arl(path)
        except StiltError as exc:
            problems.append(f"met {name}: {exc}")
    return len(files), problems


def _coverage_problems(todo: list[dict[str, Any]], found: dict[Any, Any]) -> list[str]:
    """Problems of the met coverage of the simulations ``todo`` on one met, given the files
    each receptor time needs (:func:`_needed_met_files`): the files found, and the receptors
    on the met grid (checked together, once per first met file)."""
    problems: dict[int, str] = {}
    by_file: dict[Path, list[int]] = {}
    for k, p in enumerate(todo):
        files = found[p["receptor"].time]
        if isinstance(files, str):
            problems[k] = files
        elif files:
            by_file.setdefault(files[0], []).append(k)
    for path, members in by_file.items():
        try:
            problems.update({members[j]: text for j, text in _outside_grid(
                [todo[k]["receptor"] for k in members], path).items()})
        except StiltError as exc:
            problems.update({k: str(exc) for k in members})
    return [f"{todo[k]['sim_id']}: {problems[k]}" for k in sorted(problems)]


def _outside_grid(receptors: list[Any], path: Path) -> dict[int, str]:
    """A message for each receptor (by position) with a point outside the grid of an ARL
    file; every point converted to grid positions at once."""
    import numpy as np

    from stilt.met.arl import GRID_PARAMETERS, arl_inventory
    from stilt.met.projection import ArlGrid

    inv = arl_inventory(path)
    grid = ArlGrid.from_attrs({**dict(zip(GRID_PARAMETERS, inv.grid_params)),
                               "nx": inv.nx, "ny": inv.ny})
    if grid.is_global:
        return {}
    owner: list[int] = []
    lats: list[float] = []
    lons: list[float] = []
    for k, receptor in enumerate(receptors):
        if hasattr(receptor, "latitudes"):  # every point of a multi-point receptor
            owner += [k] * len(receptor.latitudes)
            lats += receptor.latitudes
            lons += receptor.longitudes
        else:
            owner.append(k)
            lats.append(receptor.latitude)
            lons.append(receptor.longitude)
    lat_all = np.asarray(lats, dtype=float)
    lon_all = np.asarray(lons, dtype=float)
    x, y = grid.to_grid(lat_all, lon_all)
    bad = ~((x >= 1) & (x <= inv.nx) & (y >= 1) & (y <= inv.ny))
    out: dict[int, str] = {}
    for i in np.flatnonzero(bad):
        if owner[i] not in out:  # the first point outside names the receptor
            out[owner[i]] = (
                f"receptor at latitude {lat_all[i]}, longitude {lon_all[i]} is outside the met "
                f"grid of {path} (grid position x {x[i]:.1f}, y {y[i]:.1f}; the grid is "
                f"1..{inv.nx} x 1..{inv.ny})")
    return out
