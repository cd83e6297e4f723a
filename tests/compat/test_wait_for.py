"""`wait_for=` on task calls, `.submit()`, `.map()` and subflow calls; `allow_failure` and
`quote` (transom.core.annotations) as Prefect 3 documents them. A run whose upstream did not
complete ends NotReady (a Pending state, as in Prefect): it never started."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from transom import flow, task
from transom.core import annotations
from transom.core.annotations import allow_failure, quote, unmapped
from transom.core.runners import TaskFuture
from transom.exceptions import RunFailed


class Journal:
    """Shared between runs (a plain list argument would reach each run as its own copy)."""

    def __init__(self) -> None:
        self.lines: list[str] = []


@task
def slow_write(log: Journal, name: str) -> str:
    time.sleep(0.1)
    log.lines.append(name)
    return name


@task
def read(log: Any) -> list[str]:
    return list(log.lines) if isinstance(log, Journal) else list(log)


@task
def broken() -> int:
    raise ValueError("upstream broke")


def test_wait_for_orders_runs_that_share_no_data(runtime: Any) -> None:
    @flow
    def main() -> tuple[list[str], list[str], list[list[str]]]:
        log = Journal()
        first = slow_write.submit(log, "a")
        called = read(log, wait_for=[first])
        second = slow_write.submit(log, "b")
        submitted = read.submit(log, wait_for=[second]).result()
        mapped = read.map([log, log], wait_for=[slow_write.submit(log, "c")]).result()
        return called, submitted, mapped

    called, submitted, mapped = main()
    assert called == ["a"]
    assert submitted == ["a", "b"]
    assert mapped == [["a", "b", "c"], ["a", "b", "c"]]
    (reader,) = [r for r in runtime.task_runs("read") if r.name == "read-0"]
    (writer,) = [r for r in runtime.task_runs("slow_write") if r.name == "slow_write-0"]
    assert reader.upstream == [writer.id]  # recorded as its upstream, as a data input would be


def test_wait_for_is_not_passed_to_the_function(runtime: Any) -> None:
    @task
    def takes_kwargs(**kwargs: Any) -> dict[str, Any]:
        return kwargs

    @flow
    def main() -> dict[str, Any]:
        done = read.submit([])
        return takes_kwargs(x=1, wait_for=[done])

    assert main() == {"x": 1}


def test_a_failed_upstream_in_wait_for_makes_the_run_not_ready(runtime: Any) -> None:
    ran: list[int] = []

    @task
    def after() -> None:
        ran.append(1)

    seen: list[Any] = []

    @flow
    def main() -> None:
        failed = broken.submit()
        waiting = after.submit(wait_for=[failed])
        waiting.wait()
        seen.append(waiting.state)
        seen.append(after(wait_for=[failed], return_state=True))
        with pytest.raises(RunFailed, match=r"NotReady.*upstream task run 'broken-0' ended Failed"):
            after(wait_for=[failed])

    main()
    assert ran == []
    for state in seen:
        assert state.is_pending() and state.name == "NotReady"
        assert state.message == "upstream task run 'broken-0' ended Failed: ValueError: upstream broke"
    (run, *_) = runtime.task_runs("after")
    assert runtime.states(run.id) == ["Pending", "NotReady"]  # never Running


def test_allow_failure_in_wait_for_lets_the_run_start(runtime: Any) -> None:
    @task
    def cleanup() -> str:
        return "cleaned"

    @flow
    def main() -> str:
        failed = broken.submit()
        return cleanup(wait_for=[allow_failure(failed)])

    assert main() == "cleaned"


def test_allow_failure_passes_the_upstream_exception(runtime: Any) -> None:
    @task
    def report(value: Any, values: list[Any]) -> tuple[str, list[str]]:
        return type(value).__name__, [type(v).__name__ for v in values]

    @flow
    def main() -> tuple[str, list[str]]:
        failed = broken.submit()
        fine = read.submit([])
        return report(allow_failure(failed), allow_failure([failed, fine]))

    assert main() == ("ValueError", ["ValueError", "list"])


def test_allow_failure_does_not_let_a_run_that_never_started_through(runtime: Any) -> None:
    @task
    def use(x: Any) -> Any:
        return x

    seen: list[Any] = []

    @flow
    def main() -> None:
        not_ready = use.submit(broken.submit())
        seen.append(use(allow_failure(not_ready), return_state=True))

    main()
    (state,) = seen
    assert state.name == "NotReady" and "upstream task run 'use-0' ended NotReady" in state.message


def test_quote_passes_a_value_as_it_is(runtime: Any) -> None:
    @task
    def kinds(items: list[Any]) -> list[str]:
        return [type(i).__name__ for i in items]

    @flow
    def main() -> list[str]:
        future = read.submit([])
        return kinds(quote([future, 1]))

    assert main() == ["TaskFuture", "int"]
    (run,) = runtime.task_runs("kinds")
    assert run.upstream == []  # not looked into, so no upstream link either


def test_map_takes_annotations_element_by_element(runtime: Any) -> None:
    @task
    def describe(value: Any, extra: Any) -> str:
        return f"{type(value).__name__}/{type(extra).__name__}"

    @flow
    def main() -> list[str]:
        futures = [broken.submit(), read.submit([])]
        other = read.submit([])
        return describe.map(allow_failure(futures), quote(unmapped(other))).result()

    assert main() == ["ValueError/TaskFuture", "list/TaskFuture"]


def test_a_subflow_waits_for_its_upstream(runtime: Any) -> None:
    order: list[str] = []
    gate = threading.Event()

    @task
    def slow() -> None:
        gate.wait(5)
        order.append("task")

    @flow
    def child() -> str:
        order.append("child")
        return "child ran"

    @flow
    def parent() -> tuple[str, Any]:
        future = slow.submit()
        gate.set()
        ran = child(wait_for=[future])
        not_ready = child(wait_for=[broken.submit()], return_state=True)
        return ran, not_ready.name

    assert parent() == ("child ran", "NotReady")
    assert order == ["task", "child"]
    (_, _, skipped) = runtime.flow_runs()
    assert runtime.states(skipped.id) == ["Pending", "NotReady"]


def test_a_single_future_or_state_is_accepted_as_wait_for(runtime: Any) -> None:
    @flow
    def main() -> list[str]:
        done = read.submit(["x"])
        return read(["y"], wait_for=done)

    assert main() == ["y"]
    with pytest.raises(TypeError, match="wait_for takes a list of futures or states"):
        read([], wait_for=5)


def test_unmapped_is_the_same_class_in_both_places() -> None:
    from transom.core.tasks import unmapped as from_tasks

    assert from_tasks is annotations.unmapped
    assert allow_failure(1).unwrap() == 1 and quote(2).unquote() == 2
    assert allow_failure(1).rewrap(3) == allow_failure(3)
    assert isinstance(read.submit, object) and TaskFuture.__name__ == "TaskFuture"


def test_unmapped_outside_map_is_taken_off_before_the_call() -> None:
    @task
    def scale(values: list[int], by: int) -> int:
        return sum(values) * by

    @flow
    def main() -> tuple[int, int]:
        # Prefect takes every annotation off the arguments of a call or a submit.
        return scale.submit([1, 2], unmapped(3)).result(), scale([4], by=unmapped(2))

    assert main() == (9, 8)
