"""`transom deploy path/file.py:flow_fn --name N --pool P --cron "..."`: register a deployment.

The entrypoint is loaded here, so a missing file, a name that is not a flow, bad parameters and
bad schedules are refused now, with the reason, rather than when the first run starts.
"""

from __future__ import annotations

import os

import typer
from rich.text import Text

from transom.cli.output import console

__all__ = ["deploy"]


def deploy(
    entrypoint: str = typer.Argument(..., help="path/to/file.py:flow_fn or package.module:flow_fn"),
    name: str = typer.Option(..., "--name", "-n", help="The deployment's name."),
    pool: str | None = typer.Option(None, "--pool", "-p", help="The work pool whose workers run it."),
    cron: list[str] = typer.Option([], "--cron", help="A cron schedule, e.g. '0 9 * * 1-5'. Repeatable."),
    interval: list[str] = typer.Option([], "--interval", help="Every so long: 90, 30s, 5m, 2h, 1d. Repeatable."),
    rrule: list[str] = typer.Option([], "--rrule", help="An iCalendar RRULE, e.g. FREQ=WEEKLY;BYDAY=MO. Repeatable."),
    timezone: str | None = typer.Option(None, "--timezone", "--tz", help="IANA timezone of the schedules (default UTC)."),
    anchor: str | None = typer.Option(None, "--anchor", help="ISO time intervals and rrules count from."),
    param: list[str] = typer.Option([], "--param", metavar="NAME=VALUE", help="A default parameter (JSON or text). Repeatable."),
    params_json: str | None = typer.Option(None, "--params", metavar="JSON", help="Default parameters as a JSON object."),
    queue: str | None = typer.Option(None, "--queue", "-q", help="The pool's queue (default: default)."),
    tag: list[str] = typer.Option([], "--tag", "-t", help="A tag for its runs. Repeatable."),
    limit: int | None = typer.Option(None, "--limit", "-l", min=0, help="At most this many of its runs at once."),
    paused: bool = typer.Option(False, "--paused", help="Register it paused (no scheduled runs)."),
    description: str | None = typer.Option(None, "--description", help="What it does."),
) -> None:
    """Register a flow as a deployment (or update the one of that name)."""
    from transom.cli.run import parse_parameters
    from transom.deployments import deployment_for, next_run_times, schedules_from
    from transom.entrypoints import load_flow
    from transom.exceptions import UserInputError
    from transom.services import open_backend

    if pool is None:
        raise UserInputError("--pool is required: name the work pool whose workers run the "
                             "deployment (`transom work-pool create NAME` makes one), or use "
                             "flow.serve() to run it from its own process")
    parameters = parse_parameters(param, params_json)
    schedules = schedules_from(cron=cron, interval=interval, rrule=rrule, anchor_date=anchor,
                               timezone=timezone)
    flow = load_flow(entrypoint)
    body = deployment_for(flow, name=name, entrypoint=entrypoint.strip(), path=os.getcwd(),
                          work_pool=pool, work_queue=queue, schedules=schedules,
                          parameters=parameters, tags=tag, paused=paused,
                          concurrency_limit=limit, description=description)
    with open_backend() as backend:
        backend.read_work_pool(pool)  # a missing pool: say so with the command that makes it
        deployment = backend.upsert_deployment(body)
    out = console()
    out.print(Text.assemble("Deployment ", (deployment.full_name, "bold cyan"),
                            f" registered in work pool {pool!r}", " (paused)" if paused else "", "."))
    for schedule in deployment.schedules:
        out.print(f"  Schedule: {schedule.describe()}")
    upcoming = next_run_times(deployment)
    if upcoming:
        shown = ", ".join(t.astimezone().strftime("%Y-%m-%d %H:%M:%S") for t in upcoming)
        out.print(f"  Next runs: {shown}")
    out.print(Text(f"Run it now: transom deployment run {deployment.full_name}; start a worker: "
                   f"transom worker start --pool {pool}", style="dim"))
