"""Read queries over recorded runs; each takes a Connection and returns schema models."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from transom.core.states import StateType, state_type
from transom.exceptions import Ambiguous, NotFound, UserInputError
from transom.schemas import FlowRead, FlowRunRead, LogLine, RunCursor, StateRecord, TaskRunRead
from transom.store import models as m

__all__ = [
    "FEW_MATCHES",
    "RunFilter",
    "count_flow_runs",
    "count_logs",
    "list_flow_runs",
    "list_flows",
    "list_logs",
    "list_states",
    "list_task_runs",
    "ping",
    "read_flow_run",
    "read_task_run",
    "resolve_flow_run_id",
    "state_type",
]


def _flow_run_select() -> sa.Select[Any]:
    # A correlated count: computed for the rows returned only (index on task_runs.flow_run_id),
    # not grouped over every task run ever recorded.
    task_run_count = (sa.select(sa.func.count()).select_from(m.task_runs)
                      .where(m.task_runs.c.flow_run_id == m.flow_runs.c.id)
                      .correlate(m.flow_runs).scalar_subquery())
    return (
        sa.select(m.flow_runs, m.flows.c.name.label("flow_name"),
                  task_run_count.label("task_run_count"))
        .join(m.flows, m.flows.c.id == m.flow_runs.c.flow_id)
    )


_FLOW_RUN_SELECT = _flow_run_select()  # built once: constructing it costs more than running it


@dataclass(frozen=True)
class RunFilter:
    """Which flow runs a list shows: all of these that are given (None: any). `deployment_id`
    and `work_pool_id` are resolved ids (the service looks names up); `tag`, runs carrying it;
    `since`/`until`, created in [since, until); `prefix`, a run whose name starts with it (any
    case) or whose id does."""

    flow_name: str | None = None
    state: StateType | str | None = None
    since: datetime | None = None
    until: datetime | None = None
    parent: uuid.UUID | None = None
    deployment_id: uuid.UUID | None = None
    work_pool_id: uuid.UUID | None = None
    tag: str | None = None
    prefix: str | None = None


FEW_MATCHES = 2000
"""How many matching runs a tag or name/id-prefix filter may have for its index to lead a page's
query on SQLite; with more, the page walks the created index and checks each run (matches
are then close together, so 50 come soon). SQLite keeps no statistics to choose so itself:
either way round is hundreds of times slower in the other case (a rare tag scanned for; every
run of a common one read and sorted). PostgreSQL's planner chooses from its statistics."""


def _has_tag(tag: str, lead: bool) -> sa.ColumnElement[bool]:
    """Runs carrying `tag`, by flow_run_tags (kept by triggers, revision 0014): the runs its
    primary key lists, or (not `lead`) a probe of that key for each run read."""
    t = m.flow_run_tags.c
    if lead:
        return m.flow_runs.c.id.in_(sa.select(t.flow_run_id).where(t.tag == tag))
    return sa.exists().where(t.tag == tag, t.flow_run_id == m.flow_runs.c.id)


def _has_prefix(conn: Connection, prefix: str, lead: bool) -> sa.ColumnElement[bool]:
    """A run whose name starts with `prefix`, any case, or whose id does (hex digits, dashes
    or not). Leading, as indexes answer it (revision 0014): SQLite's LIKE is case-blind (ASCII,
    as its lower() is) and reads the NOCASE index of names, PostgreSQL's lower(name) LIKE its
    pattern-ops index; ids, a range of the primary key. Not leading (SQLite), the same tests
    in forms no index takes (`name || ''`), made on each run read."""
    escaped = prefix.replace("/", "//").replace("%", "/%").replace("_", "/_")
    name: sa.ColumnElement[str] = m.flow_runs.c.name
    if conn.dialect.name == "postgresql":
        named = sa.func.lower(name).like(escaped.lower() + "%", escape="/")
    else:
        named = (name if lead else name.concat("")).like(escaped + "%", escape="/")
    hexes = prefix.lower().replace("-", "")[:32]
    if not hexes or any(c not in "0123456789abcdef" for c in hexes):
        return named  # not the start of an id
    if not lead and conn.dialect.name == "sqlite":
        return sa.or_(named, sa.cast(m.flow_runs.c.id, sa.String).like(hexes + "%"))
    return sa.or_(named, _id_starts(hexes))


