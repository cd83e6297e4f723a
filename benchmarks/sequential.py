"""Per-task overhead: one flow calling N trivial tasks one after another, recording on.

Baseline: the same N calls of the plain function in the same process. Also times an empty flow
and checks that every task run is in the database right after the flow returns.

    python benchmarks/sequential.py [N]          # recorded in the embedded database
    python benchmarks/sequential.py [N] --api    # recorded through a real server's API
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from _common import best_of, count_rows, fresh_home, report


def main(n: int = 1000, api: bool = False) -> None:
    home = fresh_home()
    server = None
    if api:
        import tempfile
        from pathlib import Path

        from _server import BenchServer

        server = BenchServer(Path(tempfile.mkdtemp(prefix="transom-bench-server-")))
        os.environ["TRANSOM_API_URL"] = server.url
        home = server.home
    try:
        _measure(n, home, "through the API" if api else "embedded database")
    finally:
        if server is not None:
            server.stop()


def _measure(n: int, home: Path, where: str) -> None:
    from transom import flow, task

    def plain(x: int) -> int:
        return x + 1

    nop = task(plain)

    @flow
    def sequential(count: int) -> int:
        total = 0
        for i in range(count):
            total += nop(i)
        return total

    @flow
    def empty() -> None:
        pass

    def baseline() -> None:
        for i in range(n):
            plain(i)

    empty()  # warm up: database created and migrated, modules imported
    sequential(10)
    base = best_of(baseline)
    before = count_rows(home, "task_runs")
    transom_time = best_of(lambda: sequential(n))
    runs_recorded = count_rows(home, "task_runs") - before
    start = time.perf_counter()
    sequential(n)
    recorded_after = count_rows(home, "task_runs") - before - runs_recorded
    visible_after = time.perf_counter() - start
    empty_flow = best_of(empty, repeat=20)
    per_task_us = (transom_time - base) / n * 1e6
    report(f"sequential: {n} trivial tasks in one flow, recorded {where}", [
        ("plain Python loop", f"{base * 1e3:.3f} ms"),
        ("transom flow", f"{transom_time * 1e3:.1f} ms"),
        ("per-task overhead", f"{per_task_us:.1f} us   (target < 100 us embedded, < 300 us API)"),
        ("empty flow", f"{empty_flow * 1e3:.2f} ms   (target < 10 ms)"),
        ("task runs in the database when the flow returned",
         f"{recorded_after}/{n} (flow + check took {visible_after * 1e3:.0f} ms)"),
    ])
    if recorded_after != n:
        sys.exit("not every task run was recorded when the flow returned")


if __name__ == "__main__":
    numbers = [a for a in sys.argv[1:] if a.isdigit()]
    main(int(numbers[0]) if numbers else 1000, api="--api" in sys.argv)
