"""Time spent inside named functions of stilt, for the bench scripts that split a run."""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Sequence
from typing import Any


class FunctionClocks:
    """Seconds spent inside some functions, by label: each ``(module, "name" or
    "Class.method", label)`` of ``targets`` is replaced by a wrapper that adds what ``clock``
    advanced during each of its calls (in whichever thread calls it), until :meth:`close`.
    """

    def __init__(self, targets: Sequence[tuple[str, str, str]],
                 clock: Callable[[], float]) -> None:
        self.seconds = {label: 0.0 for *_, label in targets}
        self._clock = clock
        self._saved: list[tuple[Any, str, Any]] = []
        for module, attr, label in targets:
            # as the package imports it: ``from stilt import _core`` loads the core with its
            # OpenMP settings (stilt/_load_core.py), importing "stilt._core" directly does not
            parent, _, child = module.rpartition(".")
            owner: Any = importlib.import_module(parent) if parent else None
            owner = getattr(owner, child) if hasattr(owner, child) else \
                importlib.import_module(module)
            *path, name = attr.split(".")
            for part in path:
                owner = getattr(owner, part)
            fn = getattr(owner, name)
            setattr(owner, name, self._timed(fn, label))
            self._saved.append((owner, name, fn))

    def _timed(self, fn: Any, label: str) -> Any:
        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            t = self._clock()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[label] += self._clock() - t
        return timed

    def take(self) -> dict[str, float]:
        """The seconds since the start or the last take, and start again from zero."""
        taken = dict(self.seconds)
        self.seconds = dict.fromkeys(taken, 0.0)
        return taken

    def close(self) -> None:
        """Put the functions back."""
        for owner, name, fn in reversed(self._saved):
            setattr(owner, name, fn)
