"""`transom db upgrade` and `transom db reset --yes`."""

from __future__ import annotations

import typer

from transom.cli.help import Typer
from transom.cli.output import console
from transom.exceptions import UserInputError

app = Typer(no_args_is_help=True)


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


WHAT_RESET_DELETES = ("every flow run and task run with their states and logs, every flow, "
                      "deployment and schedule, every work pool and worker")


@app.command("reset")
def reset(yes: bool = typer.Option(False, "--yes", help="Really delete it all (see above).")) -> None:
    """Empty the database: delete every flow run and task run with their states and logs, every
    flow, deployment and schedule, every work pool and worker (result files stay)."""
    from transom.settings import Settings
    from transom.store import open_database
    from transom.store import reset as reset_database

    if not yes:
        raise UserInputError(f"this deletes {WHAT_RESET_DELETES}; run `transom db reset --yes` "
                             "to do it")
    settings = Settings.load()
    db = open_database(settings.database_url_resolved, busy_timeout=settings.sqlite_busy_timeout)
    try:
        reset_database(db)
        console().print(f"Deleted {WHAT_RESET_DELETES}: database {db.url} is empty and at the "
                        "newest schema.")
    finally:
        db.close()
