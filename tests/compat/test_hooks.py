"""State change hooks as Prefect 3 has them: on_completion, on_failure, on_crashed,
on_cancellation and on_running for flows; on_completion, on_failure and on_running for tasks. As
decorator arguments, through with_options and as method decorators; called with (flow, flow_run,
state) or (task, task_run, state) once the state is recorded; a hook that raises is logged and
changes nothing."""

from __future__ import annotations

import asyncio
import threading
import uuid
from typing import Any

import pytest

from transom import flow, task
from transom.core.context import current_flow_run, current_task_run
from transom.core.hooks import FlowRun, TaskRun
from transom.core.logs import flow_run_logger
from transom.core.recorder import StateChanged


def recorder(calls: list[tuple[Any, ...]], label: str) -> Any:
    def hook(owner: Any, run: Any, state: Any) -> None:
        calls.append((label, owner, run, state))

    hook.__name__ = label
    return hook


def test_flow_hooks_get_the_flow_its_run_and_the_state(runtime: Any) -> None:
    calls: list[tuple[Any, ...]] = []

    @flow(name="nightly", tags=["etl"], on_running=[recorder(calls, "running")],
          on_completion=[recorder(calls, "done")])
    def nightly(day: str) -> int:
        return 7

    assert nightly("mon") == 7
    (run,) = runtime.flow_runs()
    assert [c[0] for c in calls] == ["running", "done"]
    _, owner, flow_run, state = calls[1]
    assert owner is nightly
    assert isinstance(flow_run, FlowRun)
    assert (flow_run.id, flow_run.name, flow_run.flow_name) == (run.id, run.name, "nightly")
    assert flow_run.parameters == {"day": "mon"}
    assert flow_run.tags == ["etl"] and flow_run.run_count == 1
    assert flow_run.state is state and state.is_completed() and state.result() == 7
    assert flow_run.state_name == "Completed"
    assert flow_run.expected_start_time <= flow_run.start_time <= flow_run.end_time
    assert calls[0][3].is_running() and calls[0][2].end_time is None


def test_hooks_run_after_the_state_is_recorded(runtime: Any) -> None:
    recorded: list[str] = []

    def look(flow_: Any, flow_run: FlowRun, state: Any) -> None:
        recorded.extend(e.state.name for e in runtime.events
                        if isinstance(e, StateChanged) and e.run_id == flow_run.id)

    @flow(on_failure=[look])
    def broken() -> None:
        raise ValueError("no")

    with pytest.raises(ValueError):
        broken()
    assert recorded == ["Pending", "Running", "Failed"]


def test_method_decorators_and_with_options(runtime: Any) -> None:
    calls: list[tuple[Any, ...]] = []

    @flow(retries=1)
    def failing() -> None:
        raise ValueError("oops!")

    @failing.on_failure
    def notify(flow_: Any, flow_run: FlowRun, state: Any) -> None:
        calls.append(("notify", flow_run.run_count, state.message))

    assert notify.__name__ == "notify"  # the decorator gives the function back
    with pytest.raises(ValueError):
        failing()
    assert calls == [("notify", 2, "ValueError: oops!")]  # once, after the retries

    quiet = failing.with_options(on_failure=[])
    with pytest.raises(ValueError):
        quiet()
    assert len(calls) == 1
    again = failing.with_options(name="again")
    with pytest.raises(ValueError):
        again()
    assert len(calls) == 2  # with_options keeps the hooks it is not asked to change


def test_task_hooks_get_the_task_its_run_and_the_state(runtime: Any) -> None:
    calls: list[tuple[Any, ...]] = []

    @task(retries=1, tags=["db"], on_running=[recorder(calls, "running")])
    def flaky(x: int) -> int:
        if not any(c[0] == "done" for c in calls) and len(calls) == 1:
            raise ConnectionError("first try")
        return x * 2

    @flaky.on_completion
    def done(task_: Any, task_run: TaskRun, state: Any) -> None:
        calls.append(("done", task_, task_run, state))

    @flow
    def main() -> int:
        return flaky(21)

    assert main() == 42
    (run,) = runtime.task_runs("flaky")
    assert [c[0] for c in calls] == ["running", "running", "done"]  # each attempt, then the end
    _, owner, task_run, state = calls[-1]
    assert owner is flaky and isinstance(task_run, TaskRun)
    assert (task_run.id, task_run.name, task_run.flow_run_id) == (run.id, "flaky-0",
                                                                   run.flow_run_id)
    assert task_run.tags == ["db"] and task_run.run_count == 2
    assert state.is_completed() and state.result() == 42


def test_task_on_failure_and_hooks_of_submitted_runs(runtime: Any) -> None:
    failures: list[str] = []
    lock = threading.Lock()

    def note(task_: Any, task_run: TaskRun, state: Any) -> None:
        with lock:
            failures.append(f"{task_run.name}: {state.message}")

    @task(on_failure=[note])
    def check(n: int) -> int:
        if n % 2:
            raise ValueError(f"odd {n}")
        return n

    @flow
    def main() -> list[int]:
        futures = check.map([1, 2, 3])
        futures.wait()
        return [f.result(raise_on_failure=False) for f in futures if f.state.is_completed()]

    assert main() == [2]
    assert sorted(failures) == ["check-0: ValueError: odd 1", "check-2: ValueError: odd 3"]


