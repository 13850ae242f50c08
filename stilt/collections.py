"""Lazy views of a model's simulations and outputs, backed by the index and the output tree.

Every collection answers the same questions the way PYSTILT's do: ``ids()``, ``keys()``,
``items()``, ``values()``, ``missing()``, ``len()``, iteration and ``in``; each takes the
filters ``state``, ``scene_id``, ``mets``, ``time_range`` and ``location_ids`` (keywords), and
``select(...)`` returns the same kind of collection narrowed by them, so filters compose::

    hrrr = model.simulations.select(mets="hrrr", time_range=("2023-07-15", "2023-07-16"))
    hrrr.ids(state="failed"); hrrr.missing()
    model.footprints["default"].select(location_ids="-101.5_40_5").load()

Nothing is cached: each call reads the index (and, for outputs, looks at the files).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from stilt._verify import OutputError, check_output, notice
from stilt import plot
from stilt.errors import ConfigError
from stilt.executors.base import ProjectModel
from stilt.ids import check_name, safe_path
from stilt.receptors import parse_time
from stilt.simulation import SimulationPaths, error_run
from stilt.states import STATES, State

if TYPE_CHECKING:  # pragma: no cover
    import xarray as xr

    from stilt.receptors import Receptor

__all__ = ["Simulation", "SimulationCollection", "TrajectoryCollection",
           "FootprintCollection", "FootprintCollections", "UnknownFootprintError"]

_C = TypeVar("_C", bound="_Collection")


class ModelView(ProjectModel, Protocol):
    """What the collections read of a model (:class:`stilt.Model` is one; described here, not
    imported, so that the model's module depends on this one and not the reverse): what an
    executor uses, and the model's collections, receptors and plan."""

    simulations: SimulationCollection
    trajectories: TrajectoryCollection
    footprints: FootprintCollections

    @property
    def receptors(self) -> list[Receptor]:
        """The model's receptors."""
        ...  # pragma: no cover - a protocol

    def plan(self, receptors: Any = None) -> list[dict[str, Any]]:
        """One entry per receptor x met."""
        ...  # pragma: no cover - a protocol


class Simulation:
    """One registered simulation of a model: ``model.simulations[sim_id]``.

    Parameters
    ----------
    model : stilt.Model
        The project.
    sim_id : str
        The simulation id (registered in the index).
    """

    def __init__(self, model: ModelView, sim_id: str) -> None:
        self._model = model
        self.id = sim_id
        self.paths = SimulationPaths.of(model.output, sim_id)

    def __repr__(self) -> str:
        return f"Simulation({self.id!r}, state={self.status()['state']!r})"

    def status(self) -> dict[str, Any]:
        """The index row (state, reason, message, attempts, timings)."""
        return self._model.simulations.status(self.id)

    def trajectories(self) -> xr.Dataset:
        """The trajectories (loaded into memory, file closed)."""
        return self._model.trajectories.load(self.id)

    def footprint(self, name: str | None = None) -> xr.Dataset:
        """One footprint of this simulation (default: the first configured name)."""
        return self._model.footprints[self._model.footprints.resolve(name)].load(self.id)

    def plot(self, footprint: str | None = None, particles: bool = True,
             terrain: bool = True, path: str | Path | None = None) -> Any:
        """Map this simulation's footprint (needs matplotlib: ``stilt[plot]``).

        Parameters
        ----------
        footprint : str, optional
            Footprint name; default the first configured.
        particles : bool, optional
            Draw (up to 100 of) the particle paths (default True).
        terrain : bool, optional
            Draw the met terrain underneath when the met file is there (default True).
        path : path, optional
            Write a PNG there and return its path; otherwise return the Figure.

        Returns
        -------
        pathlib.Path or matplotlib.figure.Figure
        """
        footprints = self._model.footprints
        return footprints[footprints.resolve(footprint)].plot(
            self.id, particles=particles, terrain=terrain, path=path)


class UnknownFootprintError(ConfigError, KeyError):
    """``model.footprints[name]`` for a name that is not configured (the message lists the
    configured names)."""

    def __str__(self) -> str:  # KeyError would print the message in quotes
        return str(self.args[0]) if self.args else ""


def split_id(sim_id: str) -> tuple[str, dt.datetime, str]:
    """The parts of ``{met}_{YYYYMMDDHHMM}_{location}``: met name, receptor time, location id."""
    met, stamp, location = sim_id.split("_", 2)
    return met, dt.datetime.strptime(stamp, "%Y%m%d%H%M"), location


@dataclass(frozen=True)
class _Query:
    """One set of filters; a simulation matches when every filter given holds."""

    states: frozenset[str] | None = None
    scene_id: str | None = None
    mets: frozenset[str] | None = None
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    locations: frozenset[str] | None = None

    @classmethod
    def of(cls, model: ModelView, state: str | Iterable[str] | None = None,
           scene_id: str | None = None, mets: str | Iterable[str] | None = None,
           time_range: Any = None, location_ids: Any = None) -> _Query:
        """Check and normalise the filters (unknown states and met names are errors)."""
        states = None
        if state is not None:
            states = frozenset([state] if isinstance(state, str) else state)
            bad = sorted(states - set(STATES))
            if bad:
                raise ConfigError(f"state {', '.join(map(repr, bad))}: expected one of "
                                  f"{', '.join(STATES)}")
        met_set = None
        if mets is not None:
            met_set = frozenset([mets] if isinstance(mets, str) else mets)
            known = set(model.config.mets) | {r["met"] for r in model.index.rows()}
            bad = sorted(met_set - known)
            if bad:
                raise ConfigError(f"met {', '.join(map(repr, bad))} is not configured or "
                                  f"registered (mets: {', '.join(sorted(known)) or 'none'})")
        start = end = None
        if time_range is not None:
            if isinstance(time_range, (str, bytes)) or len(time_range) != 2:
                raise ConfigError(f"time_range {time_range!r}: expected (start, end); either "
                                  "may be None")
            start, end = (None if t is None else parse_time(t, f"time_range {name}")
                          for t, name in zip(time_range, ("start", "end")))
        locations = None
        if location_ids is not None:
            items = [location_ids] if isinstance(location_ids, str) else location_ids
            locations = frozenset(getattr(x, "location_id", x) for x in items)
        return cls(states, scene_id, met_set, start, end, locations)

    def matches(self, sim_id: str, state: str | None, scene_id: str | None) -> bool:
        """Whether one simulation (unregistered ones have no state and no scene) matches."""
        if self.states is not None and state not in self.states:
            return False
        if self.scene_id is not None and scene_id != self.scene_id:
            return False
        met, when, location = split_id(sim_id)
        return ((self.mets is None or met in self.mets)
                and (self.start is None or when >= self.start)
                and (self.end is None or when <= self.end)
                and (self.locations is None or location in self.locations))


class _Collection:
    """Filters and the registered or planned simulations that pass them."""

    def __init__(self, model: ModelView, queries: tuple[_Query, ...] = ()) -> None:
        self._model = model
        self._queries = queries

    def _with(self: _C, query: _Query) -> _C:
        out = object.__new__(type(self))
        out.__dict__.update(self.__dict__)
        out._queries = (*self._queries, query)
        return out

    def select(self: _C, state: str | Iterable[str] | None = None, *,
               scene_id: str | None = None, mets: str | Iterable[str] | None = None,
               time_range: Any = None, location_ids: Any = None) -> _C:
        """The same collection narrowed by more filters (they add to those it has).

        Parameters
        ----------
        state : str or list of str, optional
            ``pending``, ``running``, ``complete`` or ``failed``.
        scene_id : str, optional
            Registered with this scene id.
        mets : str or list of str, optional
            Met names (configured or registered).
        time_range : (start, end), optional
            Receptor times from ``start`` to ``end``, both included; either may be None.
        location_ids : str or list, optional
            Location ids (``-101.5_40_5``) or receptors (their ``location_id``).
        """
        return self._with(_Query.of(self._model, state, scene_id, mets, time_range,
                                    location_ids))

    def _queries_with(self, filters: Mapping[str, Any]) -> tuple[_Query, ...]:
        if not any(v is not None for v in filters.values()):
            return self._queries
        return (*self._queries, _Query.of(self._model, **filters))

    def _rows(self, **filters: Any) -> list[dict[str, Any]]:
        """Registered rows passing every filter, ordered by id."""
        queries = self._queries_with(filters)
        return [r for r in self._model.index.rows()
                if all(q.matches(r["sim_id"], r["state"], r["scene_id"]) for q in queries)]

    def _planned(self, **filters: Any) -> list[str]:
        """Ids of the registered simulations and of the model's receptors x mets not yet
        registered, passing every filter (unregistered ones have no state or scene)."""
        queries = self._queries_with(filters)
        rows = {r["sim_id"]: r for r in self._model.index.rows()}
        ids = set(rows)
        if self._model.receptors and self._model.config.mets:
            ids.update(p["sim_id"] for p in self._model.plan())
        out = []
        for sim_id in sorted(ids):
            row = rows.get(sim_id) or {}
            if all(q.matches(sim_id, row.get("state"), row.get("scene_id")) for q in queries):
                out.append(sim_id)
        return out


class SimulationCollection(_Collection):
    """The registered simulations of a model (queried from the index on each call).

    ``model.simulations.ids(state="failed", mets="hrrr")``, ``.select(...)``, ``.items()``,
    ``.values()`` (:class:`Simulation` handles), ``.missing()``, ``.incomplete()``.
    """

    def ids(self, state: str | Iterable[str] | None = None, *, scene_id: str | None = None,
            mets: str | Iterable[str] | None = None, time_range: Any = None,
            location_ids: Any = None) -> list[str]:
        """Registered simulation ids passing the filters (see :meth:`select`), by id."""
        return [r["sim_id"] for r in self._rows(state=state, scene_id=scene_id, mets=mets,
                                                time_range=time_range,
                                                location_ids=location_ids)]

    def keys(self) -> list[str]:
        """The ids (all filters of this collection applied)."""
        return self.ids()

    def items(self) -> Iterator[tuple[str, Simulation]]:
        """``(sim_id, Simulation)`` pairs."""
        return ((sim_id, Simulation(self._model, sim_id)) for sim_id in self.ids())

    def values(self) -> Iterator[Simulation]:
        """:class:`Simulation` handles."""
        return (Simulation(self._model, sim_id) for sim_id in self.ids())

    def incomplete(self, **filters: Any) -> list[str]:
        """Registered ids not complete (pending, running or failed)."""
        return self.select(state=(State.PENDING, State.RUNNING, State.FAILED)).ids(**filters)

    def failed(self, **filters: Any) -> list[str]:
        """Registered ids that failed."""
        return self.select(state=State.FAILED).ids(**filters)

    def missing(self, **filters: Any) -> list[str]:
        """Ids still without their outputs: the model's receptors x mets not registered yet
        and the registered simulations not complete (filters as for :meth:`select`)."""
        complete = {r["sim_id"] for r in self._model.index.rows(State.COMPLETE)}
        return [sim_id for sim_id in self._planned(**filters) if sim_id not in complete]

    def status(self, sim_id: str) -> dict[str, Any]:
        """The index row of one simulation (state, reason, message, attempts, timings)."""
        row = self._model.index.get(sim_id)
        if row is None:
            raise ConfigError(f"simulation {sim_id!r} is not registered")
        return row

    def counts(self, scene_id: str | None = None, **filters: Any) -> dict[str, int]:
        """Number of simulations in each state (every state, zero when none)."""
        out = dict.fromkeys(STATES, 0)
        for row in self._rows(scene_id=scene_id, **filters):
            out[row["state"]] += 1
        return out

    def __getitem__(self, sim_id: str) -> Simulation:
        if sim_id not in self:
            raise KeyError(f"simulation {sim_id!r} is not registered"
                           + (" or not selected" if self._queries else ""))
        return Simulation(self._model, sim_id)

    def __len__(self) -> int:
        return len(self._rows())

    def __iter__(self) -> Iterator[str]:
        return iter(self.ids())

    def __contains__(self, sim_id: object) -> bool:
        if not isinstance(sim_id, str):
            return False
        row = self._model.index.get(sim_id)
        return row is not None and all(q.matches(sim_id, row["state"], row["scene_id"])
                                       for q in self._queries)


class _OutputCollection(_Collection):
    """One output file per simulation (trajectories, or the footprints of one name)."""

    _kind = "output"

    def _path(self, sim_id: str) -> Path:  # pragma: no cover - every subclass defines it
        raise NotImplementedError

    def _expected(self) -> bool:
        """Whether the current config makes this output at all."""
        return True

    def ids(self, state: str | Iterable[str] | None = None, *, scene_id: str | None = None,
            mets: str | Iterable[str] | None = None, time_range: Any = None,
            location_ids: Any = None) -> list[str]:
        """Ids of the registered simulations (passing the filters) whose file exists."""
        rows = self._rows(state=state, scene_id=scene_id, mets=mets, time_range=time_range,
                          location_ids=location_ids)
        return [r["sim_id"] for r in rows if self._path(r["sim_id"]).is_file()]

    def keys(self) -> list[str]:
        """The ids with a file (all filters of this collection applied)."""
        return self.ids()

    def paths(self, **filters: Any) -> list[Path]:
        """The existing files, by simulation id."""
        return [self._path(sim_id) for sim_id in self.ids(**filters)]

    def items(self) -> Iterator[tuple[str, xr.Dataset]]:
        """``(sim_id, Dataset)`` pairs, each file loaded when reached."""
        return ((sim_id, self._load_one(sim_id)) for sim_id in self.ids())

    def values(self) -> Iterator[xr.Dataset]:
        """The datasets, each loaded when reached."""
        return (self._load_one(sim_id) for sim_id in self.ids())

    def load(self, sim_id: str | None = None, **filters: Any) -> Any:
        """One simulation's dataset, or (no id) a dict of every existing one by id (filters
        as for :meth:`select`)."""
        if sim_id is not None:
            return self._load_one(sim_id)
        return dict(self.select(**filters).items()) if filters else dict(self.items())

    def missing(self, **filters: Any) -> list[str]:
        """Ids whose file is not there: registered simulations and the model's receptors x
        mets not registered yet (none when the config does not make this output)."""
        if not self._expected():
            return []
        return [sim_id for sim_id in self._planned(**filters)
                if not self._path(sim_id).is_file()]

    def _load_one(self, sim_id: str) -> xr.Dataset:
        path = self._path(sim_id)
        if not path.is_file():
            raise ConfigError(f"simulation {sim_id!r} has no {self._kind} file ({path})")
        return _load(path, self._kind)

    def __len__(self) -> int:
        return len(self.ids())

    def __iter__(self) -> Iterator[str]:
        return iter(self.ids())

    def __contains__(self, sim_id: object) -> bool:
        return isinstance(sim_id, str) and sim_id in self.ids()


class TrajectoryCollection(_OutputCollection):
    """Trajectory files of the simulations (``<sim_id>_traj.nc``).

    With transport-error parameters set, :attr:`errors` (or ``error=True`` in
    :meth:`paths` and :meth:`load`, as in PYSTILT) gives the transport-error runs
    (``<sim_id>_traj_error.nc``).
    """

    _kind = "trajectory"

    def __init__(self, model: ModelView, queries: tuple[_Query, ...] = (),
                 error: bool = False) -> None:
        super().__init__(model, queries)
        self.error = error

    @property
    def errors(self) -> TrajectoryCollection:
        """The transport-error trajectories (same filters)."""
        return TrajectoryCollection(self._model, self._queries, error=True)

    def _path(self, sim_id: str) -> Path:
        paths = SimulationPaths.of(self._model.output, sim_id)
        return paths.error_trajectory if self.error else paths.trajectory

    def _expected(self) -> bool:
        config = self._model.config
        return config.trajectories != "drop" and (not self.error or error_run(config) > 0)

    def paths(self, *, error: bool = False, **filters: Any) -> list[Path]:
        """The existing files, by simulation id (``error=True``: the transport-error runs)."""
        if error and not self.error:
            return self.errors.paths(**filters)
        return super().paths(**filters)

    def load(self, sim_id: str | None = None, *, error: bool = False, **filters: Any) -> Any:
        """One simulation's trajectories, or (no id) a dict of every existing one by id
        (``error=True``: the transport-error runs)."""
        if error and not self.error:
            return self.errors.load(sim_id, **filters)
        return super().load(sim_id, **filters)


class FootprintCollection(_OutputCollection):
    """The footprints of one name (``<sim_id>_<name>_foot.nc``).

    ``configured=False`` (``model.footprints[name]`` when no footprint is configured at all)
    is an empty collection: no ids, no paths, ``load()`` gives ``{}``, nothing missing.
    """

    _kind = "footprint"

    def __init__(self, model: ModelView, name: str, queries: tuple[_Query, ...] = (),
                 configured: bool = True) -> None:
        super().__init__(model, queries)
        self.name = name
        self.configured = configured

    def _path(self, sim_id: str) -> Path:
        return SimulationPaths.of(self._model.output, sim_id).footprint(self.name)

    def _expected(self) -> bool:
        return self.configured

    def ids(self, state: str | Iterable[str] | None = None, **filters: Any) -> list[str]:
        """Ids of the registered simulations (passing the filters) with this footprint."""
        if not self.configured:
            return []
        return super().ids(state, **filters)

    def _load_one(self, sim_id: str) -> xr.Dataset:
        if not self.configured:
            raise ConfigError(f"footprint {self.name!r} is not configured (no footprints are "
                              "configured)")
        path = self._path(sim_id)
        if not path.is_file():
            raise ConfigError(f"simulation {sim_id!r} has no footprint {self.name!r}")
        return _load(path, self._kind)

    def open_dataset(self, **filters: Any) -> xr.Dataset:
        """Every complete simulation's footprint of this name as one lazily loaded Dataset.

        ``foot(simulation, lag, lat, lon)`` (hourly) or ``foot(simulation, lat, lon)``
        (time-integrated), with the receptor time, position, met, scene and location id as
        coordinates on ``simulation`` (:func:`stilt.footprint_dataset.open_footprints`). The
        simulations are those the index records complete with this footprint among their
        outputs; no file is opened but the first until values are read. Aggregate it with
        :func:`~stilt.footprint_dataset.sum_footprints`,
        :func:`~stilt.footprint_dataset.sum_by_hour_of_day` and
        :func:`~stilt.footprint_dataset.cell_matrix` (streamed over the files).

        Parameters
        ----------
        **filters
            As for :meth:`select` (``scene_id``, ``mets``, ``time_range``, ``location_ids``).

        Raises
        ------
        ConfigError
            No complete simulation has this footprint (or none is configured).
        """
        from stilt.footprint_dataset import open_footprints  # imports xarray: when used

        if not self.configured:
            raise ConfigError(f"footprint {self.name!r} is not configured (no footprints are "
                              "configured)")
        suffix = f"_{check_name(self.name, 'footprint name')}_foot.nc"
        rows = [r for r in self._rows(state=State.COMPLETE, **filters)
                if r["sim_id"] + suffix in r["outputs"]]
        if not rows:
            raise ConfigError(f"footprint {self.name!r}: no complete simulation has it yet"
                              + (" (with these filters)" if filters or self._queries else ""))
        # the layout of SimulationPaths, checked once for the folder and per id by name only
        # (resolving 10 000 paths one by one would take seconds)
        base = safe_path(Path(self._model.output).resolve(), "simulations", "by-id")
        paths = [base / sid / (sid + suffix) for sid in
                 (check_name(r["sim_id"], "simulation id") for r in rows)]
        return open_footprints(paths, rows, n_hours=self._model.config.n_hours)

    def plot(self, sim_id: str | None = None, particles: bool = True, terrain: bool = True,
             path: str | Path | None = None) -> Any:
        """Map one simulation's footprint, or (no id) the mean over the complete ones.

        Needs matplotlib (``pip install 'stilt[plot]'``).

        Parameters
        ----------
        sim_id : str, optional
            One simulation; None maps the mean footprint of the project with every receptor.
        particles : bool, optional
            With ``sim_id``: draw (up to 100 of) its particle paths (default True).
        terrain : bool, optional
            Draw the met terrain underneath when the met file is there (default True).
        path : path, optional
            Write a PNG there and return its path; otherwise return the Figure.

        Returns
        -------
        pathlib.Path or matplotlib.figure.Figure
        """
        if sim_id is None:
            return plot.plot_mean(self.mean(), terrain=self._summary_terrain(terrain),
                                  path=path)
        model = self._model
        if sim_id not in model.simulations:
            raise ConfigError(f"simulation {sim_id!r} is not registered in {model.project}")
        traj = None
        if SimulationPaths.of(model.output, sim_id).trajectory.is_file():
            try:
                traj = model.trajectories.load(sim_id)
            except OutputError as exc:
                notice(f"drawn without particles and terrain: {exc}")
        background = plot.met_terrain(traj) if (terrain and traj is not None) else None
        return plot.plot_footprint(self.load(sim_id), particles=traj if particles else None,
                                   terrain=background, path=path)

    def _summary_terrain(self, terrain: Any) -> Any:
        """The background of the mean map: True takes the met of the first trajectory file
        whose met is still there."""
        if terrain is False or terrain is None:
            return None
        if terrain is not True:
            return terrain
        for traj in self._model.trajectories.paths():
            try:
                return plot.met_terrain(traj)
            except OSError:  # an unreadable trajectory file: try the next
                continue
        return None

    def mean(self) -> xr.Dataset:
        """The mean footprint (summed over time) over the complete simulations.

        Footprints that cannot be read are left out with a notice; complete simulations
        without this footprint (e.g. added to the config later) are passed over.

        Returns
        -------
        xarray.Dataset
            ``foot(lat, lon)`` mean, attrs ``n_simulations``, ``footprint_name`` and the
            receptors as ``receptor_longitudes``/``receptor_latitudes`` lists
            (:func:`stilt.plot.mean_footprint`).

        Raises
        ------
        ConfigError
            No complete simulation has this footprint, or they are not on one grid.
        """
        project = self._model.project
        found = []
        for row in self._rows(state=State.COMPLETE):
            try:
                found.append(self._load_one(row["sim_id"]))
            except ConfigError:
                continue  # complete without this footprint (e.g. added to config later)
            except OutputError as exc:  # truncated or damaged: the map goes on without it
                notice(f"left out of the mean footprint: {exc}")
        if not found:
            raise ConfigError(f"project {project}: no complete simulation has a footprint "
                              f"{self.name!r} (run 'stilt run {project}' first)")
        return plot.mean_footprint(found, self.name,
                                   what=f"footprints {self.name!r} of project {project}")


class FootprintCollections(Mapping[str, FootprintCollection]):
    """``model.footprints["name"]``: one collection per configured footprint name.

    With no footprint configured at all, any name gives an empty collection (so
    ``model.footprints["default"].load()`` is ``{}`` in a trajectories-only project); a name
    that is not configured when others are raises :class:`UnknownFootprintError` (a
    ``KeyError``) listing the configured names.
    """

    def __init__(self, model: ModelView) -> None:
        self._model = model

    def __getitem__(self, name: str) -> FootprintCollection:
        names = self._model.config.footprints
        if name in names:
            return FootprintCollection(self._model, name)
        if not names:
            return FootprintCollection(self._model, name, configured=False)
        raise UnknownFootprintError(f"footprint {name!r} is not configured (footprints: "
                                    f"{', '.join(names)})")

    def resolve(self, name: str | None = None) -> str:
        """A configured footprint name: ``name`` itself, or the first configured when None.

        Raises
        ------
        ConfigError
            No footprint is configured, or ``name`` is not one of them (naming the project and
            the configured names).
        """
        names = list(self._model.config.footprints)
        if name is None:
            if not names:
                raise ConfigError(f"project {self._model.project}: no footprint is configured")
            return names[0]
        try:
            self[name]
        except UnknownFootprintError as err:
            raise ConfigError(f"project {self._model.project}: {err}") from None
        return name

    def __contains__(self, name: object) -> bool:
        return name in self._model.config.footprints

    def __iter__(self) -> Iterator[str]:
        return iter(self._model.config.footprints)

    def __len__(self) -> int:
        return len(self._model.config.footprints)


def _load(path: Path, kind: str) -> Any:
    """An output file loaded into memory (file closed).

    Raises
    ------
    OutputError
        The file cannot be read (truncated or damaged), naming it.
    """
    import xarray as xr

    from stilt.trajectory_file import memory_layout

    try:
        with xr.open_dataset(path) as ds:
            ds = ds.load()
        # trajectories as stilt makes them, on (time, indx), whichever layout the file has
        return memory_layout(ds) if kind == "trajectory" else ds
    except (OSError, RuntimeError, ValueError) as exc:
        check_output(path, kind)  # names what is wrong with it
        raise OutputError(f"{kind} file {path} cannot be read ({exc})") from None
