"""Loading the compiled core (``stilt._core``) with OpenMP's idle threads asleep.

GNU OpenMP reads its settings from the environment once, when the core's shared library
loads it. Unless told otherwise, a thread that finishes its share of a parallel region spins
for a while before it sleeps. Between two of the core's calls that spinning takes a core from
the thread that makes the output rows beside the particle loop and from the interpreter
(docs/performance.md, "Threads and workers"), so the core is loaded with
``OMP_WAIT_POLICY=PASSIVE``: idle threads sleep at once. A wait policy the user set is kept,
and the environment is left as it was (child processes and other libraries see the user's).
The package's ``__getattr__`` calls :func:`load_core` when a module does ``from stilt import
_core``, as every module of stilt does; ``import stilt._core`` goes straight to the import
system and loads the core without it.
"""

from __future__ import annotations

import importlib
import os
import threading
from types import ModuleType

#: the environment variable and the value the core is loaded with unless the user set it
WAIT_POLICY = ("OMP_WAIT_POLICY", "PASSIVE")

_LOCK = threading.Lock()


def load_core() -> ModuleType:
    """Import and return ``stilt._core``, with :data:`WAIT_POLICY` in force while it loads.

    Returns
    -------
    module
        The compiled core.
    """
    name, value = WAIT_POLICY
    with _LOCK:  # the environment is the process's: one loader at a time
        if name in os.environ:
            return importlib.import_module("stilt._core")
        os.environ[name] = value
        try:
            return importlib.import_module("stilt._core")
        finally:
            del os.environ[name]
