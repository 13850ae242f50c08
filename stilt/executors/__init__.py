"""Executors decide only where :func:`stilt.simulation.run_simulation` happens.

``local``: inline (one worker) or a :class:`multiprocessing.Pool` on this machine.
"""

from __future__ import annotations

__all__ = ["get_executor"]


def get_executor(backend: str):  # noqa: ANN201 - returns the executor function
    """The execute function of a backend name (``"local"``)."""
    from stilt.errors import ConfigError

    if backend == "local":
        from stilt.executors.local import execute_local

        return execute_local
    raise ConfigError(f"execution backend {backend!r} is not available (available: local)")
