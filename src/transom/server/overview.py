"""The /api routes of the overviews the web UI shows, for anyone: flow runs counted by state for
a window, the runs that ended per time bucket, a run's compact timeline of its task runs, and a
run's log lines as server-sent events (resumable with Last-Event-ID). Each a thin adapter over
the backend's operation, which the pages call too; the stream is server/tail.py's, the pages'
live tail's."""

from __future__ import annotations

import gzip
import json
import uuid
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response, StreamingResponse

from transom.fields import INT32, Timestamp
from transom.schemas import (
    FlowRunCounts,
    FlowRunHistory,
    FlowRunRead,
    FlowRunTimeline,
    LogLine,
)
from transom.server.routes import ERRORS, Api
from transom.server.tail import LogId, resume_from, tail

__all__ = ["MAX_SPAN", "EventStream", "compact_json", "router"]

MAX_SPAN = 10**10
"""The longest window asked for by its span, in seconds (some 300 years)."""
MAX_BUCKET = 366 * 86400
"""The largest bucket of a history, in seconds (a year)."""

# Registered before routes.py's: its /flow_runs/{run_id} would take /flow_runs/counts.
router = APIRouter(responses=ERRORS, tags=["flow runs"])

Since = Annotated[Timestamp | None, Query(description=(
    "The window's start (ISO 8601; UTC when no zone is given); else `until` less `span`."))]
Until = Annotated[Timestamp | None, Query(description="The window's end; now unless given.")]
Span = Annotated[int | None, Query(ge=1, le=MAX_SPAN, description=(
    "The window's length in seconds, when `since` is not given (24 hours unless given)."))]


def _window(span: int | None) -> timedelta | None:
    return timedelta(seconds=span) if span is not None else None


@router.get("/flow_runs/counts")
def flow_run_counts(api: Api, since: Since = None, until: Until = None,
                    span: Span = None) -> FlowRunCounts:
    """The flow runs created in a window, by state type, in one query: what the dashboard
    counts. 400 for a window that ends before it starts, or both `since` and `span`."""
    return api.flow_run_counts(since=since, until=until, span=_window(span))


@router.get("/flow_runs/history")
def flow_run_history(
    api: Api, since: Since = None, until: Until = None, span: Span = None,
    bucket: Annotated[int, Query(ge=1, le=MAX_BUCKET, description=(
        "Each bucket's length in seconds; buckets are aligned to the Unix epoch in UTC."))] = 3600,
) -> FlowRunHistory:
    """The runs that ended (Completed, Failed, Crashed, Cancelled) in a window, counted per time
    bucket and final state type, in one query: the dashboard's chart. At most 1000 buckets
    (400 for more)."""
    return api.flow_run_history(since=since, until=until, span=_window(span),
                                bucket=timedelta(seconds=bucket))


def compact_json(request: Request, data: Any) -> Response:
    """`data` as compact JSON, gzipped when the client takes it and it is worth it (a timeline
    of 10,000 task runs is a few hundred kB, a tenth of that gzipped)."""
    body = json.dumps(data, separators=(",", ":")).encode()
    headers = {"Cache-Control": "no-store", "Vary": "Accept-Encoding",
               "X-Content-Type-Options": "nosniff"}
    if len(body) > 1024 and "gzip" in request.headers.get("accept-encoding", ""):
        body = gzip.compress(body, 6)
        headers["Content-Encoding"] = "gzip"
    return Response(body, headers=headers, media_type="application/json")


@router.get("/flow_runs/{run_id}/timeline", response_model=FlowRunTimeline,
            tags=["task runs"])
def flow_run_timeline(run_id: uuid.UUID, request: Request, api: Api) -> Response:
    """The run's task runs laid out for a timeline (Gantt): a row per task key, overlapping
    runs in lanes, times in ms from the first start; what the run's page draws."""
    return compact_json(request, api.flow_run_timeline(run_id))


class EventStream(StreamingResponse):
    media_type = "text/event-stream"


def _json_line(line: LogLine, names: dict[uuid.UUID, str]) -> str:
    return line.model_dump_json()


def _end(run: FlowRunRead) -> str:
    return json.dumps({"flow_run_id": str(run.id), "state_type": run.state_type.value
                       if run.state_type else None, "state_name": run.state_name})


# The route's own media type is the stream's; its error answers are JSON, as everywhere.
_JSON_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"description": error["description"], "content": {"application/json": {
        "schema": {"$ref": f"#/components/schemas/{error['model'].__name__}"}}}}
    for status, error in ERRORS.items()}


# One event of the stream, as OpenAPI 3.2 describes server-sent events (the fields of an event,
# each a string but `retry`); the first, `retry` alone, sets the reconnection delay.
_EVENT: dict[str, Any] = {"type": "object", "properties": {
    "event": {"type": "string", "enum": ["line", "end", "gone"]},
    "id": {"type": "string", "pattern": "^[0-9]+$"},
    "data": {"type": "string"},
    "retry": {"type": "integer", "minimum": 0}}}


@router.get("/flow_runs/{run_id}/logs/stream", tags=["logs"], response_class=EventStream,
            responses={**_JSON_ERRORS, 200: {"description": (
                "Server-sent events: `line` (id: the line's id; data: a LogLine as JSON), then "
                "`end` (data: the run's final state as JSON) once the run is final and every "
                "line was sent; `gone` if the run is deleted meanwhile."),
                "content": {"text/event-stream": {"schema": _EVENT}}}})
async def flow_run_log_stream(
    run_id: uuid.UUID, request: Request, api: Api,
    after_id: Annotated[int, Query(ge=0, le=INT32, description=(
        "Only lines written after the line with this id."))] = 0,
    # Not nullable: a header has no null (a client would send the text "null").
    last_event_id: Annotated[LogId, Header(description=(
        "Sent by a reconnecting EventSource: the id of the last line it had; the stream "
        "goes on after it (or after `after_id`, whichever is later)."))] = "",
) -> Response:
    """A flow run's log lines and its task runs', as they are written, in the order written:
    server-sent events of JSON lines, ended once the run is final and all was sent. 404 at
    once for an unknown run."""
    start = resume_from(after_id, last_event_id)
    run = await run_in_threadpool(api.read_flow_run, run_id)
    return EventStream(tail(api, run.id, start, request, _json_line, end=_end),
                       headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
