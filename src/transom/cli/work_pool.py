"""`transom work-pool create/ls/inspect/pause/resume/set-limit/delete`."""

from __future__ import annotations

import typer
from rich.table import Table
from rich.text import Text

from transom.cli.help import Typer
from transom.cli.output import (
    ListFormat,
    ShowFormat,
    console,
    list_format_option,
    print_json,
    print_listing,
    print_table,
    show_format_option,
)
from transom.schemas import WorkPoolRead

app = Typer(no_args_is_help=True)


def _limit(value: int | None) -> str:
    return "none" if value is None else str(value)


@app.command("create")
def create(
    name: str = typer.Argument(..., help="The pool's name."),
    limit: int | None = typer.Option(None, "--limit", "-l", min=0,
                                     help="At most this many runs of the pool at once."),
    description: str | None = typer.Option(None, "--description", help="What the pool is for."),
    paused: bool = typer.Option(False, "--paused", help="Create it paused (no run starts)."),
) -> None:
    """Create a work pool: workers poll it for the runs of its deployments."""
    from transom.schemas import WorkPoolCreate
    from transom.services import open_backend

    with open_backend() as backend:
        pool = backend.create_work_pool(WorkPoolCreate(
            name=name, concurrency_limit=limit, description=description, paused=paused))
    console().print(Text.assemble("Work pool ", (pool.name, "bold"), " created",
                                  f" (at most {limit} runs at once)" if limit is not None else "",
                                  " and paused" if paused else "", "."))
    console().print(Text(f"Next: transom worker start --pool {pool.name}", style="dim"))


@app.command("ls")
def ls(output: ListFormat = list_format_option()) -> None:
    """List work pools with their runs and workers."""
    from transom.services import open_backend

    with open_backend() as backend:
        pools = backend.list_work_pools()
    if print_listing(output, pools, WorkPoolRead):
        return
    out = console()
    if not pools:
        out.print("No work pools yet; create one with `transom work-pool create NAME`.")
        return
    table = Table(title=f"Work pools ({len(pools)})", title_justify="left")
    for column in ("Name", "Status", "Limit", "Scheduled", "Active", "Workers online"):
        table.add_column(column)
    for pool in pools:
        table.add_row(pool.name, Text("paused", "yellow") if pool.paused else Text("ready", "green"),
                      _limit(pool.concurrency_limit), str(pool.scheduled_runs),
                      str(pool.active_runs), str(pool.workers_online))
    print_table(table)


@app.command("inspect")
def inspect(
    name: str = typer.Argument(..., help="The pool's name."),
    output: ShowFormat = show_format_option(),
) -> None:
    """A work pool: its settings, runs, workers and deployments."""
    from transom.services import open_backend

    with open_backend() as backend:
        pool = backend.read_work_pool(name)
        workers = backend.list_workers(work_pool=name)
        deployments = backend.list_deployments(work_pool=name)
    if output is ShowFormat.json:
        print_json({"work_pool": pool, "workers": workers, "deployments": deployments})
        return
    out = console()
    out.print(Text.assemble(("Work pool ", "bold"), (pool.name, "bold cyan"), f"  {pool.id}"))
    if pool.description:
        out.print(Text(f"Description:      {pool.description}"))
    out.print(Text.assemble("Status:           ", Text("paused", "yellow") if pool.paused
                            else Text("ready", "green")))
    out.print(f"Concurrency limit: {_limit(pool.concurrency_limit)}")
    out.print(f"Runs:             {pool.scheduled_runs} scheduled, {pool.active_runs} active")
    out.print(f"Deployments:      {', '.join(d.full_name for d in deployments) or 'none'}")
    if not workers:
        out.print(f"Workers:          none; start one with `transom worker start --pool {name}`")
        return
    from transom.cli.worker import workers_table

    print_table(workers_table(workers, title=f"Workers ({len(workers)})"))


@app.command("pause")
def pause(name: str = typer.Argument(..., help="The pool's name.")) -> None:
    """Pause a pool: its workers start no new run until it is resumed."""
    _set(name, paused=True)


@app.command("resume")
def resume(name: str = typer.Argument(..., help="The pool's name.")) -> None:
    """Resume a paused pool."""
    _set(name, paused=False)


@app.command("set-limit")
def set_limit(
    name: str = typer.Argument(..., help="The pool's name."),
    limit: int | None = typer.Argument(None, min=0, help="Runs at once; leave out for no limit."),
) -> None:
    """Change a pool's concurrency limit (no number removes it)."""
    _set(name, concurrency_limit=limit)


def _set(name: str, **changes: object) -> None:
    from transom.schemas import WorkPoolUpdate
    from transom.services import open_backend

    with open_backend() as backend:
        pool = backend.update_work_pool(name, WorkPoolUpdate.model_validate(changes))
    state = "paused" if pool.paused else "ready"
    console().print(Text.assemble("Work pool ", (pool.name, "bold"), f" is {state}, concurrency "
                                  f"limit {_limit(pool.concurrency_limit)}."))


@app.command("delete")
def delete(name: str = typer.Argument(..., help="The pool's name.")) -> None:
    """Delete a pool (refused while deployments use it)."""
    from transom.services import open_backend

    with open_backend() as backend:
        backend.delete_work_pool(name)
    console().print(Text.assemble("Work pool ", (name, "bold"), " deleted."))
