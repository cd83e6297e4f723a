"""Transom: a light, fast workflow orchestrator that is at home on Windows, Linux and macOS."""

from __future__ import annotations

import importlib as _importlib
import typing as _typing

from transom._backends import set_backend_opener as _set_backend_opener
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
    from os import PathLike as _PathLike

    from transom.client.orchestration import get_client
    from transom.core.annotations import allow_failure
    from transom.core.tags import tags
    from transom.deployments import deploy, serve
    from transom.flow_runs import pause_flow_run, resume_flow_run, suspend_flow_run
    from transom.services import Backend as _Backend
    from transom.settings import Settings as _Settings
    from transom.shell import ShellResult, shell_run, shell_task

# Imported on first use, so `import transom` stays fast: the shell machinery (subprocess,
# ctypes, threads), deployments and the client (pydantic, httpx) are not needed to define or
# run flows.
_LAZY = {
    "ShellResult": "transom.shell",
    "allow_failure": "transom.core.annotations",
    "deploy": "transom.deployments",
    "get_client": "transom.client.orchestration",
    "pause_flow_run": "transom.flow_runs",
    "resume_flow_run": "transom.flow_runs",
    "serve": "transom.deployments",
    "shell_run": "transom.shell",
    "shell_task": "transom.shell",
    "suspend_flow_run": "transom.flow_runs",
    "tags": "transom.core.tags",
    "Transaction": "transom.core.transactions",
}
# Modules a Prefect user reaches as attributes after `import prefect` (`prefect.runtime...`).
_SUBMODULES = frozenset({"cache_policies", "client", "context", "deployments", "exceptions", "flows", "futures",
                         "logging", "runtime", "states", "task_runners", "tasks", "transactions", "utilities"})


def __getattr__(name: str) -> _typing.Any:
    if name in _SUBMODULES:
        return _importlib.import_module(f"transom.{name}")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'transom' has no attribute {name!r}")
    try:
        value = getattr(_importlib.import_module(module), name)
    except ModuleNotFoundError as exc:
        if exc.name != module:
            raise
        raise AttributeError(f"transom.{name} is not available in this build ({module} is "
                             "missing)") from None
    globals()[name] = value
    return value


def _build_runtime():  # type: ignore[no-untyped-def]
    from transom._runtime import build_runtime

    return build_runtime()


_set_runtime_factory(_build_runtime)


def _open_backend(settings: _Settings | None) -> _Backend:
    from transom.services import open_backend

    return open_backend(settings)


_set_backend_opener(_open_backend)


class _Deployer:
    """`Flow.deploy`, `.serve`, `.to_deployment` and `.from_source`: core/ never imports
    deployments, so they come in here."""

    def deploy(self, flow: Flow[..., _typing.Any], name: str, **options: _typing.Any) -> _typing.Any:
        from transom.deployments import deploy_flow

        return deploy_flow(flow, name, **options)

    def serve(self, flow: Flow[..., _typing.Any], name: str | None,
              **options: _typing.Any) -> None:
        from transom.deployments import serve_flow

        serve_flow(flow, name, **options)

    def to_deployment(self, flow: Flow[..., _typing.Any], name: str,
                      **options: _typing.Any) -> _typing.Any:
        from transom.deployments import to_deployment

        return to_deployment(flow, name, **options)

    def from_source(self, source: str | _PathLike[str], entrypoint: str) -> Flow[..., _typing.Any]:
        from transom.deployments import from_source

        return from_source(source, entrypoint)


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
    "Transaction",
    "__version__",
    "allow_failure",
    "as_completed",
    "deploy",
    "exponential_backoff",
    "flow",
    "get_client",
    "get_run_logger",
    "pause_flow_run",
    "resume_flow_run",
    "serve",
    "shell_run",
    "shell_task",
    "suspend_flow_run",
    "tags",
    "task",
    "task_input_hash",
    "unmapped",
    "wait",
]