def _id_starts(hexes: str) -> sa.ColumnElement[bool]:
    """Run ids starting with these (lowercase) hex digits: a range of the primary key."""
    return m.flow_runs.c.id.between(uuid.UUID(hexes.ljust(32, "0")),
                                    uuid.UUID(hexes.ljust(32, "f")))


def _filtered(conn: Connection, query: sa.Select[Any], where: RunFilter,
              lead: bool = True) -> sa.Select[Any]:
    """`query` narrowed to the runs `where` lets through; `lead`: whether the tag and prefix
    filters' indexes may drive it (FEW_MATCHES)."""
    if where.parent is not None:
        query = query.where(m.flow_runs.c.parent_flow_run_id == where.parent)
    if where.flow_name is not None:
        query = query.where(m.flows.c.name == where.flow_name)
    if where.state is not None:
        query = query.where(m.flow_runs.c.state_type == state_type(where.state).value)
    if where.deployment_id is not None:
        query = query.where(m.flow_runs.c.deployment_id == where.deployment_id)
    if where.work_pool_id is not None:
        query = query.where(m.flow_runs.c.work_pool_id == where.work_pool_id)
    if where.since is not None:
        query = query.where(m.flow_runs.c.created >= where.since)
    if where.until is not None:
        query = query.where(m.flow_runs.c.created < where.until)
    if where.tag is not None:
        query = query.where(_has_tag(where.tag, lead))
    if where.prefix:
        query = query.where(_has_prefix(conn, where.prefix, lead))
    return query


def list_flow_runs(conn: Connection, *, flow_name: str | None = None,
                   state: StateType | str | None = None, since: datetime | None = None,
                   limit: int = 50, offset: int = 0, after: RunCursor | None = None,
                   before: RunCursor | None = None,
                   parent: uuid.UUID | None = None,
                   where: RunFilter | None = None, matches: int | None = None,
                   ) -> list[FlowRunRead]:
    """Flow runs, newest first (created, then id), filtered by `where` (or by flow name, state
    type, creation time and parent flow run, its subflow runs, given one by one). Keyset
    paging: `after` a cursor, the runs that follow it (older); `before` one, the `limit` runs
    just ahead of it (newer), still newest first. No OFFSET is needed. A filter only narrows
    the (created, id) order, so a cursor of a filtered page stays valid with its filters.
    `matches`: how many runs `where` lets through, when counted (FEW_MATCHES)."""
    where = where or RunFilter(flow_name=flow_name, state=state, since=since, parent=parent)
    created, run_id = m.flow_runs.c.created, m.flow_runs.c.id
    query = _filtered(conn, _FLOW_RUN_SELECT, where,
                      lead=matches is None or matches <= FEW_MATCHES)
    # `created <= c AND NOT (created = c AND id <= i)`: a range on the created index, unlike
    # the usual OR, which SQLite cannot use an index for.
    if after is not None:
        query = query.where(created <= after.created,
                            sa.not_(sa.and_(created == after.created, run_id <= after.id)))
    if before is not None:
        query = query.where(created >= before.created,
                            sa.not_(sa.and_(created == before.created, run_id >= before.id)))
        query = query.order_by(created, run_id.desc()).limit(limit).offset(offset)
        rows = [FlowRunRead.model_validate(row._mapping) for row in conn.execute(query)]
        return rows[::-1]
    query = query.order_by(created.desc(), run_id).limit(limit).offset(offset)
    return [FlowRunRead.model_validate(row._mapping) for row in conn.execute(query)]


