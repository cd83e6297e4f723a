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

__all__ = ["PostgresServer", "find_pg_bin"]


def find_pg_bin() -> Path | None:
    if os.environ.get("PGBIN") and (Path(os.environ["PGBIN"]) / "initdb").with_suffix(
            ".exe" if os.name == "nt" else "").exists():
        return Path(os.environ["PGBIN"])  # set on GitHub's Windows runners
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), reverse=True)
    return candidates[0].parent if candidates else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresServer:
    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="transom-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
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
