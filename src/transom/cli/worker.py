"""`transom worker start --pool P` and `transom worker ls`."""

from __future__ import annotations

from collections.abc import Sequence

import typer
from rich.table import Table
from rich.text import Text

from transom.cli.help import Typer
from transom.cli.output import (
    ListFormat,
    console,
    format_time,
    list_format_option,
    print_listing,
    print_table,
)
from transom.schemas import WorkerRead

app = Typer(no_args_is_help=True)


def workers_table(workers: Sequence[WorkerRead], *, title: str) -> Table:
    from transom.core.states import now_utc

    now = now_utc()
    table = Table(title=title, title_justify="left")
    for column in ("Name", "Pool", "Status", "Last heartbeat", "Active runs", "Limit", "Host"):
        table.add_column(column, overflow="fold")
    for worker in workers:
        ago = max((now - worker.last_heartbeat).total_seconds(), 0.0)
        status = Text("online", "green") if worker.online else Text("offline", "dim")
        table.add_row(worker.name, worker.work_pool_name or "(serve)", status,
                      f"{format_time(worker.last_heartbeat)} ({_ago(ago)})",
                      str(worker.active_runs), str(worker.run_limit or "-"),
                      f"{worker.hostname or '-'} pid {worker.pid or '-'}")
    return table


def _ago(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f}s ago"
    if seconds < 5400:
        return f"{seconds / 60:.0f}m ago"
    return f"{seconds / 3600:.1f}h ago"


@app.command("start")
def start(
    pool: str = typer.Option(..., "--pool", "-p", help="The work pool to take runs from."),
    limit: int | None = typer.Option(None, "--limit", "-l", min=1, help="At most this many runs at once."),
    name: str | None = typer.Option(None, "--name", "-n", help="The worker's name (default: HOST-PID)."),
    queue: list[str] = typer.Option([], "--queue", "-q", help="Only runs of this queue. Repeatable."),
    create_pool: bool = typer.Option(False, "--create-pool", help="Create the pool if it does not exist."),
) -> None:
    """Run the pool's due runs, each as a child process, until Ctrl+C."""
    from transom.cli.output import error_console
    from transom.exceptions import NotFound, UserInputError
    from transom.schemas import WorkPoolCreate
    from transom.services import open_backend
    from transom.settings import Settings
    from transom.worker import Worker

    settings = Settings.load()
    with open_backend(settings) as backend:
        try:
            backend.read_work_pool(pool)
        except NotFound:
            if not create_pool:
                raise UserInputError(
                    f"work pool {pool!r} does not exist; create it with `transom work-pool create "
                    f"{pool}`, or start the worker with --create-pool") from None
            backend.create_work_pool(WorkPoolCreate(name=pool))
            error_console().print(f"Created work pool {pool!r}.", markup=False)
        worker = Worker(backend, settings, work_pool=pool, name=name, limit=limit, queues=queue,
                        echo=lambda line: error_console().print(line, markup=False,
                                                                highlight=False))
        worker.run()


@app.command("ls")
def ls(
    pool: str | None = typer.Option(None, "--pool", "-p", help="Only workers of this pool."),
    output: ListFormat = list_format_option(),
) -> None:
    """List workers and their last heartbeat."""
    from transom.services import open_backend

    with open_backend() as backend:
        workers = backend.list_workers(work_pool=pool)
    if print_listing(output, workers, WorkerRead):
        return
    if not workers:
        console().print("No workers have polled yet; start one with "
                        "`transom worker start --pool POOL`.")
        return
    print_table(workers_table(workers, title=f"Workers ({len(workers)})"))
