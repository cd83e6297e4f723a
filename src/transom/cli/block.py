"""`transom block ls/inspect/delete/types`: saved blocks (`transom.blocks`). Secret fields show
as `**********` unless `inspect --show-secrets` asks for them."""

from __future__ import annotations

import json

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
from transom.schemas import BlockDocumentRead, BlockTypeRead

app = Typer(no_args_is_help=True)


def _ref(ref: str) -> tuple[str, str]:
    from transom.exceptions import UserInputError

    slug, _, name = ref.partition("/")
    if not slug or not name:
        raise UserInputError(f"{ref!r} names no block: give it as TYPE-SLUG/NAME, e.g. "
                             "secret/db-password (`transom block ls` lists them)")
    return slug, name


@app.command("ls")
def ls(
    block_type: str | None = typer.Option(None, "--type", "-t",
                                          help="Only blocks of this type slug."),
    limit: int = typer.Option(200, "--limit", min=1, max=1000, help="At most this many."),
    output: ListFormat = list_format_option(),
) -> None:
    """Saved blocks by type and name (secret fields as **********)."""
    from transom.services import open_backend

    with open_backend() as backend:
        blocks = backend.list_blocks(block_type=block_type, limit=limit)
    if print_listing(output, blocks, BlockDocumentRead):
        return
    if not blocks:
        console().print("No blocks yet; save one from Python with `Block.save(name)`.")
        return
    table = Table(title=f"Blocks ({len(blocks)})", title_justify="left")
    for column in ("Block", "Type", "Secret fields", "Updated"):
        table.add_column(column)
    for block in blocks:
        table.add_row(f"{block.block_type_slug}/{block.name}", block.block_type_name,
                      ", ".join(block.secret_fields) or "-", format_time(block.updated))
    print_table(table)


@app.command("inspect")
def inspect(
    ref: str = typer.Argument(..., metavar="TYPE-SLUG/NAME", help="The block, e.g. secret/x."),
    show_secrets: bool = typer.Option(False, "--show-secrets",
                                      help="Show the secret fields' values (decrypted)."),
    output: ShowFormat = show_format_option(),
) -> None:
    """A block's fields (secret ones as ********** unless --show-secrets) and times."""
    from transom.services import open_backend

    slug, name = _ref(ref)
    with open_backend() as backend:
        block = backend.read_block(slug, name, include_secrets=show_secrets)
    if output is ShowFormat.json:
        print_json(block)
        return
    out = console()
    out.print(Text.assemble(("Block ", "bold"), (f"{slug}/{name}", "bold cyan"), f"  {block.id}"))
    out.print(Text(f"Type:    {block.block_type_name} ({block.block_type_slug})"))
    out.print(Text(f"Secret:  {', '.join(block.secret_fields) or 'none'}"))
    out.print(Text(f"Data:    {json.dumps(block.data, ensure_ascii=False, indent=2)}"))
    out.print(f"Created: {format_time(block.created)}")
    out.print(f"Updated: {format_time(block.updated)}")


@app.command("delete")
def delete(
    ref: str = typer.Argument(..., metavar="TYPE-SLUG/NAME", help="The block, e.g. secret/x."),
) -> None:
    """Delete a saved block."""
    from transom.services import open_backend

    slug, name = _ref(ref)
    with open_backend() as backend:
        backend.delete_block(slug, name)
    console().print(Text.assemble("Block ", (f"{slug}/{name}", "bold"), " deleted."))


@app.command("types")
def types(output: ListFormat = list_format_option()) -> None:
    """The block types saved blocks have (each class that saved one)."""
    from transom.services import open_backend

    with open_backend() as backend:
        kinds = backend.list_block_types()
    if print_listing(output, kinds, BlockTypeRead):
        return
    if not kinds:
        console().print("No block types yet; saving a block registers its type.")
        return
    table = Table(title=f"Block types ({len(kinds)})", title_justify="left")
    for column in ("Slug", "Name", "Fields", "Updated"):
        table.add_column(column)
    for kind in kinds:
        fields = ", ".join(kind.block_schema.get("properties", {})) or "-"
        table.add_row(kind.slug, kind.name, fields, format_time(kind.updated))
    print_table(table)
