"""API tests talk HTTP to a real uvicorn server on 127.0.0.1, over SQLite and PostgreSQL."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from transom.server import create_app
from transom.settings import Settings


class LiveServer:
    def __init__(self, settings: Settings, port: int = 0, *, reusable: bool = False) -> None:
        # The socket is bound here, to a port the OS picks, and handed to uvicorn: no other test
        # process can take the port between choosing it and listening on it. A `reusable` one
        # can be stopped and bound again at once (`port`: the same address), its connections
        # in TIME_WAIT notwithstanding (both sockets need SO_REUSEADDR for that).
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if reusable:
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(("127.0.0.1", port))
        self.port = self.socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/api"
        config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=self.port,
                                log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]},
                                       daemon=True)

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "server did not start"
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.socket.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgresql":
        return str(request.getfixturevalue("postgres_url"))
    return f"sqlite:///{tmp_path / 'transom.db'}"


@pytest.fixture
def start_server(tmp_path: Path, database_url: str) -> Iterator[Callable[..., LiveServer]]:
    servers: list[LiveServer] = []

    def start(**settings: Any) -> LiveServer:
        server = LiveServer(Settings.load({}, home=tmp_path / "home", database_url=database_url,
                                          **settings))
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def api(start_server: Callable[..., LiveServer]) -> Iterator[httpx.Client]:
    server = start_server()
    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield client
