"""The transition table applied to every state written: a `Gate` decides which states of a batch
may be stored, as `sink.write_events` builds their rows.

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
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from transom.core.recorder import StateChanged
from transom.core.states import StateType, check_transition
from transom.exceptions import NotFound
from transom.store import models as m

__all__ = ["Gate", "current_states"]

logger = logging.getLogger("transom.store")

_UNKNOWN = object()  # a run this batch does not create and the database does not have


def current_states(conn: Connection, run_ids: set[uuid.UUID], *,
                   is_task: bool) -> dict[uuid.UUID, tuple[StateType | None, str | None]]:
    """The stored state (type, name) of each run of `run_ids` that exists; on PostgreSQL the rows
    stay locked until the transaction ends, so two writers of one run decide one at a time."""
    if not run_ids:
        return {}
    if conn.dialect.name == "sqlite":  # the recorder's path: straight to the driver, ids as hex
        ids = [run_id.hex for run_id in run_ids]
        sql = (f"SELECT id, state_type, state_name FROM {'task_runs' if is_task else 'flow_runs'}"
               f" WHERE id IN ({', '.join('?' * len(ids))})")
        return {uuid.UUID(row[0]): (StateType(row[1]) if row[1] else None, row[2])
                for row in conn.exec_driver_sql(sql, tuple(ids))}
    table = m.task_runs if is_task else m.flow_runs
    query = sa.select(table.c.id, table.c.state_type, table.c.state_name).where(
        table.c.id.in_(list(run_ids))).order_by(table.c.id)  # one lock order: no deadlock
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    return {uuid.UUID(str(row.id)): (StateType(row.state_type) if row.state_type else None,
                                     row.state_name)
            for row in conn.execute(query)}


class Gate:
    """Decides, state by state, which states of one batch are written (see `sink.write_events`,
    whose loop asks `known` first: the state type of each run as of the states so far).

    A state of a run the batch did not create and has not changed yet is `hold`-en; `resolve`
    reads the stored states of those runs in one query and hands their states back to go round
    the loop once more, now that their runs are known. A refused state is raised (`strict`) or
    left out and logged (`finish`). `expect`: run id -> the (type, name) its caller saw; its
    state is written only if it is still that one (two servers acting on one run write it once).
    """

    absent: Any = _UNKNOWN

    def __init__(self, expect: Mapping[uuid.UUID, tuple[str, str]] | None = None,
                 strict: bool = False) -> None:
        self.expect = expect
        self.strict = strict
        # Keyed by the caller's key of a run (its id as the database driver takes it).
        self.known: dict[Any, StateType | None] = {}
        self.waiting: dict[Any, list[StateChanged]] = {}
        self.refused: list[tuple[StateChanged, str]] = []
        self._resolved = False

    def created(self, key: Any) -> None:
        if key not in self.waiting:
            self.known.setdefault(key, None)

    def hold(self, event: StateChanged, current: Any, key: Any) -> None:
        """A state not decided in the loop: its run is not known yet, or the table refuses it."""
        if current is not _UNKNOWN:
            self._refuse(event, current)
        elif self._resolved:
            self._left_out(event, f"no {'task' if event.is_task else 'flow'} run has the id "
                                  f"{event.run_id}", NotFound)
        else:
            self.waiting.setdefault(key, []).append(event)

    def resolve(self, conn: Connection) -> list[StateChanged]:
        """The held states, in order, once their runs' stored states are known; [] after."""
        if self._resolved or not self.waiting:
            self._resolved = True
            return []
        self._resolved = True
        flows = {held[0].run_id for held in self.waiting.values() if not held[0].is_task}
        tasks = {held[0].run_id for held in self.waiting.values() if held[0].is_task}
        stored = current_states(conn, flows, is_task=False)
        stored.update(current_states(conn, tasks, is_task=True))
        again: list[StateChanged] = []
        for key, held in self.waiting.items():
            run_id = held[0].run_id
            if run_id not in stored:
                for event in held:
                    self.hold(event, _UNKNOWN, key)
                continue
            kind, name = stored[run_id]
            seen = self.expect.get(run_id) if self.expect is not None else None
            if seen is not None and (_value(kind), name) != seen:
                self.refused.extend((event, "its run moved on meanwhile") for event in held)
                continue
            self.known[key] = kind
            again.extend(held)
        return again

    def finish(self) -> list[tuple[StateChanged, str]]:
        """The states left out, with why (each also logged, but those of `expect`-ed runs)."""
        for event, reason in self.refused:
            if self.expect is None or event.run_id not in self.expect:
                logger.warning("state %s of %s run %s not recorded: %s", event.state.name,
                               "task" if event.is_task else "flow", event.run_id, reason)
        return self.refused

    def _refuse(self, event: StateChanged, current: StateType | None) -> None:
        if self.strict:
            check_transition(current, event.state.type)  # raises with the reason
        self.refused.append((event, f"{current.value if current else 'a new run'} -> "
                                    f"{event.state.type.value} is not allowed"))

    def _left_out(self, event: StateChanged, reason: str, error: type[Exception]) -> None:
        if self.strict:
            raise error(reason)
        self.refused.append((event, reason))


def _value(state_type: StateType | None) -> str | None:
    return state_type.value if state_type is not None else None
