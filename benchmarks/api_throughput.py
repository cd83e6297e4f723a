"""API throughput: 8 concurrent clients create 2,000 flow runs, then list them with filters.

Reports creations per second, p50/p95 latency and the server's memory, on SQLite and on
PostgreSQL (when installed). Each client is a keep-alive connection sending one request at a
time (raw HTTP/1.1 over asyncio, so the load generator takes little of the CPU it shares with
the server). Baseline: the same number of bare GET /api/version round trips, which is the HTTP
cost without any database work.

    python benchmarks/api_throughput.py [runs] [clients]
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
from _common import report
from _server import BenchServer, on_both_databases


async def _client(port: int, count: int, method: str, path: str,
                  body: dict[str, object] | None, latencies: list[float]) -> None:
    """One client: a keep-alive HTTP/1.1 connection, one request at a time, each answer read
    whole and checked. Raw asyncio streams rather than an HTTP library, so that the load
    generator, which shares this 2-core machine with the server, costs as little as possible."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for i in range(count):
            payload = b"" if body is None else json.dumps({**body, "parameters": {"i": i}}).encode()
            request = (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                       f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
                       "\r\n").encode() + payload
            start = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length:"))
            answer = await reader.readexactly(length)
            latencies.append(time.perf_counter() - start)
            if not head.startswith((b"HTTP/1.1 200", b"HTTP/1.1 201")):
                raise SystemExit(f"{method} {path} failed: {head.decode()} {answer[:300]!r}")
    finally:
        writer.close()


def hammer(url: str, total: int, clients: int, method: str, path: str,
           body: dict[str, object] | None) -> tuple[float, list[float]]:
    """`clients` concurrent clients sending `total` requests in all; (seconds, latencies)."""
    port = int(url.rsplit(":", 1)[1].split("/", 1)[0])
    latencies: list[float] = []

    async def all_clients() -> None:
        await asyncio.gather(*(_client(port, total // clients, method, "/api" + path, body,
                                       latencies) for _ in range(clients)))

    start = time.perf_counter()
    asyncio.run(all_clients())
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
    rows = on_both_databases(run_on, runs, clients)
    report(f"api_throughput: {clients} clients, {runs:,} flow runs", rows)


if __name__ == "__main__":
    main(*[int(a) for a in sys.argv[1:3]])
