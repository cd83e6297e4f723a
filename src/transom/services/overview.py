"""The web UI's reads: the dashboard, a task run's logs, a deployment's last runs, the runs
workers hold, why a run waits. Each a few queries, never one per row."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from transom.core.states import StateType
from transom.schemas import FlowRunRead, LogLine, WorkerRead
from transom.services.context import Context
from transom.store import overview, queries
from transom.store.overview import Failure, Trouble

__all__ = ["DashboardData", "Overview"]


@dataclass(frozen=True)
class DashboardData:
    """What the dashboard shows for one window ending `until`."""

    since: datetime
    until: datetime
    counts: dict[StateType, int]
    buckets: list[datetime]
    ended: dict[StateType, list[int]]  # Completed / Failed / Crashed per bucket
    failures: list[Failure]
    late: list[FlowRunRead]
    trouble: Trouble


class Overview:
    ctx: Context

    def dashboard(self, window: timedelta, bucket: timedelta,
                  now: datetime | None = None) -> DashboardData:
        """Counts by state of the runs created in the last `window`, the runs that ended per
        `bucket`, recent failures, late runs, and pools and workers in trouble."""
        until = now or self.ctx.clock()
        since = until - window
        with self.ctx.db.read() as conn:
            counts = overview.state_counts(conn, since=since)
            buckets, ended = overview.bucket_counts(conn, since=since, until=until, size=bucket)
            failures = overview.recent_failures(conn, since=since)
            late = overview.late_runs(conn)
            trouble = overview.trouble(conn, now=until, worker_timeout=self.ctx.worker_timeout)
        return DashboardData(since, until, counts, buckets, ended, failures, late, trouble)

    def task_run_logs(self, task_run_id: uuid.UUID, *, limit: int = 1000) -> list[LogLine]:
        """A task run's log lines, oldest first (NotFound for an unknown task run)."""
        with self.ctx.db.read() as conn:
            task_run = queries.read_task_run(conn, task_run_id)
            if task_run.flow_run_id is None:
                return []
            return queries.list_logs(conn, task_run.flow_run_id, task_run_id=task_run_id,
                                     limit=limit)

    def deployment_runs(self, deployment_id: uuid.UUID, *, limit: int = 10) -> list[FlowRunRead]:
        """A deployment's latest runs, newest first."""
        with self.ctx.db.read() as conn:
            return overview.runs_of(conn, deployment_id, limit=limit)

    def worker_runs(self, workers: list[WorkerRead]) -> dict[uuid.UUID, list[FlowRunRead]]:
        """The runs each worker holds now."""
        with self.ctx.db.read() as conn:
            return overview.runs_of_workers(conn, [w.id for w in workers])

    def why_waiting(self, run: FlowRunRead, now: datetime | None = None) -> list[str]:
        """Why a Scheduled or Late run has not started, in sentences."""
        with self.ctx.db.read() as conn:
            return overview.waiting(conn, run, now=now or self.ctx.clock(),
                                    worker_timeout=self.ctx.worker_timeout)
