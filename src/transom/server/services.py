"""The server's background services: the scheduler, late runs, and runs of lost workers.

Each is a loop in a daemon thread with its own interval (settings `server_*`), started with the
app and stopped with it. Every pass is one short write transaction and idempotent, so several
servers on one database, or a restarted one, never create a run twice or end one twice.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from transom.core.states import now_utc
from transom.settings import Settings
from transom.store import Database

__all__ = [
    "Service",
    "Services",
    "detect_late_runs",
    "detect_lost_runs",
    "housekeeping",
    "run_scheduler",
    "start_services",
]

logger = logging.getLogger("transom.server.services")


def run_scheduler(db: Database, settings: Settings, now: datetime | None = None) -> int:
    """Make the scheduled runs of the next `server_scheduler_window` seconds."""
    from transom.store.deployments import schedule_runs

    with db.write() as conn:
        return schedule_runs(conn, now=now or now_utc(), window=settings.server_scheduler_window)


def detect_late_runs(db: Database, settings: Settings, now: datetime | None = None) -> int:
    from transom.store.workers import mark_late_runs

    with db.write() as conn:
        return mark_late_runs(conn, now=now or now_utc(), late_after=settings.server_late_after)


def detect_lost_runs(db: Database, settings: Settings, now: datetime | None = None) -> int:
    from transom.store.workers import crash_runs_of_lost_workers

    with db.write() as conn:
        return crash_runs_of_lost_workers(conn, now=now or now_utc(),
                                          worker_timeout=settings.server_worker_timeout)


def housekeeping(db: Database, settings: Settings, now: datetime | None = None) -> None:
    """One pass of every service (what a worker without a server does now and then)."""
    now = now or now_utc()
    run_scheduler(db, settings, now)
    detect_late_runs(db, settings, now)
    detect_lost_runs(db, settings, now)


class Service:
    """`step` every `interval` seconds in a daemon thread until `stop()`; a failing pass is
    logged (once per kind of failure in a row) and the loop goes on."""

    def __init__(self, name: str, interval: float, step: Callable[[], object]) -> None:
        self.name = name
        self.interval = interval
        self.step = step
        self.passes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"transom-{name}", daemon=True)
        self._last_error = ""

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.step()
                self._last_error = ""
            except Exception as exc:
                text = f"{type(exc).__name__}: {exc}"
                if text != self._last_error:
                    logger.warning("%s: %s (will try again in %gs)", self.name, text, self.interval)
                self._last_error = text
            self.passes += 1
            self._stop.wait(self.interval)


class Services:
    def __init__(self, services: list[Service]) -> None:
        self.services = services

    def start(self) -> Services:
        for service in self.services:
            service.start()
        return self

    def stop(self) -> None:
        for service in self.services:
            service._stop.set()
        for service in self.services:
            service.stop()


def start_services(db: Database, settings: Settings) -> Services:
    return Services([
        Service("scheduler", settings.server_scheduler_interval,
                lambda: run_scheduler(db, settings)),
        Service("late-runs", settings.server_services_interval,
                lambda: detect_late_runs(db, settings)),
        Service("lost-runs", settings.server_services_interval,
                lambda: detect_lost_runs(db, settings)),
    ]).start()
