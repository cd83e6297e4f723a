"""`transom deploy path/file.py:flow_fn --name N --pool P --cron "..."`: register a deployment;
`transom deploy --all` (or `--name N`): register those of the project file (`transom.yaml`, else
`prefect.yaml`, in the current folder; see projects.py).

The entrypoint is loaded here, so a missing file, a name that is not a flow, bad parameters and
bad schedules are refused now, with the reason, rather than when the first run starts.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import typer
from rich.text import Text

from transom.cli.output import console, format_time

__all__ = ["deploy"]


def deploy(
    entrypoint: str | None = typer.Argument(None, help="path/to/file.py:flow_fn or package.module:flow_fn (none: the project file's deployments)"),
    name: list[str] = typer.Option([], "--name", "-n", help="The deployment's name; with no entrypoint, a deployment of the project file to register (repeatable)."),
    all_: bool = typer.Option(False, "--all", help="Register every deployment of transom.yaml (or prefect.yaml) in this folder."),
    pool: str | None = typer.Option(None, "--pool", "-p", help="The work pool whose workers run it (required with an entrypoint; with --all or --name it comes from the project file)."),
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
    from transom.deployments import deployment_for, schedules_from
    from transom.entrypoints import load_flow
    from transom.exceptions import UserInputError

    if entrypoint is None:
        given = {"--pool": pool, "--cron": cron, "--interval": interval, "--rrule": rrule,
                 "--timezone": timezone, "--anchor": anchor, "--param": param,
                 "--params": params_json, "--queue": queue, "--tag": tag, "--limit": limit,
                 "--paused": paused, "--description": description}
        extra = [option for option, value in given.items() if value not in (None, [], False)]
        if extra:
            raise UserInputError(f"{extra[0]} applies to `transom deploy path/file.py:flow_fn`; "
                                 "with --all or --name, write it in the project file")
        if not all_ and not name:
            raise UserInputError("name what to deploy: `transom deploy path/file.py:flow_fn "
                                 "--name N --pool P`, or `transom deploy --all` for the "
                                 "deployments of transom.yaml (or prefect.yaml)")
        _deploy_project([] if all_ else name)
        return
    if all_:
        raise UserInputError("--all registers the project file's deployments; leave out the "
                             f"entrypoint {entrypoint!r}, or --all")
    if len(name) != 1:
        raise UserInputError("--name is required, once: the deployment's name")
    if pool is None:
        raise UserInputError("--pool is required: name the work pool whose workers run the "
                             "deployment (`transom work-pool create NAME` makes one), or use "
                             "flow.serve() to run it from its own process")
    parameters = parse_parameters(param, params_json)
    schedules = schedules_from(cron=cron, interval=interval, rrule=rrule, anchor_date=anchor,
                               timezone=timezone)
    flow = load_flow(entrypoint)
    body = deployment_for(flow, name=name[0], entrypoint=entrypoint.strip(), path=os.getcwd(),
                          work_pool=pool, work_queue=queue, schedules=schedules,
                          parameters=parameters, tags=tag, paused=paused,
                          concurrency_limit=limit, description=description)
    _register([body])


def _deploy_project(names: list[str]) -> None:
    from transom.projects import find_project_file, read_project

    file = find_project_file(Path.cwd())
    found = read_project(file, names=names)
    console().print(Text(f"Read {len(found)} deployment{'s' if len(found) != 1 else ''} "
                         f"from {file.name}.", style="dim"))
    _register([d.body for d in found])


def _register(bodies: list[Any]) -> None:
    """Check every work pool first, so a missing one registers nothing; then register all."""
    from transom.deployments import next_run_times
    from transom.services import open_backend

    out = console()
    with open_backend() as backend:
        for pool in dict.fromkeys(body.work_pool for body in bodies):
            backend.read_work_pool(pool)  # a missing pool: say so with the command that makes it
        registered = [backend.upsert_deployment(body) for body in bodies]
    for deployment in registered:
        pool = deployment.work_pool_name
        out.print(Text.assemble("Deployment ", (deployment.full_name, "bold cyan"),
                                f" registered in work pool {pool!r}",
                                " (paused)" if deployment.paused else "", "."))
        for schedule in deployment.schedules:
            out.print(f"  Schedule: {schedule.describe()}")
        for step in deployment.pull_steps:
            ((step_name, options),) = step.items()
            shown = ", ".join(f"{k}={v}" for k, v in options.items())
            out.print(f"  Pull step: {step_name.rsplit('.', 1)[-1]} ({shown})")
        upcoming = next_run_times(deployment)
        if upcoming:
            # In the schedule's own zone (labelled), as its cron or rrule was written.
            zone = next((s.timezone for s in deployment.schedules if s.active), None) or "UTC"
            out.print(f"  Next runs: {', '.join(format_time(t, zone) for t in upcoming)}")
    first = registered[0]
    out.print(Text(f"Run it now: transom deployment run {first.full_name}; start a worker: "
                   f"transom worker start --pool {first.work_pool_name}", style="dim"))
