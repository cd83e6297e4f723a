"""Pauses: a running flow run pauses or suspends, and a resume carries its input on (checked
against the pause's schema); a forgotten pause times out in `Workers.housekeeping`."""

from __future__ import annotations

import uuid

from transom.schemas import PauseCreate, PauseRead, ResumeIn, StateRecord
from transom.services.context import Context
from transom.store import pauses as store
from transom.store import queries

__all__ = ["Pauses"]


class Pauses:
    ctx: Context

    def pause_flow_run(self, run_id: uuid.UUID, body: PauseCreate) -> StateRecord:
        """A Running run goes Paused (Suspended with `reschedule`); InvalidTransition if it is
        not Running."""
        with self.ctx.db.write() as conn:
            store.pause_flow_run(conn, run_id, body, now=self.ctx.clock())
            return queries.list_states(conn, flow_run_id=run_id)[-1]

    def read_pause(self, run_id: uuid.UUID, key: str) -> PauseRead:
        """A run's pause by its key, with the input of its resume once resumed."""
        with self.ctx.db.read() as conn:
            return store.read_pause(conn, run_id, key)

    def waiting_pause(self, run_id: uuid.UUID) -> PauseRead | None:
        """A paused run's pause waiting for its resume (its input's schema), or None: for the
        run's page."""
        with self.ctx.db.read() as conn:
            return store.waiting_pause(conn, run_id)

    def resume_flow_run(self, id_or_prefix: str | uuid.UUID,
                        body: ResumeIn | None = None) -> StateRecord:
        """A Paused run goes Running, a Suspended one Scheduled (Resuming) for its pool's
        workers; InvalidTransition if it is not paused, RunInputInvalid if the input does not
        match the pause's schema (the run stays paused)."""
        with self.ctx.db.write() as conn:
            run_id = queries.resolve_flow_run_id(conn, id_or_prefix)
            store.resume_flow_run(conn, run_id, body or ResumeIn(), now=self.ctx.clock())
            return queries.list_states(conn, flow_run_id=run_id)[-1]
