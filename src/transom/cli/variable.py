"""`transom variable ls/get/set/unset/inspect`: the variables flows read with `Variable.get`."""

from __future__ import annotations

import json
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
from transom.schemas import VariableRead

app = Typer(no_args_is_help=True)


def _shown(value: Any) -> str:
    """A string as it is; any other value as JSON."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _parsed(text: str) -> Any:
    """VALUE as JSON when it is JSON (`42`, `true`, `[1, 2]`, `'"42"'`), else the text itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


@app.command("ls")
def ls(
    limit: int = typer.Option(200, "--limit", min=1, max=1000, help="At most this many."),
    output: ListFormat = list_format_option(),
) -> None:
    """List variables by name."""
    from transom.services import open_backend

    with open_backend() as backend:
        variables = backend.list_variables(limit=limit)
    if print_listing(output, variables, VariableRead):
        return
    if not variables:
        console().print("No variables yet; set one with `transom variable set NAME VALUE`.")
        return
    table = Table(title=f"Variables ({len(variables)})", title_justify="left")
    for column in ("Name", "Value", "Tags", "Updated"):
        table.add_column(column)
    for variable in variables:
        shown = _shown(variable.value)
        table.add_row(variable.name, shown if len(shown) <= 60 else shown[:57] + "...",
                      ", ".join(variable.tags), format_time(variable.updated))
    print_table(table)


@app.command("get")
def get(name: str = typer.Argument(..., help="The variable's name.")) -> None:
    """Print a variable's value (a string as it is, any other value as JSON)."""
    from transom.services import open_backend

    with open_backend() as backend:
        variable = backend.read_variable(name)
    console().print(Text(_shown(variable.value)))


@app.command("set")
def set_(
    name: str = typer.Argument(..., help="The variable's name: lowercase letters, digits, dashes "
                                         "and underscores."),
    value: str = typer.Argument(..., help="Its value: JSON (42, true, [1, 2], '\"a string\"') "
                                          "or else the text as a string."),
    overwrite: bool = typer.Option(False, "--overwrite",
                                   help="Replace the value and tags of an existing variable."),
    tag: list[str] = typer.Option([], "--tag", help="A tag (repeat for more)."),
) -> None:
    """Set a variable; an existing one only with --overwrite."""
    import pydantic

    from transom.exceptions import UserInputError
    from transom.schemas import VariableCreate, first_error
    from transom.services import open_backend

    try:
        body = VariableCreate(name=name, value=_parsed(value), tags=tag)
    except pydantic.ValidationError as exc:
        raise UserInputError(first_error(exc, "variable")) from None
    with open_backend() as backend:
        variable = backend.set_variable(body, overwrite=overwrite)
    console().print(Text.assemble("Variable ", (variable.name, "bold"), " set to ",
                                  _shown(variable.value), "."))


@app.command("unset")
def unset(name: str = typer.Argument(..., help="The variable's name.")) -> None:
    """Delete a variable."""
    from transom.services import open_backend

    with open_backend() as backend:
        backend.delete_variable(name)
    console().print(Text.assemble("Variable ", (name, "bold"), " unset."))


@app.command("inspect")
def inspect(
    name: str = typer.Argument(..., help="The variable's name."),
    output: ShowFormat = show_format_option(),
) -> None:
    """A variable: its value, tags and times."""
    from transom.services import open_backend

    with open_backend() as backend:
        variable = backend.read_variable(name)
    if output is ShowFormat.json:
        print_json(variable)
        return
    out = console()
    out.print(Text.assemble(("Variable ", "bold"), (variable.name, "bold cyan"), f"  {variable.id}"))
    out.print(Text(f"Value:   {json.dumps(variable.value, ensure_ascii=False, indent=2)}"))
    out.print(Text(f"Tags:    {', '.join(variable.tags) or 'none'}"))
    out.print(f"Created: {format_time(variable.created)}")
    out.print(f"Updated: {format_time(variable.updated)}")
