"""Lazy views of a model's simulations and outputs, backed by the index and the output tree."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stilt.errors import ConfigError
from stilt.simulation import SimulationPaths

if TYPE_CHECKING:  # pragma: no cover
    import xarray as xr

    from stilt.model import Model

__all__ = ["Simulation", "SimulationCollection", "TrajectoryCollection",
           "FootprintCollection", "FootprintCollections"]


class Simulation:
    """One registered simulation of a model: ``model.simulations[sim_id]``.

    Parameters
    ----------
    model : stilt.Model
        The project.
    sim_id : str
        The simulation id (registered in the index).
    """

    def __init__(self, model: Model, sim_id: str) -> None:
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
        from stilt.plot import _footprint_name

        return self._model.footprints[_footprint_name(self._model, name)].load(self.id)

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
        from stilt.plot import plot_simulation

        return plot_simulation(self._model, self.id, footprint, particles=particles,
                               terrain=terrain, path=path)


class SimulationCollection:
    """The registered simulations of a model (queried from the index on each call)."""

    def __init__(self, model: Model) -> None:
        self._model = model

    def ids(self, state: str | None = None, scene_id: str | None = None) -> list[str]:
        """Simulation ids, optionally only those in ``state`` or of ``scene_id``."""
        return self._model.index.ids(state, scene_id)

    def incomplete(self, scene_id: str | None = None) -> list[str]:
        """Ids not complete (pending, running or failed)."""
        return self._model.index.ids(("pending", "running", "failed"), scene_id)

    def failed(self, scene_id: str | None = None) -> list[str]:
        """Ids that failed."""
        return self._model.index.ids("failed", scene_id)

    def status(self, sim_id: str) -> dict[str, Any]:
        """The index row of one simulation (state, reason, message, attempts, timings)."""
        row = self._model.index.get(sim_id)
        if row is None:
            raise ConfigError(f"simulation {sim_id!r} is not registered")
        return row

    def counts(self, scene_id: str | None = None) -> dict[str, int]:
        """Number of simulations in each state."""
        return self._model.index.counts(scene_id)

    def __getitem__(self, sim_id: str) -> Simulation:
        if sim_id not in self:
            raise KeyError(f"simulation {sim_id!r} is not registered")
        return Simulation(self._model, sim_id)

    def __len__(self) -> int:
        return sum(self._model.index.counts().values())

    def __iter__(self) -> Iterator[str]:
        return iter(self.ids())

    def __contains__(self, sim_id: object) -> bool:
        return isinstance(sim_id, str) and self._model.index.get(sim_id) is not None


class TrajectoryCollection:
    """Trajectory files of the complete simulations."""

    def __init__(self, model: Model) -> None:
        self._model = model

    def paths(self) -> list[Path]:
        """Existing trajectory files, by simulation id."""
        out = []
        for sim_id in self._model.index.ids():
            path = SimulationPaths.of(self._model.output, sim_id).trajectory
            if path.is_file():
                out.append(path)
        return out

    def load(self, sim_id: str) -> xr.Dataset:
        """The trajectories of one simulation (loaded into memory, file closed)."""
        path = SimulationPaths.of(self._model.output, sim_id).trajectory
        if not path.is_file():
            raise ConfigError(f"simulation {sim_id!r} has no trajectory file ({path})")
        return _load(path, "trajectory")


class FootprintCollection:
    """The footprints of one name."""

    def __init__(self, model: Model, name: str) -> None:
        self._model = model
        self.name = name

    def paths(self) -> list[Path]:
        """Existing footprint files of this name, by simulation id."""
        out = []
        for sim_id in self._model.index.ids():
            path = SimulationPaths.of(self._model.output, sim_id).footprint(self.name)
            if path.is_file():
                out.append(path)
        return out

    def load(self, sim_id: str | None = None) -> Any:
        """One simulation's footprint, or (no id) a dict of every existing one by id."""
        if sim_id is not None:
            path = SimulationPaths.of(self._model.output, sim_id).footprint(self.name)
            if not path.is_file():
                raise ConfigError(f"simulation {sim_id!r} has no footprint {self.name!r}")
            return _load(path, "footprint")
        out = {}
        for path in self.paths():
            out[path.name.removesuffix(f"_{self.name}_foot.nc")] = _load(path, "footprint")
        return out

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
        from stilt.plot import plot_simulation, plot_summary

        if sim_id is None:
            return plot_summary(self._model, self.name, terrain=terrain, path=path)
        return plot_simulation(self._model, sim_id, self.name, particles=particles,
                               terrain=terrain, path=path)


class FootprintCollections(Mapping[str, FootprintCollection]):
    """``model.footprints["name"]``: one collection per configured footprint name."""

    def __init__(self, model: Model) -> None:
        self._model = model

    def __getitem__(self, name: str) -> FootprintCollection:
        if name not in self._model.config.footprints:
            raise KeyError(f"footprint {name!r} is not configured (footprints: "
                           f"{', '.join(self._model.config.footprints) or 'none'})")
        return FootprintCollection(self._model, name)

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

    from stilt._verify import OutputError, check_output

    try:
        with xr.open_dataset(path) as ds:
            return ds.load()
    except (OSError, RuntimeError, ValueError) as exc:
        check_output(path, kind)  # names what is wrong with it
        raise OutputError(f"{kind} file {path} cannot be read ({exc})") from None
