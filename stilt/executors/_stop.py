"""SIGINT/SIGTERM as a stop flag for the executors' work loops (local and Slurm tasks)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["StopSignals"]


class StopSignals:
    """SIGINT/SIGTERM handlers that set a flag (and, inline, interrupt the running work).

    With ``raise_in_main`` the handler raises KeyboardInterrupt only while ``interruptible`` is
    set (around the simulation itself and the idle sleep). Anywhere else (an index transaction,
    recording a result) an asynchronous exception could leave a write transaction open, so the
    loop sees the flag at its next check instead.
    """

    def __init__(self, raise_in_main: bool) -> None:
        self.flag = False
        self.raise_in_main = raise_in_main
        self.interruptible = False
        self.saved: dict[int, Any] = {}

    def _handler(self, signum: int, frame: Any) -> None:
        self.flag = True
        if self.raise_in_main and self.interruptible:
            self.interruptible = False
            raise KeyboardInterrupt(f"signal {signum}")

    @contextmanager
    def interrupting(self) -> Iterator[None]:
        """Let a signal interrupt the enclosed work at once."""
        if self.flag:
            raise KeyboardInterrupt("stop requested")
        self.interruptible = True
        try:
            yield
        finally:
            self.interruptible = False

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self.saved[sig] = signal.signal(sig, self._handler)
        return self

    def __exit__(self, *exc: Any) -> None:
        for sig, handler in self.saved.items():
            signal.signal(sig, handler)
