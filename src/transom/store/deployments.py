"""Work pools, deployments and their schedules, and the scheduler that turns schedules into runs.

A deployment's scheduled run for a given time carries the idempotency key `auto:<UTC time>`,
unique per deployment: materialising the same window twice, from a restarted scheduler or from
two servers at once, inserts nothing the second time.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from transom.core import states as st
from transom.core.naming import generate_run_name
from transom.core.recorder import StateChanged
from transom.core.states import PAUSED_NAMES, StateType, now_utc
from transom.exceptions import AlreadyExists, Ambiguous, NotFound, UserInputError
from transom.schedules import Schedule, occurrences
from transom.schemas import (
    DeploymentCreate,
    DeploymentRead,
    DeploymentRunCreate,
    DeploymentUpdate,
    FlowRunRead,
    ScheduleRead,
    WorkPoolCreate,
    WorkPoolRead,
    WorkPoolUpdate,
)
from transom.store import models as m
from transom.store.queries import read_flow_run
from transom.store.sink import insert_ignore, write_events

__all__ = [
    "AUTO_KEY_PREFIX",
    "DueRuns",
    "count_deployments",
    "create_deployment_run",
    "create_work_pool",
    "delete_deployment",
    "delete_work_pool",
    "due_runs",
    "insert_due_runs",
    "insert_ignore",
    "list_deployments",
    "list_work_pools",
    "read_deployment",
    "read_work_pool",
    "resolve_deployment_id",
    "schedule_runs",
    "update_deployment",
    "update_work_pool",
    "upsert_deployment",
    "work_pool_id",
]

AUTO_KEY_PREFIX = "auto:"
"""Idempotency keys of runs the scheduler made (`auto:2026-12-02T09:00:00+00:00`)."""

fr = m.flow_runs.c
ACTIVE_TYPES = (StateType.PENDING.value, StateType.RUNNING.value, StateType.CANCELLING.value)


def claimable() -> sa.ColumnElement[bool]:
    """A run waiting for a worker: Scheduled (or Late, or Resuming), but not a flow run between
    two attempts inside a process that has it (AwaitingRetry is Scheduled too), nor a paused one
    (Paused and Suspended are Scheduled too: they wait for a resume, not for a worker). An
    AwaitingRetry run that neither a worker nor a process holds was retried by hand
    (`store/runs.retry_flow_run`): a worker starts it again."""
    return sa.and_(fr.state_type == StateType.SCHEDULED.value,
                   sa.or_(fr.state_name.not_in(_NOT_CLAIMABLE),
                          sa.and_(fr.state_name == "AwaitingRetry", fr.worker_id.is_(None),
                                  fr.process.is_(None))))


_NOT_CLAIMABLE = ("AwaitingRetry", *sorted(PAUSED_NAMES))


def active() -> sa.ColumnElement[bool]:
    """A run a worker claimed that has not ended (between retries, or paused, counts: its
    process lives)."""
    return sa.and_(fr.worker_id.is_not(None), sa.or_(
        fr.state_type.in_(ACTIVE_TYPES),
        sa.and_(fr.state_type == StateType.SCHEDULED.value,
                fr.state_name.in_(_PROCESS_WAITS))))


# Scheduled by type, with the run's process alive: between two attempts, or paused (a suspended
# run has no process, nor any worker).
_PROCESS_WAITS = ("AwaitingRetry", "Paused")


def not_started_auto_runs(deployment_id: uuid.UUID, after: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(fr.deployment_id == deployment_id, claimable(), fr.worker_id.is_(None),
                   fr.idempotency_key.like(f"{AUTO_KEY_PREFIX}%"),
                   fr.expected_start_time > after)


# -- work pools -----------------------------------------------------------------------------------
def _pool_row(conn: Connection, name: str, *, lock: bool = False) -> Any:
    query = sa.select(m.work_pools).where(m.work_pools.c.name == name)
    if lock and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).first()
    if row is None:
        raise NotFound(f"no work pool named {name!r}; create it with "
                       f"`transom work-pool create {name}` (`transom work-pool ls` lists them)")
    return row


def work_pool_id(conn: Connection, name: str) -> uuid.UUID:
    return uuid.UUID(str(_pool_row(conn, name).id))


def create_work_pool(conn: Connection, body: WorkPoolCreate, *, now: datetime | None = None,
                     worker_timeout: float = 30.0) -> WorkPoolRead:
    now = now or now_utc()
    exists = conn.execute(sa.select(m.work_pools.c.id)
                          .where(m.work_pools.c.name == body.name)).first()
    if exists is not None:
        raise AlreadyExists(f"a work pool named {body.name!r} already exists; "
                             f"`transom work-pool inspect {body.name}` shows it")
    # (RETURNING, not rowcount: psycopg reports -1 for an INSERT ... ON CONFLICT DO NOTHING)
    inserted = conn.execute(insert_ignore(conn, m.work_pools).values(
        id=uuid.uuid4(), name=body.name, description=body.description,
        concurrency_limit=body.concurrency_limit, paused=body.paused, created=now, updated=now)
        .returning(m.work_pools.c.id)).first()
    if inserted is None:  # created by someone else a moment ago
        raise AlreadyExists(f"a work pool named {body.name!r} already exists")
    return read_work_pool(conn, body.name, now=now, worker_timeout=worker_timeout)


def _pool_stats(now: datetime, worker_timeout: float) -> list[Any]:
    pools = m.work_pools.c
    scheduled = (sa.select(sa.func.count()).select_from(m.flow_runs)
                 .where(fr.work_pool_id == pools.id, claimable())
                 .correlate(m.work_pools).scalar_subquery())
    running = (sa.select(sa.func.count()).select_from(m.flow_runs)
               .where(fr.work_pool_id == pools.id, active())
               .correlate(m.work_pools).scalar_subquery())
    online = (sa.select(sa.func.count()).select_from(m.workers)
              .where(m.workers.c.work_pool_id == pools.id, m.workers.c.stopped.is_(None),
                     m.workers.c.last_heartbeat >= now - timedelta(seconds=worker_timeout))
              .correlate(m.work_pools).scalar_subquery())
    return [scheduled.label("scheduled_runs"), running.label("active_runs"),
            online.label("workers_online")]


def list_work_pools(conn: Connection, *, now: datetime | None = None,
                    worker_timeout: float = 30.0) -> list[WorkPoolRead]:
    now = now or now_utc()
    query = (sa.select(m.work_pools, *_pool_stats(now, worker_timeout))
             .order_by(m.work_pools.c.name))
    return [WorkPoolRead.model_validate(row._mapping) for row in conn.execute(query)]


def read_work_pool(conn: Connection, name: str, *, now: datetime | None = None,
                   worker_timeout: float = 30.0) -> WorkPoolRead:
    now = now or now_utc()
    row = conn.execute(sa.select(m.work_pools, *_pool_stats(now, worker_timeout))
                       .where(m.work_pools.c.name == name)).first()
    if row is None:
        _pool_row(conn, name)  # raises NotFound with the hint
        raise AssertionError("unreachable")
    return WorkPoolRead.model_validate(row._mapping)


def update_work_pool(conn: Connection, name: str, body: WorkPoolUpdate, *,
                     now: datetime | None = None, worker_timeout: float = 30.0) -> WorkPoolRead:
    now = now or now_utc()
    row = _pool_row(conn, name, lock=True)
    changes: dict[str, Any] = {k: getattr(body, k) for k in body.model_fields_set}
    if changes:
        conn.execute(sa.update(m.work_pools).where(m.work_pools.c.id == row.id)
                     .values(**changes, updated=now))
    return read_work_pool(conn, name, now=now, worker_timeout=worker_timeout)


def delete_work_pool(conn: Connection, name: str) -> None:
    """Delete a pool and its workers; refused while deployments use it."""
    row = _pool_row(conn, name, lock=True)
    users = list(conn.execute(
        sa.select(m.flows.c.name, m.deployments.c.name)
        .join(m.flows, m.flows.c.id == m.deployments.c.flow_id)
        .where(m.deployments.c.work_pool_id == row.id).order_by(m.deployments.c.name).limit(4)))
    if users:
        names = ", ".join(f"{flow}/{dep}" for flow, dep in users[:3])
        more = " and more" if len(users) > 3 else ""
        raise UserInputError(f"work pool {name!r} is used by the deployments {names}{more}; "
                             "delete them (`transom deployment delete NAME`) first")
    if conn.execute(sa.select(fr.id).where(fr.work_pool_id == row.id, active()).limit(1)).first():
        raise UserInputError(f"work pool {name!r} still has runs in progress; cancel them or "
                             "let them end first")
    conn.execute(sa.delete(m.workers).where(m.workers.c.work_pool_id == row.id))
    conn.execute(sa.delete(m.work_pools).where(m.work_pools.c.id == row.id))


# -- deployments ----------------------------------------------------------------------------------
def _flow_id(conn: Connection, name: str) -> uuid.UUID:
    conn.execute(insert_ignore(conn, m.flows).values(id=uuid.uuid4(), name=name, created=now_utc()))
    return uuid.UUID(str(conn.execute(sa.select(m.flows.c.id).where(m.flows.c.name == name))
                         .scalar_one()))


_DEPLOYMENT_SELECT = (
    sa.select(m.deployments, m.flows.c.name.label("flow_name"),
              m.work_pools.c.name.label("work_pool_name"))
    .join(m.flows, m.flows.c.id == m.deployments.c.flow_id)
    .outerjoin(m.work_pools, m.work_pools.c.id == m.deployments.c.work_pool_id)
)


def _with_schedules(conn: Connection, rows: Sequence[Any]) -> list[DeploymentRead]:
    ids = [row.id for row in rows]
    schedules: dict[Any, list[ScheduleRead]] = {i: [] for i in ids}
    if ids:
        query = (sa.select(m.deployment_schedules)
                 .where(m.deployment_schedules.c.deployment_id.in_(ids))
                 .order_by(m.deployment_schedules.c.created, m.deployment_schedules.c.id))
        for row in conn.execute(query):
            schedules[row.deployment_id].append(ScheduleRead.model_validate(row._mapping))
    return [DeploymentRead.model_validate({**row._mapping, "schedules": schedules[row.id]})
            for row in rows]


def resolve_deployment_id(conn: Connection, ref: str | uuid.UUID) -> uuid.UUID:
    """A deployment's id from its id, `flow/name`, or a name that only one flow uses."""
    if isinstance(ref, uuid.UUID):
        found = conn.execute(sa.select(m.deployments.c.id).where(m.deployments.c.id == ref)).first()
        if found is None:
            raise NotFound(f"no deployment has the id {ref}")
        return ref
    text = ref.strip()
    try:
        as_id = uuid.UUID(text)
    except ValueError:
        as_id = None
    if as_id is not None:
        return resolve_deployment_id(conn, as_id)
    query = (sa.select(m.deployments.c.id, m.flows.c.name)
             .join(m.flows, m.flows.c.id == m.deployments.c.flow_id))
    flow, slash, name = text.rpartition("/")
    if slash:
        query = query.where(m.flows.c.name == flow, m.deployments.c.name == name)
    else:
        query = query.where(m.deployments.c.name == text)
    matches = list(conn.execute(query.limit(10)))
    if not matches:
        raise NotFound(f"no deployment named {text!r}; `transom deployment ls` lists them")
    if len(matches) > 1:
        names = ", ".join(sorted(f"{f}/{text}" for _, f in matches))
        raise Ambiguous(f"more than one flow has a deployment named {text!r} ({names}); "
                             "write it as FLOW/NAME")
    return uuid.UUID(str(matches[0].id))


