"""The web UI's pages: server-rendered Jinja2 templates, each route a thin adapter over the
backend's operations (`app.state.backend`, the same ones the /api routes call). Everything
shown is escaped by Jinja2's autoescape; the pages load only this server's own files."""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader
from markupsafe import Markup

from transom.core.states import FINAL_TYPES, StateType
from transom.exceptions import NotFound, UserInputError
from transom.server.routes import Api
from transom.server.ui.assets import IMMUTABLE, Assets
from transom.server.ui.logs import LogFilter, LogLevelQuery, LogTaskQuery, LogTextQuery, log_row
from transom.services.backend import Backend

__all__ = ["LOG_PAGE", "TASK_RUNS_SHOWN", "router"]

LOG_PAGE = 200
"""Log lines on one page of a run's logs."""
TASK_RUNS_SHOWN = 200
"""Task runs listed on a run's page unless all are asked for (a big run has thousands)."""

# Pages load only this server's files; no inline script or style (htmx's own indicator style
# is switched off in base.html so it needs none either).
_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
_PAGE_HEADERS = {"Content-Security-Policy": _CSP, "X-Content-Type-Options": "nosniff",
                 "Referrer-Policy": "same-origin", "Cache-Control": "no-store",
                 "Vary": "Accept-Encoding"}

router = APIRouter(include_in_schema=False)
assets = Assets()


def _when(value: datetime | None) -> Markup:
    """A time as <time>, in UTC and saying so; the page's script shows it in the browser's
    zone, named."""
    if value is None:
        return Markup('<span class="muted">–</span>')
    utc = value.astimezone(timezone.utc)
    return Markup('<time datetime="{}">{} UTC</time>').format(
        utc.isoformat(), utc.strftime("%Y-%m-%d %H:%M:%S"))


def _seconds(value: float | None) -> str:
    if value is None:
        return "–"
    if value < 60:
        return f"{value:.2f} s" if value < 10 else f"{value:.1f} s"
    minutes, secs = divmod(int(value), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {secs:02d} s"


def _state(kind: StateType | None, name: str | None) -> Markup:
    kind_text = kind.value if kind is not None else "NONE"
    return Markup('<span class="state s-{}">{}</span>').format(kind_text, name or kind_text.title())


_env = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                   autoescape=True, trim_blocks=True, lstrip_blocks=True)
_env.globals.update(asset=assets.url, state=_state, state_types=list(StateType), log_row=log_row)
_env.filters.update(when=_when, seconds=_seconds, level=logging.getLevelName,
                    pretty=lambda value: json.dumps(value, indent=2, sort_keys=True, default=str))
_ENDED_BADLY = (StateType.FAILED, StateType.CRASHED)


def _render(request: Request, template: str, status: int = 200, **context: Any) -> Response:
    body = _env.get_template(template).render(request=request, **context).encode()
    headers = dict(_PAGE_HEADERS)
    if len(body) > 1024 and "gzip" in request.headers.get("accept-encoding", ""):
        body = gzip.compress(body, 6)
        headers["Content-Encoding"] = "gzip"
    return Response(body, status_code=status, headers=headers,
                    media_type="text/html; charset=utf-8")


@router.get("/")
def home() -> RedirectResponse:
    return RedirectResponse("/runs", status_code=307)


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
    limit: Annotated[int | None, Query(ge=1, le=200)] = None,
) -> Response:
    """The flow runs, newest first, keyset-paged; the filters are in the URL. The list updates
    itself while the page is open (live.py). A page size chosen once is remembered (a cookie)
    for the pages that do not say one."""
    remembered = request.cookies.get(PAGE_SIZE_COOKIE, "")
    if limit is None:
        limit = int(remembered) if remembered.isdigit() and 1 <= int(remembered) <= 200 else 50
    try:
        context = runs_context(api, state=state, flow=flow, after=after, before=before,
                               limit=limit)
    except UserInputError as exc:  # a cursor edited by hand
        return _render(request, "error.html", 400, title="Bad page link", message=str(exc))
    query = {k: v for k, v in {"state": state, "flow": flow, "after": after, "before": before,
                               "limit": limit if limit != 50 else None}.items() if v}
    query["seen"] = page_digest(context)
    notice = request.query_params.get("notice")
    response = _render(request, "runs.html", live_query=urlencode(query),
                       notice=notice[:1000] if notice else None, page_sizes=PAGE_SIZES,
                       page_size=limit, flows=[f.name for f in api.list_flows(limit=500)],
                       **context)
    if "limit" in request.query_params and str(limit) != remembered:
        response.set_cookie(PAGE_SIZE_COOKIE, str(limit), max_age=365 * 86400, httponly=True,
                            samesite="strict", path="/")
    return response


