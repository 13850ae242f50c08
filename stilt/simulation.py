"""One simulation (one receptor on one met): run it and publish its outputs.

Only this module writes simulation outputs, always to a temporary name in the destination
folder, flushed to disk, then renamed (:mod:`stilt._io`), so a reader (or a crash) never sees
half a file. Layout
under ``<output>/simulations/``::

    by-id/<sim_id>/<sim_id>_traj.nc            trajectories (run_trajectories)
    by-id/<sim_id>/<sim_id>_traj_error.nc      the transport-error run, when error parameters
                                               are set (R-STILT's particle_error)
    by-id/<sim_id>/<sim_id>_<name>_foot.nc     one per named footprint (calc_footprint)
    by-id/<sim_id>/status.json                 state, reason, hashes, timings, host/pid
    by-id/<sim_id>/stilt.log                   what happened, appended per attempt
    particles/<sim_id>_traj.nc                 relative links for browsing
    footprints/<sim_id>_<name>_foot.nc

With transport-error parameters set (``siguverr``... or ``sigzierr``...), a simulation runs
the transport twice, as R-STILT's ``simulation_step`` does: once without errors (``_traj.nc``,
R-STILT's ``particle``) and once with them (``_traj_error.nc``, R-STILT's ``particle_error``,
with another seed); the footprints are made from the run without errors, as in R-STILT.

A simulation's folder appears when it first runs: registering it writes its index row only
(the stored receptors and config list the registered ones, :mod:`stilt.registration`).

``status.json`` records the transport hash of the trajectory file on disk and the hash of
each footprint file on disk, so a rerun knows exactly what is still valid: nothing (transport
settings changed), only the trajectories (footprint settings changed) or everything.

Trajectory files are written compact (:mod:`stilt.trajectory_file`), and the footprints are
made from the particles rounded as the file holds them. The ``trajectories`` setting keeps
the files, thins them or drops them: new particles are written thinned at once, or not at all
(the footprints come from memory); files kept from earlier runs are thinned or dropped once
every footprint is written (docs/outputs.md gives the order of the steps). ``status.json``
records ``trajectories: full | thinned | dropped`` (a thinned file also says so itself, in its
``thinned_minutes`` attribute). A simulation with thinned or dropped trajectories is complete;
a footprint it does not have yet needs the full particles, so its transport runs again (same
seed, same particles) and only the missing footprints are computed.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import signal
import socket
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stilt._io import atomic_path, is_temp_name, temp_path, write_atomic
from stilt._verify import check_output, output_problem, writing
from stilt.config import ModelConfig
from stilt.errors import ConfigError, StiltError
from stilt.ids import check_name, safe_path
from stilt.receptors import Receptor, receptor_from_dict
from stilt.states import State

__all__ = ["SimulationPaths", "run_simulation", "needed_work", "read_status",
           "write_status", "collect_records", "cleanup_temp",
           "classify_failure", "SimulationTimeout", "resolved_met"]

class SimulationTimeout(Exception):
    """A simulation ran longer than ``execution.timeout``. Failure class ``TIMEOUT``."""

    failure = "TIMEOUT"


@dataclass(frozen=True)
class SimulationPaths:
    """Where one simulation's files go (every path checked to stay inside the output root)."""

    root: Path
    sim_id: str

    @classmethod
    def of(cls, root: str | Path, sim_id: str) -> SimulationPaths:
        """Paths of ``sim_id`` under the output root ``root``."""
        check_name(sim_id, "simulation id")
        return cls(Path(root).resolve(), sim_id)

    @functools.cached_property
    def folder(self) -> Path:
        """``simulations/by-id/<sim_id>``, resolved and checked once per instance (a
        simulation asks for it some 20 times; each check resolves the path anew)."""
        return safe_path(self.root, "simulations", "by-id", self.sim_id)

    @property
    def trajectory(self) -> Path:
        """``<sim_id>_traj.nc``."""
        return self.folder / f"{self.sim_id}_traj.nc"

    @property
    def error_trajectory(self) -> Path:
        """``<sim_id>_traj_error.nc``: the transport-error run."""
        return self.folder / f"{self.sim_id}_traj_error.nc"

    def footprint(self, name: str) -> Path:
        """``<sim_id>_<name>_foot.nc``."""
        check_name(name, "footprint name")
        return safe_path(self.folder, f"{self.sim_id}_{name}_foot.nc")

    @property
    def status(self) -> Path:
        """``status.json``."""
        return self.folder / "status.json"

    @property
    def log(self) -> Path:
        """``stilt.log``."""
        return self.folder / "stilt.log"


