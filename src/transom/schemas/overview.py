"""What the overview reads answer on the wire: flow runs counted by state for a window, the runs
that ended per time bucket, and a flow run's compact timeline of its task runs."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from transom.core.states import StateType
from transom.schemas._base import _Model

__all__ = ["MAX_BUCKETS", "FlowRunCounts", "FlowRunHistory", "FlowRunTimeline", "HistoryBucket"]

MAX_BUCKETS = 1000
"""The most buckets one history answers with (a window of a year in 1 s buckets is refused)."""


class FlowRunCounts(_Model):
    """The flow runs created in a window, by state type (every type, 0 where none)."""

    since: datetime
    until: datetime
    total: int
    counts: dict[StateType, int]


class HistoryBucket(_Model):
    start: datetime
    end: datetime
    counts: dict[StateType, int] = Field(
        description="Runs that ended in this bucket, by their final state type.")


class FlowRunHistory(_Model):
    """The runs that ended (in a final state) between `since` and `until`, per bucket of
    `bucket_seconds` aligned to the Unix epoch in UTC, oldest bucket first."""

    since: datetime
    until: datetime
    bucket_seconds: int
    buckets: list[HistoryBucket]


class FlowRunTimeline(_Model):
    """A run's task runs laid out for a Gantt chart, compactly: a row per task key, each run
    in the first lane of its row free at its start; times in ms from `start`."""

    start: datetime | None = Field(description="When the first task run started (null: none "
                                               "has).")
    end: int = Field(description="ms from `start` to the last end (or to now, while running).")
    states: list[StateType] = Field(description="The state types a run's index refers to.")
    rows: list[tuple[str, int, int]] = Field(
        description="[task key, first lane, lanes] per task, in the order each first started.")
    runs: list[tuple[int, int, int, int, str, str]] = Field(
        description="[lane, start ms, end ms, index in `states`, name, task run id hex] per "
                    "task run that started.")
