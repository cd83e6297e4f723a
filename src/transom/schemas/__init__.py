"""The wire and read models: the one schema shared by the store, the CLI, the server and the
client (never a second copy). Runs, events, deployments, work pools and workers are here;
variables and artifacts in `objects.py`, blocks in `blocks.py`, concurrency limits in `concurrency.py`; every name is imported from `transom.schemas`."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from transom.core.recorder import (
    Event,
    FlowRunCreated,
    LogRecorded,
    ProcessHeartbeat,
    ProcessInfo,
    StateChanged,
    TaskRunCreated,
)
from transom.core.states import ErrorInfo, State, StateType, now_utc, run_duration
from transom.core.storable import storable_json
from transom.fields import INT32, Count, Flag, JsonInteger, Seconds, Text, Timestamp
from transom.schedules import MAX_INTERVAL, MIN_PERIOD
from transom.schemas._base import _Model
from transom.schemas.blocks import (
    MAX_BLOCK_DATA,
    OBFUSCATED,
    BlockDocumentCreate,
    BlockDocumentRead,
    BlockTypeIn,
    BlockTypeRead,
    resolve_path,
)
from transom.schemas.concurrency import (
    ConcurrencyLeaseRead,
    ConcurrencyLimitCreate,
    ConcurrencyLimitRead,
    ConcurrencyLimitUpdate,
    LeaseRenew,
    LimitUsage,
    SlotsAcquire,
    SlotsAnswer,
)
from transom.schemas.errors import (
    ErrorBody,
    ValidationErrorBody,
    ValidationErrorItem,
    first_error,
)
from transom.schemas.objects import (
    MAX_ARTIFACT,
    MAX_RUN_INPUT,
    MAX_VARIABLE_NAME,
    MAX_VARIABLE_VALUE,
    ArtifactCreate,
    ArtifactRead,
    ArtifactType,
    ArtifactUpdate,
    PauseCreate,
    PauseRead,
    ResumeIn,
    VariableCreate,
    VariableRead,
    check_json_schema,
)
from transom.schemas.overview import (
    MAX_BUCKETS,
    FlowRunCounts,
    FlowRunHistory,
    FlowRunTimeline,
    HistoryBucket,
)
from transom.schemas.paging import CURSOR_PATTERN, Page, RunCursor

__all__ = [
    "CURSOR_PATTERN",
    "MAX_ARTIFACT",
    "MAX_BLOCK_DATA",
    "MAX_BUCKETS",
    "MAX_LOG_LINE",
    "MAX_RUN_INPUT",
    "MAX_VARIABLE_NAME",
    "MAX_VARIABLE_VALUE",
    "OBFUSCATED",
    "ArtifactCreate",
    "ArtifactRead",
    "ArtifactType",
    "ArtifactUpdate",
    "BlockDocumentCreate",
    "BlockDocumentRead",
    "BlockTypeIn",
    "BlockTypeRead",
    "ClaimedRun",
    "ConcurrencyLeaseRead",
    "ConcurrencyLimitCreate",
    "ConcurrencyLimitRead",
    "ConcurrencyLimitUpdate",
    "DeploymentCreate",
    "DeploymentRead",
    "DeploymentRunCreate",
    "DeploymentUpdate",
    "ErrorBody",
    "ErrorIn",
    "EventBatch",
    "FlowRead",
    "FlowRunCounts",
    "FlowRunCreate",
    "FlowRunEvent",
    "FlowRunHistory",
    "FlowRunRead",
    "FlowRunTimeline",
    "HistoryBucket",
    "LeaseRenew",
    "LimitUsage",
    "LogEvent",
    "LogIn",
    "LogLine",
    "LogOffset",
    "Page",
    "PauseCreate",
    "PauseRead",
    "PollResult",
    "ResumeIn",
    "RunCursor",
    "ScheduleIn",
    "ScheduleRead",
    "SlotsAcquire",
    "SlotsAnswer",
    "StateEvent",
    "StateIn",
    "StateRecord",
    "TaskRunEvent",
    "TaskRunRead",
    "ValidationErrorBody",
    "ValidationErrorItem",
    "VariableCreate",
    "VariableRead",
    "WorkPoolCreate",
    "WorkPoolRead",
    "WorkPoolUpdate",
    "WorkerPoll",
    "WorkerRead",
    "event_to_wire",
    "first_error",
    "resolve_path",
    "wire_to_event",
]


# What runs record is repaired, never refused, as the engine's own reports are
# (core/storable.py): NUL and lone surrogates in their text, NaN in their parameters. What
# configures (deployments, work pools, workers) is refused instead: `Text`, a 422 naming it.
Parameters = Annotated[dict[str, Any], AfterValidator(storable_json)]
"""A run's parameters: any JSON, repaired as a recorded run's are."""
Tags = Annotated[list[Annotated[Text, Field(max_length=255)]], Field(max_length=1000)]
"""A deployment's tags."""


