"""ApiSink: the recorder's sink when runs are reported to a server (`TRANSOM_API_URL`).

Each batch of run events is one POST /api/events. While the server is away, the BatchingRecorder
keeps the events (bounded) and retries with backoff, so a server restart loses nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from transom.client.http import TransomClient
from transom.core.recorder import Event
from transom.settings import Settings

__all__ = ["ApiSink"]


class ApiSink:
    def __init__(self, settings: Settings) -> None:
        # One try per write: the recorder owns retrying (and keeps the events meanwhile).
        self.client = TransomClient.from_settings(settings, retries=0, timeout=15.0)
        # A failed send may have been written before its answer was lost (a server killed
        # mid-request): the recorder sends those events again, marked so none is stored twice.
        self.resending = False

    def write(self, events: Sequence[Event]) -> None:
        try:
            self.client.send_events(events, resent=self.resending)
        except BaseException:
            self.resending = True
            raise
        self.resending = False

    def close(self) -> None:
        self.client.close()
