"""CLI tests run the real `python -m transom` in a subprocess with a fresh TRANSOM_HOME."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

_LOG_LINE = re.compile(r"^\d\d:\d\d:\d\d")  # the engine's run log lines on stderr


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def messages(self) -> list[str]:
        """Non-empty stderr lines, without the engine's run log lines."""
        return [line for line in self.stderr.splitlines() if line.strip() and not _LOG_LINE.match(line)]

    def assert_user_error(self, *fragments: str) -> str:
        """Non-zero exit and exactly one `Error:` sentence on stderr holding `fragments`; no traceback."""
        assert self.code != 0, self.stdout
        assert "Traceback" not in self.stderr, self.stderr
        assert len(self.messages) == 1, self.stderr
        line = self.messages[0]
        assert line.startswith("Error: "), self.stderr
        for fragment in fragments:
            assert fragment in line, self.stderr
        return line


Transom = Callable[..., Result]


def clean_environ(home: Path) -> dict[str, str]:
    """os.environ without any TRANSOM_* setting of the developer, plus a fresh home."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRANSOM_")}
    env.pop("PYTHONIOENCODING", None)
    env.update({"TRANSOM_HOME": str(home), "COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"})
    return env


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "transom home"


@pytest.fixture
def transom(home: Path, tmp_path: Path) -> Transom:
    """Run `python -m transom ARGS`; its exit code and strictly UTF-8 decoded output."""

    def run(*args: str, env: Mapping[str, str] | None = None, cwd: Path | None = None,
            timeout: float = 60) -> Result:
        environ = clean_environ(home)
        environ.update(env or {})
        done = subprocess.run(
            [sys.executable, "-m", "transom", *args], capture_output=True, env=environ,
            cwd=cwd or tmp_path, timeout=timeout,
        )
        # Strict decoding on purpose: the output must be valid UTF-8 whatever the code page.
        return Result(done.returncode, done.stdout.decode("utf-8"), done.stderr.decode("utf-8"))

    return run


@pytest.fixture(params=["embedded", "server"])
def backend_env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    """The environment of a `transom` command: no server (the embedded database of the test's
    home), or TRANSOM_API_URL of a live server on its own SQLite file."""
    from tests.server.conftest import LiveServer

    from transom.settings import Settings

    if request.param == "embedded":
        yield {}
        return
    server = LiveServer(Settings.load({}, home=tmp_path / "server",
                                      database_url=f"sqlite:///{tmp_path / 'server.db'}",
                                      server_services=False))
    server.start()
    try:
        yield {"TRANSOM_API_URL": server.url}
    finally:
        server.stop()
