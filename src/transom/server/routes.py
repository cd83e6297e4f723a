"""The /api routes of recorded runs: each a thin adapter over the embedded backend's operation
(`services/`), which raises the errors the app turns into statuses (`exceptions.HTTP_STATUS`)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool

from transom._version import __version__
from transom.core.states import StateType
from transom.fields import Timestamp
from transom.schemas import (
    CURSOR_PATTERN,
    ErrorBody,
    EventBatch,
    FlowRead,
    FlowRunCreate,
    FlowRunRead,
    LogIn,
    LogLine,
    LogOffset,
    Page,
    StateIn,
    StateRecord,
    TaskRunRead,
    ValidationErrorBody,
    wire_to_event,
)
from transom.services.embedded import EmbeddedBackend
from transom.services.flow_runs import MAX_FILTER_TEXT
from transom.store import WriteWouldWait

__all__ = ["ERRORS", "Api", "Limit", "Offset", "router"]

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "A mistake in the request, in one sentence"},
    401: {"model": ErrorBody, "description": "The server needs credentials"},
    404: {"model": ErrorBody, "description": "No such run, flow, deployment, pool, variable, artifact, block or concurrency limit"},
    409: {"model": ErrorBody, "description": "A conflict with what is stored"},
    413: {"model": ErrorBody, "description": "The request body is too large"},
    415: {"model": ErrorBody, "description": "Not a JSON request"},
    422: {"model": ValidationErrorBody, "description": "The request does not match the schema"},
    503: {"model": ErrorBody, "description": "The database cannot be reached"},
}
"""Every error status a route may answer with, and its body (documented on every route)."""

router = APIRouter(responses=ERRORS)


async def _backend(request: Request) -> EmbeddedBackend:
    # async: FastAPI calls it in the event loop; a plain def would cost a trip through the
    # thread pool on every request before the handler's own.
    backend: EmbeddedBackend = request.app.state.backend
    return backend


# Writes open their transaction inside the operation, never in a yield dependency: FastAPI runs
# a dependency's exit after the response is sent, and a client must not hear 201 before the commit.
Api = Annotated[EmbeddedBackend, Depends(_backend)]
Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0, le=2**31 - 1)]
_NO_NUL = r"^[^\x00]*$"  # a NUL cannot be in a PostgreSQL string
RunRef = Annotated[str, Path(description="A flow run id, or a unique prefix of one.",
                             json_schema_extra={"pattern": "^[0-9a-fA-F-]+$"})]


@router.get("/health", tags=["server"])
def health(api: Api) -> dict[str, str]:
    """The server is up and its database answers."""
    return api.health()


@router.get("/version", tags=["server"])
def version() -> dict[str, str]:
    return {"version": __version__, "api": "1"}


@router.get("/flows", tags=["flows"])
def list_flows(api: Api, limit: Limit = 100, offset: Offset = 0) -> list[FlowRead]:
    return api.list_flows(limit=limit, offset=offset)


@router.post("/flow_runs", status_code=status.HTTP_201_CREATED, tags=["flow runs"],
             response_model=FlowRunRead)
async def create_flow_run(body: FlowRunCreate, api: Api) -> Response:
    # The busiest write of the API. On SQLite, when nothing holds the write lock, it is done
    # right here in the event loop (a fraction of a millisecond): cheaper than the thread pool
    # trip, which costs as much again. Otherwise, or on PostgreSQL, in a thread as usual.
    try:
        run = api.create_flow_run_now(body)
    except WriteWouldWait:
        run = await run_in_threadpool(api.create_flow_run, body)
    # Serialised once by pydantic, not validated again by FastAPI.
    return Response(run.model_dump_json(), status_code=status.HTTP_201_CREATED,
                    media_type="application/json")


@router.get("/flow_runs", tags=["flow runs"])
def list_flow_runs(
    api: Api,
    flow: Annotated[str | None, Query(description="Only runs of this flow.")] = None,
    state: Annotated[StateType | None, Query(description="Only runs in this state type.")] = None,
    since: Annotated[Timestamp | None,
                     Query(description="Only runs created at or after this time.")] = None,
    until: Annotated[Timestamp | None,
                     Query(description="Only runs created before this time.")] = None,
    parent: Annotated[uuid.UUID | None, Query(
        description="Only the subflow runs of this flow run.")] = None,
    deployment: Annotated[str | None, Query(
        min_length=1, max_length=511, pattern=_NO_NUL,
        description="Only runs of this deployment: its id or `flow/name` (404 if none).")] = None,
    work_pool: Annotated[str | None, Query(
        min_length=1, max_length=255, pattern=_NO_NUL,
        description="Only runs in this work pool, by name (404 if none).")] = None,
    tag: Annotated[str | None, Query(min_length=1, max_length=MAX_FILTER_TEXT, pattern=_NO_NUL,
                                     description="Only runs carrying this tag.")] = None,
    prefix: Annotated[str | None, Query(
        min_length=1, max_length=MAX_FILTER_TEXT, pattern=_NO_NUL,
        description="Only runs whose name starts with this (any case), or whose id does.")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
    after: Annotated[str | None, Query(pattern=CURSOR_PATTERN, description=(
        "Keyset paging: a page's next_cursor, for the runs after it (older).")),] = None,
    before: Annotated[str | None, Query(pattern=CURSOR_PATTERN, description=(
        "Keyset paging: a page's prev_cursor, for the runs before it (newer).")),] = None,
) -> Page[FlowRunRead]:
    """Newest first, every filter given at once. Page through a long list with the cursors, not
    offset: a cursor page costs the same at the end of the list as at its start, and a cursor
    stays valid with the filters it was got with."""
    return api.list_flow_runs(flow_name=flow, state=state, since=since, until=until,
                              limit=limit, offset=offset, after=after, before=before,
                              parent_flow_run_id=parent, deployment=deployment,
                              work_pool=work_pool, tag=tag, prefix=prefix)


@router.get("/flow_runs/{run_id}", tags=["flow runs"])
def read_flow_run(run_id: RunRef, api: Api) -> FlowRunRead:
    """A flow run by id, or by a unique prefix of its id."""
    return api.read_flow_run(run_id)


@router.post("/flow_runs/{run_id}/set_state", status_code=status.HTTP_201_CREATED,
             tags=["flow runs"])
def set_flow_run_state(run_id: uuid.UUID, body: StateIn, api: Api) -> StateRecord:
    """Propose a state; 409 with the reason if the transition table forbids it."""
    return api.set_flow_run_state(run_id, body)


# Its body is optional to FastAPI but required by the server (a write is JSON, server/guards.py):
# `{}` cancels without a message.
@router.post("/flow_runs/{run_id}/cancel", status_code=status.HTTP_201_CREATED,
             tags=["flow runs"], openapi_extra={"requestBody": {"required": True}})
def cancel_flow_run(run_id: RunRef, api: Api,
                    message: Annotated[str | None, Body(embed=True)] = None) -> StateRecord:
    """Cancel (by id or a unique prefix of one): a running run goes to Cancelling (its process
    is told to stop), others to Cancelled."""
    return api.cancel_flow_run(run_id, message)


# As cancel's, its body is required by the server (a write is JSON): `{}`.
@router.post("/flow_runs/{run_id}/retry", status_code=status.HTTP_201_CREATED,
             tags=["flow runs"], openapi_extra={"requestBody": {"required": True}},
             responses={409: {"model": ErrorBody, "description": (
                 "The run has not ended Failed, Crashed or Cancelled, or it is not a run of a "
                 "deployment (no worker could run it again)")}})
def retry_flow_run(run_id: RunRef, api: Api,
                   body: Annotated[dict[str, Any] | None, Body(
                       description="`{}`: a retry takes no options.")] = None) -> StateRecord:
    """Retry an ended deployment run (by id or a unique prefix of one), the same run: it goes
    Scheduled (AwaitingRetry) now, a worker of its deployment's pool runs it again, and its
    run_count goes up. Its tasks whose results were persisted are not run again (their cache
    keys hold the flow run's id, the same on a retry)."""
    return api.retry_flow_run(run_id)


@router.delete("/flow_runs/{run_id}", tags=["flow runs"])
def delete_flow_run(run_id: RunRef, api: Api) -> FlowRunRead:
    """Delete a flow run (by id or a unique prefix) that is not going on, with its states, task
    runs and logs; returns what was deleted (409 for one that runs: cancel it first)."""
    return api.delete_flow_run(run_id)


@router.get("/flow_runs/{run_id}/states", tags=["flow runs"])
def flow_run_states(run_id: uuid.UUID, api: Api) -> list[StateRecord]:
    return api.flow_run_states(run_id)


@router.get("/flow_runs/{run_id}/task_runs", tags=["task runs"])
def flow_run_task_runs(run_id: uuid.UUID, api: Api) -> list[TaskRunRead]:
    return api.flow_run_task_runs(run_id)


LogLevel = Annotated[int, Query(ge=0, le=100, description="Only lines at this level or above "
                                "(10 DEBUG, 20 INFO, 30 WARNING, 40 ERROR, 50 CRITICAL).")]


@router.get("/flow_runs/{run_id}/logs", tags=["logs"])
def flow_run_logs(
    run_id: uuid.UUID, api: Api, limit: Limit = 200, offset: Offset = 0,
    level: LogLevel | None = None,
    task_run_id: Annotated[uuid.UUID | None, Query(description="Only this task run's lines.")] = None,
    q: Annotated[str | None, Query(min_length=1, max_length=200, pattern=r"^[^\x00]*$",
                                   description="Only lines holding this text (any case).")] = None,
    after_id: Annotated[int | None, Query(ge=0, le=2**31 - 1, description=(
        "Only lines written after the line with this id, in the order written: a live tail."
    ))] = None,
    task_key: Annotated[str | None, Query(min_length=1, max_length=512, pattern=r"^[^\x00]*$",
                                          description="Only the lines of this task's runs "
                                                      "(its task key, e.g. a mapped task's)."
                                          )] = None,
) -> Page[LogLine]:
    """A flow run's log lines and its task runs', oldest first, optionally filtered."""
    return api.flow_run_logs(run_id, limit=limit, offset=offset, min_level=level,
                             task_run_id=task_run_id, text=q, after_id=after_id,
                             task_key=task_key)


@router.get("/flow_runs/{run_id}/logs/first", tags=["logs"])
def flow_run_log_offset(run_id: uuid.UUID, api: Api,
                        level: Annotated[int, Query(ge=0, le=100)] = 40) -> LogOffset:
    """Where a flow run's first line at `level` or above is in its logs (jump to first error)."""
    return LogOffset(offset=api.flow_run_log_offset(run_id, min_level=level))


@router.get("/task_runs/{task_run_id}", tags=["task runs"])
def read_task_run(task_run_id: uuid.UUID, api: Api) -> TaskRunRead:
    return api.read_task_run(task_run_id)


@router.get("/task_runs/{task_run_id}/states", tags=["task runs"])
def task_run_states(task_run_id: uuid.UUID, api: Api) -> list[StateRecord]:
    return api.task_run_states(task_run_id)


@router.post("/task_runs/{task_run_id}/set_state", status_code=status.HTTP_201_CREATED,
             tags=["task runs"])
def set_task_run_state(task_run_id: uuid.UUID, body: StateIn, api: Api) -> StateRecord:
    return api.set_task_run_state(task_run_id, body)


@router.post("/logs", status_code=status.HTTP_201_CREATED, tags=["logs"])
def write_logs(lines: Annotated[list[LogIn], Body(max_length=10_000)], api: Api) -> dict[str, int]:
    """Write many log lines in one request."""
    return {"written": api.write_logs(lines)}


@router.post("/events", status_code=status.HTTP_201_CREATED, tags=["events"])
def write_run_events(batch: EventBatch, api: Api) -> dict[str, int]:
    """Runs, states and logs in one batch: how flows report through the API. States the
    transition table refuses are left out; `written` counts what was stored."""
    events = [wire_to_event(e) for e in batch.events]
    return {"written": api.send_events(events, resent=batch.resent)}
