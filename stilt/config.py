"""Project configuration: ModelConfig, FootprintConfig, ExecutionConfig and config.yaml.

A project's ``config.yaml`` holds the transport parameters flat at the top level (lower-case
HYSPLIT-STILT names, R-STILT defaults, checked by :mod:`stilt.params`) next to ``n_hours``,
``numpar``, ``seed``, ``mets``, ``footprints``, ``hnf_plume``, ``execution``,
``skip_existing`` and ``output_dir``. It is read with ``yaml.safe_load``; unknown keys are
rejected with a did-you-mean suggestion.

Two hashes decide what a rerun must redo: :meth:`ModelConfig.transport_hash` covers everything
that changes trajectories (transport parameters, duration, particles, seed, met), and
:meth:`ModelConfig.footprint_hash` covers one footprint's settings on top of it.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stilt._io import write_atomic
from stilt.errors import ConfigError, MissingDependencyError, short_repr
from stilt.footprint_grid import DEFAULT_CELL_BUDGET, GRID_KEYS, Grid
from stilt.ids import check_name

__all__ = ["ModelConfig", "FootprintConfig", "ExecutionConfig", "load_config", "save_config",
           "TRAJECTORY_STORAGE", "SBATCH_KEY", "check_sbatch_value",
           "config_differences", "DEFAULT_CELL_BUDGET"]

_BACKENDS = ("local", "slurm")


def _unknown(key: str, valid: Any, where: str) -> ConfigError:
    hint = difflib.get_close_matches(str(key), list(valid), n=1)
    more = f"; did you mean {hint[0]!r}?" if hint else ""
    return ConfigError(f"{where}: unknown key {key!r}{more}")


def _check_keys(data: Mapping[str, Any], valid: Any, where: str) -> None:
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: expected a mapping of keys to values, got {short_repr(data)}")
    for key in data:
        if key not in valid:
            raise _unknown(key, valid, where)


def _param_schema() -> dict[str, Any] | None:
    """The transport parameter schema of :mod:`stilt.params`, or None if not installed."""
    try:
        from stilt.params import PARAMETERS
    except ImportError:  # pragma: no cover - only while the transport module is absent
        return None
    return PARAMETERS


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, Path):
        return str(value)
    if type(value).__module__ == "numpy":
        return value.item() if hasattr(value, "item") else str(value)
    return value


def _digest(data: Any) -> str:
    text = json.dumps(_jsonable(data), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class FootprintConfig:
    """One named footprint: its grid and kernel settings.

    Parameters
    ----------
    grid : stilt.Grid or mapping
        ``xmin, xmax, ymin, ymax, xres, yres`` and optional ``projection``
        (default ``"+proj=longlat"``); kept as a :class:`stilt.Grid`.
    smooth_factor : float, optional
        Kernel bandwidth multiplier (default 1).
    time_integrate : bool, optional
        One time-integrated layer instead of hourly layers.
    """

    grid: Grid
    smooth_factor: float = 1.0
    time_integrate: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.grid, Mapping):
            _check_keys(self.grid, GRID_KEYS, "footprint grid")
        object.__setattr__(self, "grid", Grid.from_any(self.grid, "footprint grid"))
        try:
            sf = float(self.smooth_factor)
        except (TypeError, ValueError):
            raise ConfigError(f"footprint smooth_factor {self.smooth_factor!r}: "
                              "not a number") from None
        if not (math.isfinite(sf) and sf >= 0):
            raise ConfigError(f"footprint smooth_factor {sf}: must be >= 0")
        object.__setattr__(self, "smooth_factor", sf)
        if not isinstance(self.time_integrate, bool):
            raise ConfigError(f"footprint time_integrate {self.time_integrate!r}: "
                              "expected true or false")

    @property
    def shape(self) -> tuple[int, int]:
        """(ny, nx) cells of the footprints (:attr:`stilt.Grid.shape`)."""
        return self.grid.shape

    def to_dict(self) -> dict[str, Any]:
        """YAML-ready description."""
        return {"grid": dataclasses.asdict(self.grid), "smooth_factor": self.smooth_factor,
                "time_integrate": self.time_integrate}


#: what an ``#SBATCH`` long option name may be (config ``extra`` keys, the rendered script)
SBATCH_KEY = re.compile(r"^[a-z][a-z0-9-]*$")
#: sbatch options the backend sets itself (config cannot override them through ``extra``)
_SBATCH_OWN = ("array", "output", "error", "signal", "cpus-per-task", "parsable", "wrap",
               "job-name", "account", "partition", "time", "mem", "chdir")


def check_sbatch_value(key: str, value: Any) -> str:
    """An ``#SBATCH`` option value as text, refusing what could inject directives or commands.

    Raises
    ------
    ConfigError
        The value is not a string or number, is empty, or holds a newline, carriage return or NUL.
    """
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ConfigError(f"execution slurm {key}: {short_repr(value)} must be a string or a "
                          "number")
    text = str(value)
    if not text or any(c in text for c in ("\n", "\r", "\0")):
        raise ConfigError(f"execution slurm {key}: {short_repr(text)} must be one non-empty line "
                          "(no newline, carriage return or NUL)")
    return text


@dataclass(frozen=True)
class SlurmConfig:
    """The ``slurm`` backend: one job array, several simulations per array task.

    Parameters
    ----------
    account, partition, time, mem, qos : str, optional
        ``#SBATCH --account/--partition/--time/--mem/--qos`` (``mem`` is per task, e.g. ``8G``).
    cpus_per_task : int
        ``--cpus-per-task``: the CPUs of one task, shared by its worker processes, each with
        ``execution.threads_per_worker`` threads.
    processes_per_task : int or None
        Worker processes per task (None: ``cpus_per_task // threads_per_worker``; more than
        the CPUs is allowed).
    sims_per_task : int
        Simulations per array task on average (the array has ``ceil(n / sims_per_task)`` tasks).
    max_parallel : int or None
        ``%P`` of ``--array=0-K%P``: array tasks running at once (None: no limit).
    signal_seconds : int
        Seconds before the time limit at which Slurm sends TERM (``--signal=B:TERM@s``).
    poll_seconds : float
        Seconds between scheduler queries of ``stilt run --wait`` (at least 30).
    extra : mapping of str to str, optional
        More ``#SBATCH --key=value`` options; keys ``^[a-z][a-z0-9-]*$``, one-line values.
    setup : list of str, optional
        Shell lines run before the task starts (module loads). Config is code: they run as
        written.
    """

    account: str | None = None
    partition: str | None = None
    time: str | None = None
    mem: str | None = None
    qos: str | None = None
    cpus_per_task: int = 1
    processes_per_task: int | None = None
    sims_per_task: int = 10
    max_parallel: int | None = None
    signal_seconds: int = 120
    poll_seconds: float = 30.0
    extra: Any = None
    setup: Any = None

    def __post_init__(self) -> None:
        for name in ("account", "partition", "time", "mem", "qos"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, check_sbatch_value(name, value))
        for name, lo, hi, optional in (("cpus_per_task", 1, 4096, False),
                                       ("processes_per_task", 1, 4096, True),
                                       ("sims_per_task", 1, 10 ** 7, False),
                                       ("max_parallel", 1, 10 ** 6, True),
                                       ("signal_seconds", 0, 65535, False)):
            value = getattr(self, name)
            if value is None and optional:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
                raise ConfigError(f"execution slurm {name}: {value!r} must be a whole number "
                                  f"in {lo}..{hi}")
        try:
            poll = float(self.poll_seconds)
        except (TypeError, ValueError):
            raise ConfigError(f"execution slurm poll_seconds {self.poll_seconds!r}: "
                              "expected seconds") from None
        if not (math.isfinite(poll) and poll >= 30):
            raise ConfigError(f"execution slurm poll_seconds {self.poll_seconds!r}: must be >= 30 "
                              "(polling the controller more often burdens a shared cluster)")
        object.__setattr__(self, "poll_seconds", poll)
        extra = {} if self.extra is None else self.extra
        if not isinstance(extra, Mapping):
            raise ConfigError(f"execution slurm extra {short_repr(extra)}: expected a mapping of "
                              "sbatch option names to values")
        checked = {}
        for key, value in extra.items():
            if not isinstance(key, str) or not SBATCH_KEY.fullmatch(key):
                raise ConfigError(f"execution slurm extra key {key!r}: expected an sbatch long "
                                  "option name matching ^[a-z][a-z0-9-]*$ (e.g. 'constraint')")
            if key in _SBATCH_OWN:
                raise ConfigError(f"execution slurm extra key {key!r}: stilt sets this option "
                                  "itself (account, partition, time, mem and cpus_per_task "
                                  "have keys of their own)")
            checked[key] = check_sbatch_value(f"extra {key}", value)
        object.__setattr__(self, "extra", checked)
        setup = [] if self.setup is None else self.setup
        if isinstance(setup, str) or not isinstance(setup, Sequence) or not all(
                isinstance(line, str) for line in setup):
            raise ConfigError(f"execution slurm setup {short_repr(setup)}: expected a list of shell "
                              "lines")
        for line in setup:
            if any(c in line for c in ("\n", "\r", "\0")):
                raise ConfigError(f"execution slurm setup line {short_repr(line)}: one line each "
                                  "(no newline, carriage return or NUL)")
        object.__setattr__(self, "setup", list(setup))

    def to_dict(self) -> dict[str, Any]:
        """YAML-ready description."""
        out = dataclasses.asdict(self)
        out["extra"] = dict(self.extra)
        out["setup"] = list(self.setup)
        return out


@dataclass(frozen=True)
class ExecutionConfig:
    """Where and how simulations run.

    Parameters
    ----------
    backend : {"local"}
        The local executor (inline for one worker, a process pool otherwise).
    n_workers : int
        Processes running simulations at once.
    threads_per_worker : int
        Threads that share one simulation's particles inside a worker (OpenMP builds of the
        core; results are identical for any count). On Slurm give each task
        ``cpus_per_task`` = worker processes x threads.
    met_cache_mb : float
        Memory (MB) each worker keeps for the met it has read and remapped, so simulations on
        the same met share that work (:mod:`stilt.met.cache`; results are identical with any
        value). 0 turns it off. Default 256.
    timeout : float or None
        Seconds one simulation may take before it is stopped and marked failed (TIMEOUT).
    max_attempts : int
        A simulation whose worker dies or whose claim expires is retried until it has been
        attempted this many times; then it stays failed.
    lease_seconds : float
        How long a claim stays valid without a heartbeat.
    slurm : SlurmConfig or mapping, optional
        Settings of the ``slurm`` backend (job array shape and ``#SBATCH`` options).
    """

    backend: str = "local"
    n_workers: int = 1
    threads_per_worker: int = 1
    met_cache_mb: float = 256.0
    timeout: float | None = None
    max_attempts: int = 3
    lease_seconds: float = 300.0
    slurm: Any = None

    def __post_init__(self) -> None:
        if self.slurm is None:
            object.__setattr__(self, "slurm", SlurmConfig())
        elif isinstance(self.slurm, Mapping):
            _check_keys(self.slurm, [f.name for f in dataclasses.fields(SlurmConfig)],
                        "execution slurm")
            object.__setattr__(self, "slurm", SlurmConfig(**self.slurm))
        elif not isinstance(self.slurm, SlurmConfig):
            raise ConfigError(f"execution slurm {self.slurm!r}: expected a mapping of settings")
        if self.backend not in _BACKENDS:
            hint = difflib.get_close_matches(str(self.backend), _BACKENDS, n=1)
            more = f"; did you mean {hint[0]!r}?" if hint else ""
            raise ConfigError(f"execution backend {self.backend!r} is not available{more} "
                              f"(available: {', '.join(_BACKENDS)})")
        for name, lo, hi in (("n_workers", 1, 1024), ("threads_per_worker", 1, 256),
                             ("max_attempts", 1, 1000)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
                raise ConfigError(f"execution {name}: {value!r} must be a whole number "
                                  f"in {lo}..{hi}")
        if self.backend == "slurm" and self.threads_per_worker > self.slurm.cpus_per_task:
            raise ConfigError(f"execution threads_per_worker {self.threads_per_worker} is more "
                              f"than execution slurm cpus_per_task {self.slurm.cpus_per_task}: "
                              "a task's workers share its CPUs")
        if self.timeout is not None:
            try:
                timeout = float(self.timeout)
            except (TypeError, ValueError):
                raise ConfigError(f"execution timeout {self.timeout!r}: "
                                  "expected seconds") from None
            if not (math.isfinite(timeout) and timeout > 0):
                raise ConfigError(f"execution timeout {self.timeout!r}: must be > 0 seconds")
            object.__setattr__(self, "timeout", timeout)
        try:
            cache_mb = float(self.met_cache_mb)
        except (TypeError, ValueError):
            cache_mb = math.nan
        if isinstance(self.met_cache_mb, bool) or not (math.isfinite(cache_mb)
                                                       and cache_mb >= 0):
            raise ConfigError(f"execution met_cache_mb {self.met_cache_mb!r}: expected "
                              "megabytes >= 0 (0 turns the met cache off)")
        object.__setattr__(self, "met_cache_mb", cache_mb)
        lease = float(self.lease_seconds)
        if not (math.isfinite(lease) and lease >= 1):
            raise ConfigError(f"execution lease_seconds {self.lease_seconds!r}: must be >= 1")
        object.__setattr__(self, "lease_seconds", lease)

    def to_dict(self) -> dict[str, Any]:
        """YAML-ready description."""
        out = dataclasses.asdict(self)
        out["slurm"] = self.slurm.to_dict()
        return out


_FIELDS = ("n_hours", "numpar", "seed", "mets", "footprints", "hnf_plume", "execution",
           "skip_existing", "output_dir", "cell_budget", "plots", "trajectories",
           "thin_minutes")
#: what becomes of a simulation's trajectory files once its footprints are written
TRAJECTORY_STORAGE = ("keep", "thin", "drop")


class ModelConfig:
    """Everything a project run needs besides the receptors.

    Parameters
    ----------
    mets : mapping of str to stilt.MetConfig (or mappings of its fields)
        Named met sources; names may not contain ``_``.
    n_hours : int, optional
        Run duration, negative backward (default -24).
    numpar : int, optional
        Particles per simulation (default 1000).
    seed : int, optional
        Random seed. None (default) derives a fixed seed from each simulation id, so reruns
        reproduce their trajectories.
    footprints : mapping of str to FootprintConfig (or mappings), optional
        Named footprints, each with its own grid and kernel settings (default none: only
        trajectories are written).
    hnf_plume : bool, optional
        Hyper-near-field plume dilution correction (default True).
    execution : ExecutionConfig or mapping, optional
        Where and how simulations run (the ``execution`` keys below; default one local worker).
    skip_existing : bool, optional
        Skip simulations whose outputs exist with the same configuration (default True).
    output_dir : str, optional
        Output folder inside the project (default ``"out"``).
    cell_budget : int, optional
        Largest footprint (cells x layers) accepted (default 50 million).
    plots : bool, optional
        At the end of ``stilt run``, draw the mean footprint map of each footprint to
        ``<output_dir>/plots/summary_<name>.png`` (needs matplotlib; default False).
    trajectories : {"keep", "thin", "drop"}, optional
        What becomes of the trajectory files once every footprint of the simulation is
        written: ``keep`` them (default), ``thin`` them to one row every ``thin_minutes``
        (foot and samt summed over the rows left out), or ``drop`` them. The simulation stays
        complete either way; a footprint added or changed later needs the full trajectories,
        so the transport of such a simulation is run again (same seed: the same particles).
    thin_minutes : int, optional
        Minutes between the rows ``trajectories: thin`` keeps (default 10).
    **params
        Transport parameters by their lower-case HYSPLIT-STILT names (``kmix0``, ``varsiwant``,
        ``delt``...), checked against :data:`stilt.params.PARAMETERS`.

    Raises
    ------
    ConfigError
        Unknown keys (with a did-you-mean), invalid values, failed cross-field checks.
    """

    def __init__(self, mets: Mapping[str, Any] | None = None, n_hours: int = -24,
                 numpar: int = 1000, seed: int | None = None,
                 footprints: Mapping[str, Any] | None = None, hnf_plume: bool = True,
                 execution: ExecutionConfig | Mapping[str, Any] | None = None,
                 skip_existing: bool = True, output_dir: str = "out",
                 cell_budget: int = DEFAULT_CELL_BUDGET, plots: bool = False,
                 trajectories: str = "keep", thin_minutes: int = 10, **params: Any) -> None:
        self.mets = self._check_mets(mets or {})
        self.footprints = self._check_footprints(footprints or {})
        if execution is None:
            execution = ExecutionConfig()
        elif isinstance(execution, Mapping):
            _check_keys(execution, [f.name for f in dataclasses.fields(ExecutionConfig)],
                        "execution")
            execution = ExecutionConfig(**execution)
        self.execution: ExecutionConfig = execution
        for name, value in (("hnf_plume", hnf_plume), ("skip_existing", skip_existing),
                            ("plots", plots)):
            if not isinstance(value, bool):
                raise ConfigError(f"{name}: {value!r} must be true or false")
        self.plots = plots
        self.hnf_plume = hnf_plume
        self.skip_existing = skip_existing
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)
                                 or not 0 <= seed < 2**31):
            raise ConfigError(f"seed: {seed!r} must be a whole number in 0..2**31-1 or null")
        self.seed = seed
        self.output_dir = check_name(output_dir, "output_dir")
        if isinstance(cell_budget, bool) or not isinstance(cell_budget, int) or cell_budget < 1:
            raise ConfigError(f"cell_budget: {cell_budget!r} must be a positive whole number")
        self.cell_budget = cell_budget
        if trajectories not in TRAJECTORY_STORAGE:
            raise ConfigError(f"trajectories: {trajectories!r} must be one of "
                              f"{', '.join(TRAJECTORY_STORAGE)}")
        self.trajectories = trajectories
        if (isinstance(thin_minutes, bool) or not isinstance(thin_minutes, int)
                or not 1 <= thin_minutes <= 100000):
            raise ConfigError(f"thin_minutes: {thin_minutes!r} must be a whole number of "
                              "minutes in 1..100000")
        self.thin_minutes = thin_minutes
        self.params = self._check_params(dict(params), n_hours, numpar)
        self.n_hours = int(self.params.pop("n_hours"))
        self.numpar = int(self.params.pop("numpar"))
        self._cross_checks()

    # -- validation ---------------------------------------------------------------------------
    @staticmethod
    def _check_mets(mets: Mapping[str, Any]) -> dict[str, Any]:
        if not isinstance(mets, Mapping):
            raise ConfigError(f"mets: expected named met sources, got {mets!r}")
        out = {}
        for name, met in mets.items():
            check_name(name, "met name", allow_underscore=False)
            if isinstance(met, Mapping):
                from stilt.met.discovery import MetConfig

                valid = [f.name for f in dataclasses.fields(MetConfig) if f.name != "time_lister"]
                _check_keys(met, valid, f"mets.{name}")
                if "directory" not in met or "file_format" not in met:
                    raise ConfigError(f"mets.{name}: needs directory and file_format")
                for key in ("directory", "file_format"):
                    if not isinstance(met[key], (str, os.PathLike)):
                        kind = ("a number" if isinstance(met[key], (int, float))
                                else f"a {type(met[key]).__name__}")
                        raise ConfigError(
                            f"mets.{name}.{key}: {short_repr(met[key])} is {kind}; expected "
                            f"{'a folder path' if key == 'directory' else 'a file name'} as "
                            f"text (in YAML, quote it: {key}: '{short_repr(met[key], 40)}')")
                try:
                    met = MetConfig(**met)
                except (TypeError, ValueError) as exc:
                    if isinstance(exc, ConfigError):
                        raise ConfigError(f"mets.{name}: {exc}") from None
                    raise ConfigError(f"mets.{name}: {short_repr(str(exc), 200)}") from None
            elif not (hasattr(met, "directory") and hasattr(met, "file_format")):
                raise ConfigError(f"mets.{name}: {met!r} is not a MetConfig")
            out[str(name)] = met
        return out

    @staticmethod
    def _check_footprints(footprints: Mapping[str, Any]) -> dict[str, FootprintConfig]:
        if not isinstance(footprints, Mapping):
            raise ConfigError(f"footprints: expected named footprints, got {footprints!r}")
        out = {}
        for name, fp in footprints.items():
            check_name(name, "footprint name")
            if isinstance(fp, Mapping):
                _check_keys(fp, [f.name for f in dataclasses.fields(FootprintConfig)],
                            f"footprints.{name}")
                if "grid" not in fp:
                    raise ConfigError(f"footprints.{name}: needs a grid")
                fp = FootprintConfig(**fp)
            elif not isinstance(fp, FootprintConfig):
                raise ConfigError(f"footprints.{name}: {fp!r} is not a FootprintConfig")
            out[str(name)] = fp
        return out

    @staticmethod
    def _check_params(params: dict[str, Any], n_hours: Any, numpar: Any) -> dict[str, Any]:
        schema = _param_schema()
        given = {str(k).lower(): v for k, v in params.items()}
        if len(given) != len(params):
            raise ConfigError(f"transport parameters given twice in different case: "
                              f"{sorted(params)}")
        if "seed" in given:
            raise ConfigError("seed is a top-level setting (ModelConfig(seed=...)), "
                              "not a namelist parameter here")
        if schema is not None:
            for key in given:
                if key not in schema:
                    raise _unknown(key, list(schema) + list(_FIELDS), "top level")
            for key, value in list(given.items()):
                given[key] = schema[key].check(value)
            n_hours = schema["n_hours"].check(n_hours)
            numpar = schema["numpar"].check(numpar)
            from stilt.params import resolve_params

            resolve_params(given, n_hours=n_hours, numpar=numpar)  # checks across parameters
        else:  # pragma: no cover - stilt.params absent: basic checks only
            for name, value in (("n_hours", n_hours), ("numpar", numpar)):
                if isinstance(value, bool) or not isinstance(value, int):
                    raise ConfigError(f"{name}: {value!r} must be a whole number")
        if n_hours == 0:
            raise ConfigError("n_hours: must not be 0 (negative runs backward in time)")
        if numpar < 1:
            raise ConfigError(f"numpar: {numpar} must be at least 1")
        given["n_hours"] = n_hours
        given["numpar"] = numpar
        return given

    def _cross_checks(self) -> None:
        if self.trajectories == "drop" and not self.footprints:
            raise ConfigError("trajectories: drop needs footprints (without any, the "
                              "trajectories are a project's only output)")
        layers_per_run = abs(self.n_hours) + 1
        for name, fp in self.footprints.items():
            layers = 1 if fp.time_integrate else layers_per_run
            try:
                fp.grid.check_budget(layers, self.cell_budget, "cell_budget")
            except MissingDependencyError:  # a projected grid without pyproj: counted when
                continue  # its footprints are computed, which names the missing package
            except ConfigError as exc:
                raise ConfigError(f"footprints.{name}: {exc}") from None

    # -- derived ------------------------------------------------------------------------------
    def transport_params(self) -> dict[str, Any]:
        """Keyword arguments of :func:`stilt.run_trajectories` besides receptor, met, seed."""
        return {"n_hours": self.n_hours, "numpar": self.numpar, **self.params}

    def resolved_params(self) -> dict[str, Any]:
        """Every transport parameter with defaults filled in (for hashing and provenance)."""
        try:
            from stilt.params import resolve_params
        except ImportError:  # pragma: no cover
            return self.transport_params()
        return resolve_params(self.params, n_hours=self.n_hours, numpar=self.numpar)

    def seed_for(self, sim_id: str) -> int:
        """The seed of one simulation: ``seed`` or a fixed value derived from the id."""
        if self.seed is not None:
            return self.seed
        return int(hashlib.sha256(sim_id.encode()).hexdigest()[:8], 16) % (2**31 - 1)

    def met_dict(self, name: str) -> dict[str, Any]:
        """The settings of one met source as plain values."""
        try:
            met = self.mets[name]
        except KeyError:
            raise ConfigError(f"met {name!r} is not configured (mets: "
                              f"{', '.join(self.mets) or 'none'})") from None
        if dataclasses.is_dataclass(met):
            return {f.name: _jsonable(getattr(met, f.name)) for f in dataclasses.fields(met)
                    if f.name != "time_lister"}
        return {"directory": str(met.directory), "file_format": str(met.file_format)}

    def transport_hash(self, met: str) -> str:
        """Hash of everything that changes the trajectories of a simulation on ``met``.

        A seed derived from the id (``seed: null``) is part of the id, so it is hashed as None.
        A met source without ``roughness`` runs on the table stilt ships, so that table's name
        and checksum are hashed in its place: trajectories made on another default surface
        (before stilt shipped the table: 0.2 m everywhere) are redone.
        """
        settings = self.met_dict(met)
        if "roughness" in settings and settings["roughness"] is None:
            from stilt.met.roughness import shipped_roughness

            settings["roughness"] = {"default": shipped_roughness().path}
        return _digest({"params": self.resolved_params(), "seed": self.seed, "met": settings})

    def footprint_hash(self, met: str, name: str) -> str:
        """Hash of one footprint's settings on top of :meth:`transport_hash`."""
        fp = self.footprints[name]
        return _digest({"transport": self.transport_hash(met), "footprint": fp.to_dict(),
                        "hnf_plume": self.hnf_plume})

    def with_overrides(self, **changes: Any) -> ModelConfig:
        """A copy with top-level keys changed: ``mets=`` and ``footprints=`` replace the named
        sources, ``execution={...}`` changes only the keys given."""
        data = self.to_dict()
        if "execution" in changes:
            data["execution"] = {**data["execution"], **changes.pop("execution")}
        mets = changes.pop("mets", self.mets)
        data.update(changes)
        data.pop("mets")
        return ModelConfig(mets=mets, **data)

    # -- serialisation ------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """YAML-ready description (what :func:`save_config` writes)."""
        out: dict[str, Any] = {
            "n_hours": self.n_hours, "numpar": self.numpar, "seed": self.seed,
            "mets": {name: self.met_dict(name) for name in self.mets},
            "footprints": {name: fp.to_dict() for name, fp in self.footprints.items()},
            "hnf_plume": self.hnf_plume, "execution": self.execution.to_dict(),
            "skip_existing": self.skip_existing, "output_dir": self.output_dir,
        }
        if self.cell_budget != DEFAULT_CELL_BUDGET:
            out["cell_budget"] = self.cell_budget
        if self.plots:
            out["plots"] = True
        if self.trajectories != "keep":
            out["trajectories"] = self.trajectories
        if self.thin_minutes != 10:
            out["thin_minutes"] = self.thin_minutes
        out.update({k: _jsonable(v) for k, v in self.params.items()})
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "config") -> ModelConfig:
        """Build from a mapping (a parsed config.yaml)."""
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise ConfigError(f"{where}: expected a mapping of settings, got {type(data).__name__}")
        try:
            return cls(**{str(k): v for k, v in data.items()})
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None
        except TypeError as exc:
            raise ConfigError(f"{where}: {exc}") from None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ModelConfig) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"ModelConfig({self.to_dict()!r})"


