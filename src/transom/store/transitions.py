"""The transition table applied to every state written: `admit` decides which states of a batch
may be stored, before `sink.write_events` writes them.

Every state a database receives passes here: engine events (embedded or `POST /api/events`),
proposals (`/set_state`), cancels, worker claims, late and lost-run marking, deployment runs.
A state is admitted when `core.states.TRANSITIONS` allows it after the run's current state (the
one stored, or the one before it in the same batch), or when it is forced (`StateChanged.force`:
an operator's override, documented on `StateIn.force`). A refused state is either raised
(`strict`, for a caller waiting for the answer) or left out with a warning, so that one stale
state never costs the rest of a batch (a run's other states, its logs, other runs).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from transom.core.recorder import Event, FlowRunCreated, StateChanged, TaskRunCreated
from transom.core.states import TRANSITIONS, StateType, check_transition
from transom.exceptions import NotFound
from transom.store import models as m

__all__ = ["Admitted", "admit", "current_states"]

logger = logging.getLogger("transom.store")

_UNKNOWN = object()  # a run this batch does not create and the database does not have


class Admitted:
    """What `admit` decided: the events to write and the states left out (with why)."""

    __slots__ = ("events", "refused")

    def __init__(self, events: Sequence[Event], refused: list[tuple[StateChanged, str]]) -> None:
        self.events = events
        self.refused = refused


def current_states(conn: Connection, run_ids: set[uuid.UUID], *,
                   is_task: bool) -> dict[uuid.UUID, tuple[StateType | None, str | None]]:
    """The stored state (type, name) of each run of `run_ids` that exists; on PostgreSQL the rows
    stay locked until the transaction ends, so two writers of one run decide one at a time."""
    if not run_ids:
        return {}
    table = m.task_runs if is_task else m.flow_runs
    query = sa.select(table.c.id, table.c.state_type, table.c.state_name).where(
        table.c.id.in_(list(run_ids))).order_by(table.c.id)  # one lock order: no deadlock
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    return {uuid.UUID(str(row.id)): (StateType(row.state_type) if row.state_type else None,
                                     row.state_name)
            for row in conn.execute(query)}


def admit(conn: Connection, events: Sequence[Event], *, strict: bool = False,
          expect: Mapping[uuid.UUID, tuple[str, str]] | None = None) -> Admitted:
    """The events of `events` that may be written, in order.

    `strict`: raise InvalidTransition (NotFound for a missing run) instead of leaving a state
    out. `expect`: run id -> the (type, name) the caller saw; the run's state is written only if
    it is still that one (so two servers acting on one run write it once).
    """
    known: dict[uuid.UUID, Any] = {}  # run id -> its state type as of the events so far
    asked_flows: set[uuid.UUID] = set()
    asked_tasks: set[uuid.UUID] = set()
    for event in events:
        if isinstance(event, StateChanged):
            if event.run_id not in known:
                (asked_tasks if event.is_task else asked_flows).add(event.run_id)
        elif isinstance(event, FlowRunCreated | TaskRunCreated):
            known.setdefault(event.id, None)
    stored: dict[uuid.UUID, tuple[StateType | None, str | None]] = {}
    stored.update(current_states(conn, asked_flows, is_task=False))
    stored.update(current_states(conn, asked_tasks, is_task=True))
    for run_id in asked_flows | asked_tasks:
        known[run_id] = stored[run_id][0] if run_id in stored else _UNKNOWN
    kept: list[Event] = []
    refused: list[tuple[StateChanged, str]] = []
    for event in events:
        if not isinstance(event, StateChanged):
            kept.append(event)
            continue
        run_id = event.run_id
        current = known[run_id]
        reason = None
        if current is _UNKNOWN:
            reason = f"no {'task' if event.is_task else 'flow'} run has the id {run_id}"
            if strict:
                raise NotFound(reason)
        elif expect is not None and run_id in expect and run_id in stored \
                and (_value(stored[run_id][0]), stored[run_id][1]) != expect[run_id]:
            reason = "its run moved on meanwhile"
        elif not event.force and event.state.type not in TRANSITIONS[current]:
            if strict:
                check_transition(current, event.state.type)  # raises with the reason
            reason = (f"{current.value if current else 'a new run'} -> "
                      f"{event.state.type.value} is not allowed")
        if reason is not None:
            refused.append((event, reason))
            continue
        known[run_id] = event.state.type
        kept.append(event)
    for event, reason in refused:
        if expect is None or event.run_id not in expect:
            logger.warning("state %s of %s run %s not recorded: %s", event.state.name,
                           "task" if event.is_task else "flow", event.run_id, reason)
    return Admitted(kept, refused)


def _value(state_type: StateType | None) -> str | None:
    return state_type.value if state_type is not None else None
