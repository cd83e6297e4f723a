"""Deployments from Python and the command line: check a flow and its schedules, register it,
and `serve` it (run its scheduled runs from this process until Ctrl+C).

`Flow.deploy` and `Flow.serve` are thin calls into here; the flow class holds no deploy logic.
"""

from __future__ import annotations

import inspect
import json
import os
import re
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from transom.exceptions import ParameterError, TransomError, UserInputError
from transom.schedules import Schedule, occurrences
from transom.schemas import DeploymentCreate, DeploymentRead, ScheduleIn

if TYPE_CHECKING:
    from transom.core.flows import Flow
    from transom.settings import Settings

__all__ = [
    "deploy",
    "deployment_for",
    "entrypoint_of",
    "next_run_times",
    "parse_interval",
    "schedules_from",
    "serve",
]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_interval(text: str | float) -> float:
    """Seconds from `90`, `30s`, `5m`, `2h`, `1d` or `1w`."""
    if isinstance(text, int | float):
        return float(text)
    match = _DURATION.match(text.lower())
    if not match or float(match.group(1)) <= 0:
        raise UserInputError(f"interval {text!r} is not a duration; write e.g. 90, 30s, 5m, 2h "
                             "or 1d (more than zero)")
    return float(match.group(1)) * _UNITS[match.group(2)]


def _anchor(value: str | datetime | None) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(value.strip())
    except ValueError:
        raise UserInputError(f"anchor {value!r} is not an ISO date and time like "
                             "2026-01-01T09:00") from None


def schedules_from(*, cron: str | Sequence[str] | None = None,
                   interval: str | float | Sequence[str | float] | None = None,
                   rrule: str | Sequence[str] | None = None, anchor_date: str | datetime | None = None,
                   timezone: str | None = None) -> list[ScheduleIn]:
    """Schedules from what a user wrote (each may be repeated); bad ones raise UserInputError
    with the reason."""
    def many(value: Any) -> list[Any]:
        if value is None:
            return []
        return [value] if isinstance(value, str | int | float) else list(value)

    anchor = _anchor(anchor_date)
    found: list[Schedule] = []
    for expression in many(cron):
        found.append(Schedule(cron=expression, timezone=timezone))
    for every in many(interval):
        found.append(Schedule(interval=parse_interval(every), anchor_date=anchor,
                              timezone=timezone))
    for rule in many(rrule):
        found.append(Schedule(rrule=rule, anchor_date=anchor, timezone=timezone))
    if timezone is not None and not found:
        raise UserInputError("--timezone needs a schedule (--cron, --interval or --rrule) "
                             "to apply to")
    return [ScheduleIn(cron=s.cron and " ".join(s.cron.split()), interval=s.interval,
                       anchor_date=s.anchor_date, rrule=s.rrule, timezone=s.timezone)
            for s in found]


def entrypoint_of(flow: Flow[..., Any]) -> tuple[str, str]:
    """`file.py:name` of a flow defined in a file, and that file's folder."""
    fn = flow.fn
    module = sys.modules.get(getattr(fn, "__module__", "") or "")
    file = getattr(module, "__file__", None)
    if file is None:
        try:
            file = inspect.getsourcefile(fn)
        except TypeError:
            file = None
    if not file or not Path(file).exists():
        raise UserInputError(f"cannot tell which file defines flow {flow.name!r} (was it defined "
                             "interactively?); put it in a .py file, or pass "
                             "entrypoint='path/file.py:flow_fn'")
    attribute = next((name for name, value in vars(module).items() if value is flow), None) \
        if module is not None else None
    path = Path(file).resolve()
    return f"{path.name}:{attribute or fn.__name__}", str(path.parent)


def _parameter_schema(flow: Flow[..., Any]) -> dict[str, Any]:
    try:
        return flow.parameter_schema()
    except Exception:  # types pydantic cannot describe: keep what matters, the required names
        required = [name for name, p in flow.signature.parameters.items()
                    if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        return {"type": "object", "required": required}


def _check_parameters(flow: Flow[..., Any], parameters: Mapping[str, Any]) -> dict[str, Any]:
    """Refuse parameters the flow does not take or whose values do not fit its type hints
    (missing ones may come with each run); returns them as JSON."""
    import pydantic
    from pydantic_core import to_jsonable_python

    signature = flow.signature.parameters
    takes_any = any(p.kind is p.VAR_KEYWORD for p in signature.values())
    for name in parameters:
        if name not in signature and not takes_any:
            expected = ", ".join(signature) or "no parameters"
            raise ParameterError(f"flow {flow.name!r} has no parameter {name!r} (it takes: "
                                 f"{expected})")
    if flow.should_validate_parameters:
        try:
            flow._parameter_model().model_validate(dict(parameters))
        except pydantic.ValidationError as exc:
            for error in exc.errors():
                if error.get("type") == "missing":
                    continue
                where = ".".join(str(p) for p in error.get("loc", ())) or "?"
                raise ParameterError(f"flow {flow.name!r}: parameter {where!r} is invalid: "
                                     f"{error.get('msg')} (got {error.get('input')!r})") from None
    try:
        jsonable: dict[str, Any] = json.loads(json.dumps(to_jsonable_python(dict(parameters))))
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"the parameters of a deployment must be JSON values: {exc}") from None
    return jsonable


