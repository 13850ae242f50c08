"""Executors decide only where :func:`stilt.simulation.run_simulation` happens.

``local``: inline (one worker) or a process pool on this machine.
``slurm``: one ``sbatch`` job array per run (:mod:`stilt.executors.slurm`); its tasks
(:mod:`stilt.executors.slurm_task`) coordinate through claim files (:mod:`stilt.claims`).
"""

from __future__ import annotations

__all__ = ["get_executor"]


def get_executor(backend: str):  # noqa: ANN201 - returns the executor function
    """The execute function of a backend name (``"local"`` or ``"slurm"``)."""
    from stilt.errors import ConfigError

    if backend == "local":
        from stilt.executors.local import execute_local

        return execute_local
    if backend == "slurm":
        from stilt.executors.slurm import execute_slurm

        return execute_slurm
    raise ConfigError(f"execution backend {backend!r} is not available "
                      "(available: local, slurm)")
