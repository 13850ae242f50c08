"""The project-level API: ``Model(project=..., receptors=..., config=...)``.

A model is a project folder holding ``config.yaml`` and ``receptors.csv``, and an output
folder inside it with the index and the simulation outputs. ``run()`` registers one simulation
per receptor and met, works out what is missing (outputs absent, or made with other
transport/footprint settings), and runs exactly that through the configured executor.

The project's inputs are the two files, so the command line continues a project made in Python
and the reverse (docs/orchestration.md, "Project inputs"): a config passed in code is written
to ``config.yaml`` when the project has none, and must otherwise equal it (a difference is an
error naming the keys, unless ``overwrite_config=True``); the receptors a registration or run
uses are added to ``receptors.csv`` when they are not in it yet. A folder that does not exist
is created only when a config is given.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from stilt._verify import notice
from stilt.collections import FootprintCollections, SimulationCollection, TrajectoryCollection
from stilt.config import ModelConfig, config_differences, load_config, save_config
from stilt.errors import ConfigError
from stilt.executors import get_executor
from stilt.executors.base import RunReport
from stilt.executors.slurm import fold_runs
from stilt.executors.slurm_task import pull_registered
from stilt.ids import check_name, safe_path, simulation_id
from stilt.index import SimulationIndex, claim_is_live, open_index
from stilt.index import rebuild_index as rebuild_index_file
from stilt.params import check_kmsl
from stilt.receptors import Receptor, as_receptor_list, read_receptors, write_receptors
from stilt.registration import (REGISTRATION_META, add_to_scene, dumps_key, registered_records,
                                registration_key, scene_tags)
from stilt.simulation import (SimulationPaths, collect_records, damaged_outputs, needed_work,
                              read_status, write_status)
from stilt.states import State

__all__ = ["Model", "ProjectStatus"]

CONFIG_NAME = "config.yaml"
RECEPTORS_NAME = "receptors.csv"


class Model:
    """A STILT project: receptors x mets, their simulations, outputs and index.

    Parameters
    ----------
    project : str or Path
        Project folder; created when missing only if ``config`` is given (a mistyped path
        with no config is an error, never a new empty folder).
    receptors : receptors, a receptors.csv path, or None
        None reads ``<project>/receptors.csv`` when present. Receptors given here are added
        to ``receptors.csv`` when they are registered (:meth:`register_pending`, :meth:`run`).
    config : ModelConfig, optional
        None reads ``<project>/config.yaml``. A config given here is written to config.yaml
        when the project has none; when it has one, the two must be equal.
    overwrite_config : bool, optional
        Replace an existing config.yaml that differs from ``config`` (written atomically)
        instead of raising.

    Raises
    ------
    ConfigError
        No such folder (without ``config``), no config.yaml, or a ``config`` that differs
        from the project's config.yaml (naming the keys that differ).

    Attributes
    ----------
    simulations : SimulationCollection
    trajectories : TrajectoryCollection
    footprints : mapping of name to FootprintCollection
    """

    def __init__(self, project: str | Path, receptors: Any = None,
                 config: ModelConfig | None = None, *, overwrite_config: bool = False) -> None:
        self.project = Path(project).expanduser().resolve()
        config_path = self.project / CONFIG_NAME
        if config is None:
            if not self.project.is_dir():
                raise ConfigError(f"project folder {project} does not exist"
                                  + (" (it is a file)" if self.project.exists() else ""))
            if not config_path.is_file():
                raise ConfigError(f"project {self.project}: no {CONFIG_NAME} (create one with "
                                  f"'stilt init {self.project}' or pass config=ModelConfig(...))")
            config = load_config(config_path)
        else:
            if not isinstance(config, ModelConfig):
                raise ConfigError(f"config {config!r}: expected a stilt.ModelConfig")
            self._adopt_config(config, config_path, overwrite_config)
        self.config = config
        #: receptors.csv when the model's receptors are the project's (read on first use)
        self._receptor_file: Path | None = None
        self._receptors: list[Receptor] | None = None
        if receptors is None and (self.project / RECEPTORS_NAME).is_file():
            self._receptor_file = self.project / RECEPTORS_NAME
        else:
            self._receptors = as_receptor_list(receptors)
        self.output = safe_path(self.project, config.output_dir)
        self._index: SimulationIndex | None = None
        self.simulations = SimulationCollection(self)
        self.trajectories = TrajectoryCollection(self)
        self.footprints = FootprintCollections(self)

    @property
    def receptors(self) -> list[Receptor]:
        """The model's receptors (the project's receptors.csv is read on first use, so
        ``stilt status`` never reads a million of them)."""
        if self._receptors is None:
            assert self._receptor_file is not None
            self._receptors = read_receptors(self._receptor_file)
        return self._receptors

    @receptors.setter
    def receptors(self, value: Any) -> None:
        self._receptors = as_receptor_list(value)
        self._receptor_file = None

    @staticmethod
    def _adopt_config(config: ModelConfig, path: Path, overwrite: bool) -> None:
        """Write ``config`` to a project without one; refuse a different one unless
        ``overwrite``."""
        if path.exists():
            try:
                differences = config_differences(load_config(path), config)
            except ConfigError:
                if not overwrite:
                    raise
                differences = ["the file cannot be read"]
            if not differences:
                return
            if not overwrite:
                raise ConfigError(
                    f"{path} differs from the config given in code: {'; '.join(differences)}. "
                    "Pass overwrite_config=True to replace the file, or leave config out to "
                    "use it")
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
        save_config(config, path)

    def store_receptors(self, receptors: Any = None) -> list[Receptor]:
        """Add receptors (default: the model's) to ``<project>/receptors.csv``.

        Receptors already in the file are left as they are; new ones are appended in order
        and the file is rewritten atomically in the form :func:`stilt.read_receptors` reads
        (``stilt run/check`` then see them). Nothing is written when all are there.

        Returns
        -------
        list of receptors
            Those added.
        """
        if receptors is None and self._receptor_file is not None:
            return []  # the model's receptors are the file's
        recs = self.receptors if receptors is None else as_receptor_list(receptors)
        path = self.project / RECEPTORS_NAME
        stored = read_receptors(path) if path.is_file() else []

        def key(r: Receptor) -> str:
            return json.dumps(r.to_dict(), sort_keys=True)

        known = {key(r) for r in stored}
        new = []
        for r in recs:
            if key(r) not in known:
                known.add(key(r))
                new.append(r)
        if new:
            write_receptors(stored + new, path)
        return new

    def __repr__(self) -> str:
        return (f"Model(project={str(self.project)!r}, receptors={len(self.receptors)}, "
                f"mets={list(self.config.mets)}, footprints={list(self.config.footprints)})")

    # -- index ------------------------------------------------------------------------------
    @property
    def index_path(self) -> Path:
        """``<output>/index.sqlite``."""
        return self.output / "index.sqlite"

    @property
    def index(self) -> SimulationIndex:
        """The output index (opened on first use; a corrupt file is rebuilt from disk).

        Without an output folder nothing was ever registered here (a receptors.csv alone is
        not a registration: ``stilt serve`` must wait for one), so a new index starts empty.
        """
        if self._index is None:
            rebuild = self.records_on_disk if self.output.is_dir() else list
            self._index = open_index(self.index_path, rebuild_from=rebuild)
        return self._index

    def _index_to_register(self) -> SimulationIndex:
        """The index for a registration: a missing one is rebuilt from the status records
        alone, since the registration adds the stored receptors' simulations anyway."""
        if self._index is None:
            self._index = open_index(self.index_path, rebuild_from=lambda: registered_records(
                [], collect_records(self.output), scene_tags(self.output)))
        return self._index

    def open_index_readonly(self) -> SimulationIndex:
        """Open the index only to look at it (status, plot): it is never created, renamed or
        repaired, and works on a project this user cannot write.

        Raises
        ------
        SimulationIndexError
            No index (:class:`~stilt.index.IndexMissing`), or a damaged one, with the remedy.
        """
        if self._index is None:
            self._index = SimulationIndex(self.index_path, readonly=True, project=self.project)
        return self._index

    def rebuild_index(self, problems: list[str] | None = None) -> int:
        """Rebuild the index from the output tree; returns the number of simulations found.

        The new index replaces the old file whatever its damage; refused while a live run
        holds claims. Simulation folders left out (no or an unreadable status record) are
        described in ``problems`` when given.
        """
        if not self.output.is_dir():
            raise ConfigError(f"no output folder {self.output}: nothing to rebuild the index "
                              "from")
        self.close()
        self._index, n = rebuild_index_file(self.index_path, self.records_on_disk(problems))
        return n

    def records_on_disk(self, problems: list[str] | None = None,
                        fresh: bool = False) -> list[dict[str, Any]]:
        """Every registered simulation as a status record, read without the index: the
        status records of those that ran, and pending ones for the stored receptors x the
        config's mets (:func:`stilt.registration.registered_records`). ``fresh`` reads
        receptors.csv again (a long-lived worker sees later registrations)."""
        path = self.project / RECEPTORS_NAME
        if fresh and (self._receptor_file is not None or not self._receptors) and path.is_file():
            self._receptor_file, self._receptors = path, None
        plan = self.plan() if self.config.mets and (
            self._receptors or self._receptor_file is not None) else []
        return registered_records(plan, collect_records(self.output, problems),
                                  scene_tags(self.output))

    def close(self) -> None:
        """Close the index connection."""
        if self._index is not None:
            self._index.close()
            self._index = None

    # -- planning ---------------------------------------------------------------------------
    def plan(self, receptors: Any = None) -> list[dict[str, Any]]:
        """One entry per receptor x met: ``sim_id``, ``met``, ``receptor`` (the object)."""
        recs = self.receptors if receptors is None else as_receptor_list(receptors)
        if not recs:
            raise ConfigError(f"project {self.project}: no receptors (pass receptors=... or add "
                              f"{RECEPTORS_NAME})")
        if not self.config.mets:
            raise ConfigError("config has no mets: add at least one named met source")
        check_kmsl(self.config.params, (getattr(r, "altitude_ref", "agl") for r in recs),
                   f"project {self.project}: a receptor's")
        out, seen = [], set()
        for met in self.config.mets:
            for rec in recs:
                sim_id = simulation_id(met, rec)
                if sim_id in seen:
                    continue
                seen.add(sim_id)
                out.append({"sim_id": sim_id, "met": met, "receptor": rec})
        return out

    def register_pending(self, receptors: Any = None, scene_id: str | None = None) -> list[str]:
        """Register simulations (state pending unless already known) and return their ids.

        Only index rows are written: a simulation's folder and status record appear when it
        runs. The receptors are added to the project's ``receptors.csv``
        (:meth:`store_receptors`), so ``stilt run/check/status DIR`` continue the project
        and the index can be rebuilt from it; a scene's ids go to ``<output>/scenes/``. A
        registration of the project's receptors.csv that is already complete (same file, same
        mets, per the key kept in the index) is not done again.

        Parameters
        ----------
        receptors : optional
            Defaults to the model's receptors.
        scene_id : str, optional
            Tag to select these simulations later (status, pull).
        """
        if scene_id is not None:
            check_name(scene_id, "scene id")
        key = self._file_registration(receptors)
        if key is not None:
            ids = self._registered_before(key, scene_id)
            if ids is not None:
                return ids
        plan = self.plan(receptors)
        self.store_receptors(receptors)
        if scene_id is not None:
            add_to_scene(self.output, scene_id, (p["sim_id"] for p in plan))
        meta = None
        if key is not None:
            meta = {REGISTRATION_META: dumps_key({**key, "scene": scene_id, "n": len(plan)})}
        return self._index_to_register().register(
            ({"sim_id": p["sim_id"], "met": p["met"], "receptor": p["receptor"].to_dict()}
             for p in plan), scene_id, meta=meta)

    def _file_registration(self, receptors: Any) -> dict[str, Any] | None:
        """The registration key when the receptors registered are the project's file."""
        if receptors is not None or self._receptor_file is None:
            return None
        return registration_key(self._receptor_file, self.config.mets)

    def _registered_before(self, key: dict[str, Any], scene_id: str | None) -> list[str] | None:
        """The ids of an earlier registration with this key (None: register again)."""
        if self._index is None and not self.index_path.is_file():
            return None  # nothing registered (and nothing written before the receptors are read)
        text = self.index.meta(REGISTRATION_META)
        before = json.loads(text) if text else {}
        if {k: before.get(k) for k in key} != key:
            return None
        if scene_id is not None and before.get("scene") != scene_id:
            return None
        ids = self.index.ids(met=list(self.config.mets))
        return ids if len(ids) == before.get("n") else None

    def reconcile(self, sim_ids: Sequence[str], retry_failed: bool = False,
                  skip_existing: bool | None = None) -> dict[str, list[str]]:
        """Bring the index in line with the outputs on disk and the current config.

        Complete on disk (same settings) -> complete; missing or stale outputs -> pending;
        failed stays failed unless ``retry_failed``. Rows another run holds are left alone.
        Only simulations with a folder or a state other than pending are looked at: a pending
        one without a folder has not run (a million of them cost one query).

        Returns
        -------
        dict
            ``complete``, ``todo`` and ``failed`` id lists.
        """
        skip = self.config.skip_existing if skip_existing is None else skip_existing
        folders = self.simulation_folders()
        states = self.index.states(but_pending=True)
        wanted = set(sim_ids)
        done, failed = set(), set()
        to_complete, to_reset, to_retry = [], [], []
        for sim_id in sorted(s for s in folders | states.keys() if s in wanted):
            state = states.get(sim_id, State.PENDING)
            if state == State.RUNNING:
                continue
            if sim_id in folders and skip and self._done_on_disk(sim_id, state):
                done.add(sim_id)
                if state != State.COMPLETE:
                    to_complete.append(sim_id)
            elif state == State.FAILED and not retry_failed:
                failed.add(sim_id)
            elif state != State.PENDING:
                (to_retry if state == State.FAILED else to_reset).append(sim_id)
            if not skip and state == State.COMPLETE:
                to_reset.append(sim_id)
        self.index.mark_complete(to_complete)
        self.index.reset(to_reset, (State.PENDING, State.COMPLETE))
        self.index.reset(to_retry, (State.FAILED,), attempts=True)
        settled = done | failed
        return {"complete": [s for s in sim_ids if s in done] if done else [],
                "todo": [s for s in sim_ids if s not in settled] if settled else list(sim_ids),
                "failed": [s for s in sim_ids if s in failed] if failed else []}

    def simulation_folders(self) -> set[str]:
        """Names of the simulation folders on disk (one listing, not a look per simulation):
        a registered simulation has one once it has run."""
        try:
            return set(os.listdir(self.output / "simulations" / "by-id"))
        except (FileNotFoundError, NotADirectoryError):
            return set()

    def _done_on_disk(self, sim_id: str, state: str) -> bool:
        """Whether a simulation's outputs are complete for the current config (a complete one
        found damaged is said to be pending again)."""
        paths = SimulationPaths.of(self.output, sim_id)
        need_traj, feet = needed_work(paths, self.config, sim_id.split("_", 1)[0])
        if state == State.COMPLETE and (need_traj or feet):
            damaged = damaged_outputs(paths, self.config)
            if damaged:  # complete no more: say so, it is run again
                notice(f"{sim_id}: {'; '.join(damaged)}: pending again, to be recomputed")
        return not need_traj and not feet

    # -- running ----------------------------------------------------------------------------
    def run(self, n_workers: int | None = None, backend: str | None = None,
            skip_existing: bool | None = None, retry_failed: bool = False,
            timeout: float | None = None, scene_id: str | None = None,
            progress: TextIO | None = None, wait: bool = False,
            slurm: dict[str, Any] | None = None) -> RunReport:
        """Register this model's simulations and run whatever is missing.

        The local backend blocks until done; the slurm backend submits one job array and
        returns at once with ``report.job_id`` (``wait=True`` polls until the array is over).

        Parameters
        ----------
        n_workers, backend, timeout : optional
            Override ``config.execution`` for this run (config.yaml is not touched).
        skip_existing : bool, optional
            False recomputes everything.
        retry_failed : bool, optional
            Also rerun simulations that failed before.
        scene_id : str, optional
        progress : text stream, optional
            Progress line target (None: quiet).
        wait : bool, optional
            Slurm backend: wait for the array to end (gentle polling) and fold its results.
        slurm : dict, optional
            Slurm backend: ``execution.slurm`` keys changed for this submission (e.g.
            ``{"mem": "8G", "time": "02:00:00"}`` for a retry).

        Returns
        -------
        RunReport
            ``report.ok`` is True when every simulation is complete.
        """
        ids = self.register_pending(scene_id=scene_id)
        self._fold_slurm()
        self.reconcile(ids, retry_failed=retry_failed, skip_existing=skip_existing)
        force = skip_existing is False or (skip_existing is None and not self.config.skip_existing)
        return self._dispatch(ids, None, n_workers, backend, timeout, False, 2.0, progress,
                              force, wait=wait, slurm=slurm)

    def push_simulations(self, sim_ids: Sequence[str] | None = None, *,
                         backend: str | None = None, n_workers: int | None = None,
                         timeout: float | None = None, retry_failed: bool = False,
                         scene_id: str | None = None, progress: TextIO | None = None,
                         wait: bool = False, slurm: dict[str, Any] | None = None) -> RunReport:
        """Dispatch registered work through an executor (the coordinator side).

        Parameters
        ----------
        sim_ids : sequence of str, optional
            Registered simulations to dispatch; None: every registered one (of ``scene_id``)
            still to do. Complete ones are skipped, failed ones kept unless ``retry_failed``.
        backend : {"local", "slurm"}, optional
            ``local`` runs them here with ``n_workers`` processes (blocks); ``slurm`` submits
            one job array (returns with ``report.job_id`` unless ``wait``).
        n_workers, timeout : optional
            Processes at once and seconds per simulation (override ``config.execution``).
        retry_failed, scene_id, progress, wait, slurm : optional
            As for :meth:`run`.

        Returns
        -------
        RunReport
        """
        if sim_ids is None:
            sim_ids = self.index.ids(scene_id=scene_id)
        self.reconcile(sim_ids, retry_failed=retry_failed)
        return self._dispatch(list(sim_ids), scene_id, n_workers, backend, timeout, False, 2.0,
                              progress, False, wait=wait, slurm=slurm)

    def pull_simulations(self, follow: bool = False, *, n_workers: int | None = None,
                         timeout: float | None = None, scene_id: str | None = None,
                         poll: float = 2.0, progress: TextIO | None = None,
                         files: bool | None = None) -> RunReport:
        """Work as a pull worker: claim and run any pending simulation until none is left.

        The Python side of ``stilt pull`` (``follow=True``: ``stilt serve``); several
        workers, on one host or many, share the registered work through claims.

        Parameters
        ----------
        follow : bool
            Keep waiting for new registrations until SIGINT/SIGTERM (``stilt serve``).
        n_workers : int, optional
            Processes of this worker (overrides ``config.execution.n_workers``).
        timeout : float, optional
            Seconds per simulation (overrides ``config.execution.timeout``).
        scene_id : str, optional
            Only simulations registered with this scene id.
        poll : float
            Seconds between looks at the index while idle.
        files : bool, optional
            Coordinate through claim files and status records instead of the SQLite index
            (for workers on other hosts than the login node, e.g. in Slurm jobs, where the
            index may sit on a network file system). Default: True inside a Slurm job
            (``SLURM_JOB_ID`` set), else False.
        """
        if files is None:
            files = bool(os.environ.get("SLURM_JOB_ID"))
        if files:
            if n_workers is not None and n_workers > 1:
                raise ConfigError(f"n_workers {n_workers}: a file-based pull worker (--files, "
                                  "or inside a Slurm job) is one process; start several "
                                  "workers instead (an array, or srun -n N)")
            ex = self.config.execution
            return pull_registered(self, follow=follow, poll=poll, n_workers=1,
                                   timeout=timeout if timeout is not None else ex.timeout,
                                   scene_id=scene_id)
        return self._dispatch(None, scene_id, n_workers, None, timeout, follow, poll, progress,
                              False)

    def _dispatch(self, sim_ids: list[str] | None, scene_id: str | None,
                  n_workers: int | None, backend: str | None, timeout: float | None,
                  follow: bool, poll: float, progress: TextIO | None,
                  force: bool, wait: bool = False,
                  slurm: dict[str, Any] | None = None) -> RunReport:
        ex = self.config.execution
        changes = {k: v for k, v in (("n_workers", n_workers), ("backend", backend),
                                     ("timeout", timeout)) if v is not None}
        if slurm:
            changes["slurm"] = {**ex.slurm.to_dict(), **slurm}
        if changes:
            ex = type(ex)(**{**ex.to_dict(), **changes})
        if force and sim_ids:
            self._clear_for_force(sim_ids)
        executor = get_executor(ex.backend, slurm=ex.slurm, wait=wait)
        return executor.execute(self, sim_ids, scene_id=scene_id, n_workers=ex.n_workers,
                                timeout=ex.timeout, follow=follow, poll=poll,
                                progress=progress)

    def _fold_slurm(self) -> dict[str, Any]:
        """Fold the status records and terminal states of submitted Slurm arrays into the
        index (nothing to do for a project that never used the slurm backend)."""
        if not (self.output / "slurm").is_dir():
            return {"live": [], "folded": []}
        return fold_runs(self)

    def _clear_for_force(self, sim_ids: Sequence[str]) -> None:
        """``skip_existing: false``: forget the recorded hashes so everything is recomputed."""
        folders = self.simulation_folders()
        for sim_id in sim_ids:
            if sim_id not in folders:  # never ran: nothing recorded to forget
                continue
            paths = SimulationPaths.of(self.output, sim_id)
            status = read_status(paths)
            if status is not None and self.index.get(sim_id)["state"] == State.PENDING:
                status.update(transport_hash=None, footprints={})
                write_status(paths, status)

    # -- reporting --------------------------------------------------------------------------
    def status(self, scene_id: str | None = None, *, readonly: bool = False) -> ProjectStatus:
        """Counts by state and failures grouped by reason: what ``stilt status`` prints.

        Slurm arrays are folded into the index first (``slurm_jobs`` lists the job ids still
        queued or running); in an output folder this user cannot write they are not, and the
        record says so.

        Parameters
        ----------
        scene_id : str, optional
            Only simulations of this scene.
        readonly : bool, optional
            Never create, rename or repair the index (``stilt status``): a missing index is
            an error.

        Returns
        -------
        ProjectStatus
            A frozen record; ``print(model.status())`` shows it as ``stilt status`` does.
        """
        notes: list[str] = []
        live: list[str] = []
        index = self.open_index_readonly() if readonly else self.index
        if (self.output / "slurm").is_dir():
            if os.access(index.path, os.W_OK) and os.access(index.path.parent, os.W_OK):
                if readonly:
                    self.close()
                live = self._fold_slurm()["live"]
            else:
                notes.append("read-only output folder: Slurm status records not folded in")
        failures = self.index.failures(scene_id)
        counts = self.index.counts(scene_id)
        stale = tuple(r["sim_id"] for r in self.index.rows(State.RUNNING, scene_id)
                      if not claim_is_live(r))  # its process is gone: not running
        counts[State.RUNNING] -= len(stale)
        return ProjectStatus(
            counts=counts, stale=stale,
            failures={reason: tuple(r["sim_id"] for r in rows)
                      for reason, rows in sorted(failures.items())},
            messages={r["sim_id"]: r["message"] or "" for rows in failures.values()
                      for r in rows},
            slurm_jobs=tuple(str(j) for j in live), scene_id=scene_id, notes=tuple(notes))


@dataclass(frozen=True)
class ProjectStatus:
    """What :meth:`Model.status` returns: counts by state and failures by reason.

    ``print(status)`` gives the lines of ``stilt status``. ``total``, ``completed``,
    ``pending``, ``running`` and ``failed`` are the counts under PYSTILT's names.

    Attributes
    ----------
    counts : dict
        Number of simulations in each state (``pending``, ``running``, ``complete``,
        ``failed``; every state present).
    failures : dict
        Failed simulation ids by reason class (``MET_MISSING``, ``TIMEOUT``, ...).
    messages : dict
        The recorded message of each failed simulation, by id.
    slurm_jobs : tuple of str
        Slurm job arrays still queued or running.
    scene_id : str or None
        The scene the counts are of (None: all).
    notes : tuple of str
        Remarks printed first (e.g. a read-only output folder).
    stale : tuple of str
        Simulations marked running whose process is gone (not counted as running); the next
        run takes them over.
    """

    counts: dict[str, int]
    failures: dict[str, tuple[str, ...]] = field(default_factory=dict)
    messages: dict[str, str] = field(default_factory=dict)
    slurm_jobs: tuple[str, ...] = ()
    scene_id: str | None = None
    notes: tuple[str, ...] = ()
    stale: tuple[str, ...] = ()

    @property
    def total(self) -> int:
        """Number of registered simulations."""
        return sum(self.counts.values()) + len(self.stale)

    @property
    def completed(self) -> int:
        """Number complete (PYSTILT's name)."""
        return self.counts.get(State.COMPLETE, 0)

    @property
    def pending(self) -> int:
        """Number pending."""
        return self.counts.get(State.PENDING, 0)

    @property
    def running(self) -> int:
        """Number running."""
        return self.counts.get(State.RUNNING, 0)

    @property
    def failed(self) -> int:
        """Number failed."""
        return self.counts.get(State.FAILED, 0)

    def __str__(self) -> str:
        lines = [f"({note})" for note in self.notes]
        lines.append(", ".join(f"{n} {state}" for state, n in self.counts.items())
                     + (f", {len(self.stale)} stale" if self.stale else ""))
        if self.stale:
            lines.append(f"stale: {len(self.stale)} marked running whose process is gone (e.g. "
                         f"{self.stale[0]}); the next 'stilt run' takes them over")
        lines += [f"slurm job array {job} is still queued or running" for job in self.slurm_jobs]
        for reason, ids in self.failures.items():
            lines.append(f"failed {reason}: {len(ids)}")
            lines += [f"  {sim_id}: {self.messages.get(sim_id, '')}" for sim_id in ids[:5]]
            if len(ids) > 5:
                lines.append(f"  ... and {len(ids) - 5} more")
        return "\n".join(lines)