def read_status(paths: SimulationPaths) -> dict[str, Any] | None:
    """The status record of a simulation, or None when absent or unreadable."""
    try:
        data = json.loads(paths.status.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_status(paths: SimulationPaths, record: Mapping[str, Any]) -> None:
    """Write ``status.json`` atomically."""
    with writing(paths.status):
        write_atomic(paths.status, json.dumps(dict(record), indent=1, sort_keys=True) + "\n")


def cleanup_temp(folder: Path) -> int:
    """Remove leftover temporary files (``.<name>...tmp``, see :mod:`stilt._io`) in one folder."""
    n = 0
    try:
        entries = list(folder.iterdir())
    except OSError:
        return 0
    for entry in entries:
        if is_temp_name(entry.name):
            entry.unlink(missing_ok=True)
            n += 1
    return n


def needed_work(paths: SimulationPaths, config: ModelConfig,
                met: str) -> tuple[bool, list[str]]:
    """What a run of this simulation still has to do under ``config``.

    Returns
    -------
    (bool, list of str)
        Whether the trajectories must be (re)computed, and the footprint names to
        (re)compute. ``(False, [])`` means complete.
    """
    status = read_status(paths) or {}
    files = trajectory_attrs(paths, config)
    transport = config.transport_hash(met)
    # a run killed after publishing its trajectories, before status.json recorded them,
    # leaves files that carry this transport's hash: they are kept
    made_here = files is not None and all(a.get("stilt_transport_hash") == transport
                                          for a in files)
    if status.get("transport_hash") != transport and not made_here:
        return True, list(config.footprints)
    have = _holding(files)
    if have == "none" and status.get("trajectories") != "dropped":  # lost or damaged
        return True, list(config.footprints)
    done = status.get("footprints") or {}
    feet = [name for name in config.footprints
            if not paths.footprint(name).is_file()
            or done.get(name) != config.footprint_hash(met, name)
            or output_problem(paths.footprint(name), "footprint") is not None]
    need_traj = ((bool(feet) and have != "full")  # footprints need the full particles
                 or (config.trajectories == "keep" and have != "full")
                 or (config.trajectories == "thin" and have == "none"))
    return need_traj, feet


def trajectory_attrs(paths: SimulationPaths,
                     config: ModelConfig) -> list[dict[str, Any]] | None:
    """The global attributes of each trajectory file of a simulation
    (:func:`trajectory_files`), or None when one is missing or damaged."""
    out = []
    for path in trajectory_files(paths, config):
        attrs: dict[str, Any] = {}
        if not path.is_file() or output_problem(path, "trajectory", attrs) is not None:
            return None
        out.append(attrs)
    return out


def _holding(files: list[dict[str, Any]] | None) -> str:
    """``full``, ``thinned`` or ``none`` for the attributes of :func:`trajectory_attrs`."""
    if files is None:
        return "none"
    return "thinned" if any("thinned_minutes" in attrs for attrs in files) else "full"


def stored_trajectories(paths: SimulationPaths, config: ModelConfig) -> str:
    """What the trajectory files of a simulation hold: ``full``, ``thinned`` or ``none``
    (missing or damaged), read from the files themselves."""
    return _holding(trajectory_attrs(paths, config))


def error_run(config: ModelConfig) -> int:
    """``winderrtf`` of the transport-error run the config asks for (0: none)."""
    return int(config.resolved_params().get("winderrtf") or 0)


def trajectory_files(paths: SimulationPaths, config: ModelConfig) -> list[Path]:
    """The trajectory files a complete simulation has: ``_traj.nc``, and ``_traj_error.nc``
    when error parameters are set."""
    return [paths.trajectory] + ([paths.error_trajectory] if error_run(config) else [])


def damaged_outputs(paths: SimulationPaths, config: ModelConfig) -> list[str]:
    """The output files of a simulation that are there but cannot be read, with why."""
    files = [(path, "trajectory") for path in trajectory_files(paths, config)]
    files += [(paths.footprint(n), "footprint") for n in config.footprints]
    out = []
    for path, kind in files:
        if path.is_file():
            problem = output_problem(path, kind)
            if problem is not None:
                out.append(f"{path.name} {problem}")
    return out


def classify_failure(exc: BaseException) -> str:
    """Reason class of a failure, from the exception type alone: the ``failure`` of a stilt
    error (CONFIG, MET_MISSING, MET_COVERAGE, MET, CORE, IO, ERROR; see
    :class:`stilt.errors.StiltError`), TIMEOUT, OUT_OF_MEMORY, IO (other OS errors) or ERROR."""
    if isinstance(exc, (StiltError, SimulationTimeout)):
        return exc.failure
    if isinstance(exc, MemoryError):
        return "OUT_OF_MEMORY"
    if isinstance(exc, OSError):
        return "IO"
    return "ERROR"


def _log(paths: SimulationPaths, text: str) -> None:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    with open(paths.log, "a", encoding="utf-8") as handle:
        for line in text.rstrip("\n").splitlines():
            handle.write(f"{stamp} {line}\n")


def _link(root: Path, kind: str, target: Path) -> None:
    """Relative link ``simulations/<kind>/<name> -> ../by-id/<sim>/<name>``, made atomically."""
    folder = safe_path(root, "simulations", kind)
    folder.mkdir(parents=True, exist_ok=True)
    link = folder / target.name
    rel = os.path.relpath(target, folder)
    if link.is_symlink() and os.readlink(link) == rel:
        return
    tmp = temp_path(link)
    try:
        os.symlink(rel, tmp)
        os.replace(tmp, link)
    except OSError:  # file systems without symlinks: browsing links are optional
        tmp.unlink(missing_ok=True)


def resolved_met(config: ModelConfig, met: str, project: Path) -> Any:
    """The met source ``met`` with its relative paths (directory, roughness table) made
    relative to the project folder."""
    src = config.mets[met]
    if not dataclasses.is_dataclass(src):
        return src
    directory = Path(src.directory)
    if not directory.is_absolute():
        src = dataclasses.replace(src, directory=project / directory)
    rough = getattr(src, "roughness", None)
    if isinstance(rough, (str, Path)):
        try:
            float(str(rough))
        except ValueError:
            if not Path(rough).is_absolute():
                src = dataclasses.replace(src, roughness=project / Path(rough))
    return src


class _Alarm:
    """Raise :class:`SimulationTimeout` in this (main) thread after ``seconds``."""

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self.previous: Any = None

    def _fire(self, signum: int, frame: Any) -> None:
        raise SimulationTimeout(f"simulation exceeded the timeout of {self.seconds:g} s")

    def __enter__(self) -> _Alarm:
        if self.seconds and hasattr(signal, "setitimer"):
            try:
                self.previous = signal.signal(signal.SIGALRM, self._fire)
                signal.setitimer(signal.ITIMER_REAL, self.seconds)
            except ValueError:  # not the main thread: the executor enforces it from outside
                self.seconds = None
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.seconds and hasattr(signal, "setitimer"):
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.previous or signal.SIG_DFL)