def read_deployment(conn: Connection, ref: str | uuid.UUID) -> DeploymentRead:
    deployment_id = resolve_deployment_id(conn, ref)
    row = conn.execute(_DEPLOYMENT_SELECT.where(m.deployments.c.id == deployment_id)).one()
    return _with_schedules(conn, [row])[0]


def _filtered(query: sa.Select[Any], flow_name: str | None,
              work_pool: str | None) -> sa.Select[Any]:
    if flow_name is not None:
        query = query.where(m.flows.c.name == flow_name)
    if work_pool is not None:
        query = query.where(m.work_pools.c.name == work_pool)
    return query


def list_deployments(conn: Connection, *, flow_name: str | None = None,
                     work_pool: str | None = None, limit: int = 200,
                     offset: int = 0) -> list[DeploymentRead]:
    query = _filtered(_DEPLOYMENT_SELECT, flow_name, work_pool)
    query = query.order_by(m.flows.c.name, m.deployments.c.name).limit(limit).offset(offset)
    return _with_schedules(conn, list(conn.execute(query)))


def count_deployments(conn: Connection, *, flow_name: str | None = None,
                      work_pool: str | None = None) -> int:
    """How many deployments `list_deployments` has with these filters, on all its pages."""
    query = (sa.select(sa.func.count()).select_from(m.deployments)
             .join(m.flows, m.flows.c.id == m.deployments.c.flow_id)
             .outerjoin(m.work_pools, m.work_pools.c.id == m.deployments.c.work_pool_id))
    return int(conn.execute(_filtered(query, flow_name, work_pool)).scalar_one())


