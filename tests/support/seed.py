"""Recorded runs for UI tests and benchmarks, written as flows report them (run events)."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

from transom.core import states as st
from transom.core.recorder import Event, FlowRunCreated, LogRecorded, StateChanged, TaskRunCreated
from transom.services.backend import Backend

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)


def _at(state: st.State, when: datetime) -> st.State:
    return dataclasses.replace(state, timestamp=when)


def flow_run(flow: str, name: str, *, created: datetime, failed: bool = False, tasks: int = 0,
             logs: int = 0, parameters: dict[str, object] | None = None) -> tuple[uuid.UUID, list[Event]]:
    """One finished flow run: its creation, states, task runs and log lines."""
    run_id = uuid.uuid4()
    events: list[Event] = [
        FlowRunCreated(run_id, flow, name, parameters or {}, created=created, process=None),
        StateChanged(run_id, False, _at(st.Running(), created + timedelta(seconds=1)), 1)]
    for i in range(tasks):
        task_id = uuid.uuid4()
        at = created + timedelta(seconds=1, milliseconds=i)
        events += [TaskRunCreated(task_id, run_id, f"{flow}.step", f"step-{i}", i, created=at),
                   StateChanged(task_id, True, _at(st.Running(), at), 1),
                   StateChanged(task_id, True, _at(st.Completed(), at + timedelta(milliseconds=5)), 1)]
    for i in range(logs):
        events.append(LogRecorded(run_id, None, 20, "transom.flow_runs", f"line {i} of {name}",
                                  created + timedelta(seconds=1, microseconds=i)))
    end = created + timedelta(seconds=3)
    if failed:
        error = ValueError("the input file is empty")
        events.append(StateChanged(run_id, False, _at(st.Failed(error), end), 1))
    else:
        events.append(StateChanged(run_id, False, _at(st.Completed(), end), 1))
    return run_id, events


def many_runs(count: int, *, flow: str = "etl", start: datetime = T0) -> Iterator[list[Event]]:
    """`count` small runs a minute apart (every 7th failed), in batches of events."""
    batch: list[Event] = []
    for i in range(count):
        _, events = flow_run(flow, f"run-{i:05d}", created=start + timedelta(minutes=i),
                             failed=i % 7 == 3)
        batch += events
        if len(batch) >= 2000:
            yield batch
            batch = []
    if batch:
        yield batch


def seed(backend: Backend, count: int, *, flow: str = "etl", start: datetime = T0) -> None:
    """Record `many_runs` through `backend`."""
    for batch in many_runs(count, flow=flow, start=start):
        backend.send_events(batch)
