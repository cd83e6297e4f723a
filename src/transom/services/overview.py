"""The web UI's reads, and the API's overviews built on the same queries: the dashboard, counts
by state and the runs that ended per bucket for any window, a run's timeline, a task run's logs,
a deployment's last runs, a page of deployments with the last run of each, the runs workers
hold, why a run waits. Each a few queries, never one
per row."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from transom.core.states import FINAL_TYPES, StateType
from transom.exceptions import UserInputError
from transom.schemas import (
    MAX_BUCKETS,
    DeploymentRead,
    FlowRunCounts,
    FlowRunHistory,
    FlowRunRead,
    HistoryBucket,
    LogLine,
    WorkerRead,
)
from transom.services.context import Context
from transom.services.timeline import layout
from transom.store import deployments, overview, queries
from transom.store.overview import Failure, RunTasks, TaskRunRow, Trouble

__all__ = ["DashboardData", "DeploymentsPage", "Overview", "RunTasks", "TaskRunRow"]


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


@dataclass(frozen=True)
class DeploymentsPage:
    """One page of the deployments (by flow name, then name), how many match in all, and the
    last run of each that has one."""

    deployments: list[DeploymentRead]
    total: int
    last_runs: dict[uuid.UUID, FlowRunRead]


class Overview:
    ctx: Context

    def dashboard(self, window: timedelta, bucket: timedelta,
                  now: datetime | None = None) -> DashboardData:
        """Counts by state of the runs created in the last `window`, the runs that ended per
        `bucket`, recent failures, late runs, and pools and workers in trouble."""
        until = now or self.ctx.clock()
        since = until - window
        with self.ctx.db.read() as conn:
            counts = overview.state_counts(conn, since=since, until=until)
            buckets, ended = overview.bucket_counts(conn, since=since, until=until, size=bucket)
            failures = overview.recent_failures(conn, since=since)
            late = overview.late_runs(conn)
            trouble = overview.trouble(conn, now=until, worker_timeout=self.ctx.worker_timeout)
        return DashboardData(since, until, counts, buckets, ended, failures, late, trouble)

    def flow_run_counts(self, *, since: datetime | None = None, until: datetime | None = None,
                        span: timedelta | None = None) -> FlowRunCounts:
        """The flow runs created from `since` to `until` by state type, in one GROUP BY: `until` now
        unless given, `since` that less `span` (24 h unless given)."""
        since, until = self._window(since, until, span)
        with self.ctx.db.read() as conn:
            found = overview.state_counts(conn, since=since, until=until)
        counts = {kind: found.get(kind, 0) for kind in StateType}
        return FlowRunCounts(since=since, until=until, total=sum(counts.values()), counts=counts)

    def flow_run_history(self, *, bucket: timedelta, since: datetime | None = None,
                         until: datetime | None = None,
                         span: timedelta | None = None) -> FlowRunHistory:
        """The runs that ended (a final state) in the window, counted per `bucket` (aligned to
        the Unix epoch) and final state type, in one GROUP BY; at most MAX_BUCKETS buckets."""
        since, until = self._window(since, until, span)
        seconds = int(bucket.total_seconds())
        if seconds < 1:
            raise UserInputError("bucket must be at least 1 second")
        # As store.overview.bucket_counts aligns them: both ends may be partial buckets.
        count = (int((until - _EPOCH).total_seconds()) // seconds
                 - int((since - _EPOCH).total_seconds()) // seconds + 1)
        if count > MAX_BUCKETS:
            raise UserInputError(
                f"a window of {int((until - since).total_seconds())} s in buckets of {seconds} s "
                f"is {count} buckets, more than {MAX_BUCKETS}: choose larger buckets or a "
                "shorter window")
        kinds = [k for k in StateType if k in FINAL_TYPES]
        with self.ctx.db.read() as conn:
            starts, ended = overview.bucket_counts(conn, since=since, until=until, size=bucket,
                                                   kinds=kinds)
        buckets = [HistoryBucket(start=start, end=_plus(start, bucket),
                                 counts={kind: ended[kind][i] for kind in kinds})
                   for i, start in enumerate(starts)]
        return FlowRunHistory(since=since, until=until, bucket_seconds=seconds, buckets=buckets)

    def _window(self, since: datetime | None, until: datetime | None,
                span: timedelta | None) -> tuple[datetime, datetime]:
        """A window's ends, in UTC (a time without a zone is UTC); UserInputError for one that
        ends before it starts, or names its start twice."""
        if since is not None and span is not None:
            raise UserInputError("give since or span, not both")
        until = _utc(until) if until is not None else self.ctx.clock()
        if since is None:
            try:
                since = until - (span if span is not None else timedelta(days=1))
            except OverflowError:  # before the year 1: every run is later
                since = datetime.min.replace(tzinfo=timezone.utc)
        since = _utc(since)
        if since > until:
            raise UserInputError(f"the window starts ({since.isoformat()}) after it ends "
                                 f"({until.isoformat()})")
        return since, until

    def flow_run_timeline(self, run_id: uuid.UUID,
                          now: datetime | None = None) -> dict[str, object]:
        """The run's task runs laid out for a timeline (services/timeline.py), as JSON-ready
        data (NotFound for an unknown run)."""
        with self.ctx.db.read() as conn:
            queries.read_flow_run(conn, run_id)
            task_runs = overview.task_run_rows(conn, run_id)
        return layout(task_runs, now or self.ctx.clock())

    def task_run_rows(self, run_id: uuid.UUID) -> list[TaskRunRow]:
        """A flow run's task runs as its page lists them: a few columns each, none of the JSON
        ones (NotFound for an unknown run)."""
        with self.ctx.db.read() as conn:
            queries.read_flow_run(conn, run_id)
            return overview.task_run_rows(conn, run_id)

    def run_tasks(self, run_id: uuid.UUID, *, shown: int | None,
                  named: Iterable[uuid.UUID] = ()) -> RunTasks:
        """What a flow run's page shows of its task runs (store/overview.py `run_tasks`):
        the first `shown` (all for None), their count, per task, the one it failed in, and the
        names of those in `named` (NotFound for an unknown run)."""
        with self.ctx.db.read() as conn:
            queries.read_flow_run(conn, run_id)
            return overview.run_tasks(conn, run_id, shown=shown, named=named)

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

    def deployments_page(self, *, flow_name: str | None = None, work_pool: str | None = None,
                         limit: int = 100, offset: int = 0,
                         now: datetime | None = None) -> DeploymentsPage:
        """A page of the deployments these filters match, their count and last runs (three
        queries and the page's schedules, however long the page)."""
        with self.ctx.db.read() as conn:
            found = deployments.list_deployments(conn, flow_name=flow_name, work_pool=work_pool,
                                                 limit=limit, offset=offset)
            total = deployments.count_deployments(conn, flow_name=flow_name, work_pool=work_pool)
            last = overview.last_runs(conn, [d.id for d in found], now=now or self.ctx.clock())
        return DeploymentsPage(found, total, last)

    def worker_runs(self, workers: list[WorkerRead]) -> dict[uuid.UUID, list[FlowRunRead]]:
        """The runs each worker holds now."""
        with self.ctx.db.read() as conn:
            return overview.runs_of_workers(conn, [w.id for w in workers])

    def why_waiting(self, run: FlowRunRead, now: datetime | None = None) -> list[str]:
        """Why a Scheduled or Late run has not started, in sentences."""
        with self.ctx.db.read() as conn:
            return overview.waiting(conn, run, now=now or self.ctx.clock(),
                                    worker_timeout=self.ctx.worker_timeout)


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _utc(when: datetime) -> datetime:
    return when.replace(tzinfo=timezone.utc) if when.tzinfo is None \
        else when.astimezone(timezone.utc)


def _plus(when: datetime, span: timedelta) -> datetime:
    try:
        return when + span
    except OverflowError:  # a bucket of the year 9998 that would end past 9999
        return datetime.max.replace(tzinfo=timezone.utc)