def run_simulation(root: str | Path, project: str | Path, sim_id: str, met: str,
                   receptor: Receptor | Mapping[str, Any], config: ModelConfig,
                   attempt: int = 1, scene_id: str | None = None,
                   timeout: float | None = None) -> dict[str, Any]:
    """Run one simulation: trajectories (unless still valid), then each needed footprint.

    Failures of the simulation itself (bad receptor, met coverage, core errors, timeout) are
    recorded in its status record and log and returned; they never raise. An interrupt
    (KeyboardInterrupt, SystemExit) removes the temporary files and propagates.

    Parameters
    ----------
    root : str or Path
        Output root (``<project>/<output_dir>``).
    project : str or Path
        Project folder (relative met directories are resolved against it).
    sim_id, met : str
    receptor : receptor or its ``to_dict()`` mapping
    config : ModelConfig
    attempt : int, optional
    scene_id : str, optional
    timeout : float, optional
        Seconds before the simulation is stopped with reason TIMEOUT.

    Returns
    -------
    dict
        ``sim_id``, ``state`` ("complete" or "failed"), ``reason``, ``message``,
        ``ran_transport`` (bool), ``footprints_run`` (names), ``outputs`` (file names),
        ``duration`` (s), ``transport_seconds``, ``footprint_seconds`` (computing, not writing).
    """
    if isinstance(receptor, Mapping):
        receptor = receptor_from_dict(receptor)
    paths = SimulationPaths.of(root, sim_id)
    paths.folder.mkdir(parents=True, exist_ok=True)
    cleanup_temp(paths.folder)
    t0 = time.time()
    record = _start_record(paths, met, receptor, attempt, scene_id, t0)
    result: dict[str, Any] = {"sim_id": sim_id, "ran_transport": False, "footprints_run": [],
                              "transport_seconds": 0.0, "footprint_seconds": 0.0}
    try:
        with _Alarm(timeout):
            _run_attempt(paths, Path(project), met, receptor, config, attempt, record, result)
    except (KeyboardInterrupt, SystemExit):
        cleanup_temp(paths.folder)
        _log(paths, "interrupted: temporary files removed")
        raise
    except Exception as exc:
        cleanup_temp(paths.folder)
        reason = classify_failure(exc)
        message = f"{type(exc).__name__}: {exc}"
        _log(paths, f"failed ({reason}): {message}\n{traceback.format_exc()}")
        record.update(state=State.FAILED, reason=reason, message=message)
    else:
        record.update(state=State.COMPLETE, reason=None, message=None)
    record["finished_at"] = time.time()
    record["duration"] = record["finished_at"] - t0
    record["outputs"] = _outputs(paths, config)
    write_status(paths, record)
    if record["state"] == State.COMPLETE:
        _log(paths, f"complete in {record['duration']:.2f} s")
    result.update(state=record["state"], reason=record.get("reason"),
                  message=record.get("message"), outputs=record["outputs"],
                  duration=record["duration"], transport_hash=record["transport_hash"])
    return result


