"""Executors decide only where :func:`stilt.simulation.run_simulation` happens.

``local``: inline (one worker) or a process pool on this machine.
``slurm``: one ``sbatch`` job array per run (:mod:`stilt.executors.slurm`); its tasks
(:mod:`stilt.executors.slurm_task`) coordinate through claim files (:mod:`stilt.claims`).
Both implement :class:`stilt.executors.base.Executor` and return a
:class:`stilt.executors.base.RunReport`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from stilt.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from stilt.config import SlurmConfig
    from stilt.executors.base import Executor

__all__ = ["get_executor"]


def get_executor(backend: str, *, slurm: SlurmConfig | None = None,
                 wait: bool = False) -> Executor:
    """The executor of a backend name.

    Parameters
    ----------
    backend : {"local", "slurm"}
    slurm : SlurmConfig, optional
        Slurm resources (default: the model's ``execution.slurm``); slurm only.
    wait : bool
        Slurm: wait for the job array to end before returning.

    Raises
    ------
    ConfigError
        An unknown backend name.
    """
    if backend == "local":
        from stilt.executors.local import LocalExecutor

        return LocalExecutor()
    if backend == "slurm":
        from stilt.executors.slurm import SlurmExecutor

        return SlurmExecutor(slurm=slurm, wait=wait)
    raise ConfigError(f"execution backend {backend!r} is not available "
                      "(available: local, slurm)")
