"""The deployment pages: the list (paged, filtered by flow and work pool in its URL, with the
state of each one's last run), one deployment (its schedules in words and its next 10 fire
times in their time zone, paused or not, its last runs), its pause / resume form and its "Run"
form, built from the flow's parameter schema (or filled in from one of its runs,
`?from_run=ID`) and posted to `/deployments/{id}/run`. Each post is CSRF-checked and calls the
same service operation as the API and the CLI. A refused run re-renders the form with the
reason (4xx)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from transom.exceptions import NotFound, UserInputError
from transom.schedules import Schedule, occurrences
from transom.schemas import DeploymentRead, DeploymentRunCreate, DeploymentUpdate
from transom.server.routes import Api
from transom.server.ui import csrf
from transom.server.ui.render import error_page, render
from transom.server.ui.run_filters import FilterText, RunsFilter

__all__ = ["DEPLOYMENTS_PAGE", "FIRE_TIMES", "Field", "cron_in_words", "fields", "from_run",
           "parse_form", "router"]

router = APIRouter(include_in_schema=False)
FIRE_TIMES = 10
"""How many of a deployment's next fire times its page lists."""
_HORIZON = timedelta(days=5 * 366)  # how far ahead fire times are looked for
_MAX_FORM = 1_000_000  # bytes of a posted form
_SIMPLE = {"string", "integer", "number", "boolean"}
DEPLOYMENTS_PAGE = 100
"""Deployments on one page of the list."""
_MAX_OFFSET = 10_000_000
_DONE = {"paused": "Paused: its schedules make no run until it is resumed, and the scheduled "
                   "runs it had not started are removed.",
         "resumed": "Resumed: its schedules make runs again.",
         "resumed-unscheduled": "Resumed: it has no active schedule, so it runs when asked."}


@dataclass(frozen=True)
class Field:
    """One parameter of the Run form."""

    name: str
    kind: str  # string, integer, number, boolean, or json (a textarea)
    title: str
    value: str  # as the form shows it
    required: bool
    description: str | None = None


def fields(deployment: DeploymentRead, given: dict[str, str] | None = None) -> list[Field]:
    """The form's fields from the parameter schema: its simple types as inputs, the rest as JSON;
    values are what was posted, else the deployment's defaults, else the schema's."""
    schema = deployment.parameter_schema or {}
    properties = schema.get("properties") or {}
    required = set(schema.get("required") or [])
    names = list(properties) + [n for n in deployment.parameters if n not in properties]
    out = []
    for name in names:
        found = properties.get(name)
        spec: dict[str, Any] = found if isinstance(found, dict) else {}
        kind = str(spec["type"]) if spec.get("type") in _SIMPLE else "json"
        if given is not None and name in given:
            value = given[name]
        elif name in deployment.parameters or "default" in spec:
            default = deployment.parameters.get(name, spec.get("default"))
            value = _shown(default, kind)
        else:
            value = ""
        out.append(Field(name, kind, str(spec.get("title") or name), value, name in required,
                         spec.get("description")))
    return out


def _shown(value: Any, kind: str) -> str:
    if kind == "boolean":
        return "true" if value else "false"
    if kind == "string" and isinstance(value, str):
        return value
    if kind in ("integer", "number") and isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value, indent=2)


def parse_form(form: list[Field], posted: dict[str, str]) -> dict[str, Any]:
    """The parameters a posted form gives (an empty field is left out: the deployment's or the
    flow's default applies, and the server refuses a required one left out); UserInputError
    naming the first field that is not of its type."""
    parameters: dict[str, Any] = {}
    for f in form:
        text = posted.get(f.name, "")
        if text.strip() == "":
            continue
        if f.kind == "string":
            parameters[f.name] = text
        elif f.kind == "integer":
            try:
                parameters[f.name] = int(text.strip())
            except ValueError:
                raise UserInputError(f"parameter {f.name!r} must be a whole number, not "
                                     f"{text.strip()!r}") from None
        elif f.kind == "number":
            try:
                parameters[f.name] = float(text.strip())
            except ValueError:
                raise UserInputError(f"parameter {f.name!r} must be a number, not "
                                     f"{text.strip()!r}") from None
        elif f.kind == "boolean":
            if text not in ("true", "false"):
                raise UserInputError(f"parameter {f.name!r} must be true or false")
            parameters[f.name] = text == "true"
        else:
            try:
                parameters[f.name] = json.loads(text)
            except ValueError as exc:
                raise UserInputError(f"parameter {f.name!r} is not valid JSON ({exc.args[0]})"
                                     ) from None
    return parameters


_DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
_MACROS = {"@hourly": "0 * * * *", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
           "@weekly": "0 0 * * 0", "@monthly": "0 0 1 * *", "@yearly": "0 0 1 1 *",
           "@annually": "0 0 1 1 *"}


