from __future__ import annotations

import os
import threading
import time
from typing import Any

import pytest

from transom import (
    ProcessPoolTaskRunner,
    ThreadPoolTaskRunner,
    as_completed,
    flow,
    task,
    unmapped,
    wait,
)


@task
def add(a: int, b: int) -> int:
    return a + b


@task
def pid_and_value(x: int) -> tuple[int, int]:
    return os.getpid(), x * 2


@task(retries=1)
def fails_once_per_process(path: str) -> str:
    # Retries happen inside the worker process: the marker file tells the second attempt apart.
    if not os.path.exists(path):
        open(path, "w").close()
        raise RuntimeError("first attempt")
    return "second attempt"


def test_submit_runs_concurrently_and_futures_chain(runtime: Any) -> None:
    barrier = threading.Barrier(3, timeout=10)

    @task
    def meet(i: int) -> int:
        barrier.wait()  # only returns if 3 runs are in flight at once
        return i

    @flow
    def main() -> int:
        futures = [meet.submit(i) for i in range(3)]
        total = add.submit(futures[0], add.submit(futures[1], futures[2]))
        return total.result()

    assert main() == 3
    (top,) = runtime.task_runs("add")[:1]
    assert len(top.upstream) == 2


def test_map_with_unmapped_and_wait(runtime: Any) -> None:
    @flow
    def main() -> list[int]:
        futures = add.map([1, 2, 3], unmapped(10))
        done, not_done = wait(futures)
        assert not not_done and len(done) == 3
        return [f.result() for f in futures]

    assert main() == [11, 12, 13]
    assert sorted(r.name for r in runtime.task_runs("add")) == ["add-0", "add-1", "add-2"]


def test_map_rejects_mismatched_lengths(runtime: Any) -> None:
    @flow
    def main() -> None:
        add.map([1, 2], [1, 2, 3])

    with pytest.raises(ValueError, match="different lengths"):
        main()


def test_as_completed_yields_every_future(runtime: Any) -> None:
    @task
    def nap(seconds: float) -> float:
        time.sleep(seconds)
        return seconds

    @flow
    def main() -> list[float]:
        return [f.result() for f in as_completed(nap.map([0.2, 0.0, 0.1]))]

    assert sorted(main()) == [0.0, 0.1, 0.2]


def test_failed_upstream_makes_downstream_not_ready(runtime: Any) -> None:
    @task
    def broken() -> int:
        raise ValueError("bad input")

    seen: list[Any] = []

    @flow
    def main() -> None:
        future = add.submit(broken.submit(), 1)
        future.wait()
        seen.append(future.state)

    main()
    (state,) = seen
    assert state.is_pending() and state.name == "NotReady"  # as in Prefect: it never started
    assert "upstream task run 'broken-0' ended Failed" in state.message


def test_flow_waits_for_unawaited_submissions(runtime: Any) -> None:
    finished: list[int] = []

    @task
    def slow() -> None:
        time.sleep(0.2)
        finished.append(1)

    @flow
    def main() -> None:
        slow.submit()

    main()
    assert finished == [1]


def test_thread_runner_size_is_respected(runtime: Any) -> None:
    active: list[int] = []
    peak: list[int] = []
    lock = threading.Lock()

    @task
    def track(i: int) -> None:
        with lock:
            active.append(1)
            peak.append(len(active))
        time.sleep(0.05)
        with lock:
            active.pop()

    @flow(task_runner=ThreadPoolTaskRunner(max_workers=2))
    def main() -> None:
        wait(track.map(range(8)))

    main()
    assert max(peak) == 2


def test_process_runner_runs_tasks_in_other_processes(runtime: Any, tmp_path: Any) -> None:
    @flow(task_runner=ProcessPoolTaskRunner(max_workers=2))
    def main(marker: str) -> Any:
        values = [f.result() for f in pid_and_value.map([1, 2, 3])]
        return values, fails_once_per_process.submit(marker).result()

    values, retried = main(str(tmp_path / "marker"))
    assert [v for _, v in values] == [2, 4, 6]
    assert all(pid != os.getpid() for pid, _ in values)
    assert retried == "second attempt"
    (run,) = runtime.task_runs("fails_once_per_process")
    assert runtime.states(run.id) == [
        "Pending", "Running", "AwaitingRetry", "Retrying", "Completed"]


def test_submit_outside_a_flow_says_so(runtime: Any) -> None:
    with pytest.raises(RuntimeError, match="inside a flow run"):
        add.submit(1, 2)