def _kind_required(schema: dict[str, Any]) -> None:
    # The events' union is told apart by `kind`: Python callers may leave it out (it has the
    # event's default), but on the wire it is required.
    schema["required"] = [*schema.get("required", []), "kind"]


_EVENT = ConfigDict(json_schema_extra=_kind_required)


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
    def state(self) -> State[Any] | None:
        """The run's state as a State, as Prefect's `flow_run.state` (`.is_completed()`,
        `.type`, `.name`, `.message`); the result and exception stay with the run's process."""
        if self.state_type is None:
            return None
        return State(self.state_type, self.state_name or self.state_type.value.title(),
                     timestamp=self.state_timestamp or self.updated, message=self.state_message,
                     run_id=self.id)

    @property
    def duration(self) -> float | None:
        """Seconds from start to end; for a run still going, until now if it is running (or
        being cancelled), else until its last state (e.g. while it waits to retry)."""
        return run_duration(self.start_time, self.end_time, self.state_type,
                            self.state_timestamp)


class FlowRunRead(_RunFields):
    flow_id: uuid.UUID
    flow_name: str
    parameters: dict[str, Any] = {}
    parent_flow_run_id: uuid.UUID | None = None
    parent_task_run_id: uuid.UUID | None = None
    deployment_id: uuid.UUID | None = None
    expected_start_time: datetime | None = None
    task_run_count: int = 0
    work_pool_id: uuid.UUID | None = None
    work_queue_name: str | None = None
    worker_id: uuid.UUID | None = None


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


class LogOffset(_Model):
    offset: int | None = Field(description="How many of the run's lines come before its first "
                                           "one at the level asked for; null if none is.")


# -- writes: what clients send (the ApiRecorder, `transom` commands, anyone with curl) ---------
class ErrorIn(BaseModel):
    """The exception a failed run recorded: its class, message and traceback."""

    model_config = ConfigDict(extra="forbid")

    type: Annotated[str, Field(max_length=1024)]
    message: str = ""
    traceback: str = ""


class StateIn(BaseModel):
    """A state to propose for a run. `force` skips the transition rules (operators only)."""

    model_config = ConfigDict(extra="forbid")

    type: StateType
    name: Annotated[str, Field(max_length=32)] | None = None
    message: str | None = None
    timestamp: Timestamp | None = None
    scheduled_time: Timestamp | None = None
    error: ErrorIn | None = None
    force: Flag = Field(default=False, description="Skip the transition table (an operator's override).")
    worker_id: uuid.UUID | None = Field(
        default=None, description="The worker reporting this state: refused (409 ClaimLost) when "
                          "another worker holds the run, or none does.")

    def to_state(self) -> State:
        info = ErrorInfo(**self.error.model_dump()) if self.error else None
        return State(self.type, self.name or self.type.value.title(),
                     timestamp=self.timestamp or now_utc(), message=self.message, error=info,
                     scheduled_time=self.scheduled_time)

    @classmethod
    def from_state(cls, state: State) -> StateIn:
        return cls(type=state.type, name=state.name, message=state.message,
                   timestamp=state.timestamp, scheduled_time=state.scheduled_time,
                   error=ErrorIn(**state.error.to_dict()) if state.error else None)


class FlowRunCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    flow_name: Annotated[str, Field(min_length=1, max_length=255)]
    name: Annotated[str, Field(max_length=255)] | None = None
    parameters: Parameters = {}
    tags: list[str] = []
    parent_flow_run_id: uuid.UUID | None = None
    parent_task_run_id: uuid.UUID | None = None
    state: StateIn | None = None


MAX_LOG_LINE = 65_536
"""The longest log message stored, in characters: a longer one is cut, with a marker."""


