"""Flows, flow runs, task runs, their states and logs, and batches of run events."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from transom.core.recorder import Event, current_process
from transom.core.states import StateType
from transom.exceptions import NotFound, UserInputError, WriteConflict
from transom.platform.processes import stop_process_tree
from transom.schemas import (
    FlowRead,
    FlowRunCreate,
    FlowRunRead,
    LogIn,
    LogLine,
    Page,
    RunCursor,
    StateIn,
    StateRecord,
    TaskRunRead,
)
from transom.services.context import Context
from transom.store import deployments, queries, runs
from transom.store.sink import write_batch

__all__ = ["MAX_FILTER_TEXT", "FlowRuns"]

MAX_FILTER_TEXT = 255
"""Characters a run list's tag or name/id prefix may have (a run's name and a tag fit)."""


class FlowRuns:
    """The operations on recorded runs; mixed into the embedded backend."""

    ctx: Context

    def health(self) -> dict[str, str]:
        """The database answers (raises DatabaseError if not)."""
        with self.ctx.db.read() as conn:
            queries.ping(conn)
        return {"status": "ok", "database": self.ctx.db.dialect}

    def list_flows(self, *, limit: int = 100, offset: int = 0) -> list[FlowRead]:
        with self.ctx.db.read() as conn:
            return queries.list_flows(conn, limit=limit, offset=offset)

    def create_flow_run(self, body: FlowRunCreate) -> FlowRunRead:
        """A new flow run, Pending unless `body.state` says otherwise."""
        return self._create_flow_run(body, self.ctx.db.write)

    def create_flow_run_now(self, body: FlowRunCreate) -> FlowRunRead:
        """`create_flow_run` only if the write lock is free at once (WriteWouldWait if not): for
        the server's event loop, which must never wait for a lock."""
        return self._create_flow_run(body, self.ctx.db.write_now)

    def _create_flow_run(self, body: FlowRunCreate,
                         begin: Callable[[], AbstractContextManager[Any]]) -> FlowRunRead:
        flow_ids = self._known_flow(body.flow_name)
        try:
            with begin() as conn:
                run = runs.create_flow_run(conn, body, flow_ids)
        except WriteConflict:
            if not self.ctx.db.flow_ids.pop(body.flow_name, None):
                raise
            # The flow we knew is gone (`transom db reset` under us): look it up, or create it.
            flow_ids = {}
            with begin() as conn:
                run = runs.create_flow_run(conn, body, flow_ids)
        self.ctx.db.flow_ids.update(flow_ids)  # committed now
        return run

    def _known_flow(self, name: str) -> dict[str, uuid.UUID]:
        # Saves looking the flow up: the busiest write of the API.
        known = self.ctx.db.flow_ids
        return {name: known[name]} if name in known else {}

    def list_flow_runs(self, *, flow_name: str | None = None,
                       state: StateType | str | None = None, since: datetime | None = None,
                       limit: int = 50, offset: int = 0, after: str | None = None,
                       before: str | None = None,
                       parent_flow_run_id: uuid.UUID | None = None,
                       deployment: str | uuid.UUID | None = None, work_pool: str | None = None,
                       tag: str | None = None, until: datetime | None = None,
                       prefix: str | None = None) -> Page[FlowRunRead]:
        """Flow runs, newest first, and how many match in all: of a flow, in a state type,
        the subflow runs of `parent_flow_run_id`, of a deployment (id or `flow/name`), in a
        work pool (name; NotFound for an unknown one of either), carrying a tag, created in
        [since, until), whose name (any case) or id starts with `prefix`. Keyset paging:
        `after` a page's next_cursor the older page, `before` its prev_cursor the newer one
        (no OFFSET); both, the runs between the two, from the newest."""
        try:
            after_key = RunCursor.decode(after) if after is not None else None
            before_key = RunCursor.decode(before) if before is not None else None
        except ValueError as exc:
            raise UserInputError(str(exc)) from None
        for what, text in (("tag", tag), ("name or id prefix", prefix)):
            if text is not None and len(text) > MAX_FILTER_TEXT:
                raise UserInputError(f"the {what} is longer than {MAX_FILTER_TEXT} characters")
        with self.ctx.db.read() as conn:
            where = queries.RunFilter(
                flow_name=flow_name, state=state, since=since, until=until,
                parent=parent_flow_run_id, tag=tag or None, prefix=prefix or None,
                deployment_id=(deployments.resolve_deployment_id(conn, deployment)
                               if deployment else None),
                work_pool_id=deployments.work_pool_id(conn, work_pool) if work_pool else None)
            # The count first: it tells the page's query which way round to read (FEW_MATCHES).
            total = queries.count_flow_runs(conn, where=where)
            # One more than a page: whether another page follows, without counting.
            items = queries.list_flow_runs(conn, limit=limit + 1, offset=offset, where=where,
                                           after=after_key, before=before_key, matches=total)
        more = len(items) > limit
        if before is not None and after is None:  # newest first: the extra is the newest
            items = items[1:] if more else items
            newer, older = more, bool(items)
        else:
            items = items[:limit]
            newer, older = (after is not None or offset > 0) and bool(items), more
        return Page[FlowRunRead](
            items=items, total=total, limit=limit, offset=offset,
            next_cursor=RunCursor.of(items[-1]).encode() if older else None,
            prev_cursor=RunCursor.of(items[0]).encode() if newer else None)

    def read_flow_run(self, id_or_prefix: str | uuid.UUID) -> FlowRunRead:
        """A flow run by id, or by a unique prefix of its id."""
        with self.ctx.db.read() as conn:
            return queries.read_flow_run(conn, id_or_prefix)

    def set_flow_run_state(self, run_id: uuid.UUID, state: StateIn) -> StateRecord:
        """Propose a state: InvalidTransition if the table forbids it, ClaimLost if the worker
        reporting it no longer holds the run."""
        with self.ctx.db.write() as conn:
            runs.set_run_state(conn, run_id, state)
            return queries.list_states(conn, flow_run_id=run_id)[-1]

    def cancel_flow_run(self, id_or_prefix: str | uuid.UUID,
                        message: str | None = None) -> StateRecord:
        """A run a worker holds goes to Cancelling (the worker stops its process); any other ends
        Cancelled at once, and its process, if it runs on this machine, is stopped."""
        with self.ctx.db.write() as conn:
            run_id = queries.resolve_flow_run_id(conn, id_or_prefix)
            _, process = runs.cancel_flow_run(conn, run_id, message=message)
            record = queries.list_states(conn, flow_run_id=run_id)[-1]
        if process is not None and process[1] == current_process().hostname:
            # A run no worker holds, e.g. a `python flow.py`: its process is stopped here when
            # it runs on this machine (the run has ended either way).
            stop_process_tree(process[0], grace=self.ctx.settings.worker_cancel_grace)
        return record

    def retry_flow_run(self, id_or_prefix: str | uuid.UUID) -> StateRecord:
        """Schedule an ended deployment run again, the same run (AwaitingRetry, due now) for a
        worker of its deployment's pool; InvalidTransition unless it ended Failed, Crashed or
        Cancelled, NotAllowedFor a run of no deployment."""
        with self.ctx.db.write() as conn:
            run_id = queries.resolve_flow_run_id(conn, id_or_prefix)
            runs.retry_flow_run(conn, run_id, now=self.ctx.clock())
            return queries.list_states(conn, flow_run_id=run_id)[-1]

    def delete_flow_run(self, id_or_prefix: str | uuid.UUID) -> FlowRunRead:
        """Delete a flow run that is not going on, with its states, task runs and logs (what
        was deleted is returned); NotAllowedFor one that is running or held by a worker."""
        with self.ctx.db.write() as conn:
            run = queries.read_flow_run(conn, id_or_prefix)
            runs.delete_flow_run(conn, run.id)
        return run

    def flow_run_states(self, run_id: uuid.UUID) -> list[StateRecord]:
        with self.ctx.db.read() as conn:
            queries.read_flow_run(conn, run_id)
            return queries.list_states(conn, flow_run_id=run_id)

    def flow_run_task_runs(self, run_id: uuid.UUID) -> list[TaskRunRead]:
        with self.ctx.db.read() as conn:
            queries.read_flow_run(conn, run_id)
            return queries.list_task_runs(conn, run_id)

    def flow_run_logs(self, run_id: uuid.UUID, *, limit: int = 1000, offset: int = 0,
                      min_level: int | None = None, task_run_id: uuid.UUID | None = None,
                      text: str | None = None, after_id: int | None = None,
                      task_key: str | None = None, newest: bool = False) -> Page[LogLine]:
        """A flow run's log lines and its task runs', oldest first; only those at `min_level`
        or above, of one task run, of the runs of one task (`task_key`), or holding `text`
        (case-insensitive) when asked. With
        `after_id`: the lines written after that one, in the order written (a live tail), and
        `total` counts those. `newest`: the last `limit` lines whatever `offset` says (the page
        says which offset that is), read from the end."""
        with self.ctx.db.read() as conn:
            queries.read_flow_run(conn, run_id)
            if task_run_id is not None:
                task_run = queries.read_task_run(conn, task_run_id)
                if task_run.flow_run_id != run_id:
                    raise NotFound(f"task run {task_run_id} is not one of flow run {run_id}'s")
            where: dict[str, Any] = {"task_run_id": task_run_id, "min_level": min_level,
                                     "text": text, "after_id": after_id, "task_key": task_key}
            total = queries.count_logs(conn, run_id, **where)
            if newest and after_id is None:
                offset = max(total - limit, 0)
                lines = queries.list_logs(conn, run_id, limit=limit, newest=True, **where)
            else:
                lines = queries.list_logs(conn, run_id, limit=limit, offset=offset, **where)
        return Page[LogLine](items=lines, total=total, limit=limit, offset=offset)

    def flow_run_log_offset(self, run_id: uuid.UUID, *, min_level: int) -> int | None:
        """Where the run's first log line at `min_level` or above is in its logs (how many come
        before it), or None if there is none: "jump to the first error"."""
        with self.ctx.db.read() as conn:
            queries.read_flow_run(conn, run_id)
            return queries.first_log_at_level(conn, run_id, min_level)

    def read_task_run(self, task_run_id: uuid.UUID) -> TaskRunRead:
        with self.ctx.db.read() as conn:
            return queries.read_task_run(conn, task_run_id)

    def task_run_states(self, task_run_id: uuid.UUID) -> list[StateRecord]:
        with self.ctx.db.read() as conn:
            queries.read_task_run(conn, task_run_id)
            return queries.list_states(conn, task_run_id=task_run_id)

    def set_task_run_state(self, task_run_id: uuid.UUID, state: StateIn) -> StateRecord:
        with self.ctx.db.write() as conn:
            runs.set_run_state(conn, task_run_id, state, is_task=True)
            return queries.list_states(conn, task_run_id=task_run_id)[-1]

    def write_logs(self, lines: Sequence[LogIn]) -> int:
        """Write log lines; returns how many."""
        with self.ctx.db.write() as conn:
            return runs.write_logs(conn, lines)

    def send_events(self, events: Sequence[Event], *, resent: bool = False) -> int:
        """Runs, states and logs in one batch (how flows report); `resent` when an earlier send
        of some of them may have been stored already. States the transition table refuses are
        left out (logged); returns how many events were written."""
        return write_batch(self.ctx.db, events, resent=resent)
