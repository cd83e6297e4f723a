"""`transom db upgrade` and `transom db reset --yes`."""

from __future__ import annotations

import typer

from transom.cli.output import console
from transom.exceptions import UserInputError

app = typer.Typer(no_args_is_help=True)


@app.command("upgrade")
def upgrade() -> None:
    """Bring the database schema up to date (it also happens on first use)."""
    from transom.settings import Settings
    from transom.store import open_database
    from transom.store.database import HEAD_REVISION

    settings = Settings.load()
    db = open_database(settings.database_url_resolved, busy_timeout=settings.sqlite_busy_timeout)
    try:
        console().print(f"Database {db.url} is at revision {db.revision() or HEAD_REVISION}.")
    finally:
        db.close()


@app.command("reset")
def reset(yes: bool = typer.Option(False, "--yes", help="Really delete every recorded run.")) -> None:
    """Delete every recorded run: drop all tables and create them again."""
    from transom.settings import Settings
    from transom.store import open_database
    from transom.store import reset as reset_database

    if not yes:
        raise UserInputError("this deletes every recorded run; run `transom db reset --yes` to do it")
    settings = Settings.load()
    db = open_database(settings.database_url_resolved, busy_timeout=settings.sqlite_busy_timeout)
    try:
        reset_database(db)
        console().print(f"Database {db.url} is empty and at the newest schema.")
    finally:
        db.close()