def upsert_deployment(conn: Connection, body: DeploymentCreate, *, now: datetime | None = None,
                      window: float = 3600.0) -> DeploymentRead:
    """Create the deployment, or replace the one of that flow and name (its not-started
    scheduled runs are made again from the new schedules)."""
    now = now or now_utc()
    pool_id = work_pool_id(conn, body.work_pool) if body.work_pool else None
    flow_id = _flow_id(conn, body.flow_name)
    values: dict[str, Any] = {
        "description": body.description, "entrypoint": body.entrypoint, "path": body.path,
        "parameters": body.parameters, "parameter_schema": body.parameter_schema,
        "work_pool_id": pool_id, "work_queue_name": body.work_queue, "tags": list(body.tags),
        "paused": body.paused, "concurrency_limit": body.concurrency_limit, "updated": now,
        "pull_steps": body.pull_steps or None, "version": body.version,
    }
    query = sa.select(m.deployments.c.id).where(m.deployments.c.flow_id == flow_id,
                                                m.deployments.c.name == body.name)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    existing = conn.execute(query).first()
    if existing is None:
        deployment_id = uuid.uuid4()
        inserted = conn.execute(insert_ignore(conn, m.deployments).values(
            id=deployment_id, flow_id=flow_id, name=body.name, created=now, **values)
            .returning(m.deployments.c.id)).first()
        if inserted is None:  # created concurrently: update that one instead
            return upsert_deployment(conn, body, now=now, window=window)
    else:
        deployment_id = uuid.UUID(str(existing.id))
        conn.execute(sa.update(m.deployments).where(m.deployments.c.id == deployment_id)
                     .values(**values))
        conn.execute(sa.delete(m.deployment_schedules)
                     .where(m.deployment_schedules.c.deployment_id == deployment_id))
        _delete_runs(conn, not_started_auto_runs(deployment_id, now))
        # Runs already waiting follow the deployment to its (new) pool and queue.
        conn.execute(sa.update(m.flow_runs)
                     .where(fr.deployment_id == deployment_id, claimable(),
                            fr.worker_id.is_(None))
                     .values(work_pool_id=pool_id, work_queue_name=body.work_queue))
    if body.schedules:
        conn.execute(m.deployment_schedules.insert(), [
            {"id": uuid.uuid4(), "deployment_id": deployment_id, "cron": s.cron,
             "interval": s.interval, "anchor_date": s.anchor_date, "rrule": s.rrule,
             "timezone": s.timezone, "active": s.active, "created": now + timedelta(microseconds=i)}
            for i, s in enumerate(body.schedules)])
    schedule_runs(conn, now=now, window=window, deployment_id=deployment_id)
    return read_deployment(conn, deployment_id)


