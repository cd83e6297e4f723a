"""`transom.runtime.deployment`: the deployment whose run this process is.

`id`, `name`, `version`, `flow_run_id` and `parameters`, known in a process a worker (or
`serve`) started for a deployment run; elsewhere None or empty. `parameters` are the run's, the
deployment's defaults updated by those the run was given; `version` is the one its project file
gave it (None if none did).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from transom.runtime._claimed import claimed_run

__all__ = ["flow_run_id", "id", "name", "parameters", "version"]

if TYPE_CHECKING:  # what each name gives; they are looked up on access (see __getattr__)
    flow_run_id: str | None
    id: str | None
    name: str | None
    parameters: dict[str, Any]
    version: str | None

_GETTERS: dict[str, Any] = {
    "id": lambda run: None if run is None or run.deployment_id is None
    else str(run.deployment_id),
    "name": lambda run: None if run is None else run.deployment_name,
    "version": lambda run: None if run is None else run.deployment_version,
    "flow_run_id": lambda run: None if run is None else str(run.id),
    "parameters": lambda run: {} if run is None else dict(run.parameters),
}


def __getattr__(name: str) -> Any:
    getter = _GETTERS.get(name)
    if getter is None:
        raise AttributeError(f"module 'transom.runtime.deployment' has no attribute {name!r}")
    run = claimed_run()
    return getter(run if run is not None and run.deployment_id is not None else None)


def __dir__() -> list[str]:
    return sorted(__all__)
