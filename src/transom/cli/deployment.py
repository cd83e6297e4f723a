"""`transom deployment ls/inspect/run/pause/resume/delete`."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table
from rich.text import Text

from transom.cli.help import Typer
from transom.cli.output import (
    ListFormat,
    ShowFormat,
    console,
    format_time,
    list_format_option,
    print_json,
    print_listing,
    print_table,
    show_format_option,
)
from transom.schemas import DeploymentRead, FlowRunRead

if TYPE_CHECKING:
    from transom.services import Backend

app = Typer(no_args_is_help=True)

NAME_HELP = "FLOW/NAME, or NAME when only one flow has a deployment of that name, or its id."


def _schedules(deployment: DeploymentRead) -> str:
    return "; ".join(s.describe() for s in deployment.schedules) or "-"


def _zone(deployment: DeploymentRead) -> str | None:
    """The zone its times are shown in: its schedules' when they agree, else the local one."""
    zones = {s.timezone or "UTC" for s in deployment.schedules if s.active}
    return zones.pop() if len(zones) == 1 else None


def _when(times: Sequence[datetime], zone: str | None = None) -> str:
    return ", ".join(format_time(t, zone) for t in times) or "-"


def scheduled_runs(backend: Backend) -> dict[uuid.UUID, list[FlowRunRead]]:
    """The runs that wait in Scheduled, soonest first, by deployment."""
    from transom.core.states import StateType

    found: dict[uuid.UUID, list[FlowRunRead]] = {}
    offset = 0
    while True:
        page = backend.list_flow_runs(state=StateType.SCHEDULED, limit=1000, offset=offset)
        for run in page.items:
            if run.deployment_id is not None:
                found.setdefault(run.deployment_id, []).append(run)
        offset += len(page.items)
        if not page.items or offset >= page.total:
            break
    far = datetime.max.replace(tzinfo=timezone.utc)
    for runs in found.values():
        runs.sort(key=lambda r: r.expected_start_time or far)
    return found


def next_runs(deployment: DeploymentRead, scheduled: Sequence[FlowRunRead],
              count: int) -> list[datetime]:
    """The next times it runs: the Scheduled runs that exist, then what its schedules add."""
    from transom.deployments import next_run_times

    times = {r.expected_start_time for r in scheduled if r.expected_start_time is not None}
    times.update(next_run_times(deployment, count))
    return sorted(times)[:count]


@app.command("ls")
def ls(
    flow: str | None = typer.Option(None, "--flow", "-f", help="Only deployments of this flow."),
    pool: str | None = typer.Option(None, "--pool", "-p", help="Only deployments of this pool."),
    output: ListFormat = list_format_option(),
) -> None:
    """List deployments and when they run next."""
    from transom.services import open_backend

    with open_backend() as backend:
        deployments = backend.list_deployments(flow_name=flow, work_pool=pool)
        scheduled = scheduled_runs(backend) if output is ListFormat.table and deployments else {}
    if print_listing(output, deployments, DeploymentRead):
        return
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
        upcoming = next_runs(deployment, scheduled.get(deployment.id, []), 1)
        table.add_row(deployment.full_name, deployment.work_pool_name or "(served)",
                      _schedules(deployment), status, _when(upcoming, _zone(deployment)))
    print_table(table)


@app.command("inspect")
def inspect(
    name: str = typer.Argument(..., help=NAME_HELP),
    output: ShowFormat = show_format_option(),
) -> None:
    """A deployment: entrypoint, pool, parameters, schedules and next runs."""
    from transom.services import open_backend

    with open_backend() as backend:
        deployment = backend.read_deployment(name)
        scheduled = scheduled_runs(backend).get(deployment.id, [])
    if output is ShowFormat.json:
        print_json({"deployment": deployment, "scheduled_runs": scheduled})
        return
    out = console()
    out.print(Text.assemble(("Deployment ", "bold"), (deployment.full_name, "bold cyan"),
                            f"  {deployment.id}"))
    if deployment.description:
        out.print(Text(f"Description: {deployment.description}"))
    out.print(Text(f"Entrypoint:  {deployment.entrypoint}   (in {deployment.path or '-'})"))
    out.print(Text(f"Work pool:   {deployment.work_pool_name or '(served by its own process)'}"
                   f"   queue: {deployment.work_queue_name or 'default'}"))
    out.print(Text.assemble("Status:      ", Text("paused", "yellow") if deployment.paused
                            else Text("active", "green"),
                            f"   concurrency limit: {deployment.concurrency_limit}"
                            if deployment.concurrency_limit is not None else ""))
    out.print(Text(f"Parameters:  {json.dumps(deployment.parameters, ensure_ascii=False)}"))
    if deployment.tags:
        out.print(Text(f"Tags:        {', '.join(deployment.tags)}"))
    if deployment.schedules:
        for schedule in deployment.schedules:
            active = "" if schedule.active else " (inactive)"
            out.print(Text(f"Schedule:    {schedule.describe()}{active}"))
    else:
        out.print("Schedule:    none (runs only when asked: transom deployment run)")
    zone = _zone(deployment)
    out.print(Text(f"Next runs:   {_when(next_runs(deployment, scheduled, 5), zone)}"))
    if scheduled:
        shown = ", ".join(f"{r.name} ({r.id.hex[:8]}) at {format_time(r.expected_start_time, zone)}"
                          for r in scheduled[:5])
        more = f" and {len(scheduled) - 5} more" if len(scheduled) > 5 else ""
        out.print(Text(f"Scheduled:   {len(scheduled)} run(s) waiting: {shown}{more}"))


@app.command("run")
def run(
    name: str = typer.Argument(..., help=NAME_HELP),
    param: list[str] = typer.Option([], "--param", metavar="NAME=VALUE", help="A parameter (JSON or text); overrides the deployment's. Repeatable."),
    params_json: str | None = typer.Option(None, "--params", metavar="JSON", help="Parameters as a JSON object."),
    start_in: str | None = typer.Option(None, "--in", metavar="DURATION", help="Start later: 30s, 5m, 2h."),
    watch: bool = typer.Option(False, "--watch", "-w", help="Follow the run to its end: each state "
                               "as it comes; the exit code is 0 only if it completed."),
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
    at = "now" if when is None else format_time(when, _zone(deployment))
    out.print(Text.assemble("Flow run ", (flow_run.name, "bold"), f" {flow_run.id} of ",
                            (deployment.full_name, "bold cyan"), f" is scheduled for {at}."))
    if idle:
        out.print(Text(f"No worker is polling work pool {deployment.work_pool_name!r}: start "
                       f"one with `transom worker start --pool {deployment.work_pool_name}`.",
                       style="yellow"))
    if not watch:
        out.print(Text(f"Watch it: transom runs show {flow_run.id.hex[:8]}", style="dim"))
        return
    _watch(flow_run)


def _watch(flow_run: Any) -> None:
    """Print each state of `flow_run` as it moves on, until it ends; exit 1 unless Completed."""
    from transom.cli.runs import STATE_STYLES
    from transom.deployments import wait_for_run
    from transom.services import open_backend

    out = console()

    def said(run: Any) -> None:
        style = STATE_STYLES.get(run.state_type.value if run.state_type else "", "")
        out.print(Text.assemble(f"{format_time(run.state_timestamp or run.updated)}  ",
                                (run.state_name or "?", style),
                                f"  {run.state_message}" if run.state_message else ""))

    said(flow_run)
    with open_backend() as backend:
        final = wait_for_run(backend, flow_run, None, 0.5, on_state=said)
    if final.state_type is None or final.state_type.value != "COMPLETED":
        raise typer.Exit(1)


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
