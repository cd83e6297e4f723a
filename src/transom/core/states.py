"""Run states and the one transition table shared by the engine, the store and the server."""

from __future__ import annotations

import traceback
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from enum import Enum
from typing import Any

from transom.exceptions import InvalidTransition, RunFailed, UserInputError

__all__ = [
    "FINAL_TYPES",
    "TRANSITIONS",
    "AwaitingRetry",
    "Cancelled",
    "Cancelling",
    "Completed",
    "Crashed",
    "ErrorInfo",
    "Failed",
    "Pending",
    "Running",
    "Scheduled",
    "State",
    "StateType",
    "check_transition",
    "now_utc",
    "state_type",
]


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


class StateType(str, Enum):
    SCHEDULED = "SCHEDULED"
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CRASHED = "CRASHED"
    CANCELLING = "CANCELLING"
    CANCELLED = "CANCELLED"

    def __str__(self) -> str:
        return self.value


S = StateType


def state_type(state: StateType | str) -> StateType:
    """A StateType from itself or its name in any case; UserInputError names the valid ones."""
    if isinstance(state, StateType):
        return state
    try:
        return StateType(state.upper())
    except ValueError:
        names = ", ".join(t.value.lower() for t in StateType)
        raise UserInputError(f"unknown state {state!r}; use one of: {names}") from None

FINAL_TYPES: frozenset[StateType] = frozenset({S.COMPLETED, S.FAILED, S.CRASHED, S.CANCELLED})

# Which state types may follow which. `None` is a run that has no state yet. Named variants share
# their type's rules: AwaitingRetry and Late are SCHEDULED, Retrying is RUNNING, Cached is
# COMPLETED, TimedOut is FAILED. A final state may only be followed by SCHEDULED (a manual rerun).
TRANSITIONS: dict[StateType | None, frozenset[StateType]] = {
    None: frozenset(StateType),
    S.SCHEDULED: frozenset({S.SCHEDULED, S.PENDING, S.RUNNING, S.CANCELLING, S.CANCELLED,
                            S.CRASHED, S.FAILED}),
    S.PENDING: frozenset({S.SCHEDULED, S.PENDING, S.RUNNING, S.COMPLETED, S.FAILED, S.CRASHED,
                          S.CANCELLING, S.CANCELLED}),
    S.RUNNING: frozenset({S.SCHEDULED, S.RUNNING, S.COMPLETED, S.FAILED, S.CRASHED,
                          S.CANCELLING, S.CANCELLED}),
    S.CANCELLING: frozenset({S.CANCELLED, S.CRASHED, S.COMPLETED, S.FAILED}),
    S.COMPLETED: frozenset({S.SCHEDULED}),
    S.FAILED: frozenset({S.SCHEDULED}),
    S.CRASHED: frozenset({S.SCHEDULED}),
    S.CANCELLED: frozenset({S.SCHEDULED}),
}


def check_transition(current: StateType | None, proposed: StateType) -> None:
    """Raise InvalidTransition (with the reason) unless `current -> proposed` is allowed."""
    if proposed not in TRANSITIONS[current]:
        where = "a new run" if current is None else f"a {current.value} run"
        allowed = ", ".join(sorted(t.value for t in TRANSITIONS[current])) or "nothing"
        raise InvalidTransition(
            f"cannot move {where} to {proposed.value}; allowed next: {allowed}"
        )


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    """What a failed run recorded about its exception: enough to show, never the live object."""

    type: str
    message: str
    traceback: str

    @classmethod
    def from_exception(cls, exc: BaseException) -> ErrorInfo:
        kind = type(exc)
        name = kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
        tb = "".join(traceback.format_exception(kind, exc, exc.__traceback__))
        return cls(type=name, message=str(exc), traceback=tb)

    def to_dict(self) -> dict[str, str]:
        return {"type": self.type, "message": self.message, "traceback": self.traceback}


@dataclass(frozen=True, slots=True)
class State:
    """An immutable state of a flow or task run. A final state carries the result or the error."""

    type: StateType
    name: str
    timestamp: datetime = field(default_factory=now_utc)
    message: str | None = None
    data: Any = None
    error: ErrorInfo | None = None
    exception: BaseException | None = field(default=None, compare=False, repr=False)
    scheduled_time: datetime | None = None
    run_id: uuid.UUID | None = field(default=None, compare=False)

    def is_final(self) -> bool:
        return self.type in FINAL_TYPES

    def is_completed(self) -> bool:
        return self.type is StateType.COMPLETED

    def is_failed(self) -> bool:
        return self.type is StateType.FAILED

    def is_crashed(self) -> bool:
        return self.type is StateType.CRASHED

    def is_cancelled(self) -> bool:
        return self.type is StateType.CANCELLED

    def is_running(self) -> bool:
        return self.type is StateType.RUNNING

    def is_scheduled(self) -> bool:
        return self.type is StateType.SCHEDULED

    def is_pending(self) -> bool:
        return self.type is StateType.PENDING

    @property
    def cached(self) -> bool:
        return self.name == "Cached"

    def result(self, raise_on_failure: bool = True) -> Any:
        """The run's return value; raises its exception if it did not complete."""
        if self.type is StateType.COMPLETED:
            return self.data
        if not raise_on_failure:
            return self.exception
        if self.exception is not None:
            raise self.exception
        raise RunFailed(self.message or f"run ended {self.name}", state=self)

    def copy(self, **changes: Any) -> State:
        return replace(self, **changes)

    def __repr__(self) -> str:
        extra = f", message={self.message!r}" if self.message else ""
        return f"State({self.name}{extra})"


def Scheduled(*, scheduled_time: datetime | None = None, name: str = "Scheduled",
              message: str | None = None) -> State:
    return State(StateType.SCHEDULED, name, message=message,
                 scheduled_time=scheduled_time or now_utc())


def Pending(name: str = "Pending") -> State:
    return State(StateType.PENDING, name)


def Running(name: str = "Running") -> State:
    return State(StateType.RUNNING, name)


def Completed(data: Any = None, *, name: str = "Completed", message: str | None = None) -> State:
    return State(StateType.COMPLETED, name, data=data, message=message)


def _from_exception(kind: StateType, name: str, exc: BaseException | None,
                    message: str | None) -> State:
    info = ErrorInfo.from_exception(exc) if exc is not None else None
    if message is None and exc is not None:
        message = f"{type(exc).__name__}: {exc}"
    return State(kind, name, message=message, error=info, exception=exc)


def Failed(exc: BaseException | None = None, *, name: str = "Failed",
           message: str | None = None) -> State:
    return _from_exception(StateType.FAILED, name, exc, message)


def Crashed(exc: BaseException | None = None, *, message: str | None = None) -> State:
    return _from_exception(StateType.CRASHED, "Crashed", exc, message)


def Cancelled(exc: BaseException | None = None, *, message: str | None = None) -> State:
    return _from_exception(StateType.CANCELLED, "Cancelled", exc, message)


def Cancelling(message: str | None = None) -> State:
    return State(StateType.CANCELLING, "Cancelling", message=message)


def AwaitingRetry(*, scheduled_time: datetime, message: str | None = None) -> State:
    return Scheduled(scheduled_time=scheduled_time, name="AwaitingRetry", message=message)