def test_hooks_run_in_order_and_one_that_raises_changes_nothing(runtime: Any) -> None:
    order: list[str] = []

    def first(*_: Any) -> None:
        order.append("first")

    def broken_hook(*_: Any) -> None:
        order.append("broken")
        raise RuntimeError("the hook broke")

    def last(*_: Any) -> None:
        order.append("last")

    @flow(on_completion=[first, broken_hook, last])
    def fine() -> str:
        return "ok"

    assert fine() == "ok"
    assert order == ["first", "broken", "last"]
    (run,) = runtime.flow_runs()
    assert runtime.states(run.id) == ["Pending", "Running", "Completed"]
    (logged,) = [m for m in runtime.logs(run.id) if "raised" in m]
    assert "hook 'broken_hook' raised RuntimeError: the hook broke" in logged
    assert "the run stays Completed" in logged
    assert "Traceback" in logged and "in broken_hook" in logged


def test_async_hooks_are_awaited_by_async_runs_and_run_by_sync_ones(runtime: Any) -> None:
    seen: list[tuple[str, bool]] = []

    async def async_hook(owner: Any, run: Any, state: Any) -> None:
        await asyncio.sleep(0)
        seen.append((owner.name, state.is_completed()))

    @task(on_completion=[async_hook])
    def sync_step() -> int:
        return 1

    @task(on_completion=[async_hook])
    async def async_step() -> int:
        return 2

    @flow(on_completion=[async_hook])
    async def async_main() -> int:
        return sync_step() + await async_step()

    @flow(on_completion=[async_hook])
    def sync_main() -> int:
        return sync_step()

    assert asyncio.run(async_main()) == 3
    assert sync_main() == 1
    assert seen == [("sync_step", True), ("async_step", True), ("async-main", True),
                    ("sync_step", True), ("sync-main", True)]


def test_on_cancellation_and_on_crashed(runtime: Any) -> None:
    calls: list[str] = []

    def note(flow_: Any, flow_run: FlowRun, state: Any) -> None:
        calls.append(f"{flow_.name}: {state.name}")

    @flow(on_cancellation=[note], on_crashed=[note], on_failure=[note])
    def interrupted() -> None:
        raise KeyboardInterrupt

    @flow(on_cancellation=[note], on_crashed=[note], on_failure=[note])
    def exiting() -> None:
        raise SystemExit(3)

    with pytest.raises(KeyboardInterrupt):
        interrupted()
    with pytest.raises(SystemExit):
        exiting()
    assert calls == ["interrupted: Cancelled", "exiting: Crashed"]


def test_hooks_run_outside_the_run_and_log_through_the_run_they_get(runtime: Any) -> None:
    inside: list[Any] = []

    def hook(flow_: Any, flow_run: FlowRun, state: Any) -> None:
        inside.append(current_flow_run())
        flow_run_logger(flow_run).info("the hook was here")

    @flow(on_completion=[hook])
    def main() -> None:
        pass

    main()
    (run,) = runtime.flow_runs()
    assert inside == [None]  # as in Prefect: a hook is not part of the run
    assert "the hook was here" in runtime.logs(run.id)
    assert current_task_run() is None


def test_hook_options_take_lists_of_functions() -> None:
    def hook(*_: Any) -> None: ...

    with pytest.raises(TypeError, match=r"on_failure takes a list of functions; write "
                                        r"on_failure=\[hook\]"):
        flow(on_failure=hook)(lambda: None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="42 is not callable"):
        task(on_completion=[42])(lambda: None)  # type: ignore[list-item]
    with pytest.raises(TypeError, match="on_crashed"):  # a task has no crashed hooks
        task(on_crashed=[hook])(lambda: None)
    with pytest.raises(TypeError, match="unknown task option"):
        task(lambda: None).with_options(on_cancellation=[hook])


def test_the_hook_run_ids_are_the_recorded_ones(runtime: Any) -> None:
    ids: list[uuid.UUID] = []

    @task(on_completion=[lambda t, run, s: ids.append(run.id)])
    def one() -> int:
        return 1

    @flow(on_completion=[lambda f, run, s: ids.append(run.id)])
    def main() -> int:
        return one()

    main()
    assert ids == [runtime.task_runs("one")[0].id, runtime.flow_runs()[0].id]


def test_an_interrupt_in_a_running_hook_ends_the_run(runtime: Any) -> None:
    def stop(*_: Any) -> None:
        raise KeyboardInterrupt

    @flow(on_running=[stop])
    def main() -> None:
        raise AssertionError("the function must not be called")

    with pytest.raises(KeyboardInterrupt):
        main()
    (run,) = runtime.flow_runs()
    assert runtime.states(run.id) == ["Pending", "Running", "Cancelled"]  # not left Running
