"""`transom deployment ls/inspect/run/pause/resume/delete`."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

import typer
from rich.table import Table
from rich.text import Text

from transom.cli.output import console
from transom.schemas import DeploymentRead

app = typer.Typer(no_args_is_help=True)

NAME_HELP = "FLOW/NAME, or NAME when only one flow has a deployment of that name, or its id."


def _schedules(deployment: DeploymentRead) -> str:
    return "; ".join(s.describe() for s in deployment.schedules) or "-"


def _when(times: Sequence[datetime]) -> str:
    return ", ".join(t.astimezone().strftime("%Y-%m-%d %H:%M:%S") for t in times) or "-"


@app.command("ls")
def ls(
    flow: str | None = typer.Option(None, "--flow", "-f", help="Only deployments of this flow."),
    pool: str | None = typer.Option(None, "--pool", "-p", help="Only deployments of this pool."),
) -> None:
    """List deployments and when they run next."""
    from transom.deployments import next_run_times
    from transom.services import open_backend

    with open_backend() as backend:
        deployments = backend.list_deployments(flow_name=flow, work_pool=pool)
    out = console()
    if not deployments:
        out.print("No deployments yet; create one with `transom deploy path/file.py:flow_fn "
                  "--name NAME --pool POOL`." if not (flow or pool) else
                  "No deployments match those filters.")
        return
    table = Table(title=f"Deployments ({len(deployments)})", title_justify="left")
    for column in ("Name", "Pool", "Schedules", "Status", "Next run"):
        table.add_column(column, overflow="fold")
    for deployment in deployments:
        status = Text("paused", "yellow") if deployment.paused else Text("active", "green")
        table.add_row(deployment.full_name, deployment.work_pool_name or "(served)",
                      _schedules(deployment), status, _when(next_run_times(deployment, 1)))
    out.print(table)


@app.command("inspect")
def inspect(name: str = typer.Argument(..., help=NAME_HELP)) -> None:
    """A deployment: entrypoint, pool, parameters, schedules and next runs."""
    from transom.deployments import next_run_times
    from transom.services import open_backend

    with open_backend() as backend:
        deployment = backend.read_deployment(name)
    out = console()
    out.print(Text.assemble(("Deployment ", "bold"), (deployment.full_name, "bold cyan"),
                            f"  {deployment.id}"))
    if deployment.description:
        out.print(f"Description: {deployment.description}")
    out.print(f"Entrypoint:  {deployment.entrypoint}   (in {deployment.path or '-'})")
    out.print(f"Work pool:   {deployment.work_pool_name or '(served by its own process)'}"
              f"   queue: {deployment.work_queue_name or 'default'}")
    out.print(Text.assemble("Status:      ", Text("paused", "yellow") if deployment.paused
                            else Text("active", "green"),
                            f"   concurrency limit: {deployment.concurrency_limit}"
                            if deployment.concurrency_limit is not None else ""))
    out.print(f"Parameters:  {json.dumps(deployment.parameters, ensure_ascii=False)}")
    if deployment.tags:
        out.print(f"Tags:        {', '.join(deployment.tags)}")
    if deployment.schedules:
        for schedule in deployment.schedules:
            active = "" if schedule.active else " (inactive)"
            out.print(f"Schedule:    {schedule.describe()}{active}")
    else:
        out.print("Schedule:    none (runs only when asked: transom deployment run)")
    out.print(f"Next runs:   {_when(next_run_times(deployment, 5))}")


@app.command("run")
def run(
    name: str = typer.Argument(..., help=NAME_HELP),
    param: list[str] = typer.Option([], "--param", metavar="NAME=VALUE", help="A parameter (JSON or text); overrides the deployment's. Repeatable."),
    params_json: str | None = typer.Option(None, "--params", metavar="JSON", help="Parameters as a JSON object."),
    start_in: str | None = typer.Option(None, "--in", metavar="DURATION", help="Start later: 30s, 5m, 2h."),
) -> None:
    """Ask for a run of a deployment now (a worker of its pool starts it)."""
    from datetime import timedelta

    from transom.cli.run import parse_parameters
    from transom.core.states import now_utc
    from transom.deployments import parse_interval
    from transom.schemas import DeploymentRunCreate
    from transom.services import open_backend

    parameters = parse_parameters(param, params_json)
    when = now_utc() + timedelta(seconds=parse_interval(start_in)) if start_in else None
    with open_backend() as backend:
        deployment = backend.read_deployment(name)
        flow_run = backend.create_deployment_run(deployment.id, DeploymentRunCreate(
            parameters=parameters, scheduled_time=when))
        idle = deployment.work_pool_name is not None and \
            backend.read_work_pool(deployment.work_pool_name).workers_online == 0
    out = console()
    at = "now" if when is None else when.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    out.print(Text.assemble("Flow run ", (flow_run.name, "bold"), f" {flow_run.id} of ",
                            (deployment.full_name, "bold cyan"), f" is scheduled for {at}."))
    if idle:
        out.print(Text(f"No worker is polling work pool {deployment.work_pool_name!r}: start "
                       f"one with `transom worker start --pool {deployment.work_pool_name}`.",
                       style="yellow"))
    out.print(Text(f"Watch it: transom runs show {flow_run.id.hex[:8]}", style="dim"))


@app.command("pause")
def pause(name: str = typer.Argument(..., help=NAME_HELP)) -> None:
    """Pause a deployment: its schedules make no more runs until it is resumed."""
    _set(name, paused=True)


@app.command("resume")
def resume(name: str = typer.Argument(..., help=NAME_HELP)) -> None:
    """Resume a paused deployment."""
    _set(name, paused=False)


def _set(name: str, **changes: object) -> None:
    from transom.schemas import DeploymentUpdate
    from transom.services import open_backend

    with open_backend() as backend:
        deployment = backend.update_deployment(name, DeploymentUpdate.model_validate(changes))
    state = "paused" if deployment.paused else "active"
    console().print(Text.assemble("Deployment ", (deployment.full_name, "bold cyan"),
                                  f" is {state}."))


@app.command("delete")
def delete(name: str = typer.Argument(..., help=NAME_HELP)) -> None:
    """Delete a deployment and its runs that have not started (recorded runs stay)."""
    from transom.services import open_backend

    with open_backend() as backend:
        deployment = backend.delete_deployment(name)
    console().print(Text.assemble("Deployment ", (deployment.full_name, "bold cyan"), " deleted."))
