"""The web UI's pages of recorded runs: the flow run list, a flow run, a task run. Each route
is a thin adapter over the backend's operations (`app.state.backend`, the same ones the /api
routes call). Everything shown is escaped by Jinja2's autoescape."""

from __future__ import annotations

import hashlib
import uuid
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from markupsafe import Markup

from transom.core.states import FINAL_TYPES, PAUSED_NAMES, StateType
from transom.exceptions import NotFound, UserInputError
from transom.schemas import StateRecord
from transom.server.root_path import rooted
from transom.server.routes import Api
from transom.server.ui import csrf
from transom.server.ui.assets import IMMUTABLE
from transom.server.ui.logs import (
    LogFilter,
    LogKeyQuery,
    LogLevelQuery,
    LogTaskQuery,
    LogTextQuery,
)
from transom.server.ui.render import assets, error_page, render, render_fragment
from transom.server.ui.run_actions import applicable, input_fields
from transom.server.ui.run_filters import FilterText, RunsFilter
from transom.services.backend import Backend
from transom.services.overview import TaskRunRow

__all__ = ["LOG_PAGE", "TASK_RUNS_SHOWN", "router"]

LOG_PAGE = 200
"""Log lines on one page of a run's logs."""
TASK_RUNS_SHOWN = 50
"""Task runs listed on a run's page unless all are asked for (a big run has thousands)."""
TASK_LOGS_SHOWN = 1000
"""A task run's log lines shown on its page."""
SUBFLOWS_SHOWN = 200
"""Subflow runs listed on a parent run's page."""

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
    flow: FilterText = None, deployment: FilterText = None, pool: FilterText = None,
    tag: FilterText = None, since: FilterText = None, until: FilterText = None,
    prefix: FilterText = None,
    after: Annotated[str | None, Query(max_length=64)] = None,
    before: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int | None, Query(ge=1, le=200)] = None,
) -> Response:
    """The flow runs, newest first, keyset-paged; the filters (run_filters.py) are in the URL.
    The list updates itself while the page is open (live.py). A page size chosen once is
    remembered (a cookie) for the pages that do not say one."""
    remembered = request.cookies.get(PAGE_SIZE_COOKIE, "")
    if limit is None:
        limit = (int(remembered) if remembered.isascii() and remembered.isdigit()  # not "²"
                 and 1 <= int(remembered) <= 200 else 50)
    try:
        wanted = RunsFilter.read(state=state, flow=flow, deployment=deployment, pool=pool,
                                 tag=tag, since=since, until=until, prefix=prefix)
        context = runs_context(api, wanted=wanted, after=after, before=before, limit=limit)
    except UserInputError as exc:  # a cursor edited by hand, an unknown pool, a bad time
        if _pager(request):  # where the list was (an error page has no list box to swap in)
            return render(request, "runs_live_error.html", 400, headers=_VARY,
                          title="Bad runs filter", message=str(exc))
        return error_page(request, 400, "Bad runs filter", str(exc))
    query: dict[str, Any] = {**wanted.query(), **{k: v for k, v in {
        "after": after, "before": before, "limit": limit if limit != 50 else None}.items() if v}}
    query["seen"], listed = runs_part(context)
    if _pager(request):
        # A pager link: the list alone (the filter form and its choices stay as they are).
        response = render(request, "runs_live.html", live_query=urlencode(query),
                          runs_part=Markup(listed), headers=_VARY)
    else:
        response = _runs_page(request, api, context, query, listed, limit)
    if "limit" in request.query_params and str(limit) != remembered:
        response.set_cookie(PAGE_SIZE_COOKIE, str(limit), max_age=365 * 86400, httponly=True,
                            samesite="strict", path="/")
    return response


_VARY = {"Vary": "Accept-Encoding, HX-Target"}  # a pager link's answer is the list alone


def _pager(request: Request) -> bool:
    """Whether htmx asks for the list alone (a pager link's hx-target), not for a page (a
    history restore after back or forward asks for the whole page)."""
    return request.headers.get("hx-target") == "runs-live" \
        and "hx-history-restore-request" not in request.headers


def _runs_page(request: Request, api: Backend, context: dict[str, Any], query: dict[str, Any],
               listed: str, limit: int) -> Response:
    notice = request.query_params.get("notice")
    return render(request, "runs.html", live_query=urlencode(query),
                  notice=notice[:1000] if notice else None, page_sizes=PAGE_SIZES,
                  page_size=limit, flows=[f.name for f in api.list_flows(limit=500)],
                  deployments=[f"{d.flow_name}/{d.name}" for d in api.list_deployments(
                      limit=500)],
                  pools=[p.name for p in api.list_work_pools()], nav="runs",
                  runs_part=Markup(listed), headers=_VARY, **context)


PAGE_SIZE_COOKIE = "transom_page_size"
PAGE_SIZES = (25, 50, 100, 200)
BULK_ACTIONS = (("cancel", "Cancel"), ("rerun", "Run again (deployment runs)"),
                ("delete", "Delete"), ("completed", "Mark Completed"), ("failed", "Mark Failed"),
                ("cancelled", "Mark Cancelled"))


