"""The process-wide Runtime built from Settings: which recorder, which result stores.

Registered with `core.context.set_runtime_factory` when `transom` is imported; built on first use,
so importing transom reads no settings and opens no database.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping

from transom.core.recorder import BatchingRecorder, EventSink
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
        # Through the API, events wait out a server outage of a minute or more (bounded buffer);
        # a run's end then waits that long for them to be delivered.
        self.flush_timeout = 120.0 if settings.api_url else 30.0
        self.recorder = BatchingRecorder(self._make_sink,
                                         interval=0.1 if settings.api_url else 0.05,
                                         close_timeout=self.flush_timeout)
        self._stores: dict[str, LocalResultStore | RemoteResultStore] = {}
        self._lock = threading.Lock()

    def _make_sink(self) -> EventSink:
        # Runs on the recorder's thread: SQLAlchemy or httpx is imported there, off the
        # caller's path. With TRANSOM_API_URL runs go to that server, else to the embedded store.
        sink: EventSink
        if self.settings.api_url:
            from transom.client.sink import ApiSink

            sink = ApiSink(self.settings)
        else:
            from transom.store.sink import StoreSink

            sink = StoreSink(self.settings.database_url_resolved,
                             busy_timeout=self.settings.sqlite_busy_timeout)
        return sink

    def result_store(self, location: str | None = None) -> LocalResultStore | RemoteResultStore:
        where = location or self.settings.results_storage_resolved
        with self._lock:
            store = self._stores.get(where)
            if store is None:
                store = self._stores[where] = open_result_store(where)
            return store


def build_runtime(environ: Mapping[str, str] | None = None) -> SettingsRuntime:
    return SettingsRuntime(Settings.load(environ))
