"""What every service operation works with: the database, the settings and a clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from transom.core.states import now_utc
from transom.settings import Settings
from transom.store import Database

__all__ = ["Context"]


@dataclass(frozen=True)
class Context:
    """The database, the settings and the clock of one backend (tests pass their own clock)."""

    db: Database
    settings: Settings
    clock: Callable[[], datetime] = field(default=now_utc)

    @property
    def worker_timeout(self) -> float:
        return self.settings.server_worker_timeout

    @property
    def scheduler_window(self) -> float:
        return self.settings.server_scheduler_window
