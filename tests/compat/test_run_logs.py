"""A task run's end is logged at INFO, as Prefect users expect to see it (and find it in the run's
log afterwards); failures stay at ERROR."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from transom import flow, task
from transom.core.recorder import LogRecorded


def task_lines(runtime: Any, name: str) -> list[tuple[int, str]]:
    (run,) = runtime.task_runs(name)
    return [(e.level, e.message) for e in runtime.events
            if isinstance(e, LogRecorded) and e.task_run_id == run.id]


def test_a_completed_task_run_logs_its_end_at_info(runtime: Any, capsys: Any) -> None:
    @task
    def add(a: int, b: int) -> int:
        return a + b

    @flow
    def main() -> int:
        return add(1, 2)

    assert main() == 3
    assert task_lines(runtime, "add") == [(logging.INFO, "finished in state Completed")]
    # On the console too, as a Prefect user sees it.
    assert "Task run 'add-0' - finished in state Completed" in capsys.readouterr().err


def test_at_warning_neither_the_console_nor_the_run_logs_get_the_end(
        runtime: Any, capsys: Any) -> None:
    @task
    def add(a: int, b: int) -> int:
        return a + b

    @flow
    def main() -> int:
        return add(1, 2)

    logger = logging.getLogger("transom.task_runs")
    previous = logger.level
    logger.setLevel(logging.WARNING)
    try:
        assert main() == 3
    finally:
        logger.setLevel(previous)
    assert task_lines(runtime, "add") == []
    assert "Task run 'add-0' - finished" not in capsys.readouterr().err


def test_the_end_names_the_state_it_ended_in(runtime: Any) -> None:
    @task
    def fails() -> None:
        raise ValueError("nope")

    @flow
    def main() -> None:
        with pytest.raises(ValueError):
            fails()

    main()
    assert task_lines(runtime, "fails") == [(logging.ERROR,
                                             "finished in state Failed: ValueError: nope")]


def test_disable_run_logger_lets_a_unit_test_call_a_tasks_function(
        runtime: Any, capsys: Any) -> None:
    from transom import get_run_logger
    from transom.exceptions import MissingContextError
    from transom.logging import disable_run_logger

    @task
    def double(x: int) -> int:
        get_run_logger().info("doubling %s", x)
        return 2 * x

    with pytest.raises(MissingContextError):
        double.fn(2)  # outside a run, as in Prefect
    with disable_run_logger():
        assert double.fn(3) == 6
    assert "doubling" not in capsys.readouterr().err
    assert not logging.getLogger("transom.task_runs").disabled  # as it was before

    @flow
    def main() -> int:
        with disable_run_logger():
            quiet = double(1)
        return quiet + double(2)

    assert main() == 6
    assert "doubling 1" not in runtime.logs() and "doubling 2" in runtime.logs()
