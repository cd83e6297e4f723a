"""Run states and the one transition table shared by the engine, the store and the server.

The state types are the store's; every named state (Prefect's names: Late, AwaitingRetry,
Retrying, NotReady, Cached, Paused, Suspended, ...) is one of them under another name, so a
state the database does not know is never written.
"""

from __future__ import annotations

import os
import traceback
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from enum import Enum
from typing import TYPE_CHECKING, Any, Generic, Literal, overload

from transom.exceptions import (
    CancelledRun,
    CrashedRun,
    FailedRun,
    InvalidTransition,
    MissingResult,
    RunFailed,
    UnfinishedRun,
    UserInputError,
)

__all__ = [
    "FINAL_TYPES",
    "PAUSED_NAMES",
    "TRANSITIONS",
    "AwaitingRetry",
    "Cancelled",
    "Cancelling",
    "Completed",
    "Crashed",
    "ErrorInfo",
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
    "StoredValue",
    "Suspended",
    "check_transition",
    "now_utc",
    "run_duration",
    "state_type",
]

if TYPE_CHECKING:  # a bare `State` means State[Any] (PEP 696), as it did before State was generic
    from typing_extensions import TypeVar

    R = TypeVar("R", default=Any)
else:
    from typing import TypeVar

    R = TypeVar("R")


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def run_duration(start: datetime | None, end: datetime | None, kind: StateType | None,
                 last_state: datetime | None) -> float | None:
    """Seconds from a run's start to its end; for a run still going, until now if it is running
    (or being cancelled), else until its last state (e.g. while it waits to retry)."""
    if start is None:
        return None
    if end is None:
        going = kind in (StateType.RUNNING, StateType.CANCELLING)
        end = now_utc() if going else last_state
    return None if end is None else max((end - start).total_seconds(), 0.0)


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
# their type's rules: AwaitingRetry, Late, Paused and Suspended are SCHEDULED, NotReady is
# PENDING, Retrying is RUNNING, Cached is COMPLETED, TimedOut is FAILED.
# A final state may only be followed by SCHEDULED (a manual rerun).
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
        shown = traceback.TracebackException(kind, exc, exc.__traceback__)
        _without_our_frames(shown, set())
        return cls(type=name, message=str(exc), traceback="".join(shown.format()))

    def to_dict(self) -> dict[str, str]:
        return {"type": self.type, "message": self.message, "traceback": self.traceback}


# The transom package's folder as frames name their files (not resolved: a frame's file name
# is the path the module was imported by, the same as __file__; case-folded on Windows).
_OURS = os.path.normcase(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))) + os.sep


def _ours(frame: traceback.FrameSummary) -> bool:
    return os.path.normcase(frame.filename).startswith(_OURS)


def _without_our_frames(shown: traceback.TracebackException, seen: set[int]) -> None:
    """A recorded traceback is about the user's code: Transom's own frames (the engine calling
    the task, its retries and timeouts) are left out of it, and of its causes' and the
    exceptions' of a group, unless the error was raised in Transom, where they are the story."""
    if id(shown) in seen:
        return
    seen.add(id(shown))
    frames = list(shown.stack)
    if frames and not _ours(frames[-1]):
        shown.stack = traceback.StackSummary.from_list([f for f in frames if not _ours(f)])
    for nested in (shown.__cause__, shown.__context__,
                   *(getattr(shown, "exceptions", None) or ())):  # a group (3.11)
        if nested is not None:
            _without_our_frames(nested, seen)


PAUSED_NAMES: frozenset[str] = frozenset({"Paused", "Suspended"})


class StoredValue:
    """A result kept in result storage, not in memory (a task's cache_result_in_memory=False):
    `State.result()` reads it back each time it is asked."""

    __slots__ = ("key", "store")

    def __init__(self, store: Any, key: str) -> None:
        self.store = store
        self.key = key

    def load(self) -> Any:
        record = self.store.read(self.key)
        if record is None:
            raise MissingResult(f"the result stored under {self.key!r} in {self.store.location} is "
                            "gone (expired or deleted)")
        return record.value

    def __repr__(self) -> str:
        return f"StoredValue(key={self.key!r})"


@dataclass(frozen=True, slots=True)
class State(Generic[R]):
    """An immutable state of a flow or task run. A final state carries the result or the error.

    `State[int]` in an annotation says what `result()` gives back.
    """

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

    def is_cancelling(self) -> bool:
        return self.type is StateType.CANCELLING

    def is_running(self) -> bool:
        return self.type is StateType.RUNNING

    def is_scheduled(self) -> bool:
        return self.type is StateType.SCHEDULED

    def is_pending(self) -> bool:
        return self.type is StateType.PENDING

    def is_paused(self) -> bool:
        # No PAUSED type in the store: Paused and Suspended are named SCHEDULED states.
        return self.type is StateType.SCHEDULED and self.name in PAUSED_NAMES

    @property
    def cached(self) -> bool:
        return self.name == "Cached"

    @overload
    def result(self, raise_on_failure: Literal[True] = True) -> R: ...

    @overload
    def result(self, raise_on_failure: bool = True) -> R | BaseException: ...

    def result(self, raise_on_failure: bool = True) -> R | BaseException:
        """The run's return value. A run that did not complete raises its exception, or, with
        `raise_on_failure=False`, returns it. A run that has not ended has no result: it raises
        UnfinishedRun either way."""
        if self.type is StateType.COMPLETED:
            value: R = self.data
            if type(self.data) is StoredValue:
                loaded: R = self.data.load()
                return loaded
            return value
        if self.type not in FINAL_TYPES:
            detail = f": {self.message}" if self.message else ""
            raise UnfinishedRun(f"the run is {self.name}, not finished, so it has no "
                                f"result{detail}", state=self)
        error = self.exception or _NO_EXCEPTION.get(self.type, RunFailed)(
            self.message or f"run ended {self.name}", state=self)
        if raise_on_failure:
            raise error
        return error

    def copy(self, **changes: Any) -> State[R]:
        return replace(self, **changes)

    def __repr__(self) -> str:
        extra = f", message={self.message!r}" if self.message else ""
        return f"State({self.name}{extra})"