def cron_in_words(expression: str) -> str | None:
    """The common cron shapes in words (`0 9 * * 1-5`: "at 09:00 on weekdays"); None for the
    others, which are shown as written."""
    fields = _MACROS.get(expression.strip(), expression).split()
    if len(fields) != 5:
        return None
    minute, hour, day, month, weekday = fields
    if month != "*":
        if (day, month) == ("1", "1") and weekday == "*" and minute.isdigit() and hour.isdigit():
            return f"every year on 1 January at {int(hour):02d}:{int(minute):02d}"
        return None
    if minute.startswith("*/") and minute[2:].isdigit() and (hour, day, weekday) == ("*",) * 3:
        return f"every {int(minute[2:])} minutes"
    if not minute.isdigit():
        return None
    if (hour, day, weekday) == ("*", "*", "*"):
        return "every hour" + (f" at :{int(minute):02d}" if int(minute) else "")
    if hour.startswith("*/") and hour[2:].isdigit() and (day, weekday) == ("*", "*"):
        return f"every {int(hour[2:])} hours at :{int(minute):02d}"
    if not hour.isdigit():
        return None
    at = f"at {int(hour):02d}:{int(minute):02d}"
    if day == "*" and weekday == "*":
        return f"every day {at}"
    if day == "*" and weekday in ("1-5", "MON-FRI", "mon-fri"):
        return f"{at} on weekdays"
    if day == "*" and weekday.isdigit() and int(weekday) <= 7:
        return f"every {_DAYS[int(weekday) % 7]} {at}"
    if weekday == "*" and day.isdigit():
        return f"on day {int(day)} of every month {at}"
    return None


def _in_words(schedule: Schedule) -> str:
    words = cron_in_words(schedule.cron) if schedule.cron is not None else None
    if words is None:
        return schedule.describe()
    return f"{words} ({schedule.describe()})"


def _schedules(deployment: DeploymentRead, now: datetime) -> tuple[list[tuple[str, bool]],
                                                                    list[tuple[datetime, str]]]:
    """Each schedule in words (and whether it is active), and the next fire times of the
    active ones, each with its schedule's time zone."""
    described, times = [], []
    for s in deployment.schedules:
        schedule = Schedule(cron=s.cron, interval=s.interval, anchor_date=s.anchor_date,
                            rrule=s.rrule, timezone=s.timezone)
        described.append((_in_words(schedule), s.active))
        if s.active:
            times += [(t, s.timezone or "UTC")
                      for t in occurrences(schedule, now, now + _HORIZON, limit=FIRE_TIMES)]
    return described, sorted(set(times))[:FIRE_TIMES]


def from_run(api: Api, deployment: DeploymentRead, ref: str) -> tuple[dict[str, str] | None, str]:
    """The Run form's values from one of the deployment's runs (`?from_run=ID`), written as
    the form shows them, and a sentence that says where they come from; None and why not for
    a malformed id, an unknown run or another deployment's."""
    try:
        run_id = uuid.UUID(ref.strip())
    except ValueError:
        return None, (f"{ref[:40]!r} is not a flow run id, so the form holds the deployment's "
                      "defaults.")
    try:
        run = api.read_flow_run(run_id)
    except (NotFound, UserInputError):
        return None, f"No flow run has the id {run_id}, so the form holds the deployment's defaults."
    if run.deployment_id != deployment.id:
        return None, (f"Flow run {run.name!r} is not a run of this deployment, so the form holds "
                      "the deployment's defaults.")
    form = fields(deployment)
    given = {f.name: _shown(run.parameters[f.name], f.kind) for f in form
             if f.name in run.parameters}
    said = f"The form holds the parameters of flow run {run.name!r}: change any, then Run."
    left = sorted(set(run.parameters) - {f.name for f in form})
    if left:
        said += (f" Its parameter{'s' if len(left) > 1 else ''} {', '.join(left)} "
                 f"{'are' if len(left) > 1 else 'is'} not in this deployment's form, so left out.")
    return given, said