def _cap_log_line(message: str) -> str:
    if len(message) <= MAX_LOG_LINE:
        return message
    cut = len(message) - MAX_LOG_LINE
    return f"{message[:MAX_LOG_LINE]}... [{cut} more characters cut: a log line holds at most " \
           f"{MAX_LOG_LINE}]"


class LogIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    flow_run_id: uuid.UUID | None = None
    task_run_id: uuid.UUID | None = None
    level: Annotated[int, Field(ge=0, le=100), JsonInteger]
    logger: Annotated[str, Field(max_length=255)] = "transom"
    message: Annotated[str, AfterValidator(_cap_log_line)]
    timestamp: Timestamp | None = None


class ProcessIn(BaseModel):
    """The process that runs a flow run (it heart-beats while it lives)."""

    instance: uuid.UUID
    pid: Count
    hostname: Annotated[str, Field(max_length=255)]


class HeartbeatEvent(BaseModel):
    model_config = _EVENT

    kind: Literal["heartbeat"] = "heartbeat"
    process: ProcessIn
    timestamp: Timestamp


class FlowRunEvent(BaseModel):
    model_config = _EVENT

    kind: Literal["flow_run"] = "flow_run"
    id: uuid.UUID
    flow_name: Annotated[str, Field(min_length=1, max_length=255)]
    name: Annotated[str, Field(max_length=255)]
    parameters: Parameters = {}
    parent_flow_run_id: uuid.UUID | None = None
    parent_task_run_id: uuid.UUID | None = None
    tags: list[str] = []
    deployment_id: uuid.UUID | None = None
    created: Timestamp
    process: ProcessIn | None = None


class TaskRunEvent(BaseModel):
    model_config = _EVENT

    kind: Literal["task_run"] = "task_run"
    id: uuid.UUID
    flow_run_id: uuid.UUID | None = None
    task_key: Annotated[str, Field(max_length=512)]
    name: Annotated[str, Field(max_length=255)]
    dynamic_key: Count = 0
    cache_key: Annotated[str, Field(max_length=255)] | None = None
    upstream: list[uuid.UUID] = []
    tags: list[str] = []
    created: Timestamp


class StateEvent(BaseModel):
    model_config = _EVENT

    kind: Literal["state"] = "state"
    run_id: uuid.UUID
    is_task: Flag
    state: StateIn
    run_count: Count = 0
    result_ref: str | None = None


class LogEvent(LogIn):
    model_config = ConfigDict(extra="forbid", json_schema_extra=_kind_required)

    kind: Literal["log"] = "log"
    timestamp: Timestamp


WireEvent = Annotated[FlowRunEvent | TaskRunEvent | StateEvent | LogEvent | HeartbeatEvent,
                      Field(discriminator="kind")]


class EventBatch(BaseModel):
    """Many run events in one request: how the ApiRecorder reports runs to the server."""

    events: list[WireEvent] = Field(..., max_length=10_000)
    resent: Flag = Field(False, description=(
        "Some of these events may be stored already: an earlier send failed without an answer "
        "(the server may have written them before it went away). The server skips the states "
        "and log lines it has, so a resend never records one twice."))


def event_to_wire(event: Event) -> FlowRunEvent | TaskRunEvent | StateEvent | LogEvent | \
        HeartbeatEvent:
    if isinstance(event, StateChanged):
        state = StateIn.from_state(event.state)
        if event.force:
            state = state.model_copy(update={"force": True})
        return StateEvent(run_id=event.run_id, is_task=event.is_task, state=state,
                          run_count=event.run_count, result_ref=event.result_ref)
    if isinstance(event, LogRecorded):
        return LogEvent(flow_run_id=event.flow_run_id, task_run_id=event.task_run_id,
                        level=event.level, logger=event.logger, message=event.message,
                        timestamp=event.timestamp)
    if isinstance(event, TaskRunCreated):
        return TaskRunEvent(id=event.id, flow_run_id=event.flow_run_id, task_key=event.task_key,
                            name=event.name, dynamic_key=event.dynamic_key,
                            cache_key=event.cache_key, upstream=event.upstream, tags=event.tags,
                            created=event.created)
    if isinstance(event, ProcessHeartbeat):
        return HeartbeatEvent(process=_process_in(event.process), timestamp=event.timestamp)
    return FlowRunEvent(id=event.id, flow_name=event.flow_name, name=event.name,
                        parameters=event.parameters, parent_flow_run_id=event.parent_flow_run_id,
                        parent_task_run_id=event.parent_task_run_id, tags=event.tags,
                        deployment_id=event.deployment_id, created=event.created,
                        process=_process_in(event.process) if event.process else None)


