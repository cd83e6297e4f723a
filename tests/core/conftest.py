"""Core tests run the real engine with the recorder seam swapped for an in-memory one."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from transom.core.context import use_runtime
from transom.core.recorder import (
    Event,
    FlowRunCreated,
    ListRecorder,
    LogRecorded,
    StateChanged,
    TaskRunCreated,
)
from transom.results import LocalResultStore


class MemoryRuntime:
    """A Runtime whose recorder keeps events in a list; results go to a real folder."""

    def __init__(self, storage: Path) -> None:
        self.recorder = ListRecorder()
        self.default_serializer = "pickle"
        self.task_runner_workers = None
        self.log_level = logging.INFO
        self.persist_results = False
        self.flush_timeout = 5.0
        self.storage = storage

    def result_store(self, location: str | None = None) -> LocalResultStore:
        return LocalResultStore(location or self.storage)

    def task_slots(self, tags: list[str], say: Any) -> None:
        return None  # no concurrency limits in memory

    # -- views for assertions ---------------------------------------------------------------
    @property
    def events(self) -> list[Event]:
        return self.recorder.events

    def flow_runs(self) -> list[FlowRunCreated]:
        return [e for e in self.events if isinstance(e, FlowRunCreated)]

    def task_runs(self, name: str | None = None) -> list[TaskRunCreated]:
        return [e for e in self.events if isinstance(e, TaskRunCreated)
                and (name is None or e.task_key.endswith("." + name))]

    def states(self, run_id: uuid.UUID) -> list[str]:
        return [e.state.name for e in self.events
                if isinstance(e, StateChanged) and e.run_id == run_id]

    def logs(self, run_id: uuid.UUID | None = None) -> list[str]:
        return [e.message for e in self.events if isinstance(e, LogRecorded)
                and (run_id is None or run_id in (e.flow_run_id, e.task_run_id))]


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Any]:
    rt = MemoryRuntime(tmp_path / "storage")
    with use_runtime(rt):
        yield rt
