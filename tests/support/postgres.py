"""A real PostgreSQL server for the tests: initdb + pg_ctl into a temp dir, on 127.0.0.1.

initdb refuses to run as root, so as root the server runs as the `postgres` user (which the
Debian package creates). Where PostgreSQL is not installed the tests that need it are skipped
with the reason, unless TRANSOM_TEST_REQUIRE_POSTGRES is set (`.ci/run` and the GitHub workflow
set it), where a missing server is a failure.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.support.network import free_port

__all__ = ["EXTERNAL_URL_ENV", "ExternalPostgres", "PostgresServer", "find_pg_bin"]

EXTERNAL_URL_ENV = "TRANSOM_TEST_POSTGRES_URL"
"""A server the tests use instead of starting their own (the Windows lane starts one on Linux):
`postgresql://user:password@127.0.0.1:port/postgres`, a user allowed to create databases."""


def find_pg_bin() -> Path | None:
    if os.environ.get("PGBIN") and (Path(os.environ["PGBIN"]) / "initdb").with_suffix(
            ".exe" if os.name == "nt" else "").exists():
        return Path(os.environ["PGBIN"])  # set on GitHub's Windows runners
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), reverse=True)
    return candidates[0].parent if candidates else None


class PostgresServer:
    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="transom-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.user = "transom"
        self.password = "transom-test"
        self._as_postgres = os.geteuid() == 0 if hasattr(os, "geteuid") else False

    def _run(self, *args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, check=True, capture_output=True, text=True,
                              timeout=120, **kwargs)  # type: ignore[call-overload]

    def start(self) -> None:
        if self._as_postgres:
            shutil.chown(self.root, "postgres")
        pwfile = self.root / "pw"
        pwfile.write_text(self.password)
        if self._as_postgres:
            shutil.chown(pwfile, "postgres")
        self._run("initdb", "-D", str(self.data), "-U", self.user, "--pwfile", str(pwfile),
                  "-A", "scram-sha-256", "-E", "UTF8", "--no-sync")
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -c unix_socket_directories='{self.root}' -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.root / "log"),
                  "-w", "start")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"PostgreSQL did not start; see {self.root / 'log'}")

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def url(self, database: str) -> str:
        return f"postgresql://{self.user}:{self.password}@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


class ExternalPostgres:
    """A PostgreSQL server started by someone else (EXTERNAL_URL_ENV): the tests only create
    databases on it, named after this process so that runs sharing the server never meet, and
    drop them at the end."""

    def __init__(self, url: str) -> None:
        from sqlalchemy.engine import make_url

        self._admin = make_url(url)
        self._prefix = f"p{os.getpid()}_{int(time.time())}_"
        self._created: list[str] = []

    def _connect(self) -> Any:
        import psycopg

        return psycopg.connect(self._admin.set(database="postgres")
                               .render_as_string(hide_password=False), autocommit=True)

    def create_database(self, name: str) -> str:
        database = self._prefix + name
        with self._connect() as conn:
            conn.execute(f'CREATE DATABASE "{database}"')
        self._created.append(database)
        return self.url(database)

    def url(self, database: str) -> str:
        return self._admin.set(database=database).render_as_string(hide_password=False)

    def stop(self) -> None:
        with self._connect() as conn:
            for database in self._created:
                conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
