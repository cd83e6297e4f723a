"""Worker throughput: trivial flow runs completed per minute with 1 and 2 workers.

A real `transom server start` (SQLite) and `transom worker start --limit 4` processes on
127.0.0.1; runs are all due at once. Each run is its own Python process (isolation, cancel and
crash detection per run), so the baseline is plain Python starting the same number of
`python -c pass` children, 4 at a time.

    python benchmarks/worker_throughput.py [runs]
"""

from __future__ import annotations

import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from _common import fresh_home, report
from _deploy import project, start_worker, stop, wait_final
from _server import BenchServer

from transom.client import TransomClient
from transom.schemas import DeploymentRunCreate


def measure(runs: int, workers: int) -> float:
    home = fresh_home()
    server = BenchServer(home)
    started = []
    try:
        with TransomClient(server.url) as client:
            project(home, client)
            ids = [client.create_deployment_run("trivial/bench", DeploymentRunCreate(
                parameters={"i": i})).id for i in range(runs)]
            begin = time.perf_counter()
            started = [start_worker(home, server.url, f"w{n}", "--limit", "4")
                       for n in range(workers)]
            wait_final(client, ids, 600)
            return runs / (time.perf_counter() - begin) * 60
    finally:
        stop(started)
        server.stop()


def baseline(runs: int) -> float:
    begin = time.perf_counter()
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: subprocess.run([sys.executable, "-c", "pass"], check=True),
                      range(runs)))
    return runs / (time.perf_counter() - begin) * 60


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 60
    one = measure(runs, 1)
    two = measure(runs, 2)
    plain = baseline(runs)
    report(f"Worker throughput: {runs} trivial flow runs, each in its own process", [
        ("1 worker (--limit 4)", f"{one:7.0f} runs/min"),
        ("2 workers (--limit 4 each)", f"{two:7.0f} runs/min"),
        ("plain Python: python -c pass, 4 at a time", f"{plain:7.0f} processes/min"),
    ])


if __name__ == "__main__":
    main()
