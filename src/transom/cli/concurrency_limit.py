"""`transom concurrency-limit create/ls/inspect/update/delete`: global concurrency limits, and
tag limits (a limit named `tag:T`, or `--tag T`, limits the task runs tagged T)."""

from __future__ import annotations

from typing import Any

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
from transom.schemas import ConcurrencyLimitRead

app = Typer(no_args_is_help=True)

_NAME_HELP = "The limit's name (`tag:T` limits the task runs tagged T)."
_TAG_HELP = "NAME is a tag: the limit is `tag:NAME`, on the task runs tagged NAME."


def _name(name: str, tag: bool) -> str:
    return f"tag:{name}" if tag and not name.startswith("tag:") else name


def _body(model: Any, **values: Any) -> Any:
    import pydantic

    from transom.exceptions import UserInputError
    from transom.schemas import first_error

    try:
        return model(**values)
    except pydantic.ValidationError as exc:
        raise UserInputError(first_error(exc, "concurrency limit")) from None


def _usage(limit: ConcurrencyLimitRead) -> str:
    return f"{limit.active_slots:g} of {limit.limit}"


@app.command("create")
def create(
    name: str = typer.Argument(..., help=_NAME_HELP),
    limit: int = typer.Option(..., "--limit", "-l", min=0, help="How many slots it has."),
    slot_decay_per_second: float = typer.Option(
        0.0, "--slot-decay-per-second", min=0,
        help="Slots freed per second (rate limiting: `rate_limit(...)` needs it)."),
    tag: bool = typer.Option(False, "--tag", help=_TAG_HELP),
    inactive: bool = typer.Option(False, "--inactive", help="Create it disabled."),
) -> None:
    """Create a concurrency limit."""
    from transom.schemas import ConcurrencyLimitCreate
    from transom.services import open_backend

    body = _body(ConcurrencyLimitCreate, name=_name(name, tag), limit=limit,
                 slot_decay_per_second=slot_decay_per_second, active=not inactive)
    with open_backend() as backend:
        created = backend.create_concurrency_limit(body)
    console().print(Text.assemble("Concurrency limit ", (created.name, "bold"),
                                  f" created with {created.limit} slot"
                                  f"{'s' if created.limit != 1 else ''}."))


@app.command("ls")
def ls(
    limit: int = typer.Option(200, "--limit", min=1, max=1000, help="At most this many."),
    output: ListFormat = list_format_option(),
) -> None:
    """List concurrency limits by name, with the slots in use."""
    from transom.services import open_backend

    with open_backend() as backend:
        limits = backend.list_concurrency_limits(limit=limit)
    if print_listing(output, limits, ConcurrencyLimitRead):
        return
    if not limits:
        console().print("No concurrency limits yet; create one with "
                        "`transom concurrency-limit create NAME --limit N`.")
        return
    table = Table(title=f"Concurrency limits ({len(limits)})", title_justify="left")
    for column in ("Name", "In use", "Decay/s", "Active", "Holders", "Updated"):
        table.add_column(column)
    for item in limits:
        table.add_row(item.name, _usage(item), f"{item.slot_decay_per_second:g}",
                      "yes" if item.active else "no", str(len(item.leases)),
                      format_time(item.updated))
    print_table(table)


@app.command("inspect")
def inspect(
    name: str = typer.Argument(..., help=_NAME_HELP),
    tag: bool = typer.Option(False, "--tag", help=_TAG_HELP),
    output: ShowFormat = show_format_option(),
) -> None:
    """A limit in full: its slots in use and who holds them until when."""
    from transom.services import open_backend

    with open_backend() as backend:
        item = backend.read_concurrency_limit(_name(name, tag))
    if output is ShowFormat.json:
        print_json(item)
        return
    out = console()
    out.print(Text.assemble(("Concurrency limit ", "bold"), (item.name, "bold cyan"),
                            f"  {item.id}"))
    out.print(f"In use:      {_usage(item)}")
    out.print(f"Slot decay:  {item.slot_decay_per_second:g} per second")
    out.print(f"Active:      {'yes' if item.active else 'no'}")
    out.print(f"Created:     {format_time(item.created)}")
    out.print(f"Updated:     {format_time(item.updated)}")
    for lease in item.leases:
        out.print(Text(f"  {lease.slots} held by {lease.holder or '-'} until "
                       f"{format_time(lease.expires)} (lease {lease.id})"))


@app.command("update")
def update(
    name: str = typer.Argument(..., help=_NAME_HELP),
    limit: int | None = typer.Option(None, "--limit", "-l", min=0, help="How many slots it has."),
    slot_decay_per_second: float | None = typer.Option(
        None, "--slot-decay-per-second", min=0, help="Slots freed per second."),
    enable: bool | None = typer.Option(None, "--enable/--disable",
                                       help="Enforce the limit, or not."),
    tag: bool = typer.Option(False, "--tag", help=_TAG_HELP),
) -> None:
    """Change a limit's slots, decay or whether it is enforced."""
    from transom.exceptions import UserInputError
    from transom.schemas import ConcurrencyLimitUpdate
    from transom.services import open_backend

    if limit is None and slot_decay_per_second is None and enable is None:
        raise UserInputError("nothing to update: give --limit, --slot-decay-per-second, "
                             "--enable or --disable")
    body = _body(ConcurrencyLimitUpdate, limit=limit,
                 slot_decay_per_second=slot_decay_per_second, active=enable)
    with open_backend() as backend:
        item = backend.update_concurrency_limit(_name(name, tag), body)
    console().print(Text.assemble(
        "Concurrency limit ", (item.name, "bold"), f" updated: {item.limit} slots, "
        f"{item.slot_decay_per_second:g} decay per second, "
        f"{'active' if item.active else 'inactive'}."))


@app.command("delete")
def delete(
    name: str = typer.Argument(..., help=_NAME_HELP),
    tag: bool = typer.Option(False, "--tag", help=_TAG_HELP),
) -> None:
    """Delete a limit (the slots its holders have go with it)."""
    from transom.services import open_backend

    full = _name(name, tag)
    with open_backend() as backend:
        backend.delete_concurrency_limit(full)
    console().print(Text.assemble("Concurrency limit ", (full, "bold"), " deleted."))
