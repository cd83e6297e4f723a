"""The server's background services: the scheduler, late runs, runs of lost workers, and runs
whose own process died (no worker).

Each is a loop in a daemon thread with its own interval (settings `server_*`), started with the
app and stopped with it. Every pass is one short write transaction and idempotent, so several
servers on one database, or a restarted one, never create a run twice or end one twice.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from transom.services.embedded import EmbeddedBackend
from transom.settings import Settings

__all__ = ["Service", "Services", "start_services"]

logger = logging.getLogger("transom.server.services")


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


def start_services(backend: EmbeddedBackend, settings: Settings) -> Services:
    return Services([
        Service("scheduler", settings.server_scheduler_interval, backend.schedule_runs),
        Service("late-runs", settings.server_services_interval, backend.mark_late_runs),
        Service("lost-runs", settings.server_services_interval,
                backend.crash_runs_of_lost_workers),
        Service("dead-runs", settings.server_services_interval,
                backend.crash_runs_without_heartbeat),
        Service("pause-timeouts", settings.server_services_interval, backend.expire_pauses),
    ]).start()