def update_deployment(conn: Connection, ref: str | uuid.UUID, body: DeploymentUpdate, *,
                      now: datetime | None = None, window: float = 3600.0) -> DeploymentRead:
    """Change some fields; pausing removes its not-started scheduled runs, resuming makes them
    again."""
    now = now or now_utc()
    deployment_id = resolve_deployment_id(conn, ref)
    changes: dict[str, Any] = {}
    for key in body.model_fields_set:
        column = "work_queue_name" if key == "work_queue" else key
        changes[column] = getattr(body, key)
    if "tags" in changes and changes["tags"] is None:
        changes["tags"] = []
    if "parameters" in changes and changes["parameters"] is None:
        changes["parameters"] = {}
    if changes:
        conn.execute(sa.update(m.deployments).where(m.deployments.c.id == deployment_id)
                     .values(**changes, updated=now))
    if changes.get("paused") is True:
        _delete_runs(conn, not_started_auto_runs(deployment_id, now))
    elif changes.get("paused") is False:
        schedule_runs(conn, now=now, window=window, deployment_id=deployment_id)
    return read_deployment(conn, deployment_id)


def delete_deployment(conn: Connection, ref: str | uuid.UUID) -> DeploymentRead:
    """Delete a deployment and its runs that have not started; recorded runs stay. A waiting
    run that ran before (retried, or resumed from a suspension) keeps its record and ends
    Cancelled: no worker can start it any more."""
    deployment = read_deployment(conn, ref)
    waiting = sa.and_(fr.deployment_id == deployment.id, claimable(), fr.worker_id.is_(None))
    _delete_runs(conn, sa.and_(waiting, fr.start_time.is_(None)))
    ran = conn.execute(sa.select(fr.id, fr.state_type, fr.state_name, fr.run_count)
                       .where(waiting, fr.start_time.is_not(None))).all()
    for row in ran:
        run_id = uuid.UUID(str(row.id))
        write_events(conn, [StateChanged(run_id, False, st.Cancelled(
            message="its deployment was deleted before a worker started it again"),
            int(row.run_count))], expect={run_id: (row.state_type, row.state_name)})
    conn.execute(sa.delete(m.deployment_schedules)
                 .where(m.deployment_schedules.c.deployment_id == deployment.id))
    conn.execute(sa.delete(m.deployments).where(m.deployments.c.id == deployment.id))
    return deployment


