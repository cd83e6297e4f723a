"""`transom.context`: the context of the run that the calling code is in.

`get_run_context()` gives the task run's context inside a task and the flow run's inside a flow;
outside any run it raises MissingContextError. `FlowRunContext.get()` and `TaskRunContext.get()`
give None there instead. The contexts are read-only views over the engine's own
(`transom.core.context`); for single values, `transom.runtime` is shorter and never raises.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from transom.core import context as _core
from transom.core.tags import tags
from transom.exceptions import MissingContextError

if TYPE_CHECKING:
    from transom.core.flows import Flow
    from transom.core.runners import TaskRunner
    from transom.core.tasks import Task

__all__ = [
    "FlowRunContext",
    "FlowRunInfo",
    "MissingContextError",
    "TaskRunContext",
    "TaskRunInfo",
    "get_run_context",
    "tags",
]


@dataclass(frozen=True, slots=True)
class FlowRunInfo:
    """The flow run a context belongs to (`context.flow_run`)."""

    id: uuid.UUID
    name: str
    flow_name: str
    parameters: dict[str, Any]
    run_count: int
    tags: tuple[str, ...]
    parent_task_run_id: uuid.UUID | None


@dataclass(frozen=True, slots=True)
class TaskRunInfo:
    """The task run a context belongs to (`context.task_run`)."""

    id: uuid.UUID
    name: str
    task_name: str
    flow_run_id: uuid.UUID | None
    parameters: dict[str, Any]
    run_count: int
    tags: tuple[str, ...]


class FlowRunContext:
    """The flow run the calling code is in: its flow, the run, its parameters, its task runner."""

    __slots__ = ("_ctx",)

    def __init__(self, ctx: _core.FlowRunContext) -> None:
        self._ctx = ctx

    @classmethod
    def get(cls) -> FlowRunContext | None:
        """The current flow run's context, or None outside a flow run."""
        ctx = _core.current_flow_run()
        return None if ctx is None else cls(ctx)

    @property
    def flow(self) -> Flow[..., Any]:
        return self._ctx.flow

    @property
    def flow_run(self) -> FlowRunInfo:
        ctx = self._ctx
        return FlowRunInfo(ctx.flow_run_id, ctx.name, ctx.flow.name, dict(ctx.parameters),
                           ctx.run_count, tuple(ctx.tags), ctx.parent_task_run_id)

    @property
    def parameters(self) -> dict[str, Any]:
        return dict(self._ctx.parameters)

    @property
    def task_runner(self) -> TaskRunner:
        return self._ctx.task_runner

    @property
    def log_prints(self) -> bool:
        return self._ctx.log_prints

    def __repr__(self) -> str:
        return f"FlowRunContext(flow={self._ctx.flow.name!r}, flow_run={self._ctx.name!r})"


class TaskRunContext:
    """The task run the calling code is in: its task, the run and its parameters."""

    __slots__ = ("_ctx",)

    def __init__(self, ctx: _core.TaskRunContext) -> None:
        self._ctx = ctx

    @classmethod
    def get(cls) -> TaskRunContext | None:
        """The current task run's context, or None outside a task run."""
        ctx = _core.current_task_run()
        return None if ctx is None else cls(ctx)

    @property
    def task(self) -> Task[..., Any]:
        return self._ctx.task

    @property
    def task_run(self) -> TaskRunInfo:
        ctx = self._ctx
        return TaskRunInfo(ctx.task_run_id, ctx.name, ctx.task.name, ctx.flow_run_id,
                           dict(ctx.parameters), ctx.run_count, tuple(ctx.tags))

    @property
    def parameters(self) -> dict[str, Any]:
        return dict(self._ctx.parameters)

    @property
    def log_prints(self) -> bool:
        return self._ctx.log_prints

    def __repr__(self) -> str:
        return f"TaskRunContext(task={self._ctx.task.name!r}, task_run={self._ctx.name!r})"


def get_run_context() -> FlowRunContext | TaskRunContext:
    """The task run's context inside a task, else the flow run's; MissingContextError outside."""
    task_run = TaskRunContext.get()
    if task_run is not None:
        return task_run
    flow_run = FlowRunContext.get()
    if flow_run is not None:
        return flow_run
    raise MissingContextError("get_run_context() was called outside a flow or task run; call "
                              "it from the code of a @flow or a @task")

