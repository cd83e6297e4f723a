"""Transom: a light, fast workflow orchestrator that is at home on Windows, Linux and macOS."""

from __future__ import annotations

from transom.core.context import set_runtime_factory as _set_runtime_factory
from transom.core.flows import Flow, flow
from transom.core.logs import get_run_logger
from transom.core.policies import exponential_backoff, task_input_hash
from transom.core.runners import (
    ProcessPoolTaskRunner,
    TaskFuture,
    TaskRunner,
    ThreadPoolTaskRunner,
    as_completed,
    wait,
)
from transom.core.states import State, StateType
from transom.core.tasks import Task, task, unmapped
from transom.exceptions import Abort


def _build_runtime():  # type: ignore[no-untyped-def]
    from transom.runtime import build_runtime

    return build_runtime()


_set_runtime_factory(_build_runtime)

__version__ = "0.1.0"

__all__ = [
    "Abort",
    "Flow",
    "ProcessPoolTaskRunner",
    "State",
    "StateType",
    "Task",
    "TaskFuture",
    "TaskRunner",
    "ThreadPoolTaskRunner",
    "__version__",
    "as_completed",
    "exponential_backoff",
    "flow",
    "get_run_logger",
    "task",
    "task_input_hash",
    "unmapped",
    "wait",
]
