"""Schedule contention: 8 concurrent creators of flow runs, with and without a deployment
scheduled FREQ=SECONDLY (issue 14, point 1: the scheduler must not stall writes).

A real `transom server start` on 127.0.0.1 with the scheduler passing every second (instead of
every 10 s, so the load meets many passes). The baseline is the same server and load with no
schedule, in the same run; the target is a creation p95 within 2x of it. On SQLite and on
PostgreSQL (when installed).

    python benchmarks/schedule_contention.py [runs] [clients]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import httpx
from _common import report
from _server import BenchServer, on_both_databases
from api_throughput import hammer, pct

from transom.client import TransomClient
from transom.schemas import DeploymentCreate, ScheduleIn, WorkPoolCreate

ENVIRON = {"TRANSOM_SERVER_SCHEDULER_INTERVAL": "1", "TRANSOM_LOGGING_LEVEL": "WARNING"}


def measure(database_url: str | None, runs: int, clients: int, *,
            rrule: str | None) -> tuple[list[float], int]:
    """Creation latencies of `runs` flow runs by `clients` clients; and the scheduled runs
    the server made meanwhile (0 with no schedule)."""
    server = BenchServer(Path(tempfile.mkdtemp(prefix="transom-contention-")), database_url,
                         ENVIRON)
    try:
        if rrule is not None:
            with TransomClient(server.url) as client:
                client.create_work_pool(WorkPoolCreate(name="p"))
                client.upsert_deployment(DeploymentCreate(
                    flow_name="busy", name="rr", entrypoint="flows.py:busy", work_pool="p",
                    schedules=[ScheduleIn(rrule=rrule)]))
        hammer(server.url, clients * 10, clients, "POST", "/flow_runs", {"flow_name": "warm"})
        _, latencies = hammer(server.url, runs, clients, "POST", "/flow_runs",
                              {"flow_name": "bench", "tags": ["load"]})
        with httpx.Client(base_url=server.url) as http:
            scheduled = http.get("/flow_runs", params={"flow": "busy", "limit": 1}).json()["total"]
    finally:
        server.stop()
    return latencies, int(scheduled)


def run_on(name: str, database_url: str | None, runs: int, clients: int) -> list[tuple[str, str]]:
    base, _ = measure(database_url, runs, clients, rrule=None)
    busy, scheduled = measure(database_url, runs, clients, rrule="FREQ=SECONDLY")
    ratio = pct(busy, 95) / pct(base, 95)
    return [
        (f"{name}: creation, no schedule", f"p50 {pct(base, 50):.1f} ms, p95 {pct(base, 95):.1f} ms"),
        (f"{name}: creation, FREQ=SECONDLY", f"p50 {pct(busy, 50):.1f} ms, p95 {pct(busy, 95):.1f} ms"
                                             f"   ({scheduled} scheduled runs made meanwhile)"),
        (f"{name}: p95 ratio", f"{ratio:.2f}x   (target <= 2x)"),
    ]


def main(runs: int = 2000, clients: int = 8) -> None:
    rows = on_both_databases(run_on, runs, clients)
    report(f"schedule_contention: {clients} clients, {runs:,} flow runs", rows)


if __name__ == "__main__":
    main(*[int(a) for a in sys.argv[1:3]])
