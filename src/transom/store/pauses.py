"""Pauses of flow runs: the Paused / Suspended state and its `run_inputs` row, written together;
the resume that checks its input against the stored schema; the timeout of a forgotten pause.

A pause is a row per (flow run, key): the JSON Schema its input must match (none: no input),
its timeout, whether it is a suspension (`reschedule`), and, once resumed, the input and when.
A Paused run's process waits and reads the row back on resume; a Suspended run's process has
ended, and its rerun finds the resumed row under the same key (the pause is not made again).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import jsonschema
import referencing
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from transom.core import states as st
from transom.core.recorder import StateChanged
from transom.core.states import PAUSED_NAMES, State, StateType
from transom.exceptions import InvalidTransition, NotFound, RunInputInvalid, UserInputError
from transom.schemas import PauseCreate, PauseRead, ResumeIn
from transom.store import models as m
from transom.store.sink import write_events

__all__ = ["expire_pauses", "pause_flow_run", "read_pause", "resume_flow_run", "waiting_pause"]

fr = m.flow_runs.c
ri = m.run_inputs.c


def _run(conn: Connection, run_id: uuid.UUID) -> Any:
    query = sa.select(fr.id, fr.state_type, fr.state_name, fr.run_count, fr.deployment_id,
                      fr.worker_id).where(fr.id == run_id)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()  # a resume and a timeout of one run decide in turn
    row = conn.execute(query).first()
    if row is None:
        raise NotFound(f"no flow run has the id {run_id}")
    return row


def pause_flow_run(conn: Connection, run_id: uuid.UUID, body: PauseCreate, *,
                   now: datetime) -> State:
    """Move a Running flow run to Paused (or Suspended: `body.reschedule`, for a deployment's run,
    which no worker then holds) and store the pause; InvalidTransition if it is not Running."""
    row = _run(conn, run_id)
    if row.state_type != StateType.RUNNING.value:
        raise InvalidTransition(f"flow run {run_id} is {row.state_name}; only a running flow run "
                                "can pause")
    if body.reschedule and row.deployment_id is None:
        raise UserInputError(f"flow run {run_id} is not a deployment's run: only those can be "
                             "suspended (a worker starts them again); pause it instead")
    make = st.Suspended if body.reschedule else st.Paused
    how = "until resumed" if body.run_input_schema is None else "for input"
    state = make(timeout_seconds=body.timeout_seconds, pause_key=body.key,
                 message=f"waits {how} (timeout {body.timeout_seconds:g} s, key {body.key!r})")
    write_events(conn, [StateChanged(run_id, False, state, int(row.run_count))], strict=True)
    if body.reschedule:  # its process ends now: no worker or process holds the run any more
        conn.execute(sa.update(m.flow_runs).where(fr.id == run_id).values(
            worker_id=None, process=None, pid=None, hostname=None, heartbeat=None))
    conn.execute(sa.delete(m.run_inputs).where(ri.flow_run_id == run_id, ri.key == body.key))
    conn.execute(sa.insert(m.run_inputs).values(
        flow_run_id=run_id, key=body.key, schema=body.run_input_schema, value=None,
        timeout_seconds=body.timeout_seconds, reschedule=body.reschedule, created=now,
        resumed=None))
    return state


def read_pause(conn: Connection, run_id: uuid.UUID, key: str) -> PauseRead:
    row = conn.execute(sa.select(m.run_inputs).where(ri.flow_run_id == run_id,
                                                     ri.key == key)).first()
    if row is None:
        raise NotFound(f"flow run {run_id} has no pause with the key {key!r}")
    return _read(row)


def waiting_pause(conn: Connection, run_id: uuid.UUID) -> PauseRead | None:
    """The run's newest pause not yet resumed (what a resume answers), or None."""
    row = conn.execute(sa.select(m.run_inputs).where(ri.flow_run_id == run_id,
                                                     ri.resumed.is_(None))
                       .order_by(ri.created.desc()).limit(1)).first()
    return None if row is None else _read(row)


def _read(row: Any) -> PauseRead:
    return PauseRead(flow_run_id=row.flow_run_id, key=row.key, run_input_schema=row.schema,
                     run_input=row.value, timeout_seconds=row.timeout_seconds,
                     reschedule=row.reschedule, created=row.created, resumed=row.resumed)


