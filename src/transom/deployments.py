"""Deployments from Python and the command line: check a flow and its schedules, register it,
and `serve` it (run its scheduled runs from this process until Ctrl+C).

`Flow.deploy`, `.serve`, `.to_deployment` and `.from_source` are thin calls into here (through
the Deployer that `import transom` registers); the flow class holds no deploy logic. As in
Prefect, `flow.to_deployment(name, ...)` makes a `Deployment` without registering it, and the
module-level `serve(*deployments)` and `deploy(*deployments, work_pool_name=...)` take several.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import os
import re
import sys
import time
import uuid
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from transom.exceptions import ParameterError, TransomError, UserInputError
from transom.schedules import Schedule, occurrences
from transom.schemas import DeploymentCreate, DeploymentRead, ScheduleIn, ScheduleRead

if TYPE_CHECKING:
    from transom.core.flows import Flow
    from transom.settings import Settings

__all__ = [
    "Deployment",
    "arun_deployment",
    "deploy",
    "deploy_flow",
    "deployment_for",
    "entrypoint_of",
    "from_source",
    "next_run_times",
    "parse_interval",
    "run_deployment",
    "schedules_from",
    "serve",
    "serve_flow",
    "to_deployment",
]

Interval = str | float | timedelta
"""An interval as seconds, a `timedelta`, or text like `90`, `30s`, `5m`, `2h`, `1d`, `1w`."""

_logger = logging.getLogger("transom.deployments")

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_interval(text: Interval) -> float:
    """Seconds from a `timedelta`, a number, or text: `90`, `30s`, `5m`, `2h`, `1d` or `1w`."""
    if isinstance(text, timedelta):
        text = text.total_seconds()
        if text <= 0:
            raise UserInputError("an interval must be more than zero")
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
                   interval: Interval | Sequence[Interval] | None = None,
                   rrule: str | Sequence[str] | None = None, anchor_date: str | datetime | None = None,
                   timezone: str | None = None) -> list[ScheduleIn]:
    """Schedules from what a user wrote (each may be repeated); bad ones raise UserInputError
    with the reason."""
    def many(value: Any) -> list[Any]:
        if value is None:
            return []
        return [value] if isinstance(value, str | int | float | timedelta) else list(value)

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
    """`file.py:name` of a flow defined in a file, and that file's folder (for a flow of
    `from_source`: the entrypoint as given, and the source's folder)."""
    source = _SOURCES.get(flow)
    if source is not None:
        return source
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
    description: str | None = None, version: str | None = None,
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
            schedules=list(schedules), version=version or flow.version)
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


def _one_of(preferred: str, value: Any, alias: str, alias_value: Any) -> Any:
    """Prefect's keyword (`work_pool_name=`) or ours (`work_pool=`), not both."""
    if value is not None and alias_value is not None and value != alias_value:
        raise UserInputError(f"{preferred}={value!r} and {alias}={alias_value!r} disagree; "
                             f"pass only {preferred}=")
    return value if value is not None else alias_value


@dataclass(frozen=True, eq=False)
class Deployment:
    """A flow's deployment, checked but not registered yet (`Flow.to_deployment(name, ...)`).

    `serve(*deployments)` runs several from one process; `deploy(*deployments)` registers them
    for the workers of a work pool; `apply()` registers one as it is.
    """

    flow: Flow[..., Any]
    body: DeploymentCreate

    @property
    def name(self) -> str:
        return self.body.name

    @property
    def full_name(self) -> str:
        return f"{self.body.flow_name}/{self.body.name}"

    def apply(self, *, settings: Settings | None = None) -> DeploymentRead:
        """Register it (replacing a deployment of the same name) and return what was stored."""
        from transom.services import open_backend

        with open_backend(settings) as backend:
            return backend.upsert_deployment(self.body)

    def __repr__(self) -> str:
        where = f", work pool {self.body.work_pool!r}" if self.body.work_pool else ""
        return f"Deployment({self.full_name!r}, {_describe(self.body.schedules)}{where})"


