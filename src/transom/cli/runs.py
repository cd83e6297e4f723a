"""`transom runs ls/show/cancel/retry/resume/logs`: what was recorded, from the embedded database or the
server of TRANSOM_API_URL (`services.open_backend`)."""

from __future__ import annotations

import logging
import re
import uuid
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

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
    print_csv,
    print_json,
    print_listing,
    print_table,
    show_format_option,
)
from transom.exceptions import NotFound, UserInputError
from transom.schemas import FlowRunRead, LogLine

if TYPE_CHECKING:  # the database and HTTP stacks load only when a command uses them
    from transom.services import Backend

app = Typer(no_args_is_help=True)

STATE_STYLES = {
    "COMPLETED": "green", "FAILED": "red", "CRASHED": "bold red", "CANCELLED": "yellow",
    "CANCELLING": "yellow", "RUNNING": "cyan", "PENDING": "blue", "SCHEDULED": "blue",
}
LEVEL_STYLES = {"DEBUG": "dim", "INFO": "", "WARNING": "yellow", "ERROR": "red", "CRITICAL": "bold red"}


def _all_logs(backend: Backend, run_id: uuid.UUID, *, min_level: int | None = None,
              text: str | None = None) -> list[LogLine]:
    lines: list[LogLine] = []
    while True:
        page = backend.flow_run_logs(run_id, limit=1000, offset=len(lines), min_level=min_level,
                                     text=text)
        lines.extend(page.items)
        if not page.items or len(lines) >= page.total:
            return lines


def _log_level(text: str) -> int:
    """A level by name (any case) or number, as `--level` takes it."""
    named = logging.getLevelName(text.strip().upper())  # a name's number (3.10 has no mapping)
    if isinstance(named, int):
        return named
    if text.strip().isdigit() and 0 <= int(text) <= 100:
        return int(text)
    raise UserInputError(f"--level takes DEBUG, INFO, WARNING, ERROR, CRITICAL or a number from "
                         f"0 to 100, not {text!r}")


def parse_since(text: str, *, now: datetime | None = None, option: str = "--since") -> datetime:
    """`30m`, `2h`, `1d`, `1w` ago, or an ISO date/time (UTC when no zone is given)."""
    now = now or datetime.now(timezone.utc)
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", text.lower())
    if match:
        amount, unit = float(match.group(1)), match.group(2)
        seconds = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[unit]
        return now - timedelta(seconds=amount * seconds)
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UserInputError(f"{option} {text!r} is neither a duration like 30m, 2h, 1d nor an "
                             "ISO date like 2026-11-24 or 2026-11-24T08:00") from None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def _state(run: FlowRunRead | object) -> Text:
    name = getattr(run, "state_name", None) or "-"
    kind = getattr(run, "state_type", None)
    return Text(name, style=STATE_STYLES.get(kind.value if kind else "", ""))


def _when(value: datetime | None) -> str:
    return format_time(value)


def _start(run: FlowRunRead) -> str:
    """When it started; for a run that has not, when it is expected to."""
    if run.start_time is not None or run.expected_start_time is None:
        return _when(run.start_time)
    return f"{_when(run.expected_start_time)} (expected)"


def _short_id(value: uuid.UUID) -> str:
    """The id as a table shows it: 8 characters in a terminal (a unique prefix does for every
    command), whole in a pipe or a file, where a script may need it."""
    return value.hex[:8] if console().is_terminal else str(value)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 120:
        return f"{seconds:.2f}s"
    return str(timedelta(seconds=round(seconds)))


def _is_interrupt(error: dict[str, str] | None) -> bool:
    """A stop from outside (a cancel, Ctrl+C, SIGTERM): its traceback is ours, not the user's."""
    kind = (error or {}).get("type", "")
    return kind.rsplit(".", 1)[-1] in ("RunInterrupted", "KeyboardInterrupt", "CancelledError")


