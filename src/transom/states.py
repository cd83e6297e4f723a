"""`transom.states`: the State class, its types, and the constructors of each state."""

from __future__ import annotations

from transom.core.states import (
    AwaitingRetry,
    Cancelled,
    Cancelling,
    Completed,
    Crashed,
    Failed,
    Late,
    NotReady,
    Paused,
    Pending,
    Retrying,
    Running,
    Scheduled,
    State,
    StateType,
    Suspended,
)

__all__ = [
    "AwaitingRetry",
    "Cancelled",
    "Cancelling",
    "Completed",
    "Crashed",
    "Failed",
    "Late",
    "NotReady",
    "Paused",
    "Pending",
    "Retrying",
    "Running",
    "Scheduled",
    "State",
    "StateType",
    "Suspended",
]