def resume_flow_run(conn: Connection, run_id: uuid.UUID, body: ResumeIn, *,
                    now: datetime) -> State:
    """A Paused run goes back to Running (its waiting process carries on); a Suspended one to
    Scheduled, named Resuming, for a worker of its pool. The input must match the pause's schema
    (RunInputInvalid, and the run stays paused); InvalidTransition if the run is not paused."""
    row = _run(conn, run_id)
    if row.state_type != StateType.SCHEDULED.value or row.state_name not in PAUSED_NAMES:
        raise InvalidTransition(f"flow run {run_id} is not paused (it is {row.state_name}), so "
                                "it cannot be resumed")
    pause = conn.execute(sa.select(m.run_inputs).where(ri.flow_run_id == run_id,
                                                       ri.resumed.is_(None))
                         .order_by(ri.created.desc()).limit(1)).first()
    _check_input(run_id, pause.schema if pause is not None else None, body.run_input)
    state = (st.Scheduled(name="Resuming", scheduled_time=now, message="resumed")
             if row.state_name == "Suspended" else st.Running(message="resumed"))
    refused = write_events(conn, [StateChanged(run_id, False, state, int(row.run_count))],
                           expect={run_id: (row.state_type, row.state_name)})
    if refused:
        raise InvalidTransition(f"flow run {run_id} moved on while it was being resumed")
    if pause is not None:
        conn.execute(sa.update(m.run_inputs)
                     .where(ri.flow_run_id == run_id, ri.key == pause.key)
                     .values(value=body.run_input, resumed=now))
    return state


def _check_input(run_id: uuid.UUID, schema: dict[str, Any] | None, value: Any) -> None:
    if schema is None:
        if value is not None:
            raise RunInputInvalid(f"flow run {run_id} does not wait for input; resume it "
                                  "without any")
        return
    if value is None:
        raise RunInputInvalid(f"flow run {run_id} waits for input; resume it with some "
                              "(`--input JSON`, or run_input=)")
    # No registry to fetch from: a `$ref` outside the schema is unresolvable, never a download.
    checker = jsonschema.validators.validator_for(schema)(schema, registry=referencing.Registry())
    try:
        error = jsonschema.exceptions.best_match(checker.iter_errors(value))
    except Exception as exc:  # an unresolvable $ref, a pattern `re` cannot compile, ...
        raise RunInputInvalid(f"the schema flow run {run_id} waits with cannot check input "
                              f"({type(exc).__name__}: {exc}); it stays paused") from None
    if error is not None:
        where = "".join(f"[{p!r}]" for p in error.absolute_path)
        raise RunInputInvalid(f"the input does not match what flow run {run_id} waits for"
                              f"{' at ' + where if where else ''}: {error.message}; it stays "
                              "paused")


def expire_pauses(conn: Connection, *, now: datetime, grace: float,
                  limit: int = 1000) -> int:
    """Pauses past their timeout end their runs Failed, with the reason: a Suspended run at once
    (its process is gone by design), a Paused one `grace` seconds later (its process, if it
    lives, fails it first). Returns how many runs ended."""
    rows = list(conn.execute(
        sa.select(fr.id, fr.state_type, fr.state_name, fr.run_count, ri.created,
                  ri.timeout_seconds)
        .join(m.run_inputs, ri.flow_run_id == fr.id)
        .where(fr.state_type == StateType.SCHEDULED.value, fr.state_name.in_(PAUSED_NAMES),
               ri.resumed.is_(None)).limit(limit)))
    ended = 0
    for row in rows:
        wait = 0.0 if row.state_name == "Suspended" else grace
        if row.created + timedelta(seconds=row.timeout_seconds + wait) > now:
            continue
        run_id = uuid.UUID(str(row.id))
        state = st.Failed(message=timeout_reason(row.timeout_seconds))
        if not write_events(conn, [StateChanged(run_id, False, state, int(row.run_count))],
                            expect={run_id: (row.state_type, row.state_name)}):
            ended += 1
    return ended


def timeout_reason(seconds: float) -> str:
    return f"the run was paused for {seconds:g} s and not resumed"