def runs_context(api: Backend, *, wanted: RunsFilter, after: str | None, before: str | None,
                 limit: int) -> dict[str, Any]:
    """What the list part of the runs page shows (UserInputError for a bad cursor, or an
    unknown deployment or pool)."""
    page = api.list_flow_runs(limit=limit, after=after, before=before, **wanted.backend_args())
    filters: dict[str, Any] = {**wanted.query(), **({"limit": limit} if limit != 50 else {})}
    here = {**filters, **{k: v for k, v in {"after": after, "before": before}.items() if v}}
    back = "/runs" + (f"?{urlencode(here)}" if here else "")
    return {"page": page, "filters": filters, "wanted": wanted, "kind": wanted.kind,
            "flow": wanted.flow, "back": back, "actions": BULK_ACTIONS}


def runs_part(context: dict[str, Any], root: str = "") -> tuple[str, str]:
    """The list part of the runs page, rendered once: a short hash of it (the live updates send
    it again only when it changed; the same whatever the root path) and its HTML."""
    html = render_fragment("runs_page.html", **context)
    return hashlib.sha256(html.encode()).hexdigest()[:16], rooted(html, root)


@router.get("/runs/{run_id}")
def run(
    run_id: str, request: Request, api: Api,
    logs_from: Annotated[int | None, Query(ge=0, le=2**31 - 1)] = None,
    tasks: Annotated[str | None, Query(pattern="^all$")] = None,
    log_level: LogLevelQuery = None, log_task: LogTaskQuery = None, log_q: LogTextQuery = None,
    log_key: LogKeyQuery = None,
) -> Response:
    """One flow run: its states (a strip at the top), the actions its state allows (run_actions.py),
    parameters, error, subflow runs, task runs (the first TASK_RUNS_SHOWN unless `tasks=all`)
    and a page of its logs (the latest unless `logs_from` names the first line), filtered by
    level, task run or text when asked and followed live while the run goes on; for a run
    waiting for a worker, why it has not started."""
    try:
        flow_run = api.read_flow_run(run_id)
    except (NotFound, UserInputError) as exc:
        return error_page(request, 404, "No such flow run", str(exc))
    try:
        wanted = LogFilter(log_level, log_task, log_q, log_key)
    except UserInputError as exc:
        return error_page(request, 400, "Bad log filter", str(exc))
    run_uuid: uuid.UUID = flow_run.id
    states = api.flow_run_states(run_uuid)
    where: dict[str, Any] = wanted.backend_args()
    try:
        logs = api.flow_run_logs(run_uuid, limit=LOG_PAGE, offset=logs_from or 0,
                                 newest=logs_from is None, **where)
    except NotFound as exc:  # a task run of another flow run
        return error_page(request, 400, "Bad log filter", str(exc))
    tasks_of = api.run_tasks(run_uuid, shown=None if tasks == "all" else TASK_RUNS_SHOWN,
                             named=[*(line.task_run_id for line in logs.items if line.task_run_id),
                                    *([wanted.task_run_id] if wanted.task_run_id else [])])
    # A run that ended Failed or Crashed shows that state's error at the top.
    failed = next((s for s in reversed(states) if s.type in _ENDED_BADLY), None) \
        if flow_run.state_type in _ENDED_BADLY else None
    failed_task, task_failure = _failing_task(api, tasks_of.failed) if failed else (None, None)
    # A paused run waits for its resume, not a worker; a deployment run AwaitingRetry that no
    # worker holds was retried by hand: it waits for one.
    waiting = api.why_waiting(flow_run) if flow_run.state_type == StateType.SCHEDULED \
        and flow_run.state_name not in PAUSED_NAMES \
        and (flow_run.state_name != "AwaitingRetry" or (flow_run.worker_id is None
             and flow_run.deployment_id is not None)) else []
    # The live tail follows the newest lines of an unfiltered view of a run that goes on.
    latest = logs.offset + len(logs.items) >= logs.total
    live_after = (max((line.id for line in logs.items), default=0)
                  if latest and not wanted.active and flow_run.state_type not in FINAL_TYPES
                  else None)
    actions = applicable(flow_run)
    pause = api.waiting_pause(run_uuid) if actions["resume"] else None
    subflows = api.list_flow_runs(parent_flow_run_id=run_uuid, limit=SUBFLOWS_SHOWN)
    notice = request.query_params.get("notice")
    token = csrf.token(request)
    response = render(request, "run.html", run=flow_run, states=states, task_runs=tasks_of.first,
                  task_run_count=tasks_of.count, logs=logs, log_page=LOG_PAGE, failed=failed,
                  failed_task=failed_task, task_failure=task_failure, waiting=waiting, nav="runs", log_filter=wanted,
                  log_query=urlencode(wanted.query()),
                  task_names=tasks_of.names, task_keys=tasks_of.keys,
                  live_after=live_after, log_levels=_LEVELS,
                  no_errors=request.query_params.get("no_errors") == "1",
                  actions=actions, pause=pause, input_fields=input_fields(pause),
                  subflows=subflows, csrf=token, notice=notice[:1000] if notice else None)
    return csrf.with_cookie(request, response, token)


def _failing_task(api: Backend, first: TaskRunRow | None,
                  ) -> tuple[TaskRunRow | None, StateRecord | None]:
    """The task run a failed flow run failed in (the first to end Failed or Crashed), and the
    state it ended in, with its error."""
    if first is None:
        return None, None
    state = next((s for s in reversed(api.task_run_states(first.id)) if s.type in _ENDED_BADLY),
                 None)
    return first, state


_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


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
