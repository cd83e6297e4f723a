"""Schedule latency: from a run's scheduled time to Running, p50/p95 over 50 runs, one worker.

A real `transom server start` and `transom worker start` (default poll interval and prefetch) on
127.0.0.1, a trivial flow. Scheduled runs are spaced 0.4 s apart; "on demand" runs are asked for
now (`transom deployment run`), so they wait for the next poll. Baseline: plain Python sleeping
until the same times and starting a `python -c` child, which reports when it began.

    python benchmarks/schedule_latency.py [runs]
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from datetime import timedelta

from _common import fresh_home, report
from _deploy import project, start_worker, stop, wait_final
from _server import BenchServer

from transom.client import TransomClient
from transom.core.states import now_utc
from transom.schemas import DeploymentRunCreate


def _pcts(values: list[float]) -> str:
    values = sorted(values)
    p95 = values[min(len(values) - 1, round(0.95 * (len(values) - 1)))]
    return f"p50 {statistics.median(values) * 1000:6.0f} ms   p95 {p95 * 1000:6.0f} ms"


def baseline(count: int) -> list[float]:
    delays = []
    start = time.time() + 1.0
    for i in range(count):
        when = start + i * 0.4
        time.sleep(max(0.0, when - time.time()))
        out = subprocess.run([sys.executable, "-c", "import time; print(time.time())"],
                             capture_output=True, text=True, check=True).stdout
        delays.append(float(out) - when)
    return delays


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    home = fresh_home()
    server = BenchServer(home)
    workers = []
    try:
        with TransomClient(server.url) as client:
            project(home, client)
            workers.append(start_worker(home, server.url, "latency"))
            time.sleep(1.0)  # the worker has polled once
            first = now_utc() + timedelta(seconds=3)
            scheduled = [client.create_deployment_run("trivial/bench", DeploymentRunCreate(
                scheduled_time=first + timedelta(seconds=0.4 * i))).id for i in range(count)]
            runs = wait_final(client, scheduled, 60 + count)
            late = [(r.start_time - r.expected_start_time).total_seconds() for r in runs
                    if r.start_time and r.expected_start_time]
            demand = []
            for _ in range(min(count, 20)):
                asked = client.create_deployment_run("trivial/bench", DeploymentRunCreate())
                (run,) = wait_final(client, [asked.id], 30)
                assert run.start_time and asked.expected_start_time
                demand.append((run.start_time - asked.expected_start_time).total_seconds())
    finally:
        stop(workers)
        server.stop()
    plain = baseline(min(count, 20))
    report(f"Schedule latency: scheduled time -> Running, {count} runs, 1 worker", [
        ("scheduled runs (worker)", _pcts(late)),
        (f"on-demand runs ({len(demand)})", _pcts(demand)),
        ("plain Python: sleep + start a child", _pcts(plain)),
    ])


if __name__ == "__main__":
    main()
