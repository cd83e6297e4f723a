"""Writes the API makes on behalf of clients: create runs, propose states, cancel, write logs.

Every state change goes through the one transition table (`core.states.check_transition`) and is
written by the same code as the embedded recorder's events (`sink.write_events`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from transom.core import states as st
from transom.core.naming import generate_run_name
from transom.core.recorder import Event, FlowRunCreated, LogRecorded, StateChanged
from transom.core.states import State, StateType, check_transition, now_utc
from transom.exceptions import ClaimLost, InvalidTransition, NotAllowedFor, NotFound
from transom.schemas import FlowRunCreate, FlowRunRead, LogIn, StateIn
from transom.store import models as m
from transom.store.sink import write_events

__all__ = ["cancel_flow_run", "create_flow_run", "retry_flow_run", "set_run_state", "write_logs"]


def create_flow_run(conn: Connection, body: FlowRunCreate,
                    flow_ids: dict[str, uuid.UUID] | None = None) -> FlowRunRead:
    """A new flow run (Pending unless another first state is given), as it now reads.

    The record is built from what was written (no read back: this is the API's busiest write);
    `flow_ids` (flow name -> id) saves looking the flow up; the flow's id is added to it."""
    cache = {} if flow_ids is None else flow_ids
    state = body.state.to_state() if body.state else st.Pending()
    check_transition(None, state.type)
    created = FlowRunCreated(uuid.uuid4(), body.flow_name, body.name or generate_run_name(),
                             body.parameters, body.parent_flow_run_id, body.parent_task_run_id,
                             list(body.tags), process=None)  # its process, if any, is the client's
    write_events(conn, [created, StateChanged(created.id, False, state, 0)], cache, strict=True)
    # The columns as write_events sets them: a Running first state starts the run, a final
    # one ends it; `updated` is the state's time.
    message = state.message
    if message and conn.dialect.name == "postgresql":
        message = message.replace("\x00", "\ufffd")  # as write_events stores it
    return FlowRunRead(
        id=created.id, name=created.name, flow_id=cache[body.flow_name],
        flow_name=body.flow_name, parameters=created.parameters,
        parent_flow_run_id=created.parent_flow_run_id,
        parent_task_run_id=created.parent_task_run_id, tags=created.tags,
        state_type=state.type, state_name=state.name, state_message=message,
        state_timestamp=state.timestamp,
        start_time=state.timestamp if state.type is StateType.RUNNING else None,
        end_time=state.timestamp if state.type in st.FINAL_TYPES else None,
        created=created.created, updated=state.timestamp)


def _current(conn: Connection, run_id: uuid.UUID,
             is_task: bool) -> tuple[StateType | None, int, uuid.UUID | None]:
    """The run's state type, run count and (flow runs) the worker holding it."""
    table = m.task_runs if is_task else m.flow_runs
    worker = sa.literal(None) if is_task else m.flow_runs.c.worker_id
    query = sa.select(table.c.state_type, table.c.run_count, worker.label("worker_id")).where(
        table.c.id == run_id)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()  # two proposals for one run are decided one at a time
    row = conn.execute(query).first()
    if row is None:
        raise NotFound(f"no {'task' if is_task else 'flow'} run has the id {run_id}")
    holder = uuid.UUID(str(row.worker_id)) if row.worker_id is not None else None
    return (StateType(row.state_type) if row.state_type else None), int(row.run_count), holder


def set_run_state(conn: Connection, run_id: uuid.UUID, proposed: StateIn, *,
                  is_task: bool = False) -> State:
    """Move a run to `proposed` if the transition table allows it (InvalidTransition if not;
    ClaimLost if a worker reports on a run another worker holds now)."""
    _, run_count, holder = _current(conn, run_id, is_task)
    if proposed.worker_id is not None and holder != proposed.worker_id:
        raise ClaimLost(f"flow run {run_id} is no longer held by this worker"
                        + (" (another worker has it now)" if holder else
                           " (it went back to its queue)"))
    state = proposed.to_state()
    if state.type is StateType.RUNNING:
        run_count += 1
    write_events(conn, [StateChanged(run_id, is_task, state, run_count, force=proposed.force)],
                 strict=True)
    return state


def cancel_flow_run(conn: Connection, run_id: uuid.UUID, *,
                    message: str | None = None) -> tuple[State, tuple[int, str] | None]:
    """Cancel a flow run: one a worker holds goes to Cancelling (its worker stops its process);
    one that has not started, or whose process no worker holds, is Cancelled at once. Returns the
    state and, for the latter kind, the process to stop (pid, host) if the run has one."""
    current, run_count, holder = _current(conn, run_id, False)
    if current is StateType.CANCELLING:
        raise InvalidTransition("the flow run is already being cancelled")
    if current in st.FINAL_TYPES:
        raise InvalidTransition(f"the flow run has already ended ({current.value if current else '?'})")
    text = message or "cancelled by request"
    # A run a worker claimed has (or is about to have) a process even before it is Running:
    # Cancelling tells the worker to stop it. Any other run ends now; its process, if it runs one
    # (a `python flow.py`), is stopped by the caller, and whatever it reports later is refused.
    if holder is not None:
        state, process = st.Cancelling(text), None
    else:
        state = st.Cancelled(message=text)
        row = conn.execute(sa.select(m.flow_runs.c.pid, m.flow_runs.c.hostname)
                           .where(m.flow_runs.c.id == run_id)).first()
        process = (int(row.pid), str(row.hostname)) if row is not None and row.pid else None
    write_events(conn, [StateChanged(run_id, False, state, run_count)], strict=True)
    return state, process


RETRYABLE = (StateType.FAILED, StateType.CRASHED, StateType.CANCELLED)
"""The final states a flow run may be retried from."""


def retry_flow_run(conn: Connection, run_id: uuid.UUID, *, now: datetime) -> State:
    """Schedule an ended deployment run again, the same run (Prefect's retry): Scheduled, named
    AwaitingRetry, due now, held by no worker nor process, in its deployment's pool and queue,
    so a worker claims it and its run count goes up. InvalidTransition unless it ended Failed,
    Crashed or Cancelled; NotAllowedFor a run of no deployment (no worker knows its flow)."""
    fr = m.flow_runs.c
    query = sa.select(fr.state_type, fr.state_name, fr.run_count, fr.deployment_id).where(
        fr.id == run_id)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()  # two retries of one run are decided one at a time
    row = conn.execute(query).first()
    if row is None:
        raise NotFound(f"no flow run has the id {run_id}")
    if row.state_type not in [t.value for t in RETRYABLE]:
        raise InvalidTransition(f"flow run {run_id} is {row.state_name or 'without a state'}; "
                                "only a run that ended Failed, Crashed or Cancelled can be "
                                "retried")
    deps = m.deployments.c
    deployment = None if row.deployment_id is None else conn.execute(
        sa.select(deps.work_pool_id, deps.work_queue_name)
        .where(deps.id == row.deployment_id)).first()
    if deployment is None:
        raise NotAllowedFor(f"flow run {run_id} is not a run of a deployment"
                            + (" that still exists" if row.deployment_id else "")
                            + ", so no worker can run it again; run its flow again instead")
    state = st.AwaitingRetry(scheduled_time=now, message="retried by request")
    refused = write_events(conn, [StateChanged(run_id, False, state, int(row.run_count))],
                           expect={run_id: (row.state_type, row.state_name)})
    if refused:
        raise InvalidTransition(f"flow run {run_id} moved on while it was being retried")
    conn.execute(sa.update(m.flow_runs).where(fr.id == run_id).values(
        worker_id=None, process=None, pid=None, hostname=None, heartbeat=None,
        work_pool_id=deployment.work_pool_id, work_queue_name=deployment.work_queue_name))
    return state


def write_logs(conn: Connection, lines: Sequence[LogIn]) -> int:
    now = now_utc()
    events: list[Event] = [
        LogRecorded(line.flow_run_id, line.task_run_id, line.level, line.logger, line.message,
                    line.timestamp or now)
        for line in lines
    ]
    write_events(conn, events)
    return len(events)


_DELETABLE = (*st.FINAL_TYPES, StateType.SCHEDULED, StateType.PENDING, None)


def delete_flow_run(conn: Connection, run_id: uuid.UUID) -> None:
    """Delete a flow run that is not going on (ended, or waiting and held by no worker) with its
    states, task runs, log lines and pause inputs. Its subflow runs stay, without their parent; artifacts it
    made stay, without their run (as a report outlives its run). NotAllowedFor if it goes on."""
    fr = m.flow_runs.c
    row = conn.execute(sa.select(fr.state_type, fr.state_name, fr.worker_id)
                       .where(fr.id == run_id)).first()
    if row is None:
        raise NotFound(f"no flow run {run_id}")
    kind = StateType(row.state_type) if row.state_type else None
    if row.state_name == "Paused":  # its process waits for the resume
        raise NotAllowedFor("the flow run is paused; resume or cancel it first, then delete it")
    if kind not in _DELETABLE or (row.worker_id is not None and kind not in st.FINAL_TYPES):
        raise NotAllowedFor(f"the flow run is {kind.value.lower() if kind else 'not ended'}; "
                            "cancel it first, then delete it")
    tasks = sa.select(m.task_runs.c.id).where(m.task_runs.c.flow_run_id == run_id)
    conn.execute(sa.delete(m.logs).where(sa.or_(m.logs.c.flow_run_id == run_id,
                                                m.logs.c.task_run_id.in_(tasks))))
    conn.execute(sa.delete(m.states).where(sa.or_(m.states.c.flow_run_id == run_id,
                                                  m.states.c.task_run_id.in_(tasks))))
    conn.execute(sa.update(m.artifacts).where(m.artifacts.c.flow_run_id == run_id)
                 .values(flow_run_id=None, task_run_id=None))
    conn.execute(sa.update(m.flow_runs).where(fr.parent_task_run_id.in_(tasks))
                 .values(parent_task_run_id=None))
    conn.execute(sa.delete(m.task_runs).where(m.task_runs.c.flow_run_id == run_id))
    conn.execute(sa.update(m.flow_runs).where(fr.parent_flow_run_id == run_id)
                 .values(parent_flow_run_id=None))
    conn.execute(sa.delete(m.run_inputs).where(m.run_inputs.c.flow_run_id == run_id))
    conn.execute(sa.delete(m.flow_runs).where(fr.id == run_id))
