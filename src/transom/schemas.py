"""Read models of recorded runs: the one schema shared by the store, the CLI, the server and
the client (never a second copy)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from transom.core.states import StateType

__all__ = ["FlowRead", "FlowRunRead", "LogLine", "StateRecord", "TaskRunRead"]


class _Model(BaseModel):
    model_config = ConfigDict(from_attributes=True, frozen=True)


class FlowRead(_Model):
    id: uuid.UUID
    name: str
    created: datetime


class _RunFields(_Model):
    id: uuid.UUID
    name: str
    state_type: StateType | None = None
    state_name: str | None = None
    state_message: str | None = None
    state_timestamp: datetime | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    run_count: int = 0
    result_ref: str | None = None
    tags: list[str] = []
    created: datetime
    updated: datetime

    @property
    def duration(self) -> float | None:
        """Seconds from start to end (or to the last state, for a run still going)."""
        if self.start_time is None:
            return None
        end = self.end_time or self.state_timestamp
        return None if end is None else max((end - self.start_time).total_seconds(), 0.0)


class FlowRunRead(_RunFields):
    flow_id: uuid.UUID
    flow_name: str
    parameters: dict[str, Any] = {}
    parent_flow_run_id: uuid.UUID | None = None
    parent_task_run_id: uuid.UUID | None = None
    deployment_id: uuid.UUID | None = None
    expected_start_time: datetime | None = None
    task_run_count: int = 0


class TaskRunRead(_RunFields):
    flow_run_id: uuid.UUID | None = None
    task_key: str
    dynamic_key: int
    cache_key: str | None = None
    upstream: list[uuid.UUID] = []


class StateRecord(_Model):
    id: int
    flow_run_id: uuid.UUID | None = None
    task_run_id: uuid.UUID | None = None
    type: StateType
    name: str
    timestamp: datetime
    message: str | None = None
    error: dict[str, str] | None = None
    scheduled_time: datetime | None = None


class LogLine(_Model):
    id: int
    flow_run_id: uuid.UUID | None = None
    task_run_id: uuid.UUID | None = None
    level: int
    logger: str
    message: str
    timestamp: datetime