def to_deployment(
    flow: Flow[..., Any], name: str, *, cron: str | Sequence[str] | None = None,
    interval: Interval | Sequence[Interval] | None = None,
    rrule: str | Sequence[str] | None = None, anchor_date: str | datetime | None = None,
    timezone: str | None = None, parameters: Mapping[str, Any] | None = None,
    tags: Sequence[str] = (), paused: bool = False, concurrency_limit: int | None = None,
    description: str | None = None, work_pool_name: str | None = None,
    work_pool: str | None = None, work_queue_name: str | None = None,
    work_queue: str | None = None, entrypoint: str | None = None, path: str | None = None,
    version: str | None = None, image: str | None = None, build: bool = True,
    push: bool = True, job_variables: Mapping[str, Any] | None = None,
) -> Deployment:
    """`flow` as a deployment named `name`, checked (parameters, schedules) but not registered.
    `interval` is seconds, a `timedelta` or text like `5m`; `work_pool_name` (or `work_pool`)
    is where `deploy` sends its runs; `version` is the flow's unless given.

    Prefect's container options: `build` and `push` have nothing to do (there is no image to
    build), `image` is noted and not used (a worker runs each flow run as a process on its own
    machine, from the deployment's folder), and `job_variables` are refused, saying so."""
    if image is not None:
        _logger.warning("deployment %r: image=%r is not used: a Transom worker runs each flow "
                        "run as a process on its machine, from the code in %s", name, image,
                        path or os.getcwd())
    del build, push
    if job_variables:
        raise UserInputError(
            f"deployment {name!r}: job_variables ({', '.join(sorted(job_variables))}) are not "
            "supported: a Transom worker runs the flow run as a process with the worker's own "
            "environment; set variables where the worker starts")
    if entrypoint is None:
        entrypoint, found_path = entrypoint_of(flow)
        path = path or found_path
    body = deployment_for(
        flow, name=name, entrypoint=entrypoint, path=path or os.getcwd(),
        work_pool=_one_of("work_pool_name", work_pool_name, "work_pool", work_pool),
        work_queue=_one_of("work_queue_name", work_queue_name, "work_queue", work_queue),
        parameters=parameters, tags=tags, paused=paused, concurrency_limit=concurrency_limit,
        description=description, version=version,
        schedules=schedules_from(cron=cron, interval=interval, rrule=rrule,
                                 anchor_date=anchor_date, timezone=timezone))
    return Deployment(flow, body)


def deploy_flow(flow: Flow[..., Any], name: str, *, settings: Settings | None = None,
                **options: Any) -> DeploymentRead:
    """`Flow.deploy`: register `flow` as a deployment (replacing one of the same name) in the
    server of TRANSOM_API_URL, or the embedded database; its runs go to the workers of
    `work_pool_name`. Takes the options of `to_deployment`."""
    return to_deployment(flow, name, **options).apply(settings=settings)


def deploy(*deployments: Deployment, work_pool_name: str | None = None,
           work_pool: str | None = None, settings: Settings | None = None) -> list[DeploymentRead]:
    """Register several deployments at once; `work_pool_name` is the pool of those that name
    none. Returns what was stored, in order."""
    from transom.services import open_backend

    pool = _one_of("work_pool_name", work_pool_name, "work_pool", work_pool)
    bodies = [d.body if d.body.work_pool or pool is None else
              d.body.model_copy(update={"work_pool": pool})
              for d in _checked(deployments, "deploy")]
    with open_backend(settings) as backend:
        return [backend.upsert_deployment(body) for body in bodies]


def serve_flow(flow: Flow[..., Any], name: str | None = None, *, limit: int | None = None,
               pause_on_shutdown: bool = True, print_starting_message: bool = True,
               settings: Settings | None = None, **options: Any) -> None:
    """`Flow.serve`: `serve` one deployment of `flow`, named `name` (default: the flow's name).
    Takes the options of `to_deployment` (no work pool: this process runs it)."""
    serve(to_deployment(flow, name or flow.name, **options), limit=limit,
          pause_on_shutdown=pause_on_shutdown, print_starting_message=print_starting_message,
          settings=settings)