def _start_record(paths: SimulationPaths, met: str, receptor: Receptor, attempt: int,
                  scene_id: str | None, t0: float) -> dict[str, Any]:
    """The status record of a starting attempt, keeping what the last record knew."""
    status = read_status(paths) or {}
    return {
        "sim_id": paths.sim_id, "met": met, "receptor": receptor.to_dict(),
        "scene_id": scene_id if scene_id is not None else status.get("scene_id"),
        "registered_at": status.get("registered_at"), "attempts": attempt,
        "transport_hash": status.get("transport_hash"),
        "trajectories": status.get("trajectories"),
        "footprints": dict(status.get("footprints") or {}), "host": socket.gethostname(),
        "pid": os.getpid(), "started_at": t0, "state": State.RUNNING,
        "stilt_version": _version(),
    }


def _run_attempt(paths: SimulationPaths, project: Path, met: str, receptor: Receptor,
             config: ModelConfig, attempt: int, record: dict[str, Any],
             result: dict[str, Any]) -> None:
    """The work of one attempt: what is still needed, or only a storage step a kill left."""
    need_traj, feet = needed_work(paths, config, met)
    transport = config.transport_hash(met)
    if not need_traj and record["transport_hash"] != transport:  # kept from a killed run
        record.update(transport_hash=transport,
                      trajectories=stored_trajectories(paths, config))
    if not need_traj and not feet:
        if _storage_owed(paths, config):  # killed between the footprints and this step
            _store_trajectories(paths, config, record, {})
        _log(paths, "already complete with this configuration: nothing to do")
        return
    _log(paths, f"start attempt {attempt} on {record['host']} pid {os.getpid()}: "
         f"trajectories {'needed' if need_traj else 'kept'}, footprints "
         f"{', '.join(feet) or 'none'}")
    _run_work(paths, project, met, receptor, config, need_traj, feet, record, result)