# What result() raises for a run that ended without completing and holds no exception.
_NO_EXCEPTION: dict[StateType, type[RunFailed]] = {
    StateType.FAILED: FailedRun, StateType.CRASHED: CrashedRun,
    StateType.CANCELLED: CancelledRun,
}


# -- constructors, one per named state (the names Prefect gives them) ---------------------------
def Scheduled(*, scheduled_time: datetime | None = None, name: str = "Scheduled",
              message: str | None = None, data: Any = None) -> State[Any]:
    return State(StateType.SCHEDULED, name, message=message, data=data,
                 scheduled_time=scheduled_time or now_utc())


def Late(*, scheduled_time: datetime | None = None, name: str = "Late",
         message: str | None = None, data: Any = None) -> State[Any]:
    return Scheduled(scheduled_time=scheduled_time, name=name, message=message, data=data)


def AwaitingRetry(*, scheduled_time: datetime | None = None, name: str = "AwaitingRetry",
                  message: str | None = None, data: Any = None) -> State[Any]:
    return Scheduled(scheduled_time=scheduled_time, name=name, message=message, data=data)


def Paused(*, timeout_seconds: float | None = None, pause_expiration_time: datetime | None = None,
           pause_key: str | None = None, name: str = "Paused", message: str | None = None,
           data: Any = None) -> State[Any]:
    """A paused run: a SCHEDULED-type state named Paused (the store has no PAUSED type), due
    again when the pause expires. `pause_key` is accepted for Prefect's signature and unused."""
    if timeout_seconds is not None and pause_expiration_time is not None:
        raise ValueError("give timeout_seconds or pause_expiration_time, not both")
    if timeout_seconds is not None:
        pause_expiration_time = now_utc() + timedelta(seconds=timeout_seconds)
    return Scheduled(scheduled_time=pause_expiration_time, name=name, message=message, data=data)


def Suspended(*, timeout_seconds: float | None = None,
              pause_expiration_time: datetime | None = None, pause_key: str | None = None,
              name: str = "Suspended", message: str | None = None, data: Any = None) -> State[Any]:
    """A run paused with its process stopped: Paused, under the name Suspended."""
    return Paused(timeout_seconds=timeout_seconds, pause_expiration_time=pause_expiration_time,
                  pause_key=pause_key, name=name, message=message, data=data)


def Pending(name: str = "Pending", *, message: str | None = None, data: Any = None) -> State[Any]:
    if message is None and data is None:  # every run passes here: the cheaper call
        return State(StateType.PENDING, name)
    return State(StateType.PENDING, name, message=message, data=data)


def NotReady(*, name: str = "NotReady", message: str | None = None) -> State[Any]:
    """A run that will not start: an upstream run it waits for did not complete."""
    return Pending(name, message=message)


def Running(name: str = "Running", *, message: str | None = None, data: Any = None) -> State[Any]:
    if message is None and data is None:  # every run passes here: the cheaper call
        return State(StateType.RUNNING, name)
    return State(StateType.RUNNING, name, message=message, data=data)


def Retrying(*, name: str = "Retrying", message: str | None = None) -> State[Any]:
    return Running(name, message=message)


def Completed(data: Any = None, *, name: str = "Completed",
              message: str | None = None) -> State[Any]:
    return State(StateType.COMPLETED, name, data=data, message=message)


def _from_exception(kind: StateType, name: str, exc: BaseException | None,
                    message: str | None, data: Any) -> State[Any]:
    if exc is None and isinstance(data, BaseException):  # Prefect's Failed(data=exc)
        exc, data = data, None
    info = ErrorInfo.from_exception(exc) if exc is not None else None
    if message is None and exc is not None:
        message = f"{type(exc).__name__}: {exc}"
    return State(kind, name, message=message, data=data, error=info, exception=exc)


def Failed(exc: BaseException | None = None, *, name: str = "Failed",
           message: str | None = None, data: Any = None) -> State[Any]:
    return _from_exception(StateType.FAILED, name, exc, message, data)


def Crashed(exc: BaseException | None = None, *, name: str = "Crashed",
            message: str | None = None, data: Any = None) -> State[Any]:
    return _from_exception(StateType.CRASHED, name, exc, message, data)


def Cancelled(exc: BaseException | None = None, *, name: str = "Cancelled",
              message: str | None = None, data: Any = None) -> State[Any]:
    return _from_exception(StateType.CANCELLED, name, exc, message, data)


def Cancelling(message: str | None = None, *, name: str = "Cancelling") -> State[Any]:
    return State(StateType.CANCELLING, name, message=message)
