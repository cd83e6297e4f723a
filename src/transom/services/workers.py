"""Workers' polls and listing, and the background work a server does for them (scheduling,
late runs, runs of lost workers), which an embedded backend does for whoever polls it."""

from __future__ import annotations

from datetime import datetime

from transom.schemas import PollResult, WorkerPoll, WorkerRead
from transom.services.context import Context
from transom.store import deployments, workers

__all__ = ["Workers"]


class Workers:
    ctx: Context

    def poll_worker(self, body: WorkerPoll) -> PollResult:
        """A worker's heartbeat: settles runs it no longer has, names its runs to cancel, and
        claims up to `body.limit` due runs for it, atomically."""
        with self.ctx.db.write() as conn:
            return workers.poll(conn, body, now=self.ctx.clock(),
                                worker_timeout=self.ctx.worker_timeout)

    def list_workers(self, *, work_pool: str | None = None) -> list[WorkerRead]:
        with self.ctx.db.read() as conn:
            return workers.list_workers(conn, work_pool=work_pool, now=self.ctx.clock(),
                                        worker_timeout=self.ctx.worker_timeout)

    def schedule_runs(self, now: datetime | None = None) -> int:
        """Make the scheduled runs of the next `server_scheduler_window` seconds."""
        with self.ctx.db.write() as conn:
            return deployments.schedule_runs(conn, now=now or self.ctx.clock(),
                                             window=self.ctx.scheduler_window)

    def mark_late_runs(self, now: datetime | None = None) -> int:
        with self.ctx.db.write() as conn:
            return workers.mark_late_runs(conn, now=now or self.ctx.clock(),
                                          late_after=self.ctx.settings.server_late_after)

    def crash_runs_of_lost_workers(self, now: datetime | None = None) -> int:
        with self.ctx.db.write() as conn:
            return workers.crash_runs_of_lost_workers(conn, now=now or self.ctx.clock(),
                                                      worker_timeout=self.ctx.worker_timeout)

    def housekeeping(self, now: datetime | None = None) -> None:
        """One pass of the scheduler and of the late and lost run detection."""
        now = now or self.ctx.clock()
        self.schedule_runs(now)
        self.mark_late_runs(now)
        self.crash_runs_of_lost_workers(now)
