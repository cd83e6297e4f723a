"""The database: tables, migrations, the event sink and the read queries (SQLite and PostgreSQL).

The embedded recorder and the server both go through here: one storage code path.
"""

from __future__ import annotations

from transom.store.database import Database, WriteWouldWait, open_database, reset, upgrade

__all__ = ["Database", "WriteWouldWait", "open_database", "reset", "upgrade"]