def _delete_runs(conn: Connection, condition: sa.ColumnElement[bool]) -> int:
    ids = list(conn.execute(sa.select(fr.id).where(condition)).scalars())
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        conn.execute(sa.delete(m.states).where(m.states.c.flow_run_id.in_(chunk)))
        conn.execute(sa.delete(m.flow_runs).where(fr.id.in_(chunk)))
    return len(ids)


# -- runs of deployments ------------------------------------------------------------------------
def _missing_required(deployment: DeploymentRead, parameters: dict[str, Any]) -> list[str]:
    schema = deployment.parameter_schema or {}
    required = schema.get("required") or []
    return [name for name in required if isinstance(name, str) and name not in parameters]


def _unknown_parameters(deployment: DeploymentRead, parameters: dict[str, Any]) -> list[str]:
    """Names the flow does not take, when its schema says so (a flow without **kwargs)."""
    schema = deployment.parameter_schema or {}
    properties = schema.get("properties")
    if not isinstance(properties, dict) or schema.get("additionalProperties", True) is not False:
        return []
    return [name for name in parameters if name not in properties]


def create_deployment_run(conn: Connection, ref: str | uuid.UUID, body: DeploymentRunCreate, *,
                          now: datetime | None = None) -> FlowRunRead:
    """A Scheduled run of the deployment, at `body.scheduled_time` or now."""
    now = now or now_utc()
    deployment = read_deployment(conn, ref)
    parameters = {**deployment.parameters, **body.parameters}
    unknown = _unknown_parameters(deployment, parameters)
    if unknown:
        takes = ", ".join((deployment.parameter_schema or {}).get("properties", {})) or "none"
        raise UserInputError(f"flow {deployment.flow_name!r} has no parameter {unknown[0]!r} "
                             f"(it takes: {takes})")
    missing = _missing_required(deployment, parameters)
    if missing:
        raise UserInputError(f"deployment {deployment.full_name!r} needs the parameter "
                             f"{missing[0]!r}; pass it with --param {missing[0]}=VALUE")
    if body.idempotency_key is not None:
        key = f"user:{body.idempotency_key}"
        found = conn.execute(sa.select(fr.id).where(fr.deployment_id == deployment.id,
                                                    fr.idempotency_key == key)).first()
        if found is not None:
            return read_flow_run(conn, uuid.UUID(str(found.id)))
    else:
        key = None
    when = body.scheduled_time or now
    (run_id,) = _insert_runs(conn, deployment, [(when, key, body.name, parameters,
                                                  [*deployment.tags, *body.tags])], now)
    links = {k: v for k, v in (("parent_flow_run_id", body.parent_flow_run_id),
                               ("parent_task_run_id", body.parent_task_run_id),
                               ("work_queue_name", body.work_queue_name)) if v is not None}
    if links:
        conn.execute(sa.update(m.flow_runs).where(fr.id == run_id).values(**links))
    return read_flow_run(conn, run_id)


