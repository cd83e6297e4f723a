"""`transom runs ls/show/cancel/logs`: what was recorded, from the embedded database or the
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

from transom.cli.output import console
from transom.exceptions import UserInputError
from transom.schemas import FlowRunRead, LogLine

if TYPE_CHECKING:  # the database and HTTP stacks load only when a command uses them
    from transom.services import Backend

app = typer.Typer(no_args_is_help=True)

STATE_STYLES = {
    "COMPLETED": "green", "FAILED": "red", "CRASHED": "bold red", "CANCELLED": "yellow",
    "CANCELLING": "yellow", "RUNNING": "cyan", "PENDING": "blue", "SCHEDULED": "blue",
}
LEVEL_STYLES = {"DEBUG": "dim", "INFO": "", "WARNING": "yellow", "ERROR": "red", "CRITICAL": "bold red"}


def _all_logs(backend: Backend, run_id: uuid.UUID) -> list[LogLine]:
    lines: list[LogLine] = []
    while True:
        page = backend.flow_run_logs(run_id, limit=1000, offset=len(lines))
        lines.extend(page.items)
        if not page.items or len(lines) >= page.total:
            return lines


def parse_since(text: str, *, now: datetime | None = None) -> datetime:
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
        raise UserInputError(f"--since {text!r} is neither a duration like 30m, 2h, 1d nor an "
                             "ISO date like 2026-11-24 or 2026-11-24T08:00") from None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def _state(run: FlowRunRead | object) -> Text:
    name = getattr(run, "state_name", None) or "-"
    kind = getattr(run, "state_type", None)
    return Text(name, style=STATE_STYLES.get(kind.value if kind else "", ""))


def _when(value: datetime | None) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 120:
        return f"{seconds:.2f}s"
    return str(timedelta(seconds=round(seconds)))


@app.command("ls")
def ls(
    flow: str | None = typer.Option(None, "--flow", "-f", help="Only runs of this flow."),
    state: str | None = typer.Option(None, "--state", "-s", help="Only runs in this state type (completed, failed, ...)."),
    since: str | None = typer.Option(None, "--since", help="Only runs created since: 30m, 2h, 1d, or an ISO date."),
    limit: int = typer.Option(20, "--limit", "-n", min=1, help="How many runs to show."),
) -> None:
    """List flow runs, newest first."""
    from transom.core.states import state_type
    from transom.services import open_backend

    after = parse_since(since) if since else None
    kind = state_type(state) if state else None
    with open_backend() as backend:
        page = backend.list_flow_runs(flow_name=flow, state=kind, since=after, limit=limit)
    runs, total = page.items, page.total
    out = console()
    if not runs:
        out.print("No runs recorded yet." if not (flow or state or since)
                  else "No runs match those filters.")
        return
    table = Table(title=f"Flow runs ({len(runs)} of {total})", title_justify="left")
    table.add_column("ID", no_wrap=True)
    table.add_column("Flow", overflow="fold")
    table.add_column("Name", overflow="fold")
    table.add_column("State", min_width=9)
    table.add_column("Started", no_wrap=True)
    table.add_column("Duration", min_width=8, no_wrap=True)
    table.add_column("Tasks", justify="right")
    for run in runs:
        table.add_row(run.id.hex[:8], run.flow_name, run.name, _state(run),
                      _when(run.start_time), _duration(run.duration), str(run.task_run_count))
    out.print(table)


@app.command("show")
def show(run_id: str = typer.Argument(..., help="A flow run id or a unique prefix of one.")) -> None:
    """A flow run: its task runs, its state history and its logs."""
    from transom.services import open_backend

    with open_backend() as backend:
        run = backend.read_flow_run(run_id)
        task_runs = backend.flow_run_task_runs(run.id)
        history = backend.flow_run_states(run.id)
        logs = _all_logs(backend, run.id)
    out = console()
    out.print(Text.assemble(("Flow run ", "bold"), (run.name, "bold cyan"), f"  {run.id}"))
    out.print(Text.assemble("Flow:       ", run.flow_name))
    out.print(Text.assemble("State:      ", _state(run),
                            f"  {run.state_message}" if run.state_message else ""))
    out.print(f"Started:    {_when(run.start_time)}   Duration: {_duration(run.duration)}"
              f"   Attempts: {run.run_count}")
    if run.parameters:
        out.print(f"Parameters: {run.parameters}")
    if run.parent_flow_run_id:
        out.print(f"Parent run: {run.parent_flow_run_id}")
    if task_runs:
        table = Table(title=f"Task runs ({len(task_runs)})", title_justify="left")
        for column in ("Name", "State", "Started", "Duration", "Attempts"):
            table.add_column(column)
        for task_run in task_runs:
            table.add_row(task_run.name, _state(task_run), _when(task_run.start_time),
                          _duration(task_run.duration), str(task_run.run_count))
        out.print(table)
    states = Table(title="State history", title_justify="left")
    for column in ("Time", "State", "Message"):
        states.add_column(column)
    for record in history:
        states.add_row(record.timestamp.astimezone().strftime("%H:%M:%S.%f")[:-3],
                       Text(record.name, style=STATE_STYLES.get(record.type.value, "")),
                       record.message or "")
    out.print(states)
    if history and history[-1].error:
        out.print(Text("Error traceback:", style="bold red"))
        out.print(history[-1].error.get("traceback", ""), markup=False, highlight=False)
    _print_logs(logs, names={t.id: t.name for t in task_runs})


@app.command("cancel")
def cancel(
    run_id: str = typer.Argument(..., help="A flow run id or a unique prefix of one."),
    message: str | None = typer.Option(None, "--message", "-m", help="Why (kept with the state)."),
) -> None:
    """Cancel a flow run: a running one is stopped by its worker, a waiting one never starts."""
    from transom.services import open_backend

    with open_backend() as backend:
        state = backend.cancel_flow_run(run_id, message)
    what = ("its worker stops it now" if state.type.value == "CANCELLING"
            else "it will not run")
    console().print(Text.assemble("Flow run ", (str(state.flow_run_id), "bold"), " is ",
                                  (state.name, STATE_STYLES.get(state.type.value, "")),
                                  f": {what}."))


@app.command("logs")
def logs(run_id: str = typer.Argument(..., help="A flow run id or a unique prefix of one.")) -> None:
    """The log lines of a flow run and its task runs."""
    from transom.services import open_backend

    with open_backend() as backend:
        run = backend.read_flow_run(run_id)
        lines = _all_logs(backend, run.id)
        names = {t.id: t.name for t in backend.flow_run_task_runs(run.id)}
    _print_logs(lines, title=False, names=names)


def _print_logs(lines: list[LogLine], *, title: bool = True,
                names: dict[uuid.UUID, str] | None = None) -> None:
    out = console()
    if title:
        out.print(Text(f"Logs ({len(lines)})", style="bold"))
    if not lines:
        out.print("No log lines.")
        return
    for line in lines:
        level = logging.getLevelName(line.level)
        stamp = line.timestamp.astimezone().strftime("%H:%M:%S.%f")[:-3]
        source = (names or {}).get(line.task_run_id) if line.task_run_id else None
        out.print(Text.assemble(f"{stamp} ", (f"{level:<8}", LEVEL_STYLES.get(level, "")),
                                (f" [{source}]" if source else "", "dim"), f" {line.message}"))
