"""Futures as Prefect 3 hands them out: `.map()` gives a future list (still a list) with
`.result()` and `.wait()`; `return_state=True` on `.submit()` / `.map()` gives final States;
`wait(futures, timeout=)` gives `done` and `not_done` sets."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from transom import flow, task, wait
from transom.core.runners import (
    DoneAndNotDone,
    DoneAndNotDoneFutures,
    PrefectFuture,
    PrefectFutureList,
    TaskFuture,
    TaskFutureList,
)
from transom.core.states import State


@task
def double(x: int) -> int:
    return x * 2


@task
def picky(x: int) -> int:
    if x < 0:
        raise ValueError(f"negative: {x}")
    return x


def test_map_gives_a_future_list_that_is_still_a_list(runtime: Any) -> None:
    @flow
    def main() -> tuple[Any, ...]:
        futures = double.map([1, 2, 3])
        assert isinstance(futures, TaskFutureList) and isinstance(futures, list)
        assert len(futures) == 3 and isinstance(futures[0], TaskFuture)
        futures.wait()
        assert all(f.done() for f in futures)
        return (futures.result(), [f.result() for f in futures], futures[1:][0].result())

    assert main() == ([2, 4, 6], [2, 4, 6], 4)


def test_future_list_result_raises_or_returns_the_failures(runtime: Any) -> None:
    @flow
    def main() -> list[Any]:
        futures = picky.map([1, -2])
        with pytest.raises(ValueError, match="negative: -2"):
            futures.result()
        return futures.result(raise_on_failure=False)

    first, second = main()
    assert first == 1 and isinstance(second, ValueError)


def test_future_list_wait_and_result_take_a_timeout(runtime: Any) -> None:
    gate = threading.Event()

    @task
    def blocked(x: int) -> int:
        gate.wait(10)
        return x

    @flow
    def main() -> list[int]:
        futures = blocked.map([1, 2])
        started = time.monotonic()
        futures.wait(timeout=0.1)
        assert time.monotonic() - started < 5 and not any(f.done() for f in futures)
        with pytest.raises(TimeoutError, match=r"2 of 2 task runs had not finished after 0\.1s"):
            futures.result(timeout=0.1)
        gate.set()
        return futures.result(timeout=10)

    assert main() == [1, 2]


def test_return_state_on_submit_and_map_gives_final_states(runtime: Any) -> None:
    # As in Prefect: the call waits and gives the State itself (a list of them for map).
    seen: list[Any] = []

    @flow
    def keep() -> None:
        seen.append(picky.submit(-1, return_state=True))
        seen.append(picky.map([3, -4], return_state=True))

    keep()
    submitted, mapped = seen
    assert isinstance(submitted, State) and submitted.is_failed()
    assert isinstance(submitted.result(raise_on_failure=False), ValueError)
    assert [s.name for s in mapped] == ["Completed", "Failed"]
    assert mapped[0].result() == 3


def test_wait_gives_done_and_not_done(runtime: Any) -> None:
    gate = threading.Event()

    @task
    def held() -> int:
        gate.wait(10)
        return 1

    @flow
    def main() -> None:
        quick = double.submit(1)
        slow = held.submit()
        quick.wait()
        result = wait([quick, slow], timeout=0.2)
        assert isinstance(result, DoneAndNotDone)
        assert result.done == {quick} and result.not_done == {slow}
        done, not_done = result
        assert done is result.done and not_done is result.not_done
        gate.set()
        assert wait(double.map([1, 2])).not_done == set()

    main()


def test_prefect_names_are_the_same_classes() -> None:
    assert PrefectFuture is TaskFuture
    assert PrefectFutureList is TaskFutureList
    assert DoneAndNotDoneFutures is DoneAndNotDone
    assert PrefectFutureList[int] is not None  # usable in annotations


def test_a_futures_state_is_where_the_run_is_now_without_waiting() -> None:
    import threading

    from transom import flow, task

    release = threading.Event()

    @task
    def held() -> int:
        release.wait(10)
        return 7

    @flow
    def main() -> tuple[str, bool, str, int]:
        future = held.submit()
        future.wait(timeout=0.05)  # a wait that runs out leaves the run going
        before, done = future.state.type.value, future.done()
        release.set()
        value = future.result()
        return before, done, future.state.name, value

    before, done, after, value = main()
    assert before in ("PENDING", "RUNNING") and not done
    assert after == "Completed" and value == 7
