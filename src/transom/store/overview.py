"""Read queries for the web UI's overviews: counts by state and runs per time bucket (each one
GROUP BY, on SQLite and PostgreSQL alike), recent failures with their error, late runs, pools and
workers in trouble, a deployment's last runs (and the last run of each deployment of a list),
what a waiting run waits for, and a flow run's task runs as its page and timeline list them
(`run_tasks`: what its page shows of them, in a few queries whatever their number)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from transom.core.states import StateType, run_duration
from transom.schemas import FlowRunRead, WorkerRead
from transom.store import models as m
from transom.store.deployments import active, list_work_pools
from transom.store.queries import _FLOW_RUN_SELECT

__all__ = [
    "ENDED",
    "Failure",
    "RunTasks",
    "TaskRunRow",
    "Trouble",
    "bucket_counts",
    "last_runs",
    "last_runs_query",
    "late_runs",
    "recent_failures",
    "run_tasks",
    "runs_of",
    "runs_of_workers",
    "state_counts",
    "task_run_rows",
    "trouble",
    "waiting",
]

fr = m.flow_runs.c
tr = m.task_runs.c


@dataclass(frozen=True, slots=True)
class TaskRunRow:
    """A task run as its flow run's page and timeline show it: a few plain columns and none of
    the JSON ones (a run's 10,000 full task runs read and validated were most of its page's
    time)."""

    id: uuid.UUID
    name: str
    task_key: str
    state_type: StateType | None
    state_name: str | None
    state_timestamp: datetime | None
    start_time: datetime | None
    end_time: datetime | None
    created: datetime

    @property
    def duration(self) -> float | None:
        return run_duration(self.start_time, self.end_time, self.state_type,
                            self.state_timestamp)


_ROW_COLUMNS = (tr.id, tr.name, tr.task_key, tr.state_type, tr.state_name, tr.state_timestamp,
                tr.start_time, tr.end_time, tr.created)


def _rows(conn: Connection, query: sa.Select[Any]) -> list[TaskRunRow]:
    return [TaskRunRow(row[0], row[1], row[2], StateType(row[3]) if row[3] else None, *row[4:])
            for row in conn.execute(query)]


def task_run_rows(conn: Connection, flow_run_id: uuid.UUID,
                  limit: int | None = None) -> list[TaskRunRow]:
    """A flow run's task runs in the order they were made (as `list_task_runs`), the first
    `limit` when given."""
    query = (sa.select(*_ROW_COLUMNS).where(tr.flow_run_id == flow_run_id)
             .order_by(tr.created, tr.dynamic_key).limit(limit))
    return _rows(conn, query)


@dataclass(frozen=True)
class RunTasks:
    """What a flow run's page shows of its task runs, without reading them all (a run may have
    tens of thousands): the first few, how many in all, each task's number of runs (in the
    order the tasks first ran), the task run it failed in, and the names of some."""

    first: list[TaskRunRow]
    count: int
    keys: dict[str, int]
    failed: TaskRunRow | None
    names: dict[uuid.UUID, str]


def run_tasks(conn: Connection, flow_run_id: uuid.UUID, *, shown: int | None,
              named: Iterable[uuid.UUID] = ()) -> RunTasks:
    """`RunTasks` of a flow run: the first `shown` task runs (all for None), and the names of
    those in `named` (the task runs its page's log lines came from)."""
    per_key = conn.execute(
        sa.select(tr.task_key, sa.func.count()).where(tr.flow_run_id == flow_run_id)
        .group_by(tr.task_key).order_by(sa.func.min(tr.created), tr.task_key)).all()
    keys = {str(key): int(count) for key, count in per_key}
    # The first to end Failed or Crashed (by when it ended, then its name): a failed run's few.
    bad = _rows(conn, sa.select(*_ROW_COLUMNS).where(
        tr.flow_run_id == flow_run_id,
        tr.state_type.in_([StateType.FAILED.value, StateType.CRASHED.value])))
    failed = min(bad, key=lambda t: (t.end_time or t.start_time or t.created, t.name),
                 default=None)
    wanted = sorted({i for i in named if i is not None}, key=str)
    names: dict[uuid.UUID, str] = {}
    for i in range(0, len(wanted), 500):  # within any database's bound-parameter limit
        names.update((uuid.UUID(str(row.id)), row.name) for row in conn.execute(
            sa.select(tr.id, tr.name).where(tr.flow_run_id == flow_run_id,
                                            tr.id.in_(wanted[i:i + 500]))))
    return RunTasks(task_run_rows(conn, flow_run_id, shown), sum(keys.values()), keys, failed,
                    names)
ENDED = (StateType.COMPLETED, StateType.FAILED, StateType.CRASHED)
"""The end states the runs-over-time chart stacks."""
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def state_counts(conn: Connection, *, since: datetime,
                 until: datetime | None = None) -> dict[StateType, int]:
    """Flow runs created at or after `since` (and up to `until`), by state type (one GROUP BY
    over the created index)."""
    query = sa.select(fr.state_type, sa.func.count()).where(fr.created >= since)
    if until is not None:
        query = query.where(fr.created <= until)
    query = query.group_by(fr.state_type)
    return {StateType(kind): int(count) for kind, count in conn.execute(query) if kind}


def _epoch_seconds(conn: Connection, column: Any) -> Any:
    if conn.dialect.name == "sqlite":  # stored as naive UTC text: strftime reads it as UTC
        return sa.cast(sa.func.strftime("%s", column), sa.Integer)
    return sa.cast(sa.func.floor(sa.extract("epoch", column)), sa.BigInteger)


def bucket_counts(conn: Connection, *, since: datetime, until: datetime, size: timedelta,
                  kinds: Sequence[StateType] = ENDED
                  ) -> tuple[list[datetime], dict[StateType, list[int]]]:
    """Runs that ended in one of `kinds` (Completed, Failed or Crashed unless given) between
    `since` and `until`, counted per bucket of `size` (aligned to the Unix epoch, in UTC) and
    end state, in one GROUP BY (over the state type and time index); the buckets' starts and,
    per state, a count for each (0 where none ended)."""
    seconds = int(size.total_seconds())
    first = int((since - _EPOCH).total_seconds()) // seconds * seconds
    last = int((until - _EPOCH).total_seconds()) // seconds * seconds
    # Integer division of whole seconds (`//`: SQL's `/` of two integers, on both databases;
    # no floor(), which SQLite builds may lack), of the seconds since the first bucket's start:
    # never negative, so truncating is flooring, before 1970 too.
    bucket = ((_epoch_seconds(conn, fr.state_timestamp) - first) // seconds * seconds
              + first).label("bucket")
    query = (sa.select(bucket, fr.state_type, sa.func.count())
             .where(fr.state_type.in_([k.value for k in kinds]), fr.state_timestamp >= since,
                    fr.state_timestamp <= until)
             .group_by(bucket, fr.state_type))
    starts = list(range(first, last + 1, seconds))
    index = {start: i for i, start in enumerate(starts)}
    counts = {kind: [0] * len(starts) for kind in kinds}
    for start, kind, count in conn.execute(query):
        slot = index.get(int(start))
        if slot is not None:
            counts[StateType(kind)][slot] += int(count)
    return [_EPOCH + timedelta(seconds=s) for s in starts], counts


@dataclass(frozen=True)
class Failure:
    """A run that ended Failed or Crashed, and the first line of why."""

    run: FlowRunRead
    error: str


def recent_failures(conn: Connection, *, since: datetime, limit: int = 10) -> list[Failure]:
    """The latest runs that ended Failed or Crashed since `since`, each with its error line (two
    queries: the runs, then their end states)."""
    query = (_FLOW_RUN_SELECT.where(fr.state_type.in_([StateType.FAILED.value,
                                                       StateType.CRASHED.value]),
                                    fr.state_timestamp >= since)
             .order_by(fr.state_timestamp.desc(), fr.id).limit(limit))
    runs = [FlowRunRead.model_validate(row._mapping) for row in conn.execute(query)]
    errors: dict[Any, str] = {}
    if runs:
        st = m.states.c
        states = (sa.select(st.flow_run_id, st.error, st.message)
                  .where(st.flow_run_id.in_([r.id for r in runs]),
                         st.type.in_([StateType.FAILED.value, StateType.CRASHED.value]))
                  .order_by(st.timestamp, st.id))
        for row in conn.execute(states):  # the last one of each run wins
            errors[uuid.UUID(str(row.flow_run_id))] = _error_line(row.error, row.message)
    return [Failure(r, errors.get(r.id) or _error_line(None, r.state_message)) for r in runs]


def _error_line(error: dict[str, Any] | None, message: str | None) -> str:
    if error and (error.get("type") or error.get("message")):
        text = f"{error.get('type', '')}: {error.get('message', '')}".strip(": ")
    else:
        text = message or ""
    return text.splitlines()[0] if text else ""


def late_runs(conn: Connection, *, limit: int = 20) -> list[FlowRunRead]:
    """Scheduled runs marked Late, the longest waiting first."""
    query = (_FLOW_RUN_SELECT.where(fr.state_type == StateType.SCHEDULED.value,
                                    fr.state_name == "Late")
             .order_by(fr.expected_start_time, fr.id).limit(limit))
    return [FlowRunRead.model_validate(row._mapping) for row in conn.execute(query)]


@dataclass(frozen=True)
class Trouble:
    """Work pools and workers that need a look: pools paused, or with runs waiting and no
    worker online; workers that stopped heart-beating without saying they stop."""

    pools: list[tuple[str, str]] = field(default_factory=list)  # (name, why)
    workers: list[WorkerRead] = field(default_factory=list)


def trouble(conn: Connection, *, now: datetime, worker_timeout: float,
            limit: int = 50) -> Trouble:
    """Pools and workers in trouble (two queries)."""
    pools = []
    for pool in list_work_pools(conn, now=now, worker_timeout=worker_timeout):
        if pool.paused:
            pools.append((pool.name, "paused"))
        elif pool.scheduled_runs and not pool.workers_online:
            waiting_runs = "run waits" if pool.scheduled_runs == 1 else "runs wait"
            pools.append((pool.name, f"{pool.scheduled_runs} {waiting_runs} and no worker "
                                     "is online"))
    wk = m.workers.c
    query = (sa.select(m.workers, m.work_pools.c.name.label("work_pool_name"))
             .outerjoin(m.work_pools, m.work_pools.c.id == wk.work_pool_id)
             .where(wk.stopped.is_(None),
                    wk.last_heartbeat < now - timedelta(seconds=worker_timeout))
             .order_by(wk.last_heartbeat.desc(), wk.name).limit(limit))
    workers = [WorkerRead.model_validate({**row._mapping, "online": False})
               for row in conn.execute(query)]
    return Trouble(pools[:limit], workers)


def runs_of(conn: Connection, deployment_id: uuid.UUID, *, limit: int = 10) -> list[FlowRunRead]:
    """A deployment's latest runs, newest first."""
    query = (_FLOW_RUN_SELECT.where(fr.deployment_id == deployment_id)
             .order_by(fr.created.desc(), fr.id).limit(limit))
    return [FlowRunRead.model_validate(row._mapping) for row in conn.execute(query)]


def last_runs_query(deployment_ids: Sequence[uuid.UUID], *, now: datetime) -> sa.Select[Any]:
    """The select of `last_runs`: per deployment, a correlated walk of its runs by due time
    (revision 0013's index) back to the first one due by `now`."""
    inner = m.flow_runs.alias("latest")
    due = sa.or_(inner.c.state_name != "Scheduled", inner.c.expected_start_time <= now)
    latest = (sa.select(inner.c.id)
              .where(inner.c.deployment_id == m.deployments.c.id,
                     inner.c.expected_start_time.is_not(None), due)
              .order_by(inner.c.expected_start_time.desc(), inner.c.id.desc())
              .limit(1).correlate(m.deployments).scalar_subquery())
    ids = sa.select(latest).where(m.deployments.c.id.in_(list(deployment_ids)))
    return _FLOW_RUN_SELECT.where(fr.id.in_(ids))


def last_runs(conn: Connection, deployment_ids: Sequence[uuid.UUID], *,
              now: datetime) -> dict[uuid.UUID, FlowRunRead]:
    """Each deployment's last run, in one query: of its runs, the one due latest by `now`
    (its expected start time; a Scheduled run for a later time is left out, as a schedule
    makes its runs ahead, but a Paused one waiting past now counts); a deployment that has
    none is not in the answer."""
    if not deployment_ids:
        return {}
    found = {}
    for row in conn.execute(last_runs_query(deployment_ids, now=now)):
        run = FlowRunRead.model_validate(row._mapping)
        if run.deployment_id is not None:
            found[run.deployment_id] = run
    return found


def runs_of_workers(conn: Connection, worker_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[FlowRunRead]]:
    """The runs each of these workers holds now (one query)."""
    found: dict[uuid.UUID, list[FlowRunRead]] = {w: [] for w in worker_ids}
    if worker_ids:
        query = (_FLOW_RUN_SELECT.where(fr.worker_id.in_(worker_ids), active())
                 .order_by(fr.start_time, fr.id))
        for row in conn.execute(query):
            run = FlowRunRead.model_validate(row._mapping)
            if run.worker_id is not None:
                found.setdefault(run.worker_id, []).append(run)
    return found


def waiting(conn: Connection, run: FlowRunRead, *, now: datetime,
            worker_timeout: float) -> list[str]:
    """Why a run that waits for a worker has not started, each reason a sentence: its time not
    come, no deployment, its deployment or pool paused, no worker of its pool online, the
    pool's or deployment's concurrency limit reached (one query)."""
    reasons: list[str] = []
    if run.expected_start_time is not None and run.expected_start_time > now:
        reasons.append("it is scheduled for later: a worker takes it once its time comes")
    if run.deployment_id is None:
        reasons.append("it belongs to no deployment, so no worker will pick it up; it starts "
                       "when the process that made it runs it")
        return reasons
    deps, pools, wk = m.deployments.c, m.work_pools.c, m.workers.c
    online = (sa.select(sa.func.count()).select_from(m.workers)
              .where(wk.work_pool_id == pools.id, wk.stopped.is_(None),
                     wk.last_heartbeat >= now - timedelta(seconds=worker_timeout))
              .correlate(m.work_pools).scalar_subquery())
    pool_busy = (sa.select(sa.func.count()).select_from(m.flow_runs)
                 .where(fr.work_pool_id == pools.id, active())
                 .correlate(m.work_pools).scalar_subquery())
    dep_busy = (sa.select(sa.func.count()).select_from(m.flow_runs)
                .where(fr.deployment_id == deps.id, active())
                .correlate(m.deployments).scalar_subquery())
    # The run's own pool (set when it was made), else its deployment's.
    joined = (m.flow_runs.join(m.deployments, deps.id == fr.deployment_id)
              .outerjoin(m.work_pools, pools.id == sa.func.coalesce(fr.work_pool_id,
                                                                      deps.work_pool_id)))
    row = conn.execute(
        sa.select(deps.name, deps.paused, deps.concurrency_limit.label("dep_limit"),
                  dep_busy.label("dep_busy"), pools.name.label("pool"),
                  pools.paused.label("pool_paused"), pools.concurrency_limit.label("pool_limit"),
                  pool_busy.label("pool_busy"), online.label("online"))
        .select_from(joined).where(fr.id == run.id)).first()
    if row is None:
        reasons.append("its deployment was deleted, so no worker will pick it up")
        return reasons
    if row.paused:
        reasons.append(f"its deployment {row.name!r} is paused")
    if row.dep_limit is not None and row.dep_busy >= row.dep_limit:
        reasons.append(f"its deployment's concurrency limit is reached ({row.dep_busy} of "
                       f"{row.dep_limit} running)")
    if row.pool is None:
        reasons.append("it has no work pool: `transom deploy --pool NAME` gives it one, or "
                       "`flow.serve()` runs it")
        return reasons
    if row.pool_paused:
        reasons.append(f"work pool {row.pool!r} is paused: `transom work-pool resume "
                       f"{row.pool}`")
    if not row.online:
        reasons.append(f"no worker of work pool {row.pool!r} is online: `transom worker start "
                       f"--pool {row.pool}`")
    if row.pool_limit is not None and row.pool_busy >= row.pool_limit:
        reasons.append(f"work pool {row.pool!r} has reached its concurrency limit "
                       f"({row.pool_busy} of {row.pool_limit} running)")
    if not reasons:
        reasons.append("nothing holds it back: a worker should take it at its next poll")
    return reasons