def _process_in(process: ProcessInfo) -> ProcessIn:
    return ProcessIn(instance=process.instance, pid=process.pid, hostname=process.hostname)


def _process(wire: ProcessIn) -> ProcessInfo:
    return ProcessInfo(wire.instance, wire.pid, wire.hostname)


def wire_to_event(wire: FlowRunEvent | TaskRunEvent | StateEvent | LogEvent |
                  HeartbeatEvent) -> Event:
    if isinstance(wire, StateEvent):
        return StateChanged(wire.run_id, wire.is_task, wire.state.to_state(), wire.run_count,
                            wire.result_ref, force=wire.state.force)
    if isinstance(wire, LogEvent):
        return LogRecorded(wire.flow_run_id, wire.task_run_id, wire.level, wire.logger,
                           wire.message, wire.timestamp)
    if isinstance(wire, TaskRunEvent):
        return TaskRunCreated(wire.id, wire.flow_run_id, wire.task_key, wire.name,
                              wire.dynamic_key, wire.cache_key, list(wire.upstream),
                              list(wire.tags), wire.created)
    if isinstance(wire, HeartbeatEvent):
        return ProcessHeartbeat(_process(wire.process), wire.timestamp)
    return FlowRunCreated(wire.id, wire.flow_name, wire.name, dict(wire.parameters),
                          wire.parent_flow_run_id, wire.parent_task_run_id, list(wire.tags),
                          wire.deployment_id, wire.created,
                          _process(wire.process) if wire.process else None)


# -- deployments, schedules, work pools and workers --------------------------------------------
_NAME = re.compile(r"^[^/\x00-\x1f]*[^/\x00-\x1f\s][^/\x00-\x1f]*$")
"""A name: not blank, no slash (`flow/deployment` names a deployment), no control characters."""


def _check_name(value: str) -> str:
    if not value.strip():
        raise ValueError("the name is empty")
    if not _NAME.match(value):
        raise ValueError(f"{value!r} cannot be a name: it may not hold '/' or control characters")
    return value


def _refuse_nulls(data: Any, *fields: str) -> Any:
    """PATCH with `null` for a field that cannot be empty: a 422 naming it, not a database
    error (the schema says the field is not nullable)."""
    if isinstance(data, dict):
        for field in fields:
            if field in data and data[field] is None:
                raise ValueError(f"{field} cannot be null; leave it out to keep it as it is")
    return data


def _check_parameter_schema(value: dict[str, Any] | None) -> dict[str, Any] | None:
    """A parameter schema every later run of the deployment can be checked against."""
    return check_json_schema(value)


Name = Annotated[Text, Field(min_length=1, max_length=255, json_schema_extra={
    "pattern": _NAME.pattern}), AfterValidator(_check_name)]
"""A user-given name: no slash (`flow/deployment` names a deployment) and no control characters."""


def _checked(check: Any, value: Any) -> Any:
    """Run a `transom.schedules` check inside a validator: its UserInputError becomes the
    ValueError pydantic reports (as a 422 naming the field, through the API)."""
    from transom.exceptions import UserInputError

    try:
        return check(value)
    except UserInputError as exc:
        raise ValueError(str(exc)) from None


