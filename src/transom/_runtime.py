"""The process-wide Runtime built from Settings: which recorder, which result stores.

Registered with `core.context.set_runtime_factory` when `transom` is imported; built on first use,
so importing transom reads no settings and opens no database.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable, Mapping

from transom.core.context import TaskSlots
from transom.core.recorder import BatchingRecorder, Event, EventSink
from transom.results import LocalResultStore, RemoteResultStore, open_result_store
from transom.settings import Settings

__all__ = ["SettingsRuntime", "build_runtime"]


class SettingsRuntime:
    """Runtime from settings: the embedded store recorder and result stores by location."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.default_serializer = settings.results_serializer
        self.task_runner_workers = settings.task_runner_max_workers
        self.persist_results = settings.results_persist
        self.log_level = logging.getLevelName(settings.logging_level.upper())
        if not isinstance(self.log_level, int):
            self.log_level = logging.INFO
        from transom.services.backend import reporting

        tuning = reporting(settings)
        self.flush_timeout = tuning.flush_timeout
        self.recorder = BatchingRecorder(
            self._make_sink, interval=tuning.interval, heartbeat=settings.run_heartbeat_interval,
            close_timeout=self.flush_timeout,
            # A server that cannot take events is waited for a few seconds, not the whole flush
            # timeout; what it did not take is spooled for the next process that reaches it.
            patience=tuning.patience, on_unsent=self._keep if settings.api_url else None,
            fail_exit_on_loss=True)
        self._stores: dict[str, LocalResultStore | RemoteResultStore] = {}
        self._lock = threading.Lock()

    def _make_sink(self) -> EventSink:
        # Runs on the recorder's thread: SQLAlchemy or httpx is imported there, off the
        # caller's path. One try per write: the recorder owns retrying (and keeps the events).
        from transom.services import BackendSink, open_backend

        return BackendSink(open_backend(self.settings, retries=0, http_timeout=15.0))

    def _keep(self, events: list[Event]) -> bool:
        from transom.services import spool

        url = self.settings.api_url or ""
        try:
            path = spool.keep(self.settings.home, url, events)
        except OSError as exc:
            print(f"transom: the server at {url} did not answer and {len(events)} events could "
                  f"not be kept ({exc}); they are lost", file=sys.stderr)
            return False
        print(f"transom: the server at {url} did not answer; {len(events)} events kept in "
              f"{path}, delivered the next time Transom reaches it", file=sys.stderr)
        return True

    def result_store(self, location: str | None = None) -> LocalResultStore | RemoteResultStore:
        where = location or self.settings.results_storage_resolved
        with self._lock:
            store = self._stores.get(where)
            if store is None:
                store = self._stores[where] = open_result_store(where)
            return store


    def task_slots(self, tags: list[str], say: Callable[[str], None]) -> TaskSlots:
        from transom.services.slots import TagSlots, limiter

        return TagSlots(limiter(self.settings), tags, say)


def build_runtime(environ: Mapping[str, str] | None = None) -> SettingsRuntime:
    return SettingsRuntime(Settings.load(environ))
