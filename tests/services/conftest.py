"""Every backend behind the one `Backend` protocol: the embedded backend on SQLite and on a real
PostgreSQL, and the HTTP client against a live server (on SQLite and on PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server.conftest import LiveServer
from transom.client import TransomClient
from transom.services import Backend, Context, EmbeddedBackend
from transom.settings import Settings
from transom.store import open_database

BACKENDS = ["embedded-sqlite", "embedded-postgresql", "http-sqlite", "http-postgresql"]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    kind, _, database = request.param.partition("-")
    if database == "postgresql":
        url = str(request.getfixturevalue("postgres_url"))
    else:
        url = f"sqlite:///{tmp_path / 'transom.db'}"
    # No background services: what a test sees is what its calls did.
    settings = Settings.load({}, home=tmp_path / "home", database_url=url,
                             server_services=False)
    if kind == "embedded":
        with EmbeddedBackend(Context(open_database(url, busy_timeout=10), settings)) as embedded:
            yield embedded
        return
    server = LiveServer(settings)
    server.start()
    try:
        with TransomClient(server.url, retries=0) as client:
            yield client
    finally:
        server.stop()
