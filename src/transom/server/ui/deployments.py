"""The deployment pages: the list, one deployment (its schedules in words and its next 10 fire
times in their time zone, paused or not, its last runs) and its "Run" form, built from the
flow's parameter schema and posted to `/deployments/{id}/run`, which calls the same service
operation as the API and the CLI. A refused run re-renders the form with the reason (4xx)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from transom.exceptions import NotFound, UserInputError
from transom.schedules import Schedule, occurrences
from transom.schemas import DeploymentRead, DeploymentRunCreate
from transom.server.routes import Api
from transom.server.ui import csrf
from transom.server.ui.render import error_page, render

__all__ = ["FIRE_TIMES", "Field", "cron_in_words", "fields", "parse_form", "router"]

router = APIRouter(include_in_schema=False)
FIRE_TIMES = 10
"""How many of a deployment's next fire times its page lists."""
_HORIZON = timedelta(days=5 * 366)  # how far ahead fire times are looked for
_MAX_FORM = 1_000_000  # bytes of a posted form
_SIMPLE = {"string", "integer", "number", "boolean"}


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


@router.get("/deployments")
def deployments(request: Request, api: Api) -> Response:
    found = api.list_deployments(limit=500)
    return render(request, "deployments.html", deployments=found, nav="deployments")


def _page(request: Request, api: Api, deployment: DeploymentRead, *, status: int = 200,
          given: dict[str, str] | None = None, problem: str | None = None) -> Response:
    described, times = _schedules(deployment, api.ctx.clock())
    runs = api.deployment_runs(deployment.id)
    token = csrf.token(request)
    response = render(request, "deployment.html", status, deployment=deployment,
                      schedules=described, fire_times=times, runs=runs,
                      fields=fields(deployment, given), problem=problem, csrf=token, zone_time=_zone_time,
                      nav="deployments")
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