def deployment_for(
    flow: Flow[..., Any], *, name: str, entrypoint: str, path: str | None,
    work_pool: str | None = None, work_queue: str | None = None,
    schedules: Sequence[ScheduleIn] = (), parameters: Mapping[str, Any] | None = None,
    tags: Sequence[str] = (), paused: bool = False, concurrency_limit: int | None = None,
    description: str | None = None,
) -> DeploymentCreate:
    """What to register for `flow`, checked: its name, parameters and schedules."""
    import pydantic

    checked = _check_parameters(flow, parameters or {})
    try:
        return DeploymentCreate(
            flow_name=flow.name, name=name, entrypoint=entrypoint, path=path,
            description=description or flow.description, parameters=checked,
            parameter_schema=_parameter_schema(flow), work_pool=work_pool, work_queue=work_queue,
            tags=[*flow.tags, *tags], paused=paused, concurrency_limit=concurrency_limit,
            schedules=list(schedules))
    except pydantic.ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error.get("loc", ())) or "deployment"
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        raise UserInputError(f"{where}: {message}") from None


def next_run_times(deployment: DeploymentRead, count: int = 3,
                   now: datetime | None = None) -> list[datetime]:
    """The next times the deployment's active schedules fire (none if it is paused)."""
    from transom.core.states import now_utc

    if deployment.paused:
        return []
    now = now or now_utc()
    times: set[datetime] = set()
    for s in deployment.schedules:
        if s.active:
            schedule = Schedule(s.cron, s.interval, s.anchor_date, s.rrule, s.timezone)
            times.update(occurrences(schedule, now, now + timedelta(days=400), limit=count))
    return sorted(times)[:count]


def deploy(
    flow: Flow[..., Any], name: str, *, work_pool: str | None = None,
    cron: str | Sequence[str] | None = None, interval: str | float | Sequence[str | float] | None = None,
    rrule: str | Sequence[str] | None = None, anchor_date: str | datetime | None = None,
    timezone: str | None = None, parameters: Mapping[str, Any] | None = None,
    tags: Sequence[str] = (), work_queue: str | None = None, paused: bool = False,
    concurrency_limit: int | None = None, description: str | None = None,
    entrypoint: str | None = None, path: str | None = None, settings: Settings | None = None,
) -> DeploymentRead:
    """Register `flow` as a deployment (replacing one of the same name) in the server of
    TRANSOM_API_URL, or the embedded database; its runs go to workers of `work_pool`."""
    from transom.services import open_backend

    if entrypoint is None:
        entrypoint, found_path = entrypoint_of(flow)
        path = path or found_path
    body = deployment_for(
        flow, name=name, entrypoint=entrypoint, path=path or os.getcwd(), work_pool=work_pool,
        work_queue=work_queue, parameters=parameters, tags=tags, paused=paused,
        concurrency_limit=concurrency_limit, description=description,
        schedules=schedules_from(cron=cron, interval=interval, rrule=rrule,
                                 anchor_date=anchor_date, timezone=timezone))
    with open_backend(settings) as backend:
        return backend.upsert_deployment(body)


def serve(
    flow: Flow[..., Any], name: str, *, cron: str | Sequence[str] | None = None,
    interval: str | float | Sequence[str | float] | None = None,
    rrule: str | Sequence[str] | None = None, anchor_date: str | datetime | None = None,
    timezone: str | None = None, parameters: Mapping[str, Any] | None = None,
    tags: Sequence[str] = (), paused: bool = False, concurrency_limit: int | None = None,
    description: str | None = None, limit: int | None = None, settings: Settings | None = None,
) -> None:
    """Register `flow` as a deployment and run its scheduled (and requested) runs from this
    process until Ctrl+C: each run starts as a child process, as under a worker, so it can be
    cancelled and its crash is noticed. No work pool or worker is needed."""
    from transom.services import open_backend
    from transom.settings import Settings as _Settings
    from transom.worker import Worker

    settings = settings or _Settings.load()
    entrypoint, path = entrypoint_of(flow)
    body = deployment_for(
        flow, name=name, entrypoint=entrypoint, path=path, parameters=parameters, tags=tags,
        paused=paused, concurrency_limit=concurrency_limit, description=description,
        schedules=schedules_from(cron=cron, interval=interval, rrule=rrule,
                                 anchor_date=anchor_date, timezone=timezone))
    with open_backend(settings) as backend:
        deployment = backend.upsert_deployment(body)
        worker = Worker(backend, settings, deployment_ids=[deployment.id], limit=limit,
                        name=f"serve-{deployment.full_name}-{os.getpid()}".replace("/", "-"))
        worker.say(f"Serving {deployment.full_name} ({_describe(deployment)}); "
                   f"run it now with: transom deployment run {deployment.full_name}. "
                   "Stop with Ctrl+C.")
        try:
            worker.run()
        finally:
            # Nobody runs it now: no scheduled runs should pile up until it is served again.
            from transom.schemas import DeploymentUpdate

            try:
                backend.update_deployment(deployment.id, DeploymentUpdate(paused=True))
                worker.say(f"Paused {deployment.full_name}: it makes no runs until it is "
                           "served again.")
            except TransomError as exc:
                worker.say(f"Could not pause {deployment.full_name}: {exc}")


def _describe(deployment: DeploymentRead) -> str:
    if not deployment.schedules:
        return "no schedule"
    return "; ".join(s.describe() for s in deployment.schedules)