class ScheduleIn(BaseModel):
    """One schedule of a deployment: exactly one of cron, interval (seconds) or rrule."""

    model_config = ConfigDict(extra="forbid")

    cron: Annotated[Text, Field(max_length=255)] | None = None
    interval: Annotated[Seconds, Field(json_schema_extra={
        "minimum": MIN_PERIOD, "maximum": MAX_INTERVAL})] | None = None
    anchor_date: Timestamp | None = None
    rrule: Annotated[Text, Field(max_length=4096)] | None = None
    timezone: Annotated[Text, Field(max_length=64)] | None = None
    active: Flag = True

    @field_validator("interval")
    @classmethod
    def _interval(cls, value: float | None) -> float | None:
        from transom.schedules import check_interval

        return None if value is None else _checked(check_interval, value)

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        from transom.schedules import check_cron

        return None if value is None else _checked(check_cron, value)

    @field_validator("rrule")
    @classmethod
    def _rrule(cls, value: str | None) -> str | None:
        from transom.schedules import check_rrule

        return None if value is None else _checked(check_rrule, value)

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str | None) -> str | None:
        from transom.schedules import check_timezone

        return None if value is None else _checked(check_timezone, value)

    @model_validator(mode="after")
    def _one_kind(self) -> ScheduleIn:
        kinds = [k for k in ("cron", "interval", "rrule") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError("a schedule needs exactly one of cron, interval or rrule")
        return self


class ScheduleRead(_Model):
    id: uuid.UUID
    deployment_id: uuid.UUID
    cron: str | None = None
    interval: float | None = None
    anchor_date: datetime | None = None
    rrule: str | None = None
    timezone: str | None = None
    active: bool = True
    created: datetime

    def describe(self) -> str:
        from transom.schedules import Schedule

        return Schedule(self.cron, self.interval, self.anchor_date, self.rrule,
                        self.timezone).describe()


class WorkPoolCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    description: Text | None = None
    concurrency_limit: Count | None = None
    paused: Flag = False


class WorkPoolUpdate(BaseModel):
    """What PATCH changes; fields left out stay as they are (`concurrency_limit: null` removes
    the limit)."""

    model_config = ConfigDict(extra="forbid")

    description: Text | None = None
    concurrency_limit: Count | None = None
    paused: Flag = False

    @model_validator(mode="before")
    @classmethod
    def _nulls(cls, data: Any) -> Any:
        return _refuse_nulls(data, "paused")


class WorkPoolRead(_Model):
    id: uuid.UUID
    name: str
    description: str | None = None
    concurrency_limit: int | None = None
    paused: bool = False
    created: datetime
    updated: datetime
    scheduled_runs: int = 0  # waiting to be picked up, due or not
    active_runs: int = 0  # claimed by a worker and not ended
    workers_online: int = 0


class DeploymentCreate(BaseModel):
    """A deployment to create, or to replace if the flow already has one of that name."""

    model_config = ConfigDict(extra="forbid")

    flow_name: Annotated[Text, Field(min_length=1, max_length=255)]
    name: Name
    entrypoint: Annotated[Text, Field(min_length=3, max_length=4096)]
    path: Annotated[Text, Field(max_length=4096)] | None = None  # where a relative entrypoint is
    description: Text | None = None
    parameters: Parameters = {}
    parameter_schema: Annotated[dict[str, Any] | None,
                                AfterValidator(_check_parameter_schema)] = None
    work_pool: Annotated[Text, Field(max_length=255)] | None = None  # None: only `serve` runs it
    work_queue: Annotated[Text, Field(max_length=255)] | None = None
    tags: Tags = []
    paused: Flag = False
    concurrency_limit: Count | None = None
    schedules: list[ScheduleIn] = Field(default=[], max_length=100)
    # What a worker does before loading the flow (a project file's `pull:`), as Prefect writes
    # them: [{"transom.deployments.steps.git_clone": {"repository": ..., "branch": ...}}, ...]
    pull_steps: list[dict[str, dict[str, Text]]] = []
    version: Annotated[Text, Field(max_length=255)] | None = None


class DeploymentUpdate(BaseModel):
    """What PATCH changes; fields left out stay as they are."""

    model_config = ConfigDict(extra="forbid")

    description: Text | None = None
    parameters: Parameters | None = None
    work_queue: Annotated[Text, Field(max_length=255)] | None = None
    tags: Tags | None = None
    paused: Flag = False
    concurrency_limit: Count | None = None

    @model_validator(mode="before")
    @classmethod
    def _nulls(cls, data: Any) -> Any:
        return _refuse_nulls(data, "paused")


class DeploymentRead(_Model):
    id: uuid.UUID
    flow_id: uuid.UUID
    flow_name: str
    name: str
    description: str | None = None
    entrypoint: str
    path: str | None = None
    parameters: dict[str, Any] = {}
    parameter_schema: dict[str, Any] | None = None
    work_pool_id: uuid.UUID | None = None
    work_pool_name: str | None = None
    work_queue_name: str | None = None
    tags: list[str] = []
    paused: bool = False
    concurrency_limit: int | None = None
    schedules: list[ScheduleRead] = []
    pull_steps: list[dict[str, dict[str, str]]] = []
    version: str | None = None
    created: datetime
    updated: datetime

    @field_validator("pull_steps", mode="before")
    @classmethod
    def _no_steps(cls, value: Any) -> Any:
        return [] if value is None else value

    @property
    def full_name(self) -> str:
        return f"{self.flow_name}/{self.name}"

    def __repr__(self) -> str:
        # What `flow.deploy(...)` returns, shown at a prompt: the name, schedules and pool, not
        # every field (they are all still there to read).
        schedules = "; ".join(s.describe() for s in self.schedules) or "no schedule"
        where = f", work pool {self.work_pool_name!r}" if self.work_pool_name else ""
        paused = ", paused" if self.paused else ""
        return f"DeploymentRead({self.full_name!r}, {schedules}{where}{paused})"

    __str__ = __repr__


class DeploymentRunCreate(BaseModel):
    """A run of a deployment: its default parameters updated by `parameters`, Scheduled at
    `scheduled_time` (default: now), in the deployment's work queue unless `work_queue_name`
    says another. A repeated `idempotency_key` returns the first run."""

    model_config = ConfigDict(extra="forbid")

    parameters: Parameters = {}
    scheduled_time: Timestamp | None = None
    name: Annotated[Text, Field(max_length=255)] | None = None
    tags: Tags = []
    idempotency_key: Annotated[Text, Field(min_length=1, max_length=200)] | None = None
    work_queue_name: Annotated[Text, Field(min_length=1, max_length=255)] | None = None
    # The run that started it (`run_deployment` inside a flow or task): shown as its subflow.
    parent_flow_run_id: uuid.UUID | None = None
    parent_task_run_id: uuid.UUID | None = None


class WorkerPoll(BaseModel):
    """A worker's heartbeat, which also claims runs: what it runs now and how many more it takes.

    `running` lists every flow run the worker still has a process for: the server ends (or
    gives back, if it never started) any other run it had claimed for this worker.
    """

    # A worker serves a pool, or (`serve`) deployments: the service refuses one with neither.
    model_config = ConfigDict(extra="forbid", json_schema_extra={"anyOf": [
        {"required": ["work_pool"], "properties": {"work_pool": {"type": "string"}}},
        {"required": ["deployment_ids"], "properties": {"deployment_ids": {"minItems": 1}}}]})

    name: Name
    instance: uuid.UUID
    work_pool: Annotated[Text, Field(min_length=1, max_length=255)] | None = None
    # `serve`: runs of these deployments, not of a pool
    deployment_ids: list[uuid.UUID] = Field(default=[], max_length=10_000)
    # only runs of these queues (default: any)
    queues: list[Annotated[Text, Field(max_length=255)]] = Field(default=[], max_length=1000)
    running: list[uuid.UUID] = Field(default=[], max_length=10_000)
    limit: Annotated[int, Field(ge=0, le=1000), JsonInteger] = 0  # how many runs to claim now
    prefetch_seconds: Annotated[Seconds, Field(ge=0, le=3600)] = 0.0  # also runs due this soon
    hostname: Annotated[Text, Field(max_length=255)] | None = None
    pid: Count | None = None  # an INTEGER column on PostgreSQL
    run_limit: Annotated[int, Field(ge=1, le=INT32), JsonInteger] | None = None  # the worker's --limit
    stopping: Flag = False  # its last poll: it stops now, so it is offline at once


class ClaimedRun(_Model):
    """A run a worker claimed: all it needs to start it."""

    id: uuid.UUID
    name: str
    flow_name: str
    deployment_id: uuid.UUID | None = None
    deployment_name: str | None = None
    deployment_version: str | None = None
    entrypoint: str
    path: str | None = None
    pull_steps: list[dict[str, dict[str, str]]] = []
    parameters: dict[str, Any] = {}
    expected_start_time: datetime | None = None
    work_queue_name: str | None = None
    run_count: int = 0  # runs before this one (a retried or resumed run has some)

    @field_validator("pull_steps", mode="before")
    @classmethod
    def _no_steps(cls, value: Any) -> Any:
        return [] if value is None else value


class PollResult(_Model):
    worker_id: uuid.UUID
    runs: list[ClaimedRun] = []
    cancel: list[uuid.UUID] = []  # runs of this worker that are Cancelling: stop them
    pool_paused: bool = False


class WorkerRead(_Model):
    id: uuid.UUID
    name: str
    work_pool_id: uuid.UUID | None = None
    work_pool_name: str | None = None
    hostname: str | None = None
    pid: int | None = None
    run_limit: int | None = None
    last_heartbeat: datetime
    created: datetime
    online: bool = False
    active_runs: int = 0