def _compute_trajectories(paths: SimulationPaths, project: Path, met: str, receptor: Receptor,
                          config: ModelConfig, result: dict[str, Any]) -> tuple[Any, Any]:
    """The particles, and those of the transport-error run when it is on (else None)."""
    from stilt.met.cache import met_cache
    from stilt.params import WIND_ERROR_PARAMS, ZI_ERROR_PARAMS

    from stilt import transport  # looked up at the call: tests substitute instruments

    run_trajectories = transport.run_trajectories
    met_src = resolved_met(config, met, project)
    t = time.perf_counter()
    seed = config.seed_for(paths.sim_id)
    params = config.transport_params()
    main = {k: v for k, v in params.items()
            if k not in ("winderrtf", *WIND_ERROR_PARAMS, *ZI_ERROR_PARAMS)}
    # R-STILT's trajectory layout: foot plume-diluted on the model step, the raw foot
    # as foot_no_hnf_dilution (the footprint picks one by hnf_plume)
    threads = config.execution.threads_per_worker  # the same particles for any count
    met_cache(config.execution.met_cache_mb)  # met read once per worker (same results)
    particles = run_trajectories(receptor.transport_input(), met_src, seed=seed,
                                 hnf_plume=True, threads=threads, **main)
    errors = None
    if error_run(config):  # R-STILT's second run, particle_error: the errors on, another seed
        errors = run_trajectories(receptor.transport_input(), met_src,
                                  seed=_error_seed(seed), hnf_plume=True,
                                  threads=threads, **params)
    result["transport_seconds"] = time.perf_counter() - t
    result["ran_transport"] = True
    return particles, errors


def _outputs(paths: SimulationPaths, config: ModelConfig) -> list[str]:
    names = trajectory_files(paths, config) + [paths.footprint(n) for n in config.footprints]
    return [p.name for p in names if p.is_file()]


def _run_work(paths: SimulationPaths, project: Path, met: str, receptor: Receptor,
              config: ModelConfig, need_traj: bool, feet: list[str],
              record: dict[str, Any], result: dict[str, Any]) -> None:
    from stilt.trajectory_file import compact_trajectories, read_trajectories

    particles = errors = None
    if need_traj:
        particles, errors = _compute_trajectories(paths, project, met, receptor, config,
                                                  result)
        particles = compact_trajectories(particles)  # the values the file holds
        errors = None if errors is None else compact_trajectories(errors)
        publish = _publish_dropped if config.trajectories == "drop" else _publish_trajectories
        computed = publish(paths, met, receptor, config, particles, errors, feet, record,
                           result)
    elif feet:  # trajectories kept from an earlier run: read them back (either layout)
        particles = read_trajectories(paths.trajectory)
        computed = _compute_footprints(feet, particles, receptor, config, result)
    for name in feet:
        _publish_footprint(paths, met, name, computed[name], config, record, result)
    if config.trajectories != "keep" and not need_traj:  # new particles: stored as set
        _store_trajectories(paths, config, record, {paths.trajectory: particles,
                                                    paths.error_trajectory: errors})


