"""`transom.runtime.task_run`: the current task run, attribute by attribute.

`id`, `name`, `task_name`, `parameters`, `run_count` and `tags`; outside a task run each is
None, empty or 0.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from transom.core.context import current_task_run

__all__ = ["id", "name", "parameters", "run_count", "tags", "task_name"]

if TYPE_CHECKING:  # what each name gives; they are looked up on access (see __getattr__)
    id: str | None
    name: str | None
    parameters: dict[str, Any]
    run_count: int
    tags: list[str]
    task_name: str | None

_GETTERS: dict[str, Any] = {
    "id": lambda ctx: None if ctx is None else str(ctx.task_run_id),
    "name": lambda ctx: None if ctx is None else ctx.name,
    "task_name": lambda ctx: None if ctx is None else ctx.task.name,
    "parameters": lambda ctx: {} if ctx is None else dict(ctx.parameters),
    "run_count": lambda ctx: 0 if ctx is None else ctx.run_count,
    "tags": lambda ctx: [] if ctx is None else list(ctx.tags),
}


def __getattr__(name: str) -> Any:
    getter = _GETTERS.get(name)
    if getter is None:
        raise AttributeError(f"module 'transom.runtime.task_run' has no attribute {name!r}")
    return getter(current_task_run())


def __dir__() -> list[str]:
    return sorted(__all__)