@router.get("/deployments")
def deployments(request: Request, api: Api, flow: FilterText = None, pool: FilterText = None,
                offset: Annotated[int, Query(ge=0, le=_MAX_OFFSET)] = 0) -> Response:
    """The deployments by flow name and name, DEPLOYMENTS_PAGE at a time, filtered by flow and
    work pool (kept by the pager), each with its last run's state."""
    try:
        wanted = RunsFilter.read(flow=flow, pool=pool)  # the runs list's rules for the texts
    except UserInputError as exc:
        return error_page(request, 400, "Bad deployments filter", str(exc))
    page = api.deployments_page(flow_name=wanted.flow, work_pool=wanted.pool,
                                limit=DEPLOYMENTS_PAGE, offset=offset)
    filters = wanted.query()
    previous = next_page = None
    if offset:
        previous = urlencode({**filters, **({"offset": offset - DEPLOYMENTS_PAGE}
                                            if offset > DEPLOYMENTS_PAGE else {})})
    if offset + DEPLOYMENTS_PAGE < page.total:
        next_page = urlencode({**filters, "offset": offset + DEPLOYMENTS_PAGE})
    return render(request, "deployments.html", page=page, deployments=page.deployments,
                  last_runs=page.last_runs, wanted=wanted, filters=filters, offset=offset,
                  previous=previous, next_page=next_page,
                  flows=[f.name for f in api.list_flows(limit=500)],
                  pools=[p.name for p in api.list_work_pools()], nav="deployments")


def _page(request: Request, api: Api, deployment: DeploymentRead, *, status: int = 200,
          given: dict[str, str] | None = None, problem: str | None = None) -> Response:
    described, times = _schedules(deployment, api.ctx.clock())
    runs = api.deployment_runs(deployment.id)
    source = request.query_params.get("from_run")
    note = None
    if given is None and source is not None:
        given, note = from_run(api, deployment, source)
    done = _DONE.get(request.query_params.get("done") or "") if status == 200 else None
    token = csrf.token(request)
    response = render(request, "deployment.html", status, deployment=deployment,
                      schedules=described, fire_times=times, runs=runs,
                      fields=fields(deployment, given), problem=problem, note=note, done=done,
                      csrf=token, zone_time=_zone_time, nav="deployments")
    return csrf.with_cookie(request, response, token)


def _zone_time(moment: datetime, zone: str) -> str:
    from zoneinfo import ZoneInfo

    return moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M %Z")


@router.get("/deployments/{ref:path}")
def deployment(ref: str, request: Request, api: Api) -> Response:
    try:
        found = api.read_deployment(ref)
    except (NotFound, UserInputError) as exc:
        return error_page(request, 404, "No such deployment", str(exc))
    return _page(request, api, found)


@router.post("/deployments/{ref:path}/pause")
async def pause_deployment(ref: str, request: Request, api: Api) -> Response:
    """The page's Pause / Resume form (`paused` true or false): the API's PATCH of `paused`,
    then the page again, saying what it means."""
    try:
        found = await run_in_threadpool(api.read_deployment, ref)
    except (NotFound, UserInputError) as exc:
        return error_page(request, 404, "No such deployment", str(exc))
    try:
        paused = await csrf.checked_switch(request, "paused", "the deployment")
    except csrf.Refused as exc:
        return error_page(request, exc.status, "Refused", str(exc))
    try:
        changed = await run_in_threadpool(api.update_deployment, found.id,
                                          DeploymentUpdate(paused=paused))
    except NotFound as exc:  # deleted meanwhile
        return error_page(request, 404, "No such deployment", str(exc))
    done = "paused" if changed.paused else (
        "resumed" if any(s.active for s in changed.schedules) else "resumed-unscheduled")
    return RedirectResponse(f"/deployments/{changed.id}?done={done}", status_code=303)


@router.post("/deployments/{ref:path}/run")
async def run_deployment(ref: str, request: Request, api: Api) -> Response:
    """The Run form: a run of the deployment with the form's parameters, then its page."""
    try:
        found = api.read_deployment(ref)
    except (NotFound, UserInputError) as exc:
        return error_page(request, 404, "No such deployment", str(exc))
    kind = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        return error_page(request, 415, "Not a form", "this address takes the deployment "
                          "page's Run form only")
    body = await request.body()
    if len(body) > _MAX_FORM:
        return error_page(request, 413, "Too large", f"the form is larger than {_MAX_FORM} "
                          "bytes")
    raw = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace"),
                                        keep_blank_values=True).items()}
    refused = csrf.refusal(request, raw.get(csrf.FIELD))
    if refused:
        return error_page(request, 403, "Refused", refused)
    given = {k.removeprefix("p."): v for k, v in raw.items() if k.startswith("p.")}
    try:
        parameters = parse_form(fields(found), given)
        created = api.create_deployment_run(found.id, DeploymentRunCreate(parameters=parameters))
    except UserInputError as exc:
        return _page(request, api, found, status=422, given=given, problem=str(exc))
    except ValidationError as exc:
        problems = exc.errors()
        reason = str(problems[0]["msg"]) if problems else "the parameters are not valid"
        return _page(request, api, found, status=422, given=given,
                     problem=reason.removeprefix("Value error, "))
    return RedirectResponse(f"/runs/{created.id}", status_code=303)