def count_flow_runs(conn: Connection, *, flow_name: str | None = None,
                    state: StateType | str | None = None, since: datetime | None = None,
                    parent: uuid.UUID | None = None, where: RunFilter | None = None) -> int:
    where = where or RunFilter(flow_name=flow_name, state=state, since=since, parent=parent)
    if where.tag is not None and where == RunFilter(tag=where.tag):  # its own index counts it
        tagged = sa.select(sa.func.count()).where(m.flow_run_tags.c.tag == where.tag)
        return int(conn.execute(tagged).scalar_one())
    runs: sa.FromClause = m.flow_runs
    if where.flow_name is not None:  # the flow's name is in flows (a count of all reads no join)
        runs = m.flow_runs.join(m.flows, m.flows.c.id == m.flow_runs.c.flow_id)
    query = sa.select(sa.func.count()).select_from(runs)
    return int(conn.execute(_filtered(conn, query, where)).scalar_one())


def resolve_flow_run_id(conn: Connection, id_or_prefix: str | uuid.UUID) -> uuid.UUID:
    """A full flow run id from an id or a unique prefix of one (like git's short hashes)."""
    if isinstance(id_or_prefix, uuid.UUID):
        return id_or_prefix
    text = id_or_prefix.strip().lower().replace("-", "")
    if not text or any(c not in "0123456789abcdef" for c in text):
        raise UserInputError(f"{id_or_prefix!r} is not a run id; copy one from `transom runs ls`")
    if len(text) == 32:
        return uuid.UUID(text)
    matches = list(conn.execute(sa.select(m.flow_runs.c.id).where(_id_starts(text)).limit(2))
                   .scalars())
    if not matches:
        raise NotFound(f"no flow run has an id starting with {id_or_prefix!r}")
    if len(matches) > 1:
        raise Ambiguous(f"more than one flow run id starts with {id_or_prefix!r}; "
                             "give more characters")
    return uuid.UUID(str(matches[0]))


def read_flow_run(conn: Connection, id_or_prefix: str | uuid.UUID) -> FlowRunRead:
    run_id = resolve_flow_run_id(conn, id_or_prefix)
    row = conn.execute(_FLOW_RUN_SELECT.where(m.flow_runs.c.id == run_id)).first()
    if row is None:
        raise NotFound(f"no flow run has the id {run_id}")
    return FlowRunRead.model_validate(row._mapping)


def read_task_run(conn: Connection, task_run_id: uuid.UUID) -> TaskRunRead:
    row = conn.execute(sa.select(m.task_runs).where(m.task_runs.c.id == task_run_id)).first()
    if row is None:
        raise NotFound(f"no task run has the id {task_run_id}")
    return TaskRunRead.model_validate(row._mapping)


def list_flows(conn: Connection, *, limit: int = 50, offset: int = 0) -> list[FlowRead]:
    query = sa.select(m.flows).order_by(m.flows.c.name).limit(limit).offset(offset)
    return [FlowRead.model_validate(row._mapping) for row in conn.execute(query)]


def list_task_runs(conn: Connection, flow_run_id: uuid.UUID) -> list[TaskRunRead]:
    query = (sa.select(m.task_runs).where(m.task_runs.c.flow_run_id == flow_run_id)
             .order_by(m.task_runs.c.created, m.task_runs.c.dynamic_key))
    return [TaskRunRead.model_validate(row._mapping) for row in conn.execute(query)]


def list_states(conn: Connection, *, flow_run_id: uuid.UUID | None = None,
                task_run_id: uuid.UUID | None = None) -> list[StateRecord]:
    query = sa.select(m.states).order_by(m.states.c.timestamp, m.states.c.id)
    if flow_run_id is not None:
        query = query.where(m.states.c.flow_run_id == flow_run_id)
    if task_run_id is not None:
        query = query.where(m.states.c.task_run_id == task_run_id)
    return [StateRecord.model_validate(row._mapping) for row in conn.execute(query)]