def _publish_trajectories(paths: SimulationPaths, met: str, receptor: Receptor,
                          config: ModelConfig, particles: Any, errors: Any, feet: list[str],
                          record: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    """Publish and record the trajectory files while the footprints ``feet`` are computed;
    returns the footprints by name (a footprint's error is raised once the trajectories are
    recorded, so a retry keeps them). With ``trajectories: thin`` the files are written
    thinned at once (the footprints use the full particles in memory)."""
    from stilt.trajectory_file import thin_trajectories

    th = _stamp_transport(paths, met, config, particles, errors)
    thin = config.trajectories == "thin"
    files = [(thin_trajectories(ds, config.thin_minutes) if thin else ds.copy(deep=False),
              path) for ds, path in ((particles, paths.trajectory),
                                     (errors, paths.error_trajectory))
             if ds is not None]  # the writer's own Dataset objects (sharing the values)
    # the files are compressed in a thread while the footprints are computed
    computed, failure = _overlapped(
        lambda: [_publish_trajectory(ds, path) for ds, path in files],
        lambda: _attempt(_compute_footprints, feet, particles, receptor, config, result))
    if errors is None:  # the files of an earlier error run go with its parameters
        paths.error_trajectory.unlink(missing_ok=True)
        (safe_path(paths.root, "simulations", "particles")
         / paths.error_trajectory.name).unlink(missing_ok=True)
    same = record["transport_hash"] == th  # the same particles: valid footprints stay
    record["footprints"] = {n: h for n, h in record["footprints"].items()
                            if same and n not in feet}
    record.update(transport_hash=th, trajectories="thinned" if thin else "full")
    write_status(paths, record)
    for _, path in files:
        _link(paths.root, "particles", path)
    _log(paths, f"trajectories: {particles.sizes.get('indx', 0)} particles, "
         f"{particles.sizes.get('time', 0)} rows"
         + (f", and the transport-error run (winderrtf={error_run(config)})" if errors
            else "") + f", {result['transport_seconds']:.2f} s"
         + (f"; written thinned to one row every {config.thin_minutes} min (trajectories: "
            "thin)" if thin else ""))
    if failure is not None:
        raise failure
    return computed


def _stamp_transport(paths: SimulationPaths, met: str, config: ModelConfig, particles: Any,
                     errors: Any) -> str:
    """Record where the particles came from in their attributes; returns the transport hash."""
    th = config.transport_hash(met)
    for ds in (particles, errors):
        if ds is not None:
            ds.attrs.update(simulation_id=paths.sim_id, met_name=met, stilt_transport_hash=th)
    return th


def _publish_dropped(paths: SimulationPaths, met: str, receptor: Receptor,
                     config: ModelConfig, particles: Any, errors: Any, feet: list[str],
                     record: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    """``trajectories: drop`` with new particles: no trajectory file is written at all.

    The footprints ``feet`` are computed from the particles in memory (returned by name, for
    the caller to publish). Then any trajectory file left from an earlier run goes, and only
    after that the status records the new transport as ``dropped``: a kill before the record
    leaves the earlier transport hash (everything runs again), a kill after it leaves no
    trajectory file and ``dropped`` (the missing footprints run again, with the transport),
    never an earlier file taken for these particles.
    """
    th = _stamp_transport(paths, met, config, particles, errors)
    computed = _compute_footprints(feet, particles, receptor, config, result)
    gone = [p for p in (paths.trajectory, paths.error_trajectory) if p.is_file()]
    for path in (paths.trajectory, paths.error_trajectory):
        path.unlink(missing_ok=True)
        (safe_path(paths.root, "simulations", "particles") / path.name).unlink(
            missing_ok=True)
    same = record["transport_hash"] == th  # the same particles: valid footprints stay
    record["footprints"] = {n: h for n, h in record["footprints"].items()
                            if same and n not in feet}
    record.update(transport_hash=th, trajectories="dropped")
    write_status(paths, record)
    _log(paths, f"trajectories: {particles.sizes.get('indx', 0)} particles, "
         f"{particles.sizes.get('time', 0)} rows, {result['transport_seconds']:.2f} s; not "
         f"written (trajectories: drop: the footprints are made from memory)"
         + (f", {len(gone)} earlier file(s) removed" if gone else ""))
    return computed


def _overlapped(background: Callable[[], Any], foreground: Callable[[], Any]) -> Any:
    """Run ``background`` in a thread while ``foreground`` runs here; returns what
    ``foreground`` returns once both are done.

    ISA-L deflates a trajectory file's chunks with the GIL released, so writing a file in
    the background takes little from the foreground's computing. The background must be
    the only caller of the netCDF and HDF5 libraries meanwhile (they are not thread-safe).
    An error of the foreground wins; the background is always finished before this returns
    or raises, so its temporary files are closed before anyone cleans them up.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="stilt-write") as pool:
        job = pool.submit(background)
        try:
            out = foreground()
        finally:
            wait([job])
        job.result()  # the background's error, once the foreground succeeded
    return out


def _attempt(fn: Callable[..., Any], *args: Any) -> tuple[Any, Exception | None]:
    """``(fn(*args), None)``, or ``(None, the exception)`` when it raised one."""
    try:
        return fn(*args), None
    except Exception as exc:
        return None, exc


def _compute_footprints(feet: list[str], particles: Any, receptor: Receptor,
                        config: ModelConfig, result: dict[str, Any]) -> dict[str, Any]:
    """The footprints ``feet`` of the particles, by name (computed, not written)."""
    from stilt import footprint  # looked up at the call: tests substitute instruments

    out = {}
    for name in feet:
        fp = config.footprints[name]
        t = time.perf_counter()
        out[name] = footprint.calc_footprint(particles, receptor, fp.grid,
                                             smooth_factor=fp.smooth_factor,
                                             time_integrate=fp.time_integrate,
                                             hnf_plume=config.hnf_plume,
                                             max_cells=config.cell_budget)
        result["footprint_seconds"] += time.perf_counter() - t
    return out


def _publish_footprint(paths: SimulationPaths, met: str, name: str, foot: Any,
                       config: ModelConfig, record: dict[str, Any],
                       result: dict[str, Any]) -> None:
    """Write one computed footprint atomically and record it in the status."""
    from stilt import footprint  # looked up at the call: tests substitute instruments

    foot.attrs.update(simulation_id=paths.sim_id, footprint_name=name,
                      stilt_footprint_hash=config.footprint_hash(met, name))
    final = paths.footprint(name)
    with writing(final):  # atomic: temporary name in the same folder, then rename
        footprint.write_footprint(foot, final)
    try:
        check_output(final, "footprint")
    except OSError:
        final.unlink(missing_ok=True)
        raise
    record["footprints"][name] = config.footprint_hash(met, name)
    write_status(paths, record)
    _link(paths.root, "footprints", final)
    result["footprints_run"].append(name)
    _log(paths, f"footprint {name}: written")


def _storage_owed(paths: SimulationPaths, config: ModelConfig) -> bool:
    """Whether the ``trajectories`` setting still owes its thinning or dropping: a run killed
    after its last footprint, or after recording ``dropped`` but before the files went."""
    if config.trajectories == "drop":
        return any(p.is_file() for p in trajectory_files(paths, config))
    return config.trajectories == "thin" and stored_trajectories(paths, config) == "full"


def _store_trajectories(paths: SimulationPaths, config: ModelConfig, record: dict[str, Any],
                        loaded: Mapping[Path, Any]) -> None:
    """Thin or drop the trajectory files once every footprint is written (``trajectories``).

    Dropping records ``dropped`` before the files go, so a kill in between leaves full files
    that are still valid; a thinned file says so in its own attributes.
    """
    from stilt.trajectory_file import read_trajectories, thin_trajectories

    files = [p for p in trajectory_files(paths, config) if p.is_file()]
    if config.trajectories == "drop":
        record["trajectories"] = "dropped"
        write_status(paths, record)
        for path in files:
            path.unlink()
            (safe_path(paths.root, "simulations", "particles") / path.name).unlink(
                missing_ok=True)
        _log(paths, f"trajectories dropped (trajectories: drop): {len(files)} file(s)")
        return
    for path in files:
        ds = loaded.get(path)
        if ds is None:
            ds = read_trajectories(path)
        if "thinned_minutes" not in ds.attrs:
            _publish_trajectory(thin_trajectories(ds, config.thin_minutes), path)
    record["trajectories"] = "thinned"
    write_status(paths, record)
    _log(paths, f"trajectories thinned to one row every {config.thin_minutes} min")


def _error_seed(seed: int) -> int:
    """The seed of the transport-error run: fixed by the main run's seed, and another one."""
    import hashlib

    return int(hashlib.sha256(f"{seed}:error".encode()).hexdigest()[:8], 16) % (2**31 - 1)


def _publish_trajectory(particles: Any, final: Path) -> None:
    """Write a compact trajectory file atomically, table on ``(indx, time)``, read back whole
    before it is renamed into place."""
    from stilt.trajectory_file import write_trajectories

    with atomic_path(final) as tmp:
        with writing(final):
            write_trajectories(particles, tmp)
        check_output(tmp, "trajectory")  # reads back whole before it is published


def _version() -> str:
    from stilt._version import get_version

    return get_version()


def iter_status_paths(root: str | Path,
                      problems: list[str] | None = None) -> Iterator[SimulationPaths]:
    """Every simulation folder under ``root`` that holds a status record.

    Folders passed over (no status record, a name that is not a simulation id) are described
    in ``problems`` when it is given.
    """
    base = Path(root).resolve() / "simulations" / "by-id"
    if not base.is_dir():
        return
    for folder in sorted(base.iterdir()):
        if not folder.is_dir() or folder.name.startswith("."):
            continue
        if not (folder / "status.json").is_file():
            if problems is not None:
                problems.append(f"left out {folder}: no status.json (pending again when its "
                                "receptor is stored)")
            continue
        try:
            yield SimulationPaths.of(root, folder.name)
        except ConfigError:
            if problems is not None:
                problems.append(f"left out {folder}: the folder name is not a simulation id")
            continue


def collect_records(root: str | Path,
                    problems: list[str] | None = None) -> list[dict[str, Any]]:
    """Status records of every simulation on disk, with the state checked against the files.

    A record claiming ``complete`` whose trajectory file is missing becomes ``pending``; a
    ``running`` record (its process is gone once the index is being rebuilt) becomes pending.
    Simulation folders left out (no status record, or one that cannot be read) are described
    in ``problems`` when it is given.
    """
    out = []
    for paths in iter_status_paths(root, problems):
        rec = read_status(paths)
        if not rec or "met" not in rec or "receptor" not in rec:
            if problems is not None:
                problems.append(f"left out {paths.status}: cannot be read as a status record "
                                "(pending again when its receptor is stored)")
            continue
        rec["sim_id"] = paths.sim_id
        present = set(rec.get("outputs") or [])
        if rec.get("trajectories") != "dropped":
            present.add(paths.trajectory.name)
        if rec.get("state") == State.COMPLETE and not all(
                (paths.folder / name).is_file() for name in present):
            rec["state"] = State.PENDING
        if rec.get("state") == State.COMPLETE:
            bad = [f"{name} {problem}" for name in sorted(present)
                   if (problem := output_problem(paths.folder / name, "footprint" if
                                                 name.endswith("_foot.nc") else "trajectory"))]
            if bad:
                rec.update(state=State.PENDING, message="; ".join(bad))
                if problems is not None:
                    problems.append(f"pending again {paths.sim_id}: {'; '.join(bad)}")
        if rec.get("state") == State.RUNNING:
            rec["state"] = State.PENDING
        out.append(rec)
    return out