def serve(*deployments: Deployment, limit: int | None = None, pause_on_shutdown: bool = True,
          print_starting_message: bool = True, settings: Settings | None = None) -> None:
    """Register `deployments` and run their scheduled (and requested) runs from this process
    until Ctrl+C: each run starts as a child process, as under a worker, so it can be
    cancelled and its crash is noticed. No work pool or worker is needed. On the way out their
    schedules are paused (unless `pause_on_shutdown=False`), so no runs pile up unserved."""
    from transom.services import open_backend
    from transom.settings import Settings as _Settings
    from transom.worker import Worker

    # Served runs are claimed by this process by deployment, never through a work pool.
    bodies = [d.body.model_copy(update={"work_pool": None, "work_queue": None})
              for d in _checked(deployments, "serve")]
    settings = settings or _Settings.load()
    with open_backend(settings) as backend:
        served = [backend.upsert_deployment(body) for body in bodies]
        first = served[0].full_name
        label = first if len(served) == 1 else f"{first}-and-{len(served) - 1}-more"
        worker = Worker(backend, settings, deployment_ids=[d.id for d in served], limit=limit,
                        name=f"serve-{label}-{os.getpid()}".replace("/", "-"))
        if print_starting_message:
            listed = ", ".join(f"{d.full_name} ({_describe(d.schedules)})" for d in served)
            which = "it" if len(served) == 1 else "one"
            worker.say(f"Serving {listed}; run {which} now with: transom deployment run {first}. "
                       "Stop with Ctrl+C.")
        try:
            worker.run()
        finally:
            if pause_on_shutdown:
                _pause(backend, served, worker.say)


def _checked(deployments: Sequence[Any], verb: str) -> list[Deployment]:
    if not deployments:
        raise UserInputError(f"{verb}() needs at least one deployment; make them with "
                             "flow.to_deployment(name, ...)")
    for d in deployments:
        if not isinstance(d, Deployment):
            raise UserInputError(f"{verb}() takes deployments made with flow.to_deployment("
                                 f"name, ...), not {type(d).__name__}")
    names = [d.full_name for d in deployments]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise UserInputError(f"{verb}() got deployment {twice[0]} more than once; give each "
                             "deployment its own name")
    return list(deployments)


def _pause(backend: Any, served: Sequence[DeploymentRead], say: Callable[[str], None]) -> None:
    """Nobody runs them now: no scheduled runs should pile up until they are served again."""
    from transom.schemas import DeploymentUpdate

    for deployment in served:
        try:
            backend.update_deployment(deployment.id, DeploymentUpdate(paused=True))
            say(f"Paused {deployment.full_name}: it makes no runs until it is served again.")
        except TransomError as exc:
            say(f"Could not pause {deployment.full_name}: {exc}")


def _describe(schedules: Sequence[ScheduleIn | ScheduleRead]) -> str:
    if not schedules:
        return "no schedule"
    return "; ".join(Schedule(s.cron, s.interval, s.anchor_date, s.rrule, s.timezone).describe()
                     for s in schedules)


# -- run_deployment: a run of a deployment started from code, waited for ----------------------
def run_deployment(
    name: str | uuid.UUID, parameters: Mapping[str, Any] | None = None,
    scheduled_time: datetime | None = None, flow_run_name: str | None = None,
    timeout: float | None = None, poll_interval: float | None = 5,
    tags: Sequence[str] | None = None, idempotency_key: str | None = None,
    work_queue_name: str | None = None, as_subflow: bool = True,
    job_variables: Mapping[str, Any] | None = None, *, settings: Settings | None = None,
) -> Any:
    """Start a run of the deployment `name` (`flow/deployment`, or its id) and wait until it
    ends, or `timeout` seconds (0: do not wait); returns the run as it is then (a FlowRunRead:
    `.state`, `.state_name`, `.parameters`, ...), ended or not. Inside a flow or task the new
    run is its subflow unless `as_subflow=False`. A worker of the deployment's pool runs it.

    As in Prefect, from a coroutine (an async flow) it returns an awaitable: `await
    run_deployment(...)`; `arun_deployment` is the async form by name."""
    arguments: dict[str, Any] = dict(name=name, parameters=parameters, scheduled_time=scheduled_time,
                     flow_run_name=flow_run_name, timeout=timeout, poll_interval=poll_interval,
                     tags=tags, idempotency_key=idempotency_key,
                     work_queue_name=work_queue_name, as_subflow=as_subflow,
                     job_variables=job_variables, settings=settings)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _run_deployment(**arguments)
    return arun_deployment(**arguments)


