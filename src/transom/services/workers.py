"""Workers' polls and listing, and the background work a server does for them (scheduling,
late runs, runs of lost workers), which an embedded backend does for whoever polls it."""

from __future__ import annotations

from datetime import datetime

from transom.core.recorder import current_process
from transom.platform.processes import process_alive
from transom.schemas import PollResult, WorkerPoll, WorkerRead
from transom.services.context import Context
from transom.store import deployments, pauses, workers

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
        """Make the scheduled runs of the next `server_scheduler_window` seconds. The times are
        computed under a read; the write lock is held only to insert the runs that are new."""
        now = now or self.ctx.clock()
        with self.ctx.db.read() as conn:
            due = deployments.due_runs(conn, now=now, window=self.ctx.scheduler_window)
        if not due:
            return 0
        with self.ctx.db.write() as conn:
            return deployments.insert_due_runs(conn, due, now=now)

    def mark_late_runs(self, now: datetime | None = None) -> int:
        with self.ctx.db.write() as conn:
            return workers.mark_late_runs(conn, now=now or self.ctx.clock(),
                                          late_after=self.ctx.settings.server_late_after)

    def crash_runs_of_lost_workers(self, now: datetime | None = None) -> int:
        with self.ctx.db.write() as conn:
            return workers.crash_runs_of_lost_workers(conn, now=now or self.ctx.clock(),
                                                      worker_timeout=self.ctx.worker_timeout)

    def crash_runs_without_heartbeat(self, now: datetime | None = None) -> int:
        """Runs no worker holds whose process died (gone from this machine, or silent past
        `run_heartbeat_timeout`) end Crashed. Looked for with a read; written only if found."""
        with self.ctx.db.read() as conn:
            found = workers.dead_runs(conn, now=now or self.ctx.clock(),
                                      timeout=self.ctx.settings.run_heartbeat_timeout,
                                      hostname=current_process().hostname, alive=process_alive)
        if not found:
            return 0
        with self.ctx.db.write() as conn:
            return workers.end_dead_runs(conn, found)

    def expire_pauses(self, now: datetime | None = None) -> int:
        """Runs paused past their timeout end Failed with the reason: a Suspended one at once,
        a Paused one `run_heartbeat_timeout` later (its own process, if it lives, fails it
        first)."""
        with self.ctx.db.write() as conn:
            return pauses.expire_pauses(conn, now=now or self.ctx.clock(),
                                        grace=self.ctx.settings.run_heartbeat_timeout)

    def housekeeping(self, now: datetime | None = None) -> None:
        """One pass of the scheduler, of the late, lost and dead run detection, and of the
        pauses' timeouts."""
        now = now or self.ctx.clock()
        self.schedule_runs(now)
        self.mark_late_runs(now)
        self.crash_runs_of_lost_workers(now)
        self.crash_runs_without_heartbeat(now)
        self.expire_pauses(now)
