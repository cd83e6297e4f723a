"""Read models of recorded runs: the one schema shared by the store, the CLI, the server and
the client (never a second copy)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from transom.core.recorder import Event, FlowRunCreated, LogRecorded, StateChanged, TaskRunCreated
from transom.core.states import ErrorInfo, State, StateType, now_utc

T = TypeVar("T")

__all__ = [
    "EventBatch",
    "FlowRead",
    "FlowRunCreate",
    "FlowRunEvent",
    "FlowRunRead",
    "LogEvent",
    "LogIn",
    "LogLine",
    "Page",
    "StateEvent",
    "StateIn",
    "StateRecord",
    "TaskRunEvent",
    "TaskRunRead",
    "event_to_wire",
    "wire_to_event",
]


class _Model(BaseModel):
    model_config = ConfigDict(from_attributes=True, frozen=True)


class FlowRead(_Model):
    id: uuid.UUID
    name: str
    created: datetime


class _RunFields(_Model):
    id: uuid.UUID
    name: str
    state_type: StateType | None = None
    state_name: str | None = None
    state_message: str | None = None
    state_timestamp: datetime | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    run_count: int = 0
    result_ref: str | None = None
    tags: list[str] = []
    created: datetime
    updated: datetime

    @property
    def duration(self) -> float | None:
        """Seconds from start to end (or to the last state, for a run still going)."""
        if self.start_time is None:
            return None
        end = self.end_time or self.state_timestamp
        return None if end is None else max((end - self.start_time).total_seconds(), 0.0)


class FlowRunRead(_RunFields):
    flow_id: uuid.UUID
    flow_name: str
    parameters: dict[str, Any] = {}
    parent_flow_run_id: uuid.UUID | None = None
    parent_task_run_id: uuid.UUID | None = None
    deployment_id: uuid.UUID | None = None
    expected_start_time: datetime | None = None
    task_run_count: int = 0


class TaskRunRead(_RunFields):
    flow_run_id: uuid.UUID | None = None
    task_key: str
    dynamic_key: int
    cache_key: str | None = None
    upstream: list[uuid.UUID] = []


class StateRecord(_Model):
    id: int
    flow_run_id: uuid.UUID | None = None
    task_run_id: uuid.UUID | None = None
    type: StateType
    name: str
    timestamp: datetime
    message: str | None = None
    error: dict[str, str] | None = None
    scheduled_time: datetime | None = None


class LogLine(_Model):
    id: int
    flow_run_id: uuid.UUID | None = None
    task_run_id: uuid.UUID | None = None
    level: int
    logger: str
    message: str
    timestamp: datetime


# -- writes: what clients send (the ApiRecorder, `transom` commands, anyone with curl) ---------
class StateIn(BaseModel):
    """A state to propose for a run. `force` skips the transition rules (operators only)."""

    model_config = ConfigDict(extra="forbid")

    type: StateType
    name: str | None = Field(None, max_length=32)
    message: str | None = None
    timestamp: datetime | None = None
    scheduled_time: datetime | None = None
    error: dict[str, str] | None = None
    force: bool = False

    def to_state(self) -> State:
        info = ErrorInfo(**self.error) if self.error else None
        return State(self.type, self.name or self.type.value.title(),
                     timestamp=self.timestamp or now_utc(), message=self.message, error=info,
                     scheduled_time=self.scheduled_time)

    @classmethod
    def from_state(cls, state: State) -> StateIn:
        return cls(type=state.type, name=state.name, message=state.message,
                   timestamp=state.timestamp, scheduled_time=state.scheduled_time,
                   error=state.error.to_dict() if state.error else None)


class FlowRunCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    flow_name: str = Field(..., min_length=1, max_length=255)
    name: str | None = Field(None, max_length=255)
    parameters: dict[str, Any] = {}
    tags: list[str] = []
    parent_flow_run_id: uuid.UUID | None = None
    parent_task_run_id: uuid.UUID | None = None
    state: StateIn | None = None


class LogIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    flow_run_id: uuid.UUID | None = None
    task_run_id: uuid.UUID | None = None
    level: int = Field(..., ge=0, le=100)
    logger: str = Field("transom", max_length=255)
    message: str
    timestamp: datetime | None = None


class FlowRunEvent(BaseModel):
    kind: Literal["flow_run"] = "flow_run"
    id: uuid.UUID
    flow_name: str = Field(..., min_length=1, max_length=255)
    name: str = Field(..., max_length=255)
    parameters: dict[str, Any] = {}
    parent_flow_run_id: uuid.UUID | None = None
    parent_task_run_id: uuid.UUID | None = None
    tags: list[str] = []
    deployment_id: uuid.UUID | None = None
    created: datetime


class TaskRunEvent(BaseModel):
    kind: Literal["task_run"] = "task_run"
    id: uuid.UUID
    flow_run_id: uuid.UUID | None = None
    task_key: str = Field(..., max_length=512)
    name: str = Field(..., max_length=255)
    dynamic_key: int = 0
    cache_key: str | None = None
    upstream: list[uuid.UUID] = []
    tags: list[str] = []
    created: datetime


class StateEvent(BaseModel):
    kind: Literal["state"] = "state"
    run_id: uuid.UUID
    is_task: bool
    state: StateIn
    run_count: int = 0
    result_ref: str | None = None


class LogEvent(LogIn):
    kind: Literal["log"] = "log"
    timestamp: datetime


WireEvent = Annotated[FlowRunEvent | TaskRunEvent | StateEvent | LogEvent,
                      Field(discriminator="kind")]


class EventBatch(BaseModel):
    """Many run events in one request: how the ApiRecorder reports runs to the server."""

    events: list[WireEvent] = Field(..., max_length=10_000)


def event_to_wire(event: Event) -> FlowRunEvent | TaskRunEvent | StateEvent | LogEvent:
    if isinstance(event, StateChanged):
        return StateEvent(run_id=event.run_id, is_task=event.is_task,
                          state=StateIn.from_state(event.state), run_count=event.run_count,
                          result_ref=event.result_ref)
    if isinstance(event, LogRecorded):
        return LogEvent(flow_run_id=event.flow_run_id, task_run_id=event.task_run_id,
                        level=event.level, logger=event.logger, message=event.message,
                        timestamp=event.timestamp)
    if isinstance(event, TaskRunCreated):
        return TaskRunEvent(id=event.id, flow_run_id=event.flow_run_id, task_key=event.task_key,
                            name=event.name, dynamic_key=event.dynamic_key,
                            cache_key=event.cache_key, upstream=event.upstream, tags=event.tags,
                            created=event.created)
    return FlowRunEvent(id=event.id, flow_name=event.flow_name, name=event.name,
                        parameters=event.parameters, parent_flow_run_id=event.parent_flow_run_id,
                        parent_task_run_id=event.parent_task_run_id, tags=event.tags,
                        deployment_id=event.deployment_id, created=event.created)


def wire_to_event(wire: FlowRunEvent | TaskRunEvent | StateEvent | LogEvent) -> Event:
    if isinstance(wire, StateEvent):
        return StateChanged(wire.run_id, wire.is_task, wire.state.to_state(), wire.run_count,
                            wire.result_ref)
    if isinstance(wire, LogEvent):
        return LogRecorded(wire.flow_run_id, wire.task_run_id, wire.level, wire.logger,
                           wire.message, wire.timestamp)
    if isinstance(wire, TaskRunEvent):
        return TaskRunCreated(wire.id, wire.flow_run_id, wire.task_key, wire.name,
                              wire.dynamic_key, wire.cache_key, list(wire.upstream),
                              list(wire.tags), wire.created)
    return FlowRunCreated(wire.id, wire.flow_name, wire.name, dict(wire.parameters),
                          wire.parent_flow_run_id, wire.parent_task_run_id, list(wire.tags),
                          wire.deployment_id, wire.created)


class Page(BaseModel, Generic[T]):
    """One page of a listing and how many items match in all."""

    items: list[T]
    total: int
    limit: int
    offset: int