PAGE_SIZE_COOKIE = "transom_page_size"
PAGE_SIZES = (25, 50, 100, 200)


def runs_context(api: Backend, *, state: str | None, flow: str | None, after: str | None,
                 before: str | None, limit: int) -> dict[str, Any]:
    """What the list part of the runs page shows (UserInputError for a bad cursor)."""
    kind = StateType(state.upper()) if state and state.upper() in StateType.__members__ else None
    flow = flow.strip() if flow and flow.strip() else None
    page = api.list_flow_runs(flow_name=flow, state=kind, limit=limit, after=after, before=before)
    filters = {k: v for k, v in {"state": kind.value if kind else None, "flow": flow,
                                 "limit": limit if limit != 50 else None}.items() if v}
    here = {**filters, **{k: v for k, v in {"after": after, "before": before}.items() if v}}
    back = "/runs" + (f"?{urlencode(here)}" if here else "")
    return {"page": page, "filters": filters, "kind": kind, "flow": flow, "back": back,
            "actions": BULK_ACTIONS}


BULK_ACTIONS = (("cancel", "Cancel"), ("rerun", "Run again (deployment runs)"),
                ("delete", "Delete"), ("completed", "Mark Completed"), ("failed", "Mark Failed"),
                ("cancelled", "Mark Cancelled"))


def render_fragment(template: str, **context: Any) -> str:
    """A template rendered on its own (a part of a page that live updates send again)."""
    return _env.get_template(template).render(**context)


def page_digest(context: dict[str, Any]) -> str:
    """A short hash of the list part as rendered: the live updates send it again only when
    it changed."""
    return hashlib.sha256(render_fragment("runs_page.html", **context).encode()).hexdigest()[:16]


@router.get("/runs/{run_id}")
def run(
    run_id: str, request: Request, api: Api,
    logs_from: Annotated[int | None, Query(ge=0, le=2**31 - 1)] = None,
    tasks: Annotated[str | None, Query(pattern="^all$")] = None,
    log_level: LogLevelQuery = None, log_task: LogTaskQuery = None, log_q: LogTextQuery = None,
) -> Response:
    """One flow run: its states, parameters, error, task runs (the first TASK_RUNS_SHOWN unless
    `tasks=all`) and a page of its logs (the latest unless `logs_from` names the first line),
    filtered by level, task run or text when asked; followed live while the run goes on."""
    try:
        flow_run = api.read_flow_run(run_id)
    except (NotFound, UserInputError) as exc:
        return _render(request, "error.html", 404, title="No such flow run", message=str(exc))
    try:
        wanted = LogFilter(log_level, log_task, log_q)
    except UserInputError as exc:
        return _render(request, "error.html", 400, title="Bad log filter", message=str(exc))
    run_uuid: uuid.UUID = flow_run.id
    states = api.flow_run_states(run_uuid)
    task_runs = api.flow_run_task_runs(run_uuid)
    where: dict[str, Any] = wanted.backend_args()
    try:
        if logs_from is None:
            total = api.flow_run_logs(run_uuid, limit=1, **where).total
            logs_from = max(total - LOG_PAGE, 0)
        logs = api.flow_run_logs(run_uuid, limit=LOG_PAGE, offset=logs_from, **where)
    except NotFound as exc:  # a task run of another flow run
        return _render(request, "error.html", 400, title="Bad log filter", message=str(exc))
    # A run that ended Failed or Crashed shows that state's error at the top.
    failed = next((s for s in reversed(states) if s.type in _ENDED_BADLY), None) \
        if flow_run.state_type in _ENDED_BADLY else None
    shown = task_runs if tasks == "all" else task_runs[:TASK_RUNS_SHOWN]
    # The live tail follows the newest lines of an unfiltered view of a run that goes on.
    latest = logs.offset + len(logs.items) >= logs.total
    live_after = (max((line.id for line in logs.items), default=0)
                  if latest and not wanted.active and flow_run.state_type not in FINAL_TYPES
                  else None)
    return _render(request, "run.html", run=flow_run, states=states, task_runs=shown,
                   task_run_count=len(task_runs), logs=logs, log_page=LOG_PAGE, failed=failed,
                   log_filter=wanted, log_query=urlencode(wanted.query()),
                   task_names={t.id: t.name for t in task_runs}, all_task_runs=task_runs,
                   live_after=live_after, log_levels=_LEVELS,
                   no_errors=request.query_params.get("no_errors") == "1")


_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
