"""Running one task run's attempts in another process (ProcessPoolTaskRunner).

The parent ships the task, its resolved arguments and the run's identity; the child runs the same
attempt loop as in-process runs with a recorder that collects events, and ships back the events and
the final state. The parent records them, so the run looks the same in the store either way.
"""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import cloudpickle

from transom.core import states as st
from transom.core.context import ResultStore, Runtime, TaskRunContext, get_runtime, use_runtime
from transom.core.logs import configure_logging
from transom.core.recorder import Event, ListRecorder, StateChanged
from transom.core.states import State

if TYPE_CHECKING:
    from transom.core.engine import _TaskRun

__all__ = ["run_task_in"]


class _ChildRuntime:
    """The child's runtime: the settings-built one, but events are collected for the parent."""

    def __init__(self, base: Runtime, recorder: ListRecorder) -> None:
        self.recorder = recorder
        self.default_serializer = base.default_serializer
        self.task_runner_workers = base.task_runner_workers
        self.log_level = base.log_level
        self.persist_results = base.persist_results
        self.flush_timeout = base.flush_timeout
        self._base = base

    def result_store(self, location: str | None = None) -> ResultStore:
        return self._base.result_store(location)

    def task_slots(self, tags: list[str], say: Callable[[str], None]) -> None:
        return None  # the parent process holds the run's slots while the child runs it


def run_task_in(executor: cf.Executor, run: _TaskRun) -> State:
    """Run `run`'s attempts in `executor` (a process pool); returns its final state."""
    try:
        payload = cloudpickle.dumps({
            "task": run.task, "args": run.args, "kwargs": run.kwargs, "run_id": run.run_id,
            "flow_run_id": run.flow_run_id, "dynamic_key": run.dynamic_key,
            "log_prints": run.log_prints, "cache_key": run.cache_key,
            "parameters": run.parameters,
        })
    except Exception as exc:
        return run.set_state(st.Failed(exc, message=(
            f"task run {run.name!r} cannot be sent to a worker process: its function or "
            f"arguments do not pickle ({type(exc).__name__}: {exc})")))
    try:
        blob = executor.submit(_child_main, payload).result()
        events, final = cloudpickle.loads(blob)
    except Exception as exc:  # BrokenProcessPool: the worker process died
        return run.set_state(st.Crashed(exc, message=(
            f"the worker process of task run {run.name!r} died: {type(exc).__name__}: {exc}")))
    for event in events:
        run.recorder.record(event)
        if isinstance(event, StateChanged):
            run.run_count = event.run_count
    run.state = final
    return final  # type: ignore[no-any-return]


def _child_main(payload: bytes) -> bytes:
    """Entry point inside the worker process."""
    from transom.core.engine import _TaskRun, attempt_task, attempt_task_async

    spec: dict[str, Any] = cloudpickle.loads(payload)
    collector = ListRecorder()
    runtime = _ChildRuntime(get_runtime(), collector)
    with use_runtime(runtime):
        configure_logging(runtime.log_level)
        run = _TaskRun(spec["task"], spec["args"], spec["kwargs"], None, runtime,
                       run_id=spec["run_id"], dynamic_key=spec["dynamic_key"])
        run.flow_run_id = spec["flow_run_id"]
        run.log_prints = spec["log_prints"]
        run.cache_key = spec["cache_key"]
        run.parameters = spec["parameters"]
        run.ctx = TaskRunContext(run.task, run.run_id, run.flow_run_id, run.name,
                                 run.parameters, 0, run.log_prints, call=(run.args, run.kwargs))
        try:
            if run.task.is_async:
                final = asyncio.run(attempt_task_async(run))
            else:
                final = attempt_task(run)
        except BaseException as exc:
            final = run.on_interrupt(exc)
    return _pack(collector.events, final)


def _pack(events: list[Event], final: State) -> bytes:
    try:
        return bytes(cloudpickle.dumps((events, final)))
    except Exception as exc:
        # An exception or result that does not pickle: send what can be shown.
        def bare(state: State) -> State:
            return state.copy(exception=None, data=None)

        clean = [StateChanged(e.run_id, e.is_task, bare(e.state), e.run_count, e.result_ref)
                 if isinstance(e, StateChanged) else e for e in events]
        if final.is_completed():
            failed = st.Failed(exc, message=(
                f"the task's result cannot be sent back from its worker process: {exc}"))
            object.__setattr__(failed, "run_id", final.run_id)
            failed = failed.copy(exception=None)
            clean.append(StateChanged(final.run_id or uuid.uuid4(), True, failed, 0))
            final = failed
        return bytes(cloudpickle.dumps((clean, bare(final))))
