"""Concurrency overhead: N tasks via .submit() + wait, and M via .map(), recording on.

Baseline: the same calls through a plain concurrent.futures.ThreadPoolExecutor.

    python benchmarks/submitted.py [N] [M]
"""

from __future__ import annotations

import concurrent.futures as cf
import sys

from _common import count_rows, fresh_home, median_of, report


def main(n: int = 1000, m: int = 10_000) -> None:
    home = fresh_home()
    from transom import flow, task, wait

    def plain(x: int) -> int:
        return x + 1

    nop = task(plain)

    @flow
    def submitted(count: int) -> None:
        wait([nop.submit(i) for i in range(count)])

    @flow
    def mapped(count: int) -> None:
        wait(nop.map(range(count)))

    def baseline(count: int) -> None:
        with cf.ThreadPoolExecutor() as pool:
            cf.wait([pool.submit(plain, i) for i in range(count)])

    submitted(10)  # warm up
    base_n = median_of(lambda: baseline(n))
    t_submit = median_of(lambda: submitted(n))
    base_m = median_of(lambda: baseline(m), repeat=3)
    t_map = median_of(lambda: mapped(m), repeat=3)
    recorded = count_rows(home, "task_runs", "WHERE state_type = 'COMPLETED'")
    expected = 10 + 5 * n + 3 * m
    report(f"submitted: {n} via .submit(), {m} via .map()", [
        (f"plain ThreadPoolExecutor, {n}", f"{base_n * 1e3:.1f} ms"),
        (f"transom .submit() x {n} + wait", f"{t_submit * 1e3:.1f} ms   (target < 500 ms)"),
        (f"plain ThreadPoolExecutor, {m}", f"{base_m * 1e3:.1f} ms"),
        (f"transom .map() over {m} + wait", f"{t_map:.2f} s   (target < 5 s)"),
        ("completed task runs recorded", f"{recorded}/{expected}"),
    ])
    if recorded != expected:
        sys.exit("some task runs were not recorded")


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    main(*args)
