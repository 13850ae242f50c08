"""What every executor shares: the :class:`Executor` protocol and the :class:`RunReport`.

An executor only decides where :func:`stilt.simulation.run_simulation` happens
(:class:`~stilt.executors.local.LocalExecutor`: here, inline or in worker processes;
:class:`~stilt.executors.slurm.SlurmExecutor`: one Slurm job array). :class:`stilt.Model`
picks one with :func:`stilt.executors.get_executor` and calls :meth:`Executor.execute`; the
report it gets back has the same fields whatever the backend.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TextIO, runtime_checkable

from stilt.states import STATES, State

if TYPE_CHECKING:  # pragma: no cover
    from stilt.config import ModelConfig
    from stilt.index import SimulationIndex

__all__ = ["Executor", "RunReport", "ProjectModel"]


class ProjectModel(Protocol):
    """What an executor uses of a model (:class:`stilt.Model` is one): where the project and
    its outputs are, its config, its index, and the registered work read from disk."""

    project: Path
    output: Path
    config: ModelConfig

    @property
    def index(self) -> SimulationIndex:
        """The output index."""
        ...  # pragma: no cover - a protocol

    def records_on_disk(self, problems: list[str] | None = None,
                        fresh: bool = False) -> list[dict[str, Any]]:
        """Every registered simulation as a status record, read without the index."""
        ...  # pragma: no cover - a protocol


@dataclass
class RunReport:
    """What one executor run did.

    Attributes
    ----------
    requested : list of str
        Ids the run was asked to complete (empty for a pull worker draining any work).
    completed, failed : list of str
        Ids that ended complete / failed in this run (failed with their reasons in
        ``reasons``).
    reasons : dict
        ``"<REASON CLASS>: <message>"`` of each failed id.
    transport_runs : int
        Simulations whose trajectories were computed (0 for a rerun of a complete project).
    footprint_runs : int
        Footprints computed.
    transport_seconds, footprint_seconds : float
        Time spent computing trajectories and footprints (local runs).
    interrupted : bool
        SIGINT/SIGTERM stopped the run.
    counts : dict
        Final state counts (:class:`~stilt.states.State`) of the requested ids (or all ids for
        a pull worker).
    elapsed : float
        Seconds the run took.
    job_id : str or None
        Slurm: the job array submitted (None when nothing was submitted, and for local runs).
    run_dir : Path or None
        Slurm: the run folder of that array.
    submitted : list of str
        Slurm: the ids in that array.
    task_states : dict
        Slurm, after waiting: the terminal state of each array task.
    """

    requested: list[str] = field(default_factory=list)
    completed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    reasons: dict[str, str] = field(default_factory=dict)
    transport_runs: int = 0
    footprint_runs: int = 0
    transport_seconds: float = 0.0
    footprint_seconds: float = 0.0
    interrupted: bool = False
    counts: dict[str, int] = field(default_factory=dict)
    elapsed: float = 0.0
    job_id: str | None = None
    run_dir: Path | None = None
    submitted: list[str] = field(default_factory=list)
    task_states: dict[int, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Everything asked for is complete and the run was not interrupted."""
        done = self.counts.get(State.COMPLETE, 0)
        total = sum(self.counts.values())
        return not self.interrupted and done == total

    def count_states(self, states: dict[str, str], sim_ids: Sequence[str]) -> None:
        """Set :attr:`counts` from the states of ``sim_ids`` (an id without one is pending)."""
        self.counts = dict.fromkeys(STATES, 0)
        for sim_id in sim_ids:
            self.counts[states.get(sim_id, State.PENDING)] += 1

    def summary(self) -> str:
        """Counts by state and failures by reason, one short paragraph."""
        parts = [f"{self.counts.get(s, 0)} {s}" for s in (State.COMPLETE, State.FAILED,
                                                          State.PENDING, State.RUNNING)]
        text = (f"{', '.join(parts)}; this run: {len(self.completed)} completed, "
                f"{len(self.failed)} failed, {self.transport_runs} transport runs, "
                f"{self.footprint_runs} footprints, {self.elapsed:.1f} s")
        if self.interrupted:
            text += " (interrupted)"
        for sim_id, reason in sorted(self.reasons.items()):
            text += f"\n  failed {sim_id}: {reason}"
        earlier = self.counts.get(State.FAILED, 0) - len(self.failed)
        if earlier > 0:  # failures kept from earlier runs: say why nothing was retried
            text += (f"\n  {earlier} simulation(s) failed in an earlier run and were not "
                     "retried ('stilt status' shows why); rerun them with "
                     "'stilt run --retry-failed'")
        return text


@runtime_checkable
class Executor(Protocol):
    """Runs registered simulations of a model somewhere and reports what happened.

    Every backend takes the same request. Backend settings that are not part of it (the
    Slurm resources, whether to wait for the array) are given when the executor is made
    (:func:`stilt.executors.get_executor`).
    """

    #: the backend name of ``execution.backend``
    name: str

    def execute(self, model: ProjectModel, sim_ids: Sequence[str] | None = None, *,
                scene_id: str | None = None, n_workers: int = 1,
                timeout: float | None = None, follow: bool = False, poll: float = 2.0,
                progress: TextIO | None = None) -> RunReport:
        """Run (or submit) the simulations still to do.

        Parameters
        ----------
        model : stilt.Model
            The project; its index says what is registered and in which state.
        sim_ids : sequence of str, optional
            The simulations of a run; None: any registered one (a pull worker).
        scene_id : str, optional
            Only simulations of this scene.
        n_workers : int
            Processes running simulations at once (local).
        timeout : float, optional
            Seconds one simulation may take.
        follow : bool
            Keep waiting for new registrations until stopped (a long-lived worker).
        poll : float
            Seconds between looks at the index while waiting.
        progress : text stream, optional
            Where progress goes (None: quiet).

        Returns
        -------
        RunReport
        """
        ...  # pragma: no cover - a protocol
