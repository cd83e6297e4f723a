"""Shared bits of the benchmarks: a fresh TRANSOM_HOME, timers, and a look into the database."""

from __future__ import annotations

import os
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path


def fresh_home() -> Path:
    """Point this process (and its children) at a new, empty TRANSOM_HOME."""
    home = Path(tempfile.mkdtemp(prefix="transom-bench-"))
    os.environ["TRANSOM_HOME"] = str(home)
    os.environ.setdefault("TRANSOM_LOGGING_LEVEL", "WARNING")  # console lines are not what we time
    return home


def best_of(fn: Callable[[], object], repeat: int = 5) -> float:
    """The fastest of `repeat` timings, in seconds (the least disturbed by the machine)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def median_of(fn: Callable[[], object], repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def count_rows(home: Path, table: str, where: str = "") -> int:
    with sqlite3.connect(home / "transom.db") as db:
        return int(db.execute(f"SELECT count(*) FROM {table} {where}").fetchone()[0])


def report(title: str, rows: list[tuple[str, str]]) -> None:
    width = max(len(k) for k, _ in rows)
    print(f"\n{title}  (Python {sys.version.split()[0]}, {os.cpu_count()} CPUs)")
    for key, value in rows:
        print(f"  {key:<{width}}  {value}")
