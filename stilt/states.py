"""The states of a registered simulation, named once.

A :class:`State` is a ``str``: its value is the plain string the index, the status records and
the Slurm records hold (``"pending"``, ``"running"``, ``"complete"``, ``"failed"``), so files
written before the enum existed read the same, and a state read back from any of them compares
equal to its member (``row["state"] == State.FAILED``).
"""

from __future__ import annotations

import enum

__all__ = ["State", "STATES"]


class State(str, enum.Enum):
    """The state of one simulation (the index's ``state`` column, ``status.json``'s ``state``).

    ``pending``: registered, not running (never ran, or to run again); ``running``: claimed by
    a worker; ``complete``: every output there for the current config; ``failed``: failed with
    a reason class (:attr:`stilt.errors.StiltError.failure`) and no attempts left.
    """

    PENDING = "pending"
    RUNNING = "running"
    COMPLETE = "complete"
    FAILED = "failed"

    # the plain value in text and f-strings (as enum.StrEnum, which Python 3.10 lacks)
    __str__ = str.__str__
    __format__ = str.__format__


#: every state, in the order counts are shown
STATES: tuple[State, ...] = tuple(State)
