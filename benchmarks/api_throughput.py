"""API throughput: 8 concurrent clients create 2,000 flow runs, then list them with filters.

Reports creations per second, p50/p95 latency and the server's memory, on SQLite and on
PostgreSQL (when installed). Baseline: the same number of bare GET /api/version round trips,
which is the HTTP cost without any database work.

    python benchmarks/api_throughput.py [runs] [clients]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from _common import report
from _server import BenchServer, postgres


def hammer(url: str, total: int, clients: int, method: str, path: str,
           body: dict[str, object] | None) -> tuple[float, list[float]]:
    latencies: list[float] = []
    lock = threading.Lock()
    per_client = total // clients

    def client() -> None:
        mine = []
        with httpx.Client(base_url=url, timeout=30) as http:
            for i in range(per_client):
                start = time.perf_counter()
                response = http.request(method, path, json=None if body is None
                                        else {**body, "parameters": {"i": i}})
                response.raise_for_status()
                mine.append(time.perf_counter() - start)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start, latencies


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] * 1e3


def run_on(name: str, database_url: str | None, runs: int, clients: int) -> list[tuple[str, str]]:
    server = BenchServer(Path(tempfile.mkdtemp(prefix="transom-api-")), database_url)
    try:
        base_time, base_lat = hammer(server.url, runs, clients, "GET", "/version", None)
        took, lat = hammer(server.url, runs, clients, "POST", "/flow_runs",
                           {"flow_name": "bench", "tags": ["load"]})
        list_lat = []
        with httpx.Client(base_url=server.url) as http:
            for params in ({"limit": 50}, {"flow": "bench", "state": "PENDING", "limit": 200},
                           {"since": "2000-01-01T00:00:00Z", "limit": 1000, "offset": 500}):
                for _ in range(10):
                    start = time.perf_counter()
                    http.get("/flow_runs", params=params).raise_for_status()
                    list_lat.append(time.perf_counter() - start)
            total = http.get("/flow_runs", params={"limit": 1}).json()["total"]
        rss = server.rss_mib()
    finally:
        server.stop()
    return [
        (f"{name}: GET /version baseline", f"{runs / base_time:,.0f} req/s, p50 {pct(base_lat, 50):.1f} ms"),
        (f"{name}: flow-run creations", f"{runs / took:,.0f} /s   (target >= 1,000/s on SQLite)"),
        (f"{name}: creation latency", f"p50 {pct(lat, 50):.1f} ms, p95 {pct(lat, 95):.1f} ms"),
        (f"{name}: filtered listings", f"p50 {pct(list_lat, 50):.1f} ms, p95 {pct(list_lat, 95):.1f} ms"),
        (f"{name}: runs recorded", f"{total:,}/{runs:,}"),
        (f"{name}: server RSS after", f"{rss:.0f} MiB   (target < 150 MiB)"),
    ]


def main(runs: int = 2000, clients: int = 8) -> None:
    rows = run_on("SQLite", None, runs, clients)
    pg = postgres(Path(tempfile.mkdtemp()))
    if pg is None:
        rows.append(("PostgreSQL", "not installed here; skipped"))
    else:
        try:
            rows += run_on("PostgreSQL", pg.create_database("bench"), runs, clients)
        finally:
            pg.stop()
    report(f"api_throughput: {clients} clients, {runs:,} flow runs", rows)


if __name__ == "__main__":
    main(*[int(a) for a in sys.argv[1:3]])
