"""Transom: a light, fast workflow orchestrator that is at home on Windows, Linux and macOS."""

from __future__ import annotations

import importlib as _importlib
import typing as _typing

from transom._version import __version__
from transom.core.context import set_runtime_factory as _set_runtime_factory
from transom.core.flows import Flow, flow
from transom.core.flows import set_deployer as _set_deployer
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
from transom.exceptions import Abort, ShellError, ShellTimeout

if _typing.TYPE_CHECKING:
    from transom.shell import ShellResult, shell_run, shell_task

# Imported on first use: the shell machinery (subprocess, ctypes, threads) is not needed to
# define or run flows, and `import transom` stays fast.
_LAZY = {"ShellResult": "transom.shell", "shell_run": "transom.shell", "shell_task": "transom.shell"}


def __getattr__(name: str) -> _typing.Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'transom' has no attribute {name!r}")
    value = getattr(_importlib.import_module(module), name)
    globals()[name] = value
    return value


def _build_runtime():  # type: ignore[no-untyped-def]
    from transom.runtime import build_runtime

    return build_runtime()


_set_runtime_factory(_build_runtime)


class _Deployer:
    """`Flow.deploy` and `Flow.serve`: core/ never imports deployments, so they come in here."""

    def deploy(self, flow: Flow[..., _typing.Any], name: str, **options: _typing.Any) -> _typing.Any:
        from transom.deployments import deploy

        return deploy(flow, name, **options)

    def serve(self, flow: Flow[..., _typing.Any], name: str, **options: _typing.Any) -> None:
        from transom.deployments import serve

        serve(flow, name, **options)


_set_deployer(_Deployer())


__all__ = [
    "Abort",
    "Flow",
    "ProcessPoolTaskRunner",
    "ShellError",
    "ShellResult",
    "ShellTimeout",
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
    "shell_run",
    "shell_task",
    "task",
    "task_input_hash",
    "unmapped",
    "wait",
]
