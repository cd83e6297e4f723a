"""State change hooks: functions a flow or task calls when one of its runs enters a state.

A flow hook is called as `hook(flow, flow_run, state)`, a task hook as `hook(task, task_run,
state)`; `flow_run` / `task_run` (FlowRun, TaskRun below) describe the run as it is then. Hooks
run in order once the state is recorded, outside the run's own context (as Prefect's do). One
that raises is logged, with its name and traceback, and changes nothing about the run; an
`async def` hook is awaited by an async run and run to its end by a sync run.

`hook_calls` is that logic, once; `fire` (sync) and `fire_async` carry it out.
"""

from __future__ import annotations

import inspect
import logging
import uuid
from collections.abc import Awaitable, Callable, Generator, Iterable, Mapping
from datetime import datetime
from typing import Any, Protocol

from transom.core.states import State, StateType

__all__ = [
    "FLOW_HOOKS",
    "TASK_HOOKS",
    "FlowRun",
    "Hook",
    "HookTable",
    "TaskRun",
    "fire",
    "fire_async",
    "hook_calls",
    "hook_list",
    "hook_table",
]

Hook = Callable[..., Any]
HookTable = dict[StateType, tuple[Hook, ...]]

# Which option's hooks run on entering which state type.
FLOW_HOOKS: dict[str, StateType] = {
    "on_completion": StateType.COMPLETED,
    "on_failure": StateType.FAILED,
    "on_crashed": StateType.CRASHED,
    "on_cancellation": StateType.CANCELLED,
    "on_running": StateType.RUNNING,
}
TASK_HOOKS: dict[str, StateType] = {
    "on_completion": StateType.COMPLETED,
    "on_failure": StateType.FAILED,
    "on_running": StateType.RUNNING,
}


def hook_list(option: str, hooks: Iterable[Hook] | None) -> list[Hook]:
    """`hooks` as a list, if it is a list of callables (TypeError, in one sentence, if not)."""
    if hooks is None:
        return []
    if callable(hooks):
        name = getattr(hooks, "__name__", "hook")
        raise TypeError(f"{option} takes a list of functions; write {option}=[{name}]")
    try:
        result = list(hooks)
    except TypeError:
        raise TypeError(f"{option} takes a list of functions, got {type(hooks).__name__}") from None
    for hook in result:
        if not callable(hook):
            raise TypeError(f"{option} takes a list of functions; {hook!r} is not callable")
    return result


def hook_table(hooks: Mapping[str, list[Hook]], kinds: Mapping[str, StateType]) -> HookTable | None:
    """The hooks by the state type that fires them; None if there are none (the engine's fast
    path asks only that)."""
    table = {kinds[option]: tuple(fns) for option, fns in hooks.items() if fns}
    return table or None


class _RunView:
    """A run as a hook sees it (plain classes: made at import, where a dataclass is slow)."""

    __slots__: tuple[str, ...] = ()
    state: State[Any]

    @property
    def state_type(self) -> StateType:
        return self.state.type

    @property
    def state_name(self) -> str:
        return self.state.name

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__name__}({fields})"


class FlowRun(_RunView):
    """The flow run a flow hook is called for, as it is at that moment."""

    __slots__ = (
        "end_time",
        "expected_start_time",
        "flow_name",
        "id",
        "name",
        "parameters",
        "parent_task_run_id",
        "run_count",
        "start_time",
        "state",
        "tags",
    )

    def __init__(self, id: uuid.UUID, name: str, flow_name: str, parameters: dict[str, Any],
                 tags: list[str], run_count: int, state: State[Any], *,
                 parent_task_run_id: uuid.UUID | None = None,
                 expected_start_time: datetime | None = None, start_time: datetime | None = None,
                 end_time: datetime | None = None) -> None:
        self.id = id
        self.name = name
        self.flow_name = flow_name
        self.parameters = parameters
        self.tags = tags
        self.run_count = run_count
        self.state = state
        self.parent_task_run_id = parent_task_run_id
        self.expected_start_time = expected_start_time
        self.start_time = start_time
        self.end_time = end_time


class TaskRun(_RunView):
    """The task run a task hook is called for, as it is at that moment."""

    __slots__ = (
        "cache_key",
        "dynamic_key",
        "end_time",
        "expected_start_time",
        "flow_run_id",
        "id",
        "name",
        "run_count",
        "start_time",
        "state",
        "tags",
        "task_key",
    )

    def __init__(self, id: uuid.UUID, name: str, task_key: str, dynamic_key: int,
                 flow_run_id: uuid.UUID | None, tags: list[str], run_count: int,
                 state: State[Any], *, cache_key: str | None = None,
                 expected_start_time: datetime | None = None, start_time: datetime | None = None,
                 end_time: datetime | None = None) -> None:
        self.id = id
        self.name = name
        self.task_key = task_key
        self.dynamic_key = dynamic_key
        self.flow_run_id = flow_run_id
        self.tags = tags
        self.run_count = run_count
        self.state = state
        self.cache_key = cache_key
        self.expected_start_time = expected_start_time
        self.start_time = start_time
        self.end_time = end_time


class _Log(Protocol):
    def __call__(self, level: int, msg: str, *args: Any,
                 exc_info: BaseException | None = None) -> None: ...


Due = list[tuple[State[Any], tuple[Hook, ...]]]
Calls = Generator[Awaitable[Any], None, None]


def hook_calls(owner: object, describe: Callable[[State[Any]], object], due: Due,
               log: _Log) -> Calls:
    """Call each due hook in order; yields what an async hook returned, for the driver to await
    (the driver throws back what the awaiting raised)."""
    for state, hooks in due:
        run = describe(state)
        for hook in hooks:
            name = getattr(hook, "__name__", None) or repr(hook)
            log(logging.INFO, "running hook %r for state %s", name, state.name)
            try:
                outcome = hook(owner, run, state)
                if inspect.isawaitable(outcome):
                    yield outcome
            except Exception as exc:
                log(logging.ERROR, "hook %r raised %s: %s; the run stays %s", name,
                    type(exc).__name__, exc, state.name, exc_info=exc)


def fire(calls: Calls) -> None:
    """Carry out `hook_calls` in this thread; an async hook runs in an event loop of its own."""
    try:
        pending = next(calls)
        while True:
            try:
                _run_to_end(pending)
            except Exception as exc:
                pending = calls.throw(exc)
            else:
                pending = calls.send(None)
    except StopIteration:
        pass


async def fire_async(calls: Calls) -> None:
    """Carry out `hook_calls` under asyncio: async hooks are awaited in the running loop."""
    try:
        pending = next(calls)
        while True:
            try:
                await pending
            except Exception as exc:
                pending = calls.throw(exc)
            else:
                pending = calls.send(None)
    except StopIteration:
        pass


def _run_to_end(awaitable: Awaitable[Any]) -> Any:
    import asyncio  # here: `import transom` does not need asyncio

    async def wrapper() -> Any:
        return await awaitable

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(wrapper())
    # A sync run inside an async flow (this thread's loop is busy running it): another thread.
    import concurrent.futures as cf

    with cf.ThreadPoolExecutor(1, thread_name_prefix="transom-hook") as pool:
        return pool.submit(asyncio.run, wrapper()).result()
