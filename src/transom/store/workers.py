"""Workers: heartbeats, the atomic claim of due runs, and the detection of late and lost runs.

A claim moves a Scheduled run to Pending with the worker's id in one conditional UPDATE (`WHERE
state is still Scheduled`): on SQLite the write transaction already holds the database's one
write lock (BEGIN IMMEDIATE), on PostgreSQL the candidates are read `FOR UPDATE SKIP LOCKED`, so
two workers never get the same run and never wait for each other's rows. Concurrency limits of a
pool or deployment lock that pool or deployment row on PostgreSQL while they are counted.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from transom.core import states as st
from transom.core.recorder import StateChanged
from transom.core.states import PAUSED_NAMES, State, StateType, now_utc
from transom.exceptions import UserInputError, WorkerNameTaken
from transom.schemas import ClaimedRun, PollResult, WorkerPoll, WorkerRead
from transom.store import models as m
from transom.store.deployments import active, claimable, work_pool_id
from transom.store.sink import insert_ignore, write_events

__all__ = [
    "WorkerNameTaken",
    "crash_runs_of_lost_workers",
    "dead_runs",
    "end_dead_runs",
    "list_workers",
    "mark_late_runs",
    "poll",
]

fr = m.flow_runs.c
wk = m.workers.c


def _postgres(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


# -- the poll: heartbeat, lost runs, cancellations, claims ----------------------------------------
def poll(conn: Connection, body: WorkerPoll, *, now: datetime | None = None,
         worker_timeout: float = 30.0) -> PollResult:
    """One round trip of a worker: record its heartbeat, settle the runs it no longer has, tell
    it which of its runs to cancel, and claim up to `body.limit` due runs for it."""
    now = now or now_utc()
    pool_id = work_pool_id(conn, body.work_pool) if body.work_pool else None
    if pool_id is None and not body.deployment_ids:
        raise UserInputError("a worker needs a work pool (or, for `serve`, its deployments)")
    worker_id = _heartbeat(conn, body, pool_id, now, worker_timeout)
    _settle_lost_runs(conn, worker_id, body.name, set(body.running), now)
    cancel: list[uuid.UUID] = []
    if body.running:
        cancel = [uuid.UUID(str(i)) for i in conn.execute(
            sa.select(fr.id).where(fr.worker_id == worker_id, fr.id.in_(body.running),
                                   fr.state_type == StateType.CANCELLING.value)).scalars()]
    paused = False
    if pool_id is not None:
        paused = bool(conn.execute(sa.select(m.work_pools.c.paused)
                                   .where(m.work_pools.c.id == pool_id)).scalar())
    runs: list[ClaimedRun] = []
    if body.limit > 0 and not paused:
        runs = _claim(conn, body, worker_id, pool_id, now)
    return PollResult(worker_id=worker_id, runs=runs, cancel=cancel, pool_paused=paused)


def _heartbeat(conn: Connection, body: WorkerPoll, pool_id: uuid.UUID | None, now: datetime,
               worker_timeout: float) -> uuid.UUID:
    query = sa.select(m.workers).where(wk.name == body.name)
    if _postgres(conn):
        query = query.with_for_update()
    row = conn.execute(query).first()
    values = {"work_pool_id": pool_id, "instance": body.instance, "hostname": body.hostname,
              "pid": body.pid, "run_limit": body.run_limit, "last_heartbeat": now,
              "stopped": now if body.stopping else None}
    if row is None:
        worker_id = uuid.uuid4()
        inserted = conn.execute(insert_ignore(conn, m.workers).values(
            id=worker_id, name=body.name, created=now, **values).returning(m.workers.c.id)).first()
        if inserted is None:  # (psycopg's rowcount is -1 for ON CONFLICT DO NOTHING)
            raise WorkerNameTaken(f"a worker named {body.name!r} started at the same moment; "
                                  "give this one another --name")
        return worker_id
    if row.instance != body.instance and row.stopped is None \
            and row.last_heartbeat >= now - timedelta(seconds=worker_timeout):
        where = f" (pid {row.pid} on {row.hostname})" if row.pid else ""
        raise WorkerNameTaken(f"a worker named {body.name!r} is already running{where}; give "
                              "this one another --name, or stop the other first")
    conn.execute(sa.update(m.workers).where(wk.id == row.id).values(**values))
    return uuid.UUID(str(row.id))


def _settle_lost_runs(conn: Connection, worker_id: uuid.UUID, worker_name: str,
                      running: set[uuid.UUID], now: datetime) -> None:
    """Runs claimed for this worker that it no longer has: one that never started goes back to
    the queue; one that did ends Crashed (Cancelled if it was being cancelled)."""
    rows = [r for r in conn.execute(
        sa.select(fr.id, fr.state_type, fr.state_name, fr.run_count, fr.start_time,
                  fr.expected_start_time)
        .where(fr.worker_id == worker_id, active())) if uuid.UUID(str(r.id)) not in running]
    for row in rows:
        if row.state_type == StateType.PENDING.value and row.start_time is None:
            state = st.Scheduled(scheduled_time=row.expected_start_time or now,
                                 message=f"given back: worker {worker_name!r} did not start it")
            if _move(conn, row, state, clear_worker=True):
                continue
        else:
            _move(conn, row, _lost(row.state_type, f"its worker {worker_name!r} no longer "
                                   "runs it (the worker restarted or lost its process)"))


def _lost(state_type: str, reason: str) -> State:
    if state_type == StateType.CANCELLING.value:
        return st.Cancelled(message=f"cancelled; {reason}")
    return st.Crashed(message=f"crashed: {reason}")


def _move(conn: Connection, row: Any, state: State, *, clear_worker: bool = False) -> bool:
    """Write `state` for the run if it is still in the state `row` saw (so two servers acting on
    the same run write it once); True if it was written."""
    run_id = uuid.UUID(str(row.id))
    if write_events(conn, [StateChanged(run_id, False, state, int(row.run_count))],
                    expect={run_id: (row.state_type, row.state_name)}):
        return False  # refused: it moved on
    if clear_worker:
        conn.execute(sa.update(m.flow_runs).where(fr.id == row.id).values(worker_id=None))
    return True


def _claim(conn: Connection, body: WorkerPoll, worker_id: uuid.UUID,
           pool_id: uuid.UUID | None, now: datetime) -> list[ClaimedRun]:
    limit = body.limit
    if pool_id is not None:
        pool = m.work_pools.c
        query = sa.select(pool.concurrency_limit).where(pool.id == pool_id)
        pool_limit = conn.execute(query).scalar()
        if pool_limit is not None and _postgres(conn):
            # Claims in a limited pool are counted one at a time. NO KEY UPDATE: the heartbeat
            # holds KEY SHARE on this row (the workers' foreign key), which FOR UPDATE would
            # wait on, crosswise with other workers: a deadlock.
            pool_limit = conn.execute(query.with_for_update(key_share=True)).scalar()
        if pool_limit is not None:
            busy = conn.execute(sa.select(sa.func.count()).select_from(m.flow_runs)
                                .where(fr.work_pool_id == pool_id, active())).scalar_one()
            limit = min(limit, max(int(pool_limit) - int(busy), 0))
    if limit <= 0:
        return []
    due = now + timedelta(seconds=body.prefetch_seconds)
    query = (sa.select(fr.id, fr.deployment_id, fr.run_count, fr.state_type, fr.state_name)
             .where(claimable(), fr.deployment_id.is_not(None), fr.expected_start_time <= due))
    if pool_id is not None and body.deployment_ids:
        query = query.where(sa.or_(fr.work_pool_id == pool_id,
                                   fr.deployment_id.in_(body.deployment_ids)))
    elif pool_id is not None:
        query = query.where(fr.work_pool_id == pool_id)
    else:
        query = query.where(fr.deployment_id.in_(body.deployment_ids))
    if body.queues:
        query = query.where(sa.func.coalesce(fr.work_queue_name, "default").in_(body.queues))
    chosen = _take_due(conn, query.order_by(fr.expected_start_time, fr.id), limit)
    claimed: list[uuid.UUID] = []
    events = []
    for row in chosen:
        # The claim itself: one conditional UPDATE; a run someone else took is skipped.
        result = conn.execute(sa.update(m.flow_runs)
                              .where(fr.id == row.id, claimable())
                              .values(worker_id=worker_id))
        if result.rowcount == 1:
            run_id = uuid.UUID(str(row.id))
            claimed.append(run_id)
            events.append(StateChanged(run_id, False, State(
                StateType.PENDING, "Pending", message=f"claimed by worker {body.name!r}"),
                int(row.run_count)))
    if not claimed:
        return []
    write_events(conn, events)
    return _claimed_runs(conn, claimed)


_READS = 8  # reads of due runs in one poll at most (each past more full deployments)


def _take_due(conn: Connection, query: sa.Select[Any], limit: int) -> list[Any]:
    """Up to `limit` rows of `query` (due runs, oldest first) whose deployments have room.

    On PostgreSQL each read locks only as many rows as are still wanted (`FOR UPDATE SKIP
    LOCKED`), so a concurrent poll takes the next runs instead of finding every due run locked by
    a poll that reads far more than it claims. A read whose runs belong to deployments with no
    room left marks them full and reads on past them; a deployment's room is counted the first
    time one of its runs is read (`_deployment_room`)."""
    postgres = _postgres(conn)
    chosen: list[Any] = []
    taken: list[Any] = []
    full: set[Any] = set()
    room: dict[Any, int] = {}
    counted: set[Any] = set()
    for _ in range(_READS):
        if len(chosen) >= limit:
            break
        page = query
        if taken:
            page = page.where(fr.id.not_in(taken))
        if full:
            page = page.where(fr.deployment_id.not_in(list(full)))
        page = page.limit(limit - len(chosen))
        if postgres:
            page = page.with_for_update(skip_locked=True)
        rows = list(conn.execute(page))
        if not rows:
            break
        new = {row.deployment_id for row in rows} - counted
        room.update(_deployment_room(conn, new))
        counted |= new
        for row in rows:
            left = room.get(row.deployment_id)
            if left is not None:
                if left <= 0:
                    full.add(row.deployment_id)
                    continue
                room[row.deployment_id] = left - 1
                if left == 1:
                    full.add(row.deployment_id)
            chosen.append(row)
            taken.append(row.id)
    return chosen


def _deployment_room(conn: Connection, deployment_ids: set[Any]) -> dict[Any, int]:
    """How many more runs each deployment with a concurrency limit may start now.

    On PostgreSQL its row is locked while its runs are counted and claimed (so two polls never
    both see the last slot free), and one another poll holds is skipped, as having no room for
    this poll: a poll never waits on another's deployment (which, as a poll reads deployments
    in the order their runs come, could deadlock two polls)."""
    deps = m.deployments.c
    if not deployment_ids:
        return {}
    query = (sa.select(deps.id, deps.concurrency_limit)
             .where(deps.id.in_(list(deployment_ids)), deps.concurrency_limit.is_not(None))
             .order_by(deps.id))
    limits = {row.id: int(row.concurrency_limit) for row in conn.execute(query)}
    if not limits:
        return {}
    if _postgres(conn):  # the limits again, as the locked rows hold them now
        locked = {row.id: row.concurrency_limit for row in conn.execute(
            query.with_for_update(key_share=True, skip_locked=True))}
        limits = {dep: (int(locked[dep]) if locked.get(dep) is not None else 0)
                  for dep in limits}
    busy: dict[Any, int] = dict(conn.execute(sa.select(fr.deployment_id, sa.func.count())
                             .where(fr.deployment_id.in_(list(limits)), active())
                             .group_by(fr.deployment_id)).all())
    return {dep: limit - int(busy.get(dep, 0)) if limit else 0 for dep, limit in limits.items()}


def _claimed_runs(conn: Connection, ids: Sequence[uuid.UUID]) -> list[ClaimedRun]:
    deps = m.deployments.c
    query = (sa.select(fr.id, fr.name, m.flows.c.name.label("flow_name"), fr.deployment_id,
                       deps.name.label("deployment_name"),
                       deps.version.label("deployment_version"), deps.entrypoint, deps.path,
                       deps.pull_steps,
                       fr.parameters, fr.expected_start_time, fr.work_queue_name,
                       fr.run_count)
             .join(m.flows, m.flows.c.id == fr.flow_id)
             .join(m.deployments, deps.id == fr.deployment_id)
             .where(fr.id.in_(list(ids))).order_by(fr.expected_start_time, fr.id))
    return [ClaimedRun.model_validate(row._mapping) for row in conn.execute(query)]


# -- listing --------------------------------------------------------------------------------------
def list_workers(conn: Connection, *, work_pool: str | None = None, now: datetime | None = None,
                 worker_timeout: float = 30.0) -> list[WorkerRead]:
    now = now or now_utc()
    busy = (sa.select(sa.func.count()).select_from(m.flow_runs)
            .where(fr.worker_id == wk.id, active()).correlate(m.workers).scalar_subquery())
    query = (sa.select(m.workers, m.work_pools.c.name.label("work_pool_name"),
                       busy.label("active_runs"))
             .outerjoin(m.work_pools, m.work_pools.c.id == wk.work_pool_id)
             .order_by(wk.last_heartbeat.desc(), wk.name))
    if work_pool is not None:
        query = query.where(wk.work_pool_id == work_pool_id(conn, work_pool))
    cutoff = now - timedelta(seconds=worker_timeout)
    return [WorkerRead.model_validate({**row._mapping, "online": row.stopped is None
                                       and row.last_heartbeat >= cutoff})
            for row in conn.execute(query)]


# -- what the server's background services ask ----------------------------------------------------
def mark_late_runs(conn: Connection, *, now: datetime | None = None, late_after: float = 15.0,
                   limit: int = 1000) -> int:
    """Scheduled runs that have not started `late_after` seconds after their time become Late
    (still Scheduled, still claimed like any other); returns how many."""
    now = now or now_utc()
    rows = list(conn.execute(
        sa.select(fr.id, fr.state_type, fr.state_name, fr.run_count, fr.expected_start_time)
        .where(fr.state_type == StateType.SCHEDULED.value, fr.state_name == "Scheduled",
               fr.expected_start_time < now - timedelta(seconds=late_after))
        .order_by(fr.expected_start_time).limit(limit)))
    marked = 0
    for row in rows:
        state = st.Scheduled(scheduled_time=row.expected_start_time, name="Late",
                             message=f"not started {late_after:g}s after its scheduled time")
        marked += _move(conn, row, state)
    return marked


def crash_runs_of_lost_workers(conn: Connection, *, now: datetime | None = None,
                               worker_timeout: float = 30.0, limit: int = 1000) -> int:
    """Runs whose worker has not heart-beaten for `worker_timeout` seconds end Crashed (or
    Cancelled, if they were being cancelled), with the reason; returns how many."""
    now = now or now_utc()
    cutoff = now - timedelta(seconds=worker_timeout)
    rows = list(conn.execute(
        sa.select(fr.id, fr.state_type, fr.state_name, fr.run_count, wk.name.label("worker"),
                  wk.last_heartbeat)
        .join(m.workers, wk.id == fr.worker_id)
        .where(active(), wk.last_heartbeat < cutoff).limit(limit)))
    ended = 0
    for row in rows:
        silent = (now - row.last_heartbeat).total_seconds()
        reason = (f"its worker {row.worker!r} stopped heart-beating ({silent:.0f}s without a "
                  f"heartbeat, the limit is {worker_timeout:g}s)")
        ended += _move(conn, row, _lost(row.state_type, reason))
    return ended


def dead_runs(conn: Connection, *, now: datetime | None = None, timeout: float = 60.0,
              hostname: str | None = None, alive: Callable[[int], bool] | None = None,
              limit: int = 1000) -> list[tuple[Any, str]]:
    """Flow runs no worker holds whose process died, each with why: it stopped heart-beating
    `timeout` seconds ago, or (on `hostname`, this machine) `alive(pid)` says it is gone."""
    now = now or now_utc()
    cutoff = now - timedelta(seconds=timeout)
    query = (sa.select(fr.id, fr.state_type, fr.state_name, fr.run_count, fr.pid, fr.hostname,
                       fr.heartbeat)
             .where(fr.worker_id.is_(None), fr.process.is_not(None),
                    fr.state_type.in_(_PROCESS_ALIVE),
                    # Paused: its pause's timeout ends it (store/pauses.py), not its process
                    sa.or_(fr.state_type != StateType.SCHEDULED.value,
                           fr.state_name.not_in(PAUSED_NAMES))))
    if hostname is None or alive is None:
        query = query.where(fr.heartbeat < cutoff)
    found = []
    for row in conn.execute(query.limit(limit)):
        where = f"pid {row.pid} on {row.hostname}"
        if hostname is not None and alive is not None and row.hostname == hostname \
                and not alive(int(row.pid)):
            found.append((row, f"its process ({where}) is gone without reporting a final state"))
        elif row.heartbeat is not None and row.heartbeat < cutoff:
            silent = (now - row.heartbeat).total_seconds()
            found.append((row, f"its process ({where}) stopped heart-beating ({silent:.0f}s "
                               f"without a heartbeat, the limit is {timeout:g}s)"))
    return found


def end_dead_runs(conn: Connection, found: Sequence[tuple[Any, str]]) -> int:
    """End the runs `dead_runs` found Crashed (Cancelled if being cancelled), each only if its
    state is still the one seen then; returns how many."""
    return sum(_move(conn, row, _lost(row.state_type, reason)) for row, reason in found)


_PROCESS_ALIVE = (StateType.PENDING.value, StateType.RUNNING.value, StateType.CANCELLING.value,
                  StateType.SCHEDULED.value)
