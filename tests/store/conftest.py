"""Store tests run against every backend through the `database_url` fixture.

SQLite in a temp file, and a real PostgreSQL server the tests start (tests/support/postgres.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from transom.store import Database, open_database


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgresql":
        return str(request.getfixturevalue("postgres_url"))
    return f"sqlite:///{tmp_path / 'store' / 'transom.db'}"


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = open_database(database_url, busy_timeout=5)
    try:
        yield database
    finally:
        database.close()
