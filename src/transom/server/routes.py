"""The /api routes: each one a thin call into `store/` with a connection or a transaction."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.engine import Connection

from transom import __version__
from transom.core.states import StateType
from transom.schemas import (
    EventBatch,
    FlowRead,
    FlowRunCreate,
    FlowRunRead,
    LogIn,
    LogLine,
    Page,
    StateIn,
    StateRecord,
    TaskRunRead,
    wire_to_event,
)
from transom.store import Database, queries, runs
from transom.store.database import WriteWouldWait
from transom.store.sink import unwritten, write_events

router = APIRouter()


async def _db(request: Request) -> Database:
    # async: FastAPI calls it in the event loop; a plain def would cost a trip through the
    # thread pool on every request before the handler's own.
    db: Database = request.app.state.db
    return db


def read_conn(db: Annotated[Database, Depends(_db)]) -> Iterator[Connection]:
    with db.read() as conn:
        yield conn


Reader = Annotated[Connection, Depends(read_conn)]
# Writes open their transaction inside the handler, never in a yield dependency: FastAPI runs a
# dependency's exit after the response is sent, and a client must not hear 201 before the commit.
DB = Annotated[Database, Depends(_db)]
Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0)]


@router.get("/health", tags=["server"])
def health(conn: Reader) -> dict[str, str]:
    """The server is up and its database answers."""
    queries.ping(conn)
    return {"status": "ok", "database": conn.dialect.name}


@router.get("/version", tags=["server"])
def version() -> dict[str, str]:
    return {"version": __version__, "api": "1"}


@router.get("/flows", tags=["flows"])
def list_flows(conn: Reader, limit: Limit = 100, offset: Offset = 0) -> list[FlowRead]:
    return queries.list_flows(conn, limit=limit, offset=offset)


@router.post("/flow_runs", status_code=status.HTTP_201_CREATED, tags=["flow runs"],
             response_model=FlowRunRead)
async def create_flow_run(body: FlowRunCreate, db: DB) -> Response:
    known = db.flow_ids
    flow_ids = {body.flow_name: known[body.flow_name]} if body.flow_name in known else {}

    def create() -> FlowRunRead:
        with db.write() as conn:
            return runs.create_flow_run(conn, body, flow_ids)

    # The busiest write of the API. On SQLite, when nothing holds the write lock, it is done
    # right here in the event loop (a fraction of a millisecond): cheaper than the thread pool
    # trip, which costs as much again. Otherwise, or on PostgreSQL, in a thread as usual.
    try:
        with db.write_now() as conn:
            run = runs.create_flow_run(conn, body, flow_ids)
    except WriteWouldWait:
        run = await run_in_threadpool(create)
    known.update(flow_ids)  # committed now
    # Serialised once by pydantic, not validated again by FastAPI.
    return Response(run.model_dump_json(), status_code=status.HTTP_201_CREATED,
                    media_type="application/json")


@router.get("/flow_runs", tags=["flow runs"])
def list_flow_runs(
    conn: Reader,
    flow: Annotated[str | None, Query(description="Only runs of this flow.")] = None,
    state: Annotated[StateType | None, Query(description="Only runs in this state type.")] = None,
    since: Annotated[datetime | None, Query(description="Only runs created at or after this time.")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[FlowRunRead]:
    items = queries.list_flow_runs(conn, flow_name=flow, state=state, since=since, limit=limit,
                                   offset=offset)
    total = queries.count_flow_runs(conn, flow_name=flow, state=state, since=since)
    return Page[FlowRunRead](items=items, total=total, limit=limit, offset=offset)


@router.get("/flow_runs/{run_id}", tags=["flow runs"])
def read_flow_run(run_id: str, conn: Reader) -> FlowRunRead:
    """A flow run by id, or by a unique prefix of its id."""
    return queries.read_flow_run(conn, run_id)


@router.post("/flow_runs/{run_id}/set_state", status_code=status.HTTP_201_CREATED,
             tags=["flow runs"])
def set_flow_run_state(run_id: uuid.UUID, body: StateIn, db: DB) -> StateRecord:
    """Propose a state; 409 with the reason if the transition table forbids it."""
    with db.write() as conn:
        runs.set_run_state(conn, run_id, body)
        return queries.list_states(conn, flow_run_id=run_id)[-1]


@router.post("/flow_runs/{run_id}/cancel", status_code=status.HTTP_201_CREATED,
             tags=["flow runs"])
def cancel_flow_run(run_id: uuid.UUID, db: DB,
                    message: Annotated[str | None, Body(embed=True)] = None) -> StateRecord:
    """Cancel: a running run goes to Cancelling (its worker stops it), others to Cancelled."""
    with db.write() as conn:
        runs.cancel_flow_run(conn, run_id, message=message)
        return queries.list_states(conn, flow_run_id=run_id)[-1]


@router.get("/flow_runs/{run_id}/states", tags=["flow runs"])
def flow_run_states(run_id: uuid.UUID, conn: Reader) -> list[StateRecord]:
    queries.read_flow_run(conn, run_id)
    return queries.list_states(conn, flow_run_id=run_id)


@router.get("/flow_runs/{run_id}/task_runs", tags=["task runs"])
def flow_run_task_runs(run_id: uuid.UUID, conn: Reader) -> list[TaskRunRead]:
    queries.read_flow_run(conn, run_id)
    return queries.list_task_runs(conn, run_id)


@router.get("/flow_runs/{run_id}/logs", tags=["logs"])
def flow_run_logs(run_id: uuid.UUID, conn: Reader, limit: Limit = 200,
                  offset: Offset = 0) -> Page[LogLine]:
    """A flow run's log lines and its task runs', oldest first."""
    queries.read_flow_run(conn, run_id)
    lines = queries.list_logs(conn, run_id, limit=limit, offset=offset)
    total = queries.count_logs(conn, run_id)
    return Page[LogLine](items=lines, total=total, limit=limit, offset=offset)


@router.get("/task_runs/{task_run_id}", tags=["task runs"])
def read_task_run(task_run_id: uuid.UUID, conn: Reader) -> TaskRunRead:
    return queries.read_task_run(conn, task_run_id)


@router.get("/task_runs/{task_run_id}/states", tags=["task runs"])
def task_run_states(task_run_id: uuid.UUID, conn: Reader) -> list[StateRecord]:
    queries.read_task_run(conn, task_run_id)
    return queries.list_states(conn, task_run_id=task_run_id)


@router.post("/task_runs/{task_run_id}/set_state", status_code=status.HTTP_201_CREATED,
             tags=["task runs"])
def set_task_run_state(task_run_id: uuid.UUID, body: StateIn, db: DB) -> StateRecord:
    with db.write() as conn:
        runs.set_run_state(conn, task_run_id, body, is_task=True)
        return queries.list_states(conn, task_run_id=task_run_id)[-1]


@router.post("/logs", status_code=status.HTTP_201_CREATED, tags=["logs"])
def write_logs(lines: Annotated[list[LogIn], Body(max_length=10_000)], db: DB) -> dict[str, int]:
    """Write many log lines in one request."""
    with db.write() as conn:
        return {"written": runs.write_logs(conn, lines)}


@router.post("/events", status_code=status.HTTP_201_CREATED, tags=["events"])
def write_run_events(batch: EventBatch, db: DB) -> dict[str, int]:
    """Runs, states and logs in one batch: how flows report through the API (ApiRecorder)."""
    events = [wire_to_event(e) for e in batch.events]
    with db.write() as conn:
        if batch.resent:
            events = unwritten(conn, events)
        write_events(conn, events)
    return {"written": len(events)}
