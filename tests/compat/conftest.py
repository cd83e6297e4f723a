"""Compatibility tests run the real engine over the same in-memory recorder as tests/core; the
`where` fixture runs a test twice instead: on the harness's embedded database, and against a
live server (on its own SQLite file)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.core.conftest import MemoryRuntime, runtime
from tests.server.conftest import LiveServer
from transom.core.context import reset_runtime
from transom.settings import Settings
from transom.testing.utilities import transom_test_harness

__all__ = ["MemoryRuntime", "Where", "runtime", "where"]


@dataclass(frozen=True)
class Where:
    """Where a test's objects are stored: `place` is what the backend's `where` names (the
    harness's home, or the server's URL); `folder` holds the database file that stores them."""

    place: str
    folder: Path
    server: LiveServer | None = None


@pytest.fixture(params=["embedded", "server"])
def where(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Where]:
    with transom_test_harness() as home:
        if request.param == "embedded":
            yield Where(str(home), home)
            return
        server = LiveServer(Settings.load({}, home=tmp_path / "server",
                                          database_url=f"sqlite:///{tmp_path / 'transom.db'}",
                                          server_services=False))
        server.start()
        mp = pytest.MonkeyPatch()
        mp.setenv("TRANSOM_API_URL", server.url)
        try:
            yield Where(server.url, tmp_path, server)
        finally:
            reset_runtime()  # the runs' events go to the server before it stops
            mp.undo()
            server.stop()