@app.command("ls")
def ls(
    flow: str | None = typer.Option(None, "--flow", "-f", help="Only runs of this flow."),
    state: str | None = typer.Option(None, "--state", "-s", help="Only runs in this state type (completed, failed, ...)."),
    since: str | None = typer.Option(None, "--since", help="Only runs created since: 30m, 2h, 1d, or an ISO date."),
    until: str | None = typer.Option(None, "--until", help="Only runs created before: 30m, 2h, 1d (ago), or an ISO date."),
    deployment: str | None = typer.Option(None, "--deployment", "-d", help="Only runs of this deployment (FLOW/NAME or id)."),
    pool: str | None = typer.Option(None, "--pool", "-p", help="Only runs in this work pool."),
    tag: str | None = typer.Option(None, "--tag", "-t", help="Only runs carrying this tag."),
    prefix: str | None = typer.Option(None, "--prefix", help="Only runs whose name (any case) or id starts with this."),
    limit: int = typer.Option(20, "--limit", "-n", min=1, help="How many runs to show."),
    output: ListFormat = list_format_option(),
) -> None:
    """List flow runs, newest first."""
    from transom.core.states import state_type
    from transom.services import open_backend

    after = parse_since(since) if since else None
    before = parse_since(until, option="--until") if until else None
    kind = state_type(state) if state else None
    with open_backend() as backend:
        page = backend.list_flow_runs(flow_name=flow, state=kind, since=after, until=before,
                                      deployment=deployment, work_pool=pool, tag=tag,
                                      prefix=prefix, limit=limit)
        runs, total = page.items, page.total
        deployments = ({d.id: d.full_name for d in backend.list_deployments()}
                       if output is ListFormat.table and any(r.deployment_id for r in runs)
                       else {})
    if print_listing(output, runs, FlowRunRead):
        return
    out = console()
    if not runs:
        out.print("No runs recorded yet." if not (flow or state or since or until or deployment
                                                   or pool or tag or prefix)
                  else "No runs match those filters.")
        return
    table = Table(title=f"Flow runs ({len(runs)} of {total})", title_justify="left")
    table.add_column("ID", no_wrap=True)
    table.add_column("Flow", overflow="fold", min_width=6)
    table.add_column("Name", overflow="fold", min_width=8)
    table.add_column("Deployment", overflow="fold", min_width=6)
    table.add_column("State", min_width=9)
    table.add_column("Start", min_width=10)  # in a narrow terminal, the date over the time
    table.add_column("Duration", min_width=8, no_wrap=True)
    table.add_column("Tasks", justify="right")
    for run in runs:
        deployment = deployments.get(run.deployment_id, "?") if run.deployment_id else "-"
        table.add_row(_short_id(run.id), run.flow_name, run.name, deployment, _state(run),
                      _start(run), _duration(run.duration), str(run.task_run_count))
    print_table(table)


@app.command("show")
def show(
    run_id: str = typer.Argument(..., help="A flow run id or a unique prefix of one."),
    output: ShowFormat = show_format_option(),
) -> None:
    """A flow run: its task runs, its state history and its logs."""
    from transom.services import open_backend

    with open_backend() as backend:
        run = backend.read_flow_run(run_id)
        task_runs = backend.flow_run_task_runs(run.id)
        history = backend.flow_run_states(run.id)
        logs = _all_logs(backend, run.id)
        deployment = backend.read_deployment(run.deployment_id).full_name \
            if run.deployment_id and output is ShowFormat.table else None
    if output is ShowFormat.json:
        print_json({"flow_run": run, "task_runs": task_runs, "states": history, "logs": logs})
        return
    out = console()
    out.print(Text.assemble(("Flow run ", "bold"), (run.name, "bold cyan"), f"  {run.id}"))
    out.print(Text.assemble("Flow:       ", run.flow_name))
    if deployment:
        out.print(Text.assemble("Deployment: ", deployment))
    out.print(Text.assemble("State:      ", _state(run),
                            f"  {run.state_message}" if run.state_message else ""))
    out.print(f"Started:    {_start(run)}   Duration: {_duration(run.duration)}"
              f"   Attempts: {run.run_count}")
    if run.parameters:
        out.print(Text(f"Parameters: {run.parameters}"))
    if run.parent_flow_run_id:
        out.print(f"Parent run: {run.parent_flow_run_id}")
    if task_runs:
        table = Table(title=f"Task runs ({len(task_runs)})", title_justify="left")
        for column in ("Name", "State", "Started", "Duration", "Attempts"):
            table.add_column(column)
        for task_run in task_runs:
            table.add_row(task_run.name, _state(task_run), _when(task_run.start_time),
                          _duration(task_run.duration), str(task_run.run_count))
        print_table(table)
    states = Table(title="State history", title_justify="left")
    for column in ("Time", "State", "Message"):
        states.add_column(column)
    for record in history:
        states.add_row(format_time(record.timestamp, milliseconds=True),
                       Text(record.name, style=STATE_STYLES.get(record.type.value, "")),
                       record.message or "")
    print_table(states)
    error = history[-1].error if history else None
    if error and _is_interrupt(error):
        if not run.state_message:  # the state line says why; say it here when it does not
            out.print(Text(f"Stopped: {error.get('message') or 'interrupted'}"))
    elif error:
        out.print(Text("Error traceback:", style="bold red"))
        out.print(error.get("traceback", ""), markup=False, highlight=False)
    _print_logs(logs, names={t.id: t.name for t in task_runs})


@app.command("cancel")
def cancel(
    run_id: str = typer.Argument(..., help="A flow run id or a unique prefix of one."),
    message: str | None = typer.Option(None, "--message", "-m", help="Why (kept with the state)."),
) -> None:
    """Cancel a flow run: one a worker runs is stopped by its worker; any other ends now (its
    process is stopped if it runs on this machine); a waiting one never starts."""
    from transom.services import open_backend

    with open_backend() as backend:
        started = backend.read_flow_run(run_id).start_time is not None
        state = backend.cancel_flow_run(run_id, message)
    if state.type.value == "CANCELLING":
        what = "its worker stops it now"
    elif started:
        what = "it has ended, and its process was stopped if it runs on this machine"
    else:
        what = "it will not run"
    console().print(Text.assemble("Flow run ", (str(state.flow_run_id), "bold"), " is ",
                                  (state.name, STATE_STYLES.get(state.type.value, "")),
                                  f": {what}."))


