"""What a database URL names, read without connecting (for `transom doctor` and messages)."""

from __future__ import annotations

import sqlalchemy as sa

__all__ = ["sqlite_file"]


def sqlite_file(url: str) -> str | None:
    """The file a SQLite URL opens; None for another database, an in-memory one or a bad URL."""
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError:
        return None
    database = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or database in ("", ":memory:") \
            or database.startswith("file:"):
        return None
    return database
