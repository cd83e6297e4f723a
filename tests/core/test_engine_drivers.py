"""One set of scenarios, run through sync and async flows and tasks: both must end the same way.

Each scenario is written once against `Mode`, which makes its tasks and flows sync or async
functions and runs them; the recorded states are what is asserted, as the store would show them.
"""

from __future__ import annotations

import asyncio
import functools
import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from transom import Abort, ThreadPoolTaskRunner, flow, task
from transom.core.engine import interrupt_flow_run
from transom.core.recorder import StateChanged
from transom.exceptions import FlowRunTimeout, RunInterrupted, TaskRunTimeout


class Mode:
    """Tasks and flows as sync functions, or as async functions that do the same."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.is_async = name == "async"

    def task(self, fn: Callable[..., Any], **options: Any) -> Any:
        return task(**options)(self._body(fn))

    def flow(self, fn: Callable[..., Any], **options: Any) -> Any:
        return flow(**options)(self._body(fn))

    def _body(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        if not self.is_async:
            return fn

        @functools.wraps(fn)
        async def body(*args: Any, **kwargs: Any) -> Any:
            await asyncio.sleep(0)
            value = fn(*args, **kwargs)
            return await value if asyncio.iscoroutine(value) else value

        return body

    def sleeper(self, **options: Any) -> Any:
        """A task that sleeps the way its kind does (a blocking sleep, or an awaited one)."""
        if self.is_async:
            async def sleep(seconds: float, started: threading.Event | None = None) -> str:
                if started is not None:
                    started.set()
                await asyncio.sleep(seconds)
                return "slept"

            return task(name="sleep", **options)(sleep)

        def sleep_sync(seconds: float, started: threading.Event | None = None) -> str:
            if started is not None:
                started.set()
            time.sleep(seconds)
            return "slept"

        return task(name="sleep", **options)(sleep_sync)

    def keep(self, seen: list[Any], value: Any) -> Any:
        """Append what `value` is (awaited, for async) to `seen`. A flow that returned a task's
        State would end in it (as in Prefect), so these flows hand the state over this way."""
        if not self.is_async:
            seen.append(value)
            return None

        async def keep_async() -> None:
            seen.append(await value)

        return keep_async()

    def run(self, flow_: Any, *args: Any, **kwargs: Any) -> Any:
        if self.is_async:
            return asyncio.run(flow_(*args, **kwargs))
        return flow_(*args, **kwargs)


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> Mode:
    return Mode(request.param)


def final_message(runtime: Any, run_id: Any) -> str | None:
    changes = [e for e in runtime.events if isinstance(e, StateChanged) and e.run_id == run_id]
    message: str | None = changes[-1].state.message
    return message


def all_task_states(runtime: Any) -> dict[str, list[str]]:
    return {r.name: runtime.states(r.id) for r in runtime.task_runs()}


def test_success(runtime: Any, mode: Mode) -> None:
    double = mode.task(lambda x: 2 * x)
    main = mode.flow(lambda x: double(x), name="main")

    state = mode.run(main, 21, return_state=True)
    assert state.result() == 42
    (flow_run,) = runtime.flow_runs()
    assert runtime.states(flow_run.id) == ["Pending", "Running", "Completed"]
    assert all_task_states(runtime) == {"<lambda>-0": ["Pending", "Running", "Completed"]}


def test_failure(runtime: Any, mode: Mode) -> None:
    def broken() -> None:
        raise ValueError("bad row 7")

    step = mode.task(broken)
    main = mode.flow(lambda: step(), name="main")

    state = mode.run(main, return_state=True)
    assert state.is_failed() and state.message == "ValueError: bad row 7"
    (task_run,) = runtime.task_runs("broken")
    assert runtime.states(task_run.id) == ["Pending", "Running", "Failed"]
    assert final_message(runtime, task_run.id) == "ValueError: bad row 7"
    assert runtime.states(state.run_id) == ["Pending", "Running", "Failed"]
    with pytest.raises(ValueError, match="bad row 7"):
        mode.run(main)


def test_retries_then_success(runtime: Any, mode: Mode) -> None:
    calls: list[str] = []

    def flaky() -> str:
        calls.append("task")
        if calls.count("task") < 3:
            raise ConnectionError("down")
        return "up"

    def shaky_flow() -> Any:
        calls.append("flow")
        if calls.count("flow") == 1:
            raise RuntimeError("the flow's first attempt")
        return step()

    step = mode.task(flaky, retries=2, retry_delay_seconds=0)
    main = mode.flow(shaky_flow, retries=1, retry_delay_seconds=0.05)

    started = time.monotonic()
    assert mode.run(main) == "up"
    assert time.monotonic() - started >= 0.05  # the flow's retry delay was slept
    assert calls == ["flow", "flow", "task", "task", "task"]
    (flow_run,) = runtime.flow_runs()
    assert runtime.states(flow_run.id) == [
        "Pending", "Running", "AwaitingRetry", "Retrying", "Completed"]
    (task_run,) = runtime.task_runs("flaky")
    assert runtime.states(task_run.id) == [
        "Pending", "Running", "AwaitingRetry", "Retrying", "AwaitingRetry", "Retrying", "Completed"]


def test_retries_exhausted(runtime: Any, mode: Mode) -> None:
    calls: list[int] = []

    def always() -> None:
        calls.append(1)
        raise ValueError(f"attempt {len(calls)} failed")

    step = mode.task(always, retries=1)
    seen: list[Any] = []
    main = mode.flow(lambda: mode.keep(seen, step(return_state=True)), name="main")

    mode.run(main)
    (state,) = seen
    assert state.is_failed() and state.message == "ValueError: attempt 2 failed"
    assert len(calls) == 2
    assert runtime.states(state.run_id) == ["Pending", "Running", "AwaitingRetry", "Retrying",
                                            "Failed"]


def test_timeout(runtime: Any, mode: Mode) -> None:
    hang = mode.sleeper(timeout_seconds=0.2)
    seen: list[Any] = []
    main = mode.flow(lambda: mode.keep(seen, hang(30, return_state=True)), name="main")
    stuck = mode.flow(lambda: hang.with_options(timeout_seconds=None)(30), name="stuck",
                      timeout_seconds=0.2)

    started = time.monotonic()
    mode.run(main)
    (task_state,) = seen
    flow_state = mode.run(stuck, return_state=True)
    assert time.monotonic() - started < 10
    assert task_state.name == "TimedOut" and isinstance(task_state.exception, TaskRunTimeout)
    assert task_state.message == "TaskRunTimeout: task run 'sleep-0' exceeded its timeout of 0.2s"
    assert flow_state.name == "TimedOut" and isinstance(flow_state.exception, FlowRunTimeout)
    assert runtime.states(flow_state.run_id) == ["Pending", "Running", "TimedOut"]


def test_abort_ends_failed_without_retries(runtime: Any, mode: Mode) -> None:
    calls: list[int] = []

    def stop() -> None:
        calls.append(1)
        raise Abort("nothing to do today")

    step = mode.task(stop, retries=3)
    seen: list[Any] = []
    main = mode.flow(lambda: mode.keep(seen, step(return_state=True)), name="main")

    mode.run(main)
    (state,) = seen
    assert calls == [1]
    assert state.is_failed() and state.message == "Abort: nothing to do today"
    assert runtime.states(state.run_id) == ["Pending", "Running", "Failed"]


def test_run_interrupted_inside_a_task_ends_both_runs_cancelled(runtime: Any, mode: Mode) -> None:
    def cancel_me() -> None:
        raise RunInterrupted("the operator cancelled it", cancelled=True)

    step = mode.task(cancel_me, retries=2)
    main = mode.flow(lambda: step(), name="main", retries=2)

    with pytest.raises(RunInterrupted, match="the operator cancelled it"):
        mode.run(main)
    (flow_run,) = runtime.flow_runs()
    (task_run,) = runtime.task_runs("cancel_me")
    assert runtime.states(task_run.id) == ["Pending", "Running", "Cancelled"]  # never retried
    assert runtime.states(flow_run.id) == ["Pending", "Running", "Cancelled"]
    assert final_message(runtime, flow_run.id) == "the operator cancelled it"


def test_interrupt_flow_run_cancels_the_run_and_its_tasks(runtime: Any, mode: Mode) -> None:
    started = threading.Event()
    queued = threading.Event()
    nap = mode.sleeper()

    def body() -> Any:
        nap.submit(30, queued)  # one in a runner thread, one called in the flow itself
        return nap(30, started)

    main = mode.flow(body, name="main")

    def stop() -> None:
        assert started.wait(10) and queued.wait(10)
        # Into the sleep: a signal that lands just before a blocking call is only handled after
        # it (CPython checks for signals between bytecodes), which is not what is tested here.
        time.sleep(0.2)
        assert interrupt_flow_run("cancelled by ada", cancelled=True)

    stopper = threading.Thread(target=stop)
    stopper.start()
    begun = time.monotonic()
    # What the caller sees: the interrupt (sync), or its asyncio task cancelled (async).
    with pytest.raises(asyncio.CancelledError if mode.is_async else RunInterrupted):
        mode.run(main)
    stopper.join(10)
    assert time.monotonic() - begun < 10  # the 30 s sleeps did not hold it
    (flow_run,) = runtime.flow_runs()
    assert runtime.states(flow_run.id) == ["Pending", "Running", "Cancelled"]
    assert final_message(runtime, flow_run.id) == "cancelled by ada"
    assert all_task_states(runtime) == {
        "sleep-0": ["Pending", "Running", "Cancelled"],
        "sleep-1": ["Pending", "Running", "Cancelled"],
    }
    assert interrupt_flow_run("no run any more") is False


def test_flow_that_raises_after_submitting_settles_its_task_runs(runtime: Any, mode: Mode) -> None:
    nap = mode.sleeper()

    def body() -> None:
        nap.submit(0.3)
        nap.submit(0.3)  # queued behind the first: the runner has one thread
        raise RuntimeError("the flow broke after submitting")

    main = mode.flow(body, name="main", task_runner=ThreadPoolTaskRunner(max_workers=1))

    state = mode.run(main, return_state=True)
    assert state.is_failed() and state.message == "RuntimeError: the flow broke after submitting"
    # At once, as a process that exits now would leave them: none still Running or Pending.
    assert all_task_states(runtime) == {
        "sleep-0": ["Pending", "Running", "Completed"],
        "sleep-1": ["Pending", "Running", "Completed"],
    }
    assert runtime.states(state.run_id) == ["Pending", "Running", "Failed"]


def test_flow_that_returns_while_submitted_tasks_run_waits_for_them(runtime: Any,
                                                                    mode: Mode) -> None:
    nap = mode.sleeper()
    main = mode.flow(lambda: [nap.submit(0.2) for _ in range(2)] and "returned", name="main")

    assert mode.run(main) == "returned"
    assert all_task_states(runtime) == {
        "sleep-0": ["Pending", "Running", "Completed"],
        "sleep-1": ["Pending", "Running", "Completed"],
    }
    (flow_run,) = runtime.flow_runs()
    changes = [e for e in runtime.events if isinstance(e, StateChanged)]
    flow_completed = next(i for i, e in enumerate(changes)
                          if e.run_id == flow_run.id and e.state.name == "Completed")
    tasks_completed = [i for i, e in enumerate(changes)
                       if e.is_task and e.state.name == "Completed"]
    assert max(tasks_completed) < flow_completed  # the flow ended after its tasks, not before


# -- the same, in a real process recording into a real SQLite file -------------------------------
SCRIPT = textwrap.dedent("""
    import asyncio, sys, time
    from transom import ThreadPoolTaskRunner, flow, task

    @task
    def nap(seconds: float) -> str:
        time.sleep(seconds)
        return "slept"

    @task
    async def nap_async(seconds: float) -> str:
        await asyncio.sleep(seconds)
        return "slept"

    @flow(task_runner=ThreadPoolTaskRunner(max_workers=1))
    def breaks() -> None:
        nap.submit(0.5)
        nap.submit(0.5)
        raise RuntimeError("the flow broke after submitting")

    @flow(task_runner=ThreadPoolTaskRunner(max_workers=1))
    async def breaks_async() -> None:
        nap_async.submit(0.5)
        nap_async.submit(0.5)
        raise RuntimeError("the flow broke after submitting")

    if __name__ == "__main__":
        if sys.argv[1] == "async":
            asyncio.run(breaks_async())
        else:
            breaks()
""")


def test_a_process_that_exits_after_its_flow_raised_leaves_no_task_run_running(
        tmp_path: Path, mode: Mode) -> None:
    script = tmp_path / "flows.py"
    script.write_text(SCRIPT, encoding="utf-8")
    home = tmp_path / "home"
    proc = subprocess.run([sys.executable, str(script), mode.name], capture_output=True, text=True,
                          env=dict(os.environ, TRANSOM_HOME=str(home)), timeout=60)
    assert proc.returncode == 1 and "the flow broke after submitting" in proc.stderr
    with sqlite3.connect(home / "transom.db") as db:
        flows = db.execute("SELECT state_name FROM flow_runs").fetchall()
        tasks = db.execute("SELECT name, state_name FROM task_runs ORDER BY name").fetchall()
    assert flows == [("Failed",)]
    prefix = "nap_async" if mode.is_async else "nap"
    assert tasks == [(f"{prefix}-0", "Completed"), (f"{prefix}-1", "Completed")]