async def arun_deployment(name: str | uuid.UUID, **options: Any) -> Any:
    """`run_deployment` as a coroutine: the waiting happens on a thread, the loop runs on."""
    return await asyncio.to_thread(_run_deployment, name, **options)  # context goes along


def _run_deployment(
    name: str | uuid.UUID, *, parameters: Mapping[str, Any] | None = None,
    scheduled_time: datetime | None = None, flow_run_name: str | None = None,
    timeout: float | None = None, poll_interval: float | None = 5,
    tags: Sequence[str] | None = None, idempotency_key: str | None = None,
    work_queue_name: str | None = None, as_subflow: bool = True,
    job_variables: Mapping[str, Any] | None = None, settings: Settings | None = None,
) -> Any:
    from transom.core.context import current_flow_run, current_task_run
    from transom.schemas import DeploymentRunCreate
    from transom.services import open_backend

    if job_variables:
        raise UserInputError(
            f"job_variables ({', '.join(sorted(job_variables))}) are not supported: a Transom "
            "worker runs the flow run as a process with the worker's own environment")
    interval = 5.0 if poll_interval is None else float(poll_interval)
    if not interval > 0 or (timeout is not None and not timeout >= 0):
        raise UserInputError(f"run_deployment needs poll_interval > 0 and timeout >= 0 (or "
                             f"None), not poll_interval={poll_interval!r}, timeout={timeout!r}")
    parent_flow = parent_task = None
    if as_subflow:
        task_ctx, flow_ctx = current_task_run(), current_flow_run()
        parent_task = task_ctx.task_run_id if task_ctx is not None else None
        parent_flow = (flow_ctx.flow_run_id if flow_ctx is not None
                       else task_ctx.flow_run_id if task_ctx is not None else None)
    body = _checked_body(DeploymentRunCreate, dict(
        parameters=dict(parameters or {}), scheduled_time=scheduled_time, name=flow_run_name,
        tags=list(tags or ()), idempotency_key=idempotency_key, work_queue_name=work_queue_name,
        parent_flow_run_id=parent_flow, parent_task_run_id=parent_task))
    with open_backend(settings) as backend:
        return wait_for_run(backend, backend.create_deployment_run(name, body), timeout,
                            interval)


def wait_for_run(backend: Any, run: Any, timeout: float | None, interval: float,
                 on_state: Callable[[Any], None] | None = None) -> Any:
    """Read `run` again every `interval` seconds until it ends or `timeout` runs out; the run
    as it was last read. `on_state` hears of each state it is seen in."""
    from transom.core.states import FINAL_TYPES

    deadline = None if timeout is None else time.monotonic() + timeout
    seen = run.state_name
    while run.state_type not in FINAL_TYPES:
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            break
        time.sleep(interval if left is None else min(interval, left))
        run = backend.read_flow_run(run.id)
        if on_state is not None and run.state_name != seen:
            seen = run.state_name
            on_state(run)
    return run


def _checked_body(model: Any, values: dict[str, Any]) -> Any:
    import pydantic

    try:
        return model(**values)
    except pydantic.ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error.get("loc", ())) or "run"
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        raise UserInputError(f"run_deployment: {where}: {message}") from None


# -- flows from a folder or a git repository (`Flow.from_source`) ------------------------------
# Where each flow loaded from a source came from: its deployments name the source's folder, and
# the entrypoint as written relative to it (not the file's own folder).
_SOURCES: weakref.WeakKeyDictionary[Any, tuple[str, str]] = weakref.WeakKeyDictionary()


def from_source(source: str | os.PathLike[str], entrypoint: str, *,
                settings: Settings | None = None) -> Flow[..., Any]:
    """The flow `entrypoint` (`path/file.py:fn`, relative to the source) names in `source`: a
    folder, or a repository `git clone` can read (a URL, `user@host:repo.git`, a bare
    repository's folder), cloned into TRANSOM_HOME/sources and updated on each call."""
    from transom.entrypoints import load_flow
    from transom.sources import source_folder

    root = source_folder(os.fspath(source), settings)
    flow = load_flow(entrypoint, cwd=root)
    _SOURCES[flow] = (entrypoint.strip(), str(root))
    return flow
