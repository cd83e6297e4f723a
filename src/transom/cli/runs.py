"""`transom runs ls/show/logs`: what was recorded, from the embedded database."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Protocol

import typer
from rich.table import Table
from rich.text import Text

from transom.cli.output import console
from transom.exceptions import UserInputError
from transom.schemas import FlowRunRead, LogLine, StateRecord, TaskRunRead

if TYPE_CHECKING:  # the database and HTTP stacks load only when a command uses them
    from sqlalchemy.engine import Connection

    from transom.client import TransomClient

app = typer.Typer(no_args_is_help=True)

STATE_STYLES = {
    "COMPLETED": "green", "FAILED": "red", "CRASHED": "bold red", "CANCELLED": "yellow",
    "CANCELLING": "yellow", "RUNNING": "cyan", "PENDING": "blue", "SCHEDULED": "blue",
}
LEVEL_STYLES = {"DEBUG": "dim", "INFO": "", "WARNING": "yellow", "ERROR": "red", "CRITICAL": "bold red"}


class _Runs(Protocol):
    """Where `transom runs` reads from: the embedded database or the server's API."""

    def flow_runs(self, flow: str | None, state: str | None, since: datetime | None,
                  limit: int) -> tuple[list[FlowRunRead], int]: ...

    def flow_run(self, run_id: str) -> FlowRunRead: ...

    def task_runs(self, run_id: uuid.UUID) -> list[TaskRunRead]: ...

    def states(self, run_id: uuid.UUID) -> list[StateRecord]: ...

    def logs(self, run_id: uuid.UUID) -> list[LogLine]: ...


class _StoreRuns:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def flow_runs(self, flow: str | None, state: str | None, since: datetime | None,
                  limit: int) -> tuple[list[FlowRunRead], int]:
        from transom.store import queries

        runs = queries.list_flow_runs(self.conn, flow_name=flow, state=state, since=since, limit=limit)
        return runs, queries.count_flow_runs(self.conn, flow_name=flow, state=state, since=since)

    def flow_run(self, run_id: str) -> FlowRunRead:
        from transom.store import queries

        return queries.read_flow_run(self.conn, run_id)

    def task_runs(self, run_id: uuid.UUID) -> list[TaskRunRead]:
        from transom.store import queries

        return queries.list_task_runs(self.conn, run_id)

    def states(self, run_id: uuid.UUID) -> list[StateRecord]:
        from transom.store import queries

        return queries.list_states(self.conn, flow_run_id=run_id)

    def logs(self, run_id: uuid.UUID) -> list[LogLine]:
        from transom.store import queries

        return queries.list_logs(self.conn, run_id)


class _ApiRuns:
    def __init__(self, client: TransomClient) -> None:
        self.client = client

    def flow_runs(self, flow: str | None, state: str | None, since: datetime | None,
                  limit: int) -> tuple[list[FlowRunRead], int]:
        if state is not None:
            from transom.store.queries import state_type

            state = state_type(state).value
        page = self.client.list_flow_runs(flow_name=flow, state=state, since=since, limit=limit)
        return page.items, page.total

    def flow_run(self, run_id: str) -> FlowRunRead:
        return self.client.read_flow_run(run_id)

    def task_runs(self, run_id: uuid.UUID) -> list[TaskRunRead]:
        return self.client.task_runs(run_id)

    def states(self, run_id: uuid.UUID) -> list[StateRecord]:
        return self.client.flow_run_states(run_id)

    def logs(self, run_id: uuid.UUID) -> list[LogLine]:
        lines: list[LogLine] = []
        while True:
            page = self.client.flow_run_logs(run_id, limit=1000, offset=len(lines))
            lines.extend(page.items)
            if not page.items or len(lines) >= page.total:
                return lines


@contextmanager
def _source() -> Iterator[_Runs]:
    """The server's API when TRANSOM_API_URL is set, else the embedded database."""
    from transom.settings import Settings

    settings = Settings.load()
    if settings.api_url:
        from transom.client import TransomClient

        with TransomClient.from_settings(settings) as client:
            yield _ApiRuns(client)
        return
    from transom.store import open_database

    db = open_database(settings.database_url_resolved, busy_timeout=settings.sqlite_busy_timeout)
    try:
        with db.read() as conn:
            yield _StoreRuns(conn)
    finally:
        db.close()


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
    after = parse_since(since) if since else None
    with _source() as source:
        runs, total = source.flow_runs(flow, state, after, limit)
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
    with _source() as source:
        run = source.flow_run(run_id)
        task_runs = source.task_runs(run.id)
        history = source.states(run.id)
        logs = source.logs(run.id)
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
    from transom.control import open_control

    with open_control() as control:
        state = control.cancel_flow_run(run_id, message)
    what = ("its worker stops it now" if state.type.value == "CANCELLING"
            else "it will not run")
    console().print(Text.assemble("Flow run ", (str(state.flow_run_id), "bold"), " is ",
                                  (state.name, STATE_STYLES.get(state.type.value, "")),
                                  f": {what}."))


@app.command("logs")
def logs(run_id: str = typer.Argument(..., help="A flow run id or a unique prefix of one.")) -> None:
    """The log lines of a flow run and its task runs."""
    with _source() as source:
        run = source.flow_run(run_id)
        lines = source.logs(run.id)
        names = {t.id: t.name for t in source.task_runs(run.id)}
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
