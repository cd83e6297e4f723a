"""A small ETL flow: a flaky extract that is retried, transforms in parallel, a cached lookup.

Run it with `python examples/etl.py` (or `transom run examples/etl.py:etl --param days=3`), then
look at what was recorded with `transom runs ls` and `transom runs show <id>`.
"""

from __future__ import annotations

import random
import time
from datetime import timedelta

from transom import flow, get_run_logger, task, task_input_hash

_attempts: dict[int, int] = {}


@task(retries=3, retry_delay_seconds=[0.1, 0.2, 0.4], retry_jitter_factor=0.2)
def extract(day: int) -> list[int]:
    """Pretend to fetch a day of readings from a flaky source: odd days fail on the first try."""
    _attempts[day] = _attempts.get(day, 0) + 1
    if day % 2 == 1 and _attempts[day] == 1:
        raise ConnectionError(f"source unavailable for day {day}")
    rng = random.Random(day)
    return [rng.randint(0, 100) for _ in range(24)]


@task(cache_key_fn=task_input_hash, cache_expiration=timedelta(hours=1))
def exchange_rate(currency: str) -> float:
    """An expensive lookup: cached for an hour, so a second run of the flow skips it."""
    time.sleep(0.5)
    return {"EUR": 1.0, "USD": 1.08, "GBP": 0.86}.get(currency, 1.0)


@task
def transform(readings: list[int], rate: float) -> dict[str, float]:
    return {"total": round(sum(readings) * rate, 2), "peak": max(readings) * rate}


@task
def load(rows: list[dict[str, float]]) -> float:
    total = round(sum(r["total"] for r in rows), 2)
    get_run_logger().info("loaded %d rows, grand total %.2f", len(rows), total)
    return total


@flow(log_prints=True)
def etl(days: int = 5, currency: str = "USD") -> float:
    rate = exchange_rate(currency)
    raw = extract.map(range(days))  # the days are fetched concurrently
    rows = [transform.submit(r, rate) for r in raw]
    total = load([r.result() for r in rows])
    print(f"ETL over {days} days in {currency}: {total}")
    return total


if __name__ == "__main__":
    state = etl(return_state=True)
    # Only the run's end: whether it was recorded (or kept for a server that was down) is for
    # Transom to say, and it does on stderr when it was not.
    print(f"\nFlow run {state.run_id} ended {state.name}")