@app.command("delete")
def delete(
    run_ids: list[str] = typer.Argument(..., help="Flow run ids or unique prefixes of them."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask first."),
) -> None:
    """Delete flow runs that are not going on, with their states, task runs and logs (a running
    one must be cancelled first)."""
    from transom.services import open_backend

    out = console()
    if not yes and not typer.confirm(f"Delete {len(run_ids)} flow run(s) and all they recorded?"):
        raise typer.Exit(1)
    refused = 0
    with open_backend() as backend:
        for ref in run_ids:
            try:
                run = backend.delete_flow_run(ref)
            except (UserInputError, NotFound) as exc:
                refused += 1
                out.print(Text(f"{ref}: {exc}", style="red"))
                continue
            out.print(Text.assemble("Deleted flow run ", (run.name, "bold"), f" ({run.id})."))
    if refused:
        raise typer.Exit(1)


@app.command("retry")
def retry(
    run_id: str = typer.Argument(..., help="A flow run id or a unique prefix of one."),
) -> None:
    """Retry a deployment's flow run that ended Failed, Crashed or Cancelled: the same run is
    scheduled now, a worker of its pool runs it again (its run count goes up), and its tasks
    whose results were persisted are not run again."""
    from transom.services import open_backend

    with open_backend() as backend:
        state = backend.retry_flow_run(run_id)
    console().print(Text.assemble("Flow run ", (str(state.flow_run_id), "bold"), " is ",
                                  (state.name, STATE_STYLES.get(state.type.value, "")),
                                  ": a worker of its pool runs it again."))


@app.command("resume")
def resume(
    run_id: str = typer.Argument(..., help="A flow run id or a unique prefix of one."),
    input_json: str | None = typer.Option(
        None, "--input", "-i", help="The input the paused run waits for, as JSON "
        "(e.g. '{\"approved\": true}')."),
) -> None:
    """Resume a paused flow run (pause_flow_run: its process carries on; suspend_flow_run: a
    worker starts it again), with the input it waits for."""
    import json

    from transom.schemas import ResumeIn
    from transom.services import open_backend

    run_input = None
    if input_json is not None:
        try:
            run_input = json.loads(input_json)
        except ValueError as exc:
            raise UserInputError(f"--input is not JSON: {exc}") from None
    with open_backend() as backend:
        state = backend.resume_flow_run(run_id, ResumeIn(run_input=run_input))
    console().print(Text.assemble("Flow run ", (str(state.flow_run_id), "bold"), " is ",
                                  (state.name, STATE_STYLES.get(state.type.value, "")),
                                  ": resumed."))


@app.command("logs")
def logs(
    run_id: str = typer.Argument(..., help="A flow run id or a unique prefix of one."),
    level: str | None = typer.Option(
        None, "--level", "-l", help="Only lines at this level or above: DEBUG, INFO, WARNING, "
        "ERROR, CRITICAL (or a number)."),
    search: str | None = typer.Option(None, "--search", "-s",
                                      help="Only lines holding this text (any case)."),
    output: ListFormat = list_format_option(),
) -> None:
    """The log lines of a flow run and its task runs."""
    from transom.services import open_backend

    min_level = _log_level(level) if level is not None else None
    if search is not None and (not search or "\x00" in search or len(search) > 200):
        raise UserInputError("--search takes 1 to 200 characters of text")
    with open_backend() as backend:
        run = backend.read_flow_run(run_id)
        lines = _all_logs(backend, run.id, min_level=min_level, text=search)
        names = {t.id: t.name for t in backend.flow_run_task_runs(run.id)}
    if output is ListFormat.json:
        print_json(lines)
    elif output is ListFormat.csv:
        print_csv(lines, LogLine)
    else:
        _print_logs(lines, title=False, names=names)


def _print_logs(lines: list[LogLine], *, title: bool = True,
                names: dict[uuid.UUID, str] | None = None) -> None:
    out = console()
    if title:
        zone = format_time(lines[0].timestamp).rsplit(" ", 1)[-1] if lines else ""
        out.print(Text(f"Logs ({len(lines)}" + (f", times in {zone})" if zone else ")"),
                       style="bold"))
    if not lines:
        out.print("No log lines.")
        return
    for line in lines:
        level = logging.getLevelName(line.level)
        stamp = line.timestamp.astimezone().strftime("%H:%M:%S.%f")[:-3]
        source = (names or {}).get(line.task_run_id) if line.task_run_id else None
        out.print(Text.assemble(f"{stamp} ", (f"{level:<8}", LEVEL_STYLES.get(level, "")),
                                (f" [{source}]" if source else "", "dim"), f" {line.message}"))