def _log_condition(flow_run_id: uuid.UUID, task_run_id: uuid.UUID | None,
                   min_level: int | None, text: str | None,
                   after_id: int | None, task_key: str | None = None) -> sa.ColumnElement[bool]:
    """Which log lines of a flow run a query is after: its own and its task runs' (or one task
    run's, or those of the runs of one task, by its key), at `min_level` or above, holding
    `text` (case-insensitive), later than `after_id`."""
    if task_run_id is not None:
        conditions = [m.logs.c.task_run_id == task_run_id]
    elif task_key is not None:
        of_task = sa.select(m.task_runs.c.id).where(m.task_runs.c.flow_run_id == flow_run_id,
                                                    m.task_runs.c.task_key == task_key)
        conditions = [m.logs.c.task_run_id.in_(of_task)]
    else:
        task_ids = sa.select(m.task_runs.c.id).where(m.task_runs.c.flow_run_id == flow_run_id)
        conditions = [sa.or_(m.logs.c.flow_run_id == flow_run_id,
                             m.logs.c.task_run_id.in_(task_ids))]
    if min_level:
        conditions.append(m.logs.c.level >= min_level)
    if text:
        conditions.append(m.logs.c.message.icontains(text, autoescape=True))
    if after_id is not None:
        conditions.append(m.logs.c.id > after_id)
    return sa.and_(*conditions)


def list_logs(conn: Connection, flow_run_id: uuid.UUID, *, task_run_id: uuid.UUID | None = None,
              limit: int | None = None, offset: int = 0, min_level: int | None = None,
              text: str | None = None, after_id: int | None = None,
              task_key: str | None = None, newest: bool = False) -> list[LogLine]:
    """A flow run's log lines (its own and its task runs'), oldest first; with `after_id`, those
    written after that line, in the order they were written (what a live tail follows); with
    `newest`, the last `limit` (read backwards: no walk over the lines before them)."""
    query = sa.select(m.logs).where(
        _log_condition(flow_run_id, task_run_id, min_level, text, after_id, task_key))
    if after_id is not None:
        query = query.order_by(m.logs.c.id)
    elif newest:
        query = query.order_by(m.logs.c.timestamp.desc(), m.logs.c.id.desc())
    else:
        query = query.order_by(m.logs.c.timestamp, m.logs.c.id)
    if limit is not None:
        query = query.limit(limit)
    if offset:
        query = query.offset(offset)
    lines = [LogLine.model_validate(row._mapping) for row in conn.execute(query)]
    return lines[::-1] if newest and after_id is None else lines


def count_logs(conn: Connection, flow_run_id: uuid.UUID, *, task_run_id: uuid.UUID | None = None,
               min_level: int | None = None, text: str | None = None,
               after_id: int | None = None, task_key: str | None = None) -> int:
    condition = _log_condition(flow_run_id, task_run_id, min_level, text, after_id, task_key)
    return int(conn.execute(sa.select(sa.func.count()).select_from(m.logs).where(condition))
               .scalar_one())


def first_log_at_level(conn: Connection, flow_run_id: uuid.UUID, min_level: int) -> int | None:
    """How many of the run's log lines come before its first at `min_level` or above (its
    offset in `list_logs` order), or None if it has none."""
    first = conn.execute(
        sa.select(m.logs.c.timestamp, m.logs.c.id)
        .where(_log_condition(flow_run_id, None, min_level, None, None))
        .order_by(m.logs.c.timestamp, m.logs.c.id).limit(1)).first()
    if first is None:
        return None
    earlier = sa.or_(m.logs.c.timestamp < first.timestamp,
                     sa.and_(m.logs.c.timestamp == first.timestamp, m.logs.c.id < first.id))
    condition = sa.and_(_log_condition(flow_run_id, None, None, None, None), earlier)
    return int(conn.execute(sa.select(sa.func.count()).select_from(m.logs).where(condition))
               .scalar_one())


def ping(conn: Connection) -> None:
    """Raise if the database does not answer."""
    conn.execute(sa.select(sa.literal(1))).scalar_one()
