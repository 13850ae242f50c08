"""Instrumented stand-ins for the science functions, for orchestration tests.

They produce small but real datasets and append one line per call to a log file (one file for
all processes), so tests count how often transport ran and for which receptor.
"""

from __future__ import annotations

import importlib
import os
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

CALLS: dict[str, Any] = {"log": None, "sleep": 0.0, "fail_lat": None}
#: taken by the fake transport, as a library's lock (SQLite, HDF5, OpenMP) is by the real one
LOCK = threading.Lock()


def _note(kind: str, what: str) -> None:
    if CALLS["log"]:
        with open(CALLS["log"], "a") as handle:
            handle.write(f"{kind} {what} {os.getpid()}\n")


def fake_run_trajectories(receptor: Any, met: Any, n_hours: float = -24, numpar: int = 1000,
                          seed: int | None = None, **params: Any) -> xr.Dataset:
    lat = float(receptor["latitude"] if isinstance(receptor, dict) else
                (receptor[0]["latitude"] if isinstance(receptor, list) else receptor.latitude))
    if CALLS["fail_lat"] is not None and abs(lat - CALLS["fail_lat"]) < 1e-9:
        from stilt.errors import MetCoverageError  # what run_trajectories raises there

        raise MetCoverageError(f"receptor at latitude {lat} is outside the met grid")
    with LOCK:
        _note("transport", f"{lat:.4f}")
    if CALLS["sleep"]:
        time.sleep(CALLS["sleep"])
    rng = np.random.default_rng(seed)
    nt = abs(int(n_hours)) * 2
    times = -np.arange(1, nt + 1, dtype=float) * 30.0
    ds = xr.Dataset(
        {"lati": (("time", "indx"), lat + rng.normal(0, 0.01, (nt, numpar))),
         "foot": (("time", "indx"), rng.random((nt, numpar)))},
        coords={"time": times, "indx": np.arange(1, numpar + 1)})
    ds.attrs["numpar"] = numpar
    return ds


def fake_calc_footprint(particles: xr.Dataset, receptor: Any, grid: Any,
                        smooth_factor: float = 1.0, time_integrate: bool = False,
                        hnf_plume: bool = True, **more: Any) -> xr.Dataset:
    _note("footprint", str(smooth_factor))
    return xr.Dataset({"foot": (("lat", "lon"), np.full((3, 4), float(particles.foot.mean())))})


def fake_write_footprint(ds: xr.Dataset, path: str | Path) -> None:
    ds.to_netcdf(path, engine="netcdf4")


def setup(log: str, sleep: float = 0.0, fail_lat: float | None = None) -> None:
    """Substitute the fakes for the science functions a simulation calls, in this process.

    The initializer of :func:`executor`'s worker processes (they start from a forkserver, so
    nothing patched in the test process reaches them)."""
    CALLS.update(log=str(log), sleep=sleep, fail_lat=fail_lat)
    for name, fake in FAKES.items():
        module, attr = name.rsplit(".", 1)
        setattr(importlib.import_module(module), attr, fake)


def setup_and_note_env(log: str, name: str) -> None:
    """Worker initializer: :func:`setup`, then append ``env NAME=value PID`` to ``log``."""
    setup(log)
    _note("env", f"{name}={os.environ.get(name, '')}")


def executor(log: Path | str, sleep: float = 0.0, fail_lat: float | None = None) -> Any:
    """A local executor whose worker processes run on the fakes."""
    from stilt.executors.local import LocalExecutor

    return LocalExecutor(initializer=setup, initargs=(str(log), sleep, fail_lat))


def use_in_workers(patch: Any, local: Any) -> None:
    """Make every run of this process (the Python API and the CLI) whose backend is local use
    ``local`` (:func:`executor`): ``patch(stilt.model, "get_executor", ...)``."""
    import stilt.model
    from stilt.executors import get_executor

    def chosen(backend: str, **kw: Any) -> Any:
        return local if backend == "local" else get_executor(backend, **kw)

    patch(stilt.model, "get_executor", chosen)


def install(monkeypatch: Any, log: Path, sleep: float = 0.0, fail_lat: float | None = None
            ) -> None:
    """Substitute the fakes for the science functions a simulation calls: in this process
    (inline runs) and, through :func:`executor`, in the worker processes of local pools."""
    monkeypatch.setitem(CALLS, "log", str(log))
    monkeypatch.setitem(CALLS, "sleep", sleep)
    monkeypatch.setitem(CALLS, "fail_lat", fail_lat)
    for name, fake in FAKES.items():
        module, attr = name.rsplit(".", 1)
        monkeypatch.setattr(importlib.import_module(module), attr, fake)
    use_in_workers(monkeypatch.setattr, executor(log, sleep, fail_lat))


#: what the fakes replace (stilt.simulation looks these up when it calls them)
FAKES = {"stilt.transport.run_trajectories": fake_run_trajectories,
         "stilt.footprint.calc_footprint": fake_calc_footprint,
         "stilt.footprint.write_footprint": fake_write_footprint}


def calls(log: Path, kind: str = "transport") -> list[str]:
    """The logged calls of one kind (their receptor latitudes)."""
    if not Path(log).exists():
        return []
    return [line.split()[1] for line in Path(log).read_text().splitlines()
            if line.startswith(kind)]


def _main(argv: list[str]) -> int:
    """``python orch_fakes.py LOG SLEEP FAIL_LAT stilt-args...``: the CLI on the fakes
    (``... --slurm-task RUN_DIR``: one Slurm array task on the fakes)."""
    from stilt.cli import main

    fail_lat = None if argv[2] == "-" else float(argv[2])
    setup(argv[0], float(argv[1]), fail_lat)
    use_in_workers(setattr, executor(argv[0], float(argv[1]), fail_lat))
    if argv[3] == "--slurm-task":  # one Slurm array task (stilt.executors.slurm_task) on fakes
        from stilt.executors.slurm_task import main as task_main

        return task_main(argv[4:])
    return main(argv[3:])


if __name__ == "__main__":
    import sys

    sys.exit(_main(sys.argv[1:]))


def small_project(path: Path, n: int = 8, extra: str = "") -> Path:
    """A project of ``n`` receptors on met the fakes never read (config.yaml + receptors.csv).

    ``extra`` is appended to config.yaml.
    """
    path.mkdir(parents=True)
    (path / "config.yaml").write_text(
        "n_hours: -2\nnumpar: 10\nseed: 1\n"
        "mets:\n  synth: {directory: met, file_format: x.arl}\n"
        "footprints:\n  default:\n    grid: {xmin: -104, xmax: -99, ymin: 38, ymax: 42, "
        "xres: 0.5, yres: 0.5}\n" + extra)
    rows = ["time,lon,lat,zagl"] + [f"2023-07-15 18:00,-102.5,{39 + 0.1 * k:.1f},5"
                                    for k in range(n)]
    (path / "receptors.csv").write_text("\n".join(rows) + "\n")
    return path
