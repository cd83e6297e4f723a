"""`transom artifact ls/inspect/delete`: what runs published (`transom.artifacts`)."""

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
from transom.schemas import ArtifactRead

app = Typer(no_args_is_help=True)


def _summary(artifact: ArtifactRead, width: int = 50) -> str:
    data: Any = artifact.data
    if artifact.type == "progress":
        text = f"{data:g}%"
    elif artifact.type == "link" and isinstance(data, dict):
        text = f"{data.get('text') or ''} {data.get('link')}".strip()
    elif artifact.type == "table":
        text = f"{len(data)} {'columns' if isinstance(data, dict) else 'rows'}"
    else:
        text = str(data).replace("\n", " ")
    return text if len(text) <= width else text[:width - 3] + "..."


def _run(artifact: ArtifactRead) -> str:
    return str(artifact.flow_run_id) if artifact.flow_run_id else "-"


@app.command("ls")
def ls(
    key: str | None = typer.Option(None, "--key", "-k", help="Every version of this key."),
    limit: int = typer.Option(200, "--limit", min=1, max=1000, help="At most this many."),
    output: ListFormat = list_format_option(),
) -> None:
    """The newest version of every key, newest first (--key: that key's versions)."""
    from transom.services import open_backend

    with open_backend() as backend:
        artifacts = backend.list_artifacts(key=key, limit=limit)
    if print_listing(output, artifacts, ArtifactRead):
        return
    if not artifacts:
        console().print(f"No artifact has the key {key!r}." if key else
                        "No artifacts with a key yet; flows make them with "
                        "transom.artifacts.create_markdown_artifact(..., key=...).")
        return
    table = Table(title=f"Artifacts ({len(artifacts)})", title_justify="left")
    for column in ("Key", "Version", "Type", "Data", "Flow run", "Created"):
        table.add_column(column)
    for artifact in artifacts:
        table.add_row(artifact.key or "-", str(artifact.version or "-"), artifact.type,
                      _summary(artifact), _run(artifact), format_time(artifact.created))
    print_table(table)


@app.command("inspect")
def inspect(
    key: str = typer.Argument(..., help="The artifact's key."),
    output: ShowFormat = show_format_option(),
) -> None:
    """The key's newest version, in full."""
    from transom.services import open_backend

    with open_backend() as backend:
        artifact = backend.read_artifact(key)
    if output is ShowFormat.json:
        print_json(artifact)
        return
    out = console()
    out.print(Text.assemble(("Artifact ", "bold"), (key, "bold cyan"),
                            f"  version {artifact.version}  {artifact.id}"))
    out.print(f"Type:        {artifact.type}")
    if artifact.description:
        out.print(Text(f"Description: {artifact.description}"))
    out.print(f"Flow run:    {_run(artifact)}")
    out.print(f"Task run:    {artifact.task_run_id or '-'}")
    out.print(f"Created:     {format_time(artifact.created)}")
    data = artifact.data
    out.print(Text(data if isinstance(data, str) else
                   json.dumps(data, ensure_ascii=False, indent=2)))


@app.command("delete")
def delete(key: str = typer.Argument(..., help="The artifact's key.")) -> None:
    """Delete every version of a key."""
    from transom.services import open_backend

    with open_backend() as backend:
        count = backend.delete_artifact(key)
    console().print(Text.assemble("Artifact ", (key, "bold"),
                                  f" deleted ({count} version{'s' if count != 1 else ''})."))
