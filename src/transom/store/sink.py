"""StoreSink: writes batches of run events into the database (the embedded recorder's I/O seam).

One batch is one transaction of a few bulk statements (executemany), whatever its size. A failed
batch rolls back whole and is retried by the recorder; run rows are inserted with ON CONFLICT DO
NOTHING, so a batch that is delivered twice does not fail on runs it already created.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from transom.core.recorder import (
    Event,
    FlowRunCreated,
    LogRecorded,
    ProcessHeartbeat,
    StateChanged,
    TaskRunCreated,
)
from transom.core.states import FINAL_TYPES, TRANSITIONS, StateType, now_utc
from transom.core.storable import storable_event
from transom.exceptions import WriteConflict
from transom.store import models as m
from transom.store.database import Database, open_database
from transom.store.transitions import Gate

logger = logging.getLogger("transom.store")

__all__ = ["StoreSink", "insert_ignore", "unwritten", "write_batch", "write_events"]


class StoreSink:
    """EventSink over a database URL; the database is opened on first write.

    `database` hands it an open Database instead (it is then not closed by `close`);
    `driver_sql=False` makes SQLite take the SQLAlchemy Core path other databases take.
    """

    def __init__(self, database_url: str, *, busy_timeout: float = 30.0,
                 database: Database | None = None, driver_sql: bool | None = None) -> None:
        self.database_url = database_url
        self.busy_timeout = busy_timeout
        self.driver_sql = driver_sql
        self._db = database
        self._owns_db = database is None

    @property
    def database(self) -> Database:
        if self._db is None:
            self._db = open_database(self.database_url, busy_timeout=self.busy_timeout)
        return self._db

    def write(self, events: Sequence[Event]) -> None:
        write_batch(self.database, events, driver_sql=self.driver_sql)

    def close(self) -> None:
        if self._db is not None and self._owns_db:
            self._db.close()
            self._db = None


def write_batch(db: Database, events: Sequence[Event], *, resent: bool = False,
                driver_sql: bool | None = None) -> int:
    """One batch of events in one transaction; `resent` skips what an earlier, unanswered send
    stored already. Returns how many events were written (refused states are left out).

    A value the database refuses for good (lone surrogates, NUL, a name too long, NaN in JSON:
    see `storable`) is never retried as if it were a passing failure: the batch is repaired and
    written at once; whatever still cannot be stored is left out, one event at a time, with a
    warning, and the rest is written."""
    try:
        return _write_batch(db, events, resent, driver_sql)
    except Exception as exc:
        if not is_refused_value(exc):
            raise
        first = exc
    repaired = [storable_event(event) for event in events]
    try:
        written = _write_batch(db, repaired, resent, driver_sql)
    except Exception as exc:
        if not is_refused_value(exc):
            raise
    else:
        logger.warning("values the database refused were repaired to be stored (%s)",
                       _first_line(str(first)))
        return written
    written = 0
    for event in repaired:
        try:
            written += _write_batch(db, [event], True, driver_sql)
        except Exception as exc:
            if not is_refused_value(exc):
                raise
            logger.warning("a %s could not be stored and was left out: %s",
                           type(event).__name__, _first_line(str(exc)))
    return written


def _write_batch(db: Database, events: Sequence[Event], resent: bool,
                 driver_sql: bool | None) -> int:
    # Flow ids learnt in the batch join `db.flow_ids` only once it commits: a rolled-back batch
    # took its new flow rows with it, and a cached id of a missing row would fail every retry.
    cached = bool(db.flow_ids)
    while True:
        flow_ids = dict(db.flow_ids)
        try:
            with db.write() as conn:
                if resent:
                    events = unwritten(conn, events)
                refused = write_events(conn, events, flow_ids, driver_sql=driver_sql)
        except WriteConflict:
            db.flow_ids.clear()
            if cached:  # a flow we knew is gone (`transom db reset` under us): look flows up
                cached = False
                continue
            raise
        except BaseException:
            db.flow_ids.clear()  # the database may have been reset under us, too
            raise
        db.flow_ids.update(flow_ids)
        return len(events) - len(refused)


def is_refused_value(exc: BaseException) -> bool:
    """Whether `exc` is a database refusing a value of the batch (not the database failing)."""
    if isinstance(exc, UnicodeError):
        return True
    if isinstance(exc, ValueError) and "NUL" in str(exc):  # psycopg: text cannot hold NUL
        return True
    cause = exc.__cause__
    name = type(cause).__name__ if cause is not None else ""
    # SQLAlchemy's DataError: PostgreSQL's data exceptions (class 22: a value too long, out of
    # range, an invalid JSON token or escape); SQLite's "string or blob too big".
    return name == "DataError" or "too big" in str(exc).lower()


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text


def insert_ignore(conn: Connection, table: sa.Table) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING on SQLite and PostgreSQL."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).on_conflict_do_nothing()
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table).on_conflict_do_nothing()


def _flow_ids(conn: Connection, names: set[str], cache: dict[str, uuid.UUID]) -> dict[str, uuid.UUID]:
    missing = names - cache.keys()
    if missing:
        now = now_utc()
        conn.execute(insert_ignore(conn, m.flows),
                     [{"id": uuid.uuid4(), "name": n, "created": now} for n in sorted(missing)])
        rows = conn.execute(sa.select(m.flows.c.name, m.flows.c.id)
                            .where(m.flows.c.name.in_(missing)))
        cache.update({name: flow_id for name, flow_id in rows})
    return cache


# Column orders of the rows that write_events collects; both write paths below use them.
FLOW_RUN_COLUMNS = ("id", "flow_id", "name", "parameters", "parent_flow_run_id",
                    "parent_task_run_id", "deployment_id", "tags", "run_count", "created",
                    "updated", "process", "pid", "hostname", "heartbeat")
TASK_RUN_COLUMNS = ("id", "flow_run_id", "task_key", "name", "dynamic_key", "cache_key",
                    "upstream", "tags", "run_count", "created", "updated")
STATE_COLUMNS = ("flow_run_id", "task_run_id", "type", "name", "timestamp", "message", "error",
                 "scheduled_time")
LOG_COLUMNS = ("flow_run_id", "task_run_id", "level", "logger", "message", "timestamp")
UPDATE_COLUMNS = ("state_type", "state_name", "state_message", "state_timestamp", "run_count",
                  "updated", "first_start", "end_time", "result_ref", "run_id")


def _hex(value: uuid.UUID | None) -> str | None:
    return None if value is None else value.hex


def _sqlite_time(value: datetime | None) -> str | None:
    if value is None:
        return None
    zone = value.tzinfo
    if zone is not None and zone is not timezone.utc and value.utcoffset():
        value = value.astimezone(timezone.utc)
    return value.isoformat(" ", "microseconds")[:26]  # SQLAlchemy's SQLite DATETIME format


def _json(value: Any) -> str | None:
    if value is None:
        return None
    if not value and isinstance(value, list | dict):  # most tags and upstream lists: no dumps
        return "[]" if isinstance(value, list) else "{}"
    return json.dumps(value, default=str)


def _no_nul(value: str | None) -> str | None:
    # PostgreSQL text cannot hold NUL characters; a log line that has one must not fail its batch.
    return value.replace("\x00", "\ufffd") if value and "\x00" in value else value


def _same(value: Any) -> Any:
    return value


def unwritten(conn: Connection, events: Sequence[Event]) -> list[Event]:
    """`events` without the states and log lines already stored: for a batch sent again after a
    send whose answer was lost (the server may have written it before it went away).

    A state is known by its run, type and time, a log line by its run, task run, time and text
    (times come from the run's process, to the microsecond). Runs and task runs need no check:
    their inserts ignore an id that exists."""
    states = [e for e in events if isinstance(e, StateChanged)]
    logs = [e for e in events if isinstance(e, LogRecorded)]
    if not states and not logs:
        return list(events)
    seen_states: set[tuple[Any, ...]] = set()
    flow_ids = {e.run_id for e in states if not e.is_task}
    task_ids = {e.run_id for e in states if e.is_task}
    s = m.states.c
    for column, ids in ((s.flow_run_id, flow_ids), (s.task_run_id, task_ids)):
        if ids:
            found = conn.execute(sa.select(column, s.type, s.timestamp).where(column.in_(ids)))
            seen_states.update((run_id, kind, _utc(ts)) for run_id, kind, ts in found)
    seen_logs: set[tuple[Any, ...]] = set()
    log_runs = {e.flow_run_id for e in logs if e.flow_run_id is not None}
    if log_runs:
        g = m.logs.c
        since = min(_utc(e.timestamp) for e in logs)
        lines = conn.execute(sa.select(g.flow_run_id, g.task_run_id, g.timestamp, g.message)
                             .where(g.flow_run_id.in_(log_runs), g.timestamp >= since))
        seen_logs.update((f, t, _utc(ts), text) for f, t, ts, text in lines)
    no_nul = _no_nul if conn.dialect.name == "postgresql" else _same
    kept: list[Event] = []
    for event in events:
        if isinstance(event, StateChanged):
            if (event.run_id, event.state.type.value, _utc(event.state.timestamp)) in seen_states:
                continue
        elif isinstance(event, LogRecorded):
            key = (event.flow_run_id, event.task_run_id, _utc(event.timestamp),
                   no_nul(event.message))
            if key in seen_logs:
                continue
        kept.append(event)
    return kept


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else \
        value.astimezone(timezone.utc)


def write_events(conn: Connection, events: Sequence[Event],
                 flow_id_cache: dict[str, uuid.UUID] | None = None, *,
                 driver_sql: bool | None = None, strict: bool = False,
                 expect: Mapping[uuid.UUID, tuple[str, str]] | None = None,
                 ) -> list[tuple[StateChanged, str]]:
    """Write one batch of events on `conn` (inside the caller's transaction): the one way a
    state reaches the database. Its states pass the transition table (`transitions.Gate`, with
    `strict` and `expect`); returns the states left out, with why.

    On SQLite the rows are built in the driver's own terms (hex ids, DATETIME strings, JSON text)
    and go straight to executemany: this is the embedded recorder's hot path, about twice as fast
    as Core. Elsewhere (or with `driver_sql=False`) they go through SQLAlchemy Core, which
    converts them. `flow_id_cache` (flow name -> id) saves looking flows up again.
    """
    sqlite = conn.dialect.name == "sqlite" and driver_sql is not False
    U = _hex if sqlite else _same
    T = _sqlite_time if sqlite else _same
    J = _json if sqlite else _same
    S = _no_nul if conn.dialect.name == "postgresql" else _same
    cache = {} if flow_id_cache is None else flow_id_cache
    flow_runs: list[tuple[Any, ...]] = []
    flow_names: list[str] = []
    task_runs: list[tuple[Any, ...]] = []
    state_rows: list[tuple[Any, ...]] = []
    log_rows: list[tuple[Any, ...]] = []
    beats: list[tuple[Any, Any]] = []
    # The newest state per run, and the first Running time seen for it in this batch.
    latest: dict[Any, list[Any]] = {}
    task_ids: set[Any] = set()
    # The transition table, applied as the rows are built (this loop is the embedded recorder's
    # hot path). A state of a run created or changed earlier in the batch is decided at once; the
    # states of other runs are held, their stored states read in one query (`Gate.resolve`), and
    # then they go through the same loop again.
    gate = Gate(expect, strict)
    known = gate.known
    known_get = known.get
    held = gate.hold
    allowed = TRANSITIONS
    absent = gate.absent
    pending: Sequence[Event] = events
    while pending:
        for event in pending:
            if type(event) is StateChanged:
                state = event.state
                # Runs are keyed by their id as written (a hex string on SQLite, whose hash is
                # cached; a UUID's hash is computed in Python each time).
                rid = U(event.run_id)
                current = known_get(rid, absent)
                if current is absent or not (state.type in allowed[current] or event.force):
                    held(event, current, rid)
                    continue
                known[rid] = state.type
                is_task = event.is_task
                ts = T(state.timestamp)
                state_rows.append((
                    None if is_task else rid, rid if is_task else None, state.type.value,
                    state.name, ts, S(state.message),
                    J(state.error.to_dict()) if state.error is not None else None,
                    T(state.scheduled_time),
                ))
                previous = latest.get(rid)
                first_start = previous[6] if previous is not None else None
                if first_start is None and state.type is StateType.RUNNING:
                    first_start = ts
                result_ref = event.result_ref
                if result_ref is None and previous is not None:
                    result_ref = previous[8]
                latest[rid] = [state.type.value, state.name, S(state.message), ts,
                               event.run_count, ts, first_start,
                               ts if state.type in FINAL_TYPES else None, result_ref, rid]
                if is_task:
                    task_ids.add(rid)
            elif isinstance(event, TaskRunCreated):
                tid = U(event.id)
                gate.created(tid)
                created = T(event.created)
                task_runs.append((tid, U(event.flow_run_id), event.task_key, event.name,
                                  event.dynamic_key, event.cache_key,
                                  J([str(u) for u in event.upstream]), J(event.tags), 0,
                                  created, created))
            elif isinstance(event, LogRecorded):
                log_rows.append((U(event.flow_run_id), U(event.task_run_id), event.level,
                                 event.logger, S(event.message), T(event.timestamp)))
            elif isinstance(event, FlowRunCreated):
                fid = U(event.id)
                gate.created(fid)
                created = T(event.created)
                flow_names.append(event.flow_name)
                process = event.process
                flow_runs.append((fid, None, event.name, J(event.parameters),
                                  U(event.parent_flow_run_id), U(event.parent_task_run_id),
                                  U(event.deployment_id), J(event.tags), 0, created, created,
                                  *((U(process.instance), process.pid, S(process.hostname),
                                     created) if process is not None else _NO_PROCESS)))
            elif isinstance(event, ProcessHeartbeat):
                beats.append((T(event.timestamp), U(event.process.instance)))
        pending = gate.resolve(conn)
    if flow_runs:
        ids = _flow_ids(conn, set(flow_names), cache)
        flow_runs = [(r[0], U(ids[name]), *r[2:])
                     for r, name in zip(flow_runs, flow_names, strict=True)]
    flow_updates = [tuple(v) for k, v in latest.items() if k not in task_ids]
    task_updates = [tuple(v) for k, v in latest.items() if k in task_ids]
    write = _write_sqlite if sqlite else _write_core
    write(conn, flow_runs, task_runs, state_rows, log_rows, flow_updates, task_updates)
    if beats:
        _heartbeats(conn, beats, sqlite)
    return gate.finish()


_NO_PROCESS = (None, None, None, None)
_ALIVE = (StateType.PENDING.value, StateType.RUNNING.value, StateType.CANCELLING.value,
          StateType.SCHEDULED.value)  # Scheduled: AwaitingRetry, between two attempts


def _heartbeats(conn: Connection, beats: list[tuple[Any, Any]], sqlite: bool) -> None:
    """The flow runs of each beating process that have not ended were alive at that time."""
    if sqlite:
        conn.exec_driver_sql(
            "UPDATE flow_runs SET heartbeat = ? WHERE process = ? AND state_type IN "
            f"({', '.join(repr(t) for t in _ALIVE)})", beats)
        return
    c = m.flow_runs.c
    # The states as literals: an expanding IN cannot be executed many times in one call.
    alive: list[sa.ColumnElement[str]] = [sa.literal_column(f"'{state}'") for state in _ALIVE]
    conn.execute(sa.update(m.flow_runs)
                 .where(c.process == sa.bindparam("p"), c.state_type.in_(alive))
                 .values(heartbeat=sa.bindparam("t", type_=c.heartbeat.type)),
                 [{"t": t, "p": p} for t, p in beats])


# -- SQLite: straight to the driver's executemany -----------------------------------------------
def _insert_sql(table: str, columns: tuple[str, ...], ignore: bool) -> str:
    verb = "INSERT OR IGNORE" if ignore else "INSERT"
    return f"{verb} INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"


def _update_sql(table: str) -> str:
    return (f"UPDATE {table} SET state_type = ?, state_name = ?, state_message = ?, "
            "state_timestamp = ?, run_count = ?, updated = ?, "
            "start_time = COALESCE(start_time, ?), end_time = ?, "
            "result_ref = COALESCE(?, result_ref) WHERE id = ?")


_SQLITE = {
    "flow_runs": _insert_sql("flow_runs", FLOW_RUN_COLUMNS, ignore=True),
    "task_runs": _insert_sql("task_runs", TASK_RUN_COLUMNS, ignore=True),
    "states": _insert_sql("states", STATE_COLUMNS, ignore=False),
    "logs": _insert_sql("logs", LOG_COLUMNS, ignore=False),
    "flow_update": _update_sql("flow_runs"),
    "task_update": _update_sql("task_runs"),
}


def _write_sqlite(conn: Connection, flow_runs: list[tuple[Any, ...]],
                  task_runs: list[tuple[Any, ...]], states: list[tuple[Any, ...]],
                  logs: list[tuple[Any, ...]], flow_updates: list[tuple[Any, ...]],
                  task_updates: list[tuple[Any, ...]]) -> None:
    for key, rows in (
        ("flow_runs", flow_runs), ("task_runs", task_runs), ("states", states), ("logs", logs),
        ("flow_update", flow_updates), ("task_update", task_updates),
    ):
        if rows:
            conn.exec_driver_sql(_SQLITE[key], rows)


# -- other databases (PostgreSQL): SQLAlchemy Core, bulk executemany ----------------------------
def _state_update(table: sa.Table) -> Any:
    c = table.c
    return (
        sa.update(table)
        .where(c.id == sa.bindparam("run_id"))
        .values(
            state_type=sa.bindparam("state_type"),
            state_name=sa.bindparam("state_name"),
            state_message=sa.bindparam("state_message"),
            state_timestamp=sa.bindparam("state_timestamp", type_=c.state_timestamp.type),
            run_count=sa.bindparam("run_count"),
            updated=sa.bindparam("updated", type_=c.updated.type),
            start_time=sa.func.coalesce(c.start_time,
                                        sa.bindparam("first_start", type_=c.start_time.type)),
            end_time=sa.bindparam("end_time", type_=c.end_time.type),
            result_ref=sa.func.coalesce(sa.bindparam("result_ref", type_=sa.Text), c.result_ref),
        )
    )


_FLOW_RUN_UPDATE = _state_update(m.flow_runs)
_TASK_RUN_UPDATE = _state_update(m.task_runs)


def _dicts(columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    return [dict(zip(columns, row, strict=True)) for row in rows]


def _write_core(conn: Connection, flow_runs: list[tuple[Any, ...]],
                task_runs: list[tuple[Any, ...]], states: list[tuple[Any, ...]],
                logs: list[tuple[Any, ...]], flow_updates: list[tuple[Any, ...]],
                task_updates: list[tuple[Any, ...]]) -> None:
    if flow_runs:
        conn.execute(insert_ignore(conn, m.flow_runs), _dicts(FLOW_RUN_COLUMNS, flow_runs))
    if task_runs:
        conn.execute(insert_ignore(conn, m.task_runs), _dicts(TASK_RUN_COLUMNS, task_runs))
    if states:
        conn.execute(m.states.insert(), _dicts(STATE_COLUMNS, states))
    if logs:
        conn.execute(m.logs.insert(), _dicts(LOG_COLUMNS, logs))
    if flow_updates:
        conn.execute(_FLOW_RUN_UPDATE, _dicts(UPDATE_COLUMNS, flow_updates))
    if task_updates:
        conn.execute(_TASK_RUN_UPDATE, _dicts(UPDATE_COLUMNS, task_updates))
