"""The web UI's pages of recorded runs: the flow run list, a flow run, a task run. Each route
is a thin adapter over the backend's operations (`app.state.backend`, the same ones the /api
routes call). Everything shown is escaped by Jinja2's autoescape."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from transom.core.states import StateType
from transom.exceptions import NotFound, UserInputError
from transom.server.routes import Api
from transom.server.ui.assets import IMMUTABLE
from transom.server.ui.render import assets, error_page, render

__all__ = ["LOG_PAGE", "TASK_RUNS_SHOWN", "router"]

LOG_PAGE = 200
"""Log lines on one page of a run's logs."""
TASK_RUNS_SHOWN = 200
"""Task runs listed on a run's page unless all are asked for (a big run has thousands)."""
TASK_LOGS_SHOWN = 1000
"""A task run's log lines shown on its page."""

router = APIRouter(include_in_schema=False)
_ENDED_BADLY = (StateType.FAILED, StateType.CRASHED)


@router.get("/static/{name}")
def static(name: str, request: Request) -> Response:
    asset = assets.by_name.get(name)
    if asset is None:
        return Response("no such file", status_code=404, media_type="text/plain")
    headers = {"Cache-Control": IMMUTABLE, "Vary": "Accept-Encoding",
               "X-Content-Type-Options": "nosniff"}
    body = asset.body
    if "gzip" in request.headers.get("accept-encoding", ""):
        body = asset.gzipped
        headers["Content-Encoding"] = "gzip"
    return Response(body, headers=headers, media_type=asset.media_type)


@router.get("/runs")
def runs(
    request: Request, api: Api,
    state: Annotated[str | None, Query(max_length=20)] = None,
    flow: Annotated[str | None, Query(max_length=200)] = None,
    after: Annotated[str | None, Query(max_length=64)] = None,
    before: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Response:
    """The flow runs, newest first, keyset-paged; the filters are in the URL."""
    kind = StateType(state.upper()) if state and state.upper() in StateType.__members__ else None
    flow = flow.strip() if flow and flow.strip() else None
    try:
        page = api.list_flow_runs(flow_name=flow, state=kind, limit=limit, after=after,
                                  before=before)
    except UserInputError as exc:  # a cursor edited by hand
        return error_page(request, 400, "Bad page link", str(exc))
    filters = {k: v for k, v in {"state": kind.value if kind else None, "flow": flow,
                                 "limit": limit if limit != 50 else None}.items() if v}
    return render(request, "runs.html", page=page, filters=filters, kind=kind, flow=flow,
                  flows=[f.name for f in api.list_flows(limit=500)], nav="runs")


@router.get("/runs/{run_id}")
def run(
    run_id: str, request: Request, api: Api,
    logs_from: Annotated[int | None, Query(ge=0, le=2**31 - 1)] = None,
    tasks: Annotated[str | None, Query(pattern="^all$")] = None,
) -> Response:
    """One flow run: its states, parameters, error, task runs (the first TASK_RUNS_SHOWN unless
    `tasks=all`) and a page of its logs (the latest unless `logs_from` names the first line);
    for a run waiting for a worker, why it has not started."""
    try:
        flow_run = api.read_flow_run(run_id)
    except (NotFound, UserInputError) as exc:
        return error_page(request, 404, "No such flow run", str(exc))
    run_uuid: uuid.UUID = flow_run.id
    states = api.flow_run_states(run_uuid)
    task_runs = api.flow_run_task_runs(run_uuid)
    if logs_from is None:
        total = api.flow_run_logs(run_uuid, limit=1).total
        logs_from = max(total - LOG_PAGE, 0)
    logs = api.flow_run_logs(run_uuid, limit=LOG_PAGE, offset=logs_from)
    # A run that ended Failed or Crashed shows that state's error at the top.
    failed = next((s for s in reversed(states) if s.type in _ENDED_BADLY), None) \
        if flow_run.state_type in _ENDED_BADLY else None
    waiting = api.why_waiting(flow_run) if flow_run.state_type == StateType.SCHEDULED \
        and flow_run.state_name != "AwaitingRetry" else []
    shown = task_runs if tasks == "all" else task_runs[:TASK_RUNS_SHOWN]
    return render(request, "run.html", run=flow_run, states=states, task_runs=shown,
                  task_run_count=len(task_runs), logs=logs, log_page=LOG_PAGE, failed=failed,
                  waiting=waiting, nav="runs")


@router.get("/task-runs/{task_run_id}")
def task_run(task_run_id: str, request: Request, api: Api) -> Response:
    """One task run: its states, upstream task runs, result or error with its traceback, its
    logs, and its flow run."""
    try:
        task_uuid = uuid.UUID(task_run_id)
    except ValueError:
        return error_page(request, 404, "No such task run",
                          f"{task_run_id!r} is not a task run id; open one from its flow run")
    try:
        task = api.read_task_run(task_uuid)
    except NotFound as exc:
        return error_page(request, 404, "No such task run", str(exc))
    states = api.task_run_states(task_uuid)
    logs = api.task_run_logs(task_uuid, limit=TASK_LOGS_SHOWN)
    failed = next((s for s in reversed(states) if s.type in _ENDED_BADLY), None) \
        if task.state_type in _ENDED_BADLY else None
    flow_run = None
    if task.flow_run_id is not None:
        try:
            flow_run = api.read_flow_run(task.flow_run_id)
        except NotFound:
            flow_run = None
    return render(request, "task_run.html", task=task, states=states, logs=logs, failed=failed,
                  flow_run=flow_run, logs_shown=TASK_LOGS_SHOWN, nav="runs")
