"""Start a real `transom server start` for a benchmark, on 127.0.0.1, and stop it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from transom.platform.network import find_free_port


class BenchServer:
    def __init__(self, home: Path, database_url: str | None = None,
                 environ: dict[str, str] | None = None) -> None:
        self.home = home
        self.port = find_free_port("127.0.0.1", 23000)
        self.url = f"http://127.0.0.1:{self.port}/api"
        env = {k: v for k, v in os.environ.items() if not k.startswith("TRANSOM_")}
        env["TRANSOM_HOME"] = str(home)
        if database_url:
            env["TRANSOM_DATABASE_URL"] = database_url
        env.update(environ or {})
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "transom", "server", "start", "--port", str(self.port)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the server did not start")
            time.sleep(0.1)

    def rss_mib(self) -> float:
        import psutil

        return float(psutil.Process(self.proc.pid).memory_info().rss) / 2**20

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=30)


def postgres(root: Path):  # type: ignore[no-untyped-def]
    """A throwaway PostgreSQL server (the one the tests use), or None if not installed."""
    from tests.support.postgres import PostgresServer, find_pg_bin

    bin_dir = find_pg_bin()
    if bin_dir is None:
        return None
    server = PostgresServer(bin_dir)
    server.start()
    return server


def on_both_databases(run_on: Callable[[str, str | None, int, int], list[tuple[str, str]]],
                      runs: int, clients: int) -> list[tuple[str, str]]:
    """`run_on` on SQLite, then on a PostgreSQL started for it (skipped, said so, without one)."""
    import tempfile

    rows = run_on("SQLite", None, runs, clients)
    pg = postgres(Path(tempfile.mkdtemp()))
    if pg is None:
        rows.append(("PostgreSQL", "not installed here; skipped"))
        return rows
    try:
        rows += run_on("PostgreSQL", pg.create_database("bench"), runs, clients)
    finally:
        pg.stop()
    return rows