def config_differences(old: ModelConfig, new: ModelConfig) -> list[str]:
    """The settings that differ between two configs, as ``dotted.key (old -> new)`` texts.

    Keys are those of config.yaml (``numpar``, ``mets.hrrr.file_tres``,
    ``footprints.default.grid.xres``...); a key present in one config only shows ``unset``.
    """
    out: list[str] = []

    def walk(a: Any, b: Any, where: str) -> None:
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            for key in list(a) + [k for k in b if k not in a]:
                walk(a.get(key, _UNSET), b.get(key, _UNSET),
                     f"{where}.{key}" if where else str(key))
        elif a != b:
            out.append(f"{where} ({'unset' if a is _UNSET else repr(a)} -> "
                       f"{'unset' if b is _UNSET else repr(b)})")

    walk(_jsonable(old.to_dict()), _jsonable(new.to_dict()), "")
    return out


_UNSET = object()


def load_config(path: str | Path) -> ModelConfig:
    """Read a config.yaml (safe types only) into a :class:`ModelConfig`.

    Raises
    ------
    ConfigError
        Missing or unparsable file, a key given twice, aliases expanding beyond a small bound
        (:func:`stilt._yaml.load_yaml`), unknown keys, invalid values (the message names the
        file).
    """
    from stilt._yaml import read_yaml

    path = Path(path)
    data = read_yaml(path, f"config file {path}")  # no duplicate keys, bounded aliases
    return ModelConfig.from_dict(data or {}, where=f"config file {path}")


_HEADER = """\
# stilt project configuration (read with yaml.safe_load; unknown keys are rejected).
# Transport parameters go flat at the top level by their lower-case HYSPLIT-STILT names
# (kmix0, delt, varsiwant, ...); see docs/orchestration.md for every key.
"""


def save_config(config: ModelConfig, path: str | Path) -> Path:
    """Write ``config`` as YAML atomically (temporary file in the same folder, then rename)."""
    import yaml

    path = Path(path)
    text = _HEADER + yaml.safe_dump(config.to_dict(), sort_keys=False, default_flow_style=False)
    write_text_atomic(path, text)
    return path


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically (:func:`stilt._io.write_atomic`)."""
    write_atomic(path, text)