def _insert_runs(conn: Connection, deployment: Any,
                 runs: Iterable[tuple[datetime, str | None, str | None, dict[str, Any], list[str]]],
                 now: datetime) -> list[uuid.UUID]:
    """Insert Scheduled runs of `deployment` (skipping idempotency keys that exist); their ids."""
    rows = []
    times: dict[uuid.UUID, datetime] = {}
    for when, key, name, parameters, tags in runs:
        run_id = uuid.uuid4()
        times[run_id] = when
        rows.append({
            "id": run_id, "flow_id": deployment.flow_id, "name": name or generate_run_name(),
            "parameters": parameters, "deployment_id": deployment.id, "tags": tags,
            "expected_start_time": when, "run_count": 0, "created": now, "updated": now,
            "work_pool_id": deployment.work_pool_id,
            "work_queue_name": deployment.work_queue_name, "idempotency_key": key,
        })
    if not rows:
        return []
    conn.execute(insert_ignore(conn, m.flow_runs), rows)
    ours = set(conn.execute(sa.select(fr.id).where(fr.id.in_(list(times)))).scalars())
    inserted = [run_id for run_id in times if run_id in ours]
    write_events(conn, [StateChanged(run_id, False, st.Scheduled(scheduled_time=times[run_id]), 0)
                        for run_id in inserted])
    return inserted


def schedule_runs(conn: Connection, *, now: datetime | None = None, window: float = 3600.0,
                  max_runs: int = 100, deployment_id: uuid.UUID | None = None) -> int:
    """Make the Scheduled runs of every active schedule of every deployment that is not paused,
    for the times from `now` to `now + window` (at most `max_runs` per schedule); returns how
    many runs were new. Idempotent: a time that has its run already is skipped."""
    now = now or now_utc()
    return insert_due_runs(conn, due_runs(conn, now=now, window=window, max_runs=max_runs,
                                          deployment_id=deployment_id), now=now)


DueRuns = list[tuple[Any, set[datetime]]]
"""Per deployment: its joined schedule row and the times its schedules have runs for."""


def due_runs(conn: Connection, *, now: datetime, window: float = 3600.0, max_runs: int = 100,
             deployment_id: uuid.UUID | None = None) -> DueRuns:
    """The times from `now` to `now + window` of every active schedule of the deployments that
    are not paused (at most `max_runs` per schedule): reads only, so the scheduler computes
    them outside the write lock and then writes once with `insert_due_runs`."""
    end = now + timedelta(seconds=window)
    query = (sa.select(m.deployment_schedules, m.deployments.c.flow_id,
                       m.deployments.c.parameters, m.deployments.c.tags,
                       m.deployments.c.work_pool_id, m.deployments.c.work_queue_name)
             .join(m.deployments, m.deployments.c.id == m.deployment_schedules.c.deployment_id)
             .where(m.deployment_schedules.c.active.is_(True), m.deployments.c.paused.is_(False)))
    if deployment_id is not None:
        query = query.where(m.deployments.c.id == deployment_id)
    per_deployment: dict[Any, tuple[Any, set[datetime]]] = {}
    for row in conn.execute(query).all():
        schedule = Schedule(row.cron, row.interval, row.anchor_date, row.rrule, row.timezone)
        entry = per_deployment.setdefault(row.deployment_id, (row, set()))
        entry[1].update(occurrences(schedule, now, end, limit=max_runs))
    return [entry for entry in per_deployment.values() if entry[1]]


def insert_due_runs(conn: Connection, due: DueRuns, *, now: datetime) -> int:
    """Insert the Scheduled runs of `due` that do not exist yet; how many were new. A
    deployment deleted or paused since `due_runs` read it gets none."""
    if not due:
        return 0
    dm = m.deployments.c
    still = set(conn.execute(sa.select(dm.id).where(
        dm.id.in_([row.deployment_id for row, _ in due]), dm.paused.is_(False))).scalars())
    created = 0
    for row, times in due:
        if row.deployment_id not in still:
            continue
        keys = {f"{AUTO_KEY_PREFIX}{t.isoformat()}": t for t in times}
        existing = set(conn.execute(sa.select(fr.idempotency_key).where(
            fr.deployment_id == row.deployment_id, fr.idempotency_key.in_(list(keys)))).scalars())
        if len(existing) == len(keys):
            continue
        deployment = _DeploymentRow(row.deployment_id, row.flow_id, row.work_pool_id,
                                    row.work_queue_name)
        created += len(_insert_runs(conn, deployment, [
            (when, key, None, dict(row.parameters or {}), list(row.tags or []))
            for key, when in sorted(keys.items(), key=lambda kv: kv[1]) if key not in existing
        ], now))
    return created


class _DeploymentRow:
    """The fields `_insert_runs` reads, for the scheduler's joined rows."""

    def __init__(self, id: Any, flow_id: Any, work_pool_id: Any, work_queue_name: Any) -> None:
        self.id = id
        self.flow_id = flow_id
        self.work_pool_id = work_pool_id
        self.work_queue_name = work_queue_name
