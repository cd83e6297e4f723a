"""A flow run's timeline (Gantt) of its task runs, laid out once for the web UI's canvas and the
API alike: one row per task (mapped and repeated calls of a task share it), each run packed into
the first lane of its row that is free at its start, so 10,000 task runs are a few thousand
rectangles on a few dozen lanes.

    {"start": ISO time of the first start, "end": ms of the last end (or now, while running),
     "states": [state type, ...], "rows": [[task key, first lane, lanes], ...],
     "runs": [[lane, start ms, end ms, state index, name, id], ...]}
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from datetime import datetime, timezone

from transom.core.states import StateType
from transom.schemas import TaskRunRead
from transom.store.overview import TaskRunRow

__all__ = ["layout"]

_STATES = [t.value for t in StateType]


def _ms(when: datetime, start: datetime) -> int:
    return round((when - start).total_seconds() * 1000)


def layout(task_runs: Sequence[TaskRunRead | TaskRunRow], now: datetime | None = None) -> dict[str, object]:
    """The timeline of `task_runs`: those that started, by row (task key, in the order each
    first started) and lane (within a row, the first lane free at the run's start)."""
    now = now or datetime.now(timezone.utc)
    started = sorted((t for t in task_runs if t.start_time is not None),
                     key=lambda t: (t.start_time, t.name))
    if not started:
        return {"start": None, "end": 0, "states": _STATES, "rows": [], "runs": []}
    t0: datetime = started[0].start_time  # type: ignore[assignment]
    by_key: dict[str, list[TaskRunRead | TaskRunRow]] = {}
    for run in started:
        by_key.setdefault(run.task_key, []).append(run)
    rows: list[list[object]] = []
    runs: list[list[object]] = []
    first_lane = 0
    last_end = 0
    for key, group in by_key.items():
        free: list[tuple[int, int]] = []  # (end ms, lane) of each lane's last run
        lanes = 0
        for run in group:
            start = _ms(run.start_time, t0)  # type: ignore[arg-type]
            end = max(_ms(run.end_time or now, t0), start)
            if free and free[0][0] <= start:
                _, lane = heapq.heappop(free)
            else:
                lane, lanes = lanes, lanes + 1
            heapq.heappush(free, (end, lane))
            state = run.state_type.value if run.state_type is not None else StateType.PENDING.value
            runs.append([first_lane + lane, start, end, _STATES.index(state), run.name,
                         run.id.hex])
            last_end = max(last_end, end)
        rows.append([key, first_lane, lanes])
        first_lane += lanes
    return {"start": t0.astimezone(timezone.utc).isoformat(), "end": last_end,
            "states": _STATES, "rows": rows, "runs": runs}
